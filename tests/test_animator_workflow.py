"""Issue 16's done-when scenario in real bpy 5.0.1 with a real backend subprocess, no mocks: an
animator's 24 fps scene (frames 1001-1250, playhead at 1100) gets two generated takes as NLA
strips, renames one, regenerates one with a new seed, mirrors one to the left hand, makes
variants and deletes one, edits a bone in Euler mode and exports, retargets onto a generated
Rigify rig and undoes; the scene's timing never moves, the file holds the edit and every
action is a take."""

import numpy as np
import pytest
from conftest import LayoutRecorder, film_scene, scene_timing

bpy = pytest.importorskip("bpy", reason="bpy is a SignForge dependency; install with make setup")
pytestmark = pytest.mark.blender   # also run under the oldest supported bpy


def _quats(motion):
    from blender_addon.core import motion as M

    return M.axis_angle_to_quaternion(motion.poses)


def _angle(a, b):
    dot = np.abs(np.sum(a * b, axis=-1)) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(2 * np.arccos(np.clip(dot, -1.0, 1.0)))


def test_the_animators_day(addon, tmp_path):
    import addon_utils

    from backend.io import load_motion
    from blender_addon.blender import panel
    from blender_addon.blender.animate import motion_from_take, smplx_pose, take_strips, takes_of
    from blender_addon.blender.body import find_body
    from blender_addon.core import motion as M

    scene = film_scene()
    timing = scene_timing(scene)
    s = scene.signforge
    s.prompt, s.seconds, s.steps, s.variants, s.seed, s.auto_length = "the right hand taps the chin", 0.8, 5, 2, 3, False

    # two takes at the playhead, each a strip on its own SignForge track
    assert bpy.ops.signforge.generate() == {"FINISHED"}
    arm = find_body(bpy.context)
    anim = arm.animation_data
    first, second = takes_of(arm)   # top first: #1
    assert (first.name, second.name) == ("the right hand taps the chin #1", "the right hand taps the chin #2")
    assert [t.strips[0].frame_start for t in anim.nla_tracks] == [1100, 1100]

    # the take list shows them; picking one selects its strip
    log = []
    panel.draw_take_list(LayoutRecorder(log), s, panel.PanelState(True, arm.name, True, "", False))
    assert {"SIGNFORGE_UL_takes", "signforge.take_rename", "signforge.take_delete", "signforge.take_regenerate",
            "signforge.take_variants", "signforge.take_mirror"} <= set(log)
    log.clear()
    panel.draw_files(LayoutRecorder(log), panel.PanelState(True, arm.name, True, "", False), s)
    panel.draw_video(LayoutRecorder(log), s, panel.PanelState(True, arm.name, True, "", False))
    assert log.count("mirror_hand") == 2
    assert bpy.ops.signforge.take_select(action=second.name) == {"FINISHED"}
    assert take_strips(arm, second)[0].select and not take_strips(arm, first)[0].select
    assert bpy.data.actions[s.take_index] == second

    # rename: the action and its strip
    assert bpy.ops.signforge.take_rename(action=first.name, name="chin tap, keeper") == {"FINISHED"}
    assert first.name == "chin tap, keeper" and take_strips(arm, first)[0].name == "chin tap, keeper"

    # regenerate #2 with a new seed: the same action on the same track at the same frame
    track = next(t for t in anim.nla_tracks if take_strips(arm, second)[0] in list(t.strips))
    before = _quats(motion_from_take(bpy.context, arm, second))
    assert second["signforge_seed"] == 3
    assert bpy.ops.signforge.take_regenerate() == {"FINISHED"}   # the list's chosen take
    assert second["signforge_seed"] == 4 and second.name == "the right hand taps the chin #2"
    [strip] = [st for st in take_strips(arm, second) if st.id_data == arm]   # (the face has its own)
    assert strip in list(track.strips) and strip.frame_start == 1100
    after = _quats(motion_from_take(bpy.context, arm, second))
    assert _angle(before, after).max() > 1.0   # another seed, another motion

    # mirror the keeper to the left hand: the backend's Motion.mirror of what it was
    from backend.motion.motion import Motion

    shown = motion_from_take(bpy.context, arm, first)
    assert bpy.ops.signforge.take_mirror(action=first.name) == {"FINISHED"}
    mirrored = motion_from_take(bpy.context, arm, first)
    want = Motion(poses=shown.poses.astype(np.float32), trans=shown.trans.astype(np.float32),
                  expression=np.zeros((shown.frames, 10), np.float32), fps=shown.fps).mirror()
    assert mirrored.frames == shown.frames
    assert _angle(_quats(mirrored), M.axis_angle_to_quaternion(want.poses)).max() < 1e-2
    assert first["signforge_mirrored"] == "true" and first["signforge_hand"] == "left"
    assert first.name == "chin tap, keeper" and take_strips(arm, first)[0].frame_start == 1100

    # variants of the regenerated take: new seeds, stacked at its frame; delete one
    assert bpy.ops.signforge.take_variants(action=second.name, count=2) == {"FINISHED"}
    takes = takes_of(arm)
    assert len(takes) == 4 and len(bpy.data.actions) == 4
    new = [a for a in takes if a not in (first, second)]
    assert sorted(a["signforge_seed"] for a in new) == [5, 6]
    assert all(take_strips(arm, a)[0].frame_start == 1100 for a in new)
    tracks = len(anim.nla_tracks)
    gone = new[0].name
    assert bpy.ops.signforge.take_delete(action=gone) == {"FINISHED"}
    assert gone not in bpy.data.actions and len(anim.nla_tracks) == tracks and len(takes_of(arm)) == 3

    # an Euler-mode edit on the keeper, made the active action, then export
    anim.action, anim.action_slot = first, first.slots[0]
    pb = arm.pose.bones["right_elbow"]
    pb.rotation_mode = "XYZ"
    pb.rotation_euler = (0.3, -0.5, 0.9)
    assert pb.keyframe_insert("rotation_euler", frame=1105)
    scene.frame_set(1105)
    edit = smplx_pose(arm)[0][list(arm["signforge_joints"]).index("right_elbow")]   # as SMPL-X's rotation
    scene.frame_set(1100)
    out = tmp_path / "keeper.npz"
    assert bpy.ops.signforge.export_motion(filepath=str(out)) == {"FINISHED"}

    # retarget the keeper onto a generated Rigify rig, as a take there
    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_human_metarig_add()
    meta = bpy.context.active_object
    assert bpy.ops.pose.rigify_generate() == {"FINISHED"}
    bpy.ops.object.mode_set(mode="OBJECT")
    rig = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o not in (arm, meta))
    s.retarget_target = rig
    bpy.context.view_layer.objects.active = arm
    scene.frame_set(1100)
    assert bpy.ops.signforge.retarget() == {"FINISHED"}
    assert len(takes_of(rig)) == 1 and takes_of(rig)[0]["signforge_retarget_source"] == arm.name

    # undo the last step (a delete), as a click in the UI would push it
    bpy.ops.ed.undo_push(message="before delete")
    victim = takes_of(arm)[-1].name
    assert bpy.ops.signforge.take_delete("EXEC_DEFAULT", True, action=victim) == {"FINISHED"}
    assert victim not in bpy.data.actions
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert victim in bpy.data.actions

    # the scene's timing never moved; the file holds the edit; every action is a take
    scene = bpy.context.scene
    assert scene_timing(scene) == timing
    back = load_motion(out)
    joints = list(find_body(bpy.context)["signforge_joints"])
    got = _quats(back)[:, joints.index("right_elbow")]
    assert _angle(got, edit[None]).max() < 1e-3
    armatures = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    assert len(bpy.data.actions) == sum(len(takes_of(o)) for o in armatures) == 4


def test_import_mirrored_to_the_other_hand(addon, tmp_path):
    """Import's Hand switch: Mirror to Other Hand keys the backend's Motion.mirror of the file."""
    from backend.io import save_motion
    from backend.motion.builtin import wave
    from blender_addon.blender.animate import motion_from_take, takes_of
    from blender_addon.blender.body import find_body

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps = 25   # the file's rate: the keys are its frames
    src = save_motion(wave(), tmp_path / "wave.npz")
    scene.signforge.mirror_hand = "MIRROR"
    assert bpy.ops.signforge.import_motion(filepath=str(src)) == {"FINISHED"}
    arm = find_body(bpy.context)
    [take] = takes_of(arm)
    got = motion_from_take(bpy.context, arm, take)
    want = wave().mirror()
    assert _angle(_quats(got), _quats(want)).max() < 1e-3
    assert take["signforge_mirrored"] == "true"


def test_a_takes_stored_request_and_new_seeds():
    import random

    from blender_addon.core.takes import new_seeds, stored_request

    rec = {"signforge_prompt": "wave", "signforge_seed": 3, "signforge_steps": 5, "signforge_guidance": 2.5,
           "signforge_hand": "left", "signforge_run": "handmdm", "signforge_fps": 24.0, "signforge_refine": 0.3}
    assert stored_request(rec) == {"prompt": "wave", "seed": 3, "steps": 5, "guidance": 2.5, "hand": "left",
                                   "run": "handmdm", "refine": 0.3}   # a regenerated take keeps its refine
    with pytest.raises(ValueError, match="not generated"):
        stored_request({"signforge_video": "/clip.mp4", "signforge_prompt": "x"})
    with pytest.raises(ValueError, match="not generated"):
        stored_request({"signforge_source_file": "/a.bvh"})
    assert new_seeds(3, {4, 6}, 3) == [5, 7, 8]
    seeds = new_seeds(3, {4}, 5, random.Random(0))
    assert len(set(seeds)) == 5 and not {3, 4} & set(seeds)
