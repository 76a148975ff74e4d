"""A real AMASS file (Z-up, no SignForge keys) imported through the add-on stands upright in
Blender, and what the add-on exports reads back as the same pose."""
import numpy as np
import pytest

from backend.body.skeleton import JOINT_INDEX
from backend.io import load_motion

bpy = pytest.importorskip("bpy", reason="bpy is a SignForge dependency; install with make setup")
pytestmark = pytest.mark.blender   # also run under the oldest supported bpy


def _amass_file(path, frames: int = 5):
    """As AMASS writes SMPL-X: the root a quarter turn about +X (standing up +Z, facing -Y),
    the right forearm bent up, 0.9 m up and 1 m along +Y; 120 fps, float64, no SignForge keys."""
    poses = np.zeros((frames, 165))
    poses[:, :3] = [np.pi / 2, 0.0, 0.0]
    k = 3 * JOINT_INDEX["right_elbow"]
    poses[:, k:k + 3] = [0.0, 0.0, -np.pi / 2]
    np.savez(path, poses=poses, trans=np.tile([0.0, 1.0, 0.9], (frames, 1)), betas=np.zeros(16),
             gender=np.array("neutral"), mocap_frame_rate=np.array(120.0), surface_model_type=np.array("smplx"))
    return path


def test_a_z_up_amass_file_stands_upright_in_blender_and_exports_back(addon, tmp_path):
    from blender_addon.blender.body import find_body

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps = 120
    src = _amass_file(tmp_path / "amass.npz")
    assert bpy.ops.signforge.import_motion(filepath=str(src)) == {"FINISHED"}
    arm = find_body(bpy.context)
    bpy.context.scene.frame_set(1)
    bpy.context.view_layer.update()

    def world(bone: str) -> np.ndarray:
        return np.array(arm.matrix_world @ arm.pose.bones[bone].head)

    pelvis, head = world("pelvis"), world("head")
    # Blender is Z-up: the head is above the pelvis, not in front of or behind it
    assert head[2] - pelvis[2] > 0.4 and abs(head[1] - pelvis[1]) < 0.05 and abs(head[0] - pelvis[0]) < 0.05
    assert world("right_wrist")[2] - world("right_elbow")[2] > 0.15   # the bent forearm points up
    # exported again (Z-up by default), the file holds AMASS's own root back
    dst = tmp_path / "back.npz"
    assert bpy.ops.signforge.export_motion(filepath=str(dst)) == {"FINISHED"}
    with np.load(dst) as z:
        assert str(z["up_axis"]) == "z"
        np.testing.assert_allclose(z["poses"][:, :3], [[np.pi / 2, 0, 0]] * 5, atol=1e-4)
    np.testing.assert_allclose(load_motion(dst).poses, load_motion(src).poses, atol=1e-4)
