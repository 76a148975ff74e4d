"""AMASS / SMPL-X style .npz motion files.

Written keys: ``poses`` (T, 165) in SMPL-X order (global 3 | body 63 | jaw 3 | left eye 3 |
right eye 3 | left hand 45 | right hand 45), ``trans`` (T, 3), ``betas``, ``expression``
(T, 10), ``gender``, ``mocap_frame_rate``, ``surface_model_type="smplx"``, ``features``
(T, 274), ``text`` and SignForge's ``provenance`` (JSON), and ``confidence`` (T,) and
``hand_confidence`` (T, 2: left, right) when measured.
Every value is a plain array, so readers (the SMPL-X Blender add-on's npz importer
included) open it without pickle. Reading accepts AMASS SMPL-H files (poses (T, 156)) too,
with jaw and eyes at rest. numpy only.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ..body.skeleton import FEATURE_DIM, NUM_EXPRESSION, NUM_JOINTS, POSES_DIM
from ..motion import Motion, MotionError
from blender_addon.core.limits import LimitError, check_file_size, check_npz

from ..atomic import atomic_path
from .errors import MotionFileError

SMPLH_POSES_DIM = 156  # 52 joints: body 22 | hands 30


def _get(archive, path: Path, key: str):
    try:
        return archive[key]
    except ValueError:
        raise MotionFileError(path, f"entry {key!r} is a pickled object; SignForge never loads "
                                    f"pickles (allow_pickle=False)") from None


def _scalar_str(value) -> str:
    value = np.asarray(value)
    return str(value.item() if value.size == 1 else value.reshape(-1)[0])


def read_npz(path: str | os.PathLike, fps: float | None = None) -> Motion:
    path = Path(path)
    try:
        check_file_size(path)
        archive = np.load(path, allow_pickle=False)
    except LimitError as exc:
        raise MotionFileError(path, str(exc)) from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise MotionFileError(path, f"not a readable .npz archive ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise MotionFileError(path, "holds a single array, not an .npz archive of named arrays")
    with archive:
        try:   # declared shapes first: a small archive can declare millions of frames
            check_npz(archive)
        except LimitError as exc:
            raise MotionFileError(path, str(exc)) from None
        keys = set(archive.files)
        rate = fps
        if rate is None:
            for key in ("mocap_frame_rate", "mocap_framerate", "fps"):
                if key in keys:
                    try:
                        rate = float(_get(archive, path, key))
                    except (TypeError, ValueError):
                        raise MotionFileError(path, f"entry {key!r} is not a number") from None
                    break
        if rate is None:
            raise MotionFileError(path, "missing key 'mocap_frame_rate' (or give --fps)")
        common = {}
        if "betas" in keys:
            common["betas"] = np.asarray(_get(archive, path, "betas"), np.float32).reshape(-1)
        if "gender" in keys:
            gender = _scalar_str(_get(archive, path, "gender")).lower()
            common["gender"] = gender if gender in ("male", "female") else "neutral"
        if "text" in keys:
            common["text"] = _scalar_str(_get(archive, path, "text"))
        if "provenance" in keys:
            try:
                common["provenance"] = json.loads(_scalar_str(_get(archive, path, "provenance")))
            except json.JSONDecodeError:
                raise MotionFileError(path, "entry 'provenance' is not JSON") from None
        try:
            if "poses" in keys:
                poses = np.asarray(_get(archive, path, "poses"))
                if poses.ndim != 2 or poses.shape[1] not in (POSES_DIM, SMPLH_POSES_DIM):
                    raise MotionFileError(
                        path, f"'poses' must be (T, {POSES_DIM}) for SMPL-X or (T, "
                              f"{SMPLH_POSES_DIM}) for SMPL-H; got {poses.shape}")
                if poses.shape[1] == SMPLH_POSES_DIM:  # insert jaw and eyes at rest
                    poses = np.concatenate([poses[:, :66], np.zeros((len(poses), 9)), poses[:, 66:]], 1)
                if "trans" not in keys:
                    raise MotionFileError(path, "missing key 'trans'")
                trans = np.asarray(_get(archive, path, "trans"))
                t = len(poses)
                if "expression" in keys:
                    expression = np.asarray(_get(archive, path, "expression"))
                    if expression.ndim != 2 or len(expression) != t or expression.shape[1] < NUM_EXPRESSION:
                        raise MotionFileError(path, f"'expression' must be ({t}, >= 10); got {expression.shape}")
                    expression = expression[:, :NUM_EXPRESSION]
                else:
                    expression = np.zeros((t, NUM_EXPRESSION))
                conf = np.asarray(_get(archive, path, "confidence")) if "confidence" in keys else None
                hands = np.asarray(_get(archive, path, "hand_confidence")) if "hand_confidence" in keys else None
                return Motion(poses.reshape(t, NUM_JOINTS, 3), trans, expression, rate,
                              confidence=conf, hand_confidence=hands, **common)
            if "features" in keys:
                return Motion.from_features(np.asarray(_get(archive, path, "features")), rate, **common)
        except MotionFileError:
            raise
        except MotionError as exc:
            raise MotionFileError(path, str(exc)) from None
    raise MotionFileError(path, "missing key 'poses' (and no 'features' to fall back on)")


def write_npz(motion: Motion, path: str | os.PathLike) -> None:
    t = motion.num_frames
    arrays = {
        "poses": motion.poses.reshape(t, POSES_DIM).astype(np.float32),
        "trans": motion.trans.astype(np.float32),
        "betas": motion.betas.astype(np.float32),
        "expression": motion.expression.astype(np.float32),
        "gender": np.array(motion.gender),
        "mocap_frame_rate": np.array(motion.fps, dtype=np.float64),
        "surface_model_type": np.array("smplx"),
        "features": motion.to_features(),
        "text": np.array(motion.text),
        "provenance": np.array(motion.provenance_json()),
    }
    assert arrays["features"].shape == (t, FEATURE_DIM)
    if motion.confidence is not None:
        arrays["confidence"] = motion.confidence.astype(np.float32)
    if motion.hand_confidence is not None:
        arrays["hand_confidence"] = motion.hand_confidence.astype(np.float32)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
