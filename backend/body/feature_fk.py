"""Differentiable forward kinematics from HandMDM's 274-D frames to wrists and fingertips.

Training losses need the positions a viewer sees (MDM's geometric losses), with gradients
back to the predicted 6D rotations. ``FeatureFK`` poses only the joints between the
pelvis and the fingertips (spine, collars, arms, wrists, fingers), one tree depth at a
time as ``rig.forward`` does, so a batch of 64 x 76 frames is a dozen batched matrix
products. Joints the 274-D frame leaves out sit at rest, the pelvis at its rest place, as
in ``features_to_pose``. Each fingertip is carried by its distal joint at its rest offset
(``anthropometry.left_finger_joints``, mirrored for the right hand). torch; never bpy.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import anthropometry as A
from .rotations import rot6d_to_matrix
from .skeleton import FEATURE_JOINTS, FINGERS, JOINT_INDEX, NUM_JOINTS, PARENTS

SIDES = ("left", "right")
# The points the kinematic losses watch, in this order: both wrists, then each hand's tips.
POINT_NAMES: tuple[str, ...] = tuple(f"{s}_wrist" for s in SIDES) + tuple(
    f"{s}_{f}_tip" for s in SIDES for f in FINGERS)
_DISTAL = tuple(JOINT_INDEX[f"{s}_{f}3"] for s in SIDES for f in FINGERS)
_WRISTS = tuple(JOINT_INDEX[f"{s}_wrist"] for s in SIDES)


def _chain() -> list[int]:
    """The wrists, fingers and all their ancestors, parents before children."""
    need = set()
    for j in _WRISTS + _DISTAL:
        while j >= 0:
            need.add(j)
            j = PARENTS[j]
    return sorted(need)


def tip_offsets() -> np.ndarray:
    """(10, 3) rest offset of each fingertip from its distal joint (left hand, then right): the
    mannequin's hand table, used for any rest skeleton."""
    table = A.left_finger_joints()
    left = np.stack([table[f][3] - table[f][2] for f in FINGERS])
    return np.concatenate([left, A.mirror(left)])


class FeatureFK(nn.Module):
    """``forward(frames)``: (..., 274) denormalized frames -> (..., 12, 3) points (``POINT_NAMES``)."""

    def __init__(self, rest_joints: np.ndarray | None = None):
        super().__init__()
        if rest_joints is None:
            from .mannequin import rest_joints as mannequin_rest

            rest_joints = mannequin_rest()
        rest = np.asarray(rest_joints, np.float64)
        chain = _chain()
        depth = {0: 0}
        for j in chain[1:]:
            depth[j] = depth[PARENTS[j]] + 1
        self.levels = [[j for j in chain if depth[j] == d] for d in range(1, max(depth.values()) + 1)]
        offsets = rest.copy()
        offsets[1:] = rest[1:] - rest[list(PARENTS[1:])]
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.float32), persistent=False)
        self.register_buffer("tips", torch.tensor(tip_offsets(), dtype=torch.float32), persistent=False)
        # per depth: where each joint's parent sits in the depth above, and its local rotation
        # among the frame's 44 (44: at rest); parents always sit exactly one depth up
        slot = np.full(NUM_JOINTS, len(FEATURE_JOINTS))
        slot[list(FEATURE_JOINTS)] = np.arange(len(FEATURE_JOINTS))
        where = {0: (0, 0)}
        self.plan = []
        for d, joints in enumerate(self.levels, 1):
            above = [0] if d == 1 else self.levels[d - 2]
            self.plan.append((torch.tensor([above.index(PARENTS[j]) for j in joints]),
                              torch.tensor(slot[joints]), torch.tensor(offsets[joints], dtype=torch.float32)))
            where.update({j: (d, k) for k, j in enumerate(joints)})
        self.wanted = [where[j] for j in _WRISTS + _DISTAL]

    def joints(self, frames: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Global rotations (..., n, 3, 3) and positions (..., n, 3) per tree depth of the chain
        (depth 0 is the pelvis; ``self.levels[d - 1]`` names depth d's joints)."""
        lead = frames.shape[:-1]
        six = frames[..., :6 * len(FEATURE_JOINTS)].reshape(lead + (len(FEATURE_JOINTS), 6))
        eye = torch.eye(3, dtype=frames.dtype, device=frames.device)
        local = torch.cat([rot6d_to_matrix(six), eye.expand(lead + (1, 3, 3))], -3)   # (..., 45, 3, 3)
        globs = [eye.expand(lead + (1, 3, 3))]
        poss = [self.offsets[0].to(frames.dtype).expand(lead + (1, 3))]
        for parent, rot_slot, off in self.plan:
            gp = globs[-1].index_select(-3, parent.to(frames.device))              # (..., n, 3, 3)
            rots = local.index_select(-3, rot_slot.to(frames.device))
            # 3x3 products written out: batched matmul of millions of tiny matrices is far slower on CPU
            globs.append((gp[..., :, :, None] * rots[..., None, :, :]).sum(-2))
            poss.append(poss[-1].index_select(-2, parent.to(frames.device))
                        + (gp * off.to(frames)[:, None, :]).sum(-1))
        return globs, poss

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        globs, poss = self.joints(frames)
        pick = lambda xs, ks, dim: torch.stack([xs[d].select(dim, k) for d, k in ks], dim)   # noqa: E731
        wrists = pick(poss, self.wanted[:2], -2)
        distal_rot = pick(globs, self.wanted[2:], -3)
        distal_pos = pick(poss, self.wanted[2:], -2)
        tips = distal_pos + (distal_rot * self.tips.to(frames.dtype)[:, None, :]).sum(-1)
        return torch.cat([wrists, tips], -2)
