"""Motions onto armatures as Actions, written in bulk, and actions back to motions. Imports bpy.

Each result becomes a new Action named from its prompt; the armature's earlier actions get
a fake user, so none is lost. Fcurves are filled with ``keyframe_points.add`` and
``foreach_set`` (never a ``keyframe_insert`` per bone per frame). The scene's frame rate
and range follow the motion.
"""
from __future__ import annotations

import bpy
import numpy as np

from ..core.motion import Channel, MotionData, expression_channels, motion_from_channels, pose_channels
from .body import EXPRESSION_KEYS, JOINTS_TAG, body_mesh

LINEAR = None   # the interpolation enum's integer value, looked up once in Blender


def action_name(text: str, fallback: str = "SignForge motion", limit: int = 48) -> str:
    text = " ".join((text or "").split())
    if not text:
        return fallback
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def write_channels(action, datablock, channels: list[Channel]) -> None:
    for ch in channels:
        fc = action.fcurve_ensure_for_datablock(datablock, ch.data_path, index=ch.index, group_name=ch.group)
        n = len(ch.co) // 2
        points = fc.keyframe_points
        if len(points):
            points.clear()
        points.add(n)
        points.foreach_set("co", ch.co)
        points.foreach_set("interpolation", np.full(n, _linear(points), np.int32))
        fc.update()


def _linear(points) -> int:
    global LINEAR
    if LINEAR is None:
        items = points[0].bl_rna.properties["interpolation"].enum_items
        LINEAR = items["LINEAR"].value
    return LINEAR


def apply_motion(context, armature, motion: MotionData, name: str | None = None):
    """A new Action on ``armature`` from ``motion``; returns it. The scene follows its timing."""
    name = name or action_name(motion.text)
    anim = armature.animation_data or armature.animation_data_create()
    if anim.action is not None:
        anim.action.use_fake_user = True
    action = bpy.data.actions.new(name)
    action.use_fake_user = True
    action["signforge_fps"] = float(motion.fps)
    anim.action = action
    joint_names = _joint_names(armature)
    write_channels(action, armature, pose_channels(motion, joint_names, frame_start=1))
    mesh = body_mesh(armature)
    keys = mesh.data.shape_keys if mesh is not None else None
    if keys is not None and EXPRESSION_KEYS[0] in keys.key_blocks:
        kanim = keys.animation_data or keys.animation_data_create()
        if kanim.action is not None:
            kanim.action.use_fake_user = True
        expr_action = bpy.data.actions.new(f"{name} (expression)")
        expr_action.use_fake_user = True
        kanim.action = expr_action
        write_channels(expr_action, keys, expression_channels(motion, list(EXPRESSION_KEYS), frame_start=1))
        action["signforge_expression"] = expr_action.name
    scene = context.scene
    fps = int(round(motion.fps))
    scene.render.fps, scene.render.fps_base = fps, fps / motion.fps
    scene.frame_start, scene.frame_end = 1, motion.frames
    scene.frame_set(1)
    return action


def show_action(armature, action) -> None:
    """Make ``action`` (and its expression action) the armature's current one."""
    armature.animation_data.action = action
    mesh = body_mesh(armature)
    keys = mesh.data.shape_keys if mesh is not None else None
    expr = bpy.data.actions.get(action.get("signforge_expression", ""))
    if keys is not None and keys.animation_data is not None and expr is not None:
        keys.animation_data.action = expr


def _joint_names(armature) -> list[str]:
    from ..core.motion import NUM_JOINTS

    names = [str(n) for n in armature.get(JOINTS_TAG, [])]
    if len(names) != NUM_JOINTS or any(n not in armature.data.bones for n in names):
        raise ValueError(f"{armature.name} is not a SignForge SMPL-X armature (add one with SignForge ▸ Body)")
    return names


def motion_from_action(context, armature, fps: float | None = None) -> MotionData:
    """The armature's current action, sampled at every frame of its range, as a motion."""
    anim = armature.animation_data
    if anim is None or anim.action is None:
        raise ValueError(f"{armature.name} has no action to export")
    action = anim.action
    start, end = (int(round(x)) for x in action.frame_range)
    frames = np.arange(start, end + 1, dtype=np.float64)
    values = {(fc.data_path, fc.array_index): _sample(fc, frames) for fc in _fcurves(action, anim)}
    expression = None
    mesh = body_mesh(armature)
    keys = mesh.data.shape_keys if mesh is not None else None
    if keys is not None and keys.animation_data and keys.animation_data.action:
        expression = np.zeros((len(frames), 10))
        for fc in _fcurves(keys.animation_data.action, keys.animation_data):
            for k, name in enumerate(EXPRESSION_KEYS):
                if fc.data_path == f'key_blocks["{name}"].value':
                    expression[:, k] = _sample(fc, frames)
    fps = fps or float(action.get("signforge_fps", context.scene.render.fps / context.scene.render.fps_base))
    return motion_from_channels(values, _joint_names(armature), len(frames), fps, expression=expression,
                                text=action.name)


def _sample(fc, frames: np.ndarray) -> np.ndarray:
    """An fcurve's values at ``frames``: its keys read in bulk when there is one per frame (as
    SignForge writes them), else evaluated frame by frame (keys a user edited or thinned)."""
    points = fc.keyframe_points
    if len(points) == len(frames):
        co = np.empty(2 * len(points), np.float32)
        points.foreach_get("co", co)
        if np.allclose(co[0::2], frames):
            return co[1::2].astype(np.float64)
    return np.array([fc.evaluate(f) for f in frames])


def _fcurves(action, anim):
    """An action's fcurves for the slot ``anim`` uses (Blender 4.4+ layered actions)."""
    slot = anim.action_slot
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot) if slot is not None else None
            if bag is not None:
                yield from bag.fcurves
