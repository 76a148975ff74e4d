"""Fidelity measures: what a motion does with its hands, measured on the body it is posed on.

Each measure is a small pure function of a ``Motion`` and a ``Body`` (and the side it
asks about), so the fidelity evaluation (``training/fidelity.py``), tests, training
losses and sentence joins can share one definition:

- ``signing_hands`` / ``idle_distance``: which hands leave their rest, and how far the
  other one strays from where it hangs;
- ``sign_window``: the frames between the approach from rest and the return to it;
- ``place``: the body region nearest the signing hand during the sign (or neutral space);
- ``contacts``: the regions the hand touches (within ``TOUCH``);
- ``movement``: path type, main direction and number of strokes, from HandMotionScript's
  stroke segmentation (``backend.data.hms.strokes``);
- ``handshape``: the nearest handshape of the table (``backend.data.handshapes``);
- kinematics: wrist speed, jerk, the longest hold and the largest frame-to-frame jump.

Positions are in the body's own frame: the root orientation and translation are
removed, so a turned or moved body is not a moving hand. ``describe`` gathers every
measure of one motion in one ``Fidelity`` value. numpy; never bpy.
"""
from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..body.rig import Rig
from ..body.sites import SITE_INDEX
from ..body.skeleton import JOINT_INDEX as J
from ..data.handshapes import nearest_handshape
from ..data.hms import path_shape, strokes
from ..motion.hands import hanging_pose
from ..motion.motion import Motion

SIDES = ("left", "right")
SIGNING = 0.08          # metres: a wrist this far from where it hangs is signing...
SIGNING_SHARE = 0.25    # ...in at least this share of the frames
IDLE = 0.05             # metres: an idle hand within this of its rest stays at rest
TOUCH = 0.02            # metres: a hand point this close to a body site touches it
NEAR = 0.12             # metres: a hand farther than this from every region is in neutral space
FAST = 4.0              # m/s: wrist speeds over this read as snaps
HOLD_SPEED = 0.15       # m/s: a wrist slower than this holds still
SETTLE_FRAMES = 7       # frames: a move from pause to pause this short right after the approach...
SETTLE_REACH = 0.08     # metres: ...and shorter than this settles the hand into place
WINDOW_EDGE = 0.2       # the approach (return) ends (starts) where speed falls under this share of its peak

NEUTRAL = "neutral space"
PLACES = ("forehead", "eyes/nose", "mouth/chin", "cheek/ear", "neck", "chest", "stomach", NEUTRAL)
PATHS = ("none", "straight", "arc", "circle")
_PLACE_SITES = {
    "forehead": ("forehead", "left_temple", "right_temple"),
    "eyes/nose": ("nose", "left_eye", "right_eye"),
    "mouth/chin": ("mouth", "lip_upper", "lip_lower", "chin"),
    "cheek/ear": ("left_cheek", "right_cheek", "left_ear", "right_ear"),
    "neck": ("neck",),
    "chest": ("chest", "left_chest", "right_chest", "left_shoulder", "right_shoulder"),
    "stomach": ("stomach",),
}
_PLACE_IDS = np.array([SITE_INDEX[s] for sites in _PLACE_SITES.values() for s in sites])
_PLACE_OF = [p for p, sites in _PLACE_SITES.items() for _ in sites]
_HAND_SITES = ("palm", "back_of_hand", "thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip")
# the fingers' middle knuckles: what a fist knocks with (``synth.signer_body``'s fist contact point)
_KNUCKLES = ("index2", "middle2", "ring2", "pinky2")
_ARM_SITES = ("upper_arm", "elbow", "forearm", "forearm_inner", "wrist", "wrist_inner")
_ARM_JOINTS = ("collar", "shoulder", "elbow", "wrist")


def _other(side: str) -> str:
    return "right" if side == "left" else "left"


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise ValueError(f"side is left or right; got {side!r}")


@functools.lru_cache(maxsize=4)
def _contact_regions(side: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Sites ``side``'s hand can touch (not its own hand or arm) and the region each names."""
    ids, names = [], []
    for place, sites in _PLACE_SITES.items():
        for s in sites:
            ids.append(SITE_INDEX[s])
            names.append(place)
    other = _other(side)
    for s in _ARM_SITES:
        ids.append(SITE_INDEX[f"{other}_{s}"])
        names.append("other arm")
    for s in _HAND_SITES:
        ids.append(SITE_INDEX[f"{other}_{s}"])
        names.append("other hand")
    return np.array(ids), tuple(names)


def hanging_arms(poses: np.ndarray) -> np.ndarray:
    """(T, 55, 3) poses with both arms (collars to wrists) as the signs' rest holds them,
    hanging at the sides (``backend.motion.hands.hanging_pose``); torso, head and hands kept."""
    out = np.array(poses, float, copy=True)
    rest = hanging_pose()
    arms = [J[f"{side}_{name}"] for side in SIDES for name in _ARM_JOINTS]
    out[:, arms] = rest[arms]
    return out


@dataclass(frozen=True)
class Posed:
    """A motion posed on a body, in the body's own frame."""
    joints: np.ndarray        # (T, 55, 3)
    sites: np.ndarray         # (T, S, 3) named body sites (``SITE_NAMES``)
    rest_joints: np.ndarray   # (T, 55, 3): the same torso with both arms hanging at rest
    fps: float


@functools.lru_cache(maxsize=64)
def posed(motion: Motion, body) -> Posed:
    """Forward kinematics of ``motion`` on ``body`` (its betas), root orientation removed.
    Cached per motion and body (both are compared by identity; a ``Motion`` is immutable)."""
    rig = Rig.from_body(body, motion.betas)
    poses = motion.poses.astype(float).copy()
    poses[:, 0] = 0.0
    glob, pos = rig.fk(poses)
    sites = rig.sites(glob, pos)
    _, rest = rig.fk(hanging_arms(poses))
    return Posed(pos, sites, rest, motion.fps)


# ------------------------------------------------------------------------ hands

def wrist_path(motion: Motion, body, side: str) -> np.ndarray:
    """(T, 3) the wrist joint's positions."""
    _check_side(side)
    return posed(motion, body).joints[:, J[f"{side}_wrist"]]


def rest_distance(motion: Motion, body, side: str) -> np.ndarray:
    """(T,) metres from the wrist to where it hangs at rest under the same torso."""
    _check_side(side)
    p = posed(motion, body)
    w = J[f"{side}_wrist"]
    return np.linalg.norm(p.joints[:, w] - p.rest_joints[:, w], axis=1)


def is_signing(motion: Motion, body, side: str) -> bool:
    """Whether the hand leaves its rest: over ``SIGNING`` in ``SIGNING_SHARE`` of the frames."""
    return bool((rest_distance(motion, body, side) > SIGNING).mean() >= SIGNING_SHARE)


def signing_hands(motion: Motion, body, dominant: str) -> str:
    """"dominant", "non-dominant", "both" or "none": the hands that sign, named from the
    signer's ``dominant`` side."""
    dom, other = is_signing(motion, body, dominant), is_signing(motion, body, _other(dominant))
    return {(True, True): "both", (True, False): "dominant", (False, True): "non-dominant",
            (False, False): "none"}[(dom, other)]


def idle_distance(motion: Motion, body, side: str) -> float:
    """The farthest (m) ``side``'s wrist strays from its rest over the motion."""
    return float(rest_distance(motion, body, side).max())


# ------------------------------------------------------------------------ the sign

def frame_speed(motion: Motion, body, side: str) -> np.ndarray:
    """(T,) wrist speed at each frame (m/s, central differences)."""
    w = wrist_path(motion, body, side)
    if len(w) < 2:
        return np.zeros(len(w))
    return np.linalg.norm(np.gradient(w, axis=0), axis=1) * motion.fps


def sign_window(motion: Motion, body, side: str) -> tuple[int, int]:
    """Frames [start, end) of the sign proper: after the approach from rest has slowed to
    its first pause (under ``WINDOW_EDGE`` of its peak speed, then to the next speed
    minimum) and before the return to rest. The approach and return are taken around the
    first and last frames where the wrist is off its rest (over ``SIGNING``): around those
    over half its largest distance, a stroke that ended near rest ("drop both fists from the
    chin to the belly") was taken for the return. A hand that never leaves its rest gives
    the whole motion."""
    d = rest_distance(motion, body, side)
    n = len(d)
    if n < 3 or d.max() < SIGNING:
        return 0, n
    up = np.flatnonzero(d > SIGNING)
    a, b = int(up[0]), int(up[-1])
    sp = frame_speed(motion, body, side)
    t, peak = a, float(sp[:a + 1].max())
    while t < b and sp[t] > WINDOW_EDGE * peak:
        peak = max(peak, float(sp[t]))
        t += 1
    while t < b and sp[t + 1] < sp[t]:
        t += 1
    start = _after_settle(motion, body, side, t, b, sp)
    t, peak = b, float(sp[b:].max())
    while t > start and sp[t] > WINDOW_EDGE * peak:
        peak = max(peak, float(sp[t]))
        t -= 1
    while t > start and sp[t - 1] < sp[t]:
        t -= 1
    return start, t + 1


def _after_settle(motion: Motion, body, side: str, t: int, b: int, sp: np.ndarray) -> int:
    """The frame after a settle that follows the approach's first pause: a short move
    (pause to pause within ``SETTLE_FRAMES``, under ``SETTLE_REACH``) that brings the
    hand the last few centimetres into place belongs to the approach, not to the sign."""
    u = t + 1
    while u < b and u - t <= SETTLE_FRAMES and not (sp[u] <= sp[u - 1] and sp[u] <= sp[u + 1]):
        u += 1
    w = wrist_path(motion, body, side)
    if u < b and u - t <= SETTLE_FRAMES and np.linalg.norm(w[u] - w[t]) < SETTLE_REACH and sp[t:u].max() > HOLD_SPEED:
        return u
    return t


def _window(motion: Motion, body, side: str, window) -> tuple[int, int]:
    return sign_window(motion, body, side) if window is None else (int(window[0]), int(window[1]))


def hand_points(motion: Motion, body, side: str) -> np.ndarray:
    """(T, 7, 3) the hand's palm, back and five fingertip sites."""
    _check_side(side)
    return posed(motion, body).sites[:, [SITE_INDEX[f"{side}_{s}"] for s in _HAND_SITES]]


def touch_points(motion: Motion, body, side: str) -> np.ndarray:
    """(T, 11, 3) the hand points that can touch: ``hand_points`` and the four middle knuckles."""
    knuckles = posed(motion, body).joints[:, [J[f"{side}_{k}"] for k in _KNUCKLES]]
    return np.concatenate([hand_points(motion, body, side), knuckles], axis=1)


def _nearest(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(T, P, 3) points, (T, S, 3) targets -> (T, S) each target's distance to its nearest point."""
    return np.linalg.norm(points[:, :, None] - targets[:, None], axis=-1).min(1)


def place_per_frame(motion: Motion, body, side: str) -> tuple[list[str], np.ndarray]:
    """Per frame, the body region nearest the hand (``NEUTRAL`` past ``NEAR``) and its distance (m)."""
    d = _nearest(hand_points(motion, body, side), posed(motion, body).sites[:, _PLACE_IDS])
    best, dist = d.argmin(1), d.min(1)
    return [_PLACE_OF[i] if x < NEAR else NEUTRAL for i, x in zip(best.tolist(), dist.tolist())], dist


def place(motion: Motion, body, side: str, window=None) -> str:
    """The region the hand is nearest most often during the sign (ties: the first reached)."""
    t0, t1 = _window(motion, body, side, window)
    labels = place_per_frame(motion, body, side)[0][t0:t1]
    return _mode(labels, NEUTRAL)


def place_point(motion: Motion, body, side: str, window=None) -> np.ndarray:
    """(3,) the hand's centre during the sign (median over the frames), relative to the neck
    joint: where the sign is made, comparable between bodies of about one size."""
    t0, t1 = _window(motion, body, side, window)
    centre = hand_points(motion, body, side)[t0:t1].mean(1) - posed(motion, body).joints[t0:t1, J["neck"]]
    return np.median(centre, axis=0)


def contacts(motion: Motion, body, side: str, window=None) -> frozenset[str]:
    """The regions (the places, "other arm", "other hand") the hand touches during the sign:
    a hand point (``touch_points``) within ``TOUCH`` of one of the region's sites in any frame."""
    t0, t1 = _window(motion, body, side, window)
    ids, names = _contact_regions(side)
    p = posed(motion, body)
    other = p.joints[t0:t1][:, [J[f"{_other(side)}_{k}"] for k in _KNUCKLES]]   # its fingers' middles too
    targets = np.concatenate([p.sites[t0:t1][:, ids], other], axis=1)
    names = names + ("other hand",) * len(_KNUCKLES)
    d = _nearest(touch_points(motion, body, side)[t0:t1], targets)
    return frozenset(names[i] for i in np.unique(np.nonzero(d < TOUCH)[1]).tolist())


@dataclass(frozen=True)
class Movement:
    path: str          # none | straight | arc | circle
    direction: str     # the main stroke label (up, down, forward, back, left, right, circle) or none
    strokes: int       # repetitions of the main stroke


def movement(motion: Motion, body, side: str, window=None) -> Movement:
    """The palm's path during the sign. Strokes are HandMotionScript's (split at pauses,
    named by net direction or "circle", 2 cm or longer); the main direction is the most
    frequent stroke (ties: the first) and ``strokes`` counts it, so three taps toward the
    chin and back are three strokes. The path's kind is HandMotionScript's ``path_shape``
    (none, straight, arc or circle), the measure the texts' arcs are said from."""
    t0, t1 = _window(motion, body, side, window)
    palm = posed(motion, body).sites[t0:t1, SITE_INDEX[f"{side}_palm"]]
    labels = strokes(palm, motion.fps)
    if not labels:
        return Movement("none", "none", 0)
    main = _mode(labels, "none")
    return Movement(path_shape(palm, labels), main, labels.count(main))


def handshape(motion: Motion, body, side: str, window=None) -> str:
    """The nearest handshape of the table to the hand's fingers over the sign."""
    t0, t1 = _window(motion, body, side, window)
    return nearest_handshape(motion.poses[t0:t1], side)[0]


def _mode(labels: list[str], empty: str) -> str:
    if not labels:
        return empty
    counts = Counter(labels)
    top = max(counts.values())
    return next(lab for lab in labels if counts[lab] == top)


# ------------------------------------------------------------------------ kinematics

def wrist_speed(motion: Motion, body, side: str) -> np.ndarray:
    """(T - 1,) the wrist's speed (m/s) from each frame to the next."""
    return np.linalg.norm(np.diff(wrist_path(motion, body, side), axis=0), axis=1) * motion.fps


def peak_speed(motion: Motion, body) -> float:
    """The fastest either wrist moves between two frames (m/s)."""
    return max(float(wrist_speed(motion, body, s).max(initial=0.0)) for s in SIDES)


def fast_steps(motion: Motion, body) -> tuple[int, int]:
    """Frame steps where a wrist moves faster than ``FAST``, and all frame steps."""
    fast = np.zeros(max(motion.num_frames - 1, 0), bool)
    for s in SIDES:
        fast |= wrist_speed(motion, body, s) > FAST
    return int(fast.sum()), int(len(fast))


def jerk(motion: Motion, body, side: str) -> float:
    """The 95th percentile over frames of the wrist's jerk (m/s^3, third differences)."""
    w = wrist_path(motion, body, side)
    if len(w) < 4:
        return 0.0
    return float(np.percentile(np.linalg.norm(np.diff(w, 3, axis=0), axis=1) * motion.fps ** 3, 95))


def hold_length(motion: Motion, body, side: str, window=None) -> float:
    """The longest stretch of the sign (s) in which the wrist moves under ``HOLD_SPEED``."""
    t0, t1 = _window(motion, body, side, window)
    still = (frame_speed(motion, body, side)[t0:t1] < HOLD_SPEED).astype(int)
    longest = run = 0
    for s in still.tolist():
        run = run + 1 if s else 0
        longest = max(longest, run)
    return longest / motion.fps


def largest_jump(motion: Motion, body) -> float:
    """The largest distance (m) any joint moves from one frame to the next."""
    joints = posed(motion, body).joints
    if len(joints) < 2:
        return 0.0
    return float(np.linalg.norm(np.diff(joints, axis=0), axis=-1).max())


# ------------------------------------------------------------------------ all of one motion

@dataclass(frozen=True)
class Fidelity:
    """Every measure of one motion, for the signer's ``dominant`` side."""
    dominant: str
    hands: str
    idle: float                   # the non-dominant wrist's farthest distance from rest (m)
    window: tuple[int, int]
    place: str
    point: np.ndarray             # (3,) the hand's centre during the sign, from the neck (m)
    contacts: frozenset
    movement: Movement
    handshape: str
    peak_speed: float
    fast: tuple[int, int]
    jerk: float
    hold: float
    jump: float


def describe(motion: Motion, body, dominant: str) -> Fidelity:
    """All measures of ``motion``, the dominant hand's during its own sign window."""
    _check_side(dominant)
    w = sign_window(motion, body, dominant)
    return Fidelity(
        dominant=dominant, hands=signing_hands(motion, body, dominant),
        idle=idle_distance(motion, body, _other(dominant)), window=w,
        place=place(motion, body, dominant, w), point=place_point(motion, body, dominant, w),
        contacts=contacts(motion, body, dominant, w), movement=movement(motion, body, dominant, w),
        handshape=handshape(motion, body, dominant, w), peak_speed=peak_speed(motion, body),
        fast=fast_steps(motion, body), jerk=jerk(motion, body, dominant),
        hold=hold_length(motion, body, dominant, w), jump=largest_jump(motion, body))
