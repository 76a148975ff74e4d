"""SignForge backend: body model, motion type and files, generators and video reconstruction.

Importable without bpy. Heavy dependencies (torch, smplx) load on first use.
``__version__`` is SignForge's one version string: pyproject.toml reads it from here, and
``blender_addon.build`` writes it into the add-on's manifest.
"""
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in ("generate", "reconstruct", "sentence", "edit"):
        # ``backend.generate(...)``: text -> motions; ``backend.reconstruct(...)``: video -> motion;
        # ``backend.sentence(...)``: signs -> one motion; ``backend.edit(...)``: a take, partly redone.
        # Both are modules that can be called, loaded on first use.
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
