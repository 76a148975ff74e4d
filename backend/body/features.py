"""HandMDM's 274-D frame <-> SMPL-X pose parameters.

Layout (backend.body.skeleton.FEATURE_JOINTS): 13 upper-body joints, 15 left-hand joints,
15 right-hand joints and the jaw, each as 6D (first two columns of its rotation matrix),
then 10 expression coefficients. Hand rotations are relative to the FLAT hand (smplx
``flat_hand_mean=True``, ``use_pca=False``), as HandMDM's are.

Joints the layout leaves out (global orientation, hips, knees, ankles, feet, eyes) come
back at their rest pose: zero axis-angle, i.e. an upright body facing +Z with straight
legs, and translation zero. May import torch (through rotations); never bpy.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from . import rotations as R
from .skeleton import FEATURE_DIM, FEATURE_JOINTS, NUM_EXPRESSION, NUM_JOINTS

RotationKind = Literal["axis_angle", "matrix", "quaternion"]
_FJ = np.asarray(FEATURE_JOINTS)


def _as_matrices(pose: np.ndarray) -> np.ndarray:
    """Accept (..., 55, 3) axis-angle, (..., 55, 4) quaternions or (..., 55, 3, 3)."""
    if pose.shape[-2:] == (3, 3) and pose.shape[-3] == NUM_JOINTS:
        return pose
    if pose.shape[-2:] == (NUM_JOINTS, 3):
        return R.axis_angle_to_matrix(pose)
    if pose.shape[-2:] == (NUM_JOINTS, 4):
        return R.quaternion_to_matrix(pose)
    raise ValueError(f"pose must be (..., 55, 3), (..., 55, 4) or (..., 55, 3, 3); got {pose.shape}")


def pose_to_features(pose: np.ndarray, expression: np.ndarray | None = None) -> np.ndarray:
    """SMPL-X pose (any rotation kind) + expression (..., 10) -> (..., 274) features."""
    pose = np.asarray(pose)
    if pose.shape[-2:] == (NUM_JOINTS, 3):    # the common case, in numpy: only the layout's joints
        dtype = pose.dtype if np.issubdtype(pose.dtype, np.floating) else np.float64
        mats = R.np_axis_angle_to_matrix(pose[..., _FJ, :]).astype(dtype, copy=False)
    else:
        mats = _as_matrices(pose)[..., _FJ, :, :]
    six = np.concatenate([mats[..., :, 0], mats[..., :, 1]], -1)
    lead = six.shape[:-2]
    if expression is None:
        expression = np.zeros(lead + (NUM_EXPRESSION,), dtype=six.dtype)
    expression = np.asarray(expression, dtype=six.dtype)
    if expression.shape != lead + (NUM_EXPRESSION,):
        raise ValueError(f"expression must be {lead + (NUM_EXPRESSION,)}; got {expression.shape}")
    return np.concatenate([six.reshape(lead + (-1,)), expression], -1)


def features_to_pose(features: np.ndarray, rotation: RotationKind = "axis_angle"
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(..., 274) features -> (pose (..., 55, k), expression (..., 10)).

    ``rotation`` picks the pose's kind: axis_angle (k=3), quaternion (k=4, w first) or
    matrix (..., 55, 3, 3). Joints outside the layout are at rest.
    """
    features = np.asarray(features)
    if features.shape[-1] != FEATURE_DIM:
        raise ValueError(f"features must end in {FEATURE_DIM}; got {features.shape}")
    lead = features.shape[:-1]
    six = features[..., : 6 * len(FEATURE_JOINTS)].reshape(lead + (len(FEATURE_JOINTS), 6))
    mats = np.broadcast_to(np.eye(3, dtype=features.dtype), lead + (NUM_JOINTS, 3, 3)).copy()
    mats[..., _FJ, :, :] = R.rot6d_to_matrix(six)
    expression = features[..., 6 * len(FEATURE_JOINTS):].copy()
    if rotation == "matrix":
        return mats, expression
    if rotation == "quaternion":
        return R.matrix_to_quaternion(mats), expression
    if rotation == "axis_angle":
        return R.matrix_to_axis_angle(mats), expression
    raise ValueError(f"unknown rotation kind {rotation!r}")
