"""Motion files: AMASS/SMPL-X .npz, HandMDM .npy, .bvh and (written) MediaPipe Holistic .pose,
behind one load/save pair."""
from .errors import MotionFileError
from .formats import READ_SUFFIXES, WRITE_SUFFIXES, ExportOptions, load_motion, save_motion

__all__ = ["MotionFileError", "ExportOptions", "load_motion", "save_motion", "READ_SUFFIXES", "WRITE_SUFFIXES"]
