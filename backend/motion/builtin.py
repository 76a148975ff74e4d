"""A built-in motion (a friendly wave), made from a few key poses.

It is what the demo writes before any model is installed: real key poses, eased and
slerped by ``Motion``. numpy + torch (rotations); never bpy.
"""
from __future__ import annotations

import numpy as np

from ..body import rotations as R
from ..body.skeleton import JOINT_INDEX as J
from ..body.skeleton import NUM_EXPRESSION, NUM_JOINTS, hand_joints
from .motion import Motion


def _compose(*axis_angles) -> np.ndarray:
    m = np.eye(3)
    for aa in axis_angles:
        m = m @ R.axis_angle_to_matrix(np.asarray(aa, float))
    return R.matrix_to_axis_angle(m)


def _rest_arms() -> np.ndarray:
    pose = np.zeros((NUM_JOINTS, 3))
    pose[J["left_shoulder"]] = (0, 0, -1.15)
    pose[J["right_shoulder"]] = (0, 0, 1.15)
    pose[J["left_elbow"]] = (0, -0.35, 0)
    pose[J["right_elbow"]] = (0, 0.35, 0)
    for side, s in (("left", 1), ("right", -1)):
        for k, j in enumerate(hand_joints(side)):
            curl = 0.0 if k >= 12 else 0.35  # fingers relaxed, thumb straight
            pose[j] = (0, 0, -s * curl)
    return pose


def _wave_pose(swing: float) -> np.ndarray:
    pose = _rest_arms()
    # Upper arm out and a little down, turned so that the elbow bends upward.
    pose[J["right_shoulder"]] = _compose((0, 0, 0.45), (-1.45, 0, 0))
    pose[J["right_elbow"]] = (0, 1.75 + swing, 0)
    pose[J["right_wrist"]] = (0, 0, -0.3 * swing)
    for j in hand_joints("right"):
        pose[j] = 0.0  # open hand
    pose[J["head"]] = (0.05, -0.1, 0)
    return pose


def wave(fps: float = 25.0, waves: int = 3, text: str = "the right hand waves hello") -> Motion:
    """Rest -> raise the right hand -> ``waves`` side-to-side waves -> rest."""
    keys = [(0.0, _rest_arms()), (0.7, _wave_pose(0.0))]
    t = 0.7
    for _ in range(waves):
        keys += [(t + 0.2, _wave_pose(0.35)), (t + 0.45, _wave_pose(-0.35))]
        t += 0.5
    keys += [(t + 0.25, _wave_pose(0.0)), (t + 1.0, _rest_arms())]
    times = np.array([k[0] for k in keys])
    key_motion = Motion(np.stack([k[1] for k in keys]), np.zeros((len(keys), 3)),
                        np.zeros((len(keys), NUM_EXPRESSION)), fps=1.0)
    frame_times = np.arange(int(round(times[-1] * fps)) + 1) / fps
    seg = np.clip(np.searchsorted(times, frame_times, side="right") - 1, 0, len(times) - 2)
    local = (frame_times - times[seg]) / (times[seg + 1] - times[seg])
    eased = local * local * (3 - 2 * local)  # ease in and out of every key
    smile = np.zeros((len(frame_times), NUM_EXPRESSION))
    smile[:, 1] = 1.5 * np.sin(np.pi * frame_times / frame_times[-1])
    sampled = key_motion._sample(seg + eased)
    return Motion(sampled.poses, sampled.trans, smile, fps, text=text,
                  provenance={"source": "signforge-builtin", "name": "wave"})
