"""The JSON-lines protocol between the Blender add-on and the SignForge backend. Standard library only.

This module is the specification; ``backend/server.py`` and ``core/client.py`` both import
it, and it never imports ``bpy``, ``numpy`` or ``torch``.

Wire
    UTF-8 text, one JSON object per line ("\\n"-terminated; a trailing "\\r" is ignored),
    at most ``MAX_LINE_BYTES`` bytes a line. ``NaN`` and ``Infinity`` are not JSON and are
    refused. Every object has a string ``"type"``. Fields not listed below are ignored, so
    a newer peer may add some without a version change; anything else is a new
    ``PROTOCOL_VERSION``. The server's stdout is the wire and nothing else; its logs go
    to stderr.

Handshake
    The server's first line, before it reads anything::

        {"type": "hello", "protocol": 1, "server": "signforge 0.1.0",
         "capabilities": ["generate", "body", ...]}

    ``capabilities`` lists the methods this server can run. A client that speaks another
    ``protocol`` must not send requests (the client here stops with a clear error).

Client -> server
    ``{"type": "request", "id": 7, "method": "generate", "params": {...}}``
        ``id`` is a non-negative integer the client picks, unique among its requests that
        have not ended (the client here counts up from 1). ``params`` is an object (missing
        means ``{}``); ``null`` for a parameter means "not given". ``METHODS`` below lists
        every method and its parameters; an unknown parameter is an error, so typos
        surface.
    ``{"type": "cancel", "id": 7}``
        Asks the server to stop request 7. A queued request ends at once; a running one
        ends at its next progress report. Either way it ends with an ``error`` of code
        ``"cancelled"``, unless it finished first (then its ``result`` stands). Cancelling
        an unknown or finished id does nothing and gets no answer.

Server -> client
    ``{"type": "progress", "id": 7, "fraction": 0.42, "message": "sampling step 21/50", "stage": "sampling"}``
        Any number of notifications while request 7 runs; ``fraction`` is in [0, 1].
        ``stage`` (optional, a string) names the phase: ``STAGE_LOADING`` ("loading") while
        a model loads, which the first request of a run can spend seconds in, so a client
        can say so instead of showing a bar stuck at 0%.
    ``{"type": "result", "id": 7, "result": {...}}``
    ``{"type": "error", "id": 7, "code": "invalid_params", "message": "..."}``
        Exactly one of these ends each request: its terminal message. Nothing about that
        id follows it. An ``error`` answering a line the server could not read as a
        request has ``"id": null`` (or the request's id when the line was a request whose
        id could be read). ``code`` is one of ``ERROR_CODES``; ``message`` is a sentence
        for the user.

    Requests run one at a time in the order they arrived; cancels and malformed lines are
    answered while a request runs. ``shutdown`` runs in order like any request: the
    server answers ``{}`` and exits 0. End of input (stdin closed) finishes the running
    request and exits 0; requests still queued then are cancelled.

Methods (``METHODS`` holds the same with types, defaults and bounds)
    ``ping`` ()                                                  -> ``{"pong": true}``
    ``info`` (model="handmdm"|"signavatar", run)
        -> ``{"model", "run", "fps", "longest_frames", "longest_s", "steps": [lo, hi],
        "variants", "images", "images_note", "samplers"}``: what ``generate`` accepts with that model
        (reads the run's config only, no weights: cheap, so a client asks before Generate)
    ``generate`` (prompt; model="handmdm"|"signavatar", seconds | frames, guidance=2.5,
        steps=50, sampler="ddim"|"ddpm", seed=0, num=1, hand="auto", refine, run, device="cpu", image; out_dir)
        -> ``{"motions": [paths], "fps": 25.0, "frames": n, "warnings": [sentences]}``
        (``warnings``: what the user should hear although it generated, such as a prompt
        truncated by the text encoder or one it cannot read, or a take mirrored to obey the hand)
    ``body`` (smplx, betas; out)                 -> ``{"path": p, "vertices": V, "model": m}``
    ``load_motion`` (path, fps, mirror=false; out) -> ``{"path": out, "frames": n, "fps": f}``
    ``save_motion`` (src, dst, smplx)            -> ``{"path": dst}``
    ``reconstruct`` (path, start=0, end, denoise=false, smplx, mirror=false; out)
        -> ``{"path": out, "frames": n, "fps": f, "quality": {...}, "clip": {...} | null,
        "warnings": [sentences]}``: ``quality`` holds the figures the CLI prints
        (``left_hand_found``/``right_hand_found``: share of the input's frames, 0..1;
        ``reprojection_px``; ``confidence_mean``/``confidence_min`` and
        ``left_confidence_mean``/``right_confidence_mean`` over the take; ``frames``,
        ``frames_in``, ``trimmed`` [first, end) of the input's frames), the hands being the
        signer's in the input even when mirrored; the per-frame confidence is in the .npz
        (``confidence``, ``hand_confidence``). ``clip`` (a video, not a .pose file) says
        where the take starts in it: ``{"path", "start_s", "fps", "width", "height"}``.
        ``warnings``: each hand the input lost for longer than the fit interpolates (it
        holds a pose there), with where in the take
    ``sentence`` (items; seed=0, hand="auto", method="inpaint", strength=1.0, transition,
        steps=50, guidance=2.5; out)
        -> ``{"path": out, "frames": n, "fps": 25.0, "spans": [{"kind", "start", "end", ...}]}``:
        ``items`` is a list of strings (a description, a dictionary EntryID or a motion file,
        as ``signforge sentence`` reads them) or objects ``{"text"|"entry"|"motion": ...,
        "seconds", "transition"}``; the signs are kept as made and joined by generated
        transitions (``backend.sentence``); ``spans`` are the signs' and transitions' frames
        [start, end) and sources, also in the motion's provenance ("sentence")
    ``edit`` (motion, text; start, end, joints, seed=0, strength=0.5, hand="auto", steps=50,
        guidance=2.5; out)
        -> ``{"path": out, "frames": n, "fps": the take rate, "frames_redone": [a, b], "joints": [names]}``:
        the take in ``motion`` with the part the mask names regenerated for ``text``
        (``backend.edit``) and every other channel kept bit-exact; the mask is frames
        [start, end) of the take at its own rate (default: all of it) and ``joints`` (groups such as
        ``right_hand``, ``arms``, or joint names, comma-separated; default: every joint);
        give frames, joints or both
    ``shutdown`` ()                                              -> ``{}``

    Paths are strings; give absolute ones (relative ones resolve against the server's
    working folder). Results name absolute paths. Files are written completely or not at
    all, and a cancelled request writes none.

Over TCP (``python -m backend.server --listen HOST:PORT``)
    The same lines over a socket, with one line before them: the client's first line is
    ``{"type": "auth", "token": "..."}`` (at most ``MAX_AUTH_LINE_BYTES`` bytes, within
    ``AUTH_TIMEOUT_S`` seconds of connecting). The server answers the right token with
    ``hello`` and then speaks as above; anything else gets one ``error`` of code
    ``"unauthorized"`` (``"id": null``) and the connection is closed. Each connection has
    its own requests and ids; jobs from every connection take turns on the one model (a
    request waiting for another connection's job reports ``progress`` and can be
    cancelled). ``shutdown`` ends the connection, not the server; a closed connection
    cancels its requests. Paths in requests and results are the server machine's. A TCP
    server also offers file transfer into a private folder per connection (``workspace``,
    ``upload``, ``download``, ``remove``: ``core/transfer.py``), so a client on another
    machine can send its inputs and fetch the results; the stdio server does not.

Client-side messages
    ``{"type": "notice", "message": "..."}`` never crosses the wire: the client puts it
    among the messages it hands to its caller, for instance when it restarted a backend
    that stopped (the user should hear about it).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping
from .errors import SignForgeError

PROTOCOL_VERSION = 2   # 2: info, progress stages, result warnings, image and mirror params, TCP auth
MAX_LINE_BYTES = 1 << 20   # paths and short prompts travel, never arrays
MAX_AUTH_LINE_BYTES = 4096  # the auth line that opens a TCP connection
AUTH_TIMEOUT_S = 10.0       # a TCP client that has not sent it by then is closed

# Error codes (the ``code`` of an ``error`` message).
PARSE_ERROR = "parse_error"          # not UTF-8, not JSON, too long, empty
INVALID_REQUEST = "invalid_request"  # JSON, but not a message a client may send
UNKNOWN_METHOD = "unknown_method"    # a request for a method this protocol does not define
INVALID_PARAMS = "invalid_params"    # missing, unknown or ill-typed parameters, unusable files
CANCELLED = "cancelled"              # the request was cancelled
FAILED = "failed"                    # the method ran and failed; the message says why
UNSUPPORTED = "unsupported"          # a defined method this server cannot run (see hello)
BACKEND_CRASHED = "backend_crashed"  # synthesized by the client when the server process died
UNAUTHORIZED = "unauthorized"        # a TCP connection without the right token; it is closed
ERROR_CODES = (PARSE_ERROR, INVALID_REQUEST, UNKNOWN_METHOD, INVALID_PARAMS, CANCELLED, FAILED,
               UNSUPPORTED, BACKEND_CRASHED, UNAUTHORIZED)

# Progress stages (a progress message's optional ``stage``).
STAGE_LOADING = "loading"   # a model is loading: seconds at 0% the first time

# Message types.
HELLO, REQUEST, CANCEL, PROGRESS, RESULT, ERROR, NOTICE, AUTH = (
    "hello", "request", "cancel", "progress", "result", "error", "notice", "auth")
CLIENT_TYPES = (REQUEST, CANCEL, AUTH)
SERVER_TYPES = (HELLO, PROGRESS, RESULT, ERROR)
TERMINAL_TYPES = (RESULT, ERROR)
MESSAGE_TYPES = CLIENT_TYPES + SERVER_TYPES + (NOTICE,)
MAX_ID = 2 ** 53   # ids stay exact in every JSON reader


class ProtocolError(SignForgeError, ValueError):
    """A line or message that breaks the protocol. ``id`` is the request's id when it could be read."""

    def __init__(self, code: str, message: str, id: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.id = id

    def __repr__(self) -> str:
        return f"ProtocolError({self.code!r}, {self.message!r}, id={self.id!r})"


# ---------------------------------------------------------------------------- methods
@dataclass(frozen=True)
class Param:
    """One request parameter. ``kind``: str, path, int, float, bool, floats (a list of numbers) or
    items (a list of strings or flat objects: a sentence's items)."""
    name: str
    kind: str
    doc: str
    required: bool = False
    default: Any = None
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    max_items: int | None = None


@dataclass(frozen=True)
class Method:
    name: str
    doc: str
    params: tuple[Param, ...]
    result: str


def _methods(*methods: Method) -> dict[str, Method]:
    return {m.name: m for m in methods}


METHODS: Mapping[str, Method] = _methods(
    Method("ping", "Check that the server answers.", (), '{"pong": true}'),
    Method(
        "info",
        "What generate accepts with a model: its longest take, steps, variants, whether it takes "
        "images, its samplers. Reads the run's config.json, never its weights.",
        (Param("model", "str", "which generator", default="handmdm", choices=("handmdm", "signavatar")),
         Param("run", "path", "a run folder from `signforge train`; default: the shipped weights")),
        '{"model": kind, "run": folder name, "fps": 25.0, "longest_frames": n, "longest_s": s, '
        '"steps": [1, 100], "variants": 64, "images": bool, "images_note": why not (or ""), '
        '"samplers": ["ddim", "ddpm"] (HandMDM; [] for SignAvatar)}'),
    Method(
        "generate",
        "Sample motions for a prompt with a trained text-to-motion model and write each as a "
        "SignForge .npz in out_dir, named <slug>-s<seed>.npz, or <slug>-s<seed>-<k>.npz for sample k of "
        "num > 1 (prompts.take_name; a file of that name is replaced).",
        (Param("prompt", "str", "the text to sign", required=True),
         Param("model", "str", "which generator", default="handmdm", choices=("handmdm", "signavatar")),
         Param("seconds", "float", "length in seconds (default: the model's for the prompt); give seconds or frames",
               minimum=0.04, maximum=600.0),
         Param("frames", "int", "length in frames at 25 fps; give seconds or frames", minimum=4, maximum=15000),
         Param("guidance", "float", "classifier-free guidance scale (HandMDM)", default=2.5,
               minimum=0.0, maximum=100.0),
         Param("steps", "int", "DDIM sampling steps (HandMDM)", default=50, minimum=1, maximum=100),
         Param("sampler", "str", "HandMDM's sampler: ddim (deterministic, 'steps' steps) or ddpm (stochastic, "
               "all 100 steps of the schedule)", default="ddim", choices=("ddim", "ddpm")),
         Param("seed", "int", "random seed; the same seed gives the same motion", default=0,
               minimum=0, maximum=2 ** 63 - 1),
         Param("num", "int", "how many variants to sample", default=1, minimum=1, maximum=64),
         Param("hand", "str", "dominant hand for prompts that name none (a named hand is obeyed; a motion "
               "led by the other hand is mirrored); auto means right", default="auto",
               choices=("auto", "left", "right")),
         Param("refine", "float", "HandMDM: how far the model redraws the take planned from the prompt "
               "(0 keeps the plan's hand, place, movement and count exactly, 1 samples without a plan); "
               "default: the backend's", minimum=0.0, maximum=1.0),
         Param("run", "path", "a run folder from `signforge train`; default: the shipped weights"),
         Param("device", "str", "where the model runs (cuda needs a GPU visible to the backend)",
               default="cpu", choices=("cpu", "cuda")),
         Param("image", "path", "an image to condition on instead of the prompt (a SignAvatar run trained "
               "on CLIP embeddings; see info's images)"),
         Param("out_dir", "path", "folder for the result files (created if missing)", required=True)),
        '{"motions": [absolute .npz paths], "fps": 25.0, "frames": n, "warnings": [sentences]}'),
    Method(
        "body",
        "Write the body a skinned armature is built from: a plain .npz (no pickles) with "
        "vertices (V,3) float32 rest vertices with betas applied, faces (F,3) int32, joints "
        "(55,3) float32 rest joints, parents (55,) int32 (-1 for the root), joint_names (55,) "
        "unicode, weights (V,55) float32 LBS weights, expressions (10,V,3) float32 expression "
        "blend shapes and model (str). SMPL-X coordinates: metres, +Y up, facing +Z.",
        (Param("smplx", "path", "the user's SMPLX_NEUTRAL.npz or its folder; default: the built-in mannequin"),
         Param("betas", "floats", "shape coefficients (up to 10)", max_items=10, minimum=-100.0, maximum=100.0),
         Param("out", "path", "the .npz to write", required=True)),
        '{"path": absolute path, "vertices": V, "model": "mannequin" or the model file name}'),
    Method(
        "load_motion",
        "Read a motion file (SignForge/AMASS .npz, HandMDM .npy, SMPL-X .bvh) and write it as a SignForge .npz.",
        (Param("path", "path", "the motion file to read", required=True),
         Param("fps", "float", "frame rate that overrides (or supplies) the file's", minimum=0.001, maximum=1000.0),
         Param("mirror", "bool", "swap left and right (Motion.mirror): the other hand signs", default=False),
         Param("out", "path", "the .npz to write", required=True)),
        '{"path": absolute path of out, "frames": n, "fps": f}'),
    Method(
        "save_motion",
        "Convert a SignForge .npz to the format its destination's extension names (.npz, .npy, .bvh).",
        (Param("src", "path", "a motion file to read", required=True),
         Param("dst", "path", "the file to write; its extension picks the format", required=True),
         Param("smplx", "path", "the SMPL-X model whose rest skeleton a .bvh uses; default: the mannequin")),
        '{"path": absolute path of dst}'),
    Method(
        "reconstruct",
        "Reconstruct SMPL-X motion from a video or .pose file and write it as a SignForge .npz. "
        "Only servers whose hello lists it can run it.",
        (Param("path", "path", "the video or .pose file", required=True),
         Param("start", "float", "first second to use", default=0.0, minimum=0.0),
         Param("end", "float", "last second to use; default: the end", minimum=0.0),
         Param("denoise", "bool", "clean the fit with SignAvatar's reconstruct mode (off: it can move a "
               "resting arm)", default=False),
         Param("smplx", "path", "the SMPL-X model to fit (file or folder); default: the mannequin"),
         Param("mirror", "bool", "swap left and right (Motion.mirror): the other hand signs", default=False),
         Param("out", "path", "the .npz to write", required=True)),
        '{"path": absolute path of out, "frames": n, "fps": f, "quality": {figures}, '
        '"clip": {"path", "start_s", "fps", "width", "height"} or null, "warnings": [sentences]}'),
    Method(
        "sentence",
        "Sign a sentence: each item's sign kept as made, joined by generated transitions that never return to "
        "rest, written as one SignForge .npz.",
        (Param("items", "items", "the signs in order: descriptions, dictionary EntryIDs or motion files (strings), "
               "or objects with text|entry|motion and optional seconds and transition", required=True,
               max_items=64),
         Param("seed", "int", "item k is made with seed + k", default=0, minimum=0, maximum=2 ** 53),
         Param("hand", "str", "dominant hand for items that name none", default="auto",
               choices=("auto", "left", "right")),
         Param("method", "str", "how transitions are made", default="inpaint",
               choices=("inpaint", "blend", "raw", "linear")),
         Param("strength", "float", "how far up the schedule the blend is noised before HandMDM redraws it",
               default=1.0, minimum=0.01, maximum=1.0),
         Param("transition", "float", "seconds of every transition; default: from the distance",
               minimum=0.1, maximum=2.4),
         Param("steps", "int", "DDIM sampling steps per transition", default=50, minimum=1, maximum=100),
         Param("guidance", "float", "classifier-free guidance scale", default=2.5, minimum=0.0, maximum=20.0),
         Param("out", "path", "the .npz to write", required=True)),
        '{"path": absolute path of out, "frames": n, "fps": 25.0, "spans": [{"kind", "start", "end", ...}]}'),
    Method(
        "edit",
        "Regenerate part of a take for a new text (backend.edit): frames [start, end) of the take (at its own "
        "rate) and/or some joints, the rest kept bit-exact; written as a SignForge .npz at the take's rate.",
        (Param("motion", "path", "the take's motion file (.npz, .npy, .bvh)", required=True),
         Param("text", "str", "what the regenerated part signs", required=True),
         Param("start", "int", "first frame of the take to redo; default: 0", minimum=0, maximum=10 ** 6),
         Param("end", "int", "one past the last frame of the take to redo; default: the take's end",
               minimum=1, maximum=10 ** 6),
         Param("joints", "str", "groups (right_hand, left_hand, hands, right_arm, left_arm, arms, torso, face) "
               "or joint names, comma-separated; default: every joint"),
         Param("seed", "int", "random seed", default=0, minimum=0, maximum=2 ** 53),
         Param("strength", "float", "how far up the schedule the plan is noised before HandMDM redraws it",
               default=0.5, minimum=0.01, maximum=1.0),
         Param("hand", "str", "dominant hand when the text names none", default="auto",
               choices=("auto", "left", "right")),
         Param("steps", "int", "DDIM sampling steps", default=50, minimum=1, maximum=100),
         Param("guidance", "float", "classifier-free guidance scale", default=2.5, minimum=0.0, maximum=20.0),
         Param("out", "path", "the .npz to write", required=True)),
        '{"path": absolute path of out, "frames": n, "fps": the take rate, "frames_redone": [a, b], "joints": [names]}'),
    Method("shutdown", "Answer, then exit (after the requests sent before it).", (), "{}"),
)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bound(x: float) -> str:
    """A bound as a person reads it: 9223372036854775807 for the largest seed, not 9.22337e+18."""
    return str(int(x)) if isinstance(x, int) or float(x).is_integer() else f"{x:g}"


def _check_value(method: str, p: Param, value):
    where = f"{method}: parameter {p.name!r}"
    if p.kind in ("str", "path"):
        if not isinstance(value, str):
            raise ProtocolError(INVALID_PARAMS, f"{where} must be a string; got {_show(value)}")
        if p.kind == "path" and (not value.strip() or "\x00" in value):
            raise ProtocolError(INVALID_PARAMS, f"{where} must be a file path; got {_show(value)}")
    elif p.kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ProtocolError(INVALID_PARAMS, f"{where} must be an integer; got {_show(value)}")
    elif p.kind == "float":
        if not _number(value) or not math.isfinite(value):
            raise ProtocolError(INVALID_PARAMS, f"{where} must be a number; got {_show(value)}")
        value = float(value)
    elif p.kind == "bool":
        if not isinstance(value, bool):
            raise ProtocolError(INVALID_PARAMS, f"{where} must be true or false; got {_show(value)}")
    elif p.kind == "floats":
        if not isinstance(value, list) or not all(_number(v) and math.isfinite(v) for v in value):
            raise ProtocolError(INVALID_PARAMS, f"{where} must be a list of numbers; got {_show(value)}")
        if p.max_items is not None and len(value) > p.max_items:
            raise ProtocolError(INVALID_PARAMS, f"{where} takes at most {p.max_items} numbers; got {len(value)}")
        value = [float(v) for v in value]
    elif p.kind == "items":   # a sentence's items: strings, or flat objects of strings and numbers
        def plain(v) -> bool:
            return isinstance(v, str) or (isinstance(v, dict) and all(
                isinstance(k, str) and (isinstance(x, str) or (_number(x) and math.isfinite(x)))
                for k, x in v.items()))
        if not isinstance(value, list) or not value or not all(plain(v) for v in value):
            raise ProtocolError(INVALID_PARAMS, f"{where} must be a non-empty list of strings or objects; "
                                                f"got {_show(value)}")
        if p.max_items is not None and len(value) > p.max_items:
            raise ProtocolError(INVALID_PARAMS, f"{where} takes at most {p.max_items} items; got {len(value)}")
    else:  # a programming error in METHODS, not the peer's
        raise ValueError(f"unknown parameter kind {p.kind!r}")
    if p.choices and value not in p.choices:
        raise ProtocolError(INVALID_PARAMS, f"{where} must be one of {', '.join(map(repr, p.choices))}; "
                                            f"got {_show(value)}")
    for v in (value if isinstance(value, list) else [value]):
        if p.minimum is not None and _number(v) and v < p.minimum:
            raise ProtocolError(INVALID_PARAMS, f"{where} must be at least {_bound(p.minimum)}; got {v!r}")
        if p.maximum is not None and _number(v) and v > p.maximum:
            raise ProtocolError(INVALID_PARAMS, f"{where} must be at most {_bound(p.maximum)}; got {v!r}")
    return value


def check_params(method: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``params`` checked against ``METHODS[method]``, with every parameter present (defaults filled in).

    Raises ``ProtocolError`` (``unknown_method`` or ``invalid_params``) naming the method and
    the parameter. Idempotent: its output passes again unchanged.
    """
    spec = METHODS.get(method)
    if spec is None:
        raise ProtocolError(UNKNOWN_METHOD, f"unknown method {_show(method)}; the protocol defines "
                                            f"{', '.join(METHODS)}")
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise ProtocolError(INVALID_PARAMS, f"{method}: params must be an object; got {_show(params)}")
    known = {p.name: p for p in spec.params}
    unknown = [k for k in params if k not in known]
    if unknown:
        takes = ", ".join(known) if known else "no parameters"
        raise ProtocolError(INVALID_PARAMS, f"{method}: unknown parameter {_show(unknown[0])} "
                                            f"({method} takes {takes})")
    out = {}
    for name, p in known.items():
        value = params.get(name)
        if value is None:
            if p.required:
                raise ProtocolError(INVALID_PARAMS, f"{method}: missing required parameter {name!r} ({p.doc})")
            out[name] = p.default
        else:
            out[name] = _check_value(method, p, value)
    return out


# ---------------------------------------------------------------------------- constructors
def _id(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
        raise ValueError(f"a request id is an integer in [0, 2**53]; got {value!r}")
    return value


def hello(server: str, capabilities: Iterable[str], protocol: int = PROTOCOL_VERSION) -> dict:
    return {"type": HELLO, "protocol": protocol, "server": server, "capabilities": list(capabilities)}


def request(id: int, method: str, params: Mapping[str, Any] | None = None) -> dict:
    return {"type": REQUEST, "id": _id(id), "method": method, "params": dict(params or {})}


def cancel(id: int) -> dict:
    return {"type": CANCEL, "id": _id(id)}


def progress(id: int, fraction: float, message: str = "", stage: str | None = None) -> dict:
    fraction = float(fraction)
    fraction = min(1.0, max(0.0, fraction)) if math.isfinite(fraction) else 0.0
    msg = {"type": PROGRESS, "id": _id(id), "fraction": fraction, "message": str(message)}
    if stage:
        msg["stage"] = str(stage)
    return msg


def result(id: int, result: Mapping[str, Any] | None = None) -> dict:
    return {"type": RESULT, "id": _id(id), "result": dict(result or {})}


def error(id: int | None, code: str, message: str) -> dict:
    if code not in ERROR_CODES:
        raise ValueError(f"unknown error code {code!r}")
    return {"type": ERROR, "id": None if id is None else _id(id), "code": code, "message": str(message)}


def notice(message: str) -> dict:
    return {"type": NOTICE, "message": str(message)}


def auth(token: str) -> dict:
    return {"type": AUTH, "token": str(token)}


def is_terminal(msg: Mapping[str, Any]) -> bool:
    """True for the one message that ends a request (``result`` or ``error``)."""
    return msg.get("type") in TERMINAL_TYPES


# ---------------------------------------------------------------------------- encode / decode
def encode(msg: Mapping[str, Any]) -> str:
    """One wire line: compact ASCII JSON ending in "\\n" (escapes keep newlines out of it)."""
    try:
        text = json.dumps(msg, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ProtocolError(FAILED, f"message cannot be sent as JSON: {exc}") from None
    if not text.startswith("{"):
        raise ProtocolError(FAILED, f"a message is a JSON object; got {_show(msg)}")
    return text + "\n"


def _show(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:30]} is out of range")
    return value


def _field(msg: dict, name: str, check: Callable[[Any], bool], what: str, req_id=None) -> Any:
    if name not in msg:
        raise ProtocolError(INVALID_REQUEST, f"{msg['type']} message without {name!r}", req_id)
    value = msg[name]
    if not check(value):
        raise ProtocolError(INVALID_REQUEST, f"{msg['type']} message: {name!r} must be {what}; "
                                             f"got {_show(value)}", req_id)
    return value


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


def decode(line: str | bytes) -> dict:
    """The message on one wire line, its shape checked; ``ProtocolError`` says what is wrong.

    Checks the envelope of every type (ids, field types, ``params`` an object), not whether
    a method exists or its parameters fit: that is ``check_params``.
    """
    if isinstance(line, (bytes, bytearray)):
        if len(line) > MAX_LINE_BYTES:
            raise ProtocolError(PARSE_ERROR, f"line longer than {MAX_LINE_BYTES} bytes")
        try:
            line = bytes(line).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(PARSE_ERROR, f"line is not UTF-8 text (byte {line[exc.start]:#04x} "
                                             f"at offset {exc.start})") from None
    elif not isinstance(line, str):
        raise ProtocolError(PARSE_ERROR, f"a line is text; got {type(line).__name__}")
    elif len(line) > MAX_LINE_BYTES:   # characters >= bytes/4; the byte check above is the real one
        raise ProtocolError(PARSE_ERROR, f"line longer than {MAX_LINE_BYTES} bytes")
    text = line.rstrip("\r\n")
    if not text.strip():
        raise ProtocolError(PARSE_ERROR, "empty line; each line holds one JSON object")
    try:
        msg = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise ProtocolError(PARSE_ERROR, "JSON nested too deeply") from None
    except ValueError as exc:   # json.JSONDecodeError is a ValueError
        raise ProtocolError(PARSE_ERROR, f"bad JSON: {exc}") from None
    if not isinstance(msg, dict):
        shown = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(msg), "a number")
        raise ProtocolError(INVALID_REQUEST, f"a message is a JSON object; got {shown}")
    kind = msg.get("type")
    if kind is None:
        raise ProtocolError(INVALID_REQUEST, "message without 'type'")
    if not isinstance(kind, str):
        raise ProtocolError(INVALID_REQUEST, f"'type' must be a string; got {_show(kind)}")
    if kind not in MESSAGE_TYPES:
        raise ProtocolError(INVALID_REQUEST, f"unknown message type {_show(kind)}; expected one of "
                                             f"{', '.join(MESSAGE_TYPES)}")
    id_what = "an integer in [0, 2**53]"
    if kind == REQUEST:
        req_id = _field(msg, "id", _is_id, id_what)
        _field(msg, "method", lambda v: isinstance(v, str) and v != "", "a non-empty string", req_id)
        if msg.get("params") is None:
            msg["params"] = {}
        elif not isinstance(msg["params"], dict):
            raise ProtocolError(INVALID_PARAMS, f"request {req_id} ({_show(msg['method'])}): params must be "
                                                f"an object; got {_show(msg['params'])}", req_id)
    elif kind == CANCEL:
        _field(msg, "id", _is_id, id_what)
    elif kind == AUTH:
        _field(msg, "token", lambda v: isinstance(v, str), "a string")
    elif kind == HELLO:
        _field(msg, "protocol", lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")
        _field(msg, "server", lambda v: isinstance(v, str), "a string")
        _field(msg, "capabilities", lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
               "a list of method names")
    elif kind == PROGRESS:
        _field(msg, "id", _is_id, id_what)
        _field(msg, "fraction", lambda v: _number(v) and 0.0 <= v <= 1.0, "a number in [0, 1]")
        msg.setdefault("message", "")
        _field(msg, "message", lambda v: isinstance(v, str), "a string")
        if "stage" in msg:
            _field(msg, "stage", lambda v: isinstance(v, str), "a string")
    elif kind == RESULT:
        _field(msg, "id", _is_id, id_what)
        _field(msg, "result", lambda v: isinstance(v, dict), "an object")
    elif kind == ERROR:
        _field(msg, "id", lambda v: v is None or _is_id(v), f"null or {id_what}")
        _field(msg, "code", lambda v: isinstance(v, str), "a string")
        _field(msg, "message", lambda v: isinstance(v, str), "a string")
    else:  # NOTICE
        _field(msg, "message", lambda v: isinstance(v, str), "a string")
    return msg


def iter_lines(read: Callable[[int], bytes], limit: int = MAX_LINE_BYTES,
               chunk: int = 1 << 16) -> Iterator[bytes]:
    """Lines (without "\\n") from ``read(n)`` until it returns b"", in bounded memory.

    A line longer than ``limit`` comes out cut to ``limit + 1`` bytes, so ``decode``
    refuses it by its length while the rest of it is skipped, never held.
    """
    buf = bytearray()
    overlong = False
    while True:
        data = read(chunk)
        if not data:
            if buf or overlong:
                yield bytes(buf)
            return
        start = 0
        while start <= len(data):
            nl = data.find(b"\n", start)
            piece = data[start:] if nl < 0 else data[start:nl]
            if not overlong:
                buf += piece
                if len(buf) > limit:
                    del buf[limit + 1:]
                    overlong = True
            if nl < 0:
                break
            yield bytes(buf)
            buf.clear()
            overlong = False
            start = nl + 1


def write_message(write: Callable[[memoryview], int | None], msg: Mapping[str, Any]) -> None:
    """Send one message as one whole line through ``write`` (``os.write``, a raw pipe's or a
    socket's ``send``), which may take part of it per call. Raises ``ProtocolError`` for a
    message JSON cannot carry and whatever ``write`` raises (``OSError``) when the peer is gone.
    """
    view = memoryview(encode(msg).encode("ascii"))
    while view:
        view = view[write(view) or 0:]


def parse_address(text: str, default_host: str | None = None, min_port: int = 1) -> tuple[str, int]:
    """``(host, port)`` from "HOST:PORT" ("[::1]:PORT" for IPv6); "PORT" alone takes
    ``default_host`` when one is given (a server passes ``min_port=0``: any free port).
    ``ValueError`` says what is wrong, in one line."""
    text = str(text).strip()
    host, sep, port = text.rpartition(":")
    if not sep and default_host is not None:
        host, port = default_host, text
    elif not sep or not host:
        raise ValueError(f"address {text!r} is not HOST:PORT (for example 127.0.0.1:8765)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"address {text!r}: write an IPv6 host in brackets, as [::1]:8765")
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"address {text!r} has no usable host")
    if not port.isdigit() or not min_port <= int(port) <= 65535:
        raise ValueError(f"address {text!r}: the port must be a number from {min_port} to 65535; got {port!r}")
    return host, int(port)
