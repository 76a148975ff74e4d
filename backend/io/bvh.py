"""BVH export of the 55-joint SMPL-X skeleton.

Joint names are SMPL-X's, or Mixamo's (``skeleton="mixamo"``: ``mixamorig:Hips``,
``mixamorig:LeftHandIndex1``..., the names retargeting tools map from); offsets come from the
rest skeleton of the body in use (the mannequin or the user's SMPL-X, with the motion's
betas). Axes are SMPL-X's, which are BVH's usual ones (Y up, the body facing +Z): Blender's
importer with its defaults (forward -Z, up Y) stands the body up facing the front view.
Units are metres, or centimetres (``units="cm"``, what Mixamo, Unity and Unreal rigs use).
Every joint has ZXY rotation channels (R = Rz Rx Ry, degrees); the root also has absolute
positions. Leaf joints end in an End Site that continues their bone. Reading takes either
naming, and centimetres when the skeleton is too big to be in metres. numpy + torch
(rotations).
"""
from __future__ import annotations

import io
import os
import warnings

import numpy as np

from blender_addon.core.limits import LimitError, check_file_size, check_frames
from blender_addon.core.retarget import MIXAMO
from blender_addon.core.rig import end_offset

from ..atomic import atomic_path
from ..body import rotations as R
from ..body.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS
from ..motion import Motion
from .formats import SKELETONS, UNIT_SCALE

ORDER = "ZXY"
_CHANNELS = {"Z": "Zrotation", "X": "Xrotation", "Y": "Yrotation"}
# Mixamo's bone names are the retargeting map's (one owner: blender_addon/core/retarget.py),
# which keys no jaw or eyes; a BVH names every joint, so those take Mixamo-style names here.
MIXAMO_NAMES = {j: "mixamorig:" + {**MIXAMO.bones, "jaw": "Jaw", "left_eye_smplhf": "LeftEye",
                                   "right_eye_smplhf": "RightEye"}[j] for j in JOINT_NAMES}
_FROM_MIXAMO = {v: k for k, v in MIXAMO_NAMES.items()}
_FROM_MIXAMO.update({v.split(":", 1)[1]: k for k, v in MIXAMO_NAMES.items()})   # without the prefix too
# A human skeleton in metres has no bone offset this long; one in centimetres has many.
_CM_OFFSET = 3.0


def _children() -> list[list[int]]:
    kids: list[list[int]] = [[] for _ in range(NUM_JOINTS)]
    for j, p in enumerate(PARENTS):
        if p >= 0:
            kids[p].append(j)
    return kids


def _end_site(j: int, rest: np.ndarray) -> np.ndarray:
    # the add-on's armature puts its leaf bones' tails here too, so Blender's BVH import of this
    # file lays out the same bones as the armature SignForge builds (blender_addon/core/rig.py)
    return end_offset(JOINT_NAMES[j], rest[j], rest[PARENTS[j]])


def write_bvh(motion: Motion, path: str | os.PathLike, rest_joints: np.ndarray, skeleton: str = "smplx",
              units: str = "m") -> None:
    """Write ``motion`` as BVH with the given rest skeleton (55, 3), SMPL-X's or Mixamo's
    joint names (``skeleton``) and lengths in ``units`` ("m" or "cm")."""
    rest = np.asarray(rest_joints, dtype=np.float64)
    if rest.shape != (NUM_JOINTS, 3):
        raise ValueError(f"rest_joints must be (55, 3); got {rest.shape}")
    if skeleton not in SKELETONS or units not in UNIT_SCALE:
        raise ValueError(f"BVH skeleton {skeleton!r} and units {units!r}; expected one of "
                         f"{', '.join(SKELETONS)} and one of {', '.join(UNIT_SCALE)}")
    scale = UNIT_SCALE[units]
    names = [MIXAMO_NAMES[n] for n in JOINT_NAMES] if skeleton == "mixamo" else list(JOINT_NAMES)
    kids = _children()
    rot_channels = " ".join(_CHANNELS[c] for c in ORDER)
    out = io.StringIO()
    out.write("HIERARCHY\n")

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        offset = (rest[j] if PARENTS[j] < 0 else rest[j] - rest[PARENTS[j]]) * scale
        head = "ROOT" if PARENTS[j] < 0 else "JOINT"
        out.write(f"{pad}{head} {names[j]}\n{pad}{{\n")
        out.write(f"{pad}\tOFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}\n")
        if PARENTS[j] < 0:
            out.write(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot_channels}\n")
        else:
            out.write(f"{pad}\tCHANNELS 3 {rot_channels}\n")
        for k in kids[j]:
            emit(k, depth + 1)
        if not kids[j]:
            e = _end_site(j, rest) * scale
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
    root_pos = (rest[0] + motion.trans.astype(np.float64)) * scale
    values = np.concatenate([root_pos, euler.reshape(motion.num_frames, -1)], 1)
    out.write(f"MOTION\nFrames: {motion.num_frames}\nFrame Time: {1.0 / motion.fps:.10f}\n")
    np.savetxt(out, values, fmt="%.6f")
    with atomic_path(path) as tmp:
        tmp.write_text(out.getvalue())


_AXES = {"Xrotation": "X", "Yrotation": "Y", "Zrotation": "Z"}
_POSITIONS = ("Xposition", "Yposition", "Zposition")


def _check_hierarchy(path, joints: list[tuple[str, list[str], np.ndarray]]) -> None:
    """SMPL-X joint names, each once; known channels, each once; rotations as three axes."""
    from .errors import MotionFileError

    if not joints:
        raise MotionFileError(path, "the BVH hierarchy has no joints")
    unknown = [name for name, _, _ in joints if name not in JOINT_NAMES and name not in _FROM_MIXAMO]
    if unknown:
        raise MotionFileError(path, f"joints {', '.join(unknown[:5])} are not SMPL-X joints; SignForge reads "
                                    f"BVH files of the SMPL-X skeleton, with SMPL-X's or Mixamo's joint names "
                                    f"(retargeting other rigs is not supported)")
    names = [name for name, _, _ in joints]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise MotionFileError(path, f"joint {twice[0]} appears more than once in the hierarchy")
    for name, channels, _ in joints:
        odd = [c for c in channels if c not in _AXES and c not in _POSITIONS]
        if odd:
            raise MotionFileError(path, f"joint {name}: unknown channel {odd[0]!r}")
        if len(set(channels)) != len(channels):
            raise MotionFileError(path, f"joint {name}: a channel is listed twice ({' '.join(channels)})")
        rot = [c for c in channels if c in _AXES]
        if rot and len(rot) != 3:
            raise MotionFileError(path, f"joint {name}: {len(rot)} rotation channel(s); BVH rotations need "
                                        f"all three axes")


def read_bvh(path: str | os.PathLike, fps: float | None = None) -> Motion:
    """Read a BVH of the SMPL-X skeleton (SignForge's own or any tool's with SMPL-X joint names).

    Rotations are taken as SMPL-X local rotations, which holds for skeletons whose rest pose
    is SMPL-X's (BVH has no rest orientations). Joints the file lacks stay at rest. Other
    skeletons (Hips/Spine/...) would need retargeting and are refused by name.
    """
    from .errors import MotionFileError

    try:
        check_file_size(path)
    except LimitError as exc:
        raise MotionFileError(path, str(exc)) from None
    text = open(path, encoding="utf-8", errors="replace").read()
    if "HIERARCHY" not in text or "MOTION" not in text:
        raise MotionFileError(path, "not a BVH file (no HIERARCHY/MOTION sections)")
    head, _, motion_part = text.partition("MOTION")
    tokens = head.split()
    joints: list[tuple[str, list[str], np.ndarray]] = []   # name, channels, offset; hierarchy order
    k = 0
    while k < len(tokens):
        tok = tokens[k]
        if tok in ("ROOT", "JOINT"):
            joints.append((tokens[k + 1], [], np.zeros(3)))
            k += 2
        elif tok == "End":
            depth, k = 0, k + 2   # skip "End Site { OFFSET x y z }"
            while k < len(tokens):
                depth += tokens[k] == "{"
                depth -= tokens[k] == "}"
                k += 1
                if depth == 0:
                    break
        elif tok == "OFFSET" and joints:
            joints[-1] = (joints[-1][0], joints[-1][1], np.array(tokens[k + 1:k + 4], float))
            k += 4
        elif tok == "CHANNELS" and joints:
            try:
                n = int(tokens[k + 1])
            except (IndexError, ValueError):
                raise MotionFileError(path, f"joint {joints[-1][0]}: CHANNELS needs a count") from None
            joints[-1][1].extend(tokens[k + 2:k + 2 + n])
            k += 2 + n
        else:
            k += 1
    _check_hierarchy(path, joints)
    joints = [(_FROM_MIXAMO.get(name, name), channels, offset) for name, channels, offset in joints]
    named = [name for name, _, _ in joints]
    twice = sorted({n for n in named if named.count(n) > 1})
    if twice:
        raise MotionFileError(path, f"joint {twice[0]} appears more than once in the hierarchy (by both names)")
    # centimetres: a human skeleton with bones this long cannot be in metres
    scale = 0.01 if max(float(np.abs(o).max()) for _, _, o in joints) > _CM_OFFSET else 1.0
    head_lines = motion_part.lstrip().split("\n", 2)
    try:
        frames = int(head_lines[0].split(":")[1])
        frame_time = float(head_lines[1].split(":")[1])
        check_frames(frames)
    except LimitError as exc:
        raise MotionFileError(path, str(exc)) from None
    except (IndexError, ValueError):
        raise MotionFileError(path, "the MOTION section is malformed (Frames:, Frame Time:, then one row "
                                    "per frame)") from None
    width = sum(len(ch) for _, ch, _ in joints)
    if frames < 1:
        raise MotionFileError(path, f"the MOTION section declares {frames} frames")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)   # numpy's word for "not a number here"
        try:   # one pass over the text, no per-value Python strings
            values = np.fromstring(head_lines[2] if len(head_lines) > 2 else "", dtype=float, sep=" ")
        except (DeprecationWarning, ValueError):
            values = np.zeros(0)
    if len(values) < frames * width:
        raise MotionFileError(path, f"expected {frames} rows of {width} numbers after Frame Time; got "
                                    f"{len(values)} numbers before the data ended or stopped being numbers")
    data = values[:frames * width].reshape(frames, width)
    if not np.isfinite(data).all() or frame_time <= 0:
        raise MotionFileError(path, "the motion holds non-finite values or a non-positive frame time")
    index = {n: i for i, n in enumerate(JOINT_NAMES)}
    mats = np.broadcast_to(np.eye(3), (frames, NUM_JOINTS, 3, 3)).copy()
    trans = np.zeros((frames, 3))
    col = 0
    for name, channels, offset in joints:
        values = data[:, col:col + len(channels)]
        col += len(channels)
        rot = [(c, values[:, i]) for i, c in enumerate(channels) if c in _AXES]
        if rot:
            order = "".join(_AXES[c] for c, _ in rot)
            angles = np.radians(np.stack([v for _, v in rot], -1))
            mats[:, index[name]] = R.euler_to_matrix(angles, order)
        pos = [values[:, i] for i, c in enumerate(channels) if c in _POSITIONS]
        if len(pos) == 3 and name == JOINT_NAMES[0]:
            trans = (np.stack(pos, -1) - offset) * scale
    poses = R.matrix_to_axis_angle(mats)
    return Motion(poses, trans, np.zeros((frames, 10)), fps or 1.0 / frame_time,
                  provenance={"source": "bvh", "file": os.path.basename(str(path))})
