"""The generators and their judges (HandMDM, SignAvatar, THMR, ST-GCN); ``training/`` trains them."""
from .handmdm import HandMDM, HandMDMConfig
from .signavatar import SignAvatar, SignAvatarConfig, curriculum_ratio
from .stgcn import STGCN, STGCNConfig
from .thmr import THMR, THMRConfig, THMRScorer

__all__ = ["HandMDM", "HandMDMConfig", "STGCN", "STGCNConfig", "SignAvatar", "SignAvatarConfig", "THMR",
           "THMRConfig", "THMRScorer", "curriculum_ratio"]
