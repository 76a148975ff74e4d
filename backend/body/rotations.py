"""Rotation conversions: axis-angle, matrices, quaternions, 6D, and slerp.

One implementation in torch (differentiable, batched over any leading shape); every
function also accepts numpy arrays and then returns numpy arrays of the same dtype.
Imports torch on the first call that needs it, not on import; never bpy.

Conventions
- Axis-angle: SMPL-X's, a rotation vector whose norm is the angle in radians.
- Matrices act on column vectors: ``x_world = R @ x_local``.
- Quaternions are (w, x, y, z) with w >= 0 after conversion from a matrix.
- 6D (Zhou et al., CVPR 2019): the FIRST TWO COLUMNS of R, ordered
  ``(R00, R10, R20, R01, R11, R21)``. HandMDM's stored features follow the same layout:
  its decoder applies pytorch3d's row-based 6D->matrix and then negates the axis-angle,
  i.e. it transposes, so the numbers it stores are R's columns (see backend/io/handmdm.py).
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Callable, TypeVar

import numpy as np

from blender_addon.core import motion as _core_motion

if TYPE_CHECKING:   # annotations only: see below for why torch is imported late
    import torch

# torch is imported inside the functions that use it: Motion, the motion files and every
# command that only reads its options import this module, and torch costs them ~2 s
Array = TypeVar("Array", np.ndarray, "torch.Tensor")
_EPS = 1e-8


def _writable(a: np.ndarray) -> np.ndarray:
    """float64 and writable (torch refuses read-only views such as np.broadcast_to's)."""
    a = np.asarray(a, dtype=np.float64)
    return a if a.flags.writeable else a.copy()


def _numpy_compatible(fn: Callable[..., torch.Tensor]) -> Callable:
    """Let a torch implementation take and return numpy arrays too."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import torch
        if any(isinstance(a, np.ndarray) for a in args):
            dtype = next(a.dtype for a in args if isinstance(a, np.ndarray))
            if not np.issubdtype(dtype, np.floating):
                dtype = np.dtype(np.float64)
            targs = [torch.from_numpy(_writable(a)) if isinstance(a, np.ndarray) else a for a in args]
            out = fn(*targs, **kwargs)
            return out.numpy().astype(dtype, copy=False)
        return fn(*args, **kwargs)

    return wrapper


@_numpy_compatible
def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) rotation vectors -> (..., 3, 3) matrices (Rodrigues, stable near 0)."""
    import torch
    theta2 = (aa * aa).sum(-1, keepdim=True)
    theta = torch.sqrt(theta2 + 1e-30)
    small = theta2 < 1e-8
    # sin(t)/t and (1-cos t)/t^2 with their Taylor series near zero.
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / (theta2 + 1e-30))
    x, y, z = aa.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*aa.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand(k.shape)
    return eye + a[..., None] * k + b[..., None] * (k @ k)


@_numpy_compatible
def matrix_to_quaternion(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 4) unit quaternions (w, x, y, z), w >= 0.

    Picks the best-conditioned of the four standard formulas per element.
    """
    import torch
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    candidates = torch.stack([
        torch.stack([1 + m00 + m11 + m22, m21 - m12, m02 - m20, m10 - m01], -1),
        torch.stack([m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20], -1),
        torch.stack([m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21], -1),
        torch.stack([m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22], -1),
    ], -2)  # (..., 4, 4); row i is 4*q_i*q, best when its own diagonal term is largest
    diag = torch.stack([candidates[..., i, i] for i in range(4)], -1)
    best = diag.argmax(-1, keepdim=True)
    q = torch.gather(candidates, -2, best[..., None].expand(*best.shape, 4)).squeeze(-2)
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    return torch.where(q[..., :1] < 0, -q, q)


@_numpy_compatible
def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) quaternions (w, x, y, z), any norm > 0 -> (..., 3, 3)."""
    import torch
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    w, x, y, z = q.unbind(-1)
    m = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], -1)
    return m.reshape(*q.shape[:-1], 3, 3)


@_numpy_compatible
def quaternion_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) -> (..., 3); returns the rotation vector with angle in [0, pi]."""
    import torch
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    q = torch.where(q[..., :1] < 0, -q, q)
    w, xyz = q[..., :1], q[..., 1:]
    s = xyz.norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2(s, w)
    # angle / sin(angle/2), with its series 2 + angle^2/12 near zero.
    scale = torch.where(s < 1e-6, 2 + angle * angle / 12, angle / s.clamp_min(1e-30))
    return xyz * scale


@_numpy_compatible
def axis_angle_to_quaternion(aa: torch.Tensor) -> torch.Tensor:
    import torch
    theta = aa.norm(dim=-1, keepdim=True)
    half = theta / 2
    small = theta < 1e-6
    k = torch.where(small, 0.5 - theta * theta / 48, torch.sin(half) / theta.clamp_min(1e-30))
    return torch.cat([torch.cos(half), aa * k], -1)


@_numpy_compatible
def matrix_to_axis_angle(m: torch.Tensor) -> torch.Tensor:
    return quaternion_to_axis_angle(matrix_to_quaternion(m))


@_numpy_compatible
def matrix_to_6d(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): first column then second column."""
    import torch
    return torch.cat([m[..., :, 0], m[..., :, 1]], -1)


@_numpy_compatible
def rot6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt on the two stored columns.

    Any 6 numbers with non-parallel halves give a valid rotation, which is what makes
    6D a good network output.
    """
    import torch
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / a1.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    a2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = a2 / a2.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], -1)


@_numpy_compatible
def axis_angle_to_6d(aa: torch.Tensor) -> torch.Tensor:
    return matrix_to_6d(axis_angle_to_matrix(aa))


@_numpy_compatible
def rot6d_to_axis_angle(d6: torch.Tensor) -> torch.Tensor:
    return matrix_to_axis_angle(rot6d_to_matrix(d6))


@_numpy_compatible
def quaternion_slerp(q0: torch.Tensor, q1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation along the short arc; t broadcasts against q[..., :1]."""
    import torch
    q0 = q0 / q0.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    q1 = q1 / q1.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t, dtype=q0.dtype)
    t = t.to(q0.dtype)
    omega = torch.acos(dot)
    sin_omega = torch.sin(omega)
    near = sin_omega < 1e-6  # nearly the same rotation: linear blend is exact enough
    w0 = torch.where(near, 1 - t, torch.sin((1 - t) * omega) / sin_omega.clamp_min(1e-30))
    w1 = torch.where(near, t, torch.sin(t * omega) / sin_omega.clamp_min(1e-30))
    out = w0 * q0 + w1 * q1
    return out / out.norm(dim=-1, keepdim=True).clamp_min(_EPS)


@_numpy_compatible
def matrix_to_euler(m: torch.Tensor, order: str = "ZXY") -> torch.Tensor:
    """(..., 3, 3) -> (..., 3) angles in radians, listed in ``order``.

    ``order`` names the axes of R = R_a(a) @ R_b(b) @ R_c(c) (intrinsic rotations, as BVH
    channel lists read). Only the Tait-Bryan orders with all three axes are supported.
    """
    import torch
    axes = {"X": 0, "Y": 1, "Z": 2}
    if sorted(order) != ["X", "Y", "Z"]:
        raise ValueError(f"unsupported Euler order {order!r}")
    i, j, k = (axes[c] for c in order)
    # parity: +1 for cyclic orders (XYZ, YZX, ZXY), -1 otherwise
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    # R = Ri(a) Rj(b) Rk(c): middle angle from element (i, k)
    b = torch.asin((sign * m[..., i, k]).clamp(-1.0, 1.0))
    a = torch.atan2(-sign * m[..., j, k], m[..., k, k])
    c = torch.atan2(-sign * m[..., i, j], m[..., i, i])
    # Gimbal lock: b = +-90 deg, only a +- c is defined; put it all in a.
    locked = (m[..., i, k].abs() > 1 - 1e-9)
    a_locked = torch.atan2(sign * m[..., k, j], m[..., j, j])
    a = torch.where(locked, a_locked, a)
    c = torch.where(locked, torch.zeros_like(c), c)
    return torch.stack([a, b, c], -1)


def _axis_matrix(axis: int, angle: torch.Tensor) -> torch.Tensor:
    import torch
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    if axis == 0:
        rows = [one, zero, zero, zero, c, -s, zero, s, c]
    elif axis == 1:
        rows = [c, zero, s, zero, one, zero, -s, zero, c]
    else:
        rows = [c, -s, zero, s, c, zero, zero, zero, one]
    return torch.stack(rows, -1).reshape(*angle.shape, 3, 3)


@_numpy_compatible
def euler_to_matrix(angles: torch.Tensor, order: str = "ZXY") -> torch.Tensor:
    """Inverse of :func:`matrix_to_euler`."""
    axes = {"X": 0, "Y": 1, "Z": 2}
    mats = [_axis_matrix(axes[c], angles[..., n]) for n, c in enumerate(order)]
    return mats[0] @ mats[1] @ mats[2]


# ------------------------------------------------------------------ numpy fast path
# The data factory calls these thousands of times on arrays of a few dozen frames, where
# torch's per-call overhead dominates; they match the torch versions above (tested).

# the one numpy slerp lives in the add-on's bpy-free core, which the backend already imports
np_quaternion_slerp = _core_motion.quaternion_slerp


def np_quaternion_slerp_path(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Short-arc slerp from (..., 4) to (..., 4) at each of the (K,) weights ``t``: (K, ..., 4).
    ``np_quaternion_slerp`` with ``t`` on a leading axis, so the angle between the ends is
    computed once, not K times."""
    return np_quaternion_slerp(q0, q1, np.asarray(t, float).reshape((-1,) + (1,) * np.ndim(q0)))


def np_matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 4) (w, x, y, z) with w >= 0, by the largest of 4w², 4x², 4y², 4z²."""
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    rows = np.empty(m.shape[:-2] + (4, 4))      # row i: the quaternion scaled by 4 q_i
    rows[..., 0, 0] = 1 + m00 + m11 + m22
    rows[..., 1, 1] = 1 + m00 - m11 - m22
    rows[..., 2, 2] = 1 - m00 + m11 - m22
    rows[..., 3, 3] = 1 - m00 - m11 + m22
    rows[..., 0, 1] = rows[..., 1, 0] = m21 - m12
    rows[..., 0, 2] = rows[..., 2, 0] = m02 - m20
    rows[..., 0, 3] = rows[..., 3, 0] = m10 - m01
    rows[..., 1, 2] = rows[..., 2, 1] = m01 + m10
    rows[..., 1, 3] = rows[..., 3, 1] = m02 + m20
    rows[..., 2, 3] = rows[..., 3, 2] = m12 + m21
    pick = np.argmax(np.diagonal(rows, axis1=-2, axis2=-1), -1)
    q = np.take_along_axis(rows, pick[..., None, None], -2)[..., 0, :]
    q = q / np_norm(q, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def np_quaternion_to_axis_angle(q: np.ndarray) -> np.ndarray:
    q = q / np_norm(q, keepdims=True)
    q = np.where(q[..., :1] < 0, -q, q)
    s = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2 * np.arctan2(s, q[..., :1])
    return q[..., 1:] * np.where(s < 1e-6, 2 + angle ** 2 / 12, angle / np.where(s < 1e-6, 1.0, s))


def np_axis_angle_to_quaternion(aa: np.ndarray) -> np.ndarray:
    theta = np_norm(aa, keepdims=True)
    k = np.where(theta < 1e-6, 0.5 - theta ** 2 / 48, np.sin(theta / 2) / np.where(theta < 1e-6, 1.0, theta))
    return np.concatenate([np.cos(theta / 2), aa * k], -1)


def np_quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    q = q / np_norm(q, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def np_norm(v, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """Euclidean norm over the last axis (np.linalg.norm's checks cost more than the sum)."""
    v = np.asarray(v, float)
    if axis not in (-1, v.ndim - 1):
        raise ValueError("np_norm sums over the last axis only")
    n = np.sqrt(np.einsum("...i,...i->...", v, v))
    return n[..., None] if keepdims else n


def np_cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis, broadcasting (np.cross moves axes on every call)."""
    if np.ndim(a) == 1 and np.ndim(b) == 1:    # two 3-vectors: Python floats beat array calls
        (a0, a1, a2), (b0, b1, b2) = a.tolist(), b.tolist()
        return np.array([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0])
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], -1)


def np_axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors -> (..., 3, 3), the same Rodrigues series as the torch version."""
    aa = np.asarray(aa, float)
    theta2 = np.einsum("...i,...i->...", aa, aa)
    theta = np.sqrt(theta2)
    small = theta2 < 1e-8
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1 - theta2 / 6, np.sin(theta) / safe)
    b = np.where(small, 0.5 - theta2 / 24, (1 - np.cos(theta)) / (safe * safe))
    x, y, z = aa[..., 0], aa[..., 1], aa[..., 2]
    bx, by, bz = b * x, b * y, b * z
    bxy, bxz, byz = bx * y, bx * z, by * z
    ax, ay, az = a * x, a * y, a * z
    return np.stack([1 - by * y - bz * z, bxy - az, bxz + ay,
                     bxy + az, 1 - bx * x - bz * z, byz - ax,
                     bxz - ay, byz + ax, 1 - bx * x - by * y], -1).reshape(aa.shape + (3,))
