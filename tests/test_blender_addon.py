"""The Blender extension in real bpy 5.0.1: install, register, body, keyframes, jobs, render, panel."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from backend.body import rotations as R
from backend.io import load_motion, save_motion
from backend.motion.builtin import wave
from conftest import film_scene, on_first_progress, scene_timing

bpy = pytest.importorskip("bpy", reason="bpy is a SignForge dependency; install with make setup")
pytestmark = pytest.mark.blender   # also run under the oldest supported bpy
ROOT = Path(__file__).resolve().parent.parent


def _fresh_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _snapshot():
    scene = bpy.context.scene
    return {
        "objects": sorted(o.name for o in bpy.data.objects),
        "actions": sorted(a.name for a in bpy.data.actions),
        "meshes": sorted(m.name for m in bpy.data.meshes),
        "range": (scene.frame_start, scene.frame_end, scene.render.fps, scene.render.fps_base),
        "active": {o.name: o.animation_data.action.name if o.animation_data and o.animation_data.action else None
                   for o in bpy.data.objects},
    }


def _body_file(tmp_path, addon):
    from blender_addon.blender import session
    from blender_addon.core.jobs import Job

    job = Job(session.backend(), [("body", {"out": str(tmp_path / "body.npz")})]).start().wait(120)
    assert job.ok, job.error
    return Path(job.result(0)["path"])


def _pose_error(arm, motion, frames, start=1):
    """Largest difference between keyed bone rotations (and root location) and the motion, whose
    frame 0 is keyed at ``start``; ``frames`` are scene frames, the motion at the scene's rate."""
    from blender_addon.blender.animate import smplx_pose

    scene = bpy.context.scene
    worst = 0.0
    for f in frames:
        scene.frame_set(f)
        q, loc = smplx_pose(arm)
        got = R.np_quaternion_to_matrix(q)
        want = R.np_axis_angle_to_matrix(motion.poses[f - start].astype(np.float64))
        worst = max(worst, float(np.abs(got - want).max()))
        worst = max(worst, float(np.abs(loc - motion.trans[f - start]).max()))
    return worst


def _angle(q_a, q_b):
    """Angles (rad) between (..., 4) quaternions of any sign: of the relative rotation conj(a) b."""
    a, b = np.asarray(q_a, float), np.asarray(q_b, float)
    w = (a * b).sum(-1)
    xyz = a[..., :1] * b[..., 1:] - b[..., :1] * a[..., 1:] - np.cross(a[..., 1:], b[..., 1:])
    return 2 * np.arctan2(np.linalg.norm(xyz, axis=-1), np.abs(w))


def _root(arm):
    from blender_addon.blender.animate import smplx_pose

    return smplx_pose(arm)[1]


def _bone_quaternions(arm):
    """The SMPL-X local rotations the armature shows (its bones lie along the limbs)."""
    from blender_addon.blender.animate import smplx_pose

    return smplx_pose(arm)[0]


def test_extension_zip_installs_and_registers_twice(tmp_path):
    """Build the zip, install it into a private Blender user folder, toggle it twice."""
    from blender_addon.build import build

    zip_path = build(tmp_path / "dist")
    script = tmp_path / "install.py"
    script.write_text(f"""
import bpy, addon_utils, sys
bpy.ops.extensions.package_install_files(filepath={str(zip_path)!r}, repo="user_default", enable_on_install=True)
mod = "bl_ext.user_default.signforge"
assert mod in bpy.context.preferences.addons, list(bpy.context.preferences.addons.keys())
assert hasattr(bpy.types.Scene, "signforge") and hasattr(bpy.ops.signforge, "generate")
prefs = bpy.context.preferences.addons[mod].preferences
assert prefs.bl_rna.properties["backend_python"] is not None
for _ in range(2):
    addon_utils.disable(mod, default_set=True)
    assert not hasattr(bpy.types.Scene, "signforge")
    addon_utils.enable(mod, default_set=True)
    assert hasattr(bpy.types.Scene, "signforge")
print("INSTALLED-OK")
""")
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    r = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert "INSTALLED-OK" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]


VALIDATE = """
import sys, bpy
from bl_pkg.bl_extension_cli import cli_extension_handler   # what `blender --command extension` runs
sys.exit(cli_extension_handler(["validate", sys.argv[1]]))
"""


def test_blenders_own_validator_accepts_the_built_zip(tmp_path):
    """The zip build.py writes passes `blender --command extension validate` (bl_pkg's strict
    manifest checks, as before an install or an upload), run by the bpy module's own copy; a
    permission text one character too long fails it, so the check is live."""
    import tomllib
    import zipfile

    from blender_addon.build import build

    zip_path = build(tmp_path / "dist")
    r = subprocess.run([sys.executable, "-c", VALIDATE, str(zip_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "Success" in r.stdout, r.stdout + r.stderr
    with zipfile.ZipFile(zip_path) as z:
        text = z.read("blender_manifest.toml").decode()
    meta = tomllib.loads(text)
    assert meta["blender_version_min"] == "4.4.0"   # slotted actions (see the manifest's comment)
    assert sorted(meta["permissions"]) == ["files", "network"]   # network: core.client.RemoteBackend's socket

    bad = tmp_path / "bad.zip"
    network = meta["permissions"]["network"]
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "blender_manifest.toml":
                data = text.replace(network, network + "x" * (65 - len(network))).encode()
            dst.writestr(item, data)
    r = subprocess.run([sys.executable, "-c", VALIDATE, str(bad)], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "no longer than 64 characters" in r.stdout + r.stderr, r.stdout + r.stderr


def test_register_unregister_twice():
    import blender_addon

    for _ in range(2):
        blender_addon.register()
        assert hasattr(bpy.types.Scene, "signforge")
        blender_addon.unregister()
        assert not hasattr(bpy.types.Scene, "signforge")


def test_add_body_builds_a_skinned_smplx_armature(addon, tmp_path):
    from blender_addon.blender.body import body_mesh, find_body

    _fresh_scene()
    assert bpy.ops.signforge.add_body() == {"FINISHED"}
    arm = find_body(bpy.context)
    assert arm is not None and len(arm.data.bones) == 55
    assert {"pelvis", "right_wrist", "left_index3", "jaw"} <= {b.name for b in arm.data.bones}
    for b in arm.data.bones:   # along the limbs: a bone with one child points at it (tests/test_limb_rig.py)
        kids = b.children
        if len(kids) == 1:
            assert (b.tail_local - kids[0].head_local).length < 1e-6, b.name
    mesh = body_mesh(arm)
    assert mesh is not None and len(mesh.data.vertices) > 5000
    assert mesh.modifiers["Armature"].object == arm
    assert len(mesh.vertex_groups) == 55
    assert len(mesh.data.shape_keys.key_blocks) == 11   # basis + 10 expressions


def test_generate_through_a_subprocess_keys_the_motion(addon, tmp_path):
    from blender_addon.blender import session
    from blender_addon.blender.body import find_body

    _fresh_scene()
    scene = bpy.context.scene
    scene.render.fps = 25   # the motion's own rate, so keys are the backend's frames exactly
    timing = scene_timing(scene)
    s = scene.signforge
    s.prompt, s.seconds, s.steps, s.variants, s.seed = "the right hand taps the chin", 0.8, 5, 2, 3
    s.auto_length = False   # the Duration field, not the model's length
    assert bpy.ops.signforge.generate() == {"FINISHED"}
    assert not any(session.workdir().iterdir())   # the body and the motions were read, then removed
    arm = find_body(bpy.context)
    assert arm is not None
    assert sorted(a.name for a in bpy.data.actions) == ["the right hand taps the chin #1",
                                                        "the right hand taps the chin #2"]
    assert not any(a.use_fake_user for a in bpy.data.actions)
    # each variant a strip at the playhead on its own SignForge track, #1 on top
    anim = arm.animation_data
    assert anim.action is None and [t.name for t in anim.nla_tracks] == ["SignForge", "SignForge"]
    assert [t.strips[0].action.name[-2:] for t in anim.nla_tracks] == ["#2", "#1"]
    assert scene_timing(scene) == timing
    # the same request straight from the backend gives the same motion: compare keyframes
    from backend.generate import generate

    want = generate("the right hand taps the chin", frames=20, steps=5, seed=3, num=2)[0]
    assert _pose_error(arm, want, range(1, 21)) < 1e-4


def test_takes_leave_the_scene_timing_alone_and_stack_at_the_playhead(addon):
    """An animator's 24 fps scene, frames 1001-1250, playhead at 1100: two generated takes land as
    strips at the playhead on SignForge tracks, resampled from 25 fps, one action each, named and
    described from the request as it was when Generate was pressed."""
    from blender_addon.blender.body import find_body

    from backend.generate import generate

    scene = film_scene()
    timing = scene_timing(scene)
    s = scene.signforge
    assert (s.insert_mode, s.fit_scene) == ("NLA", False)   # the defaults
    first = "the right hand, shaped as a flat hand with the fingers spread, moves from the chin forward twice"
    assert len(first) > 63
    s.prompt, s.seconds, s.steps, s.variants, s.seed, s.auto_length = first, 2.0, 5, 1, 3, False
    # the next prompt typed while the job runs must not rename this take
    t = on_first_progress(lambda job: setattr(s, "prompt", "typed while the first take ran"))
    assert bpy.ops.signforge.generate() == {"FINISHED"}
    t.join()
    assert s.prompt == "typed while the first take ran"   # the edit happened before the result arrived
    s.prompt, s.seed = "the left hand waves", 4
    assert bpy.ops.signforge.generate() == {"FINISHED"}

    assert scene_timing(scene) == timing
    arm = find_body(bpy.context)
    anim = arm.animation_data
    assert anim.action is None
    assert [t.name for t in anim.nla_tracks] == ["SignForge", "SignForge"]   # they overlap: two tracks
    strips = [t.strips[0] for t in anim.nla_tracks]
    assert [st.frame_start for st in strips] == [1100, 1100]
    assert len(bpy.data.actions) == 2 and not any(a.use_fake_user for a in bpy.data.actions)
    take1, take2 = (st.action for st in strips)
    if bpy.app.version >= (5, 0, 0):   # 5.0 names hold 255 bytes
        assert (take1.name, take2.name) == (first, "the left hand waves")
    else:   # 4.x names 63: cut with an ellipsis, the full prompt kept in signforge_prompt
        assert (take1.name, take2.name) == (first[:60] + "…", "the left hand waves")
        assert len(take1.name.encode()) == 63
    for action, prompt, seed in ((take1, first, 3), (take2, "the left hand waves", 4)):
        assert action["signforge_prompt"] == prompt and action["signforge_seed"] == seed
        assert action["signforge_steps"] == 5 and action["signforge_guidance"] == 2.5
        assert action["signforge_model"] == "handmdm" and action["signforge_sampler"] == "ddim"
        assert action["signforge_run"] and action["signforge_motion_fps"] == 25.0
        assert action["signforge_fps"] == 24.0

    # 50 frames at 25 fps are 48 at 24 fps (2 s); at 0 s and 1 s the pose is the backend's frame 0, 25
    want = generate(first, frames=50, steps=5, seed=3)[0]
    assert strips[0].frame_end - strips[0].frame_start + 1 == 48
    anim.nla_tracks[1].mute = True   # see the first take alone
    from blender_addon.core import motion as M

    for k, src in ((0, 0), (24, 25)):
        scene.frame_set(1100 + k)
        err = _angle(_bone_quaternions(arm), M.axis_angle_to_quaternion(want.poses[src]))
        assert err.max() < 1e-4, (k, err.max())
    scene.frame_set(timing[-1])
    assert scene_timing(scene) == timing


def test_a_29_97_scene_and_every_insert_mode(addon, tmp_path):
    """A 30000/1001 fps scene: NLA, New Action and Replace keep the scene's timing, start where
    they should and keep one action per take."""
    from blender_addon.blender.animate import apply_motion
    from blender_addon.blender.body import build_body
    from blender_addon.core import motion as M
    from blender_addon.core.bodyfile import read_body

    _fresh_scene()
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.001
    scene.frame_set(7)
    timing = scene_timing(scene)
    arm = build_body(bpy.context, read_body(_body_file(tmp_path, addon)))
    scene.signforge.insert_mode = "REPLACE"   # refused when pressed, before any job runs
    with pytest.raises(RuntimeError, match="has no active action"):
        bpy.ops.signforge.generate()
    scene.signforge.insert_mode = "NLA"
    motion = M.read_motion(save_motion(wave(), tmp_path / "wave.npz"))
    assert motion.fps == 25 and motion.provenance["source"] == "signforge-builtin"
    keyed = M.resample(motion, 30000 / 1001)
    assert keyed.frames == round(motion.frames * 30000 / 1001 / 25)

    nla = apply_motion(bpy.context, arm, motion, properties={"signforge_prompt": "wave"})
    [track] = arm.animation_data.nla_tracks
    assert track.strips[0].frame_start == 7 and tuple(nla.frame_range) == (7, 7 + keyed.frames - 1)
    assert _pose_error(arm, keyed, [7, 30, 7 + keyed.frames - 1], start=7) < 1e-5
    scene.frame_set(7)
    assert _angle(_bone_quaternions(arm), M.axis_angle_to_quaternion(motion.poses[0])).max() < 1e-4

    scene.frame_set(300)
    active = apply_motion(bpy.context, arm, motion, "new action", mode="ACTION")
    assert arm.animation_data.action == active and active.frame_range[0] == 300
    assert len(arm.animation_data.nla_tracks) == 1   # the NLA take needs no stash: its strip keeps it
    scene.frame_set(500)
    short = M.MotionData(motion.poses[:10], motion.trans[:10], motion.expression[:10], 25.0, text="short")
    replaced = apply_motion(bpy.context, arm, short, "replaced", mode="REPLACE",
                            properties={"signforge_prompt": "short"})
    assert replaced == active and replaced.name == "replaced" and replaced["signforge_prompt"] == "short"
    assert tuple(replaced.frame_range) == (300, 300 + M.resample(short, 30000 / 1001).frames - 1)
    assert sorted(a.name for a in bpy.data.actions) == ["replaced", nla.name]   # one action per take
    assert not any(a.use_fake_user for a in bpy.data.actions)
    scene.frame_set(7)
    assert scene_timing(scene) == timing


def test_cancel_mid_job_leaves_the_scene_unchanged(addon):
    from blender_addon.blender import session

    _fresh_scene()
    assert bpy.ops.signforge.add_body() == {"FINISHED"}
    before = _snapshot()
    s = bpy.context.scene.signforge
    s.prompt, s.seconds, s.steps, s.variants = "both hands circle in front of the chest", 3.0, 100, 4
    s.auto_length = False   # the Duration field, not the model's length

    t = on_first_progress(lambda job: job.cancel())
    assert bpy.ops.signforge.generate() == {"CANCELLED"}
    t.join()
    assert _snapshot() == before
    assert "cancelled" in bpy.context.window_manager.signforge_status.status
    assert not any(session.workdir().iterdir())   # nothing of the job's is left


def test_jobs_leave_no_temporary_files_and_register_sweeps_what_a_crash_left(addon, tmp_path, monkeypatch):
    """A job's files go when it ends (done or failed; cancelled: see the cancel test); a session
    killed mid-job leaves its folder in the add-on's temp folder, and the next register removes
    it, and anything there a day untouched, but not a running session's."""
    import tempfile

    import blender_addon
    from blender_addon.blender import session
    from blender_addon.core import scratch

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))   # this test's own system temp folder
    crash = ("import os; from blender_addon.core import scratch; d = scratch.session_folder() / 'job-1'; "
             "d.mkdir(); (d / 'body.npz').write_bytes(b'x'); print(d.parent, flush=True); os.kill(os.getpid(), 9)")
    r = subprocess.run([sys.executable, "-c", crash], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, TMPDIR=str(temp)))
    dead = Path(r.stdout.strip())
    assert r.returncode == -9 and dead.parent == scratch.root() and (dead / "job-1" / "body.npz").exists()
    running, idle = scratch.root() / f"{os.getpid()}-running", scratch.root() / f"{os.getpid()}-idle"
    running.mkdir()
    idle.mkdir()
    os.utime(idle, (time.time() - 2 * 86400,) * 2)
    blender_addon.unregister()
    blender_addon.register()   # as at Blender's next start
    assert sorted(p.name for p in scratch.root().iterdir()) == [running.name]
    running.rmdir()

    _fresh_scene()
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(RuntimeError):   # the body is written, then the motion fails
        bpy.ops.signforge.import_motion(filepath=str(tmp_path / "broken.npz"))
    work = session.workdir()
    assert work.parent == scratch.root() and not any(work.iterdir())
    src = save_motion(wave().cut(0, 5), tmp_path / "wave.npz")
    assert bpy.ops.signforge.import_motion(filepath=str(src)) == {"FINISHED"}
    assert not any(work.iterdir())
    assert bpy.ops.signforge.export_motion(filepath=str(tmp_path / "out.bvh")) == {"FINISHED"}
    assert not any(work.iterdir())
    session.shutdown()
    assert list(scratch.root().iterdir()) == []


def test_a_killed_server_is_restarted_for_the_next_request(addon):
    from blender_addon.blender import session

    _fresh_scene()
    assert bpy.ops.signforge.add_body() == {"FINISHED"}
    before = _snapshot()
    s = bpy.context.scene.signforge
    s.prompt, s.seconds, s.steps, s.variants = "the left hand waves", 3.0, 100, 4
    s.auto_length = False   # the Duration field, not the model's length
    backend = session.backend()

    t = on_first_progress(lambda job: os.kill(backend.pid, 9))
    with pytest.raises(RuntimeError, match="backend stopped"):   # bpy.ops raises on an ERROR report
        bpy.ops.signforge.generate()
    t.join()
    assert _snapshot() == before
    s.seconds, s.steps, s.variants = 0.4, 3, 1
    s.auto_length = False   # the Duration field, not the model's length
    assert bpy.ops.signforge.generate() == {"FINISHED"}


def test_video_section_reconstructs_the_real_clip_onto_the_armature(addon, tmp_path, monkeypatch):
    """The Video section on the shared sign clip (an mp4, through MediaPipe in a real backend
    process): keys match the motion the backend wrote; a cancelled run and an unreadable file
    leave the scene exactly as it was."""
    from blender_addon.blender import operators, session
    from blender_addon.blender.body import find_body

    from conftest import shared_data

    clip = shared_data().clip
    if not clip.exists():
        pytest.skip(f"{clip} not found")
    _fresh_scene()
    assert bpy.ops.signforge.add_body() == {"FINISHED"}
    s = bpy.context.scene.signforge
    s.video_path, s.trim_start, s.trim_end, s.denoise = str(clip), 0.0, 0.0, False
    s.insert_mode = "ACTION"
    before = _snapshot()
    t = on_first_progress(lambda job: job.cancel())
    assert bpy.ops.signforge.reconstruct() == {"CANCELLED"}
    t.join()
    assert _snapshot() == before
    s.video_path = str(ROOT / "README.md")
    with pytest.raises(RuntimeError, match="unknown kind of file"):
        bpy.ops.signforge.reconstruct()
    assert _snapshot() == before

    s.video_path = str(clip)   # the whole clip: 58 frames
    kept = []

    def keep(path, _read=operators.read_motion):   # the job's file goes when it ends: keep a copy
        kept.append(Path(shutil.copy(path, tmp_path / f"kept-{len(kept)}.npz")))
        return _read(path)

    monkeypatch.setattr(operators, "read_motion", keep)
    assert bpy.ops.signforge.reconstruct() == {"FINISHED"}
    [written] = kept
    assert not any(session.workdir().iterdir())
    motion = load_motion(written)
    arm = find_body(bpy.context)
    action = arm.animation_data.action
    assert action.name.startswith("test_video") and action["signforge_video"] == str(clip)
    assert "signforge_left_hand_found" in action and "signforge_reprojection_px" in action
    scene = bpy.context.scene
    assert before["range"] == (scene.frame_start, scene.frame_end, scene.render.fps, scene.render.fps_base)
    from blender_addon.core import motion as M

    keyed = M.resample(M.MotionData(motion.poses, motion.trans, motion.expression, motion.fps),
                       scene.render.fps / scene.render.fps_base)
    assert motion.num_frames >= 10
    assert _pose_error(arm, keyed, range(1, keyed.frames + 1)) < 1e-4
    assert motion.confidence is not None and motion.confidence.shape[0] == motion.num_frames


def test_import_and_export_round_trips(addon, tmp_path):
    from blender_addon.blender.body import find_body

    _fresh_scene()
    motion = wave()
    bpy.context.scene.render.fps = int(motion.fps)   # a scene at the file's rate: export gives its frames back
    src = save_motion(motion, tmp_path / "wave.npz")
    assert bpy.ops.signforge.import_motion(filepath=str(src)) == {"FINISHED"}
    arm = find_body(bpy.context)
    [action] = bpy.data.actions
    assert action["signforge_source_file"] == str(src)
    assert _pose_error(arm, motion, [1, 20, motion.num_frames]) < 1e-4
    for ext in (".npz", ".npy", ".bvh"):
        dst = tmp_path / f"out{ext}"
        assert bpy.ops.signforge.export_motion(filepath=str(dst)) == {"FINISHED"}
        back = load_motion(dst)
        assert back.num_frames == motion.num_frames
        if ext != ".npy":   # HandMDM's 274-D frames leave out the root and legs
            err = np.abs(R.np_axis_angle_to_matrix(back.poses.astype(float))
                         - R.np_axis_angle_to_matrix(motion.poses.astype(float))).max()
            assert err < 1e-4, ext
    # a missing file is refused with its name, and nothing changes
    before = _snapshot()
    with pytest.raises(RuntimeError, match="nope.npz: no such file"):
        bpy.ops.signforge.import_motion(filepath=str(tmp_path / "nope.npz"))
    assert _snapshot() == before


def test_the_addons_numpy_rotations_match_the_backends(rng):
    """core/motion.py carries its own quaternion maths (Blender's Python has no torch)."""
    from blender_addon.core import motion as M

    aa = np.concatenate([rng.normal(size=(200, 3)) * 1.5, rng.normal(size=(5, 3)) * 1e-7])
    q = M.axis_angle_to_quaternion(aa)
    assert np.allclose(q, R.np_axis_angle_to_quaternion(aa), atol=1e-12)
    flipped = -q * rng.uniform(0.5, 2.0, (len(q), 1))   # any sign and norm
    assert np.allclose(R.np_axis_angle_to_matrix(M.quaternion_to_axis_angle(flipped)),
                       R.np_axis_angle_to_matrix(aa), atol=1e-9)
    seq = M.continuous(q[None, :].repeat(2, 0) * np.array([1.0, -1.0])[:, None, None])
    assert ((seq[1] * seq[0]).sum(-1) > 0).all()


def test_keyframing_is_bulk_and_exact(tmp_path, addon):
    from blender_addon.blender.animate import apply_motion
    from blender_addon.blender.body import build_body
    from blender_addon.core.bodyfile import read_body
    from blender_addon.core.motion import MotionData

    _fresh_scene()
    body = read_body(_body_file(tmp_path, addon))
    arm = build_body(bpy.context, body)
    rng = np.random.default_rng(0)
    poses = rng.normal(size=(40, 55, 3)) * 0.6
    motion = MotionData(poses, rng.normal(size=(40, 3)) * 0.1, np.zeros((40, 10)), 30.0, text="random")
    scene = bpy.context.scene
    scene.render.fps = 30
    first = apply_motion(bpy.context, arm, motion, mode="ACTION")
    second = apply_motion(bpy.context, arm, motion, "again", mode="ACTION")
    anim = arm.animation_data
    assert anim.action == second and not first.use_fake_user
    [stash] = anim.nla_tracks   # the earlier action kept as Blender's New Action keeps it
    assert stash.name == "[Action Stash]" and stash.mute and stash.strips[0].action == first
    assert _pose_error(arm, motion, [1, 17, 40]) < 1e-5
    assert (scene.render.fps, scene.frame_start, scene.frame_end) == (30, 1, 250)


def test_still_channels_get_one_key_and_the_pose_is_unchanged(tmp_path, addon):
    """Legs, pelvis and eyes that do not move cost one key each; the pose the armature shows
    at every frame, before, during and after the take, is the motion's to 1e-6."""
    from blender_addon.blender.animate import apply_motion, key_counts, motion_from_action
    from blender_addon.blender.body import build_body
    from blender_addon.core import motion as M
    from blender_addon.core.bodyfile import read_body

    _fresh_scene()
    arm = build_body(bpy.context, read_body(_body_file(tmp_path, addon)))
    rng = np.random.default_rng(1)
    poses = np.cumsum(rng.normal(size=(30, 55, 3)) * 0.05, 0)
    poses[:, :12] = rng.normal(size=(1, 12, 3)) * 0.3   # still legs and pelvis, not at rest
    poses[:, 23:25] = 0.0                                # eyes at rest
    motion = M.MotionData(poses, np.zeros((30, 3)) + [0.1, 0.9, 0.0], np.zeros((30, 10)), 25.0, text="still legs")
    scene = bpy.context.scene
    scene.render.fps = 25
    action = apply_motion(bpy.context, arm, motion, mode="ACTION", frame=5)
    full, kept = key_counts(action)
    assert full == 30 * (55 * 4 + 3) and kept == full - (14 * 4 + 3) * 29
    want = M.continuous(M.axis_angle_to_quaternion(poses))
    for f in (1, 5, 6, 20, 34, 40):
        scene.frame_set(f)
        got = _bone_quaternions(arm)
        assert np.abs(got - want[min(max(f - 5, 0), 29)]).max() < 1e-6, f
        assert np.abs(_root(arm) - [0.1, 0.9, 0.0]).max() < 1e-6
    back = motion_from_action(bpy.context, arm)   # the take's length kept with one key per still channel
    assert back.frames == 30 and _angle(M.axis_angle_to_quaternion(back.poses), want).max() < 1e-5


def test_export_reads_each_bones_rotation_mode(tmp_path, addon):
    """An animator switches bones to Euler (any order) or axis-angle and keys an edit: the export
    holds the rotation the bone shows, not the take's quaternion keys under it."""
    from mathutils import Euler, Quaternion

    from blender_addon.blender.animate import apply_motion, motion_from_action
    from blender_addon.blender.body import build_body
    from blender_addon.core import motion as M
    from blender_addon.core.bodyfile import read_body

    for order in M.EULER_ORDERS:   # the numpy conversions are mathutils'
        e = (0.3, -1.2, 2.5)
        want = tuple(Euler(e, order).to_quaternion())
        assert _angle(M.euler_to_quaternion(np.array(e), order), want) < 1e-6   # mathutils is float32
    q = Quaternion((0.2, -0.4, 0.5), 1.3)
    assert _angle(M.axis_angle4_to_quaternion(np.array([1.3, 0.4, -0.8, 1.0])), tuple(q)) < 1e-6

    _fresh_scene()
    arm = build_body(bpy.context, read_body(_body_file(tmp_path, addon)))
    motion = M.read_motion(save_motion(wave(), tmp_path / "wave.npz"))
    bpy.context.scene.render.fps = 25
    apply_motion(bpy.context, arm, motion, mode="ACTION", frame=1)
    edits = {"right_elbow": ("ZXY", (0.3, -0.5, 0.9)), "left_wrist": ("YXZ", (-0.2, 0.7, 0.1)),
             "neck": ("AXIS_ANGLE", (0.6, 0.0, 1.0, 1.0))}
    shown = {}
    for name, (mode, value) in edits.items():
        pb = arm.pose.bones[name]
        pb.rotation_mode = mode
        prop = M.rotation_path(mode)
        setattr(pb, prop, value)
        assert pb.keyframe_insert(prop, frame=10)
    bpy.context.scene.frame_set(10)
    names = list(arm["signforge_joints"])
    for name in edits:   # the SMPL-X rotation each edited bone shows (bones lie along the limbs)
        shown[name] = _bone_quaternions(arm)[names.index(name)]
    back = motion_from_action(bpy.context, arm)
    assert back.frames == motion.frames
    got = M.axis_angle_to_quaternion(back.poses)
    want = M.axis_angle_to_quaternion(motion.poses)
    for name, q in shown.items():
        assert _angle(got[:, names.index(name)], np.array(q)).max() < 1e-5, name
    others = [j for j, n in enumerate(names) if n not in edits]
    assert _angle(got[:, others], want[:, others]).max() < 1e-4


def test_export_bakes_takes_in_nla_strips_without_an_active_action(tmp_path, addon):
    """Two imported takes as NLA strips, one with reduced keys, no active action: Export bakes
    what the NLA plays over the strips' frames, puts the playhead back, and reports keys."""
    from blender_addon.blender.animate import key_counts
    from blender_addon.blender.body import find_body
    from blender_addon.core import motion as M

    _fresh_scene()
    scene = bpy.context.scene
    scene.render.fps = 25
    src = save_motion(wave(), tmp_path / "wave.npz")
    motion = M.read_motion(src)
    n = motion.frames
    s = scene.signforge
    s.reduce_keys, s.key_tolerance = True, 0.5
    scene.frame_set(1)
    assert bpy.ops.signforge.import_motion(filepath=str(src)) == {"FINISHED"}
    message = bpy.context.window_manager.signforge_status.status
    assert "keys (a key per frame: " in message and "reduced to 0.5°" in message, message
    s.reduce_keys = False
    scene.frame_set(n + 1)
    assert bpy.ops.signforge.import_motion(filepath=str(src)) == {"FINISHED"}
    arm = find_body(bpy.context)
    anim = arm.animation_data
    assert anim.action is None and [len(t.strips) for t in anim.nla_tracks] == [2]
    reduced, exact = (st.action for st in anim.nla_tracks[0].strips)
    assert reduced["signforge_key_tolerance_deg"] == pytest.approx(0.5)
    (full, kept), (full2, kept2) = key_counts(reduced), key_counts(exact)
    assert full == full2 and kept < 0.5 * kept2 < full, (full, kept, kept2)

    scene.frame_set(7)
    dst = tmp_path / "both.npz"
    assert bpy.ops.signforge.export_motion(filepath=str(dst)) == {"FINISHED"}
    assert scene.frame_current == 7
    assert "of the NLA as it plays" in bpy.context.window_manager.signforge_status.status
    back = load_motion(dst)
    assert back.num_frames == 2 * n
    got = M.axis_angle_to_quaternion(back.poses.reshape(2 * n, 55, 3).astype(float))
    want = M.axis_angle_to_quaternion(motion.poses)
    assert _angle(got[:n], want).max() < np.radians(0.5) + 1e-5
    assert _angle(got[n:], want).max() < 1e-4
    assert np.abs(back.trans[n:] - motion.trans).max() < 1e-5


def test_render_one_frame_is_not_blank(addon, tmp_path):
    from blender_addon.blender import render as RN
    from blender_addon.blender.animate import apply_motion
    from blender_addon.blender.body import build_body
    from blender_addon.core.bodyfile import read_body
    from blender_addon.core.motion import read_motion

    _fresh_scene()
    arm = build_body(bpy.context, read_body(_body_file(tmp_path, addon)))
    apply_motion(bpy.context, arm, read_motion(save_motion(wave(), tmp_path / "w.npz")), fit_scene=True)
    scene = bpy.context.scene
    RN.setup(scene, arm, RN.RenderSettings(engine="workbench", width=160, height=120))
    out = RN.render_still(scene, tmp_path / "frame.png", 20)
    img = bpy.data.images.load(str(out))
    px = np.array(img.pixels[:]).reshape(120, 160, 4)[..., :3]
    body_pixels = (np.abs(px - px[0, 0]).sum(-1) > 0.1).mean()
    assert 0.05 < body_pixels < 0.8, body_pixels   # a figure fills part of the frame
    assert px.std() > 0.02


class _Recorder:
    """A stand-in for Blender's UILayout that records what the panel draws."""

    def __init__(self, log):
        self.log, self.enabled, self.scale_y = log, True, 1.0

    def _sub(self, kind):
        self.log.append((kind,))
        return _Recorder(self.log)

    def column(self, **kw):
        return self._sub("column")

    def row(self, **kw):
        return self._sub("row")

    def prop(self, data, name, **kw):
        assert name in data.bl_rna.properties, name
        self.log.append(("prop", name))

    def operator(self, idname, **kw):
        module, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, module), name), idname
        self.log.append(("operator", idname))

    def label(self, text="", **kw):
        self.log.append(("label", text))


def test_panel_draw_code_runs_against_a_recording_layout(addon):
    from blender_addon.blender import panel

    _fresh_scene()
    settings = bpy.context.scene.signforge
    status = bpy.context.window_manager.signforge_status
    ready = panel.PanelState(False, "", True, "backend in Blender", False)
    log = []
    panel.draw_body(_Recorder(log), ready)
    panel.draw_generate(_Recorder(log), settings, ready)
    panel.draw_takes(_Recorder(log), settings)
    panel.draw_video(_Recorder(log), settings, ready)
    panel.draw_files(_Recorder(log), ready)
    panel.draw_status(_Recorder(log), status, ready)
    drawn = {entry[1] for entry in log if len(entry) > 1}
    assert {"prompt", "model", "seconds", "guidance", "steps", "sampler", "seed", "variants", "video_path",
            "trim_start", "denoise", "insert_mode", "fit_scene", "reduce_keys", "key_tolerance",
            "signforge.generate", "signforge.add_body",
            "signforge.reconstruct", "signforge.import_motion", "signforge.export_motion"} <= drawn
    # the panel offers the backend's samplers, and Generate sends the one chosen
    from blender_addon.blender import operators

    settings.sampler = "ddpm"
    assert operators.generate_request(bpy.context, Path(bpy.app.tempdir))[1]["sampler"] == "ddpm"
    old = {"model": "handmdm", "longest_s": 4.0}   # the info of a backend from before 'sampler'
    assert "sampler" not in operators.generate_request(bpy.context, Path(bpy.app.tempdir), old)[1]
    log.clear()
    panel.draw_generate(_Recorder(log), settings, panel.PanelState(False, "", True, "", False, old))
    assert ("prop", "sampler") not in log   # the panel offers what the backend does
    settings.sampler = "ddim"   # the default is left out: any backend takes the request
    assert "sampler" not in operators.generate_request(bpy.context, Path(bpy.app.tempdir))[1]
    log.clear()
    missing = panel.PanelState(False, "", False, "Set Backend Python in Preferences", False)
    panel.draw_status(_Recorder(log), status, missing)
    assert ("label", "No backend configured") in log
    # the real panel state resolves in this environment
    assert panel.panel_state(bpy.context).backend_ready


def test_generate_checks_the_duration_against_the_backends_limits_before_sending(addon):
    from blender_addon.blender import panel, session

    _fresh_scene()
    s = bpy.context.scene.signforge
    status = bpy.context.window_manager.signforge_status
    s.auto_length, s.seconds, s.steps = False, 61.0, 2
    info = session.limits(bpy.context, fetch=True)   # the backend's info for the panel's model
    assert info["model"] == "handmdm" and info["run"] == "handmdm-base" and info["longest_s"] >= 1.0
    assert not info["images"] and "text, not images" in info["images_note"]
    backend = session.backend()
    sent, before = backend._next_id, _snapshot()
    try:
        assert bpy.ops.signforge.generate() == {"CANCELLED"}
    except RuntimeError as exc:   # bpy.ops raises what the operator reported as an error
        assert "longest take" in str(exc)
    assert backend._next_id == sent and _snapshot() == before   # no request sent, nothing changed
    assert f"longer than this model's longest take, {info['longest_s']:.2f} s" in status.status
    # the panel shows the limit before Generate, and why there is no Image field
    state = panel.panel_state(bpy.context)
    assert state.limits == info
    log = []
    panel.draw_generate(_Recorder(log), s, state)
    labels = [e[1] for e in log if e[0] == "label"]
    assert any(f"up to {info['longest_s']:.1f} s with handmdm-base" in t for t in labels), labels
    assert ("prop", "image_path") not in log and any(t.startswith("No image input") for t in labels)
    # a model that takes images shows the field (as a SignAvatar run on CLIP embeddings reports)
    log.clear()
    panel.draw_generate(_Recorder(log), s, panel.PanelState(False, "", True, "", False, {**info, "images": True}))
    assert ("prop", "image_path") in log


def test_a_truncated_prompts_warning_reaches_the_report_and_the_panel(addon, capfd):
    from blender_addon.blender import panel

    _fresh_scene()
    s = bpy.context.scene.signforge
    status = bpy.context.window_manager.signforge_status
    s.prompt = " ".join(["the right hand taps the chin"] * 100)   # 600 words: past MiniLM's 256 tokens
    s.auto_length, s.seconds, s.steps, s.variants = False, 0.8, 2, 1
    assert bpy.ops.signforge.generate() == {"FINISHED"}
    assert "reads the first 256" in status.warning and "(warning: " in status.status
    out = capfd.readouterr()
    assert "reads the first 256" in out.out + out.err   # the operator's WARNING report (Info log)
    log = []
    panel.draw_status(_Recorder(log), status, panel.PanelState(True, "x", True, "backend", False))
    assert any(e[0] == "label" and e[1].startswith("the prompt has 602 tokens") for e in log), log
    # while a model loads, the status says so
    status.running, status.stage = True, "loading"
    log.clear()
    panel.draw_status(_Recorder(log), status, panel.PanelState(True, "x", True, "backend", True))
    status.running, status.stage = False, ""
    assert ("label", "Loading the model; the first job takes a few seconds") in log


def test_undo_restores_the_scene_after_a_success(addon, tmp_path):
    _fresh_scene()
    assert bpy.ops.signforge.add_body() == {"FINISHED"}
    src = save_motion(wave(), tmp_path / "wave.npz")
    bpy.ops.ed.undo_push(message="before import")
    before = _snapshot()
    # ('EXEC_DEFAULT', True): push an undo step as a click in the UI does
    assert bpy.ops.signforge.import_motion("EXEC_DEFAULT", True, filepath=str(src)) == {"FINISHED"}
    assert _snapshot() != before
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert _snapshot() == before


def test_batch_render_skips_a_failing_item_and_summarizes(tmp_path):
    motions = tmp_path / "motions"
    motions.mkdir()
    save_motion(wave().cut(0, 3), motions / "short_wave.npz")
    (motions / "broken.npz").write_bytes(b"not a zip")
    out, temp = tmp_path / "renders", tmp_path / "temp"
    temp.mkdir()
    r = subprocess.run([sys.executable, str(ROOT / "blender_addon" / "batch.py"), "--", "--motions", str(motions),
                        "--out", str(out), "--format", "png", "--resolution", "64x48"],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, SIGNFORGE_BACKEND_MODE="auto", TMPDIR=str(temp)))
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
    assert "[1/2] broken.npz upper FAILED" in r.stdout and "[2/2] short_wave.npz upper -> " in r.stdout
    assert "1 rendered, 1 failed" in r.stdout and "broken.npz" in r.stdout
    assert sorted(p.name for p in (out / "short-wave-upper").iterdir()) == ["frame_0001.png", "frame_0002.png",
                                                                           "frame_0003.png"]
    assert [p.name for p in temp.iterdir()] == [f"signforge-{os.getuid()}"]   # the batch's files are gone
    assert list(temp.glob("signforge-*/*")) == []
    assert sorted(p.name for p in out.iterdir()) == ["short-wave-upper", "summary.json"]
    rows = json.loads((out / "summary.json").read_text())
    assert [(r["source"], r["camera"], r["ok"]) for r in rows] == [(str(motions / "broken.npz"), "upper", False),
                                                                   (str(motions / "short_wave.npz"), "upper", True)]


def test_batch_render_seeds_cameras_and_a_quiet_log(tmp_path):
    """Two identical lines get two seeds and two motions; each renders once per camera to an
    mp4 named with its seed and camera; the log is one line per clip, without Blender's
    per-frame lines."""
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# two identical lines\nthe right hand taps the chin\nthe right hand taps the chin\n")
    out = tmp_path / "renders"
    r = subprocess.run([sys.executable, str(ROOT / "blender_addon" / "batch.py"), "--", "--prompts", str(prompts),
                        "--out", str(out), "--cameras", "hands,side", "--seed", "7", "--seconds", "0.4",
                        "--steps", "2", "--resolution", "64x48"],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, SIGNFORGE_BACKEND_MODE="auto"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    lines = r.stdout.splitlines()
    items = [ln for ln in lines if ln.startswith("[")]
    assert len(items) == 4 and len(lines) == 6, r.stdout   # a header, a line per clip, the summary
    assert items[0].startswith("[1/4] 'the right hand taps the chin' seed 7 hands -> ")
    assert items[3].startswith("[4/4] 'the right hand taps the chin' seed 8 side -> ")
    assert "Video append" not in r.stdout + r.stderr and "Fra:" not in r.stdout
    stem = "the-right-hand-taps-the-chin"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{stem}-s{s}{x}" for s in (7, 8) for x in ("-hands.mp4", "-side.mp4", ".npz")] + ["summary.json"])
    assert all((out / f"{stem}-s{s}-{c}.mp4").stat().st_size > 1000 for s in (7, 8) for c in ("hands", "side"))
    a, b = (load_motion(out / f"{stem}-s{s}.npz") for s in (7, 8))
    assert np.abs(a.poses - b.poses).max() > 1e-3   # different seeds, different motions
    rows = json.loads((out / "summary.json").read_text())
    assert [(r["seed"], r["camera"], r["clip"]) for r in rows] == [
        (7, "hands", f"{stem}-s7-hands.mp4"), (7, "side", f"{stem}-s7-side.mp4"),
        (8, "hands", f"{stem}-s8-hands.mp4"), (8, "side", f"{stem}-s8-side.mp4")]
    assert rows[0]["prompt"] == "the right hand taps the chin" and rows[0]["steps"] == 2


def _hand_box_share(scene, cam, track, frame_index):
    """The share of the image covered by the signing hands' projected bounding box at one frame."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    from blender_addon.blender import render as RN

    scene.frame_set(scene.frame_start + frame_index)   # the close-ups follow the hands
    pts = RN.preset_points("hands", {k: v[frame_index:frame_index + 1] for k, v in track.items()})[0]
    uv = np.array([tuple(world_to_camera_view(scene, cam, Vector(tuple(p))))[:2] for p in pts])
    assert (uv > -0.01).all() and (uv < 1.01).all(), uv   # the hands stay inside the frame
    span = uv.max(0) - uv.min(0)
    return float(span[0] * span[1])


def test_camera_presets_frame_the_hands_and_the_side(addon, tmp_path):
    from blender_addon.blender import render as RN
    from blender_addon.blender.animate import apply_motion
    from blender_addon.blender.body import build_body
    from blender_addon.core.bodyfile import read_body
    from blender_addon.core.motion import read_motion

    _fresh_scene()
    arm = build_body(bpy.context, read_body(_body_file(tmp_path, addon)))
    apply_motion(bpy.context, arm, read_motion(save_motion(wave(), tmp_path / "w.npz")), fit_scene=True)
    scene = bpy.context.scene
    cams = RN.setup(scene, arm, RN.RenderSettings(engine="workbench", width=80, height=60,
                                                  cameras=("full", "upper", "hands", "right", "side")))
    assert scene.camera == cams["full"]
    track = RN.joint_track(scene, arm)
    frames = len(track["pelvis"])
    assert frames == scene.frame_end - scene.frame_start + 1   # fitted over every frame of the take
    raised = RN.signing(track, "right")
    assert raised.sum() > frames / 2 and not raised[0] and not RN.signing(track, "left").any()
    # the close-up keeps the waving hand in view at every frame where it signs (above the
    # waist) and makes it several times larger than the full-body view does
    ratios = []
    for i in np.flatnonzero(raised):
        full, hands = (_hand_box_share(scene, cams[c], track, i) for c in ("full", "hands"))
        ratios.append(hands / full)
    assert min(ratios) > 3, min(ratios)   # the box's area: the wave sweeps a wide arc
    # the right-hand close-up frames the right hand (the waving one) wherever it signs
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector
    spans = []
    for i in np.flatnonzero(raised):   # it follows the hand: in view and large at every frame
        scene.frame_set(scene.frame_start + i)
        right = [Vector(tuple(track[n][i])) for n in RN.hand_joints("right")]
        uv = np.array([tuple(world_to_camera_view(scene, cams["right"], p))[:2] for p in right])
        assert (uv > 0).all() and (uv < 1).all(), (i, uv)
        spans.append((uv.max(0) - uv.min(0)).max())
    assert min(spans) > 0.2, min(spans)   # the hand's joints alone span a fifth of the frame or more
    # the side camera stands on the signer's right and looks across the body
    side = np.array(cams["side"].location) - track["spine3"].mean(0)
    to_right = track["right_shoulder"].mean(0) - track["left_shoulder"].mean(0)
    assert side @ to_right > 0.9 * np.linalg.norm(side) * np.linalg.norm(to_right)
    # rendered: every camera shows the body
    shares, background = {}, None
    for c in ("full", "hands", "side"):
        out = RN.render_still(scene, tmp_path / f"{c}.png", 30, camera=cams[c])
        px = np.array(bpy.data.images.load(str(out)).pixels[:]).reshape(60, 80, 4)[..., :3]
        background = px[0, 0] if background is None else background   # the full view's corner
        shares[c] = (np.abs(px - background).sum(-1) > 0.1).mean()
    # (the close-up follows the waving hand out past the body, so much of its frame is background:
    # the hand's size is checked above from the joints)
    assert shares["hands"] > 0.05 and shares["full"] > 0.02 and shares["side"] > 0.02, shares
    from blender_addon import batch
    assert batch.CAMERAS == tuple(RN.CAMERAS)   # the batch's --cameras and help name the same presets
    assert all(f"  {name:<8}{text}" in batch.EPILOG for name, text in RN.CAMERAS.items())


def test_cycles_renders_denoised(addon, tmp_path):
    from blender_addon.blender import render as RN
    from blender_addon.blender.animate import apply_motion
    from blender_addon.blender.body import build_body
    from blender_addon.core.bodyfile import read_body
    from blender_addon.core.motion import read_motion

    _fresh_scene()
    arm = build_body(bpy.context, read_body(_body_file(tmp_path, addon)))
    apply_motion(bpy.context, arm, read_motion(save_motion(wave().cut(0, 3), tmp_path / "w.npz")), fit_scene=True)
    scene = bpy.context.scene
    RN.setup(scene, arm, RN.RenderSettings(engine="cycles", width=32, height=24, samples=2, cameras=("hands",)))
    assert RN.has_denoiser()   # bpy 5.0.1's Cycles has OpenImageDenoise
    assert scene.cycles.samples == 2 and scene.cycles.use_denoising and scene.cycles.denoiser == "OPENIMAGEDENOISE"
    out = RN.render_still(scene, tmp_path / "cycles.png", 2)
    px = np.array(bpy.data.images.load(str(out)).pixels[:]).reshape(24, 32, 4)[..., :3]
    assert px.std() > 0.01


def test_batch_prompt_lines_seeds_and_variants(tmp_path, capsys):
    from blender_addon import batch
    from blender_addon.core.prompts import assign_seeds, read_prompts

    prompts = tmp_path / "p.txt"
    prompts.write_text("# comment\nwave\n\nwave\ntap\t40\nwave\t1\n")
    lines = [(line.text, line.seed) for line in read_prompts(prompts)]
    assert lines == [("wave", None), ("wave", None), ("tap", 40), ("wave", 1)]
    # the repeated line never reuses a seed the same prompt has (1 is wave's own, by its tab)
    assert assign_seeds(lines, 0, 1) == [("wave", 0, 1), ("wave", 2, 1), ("tap", 40, 1), ("wave", 1, 1)]
    assert assign_seeds(lines[:3], 5, 2) == [("wave", 5, 1), ("wave", 6, 2), ("wave", 7, 1), ("wave", 8, 2),
                                             ("tap", 40, 1), ("tap", 41, 2)]
    prompts.write_text("wave\tfast\n")
    args = batch.parse_args(["--prompts", str(prompts), "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="line 1: the seed after the tab, 'fast'"):
        batch.items(args)
    with pytest.raises(SystemExit):   # the generate request's own checks, said in one line
        batch.parse_args(["--prompt", "x", "--out", str(tmp_path / "o"), "--steps", "500"])
    assert capsys.readouterr().err == "signforge render: error: --steps must be at most 100; got 500\n"
    args = batch.parse_args(["--prompts", str(tmp_path / "p.txt"), "--out", str(tmp_path / "o"),
                             "--cameras", "hands, side,hands", "--prompt", "wave", "--seed", "3"])
    assert args.cameras == ("hands", "side")
    (tmp_path / "p.txt").write_text("wave\n")
    assert [(i.name, i.seed) for i in batch.items(args)] == [("wave-s3", 3), ("wave-s4", 4)]
    with pytest.raises(SystemExit):
        batch.parse_args(["--prompt", "x", "--out", str(tmp_path / "o"), "--cameras", "top"])
