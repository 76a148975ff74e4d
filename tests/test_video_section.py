"""The panel's Video section (issue 16) in real bpy 5.0.1 with a real backend subprocess: a
reconstruction's quality figures reach the panel, the Info log and the take's record; its
per-frame confidence (overall and per hand) is an animated custom property keyed at the
scene's rate; Show Clip puts the video beside the take, in sync, without touching the
scene's timing, and undo removes it. Plus the bpy-free pieces: Motion's per-hand confidence,
the clip's timing and the panel's lines."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import film_scene, scene_timing

from backend.motion import Motion

ROOT = Path(__file__).resolve().parent.parent


def _shared_clip(name: str) -> Path:
    from backend.data.lexicon import resolve_lexicon_path

    path = resolve_lexicon_path().parent.parent / "video" / name
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


# ------------------------------------------------------------------------ bpy-free

def test_per_hand_confidence_follows_the_motions_edits(tmp_path):
    from backend.io import load_motion, save_motion

    t = 10
    conf = np.linspace(0, 1, t)
    hands = np.stack([np.full(t, 0.2), np.linspace(0.6, 1, t)], 1)
    m = Motion.rest(t, 25.0, confidence=conf, hand_confidence=hands)
    assert np.allclose(m.mirror().hand_confidence, hands[:, ::-1])        # the hands trade places
    assert np.allclose(m.cut(2, 5).hand_confidence, hands[2:5])
    assert m.resample(50).hand_confidence.shape == (19, 2)
    assert m.concat(m, blend=2).hand_confidence.shape == (18, 2)
    back = load_motion(save_motion(m, tmp_path / "m.npz"))
    assert np.allclose(back.hand_confidence, hands) and np.allclose(back.confidence, conf)
    with pytest.raises(ValueError, match="hand_confidence"):
        Motion.rest(t, hand_confidence=np.full((t, 2), 1.5))


def test_denoise_is_off_unless_asked_for():
    from blender_addon.core import protocol as P

    assert P.check_params("reconstruct", {"path": "/v.mp4", "out": "/o.npz"})["denoise"] is False


def test_clip_timing_maps_scene_frames_to_the_videos_own_time():
    from blender_addon.core.takes import clip_timing

    # a 29.92 fps clip whose take starts 0.5 s in, keyed at 24 fps from frame 1100 for 30 frames
    tm = clip_timing(0.5, 29.92, 24.0, 1100, 30, 58)
    for k in (0, 1, 13, 29):
        assert tm.movie_frame(1100 + k) == round((0.5 + k / 24) * 29.92) + 1
    assert tm.movie_frame(900) == tm.first == round(0.5 * 29.92) + 1   # held before the take
    assert tm.movie_frame(2000) == tm.last                             # and after it
    assert clip_timing(0.0, 30.0, 60.0, 1, 1000, 58).last == 58        # never past the movie's end
    with pytest.raises(ValueError):
        clip_timing(0.0, 0.0, 24.0, 1, 10, 58)


def test_quality_lines_show_the_figures_and_nothing_else():
    from blender_addon.core.takes import quality_lines, quality_record

    q = {"left_hand_found": 0.0, "right_hand_found": 0.3448, "reprojection_px": 13.63, "confidence_mean": 0.33,
         "confidence_min": 0.16, "left_confidence_mean": 0.18, "right_confidence_mean": 0.49, "trimmed": [0, 57],
         "frames": 57}
    assert quality_lines(q) == ["Hands found: left 0%, right 34%", "Reprojection error: 13.6 px",
                                "Confidence: mean 0.33, lowest 0.16", "Per hand: left 0.18, right 0.49"]
    assert "trimmed" not in quality_record(q) and quality_record({"reprojection_px": "x"}) == {}
    assert quality_lines(None) == []


# ------------------------------------------------------------------------ real bpy, real backend

bpy = pytest.importorskip("bpy", reason="bpy is a SignForge dependency; install with make setup")
pytestmark = pytest.mark.blender   # also run under the oldest supported bpy


class _Recorder:
    def __init__(self, log):
        self.log, self.enabled = log, True

    def _sub(self, *a, **kw):
        return _Recorder(self.log)

    column = row = _sub

    def prop(self, data, name, **kw):
        assert name in data.bl_rna.properties, name
        self.log.append(("prop", name))

    def operator(self, idname, **kw):
        self.log.append(("operator", idname))

    def label(self, text="", **kw):
        self.log.append(("label", text))


def _objects():
    return sorted(o.name for o in bpy.data.objects), sorted(a.name for a in bpy.data.actions), \
        sorted(i.name for i in bpy.data.images), sorted(m.name for m in bpy.data.materials)


def _keep_results(monkeypatch, tmp_path) -> list:
    """The job's .npz goes when the job ends: keep a copy of each the operator reads."""
    from blender_addon.blender import operators

    kept = []

    def keep(path, _read=operators.read_motion):
        kept.append(Path(shutil.copy(path, tmp_path / f"kept-{len(kept)}.npz")))
        return _read(path)

    monkeypatch.setattr(operators, "read_motion", keep)
    return kept


def _fcurve(action, prop):
    from blender_addon.blender.animate import _all_fcurves

    return next(fc for fc in _all_fcurves(action) if fc.data_path == f'["{prop}"]')


def test_reconstruct_shows_quality_confidence_curves_and_the_clip_in_sync(addon, tmp_path, monkeypatch, capfd):
    from backend.io import load_motion
    from blender_addon.blender import panel
    from blender_addon.blender.body import find_body
    from blender_addon.blender.clip import CLIP_TAG, find_clip
    from blender_addon.core import motion as M
    from blender_addon.core.takes import clip_timing

    clip = _shared_clip("test_video.mp4")
    scene = film_scene()                      # 24 fps, frames 1001-1250, the playhead at 1100
    assert bpy.ops.signforge.add_body() == {"FINISHED"}
    timing = scene_timing(scene)
    s = scene.signforge
    assert s.denoise is False and s.show_clip is False   # both off until asked for
    s.video_path, s.show_clip = str(clip), True
    kept = _keep_results(monkeypatch, tmp_path)
    bpy.ops.ed.undo_push(message="before reconstruct")
    before = _objects()
    capfd.readouterr()
    assert bpy.ops.signforge.reconstruct("EXEC_DEFAULT", True) == {"FINISHED"}
    cap = capfd.readouterr()
    out = cap.out + cap.err
    assert scene_timing(scene) == timing                  # fps, range and playhead as they were

    # quality figures: the Info log, the panel and the take's record agree with the file
    [written] = kept
    motion = load_motion(written)
    assert "Reconstruct quality: hands found: left 0%, right 34%; reprojection error:" in out
    assert "the left hand was never found in the take" in out   # a held hand is a warning
    status = bpy.context.window_manager.signforge_status
    assert status.quality.splitlines()[0] == "Hands found: left 0%, right 34%"
    log = []
    panel.draw_video(_Recorder(log), s, panel.PanelState(True, "x", True, "backend", False), status.quality)
    assert ("prop", "show_clip") in log and ("prop", "denoise") in log
    assert ("label", f"Confidence: mean {motion.confidence.mean():.2f}, lowest {motion.confidence.min():.2f}") in log
    arm = find_body(bpy.context)
    [action] = bpy.data.actions
    assert action["signforge_confidence_mean"] == pytest.approx(motion.confidence.mean(), abs=1e-4)
    assert action["signforge_right_hand_found"] == pytest.approx(0.3448, abs=1e-3)
    assert action["signforge_reprojection_px"] > 0

    # per-frame confidence: curves on the armature's own properties, keyed from the playhead at 24 fps
    keyed = M.resample(M.MotionData(motion.poses, motion.trans, motion.expression, motion.fps,
                                    confidence=motion.confidence, hand_confidence=motion.hand_confidence), 24.0)
    frames = np.arange(1100, 1100 + keyed.frames)
    for prop, want in (("signforge_confidence", keyed.confidence),
                       ("signforge_confidence_left", keyed.hand_confidence[:, 0]),
                       ("signforge_confidence_right", keyed.hand_confidence[:, 1])):
        fc = _fcurve(action, prop)
        assert fc.is_valid and prop in arm
        assert np.abs([fc.evaluate(f) for f in frames] - want).max() < 1e-5
    assert keyed.hand_confidence[:, 0].max() <= 0.2 + 1e-6        # the left hand is never found
    scene.frame_set(1120)
    assert arm.evaluated_get(bpy.context.evaluated_depsgraph_get())["signforge_confidence"] == pytest.approx(
        keyed.confidence[20], abs=1e-5)

    # the clip: a plane beside the armature, its frame at each scene frame the video's at the same moment
    plane = find_clip(scene)
    assert plane is not None and plane[CLIP_TAG] == action.name and plane.parent == arm
    assert plane.matrix_world.translation.x > max((arm.matrix_world @ b.head_local).x for b in arm.data.bones)
    [mat] = plane.data.materials
    node = next(n for n in mat.node_tree.nodes if n.type == "TEX_IMAGE")
    assert Path(node.image.filepath) == clip and node.image.source == "MOVIE"
    fps_in = float(motion.fps)
    expect = clip_timing(0.0, fps_in, 24.0, 1100, keyed.frames, node.image.frame_duration)
    for f in (1050, 1100, 1101, 1113, 1100 + keyed.frames - 1, 1240):
        scene.frame_set(f)
        user = mat.evaluated_get(bpy.context.evaluated_depsgraph_get()).node_tree.nodes[node.name].image_user
        shown = (1 if f >= user.frame_start else 0) + user.frame_offset   # Blender's frame for a 1-frame user
        assert shown == expect.movie_frame(f), f
    assert expect.movie_frame(1113) == round(13 / 24 * fps_in) + 1
    scene.frame_set(timing[-1])

    # undo takes the take, the plane, its material and the image away together
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert _objects() == before
    assert find_clip(bpy.context.scene) is None


def test_a_pose_file_takes_curves_but_has_no_clip_to_show(addon, capfd):
    from blender_addon.blender.clip import find_clip

    pose = _shared_clip("mediapipe.pose")
    scene = film_scene()
    assert bpy.ops.signforge.add_body() == {"FINISHED"}
    s = scene.signforge
    s.video_path, s.show_clip = str(pose), True
    timing = scene_timing(scene)
    capfd.readouterr()
    assert bpy.ops.signforge.reconstruct() == {"FINISHED"}
    out = capfd.readouterr().out
    assert "Show Clip: a .pose file holds landmarks, not pictures" in out
    assert find_clip(scene) is None and scene_timing(scene) == timing
    [action] = bpy.data.actions
    assert _fcurve(action, "signforge_confidence_right").is_valid


def test_mirror_take_swaps_the_hands_confidence_curves(addon):
    from blender_addon.blender.animate import take_frames
    from blender_addon.blender.body import find_body

    pose = _shared_clip("mediapipe.pose")
    scene = film_scene()
    s = scene.signforge
    s.video_path, s.show_clip = str(pose), False
    assert bpy.ops.signforge.reconstruct() == {"FINISHED"}
    [action] = bpy.data.actions
    frames = np.arange(*take_frames(action))
    left, right = ([_fcurve(action, f"signforge_confidence_{h}").evaluate(f) for f in frames] for h in ("left", "right"))
    assert np.abs(np.subtract(left, right)).max() > 0.3     # the file tracks the right hand, never the left
    s.take_index = list(bpy.data.actions).index(action)
    assert bpy.ops.signforge.take_mirror() == {"FINISHED"}
    assert find_body(bpy.context) is not None
    assert np.allclose([_fcurve(action, "signforge_confidence_left").evaluate(f) for f in frames], right, atol=1e-5)
    assert np.allclose([_fcurve(action, "signforge_confidence_right").evaluate(f) for f in frames], left, atol=1e-5)


def test_a_clip_blender_cannot_play_is_one_line_and_changes_nothing(addon):
    from blender_addon.blender.clip import show_clip

    film_scene()
    assert bpy.ops.signforge.add_body() == {"FINISHED"}
    from blender_addon.blender.body import find_body

    arm = find_body(bpy.context)
    before = _objects()
    for clip, why in (({"path": str(ROOT / "README.md"), "start_s": 0.0, "fps": 30.0}, "cannot"),
                      ({"path": str(ROOT / "no-such.mp4"), "start_s": 0.0, "fps": 30.0}, "not there")):
        with pytest.raises(ValueError, match=why) as info:
            show_clip(bpy.context, arm, clip, 1100, 40, "take")
        assert "\n" not in str(info.value)
        assert _objects() == before
    mp4 = _shared_clip("test_video.mp4")
    with pytest.raises(ValueError, match="frame rate"):
        show_clip(bpy.context, arm, {"path": str(mp4), "start_s": 0.0, "fps": 0.0}, 1100, 40, "take")
    assert _objects() == before
