"""Motion files: npz and HandMDM npy round trips, and every kind of bad input."""
import json
import subprocess
import sys

import numpy as np
import pytest

from backend.body import rotations as R
from backend.body.skeleton import FEATURE_JOINTS
from backend.io import MotionFileError, load_motion, save_motion
from backend.atomic import atomic_path
from backend.motion import Motion
from conftest import random_motion


def test_npz_round_trip_and_layout(tmp_path, rng):
    m = random_motion(rng, text="a fist taps the chin", provenance={"source": "test"},
                      confidence=np.linspace(0, 1, 12))
    path = save_motion(m, tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as z:  # every entry is a plain array
        data = {k: z[k] for k in z.files}
    assert data["poses"].shape == (12, 165) and data["trans"].shape == (12, 3)
    assert data["expression"].shape == (12, 10) and data["features"].shape == (12, 274)
    assert str(data["surface_model_type"]) == "smplx" and str(data["gender"]) == "neutral"
    assert float(data["mocap_frame_rate"]) == 25.0
    # poses: global | body 63 | jaw | left eye | right eye | left hand 45 | right hand 45
    np.testing.assert_allclose(data["poses"][:, 66:69], m.poses[:, 22])
    np.testing.assert_allclose(data["poses"][:, 75:120].reshape(12, 15, 3), m.poses[:, 25:40])
    back = load_motion(path)
    np.testing.assert_allclose(back.poses, m.poses)
    np.testing.assert_allclose(back.trans, m.trans)
    np.testing.assert_allclose(back.confidence, m.confidence)
    assert back.text == m.text and back.provenance["source"] == "test" and back.fps == 25.0
    assert json.loads(str(data["provenance"])) == {"source": "test"}


def test_reads_amass_smplh_files(tmp_path, rng):
    poses = rng.normal(size=(5, 156)) * 0.2
    np.savez(tmp_path / "amass.npz", poses=poses, trans=np.zeros((5, 3)), betas=np.zeros(16),
             gender=np.array("female"), mocap_framerate=np.array(120.0))
    m = load_motion(tmp_path / "amass.npz")
    assert m.fps == 120 and m.gender == "female"
    np.testing.assert_allclose(m.poses[:, 22:25], 0)                     # jaw and eyes at rest
    np.testing.assert_allclose(m.poses[:, 25:].reshape(5, -1), poses[:, 66:], rtol=1e-6)


def test_handmdm_npy_round_trip(tmp_path, rng):
    m = random_motion(rng)
    path = save_motion(m, tmp_path / "m.npy")
    feats = np.load(path, allow_pickle=False)
    assert feats.shape == (12, 274) and feats.dtype == np.float32
    back = load_motion(path)
    assert back.fps == 25.0
    fj = list(FEATURE_JOINTS)
    np.testing.assert_allclose(R.axis_angle_to_matrix(back.poses[:, fj].astype(np.float64)),
                               R.axis_angle_to_matrix(m.poses[:, fj].astype(np.float64)), atol=1e-5)
    assert load_motion(path, fps=30).fps == 30


def test_handmdm_sign_convention_matches_its_decoder(tmp_path):
    """HandMDM decodes with pytorch3d's row 6D and then negates the axis-angle."""
    aa = np.array([0.3, -0.5, 0.9])
    m = R.axis_angle_to_matrix(aa)
    rows_6d = R.matrix_to_6d(m.T)  # what their row-based encoder sees: first two rows of R^T
    their_matrix = R.rot6d_to_matrix(rows_6d).T  # pytorch3d stacks rows
    their_aa = -R.matrix_to_axis_angle(their_matrix)
    np.testing.assert_allclose(R.axis_angle_to_matrix(their_aa), m.T, atol=1e-12)
    # so a file holding SignForge's 6D of R decodes, through their script, to aa:
    stored = R.matrix_to_6d(m)
    rows = stored.reshape(2, 3)
    b1 = rows[0] / np.linalg.norm(rows[0])
    b2 = rows[1] - b1 @ rows[1] * b1
    b2 /= np.linalg.norm(b2)
    p3d = np.stack([b1, b2, np.cross(b1, b2)])  # pytorch3d rotation_6d_to_matrix
    np.testing.assert_allclose(-R.matrix_to_axis_angle(p3d), aa, atol=1e-9)


def test_handmdm_wide_variant_with_betas(tmp_path, rng):
    m = random_motion(rng)
    f = m.to_features()
    betas = np.arange(10, dtype=np.float32) / 10
    wide = np.concatenate([f[:, :264], np.repeat(betas[None], len(f), 0), f[:, 264:]], 1)
    np.save(tmp_path / "wide.npy", wide)
    back = load_motion(tmp_path / "wide.npy")
    np.testing.assert_allclose(back.betas, betas)
    np.testing.assert_allclose(back.expression, m.expression, atol=1e-6)


@pytest.mark.parametrize("name,make,match", [
    ("wrong.npy", lambda p: np.save(p, np.zeros((5, 273), np.float32)), "274"),
    ("nan.npy", lambda p: np.save(p, np.full((5, 274), np.nan, np.float32)), "NaN"),
    ("inf.npz", lambda p: np.savez(p, poses=np.full((2, 165), np.inf), trans=np.zeros((2, 3)),
                                   mocap_frame_rate=30.0), "NaN or inf"),
    ("shape.npz", lambda p: np.savez(p, poses=np.zeros((4, 100)), trans=np.zeros((4, 3)),
                                     mocap_frame_rate=30.0), "poses"),
    ("notrans.npz", lambda p: np.savez(p, poses=np.zeros((4, 165)), mocap_frame_rate=30.0), "trans"),
    ("nofps.npz", lambda p: np.savez(p, poses=np.zeros((4, 165)), trans=np.zeros((4, 3))),
     "mocap_frame_rate"),
    ("noposes.npz", lambda p: np.savez(p, trans=np.zeros((4, 3)), mocap_frame_rate=30.0), "poses"),
    ("empty.npz", lambda p: p.write_bytes(b""), "empty"),
    ("garbage.npz", lambda p: p.write_bytes(b"not a zip at all"), "npz"),
    ("motion.fbx", lambda p: p.write_bytes(b"x"), "extension"),
    ("motion.bvh", lambda p: p.write_text("HIERARCHY"), "not a BVH file"),
    ("ints.npy", lambda p: np.save(p, np.zeros((3, 274), np.int64)), "floating"),
])
def test_bad_input_names_file_and_problem(tmp_path, name, make, match):
    path = tmp_path / name
    make(path)
    with pytest.raises(MotionFileError, match=match) as info:
        load_motion(path)
    assert str(path) in str(info.value)


def test_pickles_are_never_loaded(tmp_path):
    sentinel = tmp_path / "pwned"
    obj = np.empty(1, dtype=object)
    obj[0] = {"x": 1}
    np.save(tmp_path / "obj.npy", obj, allow_pickle=True)
    np.savez(tmp_path / "obj.npz", poses=obj, trans=np.zeros((1, 3)), mocap_frame_rate=30.0)
    for p in ("obj.npy", "obj.npz"):
        with pytest.raises(MotionFileError, match="pickle"):
            load_motion(tmp_path / p)
    assert not sentinel.exists()


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(MotionFileError, match="no such file"):
        load_motion(tmp_path / "nope.npz")
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(MotionFileError, match="folder"):
        load_motion(tmp_path / "dir.npz")


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.npz"
    target.write_bytes(b"previous content")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]
    with pytest.raises(MotionFileError, match="extension"):
        save_motion(Motion.rest(2), tmp_path / "x.fbx")
    assert not (tmp_path / "x.fbx").exists()


def _cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def test_cli_convert_info_and_errors(tmp_path, rng, signforge_cache):
    import os

    env = {**os.environ, "SIGNFORGE_CACHE": str(signforge_cache), "COLUMNS": "200"}
    src = save_motion(random_motion(rng, frames=10, fps=30), tmp_path / "m.npz")
    r = _cli("convert", str(src), str(tmp_path / "m.bvh"), "--fps", "15", env=env)
    assert r.returncode == 0, r.stderr
    assert "Frames: 5" in (tmp_path / "m.bvh").read_text()
    r = _cli("convert", str(src), str(tmp_path / "m.npy"), env=env)
    assert r.returncode == 0, r.stderr
    r = _cli("info", str(tmp_path / "m.npy"), env=env)
    assert r.returncode == 0 and "frames" in r.stdout and "10" in r.stdout and "0.40 s" in r.stdout
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 5), np.float32))
    r = _cli("convert", str(bad), str(tmp_path / "never.npz"), env=env)
    assert r.returncode == 2 and "bad.npy" in r.stderr and "274" in r.stderr
    assert not (tmp_path / "never.npz").exists()
    for cmd in (["--help"], ["convert", "--help"], ["info", "--help"], ["demo", "--help"],
                ["body", "export-mannequin", "--help"], ["body", "sites", "--help"]):
        r = _cli(*cmd, env=env)
        assert r.returncode == 0, cmd
        if cmd != ["--help"]:
            assert "Example" in r.stdout, cmd


def test_bvh_reads_back_what_it_writes(tmp_path, body, rng):
    from backend.body import rotations as R

    motion = Motion(rng.normal(size=(7, 55, 3)) * 0.8, rng.normal(size=(7, 3)) * 0.2, np.zeros((7, 10)), 30.0)
    back = load_motion(save_motion(motion, tmp_path / "m.bvh", body=body))
    assert back.num_frames == 7 and abs(back.fps - 30.0) < 1e-6
    err = np.abs(R.axis_angle_to_matrix(back.poses.astype(float)) - R.axis_angle_to_matrix(motion.poses)).max()
    assert err < 1e-4
    assert np.abs(back.trans - motion.trans).max() < 1e-5


def test_bvh_of_another_skeleton_is_refused_by_name(tmp_path):
    """SMPL-X's and Mixamo's joint names are read (SignForge writes both); a 3ds Max Biped is not."""
    path = tmp_path / "biped.bvh"
    path.write_text("HIERARCHY\nROOT Bip01_Pelvis\n{\n OFFSET 0 0 0\n CHANNELS 3 Zrotation Xrotation Yrotation\n"
                    " End Site\n {\n  OFFSET 0 1 0\n }\n}\nMOTION\nFrames: 1\nFrame Time: 0.04\n0 0 0\n")
    with pytest.raises(MotionFileError, match="Bip01_Pelvis"):
        load_motion(path)
