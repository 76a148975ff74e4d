"""Retargeting: SignForge's SMPL-X joints onto another armature's bones. numpy; never bpy.

A ``BoneMap`` names, for each SMPL-X joint, the bone of the user's rig that is keyed for it
(and, optionally, a ``reference`` bone whose rest position stands for the joint where the
keyed bone sits elsewhere, as Rigify's controls do). Presets cover Blender's human metarig
(also Rigify's), a generated Rigify rig (its FK controls), Mixamo and the official SMPL-X
add-on; a user's map is a JSON file (``load_map``).

The maths transfers each joint's world-space rotation from its rest pose, once the two rest
poses are aligned (Monzani et al. 2000, "Using an intermediate skeleton and inverse
kinematics for motion retargeting"; the same delta rule as Blender's own bone constraints
"copy rotation, world space, offset"):

    R_target_pose = D · A · R_target_rest,   D = R_source_pose · R_source_rest⁻¹,

all world-space orientations. ``A`` (``alignment``) turns the target bone's rest onto the
source's: the frame spanned by the joint's direction to its next joint and a second,
anatomical direction (across the shoulders, across the knuckles, the palm's normal) in each
rig, so a T-pose source drives an A-pose target, and differing bone rolls or rest
orientations drop out because only world orientations are compared. Bones follow the chain
from the pelvis out (``depths``), each set after its parent has moved.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .limits import check_file_size
from .errors import SignForgeError

SIDES = ("left", "right")
FINGERS = ("index", "middle", "pinky", "ring", "thumb")
MAP_SUFFIX = ".json"


class BoneMapError(SignForgeError, ValueError):
    """A bone map that cannot be used; the message is one line naming the file and the problem."""


# ------------------------------------------------------------------------ the SMPL-X side

def smplx_names() -> tuple[str, ...]:
    """The 55 SMPL-X joints in the model's order (``backend.body.skeleton.JOINT_NAMES``; a test
    checks the two agree)."""
    names = ["pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
             "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
             "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
             "left_elbow", "right_elbow", "left_wrist", "right_wrist", "jaw",
             "left_eye_smplhf", "right_eye_smplhf"]
    for side in SIDES:
        names += [f"{side}_{f}{k}" for f in FINGERS for k in (1, 2, 3)]
    return tuple(names)


SMPLX_JOINTS = smplx_names()

# the child a joint points at (its bone's direction); a joint absent here points on from its parent
AIM = {"pelvis": "spine1", "spine1": "spine2", "spine2": "spine3", "spine3": "neck", "neck": "head"}
for _s in SIDES:
    AIM.update({f"{_s}_hip": f"{_s}_knee", f"{_s}_knee": f"{_s}_ankle", f"{_s}_ankle": f"{_s}_foot",
                f"{_s}_collar": f"{_s}_shoulder", f"{_s}_shoulder": f"{_s}_elbow",
                f"{_s}_elbow": f"{_s}_wrist", f"{_s}_wrist": f"{_s}_middle1"})
    for _f in FINGERS:
        AIM.update({f"{_s}_{_f}1": f"{_s}_{_f}2", f"{_s}_{_f}2": f"{_s}_{_f}3"})


def _side(joint: str) -> str | None:
    return next((s for s in SIDES if joint.startswith(s + "_")), None)


def second_axis(joint: str) -> tuple[tuple[str, str], ...]:
    """Pairs (a, b) whose vector b - a fixes a joint's twist about its bone, tried in order:
    across the knuckles for the hand and fingers, the palm's normal's stand-in (the wrist's
    direction) for the thumb, up the body for the arms, across the hips or shoulders for the
    trunk and legs."""
    side = _side(joint)
    if side is None:
        if joint == "pelvis":
            return (("right_hip", "left_hip"), ("right_shoulder", "left_shoulder"))
        return (("right_shoulder", "left_shoulder"), ("right_hip", "left_hip"))
    s = side
    if "thumb" in joint:
        return ((f"{s}_wrist", f"{s}_middle1"),)
    if joint.endswith("wrist") or any(f in joint for f in FINGERS):
        return ((f"{s}_pinky1", f"{s}_index1"), (f"{s}_wrist", f"{s}_middle1"))
    if joint.endswith(("collar", "shoulder", "elbow")):
        return (("pelvis", "neck"), ("spine1", "spine3"))
    return (("right_hip", "left_hip"),)


@dataclass(frozen=True)
class Skeleton:
    """The source: SMPL-X joint names, parents (-1 for the root) and rest joints (J, 3) in
    SMPL-X space (the SignForge armature's space: every bone's rest orientation is identity)."""
    names: tuple[str, ...]
    parents: tuple[int, ...]
    rest: np.ndarray

    def index(self, name: str) -> int:
        return self.names.index(name)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) (w, x, y, z) of any norm -> (..., 3, 3)."""
    q = np.asarray(q, np.float64)
    q = q / np.sqrt((q * q).sum(-1, keepdims=True))
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                     2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                     2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1
                    ).reshape(q.shape[:-1] + (3, 3))


def global_rotations(local: np.ndarray, parents) -> np.ndarray:
    """(T, J, 3, 3) joint orientations in the armature's space from (T, J, 3, 3) local ones
    (forward kinematics: G_j = G_parent(j) · R_j; parents listed before children)."""
    out = np.empty_like(local)
    for j, p in enumerate(parents):
        out[:, j] = local[:, j] if p < 0 else out[:, p] @ local[:, j]
    return out


def depths(parents) -> list[int]:
    out: list[int] = []
    for p in parents:
        out.append(0 if p < 0 else out[p] + 1)
    return out


def orthonormal(m: np.ndarray) -> np.ndarray:
    """The rotation part of a (..., 3, 3) matrix with scale (its columns normalized, then the
    nearest rotation), so an armature scaled by 0.01 (an FBX import) still gives rotations."""
    u, _, vt = np.linalg.svd(np.asarray(m, np.float64))
    r = u @ vt
    return np.where(np.linalg.det(r)[..., None, None] < 0, u @ np.diag([1, 1, -1]) @ vt, r)


def frame(primary: np.ndarray, secondary: np.ndarray | None) -> np.ndarray:
    """A rotation whose Y axis is ``primary`` and whose X axis lies towards ``secondary``
    (Gram-Schmidt); None or a secondary along the primary leaves the twist to a fixed helper."""
    y = primary / np.linalg.norm(primary)
    for s in ([] if secondary is None else [secondary]) + [np.array([1.0, 0, 0]), np.array([0, 0, 1.0])]:
        x = s - y * (s @ y)
        n = np.linalg.norm(x)
        if n > 0.2 * np.linalg.norm(s):   # not (nearly) along the bone
            x = x / n
            return np.stack([x, y, np.cross(x, y)], -1)
    raise ValueError("degenerate frame")


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``a`` onto ``b``."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    if c < -1 + 1e-9:   # opposite: half a turn about any perpendicular
        p = frame(a, None)[:, 0]
        return 2 * np.outer(p, p) - np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1 + c)


def alignment(joint: str, source: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray],
              target_axis: np.ndarray | None = None, source_parent: np.ndarray | None = None) -> np.ndarray:
    """World rotation A turning the target's rest onto the source's for ``joint``.

    ``source`` and ``target`` give world rest positions by SMPL-X joint name (the target's for
    the joints its map holds). The bone's direction is joint -> AIM child where both rigs have
    it; else (a fingertip, the head) the source's continues its parent's and the target's is
    its bone's own axis (``target_axis``). The twist comes from ``second_axis`` where both
    rigs have the pair; with none, A is the smallest rotation between the two directions.
    """
    aim = AIM.get(joint)
    if aim is not None and aim in target and aim in source:
        ps, pt = source[aim] - source[joint], target[aim] - target[joint]
    elif target_axis is not None and source_parent is not None:
        ps, pt = source[joint] - source_parent, np.asarray(target_axis, np.float64)
    else:
        return np.eye(3)
    for a, b in second_axis(joint):
        if a in source and b in source and a in target and b in target:
            fs = frame(ps, source[b] - source[a])
            ft = frame(pt, target[b] - target[a])
            return fs @ ft.T
    return swing(pt, ps)


# ------------------------------------------------------------------------ bone maps

@dataclass(frozen=True)
class BoneMap:
    """SMPL-X joint -> target bone. ``reference``: bones whose rest heads stand for joints
    where the keyed bone sits elsewhere; ``properties``: pose-bone custom properties set and
    keyed with the take (Rigify's IK/FK switches); ``prefix`` goes before every bone name
    (Mixamo's ``mixamorig:``, found on the rig when it is ``*``)."""
    name: str
    bones: Mapping[str, str]
    reference: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    prefix: str = ""
    root: str = "pelvis"   # the joint whose bone also takes the motion's translation

    def resolved(self, bone_names) -> "BoneMap":
        """The map with its prefix applied (``*``: the rig's, from a bone ending in the root's name)."""
        prefix = self.prefix
        if prefix == "*":
            tail = self.bones.get(self.root, "")
            prefix = next((b[: -len(tail)] for b in bone_names if tail and b.endswith(tail)), "")
        if not prefix:
            return self
        add = lambda d: {k: prefix + v for k, v in d.items()}   # noqa: E731
        return BoneMap(self.name, add(self.bones), add(self.reference),
                       {prefix + b: p for b, p in self.properties.items()}, "", self.root)

    def reference_bone(self, joint: str) -> str | None:
        """The bone whose rest head stands for ``joint`` (a joint may have one without being keyed)."""
        return self.reference.get(joint, self.bones.get(joint))

    def score(self, bone_names) -> float:
        """The share of the map's bones the rig has (after its prefix)."""
        names = set(bone_names)
        m = self.resolved(names)
        return sum(b in names for b in m.bones.values()) / max(1, len(m.bones))


def _both(pattern: Mapping[str, str], left: str, right: str) -> dict[str, str]:
    """``pattern`` ({smplx joint without side: bone with {s}}) for both sides."""
    out = {}
    for side, s in (("left", left), ("right", right)):
        out.update({f"{side}_{j}": b.format(s=s) for j, b in pattern.items()})
    return out


def _fingers(bone) -> dict[str, str]:
    """{finger joint without side: ``bone(finger, k)``, a pattern with {s}} for the 15 finger joints."""
    return {f"{f}{k}": bone(f, k) for f in FINGERS for k in (1, 2, 3)}


_METARIG_FINGERS = {f: (f if f == "thumb" else f"f_{f}") for f in FINGERS}
METARIG = BoneMap("Blender human metarig (Rigify metarig)", {
    "pelvis": "spine", "spine1": "spine.001", "spine2": "spine.002", "spine3": "spine.003",
    "neck": "spine.004", "head": "spine.006",
    **_both({"collar": "shoulder{s}", "shoulder": "upper_arm{s}", "elbow": "forearm{s}", "wrist": "hand{s}",
             "hip": "thigh{s}", "knee": "shin{s}", "ankle": "foot{s}", "foot": "toe{s}",
             **_fingers(lambda f, k: f"{_METARIG_FINGERS[f]}.0{k}{{s}}")}, ".L", ".R")})

# A generated Rigify rig: its FK controls (arms and legs switched to FK with the take), the
# torso, the spine's FK controls above the torso's pivot, neck and head; the ORG bones stand
# for the joints' rest places. spine1 has no control of its own: below the pivot Rigify's FK
# chain runs downwards (spine_fk.001 turns about its top and would move the pelvis), so the
# lowest spine bone moves with the torso, keeping the rig's own rest curve, and spine1's own
# bend (a few degrees in signing) is left out; spine2 and above take their world orientations
# all the same.
RIGIFY = BoneMap("Rigify (generated rig, FK controls)", {
    "pelvis": "torso", "spine2": "spine_fk.002", "spine3": "spine_fk.003",
    "neck": "neck", "head": "head",
    **_both({"collar": "shoulder{s}", "shoulder": "upper_arm_fk{s}", "elbow": "forearm_fk{s}",
             "wrist": "hand_fk{s}", "hip": "thigh_fk{s}", "knee": "shin_fk{s}", "ankle": "foot_fk{s}",
             "foot": "toe_fk{s}",
             **_fingers(lambda f, k: f"{_METARIG_FINGERS[f]}.0{k}{{s}}")}, ".L", ".R")},
    reference={j: "ORG-" + b for j, b in METARIG.bones.items()},
    properties={f"{b}{s}": {"IK_FK": 1.0} for b in ("upper_arm_parent", "thigh_parent") for s in (".L", ".R")})

_MIXAMO_FINGERS = {"index": "Index", "middle": "Middle", "pinky": "Pinky", "ring": "Ring", "thumb": "Thumb"}
MIXAMO = BoneMap("Mixamo (mixamorig:*)", {
    "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
    **_both({"collar": "{s}Shoulder", "shoulder": "{s}Arm", "elbow": "{s}ForeArm", "wrist": "{s}Hand",
             "hip": "{s}UpLeg", "knee": "{s}Leg", "ankle": "{s}Foot", "foot": "{s}ToeBase",
             **_fingers(lambda f, k: f"{{s}}Hand{_MIXAMO_FINGERS[f]}{k}")}, "Left", "Right")},
    prefix="*")

SMPLX = BoneMap("SMPL-X (the official SMPL-X add-on)",
                {j: j for j in SMPLX_JOINTS if "eye" not in j})

PRESETS: dict[str, BoneMap] = {"RIGIFY": RIGIFY, "METARIG": METARIG, "MIXAMO": MIXAMO, "SMPLX": SMPLX}


def detect(bone_names) -> tuple[str, BoneMap]:
    """The preset that fits the rig best; a BoneMapError when none holds half its bones."""
    names = list(bone_names)
    key, best = max(((k, m.score(names)) for k, m in PRESETS.items()), key=lambda kv: kv[1])
    if best < 0.5:
        raise BoneMapError("no bone map fits this armature (Rigify, metarig, Mixamo or SMPL-X names); "
                           "choose a map file")
    return key, PRESETS[key]


def parse_map(data, source: str = "bone map") -> BoneMap:
    """A BoneMap from JSON data: {"bones": {smplx joint: bone}, "reference": {...},
    "properties": {bone: {property: number}}, "prefix": str, "name": str}."""
    if not isinstance(data, dict):
        raise BoneMapError(f"{source}: expected a JSON object with a 'bones' object")
    unknown = set(data) - {"name", "bones", "reference", "properties", "prefix", "root"}
    if unknown:
        raise BoneMapError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; "
                           "expected name, bones, reference, properties, prefix, root")
    bones = data.get("bones")
    if not isinstance(bones, dict) or not bones:
        raise BoneMapError(f"{source}: 'bones' must be a non-empty object of SMPL-X joint -> bone name")
    for key in ("bones", "reference"):
        table = data.get(key, {})
        if not isinstance(table, dict):
            raise BoneMapError(f"{source}: '{key}' must be an object of SMPL-X joint -> bone name")
        wrong = [j for j in table if j not in SMPLX_JOINTS]
        if wrong:
            raise BoneMapError(f"{source}: {key}: {', '.join(map(repr, wrong[:4]))} "
                               f"{'is not an SMPL-X joint' if len(wrong) == 1 else 'are not SMPL-X joints'} "
                               "(e.g. right_wrist, right_index1)")
        empty = [j for j, b in table.items() if not isinstance(b, str) or not b.strip()]
        if empty:
            raise BoneMapError(f"{source}: {key}: {empty[0]!r} must name a bone (a non-empty string)")
    targets = list(bones.values())
    twice = sorted({b for b in targets if targets.count(b) > 1})
    if twice:
        raise BoneMapError(f"{source}: bone {twice[0]!r} is mapped from more than one joint")
    props = data.get("properties", {})
    if not isinstance(props, dict) or not all(
            isinstance(p, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p.values())
            for p in props.values()):
        raise BoneMapError(f"{source}: 'properties' must be an object of bone -> {{property: number}}")
    prefix, root = data.get("prefix", ""), data.get("root", "pelvis")
    if not isinstance(prefix, str) or not isinstance(root, str):
        raise BoneMapError(f"{source}: 'prefix' and 'root' must be strings")
    return BoneMap(str(data.get("name", source)), dict(bones), dict(data.get("reference", {})),
                   {b: {k: float(v) for k, v in p.items()} for b, p in props.items()}, prefix, root)


def load_map(path: str | os.PathLike) -> BoneMap:
    """A user's bone map file, validated; any problem is one BoneMapError line."""
    name = os.path.basename(os.fspath(path))
    try:
        check_file_size(path)
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise BoneMapError(f"{name}: no such bone map file") from None
    except json.JSONDecodeError as exc:
        raise BoneMapError(f"{name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BoneMapError(f"{name}: cannot read bone map ({exc})") from None
    bone_map = parse_map(data, name)
    if bone_map.name == name:
        bone_map = BoneMap(os.path.splitext(name)[0], bone_map.bones, bone_map.reference, bone_map.properties,
                           bone_map.prefix, bone_map.root)
    return bone_map


def save_map(bone_map: BoneMap, path: str | os.PathLike) -> None:
    """Write a map as JSON that ``load_map`` reads back (a preset, to start a user's own from)."""
    data = {"name": bone_map.name, "bones": dict(bone_map.bones)}
    if bone_map.reference:
        data["reference"] = dict(bone_map.reference)
    if bone_map.properties:
        data["properties"] = {b: dict(p) for b, p in bone_map.properties.items()}
    if bone_map.prefix:
        data["prefix"] = bone_map.prefix
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)


def user_maps(folder: str | os.PathLike | None) -> list[str]:
    """The map files in a user's folder, sorted."""
    if not folder or not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.lower().endswith(MAP_SUFFIX))
