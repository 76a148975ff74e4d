"""Every ASL-LEX handshape (the 58 counted ones, n and the non-dominant extras) as SMPL-X finger rotations.

A handshape is five finger states (knuckle, middle and end joint flexion), a spread and
a thumb state. Finger joints are hinges about the hand's flexion axis with abduction at
the knuckle; the thumb is placed by a small inverse-kinematics solve on the mannequin's
hand, so "thumb touches the index tip" (O, F, flat O...) really touches. Poses are made
for the LEFT hand (fingers +X, palm -Y, thumb +Z at rest) and mirrored for the right.
Rotations are relative to the flat hand, as SMPL-X with flat_hand_mean=True expects.
numpy + torch; never bpy.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..atomic import atomic_path
from ..body import anthropometry as A
from ..body import rotations as R

FINGERS = ("index", "middle", "pinky", "ring", "thumb")   # SMPL-X order
LONG_FINGERS = ("index", "middle", "ring", "pinky")

# Finger states: flexion in degrees at the knuckle (MCP), middle (PIP) and end (DIP) joints.
STATES = {
    "E": (0, 0, 0),          # extended
    "L": (15, 10, 5),        # lax
    "B": (80, 0, 0),         # bent at the knuckle, straight (flat)
    "b": (45, 0, 0),         # half bent at the knuckle
    "C": (28, 40, 22),       # curved, as in C
    "K": (42, 62, 38),       # curved more (O, claw)
    "H": (5, 95, 60),        # hooked, as in bent V
    "F": (84, 98, 48),       # closed into the palm
    "O": (48, 52, 32),       # meets the thumb in a round O
    "P": (62, 14, 8),        # flat O: long, nearly straight, meets the thumb
    "T": (70, 95, 60),       # tight hook over a tucked thumb (E)
}
# Knuckle abduction (degrees, + toward the thumb) for spread and together.
SPREAD = {"index": 13.0, "middle": 0.0, "ring": -8.0, "pinky": -18.0}
TOGETHER = {"index": -1.5, "middle": 0.0, "ring": 1.5, "pinky": 4.0}


@dataclass(frozen=True)
class Handshape:
    name: str
    fingers: dict          # long finger -> state letter
    spread: bool
    thumb: str             # ext | side | across | over | tuck | opp:<finger> | up
    description: str       # plain English, used by the text generator
    crossed: bool = False  # middle finger crossed over the index (R)


def _hs(name, i, m, r, p, spread, thumb, description, crossed=False) -> Handshape:
    return Handshape(name, {"index": i, "middle": m, "ring": r, "pinky": p}, spread, thumb,
                     description, crossed)


HANDSHAPES: dict[str, Handshape] = {h.name: h for h in [
    _hs("1", "E", "F", "F", "F", False, "over", "an index finger pointing"),
    _hs("open_b", "E", "E", "E", "E", False, "ext", "a flat hand with the thumb out"),
    _hs("s", "F", "F", "F", "F", False, "over", "a fist"),
    _hs("a", "F", "F", "F", "F", False, "side", "a fist with the thumb along its side"),
    _hs("thumbs_up", "F", "F", "F", "F", False, "ext", "a fist with the thumb up"),
    _hs("curved_5", "C", "C", "C", "C", True, "ext", "a clawed, spread hand"),
    _hs("5", "E", "E", "E", "E", True, "ext", "an open hand with all fingers spread"),
    _hs("baby_o", "O", "F", "F", "F", False, "opp:index", "a small O of index and thumb"),
    _hs("c", "C", "C", "C", "C", False, "opp-open:index", "a C shape"),
    _hs("f", "O", "E", "E", "E", True, "opp:index", "an F, index and thumb in a ring"),
    _hs("flat_b", "E", "E", "E", "E", False, "side", "a flat hand"),
    _hs("o", "O", "O", "O", "O", False, "opp:middle", "an O shape"),
    _hs("h", "E", "E", "F", "F", False, "over", "two fingers together, pointing"),
    _hs("closed_b", "E", "E", "E", "E", False, "across", "a flat hand with the thumb across the palm"),
    _hs("v", "E", "E", "F", "F", True, "over", "a V of two spread fingers"),
    _hs("open_8", "E", "B", "E", "E", True, "ext", "an open hand with the middle finger bent forward"),
    _hs("bent_1", "B", "F", "F", "F", False, "over", "an index finger bent at the knuckle"),
    _hs("p", "E", "b", "F", "F", True, "opp-mid:middle", "a P, index out and middle finger angled down"),
    _hs("y", "F", "F", "F", "E", False, "ext", "a Y, thumb and little finger out"),
    _hs("flat_o", "P", "P", "P", "P", False, "opp:middle", "a flat O, fingertips gathered on the thumb"),
    _hs("l", "E", "F", "F", "F", False, "ext", "an L of thumb and index finger"),
    _hs("flatspread_5", "b", "b", "b", "b", True, "ext", "a spread hand bent flat at the knuckles"),
    _hs("g", "E", "F", "F", "F", False, "side-out", "a G, index and thumb parallel"),
    _hs("bent_v", "H", "H", "F", "F", True, "over", "a bent V, two fingers hooked"),
    _hs("4", "E", "E", "E", "E", True, "across", "four spread fingers with the thumb folded in"),
    _hs("r", "E", "E", "F", "F", False, "over", "an R, two fingers crossed", crossed=True),
    _hs("curved_v", "C", "C", "F", "F", True, "over", "a curved V"),
    _hs("i", "F", "F", "F", "E", False, "over", "a fist with the little finger up"),
    _hs("curved_l", "C", "F", "F", "F", False, "ext-curved", "a curved L"),
    _hs("flat_1", "E", "F", "F", "F", False, "side", "an index finger out with the thumb against the fist"),
    _hs("flat_h", "B", "B", "F", "F", False, "over", "two fingers together bent flat at the knuckles"),
    _hs("3", "E", "E", "F", "F", True, "ext", "a 3 of thumb, index and middle finger"),
    _hs("d", "E", "O", "O", "O", False, "opp:middle", "a D, index up and the other fingers on the thumb"),
    _hs("8", "E", "O", "E", "E", True, "opp:middle", "an 8, middle finger touching the thumb"),
    _hs("bent_l", "B", "F", "F", "F", False, "ext", "an L with the index bent at the knuckle"),
    _hs("w", "E", "E", "E", "F", True, "opp:pinky", "a W of three spread fingers"),
    _hs("e", "T", "T", "T", "T", False, "tuck", "an E, fingertips curled over the thumb"),
    _hs("horns", "E", "F", "F", "E", True, "over", "horns, index and little finger out"),
    _hs("flat_v", "B", "B", "F", "F", True, "over", "a V bent flat at the knuckles"),
    _hs("spread_open_e", "K", "K", "K", "K", True, "tuck-open", "a spread, open claw"),
    _hs("open_h", "E", "E", "F", "F", False, "ext", "two fingers together with the thumb out"),
    _hs("stacked_5", "E", "b", "B", "F", True, "ext", "a spread hand with the fingers stepping down"),
    _hs("curved_1", "C", "F", "F", "F", False, "over", "a crooked index finger"),
    _hs("ily", "E", "F", "F", "E", True, "ext", "an I-love-you hand, thumb, index and little finger out"),
    _hs("flat_m", "B", "B", "B", "F", False, "tuck", "an M bent flat over the thumb"),
    _hs("open_e", "K", "K", "K", "K", False, "tuck-open", "an open E, fingers curled"),
    _hs("flat_n", "B", "B", "F", "F", False, "tuck", "an N bent flat over the thumb"),
    _hs("curved_h", "C", "C", "F", "F", False, "over", "two fingers together, curved"),
    _hs("flat_horns", "B", "F", "F", "B", True, "over", "horns bent flat at the knuckles"),
    _hs("curved_4", "C", "C", "C", "C", True, "across", "four curved, spread fingers"),
    _hs("flat_4", "b", "b", "b", "b", True, "across", "four spread fingers bent at the knuckles"),
    _hs("open_f", "C", "E", "E", "E", True, "opp-open:index", "an open F, index and thumb curved apart"),
    _hs("goody_goody", "E", "B", "B", "E", True, "ext", "thumb, index and little finger out, middle fingers bent"),
    _hs("t", "H", "F", "F", "F", False, "tuck", "a T, thumb tucked under the index"),
    _hs("7", "E", "E", "O", "E", True, "opp:ring", "a 7, ring finger touching the thumb"),
    _hs("spread_e", "T", "T", "T", "T", True, "tuck", "a spread E"),
    _hs("flat_ily", "B", "F", "F", "B", True, "ext", "an I-love-you hand bent flat"),
    _hs("closed_e", "T", "T", "T", "T", False, "tuck", "a closed E"),
    _hs("k", "E", "b", "F", "F", True, "opp-mid:middle", "a K, index up and middle finger angled out"),
    _hs("n", "T", "T", "F", "F", False, "tuck", "an N, two fingers folded over the thumb"),
    # Non-dominant-only codings in ASL-LEX.
    _hs("curved_b", "C", "C", "C", "C", False, "across", "a flat hand cupped"),
    _hs("lax", "L", "L", "L", "L", False, "ext", "a relaxed hand"),
]}
# ASL-LEX writes some non-dominant handshapes in upper case.
# Shapes the planner makes for an everyday name that ASL-LEX codes as another shape, and that
# code: a person asking for "thumbs up" means the thumb raised clear of the fist, which the
# lexicon codes as A (the thumb along the fist's side, a small bump from the front). Never a
# lexicon coding, and measured as its code (``nearest_handshape`` names the code).
EVERYDAY_SHAPES = {"thumbs_up": "a"}
ALIASES = {"B": "flat_b", "C": "c", "S": "s", "O": "o", "A": "a", "Lax": "lax"}


def resolve(name: str) -> Handshape:
    """The handshape for an ASL-LEX value; KeyError names what is unknown."""
    key = ALIASES.get(name, name)
    if key not in HANDSHAPES:
        raise KeyError(f"unknown handshape {name!r}")
    return HANDSHAPES[key]


_OPEN, _CLOSED = set("ELCb"), set("FTOKH")


_CURLED = "CKH"    # curled at the middle joints: curved, curved more, hooked (not bent flat at the knuckles)


def curled_forms(*names: str) -> list[str]:
    """The table's shapes that are one of ``names`` with its straight long fingers curled
    (``_CURLED``) and the rest alike: what "a crooked spread hand" or "a curved V" makes ("5" ->
    curved_5; "v" -> bent_v, curved_v; a flat hand's three -> curved_b). Those with the same
    thumb as their shape, else any thumb ("l" -> curved_l, curved_1, t); none for shapes with
    no straight finger."""
    same, other = [], []
    for base in map(resolve, names):
        straight = [f for f in LONG_FINGERS if base.fingers[f] == "E"]
        for h in HANDSHAPES.values():
            if straight and h.spread == base.spread and h.crossed == base.crossed and all(
                    h.fingers[f] in _CURLED if f in straight else h.fingers[f] == base.fingers[f] for f in LONG_FINGERS):
                (same if h.thumb == base.thumb else other).append(h.name)
    return list(dict.fromkeys(same or other))


def finger_state(shape_name: str) -> str:
    """'open', 'closed' or 'mixed' for a handshape, from its long fingers."""
    fingers = resolve(shape_name).fingers.values()
    if sum(f in _OPEN for f in fingers) >= 3:
        return "open"
    if sum(f in _CLOSED for f in fingers) >= 3:
        return "closed"
    return "mixed"


def changed_shape(name: str) -> str:
    """The handshape a FlexionChange ends in: open hands close, closed hands open."""
    state = finger_state(name)
    if state == "open":
        return "flat_o" if not resolve(name).spread else "s"
    if state == "closed":
        return "5" if resolve(name).spread else "open_b"
    return "s"


def change_direction(name: str) -> str:
    """Which way a handshape's coded change goes: "open" when it ends open, else "close"
    (the grammar's words for it: "the fingers opening", "the hand closes")."""
    return "open" if finger_state(changed_shape(name)) == "open" else "close"


# ------------------------------------------------------------------ hand kinematics (left)

def _finger_chain(finger: str) -> np.ndarray:
    pts = A.left_finger_joints()[finger]  # joint1, joint2, joint3, tip
    return pts - np.asarray(A.LEFT["wrist"])


_CHAINS = {f: _finger_chain(f) for f in FINGERS}
THUMB_DIR = (_CHAINS["thumb"][1] - _CHAINS["thumb"][0]) / np.linalg.norm(_CHAINS["thumb"][1] - _CHAINS["thumb"][0])
# Thumb hinge: positive rotation folds the thumb toward the palm.
THUMB_AXIS = np.cross(THUMB_DIR, (0.0, -1.0, 0.0))
THUMB_AXIS /= np.linalg.norm(THUMB_AXIS)


def _finger_rotations(state: str, abduction_deg: float) -> np.ndarray:
    """(3, 3) axis-angles for one long finger of the left hand."""
    mcp, pip, dip = np.radians(STATES[state])
    knuckle = R.matrix_to_axis_angle(
        R.axis_angle_to_matrix(np.array([0.0, -np.radians(abduction_deg), 0.0]))
        @ R.axis_angle_to_matrix(np.array([0.0, 0.0, -mcp])))
    return np.stack([knuckle, [0.0, 0.0, -pip], [0.0, 0.0, -dip]])


def hand_points(pose15: torch.Tensor) -> torch.Tensor:
    """Joint and tip positions (5 fingers, 4 points, 3) in the left wrist frame."""
    mats = R.axis_angle_to_matrix(pose15.reshape(5, 3, 3))
    out = []
    for f_i, finger in enumerate(FINGERS):
        chain = torch.as_tensor(_CHAINS[finger], dtype=pose15.dtype)
        g = torch.eye(3, dtype=pose15.dtype)
        pts = [chain[0]]
        for k in range(3):
            g = g @ mats[f_i, k]
            pts.append(pts[-1] + g @ (chain[k + 1] - chain[k]))
        out.append(torch.stack(pts))
    return torch.stack(out)


def _thumb_target(shape: Handshape, fingers: torch.Tensor) -> torch.Tensor | None:
    """Where the thumb tip should be, in the wrist frame, given the posed long fingers."""
    pts = {f: fingers[i] for i, f in enumerate(FINGERS)}
    r_thumb = A.FINGER_RADII["thumb"][3]
    kind, _, finger = shape.thumb.partition(":")
    if kind in ("opp", "opp-open", "opp-mid"):
        tip = pts[finger][3]
        if kind == "opp-mid":  # thumb on the middle finger's middle segment (K, P)
            tip = (pts[finger][1] + pts[finger][2]) / 2 + torch.tensor([0.0, -0.012, 0.0], dtype=tip.dtype)
        gap = A.FINGER_RADII[finger][3] + r_thumb
        # approach from the palm side of the fingertip
        toward = torch.tensor([0.0, -0.7, 0.7], dtype=tip.dtype)
        toward = toward / toward.norm()
        if kind == "opp-open":  # C and open F: thumb curved under the index, a gap between
            return tip + torch.tensor([-0.035, -0.035, -0.005], dtype=tip.dtype)
        return tip + toward * gap
    base = lambda f: torch.as_tensor(_CHAINS[f][0], dtype=fingers.dtype)  # noqa: E731
    if kind == "side":       # along the side of the index's first segment (A, flat B)
        mid = (pts["index"][0] + pts["index"][1]) / 2
        gap = A.FINGER_RADII["index"][1] + r_thumb
        return mid + torch.tensor([0.0, -0.005, gap], dtype=fingers.dtype)
    if kind == "side-out":   # parallel to the index (G)
        return base("index") + torch.tensor([0.030, -0.010, 0.020], dtype=fingers.dtype)
    if kind == "across":     # folded across the palm toward the ring finger
        return base("ring") + torch.tensor([-0.030, -0.025, 0.000], dtype=fingers.dtype)
    clear = A.FINGER_RADII["middle"][2] + r_thumb + 0.002
    if kind == "over":       # across the front of the curled fingers (S, 1, V)
        if shape.fingers["middle"] in ("B", "b"):  # fingers bent flat: thumb between them and the palm
            mid = (pts["middle"][0] + pts["middle"][1]) / 2
            return mid + torch.tensor([-clear, -0.004, 0.006], dtype=fingers.dtype)
        curled = next((f for f in ("middle", "ring", "index") if shape.fingers[f] in "FT"),
                      next((f for f in ("middle", "ring", "index") if shape.fingers[f] in "HKC"), "ring"))
        mid = (pts[curled][1] + pts[curled][2]) / 2
        return mid + torch.tensor([0.0, -clear, 0.004], dtype=fingers.dtype)
    if kind in ("tuck", "tuck-open"):  # under the curled fingers, across the palm (E, M, N, T)
        return base("middle") + torch.tensor([-0.032, PALM_BOTTOM - r_thumb - 0.004, 0.0],
                                             dtype=fingers.dtype)
    return None  # ext, ext-curved: no target


def _long_finger_pose(shape: Handshape, spread: bool) -> np.ndarray:
    pose = np.zeros((5, 3, 3))
    for i, finger in enumerate(FINGERS):
        if finger != "thumb":
            abd = (SPREAD if spread else TOGETHER)[finger]
            pose[i] = _finger_rotations(shape.fingers[finger], abd)
    if shape.crossed:  # middle over the index's back: index dips to the palm side
        pose[0] = _finger_rotations("b", -2.0) * 0.5
        pose[1] = _finger_rotations("E", 9.0)
    return pose


def _table_key() -> str:
    """Changes whenever this module's code or the hand geometry does, naming the cache file."""
    from pathlib import Path

    text = Path(__file__).read_text() + repr(({f: c.round(6).tolist() for f, c in _CHAINS.items()},
                                              A.FINGER_RADII))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


@lru_cache(maxsize=1)
def _all_poses() -> dict[tuple[str, bool], np.ndarray]:
    """Every handshape, spread and together; solved once, then read from the cache folder."""
    from ..body.model import cache_dir

    path = cache_dir() / f"handshapes-{_table_key()}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {(k.rsplit("|", 1)[0], k.endswith("|1")): z[k] for k in z.files}
    # the thumb IK is many tiny solves: a second torch thread only contends (on a busy 2-core
    # machine 5 s single-threaded against 47 s with two), so it runs on one
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        poses = _solve_all()
    finally:
        torch.set_num_threads(threads)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **{f"{name}|{int(spread)}": v for (name, spread), v in poses.items()})
    return poses


def _solve_all() -> dict[tuple[str, bool], np.ndarray]:
    """Every handshape, spread and together, with one batched thumb IK."""
    poses, targets, keys, points = {}, [], [], []
    for name, shape in HANDSHAPES.items():
        for spread in (False, True):
            pose = _long_finger_pose(shape, spread)
            curl = {"ext": 0.0, "ext-curved": 0.6}.get(shape.thumb)
            if curl is not None:
                pose[4, 1] = THUMB_AXIS * curl * 0.5
                pose[4, 2] = THUMB_AXIS * curl
            else:
                fingers = hand_points(torch.tensor(pose.reshape(15, 3)))
                targets.append(_thumb_target(shape, fingers).numpy())
                points.append(fingers.numpy())
                keys.append((name, spread))
            poses[(name, spread)] = pose
    for key, thumb in zip(keys, _solve_thumbs(np.stack(targets), np.stack(points))):
        poses[key][4] = thumb
    return {k: v.reshape(15, 3) for k, v in poses.items()}


def left_hand_pose(name: str, spread: bool | None = None) -> np.ndarray:
    """(15, 3) axis-angles for the left hand in SMPL-X order (index, middle, pinky, ring, thumb)."""
    shape = resolve(name)
    return _all_poses()[(shape.name, shape.spread if spread is None else bool(spread))].copy()


def _thumb_points(aa1: torch.Tensor, bend: torch.Tensor, samples: int = 5) -> torch.Tensor:
    """Points along the thumb's three segments, (N, 3 * samples, 3), wrist frame."""
    chain = torch.as_tensor(_CHAINS["thumb"])
    axis = torch.as_tensor(THUMB_AXIS)
    g = R.axis_angle_to_matrix(aa1)
    joints = [chain[0].expand(len(aa1), 3)]
    for k in range(3):
        if k:
            g = g @ R.axis_angle_to_matrix(axis * bend[:, k - 1:k])
        joints.append(joints[-1] + g @ (chain[k + 1] - chain[k]))
    t = torch.linspace(0.15, 1.0, samples, dtype=aa1.dtype)[None, :, None]
    return torch.cat([joints[k][:, None] + t * (joints[k + 1] - joints[k])[:, None] for k in range(3)], 1)


def _segment_samples(points: np.ndarray, samples: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Points along the 12 long-finger segments of posed hands (N, 5, 4, 3) and their radii."""
    t = np.linspace(0.0, 1.0, samples)[:, None]
    pts, radii = [], []
    for i, f in enumerate(FINGERS[:4]):
        for k in range(3):
            a, b = points[:, i, k], points[:, i, k + 1]
            pts.append(a[:, None] + t[None] * (b - a)[:, None])
            radii += [A.FINGER_RADII[f][k + 1]] * samples
    return np.concatenate(pts, 1), np.array(radii)


PALM_BOTTOM = -0.0165  # palm-side skin of the mannequin's palm, wrist frame (y)


# Starting thumb poses for the solve: at rest, swung toward the palm, and across it. The
# best of the three per handshape avoids the local minima the finger obstacles create.
_THUMB_STARTS = ((0.0, 0.0, 0.0), (0.7, 0.0, 0.0), (1.0, 0.3, -0.3), (0.3, 0.5, -0.5))


def _solve_thumbs(targets: np.ndarray, finger_points: np.ndarray) -> np.ndarray:
    """Thumb rotations (N, 3, 3): tip on its target, clear of the fingers and the palm."""
    n, k = len(targets), len(_THUMB_STARTS)
    aa1 = torch.tensor(np.repeat(np.array(_THUMB_STARTS), n, 0), requires_grad=True)
    bend = torch.full((n * k, 2), 0.3, dtype=torch.float64, requires_grad=True)
    tgt = torch.as_tensor(np.tile(targets, (k, 1)))
    obstacles, obstacle_r = _segment_samples(np.tile(finger_points, (k, 1, 1, 1)))
    obstacles = torch.as_tensor(obstacles)
    clearance = torch.as_tensor(obstacle_r)[None, None] + A.FINGER_RADII["thumb"][2]
    r_thumb = A.FINGER_RADII["thumb"][2]
    opt = torch.optim.Adam([aa1, bend], lr=0.04)
    for step in range(400):
        opt.zero_grad()
        loss = _thumb_loss(aa1, bend, tgt, obstacles, clearance, r_thumb)
        loss.sum().backward()
        opt.step()
    with torch.no_grad():
        best = _thumb_loss(aa1, bend, tgt, obstacles, clearance, r_thumb).reshape(k, n).argmin(0)
        rows = best * n + torch.arange(n)
        axis = torch.as_tensor(THUMB_AXIS)
        return torch.stack([aa1[rows], axis * bend[rows, :1], axis * bend[rows, 1:]], 1).numpy()


def _thumb_loss(aa1, bend, tgt, obstacles, clearance, r_thumb) -> torch.Tensor:
    pts = _thumb_points(aa1, bend)
    loss = ((pts[:, -1] - tgt) ** 2).sum(1) * 1e4 + 0.01 * (aa1 ** 2).sum(1)
    loss = loss + 1e4 * (torch.relu(-bend - 0.1) ** 2).sum(1) + 1e4 * (torch.relu(bend - 1.4) ** 2).sum(1)
    loss = loss + 30 * torch.relu(aa1.norm(dim=1) - 1.3) ** 2  # the CMC joint's reach
    # stay out of the fingers; the tip's own segment end may touch
    dist = torch.cdist(pts[:, :-2], obstacles)
    loss = loss + 3e4 * (torch.relu(clearance - 0.001 - dist) ** 2).sum((1, 2))
    # stay out of the palm slab
    inside = ((pts[..., 0] > 0.0) & (pts[..., 0] < 0.09) & (pts[..., 2].abs() < 0.035)).double()
    return loss + 3e4 * (inside * torch.relu(pts[..., 1] - (PALM_BOTTOM - r_thumb)) ** 2).sum(1)


def mirror_hand(pose15: np.ndarray) -> np.ndarray:
    """Left-hand pose -> the same shape on the right hand (reflection x -> -x)."""
    return np.asarray(pose15) * np.array([1.0, -1.0, -1.0])


def hand_pose(name: str, side: str, spread: bool | None = None) -> np.ndarray:
    pose = left_hand_pose(name, spread)
    return pose.copy() if side == "left" else mirror_hand(pose)


@lru_cache(maxsize=2)
def _side_references(side: str) -> tuple[tuple[str, ...], np.ndarray]:
    """Every handshape's name and its 15 finger rotations on ``side`` (names sorted)."""
    names = tuple(sorted(HANDSHAPES))
    return names, np.stack([R.np_axis_angle_to_matrix(hand_pose(n, side)) for n in names])


def nearest_handshape(poses: np.ndarray, side: str) -> tuple[str, float]:
    """The handshape closest to a hand's finger rotations over some frames ((T, 55, 3) SMPL-X
    axis-angles): the least mean geodesic angle over the 15 finger joints and the frames.
    Returns its name (an everyday shape's lexicon code: see ``EVERYDAY_SHAPES``) and that
    angle in degrees."""
    from ..body.skeleton import JOINT_INDEX

    names, refs = _side_references(side)
    first = JOINT_INDEX[f"{side}_index1"]
    hand = R.np_axis_angle_to_matrix(np.asarray(poses)[:, first:first + 15].astype(float))   # (T, 15, 3, 3)
    cos = (np.einsum("tjab,sjab->stj", hand, refs) - 1.0) / 2.0                            # trace(A^T B)
    angle = np.arccos(cos.clip(-1.0, 1.0)).mean((1, 2))
    best = int(np.argmin(angle))
    return EVERYDAY_SHAPES.get(names[best], names[best]), float(np.degrees(angle[best]))


def penetration(pose15: np.ndarray, worst_pair: bool = False):
    """Deepest overlap (m) between phalanges of different fingers, for a left-hand pose.

    Fingers are capsules with the mannequin's radii; 0 means no overlap. Thumb-to-finger
    contact that a handshape asks for counts as touching, not as overlap, up to 4 mm.
    """
    pts = hand_points(torch.tensor(np.asarray(pose15, dtype=np.float64))).numpy()
    segs = []
    for i, f in enumerate(FINGERS):
        radii = A.FINGER_RADII[f]
        for k in range(3):
            segs.append((f, k, pts[i, k], pts[i, k + 1], radii[k + 1]))
    worst, pair = 0.0, None
    for a in range(len(segs)):
        for b in range(a + 1, len(segs)):
            fa, ka, p0, p1, ra = segs[a]
            fb, kb, q0, q1, rb = segs[b]
            if fa == fb:
                continue
            if ka == 0 and kb == 0 and "thumb" not in (fa, fb):
                continue  # neighbouring knuckles sit side by side inside the palm's skin
            depth = ra + rb - _segment_distance(p0, p1, q0, q1)
            if depth > worst:
                worst, pair = depth, (f"{fa}{ka + 1}", f"{fb}{kb + 1}")
    for i, f in enumerate(FINGERS[:4]):  # curled fingertips against the palm's skin
        tip = pts[i, 3]
        if 0.0 < tip[0] < 0.09 and abs(tip[2]) < 0.04:
            depth = tip[1] + A.FINGER_RADII[f][3] - PALM_BOTTOM
            if depth > worst:
                worst, pair = depth, (f"{f}3", "palm")
    return (worst, pair) if worst_pair else worst


def _segment_distance(p0, p1, q0, q1) -> float:
    u, v, w = p1 - p0, q1 - q0, p0 - q0
    a, b, c, d, e = u @ u, u @ v, v @ v, u @ w, v @ w
    den = a * c - b * b
    s = np.clip((b * e - c * d) / den, 0, 1) if den > 1e-12 else 0.0
    t = np.clip((b * s + e) / c, 0, 1) if c > 1e-12 else 0.0
    s = np.clip((b * t - d) / a, 0, 1) if a > 1e-12 else 0.0
    return float(np.linalg.norm(p0 + s * u - (q0 + t * v)))
