"""How the dominant hand is turned at its target: palm and finger directions by contact part
and location, aimed so the contact part (not the fingers' line) meets the target, and
kept within what the wrist can make from the forearm the arm takes there. numpy; never bpy.
"""
from __future__ import annotations

import numpy as np

from ...body import rotations as R
from ..hms import DIRECTIONS
from .arm import WRIST_LIMITS, Arm, hand_rotation
from .batch import SolveOnce
from .maths import euler_xzy, rot_about, unit, xzy_angles
from .phonology import Placement
from .signer_body import SignerBody
from .tables import BACK, DOWN, FRONT, UP


def orientation(part: str, place: Placement, normal: np.ndarray, target: np.ndarray, shoulder: np.ndarray,
                reach: float, rng, facing: bool = False, point: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(palm, fingers) world directions for the dominant (right) hand at its target, the
    contact ``part`` ``reach`` metres from the wrist; ``facing``: in neutral space, the palm
    toward the midline (where a symmetric sign's other hand faces it) rather than drawn, and
    on the body a palm laid on it with the fingers up (the two hands side by side);
    ``point``: in neutral space, the fingers aimed that way (a name of ``DIRECTIONS``), the
    palm down (to the midline for pointing up or down), rather than drawn."""
    medial = DIRECTIONS["left"]
    kind = place.kind
    if part == "palm" and kind not in ("neutral", "away"):
        fingers = UP if kind == "head" else unit(medial + 0.6 * UP + 0.2 * FRONT)
        if place.site in ("waist", "hip"):
            fingers = unit(0.5 * medial + DOWN)
        if abs(unit(normal) @ UP) > 0.7:
            fingers = unit(FRONT + 0.3 * medial)
        elif facing:   # two hands side by side on the body, about to part: fingers up, not crossed
            fingers = UP
        return -normal, fingers
    if place.site in ("beside_head", "above_head"):   # a wave: the palm out to the one waved at, the fingers up
        return FRONT, unit(UP + 0.15 * medial + rng.normal(0, 0.05, 3))
    if kind in ("neutral", "away") and point in DIRECTIONS:
        palm = medial if point in ("up", "down") else DOWN
        return palm, unit(DIRECTIONS[point] + rng.normal(0, 0.05, 3))
    if kind in ("neutral", "away"):
        choice = rng.choice(4, p=[0.4, 0.3, 0.2, 0.1])   # drawn either way: the signer's other draws stay
        choice = 0 if facing else choice
        palm, fingers = [(medial, FRONT + 0.5 * UP), (DOWN, FRONT + 0.3 * medial),
                         (BACK, UP + 0.3 * medial), (UP, FRONT + 0.3 * medial)][choice]
        return palm, unit(fingers + rng.normal(0, 0.1, 3))
    # Fingertip or fist contact: the fingers point from where a relaxed wrist would be
    # (out to the side, below and in front of the target) toward the target.
    out = DIRECTIONS["right"]
    n = unit(normal)
    if kind in ("hand", "arm") and n @ UP > 0.6:    # a surface facing up (the other palm): from above
        return DOWN, unit(FRONT + 0.4 * medial + 0.2 * DOWN)
    if kind in ("hand", "arm") and n @ UP < -0.6:   # a surface facing down: from below
        return UP, unit(FRONT + 0.4 * medial + 0.3 * UP)
    wrist = out * 0.06 + DOWN * 0.10 + FRONT * 0.08 + n * 0.05
    if place.site == "d_shoulder":   # folding back onto the own shoulder
        wrist = FRONT * 0.14 + DOWN * 0.02 + medial * 0.04
    for _ in range(20):
        w = R.np_norm(wrist)
        into = wrist @ n / w          # how straight the fingers point into the skin
        if into > 0.6:                # graze rather than stab, so the other fingers stay out
            wrist = wrist - n * (into - 0.55) * w
        elif R.np_norm(target + wrist / w * reach - shoulder) < 0.19:
            wrist = wrist + unit(0.5 * out + DOWN + 0.5 * FRONT) * 0.03   # keep the elbow from folding shut
        else:
            break
    fingers = unit(-wrist + rng.normal(0, 0.05, 3))
    if part == "fist":                # a fist leads with its knuckles: fingers into the surface
        fingers = unit(-n + 0.2 * UP + rng.normal(0, 0.05, 3))
    # The palm most across the fingers that neither faces into the skin (the curled
    # fingers and a folded thumb lie on the palm side) nor turns the thumb side into it.
    palms = [BACK, medial, DOWN, -medial]
    thumb = [R.np_cross(fingers, p) for p in palms]     # the right hand's thumb side
    score = [abs(p @ fingers) + 2.0 * max(0.0, -(unit(t) @ n)) + 2.0 * max(0.0, -(p @ n) - 0.3)
             + (0.3 if i == 3 else 0.0) for i, (p, t) in enumerate(zip(palms, thumb))]
    palm = palms[int(np.argmin(score))]
    return palm, fingers


def aim(rot: np.ndarray, offset: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn a hand (least rotation) so its contact point lies along ``direction`` from the wrist.

    A bent middle finger or a thumb tip is not where the fingers point; this keeps the
    wrist where a relaxed arm puts it. Returns the new (palm, fingers) directions.
    """
    v, w = unit(rot @ offset), unit(direction)
    axis = R.np_cross(v, w)
    angle = np.arctan2(R.np_norm(axis), v @ w)
    q = rot_about(axis if R.np_norm(axis) > 1e-9 else UP, angle) @ rot
    return q @ DOWN, q @ np.array([-1.0, 0.0, 0.0])


def reachable_aim(figure: SignerBody, frame, target, rot, offset, direction):
    """A hand rotation that points the contact part at the target along ``direction``
    and that the wrist can make from the forearm the arm IK gives there. A generator (the
    solves are requests, see ``batch``); returns (palm, fingers)."""
    arm = Arm(figure.rig, "right", frame[0], frame[1])
    for _ in range(3):
        palm, fingers = aim(rot, offset, direction)
        rot = hand_rotation("right", fingers, palm)
        wrist = target - rot @ offset
        [(sh, el, *_)] = yield [SolveOnce(arm, wrist[None], rot[None], offset[None], 0.0)]
        g_el = arm.g_collar @ sh[0] @ el[0]
        angles = np.clip(xzy_angles(g_el.T @ rot), -0.75 * WRIST_LIMITS, 0.75 * WRIST_LIMITS)
        rot = g_el @ euler_xzy(angles)
    return aim(rot, offset, direction)
