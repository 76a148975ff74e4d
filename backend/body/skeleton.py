"""The SMPL-X skeleton and the HandMDM 274-D frame layout, written once.

Owns joint names, parents, left/right pairs and the index tables that every other
module uses. Pure Python + numpy; no torch, no bpy.
"""
from __future__ import annotations

import numpy as np

# The 55 SMPL-X joints in the order of the model's kinematic tree (smplx.joint_names).
JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "jaw",
    "left_eye_smplhf", "right_eye_smplhf",
    "left_index1", "left_index2", "left_index3", "left_middle1", "left_middle2",
    "left_middle3", "left_pinky1", "left_pinky2", "left_pinky3", "left_ring1",
    "left_ring2", "left_ring3", "left_thumb1", "left_thumb2", "left_thumb3",
    "right_index1", "right_index2", "right_index3", "right_middle1", "right_middle2",
    "right_middle3", "right_pinky1", "right_pinky2", "right_pinky3", "right_ring1",
    "right_ring2", "right_ring3", "right_thumb1", "right_thumb2", "right_thumb3",
)
NUM_JOINTS = len(JOINT_NAMES)  # 55
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}


def _parent_table() -> tuple[int, ...]:
    """Parents by name, so the table reads as anatomy rather than as magic numbers."""
    by_name = {
        "left_hip": "pelvis", "right_hip": "pelvis", "spine1": "pelvis",
        "left_knee": "left_hip", "right_knee": "right_hip", "spine2": "spine1",
        "left_ankle": "left_knee", "right_ankle": "right_knee", "spine3": "spine2",
        "left_foot": "left_ankle", "right_foot": "right_ankle", "neck": "spine3",
        "left_collar": "spine3", "right_collar": "spine3", "head": "neck",
        "left_shoulder": "left_collar", "right_shoulder": "right_collar",
        "left_elbow": "left_shoulder", "right_elbow": "right_shoulder",
        "left_wrist": "left_elbow", "right_wrist": "right_elbow",
        "jaw": "head", "left_eye_smplhf": "head", "right_eye_smplhf": "head",
    }
    for side in ("left", "right"):
        for finger in ("index", "middle", "pinky", "ring", "thumb"):
            by_name[f"{side}_{finger}1"] = f"{side}_wrist"
            by_name[f"{side}_{finger}2"] = f"{side}_{finger}1"
            by_name[f"{side}_{finger}3"] = f"{side}_{finger}2"
    return tuple(-1 if n == "pelvis" else JOINT_INDEX[by_name[n]] for n in JOINT_NAMES)


PARENTS: tuple[int, ...] = _parent_table()

# Mirror partner of each joint (left <-> right); central joints map to themselves.
MIRROR: tuple[int, ...] = tuple(
    JOINT_INDEX[n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")]
    for n in JOINT_NAMES
)

FINGERS: tuple[str, ...] = ("index", "middle", "pinky", "ring", "thumb")  # SMPL-X order


def hand_joints(side: str) -> tuple[int, ...]:
    """The 15 finger joints of one hand, in SMPL-X order (index1 .. thumb3)."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")
    return tuple(JOINT_INDEX[f"{side}_{f}{k}"] for f in FINGERS for k in (1, 2, 3))


# ---- SMPL-X parameter blocks (smplx.SMPLX forward arguments) -----------------------
BODY_JOINTS = tuple(range(1, 22))        # body_pose: 21 joints after the pelvis
LEFT_HAND_JOINTS = hand_joints("left")   # 25..39
RIGHT_HAND_JOINTS = hand_joints("right")  # 40..54
JAW_JOINT = JOINT_INDEX["jaw"]
EYE_JOINTS = (JOINT_INDEX["left_eye_smplhf"], JOINT_INDEX["right_eye_smplhf"])

# ---- HandMDM 274-D frame -------------------------------------------------------------
UPPER_BODY_NAMES: tuple[str, ...] = (
    "spine1", "spine2", "spine3", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist",
)
UPPER_BODY_JOINTS = tuple(JOINT_INDEX[n] for n in UPPER_BODY_NAMES)
# Joints carried by the feature vector, in feature order: 13 + 15 + 15 + 1 = 44.
FEATURE_JOINTS: tuple[int, ...] = (
    UPPER_BODY_JOINTS + LEFT_HAND_JOINTS + RIGHT_HAND_JOINTS + (JAW_JOINT,)
)
NUM_EXPRESSION = 10
FEATURE_DIM = 6 * len(FEATURE_JOINTS) + NUM_EXPRESSION  # 274

# Joints that the features leave out; a motion built from features holds them at rest
# (zero axis-angle): pelvis/global orientation, hips, knees, ankles, feet and eyes.
REST_JOINTS: tuple[int, ...] = tuple(j for j in range(NUM_JOINTS) if j not in FEATURE_JOINTS)

# Slices of the 274-D vector, for readers of the layout.
FEATURE_SLICES: dict[str, slice] = {
    "upper_body": slice(0, 78),
    "left_hand": slice(78, 168),
    "right_hand": slice(168, 258),
    "jaw": slice(258, 264),
    "expression": slice(264, 274),
}

# ---- the 165-D SMPL-X pose vector of AMASS-style npz files --------------------------
# global 3 | body 63 | jaw 3 | left eye 3 | right eye 3 | left hand 45 | right hand 45,
# which is exactly the 55 joints in tree order, flattened.
POSES_DIM = 3 * NUM_JOINTS  # 165


def as_int_array(joints: tuple[int, ...]) -> np.ndarray:
    return np.asarray(joints, dtype=np.int64)
