"""Sentences: signs one after another, joined by generated transitions, never back to rest.

``sentence(items, ...)`` makes (or loads) each sign, keeps its sign proper exactly as made,
and generates the movement from one sign to the next: the first sign keeps its approach
from rest and the last its return, and in between each sign's approach and return are cut
at its sign window (``eval.fidelity.sign_window``, over the hands that sign) and replaced by
a transition. A transition starts as a minimum-jerk blend (a quintic that meets position,
velocity and acceleration of both sides, Flash & Hogan 1985) and, with ``method="inpaint"``,
HandMDM inpaints it (``backend.inpaint``), conditioned on the next sign's text: the frames of
both signs around it are fixed but for the ``SOFT`` frames next to each join (a soft boundary),
and what the model drew over the transition, less its own change at the joins, low-passed and
faded out towards both joins, is added to the blend (``model_detail``), so the joins keep the
blend's continuity and the middle moves as the model moves. Its length is set from the
distance the wrists travel (the blend's peak speed kept near ``TRAVEL_SPEED``), or per item.

Items are free texts (planned and made by ``backend.generate``), dictionary entry ids
(``backend.data`` synthesizes them) or motion files; ``read_items`` reads them from a file,
one per line or as JSON. Each span of the result (sign or transition, its frames, source)
is in the motion's provenance (``"sentence"``, JSON). ``joins`` measures what a user sees
at the joins (speed jumps, peak speed, hands inside the body, drops to rest).
numpy + torch (through the generators); never bpy.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from blender_addon.core.limits import MAX_FRAMES

from .body import rotations as R
from .body.skeleton import FEATURE_JOINTS, NUM_JOINTS
from .callable_module import make_callable
from .motion.motion import Motion
from blender_addon.core.errors import SignForgeError

FPS = 25.0
METHODS = ("inpaint", "blend", "raw", "linear")
STRENGTH = 1.0        # how far up the schedule the blend is noised before HandMDM redraws it (1: noise)
CONTEXT = 12          # frames of each sign the model sees around a transition (fixed, but for SOFT of them)
TRAVEL_SPEED = 1.2    # m/s: the blend's peak wrist speed an automatic transition aims at
CALM = 3.5            # m/s: the fastest a transition's wrist may move with the model's movement in it
SHARES = (1.0, 0.5, 0.25, 0.0)   # shares of the model's movement tried, most first
SOFT = 4              # frames of each sign next to a join the model redraws with the transition (a soft boundary)
LOWPASS = 1.5         # frames: the Gaussian the model's movement over a transition is smoothed with...
FADE = 0.25           # ...and the share of the transition at each end over which it fades in and out
CLEAR = 0.015         # m: a transition's hand deeper than this inside the head or torso is made again...
WIDEN = (0, 3, 6, 10)  # ...with this many more frames of each sign kept, until it is clear
MIN_TRANSITION, MAX_TRANSITION = 0.2, 1.2   # seconds
MOTION_SUFFIXES = (".npz", ".npy", ".bvh")
MAX_ITEMS = 64


class SentenceError(SignForgeError, ValueError):
    """A sentence that cannot be made as asked; the message says which item and why."""


@dataclass(frozen=True)
class Item:
    """One sign of a sentence: ``kind`` "text", "entry" or "motion" and its ``value`` (the text,
    the ASL-LEX EntryID or the file). ``seconds``: the sign's length (texts only; default: the
    plan's); ``transition``: seconds of the move into this sign (default: automatic)."""
    kind: str
    value: str
    seconds: float | None = None
    transition: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("text", "entry", "motion"):
            raise SentenceError(f"an item is a text, an entry or a motion; got {self.kind!r}")
        if not isinstance(self.value, str) or not self.value.strip():
            raise SentenceError(f"a {self.kind} item needs a non-empty value")
        for name in ("seconds", "transition"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise SentenceError(f"{self.value!r}: {name} must be a number over 0; got {v!r}")
        if self.seconds is not None and self.kind != "text":
            raise SentenceError(f"{self.value!r}: seconds sets a text sign's length; a {self.kind}'s sign is "
                                f"kept as it is")
        if self.transition is not None and not MIN_TRANSITION / 2 <= self.transition <= 2 * MAX_TRANSITION:
            raise SentenceError(f"{self.value!r}: a transition is {MIN_TRANSITION / 2:g} to "
                                f"{2 * MAX_TRANSITION:g} s; got {self.transition:g}")


def item(value: str | dict | Item, base: Path | None = None) -> Item:
    """An ``Item`` from a line of text or a JSON object.

    A line (or ``{"text"|"entry"|"motion": ...}``) is a motion file when it names one
    (``.npz``, ``.npy``, ``.bvh``; relative to ``base``), a dictionary entry when it is an
    EntryID of one word with an underscore and a number (``castle_2``) or says ``entry:``,
    and otherwise a text. Objects may add ``seconds`` and ``transition``."""
    if isinstance(value, Item):
        return value
    if isinstance(value, dict):
        kinds = [k for k in ("text", "entry", "motion") if k in value]
        extra = set(value) - {"text", "entry", "motion", "seconds", "transition"}
        if len(kinds) != 1:
            raise SentenceError(f"an item object has exactly one of text, entry, motion; got {sorted(value)}")
        if extra:
            raise SentenceError(f"unknown item key {sorted(extra)[0]!r} (known: text, entry, motion, seconds, "
                                f"transition)")
        kind = kinds[0]
        raw = value[kind]
        if not isinstance(raw, str):
            raise SentenceError(f"an item's {kind} must be a string; got {type(raw).__name__}")
        if kind == "motion":
            raw = str(_resolve(raw, base))
        return Item(kind, raw, value.get("seconds"), value.get("transition"))
    if not isinstance(value, str):
        raise SentenceError(f"an item is a string or an object; got {type(value).__name__}")
    text = value.strip()
    for prefix in ("text:", "entry:", "motion:"):
        if text.lower().startswith(prefix):
            kind, rest = prefix[:-1], text[len(prefix):].strip()
            return Item(kind, str(_resolve(rest, base)) if kind == "motion" else rest)
    if Path(text).suffix.lower() in MOTION_SUFFIXES and " " not in text:
        return Item("motion", str(_resolve(text, base)))
    if " " not in text and "_" in text and text.rsplit("_", 1)[1].isdigit():
        return Item("entry", text)
    return Item("text", text)


def _resolve(name: str, base: Path | None) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() or base is None else base / path


def read_items(path: str | os.PathLike) -> list[Item]:
    """The items of a file: a JSON list (of strings or objects), or one item per line
    (blank lines and lines starting with '#' skipped). Motion files are relative to the file."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SentenceError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise SentenceError(f"cannot read the items file {path}: {exc.strerror or exc}") from None
    if raw.lstrip().startswith("["):
        try:
            values = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SentenceError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(values, list):
            raise SentenceError(f"{path}: JSON items are a list")
        out = []
        for k, v in enumerate(values, 1):
            try:
                out.append(item(v, path.parent))
            except SentenceError as exc:
                raise SentenceError(f"{path}, item {k}: {exc}") from None
        return out
    out = []
    for number, line in enumerate(raw.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.isprintable():
            raise SentenceError(f"{path}, line {number}: the line holds control characters")
        try:
            out.append(item(line, path.parent))
        except SentenceError as exc:
            raise SentenceError(f"{path}, line {number}: {exc}") from None
    return out


# ------------------------------------------------------------------------ the signs

@dataclass
class Sign:
    """A sign as made: the motion (25 fps), the text the next transition is conditioned on,
    where it came from, and the frames [start, end) of it that the sentence keeps."""
    motion: Motion
    text: str
    source: str
    span: tuple[int, int] = (0, 0)
    frames: tuple[int, int] = field(default=(0, 0))   # its kept frames' place in the sentence


def make_sign(it: Item, *, seed: int, hand: str | None, body, lexicon=None, run_dir=None) -> Sign:
    """Generate, synthesize or load one item's sign at 25 fps."""
    from .generate import GenerateError, generate

    if it.kind == "text":
        try:
            motion = generate(it.value, seconds=it.seconds, seed=seed, hand=hand, run_dir=run_dir)[0]
        except GenerateError as exc:
            raise SentenceError(f"{it.value!r}: {exc}") from None
        return Sign(motion, it.value, f"text: {it.value}")
    if it.kind == "entry":
        from .data.lexicon import LexiconError, read_lexicon
        from .data.synth import Signer, SynthError
        from .data.hms import HMS
        from .data.signing import sign_entry

        try:
            lex = lexicon if hasattr(lexicon, "by_id") else read_lexicon(lexicon)
        except LexiconError as exc:
            raise SentenceError(str(exc)) from None
        entry = lex.by_id().get(it.value)
        if entry is None:
            raise SentenceError(f"no dictionary entry {it.value!r} in {lex.path}")
        left = hand == "left"
        try:
            signed = sign_entry(_synthesizer(body), HMS(body), entry, Signer.sample(seed, left_handed=left))
        except SynthError as exc:
            raise SentenceError(f"{it.value}: {exc}") from None
        motion = signed.motion
        text = signed.text(np.random.default_rng(seed)) or entry.entry_id
        prov = {**motion.provenance, "source": "signforge-data", "entry": entry.entry_id}
        return Sign(motion.with_(text=text, provenance=prov), text, f"entry: {entry.entry_id}")
    from .io import MotionFileError, load_motion

    try:
        motion = load_motion(it.value)
    except MotionFileError as exc:
        raise SentenceError(str(exc)) from None
    motion = motion.resample(FPS)
    return Sign(motion, motion.text or Path(it.value).stem.replace("_", " "), f"motion: {it.value}")


_SYNTH: dict = {}


def _synthesizer(body):
    from .data.synth import Synthesizer

    if id(body) not in _SYNTH:
        _SYNTH.clear()
        _SYNTH[id(body)] = Synthesizer(body)
    return _SYNTH[id(body)]


def kept_span(motion: Motion, body) -> tuple[int, int]:
    """Frames [start, end) of the sign proper over the hands that sign: from the first signing
    hand's window start to the last one's end (the whole motion when no hand signs)."""
    from .eval import fidelity as F

    wins = [F.sign_window(motion, body, s) for s in F.SIDES if F.is_signing(motion, body, s)]
    if not wins:
        return 0, motion.num_frames
    a, b = min(w[0] for w in wins), max(w[1] for w in wins)
    return (a, b) if b - a >= 3 else (0, motion.num_frames)


# ------------------------------------------------------------------------ transitions

def _vec(m: Motion) -> np.ndarray:
    """(T, 55*6 + 3 + 10): every joint's rotation as 6D, translation, expression."""
    mats = R.np_axis_angle_to_matrix(m.poses.astype(np.float64))
    six = np.concatenate([mats[..., :, 0], mats[..., :, 1]], -1).reshape(len(mats), -1)
    return np.concatenate([six, m.trans, m.expression], 1)


def _unvec(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    six = v[:, :NUM_JOINTS * 6].reshape(len(v), NUM_JOINTS, 6)
    poses = R.matrix_to_axis_angle(R.rot6d_to_matrix(six))
    return poses, v[:, NUM_JOINTS * 6:NUM_JOINTS * 6 + 3], v[:, NUM_JOINTS * 6 + 3:]


def min_jerk(before: np.ndarray, after: np.ndarray, frames: int) -> np.ndarray:
    """``frames`` values between the last rows of ``before`` and the first of ``after`` (each at
    least 3 rows, one value per column): the quintic that meets both sides' position, velocity and
    acceleration (backward / forward differences), the minimum-jerk path (Flash & Hogan 1985)."""
    d = frames + 1.0
    p0, v0, a0 = before[-1], before[-1] - before[-2], before[-1] - 2 * before[-2] + before[-3]
    p1, v1, a1 = after[0], after[1] - after[0], after[2] - 2 * after[1] + after[0]
    u = (np.arange(1, frames + 1) / d)[:, None]
    u3, u4, u5 = u ** 3, u ** 4, u ** 5
    h0, h5 = 1 - 10 * u3 + 15 * u4 - 6 * u5, 10 * u3 - 15 * u4 + 6 * u5
    h1, h4 = u - 6 * u3 + 8 * u4 - 3 * u5, -4 * u3 + 7 * u4 - 3 * u5
    h2, h3 = 0.5 * u ** 2 - 1.5 * u3 + 1.5 * u4 - 0.5 * u5, 0.5 * u3 - u4 + 0.5 * u5
    return h0 * p0 + h1 * d * v0 + h2 * d * d * a0 + h3 * d * d * a1 + h4 * d * v1 + h5 * p1


def auto_frames(before: Motion, after: Motion, body) -> int:
    """Transition frames from the last frame of ``before`` to the first of ``after``: long enough
    that a minimum-jerk move between them peaks near ``TRAVEL_SPEED`` (peak = 1.875 x mean)."""
    from .eval import fidelity as F

    d = max(float(np.linalg.norm(F.wrist_path(before, body, s)[-1] - F.wrist_path(after, body, s)[0]))
            for s in F.SIDES)
    seconds = min(max(1.875 * d / TRAVEL_SPEED, MIN_TRANSITION), MAX_TRANSITION)
    return max(2, int(round(seconds * FPS)))


def smooth_frames(before: Motion, after: Motion, frames: int, signs: list[Motion], body) -> int:
    """``frames``, or more (2 at a time, up to ``MAX_TRANSITION``) until the minimum-jerk blend
    from ``before`` to ``after`` meets the continuity bar: no jump in wrist speed across either
    join bigger than the largest inside ``signs`` (the two signs as the sentence keeps them).
    A short blend between fast-moving ends can jump more than the signs do (5 frames into
    "hummingbird": 0.566 against 0.561 m/s)."""
    from .eval import fidelity as F

    def jumps(m: Motion) -> dict:
        return {s: np.abs(np.diff(F.wrist_speed(m, body, s))) for s in F.SIDES}

    bar = max(float(j.max(initial=0.0)) for m in signs for j in jumps(m).values())
    longest = max(frames, int(round(MAX_TRANSITION * FPS)))
    while True:
        poses, trans, expression = _unvec(min_jerk(_vec(before), _vec(after), frames))
        both = Motion(np.concatenate([before.poses, poses, after.poses]),
                      np.concatenate([before.trans, trans, after.trans]),
                      np.concatenate([before.expression, expression, after.expression]), FPS, betas=before.betas)
        a, b = before.num_frames, before.num_frames + frames
        at = [a - 2, a - 1, b - 2, b - 1]   # the speed jumps touching a join, as ``joins`` reads them
        if frames >= longest or max(float(j[at].max()) for j in jumps(both).values()) <= bar:
            return frames
        frames = min(frames + 2, longest)


def _features(poses: np.ndarray, expression: np.ndarray) -> np.ndarray:
    from .body.features import pose_to_features

    return pose_to_features(poses.astype(np.float64), expression.astype(np.float64))


def transition(before: Motion, after: Motion, frames: int, text: str, *, method: str = "inpaint",
               strength: float = STRENGTH, seed: int = 0, guidance: float = 2.5, steps: int = 50,
               run_dir=None, body=None, progress: Callable[[int, int], None] | None = None
               ) -> tuple[Motion, float]:
    """``frames`` frames from the end of ``before`` into the start of ``after`` (each at least 3
    frames; their last / first ``CONTEXT`` frames are what the model sees), and the share of
    HandMDM's own movement in them (0 for the blend, 1 for raw).

    ``method``: "linear", straight from pose to pose (a baseline); "blend", the minimum-jerk
    blend alone; "raw", HandMDM's inpainting as MDM does it (every sign frame replaced at each
    step; from the blend noised ``strength`` up, or from noise at 1), its frames as the model
    gives them; "inpaint", the model-made transition: the same inpainting with the ``SOFT`` sign
    frames next to each join left free, and the model's movement over the transition
    (``model_detail``) added to the blend, with as much of it (``SHARES``: all, half, a quarter,
    none) as keeps the wrists at most ``CALM`` fast (the fidelity bar) and the hands no deeper
    in the body than the blend's.

    Why raw inpainting snaps (``benchmarks/sentence.py``: 8.8-9.8 m/s median peak): the shipped
    model does not draw a movement into the gap. Its free frames come out as a near-still pose
    (at the next sign's place or elsewhere) and the whole movement happens in one frame at each
    seam; its x0 is not the identity even on clean input (a mean 0.2 std off at every noise
    level, on its own takes too), so what it draws next to a replaced frame is off by that
    much, and on the arm that is 20-40 cm of wrist. Starting from the noised blend (SDEdit, 0.1
    to 0.5) or with fewer steps still snaps; leaving the frames at the joins free and keeping
    only the model's movement, not its offset, does not."""
    if method not in METHODS:
        raise SentenceError(f"method is {', '.join(METHODS)}; got {method!r}")
    if method == "linear":   # the baseline: straight from one pose to the other at constant speed
        u = (np.arange(1, frames + 1) / (frames + 1.0))[:, None]
        poses, trans, expression = _unvec((1 - u) * _vec(before)[-1] + u * _vec(after)[0])
        if progress is not None:
            progress(1, 1)
        return Motion(poses, trans, expression, FPS, betas=before.betas), 0.0
    blend = min_jerk(_vec(before), _vec(after), frames)
    poses, trans, expression = _unvec(blend)
    if method == "blend":
        if progress is not None:
            progress(1, 1)
        return Motion(poses, trans, expression, FPS, betas=before.betas), 0.0
    from .inpaint import inpaint

    a, b = before.cut(max(0, before.num_frames - CONTEXT)), after.cut(0, min(after.num_frames, CONTEXT))
    path = _features(poses, expression)
    feats = np.concatenate([_features(a.poses, a.expression), path, _features(b.poses, b.expression)])
    c0, c1 = a.num_frames, a.num_frames + frames       # the transition's frames in the window
    if method == "raw":   # MDM's inpainting: the signs' frames replaced at every step's noise level
        keep = np.ones(len(feats), bool)
        keep[c0:c1] = False
        made = inpaint(feats, keep, text, strength=strength, seed=seed, guidance=guidance, steps=steps,
                       run_dir=run_dir, progress=progress)[c0:c1]
        return _from_features(made, poses, trans, before.betas), 1.0
    # a soft boundary: the signs' frames fixed but for the SOFT next to each join, which the model
    # redraws with the transition, so no replaced frame sits right at a join; of what it drew only
    # its movement over the transition is kept (model_detail)
    keep = np.zeros(len(feats), bool)
    keep[:max(0, c0 - SOFT)] = True
    keep[min(len(feats), c1 + SOFT):] = True
    drawn = inpaint(feats, keep, text, strength=strength, seed=seed, guidance=guidance, steps=steps,
                    run_dir=run_dir, progress=progress)
    detail = model_detail(drawn - feats, c0, c1)
    if body is None:
        from .body.model import Body

        body = Body.load()
    from .body.collide import hand_penetration
    from .eval import fidelity as F

    def framed(move: Motion) -> Motion:   # the transition with two of the signs' frames on each side
        return Motion(np.concatenate([before.poses[-2:], move.poses, after.poses[:2]]),
                      np.concatenate([before.trans[-2:], move.trans, after.trans[:2]]),
                      np.concatenate([before.expression[-2:], move.expression, after.expression[:2]]), FPS,
                      betas=before.betas)

    def depth(m: Motion) -> float:
        return float(np.maximum(*hand_penetration(body, m).values()).max())

    # the kinematic bars (fidelity's FAST, the peak bar) and no deeper into the body than the blend
    deep = max(CLEAR, depth(Motion(poses, trans, expression, FPS, betas=before.betas)))
    for share in SHARES:
        move = _from_features(path + share * detail, poses, trans, before.betas)
        if share == 0 or (F.peak_speed(framed(move), body) <= CALM and depth(move) <= deep):
            return move, share
    raise AssertionError("SHARES ends with 0")


def model_detail(change: np.ndarray, c0: int, c1: int) -> np.ndarray:
    """The model's own movement in a transition at frames [c0, c1) of a redrawn window, from its
    ``change`` (W, F) to the window: less what it changed in the signs' frames next to the joins
    (the model's bias there, carried across the transition by a quintic meeting its value and
    velocity at frames c0 - 1 and c1, a displacement map), low-passed (a Gaussian of ``LOWPASS``
    frames) and faded in and out over ``FADE`` of the transition (zero value and velocity at both
    joins), so the blend's continuity at the joins is kept exactly."""
    n = c1 - c0
    lo, hi = c0 - 1, c1
    v0 = change[lo] - change[max(lo - 1, 0)]
    v1 = change[min(hi + 1, len(change) - 1)] - change[hi]
    d = float(hi - lo)
    u = ((np.arange(c0, c1) - lo) / d)[:, None]
    u3, u4, u5 = u ** 3, u ** 4, u ** 5
    bias = ((1 - 10 * u3 + 15 * u4 - 6 * u5) * change[lo] + (10 * u3 - 15 * u4 + 6 * u5) * change[hi]
            + (u - 6 * u3 + 8 * u4 - 3 * u5) * d * v0 + (-4 * u3 + 7 * u4 - 3 * u5) * d * v1)
    own = change[c0:c1] - bias
    if LOWPASS > 0 and n > 2:
        from scipy.ndimage import gaussian_filter1d

        own = gaussian_filter1d(own, LOWPASS, axis=0, mode="constant")
    x = np.clip(np.minimum(u[:, 0], 1 - u[:, 0]) / FADE, 0, 1)
    return own * (x * x * (3 - 2 * x))[:, None]


def _from_features(feats: np.ndarray, poses: np.ndarray, trans: np.ndarray, betas) -> Motion:
    """A motion of 274-D frames, with the joints they leave out (root, legs, eyes) from ``poses``."""
    from .body.features import features_to_pose

    made, expression = features_to_pose(feats)
    poses = poses.copy()
    poses[:, list(FEATURE_JOINTS)] = made[:, list(FEATURE_JOINTS)]
    return Motion(poses, trans, expression, FPS, betas=betas)


# ------------------------------------------------------------------------ the sentence

def sentence(items, *, seed: int = 0, hand: str | None = None, method: str = "inpaint",
             strength: float = STRENGTH, transition_seconds: float | None = None, guidance: float = 2.5,
             steps: int = 50, run_dir: str | os.PathLike | None = None, lexicon=None, body=None,
             progress: Callable[[int, int], None] | None = None) -> Motion:
    """One continuous motion signing ``items`` (``Item``s, lines or objects as ``item`` reads
    them) in order. Item k is made with seed ``seed + k``; ``hand`` is the dominant hand for items
    that name none. ``transition_seconds`` sets every transition's length (an item's own
    ``transition`` wins; default: automatic). ``progress(done, total)`` counts signs and
    transition steps; an exception it raises stops the work (the server's cancel)."""
    from .motion.hands import HandError, check_hand

    items = [item(v) for v in items]
    if not items:
        raise SentenceError("a sentence needs at least one item")
    if len(items) > MAX_ITEMS:
        raise SentenceError(f"{len(items)} items is over the limit of {MAX_ITEMS}")
    if method not in METHODS:
        raise SentenceError(f"method is {', '.join(METHODS)}; got {method!r}")
    if not (isinstance(strength, (int, float)) and 0 < strength <= 1):
        raise SentenceError(f"strength must be over 0 and at most 1; got {strength!r}")
    if transition_seconds is not None and not (math.isfinite(transition_seconds) and transition_seconds > 0):
        raise SentenceError(f"transition seconds must be a number over 0; got {transition_seconds}")
    try:
        hand = check_hand(hand)
    except HandError as exc:
        raise SentenceError(str(exc)) from None
    for it in items:
        if it.kind == "motion" and not Path(it.value).is_file():
            raise SentenceError(f"motion file {it.value} does not exist")
    entries = [it.value for it in items if it.kind == "entry"]
    if entries:   # every entry checked before the first sign is made
        from .data.lexicon import LexiconError, read_lexicon

        try:
            lexicon = read_lexicon(lexicon)
        except LexiconError as exc:
            raise SentenceError(str(exc)) from None
        missing = [e for e in entries if e not in lexicon.by_id()]
        if missing:
            raise SentenceError(f"no dictionary entry {missing[0]!r} in {lexicon.path}")
    if body is None:
        from .body.model import Body

        body = Body.load()
    per_join = 1 if method in ("blend", "linear") else steps
    total = len(items) + (len(items) - 1) * per_join

    def report(done: int) -> None:
        if progress is not None:
            progress(done, total)

    signs = []
    for k, it in enumerate(items):
        signs.append(make_sign(it, seed=seed + k, hand=hand, body=body, lexicon=lexicon, run_dir=run_dir))
        report(k + 1)
    lengths = [it.transition or transition_seconds for it in items]
    return join(signs, lengths, seed=seed, method=method, strength=strength, guidance=guidance, steps=steps,
                run_dir=run_dir, body=body,
                progress=lambda i, _n: report(len(items) + i))


def join(signs: list[Sign], seconds: list[float | None], *, seed: int = 0, method: str = "inpaint",
         strength: float = STRENGTH, guidance: float = 2.5, steps: int = 50, run_dir=None, body=None,
         progress: Callable[[int, int], None] | None = None) -> Motion:
    """The sentence of ``signs`` already made: each one's sign proper kept (the first from its
    start, the last to its end), a transition into sign k of ``seconds[k]`` (None: automatic),
    made with seed ``seed + k``. ``progress`` counts transition steps over all transitions.

    With "blend" and "inpaint", a transition that would take a hand deeper than ``CLEAR`` into
    the head or torso (and deeper than the signs' own frames at its ends) is made again with
    more of the two signs' own frames kept (``WIDEN`` frames more of each: the end of the sign's
    stroke and the start of its approach, which the synthesizer already keeps clear of the
    body) until it is clear; the span's ``widened`` says by how much. An automatic transition is
    also made longer until its blend meets the continuity bar against the two signs
    (``smooth_frames``)."""
    if body is None:
        from .body.model import Body

        body = Body.load()
    last = len(signs) - 1
    core = [kept_span(s.motion, body) for s in signs]
    for k, s in enumerate(signs):
        s.span = (0 if k == 0 else core[k][0], s.motion.num_frames if k == last else core[k][1])
    per_join = 1 if method in ("blend", "linear") else steps
    parts, spans, at = [], [], 0
    moves: list[tuple[Motion, dict]] = []
    for k in range(1, last + 1):
        prev, s = signs[k - 1], signs[k]
        tries = WIDEN if method in ("blend", "inpaint") else (0,)
        best = None
        for widen in tries:
            end = min(prev.motion.num_frames, core[k - 1][1] + widen) if k - 1 != last else prev.span[1]
            start = max(0, core[k][0] - widen)
            end, start = max(end, prev.span[0] + 3), min(start, s.span[1] - 3)
            # in the first sign's body, as the sentence is written: what the transition checks is what a user gets
            tail = prev.motion.cut(max(prev.span[0], end - CONTEXT), end).with_(betas=signs[0].motion.betas)
            head = s.motion.cut(start, min(s.span[1], start + CONTEXT)).with_(betas=signs[0].motion.betas)
            if tail.num_frames < 3 or head.num_frames < 3:
                raise SentenceError(f"item {k + 1}: a sign shorter than 3 frames cannot be joined")
            n = max(2, int(round(seconds[k] * FPS))) if seconds[k] else auto_frames(tail, head, body)
            if not seconds[k] and method in ("blend", "inpaint"):   # long enough for the continuity bar
                kept = (prev.motion.cut(prev.span[0], end), s.motion.cut(start, s.span[1]))
                n = smooth_frames(tail, head, n, [m.with_(betas=signs[0].motion.betas) for m in kept], body)
            base = (k - 1) * per_join
            move, share = transition(tail, head, n, s.text, method=method, strength=strength, seed=seed + k,
                                     guidance=guidance, steps=steps, run_dir=run_dir, body=body,
                                     progress=None if progress is None else
                                     lambda i, _n, base=base: progress(base + i, last * per_join))
            depth = _depth(tail, move, head, body) if len(tries) > 1 else (0.0, 0.0)
            if best is None or depth[0] < best[0][0]:
                best = (depth, move, share, end, start, widen, n)
            if depth[0] <= max(CLEAR, depth[1]):
                break
        _, move, share, end, start, widen, n = best
        prev.span = (prev.span[0], end)
        s.span = (start, s.span[1])
        moves.append((move, {"method": method, "text": s.text, "auto": not seconds[k], "widened": widen,
                             **({"strength": strength, "model_share": share} if method in ("inpaint", "raw")
                                else {})}))
    for k, s in enumerate(signs):
        if k:
            move, info = moves[k - 1]
            parts.append(move.with_(betas=signs[0].motion.betas))
            spans.append({"kind": "transition", "start": at, "end": at + move.num_frames, **info})
            at += move.num_frames
        kept = s.motion.cut(*s.span)
        parts.append(kept.with_(betas=signs[0].motion.betas))
        s.frames = (at, at + kept.num_frames)
        spans.append({"kind": "sign", "start": at, "end": at + kept.num_frames, "source": s.source,
                      "source_frames": list(s.span), "text": s.text})
        at += kept.num_frames
    if at > MAX_FRAMES:
        raise SentenceError(f"the sentence is {at} frames, over the limit of {MAX_FRAMES}")
    first = signs[0].motion
    prov = {"source": "signforge-sentence", "seed": str(seed), "method": method,
            "sentence": json.dumps(spans), "items": str(len(signs))}
    if method in ("inpaint", "raw"):
        prov.update(strength=f"{strength:g}", guidance=f"{guidance:g}", steps=str(steps))
    return Motion(np.concatenate([p.poses for p in parts]), np.concatenate([p.trans for p in parts]),
                  np.concatenate([p.expression for p in parts]), FPS, betas=first.betas, gender=first.gender,
                  text=" / ".join(s.text for s in signs), provenance=prov)


def _depth(tail: Motion, move: Motion, head: Motion, body) -> tuple[float, float]:
    """How deep (m) a hand goes into the head or torso during ``move``, and at the signs' frames
    on either side of it (``body.collide``)."""
    from .body.collide import hand_penetration

    both = Motion(np.concatenate([tail.poses[-1:], move.poses, head.poses[:1]]),
                  np.concatenate([tail.trans[-1:], move.trans, head.trans[:1]]),
                  np.concatenate([tail.expression[-1:], move.expression, head.expression[:1]]), FPS,
                  betas=tail.betas)
    d = np.maximum(*hand_penetration(body, both).values())
    return float(d[1:-1].max()), float(max(d[0], d[-1]))


def spans(motion: Motion) -> list[dict]:
    """The spans a sentence's provenance records (sign and transition, in order)."""
    raw = motion.provenance.get("sentence")
    if raw is None:
        raise SentenceError("this motion is not a sentence (its provenance has no spans)")
    return json.loads(raw)


# ------------------------------------------------------------------------ what a user sees

def joins(motion: Motion, body) -> dict:
    """Per transition and overall: the largest wrist-speed jump across its two joins against the
    largest within the signs on either side (m/s per frame step), the largest wrist-velocity
    change across the joins, its peak wrist speed (m/s) and 95th-percentile jerk (m/s^3), how
    deep a hand goes inside the head or torso during it (m; ``body.collide``), and the frames
    between the first sign's end and the last one's start where both hands are at rest."""
    from .body.collide import hand_penetration
    from .eval import fidelity as F

    sp = spans(motion)
    speed = {s: F.wrist_speed(motion, body, s) for s in F.SIDES}          # (T-1,) step k: frame k -> k+1
    vel = {s: np.diff(F.wrist_path(motion, body, s), axis=0) * motion.fps for s in F.SIDES}
    jumps = {s: np.abs(np.diff(speed[s])) for s in F.SIDES}               # index k: steps k -> k+1
    vjumps = {s: np.linalg.norm(np.diff(vel[s], axis=0), axis=1) for s in F.SIDES}
    rest = np.maximum(F.rest_distance(motion, body, "left"), F.rest_distance(motion, body, "right"))

    def within(a: int, b: int) -> float:   # speed jumps whose three frames all lie in [a, b)
        return max(float(jumps[s][a:max(a, b - 2)].max(initial=0.0)) for s in F.SIDES)

    out = []
    for i, t in enumerate(sp):
        if t["kind"] != "transition":
            continue
        prev, nxt = sp[i - 1], sp[i + 1]
        a, b = t["start"], t["end"]
        at = [k for k in (a - 2, a - 1, b - 2, b - 1) if 0 <= k < len(jumps["left"])]   # jumps touching a join
        jump = max(float(jumps[s][at].max()) for s in F.SIDES)
        vjump = max(float(vjumps[s][at].max()) for s in F.SIDES)
        seg = motion.cut(max(0, a - 1), min(motion.num_frames, b + 1))
        out.append({"start": a, "end": b, "join_speed_jump": jump, "sign_speed_jump": max(within(prev["start"], prev["end"]), within(nxt["start"], nxt["end"])),
                    "join_velocity_jump": vjump,
                    "peak_speed": max(float(speed[s][max(0, a - 1):b].max()) for s in F.SIDES),
                    "jerk": max(F.jerk(seg, body, s) for s in F.SIDES) if seg.num_frames >= 4 else 0.0,
                    "depth": float(np.maximum(*hand_penetration(body, motion.cut(a, b)).values()).max()),
                    "fast_steps": int(((speed["left"] > F.FAST) | (speed["right"] > F.FAST))[max(0, a - 1):b].sum()),
                    "steps": int(b - max(0, a - 1))})
    signs = [t for t in sp if t["kind"] == "sign"]
    middle = slice(signs[0]["end"], signs[-1]["start"])
    return {"transitions": out, "rest_frames": int((rest[middle] < F.SIGNING).sum()),
            "sign_peak_speed": max(float(speed[s][t["start"]:t["end"] - 1].max(initial=0.0))
                                   for s in F.SIDES for t in signs)}


make_callable(__name__)   # ``backend.sentence(...)`` is this module's ``sentence(...)``
