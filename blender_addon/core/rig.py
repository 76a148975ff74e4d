"""Where the SignForge armature's bones point at rest. numpy; never bpy.

Bones lie along the limbs, as Blender's own BVH importer lays out SignForge's BVH export
(``backend/io/bvh.py``): a bone's head is its joint, its tail its child's joint (the mean of
its children's joints where it has several, as the importer does: the pelvis, spine3, the
head, the wrists), a leaf's tail its BVH End Site (``end_offset``), and every roll is 0. So
a take keyed on the SignForge armature plays unchanged on the armature Blender's BVH import
makes of the same body. How keys relate to SMPL-X's local rotations under any rest
frames is ``core.motion.to_bone``/``from_bone``.
"""
from __future__ import annotations

import numpy as np

JAW_END = (0.0, -0.04, 0.06)   # m: the jaw bone runs down and forward to the chin
EYE_END = (0.0, 0.0, 0.02)     # m: an eye bone looks forward (+Z, the body's front)
LEAF_FRACTION = 0.8            # a fingertip or toe continues its parent bone by this much


def end_offset(name: str, head: np.ndarray, parent_head: np.ndarray) -> np.ndarray:
    """A leaf joint's End Site, from its head (also the BVH exporter's End Site)."""
    if name == "jaw":
        return np.array(JAW_END)
    if "eye" in name:
        return np.array(EYE_END)
    return (np.asarray(head, np.float64) - np.asarray(parent_head, np.float64)) * LEAF_FRACTION


def bone_tails(joints: np.ndarray, parents, names) -> np.ndarray:
    """(J, 3) tails of bones along the limbs for rest ``joints`` (J, 3), as Blender's BVH
    importer places them: the child's joint, the mean of several children's, a leaf's End Site."""
    joints = np.asarray(joints, np.float64)
    parents = np.asarray(parents)
    tails = np.empty_like(joints)
    for j in range(len(joints)):
        kids = np.flatnonzero(parents == j)
        if len(kids):
            tails[j] = joints[kids].mean(0)
        else:
            p = parents[j]
            tails[j] = joints[j] + end_offset(names[j], joints[j], joints[p] if p >= 0 else joints[j])
    return tails
