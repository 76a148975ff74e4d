"""Retarget a SignForge take onto the user's own armature, keyed as one take. Imports bpy.

``retarget`` is the one entry point (the panel's Retarget to… operator, tests and batch
scripts call it): the source is the scene's SignForge armature (its take, or any motion
with its rest joints) or a body file's skeleton; the target is any armature with a bone map
(``core.retarget``: Rigify, the human metarig, Mixamo, the SMPL-X add-on, or a user's JSON).
The maths is numpy (``core.retarget``); Blender evaluates the target: each frame, the mapped
bones are set in world space from the pelvis outwards, the rig re-evaluated after each level
(so controls parented to mechanism bones, as in Rigify, land where asked), and the bones'
own transforms read back. While it works the target's animation is switched off and its
pose at rest; both come back afterwards. The result is a take like any other
(``core.takes``): one action, in the bones' own rotation modes, placed by the Insert mode.
"""
from __future__ import annotations

import os
from dataclasses import replace

import bpy
import numpy as np
from mathutils import Matrix

from ..core import retarget as RT
from ..core.motion import (CONSTANT_TOL, MotionData, Reduction, _key_group, axis_angle_to_quaternion,
                           continuous, resample, rotation_error, rotation_path)
from ..core.takes import PREFIX, take_name
from .animate import (_assign, _channelbag, _fcurves, _place_strip, _slot, _stash, empty_action,
                      motion_from_action, name_limit, scene_fps, write_channels)
from .body import JOINTS_TAG, is_body

MAP_FOLDER = "bone_maps"
# what the SignForge armature's object does to SMPL-X space (body.build_body): +Y up -> +Z up
SMPLX_TO_BLENDER = np.array([[1.0, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])


def user_folder(create: bool = False) -> str | None:
    """The add-on's folder for a user's bone maps (``*.json``): the extension's user folder,
    or Blender's config folder when the add-on is registered from a folder."""
    from . import ADDON_ID

    try:
        return bpy.utils.extension_path_user(ADDON_ID, path=MAP_FOLDER, create=create)
    except (ValueError, RuntimeError, TypeError):
        path = bpy.utils.user_resource("CONFIG", path=os.path.join("signforge", MAP_FOLDER), create=create)
        return path or None


def map_choices() -> list[tuple[str, str, str]]:
    """The panel's bone maps: Automatic, the presets, the user folder's files, a file path."""
    items = [("AUTO", "Automatic", "The preset whose bone names the target has")]
    items += [(k, m.name, f"The {m.name} bone names") for k, m in RT.PRESETS.items()]
    for path in RT.user_maps(user_folder()):
        items.append(("USER:" + os.path.basename(path), os.path.splitext(os.path.basename(path))[0],
                      f"Your map {path}"))
    items.append(("FILE", "Map file…", "A bone map JSON file chosen below"))
    return items


def resolve_map(choice: str, target, path: str = "") -> RT.BoneMap:
    """The BoneMap a panel choice names, its prefix resolved on ``target``'s bones."""
    names = [b.name for b in target.data.bones]
    if choice == "AUTO":
        bone_map = RT.detect(names)[1]
    elif choice in RT.PRESETS:
        bone_map = RT.PRESETS[choice]
    elif choice.startswith("USER:"):
        bone_map = RT.load_map(os.path.join(user_folder() or "", choice[5:]))
    elif choice == "FILE":
        if not path:
            raise RT.BoneMapError("choose a bone map file (JSON of SMPL-X joint -> bone name)")
        bone_map = RT.load_map(bpy.path.abspath(path))
    else:
        raise RT.BoneMapError(f"unknown bone map {choice!r}")
    return bone_map.resolved(names)


def skeleton_of(armature) -> RT.Skeleton:
    """A SignForge armature's SMPL-X joints, parents and rest heads (armature space)."""
    names = tuple(str(n) for n in armature[JOINTS_TAG])
    bones = armature.data.bones
    index = {n: i for i, n in enumerate(names)}
    parents = tuple(index[bones[n].parent.name] if bones[n].parent else -1 for n in names)
    rest = np.array([tuple(bones[n].head_local) for n in names])
    return RT.Skeleton(names, parents, rest)


def skeleton_of_body(body) -> RT.Skeleton:
    """The skeleton of a ``core.bodyfile.BodyData`` (no armature needed)."""
    return RT.Skeleton(tuple(body.joint_names), tuple(int(p) for p in body.parents), np.asarray(body.joints))


def _np(m) -> np.ndarray:
    return np.array([list(row) for row in m], np.float64)


class _Frozen:
    """The target with its animation off and its pose at rest (and the map's properties set)
    while it is evaluated; everything put back on exit."""

    def __init__(self, armature, properties):
        self.arm, self.properties = armature, properties

    def __enter__(self):
        arm, anim = self.arm, self.arm.animation_data
        self.anim = None if anim is None else (anim.action, anim.action_slot, anim.use_nla)
        if anim is not None:
            anim.action = None
            anim.use_nla = False
        self.basis = {pb.name: pb.matrix_basis.copy() for pb in arm.pose.bones}
        for pb in arm.pose.bones:
            pb.matrix_basis = Matrix.Identity(4)
        self.props = []
        for bone, values in self.properties.items():
            pb = arm.pose.bones.get(bone)
            for key, value in values.items() if pb is not None else ():
                self.props.append((pb, key, pb.get(key)))
                pb[key] = value
        return self

    def __exit__(self, *exc):
        arm = self.arm
        for pb, key, old in self.props:
            if old is None:
                del pb[key]
            else:
                pb[key] = old
        for pb in arm.pose.bones:
            pb.matrix_basis = self.basis[pb.name]
        if self.anim is not None:
            anim = arm.animation_data
            anim.use_nla = self.anim[2]
            if self.anim[0] is not None:
                anim.action, anim.action_slot = self.anim[0], self.anim[1]
        bpy.context.view_layer.update()


def solve(context, target, bone_map: RT.BoneMap, motion: MotionData, skeleton: RT.Skeleton,
          source_world: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray | None, list[str]]:
    """Per-frame local transforms of the mapped bones: ({bone: (T, 4, 4) matrix_basis}, the root
    bone's (T, 3) location or None, the map's joints the target lacks)."""
    bones = target.data.bones
    mapped = [j for j in skeleton.names if j in bone_map.bones and bone_map.bones[j] in bones]
    missing = [j for j in bone_map.bones if j not in mapped]
    if not mapped:
        raise RT.BoneMapError(f"{target.name} has none of the bones of the map '{bone_map.name}'")
    ms = np.asarray(source_world, np.float64)
    ms3 = RT.orthonormal(ms[:3, :3])
    src_pos = {n: ms[:3, :3] @ p + ms[:3, 3] for n, p in zip(skeleton.names, skeleton.rest)}
    mt = _np(target.matrix_world)
    mt3 = RT.orthonormal(mt[:3, :3])

    def ref(j):
        name = bone_map.reference_bone(j) or ""
        return bones[name] if name in bones else bones.get(bone_map.bones.get(j, ""))

    # where the target's joints are at rest: its keyed bones' and its reference bones' heads
    tgt_pos = {j: mt[:3, :3] @ np.array(ref(j).head_local) + mt[:3, 3] for j in skeleton.names if ref(j)}
    local = RT.quaternion_to_matrix(axis_angle_to_quaternion(motion.poses))
    glob = RT.global_rotations(local, skeleton.parents)
    depth = RT.depths(skeleton.parents)
    want = {}   # joint -> (T, 3, 3) armature-space orientation of its target bone
    for j in mapped:
        k = skeleton.index(j)
        p = skeleton.parents[k]
        rest_b = RT.orthonormal(_np(bones[bone_map.bones[j]].matrix_local)[:3, :3])
        axis = mt3 @ RT.orthonormal(_np(ref(j).matrix_local)[:3, :3])[:, 1]
        a = RT.alignment(j, src_pos, tgt_pos, axis, src_pos[skeleton.names[p]] if p >= 0 else None)
        # R_target_pose = D · A · R_target_rest in world space, D = Ms G Ms⁻¹; then into the armature's space
        d = ms3 @ glob[:, k] @ ms3.T
        want[j] = mt3.T @ d @ a @ mt3 @ rest_b
    root_loc = None
    if bone_map.root in mapped:
        torso = [("pelvis", "neck"), ("pelvis", "spine3")]
        scale = next((np.linalg.norm(tgt_pos[b] - tgt_pos[a]) / np.linalg.norm(src_pos[b] - src_pos[a])
                      for a, b in torso if a in tgt_pos and b in tgt_pos), 1.0)
        head = np.array(bones[bone_map.bones[bone_map.root]].head_local)
        world_shift = (ms[:3, :3] @ motion.trans.T).T * scale   # the pelvis bone's offset from rest
        root_loc = head + (np.linalg.inv(mt[:3, :3]) @ world_shift.T).T
    levels = sorted({depth[skeleton.index(j)] for j in mapped})
    by_level = [[j for j in mapped if depth[skeleton.index(j)] == lv] for lv in levels]
    basis = {bone_map.bones[j]: np.empty((motion.frames, 4, 4)) for j in mapped}
    pbs = target.pose.bones
    view_layer = context.view_layer
    wm = context.window_manager
    wm.progress_begin(0, motion.frames)   # the cursor's percentage: a long take on Rigify takes seconds
    try:
        with _Frozen(target, bone_map.properties):
            view_layer.update()
            for t in range(motion.frames):
                wm.progress_update(t)
                for group in by_level:
                    for j in group:
                        pb = pbs[bone_map.bones[j]]
                        m = Matrix(want[j][t].tolist()).to_4x4()
                        m.translation = pb.matrix.translation if j != bone_map.root or root_loc is None \
                            else root_loc[t].tolist()
                        pb.matrix = m
                    view_layer.update()
                for j in mapped:
                    basis[bone_map.bones[j]][t] = _np(pbs[bone_map.bones[j]].matrix_basis)
    finally:
        wm.progress_end()
    root = basis[bone_map.bones[bone_map.root]][:, :3, 3] if root_loc is not None else None
    return basis, root, missing


def _rotation_values(pb, mats: np.ndarray) -> np.ndarray:
    """(T, 4, 4) local matrices as (T, 3 or 4) values of ``pb``'s rotation mode, continuous."""
    mode = pb.rotation_mode
    quats = [Matrix(m[:3, :3].tolist()).to_quaternion() for m in mats]
    if mode == "QUATERNION":
        return continuous(np.array([tuple(q) for q in quats])[:, None])[:, 0]
    if mode == "AXIS_ANGLE":
        out = []
        for q in quats:
            axis, angle = q.to_axis_angle()
            out.append((angle, *axis))
        return np.array(out)
    out, prev = [], None
    for q in quats:   # each Euler the nearest to the last, so curves do not jump by 2 pi
        e = q.to_euler(mode, prev) if prev is not None else q.to_euler(mode)
        out.append(tuple(e))
        prev = e
    return np.array(out)


def channels(target, basis: dict[str, np.ndarray], root_bone: str | None, root: np.ndarray | None,
             properties, frame: int, reduction: Reduction | None):
    """Fcurve channels for the solved bones (in their own rotation modes), the root's
    location and the map's properties (one key each)."""
    from ..core.motion import Channel

    out = []
    for name, mats in basis.items():
        pb = target.pose.bones[name]
        values = _rotation_values(pb, mats)
        frames = np.arange(frame, frame + len(values), dtype=np.float64)
        quat = pb.rotation_mode == "QUATERNION"
        tol = reduction.angle if reduction else None
        out += _key_group(f'pose.bones["{name}"].{rotation_path(pb.rotation_mode)}', name, frames, values,
                          CONSTANT_TOL, tol, rotation_error if quat else _euler_error)
    if root is not None and root_bone is not None:
        frames = np.arange(frame, frame + len(root), dtype=np.float64)
        out += _key_group(f'pose.bones["{root_bone}"].location', root_bone, frames, root, CONSTANT_TOL,
                          reduction.distance if reduction else None)
    for bone, values in properties.items():
        if bone in target.pose.bones:
            for key, value in values.items():
                out.append(Channel(f'pose.bones["{bone}"]["{key}"]', 0, bone,
                                   np.array([frame, value], np.float32)))
    return out


def _euler_error(x, y):
    """An Euler key's error: its largest angle's change (a bound on the rotation's, per axis)."""
    return np.abs(x - y).max(-1)


def key_take(context, armature, chans, name: str, length: int, mode: str = "NLA", frame: int = 1,
             properties: dict | None = None):
    """``chans`` as one take on ``armature``, placed as ``apply_motion`` places a take."""
    anim = armature.animation_data or armature.animation_data_create()
    if mode == "REPLACE" and anim.action is not None:
        action = anim.action
        if next(_fcurves(action, anim.action_slot), None) is not None:
            frame = int(round(action.frame_range[0]))
            shift = frame - int(round(chans[0].co[0])) if chans else 0
            chans = [type(c)(c.data_path, c.index, c.group, c.co + np.tile([shift, 0], len(c.co) // 2)
                             .astype(np.float32)) for c in chans]
        empty_action(action, [anim.action_slot], name)
        slot = anim.action_slot or _slot(action, "OBJECT", armature.name)
    else:
        action = bpy.data.actions.new(name)
        slot = _slot(action, "OBJECT", armature.name)
    for key, value in (properties or {}).items():
        action[key] = value
    action["signforge_fps"] = float(scene_fps(context.scene))
    write_channels(_channelbag(action, slot), chans)
    action.use_frame_range = True
    action.frame_start, action.frame_end = frame, frame + length - 1
    if mode == "NLA":
        _place_strip(anim, action, slot, frame)
    else:
        if anim.action != action:
            _stash(anim)
        _assign(anim, action, slot)
    return action


def retarget(context, target, bone_map: RT.BoneMap | None = None, motion: MotionData | None = None,
             source=None, name: str | None = None, mode: str = "NLA", frame: int | None = None,
             reduction: Reduction | None = None, properties: dict | None = None):
    """Key a SignForge take onto ``target`` through ``bone_map`` (None: the preset that fits);
    returns (action, joints of the map the target lacks).

    ``source`` is a SignForge armature (its rest joints and place in the scene; ``motion``
    defaults to the take it shows) or a ``BodyData`` (SMPL-X's rest joints placed as the add-on
    places its body; ``motion`` required). Keys start at ``frame`` (default: the playhead) at
    the scene's rate; ``mode`` and ``reduction`` as for ``animate.apply_motion``.
    """
    if target is None or target.type != "ARMATURE":
        raise ValueError("choose the armature to retarget to")
    if is_body(target):
        raise ValueError(f"{target.name} is a SignForge armature; its takes need no retargeting")
    names = [b.name for b in target.data.bones]
    bone_map = (bone_map or RT.detect(names)[1]).resolved(names)
    if source is not None and not hasattr(source, "type"):   # a BodyData
        skeleton, world = skeleton_of_body(source), SMPLX_TO_BLENDER
        if motion is None:
            raise ValueError("retargeting from a body file needs the motion")
    else:
        if source is None or not is_body(source):
            raise ValueError("there is no SignForge armature to retarget from")
        skeleton, world = skeleton_of(source), _np(source.matrix_world)
        if motion is None:
            motion = motion_from_action(context, source)
            properties = {**_take_record(context, source), **(properties or {})}
    scene = context.scene
    frame = scene.frame_current if frame is None else int(frame)
    keyed = resample(motion, scene_fps(scene))
    basis, root, missing = solve(context, target, bone_map, keyed, skeleton, world)
    root_bone = bone_map.bones.get(bone_map.root)
    chans = channels(target, basis, root_bone, root, bone_map.properties, frame, reduction)
    record = {**(properties or {}), PREFIX + "retarget_map": bone_map.name,
              PREFIX + "retarget_source": getattr(source, "name", "body file"),
              PREFIX + "motion_fps": float(motion.fps)}
    name = name or take_name(f"{motion.text or 'SignForge take'} → {target.name}", limit=name_limit())
    action = key_take(context, target, chans, name, keyed.frames, mode, frame, record)
    return action, missing


def _take_record(context, source) -> dict:
    """The source take's ``signforge_*`` properties (prompt, seed, model...), carried over."""
    from .animate import current_take

    action, _ = current_take(source, context.scene.frame_current)
    if action is None:
        return {}
    return {k: action[k] for k in action.keys() if k.startswith(PREFIX) and isinstance(action[k], (str, int, float))}


# ------------------------------------------------------------------------ the panel's operators

_ITEMS: list = []   # the bone map enum's items; Blender needs them kept alive while shown


def map_items(self, context):
    _ITEMS[:] = map_choices()
    return _ITEMS


def target_poll(self, ob) -> bool:
    return ob.type == "ARMATURE" and not is_body(ob)


class SIGNFORGE_OT_retarget(bpy.types.Operator):
    """Key the SignForge armature's take onto another armature through a bone map (Rigify, Mixamo, the
    human metarig, the SMPL-X add-on, or your own map file), as a new take there"""
    bl_idname = "signforge.retarget"
    bl_label = "Retarget to…"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from ..core.motion import MotionFileError
        from .body import find_body

        s = context.scene.signforge
        target = s.retarget_target
        try:
            source = find_body(context)
            if target is None:
                raise ValueError("choose the armature to retarget to (Retarget ▸ Target)")
            bone_map = resolve_map(s.retarget_map, target, s.retarget_map_path)
            reduction = Reduction.degrees(s.key_tolerance) if s.reduce_keys else None
            mode = s.insert_mode
            if mode == "REPLACE" and (target.animation_data is None or target.animation_data.action is None):
                raise ValueError(f"Replace Active Action: {target.name} has no active action; "
                                 "choose NLA Strip or New Action")
            frame = context.scene.frame_current
            action, missing = retarget(context, target, bone_map, source=source, mode=mode, frame=frame,
                                       reduction=reduction)
        except (ValueError, MotionFileError, OSError) as exc:
            self.report({"ERROR"}, f"Retarget: {exc}")
            return {"CANCELLED"}
        if s.fit_scene:
            context.scene.frame_start, context.scene.frame_end = (int(round(v)) for v in action.frame_range)
        lacks = f"; {len(missing)} joint(s) of the map not on the rig ({', '.join(missing[:4])}…)" if missing else ""
        self.report({"INFO"}, f"Retargeted onto {target.name} with '{bone_map.name}': {action.name}{lacks}")
        return {"FINISHED"}


class SIGNFORGE_OT_save_bone_map(bpy.types.Operator):
    """Save the chosen bone map (as resolved on the target) as a JSON file in your bone maps folder,
    to edit into your own rig's map; it then appears in the Map list"""
    bl_idname = "signforge.save_bone_map"
    bl_label = "Save Map"
    name: bpy.props.StringProperty(name="Name", default="my-rig")

    def execute(self, context):
        s = context.scene.signforge
        try:
            if s.retarget_target is None:
                raise ValueError("choose the target armature first")
            bone_map = resolve_map(s.retarget_map, s.retarget_target, s.retarget_map_path)
            folder = user_folder(create=True)
            if not folder:
                raise OSError("no user folder for bone maps")
            path = os.path.join(folder, bpy.path.clean_name(self.name) + RT.MAP_SUFFIX)
            RT.save_map(replace(bone_map, name=self.name), path)
        except (ValueError, OSError) as exc:
            self.report({"ERROR"}, f"Save Map: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Saved {path}")
        return {"FINISHED"}

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self)


CLASSES = (SIGNFORGE_OT_retarget, SIGNFORGE_OT_save_bone_map)
