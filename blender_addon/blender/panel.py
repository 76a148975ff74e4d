"""The sidebar: View3D ▸ Sidebar ▸ SignForge. Imports bpy.

Each section's drawing is a plain function of a layout and plain state, so tests run it
against a recording layout without a Blender window. The Generate section shows the model's
limits from the backend's ``info`` (asked from a timer, never while drawing).
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy

from ..core.requests import offers_sampler



@dataclass(frozen=True)
class PanelState:
    has_body: bool
    body_name: str
    backend_ready: bool
    backend_message: str
    running: bool
    limits: dict | None = None   # the backend's info for the panel's model; None: not known yet


def panel_state(context) -> PanelState:
    from ..core.client import BackendError
    from . import session
    from .body import find_body

    arm = find_body(context)
    try:
        message, ready = session.describe(context), True
    except BackendError as exc:
        message, ready = str(exc), False
    running = context.window_manager.signforge_status.running
    limits = session.limits(context) if ready else None
    if ready and limits is None and not running:
        session.ask_limits_soon(context)
    return PanelState(arm is not None, arm.name if arm else "", ready, message, running, limits)


def draw_body(layout, state: PanelState) -> None:
    col = layout.column()
    if state.has_body:
        col.label(text=f"Target: {state.body_name}", icon="ARMATURE_DATA")
    else:
        col.label(text="No SMPL-X body yet (Generate adds one)", icon="INFO")
    col.operator("signforge.add_body", icon="OUTLINER_OB_ARMATURE")


def draw_generate(layout, settings, state: PanelState) -> None:
    col = layout.column()
    col.prop(settings, "prompt", text="")
    col.prop(settings, "model")
    info = state.limits if state.limits and "error" not in state.limits else None
    longest = info["longest_s"] if info else None
    row = col.row(align=True)
    row.prop(settings, "auto_length", toggle=True)
    sub = row.row(align=True)
    sub.enabled = not settings.auto_length
    sub.alert = bool(longest) and not settings.auto_length and settings.seconds > longest + 1e-6
    sub.prop(settings, "seconds")
    row.prop(settings, "variants")
    if info:
        over = sub.alert
        col.label(text=f"{'Too long: ' if over else ''}up to {longest:.1f} s with {info.get('run', '')}",
                  icon="ERROR" if over else "TIME")
    elif state.limits:
        col.label(text="Limits unknown: " + state.limits["error"][:60], icon="QUESTION")
    row = col.row(align=True)
    row.prop(settings, "guidance")
    row.prop(settings, "steps")
    if settings.model == "handmdm":
        col.prop(settings, "refine", slider=True)
        if offers_sampler(info):
            col.prop(settings, "sampler", expand=True)
    row = col.row(align=True)
    row.prop(settings, "seed")
    row.prop(settings, "hand", expand=True)
    if info and info.get("images"):
        col.prop(settings, "image_path")
    elif info:   # say why there is no Image field rather than show a dead one
        for line in _wrap(f"No image input: {info.get('images_note', '')}", 42):
            col.label(text=line)
    run = col.row()
    run.scale_y = 1.4
    run.enabled = state.backend_ready and not state.running
    run.operator("signforge.generate", icon="PLAY")


def draw_video(layout, settings, state: PanelState, quality: str = "") -> None:
    """The Video section; ``quality``: the last reconstruction's figures, a line each."""
    col = layout.column()
    col.prop(settings, "video_path", text="")
    row = col.row(align=True)
    row.prop(settings, "trim_start")
    row.prop(settings, "trim_end")
    row = col.row(align=True)
    row.prop(settings, "denoise")
    row.prop(settings, "show_clip")
    col.prop(settings, "mirror_hand")
    run = col.row()
    run.enabled = state.backend_ready and not state.running and bool(settings.video_path)
    run.operator("signforge.reconstruct", icon="FILE_MOVIE")
    for k, line in enumerate(quality.splitlines()):
        col.label(text=line, icon="INFO" if k == 0 else "BLANK1")


def draw_sentence(layout, settings, state: PanelState) -> None:
    """The Sentence section: the signs in a list (add, reorder, remove; the chosen one's fields
    below it) and Build; then Regenerate Selection, which redoes part of the take at the playhead."""
    row = layout.row()
    row.template_list("SIGNFORGE_UL_sentence", "", settings, "sentence_items", settings, "sentence_index", rows=3)
    side = row.column(align=True)
    side.operator("signforge.sentence_add", text="", icon="ADD")
    side.operator("signforge.sentence_remove", text="", icon="REMOVE")
    side.separator()
    side.operator("signforge.sentence_move", text="", icon="TRIA_UP").direction = "UP"
    side.operator("signforge.sentence_move", text="", icon="TRIA_DOWN").direction = "DOWN"
    col = layout.column()
    if 0 <= settings.sentence_index < len(settings.sentence_items):
        item = settings.sentence_items[settings.sentence_index]
        col.prop(item, "kind", expand=True)
        col.prop(item, "path" if item.kind == "MOTION" else "text", text="")
        row = col.row(align=True)
        sub = row.row(align=True)
        sub.enabled = item.kind == "TEXT"   # an entry's or a file's sign keeps its own length
        sub.prop(item, "seconds")
        sub = row.row(align=True)
        sub.enabled = settings.sentence_index > 0   # nothing moves into the first sign
        sub.prop(item, "transition")
    row = col.row(align=True)
    row.prop(settings, "sentence_seed")
    row.prop(settings, "sentence_steps")
    col.prop(settings, "sentence_markers")
    run = col.row()
    run.scale_y = 1.4
    run.enabled = state.backend_ready and not state.running and len(settings.sentence_items) > 0
    run.operator("signforge.sentence_build", icon="SEQ_STRIP_DUPLICATE")
    col.separator()
    col.label(text="Selected bones over the preview range:")
    col.prop(settings, "edit_text", text="")
    row = col.row(align=True)
    row.prop(settings, "edit_seed")
    sub = row.row(align=True)
    sub.enabled = state.has_body and state.backend_ready and not state.running
    sub.operator("signforge.regenerate_selection", icon="FILE_REFRESH")


def draw_takes(layout, settings) -> None:
    col = layout.column()
    col.prop(settings, "insert_mode", text="Insert")
    col.prop(settings, "fit_scene")
    row = col.row(align=True)
    row.prop(settings, "reduce_keys")
    sub = row.row(align=True)
    sub.enabled = settings.reduce_keys
    sub.prop(settings, "key_tolerance", text="")


def draw_take_list(layout, settings, state: PanelState) -> None:
    """The armature's takes (a UIList over the file's actions) and what to do with the chosen one."""
    row = layout.row()
    row.template_list("SIGNFORGE_UL_takes", "", bpy.data, "actions", settings, "take_index", rows=3)
    side = row.column(align=True)
    side.enabled = state.has_body
    side.operator("signforge.take_rename", text="", icon="GREASEPENCIL")
    side.operator("signforge.take_delete", text="", icon="X")
    col = layout.column(align=True)
    col.enabled = state.has_body and state.backend_ready and not state.running
    row = col.row(align=True)
    row.operator("signforge.take_regenerate", icon="FILE_REFRESH")
    row.prop(settings, "regenerate_random", text="", icon="MOD_NOISE")
    row = col.row(align=True)
    row.operator("signforge.take_variants", icon="NLA")
    row.prop(settings, "variant_count", text="")
    col.operator("signforge.take_mirror", icon="MOD_MIRROR")


def draw_files(layout, state: PanelState, settings=None) -> None:
    if settings is not None:
        layout.prop(settings, "mirror_hand")
    row = layout.row(align=True)
    row.operator("signforge.import_motion", icon="IMPORT")
    sub = row.row(align=True)
    sub.enabled = state.has_body
    sub.operator("signforge.export_motion", icon="EXPORT")


def draw_retarget(layout, settings, state: PanelState) -> None:
    col = layout.column()
    col.prop(settings, "retarget_target")
    row = col.row(align=True)
    row.prop(settings, "retarget_map")
    row.operator("signforge.save_bone_map", text="", icon="FILE_TICK")
    if settings.retarget_map == "FILE":
        col.prop(settings, "retarget_map_path", text="")
    run = col.row()
    run.enabled = state.has_body and settings.retarget_target is not None
    run.operator("signforge.retarget", icon="ARMATURE_DATA")


def draw_status(layout, status, state: PanelState) -> None:
    col = layout.column()
    if not state.backend_ready:
        col.label(text="No backend configured", icon="ERROR")
        for line in _wrap(state.backend_message, 42):
            col.label(text=line)
        return
    if status.running:
        col.prop(status, "progress", text=status.status or "Working")
        if status.stage == "loading":   # seconds at 0% the first time: say why
            col.label(text="Loading the model; the first job takes a few seconds", icon="TIME")
        col.operator("signforge.cancel", icon="CANCEL")
    else:
        col.label(text=status.status or f"Ready ({state.backend_message})", icon="CHECKMARK")
        for k, line in enumerate(_wrap(status.warning, 42)[:6]):
            col.label(text=line, icon="ERROR" if k == 0 else "BLANK1")


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


class _Panel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "SignForge"


class SIGNFORGE_PT_main(_Panel, bpy.types.Panel):
    bl_label = "SignForge"

    def draw(self, context):
        draw_status(self.layout, context.window_manager.signforge_status, panel_state(context))


class SIGNFORGE_PT_body(_Panel, bpy.types.Panel):
    bl_label = "Body"
    bl_parent_id = "SIGNFORGE_PT_main"

    def draw(self, context):
        draw_body(self.layout, panel_state(context))


class SIGNFORGE_PT_generate(_Panel, bpy.types.Panel):
    bl_label = "Generate"
    bl_parent_id = "SIGNFORGE_PT_main"

    def draw(self, context):
        draw_generate(self.layout, context.scene.signforge, panel_state(context))


class SIGNFORGE_PT_sentence(_Panel, bpy.types.Panel):
    bl_label = "Sentence"
    bl_parent_id = "SIGNFORGE_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        draw_sentence(self.layout, context.scene.signforge, panel_state(context))


class SIGNFORGE_PT_takes(_Panel, bpy.types.Panel):
    bl_label = "Takes"
    bl_parent_id = "SIGNFORGE_PT_main"

    def draw(self, context):
        draw_take_list(self.layout, context.scene.signforge, panel_state(context))
        draw_takes(self.layout, context.scene.signforge)


class SIGNFORGE_PT_video(_Panel, bpy.types.Panel):
    bl_label = "Video"
    bl_parent_id = "SIGNFORGE_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        draw_video(self.layout, context.scene.signforge, panel_state(context),
                   context.window_manager.signforge_status.quality)


class SIGNFORGE_PT_files(_Panel, bpy.types.Panel):
    bl_label = "Files"
    bl_parent_id = "SIGNFORGE_PT_main"

    def draw(self, context):
        draw_files(self.layout, panel_state(context), context.scene.signforge)


class SIGNFORGE_PT_retarget(_Panel, bpy.types.Panel):
    bl_label = "Retarget"
    bl_parent_id = "SIGNFORGE_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        draw_retarget(self.layout, context.scene.signforge, panel_state(context))


CLASSES = (SIGNFORGE_PT_main, SIGNFORGE_PT_body, SIGNFORGE_PT_generate, SIGNFORGE_PT_sentence, SIGNFORGE_PT_takes,
           SIGNFORGE_PT_video, SIGNFORGE_PT_files, SIGNFORGE_PT_retarget)
