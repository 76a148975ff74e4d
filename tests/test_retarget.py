"""Retargeting SignForge takes onto other rigs (issue 16), in real bpy 5.0.1.

The source is a synthesized dictionary sign (``signforge data synth``'s synthesizer) keyed on
SignForge's SMPL-X armature. The targets are rigs built here: Blender's human metarig
(A-pose, its own rolls), the Rigify rig generated from it (FK controls keyed, its ORG bones
measured), a Mixamo-named rig and an SMPL-X add-on style rig (limb-aligned bones, arms
lowered to an A-pose, random rolls). Wrists are compared relative to the shoulder over the
arm's length, scaled to SignForge's arm; finger bones by direction.
"""
import json
import math

import numpy as np
import pytest
from conftest import body_data

bpy = pytest.importorskip("bpy", reason="bpy is a SignForge dependency; install with make setup")
pytestmark = pytest.mark.blender   # also run under the oldest supported bpy

WRIST_CM = 2.0
FINGER_DEG = 10.0


@pytest.fixture(scope="module")
def sign(body):
    """A real synthesized sign (castle_2: both hands, bent V) and the body's BodyData."""
    from backend.data.lexicon import read_lexicon
    from backend.data.synth import Signer, Synthesizer
    from blender_addon.core.motion import MotionData

    entry = read_lexicon().by_id()["castle_2"]
    m, _ = Synthesizer(body).synthesize(entry, Signer.sample(3))
    data = body_data(body, m.betas)
    motion = MotionData(np.asarray(m.poses, float).reshape(-1, 55, 3), np.asarray(m.trans, float),
                        np.zeros((m.num_frames, 10)), float(m.fps), text="castle")
    return data, motion


def _scene(data, motion):
    """A fresh scene at the motion's rate with the SignForge armature keyed."""
    from blender_addon.blender.animate import apply_motion
    from blender_addon.blender.body import build_body

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = int(motion.fps), 1.0
    scene.frame_current = 1
    src = build_body(bpy.context, data)
    apply_motion(bpy.context, src, motion, mode="ACTION")
    return src


def _metarig():
    import addon_utils

    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.mode_set(mode="OBJECT") if bpy.context.mode != "OBJECT" else None
    bpy.ops.object.armature_human_metarig_add()
    rig = bpy.context.active_object
    rig.location = (1.5, 0.3, 0.0)   # anywhere in the scene: only relative motion is compared
    return rig


def _points(arm, names, frames):
    """World head positions (F, N, 3) and world Y axes (F, N, 3) of pose bones ``names``."""
    scene = bpy.context.scene
    heads = np.empty((len(frames), len(names), 3))
    axes = np.empty_like(heads)
    for i, f in enumerate(frames):
        scene.frame_set(f)
        mw = np.array(arm.matrix_world)
        for k, n in enumerate(names):
            pb = arm.pose.bones[n]
            heads[i, k] = (mw @ np.array([*pb.head, 1.0]))[:3]
            axes[i, k] = mw[:3, :3] @ (np.array(pb.tail) - np.array(pb.head))
    return heads, axes


BODY_CHAINS = [("pelvis", "spine1"), ("spine1", "spine2"), ("spine2", "spine3"), ("spine3", "neck"), ("neck", "head")] + [
    (f"{s}_{a}", f"{s}_{b}") for s in ("left", "right")
    for a, b in (("collar", "shoulder"), ("shoulder", "elbow"), ("elbow", "wrist"))]
FINGER_CHAINS = [(f"{s}_{f}{k}", f"{s}_{f}{k + 1}") for s in ("left", "right")
                 for f in ("index", "middle", "pinky", "ring", "thumb") for k in (1, 2)]


def _angle(a, b):
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip((a * b).sum(-1), -1, 1)))


def _compare(src, tgt, bone_map, motion, joints_for_dirs=FINGER_CHAINS, measure=None, body_chains=BODY_CHAINS):
    """Over every frame: the largest wrist error (cm, relative to the shoulder over the arm's
    length, at SignForge's arm length), finger segment direction error and fingertip bone
    direction error (deg); trunk, neck and arm segment directions are checked too."""
    frames = list(range(1, motion.frames + 1))
    measure = measure or {j: bone_map.reference_bone(j) for j in bone_map.bones}
    ref = measure.__getitem__
    names = list(measure)
    s_heads, _ = _points(src, names, frames)
    t_heads, t_axes = _points(tgt, [ref(j) for j in names], frames)
    at = {j: i for i, j in enumerate(names)}
    sk_rest = {n: np.array(src.data.bones[n].head_local) for n in names}
    tg_rest = {j: np.array(tgt.data.bones[ref(j)].head_local) for j in names}
    wrist, fingers = 0.0, 0.0
    for side in ("left", "right"):
        s_, e_, w_ = (f"{side}_{n}" for n in ("shoulder", "elbow", "wrist"))
        ls = np.linalg.norm(sk_rest[e_] - sk_rest[s_]) + np.linalg.norm(sk_rest[w_] - sk_rest[e_])
        lt = np.linalg.norm(tg_rest[e_] - tg_rest[s_]) + np.linalg.norm(tg_rest[w_] - tg_rest[e_])
        mt = np.array(tgt.matrix_world)[:3, :3]
        lt *= np.cbrt(abs(np.linalg.det(mt)))
        ls *= np.cbrt(abs(np.linalg.det(np.array(src.matrix_world)[:3, :3])))
        a = (s_heads[:, at[w_]] - s_heads[:, at[s_]]) / ls
        b = (t_heads[:, at[w_]] - t_heads[:, at[s_]]) / lt
        wrist = max(wrist, float(np.linalg.norm(a - b, axis=-1).max() * ls * 100))
    for j, c in joints_for_dirs + [(f"{s}_wrist", f"{s}_middle1") for s in ("left", "right")]:
        ds = s_heads[:, at[c]] - s_heads[:, at[j]]
        dt = t_heads[:, at[c]] - t_heads[:, at[j]]
        fingers = max(fingers, float(_angle(ds, dt).max()))
    errs = {(j, c): float(_angle(s_heads[:, at[c]] - s_heads[:, at[j]],
                                 t_heads[:, at[c]] - t_heads[:, at[j]]).max()) for j, c in body_chains}
    body = max(errs.values())
    print(f"\nlargest trunk, neck and arm segment direction error: {body:.2f} deg "
          f"({'-'.join(max(errs, key=errs.get))})", {f"{a}-{b}": round(e, 2) for (a, b), e in errs.items()})
    assert body < FINGER_DEG
    tips = _tip_error(src, tgt, measure, frames)
    return wrist, fingers, tips


def _tip_error(src, tgt, measure, frames):
    """Largest angle (deg) between each finger's last bone in the target and the source's last
    segment carried by its last joint's rotation, over ``frames``."""
    scene = bpy.context.scene
    worst = 0.0
    ms, mt = np.array(src.matrix_world)[:3, :3], np.array(tgt.matrix_world)[:3, :3]
    for f in frames:
        scene.frame_set(f)
        for side in ("left", "right"):
            for finger in ("index", "middle", "pinky", "ring", "thumb"):
                j3, j2 = f"{side}_{finger}3", f"{side}_{finger}2"
                seg = np.array(src.data.bones[j3].head_local) - np.array(src.data.bones[j2].head_local)
                bone = src.pose.bones[j3]   # its global rotation: pose frame times rest frame inverted
                ds = ms @ np.array(bone.matrix.to_3x3() @ bone.bone.matrix_local.to_3x3().inverted()) @ seg
                pb = tgt.pose.bones[measure[j3]]
                dt = mt @ (np.array(pb.tail) - np.array(pb.head))
                worst = max(worst, float(_angle(ds, dt)))
    return worst


def _retarget(src, tgt, bone_map=None, **kw):
    from blender_addon.blender.retarget import retarget

    bpy.context.scene.frame_current = 1
    action, missing = retarget(bpy.context, tgt, bone_map, source=src, mode="ACTION", frame=1, **kw)
    return action, missing


def _report(label, wrist, fingers, tips):
    print(f"\n{label}: wrist {wrist:.2f} cm, finger segments {fingers:.2f} deg, fingertips {tips:.2f} deg")


def test_metarig_a_pose(sign):
    from blender_addon.core.retarget import METARIG

    data, motion = sign
    src = _scene(data, motion)
    tgt = _metarig()
    action, missing = _retarget(src, tgt)
    assert not missing and action["signforge_retarget_map"] == METARIG.name
    assert tgt.animation_data.action == action
    assert action.frame_range[:] == (1.0, float(motion.frames))
    wrist, fingers, tips = _compare(src, tgt, METARIG, motion)
    _report("metarig", wrist, fingers, tips)
    assert wrist < WRIST_CM and fingers < FINGER_DEG and tips < FINGER_DEG

    # a motion file with a body's skeleton (no SignForge armature) gives the same keys
    from blender_addon.blender.retarget import retarget

    again, _ = retarget(bpy.context, tgt, METARIG, motion=motion, source=data, mode="ACTION", frame=1)
    curves = {(c.data_path, c.array_index): c for c in action.layers[0].strips[0].channelbags[0].fcurves}
    for c in again.layers[0].strips[0].channelbags[0].fcurves:
        ref = curves[(c.data_path, c.array_index)]
        for f in (1, motion.frames // 2, motion.frames):
            assert abs(c.evaluate(f) - ref.evaluate(f)) < 1e-4, c.data_path


def test_generated_rigify_rig_fk_controls(sign):
    from blender_addon.core.retarget import RIGIFY

    data, motion = sign
    src = _scene(data, motion)
    meta = _metarig()
    assert bpy.ops.pose.rigify_generate() == {"FINISHED"}
    rig = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o not in (src, meta))
    action, missing = _retarget(src, rig)
    assert not missing and action["signforge_retarget_map"] == RIGIFY.name
    fc = [c for c in action.layers[0].strips[0].channelbags[0].fcurves]
    assert any(c.data_path == 'pose.bones["upper_arm_parent.R"]["IK_FK"]' for c in fc)   # arms switched to FK
    from blender_addon.core.retarget import METARIG

    org = {j: "ORG-" + b for j, b in METARIG.bones.items()}   # measured on the rig's ORG bones
    # spine1 has no FK control in Rigify (below the torso's pivot its FK chain runs downwards):
    # the lowest spine bone keeps the rig's own rest curve against the torso
    chains = [c for c in BODY_CHAINS if c != ("spine1", "spine2")]
    wrist, fingers, tips = _compare(src, rig, RIGIFY, motion, measure=org, body_chains=chains)
    _report("rigify", wrist, fingers, tips)
    bpy.context.scene.frame_set(motion.frames // 2)   # the deforming bones follow the ORG bones measured
    for b in ("hand.R", "f_index.03.R", "thumb.03.L", "forearm.L"):   # (DEF-forearm is split in two)
        org, dfm = rig.pose.bones["ORG-" + b], rig.pose.bones["DEF-" + b]
        assert (org.head - dfm.head).length < 1e-3, b
        assert b == "forearm.L" or (org.tail - dfm.tail).length < 1e-3, b
    assert wrist < WRIST_CM and fingers < FINGER_DEG and tips < FINGER_DEG


def _renamed_metarig(names: dict):
    """The metarig with its bones renamed (``names``: metarig bone -> new name)."""
    rig = _metarig()
    for old, new in names.items():
        rig.data.bones[old].name = new
    return rig


def test_mixamo_names_with_any_prefix(sign):
    from blender_addon.core.retarget import METARIG, MIXAMO

    data, motion = sign
    src = _scene(data, motion)
    prefixed = MIXAMO.resolved(["mixamorig7:Hips"])
    rig = _renamed_metarig({METARIG.bones[j]: prefixed.bones[j] for j in METARIG.bones})
    rig.scale = (0.5, 0.5, 0.5)   # FBX imports come scaled (Mixamo's: 0.01)
    action, missing = _retarget(src, rig)
    assert not missing and action["signforge_retarget_map"] == MIXAMO.name
    wrist, fingers, tips = _compare(src, rig, prefixed, motion)
    _report("mixamo", wrist, fingers, tips)
    assert wrist < WRIST_CM and fingers < FINGER_DEG and tips < FINGER_DEG


def _smplx_addon_rig(data, lower_arms_deg=40.0, seed=0):
    """An SMPL-X-named armature as the official add-on and BVH imports build one: each bone
    aimed at its child, random rolls, in Blender's Z-up space, the arms lowered to an A-pose."""
    from blender_addon.blender.retarget import SMPLX_TO_BLENDER

    rng = np.random.default_rng(seed)
    joints = (SMPLX_TO_BLENDER[:3, :3] @ data.joints.T).T
    names, parents = data.joint_names, data.parents
    pos = joints.copy()
    for side, sign_ in (("left", 1.0), ("right", -1.0)):   # turn each arm down about the forward axis
        s = names.index(f"{side}_shoulder")
        c = math.cos(math.radians(lower_arms_deg))
        sn = math.sin(math.radians(lower_arms_deg)) * sign_
        rot = np.array([[c, 0, sn], [0, 1, 0], [-sn, 0, c]])
        for j in range(len(names)):
            k = j
            while k >= 0 and k != s:
                k = parents[k]
            if k == s:
                pos[j] = joints[s] + rot @ (joints[j] - joints[s])
    arm_data = bpy.data.armatures.new("smplx")
    arm = bpy.data.objects.new("SMPLX-neutral", arm_data)
    bpy.context.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    ebs = []
    for j, n in enumerate(names):
        eb = arm_data.edit_bones.new(n)
        kids = np.flatnonzero(parents == j)
        tail = pos[kids[0]] if len(kids) and n not in ("pelvis", "spine3") else None
        if n == "pelvis":
            tail = pos[names.index("spine1")]
        if n == "spine3":
            tail = pos[names.index("neck")]
        if tail is None:   # a leaf: on from its parent
            tail = pos[j] + 0.5 * (pos[j] - pos[parents[j]])
        eb.head, eb.tail = pos[j], tail
        eb.roll = float(rng.uniform(-math.pi, math.pi))
        ebs.append(eb)
    for j, p in enumerate(parents):
        if p >= 0:
            ebs[j].parent = ebs[p]
    bpy.ops.object.mode_set(mode="OBJECT")
    for pb in arm.pose.bones:   # Euler bones, as many imported rigs have
        pb.rotation_mode = "XYZ"
    return arm


def test_smplx_addon_armature_a_pose_and_rolls(sign):
    from blender_addon.core.retarget import SMPLX

    data, motion = sign
    src = _scene(data, motion)
    rig = _smplx_addon_rig(data)
    action, missing = _retarget(src, rig)
    assert not missing and action["signforge_retarget_map"] == SMPLX.name
    paths = {c.data_path for c in action.layers[0].strips[0].channelbags[0].fcurves}
    assert 'pose.bones["right_wrist"].rotation_euler' in paths   # keyed in the bones' own mode
    wrist, fingers, tips = _compare(src, rig, SMPLX, motion)
    _report("smplx add-on rig", wrist, fingers, tips)
    assert wrist < WRIST_CM and fingers < FINGER_DEG and tips < FINGER_DEG


def test_alignment_turns_an_a_pose_arm_onto_a_t_pose_one():
    """core.retarget.alignment, numpy only: an arm 40 degrees down, twice as long, in a rig
    turned to face +X, is turned onto the source's T-pose arm, facing the source's way."""
    from blender_addon.core.retarget import alignment

    src = {"pelvis": np.zeros(3), "neck": np.array([0, 0, 0.5]), "right_shoulder": np.array([-0.2, 0, 0.45]),
           "right_elbow": np.array([-0.45, 0, 0.45])}
    a = math.radians(40)
    face = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])   # the target rig faces +X
    tgt = {"pelvis": np.zeros(3), "neck": np.array([0, 0, 1.0]), "right_shoulder": np.array([-0.4, 0, 0.9])}
    tgt["right_elbow"] = tgt["right_shoulder"] + 0.5 * np.array([-math.cos(a), 0, -math.sin(a)])
    tgt = {k: face @ v for k, v in tgt.items()}
    rot = alignment("right_shoulder", src, tgt)
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    arm_t = rot @ (tgt["right_elbow"] - tgt["right_shoulder"])
    arm_s = src["right_elbow"] - src["right_shoulder"]
    np.testing.assert_allclose(arm_t / np.linalg.norm(arm_t), arm_s / np.linalg.norm(arm_s), atol=1e-12)
    # the arm is raised about the body's forward axis: the target's forward becomes the source's
    np.testing.assert_allclose(rot @ face @ np.array([0, -1.0, 0]), [0, -1.0, 0], atol=1e-12)


def test_a_users_map_file_and_bad_files(tmp_path, sign):
    from blender_addon.core.retarget import METARIG, BoneMapError, load_map, save_map

    good = tmp_path / "mine.json"
    save_map(METARIG, good)
    assert load_map(good).bones == METARIG.bones
    cases = {
        "not json": "{bones: 1",
        "no bones": json.dumps({"name": "x"}),
        "bad joint": json.dumps({"bones": {"right_hand": "hand.R"}}),
        "empty bone": json.dumps({"bones": {"right_wrist": ""}}),
        "twice": json.dumps({"bones": {"right_wrist": "hand.R", "left_wrist": "hand.R"}}),
        "unknown key": json.dumps({"bones": {"right_wrist": "hand.R"}, "colour": 1}),
    }
    for label, text in cases.items():
        bad = tmp_path / f"{label}.json"
        bad.write_text(text)
        with pytest.raises(BoneMapError) as err:
            load_map(bad)
        msg = str(err.value)
        assert "\n" not in msg and msg.startswith(bad.name), (label, msg)
        print(f"{label}: {msg}")


class _Layout:
    """Records the properties and operators a panel section draws."""

    def __init__(self, log):
        self.log = log

    def column(self, **kw):
        return self

    row = column

    def prop(self, data, name, **kw):
        getattr(data, name)
        self.log.append(name)

    def operator(self, idname, **kw):
        self.log.append(idname)

    def label(self, **kw):
        pass


def test_operator_retargets_the_active_take_with_a_map_file(tmp_path, sign):
    """The panel's Retarget to… with a user's map file: a take on the target, NLA by default."""
    import blender_addon
    from blender_addon.blender import panel
    from blender_addon.blender import retarget as retarget_mod
    from blender_addon.core.retarget import METARIG

    data, motion = sign
    blender_addon.register()
    try:
        src = _scene(data, motion)
        tgt = _metarig()
        path = tmp_path / "my-rig.json"   # a map without a name is named after its file
        path.write_text(json.dumps({"bones": dict(METARIG.bones)}))
        s = bpy.context.scene.signforge
        s.retarget_target = tgt
        s.retarget_map = "FILE"
        s.retarget_map_path = str(path)
        bpy.context.view_layer.objects.active = src
        assert bpy.ops.signforge.retarget() == {"FINISHED"}
        [track] = tgt.animation_data.nla_tracks
        action = track.strips[0].action
        assert action["signforge_retarget_map"] == "my-rig"
        assert action["signforge_retarget_source"] == src.name
        assert "FILE" in [i[0] for i in retarget_mod.map_choices()]
        drawn = []
        panel.draw_retarget(_Layout(drawn), s, panel.PanelState(True, src.name, True, "", False))
        assert drawn == ["retarget_target", "retarget_map", "signforge.save_bone_map", "retarget_map_path",
                         "signforge.retarget"]
        s.retarget_map_path = str(tmp_path / "missing.json")
        with pytest.raises(RuntimeError, match="missing.json"):
            bpy.ops.signforge.retarget()
    finally:
        blender_addon.unregister()
