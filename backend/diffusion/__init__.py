"""Diffusion: the noise schedule and samplers, separate from any network."""
from .schedule import CosineSchedule, guided, sample, sample_windows

__all__ = ["CosineSchedule", "guided", "sample", "sample_windows"]
