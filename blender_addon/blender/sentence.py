"""The Sentence section and Regenerate Selection: sign a sentence, redo part of a take. Imports bpy.

The Sentence list (``SIGNFORGE_UL_sentence`` over the scene settings' ``sentence_items``) holds
the signs in order: a description, a dictionary entry id or a motion file each. Build sends
them as one ``sentence`` request (the backend keeps each sign as made and generates the
transitions) and keys the result as one take where Generate puts its takes, with a timeline
marker at each sign's first frame. Regenerate Selection sends the take under the playhead with
the selected bones and the preview range as the mask (``edit``) and keys the result as a new
take over the old one. Both are backend jobs (``operators._JobOperator``): progress in the
panel, Esc or Cancel stops them, and the scene changes only when the result is in.
"""
from __future__ import annotations

import json

import bpy

from ..core.motion import read_motion, write_motion
from ..core.sentence import KINDS, PanelItem, edit_mask, item_label, sentence_items, sign_markers
from ..core.takes import Take, take_name
from .animate import _joint_names, current_take, motion_from_take, name_limit, scene_fps, take_frames
from .body import find_body
from .operators import _apply_take, _JobOperator, _keys, _placement, _target, _where, _with_body, settings


def panel_items(s) -> list[PanelItem]:
    """The settings' sentence rows as plain values, file paths made absolute."""
    return [PanelItem(it.kind, it.text, bpy.path.abspath(it.path) if it.path else "", float(it.seconds),
                      float(it.transition)) for it in s.sentence_items]


class SIGNFORGE_OT_sentence_add(bpy.types.Operator):
    """Add a sign to the sentence, after the chosen one"""
    bl_idname = "signforge.sentence_add"
    bl_label = "Add Sign"
    bl_options = {"REGISTER", "UNDO"}
    kind: bpy.props.EnumProperty(name="Kind", items=list(KINDS), default="TEXT", options={"SKIP_SAVE"})
    value: bpy.props.StringProperty(name="Value", default="", options={"SKIP_SAVE"},
                                    description="The description, entry id or file")

    def execute(self, context):
        s = settings(context)
        row = s.sentence_items.add()
        row.kind = self.kind
        if self.kind == "MOTION":
            row.path = self.value
        else:
            row.text = self.value
        end = len(s.sentence_items) - 1
        at = min(s.sentence_index + 1, end) if end > 0 else 0
        s.sentence_items.move(end, at)
        s.sentence_index = at
        return {"FINISHED"}


class SIGNFORGE_OT_sentence_remove(bpy.types.Operator):
    """Remove the chosen sign from the sentence"""
    bl_idname = "signforge.sentence_remove"
    bl_label = "Remove Sign"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return len(settings(context).sentence_items) > 0

    def execute(self, context):
        s = settings(context)
        if not 0 <= s.sentence_index < len(s.sentence_items):
            self.report({"ERROR"}, "choose a sign in the sentence list first")
            return {"CANCELLED"}
        s.sentence_items.remove(s.sentence_index)
        s.sentence_index = max(0, min(s.sentence_index, len(s.sentence_items) - 1))
        return {"FINISHED"}


class SIGNFORGE_OT_sentence_move(bpy.types.Operator):
    """Move the chosen sign earlier or later in the sentence"""
    bl_idname = "signforge.sentence_move"
    bl_label = "Move Sign"
    bl_options = {"REGISTER", "UNDO"}
    direction: bpy.props.EnumProperty(name="Direction", items=[("UP", "Up", "Earlier"), ("DOWN", "Down", "Later")],
                                      default="UP")

    @classmethod
    def poll(cls, context):
        return len(settings(context).sentence_items) > 1

    def execute(self, context):
        s = settings(context)
        i = s.sentence_index
        j = i - 1 if self.direction == "UP" else i + 1
        if not (0 <= i < len(s.sentence_items) and 0 <= j < len(s.sentence_items)):
            return {"CANCELLED"}
        s.sentence_items.move(i, j)
        s.sentence_index = j
        return {"FINISHED"}


class SIGNFORGE_OT_sentence_build(_JobOperator, bpy.types.Operator):
    """Sign the sentence: each sign kept as made, joined by generated transitions, as one take at the playhead
    with a timeline marker per sign"""
    bl_idname = "signforge.sentence_build"
    bl_label = "Build Sentence"
    label = "Sentence"

    def requests(self, context):
        s = settings(context)
        items = sentence_items(panel_items(s))
        params = {"items": items, "seed": int(s.sentence_seed), "hand": s.hand, "steps": int(s.sentence_steps),
                  "out": str(self._folder / "sentence.npz")}
        self._markers = bool(s.sentence_markers)   # fixed now, like the take
        return _with_body(context, self._folder, ("sentence", params))

    def take(self, context, requests):
        params = requests[-1][1]
        labels = [item_label(r) for r in panel_items(settings(context))]
        props = {"sentence_items": json.dumps(params["items"]), "seed": params["seed"], "steps": params["steps"],
                 "hand": params["hand"]}
        return Take(take_name(" / ".join(labels), "sentence", limit=name_limit()), props, **_placement(context))

    def apply(self, context, job):
        result = job.result(-1)
        motion = read_motion(result["path"])   # a bad file is refused before the scene changes
        spans = result.get("spans") or []
        arm = _target(context, job)
        action = _apply_take(context, arm, motion, self._take, self._take.name)
        marks = sign_markers(spans, take_frames(action)[0], motion.fps, scene_fps(context.scene))
        if self._markers:
            for name, frame in marks:
                context.scene.timeline_markers.new(name, frame=frame)
        signs = len(marks)
        return (f"Built a sentence of {signs} sign(s), {motion.frames} frames: {action.name}{_where(arm, self._take)}"
                f"{', a marker per sign' if self._markers else ''}{_keys([action], self._take)}")


def _selected_bones(arm) -> list[str]:
    """The armature's selected pose bones (Blender 5 keeps the flag on the pose bone, 4.x on the bone)."""
    return [pb.name for pb in arm.pose.bones if getattr(pb, "select", None) or
            (not hasattr(pb, "select") and pb.bone.select)]


class SIGNFORGE_OT_regenerate_selection(_JobOperator, bpy.types.Operator):
    """Regenerate the selected bones over the preview range of the take under the playhead from the text,
    keeping the rest of it exact, as a new take over it"""
    bl_idname = "signforge.regenerate_selection"
    bl_label = "Regenerate Selection"
    label = "Regenerate Selection"

    def requests(self, context):
        s = settings(context)
        text = " ".join(s.edit_text.split())
        if not text:
            raise ValueError("Regenerate Selection: type what the selection should sign in 'Redo as'")
        arm = find_body(context)
        if arm is None:
            raise ValueError("Regenerate Selection: there is no SignForge armature")
        scene = context.scene
        action, slot = current_take(arm, scene.frame_current)
        if action is None:
            raise ValueError("Regenerate Selection: the armature has no take at the playhead")
        first, last = take_frames(action)
        motion = motion_from_take(context, arm, action, slot)   # at the rate it is keyed at: kept keys come back as they are
        preview = (scene.frame_preview_start, scene.frame_preview_end) if scene.use_preview_range else None
        mask = edit_mask((first, last), preview, _selected_bones(arm), _joint_names(arm))
        if mask.ignored:
            self.report({"WARNING"}, f"{self.label}: kept {', '.join(mask.ignored)} as they are (HandMDM does not "
                                     f"generate the legs, root or eyes)")
        src = self._folder / "take.npz"
        write_motion(motion, src)
        self._source = (action.name, first, mask.describe())
        params = {"motion": str(src), "text": text, "seed": int(s.edit_seed), "hand": s.hand,
                  "steps": int(s.sentence_steps), "out": str(self._folder / "edited.npz"), **mask.params()}
        return [("edit", params)]

    def take(self, context, requests):
        name, first, what = self._source
        params = requests[0][1]
        props = {"edit_of": name, "edit_text": params["text"], "edit_mask": what, "seed": params["seed"]}
        place = {**_placement(context), "frame": first}   # over the take it redoes
        return Take(take_name(f"{name} redo", limit=name_limit()), props, **place)

    def apply(self, context, job):
        motion = read_motion(job.result(0)["path"])
        arm = find_body(context)
        if arm is None:
            raise ValueError("the SMPL-X armature was removed while the job ran")
        action = _apply_take(context, arm, motion, self._take, self._take.name)
        return (f"Regenerated {self._source[2]} of {self._source[0]!r} into {action.name}"
                f"{_where(arm, self._take)}{_keys([action], self._take)}")


class SIGNFORGE_UL_sentence(bpy.types.UIList):
    """The sentence's signs in order, each editable in place."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.label(text=f"{index + 1}", icon={"TEXT": "FONT_DATA", "ENTRY": "BOOKMARKS"}.get(item.kind, "ACTION"))
        row.prop(item, "path" if item.kind == "MOTION" else "text", text="", emboss=False)


CLASSES = (SIGNFORGE_OT_sentence_add, SIGNFORGE_OT_sentence_remove, SIGNFORGE_OT_sentence_move,
           SIGNFORGE_OT_sentence_build, SIGNFORGE_OT_regenerate_selection, SIGNFORGE_UL_sentence)
