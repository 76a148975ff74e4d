"""Text -> a planned take: the scene parser reads what the text asks for, the realizer
makes the motion that shows it (see ``parse`` and ``realize``). ``generate`` keeps the plan
as is by default; with ``refine`` > 0 HandMDM samples from the plan noised that far
(``diffusion.sample(start=...)``), keeping its timing while the model redraws its detail.

One ``Planner`` per process (``planner()``): the parser's weights and the synthesizer's
body are loaded once. numpy + torch; never bpy.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from ..data import handshapes as H
from ..data.text import CONTACT_ACTIONS, Scene
from ..data.vocab import HANDSHAPE_CONCEPT, NEUTRAL, PLACES
from ..motion.hands import named_hand
from ..motion.motion import Motion
from .parse import NONE
from .realize import Realizer, Take


SIDE_SURE = 0.8             # the parser's side at least this sure wins over the named-hand rule
_SIDE_WORD = re.compile(r"\b(left|right)\b", re.IGNORECASE)
# "to the left", "toward the signer's right", "leftward": a way to move, not a hand (but
# "to the left palm" names the other hand as a place)
_WAY = re.compile(r"\b(?:(?:to|toward|towards|over to|off to|out to)\s+(?:the\s+|your\s+|his\s+|her\s+|their\s+|my\s+)?"
                  r"(?:signer's\s+)?(?:left|right)\b(?!\s*(?:hand|fist|palm|finger|fingers|index|thumb|arm|wrist|"
                  r"forearm|elbow|shoulder|knuckles|pinky|claw|side of))|(?:left|right)wards?\b)", re.IGNORECASE)
_SIDE_LETTER = re.compile(r"\b[LR]\b")
# the hand a text signs with, named as the instrument: "with your right hand", "using the left fist"
_INSTRUMENT = re.compile(r"\b(?:with|using)\s+(?:the\s+|your\s+|his\s+|her\s+|their\s+|my\s+|a\s+)?(left|right)\b",
                         re.IGNORECASE)
TWO_HANDED = ("clap", "together", "apart")   # actions the grammar only has with both hands moving
PLACE_SURE = 0.5            # a place read less surely than this is not where two touching hands meet
THEN_SURE = 0.8             # a movement after the contact read less surely than this is left out
# places on the other hand or arm: a one-handed scene never has them (its other hand rests)
ON_OTHER_HAND = ("upper arm", "elbow", "forearm", "wrist", "palm", "back of the hand", "fingers")
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
_PLURAL = re.compile(r"\b(?:both|hands|fists|palms|claws|each|clap\w*|together|apart|two\s+(?!fingers\b)\w+)\b",
                     re.IGNORECASE)
# A place the text names in words every training text may use (the vocabulary's core
# names, never a held-out synonym) where the parser reads none: "moves in a small circle on
# the chest" read as the space in front of the body. Phrases that name the space in front
# of the body ("in front of the chest", "at chest height") name no place.
NAMED_PLACE_SURE = 0.8      # the parser's "no place" at least this sure stands
_NEUTRAL_PHRASE = re.compile("|".join([rf"\b{w.pattern}\b" for w in NEUTRAL]
                                      + [r"\b(?:at|to|up to|down to)\s+(?:\w+\s+)?(?:height|level)\b",
                                         r"\b\w+[- ](?:height|level)\b"]), re.IGNORECASE)
_PLACE_WORDS = {place: re.compile(r"\b(?:" + "|".join(w.pattern for w in words if w.core) + r")s?\b", re.IGNORECASE)
                for place, words in PLACES.items() if place not in ("upper arm", "elbow", "forearm", "wrist", "palm",
                                                                     "back of the hand", "fingers")}
# Two hands' way in phrases that say nothing else: "away from each other", "out from the
# middle" part them, "toward each other", "come together" bring them together (a bare
# "together" also means at the same time: "both fists move up together"). The last one said
# is where the hands end: "start apart and move toward each other" comes together.
_APART = r"\bapart\b|\baway from each other\b|\b(?:out|outwards?) from the (?:middle|center|centre)\b"
_TOGETHER = (r"\btowards? each other\b|\b(?:come|comes|came|coming)\s+together\b|"
             r"\b(?:bring|brings|brought|bringing|put|puts|putting|press|presses|pressing)\s+(?:\w+\s+){0,3}?together\b")
_TWO_WAYS = re.compile(rf"(?P<apart>{_APART})|(?P<together>{_TOGETHER})", re.IGNORECASE)
# what a reading of two hands' way may replace: a misread of the same movement (the grammar's
# "outward" is away from the body: "both hands open outward, away from each other" read as a push)
WAY_REPLACES = ("together", "apart", "push", "side", "tap", "touch", "hold", "rise", "drop")
SHAPE_SURE = 0.5            # a handshape concept the parser gives less than this is not read as named
UNNAMED_SHAPE = "open_b"    # a flat hand: the lexicon's commonest handshape


@dataclass
class Planned:
    """A planned take: the motion (25 fps), the scene asked for, the take that realized it, the
    parser's confidences and where the signing hand came from ("prompt", "option", "default")."""
    motion: Motion
    asked: Scene
    take: Take
    confidence: dict
    side_from: str = "prompt"


class Planner:
    def __init__(self, parser=None, realizer: Realizer | None = None):
        from .parse import load_parser

        self.parser = parser if parser is not None else load_parser()
        self._realizer = realizer

    @property
    def realizer(self) -> Realizer:
        """The realizer, made on first use (reading a prompt needs none: ``signforge parse``)."""
        if self._realizer is None:
            self._realizer = Realizer()
        return self._realizer

    def read(self, text: str, hand: str | None = None):
        """The parsed scene of ``text`` and the parser's confidences. The signing hand is the
        one ``choose_side`` picks (``hand``: the user's, for texts that name none).

        The handshape is read by everyday concept (fist, flat, index...): the concept whose
        shapes the parser gives at least ``SHAPE_SURE`` together, and its likeliest shape.
        A text that names no shape (the parser spreads its guess) gets a flat hand, the
        lexicon's commonest, rather than a guess. The scene is then made one the grammar
        could have written (``grammatical``)."""
        parsed = self.parser.parse(text)
        side = choose_side(text, parsed.scene.side, parsed.confidence["side"], hand)
        shape = sure_shape(parsed.probs("shape"))
        scene = replace(parsed.scene, side=side, shape=shape or UNNAMED_SHAPE)
        if scene.place is None and parsed.confidence["place"] < NAMED_PLACE_SURE and (named := named_place(text)):
            scene = replace(scene, place=named)
        if scene.place and not scene.contact and on_place(text, scene.place):   # "a small circle on the chest"
            scene = replace(scene, contact=True, action={"circle": "rub", "hold": "touch"}.get(scene.action, scene.action))
        if not _PLURAL.search(text):     # "tap your temple with two fingers", "an OK sign near your cheek"
            if scene.hands == "both":
                scene = replace(scene, hands="one")
            if scene.action in TWO_HANDED:   # no word of two hands meeting: a misread
                scene = replace(scene, action="touch" if scene.contact and scene.place else "hold", count=1)
        way = two_hands_way(text)
        if way and scene.action != way and scene.action in WAY_REPLACES and scene.hands != "base" and not scene.place:
            scene = replace(scene, action=way, hands="both", dirs=(), contact=False, then="", then_dirs=())
        scene = grammatical(scene, parsed.confidence)
        return replace(scene, arrive=arrives(text, scene)), dict(parsed.confidence)

    def plan(self, text: str, hand: str | None = None, seed: int = 0, num: int = 1) -> list[Planned]:
        """``num`` takes of ``text`` (each from its own signers, drawn from seed and sample), each
        as long as it takes; ``hand`` as ``read`` takes it."""
        scene, confidence = self.read(text, hand)
        side_from = "prompt" if says_side(text) else "option" if hand else "default"
        out = []
        for i in range(num):
            take = self.realizer.realize(scene, seed=seed, sample=i)
            prov = {"plan": describe_scene(scene), "plan_agreement": f"{take.agreement:.2f}"}
            out.append(Planned(take.motion.with_(provenance={**take.motion.provenance, **prov}), scene, take,
                               confidence, side_from))
        return out


def grammatical(scene: Scene, confidence: dict) -> Scene:
    """``scene`` with the fields the parser read one by one made to agree as the grammar's
    scenes always do (``text.scene_for``), so that one misread field cannot ask for a motion
    no text describes:

    - tapping, touching, brushing or rubbing a place touches it (``text.CONTACT_ACTIONS``),
      even where the contact field alone leans to "near" ("put your hand on your chest");
    - clapping, coming together and moving apart take both hands ("clap twice");
    - two hands that tap or touch at no place read surely (``PLACE_SURE``) touch each other,
      the grammar's "together" ("the two hands bump together twice");
    - a movement after the contact read less surely than ``THEN_SURE`` is left out;
    - one hand alone never signs on the other hand or arm (that hand rests at the side): read
      surely (``PLACE_SURE``) the other hand is a base ("tap the back of your left hand"),
      else the place is left out ("raise your right flat hand up" read at 0.4 as "fingers"
      sent the hand across the body to the resting hand's fingers at the left hip);
    - fingers that open or close are a change of the shape that goes that way, else the
      shape as it is: "right hand open, fingers spread" read as a spread hand that opens
      would close it into a fist, the only change a spread hand has."""
    if scene.action in CONTACT_ACTIONS and scene.place and not scene.contact:
        scene = replace(scene, contact=True)
    if scene.action in TWO_HANDED and scene.hands != "both":
        scene = replace(scene, hands="both", base_shape="")
    if scene.hands == "both" and scene.contact and scene.action in ("tap", "touch") and \
            (not scene.place or confidence["place"] < PLACE_SURE):
        scene = replace(scene, action="together", place=None, place_side="")
    if scene.hands == "one" and scene.place in ON_OTHER_HAND:
        if confidence["place"] >= PLACE_SURE:
            scene = replace(scene, hands="base", base_shape=scene.base_shape or "open_b")
        else:
            scene = replace(scene, place=None, place_side="", contact=False)
    if scene.then and confidence["then"] < THEN_SURE:
        scene = replace(scene, then="", then_dirs=(), then_count=1)
    if scene.fingers and scene.shape and _change_from(scene.shape) != scene.fingers:
        scene = replace(scene, fingers="")
    return scene


def _change_from(shape: str) -> str:
    """Which way the coded finger change of ``shape`` goes ("open" or "close"): the grammar
    says "opening" only of a hand that starts closed (``handshapes.changed_shape``)."""
    try:
        return "open" if H.finger_state(H.changed_shape(shape)) == "open" else "close"
    except KeyError:
        return ""


def on_place(text: str, place: str) -> bool:
    """Whether ``text`` puts the hand "on" or "against" ``place`` (in the place's core names):
    a hand on a place touches it, and circles on it rub it."""
    pattern = _PLACE_WORDS.get(place)
    return pattern is not None and re.search(
        r"\b(?:on|onto|against)\s+(?:(?:the|your|his|her|their|my|left|right)\s+)*" + pattern.pattern, text,
        re.IGNORECASE) is not None


def two_hands_way(text: str) -> str | None:
    """"apart" or "together" where ``text`` says the two hands part or meet in so many
    words (``_TWO_WAYS``), the last said; else None."""
    found = [m.lastgroup for m in _TWO_WAYS.finditer(text)]
    return found[-1] if found else None


def named_place(text: str) -> str | None:
    """The one body place ``text`` names in the vocabulary's core words (the other hand's
    and arm's places aside, and phrases of the space in front of the body), else None."""
    text = _NEUTRAL_PHRASE.sub(" ", text)
    found = [place for place, pattern in _PLACE_WORDS.items() if pattern.search(text)]
    return found[0] if len(found) == 1 else None


def arrives(text: str, scene: Scene) -> bool:
    """Whether ``text`` says that the scene's stroke ends at its place: a rise, drop, push,
    pull or slide near a place (not touching it), with a directional word and then "to" one
    of the place's names (``ARRIVING``, ``_TOWARD``)."""
    if scene.action not in ARRIVING or not scene.place or scene.contact:
        return False
    names = "|".join(w.pattern for w in PLACES.get(scene.place, ()))
    return bool(names) and re.search(_TOWARD + rf"(?:{names})s?\b", text, re.IGNORECASE) is not None


def says_side(text: str) -> bool:
    """Whether ``text`` says left or right of a hand (words, or the terse notes' L and R); a
    direction ("moves to the left") names no hand."""
    text = _WAY.sub(" ", text)
    return bool(_SIDE_WORD.search(text) or _SIDE_LETTER.search(text))


def choose_side(text: str, parsed: str, confidence: float, hand: str | None = None) -> str:
    """The hand that signs ``text``: ``hand`` (else the right) when the text never says left
    or right; the one it signs "with" or "using" when it names one so (``_INSTRUMENT``); the
    parser's reading when it is sure (``SIDE_SURE``), as it reads "the right
    clawed hand ... the left fingers" whole; else the hand a rule finds named
    (``motion.hands.named_hand``), else the parser's."""
    if not says_side(text):
        return hand or "right"
    instruments = {m.lower() for m in _INSTRUMENT.findall(text)}
    if len(instruments) == 1:     # "pat your left shoulder with your right hand": the right pats
        return instruments.pop()
    if confidence >= SIDE_SURE:
        return parsed
    return named_hand(text) or parsed


def sure_shape(probs: dict[str, float]) -> str | None:
    """The likeliest handshape of the likeliest concept when that concept holds at least
    ``SHAPE_SURE`` of the probability, else None. ``probs``: ASL-LEX handshape -> probability."""
    by_concept: dict[str, float] = {}
    for shape, p in probs.items():
        key = HANDSHAPE_CONCEPT.get(shape, shape)
        by_concept[key] = by_concept.get(key, 0.0) + p
    concept, mass = max(by_concept.items(), key=lambda kv: kv[1])
    if mass < SHAPE_SURE or concept == NONE:
        return None
    return max((s for s in probs if HANDSHAPE_CONCEPT.get(s, s) == concept), key=probs.get)


def fit_length(motion: Motion, frames: int) -> Motion:
    """``motion`` made ``frames`` long: a shorter take is held at its first and last poses
    (it starts and ends at rest), a longer one is played faster."""
    n = motion.num_frames
    if n == frames:
        return motion
    if n > frames:
        return motion._sample(np.linspace(0, n - 1, frames))
    before = (frames - n) // 2
    times = np.concatenate([np.zeros(before), np.arange(n, dtype=float), np.full(frames - n - before, n - 1.0)])
    return motion._sample(times)


def describe_scene(scene: Scene) -> str:
    """The scene in a few words for provenance: 'left one s chin touch tap x2 up'."""
    parts = [scene.side, scene.hands, scene.shape or "-", scene.place or "neutral",
             "touch" if scene.contact else "to" if scene.arrive else "near", scene.action or "-"]
    if scene.count > 1:
        parts.append(f"x{scene.count}")
    parts += list(scene.dirs[:1])
    return " ".join(parts)


_PLANNER: Planner | None = None


def planner() -> Planner:
    """The process's planner (the shipped parser, the mannequin), made on first use."""
    global _PLANNER
    if _PLANNER is None:
        _PLANNER = Planner()
    return _PLANNER
