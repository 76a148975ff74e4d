"""Pick a reader or writer by file suffix; the one entry point for motion files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from ..motion import Motion
from .errors import MotionFileError
from .handmdm import read_handmdm, write_handmdm
from .npz import read_npz, write_npz

READ_SUFFIXES = (".npz", ".npy", ".bvh")
WRITE_SUFFIXES = (".npz", ".npy", ".bvh")


def _readable(path: Path) -> None:
    if not path.exists():
        raise MotionFileError(path, "no such file")
    if path.is_dir():
        raise MotionFileError(path, "is a folder, not a motion file")
    if path.stat().st_size == 0:
        raise MotionFileError(path, "is empty")


def load_motion(path: str | os.PathLike, fps: float | None = None) -> Motion:
    """Read a motion; ``fps`` overrides (or supplies) the file's frame rate."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READ_SUFFIXES:
        raise MotionFileError(path, f"unknown extension {suffix or '(none)'!r}; "
                                    f"readable: {', '.join(READ_SUFFIXES)}")
    _readable(path)
    from .bvh import read_bvh

    readers: dict[str, Callable[..., Motion]] = {".npz": read_npz, ".npy": read_handmdm, ".bvh": read_bvh}
    return readers[suffix](path, fps=fps)


def check_save_path(path: str | os.PathLike) -> Path:
    """What ``save_motion`` would refuse about ``path`` itself (MotionFileError: the extension,
    a folder in its place, a file as its folder), said before any work is done."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise MotionFileError(path, f"unknown extension {suffix or '(none)'!r}; "
                                    f"writable: {', '.join(WRITE_SUFFIXES)}")
    if path.is_dir():
        raise MotionFileError(path, "is a folder; name the file to write")
    if path.parent.exists() and not path.parent.is_dir():
        raise MotionFileError(path, f"{path.parent} is a file, not a folder")
    return path


def save_motion(motion: Motion, path: str | os.PathLike, body=None) -> Path:
    """Write ``motion`` by suffix. BVH needs a rest skeleton: ``body`` or the default body."""
    path = check_save_path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        write_npz(motion, path)
    elif suffix == ".npy":
        write_handmdm(motion, path)
    else:
        from ..body.model import Body
        from .bvh import write_bvh

        body = body or Body.load()
        write_bvh(motion, path, body.rest_joints(motion.betas))
    return path
