"""People's prompts: coarse expectations checked on the motion, as a user would judge a take.

``people.jsonl`` holds free-text prompts written by hand, in the styles people use
(imperative, third person, terse, descriptive, everyday words such as "salute", "clap",
"thumbs up"), each with the coarse expectations a person reading it would hold:

- ``hand``: "right", "left" or "both" signs; a one-handed prompt also expects the other
  hand to stay down (within ``IDLE`` of its rest);
- ``shape``: "fist" (thumbs-up included), "index", "V" or "open" (flat or spread);
- ``site``: "forehead", "chin" (mouth and lips included), "head" (anywhere on or near the
  face and head), "chest" or "stomach";
- ``move``: any of "up", "down", "forward", "sideways", "circle", "repeat", "together",
  "apart".

The prompts are not made by the text grammar and never train anything. Each row names its
part (``SPLITS``): "dev" was looked at while improving generation; "held-out" was read once
when written, and its misses then showed words the grammar lacked (so it is not blind);
"fresh" was written before the scene parser was last trained and first run after it
shipped; nothing was changed for it; "probe" was written in twenty-seven rounds of 30 to 40, each
run once before any change (the first six together 1692/1754 expectations at 2 seeds on
that first run, with three expectations since corrected for a base hand; their misses were
then read and fixed in the planner's plain-word rules; the seventh, written after those
fixes, 249/250; the eighth, 40 prompts in new ways of asking, "can you make...", "like
stopping someone", "right fist to chest, twice", 456/477 at 3 seeds, its misses then fixed;
the ninth, 40 more ("RIGHT HAND FIST, TAP FOREHEAD TWICE", "tap ur chin w/ ur right index
finger 2x", "slowly raise..."), 458/477 on its first run, 467/477 after its fixes; the tenth,
40 more ("circle the right fist over the heart", "two fingers of the right hand", "slide your
left hand sideways across your stomach"), 469/486 on its first run, 483/486 after its fixes; the
eleventh, 40 more ("point at your own chest", "taps the forehead once, then again", "thump your
chest"), 510/519 on its first run, 516/519 after its fixes; the twelfth, 40 more ("both fists bump
together", "touch your temple ..., then move the hand forward", "tap chin 3 times, right index"),
498/510 on its first run, 507/510 after its fixes; the thirteenth, 40 more, written by a helper
that never read the planner ("I'm left-handed, so use my left hand: ... press it down", "polish an
imaginary window ...", "R V -> chin x2"), 464/486 on its first run, 481/486 after its fixes; the
fourteenth, 40 more by another such helper ("Hammer a nail: ...", "moved out to the side, away
from the middle of the body", "Mia opens her arms wide"), 458/483 on its first run, 477/483 after;
the fifteenth, 40 more in chat style with typos, fragments and stage directions ("tap ur forhed
w/ ur left pointer x3", "V at lips", "Non-dominant hand only: ..."), 434/480 on its first run,
461/480 after; the sixteenth, 40 more in sign-teacher notation and everyday gestures ("Handshape:
1. Location: chin. Movement: tap twice.", "Pat the dog: ..."), 446/516 on its first run, 507/513
after, one expectation corrected before the fixes: tapping the left wrist raises the left hand;
the seventeenth, 40 more in plain everyday English ("Two short forward jabs with the left V
hand"), 475/498 on its first run, 486/498 after; the eighteenth, 40 more in an animator's
direction ("punch it forward hard on the beat", "ease up from the stomach to the chin over a slow
count of four"), 464/495 on its first run, 492/495 after; the nineteenth, 40 more in non-native
and machine-translated English with negations ("Tap the forehead twice with the index, but not
with the left, with the right"), 438/495 on its first run, 492/495 after; the twentieth, 40 more
as structured notes ("hand=R shape=1 loc=temple mov=tap,tap", "L open ↓ forehead → chin", "1.
right V at the forehead 2. flick it out forward"), 448/513 on its first run, 506/513 after; the
twenty-first, 40 more very short, child-like and with emoji ("✌️ on forehead, 2 taps", "tickle
tickle the tummy with one finger"), 404/468 on its first run, 461/468 after; the twenty-second,
40 more in a motion-capture animator's notes ("Hand_L: fist, thumb up. Translate 30 cm along +Z",
"the left, sorry, the right hand"), 371/507 on its first run, 462/507 after; the twenty-third, 40
more asking for a gesture by its meaning ("Hail a taxi", "Erase a chalkboard with your flat right
hand"), 419/465 on its first run, 428/465 after; the twenty-fourth, 40 more naming both hands with
one resting or held as a base ("The left hand waits down at the side. The right fist ...", "the
hand you don't write with"), 326/486 on its first run, 443/486 after; the twenty-fifth, 40 more
placing the hand by height and direction ("at belly-button height", "diagonally up and out"),
454/486 on its first run, nothing changed for it; the twenty-sixth, 40 more as a game developer's
scene notes with the instruction buried in context, palm ways, likenesses and counts said many ways
("My indie game has a mute kid who talks with her hands. ...", "No action on the left hand",
"lift it up until the fingertips touch the chin"), 516/552 on its first run, 538/552 after;
the twenty-seventh, 40 more as voice-dictation transcripts, clinical and biomechanical wording,
British English and long sentences of qualifiers ("okay the left no wait the right hand...", "the
frontal bone", "like you're having a bash at a punchbag"), 453/507 on its first run, 492/507 after).

The checks are deliberately simple geometry on the posed motion, written apart from
HandMotionScript (``backend.data.hms``) and the planner's own scene measures, so a take
the planner believes in is still judged from the outside:

- fingers: each finger's extension (fingertip-to-knuckle distance over the finger's length,
  median over the sign) reads extended over ``EXTENDED`` and curled under ``CURLED``;
- site: the hand's nearest approach (palm, back and fingertips) to the site's points
  during the sign, within ``AT_SITE`` (``NEAR_HEAD`` for "head");
- direction: the wrist's farthest excursion from where the sign starts, at least ``REACH``
  long, along the body's up, forward or sideways axis;
- circle: the wrist's path in its best-fit plane turns ``CIRCLE_TURN`` or more around its centre;
- repeat: the wrist's travel along its main axis has ``REPEAT_STROKES`` or more strokes of
  ``STROKE`` or longer;
- together / apart: the palms meet (within ``MEET``) or their distance falls (grows) by
  ``SPREAD`` or more.

The sign is ``fidelity.sign_window`` of the signing hand: the approach from rest and the
return to it are not part of what the prompt asks. numpy; never bpy.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..body.sites import SITE_INDEX
from ..body.skeleton import JOINT_INDEX as J
from . import fidelity as F

PEOPLE = Path(__file__).with_name("people.jsonl")
SPLITS = ("dev", "held-out", "fresh", "probe")

IDLE = F.IDLE            # metres
EXTENDED = 0.85          # a finger this straight (fingertip-to-knuckle over its length) is extended
CURLED = 0.70            # under this, curled
AT_SITE = 0.07           # metres from a named site
NEAR_HEAD = 0.10         # metres from any head site
REACH = 0.06             # metres: the shortest excursion that reads as a direction
CIRCLE_TURN = 300.0      # degrees
STROKE = 0.02            # metres
REPEAT_STROKES = 2       # there and back again at least: the sign starts at the first arrival
MEET = 0.07              # metres between the palms
SPREAD = 0.10            # metres

SHAPES = ("fist", "index", "V", "open")
MOVES = ("up", "down", "forward", "sideways", "circle", "repeat", "together", "apart")
_SITES = {
    "forehead": ("forehead", "left_temple", "right_temple"),
    "chin": ("mouth", "lip_upper", "lip_lower", "chin"),
    "head": ("forehead", "left_temple", "right_temple", "nose", "left_eye", "right_eye", "mouth",
             "lip_upper", "lip_lower", "chin", "left_cheek", "right_cheek", "left_ear", "right_ear"),
    "chest": ("chest", "left_chest", "right_chest"),
    "stomach": ("stomach",),
}
_FINGERS = ("index", "middle", "ring", "pinky")


@dataclass(frozen=True)
class Prompt:
    text: str
    hand: str                         # right | left | both
    shape: str | None = None
    site: str | None = None
    move: tuple[str, ...] = ()
    split: str = "dev"

    def expectations(self) -> list[str]:
        """The names of the checks this prompt sets, in a fixed order."""
        out = ["hand"] + (["other down"] if self.hand != "both" else [])
        out += ["shape"] if self.shape else []
        out += ["site"] if self.site else []
        return out + list(self.move)


def load_prompts(path: str | Path = PEOPLE) -> list[Prompt]:
    """The prompts of ``path``. A row's ``split`` names its part (``SPLITS``); rows without one
    are split in two, the first half "dev" and the second "held-out"."""
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    unsplit = [i for i, row in enumerate(rows) if "split" not in row]
    half = {i: SPLITS[k >= (len(unsplit) + 1) // 2] for k, i in enumerate(unsplit)}
    out = []
    for i, row in enumerate(rows):
        p = Prompt(text=row["text"], hand=row["hand"], shape=row.get("shape"), site=row.get("site"),
                   move=tuple(row.get("move", ())), split=row.get("split", half.get(i, "dev")))
        if p.hand not in ("right", "left", "both") or (p.shape and p.shape not in SHAPES) or \
                (p.site and p.site not in _SITES) or not set(p.move) <= set(MOVES) or p.split not in SPLITS:
            raise ValueError(f"{path}: line {i + 1} has an expectation this checker does not know: {row}")
        out.append(p)
    return out


# ------------------------------------------------------------------------ measures

def finger_extension(motion, body, side: str, window) -> dict[str, float]:
    """Each finger's median straightness over the window: fingertip-to-knuckle distance over
    the finger's length (1 straight, about 0.5 curled into the palm)."""
    t0, t1 = window
    p = F.posed(motion, body)
    out = {}
    for finger in _FINGERS:
        chain = [p.joints[t0:t1, J[f"{side}_{finger}{k}"]] for k in (1, 2, 3)]
        chain.append(p.sites[t0:t1, SITE_INDEX[f"{side}_{finger}_tip"]])
        length = sum(np.linalg.norm(b - a, axis=-1) for a, b in zip(chain, chain[1:]))
        out[finger] = float(np.median(np.linalg.norm(chain[-1] - chain[0], axis=-1) / length))
    return out


def shape_of(extension: dict[str, float]) -> str:
    """fist | index | V | open | other, from which fingers are extended and which curled."""
    ext = tuple(extension[f] > EXTENDED for f in _FINGERS)
    curl = tuple(extension[f] < CURLED for f in _FINGERS)
    if all(curl):
        return "fist"
    if ext[0] and all(curl[1:]):
        return "index"
    if ext[0] and ext[1] and curl[2] and curl[3]:
        return "V"
    if all(ext):
        return "open"
    return "other"


def site_distance(motion, body, side: str, site: str, window) -> float:
    """The hand's nearest approach (m) to ``site``'s points during the window."""
    t0, t1 = window
    hand = F.hand_points(motion, body, side)[t0:t1]
    ids = [SITE_INDEX[s] for s in _SITES[site]]
    return float(F._nearest(hand, F.posed(motion, body).sites[t0:t1][:, ids]).min())


def excursion(path: np.ndarray) -> np.ndarray:
    """(3,) from the path's start to its point farthest from the start."""
    d = np.linalg.norm(path - path[0], axis=1)
    return path[int(d.argmax())] - path[0]


def direction_of(vector: np.ndarray) -> str:
    """up | down | forward | back | sideways | none, along the body's axes (x left, y up, z forward)."""
    if np.linalg.norm(vector) < REACH:
        return "none"
    axis = int(np.abs(vector).argmax())
    if axis == 0:
        return "sideways"
    if axis == 1:
        return "up" if vector[1] > 0 else "down"
    return "forward" if vector[2] > 0 else "back"


def turning(path: np.ndarray) -> float:
    """Degrees the path turns around its centre in its best-fit plane (signed total, absolute)."""
    if len(path) < 4:
        return 0.0
    centred = path - path.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    if s[0] < 1e-6 or s[1] < 0.3 * s[0]:
        return 0.0
    xy = centred @ vt[:2].T
    angle = np.unwrap(np.arctan2(xy[:, 1], xy[:, 0]))
    return float(abs(np.degrees(angle[-1] - angle[0])))


def strokes_along(path: np.ndarray) -> int:
    """Strokes of ``STROKE`` or longer along the path's main axis: the path is split where
    it turns back by ``STROKE`` or more from its farthest point so far."""
    if len(path) < 3:
        return 0
    centred = path - path.mean(0)
    x = centred @ np.linalg.svd(centred, full_matrices=False)[2][0]
    count, heading, extreme = 0, 0.0, x[0]
    for v in x[1:]:
        if heading == 0:
            if abs(v - x[0]) >= STROKE:
                count, heading, extreme = 1, np.sign(v - x[0]), v
        elif (v - extreme) * heading > 0:
            extreme = v
        elif (extreme - v) * heading >= STROKE:
            count, heading, extreme = count + 1, -heading, v
    return count


@dataclass
class Checked:
    prompt: Prompt
    passed: dict[str, bool] = field(default_factory=dict)
    seen: dict[str, str] = field(default_factory=dict)   # what was measured, for the report


def check(motion, body, prompt: Prompt) -> Checked:
    """Each of ``prompt``'s expectations, passed or not, on ``motion`` posed on ``body``."""
    out = Checked(prompt)
    sides = ("right", "left") if prompt.hand == "both" else (prompt.hand,)
    signing = {s: F.is_signing(motion, body, s) for s in F.SIDES}
    out.passed["hand"] = all(signing[s] for s in sides)
    out.seen["hand"] = "+".join(s for s in F.SIDES if signing[s]) or "none"
    lead = sides[0] if signing[sides[0]] or prompt.hand != "both" else "left"
    if prompt.hand != "both":
        idle = F.idle_distance(motion, body, F._other(prompt.hand))
        out.passed["other down"] = idle <= IDLE
        out.seen["other down"] = f"{idle * 100:.0f} cm"
    window = F.sign_window(motion, body, lead)
    if prompt.shape:
        shape = shape_of(finger_extension(motion, body, lead, window))
        out.passed["shape"] = shape == prompt.shape
        out.seen["shape"] = shape
    if prompt.site:
        d = site_distance(motion, body, lead, prompt.site, window)
        out.passed["site"] = d <= (NEAR_HEAD if prompt.site == "head" else AT_SITE)
        out.seen["site"] = f"{d * 100:.0f} cm"
    t0, t1 = window
    path = F.wrist_path(motion, body, lead)[t0:t1]
    for move in prompt.move:
        if move in ("up", "down", "forward", "sideways"):
            seen = direction_of(excursion(path)) if len(path) else "none"
            out.passed[move], out.seen[move] = seen == move, seen
        elif move == "circle":
            turn = turning(path)
            out.passed[move], out.seen[move] = turn >= CIRCLE_TURN, f"{turn:.0f} deg"
        elif move == "repeat":
            n = strokes_along(path)
            out.passed[move], out.seen[move] = n >= REPEAT_STROKES, f"{n} strokes"
        else:
            out.passed[move], out.seen[move] = _hands_meet(motion, body, window, move)
    return out


def _hands_meet(motion, body, window, move: str) -> tuple[bool, str]:
    t0, t1 = window
    sites = F.posed(motion, body).sites[t0:t1]
    gap = np.linalg.norm(sites[:, SITE_INDEX["left_palm"]] - sites[:, SITE_INDEX["right_palm"]], axis=1)
    if not len(gap):
        return False, "no sign"
    if move == "together":
        ok = gap.min() <= MEET or gap[0] - gap.min() >= SPREAD
    else:
        ok = gap.max() - gap[0] >= SPREAD
    return bool(ok), f"{gap[0] * 100:.0f}->{gap.min() * 100:.0f}..{gap.max() * 100:.0f} cm"


def score(results: list[Checked]) -> tuple[int, int]:
    """(expectations met, expectations set)."""
    return sum(sum(r.passed.values()) for r in results), sum(len(r.passed) for r in results)


def shuffled(motions: list, body, prompts: list[Prompt], seed: int = 0) -> tuple[int, int]:
    """The same motions checked against another prompt's expectations: the chance level."""
    order = np.random.default_rng(seed).permutation(len(prompts))
    while len(prompts) > 1 and np.any(order == np.arange(len(prompts))):
        order = np.random.default_rng(seed := seed + 1).permutation(len(prompts))
    return score([check(m, body, prompts[j]) for m, j in zip(motions, order)])
