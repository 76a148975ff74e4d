"""``Motion``: SMPL-X motion as one immutable value, with its edits.

Holds per-frame pose (55 joints, axis-angle), translation and expression, plus betas,
fps, gender, optional text, provenance and per-frame confidence (overall, and per hand
where it was measured). Converts to and from
HandMDM's 274-D features, resamples (slerp), mirrors left<->right, cuts and concatenates
with a blended seam. numpy + torch (through rotations); never bpy.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

import numpy as np

from blender_addon.core.limits import MAX_FRAMES

from ..body import rotations as R
from ..body.features import features_to_pose, pose_to_features
from ..body.skeleton import FEATURE_DIM, MIRROR, NUM_EXPRESSION, NUM_JOINTS
from blender_addon.core.errors import SignForgeError

GENDERS = ("neutral", "male", "female")
NON_FINITE = ("nan", "inf", "infinity")   # provenance numbers a file must never hold


class MotionError(SignForgeError, ValueError):
    """A motion, or a file that should hold one, is not valid. The message says why."""


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise MotionError(message)


@dataclass(frozen=True, eq=False)
class Motion:
    poses: np.ndarray                       # (T, 55, 3) axis-angle, SMPL-X joint order
    trans: np.ndarray                       # (T, 3) metres
    expression: np.ndarray                  # (T, 10)
    fps: float
    betas: np.ndarray = field(default_factory=lambda: np.zeros(10, np.float32))
    gender: str = "neutral"
    text: str = ""
    provenance: Mapping[str, str] = field(default_factory=dict)
    confidence: np.ndarray | None = None    # (T,) in [0, 1], None when not measured
    hand_confidence: np.ndarray | None = None   # (T, 2) left, right hand, in [0, 1]; None when not measured

    def __post_init__(self) -> None:
        poses = np.asarray(self.poses, dtype=np.float32)
        if poses.ndim == 2 and poses.shape[1] == 3 * NUM_JOINTS:
            poses = poses.reshape(len(poses), NUM_JOINTS, 3)
        _check(poses.ndim == 3 and poses.shape[1:] == (NUM_JOINTS, 3),
               f"poses must be (T, 55, 3) or (T, 165); got {poses.shape}")
        t = len(poses)
        _check(t > 0, "a motion needs at least one frame")
        _check(t <= MAX_FRAMES, f"{t} frames is over the limit of {MAX_FRAMES}")
        trans = np.asarray(self.trans, dtype=np.float32)
        _check(trans.shape == (t, 3), f"trans must be ({t}, 3); got {trans.shape}")
        expression = np.asarray(self.expression, dtype=np.float32)
        _check(expression.shape == (t, NUM_EXPRESSION),
               f"expression must be ({t}, {NUM_EXPRESSION}); got {expression.shape}")
        betas = np.asarray(self.betas, dtype=np.float32).reshape(-1)
        fps = float(self.fps)
        _check(np.isfinite(fps) and 0 < fps <= 1000, f"fps must be in (0, 1000]; got {self.fps}")
        _check(self.gender in GENDERS, f"gender must be one of {GENDERS}; got {self.gender!r}")
        for name, arr in (("poses", poses), ("trans", trans), ("expression", expression),
                          ("betas", betas)):
            _check(bool(np.isfinite(arr).all()), f"{name} holds NaN or inf")
        conf = self.confidence
        if conf is not None:
            conf = np.asarray(conf, dtype=np.float32)
            _check(conf.shape == (t,), f"confidence must be ({t},); got {conf.shape}")
            _check(bool(np.isfinite(conf).all()) and bool(((conf >= 0) & (conf <= 1)).all()),
                   "confidence must lie in [0, 1]")
        hands = self.hand_confidence
        if hands is not None:
            hands = np.asarray(hands, dtype=np.float32)
            _check(hands.shape == (t, 2), f"hand_confidence must be ({t}, 2); got {hands.shape}")
            _check(bool(np.isfinite(hands).all()) and bool(((hands >= 0) & (hands <= 1)).all()),
                   "hand_confidence must lie in [0, 1]")
        for arr in (poses, trans, expression, betas) + tuple(a for a in (conf, hands) if a is not None):
            arr.setflags(write=False)
        object.__setattr__(self, "poses", poses)
        object.__setattr__(self, "trans", trans)
        object.__setattr__(self, "expression", expression)
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "fps", fps)
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "hand_confidence", hands)
        provenance = {str(k): str(v) for k, v in dict(self.provenance).items()}
        bad = [k for k, v in provenance.items() if v.strip().lower().lstrip("+-") in NON_FINITE]
        _check(not bad, f"provenance {bad[0]!r} is not a finite number" if bad else "")
        object.__setattr__(self, "provenance", MappingProxyType(provenance))

    # ---------------------------------------------------------------- basics
    @property
    def num_frames(self) -> int:
        return len(self.poses)

    @property
    def duration(self) -> float:
        """Seconds from the first frame to one frame past the last."""
        return self.num_frames / self.fps

    def __len__(self) -> int:
        return self.num_frames

    def with_(self, **changes) -> "Motion":
        return replace(self, **changes)

    def provenance_json(self) -> str:
        return json.dumps(dict(self.provenance), sort_keys=True)

    @classmethod
    def rest(cls, num_frames: int, fps: float = 25.0, **kwargs) -> "Motion":
        """A motion that holds the rest pose."""
        return cls(np.zeros((num_frames, NUM_JOINTS, 3)), np.zeros((num_frames, 3)),
                   np.zeros((num_frames, NUM_EXPRESSION)), fps, **kwargs)

    # ---------------------------------------------------------------- features
    def to_features(self) -> np.ndarray:
        """(T, 274) HandMDM features; global orientation, legs and translation drop out."""
        return pose_to_features(self.poses, self.expression).astype(np.float32)

    @classmethod
    def from_features(cls, features: np.ndarray, fps: float, **kwargs) -> "Motion":
        features = np.asarray(features)
        _check(features.ndim == 2 and features.shape[1] == FEATURE_DIM,
               f"features must be (T, {FEATURE_DIM}); got {features.shape}")
        _check(bool(np.isfinite(features).all()), "features hold NaN or inf")
        poses, expression = features_to_pose(features.astype(np.float64))
        return cls(poses, np.zeros((len(features), 3)), expression, fps, **kwargs)

    def rotations(self, kind: str = "quaternion") -> np.ndarray:
        """Poses as quaternions (T, 55, 4) or matrices (T, 55, 3, 3)."""
        if kind == "quaternion":
            return R.np_axis_angle_to_quaternion(self.poses.astype(np.float64))
        if kind == "matrix":
            return R.np_axis_angle_to_matrix(self.poses.astype(np.float64))
        raise ValueError(f"unknown rotation kind {kind!r}")

    # ---------------------------------------------------------------- edits
    def _sample(self, times: np.ndarray) -> "Motion":
        """Values at fractional frame indices (clamped), slerp for rotations."""
        t = np.clip(times, 0, self.num_frames - 1)
        i0 = np.floor(t).astype(int)
        i1 = np.minimum(i0 + 1, self.num_frames - 1)
        a = (t - i0)[:, None]
        q = self.rotations("quaternion")
        qs = R.np_quaternion_slerp(q[i0], q[i1], a[:, :, None])
        lerp = lambda x: (1 - a) * x[i0] + a * x[i1]  # noqa: E731
        conf = None if self.confidence is None else lerp(self.confidence[:, None])[:, 0]
        hands = None if self.hand_confidence is None else lerp(self.hand_confidence)
        return replace(self, poses=R.np_quaternion_to_axis_angle(qs), trans=lerp(self.trans),
                       expression=lerp(self.expression), confidence=conf, hand_confidence=hands)

    def resample(self, fps: float) -> "Motion":
        """The same motion at another frame rate (same duration span, slerped poses)."""
        _check(np.isfinite(fps) and 0 < fps <= 1000, f"fps must be in (0, 1000]; got {fps}")
        if abs(fps - self.fps) < 1e-9:
            return self
        span = (self.num_frames - 1) / self.fps
        n = int(round(span * fps)) + 1
        out = self._sample(np.arange(n) * self.fps / fps)
        return replace(out, fps=fps)

    def mirror(self) -> "Motion":
        """Swap left and right: a left-handed signer from a right-handed one.

        Reflection through the body's sagittal plane (x -> -x): joints trade places with
        their partners and each axis-angle (x, y, z) becomes (x, -y, -z).
        """
        poses = self.poses[:, list(MIRROR)] * np.array([1.0, -1.0, -1.0], np.float32)
        trans = self.trans * np.array([-1.0, 1.0, 1.0], np.float32)
        prov = dict(self.provenance)
        prov["mirrored"] = "false" if prov.get("mirrored") == "true" else "true"
        hands = None if self.hand_confidence is None else self.hand_confidence[:, ::-1]
        return replace(self, poses=poses, trans=trans, provenance=prov, hand_confidence=hands)

    def cut(self, start: int, end: int | None = None) -> "Motion":
        """Frames [start, end) as a new motion."""
        end = self.num_frames if end is None else end
        _check(0 <= start < end <= self.num_frames,
               f"cut [{start}, {end}) is outside 0..{self.num_frames}")
        conf = None if self.confidence is None else self.confidence[start:end]
        hands = None if self.hand_confidence is None else self.hand_confidence[start:end]
        return replace(self, poses=self.poses[start:end], trans=self.trans[start:end],
                       expression=self.expression[start:end], confidence=conf, hand_confidence=hands)

    def concat(self, other: "Motion", blend: int = 0) -> "Motion":
        """This motion then ``other`` (resampled to this fps), with a ``blend``-frame seam.

        Over the seam the last ``blend`` frames of this motion cross-fade into the first
        ``blend`` frames of the other with smoothstep weights (slerp for rotations), so the
        result has ``len(self) + len(other) - blend`` frames.
        """
        other = other.resample(self.fps)
        _check(0 <= blend <= min(self.num_frames, other.num_frames),
               f"blend {blend} exceeds a motion's length")
        head = self.cut(0, self.num_frames - blend) if blend < self.num_frames else None
        tail = other.cut(blend) if blend < other.num_frames else None
        parts = []
        if head is not None:
            parts.append(head)
        if blend:
            a = self.cut(self.num_frames - blend)
            b = other.cut(0, blend)
            x = (np.arange(blend) + 1) / (blend + 1)
            w = (x * x * (3 - 2 * x))[:, None]
            qa, qb = a.rotations(), b.rotations()
            q = R.np_quaternion_slerp(qa, qb, w[:, :, None])
            both = self.confidence is not None and other.confidence is not None
            hands = self.hand_confidence is not None and other.hand_confidence is not None
            parts.append(replace(
                self, poses=R.np_quaternion_to_axis_angle(q),
                trans=(1 - w) * a.trans + w * b.trans,
                expression=(1 - w) * a.expression + w * b.expression,
                confidence=((1 - w[:, 0]) * a.confidence + w[:, 0] * b.confidence) if both else None,
                hand_confidence=((1 - w) * a.hand_confidence + w * b.hand_confidence) if hands else None))
        if tail is not None:
            parts.append(tail)
        confs = [p.confidence for p in parts if p.confidence is not None]
        hand_confs = [p.hand_confidence for p in parts if p.hand_confidence is not None]
        return replace(
            self,
            poses=np.concatenate([p.poses for p in parts]),
            trans=np.concatenate([p.trans for p in parts]),
            expression=np.concatenate([p.expression for p in parts]),
            confidence=np.concatenate(confs) if len(confs) == len(parts) else None,
            hand_confidence=np.concatenate(hand_confs) if len(hand_confs) == len(parts) else None,
        )
