"""Motion files: AMASS/SMPL-X .npz, HandMDM .npy and .bvh, behind one load/save pair."""
from .errors import MotionFileError
from .formats import READ_SUFFIXES, WRITE_SUFFIXES, load_motion, save_motion

__all__ = ["MotionFileError", "load_motion", "save_motion", "READ_SUFFIXES", "WRITE_SUFFIXES"]
