"""Variant assignment: for a word with several dictionary variants, whose phonology a sample's text is written from.

``random`` is the paper's baseline; ``retrieval`` takes any scorer that implements
``MotionTextScorer`` (THMR) and picks the variant whose own description it scores
highest against the sample's motion. The true entry stays in the record, so assignment
accuracy can be measured. numpy only; the scorer brings its own model.
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from .format import DatasetError
from .plan import Spec


class MotionTextScorer(Protocol):
    """A text-motion retrieval model: higher scores mean a better match."""

    def score(self, features: np.ndarray, texts: list[str]) -> np.ndarray: ...


class RandomAssigner:
    """Pick any candidate variant of the word: the paper's baseline."""
    mode = "random"

    def assign(self, spec: Spec, features: np.ndarray, describe: Callable[[str], str]) -> str:
        cands = spec.candidates
        return cands[int(np.random.default_rng(spec.assign_seed).integers(len(cands)))]


class RetrievalAssigner:
    """Pick the candidate whose dictionary description the retrieval model scores highest."""
    mode = "retrieval"

    def __init__(self, scorer: MotionTextScorer):
        self.scorer = scorer

    def assign(self, spec: Spec, features: np.ndarray, describe: Callable[[str], str]) -> str:
        cands = spec.candidates
        if len(cands) == 1:
            return cands[0]
        scores = np.asarray(self.scorer.score(features, [describe(c) for c in cands]), float)
        if scores.shape != (len(cands),):
            raise DatasetError(f"the retrieval model returned {scores.shape} scores for {len(cands)} texts")
        return cands[int(np.argmax(scores))]


def make_assigner(mode: str, scorer: MotionTextScorer | None = None):
    if mode == "random":
        return RandomAssigner()
    if mode == "retrieval":
        if scorer is None:
            raise DatasetError("--assign retrieval needs a retrieval model (THMR); none was given. "
                               "Use --assign random, or pass --retrieval-model RUN_DIR (signforge train thmr).")
        return RetrievalAssigner(scorer)
    raise DatasetError(f"unknown assignment mode {mode!r}; choose random or retrieval")
