"""``python -m backend.server``: the SignForge backend over JSON lines on stdin/stdout. torch (lazily); never bpy.

The protocol is ``blender_addon/core/protocol.py``. Three layers, so the add-on can run the
same code inside Blender's Python as well as in this process:

- ``Handler`` runs one request: it checks the parameters and calls generation, the body
  model and the file readers and writers, reporting progress through ``report``.
- ``Dispatcher`` queues requests, runs them one at a time in order on one worker, honours
  cancels and sends exactly one terminal message per request through a ``send`` callable.
- ``serve`` is the stdio server: a reader thread turns lines into dispatcher calls (and
  answers malformed lines), the main thread runs the dispatcher.

The modules here import only the standard library at start, so the handshake comes at
once; torch, smplx and numpy load with the first request that needs them. Never bpy.
"""
from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import queue
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from blender_addon.core import protocol as P

from .atomic import atomic_batch

log = logging.getLogger("signforge.server")

RECONSTRUCT_MISSING = ("video reconstruction is not installed in this backend "
                       "(it lands with the reconstruction issue)")

Report = Callable[[float, str], None]


class Cancelled(Exception):
    """Raised by ``report`` once the running request was cancelled; ends it with code "cancelled"."""


class RequestError(Exception):
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


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return slug or "motion"


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
        self._bodies: dict[str, Any] = {}
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
        if method == "generate":
            if params["seconds"] is not None and params["frames"] is not None:
                raise RequestError(P.INVALID_PARAMS, "generate: give 'seconds' or 'frames', not both")
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

    def _generate(self, params: dict, report: Report) -> dict:
        out_dir = Path(params["out_dir"]).expanduser().absolute()
        if out_dir.exists() and not out_dir.is_dir():
            raise RequestError(P.INVALID_PARAMS, f"generate: parameter 'out_dir': {out_dir} is a file, not a folder")
        run = params["run"]
        if run is not None and not Path(run).expanduser().is_dir():
            raise RequestError(P.INVALID_PARAMS, f"generate: parameter 'run': {run} is not a folder")
        report(0.0, "loading the model")

        import numpy as np

        from .generate import GenerateError, generate
        from .io import save_motion
        from .motion import MotionError

        report(0.02, "loading the model")   # torch is in; a cancel during the import lands here

        def step(done: int, total: int) -> None:
            report(0.05 + 0.9 * done / max(total, 1), f"sampling step {done}/{total}")

        try:
            motions = generate(params["prompt"], model=params["model"], frames=params["frames"],
                               seconds=params["seconds"], guidance=params["guidance"], steps=params["steps"],
                               seed=params["seed"], num=params["num"], hand=params["hand"],
                               run_dir=None if run is None else Path(run).expanduser(), progress=step,
                               device=params["device"])
        except GenerateError as exc:
            raise RequestError(P.INVALID_PARAMS, f"generate: {exc}") from None
        except MotionError as exc:   # Motion refuses NaN and inf: the model diverged
            raise RequestError(P.FAILED, f"generate: the model produced unusable values ({exc})") from None
        for m in motions:   # Motion checks this too; a file must never hold NaN
            if not all(np.isfinite(a).all() for a in (m.poses, m.trans, m.expression)):
                raise RequestError(P.FAILED, "generate: the model produced NaN or inf")
        report(0.96, "writing the motions")
        slug = _slug(params["prompt"])
        names = [f"{slug}-{params['seed']}-{i}.npz" for i in range(len(motions))]
        with atomic_batch(out_dir) as tmp:   # every variant or none, even if the server is killed
            for m, name in zip(motions, names):
                save_motion(m, tmp / name)
        paths = [str(out_dir / name) for name in names]
        return {"motions": paths, "fps": float(motions[0].fps), "frames": int(motions[0].num_frames)}

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
        body = self._load_body(params["smplx"]) if dst.suffix.lower() == ".bvh" else None
        report(0.5, f"writing {dst.suffix.lstrip('.').upper()}")
        save_motion(motion, dst, body=body)
        return {"path": str(dst)}

    def _reconstruct(self, params: dict, report: Report) -> dict:
        out = _out_file(params["out"], "out")
        source = Path(params["path"]).expanduser()
        if not source.is_file():
            raise RequestError(P.INVALID_PARAMS, f"reconstruct: {source}: no such file")
        from . import reconstruct as RC
        from .io import save_motion

        def step(done: int, total: int) -> None:
            report(0.95 * done / max(total, 1), f"reconstructing {done}/{total}")

        self._load_body(params["smplx"])   # a bad model file is refused before any video work
        try:
            motion = RC.reconstruct(source, start=params["start"], end=params["end"],
                                    denoise=params["denoise"], progress=step, smplx=params["smplx"])
        except ValueError as exc:
            raise RequestError(P.INVALID_PARAMS, f"reconstruct: {exc}") from None
        save_motion(motion, out)
        return {"path": str(out), "frames": int(motion.num_frames), "fps": float(motion.fps)}

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
        def report(fraction: float, message: str = "") -> None:
            if job.cancelled.is_set():
                raise Cancelled()
            self._send(P.progress(job.id, fraction, message))

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
        except Exception as exc:   # any failure must still end the request
            log.exception("request %s (%s) failed", job.id, job.method)
            return P.error(job.id, P.FAILED, f"{job.method} failed: {type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------- stdio
class _Wire:
    """Whole lines to a file descriptor, one writer at a time, straight to the OS (no buffer to flush)."""

    def __init__(self, fd: int):
        self._fd = fd
        self._lock = threading.Lock()
        self.closed = False

    def send(self, msg: dict) -> None:
        try:
            data = P.encode(msg).encode("ascii")
        except P.ProtocolError as exc:
            log.error("dropping a message that cannot be encoded: %s", exc.message)
            return
        with self._lock:
            if self.closed:
                return
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view):]
            except OSError as exc:   # the client went away; EOF on stdin follows
                self.closed = True
                log.warning("cannot write to the client (%s); dropping further output", exc)


def _read_loop(infd: int, dispatcher: Dispatcher, wire: _Wire) -> None:
    def read(n: int) -> bytes:
        try:
            return os.read(infd, n)
        except OSError as exc:
            log.warning("reading stdin failed (%s); treating it as end of input", exc)
            return b""

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
    log.info("end of input: finishing the running request, then exiting")
    dispatcher.stop(cancel_running=False)


def serve(handler: Handler | None = None, infd: int = 0, outfd: int = 1) -> int:
    """Speak the protocol on two file descriptors until ``shutdown`` or end of input; returns 0.

    The reader is a daemon thread reading with ``os.read`` (no buffered-reader lock), so the
    process can exit while it waits for input; the worker runs in the calling thread.
    """
    handler = handler or Handler()
    wire = _Wire(outfd)
    dispatcher = Dispatcher(handler, wire.send)
    wire.send(P.hello(server_name(), handler.capabilities()))
    reader = threading.Thread(target=_read_loop, args=(infd, dispatcher, wire), name="signforge-reader",
                              daemon=True)
    reader.start()
    dispatcher.run()
    log.info("exiting")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.server",
                                     description="SignForge backend: JSON lines on stdin/stdout "
                                                 "(blender_addon/core/protocol.py); logs on stderr.")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The wire gets its own copy of fd 1; fd 1 itself then points at stderr, so a library
    # that prints (Python or C) lands in the log instead of corrupting the protocol.
    sys.stdout.flush()
    wire_fd = os.dup(1)
    os.dup2(2, 1)
    return serve(infd=sys.stdin.fileno(), outfd=wire_fd)


if __name__ == "__main__":
    sys.exit(main())
