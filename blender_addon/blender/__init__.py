"""The Blender shell: preferences, settings, operators and the sidebar. Imports bpy.

``ADDON_ID`` is the extension's package name as Blender installed it (for example
``bl_ext.user_default.signforge``), never a hard-coded string.
"""
from __future__ import annotations

ADDON_ID = __package__.rpartition(".")[0]


def _classes():
    from . import install, operators, panel, prefs, props, retarget, sentence, takelist

    return (prefs.SignForgePreferences, props.SignForgeSentenceItem, props.SignForgeSettings, props.SignForgeStatus,
            *operators.CLASSES, *install.CLASSES, *takelist.CLASSES, *retarget.CLASSES, *sentence.CLASSES,
            *panel.CLASSES)


def register() -> None:
    import bpy

    from . import props, session

    session.sweep()   # what a crashed session left in the add-on's temp folder
    for cls in _classes():
        bpy.utils.register_class(cls)
    bpy.types.Scene.signforge = bpy.props.PointerProperty(type=props.SignForgeSettings)
    bpy.types.WindowManager.signforge_status = bpy.props.PointerProperty(type=props.SignForgeStatus)


def unregister() -> None:
    import bpy

    from . import install, operators, session

    install.cancel_running()
    job = operators._ACTIVE["job"]
    if job is not None:
        job.cancel()
        operators._ACTIVE["job"] = None
    session.shutdown()
    del bpy.types.WindowManager.signforge_status
    del bpy.types.Scene.signforge
    for cls in reversed(_classes()):
        bpy.utils.unregister_class(cls)
