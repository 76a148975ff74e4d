"""Temporary files: the add-on's own temp folder, and the one rule for what a dead process left.
Standard library only; never bpy or torch (``backend/atomic.py`` uses the same rule).

Every SignForge temporary is named after the process that made it (``<pid>-<random>``, or
``.signforge-tmp-<pid>-...`` for atomic writes). ``stale`` says when one may go: its process is
gone, or it was last changed more than ``max_age_s`` ago (a day where a process cannot be
asked, Windows, and for the add-on's folders, so a recycled pid keeps nothing forever).

The add-on's jobs write in ``root()``, a private per-user folder under the system's temp
folder: each Blender session in a ``<pid>-<random>`` folder of it (``session_folder``), each
job in a folder of that, removed when the job ends. ``sweep(root(), "")`` at the next start
removes what a crash left.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

STALE_S = 24 * 3600   # a day


def process_alive(pid: int) -> bool | None:
    """Whether process ``pid`` runs; None where that cannot be asked."""
    if pid == os.getpid():
        return True
    if os.name == "nt":   # os.kill(pid, 0) would send CTRL_C_EVENT there
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:   # another user's process
        return True
    return True


def stale(pid: int | None, path: Path, max_age_s: float | None = STALE_S) -> bool:
    """Whether the temporary ``path``, named for process ``pid`` (None: no owner named), may be
    removed: its process is gone, or it is older than ``max_age_s`` (None: never by age, unless
    the process cannot be asked)."""
    alive = None if pid is None else process_alive(pid)
    if alive is False:
        return True
    if alive is None or max_age_s is not None:
        try:
            age = time.time() - path.lstat().st_mtime
        except OSError:
            return False   # already gone
        return age > (STALE_S if max_age_s is None else max_age_s)
    return False


def owner(name: str, prefix: str = "") -> int | None:
    """The pid a temporary's name starts with after ``prefix`` (None: not such a name)."""
    if not name.startswith(prefix):
        return None
    head = name[len(prefix):].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def remove(path: Path) -> bool:
    """Remove a file or folder (a link itself, never what it points to); False if it could not."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def sweep(folder: str | os.PathLike, prefix: str, max_age_s: float | None = STALE_S) -> list[Path]:
    """Remove the entries of ``folder`` named ``<prefix><pid>-...`` that are ``stale``; with an
    empty ``prefix`` (a folder that is SignForge's alone) any entry, one not named for a
    process only by age."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        if not p.name.startswith(prefix):
            continue
        pid = owner(p.name, prefix)
        if pid is None and prefix:
            continue
        if stale(pid, p, max_age_s) and remove(p):
            removed.append(p)
    return removed


def root(name: str = "signforge") -> Path:
    """The add-on's own temp folder, ``<temp>/<name>-<uid>`` (the TCP server's workspaces use
    ``signforge-server``): made private (0700) and refused when it is not this user's private
    folder (another user on a shared /tmp made it first)."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    base = Path(tempfile.gettempdir()) / f"{name}-{uid if uid is not None else 'addon'}"
    with contextlib.suppress(FileExistsError):
        os.mkdir(base, 0o700)
    st = os.lstat(base)
    if not stat.S_ISDIR(st.st_mode) or (uid is not None and (st.st_uid != uid or st.st_mode & 0o077)):
        raise OSError(f"{base} is not a private folder of this user: remove it (or set TMPDIR elsewhere)")
    return base


def session_folder() -> Path:
    """A new folder for this process's temporaries in ``root()``."""
    return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root()))
