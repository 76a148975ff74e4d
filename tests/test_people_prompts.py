"""People's prompts: the expectation checker (backend.eval.prompts) on made-up paths and real
takes, the planner's reading of everyday phrasing, and `signforge eval prompts` end to end."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from backend.eval import prompts as P


@pytest.fixture(scope="module")
def body():
    from backend.body.model import Body

    return Body.load()


def test_the_built_in_set_loads_in_two_halves_with_known_expectations():
    prompts = P.load_prompts()
    assert len(prompts) >= 60
    splits = [p.split for p in prompts]
    assert splits.count("dev") == splits.count("held-out") or abs(splits.count("dev") - splits.count("held-out")) == 1
    assert splits == sorted(splits, key=P.SPLITS.index)              # the first half is dev
    for p in prompts:
        assert p.expectations()[0] == "hand"
        assert ("other down" in p.expectations()) == (p.hand != "both")


def test_an_unknown_expectation_is_refused_with_its_line(tmp_path):
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"text": "wave", "hand": "right", "move": ["wobble"]}\n')
    with pytest.raises(ValueError, match="line 1"):
        P.load_prompts(bad)


def test_strokes_turns_and_directions_of_made_up_paths():
    t = np.linspace(0, 1, 60)
    still = np.zeros((60, 3))
    line = np.stack([0 * t, 0 * t, 0.15 * t], 1)                       # 15 cm forward
    taps = np.stack([0 * t, 0 * t, 0.03 * np.abs(np.sin(2 * np.pi * t))], 1)   # out and in, twice
    circle = np.stack([0.05 * np.cos(2 * np.pi * t), 0.05 * np.sin(2 * np.pi * t), 0 * t], 1)
    assert P.strokes_along(still) == 0 and P.strokes_along(line) == 1 and P.strokes_along(taps) == 4
    assert P.turning(circle) == pytest.approx(360, abs=10) and P.turning(line) == 0
    assert P.direction_of(P.excursion(line)) == "forward"
    assert P.direction_of(np.array([0.0, -0.1, 0.02])) == "down"
    assert P.direction_of(np.array([-0.1, 0.02, 0.0])) == "sideways"
    assert P.direction_of(np.array([0.0, 0.03, 0.0])) == "none"          # under REACH


def test_finger_classes():
    ext = lambda i, m, r, p: dict(index=i, middle=m, ring=r, pinky=p)  # noqa: E731
    assert P.shape_of(ext(0.5, 0.5, 0.5, 0.5)) == "fist"
    assert P.shape_of(ext(0.98, 0.5, 0.5, 0.5)) == "index"
    assert P.shape_of(ext(0.98, 0.98, 0.5, 0.5)) == "V"
    assert P.shape_of(ext(0.98, 0.98, 0.98, 0.98)) == "open"
    assert P.shape_of(ext(0.78, 0.78, 0.78, 0.78)) == "other"


def test_a_generated_take_meets_its_prompt_and_not_anothers(body):
    from backend.generate import generate

    asked = P.Prompt("The left fist taps the chin twice.", "left", "fist", "chin", ("repeat",))
    motion = generate(asked.text, seed=0)[0]
    got = P.check(motion, body, asked)
    assert got.passed == {"hand": True, "other down": True, "shape": True, "site": True, "repeat": True}, got.seen
    other = P.check(motion, body, P.Prompt("Raise your left index finger.", "left", "index", None, ("up",)))
    assert other.passed["hand"] and not other.passed["shape"] and not other.passed["up"]


def test_a_hand_put_on_a_place_touches_it():
    from backend.plan.planner import planner

    scene, _ = planner().read("Put your right hand on your chest.")
    assert (scene.place, scene.contact) == ("chest", True)


def test_cli_writes_the_prompts_report(tmp_path):
    from backend.cli import app

    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"text": "The right fist taps the chin twice.", "hand": "right", "shape": "fist", '
                       '"site": "chin", "move": ["repeat"]}\n'
                       '{"text": "Both hands move apart.", "hand": "both", "move": ["apart"]}\n')
    out = tmp_path / "report.md"
    result = CliRunner().invoke(app, ["eval", "prompts", "--prompts", str(prompts), "--seeds", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# People's prompts")
    assert "| dev |" in text and "| held-out |" in text and "median peak wrist speed" in text
    assert str(tmp_path) not in text
    assert "signforge eval prompts --seeds 1 --out OUT" in text
    prompts.write_text('{"text": "wave", "hand": "middle"}\n')
    bad = CliRunner().invoke(app, ["eval", "prompts", "--prompts", str(prompts), "--out", str(out)])
    assert bad.exit_code == 2 and "line 1" in bad.output
    nodata = CliRunner().invoke(app, ["eval", "fidelity", "--out", str(out)])
    assert nodata.exit_code == 2 and "needs --data" in nodata.output


def test_a_direction_is_not_a_hand():
    from backend.plan.planner import planner
    from backend.plan.words import says_side

    assert not says_side("Move your fist to the left.") and not says_side("slide it toward the signer's right")
    assert says_side("The left fist moves to the right.") and says_side("Tap the left palm.")
    scene, _ = planner().read("Move your fist to the left.")
    assert scene.side == "right" and scene.dirs[:1] == ("left",)
    assert planner().read("Move your fist to the left.", hand="left")[0].side == "left"


def test_two_hands_touching_nowhere_touch_each_other():
    from backend.plan.planner import planner

    scene, _ = planner().read("The two hands bump together twice, fists closed.")
    assert (scene.hands, scene.action, scene.count, scene.place) == ("both", "together", 2, None)
    scene, _ = planner().read("Both hands tap the chest twice.")     # a place it is sure of stays
    assert (scene.action, scene.place) == ("tap", "chest")


def test_a_clap_takes_both_hands_though_the_text_names_none():
    from backend.plan.planner import planner

    scene, _ = planner().read("Clap twice.")
    assert (scene.hands, scene.action, scene.count) == ("both", "clap", 2)
