"""Text -> a planned take: the scene parser reads what the text asks for, the realizer
makes the motion that shows it (see ``parse`` and ``realize``); ``words`` settles what the
prompt's plain words say that the parser reads less surely; a prompt that asks for parts in
turn (``parts``) is read and realized part by part and signed as one motion, as the data
factory signs a compound's morphemes (``synth.in_turn``). ``generate`` keeps the plan
as is by default; with ``refine`` > 0 HandMDM samples from the plan noised that far
(``diffusion.sample(start=...)``), keeping its timing while the model redraws its detail.

One ``Planner`` per process (``planner()``): the parser's weights and the synthesizer's
body are loaded once. numpy + torch; never bpy.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from ..data import handshapes as H
from ..data.synth import in_turn
from ..data.text import CONTACT_ACTIONS, Scene
from ..data.vocab import HANDSHAPE_CONCEPT
from ..motion.motion import Motion
from .parse import NONE
from .realize import Realizer, Take
from .notation import in_words
from .parts import cuts, first_sentence, goes_on, names_hand, pieces, without_asides
from .spelling import spelt
from .words import (FACE_PLACES, NAMED_PLACE_SURE, ONE_WAY, ON_OTHER_HAND, TWO_HANDED, arrives, choose_side,
                    counted_only, curled_name, describes_shape, fingers_only, from_to, hand_place_side, instrument_side,
                    made_shape, named_direction, named_shape, names_body, names_concept, names_palm, names_shape, on_face,
                    other_shaped, plain_words, points_unshaped, said_size, said_tempo, says_above_head, says_arc, says_one_shape, says_point,
                    says_shape, says_side, then_said, two_hands_way, unshaped_fist, unthumbed, without_arc,
                    without_aside, without_context, without_negated, without_size, without_tempo, without_timing)

NAMED_OVER_READ = 0.7      # a shape read less surely than this gives way to the one the text names
MAX_PARTS = 4               # parts signed in turn (about 2.5 s each); later links are read within the last part
NAMED_PART_PLACE = 0.8      # a piece after a link that names no hand is a part when its place is read this surely
PLACE_SURE = 0.5            # a place read less surely than this is not where two touching hands meet
THEN_SURE = 0.8             # a movement after the contact read less surely than this is left out
SHAPE_SURE = 0.5            # a handshape concept the parser gives less than this is not read as named
GUESS_SHAPE_SURE = 0.3      # ... but in a text that says a shape in words no rule knows, it is, from this
UNNAMED_SHAPE = "open_b"    # a flat hand: the lexicon's commonest handshape
POINT_SHAPE_SURE = 0.8      # a hand said to point, with no shape named nor read this surely, is an index finger
UNNAMED_SHAPE_SURE = 0.95   # a text that names no shape has its read one only this surely (else flat)
PALM_SHAPE_SURE = 0.8       # a hand named by its palm is flat unless its shape is read at least this surely


@dataclass
class Planned:
    """A planned take: the motion (25 fps), the scene asked for, the take that realized it, the
    parser's confidences and where the signing hand came from ("prompt", "option", "default").
    A text that asks for parts in turn ("..., then ...": ``read_parts``) has them all in
    ``parts`` and ``takes``; ``asked`` and ``take`` are the first."""
    motion: Motion
    asked: Scene
    take: Take
    confidence: dict
    side_from: str = "prompt"
    parts: tuple[Scene, ...] = ()
    takes: tuple[Take, ...] = ()
    windows: tuple[tuple[int, int], ...] = ()    # each part's sign frames in ``motion``


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
        Where the parser reads no shape surely, the one shape the text names in core words
        (``named_shape``) is it, and where the text says a shape in other words ("a hand with
        the index and middle fingers extended, ..."), the parser's likeliest from
        ``GUESS_SHAPE_SURE``; a text that names none (the parser spreads its guess, or reads
        one from other words below ``UNNAMED_SHAPE_SURE``: "hang" as a hang-loose Y) gets a
        flat hand, the lexicon's commonest, rather than a guess, or a fist where it knocks,
        pounds or punches (``unshaped_fist``); a shape named with a word that curls its fingers
        (``curled_name``: "a curved V", "a crooked spread hand") is the table's curled form of
        it (``curled_shapes``); a shape the hand "makes" in core words (``made_shape``) is it;
        so does a hand named by its palm, unless
        its shape is read surely (``PALM_SHAPE_SURE``); a thumbs-up needs the word thumb
        (``unthumbed``); a hand said to point with no shape named (``points_unshaped``) nor
        read surely (``POINT_SHAPE_SURE``) is an index finger, and a hand said to point is
        marked ``point`` (``says_point``); the one shape the text names in core words is it
        where the text never names the concept read (``names_concept``). The parser reads the
        text without an aside that likens the movement (``without_aside``), a hand it says does
        not sign (``without_negated``), nor its words of tempo ("slowly": the scene's
        ``tempo``, ``said_tempo``) and an animator's timing ("on the beat"); its words of size
        ("a big wave") are the scene's ``size`` (``said_size``). A stroke said to curve is read with the curve said plainly
        (``without_arc``) and marked ``arc``. The scene is then made one the grammar could
        have written (``grammatical``). A stroke said to go from one place to another
        (``from_to``) starts at the first (``start``) and arrives at the second."""
        text = without_negated(without_aside(without_context(spelt(in_words(text)))))
        size, tempo, text = said_size(text), said_tempo(text), without_size(without_tempo(text))
        arc = says_arc(text)
        text = without_arc(text) if arc else text
        parsed = self.parser.parse(text)
        on_hand = hand_place_side(text) if parsed.scene.place in ON_OTHER_HAND else ""
        side = choose_side(text, parsed.scene.side, parsed.confidence["side"], hand, on_hand)
        shapes = {k: p for k, p in parsed.probs("shape").items() if not counted_only(k, text)}
        sure = max(shapes.values())   # the parser's shape read, a number said only as a count aside
        shape = unthumbed(sure_shape(shapes), text)
        if unshaped_fist(text):
            shape = "s"       # "knock on the chest with the right hand" was read at 0.85 as a spread hand
        elif not says_shape(text) and sure < UNNAMED_SHAPE_SURE:
            shape = None      # "let the left hand hang at rest while ..." was read at 0.93 as a hang-loose Y
        if points_unshaped(text) and (shape is None or sure < POINT_SHAPE_SURE):
            shape = "1"     # "point up with your right hand" was read at 0.96 as a thumbs-up, then flat
        palm = parsed.scene.place not in ON_OTHER_HAND and names_palm(text) and \
            (sure < PALM_SHAPE_SURE or not names_shape(text))
        if palm:
            shape = None      # a hand named by its palm ("put your palm on your chest") is flat
        if shape is None and (named := named_shape(text)):   # the one shape named, where none was read surely
            # "... with your left index finger": index 0.49, the ASL 3 0.40
            shape = max((s for s in shapes if HANDSHAPE_CONCEPT.get(s) == named), key=shapes.__getitem__, default=None)
        elif shape is None and not palm and describes_shape(text) and not unshaped_fist(text):
            # a shape said in words no rule reads ("a hand with the index and middle fingers
            # extended, ..."): the parser's likeliest, not a flat hand
            shape = sure_shape(shapes, GUESS_SHAPE_SURE)
        if (curled := curled_name(text)) and (forms := curled_shapes(curled)) and \
                HANDSHAPE_CONCEPT.get(shape or "") not in {HANDSHAPE_CONCEPT.get(s, s) for s in forms}:
            # "hold a crooked spread hand ...": a spread hand
            shape = max(forms, key=lambda s: shapes.get(s, 0.0))
        if (other := other_shaped(text, side)) and (own := named_shape(text[:other.start()] + text[other.end():])) \
                and HANDSHAPE_CONCEPT.get(shape or "") != own:
            # the signing hand's own shape, not the other hand's: "left hand flat at the chest,
            # right index finger taps it" was read as a flat hand
            shape = max((s for s in shapes if HANDSHAPE_CONCEPT.get(s) == own), key=shapes.__getitem__, default=shape)
        if says_one_shape(text) and HANDSHAPE_CONCEPT.get(shape or "") != "index":
            # "Left 1 hand, tap the temple three times" was read as a flat hand
            shape = max((s for s in shapes if HANDSHAPE_CONCEPT.get(s) == "index"), key=shapes.__getitem__, default=shape)
        if (made := made_shape(text)) and HANDSHAPE_CONCEPT.get(shape or "") != made:
            # "using the left hand, make a fist and ...": a spread hand at 0.54
            shape = max((s for s in shapes if HANDSHAPE_CONCEPT.get(s) == made), key=shapes.__getitem__, default=shape)
        if (named := named_shape(without_asides(text))) and (read_as := HANDSHAPE_CONCEPT.get(shape or "")) \
                and read_as != named \
                and not names_concept(text, read_as) and sure < NAMED_OVER_READ:
            # the one shape the text names, where it never names the one read, read unsurely: "the
            # left hand, a fist, rises from the hip ..." was read at 0.64 as a claw
            shape = max((s for s in shapes if HANDSHAPE_CONCEPT.get(s) == named), key=shapes.__getitem__, default=shape)
        scene = replace(parsed.scene, side=side, shape=shape or UNNAMED_SHAPE)
        if side != parsed.scene.side and not says_side(text) and scene.place_side in ("left", "right"):
            # a place's side the text never says is the signing hand's: the parser's is the
            # right hand's ("non-dominant hand only: the index finger touches the temple")
            scene = replace(scene, place_side="left" if scene.place_side == "right" else "right")
        if on_face(text, scene.place):   # the face named: the parser's likeliest place on it
            probs = parsed.probs("place")
            scene = replace(scene, place=max(FACE_PLACES, key=lambda p: probs.get(p, 0.0)), place_side="")
        scene = plain_words(text, scene, parsed.confidence)
        scene = grammatical(scene, parsed.confidence, then_said(text, scene))
        if way := from_to(text, scene):   # "from your chin down to your chest": from one place to the other
            start, place, action = way
            scene = replace(scene, start=start, place=place, place_side="" if place != scene.place else scene.place_side,
                            contact=False, then="", then_dirs=(),
                            **({"action": action, "dirs": (ONE_WAY[action],), "count": 1} if action != scene.action else {}))
        if scene.action == "wave" and says_above_head(text) and not scene.contact:
            # "wave your hand above your head": raised over it, not at the forehead
            scene = replace(scene, place=None, place_side="", high=True)
        return (replace(scene, arrive=bool(way) or arrives(text, scene), arc=arc, point=says_point(text), tempo=tempo,
                        size=size),
                dict(parsed.confidence))

    def read_parts(self, text: str, hand: str | None = None) -> list[tuple[Scene, dict]]:
        """The scenes ``text`` asks for in turn, each with the parser's confidences: one, unless
        the text goes on to a next part ("Touch your forehead with your index finger. Then push
        both spread hands forward"). A link (``parts.cuts``: "Then", "After that,", ", and
        then"...) starts a part when what follows names a hand or a place of its own
        (``_starts_part``); a part that only shapes the hand ("Make a fist. Then tap your chin")
        is the next part's start. A later part keeps the hand side, and the handshape unless
        it names the hand, of the part before."""
        text = without_context(without_timing(spelt(in_words(text))))   # "Small anticipation, then ...": no part of its own
        found = cuts(text)
        kept: list[tuple[int, int, bool]] = []
        for k, cut in enumerate(found):
            before = text[kept[-1][1] if kept else 0:cut[0]]
            after = text[cut[1]:found[k + 1][0] if k + 1 < len(found) else len(text)]
            if len(kept) < MAX_PARTS - 1 and self._starts_part(after, cut[2], before):
                kept.append(cut)
        # the one hand a text of parts signs with, said once for all of them: "touch the left
        # shoulder, then the right shoulder, with the right flat hand" touched with the left first
        whole = instrument_side(text, hand_named=True) if len(kept) else None
        while True:
            texts = pieces(text, kept)
            read, side = [], hand
            for k, piece in enumerate(texts):
                scene, confidence = self.read(piece, side)
                if whole and scene.side != whole and not names_hand(piece):
                    scene = replace(scene, side=whole)
                if k and not names_body(piece) and not names_hand(piece, says_shape(piece)) and \
                        (scene.place and confidence["place"] < NAMED_PLACE_SURE or not scene.place and read[-1][0].place):
                    # a later part that names no part of the body goes on from where the last
                    # ended, off the skin: "..., then jab it forward" was read at 0.50 at the
                    # forehead; "touch the temple ..., and after that circle it in the air"
                    # circled in front of the chest, 25 cm from the temple; "..., then point that
                    # finger straight forward" pushed from the chest
                    last = read[-1][0]
                    scene = replace(scene, place=last.place, place_side=last.place_side, contact=False)
                if k and read[-1][0].hands == "both" and scene.hands != "both" and not names_hand(piece):
                    scene = replace(scene, hands="both", base_shape="")   # "..., then move down": both still
                if k and not (names_hand(piece, says_shape(piece)) and
                              sure_shape(self.parser.parse(piece).probs("shape"))):
                    scene = replace(scene, shape=read[-1][0].shape)
                read.append((scene, confidence))
                side = scene.side
            set_up = [k for k, (sc, _) in enumerate(read[:-1]) if sc.action == "hold" and not sc.place]
            if not set_up:
                return read
            del kept[set_up[0]]

    def _starts_part(self, piece: str, sentence: bool, before: str) -> bool:
        """Whether ``piece`` (what follows a link; ``before``: the text since the last part
        began) is a part of its own: its first sentence names a hand ("circle your index
        finger", not "then lower it" or the other hand held still), or hands that part after
        meeting or meet after parting (``two_hands_way``: "bump together, then pull apart"),
        or a place the parser reads surely: in a new sentence ("Then tap your chest."), or
        touched, or reached by a stroke that ends there (``arrives``: "..., then move it down
        to your chest"), where ``before`` had no such place ("..., then touch your forehead
        with it"), or a stroke one way (``named_direction``) after a movement that touched
        nothing ("draw a circle ..., then jab it forward"). It is more than the fingers opening
        or closing, and does not go on along the path before it ("..., then toward the body by
        the nose")."""
        piece = first_sentence(piece)
        if fingers_only(piece) or goes_on(piece):
            return False
        if names_hand(piece, says_shape(piece)):
            return True
        earlier = functools.cache(lambda: self.parser.parse(before).scene)   # read once, if at all
        way = two_hands_way(piece)
        if way:   # "bump together, then pull apart": the hands meet, then part (or the other way)
            was_way = two_hands_way(before) or {"clap": "together"}.get(earlier().action, earlier().action)
            if was_way in ("together", "apart") and was_way != way:
                return True
        if named_direction(piece):
            # a stroke said one way after a movement in the air, at no place ("draw a circle
            # with the left index finger, then jab it forward"), or after hands said to meet or
            # part ("both fists first bump together, then move down"): the grammar goes on
            # only from a touch, so the stroke is a part of its own
            moved, _ = self.read(before)
            if not (moved.place or moved.contact) and moved.action not in ("hold", *CONTACT_ACTIONS, *TWO_HANDED) \
                    or moved.action in TWO_HANDED and two_hands_way(before):
                return True
        got = self.parser.parse(piece)
        # a stroke said to end at a place named in core words ("move it down to your chest")
        arriving = bool(got.scene.place) and arrives(piece, got.scene)
        if not got.scene.place or got.confidence["place"] < NAMED_PART_PLACE and not arriving:
            return False
        if sentence:
            return True
        touches = got.scene.contact and got.scene.action in CONTACT_ACTIONS
        return (touches or arriving) and (got.scene.place, got.scene.place_side) != (earlier().place, earlier().place_side)

    def plan(self, text: str, hand: str | None = None, seed: int = 0, num: int = 1) -> list[Planned]:
        """``num`` takes of ``text`` (each from its own signers, drawn from seed and sample), each
        as long as it takes; ``hand`` as ``read`` takes it. Parts in turn (``read_parts``) are
        signed by one person, one after the other (``synth.in_turn``). A touch whose take makes
        no stroke after it where one is asked (``stroke_after``) is signed as the touch and then
        the stroke, two parts in ``parts``."""
        read = self.read_parts(text, hand)
        scenes = tuple(sc for sc, _ in read)
        side_from = "prompt" if says_side(text) else "option" if hand else "default"
        out = []
        for i in range(num):
            takes: list[Take] = []
            signed: list[Scene] = []
            for k, scene in enumerate(scenes):
                take = self.realizer.realize(scene, seed=seed, sample=i, part=len(takes),
                                             like=takes[0].signer if takes else None)
                if (stroke := stroke_after(scene)) and take.measured.then_dirs[:1] != scene.then_dirs[:1]:
                    # no take of the touch made the stroke after it (the lexicon's strokes at a
                    # place measure as brushes or end on the body below: "touch the lips, then
                    # lower the hand" held at the lips): the touch, then the stroke from there
                    touch = replace(scene, then="", then_dirs=(), then_count=1)
                    take = self.realizer.realize(touch, seed=seed, sample=i, part=len(takes),
                                                 like=takes[0].signer if takes else None)
                    takes.append(take)
                    signed.append(touch)
                    take = self.realizer.realize(stroke, seed=seed, sample=i, part=len(takes), like=takes[0].signer)
                    scene = stroke
                takes.append(take)
                signed.append(scene)
            motion, windows = in_turn([(t.motion, t.sign_frames) for t in takes]) if len(takes) > 1 else \
                (takes[0].motion, [takes[0].sign_frames])
            prov = {"plan": " | then ".join(describe_scene(sc) for sc in signed),
                    "plan_agreement": f"{np.mean([t.agreement for t in takes]):.2f}"}
            out.append(Planned(motion.with_(provenance={**takes[0].motion.provenance, **prov}), scenes[0],
                               takes[0], read[0][1], side_from, tuple(signed), tuple(takes), tuple(windows)))
        return out


def stroke_after(scene: Scene) -> Scene | None:
    """The stroke one way that ``scene`` makes after touching its place ("touch the chin,
    then move the hand down"), as a scene of its own that leaves from the place, off the
    skin; None where it makes none."""
    if not (scene.contact and scene.place and scene.then in ONE_WAY and scene.then_dirs):
        return None
    return replace(scene, action=scene.then, dirs=scene.then_dirs[:1], count=scene.then_count, contact=False,
                   then="", then_dirs=(), then_count=1, arrive=False, start=None)


def grammatical(scene: Scene, confidence: dict, said_then: bool = False) -> Scene:
    """``scene`` with the fields the parser read one by one made to agree as the grammar's
    scenes always do (``text.scene_for``), so that one misread field cannot ask for a motion
    no text describes:

    - tapping, touching, brushing or rubbing a place touches it (``text.CONTACT_ACTIONS``),
      even where the contact field alone leans to "near" ("put your hand on your chest");
    - clapping, coming together and moving apart take both hands ("clap twice");
    - two hands that tap or touch at no place read surely (``PLACE_SURE``) touch each other,
      the grammar's "together" ("the two hands bump together twice");
    - a movement after the contact read less surely than ``THEN_SURE`` is left out, but for
      one whose way the text says after a link (``said_then``: ``words.then_said``);
    - one hand alone never signs on the other hand or arm (that hand rests at the side): read
      surely (``PLACE_SURE``) the other hand is a base ("tap the back of your left hand"),
      else the place is left out ("raise your right flat hand up" read at 0.4 as "fingers"
      sent the hand across the body to the resting hand's fingers at the left hip);
    - fingers that open or close are a change of the shape that goes that way, else the
      shape as it is: "right hand open, fingers spread" read as a spread hand that opens
      would close it into a fist, the only change a spread hand has;
    - a rise goes up, a drop down, a push forward and a pull back ("bring your left fist up
      to your mouth" was read as a rise downward)."""
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
    if scene.then and confidence["then"] < THEN_SURE and not said_then:
        scene = replace(scene, then="", then_dirs=(), then_count=1)
    if scene.fingers and scene.shape and _change_direction(scene.shape) != scene.fingers:
        scene = replace(scene, fingers="")
    if scene.action in ONE_WAY and scene.dirs[:1] != (ONE_WAY[scene.action],):
        scene = replace(scene, dirs=(ONE_WAY[scene.action],))
    return scene


def _change_direction(shape: str) -> str:
    """``handshapes.change_direction`` of a shape, "" for one the table does not know."""
    try:
        return H.change_direction(shape)
    except KeyError:
        return ""


def curled_shapes(concept: str) -> list[str]:
    """The shapes a concept's hand makes with its straight fingers curled (``H.curled_forms``)."""
    return H.curled_forms(*(s for s, c in HANDSHAPE_CONCEPT.items() if c == concept))


def sure_shape(probs: dict[str, float], sure: float = SHAPE_SURE) -> str | None:
    """The likeliest handshape of the likeliest concept when that concept holds at least
    ``sure`` of the probability, else None. ``probs``: ASL-LEX handshape -> probability."""
    by_concept: dict[str, float] = {}
    for shape, p in probs.items():
        key = HANDSHAPE_CONCEPT.get(shape, shape)
        by_concept[key] = by_concept.get(key, 0.0) + p
    concept, mass = max(by_concept.items(), key=lambda kv: kv[1])
    if mass < sure or concept == NONE:
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
    if scene.arc:
        parts.append("arc")
    if scene.point:
        parts.append("pointing")
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
