"""BVH export of the 55-joint SMPL-X skeleton.

Joint names are SMPL-X's; offsets come from the rest skeleton of the body in use (the
mannequin or the user's SMPL-X, with the motion's betas). Axes are SMPL-X's, which are
BVH's usual ones (Y up, the body facing +Z): Blender's importer with its defaults
(forward -Z, up Y) stands the body up facing the front view. Units are metres. Every joint
has ZXY rotation channels (R = Rz Rx Ry, degrees); the root also has absolute positions.
Leaf joints end in an End Site that continues their bone. numpy + torch (rotations).
"""
from __future__ import annotations

import io
import os

import numpy as np

from ..body import rotations as R
from ..body.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS
from ..motion import Motion
from ..atomic import atomic_path

ORDER = "ZXY"
_CHANNELS = {"Z": "Zrotation", "X": "Xrotation", "Y": "Yrotation"}


def _children() -> list[list[int]]:
    kids = [[] for _ in range(NUM_JOINTS)]
    for j, p in enumerate(PARENTS):
        if p >= 0:
            kids[p].append(j)
    return kids


def _end_site(j: int, rest: np.ndarray) -> np.ndarray:
    name = JOINT_NAMES[j]
    if name == "jaw":
        return np.array([0.0, -0.04, 0.06])
    if "eye" in name:
        return np.array([0.0, 0.0, 0.02])
    bone = rest[j] - rest[PARENTS[j]]
    return bone * 0.8


def write_bvh(motion: Motion, path: str | os.PathLike, rest_joints: np.ndarray) -> None:
    """Write ``motion`` as BVH with the given rest skeleton (55, 3)."""
    rest = np.asarray(rest_joints, dtype=np.float64)
    if rest.shape != (NUM_JOINTS, 3):
        raise ValueError(f"rest_joints must be (55, 3); got {rest.shape}")
    kids = _children()
    rot_channels = " ".join(_CHANNELS[c] for c in ORDER)
    out = io.StringIO()
    out.write("HIERARCHY\n")

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        offset = rest[j] if PARENTS[j] < 0 else rest[j] - rest[PARENTS[j]]
        head = "ROOT" if PARENTS[j] < 0 else "JOINT"
        out.write(f"{pad}{head} {JOINT_NAMES[j]}\n{pad}{{\n")
        out.write(f"{pad}\tOFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}\n")
        if PARENTS[j] < 0:
            out.write(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot_channels}\n")
        else:
            out.write(f"{pad}\tCHANNELS 3 {rot_channels}\n")
        for k in kids[j]:
            emit(k, depth + 1)
        if not kids[j]:
            e = _end_site(j, rest)
            out.write(f"{pad}\tEnd Site\n{pad}\t{{\n{pad}\t\tOFFSET {e[0]:.6f} {e[1]:.6f} {e[2]:.6f}\n"
                      f"{pad}\t}}\n")
        out.write(f"{pad}}}\n")

    emit(0, 0)
    # Channel data in the order joints appear in the hierarchy (depth first).
    order: list[int] = []

    def walk(j: int) -> None:
        order.append(j)
        for k in kids[j]:
            walk(k)

    walk(0)
    mats = R.axis_angle_to_matrix(motion.poses.astype(np.float64))
    euler = np.degrees(R.matrix_to_euler(mats[:, order], ORDER))  # (T, 55, 3)
    root_pos = rest[0] + motion.trans.astype(np.float64)
    values = np.concatenate([root_pos, euler.reshape(motion.num_frames, -1)], 1)
    out.write(f"MOTION\nFrames: {motion.num_frames}\nFrame Time: {1.0 / motion.fps:.10f}\n")
    np.savetxt(out, values, fmt="%.6f")
    with atomic_path(path) as tmp:
        tmp.write_text(out.getvalue())
