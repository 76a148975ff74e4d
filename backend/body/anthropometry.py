"""Rest-pose proportions of the SignForge mannequin, in metres.

SMPL-X axes: +Y up, +Z forward (the way the body faces), +X the body's left. T-pose with
palms down, pelvis joint at the origin. Values are adult averages (mixed sexes, stature
about 1.71 m) from the usual anthropometric tables: biacromial breadth ~0.39 m, upper arm
(shoulder-elbow) ~0.28 m, forearm (elbow-wrist) ~0.25 m, hand length ~0.19 m with the
palm ~0.095 m, head height ~0.23 m, interpupillary distance ~0.064 m; finger segments as
measured for the proximal/middle/distal phalanges. Only the left side is written: the
right side is its mirror (x -> -x).

Pure numpy; no torch, no bpy.
"""
from __future__ import annotations

import numpy as np

# Central joints.
CENTRAL = {
    "pelvis": (0.0, 0.0, 0.0),
    "spine1": (0.0, 0.105, -0.018),
    "spine2": (0.0, 0.225, -0.012),
    "spine3": (0.0, 0.300, -0.008),
    "neck": (0.0, 0.485, -0.030),
    "head": (0.0, 0.590, -0.010),
    "jaw": (0.0, 0.615, 0.020),
}

# Left-side joints (the right side mirrors them).
LEFT = {
    "hip": (0.085, -0.080, -0.010),
    "knee": (0.100, -0.495, 0.000),
    "ankle": (0.092, -0.905, -0.040),
    "foot": (0.100, -0.965, 0.095),
    "collar": (0.070, 0.420, -0.020),
    "shoulder": (0.185, 0.440, -0.030),
    "elbow": (0.465, 0.440, -0.040),
    "wrist": (0.715, 0.440, -0.035),
    "eye_smplhf": (0.032, 0.672, 0.068),
}

WRIST = np.array(LEFT["wrist"])

# Knuckle (joint 1) offsets from the wrist, and the direction each finger points.
KNUCKLES = {
    "index": ((0.094, 0.000, 0.029), (1.0, 0.0, 0.07)),
    "middle": ((0.098, 0.000, 0.008), (1.0, 0.0, 0.0)),
    "ring": ((0.092, -0.002, -0.012), (1.0, 0.0, -0.06)),
    "pinky": ((0.081, -0.004, -0.030), (1.0, -0.02, -0.14)),
    "thumb": ((0.022, -0.013, 0.024), (0.70, -0.22, 0.68)),
}
# Segment lengths joint1->joint2, joint2->joint3, joint3->fingertip.
SEGMENTS = {
    "index": (0.041, 0.024, 0.021),
    "middle": (0.045, 0.028, 0.022),
    "ring": (0.042, 0.027, 0.021),
    "pinky": (0.034, 0.020, 0.019),
    "thumb": (0.042, 0.032, 0.027),
}
# Finger half-thickness at joint1, joint2, joint3 and near the tip.
FINGER_RADII = {
    "index": (0.0100, 0.0088, 0.0078, 0.0068),
    "middle": (0.0102, 0.0090, 0.0080, 0.0070),
    "ring": (0.0096, 0.0085, 0.0076, 0.0066),
    "pinky": (0.0086, 0.0076, 0.0068, 0.0060),
    "thumb": (0.0135, 0.0112, 0.0100, 0.0088),
}


def left_finger_joints() -> dict[str, np.ndarray]:
    """Positions of joint1, joint2, joint3 and the fingertip of each left finger."""
    out = {}
    for finger, (offset, direction) in KNUCKLES.items():
        d = np.asarray(direction, float)
        d /= np.linalg.norm(d)
        p1 = WRIST + np.asarray(offset)
        l1, l2, l3 = SEGMENTS[finger]
        # Fingers droop very slightly along their length, as a relaxed flat hand does.
        droop = np.array([0.0, -0.05, 0.0]) if finger != "thumb" else np.zeros(3)
        d2 = d + droop
        d2 /= np.linalg.norm(d2)
        p2 = p1 + l1 * d
        p3 = p2 + l2 * d2
        tip = p3 + l3 * d2
        out[finger] = np.stack([p1, p2, p3, tip])
    return out


def mirror(p) -> np.ndarray:
    p = np.array(p, dtype=float)
    p[..., 0] *= -1
    return p
