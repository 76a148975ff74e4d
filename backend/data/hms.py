"""HandMotionScript: discrete cues measured from any ``Motion`` (synthesized or from video).

Per frame it measures where each hand is relative to the body's sites and to the other
hand, which way each palm faces, how each wrist moves and whether the fingers are open
or closed. Hysteresis turns those signals into short label sequences per hand, such as
``touch: [near chin, touch chin]``, ``palm: [down, up]``, ``moves: [forward, back,
forward]``, ``fingers: [open, closed]`` and, for both hands, ``hands: [apart, touch]``.
It never reads the phonology the motion was made from. numpy; never bpy.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ..body import rotations as R
from ..body.rig import Rig
from ..body.sites import SITE_INDEX, SITE_NAMES
from ..body.skeleton import JOINT_INDEX as J
from ..motion.hands import hanging_pose
from ..motion.motion import Motion

SIDES = ("left", "right")
TOUCH_IN, TOUCH_OUT = 0.018, 0.03      # metres: start touching below, stop touching above
NEAR = 0.12                            # a hand is "near" a site closer than this
OPEN_BELOW, CLOSED_ABOVE = 0.7, 0.8    # mean knuckle + middle joint flexion (rad)
PALM_MARGIN = 0.2                      # how much better a new palm direction must score
STROKE_MIN = 0.02                      # metres: shorter wrist movements are not strokes
STRAIGHT = 0.2          # a path whose second principal extent is under this share of its first is straight
# Directions by name in body axes (+X is the body's left), shared with the synthesizer.
DIRECTIONS = {name: np.array(v, float) for name, v in (
    ("up", (0, 1, 0)), ("down", (0, -1, 0)), ("forward", (0, 0, 1)), ("back", (0, 0, -1)),
    ("left", (1, 0, 0)), ("right", (-1, 0, 0)))}
PALM_LABELS = ("up", "down", "toward the body", "away from the body", "left", "right")
PALM_VECTORS = np.stack([DIRECTIONS[d] for d in ("up", "down", "back", "forward", "left", "right")])


def region(site: str) -> str:
    """A site's plain name for cues and text: 'right_cheek' -> 'right cheek', 'lip_upper' -> 'mouth'."""
    side = ""
    for s in SIDES:
        if site.startswith(s + "_"):
            side, site = s + " ", site[len(s) + 1:]
    base = {"lip_upper": "mouth", "lip_lower": "mouth", "forearm_inner": "forearm", "wrist_inner": "wrist",
            "back_of_hand": "back of the hand", "upper_arm": "upper arm"}.get(site, site)
    if base.endswith("_tip"):
        base = "fingers"
    if base in ("chest",) and side:
        side = ""
    return f"{side}{base}"


def _hand_sites(side: str) -> list[str]:
    return [f"{side}_palm", f"{side}_back_of_hand"] + [f"{side}_{f}_tip" for f in
                                                       ("thumb", "index", "middle", "ring", "pinky")]


def _nearest(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(T, P, 3) points, (T, S, 3) targets -> (T, S): each target's distance to its nearest point."""
    d2 = ((targets * targets).sum(-1)[:, None, :] + (points * points).sum(-1)[:, :, None]
          - 2 * points @ targets.transpose(0, 2, 1))
    return np.sqrt(np.maximum(d2.min(1), 0.0))


@functools.lru_cache(maxsize=None)
def _reachable_sites(side: str) -> np.ndarray:
    """Body sites a hand can touch: everything but its own hand, wrist and arm."""
    own = set(_hand_sites(side)) | {f"{side}_{n}" for n in ("wrist", "wrist_inner", "forearm", "forearm_inner",
                                                           "elbow", "upper_arm")}
    return np.array([i for i, n in enumerate(SITE_NAMES) if n not in own])


_REGIONS = [region(name) for name in SITE_NAMES]


@dataclass
class HandCues:
    touch: list[str] = field(default_factory=list)    # "near chin", "touch chin", ...
    palm: list[str] = field(default_factory=list)
    moves: list[str] = field(default_factory=list)    # stroke directions or "circle"
    path: str = "none"                                # the palm's path over the window (``path_shape``)
    fingers: list[str] = field(default_factory=list)  # "open" / "closed"
    active: bool = False


@dataclass
class Cues:
    hands: dict[str, HandCues]
    between: list[str]                 # the two hands: "apart", "close", "touch"
    frames: tuple[int, int]            # the window the labels describe
    signals: dict = field(default_factory=dict, repr=False)   # per-frame measurements, up to the window's end

    def as_dict(self) -> dict:
        out = {s: {"touch": h.touch, "palm": h.palm, "moves": h.moves, "path": h.path, "fingers": h.fingers,
                   "active": h.active} for s, h in self.hands.items()}
        out["hands"] = self.between
        return out


def _hysteresis(values: np.ndarray, low: float, high: float, below: str, above: str) -> list[str]:
    """Per-frame labels of a scalar with a dead band: switch only when a threshold is crossed.
    A frame above ``high`` is ``above``, one under ``low`` is ``below``, one in between keeps
    the state before it (the first frame: the nearer side of the band's middle)."""
    values = np.asarray(values, float)
    if not len(values):
        return []
    mark = np.where(values > high, 1, np.where(values < low, 0, -1))
    if mark[0] < 0:
        mark[0] = int(values[0] >= (low + high) / 2)
    last = np.maximum.accumulate(np.where(mark >= 0, np.arange(len(mark)), 0))   # the last decided frame
    labels = (below, above)
    return [labels[m] for m in mark[last].tolist()]


def _compress(labels: list[str], min_run: int = 2) -> list[str]:
    """Runs of labels -> their sequence, dropping runs shorter than ``min_run`` frames."""
    runs: list[list] = []
    for lab in labels:
        if runs and runs[-1][0] == lab:
            runs[-1][1] += 1
        else:
            runs.append([lab, 1])
    kept = [r for r in runs if r[1] >= min_run] or runs[:1]
    out: list[str] = []
    for lab, _ in kept:
        if lab and (not out or out[-1] != lab):
            out.append(lab)
    return out


class HMS:
    """Measures HandMotionScript cues on one body (the mannequin or a user's SMPL-X)."""

    def __init__(self, body):
        self.body = body
        self._hanging: dict[tuple, np.ndarray] = {}

    def measure(self, motion: Motion, window: tuple[int, int] | None = None, rotations=None) -> Cues:
        """Cues over ``window`` (default: the whole motion). ``rotations``: the motion's local
        rotation matrices (T, 55, 3, 3), when the caller has them already. Every label is
        causal (hysteresis runs forward), so frames after the window are not measured."""
        t0, t1 = window if window is not None else (0, motion.num_frames)
        if not 0 <= t0 < t1 <= motion.num_frames:
            raise ValueError(f"window {window} is outside the motion's {motion.num_frames} frames")
        if t1 < motion.num_frames:
            motion = motion.cut(0, t1)
            rotations = None if rotations is None else rotations[:t1]
        rig = Rig.from_body(self.body, motion.betas)
        glob, pos = rig.fk(rotations if rotations is not None else motion.poses.astype(float))
        pos = pos + motion.trans[:, None, :].astype(float)
        sites = rig.sites(glob, pos - motion.trans[:, None, :]) + motion.trans[:, None, :]
        signals, hands = {}, {}
        points = {s: self._hand_points(s, glob, pos, sites) for s in SIDES}
        for side in SIDES:
            hands[side], signals[side] = self._hand(side, motion, glob, pos, sites, points, t0, t1)
        between = []
        if hands["left"].active and hands["right"].active:
            gap = _nearest(points["left"], points["right"]).min(1)
            between = _compress(["touch" if g < TOUCH_IN else "close" if g < NEAR else "apart" for g in gap[t0:t1]])
            signals["hand_gap"] = gap
        return Cues(hands, between, (t0, t1), signals)

    @staticmethod
    def _hand_points(side, glob, pos, sites) -> np.ndarray:
        """(T, 8, 3): palm, back, five fingertips and the front of the fist."""
        ids = [SITE_INDEX[n] for n in _hand_sites(side)]
        sx = 1.0 if side == "left" else -1.0
        wr = J[f"{side}_wrist"]
        fist = pos[:, J[f"{side}_middle2"]] + glob[:, wr] @ np.array([sx * 0.012, -0.01, 0.0])
        return np.concatenate([sites[:, ids], fist[:, None]], 1)

    def _hand(self, side, motion, glob, pos, sites, points, t0, t1):
        wr = J[f"{side}_wrist"]
        pelvis_y = pos[:, J["pelvis"], 1]
        wrist = pos[:, wr]
        hanging = self._hanging_wrist(side, motion.betas) + pos[:, J["pelvis"]]
        raised = (wrist[:, 1] - pelvis_y > 0.05) | (R.np_norm(wrist - hanging, axis=1) > 0.12)
        cues = HandCues(active=bool(raised[t0:t1].mean() > 0.3))
        if not cues.active:               # a hand at rest has no cues: its signals end here
            return cues, {"wrist": wrist}
        reach = _reachable_sites(side)
        d = _nearest(points[side], sites[:, reach])                                 # (T, S')
        nearest = reach[d.argmin(1)]
        dist = d.min(1)
        # the other hand is more than its sites: its finger bones count too (skin ~1 cm out)
        other = "right" if side == "left" else "left"
        bones = pos[:, [J[f"{other}_{f}{k}"] for f in ("index", "middle", "ring", "pinky", "thumb")
                        for k in (2, 3)]]
        d_bone = _nearest(points[side], bones).min(1) - 0.01
        on_finger = d_bone < dist
        dist = np.where(on_finger, np.maximum(d_bone, 0.0), dist)
        nearest = np.where(on_finger, SITE_INDEX[f"{other}_middle_tip"], nearest)
        # touch / near with hysteresis on the distance to the nearest site
        touching = _hysteresis(dist, TOUCH_IN, TOUCH_OUT, "touch", "free")
        names, near = [_REGIONS[i] for i in nearest[t0:t1]], (dist[t0:t1] < NEAR).tolist()
        contact = [f"touch {name}" if touch == "touch" else f"near {name}" if close else ""
                   for name, touch, close in zip(names, touching[t0:t1], near)]
        # palm direction with hysteresis
        normal = glob[:, wr] @ np.array([0.0, -1.0, 0.0])
        scores = normal @ PALM_VECTORS.T
        current = int(scores[t0].argmax())
        palm = []
        for row, best in zip(scores[t0:t1].tolist(), scores[t0:t1].argmax(1).tolist()):
            if row[best] > row[current] + PALM_MARGIN:
                current = best
            palm.append(PALM_LABELS[current])
        # finger flexion
        flex = self._flexion(motion, side)
        fingers = _hysteresis(flex, OPEN_BELOW, CLOSED_ABOVE, "open", "closed")[t0:t1]
        cues.touch = _compress(contact, 1)   # a tap may touch for a single frame
        cues.palm = _compress(palm, 3)
        cues.fingers = _compress(fingers, 3)
        palm_path = sites[t0:t1, SITE_INDEX[f"{side}_palm"]]
        cues.moves = strokes(palm_path, motion.fps)
        cues.path = path_shape(palm_path, cues.moves)
        return cues, {"site_distance": dist, "nearest_site": nearest, "palm_normal": normal,
                      "flexion": flex, "wrist": wrist}

    def _hanging_wrist(self, side: str, betas) -> np.ndarray:
        """Where this body's wrist hangs with the arms down, relative to the pelvis joint."""
        key = (side, np.asarray(betas, np.float32).tobytes())
        if key not in self._hanging:
            self._hanging[key] = self._hang(side, betas)
        return self._hanging[key]

    def _hang(self, side: str, betas) -> np.ndarray:
        _, pos = Rig.from_body(self.body, betas).fk(hanging_pose()[None])
        return pos[0, J[f"{side}_wrist"]] - pos[0, J["pelvis"]]

    @staticmethod
    def _flexion(motion: Motion, side: str) -> np.ndarray:
        joints = [J[f"{side}_{f}{k}"] for f in ("index", "middle", "ring", "pinky") for k in (1, 2)]
        return R.np_norm(motion.poses[:, joints].astype(float), axis=-1).mean(1)


def strokes(path: np.ndarray, fps: float) -> list[str]:
    """A hand's path (T, 3) -> stroke labels: split at pauses, named by net direction or 'circle'."""
    if len(path) < 3:
        return []
    padded = np.concatenate([path[:1], path[:1], path, path[-1:], path[-1:]])
    n = len(path)
    smooth = (padded[0:n] + padded[4:n + 4] + 2 * (padded[1:n + 1] + padded[3:n + 3]) + 3 * padded[2:n + 2]) / 9
    vel = np.gradient(smooth, axis=0) * fps
    speed = R.np_norm(vel, axis=1)
    top = float(speed.max())
    if top < 0.05:
        return []
    speeds = speed.tolist()
    slow = (speed < max(0.35 * top, 0.05)).tolist()
    # segment boundaries: the slowest frame of each slow run
    cuts, t = [0], 0
    while t < n:
        if slow[t]:
            start = t
            while t < n and slow[t]:
                t += 1
            run = speeds[start:t]
            cuts.append(start + run.index(min(run)))
        t += 1
    cuts.append(n - 1)
    cuts = sorted(set(cuts))
    steps = np.diff(smooth, axis=0)                     # (T-1, 3)
    lengths = R.np_norm(steps, axis=1)
    units = steps / np.where(lengths > 1e-5, lengths, 1.0)[:, None]
    ends = smooth[cuts]
    disps = ends[1:] - ends[:-1]
    reach = R.np_norm(disps, axis=1).tolist()
    heads = (disps @ _DIRECTION_MATRIX.T).argmax(1).tolist()
    labels = []
    for (a, b), disp, head in zip(zip(cuts[:-1], cuts[1:]), reach, heads):
        length = float(lengths[a:b].sum())
        if length < STROKE_MIN:
            continue
        turning = 0.0
        moving = lengths[a:b] > 1e-5
        if moving.sum() > 2:
            u = units[a:b][moving]
            turning = float(np.arccos(np.clip((u[1:] * u[:-1]).sum(1), -1, 1)).sum())
        if turning > np.radians(270) and length > 2.5 * disp:
            labels.append("circle")
        elif disp >= STROKE_MIN:
            labels.append(_DIRECTION_NAMES[head])
    return labels


def path_shape(path: np.ndarray, labels: list[str]) -> str:
    """The kind of a palm path (T, 3) with its ``strokes`` labels: "none" without strokes,
    "circle" when a stroke circles, else "straight" when the path's second principal extent
    is under ``STRAIGHT`` of its first, else "arc". One measure for the text's cues and for
    the fidelity evaluation's path type."""
    if not labels:
        return "none"
    if "circle" in labels:
        return "circle"
    extent = np.linalg.svd(path - path.mean(0), compute_uv=False)
    return "straight" if extent[1] < STRAIGHT * extent[0] else "arc"


_DIRECTION_NAMES = list(DIRECTIONS)
_DIRECTION_MATRIX = np.stack(list(DIRECTIONS.values()))
