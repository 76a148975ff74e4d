"""The generators and their judges (HandMDM, THMR; more land with the models issue) and metrics."""
from .handmdm import HandMDM, HandMDMConfig
from .thmr import THMR, THMRConfig, THMRScorer

__all__ = ["HandMDM", "HandMDMConfig", "THMR", "THMRConfig", "THMRScorer"]
