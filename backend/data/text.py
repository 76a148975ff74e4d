"""Phonology + HandMotionScript cues -> free English descriptions (and the ablation texts).

The template translator writes sentences such as "The right hand, shaped as a fist with
the thumb along its side, touches the chin with the palm facing left, then moves forward
twice." Every clause type has several phrasings, synonyms and orders, and a description is
never allowed to contain the sign's gloss or any of its English translations (the paper
keeps the gloss from the text generator so it cannot write confident nonsense). Other
translators (an LLM, say) can stand behind the same ``Translator`` protocol; none is needed.
Pure Python + numpy.
"""
from __future__ import annotations

import functools
import re
from typing import Protocol

import numpy as np

from . import handshapes as H
from .hms import Cues
from .lexicon import PHONOLOGY_FIELDS, Entry, Phonology

CONDITIONS = ("gloss", "phonology", "phonology+hms")

# Synonyms for the regions the cues name (sides are added in front).
REGION_WORDS = {
    "forehead": ["forehead", "brow", "upper face"], "nose": ["nose", "middle of the face"],
    "mouth": ["mouth", "lips"], "chin": ["chin", "jaw", "bottom of the face"],
    "neck": ["neck", "throat"], "chest": ["chest", "upper torso", "breastbone"],
    "stomach": ["stomach", "belly", "lower torso"], "temple": ["temple", "side of the forehead"],
    "eye": ["eye", "corner of the eye"], "cheek": ["cheek", "side of the face"],
    "ear": ["ear", "side of the head"], "shoulder": ["shoulder", "top of the shoulder"],
    "upper arm": ["upper arm", "arm above the elbow"], "elbow": ["elbow", "crook of the arm"],
    "forearm": ["forearm", "lower arm"], "wrist": ["wrist", "base of the hand"],
    "palm": ["palm", "inside of the hand", "flat of the hand"],
    "back of the hand": ["back of the hand", "top of the hand", "knuckle side of the hand"],
    "fingers": ["fingers", "fingertips", "other hand's fingers"],
}
DIRECTION_WORDS = {
    "up": ["up", "upward", "higher"], "down": ["down", "downward", "lower"],
    "forward": ["forward", "outward", "away from the body"], "back": ["back", "toward the body", "inward"],
    "left": ["to the left", "leftward", "to the signer's left"],
    "right": ["to the right", "rightward", "to the signer's right"],
}
OPPOSITE = {"up": "down", "down": "up", "forward": "back", "back": "forward", "left": "right", "right": "left"}
PALM_WORDS = {
    "up": ["up", "upward", "toward the ceiling"], "down": ["down", "downward", "toward the floor"],
    "toward the body": ["toward the body", "toward the signer", "inward"],
    "away from the body": ["away from the body", "outward", "forward"],
    "left": ["to the left", "leftward", "sideways to the left"],
    "right": ["to the right", "rightward", "sideways to the right"],
}
COUNTS = {2: ["twice", "two times", "a couple of times"], 3: ["three times", "several times", "repeatedly"]}
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


class TemplateTranslator:
    """Rule-based sentences with varied wording, clause order and hand naming."""

    def describe(self, phonology: Phonology, cues: Cues, dominant: str, n: int,
                 rng: np.random.Generator, forbidden: set[str]) -> list[str]:
        out: list[str] = []
        for _ in range(n * 12):
            if len(out) == n:
                break
            text = self._one(phonology, cues, dominant, rng, plain=rng.random() < 0.35)
            if leaks(text, forbidden):
                text = self._one(phonology, cues, dominant, rng, plain=True)
                if found := leaks(text, forbidden):   # a gloss that is also a description word: say it otherwise
                    text = reword(text, found)
                    if leaks(text, forbidden):
                        continue
            if text not in out:
                out.append(text)
        return out

    # -- clauses -------------------------------------------------------------
    def _one(self, ph: Phonology, cues: Cues, dominant: str, rng, plain: bool) -> str:
        pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
        other = "left" if dominant == "right" else "right"
        hand = cues.hands.get(dominant)
        both = ph.sign_type.startswith("Symmetr")
        base = ph.sign_type.startswith(("Asymmetrical", "Dominance"))
        shape = self._shape(ph.handshape, plain, pick)
        subject = pick([f"the {dominant} hand", f"the signer's {dominant} hand", f"the dominant {dominant} hand",
                        f"the {dominant} hand", f"the active {dominant} hand"])
        if both:
            subject = pick(["both hands", "the two hands", "both of the signer's hands", "the hands",
                            "the left and right hands"])
        verb_s = "" if both else "s"
        opening = pick([
            f"{subject.capitalize()}, shaped as {shape},",
            f"With {shape}, {subject}",
            f"{subject.capitalize()} forms {shape} and" if not both else f"{subject.capitalize()} form {shape} and",
            f"Holding {shape}, {subject}",
            f"{subject.capitalize()}, in {shape},",
            f"Using {shape}, {subject}",
        ])
        clauses = []
        where = self._where(hand, cues, ph, pick, verb_s, dominant)
        if where:
            clauses.append(where)
        palm = self._palm(hand, pick, both)
        move = self._moves(hand, ph, pick, verb_s)
        change = self._fingers(hand, pick, both)
        order = [c for c in (palm, move, change) if c]
        if len(order) > 1 and rng.random() < 0.3:
            order[0], order[1] = order[1], order[0]
        body = " ".join([opening] + clauses[:1])
        if not clauses:
            body = opening + " " + (pick(["are held in front of the body", "stay in the space in front of the chest",
                                          "are raised in front of the torso", "sit in neutral space before the body",
                                          "are held at chest height"]) if both else
                                    pick(["is held in front of the body", "stays in the space in front of the chest",
                                          "is raised in front of the torso", "sits in neutral space before the body",
                                          "is held at chest height"]))
        sentence = body
        for i, c in enumerate(order):
            joiner = pick([", then ", ", and then ", ", after which it ", ", and "]) if c is move else \
                pick([", ", ", with "]) if c is palm else pick([", while ", ", as ", "; meanwhile "])
            if c is move and joiner.endswith("it ") and both:
                joiner = ", after which they "
            if c is palm and joiner == ", with ":
                c = c.replace("with ", "", 1)
            sentence += joiner + c
        if base:
            nd = ph.nondominant_handshape if ph.nondominant_handshape in H.HANDSHAPES or \
                ph.nondominant_handshape in H.ALIASES else ph.handshape
            nd_shape = self._shape(nd, plain, pick)
            extra = pick([f" The {other} hand stays still as {nd_shape}.",
                          f" Meanwhile the {other} hand holds {nd_shape} as a base.",
                          f" The {other} hand is a passive base shaped as {nd_shape}.",
                          f" The {other} hand, {nd_shape}, does not move.",
                          f" The non-dominant {other} hand waits as {nd_shape}."])
            return _sentence(sentence) + extra
        if cues.between and "touch" in cues.between and not base:
            sentence += pick([", the hands touching", ", the hands meeting", ", the two hands making contact",
                              ", with the hands coming together", ", the hands brushing each other"])
        return _sentence(sentence)

    @staticmethod
    def _shape(name: str, plain: bool, pick) -> str:
        if name not in H.HANDSHAPES and name not in H.ALIASES:
            return "a relaxed hand"
        return plain_handshape(name) if plain else H.resolve(name).description

    @staticmethod
    def _region(label: str, pick) -> str:
        side, _, part = label.partition(" ") if label.split(" ")[0] in ("left", "right") else ("", "", label)
        words = REGION_WORDS.get(part, [part])
        word = pick(words)
        if side:
            return pick([f"the {side} {word}", f"the {word} on the {side}", f"the {side}-side {word}"])
        return f"the {word}"

    def _where(self, hand, cues, ph, pick, verb_s, dominant) -> str:
        if hand is None or not hand.touch:
            return ""
        both = not verb_s
        v = lambda singular, plural: plural if both else singular  # noqa: E731
        touch = [t for t in hand.touch if t.startswith("touch ")]
        label = (touch or hand.touch)[0].split(" ", 1)[1]
        part = label.split(" ", 1)[1] if label.split(" ")[0] in ("left", "right") else label
        if both and part in ("palm", "back of the hand", "fingers", "wrist"):
            return pick([v("touches the other hand", "touch each other"), v("meets the other hand", "meet"),
                         v("makes contact with the other hand", "make contact with each other"),
                         v("comes together with the other hand", "come together"),
                         v("brushes the other hand", "brush against each other")]) if touch else \
                pick([v("is held close to the other hand", "are held close together"),
                      v("stays near the other hand", "stay near each other"),
                      v("comes close to the other hand", "come close together"),
                      v("hovers by the other hand", "hover side by side"),
                      v("is raised next to the other hand", "are raised next to each other")])
        if both:
            plural = {"mouth": "the mouth", "chin": "the chin", "chest": "the chest", "forehead": "the forehead",
                      "nose": "the nose", "neck": "the neck", "stomach": "the stomach"}
            place = plural.get(part) or f"the {pick(REGION_WORDS.get(part, [part]))}s".replace("ss", "s")
        else:
            place = self._region(label, pick)
        if touch:
            many = len(touch) > 1 or ph.repeated
            verbs = ([v("taps", "tap"), v("taps against", "tap against"), v("repeatedly touches", "repeatedly touch"),
                      v("makes repeated contact with", "make repeated contact with"), v("bumps", "bump")] if many else
                     [v("touches", "touch"), v("contacts", "contact"), v("makes contact with", "make contact with"),
                      v("rests on", "rest on"), v("comes to", "come to"), v("brushes", "brush")])
            return f"{pick(verbs)} {place}"
        return pick([f"{v('is', 'are')} held near {place}", f"{v('hovers', 'hover')} near {place}",
                     f"{v('stays', 'stay')} close to {place}", f"{v('is', 'are')} raised beside {place}",
                     f"{v('comes', 'come')} close to {place} without touching"])

    @staticmethod
    def _palm(hand, pick, both) -> str:
        if hand is None or not hand.palm:
            return ""
        palm = "palms" if both else "palm"
        if len(hand.palm) == 1:
            facing = pick(PALM_WORDS[hand.palm[0]])
            return pick([f"with the {palm} facing {facing}", f"{palm} {facing}",
                         f"the {palm} turned {facing}", f"with the {palm} {facing}",
                         f"its {palm} oriented {facing}" if not both else f"their {palm} oriented {facing}"])
        # the ends of a turn read "from facing up to facing leftward" (never "from up to to the left")
        ends = [pick([w for w in PALM_WORDS[p] if not w.startswith("to ")]) for p in hand.palm]
        if hand.palm[0] == hand.palm[-1]:     # out and back: name where it turns to
            a, b = ends[0], ends[1]
            return pick([f"the {palm} turning from facing {a} to facing {b} and back",
                         f"with the {palm} turning to face {b} and back to face {a}",
                         f"twisting so the {palm} faces {b}, then {a} again",
                         f"the wrist turning the {palm} to face {b}, then back to face {a}",
                         f"with a twist there and back, the {palm} facing {a}, {b}, then {a} again"])
        a, b = ends[0], ends[-1]
        return pick([f"the {palm} turning from facing {a} to facing {b}",
                     f"with the {palm} rotating from facing {a} to facing {b}",
                     f"twisting so the {palm} goes from facing {a} to facing {b}",
                     f"the wrist turning the {palm} from facing {a} to facing {b}",
                     f"with a twist of the wrist, the {palm} facing {a}, then {b}"])

    @staticmethod
    def _moves(hand, ph, pick, verb_s) -> str:
        if hand is None or not hand.moves:
            return ""
        moves = hand.moves
        if moves.count("circle") >= 1 and all(m == "circle" for m in moves):
            k = len(moves)
            how = "" if k == 1 else " " + pick(COUNTS[min(k, 3)])
            return pick([f"circle{verb_s}{how}", f"move{verb_s} in a circle{how}", f"trace{verb_s} a circle{how}",
                         f"make{verb_s} a circular motion{how}", f"go{'es' if verb_s else ''} around in a circle{how}"])
        first = next((m for m in moves if m != "circle"), moves[0])
        goes = sum(1 for m in moves if m == first)
        back_forth = len(moves) >= 2 and all(m in (first, OPPOSITE.get(first)) for m in moves)
        d = pick(DIRECTION_WORDS[first])
        if back_forth and goes >= 2:
            how = pick(COUNTS[min(goes, 3)])
            return pick([f"move{verb_s} {d} {how}", f"move{verb_s} {d} and back {how}",
                         f"push{'es' if verb_s else ''} {d} {how}", f"repeat{verb_s} a movement {d} {how}",
                         f"go{'es' if verb_s else ''} {d} {how}"])
        if back_forth:
            return pick([f"move{verb_s} {d} and back", f"go{'es' if verb_s else ''} {d} and return{verb_s}",
                         f"move{verb_s} {d}, then back again", f"shift{verb_s} {d} and back",
                         f"swing{verb_s} {d} and back"])
        path = [pick(DIRECTION_WORDS[m]) if m != "circle" else "in a circle" for m in moves[:3]]
        if len(path) == 1:
            return pick([f"move{verb_s} {path[0]}", f"travel{verb_s} {path[0]}", f"slide{verb_s} {path[0]}",
                         f"go{'es' if verb_s else ''} {path[0]}", f"shift{verb_s} {path[0]}"])
        seq = ", then ".join(path)
        return pick([f"move{verb_s} {seq}", f"travel{verb_s} {seq}", f"trace{verb_s} a path {seq}",
                     f"go{'es' if verb_s else ''} {seq}", f"follow{verb_s} a path {seq}"])

    @staticmethod
    def _fingers(hand, pick, both) -> str:
        if hand is None or len(hand.fingers) < 2:
            return ""
        if hand.fingers[-1] == "closed":
            return pick(["the fingers close", "the hand closes", "the fingers curl in", "the hand shuts",
                         "the fingers fold down"])
        return pick(["the fingers open", "the hand opens", "the fingers spring open", "the hand spreads open",
                     "the fingers extend"])


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip().rstrip(",;")
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def texts_for(entry: Entry, cues: Cues, dominant: str, rng: np.random.Generator, n: int = 3,
              translator: Translator | None = None, word: str | None = None) -> dict:
    """All three text conditions for one sample; ``word`` is the gloss (never in the free text)."""
    translator = translator or TemplateTranslator()
    forbidden = forbidden_words(entry) | ({word} if word else set())
    free = translator.describe(entry.phonology, cues, dominant, n, rng, forbidden)
    return {"gloss": word or entry.lemma_word, "phonology": phonology_text(entry.phonology),
            "phonology+hms": free}
