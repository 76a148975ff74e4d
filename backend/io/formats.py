"""Pick a reader or writer by file suffix; the one entry point for motion files."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from blender_addon.core.motion import UP_AXES

from ..motion import Motion
from .errors import MotionFileError
from .handmdm import read_handmdm, write_handmdm
from .npz import read_npz, write_npz

READ_SUFFIXES = (".npz", ".npy", ".bvh")
WRITE_SUFFIXES = (".npz", ".npy", ".bvh", ".pose")
SKELETONS = ("smplx", "mixamo")   # backend.io.bvh's, named here so that checking options imports no torch
UNIT_SCALE = {"m": 1.0, "cm": 100.0}   # .bvh lengths per metre


@dataclass(frozen=True)
class ExportOptions:
    """How ``save_motion`` writes; the defaults are what other tools expect of each format."""
    up: str = "z"            # .npz world: "z" is AMASS's (aitviewer, the SMPL-X add-on); "y" SMPL-X's own
    skeleton: str = "smplx"  # .bvh joint names: "smplx" or "mixamo" (mixamorig:Hips...)
    units: str = "m"         # .bvh lengths: "m" or "cm"

    def __post_init__(self) -> None:
        for name, value, allowed in (("up", self.up, UP_AXES), ("skeleton", self.skeleton, SKELETONS),
                                     ("units", self.units, tuple(UNIT_SCALE))):
            if value not in allowed:
                raise ValueError(f"{name} {value!r}: expected one of {', '.join(allowed)}")


def _readable(path: Path) -> None:
    if not path.exists():
        raise MotionFileError(path, "no such file")
    if path.is_dir():
        raise MotionFileError(path, "is a folder, not a motion file")
    if path.stat().st_size == 0:
        raise MotionFileError(path, "is empty")


def load_motion(path: str | os.PathLike, fps: float | None = None, up: str | None = None) -> Motion:
    """Read a motion; ``fps`` overrides (or supplies) the file's frame rate, ``up`` ("z" or
    "y") the world an .npz file is in (default: as the file records, see ``backend.io.npz``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READ_SUFFIXES:
        raise MotionFileError(path, f"unknown extension {suffix or '(none)'!r}; "
                                    f"readable: {', '.join(READ_SUFFIXES)}")
    _readable(path)
    from .bvh import read_bvh

    if suffix == ".npz":
        return read_npz(path, fps=fps, up=up)
    readers: dict[str, Callable[..., Motion]] = {".npy": read_handmdm, ".bvh": read_bvh}
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


def save_motion(motion: Motion, path: str | os.PathLike, body=None, options: ExportOptions | None = None) -> Path:
    """Write ``motion`` by suffix, as ``options`` say. BVH and .pose need the body (``body``
    or the default one); a Z-up .npz is turned about its rest pelvis (the default body's
    unless ``body`` is given)."""
    path = check_save_path(path)
    options = options or ExportOptions()
    suffix = path.suffix.lower()
    if suffix == ".npz":
        write_npz(motion, path, up=options.up,
                  pelvis=None if body is None else body.rest_joints(motion.betas)[0])
    elif suffix == ".npy":
        write_handmdm(motion, path)
    else:
        from ..body.model import Body

        body = body or Body.load()
        if suffix == ".pose":
            from .holistic import write_holistic

            write_holistic(motion, path, body)
        else:
            from .bvh import write_bvh

            write_bvh(motion, path, body.rest_joints(motion.betas), skeleton=options.skeleton,
                      units=options.units)
    return path
