"""The Motion type that every producer returns and every consumer takes."""
from .motion import Motion, MotionError

__all__ = ["Motion", "MotionError"]
