"""Small numpy maths shared by the synthesizer's parts: unit vectors, easing, soft limits,
the wrist's XZY Euler angles, batched matrix-vector products, smoothing over time.
numpy only; never torch or bpy.
"""
from __future__ import annotations

import math

import numpy as np

from ...body import rotations as R


def unit(v) -> np.ndarray:
    """``v`` scaled to length 1 along its last axis (a zero vector stays zero)."""
    v = np.asarray(v, float)
    if v.ndim == 1:     # one vector (most calls): a plain dot product, no broadcasting machinery
        return v / max(math.sqrt(v @ v), 1e-12)
    return v / np.maximum(R.np_norm(v, axis=-1, keepdims=True), 1e-12)


def ease(x) -> np.ndarray:
    """Smoothstep: zero velocity at both ends, so eased pieces join without a velocity jump."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def min_jerk(x) -> np.ndarray:
    """The minimum-jerk profile 10x^3 - 15x^4 + 6x^5 (Flash & Hogan 1985): a reach's
    bell-shaped speed, zero velocity and acceleration at both ends; peak speed 1.875x the mean."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (10 + x * (6 * x - 15))


def soft_limit(v: np.ndarray, limit) -> np.ndarray:
    """Identity inside 70% of the limit, then bends smoothly (C1) toward the limit."""
    limit = np.asarray(limit, float)
    knee = 0.7 * limit
    a = np.abs(v)
    over = (a - knee) / (limit - knee)
    return np.where(a < knee, v, np.sign(v) * (knee + (limit - knee) * np.tanh(over)))


def rot_about(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) by ``angle`` about ``axis`` (any length)."""
    return R.np_axis_angle_to_matrix(unit(axis) * np.asarray(angle, float)[..., None])


def smooth_quaternions(q: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Gaussian-smooth (T, J, 4) quaternions over time, first and last frames held fixed."""
    # one hemisphere, so averaging is meaningful: flip where a frame turns away from the last
    turn = np.where((q[1:] * q[:-1]).sum(-1) < 0, -1.0, 1.0)
    q = q * np.concatenate([np.ones((1,) + turn.shape[1:]), np.cumprod(turn, 0)])[..., None]
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.repeat(q[:1], radius, 0), q, np.repeat(q[-1:], radius, 0)])
    out = sum(w * padded[i:i + len(q)] for i, w in enumerate(kernel))
    out /= R.np_norm(out, axis=-1, keepdims=True)
    # hold the ends exactly, fading the smoothing in over the first and last frames
    fade = np.minimum(1.0, np.minimum(np.arange(len(q)), np.arange(len(q))[::-1]) / radius)[:, None, None]
    mixed = (1 - fade) * q + fade * out
    return mixed / R.np_norm(mixed, axis=-1, keepdims=True)


def xzy_angles(m: np.ndarray) -> np.ndarray:
    """Inverse of ``euler_xzy``: (..., 3, 3) -> (twist, flexion, deviation)."""
    flex = np.arcsin(np.clip(-m[..., 0, 1], -1.0, 1.0))
    return np.stack([np.arctan2(m[..., 2, 1], m[..., 1, 1]), flex, np.arctan2(m[..., 0, 2], m[..., 0, 0])], -1)


def jumps(mats: np.ndarray, starts, limit: float = 0.25) -> np.ndarray:
    """Per path (rows from each of ``starts`` to the next): whether a joint turns more than
    ``limit`` rad between two neighbouring frames."""
    starts = np.asarray(starts, int)
    if len(mats) < 2:
        return np.zeros(len(starts), bool)
    rel = np.einsum("tji,tjk->tik", mats[:-1], mats[1:])
    cos = np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)
    turn = np.arccos(cos) > limit
    turn[starts[1:] - 1] = False      # the step from one path into the next is no jump
    return np.logical_or.reduceat(np.append(turn, False), starts)


def euler_xzy(a: np.ndarray) -> np.ndarray:
    """(..., 3) angles -> Rx(a0) @ Rz(a1) @ Ry(a2), in numpy (the wrist's ``arm.WRIST_ORDER``)."""
    c, s_ = np.cos(a), np.sin(a)
    cx, cz, cy, sx, sz, sy = c[..., 0], c[..., 1], c[..., 2], s_[..., 0], s_[..., 1], s_[..., 2]
    m = np.empty(a.shape + (3,))
    m[..., 0, 0], m[..., 0, 1], m[..., 0, 2] = cz * cy, -sz, cz * sy
    m[..., 1, 0] = cx * sz * cy + sx * sy
    m[..., 1, 1] = cx * cz
    m[..., 1, 2] = cx * sz * sy - sx * cy
    m[..., 2, 0] = sx * sz * cy - cx * sy
    m[..., 2, 1] = sx * cz
    m[..., 2, 2] = sx * sz * sy + cx * cy
    return m


def mv(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Matrices (..., 3, 3) times vectors (..., 3), broadcasting."""
    return np.einsum("...ij,...j->...i", m, v)


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot products over the last axis, kept as (..., 1)."""
    return np.einsum("...i,...i->...", a, b)[..., None]


def segment_starts(segments) -> np.ndarray:
    """The first row of each path in a batch, from the number of rows of each."""
    return np.concatenate([[0], np.cumsum(segments)[:-1]]).astype(int)


def smooth_noise(rng, k: int, scale: float) -> np.ndarray:
    """(k, 3) smooth random drift with standard deviation ``scale`` (a hand's tremor)."""
    raw = rng.normal(0, 1, (k + 12, 3))
    kernel = np.hanning(9)
    kernel /= kernel.sum()
    sm = np.stack([np.convolve(raw[:, i], kernel, mode="same") for i in range(3)], 1)[6:6 + k]
    return sm / max(sm.std(), 1e-9) * scale
