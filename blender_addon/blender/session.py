"""The add-on's one backend connection, started lazily and kept warm. Imports bpy.

Results travel as files in a private temporary folder; the scene reads them with numpy
and they are deleted when the add-on unregisters.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..core import client
from . import prefs as P

_STATE: dict = {"backend": None, "key": None, "tmp": None}
ADDON_DIR = Path(__file__).resolve().parent.parent


def backend(context=None):
    """The running backend, created on first use from the preferences (and again if they change)."""
    python, mode = configured(context)
    address, token = remote(context)
    key = (python, mode, address, token)
    if _STATE["backend"] is None or _STATE["key"] != key:
        close()
        _STATE["backend"] = client.make_backend(python, ADDON_DIR, mode=mode, address=address, token=token)
        _STATE["key"] = key
    return _STATE["backend"]


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
    if _STATE["tmp"] is None:
        _STATE["tmp"] = tempfile.mkdtemp(prefix="signforge-")
    return Path(_STATE["tmp"])


def close() -> None:
    if _STATE["backend"] is not None:
        try:
            _STATE["backend"].close()
        finally:
            _STATE["backend"] = None
            _STATE["key"] = None


def shutdown() -> None:
    close()
    if _STATE["tmp"] is not None:
        shutil.rmtree(_STATE["tmp"], ignore_errors=True)
        _STATE["tmp"] = None


def describe(context=None) -> str:
    """Where the backend would run, in a few words; raises ``client.BackendError`` when nowhere."""
    address, token = remote(context)
    if address:
        return f"remote backend: {client.RemoteBackend(address, token).address}"   # checks address and token
    python, mode = configured(context)
    found = client.choose_backend(python, ADDON_DIR, mode)
    return "backend in Blender" if found is None else f"backend: {found}"
