"""Notation people type in place of sentences (``plan.notation``): emoji, arrows, letters of
the manual alphabet, numbered steps and fields, written in the words the planner reads; and
what the shipped planner then reads from them."""
from __future__ import annotations

import pytest

from backend.data.vocab import HANDSHAPE_CONCEPT
from backend.plan.notation import in_words
from backend.plan.planner import planner


@pytest.mark.parametrize("text, words", [
    ("L fist → chest, ×2", "L fist to chest, x2"),
    ("L open ↓ forehead → chin", "L open down from forehead to chin"),
    ("R S-hand → chin (touch) → forward", "R fist to chin (touch), then forward"),
    ("both S → together → apart", "both fists together, then apart"),
    ("L V ➡ forward ×2", "L V forward x2"),
    ("Step 1: right hand flat on the stomach. Step 2: slide it up to the chest.",
     "right hand flat on the stomach. Then slide it up to the chest."),
    ("1. right V at the forehead 2. flick it out forward", "right V at the forehead. Then flick it out forward"),
    ("{hand: left, handshape: index, target: nose, action: touch}", "With the left index finger, touch the nose."),
    ("hand=R shape=1 loc=temple mov=tap,tap", "With the right index finger, tap the temple 2 times."),
    ("hand: L / shape: V / site: stomach / motion: tap ×2", "With the left V shape, tap the stomach x2."),
    ("hands=both; shape=flat; start=wide; end=fingertips meet; speed=slow",
     "With both flat hands, start apart and come together, slowly."),
    ("lefty fist on ur heart ❤️ stay there", "left hand fist on your heart heart stay there"),
    ("both hands ✌️✌️ raise em", "both hands V shape raise them"),
    ("pat, pat, pat your tummy", "pat 3 times your tummy"),
])
def test_notation_is_written_in_plain_words(text, words):
    assert in_words(text) == words


@pytest.mark.parametrize("text", [
    "Tap the chin twice with the right index finger.",
    "Handshape: 1. Location: chin. Movement: tap twice. Hand: right",   # a sign-teacher's fields, one to a sentence
    "Make an L shape and lift it up up up",
    "Handshape: 5, palm in. Location: chest. Movement: one small circle. Left hand.",
    "R hand held flat, dab 2x, upper face",   # the grammar's own terse notes
    "The right fist moves from left to right.",
])
def test_plain_sentences_are_left_as_they_are(text):
    assert in_words(text) == text


@pytest.mark.parametrize("text, side, hands, concept, place, action, count", [
    # read as the right hand flat in the air, a flat hand, the right hand, and open hands
    ("{hand: left, handshape: index, target: nose, action: touch}", "left", "one", "index", "nose", "touch", 1),
    ("hand: L / shape: V / site: stomach / motion: tap ×2", "left", "one", "v", "stomach", "tap", 2),
    ("thumbs up left, shove it forward", "left", "one", "thumb_fist", None, "push", 1),
    ("tap chin x3 👆 left", "left", "one", "index", "chin", "tap", 3),
    ("lefty fist on ur heart ❤️ stay there", "left", "one", "fist", "chest", "touch", 1),
])
def test_the_planner_reads_notation(text, side, hands, concept, place, action, count):
    scene, _ = planner().read_parts(text)[0]
    assert (scene.side, scene.hands, HANDSHAPE_CONCEPT.get(scene.shape), scene.place, scene.action, scene.count) == \
        (side, hands, concept, place, action, count)


def test_numbered_steps_and_arrows_between_places_are_parts_and_strokes_between_places():
    parts = [scene for scene, _ in planner().read_parts("Step A — right fist at the stomach; Step B — fist rises to "
                                                        "the chin")]
    assert [(s.place, s.action) for s in parts] == [("stomach", "touch"), ("chin", "rise")]
    scene, _ = planner().read_parts("both fists ↓ chest → stomach")[0]
    assert (scene.hands, scene.action, scene.start, scene.place) == ("both", "drop", "chest", "stomach")


@pytest.mark.parametrize("text, words", [
    ("Hand_L: fist, thumb up. Translate 30 cm along +Z in character space — on this rig +Z is the facing direction.",
     "left hand: fist, thumb up. Translate forward — on this rig forward is the facing direction."),
    ("Both arms, each hand in a V, wrists rise ~30 cm on +Z (Blender, Z-up) in sync; the hands never touch.",
     "Both arms, each hand in a V, wrists rise up in sync; the hands never touch."),
    ("Shot 07 — the left, sorry, the right hand: index extended, thumb and other three curled, single contact on the "
     "chin at f12, hold through f24.", "Shot 07 — the right hand: index finger, one touch on the chin, hold."),
    ("Contact pass: right fist strikes the left palm — actually kill that, left arm stays at rest. Just the right fist "
     "knocking on the chest, 3 hits.",
     "Contact pass: left arm stays at rest. Just the right fist knocking on the chest, 3 hits."),
    ("Bilateral: wrists start ~40 cm apart at sternum height and converge to palm contact by f18. 5-handshape.",
     "Bilateral: wrists start apart at sternum height and converge to palm contact. spread hand."),
    ("Knuckle taps on the forehead, L fist, 2 hits 0.25 s apart.", "Knuckle taps on the forehead, L fist, 2 hits."),
    ("okay the left no wait the right hand index finger touch your chin",
     "okay the right hand index finger touch your chin"),
    ("place the fingertip on the mandible at the mental protuberance", "place the fingertip on the chin"),
    ("the fist into contact with the frontal bone", "the fist into contact with the forehead"),
    ("Place the left palm over the umbilicus", "Place the left palm over the belly"),
])
def test_an_animation_professionals_notes_are_written_in_plain_words(text, words):
    # rig numbers read as counts, "0.3 s apart" as two hands parting, "Hand_L" as no hand
    assert in_words(text) == words


def test_the_planner_reads_an_animation_professionals_notes():
    scene, _ = planner().read_parts("Hand_L: fist, thumb up. Translate 30 cm along +Z in character space — on this "
                                    "rig +Z is the facing direction.")[0]
    assert (scene.side, HANDSHAPE_CONCEPT.get(scene.shape), scene.action, scene.dirs) == \
        ("left", "thumb_fist", "push", ("forward",))
    scene, _ = planner().read_parts("IK goal for the right hand: the temple. Index pose. Two contacts with a pull-off "
                                    "in between, then release.")[0]
    assert (scene.side, HANDSHAPE_CONCEPT.get(scene.shape), scene.place, scene.action, scene.count) == \
        ("right", "index", "temple", "tap", 2)


@pytest.mark.parametrize("text, words", [
    ("Weak hand only (the person is right-handed): the flat palm slides forward.",
     "the left hand only the flat palm slides forward."),
    ("Use the hand you don't write with, assuming a right-handed person, and lift the index finger. The writing hand "
     "stays down.", "Use the left hand, and lift the index finger. the right hand stays down."),
    ("Tap the chin with your weak hand.", "Tap the chin with the non-dominant hand."),
])
def test_hands_named_by_handedness_are_named_by_side_or_dominance(text, words):
    assert in_words(text) == words


def test_fields_name_the_non_dominant_hand_as_the_users_other_hand():
    # "hand=non-dominant" had been written as the left hand whatever the user's hand
    text = "hand=non-dominant; shape=V; loc=chin; mov=tap,tap"
    assert in_words(text) == "With the non-dominant hand in a V shape, tap the chin 2 times."
    assert [planner().read_parts(text, hand=h)[0][0].side for h in (None, "left")] == ["left", "right"]
