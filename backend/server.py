"""``python -m backend.server``: the SignForge backend over JSON lines on stdin/stdout. torch (lazily); never bpy.

The protocol is ``blender_addon/core/protocol.py``. Three layers, so the add-on can run the
same code inside Blender's Python as well as in this process:

- ``Handler`` runs one request: it checks the parameters and calls generation, the body
  model and the file readers and writers, reporting progress through ``report``.
- ``Dispatcher`` queues requests, runs them one at a time in order on one worker, honours
  cancels and sends exactly one terminal message per request through a ``send`` callable.
- ``serve`` is the stdio server: a reader thread turns lines into dispatcher calls (and
  answers malformed lines), the main thread runs the dispatcher.
- ``serve_tcp`` (``--listen HOST:PORT``) is the same for many clients over sockets: each
  connection that presents the token gets its own reader, dispatcher and worker thread,
  and the workers take turns on the one shared ``Handler`` (``TakingTurns``); its file
  requests (upload, download) go to its own private folder (``workspace.Connection``).

The modules here import only the standard library at start, so the handshake comes at
once; torch, smplx and numpy load with the first request that needs them. Never bpy.
"""
from __future__ import annotations

import argparse
import errno
import hmac
import importlib.util
import logging
import os
import queue
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from blender_addon.core import protocol as P
from blender_addon.core.requests import GenerateRequest

from .atomic import atomic_batch
from blender_addon.core.errors import MissingExtraError, SignForgeError

log = logging.getLogger("signforge.server")

RECONSTRUCT_MISSING = "reconstruction is not installed in this backend (backend.reconstruct is missing)"

Report = Callable[..., None]   # report(fraction, message, stage=None); raises Cancelled once cancelled
FPS = 25.0   # every generator's rate (backend.generate.FPS), kept here so answering a request imports no generator


class Cancelled(Exception):
    """Raised by ``report`` once the running request was cancelled; ends it with code "cancelled"."""


class RequestError(SignForgeError):
    """A request that cannot be met, with the protocol error code to answer it with."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def server_name() -> str:
    from . import __version__

    return f"signforge {__version__}"


def reconstruct_available() -> bool:
    try:
        return importlib.util.find_spec("backend.reconstruct") is not None
    except (ImportError, ValueError):
        return False


def _hand_notes(motions) -> list[str]:
    """The hand rule's note, once per request: which variants were mirrored, and why."""
    mirrored = [i + 1 for i, m in enumerate(motions) if m.provenance.get("hand_mirrored") == "true"]
    if not mirrored:
        return []
    prov = motions[mirrored[0] - 1].provenance
    hand, why = prov.get("hand", "right"), prov.get("hand_from", "option")
    which = "the take" if len(motions) == 1 else "variant" + ("s " if len(mirrored) > 1 else " ") + \
        ", ".join(f"#{i}" for i in mirrored)
    reason = {"prompt": "the prompt names it", "option": "the Hand option", "default": "the default"}.get(why, why)
    return [f"{which} was led by the other hand and is mirrored so the {hand} hand signs ({reason})"]


def _out_file(value: str, param: str, suffix: str | None = ".npz") -> Path:
    path = Path(value).expanduser().absolute()
    if suffix is not None and path.suffix.lower() != suffix:
        raise RequestError(P.INVALID_PARAMS, f"parameter {param!r}: {path} must end in {suffix}")
    if path.is_dir():
        raise RequestError(P.INVALID_PARAMS, f"parameter {param!r}: {path} is a folder, not a file")
    return path


class Handler:
    """The request handlers, shared by the stdio server and the add-on's in-process backend.

    May import torch, smplx and numpy (on first use); never bpy. Keeps loaded bodies
    between requests (``backend.generate`` keeps its own cache of loaded runs).
    """

    def __init__(self) -> None:
        self._bodies: dict[str, Any] = {}    # model file (or "mannequin") -> Body
        self._fitters: dict[str, Any] = {}   # the same key -> the reconstruction's Fitter of that Body
        self._warm: set[tuple] = set()   # (model, run) pairs generated with: loaded in backend.generate
        self._capabilities = [m for m in P.METHODS if m != "reconstruct" or reconstruct_available()]

    def capabilities(self) -> list[str]:
        return list(self._capabilities)

    def check(self, method: str, params: dict | None) -> dict:
        """Normalized parameters for ``method``, or ``RequestError`` saying what is wrong."""
        if method in P.METHODS and method not in self._capabilities:
            raise RequestError(P.UNSUPPORTED, RECONSTRUCT_MISSING if method == "reconstruct"
                               else f"this backend cannot run {method!r}")
        try:
            params = P.check_params(method, params)
        except P.ProtocolError as exc:
            raise RequestError(exc.code, exc.message) from None
        if method == "generate":   # the settings every front end checks alike (GenerateRequest)
            try:
                GenerateRequest.from_params(params)
            except P.ProtocolError as exc:
                raise RequestError(exc.code, f"generate: {exc.message}") from None
        return params

    def call(self, method: str, params: dict | None, report: Report) -> dict:
        """Run one request and return its result object; raises RequestError or Cancelled."""
        params = self.check(method, params)
        return getattr(self, f"_{method}")(params, report)

    # ------------------------------------------------------------------ methods
    def _ping(self, params: dict, report: Report) -> dict:
        return {"pong": True}

    def _shutdown(self, params: dict, report: Report) -> dict:
        return {}

    def _info(self, params: dict, report: Report) -> dict:
        from blender_addon.core.limits import MAX_VARIANTS

        from .runs import SHIPPED, RunError, longest_take, read_config

        run = params["run"]
        path = Path(run).expanduser() if run is not None else SHIPPED[params["model"]]
        try:
            meta = read_config(path, kinds=("handmdm", "signavatar"))
        except RunError as exc:
            raise RequestError(P.INVALID_PARAMS, f"info: {exc}") from None
        kind = meta["run"]["model"]
        encoder = meta.get("text_encoder", "minilm")
        if kind == "handmdm":
            note = "HandMDM is conditioned on text, not images"
        elif encoder != "clip":
            note = (f"this SignAvatar run was trained on {encoder} text embeddings; images need one trained "
                    f"on CLIP embeddings")
        else:
            note = ""
        steps, sampler = (next(p for p in P.METHODS["generate"].params if p.name == name)
                          for name in ("steps", "sampler"))
        longest = longest_take(meta)
        return {"model": kind, "run": path.name, "fps": FPS, "longest_frames": longest,
                "longest_s": longest / FPS, "steps": [int(steps.minimum), int(steps.maximum)],
                "variants": MAX_VARIANTS, "images": not note, "images_note": note,
                "samplers": list(sampler.choices) if kind == "handmdm" else []}   # SignAvatar draws z, no sampler

    def _generate(self, params: dict, report: Report) -> dict:
        asked, where = GenerateRequest.from_params(params)   # checked in check(): no error here
        out_dir = Path(where).expanduser().absolute()
        if out_dir.exists() and not out_dir.is_dir():
            raise RequestError(P.INVALID_PARAMS, f"generate: parameter 'out_dir': {out_dir} is a file, not a folder")
        run = params["run"]
        if run is not None and not Path(run).expanduser().is_dir():
            raise RequestError(P.INVALID_PARAMS, f"generate: parameter 'run': {run} is not a folder")
        # the first request of a run imports torch and loads the weights and the text encoder:
        # seconds at 0%, so the client is told (stage "loading") before it starts
        key = (params["model"], run, params["device"], params["image"] is not None)
        loading = ("loading the model (the first time takes a few seconds)" if key not in self._warm
                   else "preparing the model")
        report(0.0, loading, stage=P.STAGE_LOADING)

        import warnings

        import numpy as np
        import torch  # noqa: F401  (generate() imports it only after its checks; here a cancel during it lands below)

        from .generate import GenerateError, GenerateWarning, generate
        from .io import save_motion
        from .motion import MotionError

        report(0.02, loading, stage=P.STAGE_LOADING)   # torch is in; a cancel during the import lands here

        def step(done: int, total: int) -> None:
            report(0.05 + 0.9 * done / max(total, 1), f"sampling step {done}/{total}", stage="sampling")

        try:
            # one job at a time per Handler (TakingTurns), so recording warnings here is safe
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", GenerateWarning)
                arguments = asked.arguments()
                arguments["run_dir"] = None if run is None else Path(run).expanduser()
                motions = generate(**arguments, progress=step)
        except GenerateError as exc:
            raise RequestError(P.INVALID_PARAMS, f"generate: {exc}") from None
        except MotionError as exc:   # Motion refuses NaN and inf: the model diverged
            raise RequestError(P.FAILED, f"generate: the model produced unusable values ({exc})") from None
        self._warm.add(key)
        for m in motions:   # Motion checks this too; a file must never hold NaN
            if not all(np.isfinite(a).all() for a in (m.poses, m.trans, m.expression)):
                raise RequestError(P.FAILED, "generate: the model produced NaN or inf")
        notes = [str(w.message) for w in caught if issubclass(w.category, GenerateWarning)]
        for w in caught:
            if not issubclass(w.category, GenerateWarning):
                log.warning("generate: %s", w.message)
        notes += _hand_notes(motions)
        report(0.96, "writing the motions", stage="writing")
        names = asked.file_names(len(motions))
        with atomic_batch(out_dir) as tmp:   # every variant or none, even if the server is killed
            for m, name in zip(motions, names):
                save_motion(m, tmp / name)
        paths = [str(out_dir / name) for name in names]
        return {"motions": paths, "fps": float(motions[0].fps), "frames": int(motions[0].num_frames),
                "warnings": notes}

    def _body(self, params: dict, report: Report) -> dict:
        out = _out_file(params["out"], "out")
        report(0.0, "loading the body model")
        body = self._load_body(params["smplx"])

        import numpy as np

        from .atomic import atomic_path
        from .body.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

        betas = params["betas"]
        model = body.model
        vertices = body.rest_vertices(betas).astype(np.float32)
        joints = body.rest_joints(betas).astype(np.float32)
        weights = model.lbs_weights.detach().cpu().numpy().astype(np.float32)
        expr = getattr(model, "expr_dirs", None)
        expressions = (np.zeros((0,) + vertices.shape, np.float32) if expr is None
                       else np.ascontiguousarray(expr.detach().cpu().numpy().transpose(2, 0, 1), np.float32))
        faces = body.faces.astype(np.int32)
        if weights.shape != (len(vertices), NUM_JOINTS):
            raise RequestError(P.INVALID_PARAMS, f"body: {body.source} has skinning weights of shape "
                                                 f"{weights.shape}; SMPL-X has ({len(vertices)}, {NUM_JOINTS})")
        arrays = {"vertices": vertices, "faces": faces, "joints": joints,
                  "parents": np.asarray(PARENTS, np.int32), "joint_names": np.asarray(JOINT_NAMES, dtype=str),
                  "weights": weights, "expressions": expressions,
                  "model": np.asarray("mannequin" if body.source == "mannequin" else Path(body.source).name)}
        for name, a in arrays.items():
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise RequestError(P.FAILED, f"body: {body.source} gives non-finite {name}")
        report(0.8, "writing the body")
        with atomic_path(out) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        return {"path": str(out), "vertices": int(len(vertices)), "model": str(arrays["model"])}

    def _load_motion(self, params: dict, report: Report) -> dict:
        out = _out_file(params["out"], "out")
        from .io import load_motion, save_motion
        from .motion import MotionError

        report(0.0, "reading the motion")
        try:
            motion = load_motion(Path(params["path"]).expanduser(), fps=params["fps"])
        except MotionError as exc:
            raise RequestError(P.INVALID_PARAMS, f"load_motion: {exc}") from None
        if params["mirror"]:
            motion = motion.mirror()
        save_motion(motion, out)
        return {"path": str(out), "frames": int(motion.num_frames), "fps": float(motion.fps)}

    def _save_motion(self, params: dict, report: Report) -> dict:
        from .io import WRITE_SUFFIXES, load_motion, save_motion
        from .motion import MotionError

        dst = _out_file(params["dst"], "dst", suffix=None)
        if dst.suffix.lower() not in WRITE_SUFFIXES:
            raise RequestError(P.INVALID_PARAMS, f"save_motion: parameter 'dst': {dst} has extension "
                                                 f"{dst.suffix or '(none)'!r}; writable: {', '.join(WRITE_SUFFIXES)}")
        report(0.0, "reading the motion")
        try:
            motion = load_motion(Path(params["src"]).expanduser())
        except MotionError as exc:
            raise RequestError(P.INVALID_PARAMS, f"save_motion: {exc}") from None
        # the body the motion is for: its skeleton (.bvh), its landmarks (.pose), its rest pelvis (a Z-up .npz)
        body = self._load_body(params["smplx"]) if dst.suffix.lower() != ".npy" else None
        report(0.5, f"writing {dst.suffix.lstrip('.').upper()}")
        save_motion(motion, dst, body=body)
        return {"path": str(dst)}

    def _reconstruct(self, params: dict, report: Report) -> dict:
        out = _out_file(params["out"], "out")
        source = Path(params["path"]).expanduser()
        if not source.is_file():
            raise RequestError(P.INVALID_PARAMS, f"reconstruct: {source}: no such file")
        from .atomic import check_writable

        try:   # before any work: an unwritable out never costs a reconstruction
            check_writable(out)
        except OSError as exc:
            raise RequestError(P.INVALID_PARAMS, f"reconstruct: parameter 'out': {out} cannot be written "
                                                 f"({exc.filename}: {exc.strerror or exc})") from None
        from . import reconstruct as RC
        from .io import save_motion

        def step(done: int, total: int) -> None:
            report(0.95 * done / max(total, 1), f"reconstructing {done}/{total}")

        # the body this handler holds (a bad model file is refused before any video work) fits too
        body = self._load_body(params["smplx"])
        if body.source not in self._fitters:
            self._fitters[body.source] = RC.Fitter(body)
        try:
            options = RC.ReconstructOptions(start=params["start"], end=params["end"], denoise=params["denoise"])
            made = RC.reconstruct(source, options, progress=step, fitter=self._fitters[body.source])
        except ValueError as exc:
            raise RequestError(P.INVALID_PARAMS, f"reconstruct: {exc}") from None
        motion, quality = made.motion, made.quality()
        warnings = RC.input_warnings(motion) + RC.held_warnings(motion)   # the signer's own hands
        if params["mirror"]:
            motion = motion.mirror()
        save_motion(motion, out)
        clip = None
        if made.video:   # where the take's first frame is in the file, to show the clip beside it
            clip = {"path": str(source), "start_s": round(made.start_s, 6), "fps": made.source_fps,
                    "width": int(made.width), "height": int(made.height)}
        return {"path": str(out), "frames": int(motion.num_frames), "fps": float(motion.fps),
                "quality": quality, "clip": clip, "warnings": warnings}

    def _sentence(self, params: dict, report: Report) -> dict:
        out = _out_file(params["out"], "out")
        from .atomic import check_writable

        try:   # before any work: an unwritable out never costs a sentence
            check_writable(out)
        except OSError as exc:
            raise RequestError(P.INVALID_PARAMS, f"sentence: parameter 'out': {out} cannot be written "
                                                 f"({exc.filename}: {exc.strerror or exc})") from None
        report(0.0, "loading the models (the first time takes a few seconds)", stage=P.STAGE_LOADING)
        import json

        from .io import save_motion
        from .sentence import SentenceError, item, sentence

        try:
            items = [item(v) for v in params["items"]]
        except SentenceError as exc:
            raise RequestError(P.INVALID_PARAMS, f"sentence: {exc}") from None
        signs = len(items)

        def step(done: int, total: int) -> None:   # a cancel lands here, between signs or sampling steps
            what = f"sign {done}/{signs}" if done <= signs else f"transition step {done - signs}/{total - signs}"
            report(0.02 + 0.93 * done / max(total, 1), what, stage="signs" if done <= signs else "transitions")

        try:
            motion = sentence(items, seed=params["seed"], hand=None if params["hand"] == "auto" else params["hand"],
                              method=params["method"], strength=params["strength"],
                              transition_seconds=params["transition"], steps=params["steps"],
                              guidance=params["guidance"], body=self._load_body(None), progress=step)
        except SentenceError as exc:
            raise RequestError(P.INVALID_PARAMS, f"sentence: {exc}") from None
        report(0.96, "writing the motion", stage="writing")
        save_motion(motion, out)
        return {"path": str(out), "frames": int(motion.num_frames), "fps": float(motion.fps),
                "spans": json.loads(motion.provenance["sentence"])}

    def _edit(self, params: dict, report: Report) -> dict:
        out = _out_file(params["out"], "out")
        from .atomic import check_writable

        try:   # before any work, as sentence does
            check_writable(out)
        except OSError as exc:
            raise RequestError(P.INVALID_PARAMS, f"edit: parameter 'out': {out} cannot be written "
                                                 f"({exc.filename}: {exc.strerror or exc})") from None
        if not params["text"].strip():
            raise RequestError(P.INVALID_PARAMS, "edit: the text is empty; say what the part should sign")
        if params["start"] is None and params["end"] is None and params["joints"] is None:
            raise RequestError(P.INVALID_PARAMS, "edit: give the part to redo: start/end frames, joints, or both")
        report(0.0, "loading the model (the first time takes a few seconds)", stage=P.STAGE_LOADING)
        from .edit import EditError, edit, joint_names
        from .io import load_motion, save_motion
        from .motion import MotionError

        try:
            motion = load_motion(Path(params["motion"]).expanduser())
        except (MotionError, OSError) as exc:
            raise RequestError(P.INVALID_PARAMS, f"edit: parameter 'motion': {exc}") from None
        n = int(motion.num_frames)   # frames are the take's own, at its rate (edit keeps that rate)
        span = None
        if params["start"] is not None or params["end"] is not None:
            span = (params["start"] or 0, n if params["end"] is None else params["end"])

        def step(done: int, total: int) -> None:   # a cancel lands here, between sampling steps
            report(0.02 + 0.93 * done / max(total, 1), f"sampling step {done}/{total}", stage="sampling")

        try:
            names = joint_names(params["joints"]) if params["joints"] is not None else None
            edited = edit(motion, params["text"], frames=span, joints=params["joints"], seed=params["seed"],
                          strength=params["strength"], hand=None if params["hand"] == "auto" else params["hand"],
                          guidance=params["guidance"], steps=params["steps"], body=self._load_body(None),
                          progress=step)
        except EditError as exc:
            raise RequestError(P.INVALID_PARAMS, f"edit: {exc}") from None
        report(0.96, "writing the motion", stage="writing")
        save_motion(edited, out)
        return {"path": str(out), "frames": int(edited.num_frames), "fps": float(edited.fps),
                "frames_redone": list(span or (0, n)), "joints": list(names or [])}

    def _load_body(self, smplx: str | None):
        from .body.model import Body, BodyModelError, resolve_model_file

        try:
            model_file = resolve_model_file(smplx)
            key = str(model_file) if model_file is not None else "mannequin"
            if key not in self._bodies:
                self._bodies[key] = Body.load(model_file)
        except BodyModelError as exc:
            raise RequestError(P.INVALID_PARAMS, f"parameter 'smplx': {exc}") from None
        return self._bodies[key]


# ---------------------------------------------------------------------------- dispatcher
@dataclass(eq=False)
class _Job:
    id: int
    method: str
    params: dict
    cancelled: threading.Event = field(default_factory=threading.Event)
    started: bool = False


_STOP = object()


class Dispatcher:
    """Requests in order on one worker, cancels at any time, one terminal message per request.

    ``send(message)`` is called from the worker (progress, terminals) and from whichever
    thread calls ``submit``/``cancel`` (immediate answers); it must be thread-safe.
    """

    def __init__(self, handler: Handler, send: Callable[[dict], None]):
        self._handler = handler
        self._send = send
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._active: dict[int, _Job] = {}   # queued or running, by id
        self._stopping = False

    def is_active(self, req_id) -> bool:
        with self._lock:
            return req_id in self._active

    def submit(self, req_id: int, method: str, params: dict | None) -> None:
        """Queue a request, or answer it at once with an error when it cannot run."""
        answer = None
        try:
            checked = self._handler.check(method, params)
        except RequestError as exc:
            checked, answer = None, P.error(req_id, exc.code, exc.message)
        except Exception as exc:   # a bug in a check must still answer the request
            log.exception("checking request %s (%s) failed", req_id, method)
            checked, answer = None, P.error(req_id, P.FAILED, f"{method}: cannot check the request: {exc}")
        with self._lock:
            if req_id in self._active:   # answering with this id would end the other request
                answer = P.error(None, P.INVALID_REQUEST, f"request id {req_id} is already in use by a "
                                                          f"request that has not ended")
            elif self._stopping:
                answer = P.error(req_id, P.INVALID_REQUEST, "the server is shutting down")
            elif answer is None:
                job = _Job(req_id, method, checked)
                self._active[req_id] = job
                self._stopping = method == "shutdown"
                self._queue.put(job)
        if answer is not None:
            self._send(answer)

    def cancel(self, req_id: int) -> None:
        """Cancel a queued request now, a running one at its next report; ignore other ids."""
        answer = None
        with self._lock:
            job = self._active.get(req_id)
            if job is None:
                log.debug("cancel of request %s, which is not queued or running: ignored", req_id)
                return
            job.cancelled.set()
            if not job.started:
                del self._active[req_id]
                if job.method == "shutdown":
                    self._stopping = False
                answer = P.error(req_id, P.CANCELLED, "cancelled before it started")
        if answer is not None:
            self._send(answer)

    def stop(self, cancel_running: bool = False) -> None:
        """End the worker after the running request: queued ones are cancelled, new ones refused."""
        answers = []
        with self._lock:
            self._stopping = True
            for job in list(self._active.values()):
                if not job.started and job.method == "shutdown":
                    continue   # a queued shutdown asked for exactly this: let it answer
                if not job.started:
                    job.cancelled.set()
                    del self._active[job.id]
                    answers.append(P.error(job.id, P.CANCELLED, "cancelled: the backend is stopping"))
                elif cancel_running:
                    job.cancelled.set()
            self._queue.put(_STOP)
        for answer in answers:
            self._send(answer)

    def run(self) -> None:
        """The worker loop; returns after a ``shutdown`` request or ``stop()``."""
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            with self._lock:
                if self._active.get(job.id) is not job:   # cancelled while queued
                    continue
                job.started = True
            message = self._execute(job)
            with self._lock:
                self._active.pop(job.id, None)
            self._send(message)
            if job.method == "shutdown" and message["type"] == P.RESULT:
                return

    def _execute(self, job: _Job) -> dict:
        def report(fraction: float, message: str = "", stage: str | None = None) -> None:
            if job.cancelled.is_set():
                raise Cancelled()
            self._send(P.progress(job.id, fraction, message, stage))

        try:
            if job.cancelled.is_set():
                raise Cancelled()
            message = P.result(job.id, self._handler.call(job.method, job.params, report))
            P.encode(message)   # a result that cannot travel fails here, not in send
            return message
        except Cancelled:
            log.info("request %s (%s) cancelled", job.id, job.method)
            return P.error(job.id, P.CANCELLED, "cancelled")
        except RequestError as exc:
            log.info("request %s (%s): %s", job.id, job.method, exc.message)
            return P.error(job.id, exc.code, exc.message)
        except MissingExtraError as exc:   # a feature this installation left out (video without [video])
            log.info("request %s (%s): %s", job.id, job.method, exc)
            return P.error(job.id, P.UNSUPPORTED, f"{job.method}: {exc}")
        except SignForgeError as exc:   # what the request's input got wrong, in one line
            log.info("request %s (%s): %s", job.id, job.method, exc)
            return P.error(job.id, P.INVALID_PARAMS, f"{job.method}: {exc}")
        except Exception as exc:   # any failure must still end the request
            log.exception("request %s (%s) failed", job.id, job.method)
            return P.error(job.id, P.FAILED, f"{job.method} failed: {type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------- stdio
class _Wire:
    """Whole lines through ``write`` (``os.write`` on a descriptor, a socket's ``send``), one
    writer at a time, nothing buffered to flush. When the client is gone it drops further
    output and calls ``on_broken`` once."""

    def __init__(self, write: Callable[[bytes], int | None], on_broken: Callable[[], None] | None = None):
        self._write = write
        self._on_broken = on_broken
        self._lock = threading.Lock()
        self.closed = False

    def send(self, msg: dict) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                P.write_message(self._write, msg)
            except P.ProtocolError as exc:
                log.error("dropping a message that cannot be encoded: %s", exc.message)
                return
            except OSError as exc:   # the client went away (or stopped reading); end of input follows
                self.closed = True
                log.warning("cannot write to the client (%s); dropping further output", exc)
                if self._on_broken is not None:
                    self._on_broken()


def _read_loop(read: Callable[[int], bytes], dispatcher: Dispatcher, wire: _Wire,
               cancel_running: bool = False) -> None:
    """Lines from ``read`` into ``dispatcher`` until end of input, then stop it (cancelling
    the running request too when ``cancel_running``: nobody is left to hear its answer)."""
    for line in P.iter_lines(read):
        try:
            try:
                msg = P.decode(line)
            except P.ProtocolError as exc:
                req_id = None if exc.id is None or dispatcher.is_active(exc.id) else exc.id
                log.debug("malformed line (%s): %s", exc.code, exc.message)
                wire.send(P.error(req_id, exc.code, exc.message))
                continue
            if msg["type"] == P.REQUEST:
                dispatcher.submit(msg["id"], msg["method"], msg["params"])
            elif msg["type"] == P.CANCEL:
                dispatcher.cancel(msg["id"])
            else:
                wire.send(P.error(None, P.INVALID_REQUEST, f"a client sends request or cancel messages, "
                                                           f"not {msg['type']!r}"))
        except Exception as exc:   # the reader must survive anything a line can do
            log.exception("unexpected failure on an input line")
            wire.send(P.error(None, P.FAILED, f"the server could not handle a line: {exc}"))
    log.info("end of input: %s the running request, then stopping",
             "cancelling" if cancel_running else "finishing")
    dispatcher.stop(cancel_running=cancel_running)


def serve(handler: Handler | None = None, infd: int = 0, outfd: int = 1) -> int:
    """Speak the protocol on two file descriptors until ``shutdown`` or end of input; returns 0.

    The reader is a daemon thread reading with ``os.read`` (no buffered-reader lock), so the
    process can exit while it waits for input; the worker runs in the calling thread.
    """
    handler = handler or Handler()
    wire = _Wire(lambda data: os.write(outfd, data))
    dispatcher = Dispatcher(handler, wire.send)
    wire.send(P.hello(server_name(), handler.capabilities()))

    def read(n: int) -> bytes:
        try:
            return os.read(infd, n)
        except OSError as exc:
            log.warning("reading stdin failed (%s); treating it as end of input", exc)
            return b""

    reader = threading.Thread(target=_read_loop, args=(read, dispatcher, wire), name="signforge-reader",
                              daemon=True)
    reader.start()
    dispatcher.run()
    log.info("exiting")
    return 0


# ---------------------------------------------------------------------------- TCP
TOKEN_ENV = "SIGNFORGE_TOKEN"
MIN_TOKEN_CHARS = 16
MAX_CLIENTS = 32          # connections at once; one more is told so and closed
SEND_TIMEOUT_S = 60.0     # a client that reads nothing for this long is disconnected
TOKEN_HINT = ('make one with: python -c "import secrets; print(secrets.token_urlsafe(32))" > token.txt')


class ServerError(SignForgeError):
    """The server cannot start (bad address or token, port in use); the message is the one line to show."""


class TakingTurns:
    """A ``Handler`` shared by many connections: requests that use the model run one at a time.

    A request waiting for its turn reports progress, so its client sees why it waits and
    can cancel it (``report`` raises ``Cancelled``).
    """

    FREE = ("ping", "info", "shutdown")   # need no model: never wait

    def __init__(self, handler: Handler, poll_s: float = 1.0, threads=None):
        self._handler = handler
        self._threads = threads   # a ``backend.threads.PerRequest``: torch's threads picked per request
        self._lock = threading.Lock()
        self._poll_s = poll_s
        self._dispatchers: set[Dispatcher] = set()   # one per connected client
        self._dispatchers_lock = threading.Lock()

    def enter(self, dispatcher: Dispatcher) -> None:
        with self._dispatchers_lock:
            self._dispatchers.add(dispatcher)

    def leave(self, dispatcher: Dispatcher) -> None:
        with self._dispatchers_lock:
            self._dispatchers.discard(dispatcher)

    def stop(self, timeout: float) -> bool:
        """Cancel every client's requests and wait up to ``timeout`` s for the running one to end."""
        with self._dispatchers_lock:
            dispatchers = list(self._dispatchers)
        for dispatcher in dispatchers:
            dispatcher.stop(cancel_running=True)
        if self._lock.acquire(timeout=timeout):
            self._lock.release()
            return True
        return False

    def capabilities(self) -> list[str]:
        return self._handler.capabilities()

    def check(self, method: str, params: dict | None) -> dict:
        return self._handler.check(method, params)

    def call(self, method: str, params: dict | None, report: Report) -> dict:
        if method in self.FREE:
            return self._handler.call(method, params, report)
        while not self._lock.acquire(timeout=self._poll_s):
            report(0.0, "waiting for another job on this backend")
        try:
            if self._threads is None:
                return self._handler.call(method, params, report)
            with self._threads:   # from the cores free now, not those free when the server started
                return self._handler.call(method, params, report)
        finally:
            self._lock.release()


def load_token(token_file: str | None, environ=os.environ) -> str:
    """The token from ``token_file`` (first line), else ``$SIGNFORGE_TOKEN``; ``ServerError`` without one."""
    if token_file:
        path = Path(token_file).expanduser()
        try:
            with open(path, "rb") as fh:
                data = fh.read(P.MAX_AUTH_LINE_BYTES + 1)
        except OSError as exc:
            raise ServerError(f"--token-file {path}: {exc.strerror or exc}") from None
        lines = data.decode("utf-8", "replace").strip().splitlines()
        token, where = (lines[0].strip() if lines else ""), f"--token-file {path}"
    else:
        token, where = environ.get(TOKEN_ENV, "").strip(), f"${TOKEN_ENV}"
        if not token:
            raise ServerError(f"--listen needs a token: give --token-file FILE or set {TOKEN_ENV}; {TOKEN_HINT}")
    if len(token) < MIN_TOKEN_CHARS or len(token) > P.MAX_AUTH_LINE_BYTES // 2 or not token.isprintable():
        raise ServerError(f"{where}: the token must be {MIN_TOKEN_CHARS} to {P.MAX_AUTH_LINE_BYTES // 2} printable "
                          f"characters on one line; {TOKEN_HINT}")
    return token


def _shared_file(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & 0o077)
    except OSError:
        return False


def _loopback(host: str) -> bool:
    return host.startswith("127.") or host in ("::1", "localhost")


def _read_auth_line(sock: socket.socket, deadline: float) -> tuple[bytes | None, bytes, str]:
    """The connection's first line (without "\n"), what came after it, and why there is none."""
    buf = bytearray()
    while b"\n" not in buf:
        if len(buf) > P.MAX_AUTH_LINE_BYTES:
            return None, b"", f"the first line is longer than {P.MAX_AUTH_LINE_BYTES} bytes"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, b"", f"no token within {P.AUTH_TIMEOUT_S:g} s"
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(P.MAX_AUTH_LINE_BYTES + 1 - len(buf))
        except TimeoutError:
            continue
        if not chunk:
            return None, b"", "the connection closed before its token"
        buf += chunk
    line, _, rest = bytes(buf).partition(b"\n")
    return line, rest, ""


def _authenticate(sock: socket.socket, token: bytes) -> tuple[bytes | None, str]:
    """(bytes already read after the auth line, "") for the right token, else (None, why)."""
    line, rest, why = _read_auth_line(sock, time.monotonic() + P.AUTH_TIMEOUT_S)
    if line is None:
        return None, why
    try:
        msg = P.decode(line)
    except P.ProtocolError as exc:
        return None, f"the first line is not an auth message ({exc.message})"
    if msg["type"] != P.AUTH:
        return None, f'the first line must be {{"type": "auth", "token": ...}}; got a {msg["type"]!r} message'
    if not hmac.compare_digest(msg["token"].encode("utf-8"), token):
        time.sleep(0.5)   # guessing is slow
        return None, "wrong token"
    return rest, ""


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _serve_connection(sock: socket.socket, peer: str, handler: TakingTurns, token: bytes,
                      slots: threading.BoundedSemaphore) -> None:
    """One client: its token, then the protocol until it disconnects or sends ``shutdown``."""
    reader = dispatcher = connection = None
    try:
        rest, why = _authenticate(sock, token)
        if rest is None:
            log.warning("%s refused: %s", peer, why)
            sock.settimeout(5.0)
            wire = _Wire(sock.send)
            wire.send(P.error(None, P.UNAUTHORIZED, why))
            _drain(sock)
            return
        log.info("%s connected", peer)
        sock.settimeout(SEND_TIMEOUT_S)   # bounds how long a send waits on a client that reads nothing
        wire = _Wire(sock.send, on_broken=lambda: _shut(sock))
        from .workspace import Connection

        connection = Connection(handler, RequestError)   # and this client's files (backend/workspace.py)
        dispatcher = Dispatcher(connection, wire.send)
        handler.enter(dispatcher)
        pending = [rest]

        def read(n: int) -> bytes:
            if pending and pending[0]:
                return pending.pop()
            while True:
                try:
                    return sock.recv(n)
                except TimeoutError:   # an idle client is fine; a closed wire ends the reader
                    if wire.closed:
                        return b""
                except OSError:
                    return b""

        wire.send(P.hello(server_name(), connection.capabilities()))
        reader = threading.Thread(target=_read_loop, args=(read, dispatcher, wire, True),
                                  name=f"signforge-reader {peer}", daemon=True)
        reader.start()
        dispatcher.run()
        log.info("%s disconnected", peer)
    except Exception:   # one connection's failure must never reach the others or the server
        log.exception("%s: connection failed", peer)
    finally:
        if dispatcher is not None:
            handler.leave(dispatcher)
        _close(sock)
        if reader is not None:
            reader.join(timeout=5.0)
        if connection is not None:   # the dispatcher has ended: no job of this client writes its files now
            connection.close()
        slots.release()


def _drain(sock: socket.socket, limit: int = 1 << 16) -> None:
    """Say we are done, then read (and drop) what the refused client sent on for a moment:
    closing with unread input would reset the connection before it read our answer."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(1.0)
        while limit > 0 and (chunk := sock.recv(4096)):
            limit -= len(chunk)
    except OSError:
        pass


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)   # wakes the reader with end of input
    except OSError:
        pass


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; ``ServerError`` in one line when there is none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServerError(f"cannot listen on {host}:{port}: unknown host ({exc.strerror})") from None
    family = next((info[0] for info in infos if info[0] == socket.AF_INET), infos[0][0])   # "localhost": 127.0.0.1
    try:
        return socket.create_server((host, port), family=family, backlog=64)
    except OSError as exc:
        in_use = exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE))
        reason = "the port is in use" if in_use else (exc.strerror or exc)
        raise ServerError(f"cannot listen on {host}:{port}: {reason}") from None


def serve_tcp(listener: socket.socket, token: str, handler: Handler | None = None) -> None:
    """Accept clients on ``listener`` until interrupted; each gets its own thread. On Ctrl-C
    every client's requests are cancelled (a few seconds for the running one to stop, so
    no half-written file is left) before ``KeyboardInterrupt`` goes on to the caller."""
    from .workspace import Workspace, sweep

    sweep()   # workspaces a killed server left
    from .threads import PerRequest

    shared = TakingTurns(handler or Handler(), threads=PerRequest())
    try:
        _accept(listener, shared, token.encode("utf-8"))
    except KeyboardInterrupt:
        shared.stop(timeout=5.0)
        Workspace.close_all()
        raise


def _accept(listener: socket.socket, shared: TakingTurns, secret: bytes) -> None:
    slots = threading.BoundedSemaphore(MAX_CLIENTS)
    listener.settimeout(1.0)   # so Ctrl-C is heard on every platform
    while True:
        try:
            sock, address = listener.accept()
        except TimeoutError:
            continue
        except OSError as exc:   # out of descriptors and the like: wait, keep serving
            log.warning("accept failed (%s)", exc)
            time.sleep(0.5)
            continue
        peer = f"{address[0]}:{address[1]}"
        if not slots.acquire(blocking=False):
            log.warning("%s refused: %d clients are connected", peer, MAX_CLIENTS)
            sock.settimeout(2.0)
            _Wire(sock.send).send(P.error(None, P.FAILED, f"this SignForge backend serves {MAX_CLIENTS} clients "
                                                          f"at once; try again later"))
            _close(sock)
            continue
        threading.Thread(target=_serve_connection, args=(sock, peer, shared, secret, slots),
                         name=f"signforge-client {peer}", daemon=True).start()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):   # one line, not usage + error
        self.exit(2, f"error: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m backend.server",
                     description="SignForge backend: JSON lines on stdin/stdout (blender_addon/core/protocol.py), "
                                 "or over TCP with --listen; logs on stderr.")
    parser.add_argument("--listen", metavar="HOST:PORT",
                        help="serve clients over TCP instead of stdin/stdout; PORT alone binds 127.0.0.1, "
                             "port 0 picks a free one. Example: --listen 0.0.0.0:8765 --token-file token.txt")
    parser.add_argument("--token-file", metavar="FILE",
                        help=f"with --listen: the file whose first line is the token clients must present "
                             f"(default: ${TOKEN_ENV})")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    args = parser.parse_args(argv)
    from .threads import prepare

    # Over stdin/stdout Blender started this process and keeps working beside it: one core
    # stays Blender's, and idle torch threads sleep instead of spinning on it. A --listen
    # backend has its machine to itself and takes every free core.
    threads = prepare(leave=1 if args.listen is None else 0)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.listen is None:
        if args.token_file is not None:
            parser.error("--token-file goes with --listen")
        # The wire gets its own copy of fd 1; fd 1 itself then points at stderr, so a library
        # that prints (Python or C) lands in the log instead of corrupting the protocol.
        sys.stdout.flush()
        wire_fd = os.dup(1)
        os.dup2(2, 1)
        log.debug("torch intra-op threads: %s", os.environ.get("OMP_NUM_THREADS", threads))
        return serve(infd=sys.stdin.fileno(), outfd=wire_fd)
    try:
        try:
            host, port = P.parse_address(args.listen, default_host="127.0.0.1", min_port=0)
        except ValueError as exc:
            raise ServerError(f"--listen: {exc}") from None
        token = load_token(args.token_file)
        listener = listen(host, port)
    except ServerError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    bound = listener.getsockname()
    if args.token_file and os.name == "posix" and _shared_file(Path(args.token_file).expanduser()):
        log.warning("%s can be read by other users of this machine; chmod 600 it", args.token_file)
    if not _loopback(bound[0]):
        log.warning("listening beyond this machine: tokens and requests travel unencrypted, so across an "
                    "untrusted network reach it through a VPN or an SSH tunnel")
    where = f"[{bound[0]}]:{bound[1]}" if ":" in bound[0] else f"{bound[0]}:{bound[1]}"
    print(f"SignForge backend listening on {where} (protocol {P.PROTOCOL_VERSION}; clients need the token)",
          flush=True)
    try:
        serve_tcp(listener, token)
    except KeyboardInterrupt:
        listener.close()
        logging.shutdown()
        sys.stdout.flush()
        # no interpreter teardown: it would join torch's threads, which may still be in a
        # cancelled job, and abort ("terminate called without an active exception")
        os._exit(130)
    return 0


if __name__ == "__main__":
    sys.exit(main())
