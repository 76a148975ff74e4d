"""Documented limits on what SignForge reads, checked before anything is allocated.

A small file must not take the machine: an ``.npz`` member declares its shape in a few
header bytes, so a 6 MB archive can ask for 10 million frames. Every reader (the
backend's ``load_motion``, the add-on's import) checks sizes and declared shapes here
first. The limits are generous for real work (``MAX_FRAMES`` is over an hour at 25 fps)
and are listed in the README's "Limits" section. Standard library and numpy only, so the
add-on's bpy-free core and the backend share one copy.
"""
from __future__ import annotations

import os
import zipfile

import numpy as np
from .errors import SignForgeError

MAX_FRAMES = 100_000                 # frames in one motion: 66 min at 25 fps, 28 min at 60 fps
MAX_MOTION_FILE_BYTES = 512 << 20    # a motion file (.npz, .npy, .bvh) on disk
MAX_ARRAY_BYTES = 512 << 20          # one decoded array of a motion file
MAX_VARIANTS = 64                    # variants of one prompt in one request
MAX_PREVIEW_FRAMES = 64              # frames drawn per row of a preview sheet
MAX_PREVIEW_ROWS = 64                # motions drawn on one preview sheet
MAX_WORD_SETS = 16                   # word-level sets one data build writes
MAX_WORD_SET_SIZE = 2000             # words in one set (WLASL's largest is 2000)
MAX_BUILD_SAMPLES = 10_000_000       # main samples of one data build
MAX_RENDER_SIDE = 8192               # pixels on either side of a batch render
MAX_MODEL_WIDTH = 4096               # a run config's hidden width
MAX_MODEL_LAYERS = 64                # a run config's depth
MAX_MODEL_FRAMES = 15_000            # a run config's longest sequence (10 min at 25 fps)


class LimitError(SignForgeError, ValueError):
    """An input over a documented limit; the message names the limit."""


def check_file_size(path: str | os.PathLike, limit: int = MAX_MOTION_FILE_BYTES) -> None:
    size = os.path.getsize(path)
    if size > limit:
        raise LimitError(f"{size / 2**20:.0f} MB is over the {limit / 2**20:.0f} MB limit for a motion file")


def check_frames(frames: int, what: str = "the motion") -> None:
    if frames > MAX_FRAMES:
        raise LimitError(f"{what} has {frames} frames; the limit is {MAX_FRAMES}")


def _header(fh) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(fh)
    reader = {(1, 0): np.lib.format.read_array_header_1_0,
              (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if reader is None:
        raise ValueError(f"unsupported .npy format version {version}")
    shape, _, dtype = reader(fh)
    return tuple(int(s) for s in shape), dtype


def check_array(shape: tuple[int, ...], dtype: np.dtype, key: str, frames_first: bool = True) -> None:
    """One array's declared shape against the frame and size limits."""
    if frames_first and len(shape) >= 1:
        check_frames(shape[0], f"entry {key!r}")
    nbytes = int(np.prod(shape, dtype=np.float64)) * max(int(dtype.itemsize), 1)
    if nbytes > MAX_ARRAY_BYTES:
        raise LimitError(f"entry {key!r} declares {shape} ({nbytes / 2**20:.0f} MB); the limit is "
                         f"{MAX_ARRAY_BYTES / 2**20:.0f} MB per array")


def check_npz(archive: np.lib.npyio.NpzFile, keys=None) -> None:
    """Every (or each named) member's header against the limits, without decoding any data."""
    names = set(archive.zip.namelist())
    for key in archive.files if keys is None else keys:
        member = key if key in names else f"{key}.npy"
        if member not in names:
            continue
        try:
            with archive.zip.open(member) as fh:
                shape, dtype = _header(fh)
        except (ValueError, zipfile.BadZipFile, OSError, EOFError) as exc:
            raise LimitError(f"entry {key!r} has an unreadable header ({exc})") from None
        check_array(shape, dtype, key)
