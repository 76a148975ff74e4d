"""The take list: the SignForge armature's takes in a UIList, and what an animator does with
one: select, rename, delete, regenerate with a new seed, make variants, mirror to the other
hand. Imports bpy.

A take is an action with the ``signforge_*`` record (``animate.is_take``) that the armature
plays as a strip or as its active action. Regenerate and Variants send the request the take
records (``core.takes.stored_request``) with new seeds; Mirror sends the take's keys to the
backend's ``Motion.mirror`` (``load_motion`` with ``mirror``), the one mirror there is.
Regenerate and Mirror replace the take in place (``animate.rekey_take``: the same action, so
its strips keep their track and frame). Every operator is undoable and a failure is one line.
"""
from __future__ import annotations

import random

import bpy

from ..core.motion import Reduction, read_motion, write_motion
from ..core.takes import PREFIX, generate_take, new_seeds, stored_request
from .animate import (apply_motion, delete_take, motion_from_take, name_limit, rekey_take,
                      rename_take, take_frames, take_strips, takes_of)
from .body import find_body
from .operators import _JobOperator, _keys, settings
from . import prefs as P
from . import session


def show_take(context, action) -> None:
    """``action``'s strips selected (the rest of the armature's deselected): the take an
    animator works on next; an active action is shown already."""
    arm = find_body(context)
    if arm is None or arm.animation_data is None or action not in takes_of(arm):
        return
    mine = take_strips(arm, action)
    for track in arm.animation_data.nla_tracks:
        track.select = any(st in mine for st in track.strips)
        for strip in track.strips:
            strip.select = strip in mine


def _take(context, name: str):
    """(armature, action) for the take named ``name``, or the list's chosen one."""
    arm = find_body(context)
    if arm is None:
        raise ValueError("there is no SignForge armature, so no takes")
    if name:
        action = bpy.data.actions.get(name)
    else:
        i = settings(context).take_index
        action = bpy.data.actions[i] if 0 <= i < len(bpy.data.actions) else None
    if action is None or action not in takes_of(arm):
        raise ValueError(f"{name or 'no take is chosen'}: not a take of {arm.name} (choose one in the take list)")
    return arm, action


def _reduction(action) -> Reduction | None:
    deg = float(action.get(PREFIX + "key_tolerance_deg", 0.0))
    return Reduction.degrees(deg) if deg > 0 else None


def _used_seeds(arm, prompt: str) -> set[int]:
    return {int(a[PREFIX + "seed"]) for a in takes_of(arm)
            if str(a.get(PREFIX + "prompt")) == prompt and isinstance(a.get(PREFIX + "seed"), int)}


def _request(context, arm, action, folder, seeds: list[int]) -> list[tuple[str, dict]]:
    """The take's recorded ``generate`` request, once per seed, its motions written in ``folder``."""
    base = _record(action)
    base.pop("run", None)   # the record names the run's folder; the request takes the model's run as set now
    run = session.run_folder(context, base.get("model", "handmdm"))
    if run is not None:
        base["run"] = run
    pref = P.get(context)
    if pref is not None and pref.device != "cpu":
        base["device"] = pref.device
    return [("generate", dict(base, seed=int(seed), num=1, out_dir=str(folder / f"motions-{seed}"))) for seed in seeds]


def _record(action) -> dict:
    """The generate request the take records."""
    return stored_request({k: action[k] for k in action.keys()})


class _TakeOperator:
    bl_options = {"REGISTER", "UNDO"}
    action: bpy.props.StringProperty(name="Take", description="The take's action; empty: the list's chosen take",
                                     options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        return find_body(context) is not None

    def execute(self, context):
        try:
            arm, action = _take(context, self.action)
            message = self.act(context, arm, action)
        except ValueError as exc:
            self.report({"ERROR"}, f"{self.bl_label}: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, message)
        return {"FINISHED"}


class SIGNFORGE_OT_take_select(_TakeOperator, bpy.types.Operator):
    """Choose this take: its strip is selected"""
    bl_idname = "signforge.take_select"
    bl_label = "Select Take"

    def act(self, context, arm, action):
        settings(context).take_index = bpy.data.actions.find(action.name)   # its update shows the take
        return f"Take {action.name!r}"


class SIGNFORGE_OT_take_rename(_TakeOperator, bpy.types.Operator):
    """Rename the take: its action and its strips"""
    bl_idname = "signforge.take_rename"
    bl_label = "Rename Take"
    name: bpy.props.StringProperty(name="Name")

    def invoke(self, context, event):
        try:
            self.name = _take(context, self.action)[1].name
        except ValueError as exc:
            self.report({"ERROR"}, f"{self.bl_label}: {exc}")
            return {"CANCELLED"}
        return context.window_manager.invoke_props_dialog(self)

    def act(self, context, arm, action):
        if not self.name.strip():
            raise ValueError("a take needs a name")
        old = action.name
        return f"Renamed {old!r} to {rename_take(arm, action, self.name)!r}"


class SIGNFORGE_OT_take_delete(_TakeOperator, bpy.types.Operator):
    """Delete the take: its strips and its action, nothing else"""
    bl_idname = "signforge.take_delete"
    bl_label = "Delete Take"

    def act(self, context, arm, action):
        name = action.name
        delete_take(arm, action)
        return f"Deleted take {name!r}"


class _TakeJob(_JobOperator):
    action: bpy.props.StringProperty(name="Take", description="The take's action; empty: the list's chosen take",
                                     options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        return find_body(context) is not None

    def _seeds(self, context, arm, action, n: int) -> list[int]:
        base = _record(action)
        rng = random.Random() if settings(context).regenerate_random else None
        return new_seeds(int(base.get("seed", 0)), _used_seeds(arm, base["prompt"]), n, rng)

    def _start(self, context):
        try:   # the take is fixed now, as every other take's placement is
            self._arm, self._action = _take(context, self.action)
            self._action_name = self._action.name
        except ValueError as exc:
            self.report({"ERROR"}, f"{self.label} failed: {exc}")
            return None
        return super()._start(context)

    def _target(self):
        """The take again when the result arrives; it may have been deleted meanwhile."""
        action = bpy.data.actions.get(self._action_name)
        if action is None or action not in takes_of(self._arm):
            raise ValueError(f"the take {self._action_name!r} was removed while the job ran")
        return action


class SIGNFORGE_OT_take_regenerate(_TakeJob, bpy.types.Operator):
    """Generate the take again from the request it records with a new seed, replacing it in place"""
    bl_idname = "signforge.take_regenerate"
    bl_label = "Regenerate with New Seed"
    label = "Regenerate"

    def requests(self, context):
        return _request(context, self._arm, self._action, self._folder,
                        self._seeds(context, self._arm, self._action, 1))

    def apply(self, context, job):
        action = self._target()
        motion = read_motion(job.result(0)["motions"][0])
        take = generate_take(job.requests[0][1], limit=name_limit())
        rekey_take(context, self._arm, action, motion, None, take.record(motion.provenance), _reduction(action))
        return f"Regenerated {action.name!r} with seed {job.requests[0][1]['seed']} ({motion.frames} frames)"


class SIGNFORGE_OT_take_variants(_TakeJob, bpy.types.Operator):
    """New takes from this take's request with new seeds, stacked as strips at its frame"""
    bl_idname = "signforge.take_variants"
    bl_label = "Variants of This Take"
    label = "Variants"
    count: bpy.props.IntProperty(name="Variants", default=0, min=0, max=16,
                                 description="How many (0: the panel's Variants)", options={"SKIP_SAVE"})

    def requests(self, context):
        n = self.count or settings(context).variant_count
        return _request(context, self._arm, self._action, self._folder, self._seeds(context, self._arm, self._action, n))

    def apply(self, context, job):
        frame = take_frames(self._target())[0]
        reduction = _reduction(self._action)
        n = len(job.requests)
        actions = [None] * n
        for i in reversed(range(n)):   # the last one placed is on top: #1
            params = job.requests[i][1]
            take = generate_take(params, mode="NLA", frame=frame, limit=name_limit())
            motion = read_motion(job.result(i)["motions"][0])
            actions[i] = apply_motion(context, self._arm, motion, f"{take.name} s{params['seed']}", "NLA", frame,
                                      take.record(motion.provenance), False, reduction)
        return f"Made {n} variant(s) of {self._action_name!r} at frame {frame}{_keys(actions, take)}"


class SIGNFORGE_OT_take_mirror(_TakeJob, bpy.types.Operator):
    """Mirror the take to the other hand (left and right swapped), in place"""
    bl_idname = "signforge.take_mirror"
    bl_label = "Mirror Take"
    label = "Mirror"

    def requests(self, context):
        src = self._folder / "take.npz"
        write_motion(motion_from_take(context, self._arm, self._action), src)
        return [("load_motion", {"path": str(src), "mirror": True, "out": str(self._folder / "mirrored.npz")})]

    def apply(self, context, job):
        action = self._target()
        motion = read_motion(job.result(0)["path"])
        record = {k: action[k] for k in action.keys() if k.startswith(PREFIX)}
        record[PREFIX + "mirrored"] = "false" if str(record.get(PREFIX + "mirrored")) == "true" else "true"
        hand = record.get(PREFIX + "hand")
        if hand in ("left", "right"):   # a regenerate of the mirrored take asks for the hand it now signs with
            record[PREFIX + "hand"] = "left" if hand == "right" else "right"
        rekey_take(context, self._arm, action, motion, None, record, _reduction(action))
        return f"Mirrored {action.name!r} to the other hand"


class SIGNFORGE_UL_takes(bpy.types.UIList):
    """The SignForge armature's takes (over ``bpy.data.actions``, the others filtered out)."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        start, end = take_frames(item)
        row = layout.row(align=True)
        row.label(text=item.name, icon="ACTION")
        row.label(text=f"{start}-{end}")

    def filter_items(self, context, data, propname):
        arm = find_body(context)
        takes = set(a.name for a in takes_of(arm)) if arm is not None else set()
        items = getattr(data, propname)
        flags = [self.bitflag_filter_item if a.name in takes else 0 for a in items]
        return flags, []


CLASSES = (SIGNFORGE_OT_take_select, SIGNFORGE_OT_take_rename, SIGNFORGE_OT_take_delete,
           SIGNFORGE_OT_take_regenerate, SIGNFORGE_OT_take_variants, SIGNFORGE_OT_take_mirror, SIGNFORGE_UL_takes)
