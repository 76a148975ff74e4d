"""Install Backend, in the add-on preferences: the operators, their progress and the backend's folder. Imports bpy.

The work is ``core.install.Installer`` (pip in subprocesses, a log file, a private venv
swapped in only when it works); here a modal operator polls it on a timer, so Blender never
freezes, redraws the preferences with its progress, and Esc or Cancel Install stops it.
From a script (``execute``) it runs to the end. The backend's folder is the extension's user
folder (``bpy.utils.extension_path_user``, kept when the extension is updated), or Blender's
config folder when the add-on is registered from a folder. The ``network`` permission covers
the online install: it runs only with Blender's Allow Online Access on; with a Wheel folder
nothing leaves the machine.
"""
from __future__ import annotations

import os
from pathlib import Path

import bpy

from ..core import install
from . import ADDON_ID
from . import prefs as P

ADDON_DIR = Path(__file__).resolve().parent.parent
FOLDER = "backend"
_STATE: dict = {"installer": None, "status": ""}   # the running install; the last install's line


def user_root(create: bool = False) -> Path | None:
    """Where the private backend lives: the extension's user folder's ``backend/``."""
    try:
        path = bpy.utils.extension_path_user(ADDON_ID, path=FOLDER, create=create)
    except (ValueError, RuntimeError, TypeError):   # registered from a folder, not as an extension
        path = bpy.utils.user_resource("CONFIG", path=os.path.join("signforge", FOLDER), create=create)
    return Path(path) if path else None


def installed() -> Path | None:
    """The Python of the backend Install Backend made, or None."""
    return install.installed_python(user_root())


def running() -> install.Installer | None:
    inst = _STATE["installer"]
    return inst if inst is not None and not inst.finished else None


def status() -> str:
    """What the preferences show under the button: the running step, else the last result."""
    inst = running()
    return inst.message if inst is not None else _STATE["status"]


def _redraw() -> None:
    for window in bpy.context.window_manager.windows if bpy.context.window_manager else ():
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                area.tag_redraw()


def begin(wheels: str = "", base_python: str = "") -> install.Installer:
    """Start an install (its first command runs; ``poll`` it): offline from ``wheels`` when set,
    the venv made with ``base_python`` or Blender's own. ``InstallError`` (one line) if it cannot."""
    if running() is not None:
        raise install.InstallError("SignForge is already installing its backend; wait for it or cancel it")
    wheels = bpy.path.abspath(wheels) if wheels.strip() else ""
    base = bpy.path.abspath(base_python) if base_python.strip() else None
    if not wheels and not getattr(bpy.app, "online_access", True):
        raise install.InstallError("Install Backend downloads packages, and Blender's Allow Online Access is "
                                   "off: turn it on (Preferences > System > Network) or choose a Wheel folder")
    root = user_root()
    if root is None:
        raise install.InstallError("Blender has no user folder for the extension to install into")
    inst = install.Installer(install.plan(root, ADDON_DIR, base_python=base, offline=wheels or None)).start()
    _STATE["installer"] = inst
    return inst


class SIGNFORGE_OT_install_backend(bpy.types.Operator):
    """Make a private Python environment for SignForge's backend in the extension's user folder and
    install the backend and its pinned packages into it (downloaded, or from the Wheel folder)"""
    bl_idname = "signforge.install_backend"
    bl_label = "Install Backend"

    wheels: bpy.props.StringProperty(
        name="Wheel folder", subtype="DIR_PATH", options={"SKIP_SAVE"},
        description="Install offline from this folder of wheels. Empty: the preferences' Wheel folder")
    base_python: bpy.props.StringProperty(
        name="Base Python", subtype="FILE_PATH", options={"SKIP_SAVE"},
        description="The Python 3.11 to make the environment with. Empty: the preferences', else Blender's own")

    def _start(self, context) -> install.Installer | None:
        pref = P.get(context)
        try:
            return begin(self.wheels or (pref.install_wheels if pref is not None else ""),
                         self.base_python or (pref.install_python if pref is not None else ""))
        except (install.InstallError, OSError) as exc:
            _STATE["status"] = str(exc)
            self.report({"ERROR"}, str(exc))
            return None

    def _end(self, inst: install.Installer) -> set[str]:
        if inst.ok:
            from . import session

            session.close()   # the next job starts the new backend
            _STATE["status"] = inst.message
            self.report({"INFO"}, inst.message)
            return {"FINISHED"}
        _STATE["status"] = inst.error or "install failed"
        self.report({"INFO" if inst.cancelled else "ERROR"}, _STATE["status"])
        return {"CANCELLED"}

    def execute(self, context):
        inst = self._start(context)
        if inst is None:
            return {"CANCELLED"}
        return self._end(inst.wait())

    def invoke(self, context, event):
        inst = self._start(context)
        if inst is None:
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.25, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        inst = _STATE["installer"]
        if inst is None:   # the add-on was unregistered (which cancelled the install) meanwhile
            context.window_manager.event_timer_remove(self._timer)
            return {"CANCELLED"}
        if event.type == "ESC":
            inst.cancel()
        if event.type not in {"TIMER", "ESC"} and not inst.finished:
            return {"PASS_THROUGH"}
        done = inst.poll()
        _redraw()
        if not done:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        return self._end(inst)


class SIGNFORGE_OT_cancel_install(bpy.types.Operator):
    """Stop installing the backend; a backend installed before stays as it was"""
    bl_idname = "signforge.cancel_install"
    bl_label = "Cancel Install"

    @classmethod
    def poll(cls, context):
        return running() is not None

    def execute(self, context):
        inst = running()
        if inst is not None:
            inst.cancel()
        return {"FINISHED"}


def draw(layout, prefs) -> None:
    """The preferences' Install Backend box."""
    box = layout.box()
    box.label(text="Backend install", icon="PACKAGE")
    box.prop(prefs, "install_wheels")
    box.prop(prefs, "install_python")
    inst = running()
    if inst is not None:
        box.progress(factor=inst.fraction, type="BAR", text=inst.message[:90])
        box.operator("signforge.cancel_install", icon="CANCEL")
    else:
        python = installed()
        box.operator("signforge.install_backend", icon="IMPORT",
                     text="Reinstall Backend" if python is not None else "Install Backend")
        if python is not None:
            box.label(text=f"Installed: {python}")
        if _STATE["status"]:
            box.label(text=_STATE["status"][:200], icon="ERROR" if "failed" in _STATE["status"] else "INFO")
    root = user_root()
    if root is not None and (root / install.LOG).is_file():
        box.label(text=f"Log: {root / install.LOG}")


def cancel_running() -> None:
    """At unregister (also when Blender quits: it disables every add-on) stop an install, whose
    modal operator is about to lose its classes; pip runs in a process group of its own, so
    nothing else would stop it."""
    inst = running()
    if inst is not None:
        inst.cancel()
    _STATE["installer"] = None


CLASSES = (SIGNFORGE_OT_install_backend, SIGNFORGE_OT_cancel_install)
