"""Sentences (issue 20): signs kept exactly as made, joined by generated transitions that are
continuous, not too fast, clear of the body and never back at rest; items from lines or JSON."""
import json

import numpy as np
import pytest

from backend.sentence import Item, SentenceError, item, joins, make_sign, read_items, sentence, spans

PROMPTS = ("the right hand, shaped as a fist with the thumb up, taps the chin twice",
           "Move your flat right hand forward from the chest")
ENTRY = "castle_2"


@pytest.fixture(scope="module")
def body():
    from backend.body.model import Body

    return Body.load()


@pytest.fixture(scope="module")
def built(body):
    items = [PROMPTS[0], ENTRY, PROMPTS[1]]
    return items, sentence(items, seed=3, steps=20, body=body)


def test_a_three_sign_sentence_keeps_its_signs_and_joins_them_smoothly(built, body):
    items, motion = built
    sp = spans(motion)
    assert [s["kind"] for s in sp] == ["sign", "transition", "sign", "transition", "sign"]
    assert [s["start"] for s in sp[1:]] == [s["end"] for s in sp[:-1]] and sp[-1]["end"] == motion.num_frames
    assert sp[2]["source"] == f"entry: {ENTRY}" and sp[0]["source"] == f"text: {PROMPTS[0]}"
    for k, (it, s) in enumerate(zip(items, sp[::2])):
        source = make_sign(item(it), seed=3 + k, hand=None, body=body).motion   # made again, as the sentence made it
        a, b = s["source_frames"]
        assert b - a == s["end"] - s["start"] > 5
        for got, want in ((motion.poses, source.poses), (motion.trans, source.trans),
                          (motion.expression, source.expression)):
            np.testing.assert_allclose(got[s["start"]:s["end"]], want[a:b], atol=1e-5, rtol=0)
    assert sp[0]["source_frames"][0] == 0 and sp[-1]["source_frames"][1] > sp[-1]["source_frames"][0]
    j = joins(motion, body)
    assert j["rest_frames"] == 0                                  # never both hands back at rest between signs
    from backend.body.collide import hand_penetration

    deep = np.maximum(*hand_penetration(body, motion).values())   # per frame, m inside the head or torso
    for t in j["transitions"]:
        assert t["join_speed_jump"] <= t["sign_speed_jump"], t    # the continuity bar
        assert t["peak_speed"] <= 3.5, t
        # no hand through the head or torso: 1.5 cm at most, or no deeper than the kept signs'
        # own frames it leaves and reaches (a sign touching the chin may sit 2 cm in it)
        assert t["depth"] <= max(0.015, deep[t["start"] - 1], deep[t["end"]]) + 1e-4, t
    assert motion.provenance["source"] == "signforge-sentence" and motion.provenance["method"] == "inpaint"


def test_the_default_transitions_are_drawn_by_the_model_not_only_blended(built, body):
    from backend.eval import fidelity as F

    items, motion = built
    blend = sentence(items, seed=3, method="blend", body=body)
    made = [s for s in spans(motion) if s["kind"] == "transition"]
    assert all(s["model_share"] > 0 for s in made)   # the model's movement kept (within the bars above)
    for t, u in zip(made, [s for s in spans(blend) if s["kind"] == "transition"]):
        if (t["start"], t["end"]) != (u["start"], u["end"]):
            continue   # placed apart (a widened join): nothing to compare frame by frame
        a, b = t["start"], t["end"]
        off = max(np.linalg.norm(F.wrist_path(motion, body, s)[a:b] - F.wrist_path(blend, body, s)[a:b], axis=1).max()
                  for s in F.SIDES)
        assert off > 0.005, t   # a wrist somewhere over 5 mm from where the blend has it: the model moved it


def test_the_raw_blend_is_continuous_too_and_transition_lengths_can_be_set(body):
    items = [PROMPTS[0], {"text": PROMPTS[1], "transition": 0.6}]
    motion = sentence(items, method="blend", body=body)
    t = [s for s in spans(motion) if s["kind"] == "transition"][0]
    assert t["end"] - t["start"] == 15 and not t["auto"]
    j = joins(motion, body)["transitions"][0]
    assert j["join_speed_jump"] <= j["sign_speed_jump"] and j["peak_speed"] <= 3.5


def test_items_from_lines_and_json(tmp_path):
    (tmp_path / "a.npz").write_bytes(b"")
    lines = tmp_path / "s.txt"
    lines.write_text("# a sentence\nthe right fist taps the chin\n\ncastle_2\na.npz\nentry: cat_1\n", encoding="utf-8")
    got = read_items(lines)
    assert [(i.kind, i.value) for i in got] == [("text", "the right fist taps the chin"), ("entry", "castle_2"),
                                                ("motion", str(tmp_path / "a.npz")), ("entry", "cat_1")]
    js = tmp_path / "s.json"
    js.write_text(json.dumps(["wave hello", {"entry": "castle_2", "transition": 0.4},
                              {"text": "tap the chin", "seconds": 1.5}]), encoding="utf-8")
    assert read_items(js) == [Item("text", "wave hello"), Item("entry", "castle_2", None, 0.4),
                              Item("text", "tap the chin", 1.5, None)]
    bad = tmp_path / "bad.json"
    for body, words in (('[{"entry": "castle_2", "seconds": 2}]', "kept as it is"),
                        ('[{"text": "x", "speed": 2}]', "unknown item key 'speed'"),
                        ('[{"text": "x", "transition": -1}]', "over 0"), ("[1, ", "not valid JSON")):
        bad.write_text(body, encoding="utf-8")
        with pytest.raises(SentenceError, match=words):
            read_items(bad)
    with pytest.raises(SentenceError, match="no dictionary entry 'nosuch_9'"):
        sentence(["nosuch_9"])
    with pytest.raises(SentenceError, match="at least one item"):
        sentence([])


def test_the_cli_says_what_is_wrong_in_one_line(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.json"
    bad.write_text('[{"text": "tap the chin", "speed": 1}]', encoding="utf-8")
    take = tmp_path / "take.npz"
    from backend.io import save_motion
    from backend.motion.motion import Motion

    save_motion(Motion.rest(10), take)
    for args, words in ((["sentence", "--items", str(bad), "-o", str(tmp_path / "s.npz")], "unknown item key 'speed'"),
                        (["edit", str(take), "--text", "x", "-o", str(tmp_path / "e.npz")], "give the part to redo"),
                        (["edit", str(take), "--frames", "3-9", "--text", "x", "-o", str(tmp_path / "e.npz")], "A:B")):
        run = subprocess.run([sys.executable, "-m", "backend.cli", *args], capture_output=True, text=True, timeout=120)
        assert run.returncode == 2 and words in run.stderr and "Traceback" not in run.stderr, run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s.npz").exists() and not (tmp_path / "e.npz").exists()
