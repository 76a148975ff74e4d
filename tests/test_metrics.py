"""Metrics on inputs whose answers are known."""
from __future__ import annotations

import numpy as np
import pytest

from backend.models import metrics as M


def test_recall_on_a_known_ranking():
    sim = np.array([[0.9, 0.1, 0.0], [0.8, 0.5, 0.1], [0.0, 0.2, 0.1]])
    r = M.recall_at_k(sim, ks=(1, 2, 3))
    # ranks of the truth: row 0 -> 0, row 1 -> 1 (0.8 above 0.5), row 2 -> 1 (0.2 above 0.1)
    assert r == {"R@1": 1 / 3, "R@2": 1.0, "R@3": 1.0}


def test_retrieval_perfect_and_chance(rng):
    emb = rng.normal(size=(64, 16))
    perfect = M.retrieval_recall(emb, emb)
    assert perfect["t2m_R@1"] == perfect["m2t_R@1"] == 1.0
    chance = M.retrieval_recall(rng.normal(size=(3200, 16)), rng.normal(size=(3200, 16)))
    assert abs(chance["t2m_R@1"] - 1 / 32) < 0.01 and abs(chance["t2m_R@3"] - 3 / 32) < 0.02
    with pytest.raises(ValueError, match="at least 32"):
        M.retrieval_recall(emb[:10], emb[:10])


def test_fid_known_gaussians(rng):
    a = rng.normal(size=(20000, 3))
    assert M.fid(a, a) == pytest.approx(0.0, abs=1e-8)
    b = rng.normal(size=(20000, 3)) * 2 + np.array([1.0, 0.0, 0.0])
    # |mu|^2 + tr(I + 4I - 2*2I) = 1 + 3
    assert M.fid(a, b) == pytest.approx(4.0, rel=0.03)
    with pytest.raises(ValueError, match="same D"):
        M.fid(a, rng.normal(size=(10, 4)))


def test_diversity_and_multimodality_known_distances():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    assert M.diversity(x, pairs=50) == pytest.approx(5.0)
    feats = np.array([[0.0], [1.0], [10.0], [14.0]])
    labels = np.array([0, 0, 1, 1])
    assert M.multimodality(feats, labels, pairs=20) == pytest.approx((1.0 + 4.0) / 2)


def test_jerk_of_a_cubic_and_a_line():
    t = np.arange(50) / 25.0
    line = np.stack([t, 0 * t, 0 * t], -1)[:, None]
    cubic = np.stack([t ** 3, 0 * t, 0 * t], -1)[:, None]
    assert M.jerk(line, 25.0) == pytest.approx(0.0, abs=1e-6)
    assert M.jerk(cubic, 25.0) == pytest.approx(6.0, rel=1e-6)
