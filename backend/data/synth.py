"""ASL-LEX phonology -> a signed SMPL-X ``Motion`` (25 fps, at most 3 s).

SignForge's own procedural signer. One sign is planned as a path of the dominant hand's
contact point (fingertip, palm or fist) through body-site targets, with a palm direction
and a finger direction at every frame; arm inverse kinematics (analytic two-bone solve,
the elbow hanging toward a natural pole, soft wrist limits, corrected until the contact
point lands) turns the path into shoulder, elbow and wrist rotations. The timeline is
rest -> approach -> sign (the lexicon's duration) -> return, eased so joint velocity never
jumps. A ``Signer`` (seeded) varies tempo, amplitude, location, tremor, body shape and
handedness. Every plan records its ground truth (sites touched, palm direction, stroke
directions, finger states) for the motion-cue checks. numpy + torch; never bpy.
"""
from __future__ import annotations

import math

from dataclasses import dataclass, field

import numpy as np

from ..body import rotations as R
from ..body.model import Body
from ..body.collide import BODY_PARTS, NEAR_SKIN, _vertex_normals
from ..body.rig import Rig, forward
from ..body.sites import SITE_NAMES
from ..body.skeleton import JOINT_INDEX as J
from ..body.skeleton import NUM_EXPRESSION, NUM_JOINTS, hand_joints
from ..motion.motion import Motion
from . import handshapes as H
from .hms import DIRECTIONS, PALM_LABELS, PALM_VECTORS, region
from .lexicon import Entry, Phonology

FPS = 25.0
MAX_SECONDS = 3.0
POPULATION = 48          # distinct signer bodies that Signer.sample draws from
MAX_MORPHEMES = 2        # compounds: the first two morphemes are signed
UP, DOWN, FRONT, BACK = (DIRECTIONS[d] for d in ("up", "down", "forward", "back"))
# Body's left is +X. The dominant hand is the right one (left-handers are mirrored).
SX = {"left": 1.0, "right": -1.0}
OTHER = {"left": "right", "right": "left"}

# ASL-LEX minor location -> (kind, site on the dominant "d" or non-dominant "n" side or
# a central site). Kinds: head, body, arm (on the other arm), hand (on the other hand),
# neutral, away (near a region, never touched).
LOCATIONS: dict[str, tuple[str, str]] = {
    "HeadTop": ("head", "head_top"), "Forehead": ("head", "forehead"), "Eye": ("head", "d_eye"),
    "CheekNose": ("head", "d_cheek"), "UpperLip": ("head", "lip_upper"), "Mouth": ("head", "mouth"),
    "Chin": ("head", "chin"), "UnderChin": ("head", "under_chin"), "Neck": ("body", "neck"),
    "Shoulder": ("body", "d_shoulder"), "Clavicle": ("body", "clavicle"),
    "TorsoTop": ("body", "chest"), "TorsoMid": ("body", "torso_mid"),
    "TorsoBottom": ("body", "stomach"), "Waist": ("body", "waist"), "Hips": ("body", "hip"),
    "UpperArm": ("arm", "n_upper_arm"), "ElbowFront": ("arm", "n_elbow_front"),
    "ElbowBack": ("arm", "n_elbow"), "ForearmBack": ("arm", "n_forearm"),
    "ForearmFront": ("arm", "n_forearm_inner"), "ForearmUlnar": ("arm", "n_forearm_ulnar"),
    "ForearmRadial": ("arm", "n_forearm"),
    "WristBack": ("arm", "n_wrist"), "WristFront": ("arm", "n_wrist_inner"),
    "Palm": ("hand", "n_palm"), "PalmBack": ("hand", "n_back_of_hand"),
    "FingerFront": ("hand", "n_finger_front"), "FingerBack": ("hand", "n_finger_back"),
    "FingerRadial": ("hand", "n_index_side"), "FingerUlnar": ("hand", "n_pinky_side"),
    "FingerTip": ("hand", "n_index_tip"), "Heel": ("hand", "n_heel"),
    "Neutral": ("neutral", "neutral"), "Other": ("neutral", "neutral"),
    "HeadAway": ("away", "face_away"), "BodyAway": ("away", "chest_away"),
    "HandAway": ("away", "hand_away"), "ArmAway": ("away", "arm_away"),
    "Away": ("away", "chest_away"), "OtherAway": ("away", "chest_away"),
}
MOVEMENTS = ("Straight", "Curved", "Circular", "BackAndForth", "Z-shaped", "X-shaped", "Other", "None")
SIGN_TYPES = {
    "OneHanded": "one", "SymmetricalOrAlternating": "symmetric", "SymmetryViolation": "symmetric",
    "AsymmetricalSameHandshape": "base_same", "AsymmetricalDifferentHandshape": "base_other",
    "DominanceViolation": "base_other",
}
# Sites on the other hand that the dominant hand touches with its own palm side facing down.
_HAND_SITE_PALM = {"n_palm": "up", "n_heel": "up", "n_finger_front": "up",
                   "n_back_of_hand": "down", "n_finger_back": "down"}


# Hand points kept out of the head and torso, and how deep (metres) one may sink in: the
# skin is soft and the contact point itself lies on it.
_CLEAR_SITES = ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip", "palm", "back_of_hand")
CLEAR_MARGIN = 0.004
CLEAR_WEIGHT, CLEAR_STEPS = 3.0, 8
CLEAR_CONTACT = 3.0
SETTLED = 1e-4              # rad: a Gauss-Newton row whose step is smaller has converged
CLEAR_LIMIT = 0.008         # deeper than this somewhere in a sign: the arm turns the hand out
# Targets built between sites, snapped onto the skin.
_ON_SURFACE = ("head_top", "under_chin", "clavicle", "torso_mid", "waist", "hip")
# Symmetric two-handed signs at a central site: where each hand goes instead.
_SYMMETRIC_SITES = {"chest": "d_chest", "torso_mid": "d_chest", "forehead": "d_temple", "head_top": "d_temple",
                    "nose": "d_cheek", "mouth": "d_cheek", "lip_upper": "d_cheek", "chin": "d_cheek",
                    "under_chin": "d_cheek", "neck": "clavicle"}
# What a touch on the other hand is called in the cues.
_HAND_REGIONS = {"n_palm": "left palm", "n_heel": "left palm", "n_back_of_hand": "left back of the hand",
                 "n_finger_front": "left fingers", "n_finger_back": "left fingers", "n_index_side": "left fingers",
                 "n_pinky_side": "left fingers", "n_index_tip": "left fingers"}


class SynthError(ValueError):
    """A lexicon entry that cannot be signed; the message names the reason."""


# ------------------------------------------------------------------------ the signer

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

    def mirrored(self) -> "Truth":
        swap = lambda d: {OTHER[k]: v for k, v in d.items()}  # noqa: E731
        flip = {"left": "right", "right": "left"}
        strokes = {OTHER[k]: [flip.get(s, s) for s in v] for k, v in self.strokes.items()}
        palm = {OTHER[k]: [flip.get(s, s) for s in v] for k, v in self.palm.items()}
        contact = {OTHER[k]: (None if v is None else (_mirror_label(v[0]), v[1]))
                   for k, v in self.contact.items()}
        m = np.array([-1.0, 1.0, 1.0])
        targets = {OTHER[k]: dict(v, site=_mirror_site(v["site"]), point=v["point"] * m, offset=v["offset"] * m)
                   for k, v in self.targets.items()}
        return Truth(contact, palm, strokes, swap(self.fingers), targets, self.sign_frames,
                     swap(self.handshape), self.location, self.movement, self.two_handed)


def _mirror_label(label: str) -> str:
    return label.replace("right ", "@").replace("left ", "right ").replace("@", "left ")


def _mirror_site(name: str) -> str:
    return name.replace("right_", "@").replace("left_", "right_").replace("@", "left_")


# ------------------------------------------------------------------------ small maths

def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    if v.ndim == 1:     # one vector (most calls): a plain dot product, no broadcasting machinery
        return v / max(math.sqrt(v @ v), 1e-12)
    return v / np.maximum(R.np_norm(v, axis=-1, keepdims=True), 1e-12)


def ease(x) -> np.ndarray:
    """Smoothstep: zero velocity at both ends, so eased pieces join without a velocity jump."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _soft_limit(v: np.ndarray, limit) -> np.ndarray:
    """Identity inside 70% of the limit, then bends smoothly (C1) toward the limit."""
    limit = np.asarray(limit, float)
    knee = 0.7 * limit
    a = np.abs(v)
    over = (a - knee) / (limit - knee)
    return np.where(a < knee, v, np.sign(v) * (knee + (limit - knee) * np.tanh(over)))


def _rot_about(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return _rodrigues(_unit(axis) * np.asarray(angle, float)[..., None])


def _rodrigues(rv: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors -> (..., 3, 3) matrices, in numpy (the IK's inner loop)."""
    return R.np_axis_angle_to_matrix(rv)


def _smooth_quaternions(q: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Gaussian-smooth (T, J, 4) quaternions over time, first and last frames held fixed."""
    # one hemisphere, so averaging is meaningful: flip where a frame turns away from the last
    turn = np.where((q[1:] * q[:-1]).sum(-1) < 0, -1.0, 1.0)
    q = q * np.concatenate([np.ones((1,) + turn.shape[1:]), np.cumprod(turn, 0)])[..., None]
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.repeat(q[:1], radius, 0), q, np.repeat(q[-1:], radius, 0)])
    out = sum(w * padded[i:i + len(q)] for i, w in enumerate(kernel))
    out /= R.np_norm(out, axis=-1, keepdims=True)
    # hold the ends exactly, fading the smoothing in over the first and last frames
    fade = np.minimum(1.0, np.minimum(np.arange(len(q)), np.arange(len(q))[::-1]) / radius)[:, None, None]
    mixed = (1 - fade) * q + fade * out
    return mixed / R.np_norm(mixed, axis=-1, keepdims=True)


def _xzy_angles(m: np.ndarray) -> np.ndarray:
    """Inverse of ``_euler_xzy``: (..., 3, 3) -> (twist, flexion, deviation)."""
    flex = np.arcsin(np.clip(-m[..., 0, 1], -1.0, 1.0))
    return np.stack([np.arctan2(m[..., 2, 1], m[..., 1, 1]), flex, np.arctan2(m[..., 0, 2], m[..., 0, 0])], -1)


def _jumps(mats: np.ndarray, starts, limit: float = 0.25) -> np.ndarray:
    """Per path (rows from each of ``starts`` to the next): whether a joint turns more than
    ``limit`` rad between two neighbouring frames."""
    starts = np.asarray(starts, int)
    if len(mats) < 2:
        return np.zeros(len(starts), bool)
    rel = np.einsum("tji,tjk->tik", mats[:-1], mats[1:])
    cos = np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)
    turn = np.arccos(cos) > limit
    turn[starts[1:] - 1] = False      # the step from one path into the next is no jump
    return np.logical_or.reduceat(np.append(turn, False), starts)


def _euler_xzy(a: np.ndarray) -> np.ndarray:
    """(..., 3) angles -> Rx(a0) @ Rz(a1) @ Ry(a2), in numpy (the wrist's WRIST_ORDER)."""
    c, s_ = np.cos(a), np.sin(a)
    cx, cz, cy, sx, sz, sy = c[..., 0], c[..., 1], c[..., 2], s_[..., 0], s_[..., 1], s_[..., 2]
    m = np.empty(a.shape + (3,))
    m[..., 0, 0], m[..., 0, 1], m[..., 0, 2] = cz * cy, -sz, cz * sy
    m[..., 1, 0] = cx * sz * cy + sx * sy
    m[..., 1, 1] = cx * cz
    m[..., 1, 2] = cx * sz * sy - sx * cy
    m[..., 2, 0] = sx * sz * cy - cx * sy
    m[..., 2, 1] = sx * cz
    m[..., 2, 2] = sx * sz * sy + cx * cy
    return m


def _palm_label(normals: np.ndarray) -> list[str]:
    return [PALM_LABELS[i] for i in np.argmax(_unit(normals) @ PALM_VECTORS.T, axis=-1)]


def direction_label(v: np.ndarray) -> str:
    names = list(DIRECTIONS)
    return names[int(np.argmax(np.stack(list(DIRECTIONS.values())) @ _unit(v)))]


# ------------------------------------------------------------------------ arm IK

# Wrist limits (rad) as twist about the forearm (x), then flexion (z), then deviation (y):
# R = Rx(twist) Rz(flexion) Ry(deviation). Euler angles keep each limit on its own axis
# (a rotation vector would wrap at pi and flip the hand between frames).
WRIST_ORDER = "XZY"
WRIST_LIMITS = np.array([1.5, 1.35, 0.6])
ELBOW_MAX = 2.6
SWINGS = tuple(np.radians([0.0, -35.0, 35.0, -70.0, 70.0]))
# Joint limits that a synthesized motion must satisfy (rotation angle of the local axis-angle).
JOINT_LIMITS = {"shoulder": 2.9, "elbow": ELBOW_MAX + 0.05, "wrist": float(R.np_norm(WRIST_LIMITS)),
                "collar": 0.5, "spine": 0.4, "finger": 1.9}


def hand_rotation(side: str, fingers: np.ndarray, palm: np.ndarray) -> np.ndarray:
    """Global wrist rotation (..., 3, 3) that points the fingers and turns the palm as asked.

    At rest both hands have the palm toward -Y; the left hand's fingers point +X and the
    right hand's -X. ``palm`` wins; ``fingers`` is made perpendicular to it.
    """
    p = _unit(palm)
    d = _unit(fingers - (fingers * p).sum(-1, keepdims=True) * p)
    if side == "left":
        cols = (d, -p, R.np_cross(d, -p))
    else:
        cols = (-d, -p, R.np_cross(d, p))
    return np.stack(cols, -1)


def _mv(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Matrices (..., 3, 3) times vectors (..., 3), broadcasting."""
    return np.einsum("...ij,...j->...i", m, v)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot products over the last axis, kept as (..., 1)."""
    return np.einsum("...i,...i->...", a, b)[..., None]


def _segment_starts(segments) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(segments)[:-1]]).astype(int)


class Arm:
    """Analytic IK for one arm of one rig, its torso held still.

    An arm's measures (shoulder position, bone vectors, collar rotation...) are one set
    that every row shares, or, for an arm made by ``Arm.stack``, one set per row: the data
    factory joins the arms of a whole shard of signs and solves them in one batch. A solve
    takes ``segments``, the number of rows of each path in the batch (one path by default),
    and handles each path as if it were solved alone.
    """

    FALLBACK_STEPS = 4   # Gauss-Newton steps for a frame re-solved from its predecessor (a warm start)
    _MEASURES = ("g_collar", "s_pos", "a1", "a2", "l1", "l2", "hinge", "rest_frame", "pole")

    def __init__(self, rig: Rig, side: str, torso_glob: np.ndarray, torso_pos: np.ndarray):
        self.side, self.stacked = side, False
        rest = rig.rest_joints
        sh, el, wr = (J[f"{side}_{n}"] for n in ("shoulder", "elbow", "wrist"))
        self.g_collar = torso_glob[J[f"{side}_collar"]]
        self.s_pos = torso_pos[sh]
        self.a1 = rest[el] - rest[sh]
        self.a2 = rest[wr] - rest[el]
        self.l1, self.l2 = R.np_norm(self.a1, keepdims=True), R.np_norm(self.a2, keepdims=True)
        a1h = _unit(self.a1)
        self.hinge = _unit(R.np_cross(a1h, FRONT))           # elbow flexion axis at rest
        self.rest_frame = np.stack([a1h, self.hinge, R.np_cross(a1h, self.hinge)], -1)
        out = np.array([SX[side], 0.0, 0.0])
        self.pole = _unit(DOWN + 0.45 * out + 0.25 * BACK)  # where a relaxed elbow points
        self.swing = 0.0                                    # the last solve's elbow swing

    @classmethod
    def stack(cls, arms: list["Arm"], rows) -> "Arm":
        """One arm whose measures repeat those of each of ``arms`` for its number of ``rows``."""
        counts = np.asarray(rows, int)
        return cls._from({name: np.repeat(np.stack([getattr(a, name) for a in arms]), counts, axis=0)
                          for name in cls._MEASURES})

    @classmethod
    def _from(cls, measures: dict) -> "Arm":
        arm = cls.__new__(cls)
        arm.side, arm.stacked, arm.swing = None, True, 0.0
        arm.__dict__.update(measures)
        return arm

    def rows(self, index) -> "Arm":
        """The arm of some rows (an index array) of a stacked arm; an unstacked arm is its own."""
        if not self.stacked:
            return self
        return self._from({name: getattr(self, name)[index] for name in self._MEASURES})

    @property
    def d_min(self) -> np.ndarray:
        """The shortest shoulder-wrist distance that the elbow's range allows."""
        return np.sqrt(self.l1 ** 2 + self.l2 ** 2 - 2 * self.l1 * self.l2 * np.cos(np.pi - ELBOW_MAX))

    def solve(self, contact: np.ndarray, hand_rot: np.ndarray, offset: np.ndarray,
              iterations: int = 3, refine: bool = True, segments=None):
        """Local shoulder, elbow and wrist matrices (T, 3, 3) x 3 and the contact point reached.

        ``contact`` (T, 3): where the hand's contact point must go; ``hand_rot`` (T, 3, 3):
        the wished global hand rotation; ``offset`` (T, 3): contact point in the wrist frame.
        ``segments``: rows per path (default: all rows are one path). The elbow swing each
        path chose is left in ``self.swing`` (one number, or one per path).
        """
        n = len(contact)
        segments = np.asarray([n] if segments is None else segments, int)
        starts = _segment_starts(segments)
        goal = contact - _mv(hand_rot, offset)
        # Swing the elbow about the shoulder-wrist line (one angle per path) to where the
        # wrist needs the least bending, preferring the relaxed hanging elbow.
        k = len(SWINGS)
        tiled = self.rows(np.tile(np.arange(n), k))
        swings = np.repeat(np.array(SWINGS), n)[:, None]
        raw = tiled._solve_once(np.tile(goal, (k, 1)), np.tile(hand_rot, (k, 1, 1)), np.tile(offset, (k, 1)),
                                swings)[4].reshape(k, n, 3)
        over = (np.maximum(np.abs(raw) / WRIST_LIMITS - 0.7, 0.0) ** 2).sum(-1)        # (k, n)
        costs = np.add.reduceat(over, starts, axis=1) / segments + 0.3 * np.array(SWINGS)[:, None] ** 2
        chosen = np.array(SWINGS)[np.argmin(costs, 0)]                                   # (paths,)
        self.swing = float(chosen[0]) if len(segments) == 1 else chosen
        swing = np.repeat(chosen, segments)[:, None]
        d_min, d_max = self.d_min * 1.02, 0.98 * (self.l1 + self.l2)
        for _ in range(iterations):
            sh, el, wr, reached, _ = self._solve_once(goal, hand_rot, offset, swing)
            # move the wrist goal by the miss, but keep it inside the arm's reach (a goal that
            # cannot be reached must not drift, or neighbouring frames would part ways)
            goal = goal + 0.8 * (contact - reached)
            v = goal - self.s_pos
            dist = R.np_norm(v, axis=-1, keepdims=True)
            goal = self.s_pos + v / np.maximum(dist, 1e-9) * np.clip(dist, d_min, d_max)
        sh, el, wr, reached, _ = self._solve_once(goal, hand_rot, offset, swing)
        if not refine:
            return sh, el, wr, reached
        # refine the paths that miss their contact or jump between frames
        miss = np.maximum.reduceat(R.np_norm(contact - reached, axis=-1), starts)
        bad = (miss > 0.003) | _jumps(wr, starts) | _jumps(sh, starts)
        if bad.any():
            rows = np.concatenate([np.arange(s, s + m) for s, m, b in zip(starts, segments, bad) if b])
            sub = self.rows(rows)
            out = sub._refine(contact[rows], hand_rot[rows], offset[rows], sh[rows], el[rows], wr[rows],
                              segments[bad])
            for full, part in zip((sh, el, wr, reached), out):
                full[rows] = part
        return sh, el, wr, reached

    def _chain(self, x: np.ndarray, offset: np.ndarray):
        """Shoulder rotvec (3), elbow angle (1), wrist angles (3) per row -> matrices, contact."""
        l_sh, l_el, l_wr, g_wr, _, _, point = self._links(x, offset)
        return l_sh, l_el, l_wr, g_wr, point

    def _links(self, x: np.ndarray, offset: np.ndarray):
        """``_chain`` with the elbow and wrist positions: local shoulder, elbow and wrist
        matrices, the global wrist rotation, elbow, wrist and contact point per row."""
        l_sh = _rodrigues(x[:, :3])
        l_el = _rodrigues(self.hinge * x[:, 3:4])
        l_wr = _euler_xzy(x[:, 4:])
        g_sh = self.g_collar @ l_sh
        g_el = g_sh @ l_el
        g_wr = g_el @ l_wr
        elbow = self.s_pos + _mv(g_sh, self.a1)
        wrist = elbow + _mv(g_el, self.a2)
        return l_sh, l_el, l_wr, g_wr, elbow, wrist, wrist + _mv(g_wr, offset)

    def _residual(self, x, x0, contact, hand_rot, offset, elbow0, stay=0.005, links=None):
        """Per-row residuals of the refinement (see ``_refine``); ``links``: ``_links(x)``
        when the caller has it."""
        _, _, _, g_wr, elbow, _, point = self._links(x, offset) if links is None else links
        lim = 0.9 * WRIST_LIMITS
        return np.concatenate([
            point - contact,                                                  # metres
            0.02 * (g_wr - hand_rot).reshape(len(x), 9),                      # wished hand rotation
            np.maximum(np.abs(x[:, 4:]) - lim, 0.0),                          # wrist range
            np.maximum(x[:, 3:4] - ELBOW_MAX, 0.0) + np.maximum(0.05 - x[:, 3:4], 0.0),
            np.maximum(R.np_norm(x[:, :3], axis=1, keepdims=True) - 2.7, 0.0),
            0.2 * (elbow - elbow0),                                           # keep the analytic elbow swing
            stay * (x - x0),                                                  # stay near the start pose
        ], 1)

    def _refine(self, contact, hand_rot, offset, sh, el, wr, segments, steps: int = 6):
        """Damped Gauss-Newton from the analytic solve: the contact point first, then the wish.

        Frames are solved together; a frame that lands in another solution than its
        predecessor (a jump of the arm between frames) is solved again from the
        predecessor's pose, so the arm never flips between neighbouring frames. The paths
        of a batch go through their frames side by side.
        """
        x = self.params(sh, el, wr)
        elbow0 = self.s_pos + _mv(self.g_collar @ sh, self.a1)
        args = (contact, hand_rot, offset, elbow0)
        x = self._gauss_newton(x, x.copy(), args, steps)
        starts, segments = _segment_starts(segments), np.asarray(segments)
        for t in range(1, int(segments.max())):
            live = segments > t
            cur = starts[live] + t
            cur = cur[np.abs(x[cur] - x[cur - 1]).max(1) > 0.25]
            if len(cur):                                        # hold on to the previous frame
                sub = self.rows(cur)
                x[cur] = sub._gauss_newton(x[cur - 1].copy(), x[cur - 1].copy(),
                                           tuple(a[cur] for a in args) + (0.1,), self.FALLBACK_STEPS)
        l_sh, l_el, l_wr, _, point = self._chain(x, offset)
        return l_sh, l_el, l_wr, point

    def params(self, sh, el, wr) -> np.ndarray:
        """Local shoulder, elbow and wrist matrices -> the parameters of ``_chain`` (rows, 7)."""
        aa = R.np_quaternion_to_axis_angle(R.np_matrix_to_quaternion(np.stack([sh, el], 1)))
        return np.concatenate([aa[:, 0], _dot(aa[:, 1], self.hinge), _xzy_angles(wr)], 1)

    def _residual_clear(self, x, x0, contact, hand_rot, offset, elbow0, points, plane_v, plane_n):
        """``_residual`` plus the depth of the hand's ``points`` (rows, P, 3 in the wrist frame)
        behind their skin planes (a vertex and its outward normal each), beyond CLEAR_MARGIN."""
        links = self._links(x, offset)
        base = self._residual(x, x0, contact, hand_rot, offset, elbow0, links=links)
        base[:, :3] *= CLEAR_CONTACT       # the touch outranks the clearance
        g_wr, wrist = links[3], links[5]
        world = wrist[:, None] + np.einsum("tij,tpj->tpi", g_wr, points)
        depth = ((plane_v - world) * plane_n).sum(-1)
        return np.concatenate([base, CLEAR_WEIGHT * np.maximum(depth - CLEAR_MARGIN, 0.0)], 1)

    def clear(self, contact, hand_rot, offset, points, sh, el, wr, planes, steps: int = CLEAR_STEPS):
        """Turn solved arms (local matrices per row) so that the hand's ``points`` leave the
        skin ``planes`` (vertex, normal per point and row) while the contact point stays:
        damped Gauss-Newton on ``_residual_clear`` from the solve. Returns the arm
        parameters (rows, 7) before and after (see ``_chain``)."""
        x = self.params(sh, el, wr)
        elbow0 = self.s_pos + _mv(self.g_collar @ sh, self.a1)
        args = (contact, hand_rot, offset, elbow0, points) + tuple(planes)
        return x, self._gauss_newton(x, x.copy(), args, steps, "_residual_clear")

    def _gauss_newton(self, x, x0, args, steps, residual: str = "_residual"):
        """Damped Gauss-Newton per row on the residual method named ``residual``. A row whose
        accepted step is below SETTLED has converged and takes no further steps."""
        eps = 1e-5
        x = np.array(x, float)
        damping = np.full(len(x), 1e-4)
        live = np.arange(len(x))          # rows still moving
        arm, a, a0 = self, args, x0
        tiled_rows = -1
        for _ in range(steps):
            n = len(live)
            if tiled_rows != n:           # the arm and arguments of the live rows, 8 copies (a probe each)
                tiled_rows = n
                probe_arm = arm.rows(np.tile(np.arange(n), 8))
                tiled = tuple(np.concatenate([v] * 8) if isinstance(v, np.ndarray) else v for v in a)
                x0_tiled = np.concatenate([a0] * 8)
            xl = x[live]
            probe = np.concatenate([xl[None], xl[None] + eps * np.eye(7)[:, None, :]]).reshape(8 * n, 7)
            allr = getattr(probe_arm, residual)(probe, x0_tiled, *tiled).reshape(8, n, -1)
            r = allr[0]
            jac = np.moveaxis((allr[1:] - r[None]) / eps, 0, -1)
            jtj = np.einsum("tri,trj->tij", jac, jac) + damping[live, None, None] * np.eye(7)
            step = np.linalg.solve(jtj, -np.einsum("tri,tr->ti", jac, r)[..., None])[..., 0]
            size = R.np_norm(step, axis=1, keepdims=True)
            trial = xl + step * np.minimum(1.0, 0.3 / np.maximum(size, 1e-12))
            better = (getattr(arm, residual)(trial, a0, *a) ** 2).sum(1) < (r ** 2).sum(1)
            x[live] = np.where(better[:, None], trial, xl)
            damping[live] = np.where(better, damping[live] * 0.3, damping[live] * 10.0)
            settled = better & (size[:, 0] < SETTLED)
            if settled.any():
                keep = np.flatnonzero(~settled)
                if not len(keep):
                    break
                live = live[keep]
                arm, a0 = arm.rows(keep), a0[keep]
                a = tuple(v[keep] if isinstance(v, np.ndarray) else v for v in a)
        return x

    def _solve_once(self, wrist_goal, hand_rot, offset, swing=0.0):
        """One analytic solve; ``swing`` (a number or (T, 1)) turns the elbow about the
        shoulder-wrist line. Returns local shoulder, elbow, wrist, the contact point reached
        and the wrist angles asked for before the limits."""
        v = wrist_goal - self.s_pos
        dist = R.np_norm(v, axis=-1, keepdims=True)
        u = v / np.maximum(dist, 1e-9)
        l1, l2 = self.l1, self.l2
        d = np.clip(dist, self.d_min * 1.001, (l1 + l2) * 0.999)
        cos_a = np.clip((l1 ** 2 + d ** 2 - l2 ** 2) / (2 * l1 * d), -1.0, 1.0)
        pole = _unit(self.pole - _dot(u, self.pole) * u)
        if np.any(swing):
            pole = np.cos(swing) * pole + np.sin(swing) * R.np_cross(u, pole)
        elbow = self.s_pos + l1 * (cos_a * u + np.sqrt(1 - cos_a ** 2) * pole)
        u1 = _unit(elbow - self.s_pos)
        u2 = _unit(self.s_pos + u * d - elbow)
        n = _unit(R.np_cross(pole, u))   # the elbow's hinge axis: normal to the arm's plane, never ill-posed
        target_frame = np.stack([u1, n, R.np_cross(u1, n)], -1)
        g_sh = target_frame @ np.swapaxes(self.rest_frame, -1, -2)
        a2l = np.einsum("...ji,...j->...i", g_sh, u2)      # forearm direction in the arm's rest frame
        a2h = _unit(self.a2)
        theta = np.arctan2(_dot(R.np_cross(a2h, a2l), self.hinge)[..., 0], _dot(a2l, a2h)[..., 0])
        local_el = _rot_about(np.broadcast_to(self.hinge, a2l.shape), theta)
        g_el = g_sh @ local_el
        local_wr = np.swapaxes(g_el, -1, -2) @ hand_rot
        raw = _xzy_angles(local_wr)
        local_wr = _euler_xzy(_soft_limit(raw, WRIST_LIMITS))
        g_wr = g_el @ local_wr
        wrist = self.s_pos + _mv(g_sh, self.a1) + _mv(g_el, self.a2)
        reached = wrist + _mv(g_wr, offset)
        local_sh = np.swapaxes(self.g_collar, -1, -2) @ g_sh
        return local_sh, local_el, local_wr, reached, raw


@dataclass
class _Solve:
    """A request from a sign in progress: ``Arm.solve`` for one path."""
    arm: Arm
    contact: np.ndarray
    hand_rot: np.ndarray
    offset: np.ndarray


@dataclass
class _Once:
    """A request from a sign in progress: ``Arm._solve_once`` at the arm's chosen swing."""
    arm: Arm
    goal: np.ndarray
    hand_rot: np.ndarray
    offset: np.ndarray
    swing: float


@dataclass
class _Clear:
    """A request from a sign in progress: ``Arm.clear`` for one path."""
    arm: Arm
    contact: np.ndarray
    hand_rot: np.ndarray
    offset: np.ndarray
    points: np.ndarray
    sh: np.ndarray
    el: np.ndarray
    wr: np.ndarray
    plane_v: np.ndarray
    plane_n: np.ndarray


def _serve(requests: list) -> list:
    """Answer many signs' solve requests with one batched solve per kind."""
    answers: list = [None] * len(requests)
    for kind in (_Solve, _Once, _Clear):
        idx = [i for i, r in enumerate(requests) if isinstance(r, kind)]
        if not idx:
            continue
        reqs = [requests[i] for i in idx]
        rows = [len(r.hand_rot) for r in reqs]
        arm = Arm.stack([r.arm for r in reqs], rows)
        cat = lambda name: np.concatenate([getattr(r, name) for r in reqs])  # noqa: E731
        if kind is _Solve:
            out = arm.solve(cat("contact"), cat("hand_rot"), cat("offset"), segments=rows)
            swings = np.broadcast_to(arm.swing, (len(reqs),))
        elif kind is _Clear:
            out = arm.clear(cat("contact"), cat("hand_rot"), cat("offset"), cat("points"), cat("sh"), cat("el"),
                            cat("wr"), (cat("plane_v"), cat("plane_n")))
        else:
            swing = np.repeat([r.swing for r in reqs], rows)[:, None]
            out = arm._solve_once(cat("goal"), cat("hand_rot"), cat("offset"), swing)[:4]
        cuts = np.cumsum(rows)[:-1]
        parts = [np.split(a, cuts) for a in out]
        for j, i in enumerate(idx):
            if kind is _Solve:
                reqs[j].arm.swing = float(swings[j])
            answers[i] = tuple(p[j] for p in parts)
    return answers


def _drive(signs: list) -> list:
    """Run sign generators in step: each yields a list of requests and receives their
    answers; every round's requests, across all signs, are served together."""
    results: list = [None] * len(signs)
    replies: dict = {i: None for i in range(len(signs))}
    while replies:
        asked: dict = {}
        for i, reply in replies.items():
            try:
                asked[i] = signs[i].send(reply)
            except StopIteration as done:
                results[i] = done.value
        flat = [r for i in asked for r in asked[i]]
        answers = iter(_serve(flat)) if flat else iter(())
        replies = {i: [next(answers) for _ in asked[i]] for i in asked}
    return results


# ------------------------------------------------------------------------ handshapes

_OPEN, _CLOSED = set("ELCb"), set("FTOKH")


def finger_state(shape_name: str) -> str:
    """'open', 'closed' or 'mixed' for a handshape, from its long fingers."""
    fingers = H.resolve(shape_name).fingers.values()
    if sum(f in _OPEN for f in fingers) >= 3:
        return "open"
    if sum(f in _CLOSED for f in fingers) >= 3:
        return "closed"
    return "mixed"


def _changed_shape(name: str) -> str:
    """The handshape a FlexionChange ends in: open hands close, closed hands open."""
    state = finger_state(name)
    if state == "open":
        return "flat_o" if not H.resolve(name).spread else "s"
    if state == "closed":
        return "5" if H.resolve(name).spread else "open_b"
    return "s"


def _contact_part(ph: Phonology, shape: str, kind: str) -> str:
    """Which part of the dominant hand touches: a fingertip, the palm or the fist's front."""
    hs = H.resolve(shape)
    selected = ph.selected_fingers if ph.selected_fingers not in ("NA", "") else "i"
    first = {"i": "index", "m": "middle", "r": "ring", "p": "pinky", "t": "thumb"}[selected[0]]
    if first != "thumb" and hs.fingers[first] in "FT":
        return "fist"
    if selected == "imrp" and all(s in "ELbB" for s in hs.fingers.values()) and kind in ("body", "hand", "arm"):
        return "palm"
    return f"{first}_tip"


# ------------------------------------------------------------------------ planning

class Synthesizer:
    """Signs lexicon entries on one body (the mannequin or a user's SMPL-X model)."""

    def __init__(self, body: Body | None = None):
        self.body = body if body is not None else Body.load()
        H.left_hand_pose("lax")  # solve (or read) the handshape table once
        self._cache: dict = {}

    # -- public -----------------------------------------------------------------
    def synthesize(self, entry: Entry, signer: Signer | int = 0) -> tuple[Motion, Truth]:
        return self.synthesize_many([(entry, signer)])[0]

    def synthesize_many(self, items) -> list[tuple[Motion, Truth]]:
        """Sign many (entry, signer) pairs at once; the same results as one by one.

        Each sign is a generator that stops at its arm solves; all signs advance in step
        and each round's solves run as one batch, which takes the numpy call overhead
        out of the per-sign cost.
        """
        if len(self._cache) > 20000:
            self._cache.clear()
        signs = []
        for entry, signer in items:
            signer = signer if isinstance(signer, Signer) else Signer.sample(int(signer))
            check_phonology(entry.phonology)
            signs.append((self._sign(entry, signer), signer))
        results = _drive([g for g, _ in signs])
        return [(motion.mirror(), truth.mirrored()) if signer.left_handed else (motion, truth)
                for (motion, truth), (_, signer) in zip(results, signs)]

    def _sign(self, entry: Entry, signer: Signer):
        later = [m for m in entry.morphemes[1:MAX_MORPHEMES] if _signable(m)]
        if later:
            return (yield from self._compound(entry, [entry.phonology] + later, signer))
        rng = np.random.default_rng([signer.seed, _stable_hash(entry.entry_id)])
        return (yield from _Build(self.body, entry, entry.phonology, signer, rng, self._cache).steps())

    def _compound(self, entry: Entry, parts: list[Phonology], signer: Signer):
        """A compound sign: each morpheme signed in turn (its share of the duration), the
        hands going straight from one morpheme to the next, fitted into MAX_SECONDS."""
        from dataclasses import replace

        gap = 8   # frames of eased travel from one morpheme's last pose to the next one's first
        n = len(parts)
        fixed = 8 + 2 * round(0.44 * signer.tempo * FPS) + n * 5 + (n - 1) * gap   # rest, approach, settles...
        frames = min(entry.duration_ms / 1000 * signer.tempo * FPS / n, (MAX_SECONDS * FPS - fixed) / n)
        share = max(frames, 10) / (signer.tempo * FPS) * 1000   # ms of sign per morpheme
        pieces = []
        for k, ph in enumerate(parts):
            rng = np.random.default_rng([signer.seed, _stable_hash(entry.entry_id), k])
            part = replace(entry, duration_ms=share, morphemes=(ph,))
            pieces.append((yield from _Build(self.body, part, ph, signer, rng, self._cache).steps()))
        motion, truth = pieces[0]
        motion = motion.cut(0, truth.sign_frames[1])          # up to the end of its sign (at rest)
        sign_end = truth.sign_frames[1]
        for m, t in pieces[1:]:
            start = max(0, t.sign_frames[0] - 5)              # from its settle (at rest)
            ends = Motion(np.stack([motion.poses[-1], m.poses[start]]), np.zeros((2, 3)),
                          np.zeros((2, NUM_EXPRESSION)), fps=FPS)
            travel = ends._sample(ease(np.arange(1, gap + 1) / (gap + 1)))
            offset = motion.num_frames + gap - start
            motion = motion.concat(travel.with_(betas=motion.betas)).concat(m.cut(start).with_(betas=motion.betas))
            sign_end = t.sign_frames[1] + offset
            truth.handshape["right"] = _dedup(truth.handshape["right"] + t.handshape["right"])
            truth.strokes["right"] = truth.strokes["right"] + t.strokes.get("right", [])
        truth.sign_frames = (truth.sign_frames[0], min(sign_end, motion.num_frames))
        limit = int(MAX_SECONDS * FPS)
        if motion.num_frames > limit:   # too long: play it faster, frames mapped along
            scale = (limit - 1) / (motion.num_frames - 1)
            motion = motion._sample(np.arange(limit) / scale)
            truth.sign_frames = tuple(int(round(f * scale)) for f in truth.sign_frames)
            for tg in truth.targets.values():
                tg["frame"] = int(round(tg["frame"] * scale))
        return motion, truth


def _stable_hash(text: str) -> int:
    import zlib

    return zlib.crc32(text.encode())


def _signable(ph: Phonology) -> bool:
    try:
        check_phonology(ph)
        return True
    except SynthError:
        return False


def check_phonology(ph: Phonology) -> None:
    """Raise SynthError naming the first coding this synthesizer cannot sign."""
    if ph.handshape in ("NA", "") or ph.handshape not in H.HANDSHAPES and ph.handshape not in H.ALIASES:
        raise SynthError(f"handshape {ph.handshape!r} is not coded or not known")
    if ph.sign_type not in SIGN_TYPES:
        raise SynthError(f"sign type {ph.sign_type!r} is not coded or not known")
    if ph.minor_location not in LOCATIONS:
        raise SynthError(f"minor location {ph.minor_location!r} is not coded or not known")
    if ph.movement not in MOVEMENTS:
        raise SynthError(f"movement {ph.movement!r} is not coded or not known")
    if SIGN_TYPES[ph.sign_type] == "base_other":
        nd = ph.nondominant_handshape
        if nd not in H.HANDSHAPES and nd not in H.ALIASES and nd not in ("NA", "DominanceConditionViolation",
                                                                         "SymmetryViolation"):
            raise SynthError(f"non-dominant handshape {nd!r} is not known")


_TORSO = ("spine1", "spine2", "spine3", "neck", "head")


class _Build:
    """One synthesis: the signer's body, the static torso, the plans and the timeline."""

    def __init__(self, body: Body, entry: Entry, ph: Phonology, signer: Signer, rng, cache: dict):
        self.body = body
        self.entry, self.ph, self.signer, self.rng = entry, ph, signer, rng
        self.cache = cache      # per body and posture: offsets and the rest frame
        self.fingers: dict = {}   # side -> (k, 15, 3) the moving hands' finger poses over the sign
        self.body_key = (signer.betas.tobytes(), signer.posture.tobytes())
        self.rig = Rig.from_body(body, signer.betas)
        self.kind, self.site = LOCATIONS[ph.minor_location]
        self.two = SIGN_TYPES[ph.sign_type]
        if self.kind in ("hand", "arm") and self.two in ("one", "symmetric"):
            self.two = "base_same"   # the other hand holds still to be touched
        if self.kind == "neutral" and ph.has_contact and self.two in ("base_same", "base_other"):
            self.kind, self.site = "hand", str(rng.choice(["n_palm", "n_back_of_hand", "n_index_side"]))
        self.rest = self._rest_pose()

    # -- poses ------------------------------------------------------------------
    def _rest_pose(self) -> np.ndarray:
        pose = np.zeros((NUM_JOINTS, 3))
        for name, lean in zip(_TORSO, self.signer.posture):
            pose[J[name]] = (lean, 0.5 * lean, 0.0)
        pose[J["left_shoulder"]] = (0.0, 0.0, -1.2)
        pose[J["right_shoulder"]] = (0.0, 0.0, 1.2)
        pose[J["left_elbow"]] = (0.0, -0.3, 0.0)
        pose[J["right_elbow"]] = (0.0, 0.3, 0.0)
        for side in ("left", "right"):
            pose[list(hand_joints(side))] = H.hand_pose("lax", side)
        return pose

    @property
    def rest_frame(self):
        key = (self.body_key, "rest")
        if key not in self.cache:
            self.cache[key] = self._frame(self.rest)
        return self.cache[key]

    def _skin(self):
        """The head and torso skin of this signer at rest: vertices and outward normals."""
        key = (self.body_key, "surface")
        if key not in self.cache:
            body = self.body
            verts = self.rig.vertices(body, self.rest)
            normals = _vertex_normals(verts, body.faces)
            owner = body.model.lbs_weights.numpy().argmax(1)
            keep = np.isin(owner, [J[n] for part in BODY_PARTS.values() for n in part])
            self.cache[key] = (verts[keep], normals[keep])
        return self.cache[key]

    def _skin_tree(self):
        """A KD-tree over ``_skin()``'s vertices (nearest-vertex queries for clearance)."""
        key = (self.body_key, "surface tree")
        if key not in self.cache:
            from scipy.spatial import cKDTree

            self.cache[key] = cKDTree(self._skin()[0])
        return self.cache[key]

    def _hand_points(self, side: str, fingers: np.ndarray) -> np.ndarray:
        """The fingertips, palm, back of the hand and wrist (k, 8, 3) in the wrist frame for finger
        poses (k, 15, 3), by forward kinematics of the hand (points on a flexing finger move
        on arcs: interpolating them would cut through the palm)."""
        k = len(fingers)
        still = np.abs(fingers - fingers[0]).max() < 1e-9              # most signs keep one handshape
        key = (self.body_key, side, "hand points", fingers[0].tobytes())
        if still and key in self.cache:
            return np.broadcast_to(self.cache[key], (k, 8, 3))
        pose = np.repeat(self.rest[None], 1 if still else k, 0)
        pose[:, list(hand_joints(side))] = fingers[:1] if still else fingers
        glob, pos = forward(pose, self.rig.rest_joints)
        sites = self.rig.sites(glob, pos)[:, [self.rig.site(f"{side}_{n}") for n in _CLEAR_SITES]]
        wr = J[f"{side}_wrist"]
        local = np.einsum("tpi,tij->tpj", sites - pos[:, wr, None], glob[:, wr])
        local = np.concatenate([local, np.zeros((len(local), 1, 3))], 1)     # and the wrist itself
        if still:
            self.cache[key] = local[0]
        return np.broadcast_to(local, (k, 8, 3))

    def _depths(self, points: np.ndarray):
        """How deep (metres, > 0 inside) points (..., 3) lie behind the head and torso skin,
        with the nearest skin vertex and its outward normal; points over 6 cm from the skin
        count as outside."""
        verts, normals = self._skin()
        flat = points.reshape(-1, 3)
        dist, idx = self._skin_tree().query(flat)
        v, n = verts[idx], normals[idx]
        depth = np.where(dist < NEAR_SKIN, ((v - flat) * n).sum(-1), -1.0)
        return depth.reshape(points.shape[:-1]), v.reshape(points.shape), n.reshape(points.shape)

    def _on_surface(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest head or torso skin point (and its outward normal) to ``point``."""
        verts, normals = self._skin()
        i = int(self._skin_tree().query(point)[1])
        return verts[i].copy(), normals[i].copy()

    def _frame(self, pose: np.ndarray):
        glob, pos = forward(pose[None], self.rig.rest_joints)
        return glob[0], pos[0], self.rig.sites(glob, pos)[0]

    def _offset(self, side: str, part: str, shape: str, spread: bool) -> np.ndarray:
        """The contact point in the wrist frame for a handshape (measured on the posed rig)."""
        key = (self.body_key, side, part, shape, spread)
        if key not in self.cache:
            self.cache[key] = self._measure_offset(side, part, shape, spread)
        return self.cache[key]

    def _hand_frame(self, side: str, shape: str, spread: bool):
        """The rest frame with one hand in a handshape (one posing serves every hand part)."""
        key = (self.body_key, side, "hand frame", shape, spread)
        if key not in self.cache:
            pose = self.rest.copy()
            pose[list(hand_joints(side))] = H.hand_pose(shape, side, spread)
            self.cache[key] = self._frame(pose)
        return self.cache[key]

    def _measure_offset(self, side: str, part: str, shape: str, spread: bool) -> np.ndarray:
        glob, pos, sites = self._hand_frame(side, shape, spread)
        wr = J[f"{side}_wrist"]
        if part == "fist":
            point = pos[J[f"{side}_middle2"]] + glob[wr] @ np.array([SX[side] * 0.012, -0.01, 0.0])
        elif part == "palm":
            point = sites[self.rig.site(f"{side}_palm")]
        else:
            point = sites[self.rig.site(f"{side}_{part}")]
        return glob[wr].T @ (point - pos[wr])

    # -- targets ------------------------------------------------------------------
    def _site_target(self, name: str, glob, pos, sites, side: str):
        """(point, outward normal, nearest real site name) for a location name."""
        s = lambda n: sites[self.rig.site(n)]  # noqa: E731
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
            "under_chin": lambda: (s("chin") + DOWN * 0.02 + BACK * 0.025, _unit(DOWN + 0.3 * FRONT)),
            "clavicle": lambda: (s(f"{d}_chest") + UP * 0.05 - lateral * 0.02, _unit(FRONT + 0.5 * UP)),
            "torso_mid": lambda: ((s("chest") + s("stomach")) / 2 + FRONT * 0.01, FRONT),
            "waist": lambda: (s("stomach") + DOWN * 0.05 + lateral * 0.07, _unit(FRONT + 0.5 * lateral)),
            "hip": lambda: (s("stomach") + DOWN * 0.14 + lateral * 0.14 + BACK * 0.03, _unit(lateral + FRONT)),
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
        }
        if name in derived:               # a place between sites (computed only when asked for)
            point, normal = derived[name]()
            if name in _ON_SURFACE:   # a point between sites may lie inside: put it on the skin
                point, normal = self._on_surface(point)
        else:
            point = s(name)
            if name in (f"{n}_palm",):
                normal = palm_n
            elif name == f"{n}_back_of_hand":
                normal = -palm_n
            elif name.endswith("_tip"):
                normal = fdir
            elif name.startswith(n + "_"):
                normal = _unit(point - pos[J[f"{n}_elbow"]])
            elif name in ("neck",):
                normal = FRONT
            elif name.endswith("shoulder"):
                normal = _unit(UP + 0.3 * FRONT)
            elif name in ("chest", "stomach") or name.endswith("_chest"):
                normal = _unit((point - spine) * np.array([1.0, 0.2, 1.0]))
            else:
                normal = _unit(point - head_c)
        dist = R.np_norm(sites - point, axis=1)
        self.site_gap = float(dist.min())    # how far the target lies from the nearest named site
        nearest = SITE_NAMES[int(np.argmin(dist))]
        return point, _unit(normal), nearest

    # -- hand orientation -----------------------------------------------------------
    def _orientation(self, part: str, kind: str, normal: np.ndarray, target: np.ndarray,
                     shoulder: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
        """(palm, fingers) world directions for the dominant (right) hand at its location."""
        medial = DIRECTIONS["left"]
        rng = self.rng
        if part == "palm" and kind not in ("neutral", "away"):
            fingers = UP if kind == "head" else _unit(medial + 0.6 * UP + 0.2 * FRONT)
            if self.site in ("waist", "hip"):
                fingers = _unit(0.5 * medial + DOWN)
            if abs(_unit(normal) @ UP) > 0.7:
                fingers = _unit(FRONT + 0.3 * medial)
            return -normal, fingers
        if kind in ("neutral", "away"):
            choice = rng.choice(4, p=[0.4, 0.3, 0.2, 0.1])
            palm, fingers = [(medial, FRONT + 0.5 * UP), (DOWN, FRONT + 0.3 * medial),
                             (BACK, UP + 0.3 * medial), (UP, FRONT + 0.3 * medial)][choice]
            return palm, _unit(fingers + rng.normal(0, 0.1, 3))
        # Fingertip or fist contact: the fingers point from where a relaxed wrist would be
        # (out to the side, below and in front of the target) toward the target.
        out = DIRECTIONS["right"]
        n = _unit(normal)
        if kind in ("hand", "arm") and n @ UP > 0.6:    # a surface facing up (the other palm): from above
            return DOWN, _unit(FRONT + 0.4 * medial + 0.2 * DOWN)
        if kind in ("hand", "arm") and n @ UP < -0.6:   # a surface facing down: from below
            return UP, _unit(FRONT + 0.4 * medial + 0.3 * UP)
        wrist = out * 0.06 + DOWN * 0.10 + FRONT * 0.08 + n * 0.05
        if self.site == "d_shoulder":   # folding back onto the own shoulder
            wrist = FRONT * 0.14 + DOWN * 0.02 + medial * 0.04
        for _ in range(20):
            w = R.np_norm(wrist)
            into = wrist @ n / w          # how straight the fingers point into the skin
            if into > 0.6:                # graze rather than stab, so the other fingers stay out
                wrist = wrist - n * (into - 0.55) * w
            elif R.np_norm(target + wrist / w * reach - shoulder) < 0.19:
                wrist = wrist + _unit(0.5 * out + DOWN + 0.5 * FRONT) * 0.03   # keep the elbow from folding shut
            else:
                break
        fingers = _unit(-wrist + self.rng.normal(0, 0.05, 3))
        if part == "fist":                # a fist leads with its knuckles: fingers into the surface
            fingers = _unit(-n + 0.2 * UP + self.rng.normal(0, 0.05, 3))
        # The palm most across the fingers that neither faces into the skin (the curled
        # fingers and a folded thumb lie on the palm side) nor turns the thumb side into it.
        palms = [BACK, medial, DOWN, -medial]
        thumb = [R.np_cross(fingers, p) for p in palms]     # the right hand's thumb side
        score = [abs(p @ fingers) + 2.0 * max(0.0, -(_unit(t) @ n)) + 2.0 * max(0.0, -(p @ n) - 0.3)
                 + (0.3 if i == 3 else 0.0) for i, (p, t) in enumerate(zip(palms, thumb))]
        palm = palms[int(np.argmin(score))]
        return palm, fingers

    def _reachable_aim(self, frame, target, rot, offset, direction):
        """A hand rotation that points the contact part at the target along ``direction``
        and that the wrist can make from the forearm the arm IK gives there."""
        arm = Arm(self.rig, "right", frame[0], frame[1])
        for _ in range(3):
            palm, fingers = _aim(rot, offset, direction)
            rot = hand_rotation("right", fingers, palm)
            wrist = target - rot @ offset
            [(sh, el, *_)] = yield [_Once(arm, wrist[None], rot[None], offset[None], 0.0)]
            g_el = arm.g_collar @ sh[0] @ el[0]
            angles = np.clip(_xzy_angles(g_el.T @ rot), -0.75 * WRIST_LIMITS, 0.75 * WRIST_LIMITS)
            rot = g_el @ _euler_xzy(angles)
        return _aim(rot, offset, direction)

    # -- the other hand ---------------------------------------------------------------
    def _base_pose(self, pose: np.ndarray, shape: str, spread: bool) -> np.ndarray | None:
        """Put the passive (left) hand where the dominant hand's location needs it."""
        glob, pos, sites = self.rest_frame if np.array_equal(pose, self.rest) else self._frame(pose)
        spine = pos[J["spine3"]]
        right = DIRECTIONS["right"]
        site = self.site
        if site in ("n_upper_arm", "n_elbow"):
            return None, None                              # the hanging arm is the base
            yield                                          # (a generator: it may ask for a solve)
        if self.kind == "arm":
            palm_up = site in ("n_forearm_inner", "n_wrist_inner", "n_elbow_front")
            where = np.array([-0.02, spine[1] - 0.12, spine[2] + 0.3])
            palm, fingers = (UP if palm_up else DOWN), right
        elif site in ("n_palm", "n_heel", "n_finger_front"):
            where, palm, fingers = np.array([0.04, spine[1] - 0.16, spine[2] + 0.3]), UP, _unit(FRONT + 0.6 * right)
        elif site in ("n_back_of_hand", "n_finger_back"):
            where, palm, fingers = np.array([0.04, spine[1] - 0.14, spine[2] + 0.3]), DOWN, _unit(FRONT + 0.6 * right)
        elif self.kind == "hand" or site == "hand_away":
            where, palm, fingers = np.array([0.05, spine[1] - 0.1, spine[2] + 0.3]), right, _unit(0.5 * FRONT + UP)
        else:                                               # passive hand in neutral space
            where, palm, fingers = np.array([0.12, spine[1] - 0.16, spine[2] + 0.28]), right, _unit(FRONT + 0.4 * UP)
        where = where + self.rng.normal(0, 0.01, 3)
        arm = Arm(self.rig, "left", glob, pos)
        offset = self._offset("left", "palm", shape, spread)
        rot = hand_rotation("left", fingers, palm)[None]
        [(sh, el, wr, _)] = yield [_Solve(arm, where[None], rot, offset[None])]
        out = pose.copy()
        out[[J["left_shoulder"], J["left_elbow"], J["left_wrist"]]] = R.np_quaternion_to_axis_angle(
            R.np_matrix_to_quaternion(np.stack([sh[0], el[0], wr[0]])))
        out[list(hand_joints("left"))] = H.hand_pose(shape, "left", spread)
        return out, (where, rot[0], offset)

    # -- the dominant path --------------------------------------------------------------
    def _target(self, name: str, kind: str, frame, contact: bool):
        point, normal, nearest = self._site_target(name, *frame, "right")
        if kind in ("neutral", "away"):
            point = point + self.rng.normal(0, self.signer.jitter, 3)
        elif not contact:
            point = point + normal * self.rng.uniform(0.04, 0.07)
        else:
            t = R.np_cross(normal, self.rng.normal(0, 1, 3))
            point = point + _unit(t) * min(self.signer.jitter, 0.003)
        return point, normal, nearest

    def _path(self, p0, normal, kind, contact, frame, k):
        """(k, 3) points over the sign and the stroke labels, by movement type."""
        ph, rng, amp = self.ph, self.rng, self.signer.amplitude
        medial = DIRECTIONS["left"]
        n = _unit(normal)
        t1 = _unit(medial - (medial @ n) * n) if abs(medial @ n) < 0.9 else _unit(UP - (UP @ n) * n)
        t2 = R.np_cross(n, t1)
        surface = kind not in ("neutral", "away")
        reps = 2 if ph.repeated else 1
        a = 0.1 * amp
        move = ph.movement
        second = LOCATIONS.get(ph.second_minor_location)
        if move in ("Straight", "Curved"):
            if second is not None and second[0] not in ("neutral", "away") and second[1] != self.site:
                p1, n1, _ = self._target(second[1], second[0], frame, contact)
                d = p1 - p0
                bulge = _unit(n + n1) * 0.04 if move == "Straight" else _unit(n + n1) * 0.06
            else:
                if second is not None and second[0] in ("neutral", "away"):
                    d = n * a
                else:
                    dirs = [n, DOWN, t1, UP] if surface else [FRONT, DOWN, medial, UP, -medial]
                    probs = [0.4, 0.3, 0.2, 0.1] if surface else [0.3, 0.3, 0.2, 0.1, 0.1]
                    d = dirs[rng.choice(len(dirs), p=probs)] * a
                if surface:   # never into the surface: along it or away from it
                    d = d - min(0.0, d @ n) * n + 0.3 * a * n
                    if R.np_norm(d) < 0.6 * a:
                        d = 0.7 * a * n + 0.3 * a * t1
                bulge = np.zeros(3) if move == "Straight" else \
                    _unit(R.np_cross(d, n if surface else FRONT)) * 0.3 * R.np_norm(d)
            ways = [p0, p0 + d] * reps if reps > 1 else [p0, p0 + d]
            bulges = [bulge if i % 2 == 0 else -bulge for i in range(len(ways) - 1)]
            return _waypoints(ways, bulges, k)
        if move == "Circular":
            r = 0.045 * amp
            e1, e2 = (t1, t2) if surface else (medial, UP)
            turns = reps
            s = ease(np.linspace(0, 1, k)) * 2 * np.pi * turns
            c = p0 + r * e1
            pts = c - r * np.cos(s)[:, None] * e1 + r * np.sin(s)[:, None] * e2
            return pts, ["circle"] * turns
        if move == "BackAndForth":
            d = (t1 if surface else medial) * 0.05 * amp
            cycles = 3 if reps > 1 else 2
            ways = [p0 + d * (i % 2) for i in range(2 * cycles + 1)]
            return _waypoints(ways, [np.zeros(3)] * (len(ways) - 1), k)
        if move == "Z-shaped":
            right, w, h = DIRECTIONS["right"], 0.08 * amp, 0.07 * amp
            ways = [p0, p0 + right * w, p0 + DOWN * h, p0 + DOWN * h + right * w]
            return _waypoints(ways, [np.zeros(3)] * 3, k)
        if move == "X-shaped":
            right, w = DIRECTIONS["right"], 0.07 * amp
            ways = [p0, p0 + (right + DOWN) * w, p0 + right * w, p0 + DOWN * w]
            return _waypoints(ways, [np.zeros(3)] * 3, k)
        if move == "Other":
            ways = [p0, p0 + t1 * 0.03 + t2 * 0.02, p0]
            return _waypoints(ways, [np.zeros(3)] * 2, k)
        # None: hold; repeated -> small taps
        if reps > 1:
            ways = [p0, p0 + n * 0.03, p0, p0 + n * 0.03, p0]
            return _waypoints(ways, [np.zeros(3)] * 4, k)
        return np.repeat(p0[None], k, 0), []

    # -- the whole sign -------------------------------------------------------------------
    def run(self) -> tuple[Motion, Truth]:
        return _drive([self.steps()])[0]

    def steps(self):
        """The sign as a generator of arm-solve requests (see ``_drive``); returns (Motion, Truth)."""
        ph, rng, signer = self.ph, self.rng, self.signer
        shape = H.resolve(ph.handshape).name
        spread = H.resolve(shape).spread if ph.spread not in ("0", "1") else ph.spread == "1"
        shape2 = _changed_shape(shape) if ph.flexion_change == "1" else shape
        spread2 = (not spread) if ph.spread_change == "1" else (H.resolve(shape2).spread if shape2 != shape else spread)
        contact = ph.has_contact and self.kind not in ("neutral", "away")
        part = _contact_part(ph, shape, self.kind)
        static = self.rest.copy()
        truth = Truth(location=ph.minor_location, movement=ph.movement, two_handed=self.two)
        base_shape, base_track = None, None
        if self.two in ("base_same", "base_other"):
            nd = ph.nondominant_handshape
            base_shape = shape if self.two == "base_same" or nd not in H.HANDSHAPES and nd not in H.ALIASES \
                else H.resolve(nd).name
            based, base_track = yield from self._base_pose(static, base_shape, H.resolve(base_shape).spread)
            if based is not None:
                static = based
            truth.handshape["left"] = [base_shape]
            truth.fingers["left"] = [finger_state(base_shape)]
        frame = self.rest_frame if static is self.rest or np.array_equal(static, self.rest) else self._frame(static)
        site = self.site
        if self.two == "symmetric":   # both hands cannot share a central site: each takes its side's
            site = _SYMMETRIC_SITES.get(site, site)
        p0, normal, nearest = self._target(site, self.kind, frame, contact)
        # The cues name sites: a touch between named sites (the clavicle) reads as "near"
        # the closest one; the other hand is touched anywhere on its fingers, palm or back.
        touches_site = contact and (self.site_gap < 0.012 or self.kind == "hand")
        label = _HAND_REGIONS.get(site, region(nearest)) if self.kind == "hand" else region(nearest)
        if self.two == "symmetric" and not site.startswith(("d_", "n_")) and self.kind not in ("neutral", "away"):
            p0 = p0 + DIRECTIONS["right"] * 0.05 + normal * 0.01
        # timeline (frames)
        tempo = signer.tempo
        lead, tail = int(rng.integers(2, 5)), int(rng.integers(2, 4))
        approach = int(round(0.44 * tempo * FPS))
        settle = 5
        ret = int(round(0.44 * tempo * FPS))
        budget = int(MAX_SECONDS * FPS) - (lead + approach + settle + ret + tail)
        if budget < 10:   # a slow signer: shorter approach and return, never a longer motion
            approach, ret = approach - (10 - budget) // 2 - 1, ret - (10 - budget) // 2 - 1
            budget = int(MAX_SECONDS * FPS) - (lead + approach + settle + ret + tail)
        sign = int(np.clip(round(self.entry.duration_ms / 1000.0 * tempo * FPS), 10, budget))
        k = settle + sign
        points, strokes = self._path(p0, normal, self.kind, contact, frame, sign)
        off_a = self._offset("right", part, shape, spread)
        palm0, fingers0 = self._orientation(part, self.kind, normal, p0, frame[1][J["right_shoulder"]],
                                            float(R.np_norm(off_a)))
        if part != "palm" and self.kind not in ("neutral", "away"):
            palm0, fingers0 = yield from self._reachable_aim(frame, p0, hand_rotation("right", fingers0, palm0), off_a,
                                                  fingers0)
        u = np.linspace(0.0, 1.0, sign)
        twist = np.zeros(sign)
        if ph.ulnar_rotation == "1":
            twist = (ease(u) - 0.5) * 2 * 0.75 * rng.choice([-1.0, 1.0])
        palm = np.einsum("tij,j->ti", _rot_about(np.broadcast_to(fingers0, (sign, 3)), twist), _unit(palm0))
        pre = p0 + normal * (0.07 if contact else 0.03)
        settle_pts = pre + (p0 - pre) * ease(np.linspace(0, 1, settle + 1)[:-1])[:, None]
        pts = np.concatenate([settle_pts, points])
        palm_all = np.concatenate([np.repeat(palm[:1], settle, 0), palm])
        blend = np.concatenate([np.zeros(settle), ease((u - 0.2) / 0.6) if shape2 != shape or spread2 != spread
                                else np.zeros(sign)])
        window = np.sin(np.linspace(0, np.pi, k)) ** 2
        pts = pts + _smooth_noise(rng, k, signer.tremor) * window[:, None]
        # dominant arm
        off_b = self._offset("right", part, shape2, spread2)
        offsets = off_a + blend[:, None] * (off_b - off_a)
        rot = hand_rotation("right", np.broadcast_to(fingers0, (k, 3)), palm_all)
        glob, pos, _ = frame
        hold = lambda x: np.repeat(np.asarray(x)[None], k, 0)  # noqa: E731
        paths = {"right": (pts, rot, offsets, normal * (0.07 if contact else 0.03))}
        hands = {"right": _hand_track(shape, spread, shape2, spread2, blend, "right")}
        if base_track is not None:
            where, b_rot, b_off = base_track
            paths["left"] = (hold(where), hold(b_rot), hold(b_off), np.zeros(3))
            hands["left"] = hold(H.hand_pose(base_shape, "left"))
        if ph.movement == "Other":
            hands["right"] = _wiggle(hands["right"], k, "right")
        if self.two == "symmetric":
            alternating = rng.random() < 0.4 and ph.movement != "None"
            mirror = np.array([-1.0, 1.0, 1.0])
            m_pts = (pts[::-1] if alternating else pts) * mirror
            m_palm = (palm_all[::-1] if alternating else palm_all) * mirror
            m_rot = mirror[:, None] * (rot[::-1] if alternating else rot) * mirror[None, :]   # M R M
            off_l = self._offset("left", part, shape, spread)
            off_l2 = self._offset("left", part, shape2, spread2)
            offs_l = off_l + blend[:, None] * (off_l2 - off_l)
            paths["left"] = (m_pts, m_rot, offs_l, normal * mirror * (0.07 if contact else 0.03))
            hands["left"] = _hand_track(shape, spread, shape2, spread2, blend, "left")
            truth.contact["left"] = ((region(_mirror_site(nearest)), touches_site)
                                     if self.kind not in ("neutral", "away") else None)
            truth.palm["left"] = _dedup(_palm_label(m_palm[[settle, -1]]))
            flip = {"left": "right", "right": "left"}
            if alternating:   # the other hand runs the path backwards: reversed, opposite strokes
                opposite = {"up": "down", "down": "up", "forward": "back", "back": "forward",
                            "left": "right", "right": "left"}
                left_strokes = [opposite.get(x, x) for x in reversed(strokes)]
            else:
                left_strokes = list(strokes)
            truth.strokes["left"] = [flip.get(x, x) for x in left_strokes]
            truth.fingers["left"] = _dedup([finger_state(shape), finger_state(shape2)])
            truth.handshape["left"] = _dedup([shape, shape2])
        self.fingers = {side: hands[side] for side in ("right", "left") if side in hands and
                        (side == "right" or self.two == "symmetric")}
        arms = yield from self._arm_tracks(frame, paths, approach, ret)
        poses = self._timeline(arms, hands, lead, approach, k, ret, tail)
        first = lead + approach + settle
        truth.sign_frames = (first, first + sign)
        truth.contact["right"] = (label, touches_site) if self.kind not in ("neutral", "away") else None
        truth.palm["right"] = _dedup(_palm_label(palm[[0, -1]]))
        truth.strokes["right"] = strokes
        truth.fingers["right"] = _dedup([finger_state(shape), finger_state(shape2)])
        truth.handshape["right"] = _dedup([shape, shape2])
        truth.targets["right"] = {"site": nearest, "frame": first, "point": p0, "offset": off_a,
                                  "contact": contact}
        motion = Motion(poses, np.zeros((len(poses), 3)), np.zeros((len(poses), NUM_EXPRESSION)), fps=FPS,
                        betas=signer.betas.astype(np.float32), text="",
                        provenance={"source": "signforge-synth", "entry": self.entry.entry_id,
                                    "seed": str(signer.seed)})
        return motion, truth

    def _arm_tracks(self, frame, paths: dict, approach: int, ret: int):
        """Local shoulder/elbow/wrist quaternions (approach + sign + return, 3, 4) per side.

        ``paths[side]`` = (points, hand rotations, contact offsets, lift). The sign frames
        are solved exactly. On the way in (and out) the contact point travels from where it
        hangs at rest, bowing forward so the hand never cuts through the body; the arm
        follows it with the sign's elbow swing, the wrist turns in its own frame from rest
        to the sign's first pose, and the whole arm eases into the rest pose at one end and
        into the sign's first (last) pose at the other. A generator: the solves are requests.
        The legs (in and out, each side) are computed together, a row per frame.
        """
        glob, pos, _ = frame
        r_glob, r_pos, _ = self.rest_frame
        sides = list(paths)
        arms = {side: Arm(self.rig, side, glob, pos) for side in sides}
        solved = yield [_Solve(arms[side], *paths[side][:3]) for side in sides]
        if self.kind in ("head", "body"):
            solved = yield from self._clear(arms, paths, solved)
        s_in, s_out = ease(np.arange(1, approach + 1) / approach), ease(np.arange(1, ret + 1) / ret)
        s = np.concatenate([s_in, s_out] * len(sides))
        w_sign = np.concatenate([s_in, 1 - s_out] * len(sides))          # 1 at the sign's end of a leg
        rows = [approach, ret] * len(sides)
        legs = []   # per leg: start, end, lift, rest-end quaternions, sign-end quaternions, wished hand
        cores, rests = {}, {}
        for side, (sh, el, wrs, _) in zip(sides, solved):
            pts, rot, offsets, lift = paths[side]
            wr = J[f"{side}_wrist"]
            cores[side] = R.np_matrix_to_quaternion(np.stack([sh, el, wrs], 1))            # (k, 3, 4)
            rests[side] = R.np_axis_angle_to_quaternion(self.rest[[J[f"{side}_{n}"] for n in
                                                                   ("shoulder", "elbow", "wrist")]])
            rest_pt = r_pos[wr] + r_glob[wr] @ offsets[0]
            legs += [(rest_pt, pts[0], lift, rests[side], cores[side][0], rot[0], r_glob[wr], offsets[0]),
                     (pts[-1], rest_pt, lift, rests[side], cores[side][-1], rot[-1], r_glob[wr], offsets[0])]
        per_row = lambda i: np.repeat(np.stack([leg[i] for leg in legs]), rows, axis=0)  # noqa: E731
        a, b, lift = per_row(0), per_row(1), per_row(2)
        # bow forward, the more so the further the hand crosses in front of the body
        bow = FRONT * (0.12 + 0.5 * np.abs(a[:, :1] - b[:, :1])) + lift
        path = a + (b - a) * s[:, None] + bow * np.sin(np.pi * s)[:, None]
        q_hand = R.np_matrix_to_quaternion(np.stack([per_row(6), per_row(5)], 1))       # rest, sign
        rots = R.np_quaternion_to_matrix(R.np_quaternion_slerp(q_hand[:, 0], q_hand[:, 1], w_sign[:, None]))
        off = per_row(7)
        goal = path - _mv(rots, off)
        cuts = np.cumsum([approach + ret] * len(sides))[:-1]
        guided = yield [_Once(arms[side], g, r, o, arms[side].swing)
                        for side, g, r, o in zip(sides, np.split(goal, cuts), np.split(rots, cuts),
                                                 np.split(off, cuts))]
        a_sh = np.concatenate([g[0] for g in guided])
        a_el = np.concatenate([g[1] for g in guided])
        guide = R.np_matrix_to_quaternion(np.stack([a_sh, a_el, a_el], 1))
        rest_q, sign_q = per_row(3), per_row(4)
        guide[:, 2] = rest_q[:, 2]
        near_rest = ease(w_sign / 0.75)
        mid = R.np_quaternion_slerp(rest_q, guide, near_rest[:, None, None])
        mid[:, 2] = R.np_quaternion_slerp(rest_q[:, 2], sign_q[:, 2], w_sign[:, None])
        travel = np.split(R.np_quaternion_slerp(mid, sign_q, (w_sign ** 2)[:, None, None]), np.cumsum(rows)[:-1])
        tracks = {}
        for i, side in enumerate(sides):
            q_rest = rests[side]
            q_in = _smooth_quaternions(np.concatenate([q_rest[None], travel[2 * i]]))[1:]
            q_out = _smooth_quaternions(np.concatenate([travel[2 * i + 1], q_rest[None]]))[:-1]
            tracks[side] = np.concatenate([q_in, cores[side], q_out])
        return tracks

    def _clear(self, arms: dict, paths: dict, solved: list, rounds: int = 3):
        """Keep the hands out of the head and torso over the solved frames: where a fingertip,
        the palm, the back of the hand or the wrist sinks more than CLEAR_LIMIT behind the
        skin, the arm turns the hand about its contact point (``Arm.clear``, against the skin
        plane under each point). The skin curves, so the planes are measured again for each
        of a few rounds. Each round's change is spread over neighbouring frames so that the
        motion stays smooth. A generator: the solves are requests."""
        out = list(solved)
        live = {i: side for i, side in enumerate(paths) if side in self.fingers}
        start = {}
        for _ in range(rounds):
            asks, which = [], []
            for i, side in live.items():
                sh, el, wr, reached = out[i]
                pts, rot, offsets, _ = paths[side]
                arm, local = arms[side], self._hand_points(side, self.fingers[side])
                g_wr = arm.g_collar @ sh @ el @ wr
                world = (reached - _mv(g_wr, offsets))[:, None] + np.einsum("tij,tpj->tpi", g_wr, local)
                depth, v, n = self._depths(world)
                if depth.max() <= CLEAR_LIMIT:
                    continue
                n = np.where((depth > -1.0)[..., None], n, 0.0)       # far from the skin: no plane
                # the frames that sink, and their neighbours (the change spreads over them)
                rows = np.flatnonzero(np.convolve(depth.max(1) > CLEAR_MARGIN, np.ones(5), "same") > 0)
                asks.append(_Clear(arm, pts[rows], rot[rows], offsets[rows], local[rows], sh[rows], el[rows],
                                   wr[rows], v[rows], n[rows]))
                which.append((i, side, rows, sh, el, wr))
            if not asks:
                break
            answers = yield asks
            for (i, side, rows, sh, el, wr), (_, x_new) in zip(which, answers):
                x_now = arms[side].params(sh, el, wr)
                x0 = start.setdefault(i, x_now)
                x = x_now.copy()
                x[rows] = x_new
                x = x0 + _spread(x - x0)
                l_sh, l_el, l_wr, _, point = arms[side]._chain(x, paths[side][2])
                out[i] = (l_sh, l_el, l_wr, point)
            live = {w[0]: w[1] for w in which}
        return out

    def _timeline(self, arms, hands, lead, approach, k, ret, tail) -> np.ndarray:
        """Rest -> approach -> the solved frames -> return -> rest, as (T, 55, 3) axis-angles.
        Only the joints that move are converted; the others keep the rest pose's numbers."""
        n = lead + approach + k + ret + tail
        span = slice(lead, lead + approach + k + ret)
        joints, tracks = [], []
        for side, track in arms.items():
            joints += [J[f"{side}_{j}"] for j in ("shoulder", "elbow", "wrist")]
            tracks.append(track)
        w_in = ease(np.arange(1, approach + 1) / approach)
        w_out = ease(np.arange(1, ret + 1) / ret)
        for side, fingers in hands.items():
            hand = list(hand_joints(side))
            lax = R.np_axis_angle_to_quaternion(self.rest[hand])
            core = R.np_axis_angle_to_quaternion(fingers)
            if np.array_equal(core[0], core[-1]):    # one handshape: the way out is the way in reversed
                legs = R.np_quaternion_slerp_path(lax, core[0], np.concatenate([w_in, 1 - w_out]))
                fin_in, fin_out = legs[:approach], legs[approach:]
            else:
                fin_in = R.np_quaternion_slerp_path(lax, core[0], w_in)
                fin_out = R.np_quaternion_slerp_path(core[-1], lax, w_out)
            joints += hand
            tracks.append(np.concatenate([fin_in, core, fin_out]))
        poses = np.repeat(self.rest[None], n, 0)
        if joints:
            poses[span, joints] = R.np_quaternion_to_axis_angle(np.concatenate(tracks, 1))
        return poses


def _spread(delta: np.ndarray, reach: int = 2, sigma: float = 1.5) -> np.ndarray:
    """Per-frame changes (T, D) spread in time: each frame takes the largest change within
    ``reach`` frames, then a Gaussian (``sigma`` frames) smooths the steps between them."""
    t = len(delta)
    size = R.np_norm(delta, axis=1)
    idx = np.arange(t)
    win = np.clip(idx[:, None] + np.arange(-reach, reach + 1)[None], 0, t - 1)
    held = delta[win[idx, np.argmax(size[win], 1)]]
    k = np.arange(-3 * int(np.ceil(sigma)), 3 * int(np.ceil(sigma)) + 1)
    w = np.exp(-0.5 * (k / sigma) ** 2)
    w /= w.sum()
    padded = np.pad(held, ((len(k) // 2, len(k) // 2), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, d], w, mode="valid") for d in range(delta.shape[1])], 1)


def _aim(rot: np.ndarray, offset: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn a hand (least rotation) so its contact point lies along ``direction`` from the wrist.

    A bent middle finger or a thumb tip is not where the fingers point; this keeps the
    wrist where a relaxed arm puts it. Returns the new (palm, fingers) directions.
    """
    v, w = _unit(rot @ offset), _unit(direction)
    axis = R.np_cross(v, w)
    angle = np.arctan2(R.np_norm(axis), v @ w)
    q = _rot_about(axis if R.np_norm(axis) > 1e-9 else UP, angle) @ rot
    return q @ DOWN, q @ np.array([-1.0, 0.0, 0.0])


def _hand_track(shape, spread, shape2, spread2, blend, side) -> np.ndarray:
    """(k, 15, 3) finger poses blending from one handshape into another over ``blend`` (0..1)."""
    if (shape, spread) == (shape2, spread2):          # most signs hold one handshape
        return np.repeat(H.hand_pose(shape, side, spread)[None], len(blend), 0)
    a = R.np_axis_angle_to_quaternion(H.hand_pose(shape, side, spread))
    b = R.np_axis_angle_to_quaternion(H.hand_pose(shape2, side, spread2))
    return R.np_quaternion_to_axis_angle(R.np_quaternion_slerp_path(a, b, blend))


def _wiggle(track: np.ndarray, k: int, side: str) -> np.ndarray:
    """Movement "Other": the long fingers flutter (two eased cycles)."""
    out = track.copy()
    phase = np.sin(np.linspace(0, 4 * np.pi, k)) * np.sin(np.linspace(0, np.pi, k)) ** 2 * 0.35
    flex = -1.0 if side == "left" else 1.0   # flexion is -z on the left hand, +z on the right
    for f in range(4):   # index, middle, pinky, ring knuckles, neighbours in opposite phase
        out[:, 3 * f, 2] += flex * phase * (1 if f % 2 == 0 else -1)
    return out


def _smooth_noise(rng, k: int, scale: float) -> np.ndarray:
    raw = rng.normal(0, 1, (k + 12, 3))
    kernel = np.hanning(9)
    kernel /= kernel.sum()
    sm = np.stack([np.convolve(raw[:, i], kernel, mode="same") for i in range(3)], 1)[6:6 + k]
    return sm / max(sm.std(), 1e-9) * scale


def _dedup(labels) -> list:
    out = []
    for x in labels:
        if not out or out[-1] != x:
            out.append(x)
    return out


def _waypoints(ways, bulges, k: int):
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
