"""Diffusion: the noise schedule and samplers, separate from any network."""
from .schedule import CosineSchedule, guided, sample

__all__ = ["CosineSchedule", "guided", "sample"]
