"""Reproduces SignForge's models from data-factory datasets (see README.md)."""
