"""Build a skinned SMPL-X armature from a backend body file. Imports bpy.

Bones lie along the limbs with roll 0, as Blender's BVH importer lays out SignForge's BVH
(``core/rig.py``); keys are SMPL-X's local rotations in each bone's rest frame
(``core.motion.to_bone``, ``animate.bone_rests``). The armature object turns SMPL-X's Y-up space into Blender's Z-up; the mesh is its child with
an Armature modifier, one vertex group per joint and, when the model has them, one shape
key per expression coefficient.
"""
from __future__ import annotations

import math

import bpy
import numpy as np

from ..core.bodyfile import BodyData
from ..core.rig import bone_tails

BODY_TAG = "signforge_body"
JOINTS_TAG = "signforge_joints"
EXPRESSION_KEYS = tuple(f"Expression {k:02d}" for k in range(10))


def is_body(ob) -> bool:
    return ob is not None and ob.type == "ARMATURE" and BODY_TAG in ob


def find_body(context):
    """The active SignForge armature, or its mesh's parent, else the scene's first one."""
    ob = context.active_object
    if ob is not None and not is_body(ob) and is_body(ob.parent):
        ob = ob.parent
    if is_body(ob):
        return ob
    return next((o for o in context.scene.objects if is_body(o)), None)


def body_mesh(armature):
    return next((c for c in armature.children if c.type == "MESH"), None)


def build_body(context, body: BodyData, name: str = "SMPL-X"):
    """Create the armature and its skinned mesh in the scene's active collection."""
    collection = context.collection or context.scene.collection
    arm_data = bpy.data.armatures.new(name)
    arm = bpy.data.objects.new(name, arm_data)
    arm.rotation_euler = (math.pi / 2, 0.0, 0.0)   # SMPL-X +Y up -> Blender +Z up; faces -Y
    arm[BODY_TAG] = body.model
    arm[JOINTS_TAG] = list(body.joint_names)   # SMPL-X order (bone order in Blender is not)
    collection.objects.link(arm)
    tails = bone_tails(body.joints, body.parents, body.joint_names)
    # Edit bones need edit mode on the armature; keep the user's mode and selection around it.
    view_layer = context.view_layer
    previous_active = view_layer.objects.active
    previous_mode = context.mode
    if previous_mode != "OBJECT" and previous_active is not None:
        bpy.ops.object.mode_set(mode="OBJECT")
    view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    bones = []
    for j, bone_name in enumerate(body.joint_names):
        eb = arm_data.edit_bones.new(bone_name)
        head = body.joints[j]
        eb.head = head
        eb.tail = tails[j]
        eb.roll = 0.0
        bones.append(eb)
    for j, p in enumerate(body.parents):
        if p >= 0:
            bones[j].parent = bones[p]
    bpy.ops.object.mode_set(mode="OBJECT")
    for pb in arm.pose.bones:
        pb.rotation_mode = "QUATERNION"
    arm_data.display_type = "STICK"

    mesh = _mesh(body, name)
    mesh_ob = bpy.data.objects.new(f"{name} mesh", mesh)
    collection.objects.link(mesh_ob)
    mesh_ob.parent = arm
    _skin(mesh_ob, body)
    mod = mesh_ob.modifiers.new("Armature", "ARMATURE")
    mod.object = arm
    if len(body.expressions):
        _expression_keys(mesh_ob, body)
    view_layer.objects.active = previous_active if previous_active is not None else arm
    return arm


def _mesh(body: BodyData, name: str):
    mesh = bpy.data.meshes.new(name)
    v, f = body.vertices.astype(np.float32), body.faces.astype(np.int32)
    mesh.vertices.add(len(v))
    mesh.vertices.foreach_set("co", v.ravel())
    mesh.loops.add(f.size)
    mesh.loops.foreach_set("vertex_index", f.ravel())
    mesh.polygons.add(len(f))
    mesh.polygons.foreach_set("loop_start", np.arange(0, f.size, 3, dtype=np.int32))
    mesh.polygons.foreach_set("loop_total", np.full(len(f), 3, np.int32))
    mesh.polygons.foreach_set("use_smooth", np.ones(len(f), bool))
    mesh.update()
    mesh.validate()
    return mesh


def _skin(mesh_ob, body: BodyData) -> None:
    for j, bone_name in enumerate(body.joint_names):
        group = mesh_ob.vertex_groups.new(name=bone_name)
        col = body.weights[:, j]
        idx = np.flatnonzero(col > 1e-6)
        if not len(idx):
            continue
        # vertex_groups.add takes one weight per call: add vertices sharing a weight together
        values, inverse = np.unique(np.round(col[idx], 6), return_inverse=True)
        for k, w in enumerate(values):
            group.add(idx[inverse == k].tolist(), float(w), "REPLACE")


def _expression_keys(mesh_ob, body: BodyData) -> None:
    mesh_ob.shape_key_add(name="Basis", from_mix=False)
    base = body.vertices.astype(np.float32)
    for k, direction in enumerate(body.expressions[: len(EXPRESSION_KEYS)]):
        key = mesh_ob.shape_key_add(name=EXPRESSION_KEYS[k], from_mix=False)
        key.data.foreach_set("co", (base + direction).ravel())
        key.slider_min, key.slider_max = -5.0, 5.0
