"""The generators and their judges (HandMDM, SignAvatar, THMR; more land with the models issue)."""
from .handmdm import HandMDM, HandMDMConfig
from .signavatar import SignAvatar, SignAvatarConfig, curriculum_ratio
from .thmr import THMR, THMRConfig, THMRScorer

__all__ = ["HandMDM", "HandMDMConfig", "SignAvatar", "SignAvatarConfig", "THMR", "THMRConfig", "THMRScorer",
           "curriculum_ratio"]
