"""BVH export, read back by Blender's own bundled BVH importer in real bpy."""
import numpy as np
import pytest

from backend.body import rotations as R
from backend.body.skeleton import JOINT_NAMES
from backend.io import save_motion
from backend.motion import Motion

bpy = pytest.importorskip("bpy", reason="bpy is a SignForge dependency; install with make setup")
pytestmark = pytest.mark.blender   # also run under the oldest supported bpy


def _import_bvh(path):
    import addon_utils
    from bpy_extras.io_utils import axis_conversion

    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("io_anim_bvh", default_set=True)
    result = bpy.ops.import_anim.bvh(filepath=str(path), rotate_mode="QUATERNION",
                                     update_scene_fps=True, update_scene_duration=True)
    assert result == {"FINISHED"}
    arm = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
    conv = np.array(axis_conversion(from_forward="-Z", from_up="Y").to_3x3())
    return arm, conv


def test_bvh_round_trip_through_blender(tmp_path, body, rng):
    frames = 6
    poses = rng.normal(size=(frames, 55, 3)) * 0.7
    trans = rng.normal(size=(frames, 3)) * 0.3
    motion = Motion(poses, trans, np.zeros((frames, 10)), 30)
    path = save_motion(motion, tmp_path / "m.bvh", body=body)
    arm, conv = _import_bvh(path)
    scene = bpy.context.scene
    assert abs(scene.render.fps / scene.render.fps_base - 30) < 1e-4
    assert {b.name for b in arm.data.bones} == set(JOINT_NAMES)
    want = R.axis_angle_to_matrix(motion.poses.astype(np.float64))
    worst = 0.0
    for t in range(frames):
        scene.frame_set(scene.frame_start + t)
        for j, name in enumerate(JOINT_NAMES):
            pb = arm.pose.bones[name]
            rest = np.array(pb.bone.matrix_local.to_3x3())
            basis = np.array(pb.matrix_basis.to_3x3())
            got = conv.T @ (rest @ basis @ rest.T) @ conv  # back to SMPL-X axes
            err = R.matrix_to_axis_angle(got.T @ want[t, j])
            worst = max(worst, float(np.linalg.norm(err)))
        # root position comes back too (Blender axes -> SMPL-X axes)
        head = np.array(arm.matrix_world @ arm.pose.bones["pelvis"].head)
        np.testing.assert_allclose(conv.T @ head, body.rest_joints(motion.betas)[0] + motion.trans[t],
                                   atol=1e-4)
    print(f"BVH round trip: largest joint rotation error {worst:.2e} rad")
    assert worst < 1e-3, f"largest joint rotation error {worst:.2e} rad"
