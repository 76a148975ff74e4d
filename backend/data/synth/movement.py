"""The dominant hand's path over a sign: the ``HandPath`` a side's arm follows, and the
strokes of each ASL-LEX movement type (straight, curved, circular, back and forth, Z, X,
wiggle, hold or taps) as eased waypoints with their direction labels. numpy; never bpy.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...body import rotations as R
from ..hms import DIRECTIONS
from ..lexicon import Phonology
from .maths import ease, unit
from .phonology import Placement
from .signer import direction_label
from .tables import DOWN, FRONT, LOCATIONS, UP


class HandPath(NamedTuple):
    """What one hand's arm follows over the sign frames (settle + sign): where the contact
    point goes (k, 3), the wished global hand rotation (k, 3, 3), the contact point in the
    wrist frame (k, 3), and how far (a vector, metres) the hand lifts off the skin on its
    way in and out."""
    points: np.ndarray
    rot: np.ndarray
    offsets: np.ndarray
    lift: np.ndarray


class Asked(NamedTuple):
    """A stroke a text asked for: its direction (a name of ``DIRECTIONS``), or a traced path's
    directions, and whether it ends at the sign's place ("raise your hand up to the
    forehead") rather than leaving from it, as the lexicon's strokes do. ``facing``: two
    hands in neutral space turn their palms toward each other (a clap), which the lexicon's
    codings leave to chance; ``point``: the way (a name of ``DIRECTIONS``) a hand said to
    point there ("point forward") aims its fingers, in neutral space; ``parting``: two hands
    said to part ("start together ... and move apart") start side by side at the midline,
    not each on its own side of the chest."""
    ways: str | tuple[str, ...] | None
    arrive: bool = False
    facing: bool = False
    point: str | None = None
    parting: bool = False

    def mapped(self, rename) -> Asked:
        """The same stroke with each direction renamed (``rename``: name -> name)."""
        ways = rename(self.ways) if isinstance(self.ways, str) else tuple(rename(w) for w in self.ways or ())
        return self._replace(ways=ways, point=rename(self.point) if self.point else None)


def stroke_path(ph: Phonology, place: Placement, p0, normal, k: int, amplitude: float, rng, target,
                want: str | tuple[str, ...] | Asked | None = None):
    """(k, 3) points of the contact point over the sign from ``p0`` (outward ``normal``) and
    the stroke labels, by movement type. ``target(name, kind)`` places a second location's
    target as the first one was placed (see ``targets.place_target``). ``want`` (a name of
    ``DIRECTIONS``) is the direction a text asked for: a straight or curved stroke with no
    second location, and a back-and-forth, go that way (along the surface, never into it);
    without it the direction is drawn as the lexicon's signs go. A tuple of two or more
    names is a path a text traced ("down, then away from the body"): a straight, curved or
    Z-shaped movement goes through them in turn, one stroke each. An ``Asked`` stroke that
    arrives makes a straight or curved stroke end at ``p0`` instead of leaving from it."""
    arrive = isinstance(want, Asked) and want.arrive
    if isinstance(want, Asked):
        want = want.ways
    steps = tuple(w for w in ((want,) if isinstance(want, str) else want or ()) if w in DIRECTIONS)
    want = steps[0] if steps else None
    amp = amplitude
    kind = place.kind
    medial = DIRECTIONS["left"]
    n = unit(normal)
    t1 = unit(medial - (medial @ n) * n) if abs(medial @ n) < 0.9 else unit(UP - (UP @ n) * n)
    t2 = R.np_cross(n, t1)
    surface = kind not in ("neutral", "away")
    reps = 2 if ph.repeated else 1
    a = 0.1 * amp
    move = ph.movement
    second = LOCATIONS.get(ph.second_minor_location)
    if len(steps) >= 2 and move in ("Straight", "Curved", "Z-shaped") and second is None:
        ways = [p0]
        for step in steps:
            ways.append(ways[-1] + _along(DIRECTIONS[step] * a, n, t1, a, surface))
        return waypoints(ways, [np.zeros(3)] * (len(ways) - 1), k)
    if move in ("Straight", "Curved"):
        if second is not None and second[0] not in ("neutral", "away") and second[1] != place.site:
            p1, n1, *_ = target(second[1], second[0])
            d = p1 - p0
            bulge = unit(n + n1) * 0.04 if move == "Straight" else unit(n + n1) * 0.06
        else:
            if second is not None and second[0] in ("neutral", "away"):
                d = n * a
            else:
                dirs = [n, DOWN, t1, UP] if surface else [FRONT, DOWN, medial, UP, -medial]
                probs = [0.4, 0.3, 0.2, 0.1] if surface else [0.3, 0.3, 0.2, 0.1, 0.1]
                drawn = dirs[rng.choice(len(dirs), p=probs)]   # drawn either way: the same rng stream
                d = (DIRECTIONS[want] if want in DIRECTIONS else drawn) * a
            if kind == "head" and arrive and second is None and FRONT @ n > 0.3 and \
                    (d @ UP < -0.5 * a or d @ UP > 0.5 * a):
                # a drop or rise that ends at the face comes in front of it: its start moved
                # forward until it lies ARRIVE_OFF of the stroke out from the place's skin (a drop
                # onto the chin starts in front of the nose, not inside it, whence the clearance
                # swung the hand round the side of the head; a fist raised up to the forehead
                # slid up the face, brushing the nose; a finger raised to the nose, whose skin
                # faces forward, slid up from the chin and rose 3 cm; a drop onto the body slides
                # along the skin to its place as before)
                d = d - FRONT * max(0.0, (ARRIVE_OFF * a + float(d @ n)) / float(FRONT @ n))
            elif surface:
                d = _along(d, n, t1, a, surface, asked=want in DIRECTIONS)
            bulge = np.zeros(3) if move == "Straight" else \
                unit(R.np_cross(d, n if surface else FRONT)) * 0.3 * R.np_norm(d)
        start = p0 - d if arrive and second is None else p0
        ways = [start, start + d] * reps if reps > 1 else [start, start + d]
        bulges = [bulge if i % 2 == 0 else -bulge for i in range(len(ways) - 1)]
        return waypoints(ways, bulges, k)
    if move == "Circular":
        r = 0.045 * amp
        e1, e2 = (t1, t2) if surface else (medial, UP)
        turns = reps
        s = ease(np.linspace(0, 1, k)) * 2 * np.pi * turns
        c = p0 + r * e1
        pts = c - r * np.cos(s)[:, None] * e1 + r * np.sin(s)[:, None] * e2
        return pts, ["circle"] * turns
    if move == "BackAndForth":
        axis = DIRECTIONS[want] if want in DIRECTIONS else (t1 if surface else medial)
        if surface and want in DIRECTIONS:   # along the surface
            axis = unit(axis - (axis @ n) * n) if abs(axis @ n) < 0.9 else axis
        d = axis * 0.05 * amp
        cycles = 3 if reps > 1 else 2
        ways = [p0 + d * (i % 2) for i in range(2 * cycles + 1)]
        return waypoints(ways, [np.zeros(3)] * (len(ways) - 1), k)
    if move == "Z-shaped":
        right, w, h = DIRECTIONS["right"], 0.08 * amp, 0.07 * amp
        ways = [p0, p0 + right * w, p0 + DOWN * h, p0 + DOWN * h + right * w]
        return waypoints(ways, [np.zeros(3)] * 3, k)
    if move == "X-shaped":
        right, w = DIRECTIONS["right"], 0.07 * amp
        ways = [p0, p0 + (right + DOWN) * w, p0 + right * w, p0 + DOWN * w]
        return waypoints(ways, [np.zeros(3)] * 3, k)
    if move == "Other":
        ways = [p0, p0 + t1 * 0.03 + t2 * 0.02, p0]
        return waypoints(ways, [np.zeros(3)] * 2, k)
    # None: hold; repeated -> small taps
    if reps > 1:
        ways = [p0, p0 + n * 0.03, p0, p0 + n * 0.03, p0]
        return waypoints(ways, [np.zeros(3)] * 4, k)
    return np.repeat(p0[None], k, 0), []


ARRIVE_OFF = 0.2   # a stroke that arrives at the skin starts this share of its length out from it


def _along(d, n, t1, a: float, surface: bool, asked: bool = True):
    """A stroke ``d`` off a surface of outward normal ``n``: never into it. A stroke asked to
    go into it (down from the top of the shoulder) goes that way in front of the body rather
    than along the surface (which turns it about); any other goes along it or away from it."""
    if not surface:
        return d
    if asked and d @ n < -0.5 * R.np_norm(d):
        # out of the body by a third of the stroke: at 0.6, "drop the left fist from shoulder
        # height" went 16-20 cm forward and 11 down, read as a push
        return d + 0.35 * a * FRONT
    d = d - min(0.0, d @ n) * n + 0.3 * a * n
    if R.np_norm(d) < 0.6 * a:
        d = 0.7 * a * n + 0.3 * a * t1
    return d


def waypoints(ways, bulges, k: int):
    """Eased strokes through waypoints (each stroke starts and ends at rest) and their labels."""
    ways = [np.asarray(w, float) for w in ways]
    m = len(ways) - 1
    u = np.linspace(0, 1, k) * m
    i = np.minimum(u.astype(int), m - 1)
    s = ease(u - i)[:, None]
    w0, w1 = np.stack(ways[:-1])[i], np.stack(ways[1:])[i]
    b = np.stack(bulges)[i]
    pts = w0 + (w1 - w0) * s + b * np.sin(np.pi * s)
    labels = [direction_label(ways[j + 1] - ways[j]) for j in range(m)
              if R.np_norm(ways[j + 1] - ways[j]) > 0.015]
    return pts, labels
