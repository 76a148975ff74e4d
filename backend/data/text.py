"""Phonology + HandMotionScript cues -> free English descriptions (and the ablation texts).

A grammar stands in for the paper's LLM translator. ``scene_for`` reads what a sign does
from its coding and its measured cues: which hand (the one actually used), its shape, the
place it touches or nears, the movement and how many times the cues count it. A style
family then writes the scene as people write prompts:

- imperative: "Bring your right fist to your chin and tap twice."
- third person: "The signer taps their chin twice with their right fist."
- terse: "R fist, chin, tap x2"
- descriptive: "The right hand, shaped as a fist with the thumb up, taps the chin twice."
- first person: "I tap my chin twice with my right fist."
- passive: "The chin is tapped twice with the right fist."

Words come from ``vocab`` (one owner per concept). A ``TextSplit`` keeps one style family
and 20% of the synonyms out of the training texts; ``paraphrase=True`` writes the test
texts that use them. A stated count ("twice", "x3") is always the count the cues measured.
A description never contains the sign's gloss or any of its English translations (the
paper keeps the gloss from the text generator so it cannot write confident nonsense);
other translators can stand behind the same ``Translator`` protocol. Pure Python + numpy.
"""
from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from . import handshapes as H
from . import vocab as V
from .hms import Cues, HandCues
from .lexicon import PHONOLOGY_FIELDS, Entry, Phonology

CONDITIONS = ("gloss", "phonology", "phonology+hms")
PARAPHRASE = "paraphrase"          # the held-out texts of test records (texts[PARAPHRASE])
OPPOSITE = {"up": "down", "down": "up", "forward": "back", "back": "forward", "left": "right", "right": "left"}
# How often each family writes a training text (the held-out one is left out).
STYLE_WEIGHTS = {"imperative": 3, "third_person": 3, "terse": 2, "descriptive": 3, "first_person": 1,
                 "passive": 1}
NAME_RIGHT = 0.7                   # share of a right-hander's texts that say "right" (a left hand is always named)

_FINGER_WORDS = {"E": "extended", "L": "relaxed", "B": "bent flat", "b": "half bent", "C": "curved",
                 "K": "hooked", "H": "bent at the middle joint", "F": "curled in", "O": "rounded onto the thumb",
                 "P": "gathered on the thumb", "T": "folded over the thumb"}
_THUMB_WORDS = {"ext": "the thumb out", "ext-curved": "the thumb curved out", "side": "the thumb along the side",
                "side-out": "the thumb alongside", "across": "the thumb across the palm",
                "over": "the thumb over the fingers", "tuck": "the thumb tucked in", "tuck-open": "the thumb tucked in"}


class Translator(Protocol):
    """Anything that turns phonology + cues into descriptions (templates here; an LLM may follow)."""

    def describe(self, phonology: Phonology, cues: Cues, dominant: str, n: int,
                 rng: np.random.Generator, forbidden: set[str]) -> list[str]: ...


_WORD = re.compile(r"[a-z0-9]+")


def leaks(text: str, forbidden: set[str]) -> list[str]:
    """The forbidden words or phrases (gloss, translations) that occur in ``text`` as words."""
    low = text.lower()
    words = set(_WORD.findall(low))
    found = []
    for word in forbidden:
        w = word.strip().lower()
        if _WORD.fullmatch(w):                 # one plain word: a whole word of the text or not
            if _checkable(w) and w in words:
                found.append(word)
        elif (pattern := _word_pattern(word)) is not None and pattern.search(low):
            found.append(word)
    return found


def _checkable(word: str) -> bool:
    """Single letters are left out (they occur everywhere), but for 'i'."""
    return len(word) > 1 or word == "i"


@functools.lru_cache(maxsize=65536)
def _word_pattern(word: str) -> re.Pattern | None:
    """A word or phrase as a whole-word pattern (None for single letters but 'i')."""
    w = word.strip().lower()
    if not _checkable(w):
        return None
    return re.compile(r"(?<![a-z0-9])" + re.escape(w) + r"(?![a-z0-9])")


# Other words for description words that are also glosses ("hands", "finger", "over"...).
REWORDS = {
    "hands": "palms", "hand": "palm", "fingers": "digits", "finger": "digit", "fingertips": "digit tips",
    "thumb": "first digit", "middle": "third", "index": "pointer", "over": "across", "shoulder": "top of the arm",
    "shoulders": "tops of the arms", "palm": "inner hand", "palms": "inner hands", "chest": "upper torso",
    "up": "upward", "down": "downward", "back": "backward", "open": "unfolded", "close": "fold",
    "closes": "folds", "opens": "unfolds", "touch": "contact", "touches": "contacts", "twice": "two times",
    "left": "leftward", "right": "rightward", "circle": "ring", "forward": "outward", "side": "flank",
    "across": "onto", "after": "following", "near": "close to", "then": "next", "both": "the two",
}


def reword(text: str, words: list[str]) -> str:
    """Replace whole-word occurrences of ``words`` by their ``REWORDS`` alternatives."""
    for w in words:
        alt = REWORDS.get(w.lower())
        if alt:
            text = re.sub(r"(?<![A-Za-z0-9])" + re.escape(w) + r"(?![A-Za-z0-9])", alt, text, flags=re.IGNORECASE)
    return text


def forbidden_words(entry: Entry) -> set[str]:
    """Everything an entry is called: gloss, lemma, English and SignBank translations."""
    return {n for n in entry.names if n}


def plain_handshape(name: str) -> str:
    """A handshape in finger terms, never by letter or name: 'index and middle extended...'."""
    hs = H.resolve(name)
    groups: dict[str, list[str]] = {}
    for finger in ("index", "middle", "ring", "pinky"):
        groups.setdefault(_FINGER_WORDS[hs.fingers[finger]], []).append(finger)
    parts = []
    for word, fingers in groups.items():
        names = [("little" if f == "pinky" else f) for f in fingers]
        if len(names) == 4:
            subject = "all fingers"
        elif len(names) == 1:
            subject = f"the {names[0]} finger"
        else:
            subject = "the " + ", ".join(names[:-1]) + " and " + names[-1] + " fingers"
        parts.append(f"{subject} {word}")
    spread = ", spread apart" if hs.spread and any(hs.fingers[f] in "ECLb" for f in hs.fingers) else ""
    thumb = _THUMB_WORDS.get(hs.thumb.partition(":")[0], "the thumb touching a fingertip")
    return f"a hand with {', '.join(parts)}{spread}, and {thumb}"


def phonology_text(ph: Phonology) -> str:
    """The ``phonology`` condition: the raw ASL-LEX attributes as text."""
    return "; ".join(f"{f}: {v}" for f, v in ph.as_dict().items() if f in PHONOLOGY_FIELDS)


# ------------------------------------------------------------------------------ the scene

_ON_HAND = {"palm", "back of the hand", "fingers", "wrist", "forearm", "upper arm", "elbow"}
SIDED_PLACES = {"temple", "eye", "cheek", "ear", "shoulder", "hip"}
CONTACT_ACTIONS = frozenset({"tap", "touch", "brush", "rub"})   # the actions a scene only has when it touches
# a stroke one way, by its direction (a sideways one is "side")
STROKE_ACTIONS = {"up": "rise", "down": "drop", "forward": "push", "back": "pull"}
# the strokes that travel, which the text says curve when the cues measure an arc (a wave's
# swing, a circle and a tap have their own shapes)
ARCING = frozenset({"rise", "drop", "push", "pull", "side", "back_forth", "path", "apart", "together"})


@dataclass(frozen=True)
class Scene:
    """What one sign does, as the grammar names it. ``count`` is a repetition the cues
    measured (touches of the place, circles, strokes one way, claps); 1 is "once"."""
    side: str                      # the hand that signs: "right" or "left"
    hands: str                     # "one", "both" (symmetric) or "base" (the other hand holds still)
    shape: str                     # ASL-LEX handshape of the signing hand ("" when not known)
    base_shape: str                # the other hand's, for "base"
    place: str | None              # a vocab place ("chin", "palm"...), None in neutral space
    place_side: str                # the place's own side ("left cheek"), "" for central places
    contact: bool                  # the place is touched, not only neared
    action: str                    # a vocab verb concept (tap, circle, rise, apart, hold...)
    dirs: tuple[str, ...] = ()     # directions, for side / back_forth / path
    count: int = 1
    then: str = ""                 # a movement after the contact ("touch, then drop")
    then_dirs: tuple[str, ...] = ()
    then_count: int = 1
    palm: tuple[str, ...] = ()
    fingers: str = ""              # "open" or "close" when the fingers change
    repeated: bool = False         # the lexicon codes the movement as repeated
    arrive: bool = False           # a stroke that ends at the place ("raise it up to the forehead"):
                                   # a prompt's, never the grammar's (a sign's stroke leaves its place)
    arc: bool = False              # the travelling stroke (``ARCING``) curves: the cues measured the palm's
                                   # path an arc, or a prompt says so ("in an arc")
    point: bool = False            # a hand said to point ("point forward"): a prompt's, never the grammar's
    tempo: float = 1.0             # > 1 slower ("slowly"): a prompt's, never the grammar's
    size: float = 1.0              # > 1 wider strokes ("a big wave"): a prompt's, never the grammar's
    high: bool = False             # made above the head ("wave over your head"): a prompt's, never the grammar's
    start: str | None = None       # the place a stroke to ``place`` leaves from ("from the chin down to
                                   # the chest"): a prompt's, never the grammar's

    @property
    def other(self) -> str:
        return "left" if self.side == "right" else "right"

    @property
    def counts(self) -> set[int]:
        return {c for c in (self.count, self.then_count) if c > 1}


def _known(shape: str) -> bool:
    return shape in H.HANDSHAPES or shape in H.ALIASES


def _split_label(label: str) -> tuple[str, str]:
    side, _, part = label.partition(" ")
    return (side, part) if side in ("left", "right") else ("", label)


def touch_count(hand: HandCues, label: str) -> int:
    """How many separate touches of one place the cues show."""
    return sum(1 for t in hand.touch if t == f"touch {label}")


def scene_for(ph: Phonology, cues: Cues, dominant: str) -> Scene:
    """The scene of a sign from its coding (hands, shapes) and its cues (place, movement, counts)."""
    other = "left" if dominant == "right" else "right"
    hand = cues.hands.get(dominant) or HandCues()
    st = ph.sign_type
    hands = "both" if st.startswith("Symmetr") else "base" if st.startswith(("Asymmetrical", "Dominance")) else "one"
    shape = ph.handshape if _known(ph.handshape) else ""
    nd = ph.nondominant_handshape
    base_shape = (nd if _known(nd) else shape) if hands == "base" else ""
    # the place: the first thing touched, else the first neared; a one-handed sign never
    # "touches" the resting other hand, and two hands touching each other is their own action
    label, contact = None, False
    for want in ("touch ", "near "):
        for t in hand.touch:
            if not t.startswith(want):
                continue
            side, part = _split_label(t[len(want):])
            on_other = part in _ON_HAND and side == other
            if part in _ON_HAND and (hands != "base" or not on_other):
                continue
            label, contact = t[len(want):], want == "touch "
            break
        if label:
            break
    place, place_side = None, ""
    if label:
        place_side, place = _split_label(label)
        if place not in V.PLACES:
            place, place_side = None, ""
        elif place not in SIDED_PLACES and place not in _ON_HAND:
            place_side = ""
    if ph.minor_location == "Hips" and place in (None, "stomach"):
        place, place_side = "hip", dominant
    moves = list(hand.moves)
    circles = moves.count("circle")
    lin = [m for m in moves if m != "circle"]
    claps = cues.between.count("touch") if hands == "both" else 0
    action, dirs, count = "", (), 1
    if hands == "both" and claps >= 2 and H.resolve(shape or "lax").name in ("flat_b", "open_b", "closed_b", "5",
                                                                               "curved_b", "flatspread_5"):
        action, count = "clap", claps
    elif hands == "both" and claps:
        action, count = "together", claps
    elif hands == "both" and lin and lin[0] in ("left", "right") and len(set(lin)) == 1 \
            and [m for m in cues.hands[other].moves if m != "circle"][:1] == [OPPOSITE[lin[0]]]:
        # mirrored sideways strokes: away from the midline is apart (the right hand going right)
        action, count = ("apart" if lin[0] == dominant else "together"), len(lin)
    then, then_dirs, then_count = "", (), 1
    if not action and place and contact:
        touches = touch_count(hand, label)
        if touches >= 2:
            action, count = "tap", touches
        elif circles:
            action, count = "rub", circles
        elif len(lin) == 1 and lin[0] in ("left", "right", "down", "up"):
            action, dirs = "brush", (lin[0],)
        else:
            action = "touch"
        if action in ("tap", "touch") and (lin or circles):
            then, then_dirs, then_count = _movement(lin, circles, shape, moves)
    if not action:
        action, dirs, count = _movement(lin, circles, shape, moves)
        if action == "hold" and len(hand.fingers) >= 3:
            action = "wiggle"
    if action in ("brush", "rub", "tap", "touch") and not place:
        action = "hold"
    fingers = ""
    if 2 <= len(hand.fingers) and action != "wiggle":
        fingers = "close" if hand.fingers[-1] == "closed" else "open"
    elif ph.flexion_change == "1" and shape and action != "wiggle":
        # a change the cues' open/closed states do not see (two fingers bent flat that
        # fold into a fist read "closed" before and after) is still the coded change, and the
        # measured handshape over the sign is the changed one: say it
        fingers = H.change_direction(shape)
    arc = hand.path == "arc" and (action in ARCING or then in ARCING)
    return Scene(dominant, hands, shape, base_shape, place, place_side, contact, action, tuple(dirs), count,
                 then, tuple(then_dirs), then_count, tuple(hand.palm[:3]), fingers, ph.repeated, arc=arc)


def _movement(lin: list[str], circles: int, shape: str, moves: list[str]) -> tuple[str, tuple, int]:
    """(action, directions, count) of the strokes: circles, a wave, strokes one way and back,
    one straight stroke (repeated), or a path."""
    if circles and not lin:
        return "circle", (), circles
    if not lin:
        return "hold", (), 1
    first = lin[0]
    goes = lin.count(first)
    back_forth = len(lin) >= 2 and all(m in (first, OPPOSITE[first]) for m in lin) and OPPOSITE[first] in lin
    open_hand = V.HANDSHAPE_CONCEPT.get(shape) in ("flat", "spread", "claw", "cupped")
    if back_forth and first in ("left", "right") and open_hand:
        return "wave", (), goes
    if back_forth:
        return "back_forth", (first,), goes
    if len(set(lin)) == 1:
        return STROKE_ACTIONS.get(first, "side"), (first,), goes
    steps = [m for k, m in enumerate(lin) if k == 0 or m != lin[k - 1]]     # "down, then in", not "in, then in"
    return "path", tuple(steps[:3]), 1


# ------------------------------------------------------------------------------ English

_IRREGULAR = {  # base: (3rd person, past participle, -ing)
    "go": ("goes", "gone", "going"), "rise": ("rises", "risen", "rising"), "make": ("makes", "made", "making"),
    "hold": ("holds", "held", "holding"), "bring": ("brings", "brought", "bringing"),
    "swing": ("swings", "swung", "swinging"), "draw": ("draws", "drawn", "drawing"),
    "strike": ("strikes", "struck", "striking"), "shake": ("shakes", "shaken", "shaking"),
    "sink": ("sinks", "sunk", "sinking"), "come": ("comes", "come", "coming"), "meet": ("meets", "met", "meeting"),
    "send": ("sends", "sent", "sending"), "take": ("takes", "taken", "taking"), "let": ("lets", "let", "letting"),
    "keep": ("keeps", "kept", "keeping"), "slide": ("slides", "slid", "sliding"),
    "thrust": ("thrusts", "thrust", "thrusting"), "put": ("puts", "put", "putting"),
    "sweep": ("sweeps", "swept", "sweeping"), "lay": ("lays", "laid", "laying"), "hit": ("hits", "hit", "hitting"),
    "spread": ("spreads", "spread", "spreading"), "spin": ("spins", "spun", "spinning"),
    "fall": ("falls", "fallen", "falling"), "converge": ("converges", "converged", "converging"),
    "give": ("gives", "given", "giving"),
}
_DOUBLE = {"tap", "pat", "rap", "dab", "rub", "drop", "slap", "clap", "stop", "shut", "wag"}


def _inflect(phrase: str, form: int) -> str:
    """The phrase with its first word as 3rd person (1), past participle (2) or -ing (3)."""
    verb, sep, rest = phrase.partition(" ")
    if verb in _IRREGULAR:
        word = _IRREGULAR[verb][form - 1]
    elif form == 1:
        word = verb + "es" if verb.endswith(("s", "sh", "ch", "x", "z")) else verb + "s"
    else:
        stem = verb + verb[-1] if verb in _DOUBLE else verb
        if form == 2:
            word = stem + "d" if verb.endswith("e") else stem + "ed"
        else:
            word = stem[:-1] + "ing" if verb.endswith("e") and not verb.endswith("ee") else stem + "ing"
    return word + sep + rest


def inflections(verb: str) -> tuple[str, str, str, str]:
    """A one-word verb as written: base, 3rd person, past participle and -ing ("tap", "taps",
    "tapped", "tapping")."""
    return (verb, *(_inflect(verb, form) for form in (1, 2, 3)))


def _article(phrase: str) -> str:
    first = phrase.split(" ")[0]
    vowel = phrase[0].lower() in "aeio" or (len(first.rstrip(",")) == 1 and first[0] in "FHLMNRSX8") \
        or first in ("OK", "O")
    if phrase.startswith(("one", "uni")):
        vowel = False
    return ("an " if vowel else "a ") + phrase


def _plural(noun: str) -> str:
    if noun.startswith("hand "):             # "hand held flat" -> "hands held flat"
        return "hands" + noun[4:]
    for one, many in (("finger", "fingers"), ("fist", "fists"), ("hand", "hands"), ("claw", "claws"),
                      ("pinky", "pinkies"), ("forefinger", "forefingers")):
        if noun.endswith(one):
            return noun[: -len(one)] + many
    return noun


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip().rstrip(",;")
    text = re.sub(r"\s+([,.;])", r"\1", text)
    text = re.sub(r"([,;])(\s*[,;])+", r"\1", text)
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


@functools.lru_cache(maxsize=8)
def _word_lists(split: V.TextSplit) -> dict[str, tuple[list[V.Word], list[V.Word]]]:
    """Per concept, its (training, held-out) synonyms under ``split``."""
    return {key: ([w for w in words if not split.is_held_out(key, w)], [w for w in words if split.is_held_out(key, w)])
            for key, words in V.concepts().items()}


class _Writer:
    """Writes one scene in one style. Words come from the vocabulary through ``word``, which
    keeps held-out synonyms out of training texts and prefers them in paraphrases."""

    def __init__(self, scene: Scene, rng: np.random.Generator, split: V.TextSplit, paraphrase: bool,
                 named: bool, plain: bool, idle: bool = True, person: tuple[str, str] | None = None):
        self.s, self.rng, self.split, self.paraphrase = scene, rng, split, paraphrase
        self.named, self.plain, self.idle = named, plain, idle
        self.person = person        # third person: (subject, determiner) every part of a text keeps
        self.lists = _word_lists(split)

    # -- choices ---------------------------------------------------------------
    def pick(self, options):
        return options[int(self.rng.random() * len(options))]    # random() is ~10x cheaper than integers()

    def word(self, key: str, usable=None) -> V.Word:
        train, held = self.lists[key]
        if usable is not None:
            train, held = [w for w in train if usable(w)], [w for w in held if usable(w)]
        if self.paraphrase and held and self.rng.random() < 0.75:
            return self.pick(held)
        if self.paraphrase:
            return self.pick(train + held)
        return self.pick(train or self.lists[key][0])   # a training text never takes a held-out word

    def text(self, key: str) -> str:
        return self.word(key).text

    def verb(self, concept: str, frame: str, curved: bool = False) -> str:
        """A verb phrase of ``frame``; a ``curved`` one never "points straight ahead"."""
        def fits(phrase: str) -> bool:
            return not (curved and "straight" in phrase)
        w = self.word(f"verb:{concept}", lambda w: any(fits(f) for f in getattr(w, frame)))
        return self.pick([f for f in getattr(w, frame) if fits(f)])

    # -- noun phrases ----------------------------------------------------------
    def concept(self) -> str | None:
        return V.HANDSHAPE_CONCEPT.get(self.s.shape)

    def shape_word(self, shape: str | None = None) -> tuple[str, str]:
        """(a name, its kind): 'noun' reads after a side ('fist', 'flat hand'), 'shape' after
        'a hand in' ('V'), 'described' is a description with its article ('a bent V, ...')."""
        shape = self.s.shape if shape is None else shape
        if not shape:
            return "relaxed hand", "noun"
        concept = V.HANDSHAPE_CONCEPT.get(shape)
        if self.plain:
            return plain_handshape(shape), "described"
        if concept is None:     # a shape with no everyday name: its description, or in finger terms
            return (H.resolve(shape).description if self.rng.random() < 0.7 else plain_handshape(shape)), "described"
        name = self.text(f"shape:{concept}")
        return name, "noun" if name.split(" ")[-1] in V.HAND_NOUNS or name.startswith("hand ") else "shape"

    def shaped(self, shape: str | None = None) -> str:
        """The shape with an article: 'a fist', 'a V', 'a hand with ...'."""
        name, kind = self.shape_word(shape)
        return name if kind == "described" else _article(name)

    def hand(self, det: str, terse: bool = False) -> str:
        """The signing hand(s) with its shape: 'your right fist', 'the left hand in a V'."""
        s = self.s
        name, kind = self.shape_word()
        if s.hands == "both":
            if kind == "noun":
                return self.pick([f"both {_plural(name)}", f"two {_plural(name)}"])
            shaped = name if kind == "described" else _article(name)
            if terse:
                return f"both hands, {name}"
            if kind == "described" and " hand" in name:
                return f"both hands, each shaped as {shaped},"
            return self.pick([f"both hands in {shaped}", f"both hands, each shaped as {shaped},",
                              f"both hands making {shaped}"])
        det = f"{det} " if det else ""
        side = ""
        if self.named:
            side = (s.side[0].upper() if terse and self.rng.random() < 0.4 else s.side) + " "
        if kind == "noun":
            return f"{det}{side}{name}"
        if terse:
            return f"{side}hand, {name[2:] if name.startswith('a ') else name[3:] if name.startswith('an ') else name}"
        shaped = name if kind == "described" else _article(name)
        if kind == "described" and " hand" in name:     # "an open hand with ...": the hand is shaped as one
            return f"{det}{side}hand, shaped as {shaped},"
        return self.pick([f"{det}{side}hand in {shaped}", f"{det}{side}hand, shaped as {shaped},",
                          f"{det}{side}hand, formed into {shaped},", f"{det}{side}hand making {shaped}"])

    def bare_hand(self, det: str) -> str:
        """The signing hand without its shape: 'your right hand', 'both hands'."""
        if self.s.hands == "both":
            return "both hands"
        side = f"{self.s.side} " if self.named else ""
        return f"{det + ' ' if det else ''}{side}hand"

    def base_hand(self, det: str) -> str:
        name, kind = self.shape_word(self.s.base_shape)
        det = f"{det} " if det else ""
        return f"{det}{self.s.other} {name}" if kind == "noun" else f"{det}{self.s.other} hand"

    def place(self, det: str) -> str:
        """The place with a determiner: 'your chin', 'the side of the face', 'your left palm'."""
        s = self.s
        if s.place is None:
            return self.neutral(det)
        name = self.text(f"place:{s.place}")
        owner = det or "the"
        if s.hands == "both" and s.place in SIDED_PLACES:      # each hand at its own: "the cheeks", no side
            name, side = (name + "s" if " " not in name else name), ""
        else:
            side = s.other if s.place in _ON_HAND else \
                (s.place_side if s.place_side and self.rng.random() < 0.5 else "")
        side = f"{side} " if side else ""
        if " of the " in name:
            head, _, tail = name.partition(" of the ")
            return f"the {head} of {owner} {side}{tail}"
        return f"{owner} {side}{name}"

    def neutral(self, det: str) -> str:
        """The space in front of the body: 'in front of your chest', or now and then nothing, as
        people leave it out ("clap twice", "give a thumbs up")."""
        if self.rng.random() < UNSAID_NEUTRAL:
            return ""
        phrase = self.text("place:neutral")
        if det and det != "the":
            phrase = re.sub(r"\bthe (chest|body|torso)\b", rf"{det} \1", phrase)
        return phrase

    def near(self, det: str) -> str:
        """Where the hand is when it does not touch: 'near your chin', 'in front of your chest'."""
        if self.s.place is None:
            return self.neutral(det)
        return self.pick(["near", "close to", "by", "beside"]) + " " + self.place(det)

    def count(self, n: int, terse: bool = False) -> str:
        """How many times, as the cues counted it; vague words ("a few times") only for three
        or more, or for two where the lexicon also codes the movement as repeated."""
        if n < 2:
            return ""
        if terse and self.rng.random() < 0.6:
            return self.pick([f"x{n}", f"{n}x"])
        if n == 2 and self.s.repeated and self.rng.random() < 0.2:
            return self.word("count:many", lambda w: w.text in V.UNCOUNTED).text
        return self.text(f"count:{self.pick(([str(n)] if n in V.COUNTS else []) + (['many'] if n >= 3 else []))}")

    def path(self, dirs, back_and_forth: bool = False, curved: bool = False) -> str:
        """The directions, one after another; a ``curved`` stroke never goes "straight ahead"."""
        if back_and_forth and dirs[0] == "back":      # not "move back and back"
            return self.word("dir:back", lambda w: w.text != "back").text
        return ", then ".join(self.word(f"dir:{d}", lambda w: not (curved and "straight" in w.text)).text
                              for d in dirs)

    def palm_labels(self) -> list[str]:
        """The palm cues; for both hands, mirrored, a sideways palm faces the other one or away from it."""
        if self.s.hands != "both":
            return list(self.s.palm)
        return [("each other" if p == self.s.other else "away from each other") if p in ("left", "right") else p
                for p in self.s.palm]

    def palm(self, plural: bool = False) -> str:
        if not self.s.palm:
            return ""
        word = "palms" if plural else "palm"
        labels = self.palm_labels()
        first = self.text(f"palm:{labels[0]}")
        if len(labels) == 1:
            if labels[0] in ("each other", "away from each other"):
                return self.pick([f"{word} facing {first}", f"with the {word} facing {first}"])
            return self.pick([f"{word} facing {first}", f"{word} {first}", f"with the {word} facing {first}",
                              f"the {word} turned {first}"])
        if labels[0] == labels[-1]:
            return f"the {word} turning from facing {first} and back"
        last = self.text(f"palm:{labels[-1]}")
        return self.pick([f"the {word} turning from facing {first} to facing {last}",
                          f"with the {word} turning from {first} to {last}"])

    # -- verbs -----------------------------------------------------------------
    def concept_for(self, action: str) -> str:
        """The verb concept that says the action for this hand (a fist may knock, a flat hand pat)."""
        if action == "tap":
            return self.pick(["tap"] + (["knock"] if self.concept() in V.KNOCKERS else [])
                             + (["pat"] if self.concept() in V.PATTERS else []))
        if action == "touch" and self.concept() == "flat" and self.s.place in ("forehead", "temple") \
                and self.s.hands == "one":
            return self.pick(["touch", "salute"])
        return action

    def action(self, frame: str, action: str, dirs, x: str = "", p: str = "", count: str = "") -> str:
        """One verb phrase of ``frame`` (hand / agent / bare), its count where it reads well."""
        curved = self.curved(action)
        phrase = self.verb(self.concept_for(action), frame, curved)
        d = self.path(dirs, action == "back_forth", curved) if dirs else ""
        phrase = phrase.replace("{x}", x).replace("{p}", p).replace("{d}", d)
        return f"{phrase}{self.arc(action)} {count}".strip()

    def curved(self, action: str) -> bool:
        """Whether ``action`` is the travelling stroke the scene says curves."""
        return self.s.arc and action in ARCING

    def arc(self, action: str) -> str:
        """' in an arc' after a travelling stroke the scene says curves, else ''."""
        return " " + self.pick(V.ARCS).text if self.curved(action) else ""

    def passive(self, action: str, dirs, x: str, p: str, count: str) -> tuple[str, str] | None:
        """(subject, 'is/are <participle> ...') from an agent frame whose object follows its verb."""
        for _ in range(6):
            word = self.word(f"verb:{self.concept_for(action)}", lambda v: bool(v.agent))
            frames = [f for f in word.agent if f.split(" ")[1] in ("{x}", "{p}") and not f.startswith("let ")
                      and not (self.curved(action) and "straight" in f)]
            if frames:
                break
        else:
            return None
        frame = self.pick(frames)
        verb, obj, rest = (frame.split(" ", 2) + [""])[:3]
        d = self.path(dirs, action == "back_forth", self.curved(action)) if dirs else ""
        rest = rest.replace("{x}", x).replace("{p}", p).replace("{d}", d)
        subject = p if obj == "{p}" else x
        plural = self.s.hands == "both" and obj == "{x}" or obj == "{p}" and _plural_place(p)
        return subject, f"{'are' if plural else 'is'} {_inflect(verb, 2)} {rest}{self.arc(action)} {count}"


def _plural_place(place: str) -> bool:
    """'the cheeks', 'the tips of the fingers' take 'are'; 'the biceps' and 'the side of the face' do not."""
    words = place.split(" ")
    return (words[-1].endswith("s") and words[-1] != "biceps" and " of " not in place) or words[1:2] == ["tips"]


# ------------------------------------------------------------------------------ the styles

def _then(w: _Writer, frame: str, it: str, form: int = 0) -> str:
    s = w.s
    if not s.then:
        return ""
    phrase = w.action(frame, s.then, s.then_dirs, it, "", w.count(s.then_count))
    return w.pick([", then ", " and then ", ", and "]) + (_inflect(phrase, form) if form else phrase)


def _fingers(w: _Writer, det: str, agent: bool) -> str:
    if not w.s.fingers:
        return ""
    closing = w.s.fingers == "close"
    if agent:
        thing = "both hands" if w.s.hands == "both" else f"{det} hand"
        return w.pick([f", then {'close' if closing else 'open'} {thing}",
                       f" as {det} fingers {'close' if closing else 'open'}",
                       f", then {'curl' if closing else 'spread'} {det} fingers {'in' if closing else 'open'}"])
    return w.pick([f", the fingers {'closing' if closing else 'opening'}",
                   f", while the {'hand closes' if closing else 'hand opens'}"])


def _base(w: _Writer, det: str, style: str) -> tuple[str, str]:
    """(a clause, a sentence) about the still other hand; at most one is not empty."""
    s = w.s
    if s.hands != "base" or (s.place in _ON_HAND and w.rng.random() < 0.5):
        return "", ""
    base = w.base_hand(det)
    if style == "imperative":
        return w.pick([("", f" Keep {base} still."), ("", f" Hold {base} still as a base."),
                       (f", with {base} held still", "")])
    if style == "first_person":
        return w.pick([("", f" My {base.split(' ', 1)[1]} stays still."), (f", holding {base} still", "")])
    return w.pick([("", f" {base[0].upper() + base[1:]} stays still."),
                   ("", f" {base[0].upper() + base[1:]} is a still base."), (f", {base} held still", "")])


def _finish(w: _Writer, text: str, det: str, style: str, palm_p: float = 0.3) -> str:
    if w.rng.random() < palm_p and (palm := w.palm(w.s.hands == "both")):
        text += ", " + palm
    clause, sentence = _base(w, det, style)
    return _sentence(text + clause) + sentence + _idle(w, style)


IDLE_P = 0.15       # share of one-handed texts that say the other hand stays down
UNSAID_NEUTRAL = 0.3   # share of the space in front of the body left unsaid


def _idle(w: _Writer, style: str) -> str:
    """Now and then, a sentence that the other hand of a one-handed sign stays down."""
    if w.s.hands != "one" or not w.idle or w.rng.random() >= IDLE_P:
        return ""
    if style == "imperative":
        return w.pick([" Keep the other hand down.", " Leave your other hand at your side."])
    if style == "first_person":
        return w.pick([" My other hand stays down.", " I keep my other hand at my side."])
    return w.pick([" The other hand stays down.", " The other hand rests at the side."])


# shapes one "makes" with a hand ("make a fist with your right hand")
_MAKEABLE = {"fist", "thumb_fist", "claw", "pinch", "flat_o", "o", "ok", "c", "v", "bent_v", "l", "y"}
_FACE = {"chin", "mouth", "forehead", "temple", "cheek", "nose", "eye", "ear"}


def imperative(w: _Writer, det: str = "your", subject: str = "") -> str:
    """Bring your right fist to your chin and tap twice. (``subject`` 'I' makes it first person.)"""
    s = w.s
    hand = w.hand(det)
    count = w.count(s.count)
    lead = f"{subject} " if subject else ""
    it = "them" if s.hands == "both" else "it"
    if s.action in CONTACT_ACTIONS:
        place = w.place(det)
        up = "up " if s.place in _FACE and w.rng.random() < 0.4 else ""
        forms = [
            lambda: f"{lead}{w.pick(['bring', 'move', 'put', 'raise'])} {hand} {up}to {place} and "
                    f"{w.action('bare', s.action, s.dirs, count=count)}",
            lambda: f"{lead}{w.action('agent', s.action, s.dirs, hand, place, count)}",
            lambda: (f"{subject} use {hand} to " if subject else f"with {hand}, ")
                    + w.action("hand", s.action, s.dirs, p=place, count=count),
        ]
        if s.hands == "one" and w.concept() in _MAKEABLE:
            forms.append(lambda: f"{lead}make {w.shaped()} with {w.bare_hand(det)} and "
                                 f"{w.action('hand', s.action, s.dirs, p=place, count=count)}")
        text = w.pick(forms)() + _then(w, "agent", it)
    elif s.action == "hold":
        text = f"{lead}{w.pick(['hold', 'keep'])} {hand} still {w.near(det)}"
    else:
        forms = [
            lambda: f"{lead}{w.pick(['hold', 'raise', 'bring'] if s.place else ['hold', 'raise'])} {hand} "
                    f"{w.near(det)} and "
                    f"{w.action('agent', s.action, s.dirs, it, count=count)}",
            lambda: f"{lead}{w.action('agent', s.action, s.dirs, hand, count=count)} {w.near(det)}",
            lambda: f"{lead}{w.action('agent', s.action, s.dirs, hand, count=count)}",
        ]
        text = w.pick(forms)()
    text += _fingers(w, det, True)
    return _finish(w, text, det, "first_person" if subject else "imperative")


def first_person(w: _Writer) -> str:
    """I bring my right fist to my chin and tap twice."""
    return imperative(w, det="my", subject="I")


PERSONS = (("the signer", "their"), ("the signer", "the"), ("the person", "their"), ("she", "her"), ("he", "his"))


def third_person(w: _Writer) -> str:
    """The signer taps their chin twice with their right fist."""
    s = w.s
    subject, det = w.person or w.pick(PERSONS)
    hand = w.hand(det)
    count = w.count(s.count)
    it = "them" if s.hands == "both" else "it"
    if s.action in CONTACT_ACTIONS:
        place = w.place(det)
        forms = [
            lambda: f"{subject} {_inflect(w.action('agent', s.action, s.dirs, hand, place, count), 1)}",
            lambda: f"{subject} {w.pick(['brings', 'moves', 'raises', 'puts'])} {hand} to {place} and "
                    f"{_inflect(w.action('bare', s.action, s.dirs, count=count), 1)}",
            lambda: f"using {hand}, {subject} {_inflect(w.action('hand', s.action, s.dirs, p=place, count=count), 1)}",
        ]
        if s.hands == "one" and w.concept() in _MAKEABLE:
            forms.append(lambda: f"{subject} makes {w.shaped()} with {w.bare_hand(det)} and "
                                 f"{_inflect(w.action('hand', s.action, s.dirs, p=place, count=count), 1)}")
        text = w.pick(forms)() + _then(w, "agent", it, 1)
    elif s.action == "hold":
        text = f"{subject} holds {hand} still {w.near(det)}"
    else:
        forms = [
            lambda: f"{subject} {_inflect(w.action('agent', s.action, s.dirs, hand, count=count), 1)} {w.near(det)}",
            lambda: f"{subject} holds {hand} {w.near(det)} and "
                    f"{_inflect(w.action('agent', s.action, s.dirs, it, count=count), 1)}",
        ]
        text = w.pick(forms)()
    return _finish(w, text + _fingers(w, det, False), det, "third_person")


def terse(w: _Writer) -> str:
    """R fist, chin, tap x2"""
    s = w.s
    hand = w.hand("", terse=True).rstrip(",")
    count = w.count(s.count, terse=True)
    if s.action in CONTACT_ACTIONS:
        head = w.word(f"verb:{w.concept_for(s.action)}", lambda v: bool(v.hand)).text
        where = _bare(w.place(""))
    else:
        curved = w.curved(s.action)
        head = w.verb(w.concept_for(s.action), "hand", curved).replace(
            "{d}", w.path(s.dirs, s.action == "back_forth", curved)) + w.arc(s.action)
        where = _bare(w.near(""))
    parts = w.pick([[hand, where, f"{head} {count}"], [hand, f"{head} {count}", where],
                    [f"{head} {count}", where, hand]])
    if s.then:
        curved = w.curved(s.then)
        then = w.verb(s.then, "hand", curved).replace("{d}", w.path(s.then_dirs, s.then == "back_forth", curved))
        parts.append("then " + then.replace(" {p}", "") + w.arc(s.then) + " " + w.count(s.then_count, terse=True))
    if w.rng.random() < 0.35 and s.palm:
        label = w.palm_labels()[0]
        parts.append(("palms " if s.hands == "both" else "palm ") + ("facing " if "each other" in label else "")
                     + w.text(f"palm:{label}"))
    if s.fingers:   # a change, never "open hand": that is the spread shape's own name
        parts.append(w.pick(["closing", "hand closes", "fingers closing"] if s.fingers == "close"
                            else ["opening", "hand opens", "fingers opening"]))
    if s.hands == "base" and s.place not in _ON_HAND:
        parts.append(f"{s.other} hand still")
    if s.hands == "one" and w.rng.random() < IDLE_P:
        parts.append(w.pick(["other hand down", "other hand at rest"]))
    text = w.pick([", ", "; ", ", "]).join(re.sub(r"\s+", " ", p).strip(" ,") for p in parts if p.strip())
    return text if w.rng.random() < 0.6 else text[0].upper() + text[1:]


def _bare(phrase: str) -> str:
    """A place as terse notes write it: 'the chin' -> 'chin', 'near the chin' -> 'near chin'."""
    return re.sub(r"^(near |close to |by |beside )?the ", r"\1", phrase)


def descriptive(w: _Writer) -> str:
    """The right hand, shaped as a fist with the thumb up, taps the chin twice."""
    s = w.s
    both = s.hands == "both"
    side = f"{s.side} " if w.named else ""
    if both:
        subject = w.pick(["both hands", "the two hands", "both of the signer's hands", "the hands"])
    else:
        subject = w.pick([f"the {side}hand", f"the signer's {side}hand",
                          f"the dominant {side}hand" if w.named else "the dominant hand"])
    shaped = w.shaped()
    name, kind = w.shape_word()
    openings = [f"{subject}, shaped as {shaped},", f"with {shaped}, {subject}", f"holding {shaped}, {subject}",
                f"using {shaped}, {subject}"] + ([f"{subject}, in {shaped},"] if kind != "described" else [])
    if kind == "noun" and not both and w.concept():
        openings.append(f"the {side}{name}")
    form = 0 if both else 1
    count = w.count(s.count)
    if s.action in CONTACT_ACTIONS:
        main = _inflect(w.action("hand", s.action, s.dirs, p=w.place("the"), count=count), form) if form else \
            w.action("hand", s.action, s.dirs, p=w.place("the"), count=count)
    elif s.action == "hold":
        main = (w.pick(["stay still", "hold still"]) if both else w.pick(["stays still", "is held still"])) \
            + " " + w.near("the")
    else:
        main = w.action("hand", s.action, s.dirs, count=count)
        main = _inflect(main, form) if form else main
        if w.rng.random() < 0.5:
            main += " " + w.near("the")
    text = f"{w.pick(openings)} {main}" + _then(w, "hand", "", form)
    if (palm := w.palm(both)) and w.rng.random() < 0.6:
        text += ", " + (palm if palm.startswith(("with", "the")) else "with the " + palm)
    text = _sentence(text + _fingers(w, "the", False)) + _idle(w, "descriptive")
    if s.hands == "base" and (s.place not in _ON_HAND or w.rng.random() < 0.5):
        base = w.shaped(s.base_shape)
        text += w.pick([f" The {s.other} hand stays still as {base}.",
                        f" Meanwhile the {s.other} hand holds {base} as a base.",
                        f" The {s.other} hand is a passive base shaped as {base}.",
                        f" The non-dominant {s.other} hand waits as {base}."])
    return text


def passive(w: _Writer) -> str:
    """The chin is tapped twice with the right fist."""
    s = w.s
    hand = w.hand("the")
    count = w.count(s.count)
    place = w.place("the") if s.action in CONTACT_ACTIONS else ""
    be = "are" if s.hands == "both" else "is"
    said = w.passive(s.action, s.dirs, hand, place, count)
    if said is None:            # no verb of the action takes the hand as its object ("wiggle its fingers")
        doing = _inflect(w.action("hand", s.action, s.dirs, p=place, count=count), 3)
        return _finish(w, f"{hand} {be} held {w.near('the')}, {doing}" + _fingers(w, "the", False), "the", "passive")
    subject, rest = said
    head = w.word(f"verb:{w.concept_for(s.action)}").text if s.action in CONTACT_ACTIONS else ""
    if head and " " not in head and w.rng.random() < 0.4:
        text = f"{hand} {be} brought to {place} and {_inflect(head, 2)} there {count}"
    else:
        text = f"{subject} {rest}" + ("" if s.action in CONTACT_ACTIONS else " " + w.near("the"))
    if s.then and (then := w.passive(s.then, s.then_dirs, "", "", w.count(s.then_count))):
        text += w.pick([", then ", " and then "]) + then[1].split(" ", 1)[1]
    return _finish(w, text + _fingers(w, "the", False), "the", "passive")


WRITERS = {"imperative": imperative, "third_person": third_person, "terse": terse, "descriptive": descriptive,
           "first_person": first_person, "passive": passive}


class TemplateTranslator:
    """The grammar: a scene written in a style family, with varied words and clause orders.
    ``split`` says what training texts must not use (nothing by default)."""

    def __init__(self, split: V.TextSplit | None = None):
        self.split = split or V.TextSplit()
        self._held_out = list(V.word_patterns(self.split).values())

    def describe(self, phonology: Phonology, cues: Cues, dominant: str, n: int,
                 rng: np.random.Generator, forbidden: set[str], paraphrase: bool = False,
                 parts: tuple = ()) -> list[str]:
        return [t for t, _ in self.describe_styled(phonology, cues, dominant, n, rng, forbidden, paraphrase, parts)]

    def describe_styled(self, phonology: Phonology, cues: Cues, dominant: str, n: int,
                        rng: np.random.Generator, forbidden: set[str],
                        paraphrase: bool = False, parts: tuple = ()) -> list[tuple[str, str]]:
        """Up to ``n`` different (text, style) pairs. Training texts (``paraphrase=False``)
        never use the held-out style or synonyms; a paraphrase uses at least one of them.
        ``parts``: a compound's (morpheme, its cues) pairs, described one after the other in
        one style (``join_parts``); else the sign is one scene of ``phonology`` and ``cues``."""
        scenes = [scene_for(ph, c, dominant) for ph, c in parts] or [scene_for(phonology, cues, dominant)]
        scene = scenes[0]
        styles = list(self.split.train_styles)
        bounds = np.cumsum([STYLE_WEIGHTS[s] for s in styles]).tolist()
        held = self.split.held_out_style
        side_free = not leaks(dominant, forbidden)
        out: list[tuple[str, str]] = []
        for _ in range(n * 16):
            if len(out) == n:
                break
            if paraphrase and held and rng.random() < 0.5:
                style = held
            else:
                style = styles[bisect.bisect(bounds, rng.random() * bounds[-1])]
            named = side_free and (dominant == "left" or scene.hands == "both" or rng.random() < NAME_RIGHT)
            plain = style == "descriptive" and rng.random() < 0.25
            text = self._write(scenes, style, rng, paraphrase, named, plain)
            if leaks(text, forbidden) and not plain:     # the shape's name may be the gloss ("I love you")
                text = self._write(scenes, style, rng, paraphrase, named, True)
            if paraphrase and style != held and not any(p.search(text) for p in self._held_out):
                continue            # a paraphrase says something no training text says
            if found := leaks(text, forbidden):
                text = reword(text, found)      # a gloss that is also a grammar word: say it otherwise
                if leaks(text, forbidden) or (not paraphrase and any(p.search(text) for p in self._held_out)):
                    continue
            if text not in (t for t, _ in out):
                out.append((text, style))
        return out

    def _write(self, scenes: list[Scene], style: str, rng: np.random.Generator, paraphrase: bool, named: bool,
               plain: bool) -> str:
        """The scenes written in ``style``, one after the other. A later part names its hand's
        side only now and then (it is the same hand), and no part says that the other hand
        stays down when another part may use it; every part is told of one person ("she ...
        Then she ...", not "he ... and then she")."""
        person = PERSONS[int(rng.random() * len(PERSONS))] if len(scenes) > 1 else None
        texts = [WRITERS[style](_Writer(sc, rng, self.split, paraphrase, named and (k == 0 or rng.random() < 0.5),
                                        plain, idle=len(scenes) == 1, person=person))
                 for k, sc in enumerate(scenes)]
        return join_parts(texts, rng)


PART_LINKS = ("Then", "After that,", "Next,", "Afterwards,")   # how a later part of a compound starts
INLINE_PART = 0.25       # share of two-part texts that go on in the same sentence (", and then ...")


def join_parts(texts: list[str], rng: np.random.Generator) -> str:
    """Texts of a sign's parts as one: each later part a new sentence that starts with a link
    ("Then", "After that," ...), or now and then the same sentence going on (", and then").
    The planner reads such a text part by part (``plan.words.split_parts``)."""
    out = texts[0]
    for t in texts[1:]:
        head = out.rstrip().rstrip(".")
        lower = t if t.startswith("I ") else t[:1].lower() + t[1:]
        if ". " not in head and rng.random() < INLINE_PART:
            out = f"{head}, and then {lower}"
        else:
            out = f"{head}. {PART_LINKS[int(rng.random() * len(PART_LINKS))]} {lower}"
    return out


def texts_for(entry: Entry, cues: Cues, dominant: str, rng: np.random.Generator, n: int = 3,
              translator: Translator | None = None, word: str | None = None, paraphrase: int = 0,
              parts: tuple = ()) -> dict:
    """All three text conditions for one sample; ``word`` is the gloss (never in the free
    text). ``paraphrase`` > 0 adds that many held-out texts under ``PARAPHRASE``. With the
    template translator, ``"styles"`` gives each free text's style family, per condition, and
    a compound's ``parts`` ((morpheme, cues) pairs) are described one after the other."""
    translator = translator or TemplateTranslator()
    forbidden = forbidden_words(entry) | ({word} if word else set())
    out = {"gloss": word or entry.lemma_word, "phonology": phonology_text(entry.phonology)}
    if isinstance(translator, TemplateTranslator):
        styled = translator.describe_styled(entry.phonology, cues, dominant, n, rng, forbidden, parts=parts)
        out["phonology+hms"] = [t for t, _ in styled]
        styles = {"phonology+hms": [s for _, s in styled]}
        if paraphrase:
            para = translator.describe_styled(entry.phonology, cues, dominant, paraphrase, rng, forbidden, True,
                                              parts)
            out[PARAPHRASE] = [t for t, _ in para]
            styles[PARAPHRASE] = [s for _, s in para]
        out["styles"] = styles
    else:
        out["phonology+hms"] = translator.describe(entry.phonology, cues, dominant, n, rng, forbidden)
    return out
