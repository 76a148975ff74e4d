"""HandMDM's kinematic losses on the predicted clean motion, on top of the x0 MSE (MDM's geometric losses).

A feature MSE alone lets a model snap to a pose and hold it: the frames are close on
average while the hands jump at 9 m/s and never travel. These terms see what a viewer
sees (MDM, Tevet et al. 2023, eq. 4-6: L_pos, L_vel over forward kinematics):

- ``vel``: frame-to-frame differences of the predicted features against the ground
  truth's, in the normalized space the x0 MSE uses (so each feature weighs as it does there);
- ``pos``: squared distance in metres^2 of both wrists and all ten fingertips, by
  ``backend.body.feature_fk.FeatureFK`` on the denormalized 6D rotations;
- ``pos_vel``: the same points' velocities, squared error in (m/s)^2;
- ``contact`` (optional): where two of those points touch in the ground truth (closer
  than ``CONTACT`` m: hands together, a pinch), the squared error of their predicted
  distance in m^2, averaged over the touching pairs.

Every term is averaged over real frames only (the collate frame mask; a velocity needs
both of its frames real) and is zero when prediction equals target. torch; never bpy.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from backend.body.feature_fk import FeatureFK

FPS = 25.0
CONTACT = 0.03   # metres: closer than this, two points of the hands touch


def _masked_mean(err: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of (B, T, ...) ``err`` over its trailing dims and the frames ``mask`` (B, T) keeps."""
    per_frame = err.reshape(err.shape[0], err.shape[1], -1).mean(-1)
    m = mask.to(per_frame.dtype)
    return (per_frame * m).sum() / m.sum().clamp_min(1.0)


def _distances(points: torch.Tensor) -> torch.Tensor:
    """(..., N, 3) -> (..., N, N) pairwise distances, with a finite gradient at zero (cdist's is NaN)."""
    diff = points[..., :, None, :] - points[..., None, :, :]
    return (diff.pow(2).sum(-1) + 1e-12).sqrt()


class KinematicLoss(nn.Module):
    """``forward(pred, target, mask)`` -> {"vel", "pos", "pos_vel"} unweighted, for normalized frames."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, fps: float = FPS, fk: FeatureFK | None = None):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, np.float32)), persistent=False)
        self.register_buffer("std", torch.as_tensor(np.asarray(std, np.float32)), persistent=False)
        self.fps = fps
        self.fk = fk or FeatureFK()

    def forward(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                positions: bool = True, contact: bool = False) -> dict[str, torch.Tensor]:
        pair = mask[:, 1:] & mask[:, :-1]
        out = {"vel": _masked_mean(((pred[:, 1:] - pred[:, :-1]) - (target[:, 1:] - target[:, :-1])) ** 2, pair)}
        if positions:
            p = self.fk(pred * self.std + self.mean)                       # (B, T, 12, 3) metres
            with torch.no_grad():
                q = self.fk(target * self.std + self.mean)
            out["pos"] = _masked_mean(((p - q) ** 2).sum(-1), mask)
            dv = ((p[:, 1:] - p[:, :-1]) - (q[:, 1:] - q[:, :-1])) * self.fps
            out["pos_vel"] = _masked_mean((dv ** 2).sum(-1), pair)
            if contact:
                dp, dq = _distances(p), _distances(q)                          # (B, T, 12, 12)
                eye = torch.eye(dq.shape[-1], dtype=torch.bool, device=dq.device)
                touch = (dq < CONTACT) & ~eye & mask[..., None, None]
                n = touch.sum().clamp_min(1)
                out["contact"] = (((dp - dq) ** 2) * touch).sum() / n
        return out
