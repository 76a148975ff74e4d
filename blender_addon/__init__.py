"""SignForge, the Blender extension: text and video to SMPL-X signing on an armature.

The package splits in two (see README.md here): ``core/`` never imports ``bpy`` (the
JSON-lines protocol, the backend client, motion maths for keyframes), ``blender/`` is the
thin shell of properties, operators and panels. Importing this package does not import
``bpy``, so the backend and the tests can use ``core`` outside Blender; Blender calls
``register``/``unregister``.
"""


def register() -> None:
    from .blender import register as _register

    _register()


def unregister() -> None:
    from .blender import unregister as _unregister

    _unregister()
