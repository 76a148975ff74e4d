"""The batch scheduler: many signs solved in step, their arm solves batched.

A sign in progress is a generator that yields a list of solve requests (``Solve``,
``SolveOnce``, ``Clear``) and receives their answers. ``drive`` runs many such signs
round by round; ``serve`` answers every request of a round with one stacked ``Arm`` solve
per kind, which takes numpy's per-call overhead out of the per-sign cost. A sign solved
alone or in a batch gets the same answers. numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arm import Arm


@dataclass
class Solve:
    """A request from a sign in progress: ``Arm.solve`` for one path."""
    arm: Arm
    contact: np.ndarray
    hand_rot: np.ndarray
    offset: np.ndarray


@dataclass
class SolveOnce:
    """A request from a sign in progress: ``Arm.solve_once`` at the arm's chosen swing."""
    arm: Arm
    goal: np.ndarray
    hand_rot: np.ndarray
    offset: np.ndarray
    swing: float


@dataclass
class Clear:
    """A request from a sign in progress: ``Arm.clear`` for one path."""
    arm: Arm
    contact: np.ndarray
    hand_rot: np.ndarray
    offset: np.ndarray
    points: np.ndarray
    sh: np.ndarray
    el: np.ndarray
    wr: np.ndarray
    plane_v: np.ndarray
    plane_n: np.ndarray


def serve(requests: list) -> list:
    """Answer many signs' solve requests with one batched solve per kind."""
    answers: list = [None] * len(requests)
    for kind in (Solve, SolveOnce, Clear):
        idx = [i for i, r in enumerate(requests) if isinstance(r, kind)]
        if not idx:
            continue
        reqs = [requests[i] for i in idx]
        rows = [len(r.hand_rot) for r in reqs]
        arm = Arm.stack([r.arm for r in reqs], rows)
        cat = lambda name: np.concatenate([getattr(r, name) for r in reqs])  # noqa: E731
        if kind is Solve:
            out = arm.solve(cat("contact"), cat("hand_rot"), cat("offset"), segments=rows)
            swings = np.broadcast_to(arm.swing, (len(reqs),))
        elif kind is Clear:
            out = arm.clear(cat("contact"), cat("hand_rot"), cat("offset"), cat("points"), cat("sh"), cat("el"),
                            cat("wr"), (cat("plane_v"), cat("plane_n")))
        else:
            swing = np.repeat([r.swing for r in reqs], rows)[:, None]
            out = arm.solve_once(cat("goal"), cat("hand_rot"), cat("offset"), swing)[:4]
        cuts = np.cumsum(rows)[:-1]
        parts = [np.split(a, cuts) for a in out]
        for j, i in enumerate(idx):
            if kind is Solve:
                reqs[j].arm.swing = float(swings[j])
            answers[i] = tuple(p[j] for p in parts)
    return answers


def drive(signs: list) -> list:
    """Run sign generators in step: each yields a list of requests and receives their
    answers; every round's requests, across all signs, are served together."""
    results: list = [None] * len(signs)
    replies: dict = {i: None for i in range(len(signs))}
    while replies:
        asked: dict = {}
        for i, reply in replies.items():
            try:
                asked[i] = signs[i].send(reply)
            except StopIteration as done:
                results[i] = done.value
        flat = [r for i in asked for r in asked[i]]
        answers = iter(serve(flat)) if flat else iter(())
        replies = {i: [next(answers) for _ in asked[i]] for i in asked}
    return results
