"""Where a sign's hands go: a body site as a point on the posed body with its outward normal
(sites between named ones are built from them and snapped onto the skin), the dominant
hand's target as a signer places it, and the passive hand's pose when it is a base.
numpy; never bpy.
"""
from __future__ import annotations

import numpy as np

from ...body import rotations as R
from ...body.sites import SITE_NAMES
from ...body.skeleton import JOINT_INDEX as J
from ...body.skeleton import hand_joints
from .. import handshapes as H
from ..hms import DIRECTIONS
from .arm import Arm, hand_rotation
from .batch import Solve
from .maths import unit
from .phonology import Placement
from .signer_body import SignerBody
from .tables import BACK, DOWN, FRONT, ON_SURFACE, OTHER, SX, UP


def site_target(figure: SignerBody, name: str, glob, pos, sites, side: str):
    """(point, outward normal, nearest real site name, its distance in metres) for a location
    name on a posed body (``SignerBody.frame``), ``side`` being the dominant hand's."""
    s = lambda n: sites[figure.rig.site(n)]  # noqa: E731
    d, n = side, OTHER[side]
    name = name.replace("d_", f"{d}_").replace("n_", f"{n}_") if name[:2] in ("d_", "n_") else name
    head_c = (pos[J["left_eye_smplhf"]] + pos[J["right_eye_smplhf"]]) / 2 + BACK * 0.07
    spine = pos[J["spine3"]]
    lateral = np.array([SX[d], 0.0, 0.0])
    wr = J[f"{n}_wrist"]
    palm_n = glob[wr] @ DOWN
    fdir = glob[wr] @ np.array([SX[n], 0.0, 0.0])
    thumb = glob[wr] @ FRONT
    derived = {
        "head_top": lambda: (s("forehead") + UP * 0.06 + BACK * 0.04, UP),
        "under_chin": lambda: (s("chin") + DOWN * 0.02 + BACK * 0.025, unit(DOWN + 0.3 * FRONT)),
        "clavicle": lambda: (s(f"{d}_chest") + UP * 0.05 - lateral * 0.02, unit(FRONT + 0.5 * UP)),
        "torso_mid": lambda: ((s("chest") + s("stomach")) / 2 + FRONT * 0.01, FRONT),
        "waist": lambda: (s("stomach") + DOWN * 0.05 + lateral * 0.07, unit(FRONT + 0.5 * lateral)),
        "hip": lambda: (s("stomach") + DOWN * 0.14 + lateral * 0.14 + BACK * 0.03, unit(lateral + FRONT)),
        f"{n}_elbow_front": lambda: (s(f"{n}_forearm_inner") + 0.4 * (pos[J[f"{n}_elbow"]] - pos[wr]), -palm_n),
        f"{n}_forearm_ulnar": lambda: ((s(f"{n}_forearm") + s(f"{n}_forearm_inner")) / 2 - thumb * 0.03, -thumb),
        f"{n}_finger_front": lambda: ((s(f"{n}_palm") + s(f"{n}_middle_tip")) / 2 + palm_n * 0.005, palm_n),
        f"{n}_finger_back": lambda: ((s(f"{n}_back_of_hand") + s(f"{n}_middle_tip")) / 2 - palm_n * 0.005, -palm_n),
        f"{n}_index_side": lambda: (s(f"{n}_index_tip") - fdir * 0.035 + thumb * 0.009, thumb),
        f"{n}_pinky_side": lambda: (s(f"{n}_pinky_tip") - fdir * 0.025 - thumb * 0.009, -thumb),
        f"{n}_heel": lambda: (s(f"{n}_palm") + 0.5 * (s(f"{n}_wrist_inner") - s(f"{n}_palm")), palm_n),
        "face_away": lambda: (s("nose") + FRONT * 0.2 + DOWN * 0.05, FRONT),
        "chest_away": lambda: (s("chest") + FRONT * 0.28 + DOWN * 0.05, FRONT),
        "hand_away": lambda: (s(f"{n}_palm") + UP * 0.1 + FRONT * 0.02, UP),
        "arm_away": lambda: (s(f"{n}_forearm") + UP * 0.1, UP),
        "neutral": lambda: (np.array([SX[d] * 0.12, spine[1] - 0.05, spine[2] + 0.32]), FRONT),
        "neutral_chest": lambda: (np.array([SX[d] * 0.12, s("chest")[1] + 0.02, spine[2] + 0.32]), FRONT),
        "beside_head": lambda: (np.array([SX[d] * 0.21, s("nose")[1] - 0.04, s("nose")[2] + 0.08]), FRONT),
        "above_head": lambda: (np.array([SX[d] * 0.17, s("forehead")[1] + 0.22, s("nose")[2] + 0.02]), FRONT),
    }
    if name in derived:               # a place between sites (computed only when asked for)
        point, normal = derived[name]()
        if name in ON_SURFACE:   # a point between sites may lie inside: put it on the skin
            point, normal = figure.on_surface(point)
    else:
        point = s(name)
        if name in (f"{n}_palm",):
            normal = palm_n
        elif name == f"{n}_back_of_hand":
            normal = -palm_n
        elif name.endswith("_tip"):
            normal = fdir
        elif name.startswith(n + "_"):
            normal = unit(point - pos[J[f"{n}_elbow"]])
        elif name in ("neck",):
            normal = FRONT
        elif name.endswith("shoulder"):
            normal = unit(UP + 0.3 * FRONT)
        elif name in ("chest", "stomach") or name.endswith("_chest"):
            normal = unit((point - spine) * np.array([1.0, 0.2, 1.0]))
        else:
            normal = unit(point - head_c)
    dist = R.np_norm(sites - point, axis=1)
    nearest = SITE_NAMES[int(np.argmin(dist))]
    return point, unit(normal), nearest, float(dist.min())


def place_target(figure: SignerBody, name: str, kind: str, frame, contact: bool, jitter: float, rng):
    """``site_target`` for the dominant hand as a signer places it: ``jitter`` metres off in
    space, a few centimetres off the skin without contact, within 3 mm of the site with it."""
    point, normal, nearest, gap = site_target(figure, name, *frame, "right")
    if kind in ("neutral", "away"):
        point = point + rng.normal(0, jitter, 3)
    elif not contact:
        point = point + normal * rng.uniform(0.04, 0.07)
    else:
        t = R.np_cross(normal, rng.normal(0, 1, 3))
        point = point + unit(t) * min(jitter, 0.003)
    return point, normal, nearest, gap


def base_pose(figure: SignerBody, place: Placement, shape: str, spread: bool, rng):
    """Put the passive (left) hand where the dominant hand's location needs it, in ``shape``.

    A generator (the arm solve is a request, see ``batch``) that returns the rest pose with
    the left arm and hand posed and the hand's (wrist goal, rotation, palm offset), or
    (None, None) where the hanging arm itself is the base."""
    glob, pos, _ = figure.rest_frame
    spine = pos[J["spine3"]]
    right = DIRECTIONS["right"]
    site = place.site
    if site in ("n_upper_arm", "n_elbow"):
        return None, None                              # the hanging arm is the base
        yield                                          # (a generator: it may ask for a solve)
    if place.kind == "arm":
        palm_up = site in ("n_forearm_inner", "n_wrist_inner", "n_elbow_front")
        where = np.array([-0.02, spine[1] - 0.12, spine[2] + 0.3])
        palm, fingers = (UP if palm_up else DOWN), right
    elif site in ("n_palm", "n_heel", "n_finger_front"):
        where, palm, fingers = np.array([0.04, spine[1] - 0.16, spine[2] + 0.3]), UP, unit(FRONT + 0.6 * right)
    elif site in ("n_back_of_hand", "n_finger_back"):
        where, palm, fingers = np.array([0.04, spine[1] - 0.14, spine[2] + 0.3]), DOWN, unit(FRONT + 0.6 * right)
    elif place.kind == "hand" or site == "hand_away":
        where, palm, fingers = np.array([0.05, spine[1] - 0.1, spine[2] + 0.3]), right, unit(0.5 * FRONT + UP)
    else:                                               # passive hand in neutral space
        where, palm, fingers = np.array([0.12, spine[1] - 0.16, spine[2] + 0.28]), right, unit(FRONT + 0.4 * UP)
    where = where + rng.normal(0, 0.01, 3)
    arm = Arm(figure.rig, "left", glob, pos)
    offset = figure.offset("left", "palm", shape, spread)
    rot = hand_rotation("left", fingers, palm)[None]
    [(sh, el, wr, _)] = yield [Solve(arm, where[None], rot, offset[None])]
    out = figure.rest.copy()
    out[[J["left_shoulder"], J["left_elbow"], J["left_wrist"]]] = R.np_quaternion_to_axis_angle(
        R.np_matrix_to_quaternion(np.stack([sh[0], el[0], wr[0]])))
    out[list(hand_joints("left"))] = H.hand_pose(shape, "left", spread)
    return out, (where, rot[0], offset)
