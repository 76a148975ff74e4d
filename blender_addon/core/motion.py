"""Motion maths for the Blender shell: SignForge .npz <-> per-bone keyframe arrays. numpy; never bpy.

The armature that ``blender/body.py`` builds has its bones along the limbs (``core/rig.py``);
armature space is SMPL-X's space (+Y up, facing +Z; the armature object turns it to
Blender's Z-up). SMPL-X's joint frames are all the world's axes at rest, so its local
rotation ``R_j`` turns a joint in axes that do not depend on the bone, while Blender's pose
rotation ``P_j`` is in the bone's rest frame ``B_j`` (its ``matrix_local``): bone j's pose in
armature space is ``(B_p P_p B_p^-1) ... B_j P_j`` down the chain, which equals SMPL-X's
``G_j B_j`` (``G_j = G_p R_j``) exactly when ``P_j = B_j^-1 R_j B_j`` (``to_bone``). The root's
location key is in its rest frame too: ``B_root^-1 t``. Keying is that change of frame, and
export its inverse (``from_bone``); rests of the identity (an armature built by SignForge
before its bones followed the limbs) make both the identity.
Motions are resampled to the scene's frame rate before keying (``resample``); the slerp it
uses is the project's one numpy slerp, which the backend imports from here.

Keys are what an animator edits, so only channels that move get a key per frame: a channel
that stays within ``CONSTANT_TOL`` of constant gets one key. An optional ``Reduction`` thins
the rest (Ramer-Douglas-Peucker over a bone's four quaternion channels together, so the
bone's rotation, not each number, stays within an angle of the motion at every frame).
Export reads whichever rotation mode a bone shows (quaternion, any Euler order, axis-angle).

Files are SignForge's normalized .npz (``poses`` (T, 165) axis-angles in SMPL-X joint
order, ``trans``, ``expression``, ``mocap_frame_rate``...); other formats go through the
backend's ``load_motion``/``save_motion`` first. Arrays are read with allow_pickle=False.
A file's world may be Z-up (AMASS's, the backend's default for files it writes) or Y-up
(SMPL-X's own, which ``MotionData`` always holds): ``file_up`` says which one a file uses and
``turn_up`` converts; the backend's .npz reader and writer use the same two functions.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from typing import Mapping

import numpy as np

from .limits import check_file_size, check_npz
from .errors import SignForgeError

NUM_JOINTS = 55
NUM_EXPRESSION = 10


class MotionFileError(SignForgeError, ValueError):
    """A motion file the add-on cannot use; the message names the file and the problem."""


@dataclass(frozen=True)
class MotionData:
    poses: np.ndarray        # (T, 55, 3) axis-angle, SMPL-X joint order
    trans: np.ndarray        # (T, 3)
    expression: np.ndarray   # (T, 10)
    fps: float
    betas: np.ndarray = field(default_factory=lambda: np.zeros(10, np.float32))
    text: str = ""
    provenance: Mapping[str, str] = field(default_factory=dict)   # the backend's record of how it was made
    confidence: np.ndarray | None = None        # (T,) in [0, 1]: how sure the tracking was (a video's take)
    hand_confidence: np.ndarray | None = None   # (T, 2) the same for the left and the right hand

    @property
    def frames(self) -> int:
        return len(self.poses)


def read_motion(path: str | os.PathLike) -> MotionData:
    """Read a SignForge .npz (as written by the backend)."""
    try:
        check_file_size(path)
        with np.load(path, allow_pickle=False) as z:
            check_npz(z)   # declared shapes before any data is decoded
            keys = set(z.files)
            if "poses" not in keys:
                raise MotionFileError(f"{path}: no 'poses' array; not a SignForge/AMASS motion file")
            poses = np.asarray(z["poses"], np.float64)
            t = len(poses)
            if poses.ndim != 2 or poses.shape[1] != NUM_JOINTS * 3 or t == 0:
                raise MotionFileError(f"{path}: 'poses' has shape {poses.shape}; expected (T, 165) with T > 0")
            trans = np.asarray(z["trans"], np.float64) if "trans" in keys else np.zeros((t, 3))
            expr = np.asarray(z["expression"], np.float64) if "expression" in keys else np.zeros((t, NUM_EXPRESSION))
            rate = next((k for k in ("mocap_frame_rate", "mocap_framerate") if k in keys), None)
            fps = float(z[rate]) if rate else 25.0
            betas = np.asarray(z["betas"], np.float32).reshape(-1) if "betas" in keys else np.zeros(10, np.float32)
            text = str(z["text"]) if "text" in keys else ""
            provenance = _provenance(z["provenance"]) if "provenance" in keys else {}
            conf = _confidence(z, "confidence", (t,), path)
            hands = _confidence(z, "hand_confidence", (t, 2), path)
            up = file_up(keys, z[UP_AXIS] if UP_AXIS in keys else None)
            if up == "z":
                if REST_PELVIS not in keys:
                    raise MotionFileError(f"{path}: a Z-up file without '{REST_PELVIS}'; import it (File > "
                                          f"Import goes through the backend, which knows the body)")
                pelvis = np.asarray(z[REST_PELVIS], np.float64).reshape(-1)
                if pelvis.shape != (3,) or not np.isfinite(pelvis).all():
                    raise MotionFileError(f"{path}: '{REST_PELVIS}' must be 3 finite numbers")
                if trans.shape == (t, 3):   # a wrong shape is refused below
                    turned, trans = turn_up(poses.reshape(t, NUM_JOINTS, 3), trans, pelvis, to="y")
                    poses = turned.reshape(t, NUM_JOINTS * 3)
    except (OSError, ValueError, KeyError) as exc:
        if isinstance(exc, MotionFileError):
            raise
        raise MotionFileError(f"{path}: cannot read motion ({exc})") from None
    if trans.shape != (t, 3) or expr.shape[0] != t:
        raise MotionFileError(f"{path}: trans/expression do not have {t} frames")
    if not (np.isfinite(poses).all() and np.isfinite(trans).all() and np.isfinite(expr).all()):
        raise MotionFileError(f"{path}: the motion holds NaN or infinite values")
    if not fps > 0:
        raise MotionFileError(f"{path}: frame rate {fps} is not positive")
    return MotionData(poses.reshape(t, NUM_JOINTS, 3), trans, expr[:, :NUM_EXPRESSION], fps, betas, text,
                      provenance, conf, hands)


def _confidence(z, key: str, shape: tuple, path) -> np.ndarray | None:
    """A per-frame confidence array of ``shape``, in [0, 1]; None when the file has none."""
    if key not in z.files:
        return None
    value = np.asarray(z[key], np.float64)
    if value.shape != shape:
        raise MotionFileError(f"{path}: '{key}' has shape {value.shape}; expected {shape}")
    if not (np.isfinite(value).all() and (value >= 0).all() and (value <= 1).all()):
        raise MotionFileError(f"{path}: '{key}' must lie in [0, 1]")
    return value


def _provenance(value: np.ndarray) -> dict[str, str]:
    """The backend's provenance JSON; metadata only, so an unreadable one is dropped, not fatal."""
    try:
        prov = json.loads(str(value))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in prov.items()} if isinstance(prov, dict) else {}


def write_motion(motion: MotionData, path: str | os.PathLike) -> None:
    """Write the plain arrays; the backend's ``save_motion`` completes them (features, BVH...)."""
    t = motion.frames
    tmp = f"{path}.partial.npz"
    np.savez(tmp, poses=motion.poses.reshape(t, NUM_JOINTS * 3).astype(np.float32),
             trans=motion.trans.astype(np.float32), expression=motion.expression.astype(np.float32),
             betas=np.asarray(motion.betas, np.float32), mocap_frame_rate=np.float64(motion.fps),
             mocap_framerate=np.float64(motion.fps), up_axis=np.array("y"), gender=np.array("neutral"),
             surface_model_type=np.array("smplx"), text=np.array(motion.text),
             **({} if motion.confidence is None else {"confidence": motion.confidence.astype(np.float32)}),
             **({} if motion.hand_confidence is None else
                {"hand_confidence": motion.hand_confidence.astype(np.float32)}))
    os.replace(tmp, path)


# ------------------------------------------------------------------------ up axis

UP_AXIS = "up_axis"           # "z" or "y": the world a motion file's poses and trans are in
REST_PELVIS = "rest_pelvis"   # (3,) m: the pelvis joint at rest (Y-up) that a Z-up turn was made with
UP_AXES = ("z", "y")
# AMASS's world is Z-up (the floor is its XY plane): a quarter turn about +X takes SMPL-X's
# up (+Y) to +Z, and its facing (+Z) to -Y, so the body faces a Z-up viewer's front view
_TO_Z_UP = np.array([math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0])


def file_up(keys, recorded=None) -> str:
    """The up axis of a motion .npz with entries ``keys``: its recorded ``up_axis`` when it has
    one; otherwise "y" for a file SignForge wrote before it recorded one (those hold SignForge's
    ``provenance`` or ``features``, which no other tool writes) and "z" for any other (AMASS,
    the SMPL-X add-on's animation files)."""
    if recorded is not None:
        value = str(np.asarray(recorded).reshape(-1)[0]).strip().lower()
        if value not in UP_AXES:
            raise ValueError(f"'{UP_AXIS}' is {value!r}; expected one of {', '.join(UP_AXES)}")
        return value
    return "y" if {"provenance", "features"} & set(keys) else "z"


def turn_up(poses: np.ndarray, trans: np.ndarray, pelvis, to: str) -> tuple[np.ndarray, np.ndarray]:
    """(T, 55, 3) axis-angle ``poses`` and (T, 3) ``trans`` turned into the ``to`` ("z" or "y")
    world from the other one. Only the root changes: a world turn W gives the root rotation
    W R. SMPL-X turns the root about the rest pelvis J0 (``pelvis``), which sits at J0 + trans,
    so trans' = W (J0 + trans) - J0 keeps every joint where the turned world puts it."""
    if to not in UP_AXES:
        raise ValueError(f"up axis {to!r}; expected one of {', '.join(UP_AXES)}")
    w = _TO_Z_UP if to == "z" else _TO_Z_UP * np.array([1.0, -1.0, -1.0, -1.0])
    poses = np.array(poses, np.float64)
    j0 = np.asarray(pelvis, np.float64).reshape(3)
    root = quaternion_multiply(np.broadcast_to(w, poses[:, 0].shape[:-1] + (4,)),
                               axis_angle_to_quaternion(poses[:, 0]))
    poses[:, 0] = quaternion_to_axis_angle(root)
    m = _quaternion_matrix(w)
    trans = (np.asarray(trans, np.float64) + j0) @ m.T - j0
    return poses, trans


def _quaternion_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


# ------------------------------------------------------------------------ rotations

def axis_angle_to_quaternion(aa: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 4) (w, x, y, z)."""
    aa = np.asarray(aa, np.float64)
    theta = np.sqrt((aa * aa).sum(-1, keepdims=True))
    small = theta < 1e-6
    k = np.where(small, 0.5 - theta ** 2 / 48, np.sin(theta / 2) / np.where(small, 1.0, theta))
    return np.concatenate([np.cos(theta / 2), aa * k], -1)


def quaternion_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """(..., 4) (w, x, y, z), any norm or sign -> (..., 3) with angle in [0, pi]."""
    q = np.asarray(q, np.float64)
    q = q / np.maximum(np.sqrt((q * q).sum(-1, keepdims=True)), 1e-12)
    q = np.where(q[..., :1] < 0, -q, q)
    s = np.sqrt((q[..., 1:] ** 2).sum(-1, keepdims=True))
    angle = 2 * np.arctan2(s, q[..., :1])
    small = s < 1e-6
    return q[..., 1:] * np.where(small, 2 + angle ** 2 / 12, angle / np.where(small, 1.0, s))


def continuous(q: np.ndarray) -> np.ndarray:
    """Flip (T, J, 4) quaternions into one hemisphere frame to frame, so that Blender's
    per-channel interpolation between keys never takes the long way round."""
    if len(q) < 2:
        return q.copy()
    # s_t = s_(t-1) * sign(q_t . q_(t-1)) keeps every neighbouring pair's dot product >= 0
    step = np.where((q[1:] * q[:-1]).sum(-1) < 0, -1.0, 1.0)
    signs = np.concatenate([np.ones((1,) + step.shape[1:]), np.cumprod(step, 0)])
    return q * signs[..., None]


def quaternion_slerp(q0: np.ndarray, q1: np.ndarray, t) -> np.ndarray:
    """Short-arc slerp of (..., 4) quaternions, t broadcasting against (..., 1). The one numpy
    slerp: the backend's ``rotations.np_quaternion_slerp`` is this function."""
    q0 = q0 / _norm(q0)
    q1 = q1 / _norm(q1)
    dot = np.einsum("...i,...i->...", q0, q1)[..., None]
    q1 = np.where(dot < 0, -q1, q1)
    omega = np.arccos(np.clip(np.abs(dot), 0.0, 1.0))
    sin = np.sin(omega)
    safe = np.where(sin < 1e-6, 1.0, sin)
    t = np.asarray(t, float)
    # Shoemake (1985): sin((1 - t) w) / sin w * q0 + sin(t w) / sin w * q1; lerp where w ~ 0
    w0 = np.where(sin < 1e-6, 1 - t, np.sin((1 - t) * omega) / safe)
    w1 = np.where(sin < 1e-6, t, np.sin(t * omega) / safe)
    out = w0 * q0 + w1 * q1
    return out / _norm(out)


def _norm(v) -> np.ndarray:
    """(..., 4) -> (..., 1) norms; einsum, as np.linalg.norm's checks cost more than the sum on
    the data factory's thousands of short calls."""
    v = np.asarray(v, float)
    return np.sqrt(np.einsum("...i,...i->...", v, v))[..., None]


def resample(motion: MotionData, fps: float) -> MotionData:
    """``motion`` at ``fps`` for a scene's frame rate, keeping its duration (frames / fps).

    Frame k of the result is the motion at k / fps seconds (held at the last frame past
    its end): joint rotations slerped per joint, translation and expression linear.
    """
    fps = float(fps)
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"frame rate {fps} is not positive")
    if abs(fps - motion.fps) <= 1e-9 * fps:
        return motion
    n = max(1, int(round(motion.frames * fps / motion.fps)))
    t = np.clip(np.arange(n) * (motion.fps / fps), 0, motion.frames - 1)
    i0 = np.floor(t).astype(int)
    i1 = np.minimum(i0 + 1, motion.frames - 1)
    a = (t - i0)[:, None]
    q = axis_angle_to_quaternion(motion.poses)
    poses = quaternion_to_axis_angle(quaternion_slerp(q[i0], q[i1], a[:, :, None]))

    def lerp(x: np.ndarray) -> np.ndarray:
        return (1 - a) * x[i0] + a * x[i1]

    conf = None if motion.confidence is None else lerp(motion.confidence[:, None])[:, 0]
    hands = None if motion.hand_confidence is None else lerp(motion.hand_confidence)
    return replace(motion, poses=poses, trans=lerp(motion.trans), expression=lerp(motion.expression), fps=fps,
                   confidence=conf, hand_confidence=hands)


# ------------------------------------------------------------------------ keyframes

# A channel within this of its midpoint at every frame is constant and gets one key: far
# below anything visible (1e-6 rad in a quaternion) and above float32 keys' own rounding.
CONSTANT_TOL = 5e-7


@dataclass(frozen=True)
class Reduction:
    """How far reduced keys may stray from the motion, at any of its frames.

    ``angle`` bounds a bone's rotation error: the angle of the relative rotation between the
    motion's quaternion and the one Blender shows between keys (its four channels
    interpolated linearly, then normalized). So the tolerance is an angle, never a bound
    per quaternion number (a component error e can be up to ~4e rad of rotation).
    """
    angle: float = math.radians(0.5)   # rad, a bone's rotation
    distance: float = 1e-3             # m, the root's location
    value: float = 5e-3                # an expression coefficient

    @classmethod
    def degrees(cls, deg: float) -> "Reduction":
        return cls(angle=math.radians(deg))


@dataclass(frozen=True)
class Channel:
    """One fcurve: its data path, array index, group and (frame, value) pairs."""
    data_path: str
    index: int
    group: str
    co: np.ndarray   # (2 * keys,) float32, interleaved frame, value for keyframe_points.foreach_set("co")

    @property
    def keys(self) -> int:
        return len(self.co) // 2


def rotation_error(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Angles (rad) of the rotations between (..., 4) quaternions of any norm and sign:
    2 atan2(|vec(conj(q) r)|, |q . r|), exact at every angle (unlike an arccos)."""
    w = (q * r).sum(-1)
    xyz = q[..., :1] * r[..., 1:] - r[..., :1] * q[..., 1:] - np.cross(q[..., 1:], r[..., 1:])
    return 2 * np.arctan2(np.sqrt((xyz * xyz).sum(-1)), np.abs(w))


def _euclidean(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sqrt(((x - y) ** 2).sum(-1))


def simplify(x: np.ndarray, tol: float, error=_euclidean) -> np.ndarray:
    """Indices of the keys that keep (T, D) samples ``x`` within ``tol`` at every sample when
    the kept ones are interpolated linearly (Ramer-Douglas-Peucker, 1972-73: keep the worst
    sample of a span and split there until no span's worst exceeds ``tol``). The first and
    last samples are always kept; ``error(x_t, lerp_t)`` measures the distance."""
    n = len(x)
    if n <= 2:
        return np.arange(n)
    keep = np.zeros(n, bool)
    keep[[0, n - 1]] = True
    spans = [(0, n - 1)]
    while spans:
        i, j = spans.pop()
        if j - i < 2:
            continue
        a = (np.arange(i + 1, j) - i)[:, None] / (j - i)
        err = error(x[i + 1:j], x[i] + a * (x[j] - x[i]))
        k = int(np.argmax(err))
        if err[k] > tol:
            m = i + 1 + k
            keep[m] = True
            spans += [(i, m), (m, j)]
    return np.flatnonzero(keep)


def _snap_constant(x: np.ndarray, tol: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(T, D) values with each column that stays within ``tol`` of its midpoint set to that
    midpoint, and which columns those are (none when ``tol`` is None)."""
    if tol is None:
        return x, np.zeros(x.shape[1], bool)
    lo, hi = x.min(0), x.max(0)
    const = (hi - lo) <= 2 * tol
    x = x.copy()
    x[:, const] = ((lo + hi) / 2)[const]
    return x, const


def _key_group(path: str, group: str, frames: np.ndarray, x: np.ndarray, const_tol: float | None,
               tol: float | None, error=_euclidean, const: np.ndarray | None = None) -> list[Channel]:
    """Channels ``path``[0..D) of (T, D) ``x`` sharing key frames: every frame, or the
    ``simplify`` keys within ``tol`` of them all; a constant channel one key at the first frame.
    ``const``: which columns are constant, when ``x`` was snapped already (``_snap_constant``)."""
    if const is None:
        x, const = _snap_constant(np.asarray(x, np.float64), const_tol)
    keep = np.arange(len(x)) if tol is None else simplify(x, tol * (1 - 1e-3), error)   # room for float32
    out = []
    for k in range(x.shape[1]):
        idx = keep[:1] if const[k] else keep
        co = np.empty(2 * len(idx), np.float32)
        co[0::2], co[1::2] = frames[idx], x[idx, k]
        out.append(Channel(path, k, group, co))
    return out


def pose_channels(motion: MotionData, joint_names: list[str] | tuple[str, ...], frame_start: int = 1,
                  root: str = "pelvis", reduction: Reduction | None = None,
                  constant_tol: float | None = CONSTANT_TOL, rests: np.ndarray | None = None) -> list[Channel]:
    """Quaternion channels for every bone plus the root's location, ready for bulk keyframing:
    a key per frame where a channel moves (fewer with ``reduction``), one where it does not
    (``constant_tol``; None keys every frame of every channel). ``rests`` (55, 4) are the bones'
    rest orientations in armature space (``to_bone``; None: the identity)."""
    if len(joint_names) != NUM_JOINTS:
        raise ValueError(f"expected {NUM_JOINTS} joint names, got {len(joint_names)}")
    frames = np.arange(frame_start, frame_start + motion.frames, dtype=np.float64)
    quats = axis_angle_to_quaternion(motion.poses)
    trans = np.asarray(motion.trans, np.float64)
    if rests is not None:
        rests = _rests(rests)
        quats = to_bone(quats, rests)
        trans = rotate(quaternion_conjugate(rests[0]), trans)
    quats = continuous(quats)
    angle = reduction.angle if reduction else None
    # every bone's constant channels found at once (one pass, not 55)
    snapped, const = _snap_constant(quats.reshape(len(quats), -1), constant_tol)
    quats, const = snapped.reshape(quats.shape), const.reshape(quats.shape[1:])
    out = []
    for j, name in enumerate(joint_names):
        out += _key_group(f'pose.bones["{name}"].rotation_quaternion', name, frames, quats[:, j],
                          constant_tol, angle, rotation_error, const=const[j])
    out += _key_group(f'pose.bones["{root}"].location', root, frames, trans, constant_tol,
                      reduction.distance if reduction else None)
    return out


def _rests(rests: np.ndarray) -> np.ndarray:
    r = np.asarray(rests, np.float64)
    if r.shape != (NUM_JOINTS, 4):
        raise ValueError(f"expected ({NUM_JOINTS}, 4) rest quaternions, got {r.shape}")
    return r / _norm(r)


def quaternion_conjugate(q: np.ndarray) -> np.ndarray:
    return np.asarray(q, np.float64) * np.array([1.0, -1.0, -1.0, -1.0])


def to_bone(q: np.ndarray, rests: np.ndarray) -> np.ndarray:
    """(..., J, 4) SMPL-X local rotations -> the bones' pose rotations ``B^-1 R B``, joint by
    joint, for unit rest quaternions ``rests`` (J, 4) (w, x, y, z)."""
    return _conjugated(q, rests, inverse=True)


def from_bone(q: np.ndarray, rests: np.ndarray) -> np.ndarray:
    """Inverse of ``to_bone``: the bones' pose rotations -> SMPL-X local rotations ``B P B^-1``,
    for unit rest quaternions ``rests`` (J, 4)."""
    return _conjugated(q, rests, inverse=False)


def _conjugated(q: np.ndarray, rests: np.ndarray, inverse: bool) -> np.ndarray:
    """``B q B^-1`` (``B^-1 q B`` when ``inverse``) per joint: a conjugation keeps the scalar part
    and turns the vector part by B (by B^-1), one (3, 3) product per joint rather than two
    quaternion products (a take's keys: a third of the time)."""
    q = np.asarray(q, np.float64)
    m = np.stack([_quaternion_matrix(r) for r in np.asarray(rests, np.float64)])    # (J, 3, 3)
    v = np.einsum("...jk,jkl->...jl" if inverse else "...jk,jlk->...jl", q[..., 1:], m)
    return np.concatenate([q[..., :1], v], -1)


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(..., 3) vectors ``v`` turned by one unit quaternion ``q`` (4,)."""
    q = np.asarray(q, np.float64)
    v = np.asarray(v, np.float64)
    t = 2 * np.cross(q[1:], v)
    return v + q[0] * t + np.cross(q[1:], t)


def expression_channels(motion: MotionData, key_names: list[str], frame_start: int = 1,
                        reduction: Reduction | None = None,
                        constant_tol: float | None = CONSTANT_TOL) -> list[Channel]:
    """Shape-key value channels for the expression coefficients (one key per coefficient)."""
    frames = np.arange(frame_start, frame_start + motion.frames, dtype=np.float64)
    out = []
    for k, name in enumerate(key_names[: motion.expression.shape[1]]):
        [ch] = _key_group(f'key_blocks["{name}"].value', "Expression", frames, motion.expression[:, k:k + 1],
                          constant_tol, reduction.value if reduction else None)
        out.append(Channel(ch.data_path, 0, ch.group, ch.co))
    return out


CONFIDENCE = "signforge_confidence"   # the armature's custom property a video take animates
HAND_CONFIDENCE = ("signforge_confidence_left", "signforge_confidence_right")


def confidence_properties(motion: MotionData) -> tuple[str, ...]:
    """The custom properties ``confidence_channels`` animates for ``motion`` (none without confidence)."""
    return ((CONFIDENCE,) if motion.confidence is not None else ()) + \
        (HAND_CONFIDENCE if motion.hand_confidence is not None else ())


def confidence_channels(motion: MotionData, frame_start: int = 1, reduction: Reduction | None = None,
                        constant_tol: float | None = CONSTANT_TOL) -> list[Channel]:
    """The tracking's per-frame confidence as channels of the armature's own custom properties
    (``["signforge_confidence"]``, and ``_left``/``_right`` per hand), one key per frame
    (fewer with ``reduction``, to its expression tolerance), so the Graph Editor shows where
    a video's tracking was unsure. Empty for a motion without confidence."""
    frames = np.arange(frame_start, frame_start + motion.frames, dtype=np.float64)
    columns = []
    if motion.confidence is not None:
        columns.append((CONFIDENCE, motion.confidence))
    if motion.hand_confidence is not None:
        columns += [(name, motion.hand_confidence[:, k]) for k, name in enumerate(HAND_CONFIDENCE)]
    out = []
    for name, values in columns:
        [ch] = _key_group(f'["{name}"]', "SignForge confidence", frames, np.asarray(values, np.float64)[:, None],
                          constant_tol, reduction.value if reduction else None)
        out.append(ch)
    return out


def evaluate_channels(channels: list[Channel], frames: np.ndarray) -> dict[tuple[str, int], np.ndarray]:
    """Linear keys' values at ``frames``, held before the first and after the last, as Blender
    evaluates SignForge's LINEAR fcurves with constant extrapolation."""
    return {(ch.data_path, ch.index): np.interp(frames, ch.co[0::2], ch.co[1::2]) for ch in channels}


# ------------------------------------------------------------------------ rotation modes

ROTATION_PATHS = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}
ROTATION_REST = {"QUATERNION": (1.0, 0.0, 0.0, 0.0), "AXIS_ANGLE": (0.0, 0.0, 1.0, 0.0)}
EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


def rotation_path(mode: str) -> str:
    """A pose bone's property that holds its rotation in ``mode`` (Blender's rotation_mode)."""
    return ROTATION_PATHS.get(mode, "rotation_euler")


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of (..., 4) (w, x, y, z) quaternions: the rotation b, then a."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, np.float64), -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], -1)


def euler_to_quaternion(e: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """(..., 3) Euler angles (x, y, z) -> (..., 4). Blender's order "XYZ" turns about X first,
    then Y, then Z (matrix Rz Ry Rx), so q = q_z q_y q_x; any of its six orders."""
    e = np.asarray(e, np.float64)
    q = np.zeros(e.shape[:-1] + (4,))
    q[..., 0] = 1.0   # the identity, which the first turn replaces
    for axis in order:
        i = "XYZ".index(axis)
        qi = np.zeros(e.shape[:-1] + (4,))
        qi[..., 0], qi[..., 1 + i] = np.cos(e[..., i] / 2), np.sin(e[..., i] / 2)
        q = quaternion_multiply(qi, q)
    return q


def axis_angle4_to_quaternion(aa: np.ndarray) -> np.ndarray:
    """(..., 4) Blender axis-angles (angle, x, y, z), the axis any length -> (..., 4); a zero
    axis is no rotation, as in Blender."""
    aa = np.asarray(aa, np.float64)
    n = np.sqrt((aa[..., 1:] ** 2).sum(-1, keepdims=True))
    half = aa[..., :1] / 2
    axis = np.where(n > 1e-12, aa[..., 1:] / np.where(n > 1e-12, n, 1.0), 0.0)
    return np.where(n > 1e-12, np.concatenate([np.cos(half), np.sin(half) * axis], -1),
                    np.array([1.0, 0.0, 0.0, 0.0]))


def to_quaternion(values: np.ndarray, mode: str) -> np.ndarray:
    """(..., 3 or 4) rotation channels in Blender's ``mode`` -> (..., 4) quaternions."""
    if mode == "QUATERNION":
        return np.asarray(values, np.float64)
    if mode == "AXIS_ANGLE":
        return axis_angle4_to_quaternion(values)
    if mode not in EULER_ORDERS:
        raise ValueError(f"unknown rotation mode {mode!r}")
    return euler_to_quaternion(values, mode)


def motion_from_channels(values: dict[tuple[str, int], np.ndarray], joint_names, frames: int, fps: float,
                         root: str = "pelvis", expression: np.ndarray | None = None, text: str = "",
                         modes: Mapping[str, str] | None = None, rests: np.ndarray | None = None) -> MotionData:
    """Inverse of ``pose_channels``: per-frame channel values (missing ones at rest) -> motion.
    Each bone's rotation is read from its ``modes`` entry's channels (default QUATERNION), in
    the frame of its rest orientation ``rests`` (55, 4) (None: the identity)."""
    quats = np.zeros((frames, NUM_JOINTS, 4))
    for j, name in enumerate(joint_names):
        mode = (modes or {}).get(name, "QUATERNION")
        path = f'pose.bones["{name}"].{rotation_path(mode)}'
        rest = ROTATION_REST.get(mode, (0.0, 0.0, 0.0))
        raw = np.empty((frames, len(rest)))
        for k, r in enumerate(rest):
            v = values.get((path, k))
            raw[:, k] = r if v is None else v
        quats[:, j] = to_quaternion(raw, mode)
    trans = np.zeros((frames, 3))
    for k in range(3):
        v = values.get((f'pose.bones["{root}"].location', k))
        if v is not None:
            trans[:, k] = v
    if rests is not None:
        rests = _rests(rests)
        quats = from_bone(quats, rests)
        trans = rotate(rests[0], trans)
    expr = np.zeros((frames, NUM_EXPRESSION)) if expression is None else expression
    conf = values.get((f'["{CONFIDENCE}"]', 0))   # a video take's confidence curves travel with it
    hands = [h for h in (values.get((f'["{name}"]', 0)) for name in HAND_CONFIDENCE) if h is not None]
    return MotionData(quaternion_to_axis_angle(quats), trans, expr, fps, text=text,
                      confidence=None if conf is None else np.clip(conf, 0.0, 1.0),
                      hand_confidence=(np.clip(np.stack(hands, 1), 0.0, 1.0) if len(hands) == len(HAND_CONFIDENCE)
                                       else None))
