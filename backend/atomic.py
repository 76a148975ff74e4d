"""Write a file, or a batch of files, completely or not at all.

Every temporary file or folder SignForge writes follows one naming rule,
``.signforge-tmp-<pid>-<random>-<final name>``, beside its target: a file is renamed onto
its target on success; a batch is written into a temporary sibling folder and moved into
place only when every file of it is there. A crash or a kill can leave such a temporary
behind; ``sweep(folder)`` removes those whose process is gone, and the writers here call
it on their folder before they start.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from blender_addon.core import scratch

TMP_PREFIX = ".signforge-tmp-"


def sweep(folder: str | os.PathLike) -> list[Path]:
    """Remove temporaries in ``folder`` left by SignForge processes that no longer run (where a
    process cannot be asked, Windows, those a day old); the rule is ``scratch.stale``'s."""
    return scratch.sweep(folder, TMP_PREFIX, max_age_s=None)


def check_writable(target: str | os.PathLike) -> None:
    """Raise OSError (with the path) unless ``target`` could be written: the nearest folder of
    it that exists must be a folder and take a new file, tried by making and removing a
    temporary there (root passes every permission test, so asking os.access is not enough).
    Nothing is left behind; folders still to be made are not made."""
    target = Path(target).absolute()
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(target))
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is a file, not a folder", str(folder))
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix="-check", dir=folder)
    os.close(fd)
    os.unlink(tmp)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; it replaces ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep(target.parent)
    end = target.name if not suffix or target.name.endswith(suffix) else target.name + suffix
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=f"-{end}", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; a finished file gets the usual mode
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_batch(folder: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success its files move into ``folder``.

    A new ``folder`` is the temporary renamed into place (one atomic step); into an existing
    one the files move one rename each, after all of them were written. On an exception
    nothing reaches ``folder`` and the temporary is removed.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    sweep(folder.parent)
    if folder.is_dir():
        sweep(folder)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=f"-{folder.name}",
                                dir=folder.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())   # mkdtemp makes 0700
        if not folder.exists():
            os.replace(tmp, folder)
        else:
            for p in sorted(tmp.iterdir()):
                os.replace(p, folder / p.name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
