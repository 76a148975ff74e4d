"""SignForge backend: body model, motion type and files, and (later) the generators.

Importable without bpy. Heavy dependencies (torch, smplx) load on first use.
"""
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "generate":   # ``backend.generate(...)``: text -> motions, loaded on first use
        import importlib

        return importlib.import_module(".generate", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
