"""Add-on preferences: where the backend runs and what it loads. Imports bpy."""
from __future__ import annotations

import bpy

from . import ADDON_ID


class SignForgePreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    backend_python: bpy.props.StringProperty(
        name="Backend Python", subtype="FILE_PATH",
        description="Python interpreter with SignForge's backend installed (e.g. the repository's "
                    ".venv/bin/python). Empty: Blender's own Python if it can import the backend, "
                    "else the repository's .venv")
    backend_mode: bpy.props.EnumProperty(
        name="Backend", default="auto",
        items=[("auto", "Automatic", "In Blender's Python when it can import torch and the backend, "
                                     "else a subprocess"),
               ("in_process", "In Blender", "Run the backend inside Blender's Python"),
               ("subprocess", "Subprocess", "Run `python -m backend.server` with the Backend Python")])
    remote_address: bpy.props.StringProperty(
        name="Remote backend",
        description="HOST:PORT of a shared backend started with `python -m backend.server --listen HOST:PORT "
                    "--token-file FILE`. Empty: run the backend on this machine")
    remote_token: bpy.props.StringProperty(
        name="Token", subtype="PASSWORD",
        description="The remote backend's token (the first line of its --token-file). Empty: $SIGNFORGE_TOKEN")
    smplx_path: bpy.props.StringProperty(
        name="SMPL-X model", subtype="FILE_PATH",
        description="Your SMPLX_NEUTRAL.npz (or its folder). Empty: SignForge's built-in mannequin")
    checkpoint_dir: bpy.props.StringProperty(
        name="Checkpoints", subtype="DIR_PATH",
        description="Folder holding trained run folders named handmdm/ and signavatar/. Empty: the "
                    "weights shipped with the backend")
    install_wheels: bpy.props.StringProperty(
        name="Wheel folder", subtype="DIR_PATH",
        description="Install Backend offline from this folder of wheels (`pip download -r requirements.txt -d "
                    "FOLDER` on a machine with the network; the add-on's backend_wheel/requirements.txt). "
                    "Empty: download from the package index")
    install_python: bpy.props.StringProperty(
        name="Base Python", subtype="FILE_PATH",
        description="The Python 3.11 Install Backend makes the backend's environment with. Empty: Blender's own")
    device: bpy.props.EnumProperty(
        name="Device", default="cpu",
        items=[("cpu", "CPU", "Run the models on the CPU"),
               ("cuda", "CUDA GPU", "Run the models on the first CUDA GPU")])

    def draw(self, context):
        draw_preferences(self.layout, self)


def draw_preferences(layout, prefs) -> None:
    col = layout.column()
    col.prop(prefs, "remote_address")
    token = col.row()
    token.prop(prefs, "remote_token")
    token.enabled = bool(prefs.remote_address.strip())
    local = col.column()
    local.enabled = not prefs.remote_address.strip()   # a remote backend replaces the local one
    local.prop(prefs, "backend_mode")
    local.prop(prefs, "backend_python")
    col.prop(prefs, "smplx_path")
    col.prop(prefs, "checkpoint_dir")
    col.prop(prefs, "device")
    from . import install   # the Install Backend box

    install.draw(local, prefs)


def get(context=None):
    """This add-on's preferences (by package name, never a hard-coded id)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon is not None else None
