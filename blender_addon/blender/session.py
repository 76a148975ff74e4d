"""The add-on's one backend connection, started lazily and kept warm. Imports bpy.

Results travel as files in this session's folder of the add-on's temp folder
(``core.scratch``): each job in a folder of its own (``job_folder``), removed when the job
ends; the session's folder when the add-on unregisters; what a crashed session left, at the
next register (``sweep``). ``limits`` caches what the backend's
``info`` says the panel's model accepts (longest take, steps, variants, images), so the
panel shows it and Generate checks it before any request is sent.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ..core import client, scratch
from . import prefs as P

_STATE: dict = {"backend": None, "key": None, "tmp": None, "limits": {}, "asking": False}
INFO_TIMEOUT_S = 15.0   # info reads a config file; the rest is the backend starting
ADDON_DIR = Path(__file__).resolve().parent.parent


def backend(context=None):
    """The running backend, created on first use from the preferences (and again if they change)."""
    key = choice(context)
    if _STATE["backend"] is None or _STATE["key"] != key:
        close()
        _STATE["backend"] = make(context)
        _STATE["key"] = key
    return _STATE["backend"]


def choice(context=None, python: str = "") -> tuple:
    """Where the backend runs: (Backend Python, mode, remote address, token, the Python Install
    Backend made), from the preferences or the environment; ``python`` (a batch's ``--python``)
    names a local Python instead of them."""
    configured_python, mode = configured(context)
    address, token = ("", "") if python else remote(context)
    return python or configured_python, mode, address, token, installed()


def make(context=None, python: str = ""):
    """A new backend where ``choice`` says, owned by the caller (batch renders close theirs)."""
    python, mode, address, token, found = choice(context, python)
    return client.make_backend(python, ADDON_DIR, mode=mode, address=address, token=token, installed=found)


def installed():
    """The Python of the backend the preferences' Install Backend made (``install.installed``), or None."""
    from . import install

    return install.installed()


def remote(context=None) -> tuple[str, str]:
    """(Remote backend HOST:PORT, token) from the preferences, else $SIGNFORGE_BACKEND_ADDRESS;
    the token falls back to $SIGNFORGE_TOKEN. An empty address means a local backend."""
    pref = P.get(context)
    address = pref.remote_address.strip() if pref is not None else ""
    token = pref.remote_token.strip() if pref is not None else ""
    if pref is None:
        address = os.environ.get("SIGNFORGE_BACKEND_ADDRESS", "").strip()
    return address, token or os.environ.get("SIGNFORGE_TOKEN", "").strip()


def configured(context=None) -> tuple[str, str]:
    """(Backend Python, mode) from the preferences; without them (the package registered from
    a folder, batch jobs) from $SIGNFORGE_BACKEND_PYTHON and $SIGNFORGE_BACKEND_MODE."""
    pref = P.get(context)
    python = pref.backend_python if pref is not None else ""
    mode = pref.backend_mode if pref is not None else "auto"
    python = python or os.environ.get("SIGNFORGE_BACKEND_PYTHON", "")
    if pref is None:
        mode = os.environ.get("SIGNFORGE_BACKEND_MODE", mode)
    return python, mode


def workdir() -> Path:
    """This session's temp folder (made again if another Blender swept it after a day idle)."""
    if _STATE["tmp"] is None or not _STATE["tmp"].is_dir():
        _STATE["tmp"] = scratch.session_folder()
    return _STATE["tmp"]


def job_folder() -> Path:
    """A new folder for one job's files; ``end_job`` removes it."""
    return Path(tempfile.mkdtemp(prefix="job-", dir=workdir()))


def end_job() -> None:
    """Remove every job's files: the job that ended and anything a cancelled one's backend
    wrote after it was abandoned (one job runs at a time, so none is in use)."""
    if _STATE["tmp"] is not None:
        for p in list(_STATE["tmp"].iterdir()) if _STATE["tmp"].is_dir() else ():
            scratch.remove(p)


def sweep() -> list[Path]:
    """Remove what sessions whose Blender is gone (or a day idle) left in the add-on's temp folder."""
    with contextlib.suppress(OSError):   # no usable temp folder: workdir() will say why
        return scratch.sweep(scratch.root(), "")
    return []


def run_folder(context, model: str) -> str | None:
    """The run folder for ``model`` from the preferences' Checkpoints (None: the shipped weights)."""
    import bpy

    pref = P.get(context)
    if pref is not None and pref.checkpoint_dir:
        return str(Path(bpy.path.abspath(pref.checkpoint_dir)) / model)
    return None


def limits(context=None, fetch: bool = False) -> dict | None:
    """``info``'s answer for the panel's model and run: cached per backend, model and run; with
    ``fetch`` asked of the backend (started if needed) when not cached, blocking up to
    ``INFO_TIMEOUT_S``. A failure is cached as ``{"error": why}``; None: not asked yet."""
    import bpy

    context = context or bpy.context
    model = context.scene.signforge.model
    run = run_folder(context, model)
    key = (configured(context), remote(context), model, run)
    cache = _STATE["limits"]
    if key in cache or not fetch:
        return cache.get(key)
    try:
        b = backend(context)
        b.start()
        if "info" not in b.capabilities:
            answer = {"error": f"this backend ({b.server}) does not report its limits; update it"}
        else:
            msg = b.wait(b.submit("info", {"model": model, "run": run}), timeout=INFO_TIMEOUT_S)
            answer = msg["result"] if msg["type"] == "result" else {"error": str(msg.get("message", ""))}
    except client.BackendError as exc:
        answer = {"error": str(exc)}
    _STATE["limits"][key] = answer   # not ``cache``: starting the backend may have replaced it
    return answer


def ask_limits_soon(context=None) -> None:
    """Fetch ``limits`` from a timer, outside drawing, then redraw the sidebar (once at a time)."""
    import bpy

    if _STATE["asking"]:
        return
    _STATE["asking"] = True

    def ask():
        try:
            if not bpy.context.window_manager.signforge_status.running:
                limits(bpy.context, fetch=True)
            for window in bpy.context.window_manager.windows:
                for area in window.screen.areas:
                    if area.type == "VIEW_3D":
                        area.tag_redraw()
        except Exception:   # a timer that raises is unregistered with a traceback; the panel asks again
            pass
        finally:
            _STATE["asking"] = False
        return None

    bpy.app.timers.register(ask, first_interval=0.05)


def close() -> None:
    _STATE["limits"] = {}
    if _STATE["backend"] is not None:
        try:
            _STATE["backend"].close()
        finally:
            _STATE["backend"] = None
            _STATE["key"] = None


def shutdown() -> None:
    close()
    if _STATE["tmp"] is not None:
        scratch.remove(_STATE["tmp"])
        _STATE["tmp"] = None


def describe(context=None, python: str = "") -> str:
    """Where the backend would run, in a few words; raises ``client.BackendError`` when nowhere."""
    python, mode, address, token, found = choice(context, python)
    if address:
        return f"remote backend: {client.RemoteBackend(address, token).address}"   # checks address and token
    where = client.choose_backend(python, ADDON_DIR, mode, installed=found)
    return "backend in Blender" if where is None else f"backend: {where}"
