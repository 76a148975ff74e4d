"""What a prompt's plain words settle that the scene parser reads less surely: which hand
signs (``choose_side``), a place named in everyday words (``named_place``, ``on_place``),
two hands that part or meet (``two_hands_way``), one hand where no two are said, and a
stroke that ends at its place (``arrives``). ``plain_words`` applies them to a parsed
scene. Words come from ``data.vocab`` (its core names only: never a held-out synonym, so
the paraphrase test stays a test). Pure Python.
"""
from __future__ import annotations

import re
from dataclasses import replace

from ..data.text import CONTACT_ACTIONS, OPPOSITE, SIDED_PLACES, STROKE_ACTIONS, Scene, inflections
from ..data.vocab import COUNTS, DIRECTIONS, HANDSHAPE_CONCEPT, NEUTRAL, PLACES, SHAPES, VAGUE_COUNTS, VERBS
from ..motion.hands import named_hand
from .parts import cuts

TWO_HANDED = ("clap", "together", "apart")   # actions the grammar only has with both hands moving
SIDE_SURE = 0.8             # the parser's side at least this sure wins over the named-hand rule
_SIDE_WORD = re.compile(r"\b(left|right)\b", re.IGNORECASE)
# "to the left", "toward the signer's right", "leftward": a way to move, not a hand (but
# "to the left palm" names the other hand as a place)
_WAY = re.compile(r"\b(?:(?:to|toward|towards|over to|off to|out to)\s+(?:the\s+|your\s+|his\s+|her\s+|their\s+|my\s+)?"
                  r"(?:signer's\s+)?(?:left|right)\b(?!\s*(?:\w+\s+)?(?:hand|fist|palm|finger|fingers|index|thumb|arm|wrist|"
                  r"forearm|elbow|shoulder|knuckles|pinky|claw|side of))|(?:left|right)wards?\b)", re.IGNORECASE)
_SIDE_LETTER = re.compile(r"\b[LR]\b")
_OTHER_HAND = re.compile(r"\b(?:other|base|non-?dominant|weak|passive|second)\b", re.IGNORECASE)
# the hand a text signs with, named as the instrument: "with your right hand", "using the left fist"
_WITH_SIDE = r"\b(?:with|using)\s+(?:the\s+|your\s+|his\s+|her\s+|their\s+|my\s+|a\s+)?(left|right)"
# (not a hand said to be at rest: "stand with the left hand loose at your side")
_INSTRUMENT = re.compile(_WITH_SIDE + r"\b(?!(?:\s+(?:hand|arm))?\s+(?:loose|limp|relaxed|idle|resting|hanging|down|at\s+\w+\s+side)\b)",
                         re.IGNORECASE)
# places on the other hand or arm: a one-handed scene never has them (its other hand rests)
ON_OTHER_HAND = ("upper arm", "elbow", "forearm", "wrist", "palm", "back of the hand", "fingers")
# their core names but the back of the hand's, which reads "the back of your left hand"
_HAND_PLACE_NAMES = {place: "|".join(w.pattern for w in PLACES[place] if w.core)
                     for place in ON_OTHER_HAND if place != "back of the hand"}
_DETERMINER = r"(?:the|your|his|her|their|its|my|one's)"
# a place on a hand or arm named with its side: "the right palm", "the tips of your left
# fingers", "the back of the left hand" (not "the right open palm hand", a flat hand)
_SIDED_HAND_PLACE = re.compile(rf"\b(left|right)\s+(?:open\s+)?(?:{'|'.join(_HAND_PLACE_NAMES.values())})s?\b(?!\s+hand)"
                               rf"|\bback of {_DETERMINER}\s+(left|right)\s+hand\b", re.IGNORECASE)
# "raise your hand up to the forehead", "lower your fist to the stomach": a directional word
# and then "to" the scene's place says where the stroke ends; "bring your fist to your chin
# and raise it" (no such word before "to") and the grammar's "near your brow ... bring it
# up" start there, as the lexicon's strokes do
ARRIVING = ("rise", "drop", "push", "pull", "side")
_TOWARD = (r"\b(?:up|down|upwards?|downwards?|forwards?|out|back|over|across|higher|lower(?:s|ed|ing)?|"
           r"rais(?:e|es|ed|ing)|lift(?:s|ed|ing)?|ris(?:e|es|en|ing)|rose|drop(?:s|ped|ping)?|"
           r"sinks?|sinking|sank|push(?:es|ed|ing)?|pull(?:s|ed|ing)?|slid(?:e|es|ing)?)\b[^,.;:]*?"
           r"\b(?:to|toward|towards|into|onto|until it reaches|till it reaches|reaching)\s+"
           r"(?:(?:the|your|his|her|their|my|its|level of the|height of the|signer's|left|right)\s+)*")
# Words without which a text has one hand signing: two hands are always said so ("both",
# "hands", "fists", "each", "two V hands", "clap", "together", "apart": every two-handed text
# of the grammar has one), where "two fingers" is a shape and "a peace sign" one hand's
_PLURAL = re.compile(r"\b(?:both|hands|fists|palms|claws|each|clap\w*|(?<!fingers\s)together|(?<!spread\s)(?<!fingers\s)(?<!curved\s)apart|"
                     r"two\s+(?!fingers\b|of\b)\w+)\b",
                     re.IGNORECASE)
# A place the text names in words every training text may use (the vocabulary's core
# names, never a held-out synonym) where the parser reads none: "moves in a small circle on
# the chest" read as the space in front of the body. Phrases that name the space in front
# of the body ("in front of the chest", "at chest height") name no place.
ON_PLACE_MOVE_SURE = 0.8    # a movement of a hand "on" a place read less surely than this is a touch
NAMED_PLACE_SURE = 0.8      # the parser's "no place" at least this sure stands
COUNT_SURE = 0.6           # taps counted less surely than this, in a text that states no number, are two
# hands close to each other, not fingers that close ("both open hands start close"), and any
# other word of fingers opening or closing (the terse "..., opening"; not "open hands", a shape)
_HANDS_CLOSE = re.compile(r"\b(?:start\w*|begin\w*|are|held|kept|stay\w*)\s+close\b|\bclose\s+(?:together|in\b)",
                          re.IGNORECASE)
_FINGER_CHANGE_WORD = re.compile(r"\b(?:open(?!\s+(?:hands?|palms?|flat|spread))\w*|clos\w*|curl\w*)\b", re.IGNORECASE)
FINGERS_SURE = 0.7         # fingers read opening or closing less surely than this, in no word of it, do not
SHOWN_SURE = 0.6           # an action read less surely than this, in a text that only shows a shape, is a hold
UNNAMED_PLACE_SURE = 0.5    # a place read less surely than this, in a text that names no part of the body, is dropped
_NEUTRAL_PHRASE = re.compile("|".join([rf"\b{w.pattern}\b" for w in NEUTRAL]
                                      + [r"\b(?:at|to|up to|down to)\s+(?:\w+\s+)?(?:height|level)\b",
                                         r"\b\w+[- ](?:height|level)\b"]), re.IGNORECASE)
# where the palm faces names no place: "with the palm facing toward the chest", "palms in"
_PALM_WAY = re.compile(r"\bpalms?\s+(?:facing|faces|face|turned|turning|turns|toward\w*|pointing|points|down|up|in|"
                       r"out|forward|back|away|left|right|sideways)\b[^,.;]*", re.IGNORECASE)
# words of a place on the other hand or arm, beside the other hand named by side or role
# ("tap the palm", "the back of your hand", "your wrist"), in core names; "fingers" alone is
# not one of them, as shapes say it too ("two fingers together", "all fingers spread")
_HAND_PLACE_WORD = re.compile(
    rf"\b(?:(?:{'|'.join(n for place, n in _HAND_PLACE_NAMES.items() if place != 'fingers')})s?|back of {_DETERMINER} hand)\b",
    re.IGNORECASE)
# a stroke that curves ("curves down", "in an arc"); "curved" is a handshape's ("a curved L",
# "two fingers together, curved", "the thumb curved out")
_ARC_PHRASE = r"\b(?:in|along|through|with) an? (?:\w+ )?(?:arc|curve)\b"   # "in an arc", "along a wide curve"
_ARC = re.compile(rf"{_ARC_PHRASE}|\b(?:arc(?:s|ed|ing)?\b(?! of\b)|"
                  r"curv(?:es|ing)\s+(?:(?:back|over|up|down|across|round|around|away)\b\s*)*"
                  r"(?:to|toward|towards|up|down|over|across|around|round|back|forward|away|left|right)\b|"
                  r"swoop\w*)", re.IGNORECASE)
_PLACE_WORDS = {place: re.compile(r"\b(?:" + "|".join(w.pattern for w in words if w.core) + r")s?\b", re.IGNORECASE)
                for place, words in PLACES.items() if place not in ON_OTHER_HAND}
# Two hands' way in phrases that say nothing else: "away from each other", "out from the
# middle" part them, "toward each other", "come together" bring them together (a bare
# "together" also means at the same time: "both fists move up together"). The last one said
# is where the hands end: "start apart and move toward each other" comes together.
_APART = (r"(?<!spread\s)(?<!fingers\s)(?<!curved\s)\bapart\b|\baway from each other\b"   # not a shape's "fingers ... spread apart"
          r"|(?<!,\s)(?<!fingers\s)\bspread(?:s|ing)?\s+apart\b"                      # but the hands' own
          r"|\bseparat(?:e|es|ed|ing)\b"
          r"|\b(?:out|outwards?) from the (?:middle|center|centre)\b"
          # "both arms swing out wide to the sides" (not the grammar's "open two claws out to the sides")
          r"|\b(?:swing|swings|swung|swinging|mov\w+|go|goes|going|went|sweep\w*|fling\w*|stretch\w*|travel\w*)\b"
          r"[^,.;]{0,30}?\bto\s+(?:the|both|either|their)\s+sides\b")
_TOGETHER = (r"\btowards? each other\b|\b(?:come|comes|came|coming)\s+together\b|(?<!fingers\s)\bclos(?:e|ing)\s+in\b|"
             r"\buntil\s+(?:the|their|they)\s+(?:[\w-]+\s+)?(?:meet|touch)\b|"
             r"\bone\s+(?:with|against|on)\s+(?:the\s+)?other\b|\bagainst\s+each\s+other\b|"
             r"\b(?:bring|brings|brought|bringing|put|puts|putting|press|presses|pressing|"
             r"tap\w*|knock\w*|pound\w*|bump\w*|slap\w*|pat|pats|patt\w*|touch\w*)\s+(?:\w+\s+){0,3}?together\b")
_TWO_WAYS = re.compile(rf"(?P<apart>{_APART})|(?P<together>{_TOGETHER})", re.IGNORECASE)
# where two hands start, not where they go: "fists start wide apart and close in"
_START_APART = re.compile(r"\b(?:start\w*|begin\w*|began|begun|from)\s+(?:out\s+)?(?:[\w-]+\s+)?apart\b", re.IGNORECASE)
# what a reading of two hands' way may replace: a misread of the same movement (the grammar's
# "outward" is away from the body: "both hands open outward, away from each other" read as a push;
# "start together ... and sweep apart out to the sides" as a brush)
WAY_REPLACES = ("together", "apart", "push", "side", "tap", "touch", "hold", "rise", "drop", "brush")


# Fingers that open or close in so many words ("open your hand", "the hand closes into a fist",
# "curl your fingers in", "then open it"), and words of a movement of the hand (a verb of
# moving or a way to go): a text with fingers that change and no such word asks for the hand
# to stay where it is while they change ("make a fist, then open your hand" read as a rise)
# the hand as the object of a verb, with its determiner ("open your hand", not "a spread hand")
_HAND_OBJECT = r"(?:your|my|his|her|their|the|its|both|the\s+two)\s+(?:(?:right|left)\s+)?(?:hands?|fingers|fists?)\b"
_NOT_A_CHANGE = r"(?!\s+(?:to|by|beside|near|in\s+(?:on|toward)|on\b|together|up\s+to))"   # "close to", "close in on"
_FINGERS_WAY = {
    "open": re.compile(rf"\b(?:open|opens|opening|opened|spread|spreads|spreading|unfold\w*|uncurl\w*|relax\w*)"
                       rf"(?:\s+(?:up|out))?\s+(?:{_HAND_OBJECT}|it\b|them\b)"
                       rf"|(?<!with\sthe\s)\b(?:hands?|fingers|fists?)\s+(?:opens?|opening|opened|spreads?|spreading|"
                       rf"unfolds?)\b{_NOT_A_CHANGE}",
                       re.IGNORECASE),
    "close": re.compile(rf"\b(?:close|closes|closing|closed|curl|curls|curling|fold|folds|folding|clench\w*)"
                        rf"(?:\s+up)?\s+(?:{_HAND_OBJECT}|it\b|them\b){_NOT_A_CHANGE}"
                        rf"|\b(?:hands?|fingers|fists?)\s+(?:closes?|closing|closed|curls?|curling|folds?|clench\w*)\b"
                        rf"{_NOT_A_CHANGE}"
                        rf"|\binto\s+a\s+fist\b", re.IGNORECASE),
}
_MOVING = re.compile(
    r"\b(?:mov\w*|rais\w*|lift\w*|lower\w*|drop\w*|push\w*|pull\w*|slid\w*|swing\w*|swung|wav\w*|circl\w*|"
    r"rotat\w*|tap\w*|touch\w*|brush\w*|rub\w*|knock\w*|pat|pats|patt\w*|bring\w*|brought|reach\w*|extend\w*|"
    r"thrust\w*|sweep\w*|shak\w*|wiggl\w*|clap\w*|bump\w*|go|goes|going|travel\w*|come\w*|coming|ris\w*|rose|"
    r"fall\w*|sink\w*|flick\w*|twist\w*|turn\w*|trac\w*|draw\w*|put\w*|plac\w*|press\w*|rest\w*|salut\w*|"
    r"up|down|upwards?|downwards?|forwards?|ahead|backwards?|leftwards?|rightwards?|toward\w*|away|outwards?|"
    r"inwards?|across|around|apart|together|sideways|higher|onto|against|send\w*|sent|"
    r"to\s+the\s+(?:signer's\s+)?(?:left|right))\b", re.IGNORECASE)
_FINGERS_SAID = re.compile("|".join(p.pattern for p in _FINGERS_WAY.values()), re.IGNORECASE)
# the core verbs' own words ("wag", "scratch", "spin"...), but for those that do nothing by
# themselves ("give a salute", "make contact", "hold still")
_LIGHT_VERBS = {"give", "let", "make", "hold", "keep", "stay", "stop"}


def _first_words(words, core_only: bool) -> set[str]:
    """The first word of each verb's name and frames ("tap", "bump", "put" of "put {x} on {p}")."""
    return {f.split(" ")[0] for w in words if w.core or not core_only for f in (w.text, *w.hand, *w.agent, *w.bare)}


def _verbs_pattern(first: set[str]) -> re.Pattern:
    """Any of ``first`` and its endings ("tap" finds "taps", "tapping")."""
    return re.compile(r"\b(?:" + "|".join(sorted(re.escape(f) for f in first)) + r")\w*", re.IGNORECASE)


_CORE_VERB = _verbs_pattern(_first_words((w for words in VERBS.values() for w in words), True) - _LIGHT_VERBS)
# a hand named by its side as the one that does a core verb: "right index finger taps it"
_ACTING = re.compile(r"\b(left|right)(?:\s+[\w-]+){0,2}?\s+(?:hand|fist|index|finger|thumb|pointer|forefinger|V)"
                     r"(?:\s+finger)?\s+(?:\w+ly\s+)?(?=" + _CORE_VERB.pattern + ")", re.IGNORECASE)
# the hand that does not act, named with a shape or a place and no verb: "left hand flat at the chest"
_OTHER_SHAPED = r"\b{side}\s+(?:hand\s+)?(?:(?P<fist>fist|in\s+a\s+fist)|flat|open|spread|palm\s+(?:up|down|in))\b"
# the first word of every verb the grammar has, core or not ("settle on", "wag")
_ANY_VERB = _verbs_pattern(_first_words((w for words in VERBS.values() for w in words), False) - _LIGHT_VERBS)


def says_verb(text: str) -> bool:
    """Whether ``text`` says a way of moving or any verb the grammar has for a movement."""
    return bool(_MOVING.search(text) or _ANY_VERB.search(text))


# a thumbs-up's "up" is its shape, not a way to move: "give a thumbs-up", "the thumb raised"
_THUMB_UP = re.compile(r"\bthumbs?(?:[- ]up\b|\s+(?:is\s+|pointing\s+)?(?:up|raised)\b)", re.IGNORECASE)
# a text (a part's piece) that says only that the fingers open or close: "then curl your fingers
# in", "close both hands", "open your hand, with the palm turning left"
_FINGERS_ONLY = re.compile(rf"^\s*(?:(?:I|he|she|they|the\s+signer|the\s+person)\s+)?(?:{_FINGERS_SAID.pattern})"
                           r"(?:\s+(?:in|open|out|up|closed|shut))?\s*(?:[,.!;]|$)", re.IGNORECASE)
MOVING_ACTIONS = ("rise", "drop", "push", "pull", "side", "path", "back_forth")


def fingers_way(text: str) -> str:
    """"open" or "close" where ``text`` says in so many words that the fingers open or close
    (the last said), else ""."""
    found = sorted((m.start(), way) for way, pattern in _FINGERS_WAY.items() for m in pattern.finditer(text))
    return found[-1][1] if found else ""


_ACROSS = re.compile(rf"\bacross\s+(?:{_DETERMINER}\s+)?(?:front\s+of\s+(?:{_DETERMINER}\s+)?)?(?:body|chest|torso)\b",
                     re.IGNORECASE)
ACROSS_FROM = ("hold", "touch", "rise", "drop", "push", "pull", "side", "path")   # readings "across" corrects
SIDEWAYS_FROM = ("rise", "drop", "push", "pull", "back_forth")   # strokes read another way than a "sideways" said


# two hands that meet or part, in the core verbs' words ("come together", "join", "clap", "apart")
_MEETING = re.compile(r"\b(?:clap\w*|together|join\w*|converg\w*|apart|part(?:s|ed|ing)?|each other|"
                      r"spread\w* out|out from the middle)\b", re.IGNORECASE)


# out to the signing hand's own side: "moved out to the side, away from the middle of the body"
_OUT_TO_SIDE = re.compile(rf"\b(?:out|off|over)\s+to\s+(?:the|one|{_DETERMINER})\s+side\b|\bto\s+the\s+side\b(?!\s+of\b)"
                          r"|\baway from the (?:middle|center|centre|midline)\b", re.IGNORECASE)
_SIDEWAYS = re.compile(r"\bsideways?\b(?!\s+to\b)", re.IGNORECASE)    # not "sideways to the left", a palm's


def across(text: str, side: str) -> str | None:
    """The way a ``side`` hand goes "across the body" (or chest, or torso): to the other
    side, unless the text says a side itself ("across the chest to the right")."""
    if not _ACROSS.search(text) or _WAY.search(text):
        return None
    return "left" if side == "right" else "right"


# a hand pointing, not fingers or a thumb that point somewhere ("fingers pointing up"), nor
# "the point of the chin"
_POINTING = re.compile(r"(?<!fingers )(?<!finger )(?<!thumbs )(?<!thumb )(?<!tips )\bpoint(?:s|ed|ing)?\b(?!\s+of\b)",
                       re.IGNORECASE)
# "index" alone names the index finger ("left index taps chin"), not a finger of a list
# ("the index and middle fingers", "index, middle and ring fingers") nor one finger of a
# shape told finger by finger ("index up")
_LONE_INDEX = (r"\bindex\b(?!\s+finger(?:s|tips?)?\b|\s*(?:,|and|&)\s*(?:the\s+)?(?:middle|ring|little|pinky)\b|"
               r"\s+(?:up|down|straight|upright|pointing|sticking)\b)")
# a handshape named: a core name, fingers, a thumb or a fist, or a capital letter ("make a V";
# not "A", "I", nor terse notes' "L" and "R" for left and right)
_SHAPE_NAMED = re.compile(r"\b(?:" + "|".join(re.escape(w.text) for words in SHAPES.values() for w in words if w.core)
                          + r"|fingers?|thumbs?|fists?|pointer|forefingers?)(?:s|es)?\b|" + _LONE_INDEX, re.IGNORECASE)
_LETTER = re.compile(r"\b[B-HJ-KM-QS-Z]\b")


# each shape concept's core names, a letter ("V") as written, any other in any case, plural too
_SHAPE_WORDS = [(concept, re.compile(r"\b" + re.escape(w.text) + r"(?:s|es)?\b",
                                     0 if len(w.text) <= 2 else re.IGNORECASE))
                for concept, words in SHAPES.items() for w in words if w.core] + \
               [("index", re.compile(_LONE_INDEX, re.IGNORECASE)),
                # "tap your temple with two fingers": the index and middle fingers out, a V
                ("v", re.compile(r"\btwo fingers\b(?!\s+together\b)", re.IGNORECASE))]


# a name bent into another shape ("a curled index finger") or a finger in a shape described
# finger by finger ("a hand with the index finger extended, ...") names no shape of its own
_RESHAPED = re.compile(r"\b(?:bent|curled|hooked|curved|clawed|crooked)\s+$", re.IGNORECASE)
_STATE_SAID = (r"\s+(?:and\s+\w+\s+fingers?\s+)?(?:extended|bent|curled|curved|half|rounded|crossed|"
               r"hooked|spread|raised|touching|gathered|folded|stepping|angled|out\b|in\b)")   # after a finger's name
_FINGER_STATE = re.compile("^" + _STATE_SAID, re.IGNORECASE)


def named_shape(text: str) -> str | None:
    """The one shape concept (``vocab.SHAPES``: "fist", "index"...) ``text`` names in core
    words, a name inside a longer one aside ("fist" in "fist with the thumb up", "V" in "bent
    V"), and none bent into another shape or described finger by finger (``_RESHAPED``,
    ``_FINGER_STATE``), else None (none, or two: "tap your left fist with your index finger")."""
    spans = [(m.start(), m.end(), concept) for concept, pattern in _SHAPE_WORDS for m in pattern.finditer(text)
             if not _RESHAPED.search(text[:m.start()]) and not _FINGER_STATE.match(text[m.end():])]
    outer = {c for a, b, c in spans if not any(x <= a and b <= y and (x, y) != (a, b) for x, y, _ in spans)}
    return outer.pop() if len(outer) == 1 else None


def names_concept(text: str, concept: str) -> bool:
    """Whether ``text`` says shape ``concept`` in one of its core words ("claw" for a claw)."""
    return any(re.search(r"\b" + re.escape(w.text) + r"(?:s|es)?\b", text, 0 if len(w.text) <= 2 else re.IGNORECASE)
               for w in SHAPES.get(concept, ()) if w.core)


# a word that curls a shape's straight fingers, said before its name ("a crooked spread hand",
# "a curved V", "a claw V", "a clawed, spread hand")
_CURLING = re.compile(r"\b(?:bent|curved|curled|hooked|crooked|clawed|claw)\b,?[\s-]+$", re.IGNORECASE)


def curled_name(text: str) -> str | None:
    """The one shape concept ``text`` names in core words with a word before it that curls its
    fingers (``_CURLING``: "a crooked spread hand" -> "spread"), where the two are not one name
    ("bent V" is one), else None; ``handshapes.curled_forms`` gives the shapes it makes."""
    spans = [(m.start(), m.end(), concept) for concept, pattern in _SHAPE_WORDS for m in pattern.finditer(text)]
    curled = {c for a, b, c in spans if _CURLING.search(text[:a])
              and not any(x <= a and b <= y and (x, y) != (a, b) for x, y, _ in spans)}
    return curled.pop() if len(curled) == 1 else None


# every name the grammar has for a shape, core or not ("clawed hand"), plural too
_ANY_SHAPE_NAME = re.compile(r"\b(?:" + "|".join(re.escape(w.text) for words in SHAPES.values() for w in words)
                             + r")(?:s|es)?\b", re.IGNORECASE)


def says_shape(text: str) -> bool:
    """Whether ``text`` says a handshape in any words the grammar has for one (``names_shape``,
    or a name that is not core: "clawed hand"): where it says none, the parser's reading is
    a guess from other words."""
    return names_shape(text) or bool(_ANY_SHAPE_NAME.search(text))


# fingers named with no state of their own ("the back of the right fingers", "wiggle your
# fingers"): a part of the hand, not a shape said finger by finger
_BARE_FINGERS = re.compile(rf"\bfingers?\b(?!{_STATE_SAID})", re.IGNORECASE)


def describes_shape(text: str) -> bool:
    """Whether ``text`` says a handshape (``says_shape``) in more than fingers named bare."""
    return says_shape(_BARE_FINGERS.sub(" ", text))


# ASL's handshapes named by a number, and the number's word
_NUMBER_SHAPES = {"3": "three", "4": "four", "5": "five", "7": "seven", "8": "eight"}


def counted_only(shape: str, text: str) -> bool:
    """Whether ``shape`` is a number's handshape ("3") whose number ``text`` says only as a
    count ("taps the temple three times", "3x") and never as a shape ("a 3", "the number 3"),
    and whose everyday name it does not say: the parser read "index finger of the right hand
    taps the temple three times" as the ASL 3 at 0.84."""
    word = _NUMBER_SHAPES.get(shape)
    if word is None or named_shape(text) == HANDSHAPE_CONCEPT.get(shape):
        return False
    number = rf"(?:{shape}|{word})"
    counted = re.search(rf"\b{number}\s*(?:times|x)\b|\bx\s*{shape}\b", text, re.IGNORECASE)
    named = re.search(rf"\b(?:a|an|the|number)\s+{number}\b(?!\s*(?:times|x)\b)", text, re.IGNORECASE)
    return bool(counted) and not named


# a shape the text says the hand makes ("make a fist with your left hand and ..."), in core words
_MADE = re.compile(r"\b(?:(?:make|makes|made|making|form|forms|formed|forming)\s+(?:(?:in)?to\s+)?|"
                   r"(?:closed|curled)\s+(?:in)?to\s+)(?:a|an)\s+(?P<rest>.*)",
                   re.IGNORECASE)


# a name bent into another shape after it ("make a V bent flat at the knuckles")
_BENT_AFTER = re.compile(r"^\s+(?:bent|curled|curved|half|hooked|crossed|folded|angled|rounded|spread)\b", re.IGNORECASE)


def made_shape(text: str) -> str | None:
    """The shape concept ``text`` says a hand makes, in core words ("make a fist ..."), else None."""
    m = _MADE.search(text)
    if not m:
        return None
    found = [(hit.end(), w.core, concept) for concept, words in SHAPES.items() for w in words
             if (hit := re.match(re.escape(w.text) + r"\b", m["rest"], re.IGNORECASE))
             and not _BENT_AFTER.match(m["rest"][hit.end():])]
    if not found:
        return None
    _, core, concept = max(found)    # the longest name: "a fist with the thumb up", not "a fist"
    return concept if core else None


def names_shape(text: str) -> bool:
    """Whether ``text`` names a handshape: in core words, by its fingers, thumb or fist, or by
    a letter ("a V")."""
    return bool(_SHAPE_NAMED.search(text) or _LETTER.search(text))


FACE_PLACES = ("forehead", "temple", "eye", "nose", "cheek", "ear", "mouth", "chin")
# the face or head named as a place, not palms that "face each other"
_FACE_WORD = re.compile(r"\b(?:face|head)\b(?!\s+(?:each|one|up|down|in|out|left|right|toward|towards|away|forward|"
                        r"the|your|his|her|their|my)\b)", re.IGNORECASE)


def on_face(text: str, place: str | None) -> bool:
    """Whether ``text`` puts the hand somewhere on the face or head (it says "face" or
    "head") while ``place`` (a reading of it) is elsewhere, and names no other place in core
    words nor a part of a hand or arm: "rest your index finger on the upper face" was read at
    0.99 at the chest, "touch your face with your flat hand" at the other hand's fingers."""
    if place in FACE_PLACES or not _FACE_WORD.search(text) or _HAND_PLACE_WORD.search(_PALM_WAY.sub(" ", text)):
        return False
    return named_place(text) in (None, *FACE_PLACES)


# a number of times stated: the core count words, "x2", "2x", "3 times", "once"
_DIGIT_COUNT = r"x\s?(\d+)|(\d+)\s?x|(\d+)\s+times"
_COUNT_SAID = re.compile(r"\b(?:" + "|".join(re.escape(w.text) for words in (*COUNTS.values(), VAGUE_COUNTS)
                                             for w in words if w.core)
                         + rf"|{_DIGIT_COUNT}|once)\b", re.IGNORECASE)


# the core words of each direction but the sideways ones (``_WAY`` finds those), read past
# palm ways, a thumbs-up, "the back of", a stroke's way back ("forward and back") and a
# finger's bend ("the middle finger bent forward")
_DIRECTION_WORDS = [(name, re.compile(r"\b" + re.escape(w.text) + r"\b", re.IGNORECASE))
                    for name, words in DIRECTIONS.items() if name not in ("left", "right") for w in words if w.core]
_NOT_A_WAY = re.compile(r"\bback of\b|\band back\b|\bback and forth\b|\bhold(?:s|ing)? up\b|"
                        r"\b(?:bent|angled|curved|curled|hooked|tilted)\s+(?:forward|up|down|back)\b|"
                        # the resting hand's ("keep the other hand down") and a shape's ("index up")
                        r"\bhand\s+(?:stays\s+|rests\s+|is\s+|kept\s+)?down\b|"
                        r"\b(?:index|thumb|pinky)\s+(?:up|down|out)\b", re.IGNORECASE)
STROKE_DIRS = {**STROKE_ACTIONS, "left": "side", "right": "side"}   # the grammar's stroke of each direction
ONE_WAY = {action: way for way, action in STROKE_ACTIONS.items()}      # and the way of each one-way stroke
DIRS_SURE = 0.6            # a direction read less surely than this gives way to the one the text names
# a stroke there and back in so many words: the grammar says "up and back", and the parser read
# "shake your right fist up and down" as a rise
_TO_AND_FRO = re.compile(r"\b(?:(?P<up>up and down)|(?P<down>down and up)|(?P<forward>in and out|forwards? and backwards?)|"
                         r"(?P<right>to the right and (?:then )?(?:to the |back to the )?left)|"
                         r"(?P<left>to the left and (?:then )?(?:to the |back to the )?right)|"
                         r"(?P<back>out and in|backwards? and forwards?))\b", re.IGNORECASE)
# words of two hands meeting that no phrase of ``_TOGETHER`` holds
_MEETING_WORD = re.compile(r"\b(?:together|meet\w*|met|touch\w*|clap\w*|each other|one another|join\w*|bump\w*|tap\w*|"
                           r"contact|against|clasp\w*|cross\w*|link\w*|hit\w*|collid\w*)\b", re.IGNORECASE)
# a swing there and back with no way of its own ("back and forth", "side to side"), and one said
# in other words than a way and its opposite (those, and "left and right", "... and back")
_SWUNG = re.compile(r"\b(?:back[- ]and[- ]forth|to[- ]and[- ]fro|(?:from )?side[- ]to[- ]side)\b", re.IGNORECASE)
_THERE_AND_BACK = re.compile(_SWUNG.pattern + r"|\b(?:left and right|right and left|and back(?:\s+again)?)\b",
                             re.IGNORECASE)
# words of going round, in the core circle verbs' words ("circle", "spin around", "rotate in a loop")
_CIRCLING = re.compile(r"\b(?:circl\w*|around|round|loops?|swirl\w*|spin\w*|spun|rotat\w*)\b", re.IGNORECASE)


def palm_only_way(text: str, way: str) -> bool:
    """Whether ``text`` says ``way`` in core words only as where a palm faces ("raise your
    hand with the palm forward")."""
    patterns = [pattern for name, pattern in _DIRECTION_WORDS if name == way]
    return any(p.search(text) for p in patterns) and not any(p.search(_PALM_WAY.sub(" ", text)) for p in patterns)


def to_and_fro(text: str) -> str | None:
    """The way first gone of a stroke there and back that ``text`` says in so many words ("up
    and down": up; "in and out": forward), else None."""
    m = _TO_AND_FRO.search(_PALM_WAY.sub(" ", text))
    return m.lastgroup if m else None


# a hand moved up or down ("bring the hand down"), not one at rest ("the other hand down")
_HAND_MOVED = re.compile(r"\b(?:bring|brings|brought|bringing|mov\w*|take\w*|took|put\w*|lower\w*|swing\w*|"
                         r"swung|drop\w*|pull\w*|send\w*|sent)\s+(?:the|your|that|this|his|her|their|my)\s+"
                         r"hand\s+(?P<way>down|up)\b", re.IGNORECASE)


def named_direction(text: str) -> str | None:
    """The one direction ``text`` names in core words ("to the right", "upward", "ahead"),
    else None (none, or two: "forward and back" names one, "up, then to the left" two)."""
    said = _NOT_A_WAY.sub(" ", _THUMB_UP.sub(" ", _PALM_WAY.sub(" ", _HAND_MOVED.sub(r" \g<way> ", text))))
    found = {name for name, pattern in _DIRECTION_WORDS if pattern.search(said)}
    found |= {"left" if "left" in m.group(0).lower() else "right" for m in _WAY.finditer(said)}
    found |= {"forward" for _ in _TO_FRONT.finditer(said)}
    return found.pop() if len(found) == 1 else None


# "come to the front", "move it to front": forward (not "in front of", a place)
_TO_FRONT = re.compile(r"\b(?:to|toward|towards)\s+(?:the\s+)?front\b(?!\s+of\b)", re.IGNORECASE)


def states_count(text: str) -> bool:
    """Whether ``text`` says how many times ("twice", "three times", "x2", "a few times")."""
    return bool(_COUNT_SAID.search(text))


# a number of times stated exactly: the core count words, "x3", "3x", "3 times", "once"
_COUNT_NUMBER = [(n, re.compile(r"\b" + re.escape(w.text) + r"\b", re.IGNORECASE))
                 for n, words in COUNTS.items() for w in words if w.core] + \
                [(1, re.compile(r"\bonce\b", re.IGNORECASE))]
_COUNT_DIGITS = re.compile(rf"\b(?:{_DIGIT_COUNT})\b", re.IGNORECASE)


# the same again: "..., then again", "and then once more" (no verb of its own)
_AGAIN = r"(?:again|once\s+more|one\s+more\s+time)"
_THEN_AGAIN = re.compile(rf"\b(?:then|and)\s+(?:once\s+)?{_AGAIN}\b", re.IGNORECASE)
# "once, then again", "once and then once more": twice (within one sentence)
_ONCE_AGAIN = re.compile(rf"\bonce\b[^.;:!?]*?\b{_AGAIN}\b", re.IGNORECASE)


# a number of strokes said as a noun: "two quick touches", "4 small pats"
_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5}
_COUNTED_NOUN = re.compile(r"\b(two|three|four|five|[2-5])\s+(?:[a-z]+,?\s+){0,2}?(?:touches|taps|pats|knocks|strokes|"
                           r"bumps|presses|jabs|pushes|punches|beats|circles|swings|times)\b", re.IGNORECASE)


# the handshape "1" (an index finger) said by its number: "Left 1 hand", "Handshape: 1"
_ONE_SHAPE = re.compile(r"\b1[\s-]+hands?\b|\bhandshape:?\s*1\b", re.IGNORECASE)


def says_one_shape(text: str) -> bool:
    """Whether ``text`` names the handshape 1, an index finger, by its number."""
    return bool(_ONE_SHAPE.search(text))


def says_again(text: str) -> bool:
    """Whether ``text`` asks for its movement once more in so many words ("..., then again")."""
    return bool(_THEN_AGAIN.search(text) or _ONCE_AGAIN.search(text))


def stated_count(text: str) -> int | None:
    """The one number of times ``text`` states exactly ("twice": 2, "x3": 3, "once": 1; "once,
    then again" and "..., then again" with no other number: 2), else None (none, a vague one,
    or two different numbers)."""
    if _ONCE_AGAIN.search(text):
        return stated_count(_ONCE_AGAIN.sub(" twice ", text))
    if _THEN_AGAIN.search(text):
        text = _THEN_AGAIN.sub(" ", text)   # its "once more" is no "once": "tap ..., then once more" is two
        if not states_count(text):
            return 2
    found = {n for n, pattern in _COUNT_NUMBER if pattern.search(text)}
    found |= {_NUMBER_WORDS.get(m.lower(), 0) or int(m) for m in _COUNTED_NOUN.findall(text)}
    found |= {int(next(g for g in m.groups() if g)) for m in _COUNT_DIGITS.finditer(text)}
    return found.pop() if len(found) == 1 else None


# the actions one core verb names by itself ("circles", "patted", "raise your hand"): the first
# word of a core verb's name or frames, but words of moving or putting in general ("move",
# "bring", "put", "draw a line") and a touch's "stop"; a knock and a pat are taps
_VERB_ACTION = {"knock": "tap", "pat": "tap"}
_GENERAL_VERBS = {"move", "bring", "take", "let", "go", "come", "put", "place", "lay", "settle", "land", "pull",
                  "draw", "float", "hit", "thump", "spin", "swirl", "rotate", "stop"}
# a finger or thumb "raised" is a shape's, not a rise
_RAISED_FINGER = re.compile(r"\b(?:thumbs?|fingers?|pinky|pinkies|index)\s+(?:is\s+|are\s+)?raised\b", re.IGNORECASE)


def _inflected(first: set[str]) -> re.Pattern:
    """Any of ``first`` as written, in any of its forms ("tap", "taps", "tapped", "tapping")."""
    return re.compile(r"\b(?:" + "|".join(sorted({form for f in first for form in inflections(f)})) + r")\b",
                      re.IGNORECASE)


_ACTION_WORDS = [(_VERB_ACTION.get(concept, concept), _inflected(_first_words(VERBS[concept], True) - _GENERAL_VERBS))
                 for concept in ("tap", "knock", "pat", "touch", "brush", "rub", "circle", "wave", "wiggle", "clap",
                                 "rise", "drop")]
ACTION_SURE = 0.5          # an action read less surely than this gives way to the one a core verb names
# every verb of each one-way stroke, core or not ("lower" a drop): a stroke said in any of its words
_ANY_STROKE_WORDS = {concept: _inflected(_first_words(VERBS[concept], False)) for concept in ONE_WAY}


_BRUSH_WORDS = _inflected(_first_words(VERBS["brush"], False))


def brush_way(text: str) -> str | None:
    """The one direction said in the clause of a brush, after its verb ("brush the chin
    forward"), not the way the hand came ("raise your hand up to the chin and brush it")."""
    m = _BRUSH_WORDS.search(text)
    return named_direction(re.split(r"[,.;:]|\bthen\b", text[m.end():], maxsplit=1)[0]) if m else None


def named_action(text: str) -> str | None:
    """The one action ``text`` names with a core verb ("the right fist circles": circle), else
    None (none, or two: "tap your chin, then wave")."""
    said = _RAISED_FINGER.sub(" ", _THUMB_UP.sub(" ", text))
    found = {action for action, pattern in _ACTION_WORDS if pattern.search(said)}
    return found.pop() if len(found) == 1 else None


_ABOVE_HEAD = re.compile(r"\b(?:above|over)\s+(?:the\s+|your\s+|ur\s+|his\s+|her\s+|their\s+|one's\s+)?head\b|"
                         r"\boverhead\b", re.IGNORECASE)


def says_above_head(text: str) -> bool:
    """Whether ``text`` puts the hand above the head ("wave your left hand above your head",
    "big slow wave over ur head"), which is no place on it: not the forehead."""
    return bool(_ABOVE_HEAD.search(text))


def says_point(text: str) -> bool:
    """Whether ``text`` says a hand points ("point up", "the index finger points forward";
    not "the fingers pointing up", "the point of the chin")."""
    return bool(_POINTING.search(text))


def points_unshaped(text: str) -> bool:
    """Whether ``text`` says a hand points but names no shape for it ("point forward",
    "pointing up with the right hand"): people point with the index finger."""
    return says_point(text) and not names_shape(text) and not _PALM.search(text)


# verbs people do with a fist
_FIST_VERB = re.compile(r"\b(?:knock|pound|punch)(?:s|es|ed|ing)?\b", re.IGNORECASE)
_TOUCH_SAID = re.compile(r"\b(?:touch\w*|press\w*|tap\w*|brush\w*|rub\w*|pat|pats|patt\w*|against|onto|on)\b",
                         re.IGNORECASE)
_KNOCK = re.compile(r"\b(?:knock|pound|hammer)(?:s|ed|ing)?\b", re.IGNORECASE)
_MOVEMENT_FIELD = re.compile(r"\bmovement:", re.IGNORECASE)
_PATS = re.compile(r"\bpat(?:s|ted|ting)?\b", re.IGNORECASE)
_SURFACE_BELOW = re.compile(r"\b(?:table|desk|floor|ground|counter)\b", re.IGNORECASE)   # knocked on from above


def unshaped_fist(text: str) -> bool:
    """Whether ``text`` names no shape but knocks, pounds or punches: people do that with a fist."""
    return bool(_FIST_VERB.search(text)) and not says_shape(text) and not _PALM.search(text)


def shows_shape(text: str) -> bool:
    """Whether ``text`` only shows a handshape: it names no part of the body (``names_body``)
    and no way of moving (``_MOVING``, a core verb's words), a thumbs-up's "up" aside: "give a
    thumbs up", "show me a V with your left hand"."""
    said = _THUMB_UP.sub(" ", text)
    return not names_body(text) and not _MOVING.search(said) and not _CORE_VERB.search(said)


def fingers_only(text: str) -> bool:
    """Whether ``text`` says only that the fingers open or close ("then curl your fingers in")."""
    return bool(_FINGERS_ONLY.match(text))


def plain_words(text: str, scene: Scene, confidence: dict) -> Scene:
    """``scene`` (the parser's reading of ``text``) with what the text's plain words settle:
    the one core verb it says (``named_action``) where the action is read less surely than
    ``ACTION_SURE``; touches stated in number (``stated_count``) are that many (taps, past
    one); a place named in core words where the parser reads none (``NAMED_PLACE_SURE``; however
    sure, for a hand "on" it); a hand "on" a place touches it (a circle on it rubs it; a
    movement read less surely than ``ON_PLACE_MOVE_SURE`` is the touch); fingers said to open
    or close do (``fingers_way``), and with no word of moving the hand stays where it is
    while they change (``_MOVING``); no word of two hands, one hand (and a
    two-handed action read from it a touch or a hold, and no base hand where the text never
    names the other hand); no place on the other hand or arm where the text says none
    (``says_hand_place``), nor a place read unsurely where it names no part of the body
    (``names_body``); a text that only shows a shape (``shows_shape``), read doing something
    less surely than ``SHOWN_SURE``, holds it in front of the body; one hand that goes
    "across the body" (``across``) and touches no place strokes to the other side; two hands
    "on" a place that no word brings together (``_MEETING``) touch it; taps read unsurely
    (``COUNT_SURE``) as more than two where the text states no number are two; a brush at no
    place goes the one way the text names (``named_direction``); a hand raised or dropped to
    the place (``raised_to``), read touching it unsurely (``RAISED_SURE``), strokes there; as does a stroke read one way
    with a direction another, and a sideways or back-and-forth stroke read less surely than
    ``DIRS_SURE``; a circle with no word of going round (``_CIRCLING``) is the stroke the
    text names; a stroke said there and back ("up and down": ``to_and_fro``) goes there and
    back; two hands that part or
    meet in so many words do (``WAY_REPLACES``). A stroke read as the opposite of the one a
    core verb says, in no word of its own, is the one said; a way said only of the palm
    (``palm_only_way``) gives way to the verb said; a place and a number of times with no verb
    (``says_verb``) are taps there; a base hand the text says rests (``_RESTING_HAND``) is
    none; a brush said "sideways" goes across the body, and so does a stroke read another way
    (``SIDEWAYS_FROM``); a brush goes the way said with it (``brush_way``); a place said in a
    phrase of where ("over the heart": ``at_place``) is where one hand is; "..., then again" is
    the same once more (``says_again``, ``stated_count``); a hand pointed at a place on the body
    with no other word of moving goes to it (``points_at``); a touch brought up or down onto a
    place strokes that way and lands (``onto_way``); a knock or pound on nothing of the body
    strokes the way said (down on a table, else forward), that many times; a hold said to be
    done more than once at a place taps it; out to the side (``_OUT_TO_SIDE``) is the signing
    hand's own side; the other hand named with a shape and no verb (``other_shaped``) is a base;
    a touch of nothing is the stroke said with it or after it; a one-way path is that stroke;
    a finger change read unsurely (``FINGERS_SURE``), or from words of two hands' distance
    ("start close"), that no word says (``fingers_way``) is none; a touch with a stroke one
    way said after a link is that touch, then the stroke; a hand said only to leave its place
    ("out from the chest": ``leaves_from``) strokes from it."""
    verb = named_action(text)
    if verb and verb != scene.action and (verb not in CONTACT_ACTIONS or scene.place) and \
            (confidence["action"] < ACTION_SURE or scene.dirs and palm_only_way(text, scene.dirs[0])):
        # "the right fist circles twice": 0.31 a clap; "raise your right hand with the palm
        # forward": 0.99 a push forward, the way the palm faces
        scene = replace(scene, action=verb, dirs=(ONE_WAY[verb],) if verb in ONE_WAY else (),
                        contact=verb in CONTACT_ACTIONS)
    if verb in ONE_WAY and scene.action in ONE_WAY and ONE_WAY[scene.action] == OPPOSITE[ONE_WAY[verb]] and \
            not _ANY_STROKE_WORDS[scene.action].search(text):
        # the stroke the text says, never its opposite: "raise the right index finger slowly to
        # the nose" was read at 0.56 as a drop
        scene = replace(scene, action=verb, dirs=(ONE_WAY[verb],))
    said = stated_count(text)
    if scene.then and says_again(text):   # "..., then again" is the same once more, no movement after it
        scene = replace(scene, then="", then_dirs=(), then_count=1)
    if scene.action in ("tap", "touch") and not scene.then and \
            (said and said != scene.count or scene.action == "touch" and scene.count > 1):
        # touches stated in number are that many: the grammar never touches twice, and the
        # parser read "touch your chin twice" at 0.99 as one touch
        count = said or scene.count
        scene = replace(scene, action="tap" if count > 1 else "touch", count=count)
    named = named_place(text)
    if scene.place is None and named and (confidence["place"] < NAMED_PLACE_SURE or on_place(text, named) or
                                          scene.action not in TWO_HANDED and at_place(text, named) or
                                          scene.contact and scene.action in CONTACT_ACTIONS):
        # "put your hand on your heart", "circle the right fist over the heart" (0.97 in the
        # space in front of the body; but two hands "touching at the chest" that part are made
        # there, in front of it); a touch is somewhere: "touches the left side of the chest"
        # was read at 0.98 in the space in front of the body
        scene = replace(scene, place=named)
    elif named and scene.place not in (None, named) and scene.place not in ON_OTHER_HAND:
        # the one place the text names is where it is: "brushes the heart" was read at 0.95 at the eye
        scene = replace(scene, place=named, place_side=scene.place_side if named in SIDED_PLACES else "")
    if scene.place and not scene.contact and on_place(text, scene.place):   # "a small circle on the chest"
        action = {"circle": "rub", "hold": "touch"}.get(scene.action, scene.action)
        if action not in CONTACT_ACTIONS and confidence["action"] < ON_PLACE_MOVE_SURE:
            # "put your hand on your heart" read at 0.74 as a rise; "beats on the stomach three
            # times" at 0.40 as a wave: touches said in number are taps
            action = "tap" if (said or scene.count) > 1 else "touch"
        if action in TWO_HANDED and not _MEETING.search(text):
            action = "touch"      # "put both hands on your chest" was read at 0.81 as hands meeting
        scene = replace(scene, contact=True, action=action)
    if named and points_at(text, named) and not _MOVING.search(_POINTS_AT.sub(" ", text)):
        # "point at your own chest": the finger goes to the place, as one points at oneself; it
        # was made at the place and then pushed forward, circled or waved
        count = said or 1
        scene = replace(scene, place=named, place_side=scene.place_side if named in SIDED_PLACES else "",
                        contact=True, action="tap" if count > 1 else "touch", count=count, dirs=(),
                        then="", then_dirs=(), then_count=1)
    if scene.place and confidence["place"] < UNNAMED_PLACE_SURE and not names_body(text):
        scene = replace(scene, place=None, place_side="", contact=False)   # "move your index finger down"
    if said and said > 1 and scene.place and scene.hands != "both" and not says_verb(text):
        # no verb, a place and a number of times ("right fist to chest, twice", read at 0.59 as
        # hands coming together): touches there, that many
        scene = replace(scene, action="tap", contact=True, count=said, dirs=(), then="", then_dirs=(), then_count=1)
    if said and said > 1 and (scene.action in ONE_WAY or scene.action == "brush") and scene.count != said \
            and not scene.then:
        # "two short forward jabs with the left V hand": one push; "brush your chest ..., two
        # quick downward strokes": one brush
        scene = replace(scene, count=said)
    if said and said > 1 and scene.action == "hold" and scene.place and scene.hands != "both":
        # a hold cannot be done twice: "dominant index finger contacts the forehead twice" held it
        scene = replace(scene, action="tap", contact=True, count=said)
    if confidence["action"] < SHOWN_SURE and shows_shape(text):   # "give a thumbs up": 0.31 a mouth touch
        scene = replace(scene, place=None, place_side="", contact=False, action="hold", dirs=(), count=1,
                        then="", then_dirs=(), then_count=1)
    if scene.hands == "one" and scene.place in ON_OTHER_HAND and not says_hand_place(text, scene.side):
        scene = replace(scene, place=None, place_side="", contact=False)   # "raise your fist" read near the fingers
    if not _PLURAL.search(_COUNTED_NOUN.sub(" ", _PALM_WAY.sub(" ", text))):
        # "tap your temple with two fingers"; not "palms down" nor "two hard, angry taps"
        if scene.hands == "both":
            scene = replace(scene, hands="one")
        if scene.hands == "base" and not names_other_hand(text, scene.side):   # "holds the forefinger still"
            scene = replace(scene, hands="one", base_shape="")
            if scene.place in ON_OTHER_HAND and not says_hand_place(text, scene.side) and \
                    not re.search(r"\bfinger(?:s|tips)\b(?!\s+(?:together|spread|apart|straight|extended))", text,
                                  re.IGNORECASE):
                # "wag your finger": its own; not a shape's "fingers together"
                scene = replace(scene, place=None, place_side="", contact=False)
        if scene.action in TWO_HANDED:   # no word of two hands meeting: a misread
            at = scene.contact and scene.place                 # touches counted at a place are taps
            action = ("tap" if scene.count > 1 else "touch") if at else "hold"
            scene = replace(scene, action=action, count=scene.count if action == "tap" else 1)
    if scene.action == "tap" and not scene.place and scene.hands != "both" and \
            (_KNOCK.search(text) or _PATS.search(text) or named_direction(text)):
        # a knock, pat or tap on nothing of the body strikes what is struck, stroke by stroke:
        # "pretend to knock on a door" tapped the air in place; on a table, or a pat, down; a
        # hammer pounds the way said ("pat the dog: ... three soft pats downward")
        way = named_direction(text) or ("down" if _SURFACE_BELOW.search(text) or _PATS.search(text) else "forward")
        scene = replace(scene, action=STROKE_DIRS[way], dirs=(way,), contact=False, count=said or max(scene.count, 2))
    if scene.hands != "both" and not scene.place and _OUT_TO_SIDE.search(text) and \
            scene.action in ("side", "push", "pull", "brush", "hold", "touch") and scene.dirs[:1] != (scene.side,):
        # out to the hand's own side: "moved out to the side, away from the middle of the body"
        # was read going forward ("away")
        scene = replace(scene, action="side", dirs=(scene.side,), contact=False, then="", then_dirs=())
    if scene.action == "rub" and not scene.place and _CIRCLING.search(text):
        scene = replace(scene, action="circle", contact=False)   # "polish ... with your palm, round and round"
    if scene.hands in ("one", "base") and (other := other_shaped(text, scene.side)):
        # the other hand named with a shape and no verb is a base, of that shape: "left hand
        # flat at the chest, right index finger taps it" (it tapped the chest, the left hand down)
        at_it = re.search(_CORE_VERB.pattern + r"\s+it\b", text, re.IGNORECASE) and scene.action in CONTACT_ACTIONS \
            and scene.place not in ON_OTHER_HAND
        base = "s" if other.group("fist") else scene.base_shape if scene.hands == "base" else "open_b"
        scene = replace(scene, hands="base", base_shape=base,
                        place="palm" if at_it else scene.place, place_side="" if at_it else scene.place_side)
    if scene.hands == "base" and scene.place not in ON_OTHER_HAND and \
            still_side(text, _RESTING_HAND) == scene.other:
        scene = replace(scene, hands="one", base_shape="")   # "let the left hand hang at rest while the right pats"
    if not scene.fingers and scene.action not in TWO_HANDED and (change := fingers_way(text)):   # not "close in"
        scene = replace(scene, fingers=change)
    elif scene.fingers and not fingers_way(text) and (confidence.get("fingers", 1.0) < FINGERS_SURE or
                                                     (two_hands_way(text) or scene.action in TWO_HANDED) and
                                                     not _FINGER_CHANGE_WORD.search(
                                                         _HANDS_CLOSE.sub(" ", text))):
        # "fists ... close in until the knuckles bump": opening at 0.60; "both open hands start
        # close, then move apart": the hands start close, the fingers do not close
        scene = replace(scene, fingers="")
    if scene.fingers and scene.action in MOVING_ACTIONS and not _MOVING.search(_FINGERS_SAID.sub(" ", text)):
        scene = replace(scene, action="hold", dirs=(), count=1)     # "make a fist, then open your hand"
    if scene.hands != "both" and scene.action in ACROSS_FROM and not (scene.contact and scene.place) \
            and (way := across(text, scene.side)):
        # "swing your fist across your body" was read at 0.48 as a touch at no place
        scene = replace(scene, action="side", dirs=(way,), contact=False, then="", then_dirs=(), then_count=1)
    if scene.action == "brush" and scene.hands != "both" and scene.dirs[:1] not in (("left",), ("right",)) \
            and _SIDEWAYS.search(text) and not _WAY.search(text):
        # "sweeps sideways across the chest" was read at 0.87 as a brush down ("sweep across
        # your chest" alone is the grammar's brush, any way): across the body
        # a brush in the air is a stroke: "go sideway like wipe the board"
        scene = replace(scene, dirs=(scene.other,), action="brush" if scene.place else "side")
    elif scene.action in SIDEWAYS_FROM and scene.hands != "both" and scene.dirs[:1] not in (("left",), ("right",)) \
            and _SIDEWAYS.search(text) and not _WAY.search(text) and not named_direction(text) \
            and not to_and_fro(text):
        # "slide your left hand sideways across your stomach" was read at 0.61 as down and
        # back: a stroke across the body
        scene = replace(scene, action="side", dirs=(scene.other,), count=1)
    if scene.action in CONTACT_ACTIONS and confidence.get("action", 1.0) < RAISED_SURE \
            and (stroke := raised_to(text, scene.place)):   # "raise your right fist to your chin": a brush at 0.32
        scene = replace(scene, action=stroke, dirs=(ONE_WAY[stroke],), contact=False, count=1)
    elif scene.action == "touch" and scene.contact and (stroke := onto_way(text, scene.place)):
        # "the signer brings the right V down onto the chest": the hand comes down and lands on
        # it (it was a touch, the hand coming up to the chest from where it hangs)
        scene = replace(scene, action=stroke, dirs=(ONE_WAY[stroke],), count=1)
    if scene.action == "back_forth" and not scene.dirs and verb == "wave":
        scene = replace(scene, action="wave")   # "right hand waves, three back-and-forth swings": no way to swing
    if scene.action == "path" and len(scene.dirs) == 1 and scene.dirs[0] in STROKE_DIRS:
        # a path one way is that stroke: "travels downward from chest level to the waist" went sideways
        scene = replace(scene, action=STROKE_DIRS[scene.dirs[0]])
    fro = to_and_fro(text)
    if fro and not scene.contact and scene.action in ("hold", *MOVING_ACTIONS) and \
            not (scene.action == "back_forth" and scene.dirs[:1] in ((fro,), (OPPOSITE[fro],))):
        # "shake your right fist up and down" was read at 0.86 as a rise
        scene = replace(scene, action="back_forth", dirs=(fro,))
    elif not fro and _SWUNG.search(text) and scene.action in ("brush", "touch", "hold", "side") and not scene.then:
        # a swing said "back and forth" or "side to side" with no way of its own is sideways:
        # "scrubbing back and forth over your mouth" was a brush down, "three big swipes, side
        # to side" one brush to the left
        scene = replace(scene, action="back_forth", dirs=("right",), count=said or 1, then="", then_dirs=())
    way_said = named_direction(text)
    if scene.action in ("together", "clap") and way_said in ONE_WAY.values() and not two_hands_way(text) and \
            not _MEETING_WORD.search(text):
        # two hands said to go one way, in no word of meeting: "both open hands come up slowly to
        # cover her face" was read as hands meeting at the cheek
        scene = replace(scene, action=STROKE_DIRS[way_said], dirs=(way_said,), contact=False, count=1)
    links = cuts(text)
    if scene.action == "touch" and scene.place and not scene.then and links and \
            (way := named_direction(text[links[-1][1]:])) in STROKE_DIRS and not named_place(text[links[-1][1]:]) \
            and named_direction(text[:links[-1][0]]) is None:
        # a touch, then a stroke one way said after a link the parser did not read ("the fingers
        # ... go on the mouth and after they come to front"): that stroke after the touch
        scene = replace(scene, then=STROKE_DIRS[way], then_dirs=(way,))
    if scene.action == "touch" and not scene.place and scene.then_dirs and scene.then_dirs[0] in STROKE_DIRS and \
            (not scene.then or scene.then in STROKE_DIRS.values()) and \
            not _TOUCH_SAID.search(text[:links[0][0]] if links else text):
        # a touch of nothing, said in no word of touching, then a stroke: the stroke ("first make
        # a V with the left hand, then push it forward two times" pushed once, after touching
        # nothing; not "pressed against the jaw, then thrust forward", a place unread)
        scene = replace(scene, action=scene.then or STROKE_DIRS[scene.then_dirs[0]], dirs=scene.then_dirs[:1],
                        contact=False,
                        count=said or scene.then_count, then="", then_dirs=(), then_count=1)
    if scene.action == "touch" and scene.place and _MOVEMENT_FIELD.search(text) and not says_point(text) and \
            not _TOUCH_SAID.search(text) and (way := named_direction(text)) and \
            not re.search(_TOWARD + _PLACE_WORDS[scene.place].pattern if scene.place in _PLACE_WORDS else "$^", text,
                          re.IGNORECASE):
        # a dictionary's fields, a place and a movement one way with no word of touching and no
        # stroke to the place: the stroke from it ("Location: forehead. Handshape: B. Movement:
        # moves forward, away from the head" touched it)
        scene = replace(scene, action=STROKE_DIRS[way], dirs=(way,), contact=False, then="", then_dirs=(), then_count=1)
    if scene.action == "touch" and not scene.place and not says_point(text) and \
            (way := named_direction(text[:links[0][0]] if links else text)):
        # a touch of nothing, with a way said before any "then": "open palm facing the floor,
        # press it down" (not "pressed against the jaw, then thrust forward": a touch, then a push)
        scene = replace(scene, action=STROKE_DIRS[way], dirs=(way,), contact=False, count=1,
                        then="", then_dirs=(), then_count=1)
    if way_said and scene.action == "circle" and not _CIRCLING.search(text):
        # no word of going round: "the signer moves both flat hands down" was read at 0.56 as a circle
        scene = replace(scene, action=STROKE_DIRS[way_said], dirs=(way_said,))
    if way_said and scene.action == "brush" and scene.place is None:
        # a brush through the air is a stroke: "sweep your left hand to the right"
        scene = replace(scene, action=STROKE_DIRS[way_said], dirs=(way_said,), contact=False)
    elif way_said and scene.action in ONE_WAY and (scene.dirs[:1] != (ONE_WAY[scene.action],) or
                                                   ONE_WAY[scene.action] != way_said):
        # a stroke read one way with a direction another ("bring your left fist up to your
        # mouth": a rise downward), or read going another way than the one the text names
        # ("push down twice": a push forward at 0.69): the way the text names
        scene = replace(scene, action=STROKE_DIRS[way_said], dirs=(way_said,))
    elif scene.action == "brush" and (way := brush_way(text)) and scene.dirs[:1] != (way,):
        # a brush at a place goes the way said with it: "brush the chin forward with the back
        # of the right fingers" was read at 0.66 as a brush down
        scene = replace(scene, dirs=(way,))
    elif scene.action in ("side", "back_forth") and way_said and scene.dirs[:1] != (way_said,) and \
            confidence.get("dirs", 1.0) < DIRS_SURE and (scene.action != "side" or way_said in ("left", "right")):
        scene = replace(scene, dirs=(way_said,) + tuple(scene.dirs[1:]))   # "up and back" read at 0.5 "right"
    if scene.action == "tap" and scene.count > 2 and confidence.get("count", 1.0) < COUNT_SURE and not states_count(text):
        scene = replace(scene, count=2)     # "tap your left palm with your index finger" read at 0.45 as three
    way = two_hands_way(text)
    swung = scene.action == "back_forth" and not to_and_fro(text) and not _THERE_AND_BACK.search(text)
    if way and scene.action != way and (scene.action in WAY_REPLACES or swung) and scene.hands != "base" and \
            not (scene.place and scene.contact and named_place(text)):
        # "spread both hands apart in front of the stomach": together; "slap both flat hands
        # together once" was read touching the chest; "both arms swing out wide to the sides"
        # (no word of going there and back) as a swing back and forth
        scene = replace(scene, action=way, hands="both", dirs=(), contact=False, then="", then_dirs=())
    if stroke := leaves_from(text, scene):
        # "jab forward with the left fist, out from the chest" was read at 0.x as a touch of it
        scene = replace(scene, action=stroke, dirs=(ONE_WAY[stroke],), contact=False, then="", then_dirs=(), then_count=1)
    return scene


def leaves_from(text: str, scene: Scene) -> str | None:
    """The stroke of a hand said only to leave its place ("jab forward ..., out from the
    chest"): where the scene touches or holds at a place the text names (in core words) only
    after "from", the stroke of the one way it names (``named_direction``; a stroke the parser
    read after the touch is that stroke), else None."""
    pattern = _PLACE_WORDS.get(scene.place or "")
    if scene.action not in ("touch", "tap", "hold") or pattern is None:
        return None
    key = re.sub(r"[^a-z]", "_", scene.place or "")
    froms = [m for m in _FROM.finditer(text) if m.group(key)]
    if not froms or len(froms) != len(pattern.findall(text)):
        return None
    return STROKE_ACTIONS.get(named_direction(text) or "")


# a hand said to stay put, by its side: "keeping the left hand down", "the right hand stays
# at rest", "left hand still" (the grammar says "the other hand" for one that rests, and the
# side only of a still base: "keep your left fist still")
_REST_STATE = (rf"(?:down|at rest|relaxed|lowered|(?:at|by) {_DETERMINER} side|hang\w*|not\s+moving|(?:does|do)\s*n(?:o|')t\s+move|"
               r"doing nothing|does nothing|idle|limp|(?:should|must|will)\s+not\s+(?:come up|move|be used))\b")
_STILL_STATE = rf"(?:{_REST_STATE}|still|motionless|a still base)\b"


def _hand_in(state: str) -> re.Pattern:
    """A hand named by its side said to be in ``state``: its side is a group."""
    return re.compile(
        rf"\b(?:keep\w*|leav\w*|hold\w*|held)\s+{_DETERMINER}\s+(left|right)\s+(?:hand|arm|fist)\s+{state}|"
        rf"\b(left|right)\s+(?:hand|arm|fist|one)\s+(?:(?:stays?|remains?|rests?|is|is held|is kept|held|kept|hangs?|"
        rf"staying|remaining|resting|hanging|waits?|waiting|loose|loosely)\s+)?(?:(?:just|simply|still|quietly)\s+)?"
        rf"(?:(?:hanging|resting|parked|there)\s+){{0,2}}{state}|"
        # said before the hand: "no action on the left hand", "no movement from the right arm"
        rf"\bno\s+(?:action|movement|motion)\s+(?:on|for|from|with|in|of)\s+{_DETERMINER}\s+(left|right)\s+(?:hand|arm)\b",
        re.IGNORECASE)


_STILL_HAND = _hand_in(_STILL_STATE)
# a hand at rest in words no moving hand is said in ("hangs", "at your side", "doing nothing";
# not "down": "move your right fist down to your stomach")
_IDLE_HAND = _hand_in(rf"(?:at rest|(?:at|by) {_DETERMINER} side|hang\w*|not\s+moving|(?:does|do)\s*n(?:o|')t\s+move|"
                      r"doing nothing|does nothing|idle|limp|(?:should|must|will)\s+not\s+(?:come up|move|be used))\b")
# a hand said to rest, by its side ("let the left hand hang at rest"), not held still as a base
_RESTING_HAND = _hand_in(_REST_STATE)


# the non-dominant hand said to sign (not to stay put), and the dominant one named
_NON_DOMINANT_SIGNS = re.compile(r"\bnon-?dominant\s+(?:hand|fist|index|finger)s?\b(?!\s+(?:stays?|remains?|rests?|"
                                 r"is|held|kept|still|down|at|hangs?|hanging|resting|waits?)\b)"
                                 r"|\bhand:\s*non-?dominant\b", re.IGNORECASE)
_DOMINANT = re.compile(r"(?<!non-)(?<!non)\bdominant\b", re.IGNORECASE)


# the signing hand named alone, as a fragment or a field: "..., push it away. Left hand.", "Hand: right"
_HAND_FRAGMENT = re.compile(r"(?:^|[.;:,!?]|\s[-\u2013\u2014])\s*(?:hand:\s*)?(left|right)(?:\s+hand)?(?:\s+only)?\s*(?:[.;!]|$)",
                            re.IGNORECASE)


def fragment_side(text: str) -> str | None:
    """The one side ``text`` names in a fragment of its own ("Left hand.", "Hand: right"), else None."""
    sides = {m.lower() for m in _HAND_FRAGMENT.findall(text)}
    return sides.pop() if len(sides) == 1 else None


def instrument_side(text: str, hand_named: bool = False) -> str | None:
    """The one side ``text`` signs "with" or "using" ("with your right ..."), else None. With
    ``hand_named``, only a hand named so and not said to stay put ("with the right flat hand";
    not "with the left open palm", a place, nor "with your left hand held still")."""
    instruments = {m.lower() for m in (_INSTRUMENT_HAND if hand_named else _INSTRUMENT).findall(text)}
    return instruments.pop() if len(instruments) == 1 else None


_INSTRUMENT_HAND = re.compile(_WITH_SIDE + r"(?:\s+[\w-]+)?\s+(?:hand|fist|index|finger|thumb)s?\b"
                              r"(?!\s+(?:held|kept|still|at|down|resting|hanging|stays?|remains?|is)\b)", re.IGNORECASE)


def acting_side(text: str) -> str | None:
    """The one side whose hand ``text`` names as doing a core verb ("right index finger taps
    it"), else None (none, or both)."""
    sides = {m.lower() for m in _ACTING.findall(text)}
    return sides.pop() if len(sides) == 1 else None


def other_shaped(text: str, side: str) -> re.Match | None:
    """Where ``text`` names the hand that does not sign, while ``side``'s hand does a core verb
    (``acting_side``), with a shape and no verb of its own ("left hand flat at the chest, right
    index finger taps it": a base hand), else None; its group "fist" says a fist."""
    if acting_side(text) != side:
        return None
    return re.search(_OTHER_SHAPED.format(side="left" if side == "right" else "right"), text, re.IGNORECASE)


def still_side(text: str, said: re.Pattern = _STILL_HAND, alone: bool = False) -> str | None:
    """The one side whose hand ``text`` says stays put ("keeping the left hand down") while it
    names the other hand too, else None ("the right hand stays still in front of the body" is
    a hold, signed with the right). ``said``: how it is said to stay (``_RESTING_HAND``: at
    rest, not still as a base); ``alone``: whether or not the other hand is named (a hand at
    rest by the side signs nothing)."""
    sides = {next(g for g in groups if g).lower() for groups in said.findall(text)}
    if len(sides) != 1:
        return None
    still = sides.pop()
    if alone:
        return still
    other = "left" if still == "right" else "right"
    rest = said.sub(" ", text)
    # the other hand named ("right hand"), or its side said of a shape ("the right V starts ...")
    named = named_hand(rest) == other or (named_hand(rest) is None and re.search(rf"\b{other}\s+(?:V|fist|index|"
                                                                              rf"pointer|thumbs?|flat|open|spread)\b",
                                                                              rest, re.IGNORECASE) is not None)
    return still if named else None


def choose_side(text: str, parsed: str, confidence: float, hand: str | None = None, on_hand: str = "") -> str:
    """The hand that signs ``text``: the other one than ``hand`` (else the left) where it says
    the non-dominant hand signs; ``hand`` (else the right) when the text never says left
    or right; the one it signs "with" or "using" when it names one so (``_INSTRUMENT``); the
    other one than ``on_hand``, the side of a place read on a hand or arm ("the right palm is
    touched with the hand": no hand touches its own palm); the other one than a hand it says
    stays put (``still_side``); the one named doing the verb while the other is named too
    (``acting_side``); the one hand named with its side where the other side is never said
    (``_only_hand_named``: "left fist"); the parser's reading when it is
    sure (``SIDE_SURE``), as it reads "the right clawed hand ... the left fingers" whole;
    else the hand a rule finds named (``motion.hands.named_hand``), else the parser's."""
    if _NON_DOMINANT_SIGNS.search(text) and not _DOMINANT.search(text) and not says_side(text):
        return "left" if (hand or "right") == "right" else "right"   # "non-dominant hand only: the index ..."
    if not says_side(text):
        return hand or "right"
    if instrument := instrument_side(text):     # "pat your left shoulder with your right hand": the right pats
        return instrument
    if fragment := fragment_side(text):   # "Handshape: 5, palm in. Location: chest. ... Left hand.": read right
        return fragment
    if on_hand in ("left", "right"):
        return "left" if on_hand == "right" else "right"
    if (acting := acting_side(text)) and names_other_hand(text, acting):
        return acting     # "left hand flat at the chest, right index finger taps it": read left at 1.00
    if still := still_side(text) or still_side(text, _IDLE_HAND, alone=True):
        # "keeping the left hand down, circle the right index finger": read left; "the writing
        # (right) hand hangs limp, and the other hand ... draws a big circle": read right
        return "left" if still == "right" else "right"
    if (only := _only_hand_named(text)) and only != parsed:
        return only       # "From the face until the belly, left fist it travel to down": read right at 0.82
    if confidence >= SIDE_SURE:
        return parsed
    return named_hand(text) or parsed


_SIDE_HAND = re.compile(r"\b(left|right)\s+(?:[\w-]+\s+)?(?:hand|fist|index|finger|thumb|pointer)s?\b"
                        # a shape and then its side, ending a phrase: "thumbs up left, shove it forward"
                        r"|\b(?:thumbs?[- ]up|fist|hand|index|finger|pointer|V)\s+(left|right)\b(?=\s*(?:[,.;:!]|$))",
                        re.IGNORECASE)


_BASE_WORDS = re.compile(r"\b(?:base|still|passive|wait\w*|rest\w*|stays?|held|kept|motionless|non-?dominant|"
                         r"dominant|at\s+\w+\s+side)\b", re.IGNORECASE)


def _only_hand_named(text: str) -> str | None:
    """The side of the one hand ``text`` names with its side ("left fist"), where the other
    side is never said at all and no hand is said to stay put or be a base (the grammar names
    only the base's side: "the left hand is a passive base"), else None."""
    sides = {(a or b).lower() for a, b in _SIDE_HAND.findall(text)}
    if len(sides) != 1 or _BASE_WORDS.search(text):
        return None
    side = sides.pop()
    return None if re.search(r"\b" + ("right" if side == "left" else "left") + r"\b", text, re.IGNORECASE) else side


def names_palm(text: str) -> bool:
    """Whether ``text`` names a palm other than by the way it faces or where a thumb lies
    ("put your palm on your chest"; not "palm facing down", "the thumb across the palm")."""
    return _PALM.search(_THUMB_ACROSS.sub(" ", _PALM_WAY.sub(" ", text))) is not None


def unthumbed(shape: str | None, text: str) -> str | None:
    """``shape`` (a shape read from ``text``), but a thumbs-up where the text says no thumb:
    then a fist where it says one ("raise your fist up to your forehead" was read at 0.84 as
    a thumbs-up), else no shape read ("raise your right hand up" was a thumbs-up too)."""
    if shape in THUMB_SHAPES and not _THUMB.search(text):
        return "s" if _FIST.search(text) else None
    return shape


def says_hand_place(text: str, side: str) -> bool:
    """Whether ``text`` says a place on the other hand or arm could be meant: it names that
    hand (``names_other_hand``) or a part of a hand or arm (``_HAND_PLACE_WORD``, palm ways
    aside). "Raise your fist" does neither; the parser read it at 0.56 as near the fingers,
    which raised the other hand as a base."""
    text = _PALM_WAY.sub(" ", text)     # "palm facing left" names neither a palm as a place nor a hand
    text = _WITH_PART.sub(" ", text)    # nor does the hand's own part it signs with ("with your right palm")
    return names_other_hand(text, side) or bool(_HAND_PLACE_WORD.search(text))


# the part of the signing hand it signs with: "with your right flat palm", "using the fingertips"
_WITH_PART = re.compile(rf"\b(?:with|using)\s+(?:{_DETERMINER}\s+|a\s+)?(?:(?:left|right)\s+)?(?:\w+\s+)?"
                        r"(?:palms?|fingertips?|knuckles?)\b", re.IGNORECASE)


def hand_place_side(text: str) -> str:
    """The side of the one hand or arm ``text`` names as a place ("the right palm is touched
    with the hand": right), "" where it names none or both."""
    sides = {(a or b).lower() for a, b in _SIDED_HAND_PLACE.findall(text)}
    return sides.pop() if len(sides) == 1 else ""


def names_other_hand(text: str, side: str) -> bool:
    """Whether ``text`` names the hand that does not sign: by its side ("the left hand held
    still", "L hand still"; a direction names none) or as the other, base or non-dominant one."""
    text = _WAY.sub(" ", text)
    other = "left" if side == "right" else "right"
    return bool(re.search(rf"\b{other}\b", text, re.IGNORECASE) or re.search(rf"\b{other[0].upper()}\b", text)
                or _OTHER_HAND.search(text))


def says_side(text: str) -> bool:
    """Whether ``text`` says left or right of a hand (words, or the terse notes' L and R); a
    direction ("moves to the left") names no hand."""
    text = _WAY.sub(" ", text)
    return bool(_SIDE_WORD.search(text) or _SIDE_LETTER.search(text))


_WIDTH = re.compile(r"\b\w+[- ]width\b", re.IGNORECASE)


def named_place(text: str) -> str | None:
    """The one body place ``text`` names in the vocabulary's core words (the other hand's
    and arm's places aside, phrases of the space in front of the body and of the palm's way),
    else None."""
    text = _WIDTH.sub(" ", _PALM_WAY.sub(" ", _NEUTRAL_PHRASE.sub(" ", text)))   # "shoulder-width apart": no place
    found = [place for place, pattern in _PLACE_WORDS.items() if pattern.search(text)]
    return found[0] if len(found) == 1 else None


# a part of the body named in other words than a place's core ones ("the side of the face"):
# plain nouns, never a synonym of the vocabulary's (a held-out one would leak into the test)
_BODY_WORD = re.compile(r"\b(?:face|head|torso|body|fingers)\b", re.IGNORECASE)
# a thumbs-up is said with its thumb ("thumbs up", "fist with the thumb raised")
_THUMB = re.compile(r"\bthumbs?\b", re.IGNORECASE)
_FIST = re.compile(r"\bfists?\b", re.IGNORECASE)
_PALM = re.compile(r"\bpalms?\b", re.IGNORECASE)
_THUMB_ACROSS = re.compile(r"\bacross the palm\b", re.IGNORECASE)   # where a thumb lies: the shape's, not the hand's name
THUMB_SHAPES = frozenset(shape for shape, concept in HANDSHAPE_CONCEPT.items() if concept == "thumb_fist")


def names_body(text: str) -> bool:
    """Whether ``text`` names any part of the body: a place's core word, a part of a hand
    or arm (``_HAND_PLACE_WORD``), or a body word (``_BODY_WORD``), palm ways aside."""
    text = _PALM_WAY.sub(" ", text)
    return bool(any(p.search(text) for p in _PLACE_WORDS.values()) or _HAND_PLACE_WORD.search(text)
                or _BODY_WORD.search(text))


_ON = "on|onto|against"
_AT = _ON + "|over|above|at|beside|by|near|next to|close to|location:"   # and a dictionary's "Location: chest"


def _said_at(text: str, place: str, prepositions: str) -> bool:
    """Whether ``text`` names ``place`` in its core names right after one of ``prepositions``."""
    pattern = _PLACE_WORDS.get(place)
    return pattern is not None and re.search(
        rf"\b(?:{prepositions})\s+(?:(?:the|your|his|her|their|my|own|left|right)\s+)*" + pattern.pattern, text,
        re.IGNORECASE) is not None


def at_place(text: str, place: str) -> bool:
    """Whether ``text`` says the hand is at ``place`` in a phrase of where ("over the heart",
    "at the chin", "beside your ear", "near the forehead"; "on" it too), in core names."""
    return _said_at(text, place, _AT)


_POINTING_AT = r"point(?:s|ed|ing)?\s+(?:at|to|toward|towards)"
_POINTS_AT = re.compile(rf"\b{_POINTING_AT}\b", re.IGNORECASE)


def points_at(text: str, place: str) -> bool:
    """Whether ``text`` says the hand points at ``place`` ("point at your own chest", "points
    to her forehead"), in the place's core names."""
    return _said_at(text, place, _POINTING_AT)


def on_place(text: str, place: str) -> bool:
    """Whether ``text`` puts the hand "on" or "against" ``place`` (in the place's core names):
    a hand on a place touches it, and circles on it rub it."""
    return _said_at(text, place, _ON)


def two_hands_way(text: str) -> str | None:
    """"apart" or "together" where ``text`` says the two hands part or meet in so many
    words (``_TWO_WAYS``), the last said; else None."""
    text = _START_APART.sub(" ", _PALM_WAY.sub(" ", text))   # not "palms away from each other"
    found = [m.lastgroup for m in _TWO_WAYS.finditer(text)]
    return found[-1] if found else None


# who signs with what, opening a clause: "the signer", "the left hand", "both open hands"
_SUBJECT = (r"(?:the\s+signer|(?:the|your|his|her|their|my|its|both)\s+(?:(?:left|right|open|flat|spread|two)\s+)*"
            r"(?:hands?|fists?|fingers?|index|thumbs?|arms?|palms?|V)\b)")
# an aside that likens the movement to something ("..., like stopping someone", "as if saying
# no"): what it is like, not what to do; the parser read ", like stopping someone" as a touch
_ASIDE = re.compile(r",\s*(?:just\s+)?(?:like|as if|as though|(?:it|this|that|which)\s+means|meaning)\b[^,.;:!?]*"
                    # an aside ends at the next clause that goes on with the movement ("..., like a tray,
                    # and let your right fist knock on it twice") or names who signs with what ("..., as
                    # if she has just heard wonderful news, the signer raises both open hands ...")
                    r"(?:,(?!\s*(?:and|then|while|before|after|so|but)\b|\s*" + _SUBJECT + r")[^,.;:!?]*)*|"
                    r"(?:^|(?<=[.;:!?]))\s*(?:just\s+)?(?:like|as if|as though)\b[^,.;:!?]*,\s*|"
                    # a likeness to someone doing something, with no comma: "punch your left fist
                    # straight forward like you're having a bash at a punchbag"
                    r"\s+(?:just\s+)?(?:like|as if|as though)\s+(?:you|you're|you are|she|she's|he|he's|they|they're|"
                    r"I|I'm|someone|somebody)\b[^,.;:!?]*|"
                    # or to doing something: "yank them apart as if pulling open a cracker" (read as
                    # three taps of the temple)
                    r"\s+(?:just\s+)?(?:as if|as though)\s+\w+ing\b[^,.;:!?]*", re.IGNORECASE)


# how fast, said in a word the grammar never writes: the signer's tempo (> 1 slower)
TEMPO_WORDS = {"slowly": 1.5, "gradually": 1.5, "leisurely": 1.5, "gently": 1.2, "softly": 1.2, "calmly": 1.2,
               "quickly": 0.75, "rapidly": 0.75, "swiftly": 0.75, "briskly": 0.75, "sharply": 0.8}
_TEMPO = re.compile(r"\s*\b(?:" + "|".join(TEMPO_WORDS) + r")\b,?", re.IGNORECASE)


# an animator's timing and feel, which say nothing of where the hand goes: beats and counts
# ("on the downbeat", "One beat.", "over a slow count of four"), easing ("ease out at the
# top"), and words of force the grammar never writes ("punch it forward hard": the parser read
# "... hard on the beat" as a touch of the mouth)
_NUMBER_WORD = r"(?:one|two|three|four|five|six|seven|eight|\d+)"
_TIMING = re.compile(
    r"\s*(?:,\s*)?\b(?:"
    r"(?:on|to|with|at|in|for|after)\s+(?:the|a|each|every|one)\s+(?:\w+\s+)?(?:down|up|off)?beats?"
    rf"|(?:a|half\s+a|{_NUMBER_WORD})\s+beats?(?:\s+of\s+(?:silence|stillness|rest|pause|nothing))?"
    rf"|beat\s+{_NUMBER_WORD}"
    rf"|(?:on|over|for|to|in|by)\s+(?:a|the)\s+(?:\w+\s+)?count\s+of\s+{_NUMBER_WORD}"
    r"|eas(?:e|es|ed|ing)\s+in\s*to(?=\s+(?:a|an|the)\b)"      # "ease in to a left V at the chin"
    r"|eas(?:e|es|ed|ing)\s+(?:in|out)(?:\s+(?:at|into|on|of)\s+the\s+(?:top|end|bottom|start|pose))?"
    r"|(?:hard|decisive(?:ly)?|dramatic(?:ally)?|theatrical(?:ly)?|snappy|crisp(?:ly)?|firmly)"
    # the hold that ends a take, said alone ("..., then it stops.", "Hit the pose and hold.")
    r"|(?:and|then)\s+(?:it\s+|they\s+)?(?:stops?|halts?|freezes|freeze|holds|hold)(?:\s+(?:there|still|dead))?(?=\s*(?:[.!;]|$))"
    r"|hit\s+the\s+pose(?:\s+and\s+hold)?"
    r"|(?:a\s+)?(?:small|big|little|quick|slight)\s+anticipation|(?:soft|hard|gentle)\s+landing"
    r"|(?:fast|slow)\s+(?:in|out)(?=\s*(?:[,.;!]|$))"
    r"|(?<!-)loose(?:ly)?(?=\s+(?:fist|hand|fingers))"     # "a loose fist" was read as the hang-loose Y
    r")\b", re.IGNORECASE)
# a stroke said to stop at a place ends there: "chops down ..., and stops dead at belly level"
_STOPS_AT = re.compile(r"(?:,\s*)?\s*\b(?:and\s+|then\s+)?(?:it\s+|they\s+)?(?:stops?|halts?)\s+(?:dead\s+|short\s+)?at\s+",
                       re.IGNORECASE)


# a word about what a hand does: any word of the vocabulary's verbs, ways, shapes and places
# (each with its endings; only to keep a sentence for the parser, never read by a rule), or a
# word of hands, sides, counts and moving
_CONTENT = re.compile(
    r"\b(?:(?:" + "|".join(sorted({re.escape(w.text) for table in (VERBS, DIRECTIONS, SHAPES, PLACES)
                                   for words in table.values() for w in words if len(w.text) > 2},
                                  key=len, reverse=True)) +
    r")(?:s|es|d|ed|ing|ping|ped|ping)?|up|hands?|fists?|fingers?|thumbs?|palms?|arms?|wrists?|index|pointer|both|"
    r"left|right|mov\w*|rais\w*|lower\w*|touch\w*|once|twice|times|\d+|(?-i:[A-HJ-Z]))\b", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?]+[.!?]*\s*")


def without_context(text: str) -> str:
    """``text`` without its sentences that say nothing of what a hand does (no ``_CONTENT``
    word): a story's or a speaker's ("She's freezing.", "Thank you very much, my friend.");
    the parser read "She's freezing. Both fists pull in tight against her chest ..." as
    hands meeting with the fingers opening."""
    kept = [m.group(0) for m in _SENTENCE.finditer(text) if _CONTENT.search(m.group(0))]
    return "".join(kept).strip() or text


# a hand the text says does not sign ("but not with the left", "not both hands move"): what
# it denies is no hand of the take
_NEGATED_HAND = re.compile(r"(?:,\s*)?\b(?:but\s+)?not\s+(?:with\s+|using\s+)?(?:the\s+|your\s+|my\s+)?"
                           r"(?:(?:left|right)(?:\s+(?:hand|one|fist|arm|side))?|both(?:\s+hands)?(?:\s+move)?)\b,?",
                           re.IGNORECASE)


def without_negated(text: str) -> str:
    """``text`` without a hand it says does not sign (``_NEGATED_HAND``): "tap the forehead
    twice with the index, but not with the left, with the right" was signed with the left."""
    out = re.sub(r"^[\s,.;:]+", "", _NEGATED_HAND.sub("", text)).strip()
    return out or text


# words of size for the movement: a big wave, circle or swipe goes wider than the plain one
# (the synthesizer's plain strokes are already modest: "a small circle" made smaller was no
# longer seen as a circle, nor "compact" knocks as two). An adjective counts before a movement
# ("a big sweeping wave"), never elsewhere ("a big hand", the grammar's "sweeping down"), and
# "wide" as a way of going ("swing out wide"), not the grammar's "in a wide arc"
SIZE_WORDS = ("big", "bigger", "large", "huge", "giant", "broad", "sweeping", "exaggerated", "expansive")
SIZE_WIDER = 1.5
_SIZED_MOVE = re.compile(r"\b(?:(?:" + "|".join(SIZE_WORDS) + r"),?\s+)+(?=(?:slow\s+|quick\s+|fast\s+)?"
                         r"(?:waves?|circles?|swipes?|motions?|movements?|arcs?|strokes?|taps?|gestures?|swings?)\b)",
                         re.IGNORECASE)
_WIDE = re.compile(r"\bwide(?:r|ly)?\b(?!\s+arc)", re.IGNORECASE)


def without_size(text: str) -> str:
    """``text`` without the words of size before a movement ("a big sweeping wave" is "a
    wave"), which the grammar never writes: the parser read "sweeping" as a brush."""
    return _SIZED_MOVE.sub("", text)


def said_size(text: str) -> float:
    """How much wider than plain ``text`` asks the movement to go (``SIZE_WORDS``, ``_WIDE``):
    ``SIZE_WIDER``, or 1.0 where it says no size."""
    return SIZE_WIDER if _SIZED_MOVE.search(text) or _WIDE.search(text) else 1.0


def said_tempo(text: str) -> float:
    """The tempo ``text``'s words ask for (``TEMPO_WORDS``; the slowest said), 1.0 where none."""
    said = [TEMPO_WORDS[m.strip(" ,").lower()] for m in _TEMPO.findall(text)]
    return max(said) if said else 1.0


def without_tempo(text: str) -> str:
    """``text`` without its words of tempo, which the parser never read ("slowly raise your
    index finger to your nose" was a touch at 0.92), nor an animator's timing (``without_timing``)."""
    return without_timing(_TEMPO.sub("", text), text)


def without_timing(text: str, said: str | None = None) -> str:
    """``text`` without an animator's timing and feel (``_TIMING``), a stop at a place said as
    where the stroke goes (``_STOPS_AT``); capitalized as ``said`` (the text as written) was."""
    said = text if said is None else said
    out = _STOPS_AT.sub(" to ", _TIMING.sub("", text)).strip()
    out = re.sub(r"^[,.;:]\s*|(?<=[.;:!?])\s*[,.]", "", out).strip()    # what a stripped phrase left
    return out[:1].upper() + out[1:] if out and said[:1].isupper() else out or said


def without_aside(text: str) -> str:
    """``text`` without an aside that likens the movement to something (``_ASIDE``)."""
    return _ASIDE.sub("", text).strip() or text


def says_arc(text: str) -> bool:
    """Whether ``text`` says the stroke curves: "in an arc", "arcs over to the left", "curving
    down", "swoops up" (not a curved handshape: "a curved L", "curved fingers")."""
    return _ARC.search(text) is not None


_ARC_PHRASE_SAID = re.compile(rf"\s*{_ARC_PHRASE}", re.IGNORECASE)
_ARC_VERB = re.compile(r"\b(?:arc|swoop|curv(?=es|ing))(s|es|ed|ing)?\b", re.IGNORECASE)


def without_arc(text: str) -> str:
    """``text`` with its curve said plainly, for the parser, which never read a curve and
    takes "move it in an arc" for a circle: the phrase left out ("move it"), the verb a move
    ("it arcs over to the left": "it moves over to the left")."""
    text = _ARC_PHRASE_SAID.sub("", text)
    forms = {"": "move", "s": "moves", "es": "moves", "ed": "moved", "ing": "moving"}
    return _ARC_VERB.sub(lambda m: forms[(m.group(1) or "").lower()], text)


# a hand raised or dropped to a place, in the core verbs ("raise your fist to your chin")
_RAISED_TO = re.compile(r"\b(?P<verb>rais(?:e|es|ed|ing)|ris(?:e|es|en|ing)|rose|drop(?:s|ped|ping)?)\b[^,.;:]*?"
                        rf"\b(?:to|toward|towards)\s+(?:{_DETERMINER}\s+)?",
                        re.IGNORECASE)
# a hand that goes from somewhere up or down to a place ("from the waist up to the chin")
_FROM_WAY_TO = re.compile(rf"\bfrom\b[^,.;:]*?\b(?P<way>up|down)\s+(?:to|toward|towards)\s+(?:{_DETERMINER}\s+)?",
                          re.IGNORECASE)
RAISED_SURE = 0.5          # a touch read less surely than this, of a hand raised or dropped to the place, is that stroke


def raised_to(text: str, place: str | None) -> str | None:
    """The stroke ("rise" or "drop") of a hand the text raises or drops to ``place`` in core
    words ("raise your right fist to your chin", "from the waist up to the chin"), else None."""
    pattern = _PLACE_WORDS.get(place or "")
    if pattern is None:
        return None
    m = re.search(_RAISED_TO.pattern + pattern.pattern, text, re.IGNORECASE)
    if m is not None:
        return "drop" if m.group("verb").lower().startswith("drop") else "rise"
    m = re.search(_FROM_WAY_TO.pattern + pattern.pattern, text, re.IGNORECASE)
    return None if m is None else "rise" if m.group("way").lower() == "up" else "drop"


def then_said(text: str, scene: Scene) -> bool:
    """Whether ``text`` says the way of the movement after the contact in so many words: after
    a link ("then", "and then": ``parts.cuts``), the one direction named (``named_direction``)
    is the scene's ("touch your forehead, then bring the hand down")."""
    return bool(scene.then and scene.then_dirs) and any(
        named_direction(text[end:]) == scene.then_dirs[0] for _, end, _ in cuts(text))


def onto_way(text: str, place: str | None) -> str | None:
    """The stroke ("rise" or "drop") of a hand the text brings up or down onto ``place`` in core
    words ("brings the right V down onto the chest", "up until the fingertips touch the chin"),
    else None."""
    pattern = _PLACE_WORDS.get(place or "")
    m = None if pattern is None else re.search(
        rf"\b(?P<way>up|down)\s+(?:onto|{_UNTIL_TOUCH})\s+(?:{_DETERMINER}\s+)*" + pattern.pattern, text, re.IGNORECASE)
    return None if m is None else "rise" if m.group("way").lower() == "up" else "drop"


# "up until the fingertips touch the chin", "down till it rests on the chest": onto the place
_UNTIL_TOUCH = (r"(?:until|till|til)\s+(?:(?:it|they|the\s+\w+|its\s+\w+|your\s+\w+|the\s+\w+\s+\w+)\s+)?"
                r"(?:touch(?:es)?|rests?\s+on|lands?\s+on|meets?|reach(?:es)?|(?:is|are)\s+(?:on|at))")


# Where a stroke said to go from one place to another starts and ends: "lower your left hand
# from your chin to your chest", "drop the fist from shoulder height to the waist". The
# places are the core names (and "waist", "face" and "head", which the vocabulary lacks, for the
# belly's height, the nose's and the forehead's); the end may be one the parser read in other
# words, where it is not the start
_PLACE_NAME = "|".join(f"(?P<{re.sub(r'[^a-z]', '_', place)}>{pattern.pattern})" for place, pattern in
                       {**_PLACE_WORDS, "stomach": re.compile(_PLACE_WORDS["stomach"].pattern + r"|\bwaist\b"),
                        "nose": re.compile(_PLACE_WORDS["nose"].pattern + r"|\bface\b"),
                        "forehead": re.compile(_PLACE_WORDS["forehead"].pattern + r"|\bhead\b")}.items())
_ON_BODY = rf"(?:(?:{_DETERMINER}|left|right|level of the|height of the)\s+)*(?:{_PLACE_NAME})"
_FROM = re.compile(rf"\bfrom\s+{_ON_BODY}", re.IGNORECASE)
_TO = re.compile(r"\b(?:until it reaches|till it reaches|reaching|to|toward|towards|until|till)\s+"
                 rf"(?:(?:{_DETERMINER}|left|right|level of the|height of the|just|in front of|beside|near|over|above)\s+)*"
                 r"(?P<rest>[\w-]+)", re.IGNORECASE)
_PLACE_OF = {re.sub(r"[^a-z]", "_", place): place for place in _PLACE_WORDS}


# the body's places from the top down, for a stroke between two of them read as no stroke
_HEIGHT = ("forehead", "temple", "eye", "ear", "nose", "cheek", "mouth", "chin", "neck", "shoulder", "chest",
           "stomach", "hip")


def from_to(text: str, scene: Scene) -> tuple[str, str, str] | None:
    """The places a stroke is said to go from and to, in that order ("from your chin down to
    your chest"), and the stroke, else None: the start in core words after "from", the end in
    core words after a later "to", else the scene's place where it is not the start. The
    stroke is the scene's (``ARRIVING``), or for one read as a touch, tap, hold, brush or path ("move
    your right hand from your chin down to your chest" was a brush of the chin), the rise or
    drop from the one place to the other."""
    start = _FROM.search(text) if scene.action in (*ARRIVING, "touch", "tap", "hold", "brush", "path") else None
    if start is None:
        return None
    to = _TO.search(text, start.end())
    if to is None or re.search(r"[.;]", text[start.end():to.start()]):
        return None
    ends = [m for m in re.finditer(rf"\b(?:{_PLACE_NAME})", text[to.start("rest"):], re.IGNORECASE)
            if m.start() == 0]
    first = _PLACE_OF[next(k for k, v in start.groupdict().items() if v)]
    last = _PLACE_OF[next(k for k, v in ends[0].groupdict().items() if v)] if ends else scene.place
    if last is None or last == first:
        return None
    if scene.action in ARRIVING:
        return first, last, scene.action
    if first not in _HEIGHT or last not in _HEIGHT or _HEIGHT.index(first) == _HEIGHT.index(last):
        return None
    return first, last, "rise" if _HEIGHT.index(last) < _HEIGHT.index(first) else "drop"


def arrives(text: str, scene: Scene) -> bool:
    """Whether ``text`` says that the scene's stroke ends at its place: a rise, drop, push,
    pull or slide near a place, with a directional word and then "to" one of the place's names
    (``ARRIVING``, ``_TOWARD``); touching it, one said to come up or down onto it (``onto_way``)."""
    pattern = _PLACE_WORDS.get(scene.place or "")
    if scene.action not in ARRIVING or pattern is None or scene.contact and not onto_way(text, scene.place):
        return False
    return re.search(_TOWARD + pattern.pattern, text, re.IGNORECASE) is not None
