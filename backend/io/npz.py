"""AMASS / SMPL-X style .npz motion files.

Written keys: ``poses`` (T, 165) in SMPL-X order (global 3 | body 63 | jaw 3 | left eye 3 |
right eye 3 | left hand 45 | right hand 45), ``trans`` (T, 3), ``betas``, ``expression``
(T, 10), ``gender``, ``mocap_frame_rate`` and ``mocap_framerate`` (the name AMASS's SMPL-H
files and aitviewer use), ``surface_model_type="smplx"``, ``features`` (T, 274), ``text``
and SignForge's ``provenance`` (JSON), ``confidence`` (T,) and ``hand_confidence`` (T, 2:
left, right) when measured, and the convention: ``up_axis``, and for Z-up ``rest_pelvis``.

Files are written in AMASS's Z-up world by default (``up="y"`` keeps SMPL-X's own Y-up
axes, which ``Motion`` always holds); ``rest_pelvis`` is the body's rest pelvis joint the
turn was made with (``blender_addon.core.motion.turn_up``), so reading a SignForge file
undoes it exactly whatever body is loaded. A file without ``up_axis`` is Y-up if SignForge
wrote it (before this key existed) and Z-up otherwise (AMASS, the SMPL-X add-on): then the
pelvis comes from the body in use. Every value is a plain array, so readers (the SMPL-X
Blender add-on's npz importer included) open it without pickle. Reading accepts AMASS
SMPL-H files (poses (T, 156)) too, with jaw and eyes at rest. numpy only.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..body.skeleton import FEATURE_DIM, NUM_EXPRESSION, NUM_JOINTS, POSES_DIM
from ..motion import Motion, MotionError
from blender_addon.core.limits import LimitError, check_file_size, check_npz
from blender_addon.core.motion import REST_PELVIS, UP_AXES, UP_AXIS, file_up, turn_up

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


def read_npz(path: str | os.PathLike, fps: float | None = None, up: str | None = None,
             smplx: str | os.PathLike | None = None) -> Motion:
    """A motion in SMPL-X's Y-up axes from an AMASS/SMPL-X .npz. ``up`` ("z" or "y") says
    which world the file is in when it knows better than the file (default: ``file_up``);
    ``smplx`` is the body whose rest pelvis turns a Z-up file that does not record one."""
    path = Path(path)
    if up is not None and up not in UP_AXES:
        raise MotionFileError(path, f"up axis {up!r}; expected one of {', '.join(UP_AXES)}")
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
        common: dict[str, Any] = {}   # Motion's keywords: betas (an array), gender and text (strings)
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
                poses = poses.reshape(t, NUM_JOINTS, 3)
                usable = trans.shape == (t, 3) and np.isfinite(poses).all() and np.isfinite(trans).all()
                if _up(archive, path, keys, up) == "z" and usable:   # Motion says what is wrong with the rest
                    poses, trans = turn_up(poses, trans, _pelvis(archive, path, keys, common, smplx), to="y")
                return Motion(poses, trans, expression, rate, confidence=conf, hand_confidence=hands, **common)
            if "features" in keys:
                return Motion.from_features(np.asarray(_get(archive, path, "features")), rate, **common)
        except MotionFileError:
            raise
        except MotionError as exc:
            raise MotionFileError(path, str(exc)) from None
    raise MotionFileError(path, "missing key 'poses' (and no 'features' to fall back on)")


def _up(archive, path: Path, keys: set, up: str | None) -> str:
    if up is not None:
        return up
    try:
        return file_up(keys, _get(archive, path, UP_AXIS) if UP_AXIS in keys else None)
    except ValueError as exc:
        raise MotionFileError(path, str(exc)) from None


def _pelvis(archive, path: Path, keys: set, common: dict, smplx) -> np.ndarray:
    """The rest pelvis a Z-up file was turned with: its own record, else the body's."""
    if REST_PELVIS in keys:
        pelvis = np.asarray(_get(archive, path, REST_PELVIS), np.float64).reshape(-1)
        if pelvis.shape != (3,) or not np.isfinite(pelvis).all():
            raise MotionFileError(path, f"entry {REST_PELVIS!r} must be 3 finite numbers (metres)")
        return pelvis
    from ..body.model import BodyModelError, rest_pelvis

    try:
        return rest_pelvis(common.get("betas"), smplx)
    except BodyModelError as exc:
        raise MotionFileError(path, f"a Z-up file needs the body's rest pelvis to be read: {exc}") from None


def write_npz(motion: Motion, path: str | os.PathLike, up: str = "z", pelvis=None) -> None:
    """Write ``motion`` in the ``up`` ("z": AMASS's, or "y") world. ``pelvis``: the rest
    pelvis joint of the body the motion is meant for (default: the default body's for its
    betas), which a Z-up turn is made with and recorded as."""
    if up not in UP_AXES:
        raise MotionFileError(path, f"up axis {up!r}; expected one of {', '.join(UP_AXES)}")
    t = motion.num_frames
    poses, trans = motion.poses, motion.trans
    extra = {UP_AXIS: np.array(up)}
    if up == "z":
        if pelvis is None:
            from ..body.model import rest_pelvis

            pelvis = rest_pelvis(motion.betas)
        pelvis = np.asarray(pelvis, np.float64).reshape(3)
        poses, trans = turn_up(poses, trans, pelvis, to="z")
        extra[REST_PELVIS] = pelvis
    arrays: dict[str, np.ndarray] = {   # float64 as in AMASS: the turned root then reads back to the float32 it was
        "poses": poses.reshape(t, POSES_DIM).astype(np.float64),
        "trans": trans.astype(np.float64),
        "betas": motion.betas.astype(np.float32),
        "expression": motion.expression.astype(np.float32),
        "gender": np.array(motion.gender),
        "mocap_frame_rate": np.array(motion.fps, dtype=np.float64),
        "mocap_framerate": np.array(motion.fps, dtype=np.float64),
        "surface_model_type": np.array("smplx"),
        "features": motion.to_features(),
        "text": np.array(motion.text),
        "provenance": np.array(motion.provenance_json()),
        **extra,
    }
    assert arrays["features"].shape == (t, FEATURE_DIM)
    if motion.confidence is not None:
        arrays["confidence"] = motion.confidence.astype(np.float32)
    if motion.hand_confidence is not None:
        arrays["hand_confidence"] = motion.hand_confidence.astype(np.float32)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
