"""Motions onto armatures as takes, written in bulk, and takes back to motions. Imports bpy.

A take is one Action: the armature's channels in one slot and, where the motion moves the
face, the expression shape keys' channels in a second slot of the same action. It goes
where the user asked (``core.takes.INSERT_MODES``): a strip on a "SignForge" NLA track, a
new active action, or the active action's keys replaced. Its keys start at the playhead
and follow the scene's frame rate (the motion is resampled to it); the scene's rate,
range and playhead are never changed unless the caller asks (``fit_scene``). No fake
users: a strip, the active slot or Blender's "[Action Stash]" track keeps each action.
Fcurves are filled with ``keyframe_points.add`` and ``foreach_set`` (never a
``keyframe_insert`` per bone per frame); a channel that does not move gets one key, and an
optional ``Reduction`` thins the rest (``core.motion``). The take's length is the action's
manual frame range, so a still take keeps its duration with one key per channel.

Keys are SMPL-X's rotations in each bone's rest frame (``bone_rests``, ``core.motion.to_bone``),
so the bones may lie along the limbs. Export turns the armature's animation back into a
motion: the active action's keys, read in whatever rotation mode each bone shows (an Euler
edit is exported as the rotation it shows); with no active action, the NLA as it plays,
baked frame by frame over its strips.
"""
from __future__ import annotations

import re

import bpy
import numpy as np

from ..core.motion import (NUM_JOINTS, Channel, MotionData, Reduction, confidence_channels,
                           confidence_properties, expression_channels, from_bone, motion_from_channels,
                           pose_channels, resample, rotate, rotation_path)
from ..core.takes import NAME_BYTES, PREFIX, take_name
from .body import EXPRESSION_KEYS, JOINTS_TAG, body_mesh

LINEAR = None   # the interpolation enum's integer value, looked up once in Blender
TRACK = "SignForge"
STASH = "[Action Stash]"   # Blender's own track name for actions set aside by "New Action"
_TRACK_NAME = re.compile(r"SignForge(\.\d+)?$")


def name_limit() -> int:
    """Bytes a data-block name may hold: 63 before Blender 5.0, 255 from it."""
    return 255 if bpy.app.version >= (5, 0, 0) else NAME_BYTES


def scene_fps(scene) -> float:
    return scene.render.fps / scene.render.fps_base


def write_channels(bag, channels: list[Channel]) -> None:
    """``channels`` into a channelbag (one action slot's fcurves), replacing their keys."""
    groups = {g.name: g for g in bag.groups}
    for ch in channels:
        fc = bag.fcurves.find(ch.data_path, index=ch.index) or bag.fcurves.new(ch.data_path, index=ch.index)
        if ch.group not in groups:
            groups[ch.group] = bag.groups.new(ch.group)
        fc.group = groups[ch.group]
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


def _channelbag(action, slot):
    """The slot's channelbag in the action's first keyframe strip, made when missing."""
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot) or strip.channelbags.new(slot)


def _slot(action, id_type: str, name: str):
    """The action's slot for an ID of ``id_type`` (the first), made when missing."""
    for slot in action.slots:
        if slot.target_id_type == id_type:
            return slot
    return action.slots.new(id_type=id_type, name=name)


def _expression_keys(armature):
    """The body's shape keys when they hold SignForge's expression keys, else None."""
    mesh = body_mesh(armature)
    keys = mesh.data.shape_keys if mesh is not None else None
    return keys if keys is not None and EXPRESSION_KEYS[0] in keys.key_blocks else None


def _animated(anim) -> bool:
    return anim is not None and (anim.action is not None or len(anim.nla_tracks) > 0)


def _stash(anim) -> None:
    """Keep ``anim``'s active action before another replaces it, as Blender's New Action does:
    a strip on a muted "[Action Stash]" track, unless a strip there holds it already."""
    action = anim.action
    if action is None or any(st.action == action for tr in anim.nla_tracks for st in tr.strips):
        return
    track = anim.nla_tracks.new()
    track.name = STASH
    strip = track.strips.new(action.name, int(round(action.frame_range[0])), action)
    strip.action_slot = anim.action_slot
    track.mute = True


def _place_strip(anim, action, slot, start: int):
    """A strip of ``action`` at ``start`` on the topmost SignForge track, or on a new one
    above everything when it would overlap a strip there (or the track is locked)."""
    top = next((t for t in reversed(anim.nla_tracks) if _TRACK_NAME.match(t.name)), None)
    end = max(action.frame_range[1], start + 1)
    strip = None
    if top is not None and not top.lock and not any(s.frame_start < end and start < s.frame_end
                                                    for s in top.strips):
        try:
            strip = top.strips.new(action.name, start, action)
        except RuntimeError:   # Blender saw no room after all
            strip = None
    if strip is None:
        track = anim.nla_tracks.new()
        track.name = TRACK
        strip = track.strips.new(action.name, start, action)
    strip.action_slot = slot
    return strip


def _assign(anim, action, slot) -> None:
    anim.action = action
    anim.action_slot = slot



def empty_action(action, slots, name: str) -> None:
    """Replace mode: ``action`` loses the keys of ``slots`` (other users of the action keep theirs)
    and its SignForge properties, and takes the new take's ``name``."""
    for layer in action.layers:
        for strip in layer.strips:
            for bag in strip.channelbags:
                if bag.slot in slots:
                    bag.fcurves.clear()
    for key in [k for k in action.keys() if k.startswith(PREFIX)]:
        del action[key]
    action.name = name

def apply_motion(context, armature, motion: MotionData, name: str | None = None, mode: str = "NLA",
                 frame: int | None = None, properties: dict | None = None, fit_scene: bool = False,
                 reduction: Reduction | None = None):
    """Key ``motion`` on ``armature`` as one take and return its action.

    ``mode`` is NLA (a strip on a SignForge track), ACTION (a new active action) or REPLACE
    (the active action's keys replaced; a new action when there is none). Keys start at
    ``frame`` (default: the playhead; REPLACE keeps where the old keys started) at the
    scene's frame rate. ``properties`` become the action's custom properties. ``reduction``
    thins the keys to its tolerance (None: a key per frame on every channel that moves).
    """
    scene = context.scene
    frame = scene.frame_current if frame is None else int(frame)
    fps = scene_fps(scene)
    _joint_names(armature)   # refuse a foreign armature before anything is made
    keyed = resample(motion, fps)
    name = name or take_name(motion.text, limit=name_limit())
    anim = armature.animation_data or armature.animation_data_create()
    keys = _expression_keys(armature)
    face = keys is not None and (bool(np.abs(keyed.expression).max() > 0) or _animated(keys.animation_data))

    if mode == "REPLACE" and anim.action is not None:
        action = anim.action
        if next(_fcurves(action, anim.action_slot), None) is not None:   # where its keys were
            frame = int(round(action.frame_range[0]))
        kanim = keys.animation_data if keys is not None else None
        mine = [anim.action_slot] + ([kanim.action_slot] if kanim is not None and kanim.action == action else [])
        empty_action(action, mine, name)
        slot = anim.action_slot or _slot(action, "OBJECT", armature.name)
    else:
        action = bpy.data.actions.new(name)
        slot = _slot(action, "OBJECT", armature.name)
    key_slot = _key(action, slot, armature, keyed, motion.fps, frame, properties, reduction, face)

    if mode == "NLA":
        _place_strip(anim, action, slot, frame)
        if key_slot is not None:
            _place_strip(keys.animation_data or keys.animation_data_create(), action, key_slot, frame)
    else:
        before = anim.action
        if before != action:
            _stash(anim)
        _assign(anim, action, slot)
        if key_slot is not None:
            kanim = keys.animation_data or keys.animation_data_create()
            if kanim.action not in (None, action, before):   # a shape-key action of its own
                _stash(kanim)
            _assign(kanim, action, key_slot)
    if fit_scene:
        scene.frame_start, scene.frame_end = take_frames(action)
    return action


def _key(action, slot, armature, keyed: MotionData, motion_fps: float, frame: int, properties: dict | None,
         reduction: Reduction | None, face: bool):
    """``keyed`` (already at the scene's rate) into ``action`` from ``frame``: the pose in ``slot``,
    the expressions in a KEY slot when ``face``, the record as custom properties and the take's
    length as its frame range. Returns the KEY slot (None without a face)."""
    fps = float(keyed.fps)
    for key, value in (properties or {}).items():
        action[key] = value
    action["signforge_fps"] = float(fps)            # the rate its keys were written at (export reads it)
    action["signforge_motion_fps"] = float(motion_fps)
    if reduction is not None:
        action[PREFIX + "key_tolerance_deg"] = float(np.degrees(reduction.angle))
    joints = _joint_names(armature)
    _confidence_properties(armature, keyed)
    write_channels(_channelbag(action, slot), pose_channels(keyed, joints, frame_start=frame, reduction=reduction,
                                                            rests=bone_rests(armature, joints))
                   + confidence_channels(keyed, frame_start=frame, reduction=reduction))
    key_slot = None
    if face:
        keys = _expression_keys(armature)
        key_slot = _slot(action, "KEY", keys.name)
        write_channels(_channelbag(action, key_slot),
                       expression_channels(keyed, list(EXPRESSION_KEYS), frame_start=frame, reduction=reduction))
    # the take's length, whatever its keys: constant channels hold one key at its first frame
    action.use_frame_range = True
    action.frame_start, action.frame_end = frame, frame + keyed.frames - 1
    return key_slot


def _confidence_properties(armature, motion: MotionData) -> None:
    """The armature's custom properties a video take's confidence curves animate, made when
    missing (an fcurve on a property the object lacks is drawn as broken), ranged 0..1."""
    for name in confidence_properties(motion):
        if name not in armature:
            armature[name] = 1.0
            what = "" if name.endswith("confidence") else f" of the {name.rsplit('_', 1)[1]} hand"
            armature.id_properties_ui(name).update(
                min=0.0, max=1.0, soft_min=0.0, soft_max=1.0,
                description=f"How sure the video's tracking was{what} at each frame of a SignForge take "
                            f"(1 found, 0.6 interpolated, 0.2 held, times the body's visibility)")


def take_frames(action) -> tuple[int, int]:
    """A take's first and last frames: its frame range, widened to any key an animator added
    outside it."""
    start, end = action.frame_range
    if action.use_frame_range:
        for fc in _all_fcurves(action):
            points = fc.keyframe_points
            if len(points):
                start, end = min(start, points[0].co[0]), max(end, points[-1].co[0])
    return int(round(start)), int(round(end))


def key_counts(action) -> tuple[int, int]:
    """(keys a key per frame on every channel would take, keys the take holds)."""
    curves = list(_all_fcurves(action))
    start, end = take_frames(action)
    return (end - start + 1) * len(curves), sum(len(fc.keyframe_points) for fc in curves)


def set_scene_rate(scene, fps: float) -> None:
    """The scene's frame rate as ``fps``: an integer rate over a base (29.97 = 30 / 1.001)."""
    rate = max(1, int(round(fps)))
    scene.render.fps, scene.render.fps_base = rate, rate / fps


def current_take(armature, frame: int):
    """The take the armature shows at ``frame`` (an export's name): the active action, else the
    strip under ``frame`` on the topmost unmuted track, else the last strip added.
    (action, slot) or (None, None)."""
    anim = armature.animation_data
    if anim is None:
        return None, None
    if anim.action is not None:
        return anim.action, anim.action_slot
    tracks = [t for t in reversed(anim.nla_tracks) if t.name != STASH]
    for track in tracks:
        for strip in track.strips:
            if not track.mute and strip.action is not None and strip.frame_start <= frame <= strip.frame_end:
                return strip.action, strip.action_slot
    for track in tracks:
        for strip in reversed(track.strips):
            if strip.action is not None:
                return strip.action, strip.action_slot
    return None, None


def bone_rests(armature, joints: list[str]) -> np.ndarray:
    """(55, 4) the bones' rest orientations in armature space (``matrix_local``), SMPL-X order:
    the frames keys are written in."""
    bones = armature.data.bones
    return np.array([tuple(bones[n].matrix_local.to_3x3().to_quaternion()) for n in joints])


def smplx_pose(armature) -> tuple[np.ndarray, np.ndarray]:
    """The pose the armature shows now as SMPL-X's (55, 4) local rotation quaternions and the
    root's translation (3,), whatever each bone's rotation mode."""
    joints = _joint_names(armature)
    rests = bone_rests(armature, joints)
    q = np.array([tuple(armature.pose.bones[n].matrix_basis.to_quaternion()) for n in joints])
    root = armature.pose.bones[joints[0]].matrix_basis.to_translation()
    return from_bone(q, rests), rotate(rests[0], np.array(tuple(root)))


def _joint_names(armature) -> list[str]:
    names = [str(n) for n in armature.get(JOINTS_TAG, [])]
    if len(names) != NUM_JOINTS or any(n not in armature.data.bones for n in names):
        raise ValueError(f"{armature.name} is not a SignForge SMPL-X armature (add one with SignForge ▸ Body)")
    return names


def motion_from_action(context, armature, fps: float | None = None) -> MotionData:
    """The motion the armature shows: its active action's keys, at every frame of the take,
    each bone read in its rotation mode; with no active action, the NLA baked (``bake_nla``)."""
    anim = armature.animation_data
    if anim is None or anim.action is None:
        if anim is not None and _nla_range(anim) is not None:
            return bake_nla(context, armature, fps)
        raise ValueError(f"{armature.name} has no action or NLA strip to export")
    return motion_from_take(context, armature, anim.action, anim.action_slot, fps)


def motion_from_take(context, armature, action, slot=None, fps: float | None = None) -> MotionData:
    """One take's motion (``action``, wherever it sits: active, a strip or stashed), read from
    its keys at every frame of the take in each bone's rotation mode; ``slot`` defaults to the
    action's first object slot."""
    slot = slot or take_slot(action)
    joints = _joint_names(armature)
    start, end = take_frames(action)
    frames = np.arange(start, end + 1, dtype=np.float64)
    values = {(fc.data_path, fc.array_index): _sample(fc, frames) for fc in _fcurves(action, slot)}
    modes = {}
    for name in joints:   # a channel no fcurve drives shows the bone's own value
        pb = armature.pose.bones[name]
        modes[name] = pb.rotation_mode
        prop = rotation_path(pb.rotation_mode)
        for k, v in enumerate(getattr(pb, prop)):
            values.setdefault((f'pose.bones["{name}"].{prop}', k), np.full(len(frames), float(v)))
    expression = None
    keys = _expression_keys(armature)
    if keys is not None:
        key_slot = next((s for s in action.slots if s.target_id_type == "KEY"), None)
        source = (action, key_slot) if key_slot is not None else (None, None)
        kanim = keys.animation_data
        if key_slot is None and kanim is not None and kanim.action is not None:   # a separate shape-key action
            source = (kanim.action, kanim.action_slot)
        if source[0] is not None:
            expression = np.zeros((len(frames), 10))
            for fc in _fcurves(*source):
                for k, name in enumerate(EXPRESSION_KEYS):
                    if fc.data_path == f'key_blocks["{name}"].value':
                        expression[:, k] = _sample(fc, frames)
    fps = fps or float(action.get("signforge_fps", scene_fps(context.scene)))
    text = str(action.get(PREFIX + "prompt", action.name))
    return motion_from_channels(values, joints, len(frames), fps, expression=expression, text=text, modes=modes,
                                rests=bone_rests(armature, joints))


def _nla_range(anim) -> tuple[int, int] | None:
    """First and last frames of the strips that play (unmuted tracks; the solo one if any)."""
    if not anim.use_nla:
        return None
    tracks = [t for t in anim.nla_tracks if not t.mute]
    if any(t.is_solo for t in tracks):
        tracks = [t for t in tracks if t.is_solo]
    strips = [st for t in tracks for st in t.strips if not st.mute]
    if not strips:
        return None
    return (int(np.floor(min(st.frame_start for st in strips))),
            int(np.ceil(max(st.frame_end for st in strips))))


def bake_nla(context, armature, fps: float | None = None) -> MotionData:
    """The pose the armature shows at each frame its NLA strips cover, as a motion: the scene
    stepped frame by frame and the pose bones read (any rotation mode, strips blended as
    Blender blends them), then the playhead put back where it was."""
    scene = context.scene
    joints = _joint_names(armature)
    span = _nla_range(armature.animation_data)
    if span is None:
        raise ValueError(f"{armature.name} has no NLA strip that plays")
    frames = range(span[0], span[1] + 1)
    bones = [armature.pose.bones[n] for n in joints]
    keys = _expression_keys(armature)
    blocks = [keys.key_blocks[n] for n in EXPRESSION_KEYS] if keys is not None else []
    quats = np.empty((len(frames), NUM_JOINTS, 4))
    trans = np.empty((len(frames), 3))
    expression = np.zeros((len(frames), len(EXPRESSION_KEYS)))
    now, sub = scene.frame_current, scene.frame_subframe
    try:
        for t, f in enumerate(frames):
            scene.frame_set(f)
            # matrix_basis is the bone's own transform whatever its rotation mode
            quats[t] = [tuple(pb.matrix_basis.to_quaternion()) for pb in bones]
            trans[t] = tuple(armature.pose.bones["pelvis"].location)
            expression[t] = [b.value for b in blocks] if blocks else 0.0
    finally:
        scene.frame_set(now, subframe=sub)
    values = {(f'pose.bones["{n}"].rotation_quaternion', k): quats[:, j, k]
              for j, n in enumerate(joints) for k in range(4)}
    values.update({('pose.bones["pelvis"].location', k): trans[:, k] for k in range(3)})
    action, _ = current_take(armature, now)
    text = str(action.get(PREFIX + "prompt", action.name)) if action is not None else armature.name
    return motion_from_channels(values, joints, len(frames), fps or scene_fps(scene),
                                expression=expression if blocks else None, text=text,
                                rests=bone_rests(armature, joints))


def _sample(fc, frames: np.ndarray) -> np.ndarray:
    """An fcurve's values at ``frames``: its keys read in bulk when there is one per frame, else
    evaluated frame by frame (a still channel's one key, reduced keys, keys a user edited)."""
    points = fc.keyframe_points
    if len(points) == len(frames):
        co = np.empty(2 * len(points), np.float32)
        points.foreach_get("co", co)
        if np.allclose(co[0::2], frames):
            return co[1::2].astype(np.float64)
    return np.array([fc.evaluate(f) for f in frames])


def _all_fcurves(action):
    for layer in action.layers:
        for strip in layer.strips:
            for bag in strip.channelbags:
                yield from bag.fcurves


def _fcurves(action, slot):
    """An action's fcurves for ``slot`` (Blender 4.4+ layered actions)."""
    if slot is None:
        return
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot)
            if bag is not None:
                yield from bag.fcurves


# --- the take list: a SignForge armature's takes, found, renamed, removed and keyed again ---

def is_take(action) -> bool:
    """A SignForge take: an action that carries the ``signforge_*`` record."""
    return action is not None and any(k.startswith(PREFIX) for k in action.keys())


def take_slot(action):
    """The action's first object slot (a take keys one armature)."""
    return next((s for s in action.slots if s.target_id_type == "OBJECT"), None)


def _anims(armature):
    """The armature's animation data and its body's shape keys' (where the face's strips are)."""
    keys = _expression_keys(armature) if JOINTS_TAG in armature else None
    return [a for a in (armature.animation_data, keys.animation_data if keys is not None else None)
            if a is not None]


def take_strips(armature, action) -> list:
    """Every NLA strip of ``action`` on the armature (and its body's shape keys)."""
    return [st for anim in _anims(armature) for tr in anim.nla_tracks for st in tr.strips if st.action == action]


def takes_of(armature) -> list:
    """The armature's takes, in the order the NLA stacks them (top first), then the active one."""
    out = []
    anim = armature.animation_data
    if anim is None:
        return out
    for track in reversed(anim.nla_tracks):
        for strip in track.strips:
            if is_take(strip.action) and strip.action not in out:
                out.append(strip.action)
    if is_take(anim.action) and anim.action not in out:
        out.append(anim.action)
    return out


def rename_take(armature, action, name: str) -> str:
    """The take and its strips named ``name`` (Blender may add a ".001"); returns the name given."""
    name = take_name(name, limit=name_limit())
    action.name = name
    for strip in take_strips(armature, action):
        strip.name = action.name
    return action.name


def delete_take(armature, action) -> None:
    """The take's strips and the action removed; its tracks, other strips and the rest stay."""
    for anim in _anims(armature):
        if anim.action == action:
            anim.action = None
        for track in anim.nla_tracks:
            for strip in [st for st in track.strips if st.action == action]:
                track.strips.remove(strip)
    bpy.data.actions.remove(action)


def rekey_take(context, armature, action, motion: MotionData, name: str | None = None,
               properties: dict | None = None, reduction: Reduction | None = None):
    """Replace a take in place with ``motion``: the same action, its keys starting where they
    started, at the scene's rate, its record replaced by ``properties``; its strips keep their
    track and start and take the new length. Returns the action."""
    frame = take_frames(action)[0]
    keyed = resample(motion, scene_fps(context.scene))
    slot = take_slot(action) or _slot(action, "OBJECT", armature.name)
    _joint_names(armature)   # refuse a foreign armature before anything is cleared
    for bag in (b for layer in action.layers for st in layer.strips for b in st.channelbags):
        bag.fcurves.clear()
    for key in [k for k in action.keys() if k.startswith(PREFIX)]:
        del action[key]
    keys = _expression_keys(armature)
    had_face = any(s.target_id_type == "KEY" for s in action.slots)
    face = keys is not None and (had_face or bool(np.abs(keyed.expression).max() > 0))
    key_slot = _key(action, slot, armature, keyed, motion.fps, frame, properties, reduction, face)
    strips = take_strips(armature, action)
    for strip in strips:
        strip.action_frame_start, strip.action_frame_end = action.frame_range
        strip.frame_end_ui = strip.frame_start + (action.frame_range[1] - action.frame_range[0])
    if key_slot is not None and not had_face and strips:   # a face that now moves, placed with the pose
        _place_strip(keys.animation_data or keys.animation_data_create(), action, key_slot, frame)
    if name:
        rename_take(armature, action, name)
    return action
