"""Forward kinematics over the 55-joint SMPL-X tree, joints only (no skinning).

Batched over frames, in torch; used where vertices are not needed (BVH, benchmarks,
cues) and as a check against smplx's own joints. May import torch; never bpy.
"""
from __future__ import annotations

import numpy as np
import torch

from . import rotations as R
from .skeleton import NUM_JOINTS, PARENTS


def forward_kinematics(local_rot: torch.Tensor | np.ndarray, rest_joints: torch.Tensor | np.ndarray,
                       trans: torch.Tensor | np.ndarray | None = None):
    """Global rotations (T, 55, 3, 3) and joint positions (T, 55, 3).

    ``local_rot`` holds each joint's rotation relative to its parent, as (T, 55, 3)
    axis-angle or (T, 55, 3, 3) matrices; ``rest_joints`` is the rest skeleton (55, 3).
    Parents precede children in SMPL-X order, so one pass suffices.
    """
    as_numpy = isinstance(local_rot, np.ndarray)
    rot = torch.as_tensor(local_rot, dtype=torch.float64 if as_numpy else None)
    if rot.shape[-1] == 3 and rot.dim() == 3:
        rot = R.axis_angle_to_matrix(rot)
    rest = torch.as_tensor(rest_joints, dtype=rot.dtype, device=rot.device)
    offsets = rest.clone()
    parents = torch.tensor(PARENTS[1:])
    offsets[1:] = rest[1:] - rest[parents]
    glob = [rot[:, 0]]
    pos = [offsets[0].expand(rot.shape[0], 3)]
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        glob.append(glob[p] @ rot[:, j])
        pos.append(pos[p] + (glob[p] @ offsets[j, :, None])[..., 0])
    glob_t = torch.stack(glob, 1)
    pos_t = torch.stack(pos, 1)
    if trans is not None:
        trans_t = torch.tensor(np.asarray(trans)) if isinstance(trans, np.ndarray) else trans
        pos_t = pos_t + trans_t.to(pos_t.dtype)[:, None]
    if as_numpy:
        return glob_t.numpy(), pos_t.numpy()
    return glob_t, pos_t
