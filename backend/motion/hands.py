"""Which hand signs: measured on a motion, named in a prompt, and made to agree.

``hand_activity`` measures how far each wrist leaves the place it hangs at rest (by
forward kinematics on the mannequin's rest skeleton: the question is which hand moves,
not where to the millimetre, so no body model is loaded). ``named_hand`` reads the hand a
prompt names ("the left fist taps…", "R fist, chin", "with your right hand"), and
``obey_hand`` mirrors a motion whose signing hand is the other one. ``settle_idle_arms``
holds an arm that never really leaves its rest exactly at rest, as an animator would clean
up a generated take: its few centimetres of drift are noise, and a still hand reads as idle.
numpy; never bpy.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from ..body.skeleton import JOINT_INDEX as J
from .motion import Motion
from blender_addon.core.errors import SignForgeError

HANDS = ("left", "right")
ACTIVE = 0.08       # metres: a wrist this far from where it hangs is signing
TOGETHER = 0.6      # the weaker hand signs too when it moves this share of the stronger one
SETTLE = 0.08       # metres: an arm whose wrist stays this close to rest in 90% of frames is idle
ARM_JOINTS = ("collar", "shoulder", "elbow", "wrist")
_PARTS = r"(?:hands?|fists?|palms?|index(?:\s+fingers?)?|thumbs?|fingers?|arms?|one|side|flat\s+hand|b\s+hand)"
_NAMED = re.compile(rf"\b(left|right)(?:[-\s]+hand(?:ed)?\b|\s+{_PARTS}\b|'s\b)|\b([lr])\s+{_PARTS}\b",
                    re.IGNORECASE)
_BOTH = re.compile(r"\b(both|two)\s+hands\b|\bhands\s+(together|apart)\b", re.IGNORECASE)


class HandError(SignForgeError, ValueError):
    """An unknown hand name; the message names it."""


def hanging_pose() -> np.ndarray:
    """(55, 3) axis-angles of the rest the signs start from: both arms hanging at the sides."""
    pose = np.zeros((55, 3))
    for side, sx in (("left", 1.0), ("right", -1.0)):
        pose[J[f"{side}_shoulder"]] = (0.0, 0.0, -1.2 * sx)
        pose[J[f"{side}_elbow"]] = (0.0, -0.3 * sx, 0.0)
    return pose


@lru_cache(maxsize=1)
def _skeleton() -> tuple[np.ndarray, np.ndarray]:
    from ..body.mannequin import rest_joints
    from ..body.rig import forward

    rest = rest_joints()
    _, pos = forward(hanging_pose()[None], rest)
    return rest, pos[0] - pos[0, J["pelvis"]]


@lru_cache(maxsize=8)   # a Motion is immutable and hashed by identity: activity and travel share one FK
def _wrists(motion: Motion) -> dict[str, np.ndarray]:
    """(T, 3) wrist positions per hand relative to where each hangs, in the body's own frame."""
    from ..body.rig import forward

    rest, hanging = _skeleton()
    poses = motion.poses.astype(float).copy()
    poses[:, 0] = 0.0   # a turned body is not a moving hand
    _, pos = forward(poses, rest)
    pos = pos - pos[:, J["pelvis"]][:, None]
    return {side: pos[:, J[f"{side}_wrist"]] - hanging[J[f"{side}_wrist"]] for side in HANDS}


def hand_activity(motion: Motion) -> dict[str, float]:
    """Per hand, the 75th percentile over frames of its wrist's distance (m) from where it hangs."""
    return {side: float(np.percentile(np.linalg.norm(w, axis=1), 75)) for side, w in _wrists(motion).items()}


def hand_travel(motion: Motion) -> dict[str, float]:
    """Per hand, how far (m) its wrist travels while away from rest: a base hand holds, the dominant moves."""
    out = {}
    for side, w in _wrists(motion).items():
        away = np.linalg.norm(w, axis=1) >= ACTIVE
        steps = np.linalg.norm(np.diff(w, axis=0), axis=1)
        out[side] = float(steps[away[1:] & away[:-1]].sum())
    return out


def signing_hands(motion: Motion) -> str | None:
    """"left", "right" or "both" (the hands that sign), None when neither leaves its rest."""
    act = hand_activity(motion)
    strong = max(HANDS, key=lambda side: act[side])
    if act[strong] < ACTIVE:
        return None
    weak = "left" if strong == "right" else "right"
    return "both" if act[weak] >= TOGETHER * act[strong] and act[weak] >= ACTIVE else strong


def dominant_hand(motion: Motion) -> str | None:
    """The hand that leads: the one signing alone, or of two the one that travels clearly more.

    None for a still motion or two hands that move alike (a symmetric sign has no side).
    """
    signing = signing_hands(motion)
    if signing != "both":
        return signing
    travel = hand_travel(motion)
    lead = max(HANDS, key=lambda side: travel[side])
    other = "left" if lead == "right" else "right"
    return lead if travel[other] < TOGETHER * travel[lead] else None


def named_hand(text: str) -> str | None:
    """The hand a prompt names as the one that signs, or None (none named, both, or both sides)."""
    if not text or _BOTH.search(text):
        return None
    named = {(m.group(1) or m.group(2)).lower()[0] for m in _NAMED.finditer(text)}
    if len(named) != 1:
        return None
    return "left" if named == {"l"} else "right"


def check_hand(hand: str | None) -> str | None:
    if hand in (None, "", "auto"):
        return None
    if hand not in HANDS:
        raise HandError(f"hand must be left or right (or auto); got {hand!r}")
    return hand


def wanted_hand(text: str | None, hand: str | None) -> tuple[str, str]:
    """The hand that should sign and why: the prompt's named hand, else ``hand``, else the right."""
    named = named_hand(text or "")
    if named is not None:
        return named, "prompt"
    hand = check_hand(hand)
    return (hand, "option") if hand is not None else ("right", "default")


def obey_hand(motion: Motion, hand: str, source: str = "option") -> Motion:
    """``motion`` signed with ``hand``: mirrored when the other hand is the one that signs.

    A still motion, or two hands moving alike, is kept. Provenance records the wanted hand, why it was
    wanted, and whether the motion was mirrored to get it.
    """
    hand = check_hand(hand) or "right"
    lead = dominant_hand(motion)
    mirrored = lead is not None and lead != hand
    out = motion.mirror() if mirrored else motion
    prov = {**out.provenance, "hand": hand, "hand_from": source,
            "hand_mirrored": "true" if mirrored else "false"}
    return out.with_(provenance=prov)


def settle_idle_arms(motion: Motion) -> Motion:
    """``motion`` with each idle arm (its wrist within ``SETTLE`` of where it hangs in 90% of the
    frames, so not signing by ``signing_hands``'s measure either) held exactly in the rest the signs
    start from (``hanging_pose``, collar to wrist) for the whole take. Fingers, the other arm and
    the body are kept; provenance names the settled arms ("settled": "left", "right", "left,right" or "")."""
    rest = hanging_pose()
    poses = motion.poses
    settled: list[str] = []
    for side, w in _wrists(motion).items():
        if np.percentile(np.linalg.norm(w, axis=1), 90) < SETTLE:
            if not settled:
                poses = poses.copy()
            ids = [J[f"{side}_{name}"] for name in ARM_JOINTS]
            poses[:, ids] = rest[ids]
            settled.append(side)
    prov = {**motion.provenance, "settled": ",".join(settled)}
    return motion.with_(poses=poses, provenance=prov)
