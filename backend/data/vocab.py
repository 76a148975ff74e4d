"""The description vocabulary: every concept the text grammar can name, with its synonyms.

One table owns the words. A concept (``"place:chin"``, ``"shape:fist"``, ``"verb:tap"``...)
lists its synonyms, the first being the plain everyday word; ``core`` marks the words
people use most (the issue's list: temple, lips, belly, fist, thumbs-up, pat, clap...),
which always stay in training. ``TextSplit.from_seed`` holds out 20% of all synonyms
(drawn from the non-core ones) and one whole style family for the paraphrase test set,
the same way for the same seed. Verbs carry their frames: the hand as subject (``hand``),
an agent moving the hand (``agent``, ``{x}`` is the hand) and the bare verb after "bring
the hand to ..." (``bare``); ``{p}`` is a place. Python + numpy (the seeded draw); never torch or bpy.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np

# The style families of text.py. The first four are what the issue says people write and
# always train; the seed holds out one of the others unless a family is named.
STYLES = ("imperative", "third_person", "terse", "descriptive", "first_person", "passive")
HOLDABLE_STYLES = ("first_person", "passive")
HELD_OUT_SYNONYM_FRACTION = 0.2


@dataclass(frozen=True)
class Word:
    """One synonym. ``text`` is what a noun or modifier reads as; a verb's frames say how it
    is used. ``mark`` is the regex that finds it in a text, conjugated too (default: ``text``);
    only words that can be held out are looked for, so core words need none."""
    text: str
    core: bool = False
    hand: tuple[str, ...] = ()        # hand as subject, base form: "tap {p}", "rise"
    agent: tuple[str, ...] = ()       # someone moves the hand {x}: "tap {p} with {x}", "raise {x}"
    bare: tuple[str, ...] = ()        # after "bring {x} to {p} and ...": "tap", "tap there"
    mark: str = ""

    @property
    def pattern(self) -> str:
        return self.mark or re.escape(self.text)


def _w(text: str, core: bool = False, mark: str = "") -> Word:
    return Word(text, core, mark=mark)


def _v(text: str, hand, agent, bare=(), core: bool = False, mark: str = "") -> Word:
    return Word(text, core, tuple(hand), tuple(agent), tuple(bare), mark)


# ------------------------------------------------------------------------------ the table
# place: where on the body (or the other hand) the hand is. Nouns, without article.
PLACES: dict[str, list[Word]] = {
    "forehead": [_w("forehead", True), _w("brow"), _w("upper face")],
    "temple": [_w("temple", True), _w("side of the forehead")],
    "eye": [_w("eye", True), _w("corner of the eye")],
    "nose": [_w("nose", True), _w("middle of the face")],
    "cheek": [_w("cheek", True), _w("side of the face")],
    "ear": [_w("ear", True), _w("side of the head")],
    "mouth": [_w("mouth", True), _w("lips", True), _w("mouth area")],
    "chin": [_w("chin", True), _w("jaw"), _w("point of the chin", mark=r"point of the chin")],
    "neck": [_w("throat", True), _w("neck", True), _w("front of the neck", mark=r"front of the neck")],
    "shoulder": [_w("shoulder", True), _w("top of the shoulder", mark=r"top of the shoulder")],
    "chest": [_w("chest", True), _w("upper torso"), _w("breastbone"), _w("sternum"), _w("heart", True)],
    "stomach": [_w("stomach", True), _w("belly", True), _w("tummy"), _w("lower torso"), _w("midriff")],
    "hip": [_w("hip", True), _w("side of the waist")],
    "upper arm": [_w("upper arm", True), _w("biceps")],
    "elbow": [_w("elbow", True), _w("crook of the arm")],
    "forearm": [_w("forearm", True), _w("lower arm")],
    "wrist": [_w("wrist", True)],
    "palm": [_w("palm", True), _w("open palm", mark=r"open palm(?! hand)")],
    "back of the hand": [_w("back of the hand", True), _w("knuckles", mark=r"knuckles(?<!at the knuckles)")],
    "fingers": [_w("fingers", True), _w("tips of the fingers")],
}
# the space in front of the body, when no place is touched or neared: prepositional phrases
NEUTRAL = [_w("in front of the chest", True), _w("in front of the body", True),
           _w("in the space before the torso", mark=r"space before the torso"),
           _w("at chest height")]

# shape: everyday names. A name ending in a hand noun ("fist", "flat hand") reads after a
# side ("your right fist"); any other ("V", "thumbs-up") reads as "hand in a V".
SHAPES: dict[str, list[Word]] = {
    "fist": [_w("fist", True), _w("closed fist", True), _w("balled fist"), _w("clenched hand")],
    "thumb_fist": [_w("fist with the thumb up", True), _w("thumbs-up", True), _w("thumbs up", True),
                   _w("thumbs-up fist", mark=r"thumbs-up fist"), _w("fist with the thumb raised")],
    "flat": [_w("flat hand", True), _w("open palm hand", mark=r"open palm hand"), _w("straight flat hand"),
             _w("hand held flat", mark=r"hand held flat")],
    "cupped": [_w("cupped hand", True), _w("curved flat hand")],
    "index": [_w("index finger", True), _w("pointing finger", True), _w("pointer finger"),
              _w("forefinger")],
    "bent_index": [_w("bent index finger", True), _w("curled index finger"), _w("hooked index finger")],
    "spread": [_w("spread hand", True), _w("open hand", True), _w("splayed hand"),
               _w("hand with the fingers spread", mark=r"hand with the fingers spread")],
    "claw": [_w("claw", True), _w("clawed hand"), _w("claw hand"), _w("bent spread hand")],
    "pinch": [_w("pinch", True), _w("pinching hand"), _w("tiny O", mark=r"tiny O\b")],
    "flat_o": [_w("flat O", True), _w("bunched hand"), _w("tapered hand")],
    "o": [_w("O shape", True), _w("O hand"), _w("rounded O", mark=r"rounded O\b")],
    "ok": [_w("OK sign", True), _w("OK hand"), _w("okay hand")],
    "c": [_w("C shape", True), _w("C hand"), _w("curved C", mark=r"curved C\b")],
    "v": [_w("V", True), _w("V shape", True), _w("peace sign"), _w("V hand")],
    "bent_v": [_w("bent V", True), _w("hooked V"), _w("claw V")],
    "l": [_w("L shape", True), _w("finger gun")],   # not "L hand": terse notes write the left hand so
    "y": [_w("Y hand", True), _w("hang-loose hand"), _w("Y shape")],
    "pinky": [_w("raised pinky", True), _w("pinky finger"), _w("little finger raised", mark=r"little finger raised")],
}
HAND_NOUNS = ("fist", "hand", "finger", "forefinger", "claw", "pinky")   # and names starting "hand ..."
# ASL-LEX handshapes named by an everyday concept; the others are described (handshapes.py).
HANDSHAPE_CONCEPT = {
    "s": "fist", "a": "thumb_fist", "thumbs_up": "thumb_fist", "flat_b": "flat", "open_b": "flat", "closed_b": "flat",
    "curved_b": "cupped", "1": "index", "flat_1": "index", "bent_1": "bent_index", "curved_1": "bent_index",
    "5": "spread", "curved_5": "claw", "spread_open_e": "claw", "curved_4": "claw", "baby_o": "pinch",
    "flat_o": "flat_o", "o": "o", "f": "ok", "c": "c", "v": "v", "bent_v": "bent_v", "curved_v": "bent_v",
    "l": "l", "y": "y", "i": "pinky",
}

# movements: verbs with their frames (base forms; text.py conjugates)
VERBS: dict[str, list[Word]] = {
    "tap": [_v("tap", ["tap {p}", "tap against {p}"], ["tap {p} with {x}", "tap {x} against {p}"],
               ["tap", "tap there", "tap it"], core=True),
            _v("bump", ["bump {p}", "bump against {p}"], ["bump {x} against {p}"], ["bump it"]),
            _v("dab", ["dab at {p}"], ["dab {p} with {x}"], ["dab"])],
    "knock": [_v("knock", ["knock on {p}", "knock against {p}"], ["knock {x} on {p}", "knock on {p} with {x}"],
                 ["knock", "knock on it"], core=True),
              _v("rap", ["rap on {p}"], ["rap {x} on {p}"], ["rap on it"], mark=r"rap(s|ped|ping)? on"),
              _v("pound", ["pound on {p}", "thump {p}"], ["pound {p} with {x}", "hit {p} with {x}", "thump {x} against {p}"],
                 ["pound it"], core=True)],
    "pat": [_v("pat", ["pat {p}", "pat down on {p}"], ["pat {p} with {x}"], ["pat", "pat it"], core=True),
            _v("slap lightly", ["slap {p} lightly"], ["slap {p} lightly with {x}"], ["slap it lightly"],
               mark=r"slap\w* [a-z' ]*lightly")],
    "touch": [_v("touch", ["touch {p}"], ["touch {p} with {x}", "touch {x} to {p}"], ["touch it", "stop"],
                 core=True),
              _v("rest on", ["rest on {p}"], ["rest {x} on {p}"], ["rest there"], mark=r"rest(s|ed|ing)? (on|there)"),
              _v("press against", ["press against {p}"], ["press {x} against {p}"], ["press in"],
                 mark=r"press(es|ed|ing)? (against|in)"),
              _v("make contact", ["make contact with {p}"], ["make contact with {p} using {x}"],
                 ["make contact"], mark=r"(make|makes|made|making) contact"),
              _v("put on", ["settle on {p}", "land on {p}"], ["put {x} on {p}", "place {x} on {p}", "lay {x} on {p}"],
                 ["settle there"], core=True)],
    # a salute is at the brow: people say the verb alone ("salute with your right hand")
    "salute": [_v("salute", ["salute from {p}", "salute at {p}", "salute", "give a salute"],
                  ["salute with {x} at {p}", "salute with {x}"], ["salute"], core=True)],
    "brush": [_v("brush", ["brush {p}", "brush past {p}"], ["brush {x} across {p}", "brush {p} with {x}"],
                 ["brush past it"], core=True),
              _v("graze", ["graze {p}"], ["graze {p} with {x}"], ["graze it"]),
              _v("sweep", ["sweep across {p}"], ["sweep {x} across {p}"], ["sweep across it"])],
    "rub": [_v("rub", ["rub {p}", "rub {p} in circles"], ["rub {x} on {p}", "rub {p} with {x}"],
               ["rub", "rub in circles"], core=True),
            _v("massage", ["massage {p}"], ["massage {p} with {x}"], ["massage it"]),
            _v("scratch", ["scratch {p}"], ["scratch {p} with {x}"], ["scratch"], core=True)],
    "circle": [_v("circle", ["circle", "move in a circle"], ["circle {x}", "move {x} in a circle"], core=True),
               _v("trace a circle", ["trace a circle"], ["trace a circle with {x}"], mark=r"trac\w* a circle"),
               _v("go around", ["go around in a circle"], ["swing {x} around in a circle"],
                  mark=r"(go|goes|going|went|swing|swings|swung|swinging) [a-z ]*around in a circle"),
               _v("make a circle", ["make a circle"], ["make a circle with {x}"],
                  mark=r"(make|makes|made|making) a circle"),
               _v("draw a circle", ["draw a circle in the air", "spin around", "swirl around"],
                  ["draw a circle with {x}", "swirl {x} around", "rotate {x} in a loop"], core=True)],
    "wave": [_v("wave", ["wave", "wave side to side"], ["wave {x}", "wave {x} side to side"], core=True),
             _v("shake side to side", ["shake side to side"], ["shake {x} side to side"],
                mark=r"(shake|shakes|shook|shaking|shaken) [a-z ]*side to side"),
             _v("swing side to side", ["swing side to side"], ["swing {x} side to side"],
                mark=r"(swing|swings|swung|swinging) [a-z ]*side to side"),
             _v("wag", ["wag side to side", "wag to and fro"], ["wag {x}", "wag {x} side to side", "waggle {x}"],
                core=True)],
    "wiggle": [_v("wiggle", ["wiggle its fingers"], ["wiggle the fingers of {x}"], core=True),
               _v("flutter", ["flutter its fingers"], ["flutter the fingers of {x}"])],
    "apart": [_v("slide apart", ["slide apart"], ["slide {x} apart"], core=True),
              _v("move apart", ["move apart"], ["move {x} apart"], core=True),
              _v("pull apart", ["pull apart"], ["pull {x} apart"], mark=r"(pull|pulls|pulled|pulling) [a-z ]*apart"),
              _v("separate", ["separate"], ["separate {x}"], mark=r"separat"),
              _v("spread apart", ["spread apart", "spread out", "part", "move out from the middle",
                                  "move away from each other"],
                 ["spread {x} apart", "part {x}", "move {x} out from the middle", "open {x} out to the sides",
                  "move {x} away from each other"],
                 core=True)],
    "together": [_v("come together", ["come together"], ["bring {x} together"], core=True),
                 _v("meet", ["meet"], ["let {x} meet"], mark=r"(meet|meets|met|meeting)(?! [a-z])"),
                 _v("close in", ["close in on each other"], ["close {x} in on each other"],
                    mark=r"clos\w* [a-z ]*in on"),
                 _v("join", ["join", "move toward each other", "converge"], ["join {x}", "bring {x} in toward each other"],
                    core=True)],
    "clap": [_v("clap", ["clap", "clap together"], ["clap {x} together"], core=True),
             _v("strike together", ["strike together"], ["strike {x} together"],
                mark=r"(strike|strikes|struck|striking) [a-z ]*together"),
             _v("smack together", ["smack together"], ["smack {x} together"],
                mark=r"(smack|smacks|smacked|smacking) [a-z ]*together")],
    "push": [_v("push", ["push forward", "push out"], ["push {x} forward", "push {x} out"], core=True),
             _v("move forward", ["move forward"], ["move {x} forward"], core=True),
             _v("thrust", ["thrust forward"], ["thrust {x} forward"]),
             _v("point forward", ["point straight ahead", "reach forward", "extend forward"],
                ["point {x} straight ahead", "reach {x} forward", "extend {x} out in front"], core=True)],
    "pull": [_v("pull back", ["pull back", "pull in"], ["pull {x} back", "pull {x} in"], core=True),
             _v("draw back", ["draw back"], ["draw {x} back"], mark=r"(draw|draws|drew|drawn|drawing) [a-z ]*back"),
             _v("move back", ["move back toward the body"], ["move {x} back toward the body"],
                mark=r"back toward the body")],
    "rise": [_v("rise", ["rise", "move up"], ["raise {x}", "move {x} up"], core=True),
             _v("lift", ["lift"], ["lift {x}"], mark=r"lift"),
             _v("go up", ["go up"], ["bring {x} up"], core=True),
             _v("climb", ["climb", "come up", "float up"], ["raise {x} up", "pull {x} upward"], core=True)],
    "drop": [_v("drop", ["drop", "move down"], ["drop {x}", "move {x} down"], core=True),
             _v("lower", ["lower"], ["lower {x}"], mark=r"lower(s|ed|ing)?\b(?! (arm|torso))"),
             _v("sink", ["sink"], ["let {x} sink"], mark=r"(sink|sank|sunk)"),
             _v("fall", ["fall", "come down", "descend"], ["bring {x} down", "let {x} fall", "take {x} down"],
                core=True)],
    "side": [_v("move", ["move {d}"], ["move {x} {d}"], core=True),
             _v("slide", ["slide {d}"], ["slide {x} {d}"], mark=r"(slide|slides|slid|sliding) [a-z ]*(left|right)"),
             _v("shift", ["shift {d}"], ["shift {x} {d}"]),
             _v("flick", ["flick {d}", "swing out {d}", "glide {d}"], ["flick {x} {d}", "send {x} out {d}"],
                core=True)],
    "back_forth": [_v("move back and forth", ["move {d} and back"], ["move {x} {d} and back"], core=True),
                   _v("go and back", ["go {d} and back"], ["take {x} {d} and back"],
                      mark=r"(go|goes|going|gone|went|take|takes|taking|taken|took) [a-z' ,]* and back"),
                   _v("swing", ["swing {d} and back"], ["swing {x} {d} and back"],
                      mark=r"(swing|swings|swung|swinging) [a-z ]* and back")],
    "path": [_v("move", ["move {d}"], ["move {x} {d}"], core=True),
             _v("travel", ["travel {d}"], ["take {x} {d}"], mark=r"travel"),
             _v("trace a path", ["trace a path {d}"], ["trace a path {d} with {x}"], mark=r"trac\w* a path")],
    "hold": [_v("hold still", ["stay still", "hold still"], ["hold {x} still"], core=True),
             _v("pause", ["pause"], ["keep {x} there"], mark=r"(paus\w*|(keep|keeps|kept|keeping) [a-z' ,-]* there)")],
}
# The dominant hand's verbs by shape (a fist knocks, a flat hand pats).
KNOCKERS = {"fist", "thumb_fist"}
PATTERS = {"flat", "spread", "cupped"}

DIRECTIONS: dict[str, list[Word]] = {
    "up": [_w("up", True), _w("upward", True), _w("higher"), _w("upwards", True)],
    "down": [_w("down", True), _w("downward", True), _w("downwards", mark=r"downwards")],
    "forward": [_w("forward", True), _w("outward"), _w("away from the body", mark=r"away from the body"),
                _w("straight ahead", True), _w("ahead", True)],
    "back": [_w("back", True), _w("toward the body", True), _w("inward")],
    "left": [_w("to the left", True), _w("leftward"), _w("toward the left", True), _w("over to the left", True),
             _w("to the signer's left", mark=r"to the signer's left(?! hand)")],
    "right": [_w("to the right", True), _w("rightward"), _w("toward the right", True), _w("over to the right", True),
              _w("to the signer's right", mark=r"to the signer's right(?! hand)")],
}
# A stroke the cues measure curving (HandMotionScript's ``path_shape``), said after its verb:
# "raise your fist in an arc". All core, and outside ``concepts()``: never held out, and the
# held-out draw stays the one it was. The planner reads each one (``plan.words.says_arc``).
ARCS = [_w("in an arc", True), _w("in a curve", True), _w("along a curve", True), _w("in a wide arc", True)]
PALMS: dict[str, list[Word]] = {
    "up": [_w("up", True), _w("toward the ceiling", mark=r"toward the ceiling")],
    "down": [_w("down", True), _w("toward the floor", mark=r"toward the floor")],
    "toward the body": [_w("in", True), _w("toward the chest", mark=r"toward the chest")],
    "away from the body": [_w("out", True),
                           _w("away from the signer", mark=r"away from the signer")],
    "left": [_w("left", True), _w("sideways to the left", mark=r"sideways to the left")],
    "right": [_w("right", True),
              _w("sideways to the right", mark=r"sideways to the right")],
    # both hands, mirrored: sideways palms face each other or away from each other
    "each other": [_w("each other", True), _w("one another", mark=r"one another")],
    "away from each other": [_w("away from each other", True)],
}
# Repetition counts (n >= 3 also has the vague words, which state no number).
COUNTS: dict[int, list[Word]] = {
    2: [_w("twice", True), _w("two times", True), _w("a couple of times", mark=r"a couple of times")],
    3: [_w("three times", True), _w("3 times", mark=r"3 times")],
    4: [_w("four times", True)],
    5: [_w("five times", True)],
    6: [_w("six times", True)],
}
VAGUE_COUNTS = [_w("a few times", True), _w("several times", True), _w("repeatedly", True),
                _w("over and over", mark=r"over and over")]
UNCOUNTED = ("repeatedly", "over and over")      # vague words that fit two as well
COUNT_WORDS = {"twice": 2, "two times": 2, "a couple of times": 2, "three times": 3, "3 times": 3,
               "four times": 4, "five times": 5, "six times": 6}

KINDS = {"place": PLACES, "shape": SHAPES, "verb": VERBS, "dir": DIRECTIONS, "palm": PALMS,
         "count": {str(k): v for k, v in COUNTS.items()}}


@functools.lru_cache(maxsize=None)
def concepts() -> dict[str, list[Word]]:
    """Every concept as ``kind:name`` -> its synonyms (first = the plain word); shared, not to be changed."""
    out = {f"{kind}:{name}": words for kind, table in KINDS.items() for name, words in table.items()}
    out["place:neutral"] = NEUTRAL
    out["count:many"] = VAGUE_COUNTS
    return out


def synonym_ids() -> list[str]:
    """Every synonym as ``kind:name/text``, in table order."""
    return [f"{key}/{w.text}" for key, words in concepts().items() for w in words]


@dataclass(frozen=True)
class TextSplit:
    """What the paraphrase test set keeps from training: a style family and synonyms."""
    held_out_style: str | None = None
    held_out: frozenset[str] = field(default_factory=frozenset)    # synonym ids (kind:name/text)

    @classmethod
    def from_seed(cls, seed: int, style: str = "") -> "TextSplit":
        """The same seed always holds out the same family and synonyms: the style named, or
        one of HOLDABLE_STYLES; and 20% of all synonyms, drawn from the non-core ones of
        concepts that keep at least one other word."""
        if style and style not in STYLES:
            raise ValueError(f"unknown text style {style!r}; choose one of {', '.join(STYLES)}")
        rng = np.random.default_rng([0x7E47, int(seed)])
        held_style = style or HOLDABLE_STYLES[int(rng.integers(len(HOLDABLE_STYLES)))]
        table = concepts()
        total = sum(len(words) for words in table.values())
        pool = [f"{key}/{w.text}" for key, words in table.items() for w in words if not w.core]
        want = int(round(HELD_OUT_SYNONYM_FRACTION * total))
        chosen = [pool[i] for i in rng.permutation(len(pool))[:want]]
        return cls(held_style, frozenset(chosen))

    @property
    def train_styles(self) -> tuple[str, ...]:
        return tuple(s for s in STYLES if s != self.held_out_style)

    def is_held_out(self, key: str, word: Word) -> bool:
        return f"{key}/{word.text}" in self.held_out

    def as_dict(self) -> dict:
        """For dataset.json: the held-out style and synonyms, grouped by concept."""
        groups: dict[str, list[str]] = {}
        for sid in sorted(self.held_out):
            key, _, text = sid.partition("/")
            groups.setdefault(key, []).append(text)
        return {"held_out_style": self.held_out_style, "held_out_synonyms": groups,
                "styles": list(STYLES), "train_styles": list(self.train_styles),
                "synonyms": len(synonym_ids()), "held_out_count": len(self.held_out)}


def word_patterns(split: TextSplit) -> dict[str, re.Pattern]:
    """Held-out synonym id -> the pattern that finds it in a text (for tests and audits)."""
    table = concepts()
    out = {}
    for sid in split.held_out:
        key, _, text = sid.partition("/")
        word = next(w for w in table[key] if w.text == text)
        out[sid] = re.compile(r"(?<![a-z0-9-])" + word.pattern.lower(), re.IGNORECASE)
    return out
