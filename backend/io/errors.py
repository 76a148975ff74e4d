"""The error every file reader and writer raises: it names the file and the problem."""
from __future__ import annotations

import os

from ..motion import MotionError


class MotionFileError(MotionError):
    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
