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


def _names():
    return [f"bone{j}" for j in range(M.NUM_JOINTS)]


def _shown(channels, frames):
    """(T, 55, 4) quaternions Blender shows at ``frames`` from linear keys."""
    v = M.evaluate_channels(channels, frames)
    return np.stack([np.stack([v[(f'pose.bones["{n}"].rotation_quaternion', k)] for k in range(4)], -1)
                     for n in _names()], 1)


def test_channels_that_do_not_move_get_one_key_and_the_pose_stays(rng):
    src = _motion(rng, frames=40)
    poses = src.poses.copy()
    poses[:, :13] = rng.normal(size=(1, 13, 3))    # still legs and pelvis rotation, not at rest
    poses[:, 23:25] = 0.0                           # eyes at rest
    poses[:, 12] += rng.normal(size=(40, 3)) * 1e-8  # jitter far under a visible turn
    motion = M.MotionData(poses, np.zeros((40, 3)), src.expression, 25.0)
    full = M.pose_channels(motion, _names(), frame_start=11, constant_tol=None)
    thin = M.pose_channels(motion, _names(), frame_start=11)
    assert sum(c.keys for c in full) == 40 * (55 * 4 + 3)
    counts = {(c.data_path, c.index): c.keys for c in thin}
    for j in (*range(13), 23, 24):
        assert [counts[(f'pose.bones["bone{j}"].rotation_quaternion', k)] for k in range(4)] == [1] * 4
    assert all(counts[('pose.bones["pelvis"].location', k)] == 1 for k in range(3))
    assert sum(c.keys for c in thin) < 0.8 * sum(c.keys for c in full)
    frames = np.arange(0, 60, dtype=float)   # before, over and after the take
    want = M.continuous(M.axis_angle_to_quaternion(poses))[np.clip(frames - 11, 0, 39).astype(int)]
    assert np.abs(_shown(thin, frames) - want).max() < 1e-6
    assert np.abs(_shown(full, frames) - want).max() < 1e-6


@pytest.fixture(scope="module")
def generated():
    from backend.generate import generate

    g = generate("the right hand taps the chin", frames=60, steps=5, seed=3)[0]   # a 2.4 s take
    return M.MotionData(g.poses.reshape(60, 55, 3).astype(float), g.trans.astype(float),
                        g.expression.astype(float), 25.0)


@pytest.mark.parametrize("degrees", [0.5, 2.0])
def test_key_reduction_keeps_every_bone_within_the_angle_and_drops_keys(generated, degrees):
    reduction = M.Reduction.degrees(degrees)
    full = M.pose_channels(generated, _names(), constant_tol=None)
    thin = M.pose_channels(generated, _names())
    reduced = M.pose_channels(generated, _names(), reduction=reduction)
    n_full, n_thin, n_reduced = (sum(c.keys for c in chs) for chs in (full, thin, reduced))
    assert n_full == 13380   # 60 frames x (55 bones x 4 + 3)
    assert n_thin < 0.85 * n_full and n_reduced < 0.4 * n_full, (n_thin, n_reduced)
    frames = np.arange(1, 61, dtype=float)
    want = M.continuous(M.axis_angle_to_quaternion(generated.poses))
    err = M.rotation_error(_shown(reduced, frames), want)
    assert err.max() < reduction.angle, np.degrees(err.max())
    for ch in reduced:   # the first and last frames keep their keys (unless the channel is still)
        assert ch.co[0] == 1 and (ch.keys == 1 or ch.co[-2] == 60)
    # the bone's four channels share their keys: an animator sees one key per bone per frame
    wrist = [c for c in reduced if c.data_path == 'pose.bones["bone21"].rotation_quaternion' and c.keys > 1]
    assert wrist and all(np.array_equal(c.co[0::2], wrist[0].co[0::2]) for c in wrist)


def test_simplify_is_exact_on_lines_and_keeps_the_worst_sample():
    x = np.linspace(0, 1, 30)[:, None] * np.array([[1.0, 2.0]])
    assert list(M.simplify(x, 1e-9)) == [0, 29]
    x[17] += 0.5
    assert list(M.simplify(x, 0.1)) == [0, 16, 17, 18, 29]
