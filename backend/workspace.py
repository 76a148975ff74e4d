"""A TCP connection's private folder on the server and the file methods that reach it. Standard library only.

``blender_addon/core/transfer.py`` defines the methods (``workspace``, ``upload``,
``download``, ``remove``). Each connection that presents the token gets a ``Workspace``: a
new private folder under ``<temp>/signforge-server-<uid>/``, named for this process, removed
with everything in it when the connection ends (and, after a crash, at the next start).
Paths given to the methods are relative to it; absolute ones, ``..``, names starting with "."
and links on the way are refused, so nothing outside it is read or written through them.

``Connection`` is the handler one connection's dispatcher runs: the file methods here, at
once (they never wait for the model), everything else on the shared handler.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import os
import shutil
import stat
import tempfile
import threading
from pathlib import Path, PurePosixPath, PureWindowsPath

from blender_addon.core import protocol as P
from blender_addon.core import scratch
from blender_addon.core import transfer as T
from blender_addon.core.errors import SignForgeError

MAX_FILE_BYTES = 16 << 30        # one uploaded file
MAX_WORKSPACE_BYTES = 64 << 30   # everything one connection uploads


class WorkspaceError(SignForgeError, ValueError):
    """A file request that cannot be met: ``code`` and one line for the user."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def root() -> Path:
    """``<temp>/signforge-server-<uid>``: private to this user (see ``scratch.root``)."""
    return scratch.root("signforge-server")


def sweep() -> list[Path]:
    """Remove the workspaces of servers that no longer run (a crash, a kill)."""
    with contextlib.suppress(OSError):
        return scratch.sweep(root(), "", max_age_s=None)   # a live server's, however idle, stays
    return []


class Workspace:
    """One connection's folder and the uploads still arriving in it."""

    _open: set["Workspace"] = set()   # every workspace of this process, removed on Ctrl-C too
    _open_lock = threading.Lock()

    def __init__(self, base: Path | None = None):
        base = root() if base is None else Path(base)
        self.path = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=base)).resolve()
        self._partial_dir = self.path / ".partial"   # names from clients never start with "."
        self._partial: dict[str, tuple[Path, int]] = {}   # relative path -> (temporary file, bytes so far)
        self._uploaded = 0
        with Workspace._open_lock:
            Workspace._open.add(self)

    def close(self) -> None:
        """Remove the folder and everything in it."""
        shutil.rmtree(self.path, ignore_errors=True)
        with Workspace._open_lock:
            Workspace._open.discard(self)

    @classmethod
    def close_all(cls) -> None:
        with cls._open_lock:
            spaces = list(cls._open)
        for ws in spaces:
            ws.close()

    # ------------------------------------------------------------------ paths
    def resolve(self, method: str, rel: str) -> tuple[str, Path]:
        """(the normalized relative path, the absolute path) for ``rel``, or ``WorkspaceError``."""
        where = f"{method}: path {rel!r}"
        if rel.startswith(("/", "\\")) or PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).drive:
            raise WorkspaceError(P.INVALID_PARAMS, f"{where} is absolute; give a path inside this connection's "
                                                   f"workspace, such as 'job/video.mp4'")
        if "\\" in rel:
            raise WorkspaceError(P.INVALID_PARAMS, f"{where}: separate names with '/', not '\\'")
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise WorkspaceError(P.INVALID_PARAMS, f"{where} goes outside this connection's workspace ('..' is "
                                                   f"not allowed)")
        if not parts:
            raise WorkspaceError(P.INVALID_PARAMS, f"{where} names no file")
        for part in parts:
            if part.startswith(".") or not part.isprintable() or ":" in part:
                raise WorkspaceError(P.INVALID_PARAMS, f"{where}: the name {part!r} is not allowed (no leading "
                                                       f"'.', ':' or control characters)")
        target = self.path
        for part in parts:
            target = target / part
            if target.is_symlink():
                raise WorkspaceError(P.INVALID_PARAMS, f"{where}: {'/'.join(parts[:parts.index(part) + 1])} is a "
                                                       f"link; the workspace follows no links")
        if not target.resolve().is_relative_to(self.path):   # defence in depth: a renamed parent
            raise WorkspaceError(P.INVALID_PARAMS, f"{where} goes outside this connection's workspace")
        return "/".join(parts), target

    # ------------------------------------------------------------------ methods
    def call(self, method: str, params: dict) -> dict:
        try:
            return getattr(self, f"_{method}")(params)
        except OSError as exc:
            raise WorkspaceError(P.FAILED, f"{method}: {exc.strerror or exc}") from None

    def _workspace(self, params: dict) -> dict:
        return {"path": str(self.path), "sep": os.sep}

    def _upload(self, params: dict) -> dict:
        rel, target = self.resolve("upload", params["path"])
        try:
            data = base64.b64decode(params["data"], validate=True)
        except (binascii.Error, ValueError):
            raise WorkspaceError(P.INVALID_PARAMS, "upload: 'data' is not base64") from None
        if len(data) > T.CHUNK_BYTES:
            raise WorkspaceError(P.INVALID_PARAMS, f"upload: a chunk holds at most {T.CHUNK_BYTES} bytes; "
                                                   f"got {len(data)}")
        offset = params["offset"]
        if offset == 0:
            self._drop(rel)
            self._partial_dir.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._partial_dir)
            os.close(fd)
            self._partial[rel] = (Path(tmp), 0)
        tmp, size = self._partial.get(rel, (None, 0))
        if tmp is None or offset != size:
            raise WorkspaceError(P.INVALID_PARAMS, f"upload: {rel}: a chunk at byte {offset}, but {size} bytes "
                                                   f"have arrived; send it again from offset 0")
        if size + len(data) > MAX_FILE_BYTES or self._uploaded + len(data) > MAX_WORKSPACE_BYTES:
            self._drop(rel)
            raise WorkspaceError(P.INVALID_PARAMS, f"upload: {rel}: over this server's limit of "
                                                   f"{MAX_FILE_BYTES >> 30} GiB a file, {MAX_WORKSPACE_BYTES >> 30} GiB "
                                                   f"a connection")
        with open(tmp, "r+b") as fh:
            fh.seek(offset)
            fh.write(data)
        self._uploaded += len(data)
        size += len(data)
        self._partial[rel] = (tmp, size)
        if params["last"]:
            if target.is_dir():
                self._drop(rel)
                raise WorkspaceError(P.INVALID_PARAMS, f"upload: {rel} is a folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            self.resolve("upload", rel)   # no link was made on the way meanwhile
            os.replace(tmp, target)
            del self._partial[rel]
        return {"path": str(target), "size": size, "done": bool(params["last"])}

    def _drop(self, rel: str) -> None:
        tmp, _ = self._partial.pop(rel, (None, 0))
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _download(self, params: dict) -> dict:
        rel, target = self.resolve("download", params["path"])
        try:
            st = target.lstat()
        except FileNotFoundError:
            raise WorkspaceError(P.INVALID_PARAMS, f"download: {rel}: no such file in the workspace") from None
        if not stat.S_ISREG(st.st_mode):
            raise WorkspaceError(P.INVALID_PARAMS, f"download: {rel} is not a file")
        offset = params["offset"]
        if offset > st.st_size:
            raise WorkspaceError(P.INVALID_PARAMS, f"download: {rel}: offset {offset} is past its end "
                                                   f"({st.st_size} bytes)")
        with open(target, "rb") as fh:
            fh.seek(offset)
            data = fh.read(params["length"])
        return {"data": base64.b64encode(data).decode("ascii"), "offset": offset, "size": st.st_size,
                "end": offset + len(data) >= st.st_size}

    def _remove(self, params: dict) -> dict:
        rel, target = self.resolve("remove", params["path"])
        for name in [k for k in self._partial if k == rel or k.startswith(rel + "/")]:
            self._drop(name)
        existed = target.exists() or target.is_symlink()
        if existed and not scratch.remove(target):
            raise WorkspaceError(P.FAILED, f"remove: {rel} could not be removed")
        return {"removed": existed}


class Connection:
    """The handler of one TCP connection: the file methods in its workspace (made on the
    first of them, so a connection that sends no files leaves no folder), the rest shared."""

    def __init__(self, shared, request_error: type, base: Path | None = None):
        self._shared = shared
        self._base = base
        self.workspace: Workspace | None = None
        self._request_error = request_error   # server.RequestError: what a Dispatcher answers with

    def close(self) -> None:
        """Remove the workspace; call once the dispatcher has ended (no job writes there then)."""
        if self.workspace is not None:
            self.workspace.close()

    def capabilities(self) -> list[str]:
        return self._shared.capabilities() + list(T.METHODS)

    def check(self, method: str, params: dict | None) -> dict:
        if method not in T.METHODS:
            return self._shared.check(method, params)
        try:
            return T.check_params(method, params)
        except P.ProtocolError as exc:
            raise self._request_error(exc.code, exc.message) from None

    def call(self, method: str, params: dict | None, report) -> dict:
        if method not in T.METHODS:
            return self._shared.call(method, params, report)
        try:
            if self.workspace is None:
                try:
                    self.workspace = Workspace(self._base)
                except OSError as exc:
                    raise WorkspaceError(P.FAILED, f"{method}: this server cannot make a folder for this "
                                                   f"connection's files ({exc})") from None
            return self.workspace.call(method, self.check(method, params))
        except WorkspaceError as exc:
            raise self._request_error(exc.code, exc.message) from None
