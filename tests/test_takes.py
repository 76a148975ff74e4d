"""The add-on's bpy-free take maths: resampling to a scene's frame rate, take names and records."""
import numpy as np
import pytest

from backend.body import rotations as R
from blender_addon.core import motion as M
from blender_addon.core.takes import Take, generate_take, take_name


def _angle(aa_a: np.ndarray, aa_b: np.ndarray) -> np.ndarray:
    """Angles (rad) between rotations given as axis-angles: of the relative quaternion conj(a) b."""
    a, b = M.axis_angle_to_quaternion(aa_a), M.axis_angle_to_quaternion(aa_b)
    w = (a * b).sum(-1)
    xyz = a[..., :1] * b[..., 1:] - b[..., :1] * a[..., 1:] - np.cross(a[..., 1:], b[..., 1:])
    return 2 * np.arctan2(np.linalg.norm(xyz, axis=-1), np.abs(w))


def _motion(rng, frames=50, fps=25.0):
    # a smooth random motion: each joint turns steadily about its own axis
    axis = rng.normal(size=(1, 55, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.linspace(0, 1, frames)[:, None, None] * rng.uniform(0.5, 2.5, (1, 55, 1))
    expr = np.linspace(0, 1, frames)[:, None] * np.arange(10)
    trans = np.linspace(0, 1, frames)[:, None] * np.array([0.1, 0.2, 0.3])
    return M.MotionData(axis * angle, trans, expr, fps, text="turning")


@pytest.mark.parametrize("fps", [24.0, 25.0, 30.0, 60.0, 30000 / 1001])
def test_resampling_keeps_the_duration_and_the_pose_at_matched_times(rng, fps):
    src = _motion(rng)
    out = M.resample(src, fps)
    assert out.fps == fps
    assert abs(out.frames / fps - src.frames / src.fps) <= 0.5 / fps   # the same seconds, to a frame
    t = np.arange(out.frames) * src.fps / fps          # each output frame's time, in source frames
    exact = np.flatnonzero(np.abs(t - np.round(t)) < 1e-9)
    assert len(exact) >= 1
    assert _angle(out.poses[exact], src.poses[np.round(t[exact]).astype(int)]).max() < 1e-9
    # between source frames: on the great arc (each joint turns about a fixed axis here); held past the end
    held = np.clip(t, 0, src.frames - 1)
    for k in range(out.frames):
        i = min(int(np.floor(held[k])), src.frames - 2)
        a = held[k] - i
        want = src.poses[i] + a * (src.poses[i + 1] - src.poses[i])
        assert _angle(out.poses[k], want).max() < 1e-6, k
    np.testing.assert_allclose(out.expression, held[:, None] / (src.frames - 1)
                               * np.arange(10), atol=1e-9)   # linear


def test_resampling_to_the_same_rate_is_the_motion_itself(rng):
    src = _motion(rng, fps=24.0)
    assert M.resample(src, 24.0) is src
    with pytest.raises(ValueError, match="not positive"):
        M.resample(src, 0.0)


def test_the_backend_slerp_is_the_addons():
    assert R.np_quaternion_slerp is M.quaternion_slerp


def test_take_names_keep_the_prompt_up_to_blenders_limit():
    long = "the right hand, shaped as a flat hand with the fingers spread, moves from the chin forward twice"
    assert len(long) > 63
    assert take_name(long, limit=255) == long                  # Blender 5.0: 255 bytes
    cut = take_name(long, limit=63)
    assert cut.endswith("…") and len(cut.encode()) <= 63 and long.startswith(cut[:-1])
    assert len(take_name("é" * 100, limit=63).encode()) <= 63   # cut on a character boundary
    assert take_name("  \n ", "video") == "video"
    take = Take(long)
    assert take.variant(0, 1) == long
    assert take.variant(1, 3, limit=63).endswith(" #2") and len(take.variant(1, 3, limit=63).encode()) <= 63


def test_a_take_records_the_request_then_what_ran():
    params = {"prompt": "tap 3 times", "model": "handmdm", "seed": 3, "steps": 5, "guidance": 2.5,
              "hand": "right", "num": 2, "out_dir": "/tmp/x", "run": None}
    take = generate_take(params, mode="ACTION", frame=1100)
    assert (take.name, take.mode, take.frame, take.fit_scene) == ("tap 3 times", "ACTION", 1100, False)
    record = take.record({"seed": "3", "steps": "100", "sampler": "ddpm", "run": "handmdm-v2",
                          "left_hand_found": "0.950", "trimmed": "0-57 of 58", "stamp": "17012345678901"})
    assert record == {"signforge_prompt": "tap 3 times", "signforge_model": "handmdm", "signforge_seed": 3,
                      "signforge_steps": 100, "signforge_guidance": 2.5, "signforge_hand": "right",
                      "signforge_sampler": "ddpm", "signforge_run": "handmdm-v2",
                      "signforge_left_hand_found": 0.95, "signforge_trimmed": "0-57 of 58",
                      "signforge_stamp": "17012345678901"}   # past a 32-bit integer: kept as text
