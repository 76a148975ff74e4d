"""SignForge backend: body model, motion type and files, and (later) the generators.

Importable without bpy. Heavy dependencies (torch, smplx) load on first use.
"""
__version__ = "0.1.0"
