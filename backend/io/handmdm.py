"""HandMDM feature files: a plain (T, 274) array in .npy, 25 fps (BOBSL's rate).

Conventions checked against HandMDM's own decoder (``prepare/motion_feats_to_smpl.py`` in
leorebensabath/HandMDM):
- layout: body_pose[0:78] (13 joints), left_hand_pose[78:168], right_hand_pose[168:258],
  jaw_pose[258:264], expression[264:274]; a 284-wide variant puts 10 betas at 264:274 and
  the expression at 274:284. Both are read here; SignForge writes the 274 layout.
- the 13 body joints are SMPL-X body_pose without the lower joints at body_pose indices
  0, 1, 3, 4, 6, 7, 9, 10 (hips, knees, ankles, feet), which the decoder re-inserts as 0.
- rotation sign: the decoder applies pytorch3d's row-based 6D->matrix, then NEGATES the
  axis-angle. A negated axis-angle is the transposed matrix, so the stored 6 numbers are
  the first two COLUMNS of each joint's SMPL-X rotation matrix: exactly SignForge's 6D
  (backend.body.rotations), and no sign flip is needed on either side.
- global orientation and translation are not in the file; the decoder sets them to
  fixed camera-frame values (``HANDMDM_GLOBAL_ORIENT``, ``HANDMDM_TRANSL`` below, for a
  camera looking at the signer). SignForge reads them as its own rest (zero orientation:
  upright, facing +Z; zero translation) and writes neither.
numpy only.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from blender_addon.core.limits import LimitError, check_array, check_file_size

from ..atomic import atomic_path
from ..body.skeleton import FEATURE_DIM
from ..motion import Motion, MotionError

from .errors import MotionFileError

DEFAULT_FPS = 25.0
HANDMDM_GLOBAL_ORIENT = (2.9, -0.005, -0.1)
HANDMDM_TRANSL = (-0.018, 0.7, 30.0)
WIDE_DIM = 284  # variant with betas


def read_handmdm(path: str | os.PathLike, fps: float | None = None) -> Motion:
    path = Path(path)
    try:   # the header first (memory-mapped, nothing read), then the data
        check_file_size(path)
        feats = np.load(path, allow_pickle=False, mmap_mode="r")
        if isinstance(feats, np.ndarray):
            check_array(feats.shape, feats.dtype, "features")
            feats = np.array(feats)
    except LimitError as exc:
        raise MotionFileError(path, str(exc)) from None
    except ValueError as exc:
        msg = str(exc)
        if "pickle" in msg:
            msg = "holds a pickled object; SignForge never loads pickles (allow_pickle=False)"
        raise MotionFileError(path, msg) from None
    except (OSError, EOFError) as exc:
        raise MotionFileError(path, f"not a readable .npy file ({exc})") from None
    if not isinstance(feats, np.ndarray):
        raise MotionFileError(path, "is an .npz archive; HandMDM files are a single .npy array")
    if feats.ndim != 2 or feats.shape[1] not in (FEATURE_DIM, WIDE_DIM):
        raise MotionFileError(path, f"HandMDM features must be (T, {FEATURE_DIM}) or (T, {WIDE_DIM});"
                                    f" got {feats.shape}")
    if not np.issubdtype(feats.dtype, np.floating):
        raise MotionFileError(path, f"features must be floating point; got {feats.dtype}")
    betas = None
    if feats.shape[1] == WIDE_DIM:
        betas = feats[0, 264:274]
        feats = np.concatenate([feats[:, :264], feats[:, 274:284]], 1)
    try:
        kwargs = {"betas": betas} if betas is not None else {}
        return Motion.from_features(feats, fps or DEFAULT_FPS,
                                    provenance={"source": "handmdm-npy", "file": path.name},
                                    **kwargs)
    except MotionError as exc:
        raise MotionFileError(path, str(exc)) from None


def write_handmdm(motion: Motion, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, motion.to_features().astype(np.float32), allow_pickle=False)
