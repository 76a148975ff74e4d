"""The mannequin, the body-model provider, forward kinematics and the body sites."""
import os
from collections import Counter

import numpy as np
import pytest
import smplx

from backend.body import anthropometry as A
from backend.body.kinematics import forward_kinematics
from backend.body.mannequin import SMPLX_SELECTOR_IDS, build_model_arrays, export_mannequin, rest_joints
from backend.body.model import Body, BodyModelError, resolve_model_file
from backend.body.skeleton import JOINT_INDEX as J
from backend.body.skeleton import PARENTS
from backend.motion import Motion


@pytest.fixture(scope="module")
def arrays():
    return build_model_arrays()


def test_export_loads_in_smplx_unchanged(tmp_path):
    path = export_mannequin(tmp_path)
    assert path == tmp_path / "smplx" / "SMPLX_NEUTRAL.npz"
    with np.load(path, allow_pickle=False) as z:  # plain arrays only
        assert all(z[k] is not None for k in z.files)
    model = smplx.create(str(tmp_path), model_type="smplx")  # smplx's own defaults
    out = model(return_verts=True)
    assert out.vertices.shape[1] > max(SMPLX_SELECTOR_IDS.values())
    # 55 joints + smplx's 21 vertex joints + 51 face landmarks
    assert out.joints.shape[1] == 127
    # smplx's default adds the relaxed hand mean: fingers curl toward the palm (-y)
    curled = out.joints[0, :55].detach().numpy()
    assert curled[J["left_index3"], 1] < rest_joints()[J["left_index3"], 1] - 0.005
    flat = smplx.create(str(tmp_path), model_type="smplx", flat_hand_mean=True)().joints
    np.testing.assert_allclose(flat[0, :55].detach().numpy(), rest_joints(), atol=1e-5)


def test_adult_proportions():
    j = rest_joints()
    dist = lambda a, b: np.linalg.norm(j[J[a]] - j[J[b]])  # noqa: E731
    assert 0.33 < dist("left_shoulder", "right_shoulder") < 0.42
    assert 0.25 < dist("left_shoulder", "left_elbow") < 0.32
    assert 0.22 < dist("left_elbow", "left_wrist") < 0.28
    assert 0.085 < dist("left_wrist", "left_middle1") < 0.11
    tips = A.left_finger_joints()
    for f, (p1, p2, p3, tip) in tips.items():
        lengths = np.linalg.norm(np.diff(np.stack([p1, p2, p3, tip]), axis=0), axis=1)
        assert (lengths > 0.015).all() and (lengths < 0.05).all(), f
        assert lengths[0] > lengths[1], f  # proximal phalanx is the longest
    hand = np.linalg.norm(tips["middle"][3] - j[J["left_wrist"]])
    assert 0.17 < hand < 0.21


def test_surface_is_closed_and_skinned(arrays):
    faces = arrays["f"]
    part = arrays["part_of_vertex"]
    names = list(arrays["part_names"])
    for k, name in enumerate(names):
        fk = faces[(part[faces] == k).all(1)]
        edges = Counter()
        for a, b in np.concatenate([fk[:, [0, 1]], fk[:, [1, 2]], fk[:, [2, 0]]]):
            edges[(min(a, b), max(a, b))] += 1
        assert set(edges.values()) == {2}, f"{name} is not a closed surface"
        # outward winding: positive enclosed volume
        v = arrays["v_template"][fk].astype(np.float64)
        vol = np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6
        assert vol > 0, name
    assert {"torso", "neck", "head", "left_palm", "right_thumb", "left_pinky"} <= set(names)
    w = arrays["weights"]
    np.testing.assert_allclose(w.sum(1), 1, atol=1e-5)
    assert (w >= 0).all()
    # every finger segment has vertices that follow it
    owner = w.argmax(1)
    for side in ("left", "right"):
        for f in ("thumb", "index", "middle", "ring", "pinky"):
            for k in (1, 2, 3):
                assert (owner == J[f"{side}_{f}{k}"]).sum() > 20


def test_vertex_selector_ids_land_on_anatomy(arrays):
    v = arrays["v_template"]
    ids = SMPLX_SELECTOR_IDS
    head = v[v[:, 1] > 0.5]
    assert v[ids["nose"], 2] == head[:, 2].max()  # the nose tip is the face's most forward point
    assert v[ids["leye"], 0] > 0 > v[ids["reye"], 0]
    assert v[ids["lear"], 0] > 0.07 and v[ids["rear"], 0] < -0.07
    for f in ("thumb", "index", "middle", "ring", "pinky"):
        tip = v[ids[f"l{f}"]]
        knuckle = rest_joints()[J[f"left_{f}3"]]
        assert np.linalg.norm(tip - rest_joints()[J["left_wrist"]]) > np.linalg.norm(
            knuckle - rest_joints()[J["left_wrist"]])
    assert v[ids["LHeel"], 2] < v[ids["LBigToe"], 2]


def test_betas_change_proportions(body):
    base = body.rest_joints()
    tall = body.rest_joints(np.eye(10)[0] * 2)
    assert tall[J["head"], 1] > base[J["head"], 1] + 0.02
    big_hand = body.rest_joints(np.eye(10)[4] * 2)
    span = lambda j: np.linalg.norm(j[J["left_middle3"]] - j[J["left_wrist"]])  # noqa: E731
    assert span(big_hand) > span(base) * 1.1


def test_forward_kinematics_matches_smplx_and_keeps_bone_lengths(body, rng):
    frames = 8
    poses = rng.normal(size=(frames, 55, 3)) * 0.6
    trans = rng.normal(size=(frames, 3)) * 0.2
    m = Motion(poses, trans, np.zeros((frames, 10)), 25)
    rest = body.rest_joints()
    _, pos = forward_kinematics(m.poses.astype(np.float64), rest, m.trans)
    np.testing.assert_allclose(pos, body.pose(m).joints, atol=2e-5)
    bones = [(j, p) for j, p in enumerate(PARENTS) if p >= 0]
    rest_len = np.array([np.linalg.norm(rest[j] - rest[p]) for j, p in bones])
    for t in range(frames):
        posed = np.array([np.linalg.norm(pos[t, j] - pos[t, p]) for j, p in bones])
        np.testing.assert_allclose(posed, rest_len, atol=1e-6)


def test_sites_sit_where_anatomy_says(body):
    s = body.sites.as_dict(body.rest_vertices())
    assert s["chin"][1] < s["lip_lower"][1] < s["mouth"][1] < s["lip_upper"][1] < s["nose"][1]
    assert s["nose"][1] < s["left_eye"][1] < s["forehead"][1]
    assert s["nose"][2] > s["chin"][2] and s["nose"][2] > s["left_cheek"][2]
    assert s["left_ear"][0] > s["left_temple"][0] > s["left_eye"][0] > 0
    assert s["right_ear"][0] < 0
    assert s["neck"][1] < s["chin"][1] and s["chest"][1] < s["neck"][1] and s["stomach"][1] < s["chest"][1]
    assert s["left_chest"][0] > s["chest"][0] > s["right_chest"][0]
    assert s["chest"][2] > 0.08  # on the front of the body
    for side, sx in (("left", 1), ("right", -1)):
        x = lambda n: s[f"{side}_{n}"][0] * sx  # noqa: E731
        assert x("shoulder") < x("upper_arm") < x("elbow") < x("forearm") < x("wrist") < x("palm")
        assert s[f"{side}_palm"][1] < s[f"{side}_back_of_hand"][1]  # palm faces down in T-pose
        knuckles = rest_joints()[[J[f"{side}_{f}1"] for f in ("index", "middle", "ring", "pinky")]]
        for f in ("index", "middle", "ring", "pinky"):
            assert x(f"{f}_tip") > knuckles[:, 0].max() * sx  # fingertips beyond knuckles
        assert s[f"{side}_thumb_tip"][2] > s[f"{side}_index_tip"][2]  # thumb forward


def test_sites_follow_the_pose(body):
    poses = np.zeros((1, 55, 3))
    poses[0, J["right_shoulder"]] = (0, 0, 1.2)   # arm down
    m = Motion(poses, np.zeros((1, 3)), np.zeros((1, 10)), 25)
    posed = body.pose(m)
    s = body.sites.as_dict(posed.vertices[0])
    assert s["right_palm"][1] < s["right_shoulder"][1] - 0.4


def test_provider_prefers_user_file(tmp_path, monkeypatch):
    export_mannequin(tmp_path / "user")
    monkeypatch.setenv("SIGNFORGE_SMPLX", str(tmp_path / "user"))
    assert resolve_model_file(None) == tmp_path / "user" / "smplx" / "SMPLX_NEUTRAL.npz"
    b = Body.load()
    assert b.source.endswith("SMPLX_NEUTRAL.npz")
    explicit = tmp_path / "user" / "smplx" / "SMPLX_NEUTRAL.npz"
    assert resolve_model_file(explicit) == explicit
    monkeypatch.delenv("SIGNFORGE_SMPLX")
    assert resolve_model_file(None) is None and Body.load().source == "mannequin"


def test_provider_refuses_pickles_and_bad_files(tmp_path):
    pkl = tmp_path / "SMPLX_NEUTRAL.pkl"
    pkl.write_bytes(b"\x80\x04not really")
    with pytest.raises(BodyModelError, match="pickle"):
        resolve_model_file(pkl)
    with pytest.raises(BodyModelError, match="pickle"):
        resolve_model_file(tmp_path)  # a folder holding only .pkl
    with pytest.raises(BodyModelError, match="no such file"):
        resolve_model_file(tmp_path / "missing.npz")
    bad = tmp_path / "bad" / "SMPLX_NEUTRAL.npz"
    bad.parent.mkdir()
    np.savez(bad, v_template=np.zeros((3, 3)))
    with pytest.raises(BodyModelError, match="missing"):
        Body.load(bad)


def test_pickled_extras_are_dropped_not_loaded(tmp_path):
    arrays = build_model_arrays()
    target = tmp_path / "m" / "SMPLX_NEUTRAL.npz"
    target.parent.mkdir()
    extras = np.empty(1, dtype=object)
    extras[0] = {"joint2num": 1}
    np.savez(target, joint2num=extras, **arrays)  # like the official release's extras
    b = Body.load(target)
    assert b.source == str(target)
    assert os.path.exists(target)  # the user's file is untouched
    np.testing.assert_allclose(b.rest_joints(), rest_joints(), atol=1e-5)


def test_the_compact_mannequin_cache_poses_as_the_full_arrays(tmp_path, monkeypatch, arrays):
    """The cache records the mannequin's all-zero pose blend shapes by their shape (issue 21: inflating
    93 MB of zeros was most of a body load); a body loaded from it poses exactly as smplx does from
    the full arrays, and a cache from before the compact form is read and rewritten compact."""
    from backend.body import model as M

    monkeypatch.setenv("SIGNFORGE_CACHE", str(tmp_path / "cache"))
    target = M.cache_dir() / f"mannequin-v{M.MANNEQUIN_VERSION}" / "smplx" / M.MODEL_FILE
    target.parent.mkdir(parents=True)
    np.savez_compressed(target, **arrays)                    # the old, full form
    assert not arrays["posedirs"].any()
    body = Body.load()
    with np.load(target) as z:
        assert M.ZERO_POSEDIRS in z.files and "posedirs" not in z.files
    read = M.mannequin_arrays()
    assert read.keys() == arrays.keys()
    for key in arrays:
        np.testing.assert_array_equal(read[key], arrays[key])
    full = tmp_path / "full"
    (full / "smplx").mkdir(parents=True)
    np.savez(full / "smplx" / M.MODEL_FILE, **arrays)
    ref = smplx.create(str(full), model_type="smplx", gender="neutral", use_pca=False, flat_hand_mean=True,
                       num_betas=M.NUM_BETAS, num_expression_coeffs=10, use_face_contour=False)
    rng = np.random.default_rng(0)
    motion = Motion(poses=rng.normal(0, 0.4, (3, 55, 3)), trans=np.zeros((3, 3)), expression=np.zeros((3, 10)),
                    fps=25.0)
    posed = body.pose(motion)
    p = motion.poses
    import torch
    with torch.no_grad():
        out = ref(betas=torch.zeros(3, M.NUM_BETAS), global_orient=torch.tensor(p[:, 0]),
                  body_pose=torch.tensor(p[:, 1:22].reshape(3, -1)), jaw_pose=torch.tensor(p[:, 22]),
                  leye_pose=torch.tensor(p[:, 23]), reye_pose=torch.tensor(p[:, 24]),
                  left_hand_pose=torch.tensor(p[:, 25:40].reshape(3, -1)),
                  right_hand_pose=torch.tensor(p[:, 40:55].reshape(3, -1)),
                  expression=torch.zeros(3, 10), transl=torch.zeros(3, 3), return_verts=True)
    np.testing.assert_array_equal(posed.vertices, out.vertices.numpy())
