"""The generators and their judges: HandMDM (more land with the models issue)."""
from .handmdm import HandMDM, HandMDMConfig

__all__ = ["HandMDM", "HandMDMConfig"]
