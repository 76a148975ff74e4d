import numpy as np
import pytest
import torch  # noqa: F401  (the backend imports torch on first use: not inside a Hypothesis deadline)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backend.body import rotations as R
from backend.body.features import features_to_pose, pose_to_features
from backend.body.skeleton import (FEATURE_DIM, FEATURE_JOINTS, FEATURE_SLICES, JOINT_INDEX,
                                   JOINT_NAMES, MIRROR, PARENTS, REST_JOINTS, UPPER_BODY_NAMES)
from backend.motion import Motion, MotionError
from conftest import random_motion

poses_st = arrays(np.float64, st.tuples(st.integers(1, 6), st.just(55), st.just(3)),
                  elements=st.floats(-2.5, 2.5, allow_nan=False))


def test_skeleton_tables():
    assert len(JOINT_NAMES) == 55 and PARENTS[0] == -1
    assert all(0 <= p < j for j, p in enumerate(PARENTS) if j > 0)
    assert FEATURE_DIM == 274 and len(FEATURE_JOINTS) == 44
    assert [JOINT_NAMES[j] for j in FEATURE_JOINTS[:13]] == list(UPPER_BODY_NAMES)
    assert JOINT_NAMES[FEATURE_JOINTS[13]] == "left_index1"
    assert JOINT_NAMES[FEATURE_JOINTS[28]] == "right_index1"
    assert JOINT_NAMES[FEATURE_JOINTS[43]] == "jaw"
    assert FEATURE_SLICES["expression"] == slice(264, 274)
    assert all(MIRROR[MIRROR[j]] == j for j in range(55))
    assert MIRROR[JOINT_INDEX["left_thumb3"]] == JOINT_INDEX["right_thumb3"]


@settings(max_examples=40)
@given(poses_st)
def test_features_round_trip_all_rotation_kinds(poses):
    expr = np.linspace(-1, 1, 10)[None].repeat(len(poses), 0)
    feats = pose_to_features(poses, expr)
    assert feats.shape == (len(poses), 274)
    for kind in ("axis_angle", "matrix", "quaternion"):
        back, e = features_to_pose(feats, kind)
        np.testing.assert_allclose(e, expr)
        np.testing.assert_allclose(pose_to_features(back, e), feats, atol=1e-7)
    mats, _ = features_to_pose(feats, "matrix")
    fj = list(FEATURE_JOINTS)
    np.testing.assert_allclose(mats[:, fj], R.axis_angle_to_matrix(poses)[:, fj], atol=1e-7)
    np.testing.assert_allclose(mats[:, list(REST_JOINTS)], np.broadcast_to(np.eye(3), mats[:, list(REST_JOINTS)].shape))


def test_feature_slices_hold_the_right_joints():
    poses = np.zeros((1, 55, 3))
    poses[0, JOINT_INDEX["right_thumb2"]] = (0.3, 0, 0)
    feats = pose_to_features(poses)
    changed = np.flatnonzero(np.abs(feats[0] - pose_to_features(np.zeros((1, 55, 3)))[0]) > 1e-9)
    # right_thumb2 is the 14th of the right hand's 15 joints: 168 + 13*6 ...
    assert changed.min() >= 168 + 13 * 6 and changed.max() < 168 + 14 * 6


def test_motion_validates_input():
    ok = dict(poses=np.zeros((3, 55, 3)), trans=np.zeros((3, 3)), expression=np.zeros((3, 10)), fps=25)
    Motion(**ok)
    for key, bad, msg in [("poses", np.zeros((3, 54, 3)), "poses"), ("trans", np.zeros((2, 3)), "trans"),
                          ("expression", np.full((3, 10), np.nan), "NaN"), ("fps", 0, "fps"),
                          ("poses", np.zeros((0, 55, 3)), "frame")]:
        with pytest.raises(MotionError, match=msg):
            Motion(**{**ok, key: bad})
    m = Motion(**ok)
    with pytest.raises(ValueError):
        m.poses[0, 0, 0] = 1.0  # immutable


def test_features_drop_global_and_legs(rng):
    m = random_motion(rng)
    back = Motion.from_features(m.to_features(), m.fps)
    np.testing.assert_allclose(back.poses[:, list(REST_JOINTS)], 0)
    np.testing.assert_allclose(back.trans, 0)
    fj = list(FEATURE_JOINTS)
    np.testing.assert_allclose(R.axis_angle_to_matrix(back.poses[:, fj]),
                               R.axis_angle_to_matrix(m.poses[:, fj]), atol=1e-5)


def test_resample_keeps_span_and_slerps(rng):
    m = random_motion(rng, frames=31, fps=30)
    r = m.resample(15)
    assert r.fps == 15 and len(r) == 16
    np.testing.assert_allclose(R.axis_angle_to_matrix(r.poses[::1]), R.axis_angle_to_matrix(m.poses[::2]),
                               atol=1e-5)
    up = m.resample(60)
    assert len(up) == 61
    # a midpoint is the slerp midpoint of its neighbours
    q0, q1 = m.rotations()[3], m.rotations()[4]
    mid = R.quaternion_to_matrix(R.quaternion_slerp(q0, q1, 0.5))
    np.testing.assert_allclose(R.axis_angle_to_matrix(up.poses[7].astype(np.float64)), mid, atol=1e-5)


def test_mirror_is_an_involution_and_swaps_sides(rng):
    m = random_motion(rng)
    np.testing.assert_allclose(m.mirror().mirror().poses, m.poses)
    mm = m.mirror()
    li, ri = JOINT_INDEX["left_elbow"], JOINT_INDEX["right_elbow"]
    np.testing.assert_allclose(mm.poses[:, ri], m.poses[:, li] * [1, -1, -1])
    assert mm.provenance["mirrored"] == "true"


def test_mirror_reflects_geometry(body, rng):
    m = random_motion(rng, frames=3, scale=0.3).with_(betas=np.zeros(10))
    a = body.pose(m).joints
    b = body.pose(m.mirror()).joints
    np.testing.assert_allclose(b[:, list(MIRROR)] * [-1, 1, 1], a, atol=2e-4)


def test_cut_and_concat(rng):
    a, b = random_motion(rng, frames=20), random_motion(rng, frames=15)
    assert len(a.cut(5, 12)) == 7
    with pytest.raises(MotionError):
        a.cut(10, 5)
    c = a.concat(b, blend=5)
    assert len(c) == 30
    np.testing.assert_allclose(c.poses[:15], a.poses[:15])
    np.testing.assert_allclose(c.poses[20:], b.poses[5:])
    assert len(a.concat(b)) == 35
    # a blend between two constant motions moves monotonically from one to the other
    p = np.zeros((10, 55, 3))
    q = np.zeros((10, 55, 3))
    q[:, 18] = (0, 0, 1.0)
    still_a = Motion(p, np.zeros((10, 3)), np.zeros((10, 10)), 25)
    still_b = Motion(q, np.zeros((10, 3)), np.zeros((10, 10)), 25)
    seam = still_a.concat(still_b, blend=6).poses[:, 18, 2]
    assert (np.diff(seam) >= -1e-7).all() and seam[0] == 0 and abs(seam[-1] - 1) < 1e-6
