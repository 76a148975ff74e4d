"""Who signs and what was meant: the seeded ``Signer`` (tempo, size of movement, precision,
tremor, body shape, posture, handedness) and the ``Truth`` a sign records for the motion-cue
checks, with the labels it is written in. numpy only; never torch or bpy.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..hms import DIRECTIONS, PALM_LABELS, PALM_VECTORS
from .maths import unit
from .tables import OTHER, POPULATION


@dataclass(frozen=True)
class Signer:
    """Seeded signer variability: the same seed always gives the same person and style."""
    seed: int
    tempo: float = 1.0          # > 1 is slower
    amplitude: float = 1.0
    jitter: float = 0.01        # metres, location noise for non-contact targets
    tremor: float = 0.0015      # metres, smooth hand noise
    betas: np.ndarray = field(default_factory=lambda: np.zeros(10))
    left_handed: bool = False
    posture: np.ndarray = field(default_factory=lambda: np.zeros(5))  # spine1..3, neck, head lean (rad)

    person: int = 0             # which of the population's bodies (betas and posture)

    @classmethod
    def sample(cls, seed: int, left_handed: bool | None = None) -> "Signer":
        """A signer from a population of ``POPULATION`` people, each signing in a style of
        this seed's own (tempo, size of movement, precision, tremor). A finite population,
        as in a real corpus, also lets a build reuse each body's solved geometry."""
        rng = np.random.default_rng(seed)
        person = int(rng.integers(POPULATION))
        body = np.random.default_rng([POPULATION, person])
        betas = np.zeros(10)
        betas[:4] = body.normal(0.0, [0.9, 0.6, 0.4, 0.3])
        lh = bool(rng.random() < 0.1) if left_handed is None else bool(left_handed)
        return cls(seed=seed, tempo=float(rng.uniform(0.85, 1.2)), amplitude=float(rng.uniform(0.8, 1.2)),
                   jitter=float(rng.uniform(0.004, 0.015)), tremor=float(rng.uniform(0.0005, 0.0025)),
                   betas=betas, left_handed=lh, posture=body.normal(0.0, 0.03, 5), person=person)


@dataclass
class Truth:
    """What the synthesizer meant, per hand ("dominant"/"other" -> "right"/"left")."""
    contact: dict = field(default_factory=dict)     # side -> (region label, touched?) or None
    palm: dict = field(default_factory=dict)        # side -> list of palm labels over the sign
    strokes: dict = field(default_factory=dict)     # side -> list of stroke direction labels
    fingers: dict = field(default_factory=dict)     # side -> list of "open"/"closed"
    targets: dict = field(default_factory=dict)     # side -> {site, frame, point, offset (wrist frame), contact}
    sign_frames: tuple[int, int] = (0, 0)
    handshape: dict = field(default_factory=dict)   # side -> handshape name(s)
    location: str = ""
    movement: str = ""
    two_handed: str = "one"
    parts: tuple = ()                               # a compound's morphemes: each one's sign frames

    def mirrored(self) -> "Truth":
        swap = lambda d: {OTHER[k]: v for k, v in d.items()}  # noqa: E731
        strokes = {OTHER[k]: [OTHER.get(s, s) for s in v] for k, v in self.strokes.items()}
        palm = {OTHER[k]: [OTHER.get(s, s) for s in v] for k, v in self.palm.items()}
        contact = {OTHER[k]: (None if v is None else (mirror_label(v[0]), v[1]))
                   for k, v in self.contact.items()}
        m = np.array([-1.0, 1.0, 1.0])
        targets = {OTHER[k]: dict(v, site=mirror_site(v["site"]), point=v["point"] * m, offset=v["offset"] * m)
                   for k, v in self.targets.items()}
        return Truth(contact, palm, strokes, swap(self.fingers), targets, self.sign_frames,
                     swap(self.handshape), self.location, self.movement, self.two_handed, self.parts)


def mirror_label(label: str) -> str:
    """A cue's region label ("right cheek") as the mirrored signer's ("left cheek")."""
    return label.replace("right ", "@").replace("left ", "right ").replace("@", "left ")


def mirror_site(name: str) -> str:
    """A body site's name ("right_cheek") as the mirrored signer's ("left_cheek")."""
    return name.replace("right_", "@").replace("left_", "right_").replace("@", "left_")


def palm_label(normals: np.ndarray) -> list[str]:
    """The cues' palm-direction label of each palm normal (..., 3)."""
    return [PALM_LABELS[i] for i in np.argmax(unit(normals) @ PALM_VECTORS.T, axis=-1)]


def direction_label(v: np.ndarray) -> str:
    """The cues' direction label ("up", "left"...) nearest to a stroke ``v``."""
    names = list(DIRECTIONS)
    return names[int(np.argmax(np.stack(list(DIRECTIONS.values())) @ unit(v)))]


def dedup(labels) -> list:
    """``labels`` with runs of the same label kept once."""
    out = []
    for x in labels:
        if not out or out[-1] != x:
            out.append(x)
    return out
