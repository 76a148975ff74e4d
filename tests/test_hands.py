"""Hand choice: the hand a prompt names is the hand that signs; --hand sets it otherwise."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from backend.body.skeleton import JOINT_INDEX as J
from backend.data.lexicon import read_lexicon
from backend.data.synth import Signer, Synthesizer
from backend.generate import GenerateError, generate
from backend.motion import Motion
from backend.motion.hands import (dominant_hand, hand_activity, hanging_pose, named_hand, obey_hand,
                                  settle_idle_arms, signing_hands, wanted_hand)


@pytest.mark.parametrize("text,hand", [
    ("the left fist taps the chin twice", "left"),
    ("Tap your chin with your left index finger", "left"),
    ("the signer's left hand waves", "left"),
    ("bring your right fist up to the chin", "right"),
    ("R fist, chin, tap x2", "right"),
    ("L flat hand, chest, circle", "left"),
    ("a left-handed signer pats the stomach", "left"),
    ("the hand moves to the right", None),              # a direction, not a hand
    ("the fist taps the chin", None),
    ("both hands move apart", None),
    ("the left hand holds still while the right hand taps it", None),   # both named: no single hand
])
def test_the_hand_a_prompt_names(text, hand):
    assert named_hand(text) == hand


def test_a_named_hand_beats_the_option_and_right_is_the_default():
    assert wanted_hand("the left fist taps the chin", "right") == ("left", "prompt")
    assert wanted_hand("the fist taps the chin", "left") == ("left", "option")
    assert wanted_hand("the fist taps the chin", "auto") == ("right", "default")


@pytest.fixture(scope="module")
def signs(body):
    lex = read_lexicon()
    synth = Synthesizer(body)
    out = {}
    for entry_id in ("please", "secretary", "castle_2"):   # one hand; a base hand; two alike
        entry = lex.by_id()[entry_id]
        for left in (False, True):
            out[entry_id, left] = synth.synthesize(entry, Signer.sample(3, left_handed=left))[0]
    return out


def test_the_signing_hand_is_measured_on_the_motion(signs):
    assert signing_hands(signs["please", False]) == "right" == dominant_hand(signs["please", False])
    assert signing_hands(signs["please", True]) == "left" == dominant_hand(signs["please", True])
    assert signing_hands(signs["secretary", False]) == "both"
    assert dominant_hand(signs["secretary", False]) == "right"     # the base hand holds, the other moves
    assert dominant_hand(signs["secretary", True]) == "left"
    assert dominant_hand(signs["castle_2", False]) is None          # two hands alike: no side to fix
    still = Motion.rest(30).with_(poses=np.repeat(hanging_pose()[None], 30, 0).astype(np.float32))
    assert signing_hands(still) is None and max(hand_activity(still).values()) < 0.08


def test_a_motion_led_by_the_other_hand_is_mirrored(signs):
    left = signs["please", True]
    fixed = obey_hand(left, "right", "prompt")
    assert dominant_hand(fixed) == "right"
    assert fixed.provenance["hand_mirrored"] == "true" and fixed.provenance["hand_from"] == "prompt"
    np.testing.assert_allclose(fixed.poses, left.mirror().poses)
    kept = obey_hand(signs["please", False], "right")
    assert kept.provenance["hand_mirrored"] == "false"
    np.testing.assert_array_equal(kept.poses, signs["please", False].poses)
    both = obey_hand(signs["castle_2", False], "left")
    np.testing.assert_array_equal(both.poses, signs["castle_2", False].poses)


def test_generate_obeys_the_hand(signforge_cache):
    named = generate("the left fist taps the chin twice", steps=5, seed=1)[0]
    assert named.provenance["hand"] == "left" and named.provenance["hand_from"] == "prompt"
    assert dominant_hand(named) in ("left", None)
    for hand in ("left", "right"):
        m = generate("the fist taps the chin twice", steps=5, seed=1, hand=hand)[0]
        assert m.provenance["hand"] == hand and m.provenance["hand_from"] == "option"
        assert dominant_hand(m) in (hand, None)
    with pytest.raises(GenerateError, match="hand must be left or right"):
        generate("the fist taps the chin", steps=2, hand="middle")


def test_cli_refuses_an_unknown_hand_in_one_line(tmp_path):
    run = subprocess.run([sys.executable, "-c", "from backend.cli import main; main()", "generate",
                          "a fist", "-o", str(tmp_path / "x.npz"), "--steps", "2", "--hand", "middle"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    # the generate request's check, worded for the command line
    assert "--hand must be one of 'auto', 'left', 'right'; got 'middle'" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "x.npz").exists()


def test_an_idle_arm_that_drifts_is_held_at_rest_and_signing_arms_are_kept(signs):
    from backend.motion.hands import ARM_JOINTS, _wrists

    please = signs["please", False]                    # the right hand signs, the left hangs
    poses = please.poses.copy()
    t = np.linspace(0, 1, len(poses))
    poses[:, J["left_shoulder"], 2] += 0.12 * np.sin(np.pi * t)   # the idle arm drifts a few cm and back
    drifted = please.with_(poses=poses)
    drift = np.linalg.norm(_wrists(drifted)["left"], axis=1).max()
    assert 0.02 < drift < 0.08
    out = settle_idle_arms(drifted)
    assert out.provenance["settled"] == "left"
    left = [J[f"left_{n}"] for n in ARM_JOINTS]
    np.testing.assert_allclose(out.poses[:, left], np.repeat(hanging_pose()[None, left], len(poses), 0), atol=1e-6)
    held = np.linalg.norm(_wrists(out)["left"], axis=1)   # still: only the signer's torso lean remains
    assert held.max() < 0.01 and np.ptp(held) < 1e-3
    others = [j for j in range(55) if j not in left]
    np.testing.assert_array_equal(out.poses[:, others], drifted.poses[:, others])   # the signing arm, fingers kept
    for key in (("secretary", False), ("castle_2", False)):                          # two signing arms: untouched
        kept = settle_idle_arms(signs[key])
        assert kept.provenance["settled"] == ""
        np.testing.assert_array_equal(kept.poses, signs[key].poses)
