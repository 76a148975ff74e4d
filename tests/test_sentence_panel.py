"""Issue 20's Blender side in real bpy with a real backend subprocess, no mocks: the Sentence
section builds a sentence (two prompts' worth: a description and a dictionary entry) as one
NLA take at the playhead of a 24 fps scene with a marker per sign; Regenerate Selection redoes
the right hand's fingers over the preview range of a take and keeps every other channel; a
cancelled Build or edit and bad input leave the scene as it was. Plus the bpy-free pieces:
the list's rows as request items, the markers' frames and the edit mask. (The batch renderer's
sentences: tests/test_sentence_batch.py.)"""
import json

import numpy as np
import pytest

from blender_addon.core.sentence import PanelItem, edit_mask, sentence_items, sign_markers
from conftest import LayoutRecorder, on_first_progress

TEXT = "the right hand, shaped as a fist with the thumb up, taps the chin twice"
ENTRY = "castle_2"


# ------------------------------------------------------------------------ bpy-free

def test_the_lists_rows_become_the_requests_items(tmp_path):
    clip = tmp_path / "wave.npz"
    clip.write_bytes(b"not read here")
    rows = [PanelItem("TEXT", "  the right   hand taps ", seconds=1.2, transition=0.5),
            PanelItem("ENTRY", ENTRY, seconds=3.0, transition=0.4), PanelItem("MOTION", path=str(clip))]
    assert sentence_items(rows) == [{"text": "the right hand taps", "seconds": 1.2},   # no move into sign 1
                                    {"entry": ENTRY, "transition": 0.4},              # an entry keeps its length
                                    {"motion": str(clip)}]
    for bad, said in (([], "the list is empty"), ([PanelItem("TEXT", " ")], "item 1: type a description"),
                      ([rows[0], PanelItem("ENTRY", "two words")], "item 2: an entry id is one word"),
                      ([PanelItem("MOTION", path=str(tmp_path / "gone.npz"))], "does not exist"),
                      ([PanelItem("MOTION", path=str(tmp_path / "clip.mp4"))], "not a motion file")):
        with pytest.raises(ValueError, match=said):
            sentence_items(bad)


def test_the_joints_an_edit_keeps_are_the_ones_handmdms_features_leave_out():
    from backend.body.skeleton import FEATURE_JOINTS, JOINT_INDEX
    from blender_addon.core.sentence import NOT_GENERATED

    assert set(NOT_GENERATED) == {n for n, j in JOINT_INDEX.items() if j not in FEATURE_JOINTS}


def test_markers_land_on_each_signs_first_frame_at_the_scenes_rate():
    spans = [{"kind": "sign", "start": 0, "end": 40, "source": f"text: {TEXT}"},
             {"kind": "transition", "start": 40, "end": 50},
             {"kind": "sign", "start": 50, "end": 90, "source": f"entry: {ENTRY}"}]
    marks = sign_markers(spans, 1100, 25.0, 24.0)
    assert [f for _, f in marks] == [1100, 1148]   # 50 frames at 25 fps = 48 at 24
    assert marks[1][0] == f"2 entry: {ENTRY}" and len(marks[0][0]) <= 63


def test_the_edit_mask_from_bones_and_the_preview_range():
    joints = ["pelvis", "right_wrist", "right_index1", "right_index2"]
    m = edit_mask((1100, 1199), (1120, 1139), ["right_index1", "right_index2", "Camera"], joints)
    assert (m.start, m.end, m.joints) == (20, 40, "right_index1,right_index2")
    m = edit_mask((1100, 1147), (1000, 1123), [], joints)   # clipped to the take, in its own frames at any rate
    assert (m.start, m.end, m.joints) == (0, 24, None)
    assert edit_mask((1, 50), None, ["right_wrist"], joints).params() == {
        "start": None, "end": None, "joints": "right_wrist"}
    m = edit_mask((1, 50), None, ["pelvis", "right_wrist"], joints)
    assert m.joints == "right_wrist" and m.ignored == ("pelvis",)
    for preview, bones, said in (((1, 40), ["right_wrist"], "misses the take"), ((100, 100), [], "under 2 frames"),
                                 (None, [], "select bones"), (None, ["Camera"], "none of the selected bones"),
                                 (None, ["pelvis"], "does not generate the selected bones")):
        with pytest.raises(ValueError, match=said):
            edit_mask((100, 199), preview, bones, joints)


# ------------------------------------------------------------------------ real bpy, real backend

bpy = pytest.importorskip("bpy", reason="bpy is a SignForge dependency; install with make setup")


def _snapshot():
    scene = bpy.context.scene
    return {"objects": sorted(o.name for o in bpy.data.objects), "actions": sorted(a.name for a in bpy.data.actions),
            "markers": sorted((m.name, m.frame) for m in scene.timeline_markers),
            "timing": (scene.frame_start, scene.frame_end, scene.frame_current, scene.render.fps),
            "tracks": sorted((o.name, len(o.animation_data.nla_tracks)) for o in bpy.data.objects
                             if o.animation_data)}


def _add(kind, value):
    assert bpy.ops.signforge.sentence_add(kind=kind, value=value) == {"FINISHED"}


@pytest.mark.blender
def test_build_a_sentence_as_one_take_with_markers_and_cancel_leaves_the_scene(addon, tmp_path):
    from conftest import film_scene

    from blender_addon.blender import panel
    from blender_addon.blender.animate import take_frames, take_strips, takes_of
    from blender_addon.blender.body import find_body

    scene = film_scene()
    s = scene.signforge
    _add("ENTRY", ENTRY)
    _add("TEXT", "the left hand waves")
    s.sentence_index = 0
    _add("TEXT", TEXT)                          # goes after the chosen sign: [entry, TEXT, wave]
    assert bpy.ops.signforge.sentence_move(direction="UP") == {"FINISHED"}   # [TEXT, entry, wave]
    s.sentence_index = 2
    assert bpy.ops.signforge.sentence_remove() == {"FINISHED"}               # [TEXT, entry]
    assert [(i.kind, i.text) for i in s.sentence_items] == [("TEXT", TEXT), ("ENTRY", ENTRY)]
    s.sentence_steps, s.sentence_seed = 4, 3

    log = []
    panel.draw_sentence(LayoutRecorder(log), s, panel.PanelState(False, "", True, "", False))
    assert {"SIGNFORGE_UL_sentence", "signforge.sentence_add", "signforge.sentence_remove", "signforge.sentence_move",
            "signforge.sentence_build", "signforge.regenerate_selection", "edit_text"} <= set(log)

    # bad input: one line, nothing changes
    s.sentence_items[1].text = "two words"
    before = _snapshot()
    with pytest.raises(RuntimeError, match="entry id is one word"):   # the operator's one-line error
        bpy.ops.signforge.sentence_build()
    s.sentence_items[1].text = "nosuch_9"
    with pytest.raises(RuntimeError, match="no dictionary entry 'nosuch_9'"):   # the backend's, as one line
        bpy.ops.signforge.sentence_build()
    assert _snapshot() == before
    s.sentence_items[1].text = ENTRY

    assert bpy.ops.signforge.sentence_build() == {"FINISHED"}
    arm = find_body(bpy.context)
    [take] = takes_of(arm)
    assert take.name == f"{TEXT[:60]}…" or take.name == f"{TEXT} / {ENTRY}"
    assert [st.frame_start for st in take_strips(arm, take) if st.id_data == arm] == [1100]
    assert json.loads(take["signforge_sentence_items"]) == [{"text": TEXT}, {"entry": ENTRY}]
    spans = json.loads(take["signforge_sentence"])
    assert [sp["kind"] for sp in spans] == ["sign", "transition", "sign"]
    markers = sorted((m.frame, m.name) for m in scene.timeline_markers)
    assert [f for f, _ in markers] == [1100, 1100 + round(spans[2]["start"] * 24 / 25)]
    assert markers[1][1] == f"2 entry: {ENTRY}"
    first, last = take_frames(take)
    assert (first, last) == (1100, 1100 + round(spans[-1]["end"] * 24 / 25) - 1)
    assert (scene.frame_start, scene.frame_end, scene.frame_current) == (1001, 1250, 1100)

    # a cancelled build changes nothing
    before = _snapshot()
    s.sentence_steps = 100
    _add("TEXT", "both hands circle in front of the chest")
    before = _snapshot()
    t = on_first_progress(lambda job: job.cancel())
    assert bpy.ops.signforge.sentence_build() == {"CANCELLED"}
    t.join()
    assert _snapshot() == before
    assert "cancelled" in bpy.context.window_manager.signforge_status.status


def _channels(context, arm, action):
    from blender_addon.blender.animate import motion_from_take

    m = motion_from_take(context, arm, action)
    return m.poses, m.trans, m.expression


@pytest.mark.blender
@pytest.mark.parametrize("fps", [25, 24, 30, 60])
def test_regenerate_selection_redoes_the_fingers_over_the_preview_range(addon, tmp_path, fps):
    from backend.io import save_motion
    from backend.motion.builtin import wave
    from blender_addon.blender.animate import take_frames, takes_of
    from blender_addon.blender.body import find_body
    from blender_addon.core import motion as M

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = fps, 1.0   # the backend's rate (25) or a film / video / game one
    scene.frame_set(1)
    src = save_motion(wave(), tmp_path / "wave.npz")
    assert bpy.ops.signforge.import_motion(filepath=str(src)) == {"FINISHED"}
    arm = find_body(bpy.context)
    [old] = takes_of(arm)
    first, last = take_frames(old)
    s = scene.signforge
    s.edit_text, s.sentence_steps, s.edit_seed = "a flat right hand", 4, 1

    # nothing selected, no preview range: one line, nothing changes
    for pb in arm.pose.bones:
        if hasattr(pb, "select"):
            pb.select = False
        else:
            pb.bone.select = False
    before = _snapshot()
    with pytest.raises(RuntimeError, match="select bones"):
        bpy.ops.signforge.regenerate_selection()
    assert _snapshot() == before

    fingers = [n for n in arm["signforge_joints"] if str(n).startswith("right_") and any(
        f in str(n) for f in ("index", "middle", "ring", "pinky", "thumb"))]
    assert len(fingers) == 15
    for n in fingers:
        pb = arm.pose.bones[n]
        if hasattr(pb, "select"):
            pb.select = True
        else:
            pb.bone.select = True
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = first + 10, first + 29   # frames 10:30 of the take

    if fps == 25:   # a cancelled edit changes nothing (once: the rate plays no part in it)
        s.sentence_steps = 100
        before = _snapshot()
        t = on_first_progress(lambda job: job.cancel())
        assert bpy.ops.signforge.regenerate_selection() == {"CANCELLED"}
        t.join()
        assert _snapshot() == before
        s.sentence_steps = 4

    assert bpy.ops.signforge.regenerate_selection() == {"FINISHED"}, \
        bpy.context.window_manager.signforge_status.status
    new = next(a for a in takes_of(arm) if a != old)
    assert take_frames(new) == (first, last) and new["signforge_edit_of"] == old.name
    assert new["signforge_edited"].startswith("10:30 right_index1")
    joints = list(arm["signforge_joints"])
    cols = [joints.index(n) for n in fingers]
    keep = [j for j in range(len(joints)) if j not in cols]
    (p0, t0, e0), (p1, t1, e1) = _channels(bpy.context, arm, old), _channels(bpy.context, arm, new)
    q0, q1 = M.axis_angle_to_quaternion(p0), M.axis_angle_to_quaternion(p1)
    dot = np.abs(np.sum(q0 * q1, -1))
    assert dot[:, keep].min() > 1 - 1e-6            # every other joint as it was, at every frame
    assert dot[:10, cols].min() > 1 - 1e-6 and dot[30:, cols].min() > 1 - 1e-6   # outside the range too
    assert dot[10:30, cols].min() < 0.999           # the fingers were redone
    np.testing.assert_allclose(t1, t0, atol=1e-5)
    np.testing.assert_allclose(e1, e0, atol=1e-5)
    if fps != 25:   # the keys themselves: every kept bone's, as it was keyed (no trip through 25 fps)
        from blender_addon.blender.animate import _all_fcurves

        def keys(action):
            out = {}
            for fc in _all_fcurves(action):
                co = np.zeros(2 * len(fc.keyframe_points))
                fc.keyframe_points.foreach_get("co", co)
                out[(fc.data_path, fc.array_index)] = co.reshape(-1, 2)
            return out

        k0, k1 = keys(old), keys(new)
        kept = [c for c in k0 if not any(f'"{n}"' in c[0] for n in fingers)]
        assert kept and all(c in k1 and k1[c].shape == k0[c].shape for c in kept)
        worst = max(float(np.abs(k1[c] - k0[c]).max()) for c in kept)
        assert worst <= 2 ** -23, worst   # one float32 step at most (keys to axis-angles and back)

