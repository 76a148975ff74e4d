"""Files other tools read: AMASS's Z-up .npz (and SignForge's older Y-up ones), Mixamo-named
and centimetre BVH, and MediaPipe Holistic .pose that pose-format's own reader loads."""
import numpy as np
import pytest

from backend.body import rotations as R
from backend.body.skeleton import JOINT_INDEX
from backend.io import ExportOptions, MotionFileError, load_motion, save_motion
from backend.io.npz import write_npz
from backend.motion import Motion
from blender_addon.core.motion import read_motion, turn_up
from conftest import random_motion

QUARTER_X = np.array([np.pi / 2, 0.0, 0.0])   # AMASS's root for a body standing up its +Z


def _elbow_bent(frames: int = 4) -> Motion:
    """The rest pose with the right forearm turned 90 degrees up (about the body's -Z)."""
    poses = np.zeros((frames, 55, 3))
    poses[:, JOINT_INDEX["right_elbow"]] = [0.0, 0.0, -np.pi / 2]
    return Motion(poses, np.zeros((frames, 3)), np.zeros((frames, 10)), 25.0)


def test_a_real_z_up_amass_file_reads_upright(tmp_path, body):
    """An AMASS SMPL-H file as AMASS writes it (no SignForge keys): a body standing up +Z,
    1 m along +Y and 0.9 m up. It must read as SMPL-X's Y-up body: root at rest, upright."""
    t = 3
    poses = np.zeros((t, 156))
    poses[:, :3] = QUARTER_X
    poses[:, 3 * JOINT_INDEX["right_elbow"]:3 * JOINT_INDEX["right_elbow"] + 3] = [0, 0, -np.pi / 2]
    trans = np.tile([0.2, 1.0, 0.9], (t, 1))
    np.savez(tmp_path / "amass.npz", poses=poses, trans=trans, betas=np.zeros(16), gender=np.array("male"),
             mocap_framerate=np.array(120.0), dmpls=np.zeros((t, 8)))
    m = load_motion(tmp_path / "amass.npz")
    assert m.fps == 120 and m.gender == "male"
    np.testing.assert_allclose(m.poses[:, 0], 0, atol=1e-6)                 # upright, facing +Z
    np.testing.assert_allclose(m.poses[:, JOINT_INDEX["right_elbow"]], [[0, 0, -np.pi / 2]] * t, atol=1e-6)
    j0 = body.rest_joints(m.betas)[0]
    # Z-up (x, y, z) is Y-up (x, z, -y): up stays up, AMASS's +Y (behind the body) is -Z
    np.testing.assert_allclose(m.trans + j0, np.tile([0.2, 0.9, -1.0], (t, 1)) + [j0[0], j0[2], -j0[1]],
                               atol=1e-5)
    joints = body.pose(m).joints[0]
    head, pelvis = joints[JOINT_INDEX["head"]], joints[JOINT_INDEX["pelvis"]]
    assert head[1] - pelvis[1] > 0.4 and abs(head[2] - pelvis[2]) < 0.05          # the head is above
    wrist, elbow = joints[JOINT_INDEX["right_wrist"]], joints[JOINT_INDEX["right_elbow"]]
    assert wrist[1] - elbow[1] > 0.15                                           # the forearm points up


def test_writes_amass_z_up_by_default_and_y_up_on_request(tmp_path, rng, body):
    m = random_motion(rng, provenance={"source": "test"})
    save_motion(m, tmp_path / "z.npz", body=body)
    save_motion(m, tmp_path / "y.npz", options=ExportOptions(up="y"))
    with np.load(tmp_path / "z.npz") as z, np.load(tmp_path / "y.npz") as y:
        assert str(z["up_axis"]) == "z" and str(y["up_axis"]) == "y" and "rest_pelvis" not in y.files
        assert float(z["mocap_framerate"]) == float(z["mocap_frame_rate"]) == 25.0
        np.testing.assert_allclose(z["rest_pelvis"], body.rest_joints(m.betas)[0], atol=1e-6)
        np.testing.assert_allclose(y["poses"][:, :3], m.poses[:, 0], atol=1e-7)
        # Z-up: the root is turned a quarter about +X; the other joints are untouched
        turned = R.axis_angle_to_matrix(z["poses"][:, :3])
        expected = R.axis_angle_to_matrix(QUARTER_X) @ R.axis_angle_to_matrix(m.poses[:, 0].astype(float))
        np.testing.assert_allclose(turned, expected, atol=1e-6)
        np.testing.assert_allclose(z["poses"][:, 3:], y["poses"][:, 3:])
    for name in ("z.npz", "y.npz"):   # both read back to the same Y-up motion, in the backend and the add-on
        back, addon = load_motion(tmp_path / name), read_motion(tmp_path / name)
        np.testing.assert_allclose(back.poses, m.poses, atol=1e-6)
        np.testing.assert_allclose(back.trans, m.trans, atol=1e-6)
        np.testing.assert_allclose(addon.poses, m.poses, atol=1e-6)
        np.testing.assert_allclose(addon.trans, m.trans, atol=1e-6)


def test_the_turn_keeps_every_point_of_the_body_where_the_turned_world_puts_it(rng):
    """With a real SMPL-X pelvis (not at the origin): a point x of the rest body, posed by the
    root (R (x - J0) + J0 + t), lands at W times its Y-up place after the turn."""
    poses = rng.normal(size=(5, 55, 3)) * 0.5
    trans = rng.normal(size=(5, 3))
    j0 = np.array([0.003, -0.351, 0.012])
    x = rng.normal(size=3)
    z_poses, z_trans = turn_up(poses, trans, j0, to="z")

    def place(p, t):
        return np.einsum("tij,j->ti", R.axis_angle_to_matrix(p[:, 0]), x - j0) + j0 + t

    w = R.axis_angle_to_matrix(QUARTER_X)
    np.testing.assert_allclose(place(z_poses, z_trans), place(poses, trans) @ w.T, atol=1e-12)
    y_poses, y_trans = turn_up(z_poses, z_trans, j0, to="y")
    np.testing.assert_allclose(R.axis_angle_to_matrix(y_poses), R.axis_angle_to_matrix(poses), atol=1e-12)
    np.testing.assert_allclose(y_trans, trans, atol=1e-12)


def test_a_file_signforge_wrote_before_the_convention_was_recorded_stays_y_up(tmp_path, rng):
    m = random_motion(rng, provenance={"source": "test"})
    write_npz(m, tmp_path / "new.npz", up="y")
    with np.load(tmp_path / "new.npz") as z:   # what every SignForge .npz held before: no up_axis
        old = {k: z[k] for k in z.files if k not in ("up_axis", "mocap_framerate")}
    np.savez(tmp_path / "old.npz", **old)
    back = load_motion(tmp_path / "old.npz")
    np.testing.assert_allclose(back.poses, m.poses, atol=1e-7)
    np.testing.assert_allclose(back.trans, m.trans, atol=1e-7)
    np.testing.assert_allclose(read_motion(tmp_path / "old.npz").poses, m.poses, atol=1e-7)
    # the caller can say which world a file is in when it knows better than the file
    np.testing.assert_allclose(load_motion(tmp_path / "old.npz", up="z").poses[:, 1:], m.poses[:, 1:], atol=1e-7)


def test_a_bad_recorded_convention_is_one_clear_error(tmp_path, rng):
    m = random_motion(rng)
    write_npz(m, tmp_path / "m.npz", up="y")
    with np.load(tmp_path / "m.npz") as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(tmp_path / "sideways.npz", **{**arrays, "up_axis": np.array("x")})
    np.savez(tmp_path / "pelvis.npz", **{**arrays, "up_axis": np.array("z"), "rest_pelvis": np.zeros(2)})
    with pytest.raises(MotionFileError, match="'up_axis' is 'x'"):
        load_motion(tmp_path / "sideways.npz")
    with pytest.raises(MotionFileError, match="rest_pelvis"):
        load_motion(tmp_path / "pelvis.npz")
    with pytest.raises(ValueError, match="up 'x'"):
        ExportOptions(up="x")


def test_mixamo_named_centimetre_bvh(tmp_path, rng, body):
    m = random_motion(rng, frames=6, scale=0.3)
    path = save_motion(m, tmp_path / "m.bvh", body=body, options=ExportOptions(skeleton="mixamo", units="cm"))
    text = path.read_text()
    assert "ROOT mixamorig:Hips" in text and "JOINT mixamorig:RightHandIndex1" in text
    assert "JOINT mixamorig:LeftForeArm" in text and "pelvis" not in text
    metres = save_motion(m, tmp_path / "m_m.bvh", body=body).read_text()
    offset = [float(v) for v in text.split("JOINT mixamorig:Spine\n")[1].split("OFFSET")[1].split()[:3]]
    offset_m = [float(v) for v in metres.split("JOINT spine1\n")[1].split("OFFSET")[1].split()[:3]]
    np.testing.assert_allclose(offset, np.array(offset_m) * 100, atol=1e-4)
    back = load_motion(path)   # names mapped back, centimetres seen from the skeleton's size
    err = np.abs(R.axis_angle_to_matrix(back.poses.astype(float)) - R.axis_angle_to_matrix(m.poses.astype(float)))
    assert err.max() < 1e-4
    np.testing.assert_allclose(back.trans, m.trans, atol=1e-5)


def test_pose_export_is_read_by_pose_format_with_the_points_where_the_camera_sees_them(tmp_path, body):
    from pose_format import Pose

    from backend.io.holistic import Camera, holistic_points
    from backend.io.pose import read_pose

    m = _elbow_bent()
    path = save_motion(m, tmp_path / "bent.pose", body=body)
    pose = Pose.read(path.read_bytes())   # pose-format's own reader
    names = [(c.name, p) for c in pose.header.components for p in c.points]
    assert [c.name for c in pose.header.components] == ["POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS",
                                                        "RIGHT_HAND_LANDMARKS", "POSE_WORLD_LANDMARKS"]
    assert pose.body.data.shape == (4, 1, 33 + 468 + 21 + 21 + 33, 3) and pose.body.fps == 25
    assert (pose.header.dimensions.width, pose.header.dimensions.height) == (1280, 720)
    data, conf = np.asarray(pose.body.data.data)[0, 0], np.asarray(pose.body.confidence)[0, 0]

    def point(component, name):
        k = names.index((component, name))
        return data[k], conf[k]

    # the projection of the body's own joints through the documented camera
    cam = Camera()
    joints = body.pose(m).joints[0].astype(float)
    target = (joints[JOINT_INDEX["left_shoulder"]] + joints[JOINT_INDEX["right_shoulder"]]) / 2 - [0, 0.15, 0]
    for mp, smplx in (("RIGHT_WRIST", "right_wrist"), ("LEFT_ELBOW", "left_elbow"), ("RIGHT_SHOULDER", "right_shoulder")):
        rel = joints[JOINT_INDEX[smplx]] - target
        depth = cam.distance - rel[2]
        expected = [640 + cam.focal * rel[0] / depth, 360 - cam.focal * rel[1] / depth]
        xy, c = point("POSE_LANDMARKS", mp)
        np.testing.assert_allclose(xy[:2], expected, atol=0.01)
        assert c == 1
    # what a viewer shows: the bent right forearm points up, the signer's left is on the image's right
    r_wrist, r_elbow = point("POSE_LANDMARKS", "RIGHT_WRIST")[0], point("POSE_LANDMARKS", "RIGHT_ELBOW")[0]
    assert r_elbow[1] - r_wrist[1] > 100 and abs(r_elbow[0] - r_wrist[0]) < 10
    assert point("POSE_LANDMARKS", "LEFT_WRIST")[0][0] > 640 > r_wrist[0]
    assert point("POSE_LANDMARKS", "NOSE")[0][1] < point("POSE_LANDMARKS", "LEFT_SHOULDER")[0][1]
    # hands: 21 points each, the wrist where the body's wrist is, the fingertip past its knuckle
    assert np.allclose(point("RIGHT_HAND_LANDMARKS", "WRIST")[0][:2], r_wrist[:2], atol=0.01)
    tip, knuckle = point("LEFT_HAND_LANDMARKS", "INDEX_FINGER_TIP")[0], point("LEFT_HAND_LANDMARKS", "INDEX_FINGER_MCP")[0]
    assert tip[0] > knuckle[0] > point("LEFT_HAND_LANDMARKS", "WRIST")[0][0]   # a flat left hand, out to its side
    assert conf[[k for k, (c, _) in enumerate(names) if c == "FACE_LANDMARKS"]].max() == 0   # no face mesh
    lm = read_pose(path)   # SignForge's reconstruction reads it as Holistic landmarks
    assert lm.num_frames == 4 and np.isfinite(lm.right).all() and np.isnan(lm.face).all()
    # world landmarks: MediaPipe's axes (x to the image's right, y down, z away), metres about the hips
    pose3d, _, _ = holistic_points(m, body)
    hips = pose3d[0, [23, 24]].mean(0)
    np.testing.assert_allclose(lm.world[0], (pose3d[0] - hips) * [1, -1, -1], atol=1e-4)
    assert lm.world[0, 0, 1] < 0 < lm.world[0, 27, 1]   # the nose above the hips, the ankles below


def test_cli_export_flags(tmp_path, rng, signforge_cache):
    import subprocess
    import sys

    src = save_motion(random_motion(rng, frames=5), tmp_path / "m.npz")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "backend.cli", "convert", str(src), *args],
                              capture_output=True, text=True, timeout=120)

    done = cli(str(tmp_path / "m.bvh"), "--skeleton", "mixamo", "--units", "cm")
    assert done.returncode == 0, done.stderr
    assert "ROOT mixamorig:Hips" in (tmp_path / "m.bvh").read_text()
    assert cli(str(tmp_path / "y.npz"), "--up", "y").returncode == 0
    with np.load(tmp_path / "y.npz") as z:
        assert str(z["up_axis"]) == "y"
    bad = cli(str(tmp_path / "x.npz"), "--up", "x")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --up 'x': expected one of z, y"
    assert not (tmp_path / "x.npz").exists()


def test_the_servers_export_writes_pose_files_and_turns_npz_about_the_given_body(tmp_path, rng, signforge_cache):
    """What the add-on's Export sends: the body it names decides the .npz's rest pelvis and
    the .pose's landmarks (here a mannequin exported as a model file, as a user's SMPL-X)."""
    from backend.body.mannequin import export_mannequin
    from backend.body.model import Body
    from backend.server import Handler

    model = export_mannequin(tmp_path / "models")
    m = random_motion(rng, frames=4, scale=0.2)
    src = save_motion(m, tmp_path / "src.npz", options=ExportOptions(up="y"))
    handler = Handler()
    for name in ("out.npz", "out.pose"):
        result = handler.call("save_motion", {"src": str(src), "dst": str(tmp_path / name), "smplx": str(model)},
                              lambda *a, **k: None)
        assert result == {"path": str(tmp_path / name)}
    with np.load(tmp_path / "out.npz") as z:
        np.testing.assert_allclose(z["rest_pelvis"], Body.load(model).rest_joints(m.betas)[0], atol=1e-6)
    np.testing.assert_allclose(load_motion(tmp_path / "out.npz").poses, m.poses, atol=1e-6)
    from pose_format import Pose

    assert Pose.read((tmp_path / "out.pose").read_bytes()).body.data.shape[:3] == (4, 1, 576)
