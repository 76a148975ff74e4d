"""Texts that ask for one thing and then another (backend.plan.parts, Planner.read_parts):
the planner signs the parts in turn, as the data factory signs a compound's morphemes."""
from __future__ import annotations

import pytest

from backend.data import handshapes as H
from backend.data.vocab import HANDSHAPE_CONCEPT
from backend.eval import fidelity as F
from backend.plan.parts import cuts, pieces
from backend.plan.planner import planner
from backend.plan.words import fingers_only


def test_links_cut_a_text_into_its_parts_texts():
    text = "Touch your forehead with your index finger. Then push both spread hands forward."
    found = cuts(text)
    assert [(text[a:b].strip(), sentence) for a, b, sentence in found] == [("Then", True)]
    assert pieces(text, found) == ["Touch your forehead with your index finger.", "Push both spread hands forward."]
    inline = "Tap your chin twice with your fist, and then touch your chest with a flat hand."
    assert pieces(inline, cuts(inline)) == ["Tap your chin twice with your fist.", "Touch your chest with a flat hand."]
    assert fingers_only("close both hands") and fingers_only("open your hand, with the palm turning left.")
    assert not fingers_only("open your hand and tap your chin")


@pytest.mark.parametrize("text", [
    # the grammar's own one-scene texts: a movement after the contact, a path, fingers that change
    "Using their right hand making two fingers together, pointing, the person touches their mouth area, "
    "then lowers it twice, their left hand held still.",
    "Raise your pointing finger to your forehead and press in, then take it down, then ahead as your fingers open.",
    "I raise my right flat hand close to my lips and take it ahead, then down, then ahead, then curl my fingers in.",
    "Take your right tapered hand ahead, then toward the left, then toward the body by your nose, "
    "then close your hand.",
    "Push both hands in a V shape out, then close both hands.",
    "Trace a path outward, then rightward, then inward with both hands making an L shape.",
    "Pat your left open palm with your right flat hand over and over, then wag it a couple of times, "
    "with the palm turning from down to left.",
    "The dominant left hand, in a pinching hand, taps against the back of the right hand repeatedly and then "
    "moves upwards and back repeatedly. The non-dominant right hand waits as a pinching hand.",
    # a person's: a shape first, then what it does
    "Make a fist. Then tap your chin twice.",
    "Make a fist with your right hand and then tap your chin twice.",
    "The right fist taps the chin twice.",
    # the hand already signing, named as such: it goes on (it was a flat hand pushed forward)
    "Touch your temple with the right index finger, then move the hand forward.",
])
def test_one_scene_told_with_then_is_one_part(text):
    assert len(planner().read_parts(text)) == 1


@pytest.mark.parametrize("text", ["the right hand, shaped as a fist, taps the chin twice",
                                  "R fist; tap; chin; twice"])
def test_a_text_of_one_part_is_read_as_written(text):
    """A one-part text reaches the parser as the user wrote it: capitalized and ended with a
    period, "the right hand, shaped as a fist, ..." read as an unnamed shape (a flat hand)."""
    assert planner().read_parts(text)[0][0] == planner().read(text)[0]
    assert planner().read_parts(text)[0][0].shape == "s"


@pytest.mark.parametrize("text, first, second", [
    ("Tap your chin twice with your fist, then touch your chest with a flat hand.",
     ("one", "fist", "chin", "tap"), ("one", "flat", "chest", "touch")),
    ("The forefinger grazes the brow. After that, using a crooked spread hand, both hands point straight ahead "
     "in front of the body, with the palms down.",
     ("one", "index", "forehead", "brush"), ("both", "claw", None, "push")),
    ("Keep your right forefinger still beside your brow. Then circle your index finger.",
     ("one", "index", "forehead", "hold"), ("one", "index", None, "circle")),
    ("Touch your chin with your left flat hand. Next, tap your chest twice.",       # the same hand and shape
     ("one", "flat", "chin", "touch"), ("one", "flat", "chest", "tap")),
    ("First touch your chin with your index finger, then touch your forehead with it.",   # another place touched
     ("one", "index", "chin", "touch"), ("one", "index", "forehead", "touch")),
    ("Touch your chin with your flat hand, then move it down to your chest.",   # a stroke that ends at another
     ("one", "flat", "chin", "touch"), ("one", "flat", "chest", "drop")),
])
def test_a_text_of_two_parts_reads_as_two_scenes(text, first, second):
    read = [scene for scene, _ in planner().read_parts(text)]
    got = [(s.hands, HANDSHAPE_CONCEPT.get(s.shape, s.shape), s.place, s.action) for s in read]
    assert got == [first, second], [(s.side, s.hands, s.shape, s.place, s.action) for s in read]
    assert read[0].side == read[1].side


@pytest.mark.parametrize("text, ways", [
    ("Both fists bump together, then pull apart.", ("together", "apart")),
    ("The hands come together and then move apart.", ("together", "apart")),
    ("Pull your hands apart, then bring them back together.", ("apart", "together")),
    ("Open hands move away from each other.", ("apart",)),
])
def test_hands_that_meet_then_part_are_two_parts(text, ways):
    """Hands said to meet and then part (or part, then meet) do both, in turn, with the same
    shape: read as one scene, the last way said was all that was signed."""
    read = [scene for scene, _ in planner().read_parts(text)]
    assert tuple(s.action for s in read) == ways and all(s.hands == "both" for s in read)
    assert len({s.shape for s in read}) == 1


def test_two_parts_are_signed_in_turn_each_at_its_place_in_its_shape():
    """"Tap your chin twice with your fist, then touch your chest with a flat hand": the fist
    at the chin over the first part's frames, the flat hand at the chest over the second's,
    one person signing both, one motion with no return to rest between them."""
    plan = planner()
    body = plan.realizer.synth.body
    for take in plan.plan("Tap your chin twice with your fist, then touch your chest with a flat hand.", num=2):
        assert len(take.takes) == 2 and take.takes[1].signer.person == take.takes[0].signer.person
        motion = take.motion
        spans = take.windows
        regions = [F.place(motion, body, "right", w) for w in spans]
        assert regions[0] in ("mouth/chin", "neck") and regions[1] == "chest", (regions, spans)
        shapes = [H.HANDSHAPES[F.handshape(motion, body, "right", w)] for w in spans]
        assert shapes[0].name in ("s", "a", "t", "e", "baby_o") and shapes[1].name in ("flat_b", "open_b", "b"), \
            [s.name for s in shapes]
        lifted = F.place_point(motion, body, "right", (spans[0][1], spans[1][0]))   # between the parts
        assert lifted[1] > F.place_point(motion, body, "right", (0, 3))[1] + 0.15   # nowhere near rest
        assert "then" in motion.provenance["plan"]



def test_a_take_of_parts_is_as_long_as_they_take_and_five_links_sign_four_parts():
    """The auto length of a planned take kept as is is the plan's, past the model's 4 s window
    (two parts fitted into it played 10-15% faster); at most ``MAX_PARTS`` parts are signed."""
    from backend.generate import generate
    from backend.plan.planner import MAX_PARTS

    text = "Tap your chin twice with your fist, then touch your chest with a flat hand."
    motion = generate(text, steps=10)[0]
    assert motion.num_frames == planner().plan(text)[0].motion.num_frames > 101
    many = ". Then ".join(["Tap your chin with your fist", "touch your chest with a flat hand", "circle your index "
                           "finger", "wave your spread hand", "rub your stomach with your flat hand",
                           "tap your forehead with your index finger"]) + "."
    assert len(planner().read_parts(many)) == MAX_PARTS


def test_a_stroke_after_a_movement_in_the_air_is_a_part_of_its_own():
    # "draw a circle ..., then jab it forward": the jab was lost (a tap on the other hand's
    # fingers, then a circle); a stroke goes on from a touch only as its movement after
    read = [sc for sc, _ in planner().read_parts("Draw a circle with the left index finger, then jab it forward.")]
    assert [(sc.side, sc.action, sc.dirs, sc.place) for sc in read] == \
        [("left", "circle", (), None), ("left", "push", ("forward",), None)]
    touched = [sc for sc, _ in planner().read_parts("Tap your chin, then move the hand forward.")]
    assert [(sc.action, sc.then) for sc in touched] == [("tap", "push")]


def test_a_finger_pointed_back_at_goes_on_from_the_touch():
    # "then points that finger straight forward" was a part of its own, pushed from the chest
    read = [sc for sc, _ in planner().read_parts("He taps his temple with his right index finger twice, then points "
                                                 "that finger straight forward at the suspect.")]
    assert [(sc.place, sc.action, sc.count, sc.then, sc.then_dirs) for sc in read] == \
        [("temple", "tap", 2, "push", ("forward",))]


def test_a_stroke_after_a_touch_that_no_take_makes_is_signed_after_it():
    """"Touch the lips ..., then lower the hand": no take of the lexicon's made the stroke
    down after the touch (each held at the lips and went back to rest); the touch is signed,
    then the stroke from the lips, by one person, the hand going down 10 cm or more."""
    plan = planner()
    body = plan.realizer.synth.body
    for take in plan.plan("Touch the lips with your index finger, then lower the hand.", num=2):
        assert [(sc.action, sc.contact) for sc in take.parts] == [("touch", True), ("drop", False)]
        assert take.takes[1].signer.person == take.takes[0].signer.person
        (a, b), (c, d) = take.windows
        assert F.place(take.motion, body, "right", (a, b)) == "mouth/chin"
        path = F.wrist_path(take.motion, body, "right")
        assert path[c, 1] - path[c:d, 1].min() > 0.10


def test_the_hand_a_text_of_parts_signs_with_signs_every_part():
    # the first part touched the left shoulder with the left hand
    read = [sc for sc, _ in planner().read_parts("Touch the left shoulder, then the right shoulder, "
                                                 "with the right flat hand.")]
    assert [(sc.side, sc.place, sc.place_side) for sc in read] == [("right", "shoulder", "left"),
                                                                   ("right", "shoulder", "right")]


def test_hands_said_to_meet_then_a_stroke_are_two_parts_both_hands_in_each():
    read = [sc for sc, _ in planner().read_parts("Both fists first bump together, then move down to the tummy.")]
    assert [(sc.hands, sc.action) for sc in read] == [("both", "together"), ("both", "drop")]
