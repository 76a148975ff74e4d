"""Editing a take (issue 20): only the masked part is regenerated, everything else bit-exact."""
import numpy as np
import pytest

from backend.edit import EditError, edit, joint_names, parse_frames
from backend.motion.motion import Motion

TAKE = "the right hand, shaped as a fist, taps the chin twice"


@pytest.fixture(scope="module")
def body():
    from backend.body.model import Body

    return Body.load()


@pytest.fixture(scope="module")
def take():
    from backend.generate import generate

    return generate(TAKE)[0]


def _same(a: Motion, b: Motion, keep_joints: np.ndarray) -> None:
    assert np.array_equal(a.poses[:, keep_joints], b.poses[:, keep_joints])
    for name in ("trans", "expression", "betas"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.fps == b.fps and a.num_frames == b.num_frames


def test_redoing_the_right_hands_fingers_keeps_every_other_channel_and_follows_the_text(take, body):
    from backend.eval import fidelity as F
    from backend.plan.planner import planner
    from training.fidelity import shape_class

    text = "a flat right hand taps the chin twice"
    out = edit(take, text, joints="right_hand", steps=20, body=body)
    fingers = np.zeros(55, bool)
    fingers[40:55] = True
    _same(out, take, ~fingers)
    assert not np.array_equal(out.poses[:, fingers], take.poses[:, fingers])
    window = F.sign_window(take, body, "right")
    asked = planner().read(text)[0].shape
    assert shape_class(F.handshape(take, body, "right", window)) != shape_class(asked)   # a real change...
    assert shape_class(F.handshape(out, body, "right", window)) == shape_class(asked)   # ...to what was asked
    assert out.provenance["edited"] == f"0:{take.num_frames} right_hand" and out.provenance["edit_text"] == text


def test_redoing_frames_keeps_the_others_and_meets_them_without_a_jump(take, body):
    from backend.eval import fidelity as F

    out = edit(take, "the right fist taps the chest twice", frames=(20, 45), steps=20, body=body)
    assert np.array_equal(out.poses[:20], take.poses[:20]) and np.array_equal(out.poses[45:], take.poses[45:])
    for name in ("trans", "betas"):
        assert np.array_equal(getattr(out, name), getattr(take, name))
    assert np.array_equal(out.poses[:, 0], take.poses[:, 0])   # the root is not the features'
    assert np.array_equal(out.expression[:20], take.expression[:20]) and np.array_equal(out.expression[45:], take.expression[45:])
    assert not np.array_equal(out.poses[20:45], take.poses[20:45])
    for side in ("right",):
        jumps = np.abs(np.diff(F.wrist_speed(out, body, side)))
        within = np.abs(np.diff(F.wrist_speed(take, body, side))).max()
        assert jumps[[17, 18, 19, 42, 43, 44]].max() <= within   # steps touching frames 20 and 45


def test_bad_edits_say_what_is_wrong(take):
    with pytest.raises(EditError, match="unknown joint or group 'right_foot'"):
        joint_names("right_foot")
    assert joint_names("arms,jaw")[-1] == "jaw" and len(joint_names("right_hand")) == 15
    with pytest.raises(EditError, match="A:B"):
        parse_frames("20-35")
    with pytest.raises(EditError, match="not inside the take"):
        edit(take, "tap", frames=(10, 500))
    with pytest.raises(EditError, match="give the part to redo"):
        edit(take, "tap")
    with pytest.raises(EditError, match="empty"):
        edit(take, "  ", joints="hands")


def test_a_take_longer_than_the_model_is_edited_in_windows(take, body):
    from backend.edit import windows

    long = take.concat(take)   # 166 frames: past the shipped model's 101
    assert windows(long.num_frames, (0, long.num_frames), 101) == [(0, 101), (77, 166)]
    out = edit(long, "a flat right hand", joints="right_hand", steps=5, body=body)
    fingers = np.zeros(55, bool)
    fingers[40:55] = True
    _same(out, long, ~fingers)
    steps = np.abs(np.diff(out.poses[:, fingers], axis=0)).max()
    assert steps <= max(0.5, np.abs(np.diff(long.poses[:, fingers], axis=0)).max())   # no seam where windows meet


@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0])
def test_a_take_at_another_rate_keeps_its_own_frames_bit_exact(take, body, fps):
    from backend.body.skeleton import JOINT_INDEX
    from backend.eval import fidelity as F

    scene = take.resample(fps)   # a take keyed in a 24, 30 or 60 fps scene
    a, b = int(round(20 * fps / 25)), int(round(45 * fps / 25))
    out = edit(scene, "the right fist taps the chest twice", frames=(a, b), joints="right_arm,right_hand",
               steps=10, body=body)
    assert out.fps == fps and out.num_frames == scene.num_frames
    arm = np.zeros(55, bool)
    arm[[JOINT_INDEX[n] for n in joint_names("right_arm,right_hand")]] = True
    assert np.array_equal(out.poses[:a], scene.poses[:a]) and np.array_equal(out.poses[b:], scene.poses[b:])
    assert np.array_equal(out.poses[:, ~arm], scene.poses[:, ~arm])
    for name in ("trans", "expression", "betas"):
        assert np.array_equal(getattr(out, name), getattr(scene, name)), name
    assert not np.array_equal(out.poses[a:b], scene.poses[a:b])
    assert out.provenance["edited"].startswith(f"{a}:{b} ")
    jumps = np.abs(np.diff(F.wrist_speed(out, body, "right")))
    within = np.abs(np.diff(F.wrist_speed(scene, body, "right"))).max()
    assert jumps[[a - 3, a - 2, a - 1, b - 3, b - 2, b - 1]].max() <= within   # met at the take's own rate


def test_the_models_frames_next_to_kept_ones_are_carried_on_at_their_pace():
    """Next to the frames it keeps, the model jumps to meet them in a frame or two; those
    ``EDGE`` frames go on at the pace inside them, and the meet then joins the neighbours."""
    from backend.edit import EDGE, _unedged

    made = np.cumsum(np.ones((10, 3)), 0)
    made[-1] += 5.0                                    # a jump in the last frame
    made[0] -= 3.0                                     # and in the first
    out = _unedged(made, True, True)
    assert np.allclose(np.diff(out, axis=0), 1.0) and np.array_equal(out[EDGE:-EDGE], made[EDGE:-EDGE])
    assert np.array_equal(_unedged(made, False, False), made)
