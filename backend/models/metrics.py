"""Evaluation metrics, written once: retrieval recall, FID, Diversity, Multimodality, jerk.

- ``retrieval_recall``: R@k text->motion and motion->text over a similarity matrix, in
  batches of 32 as in TMR's protocol (each batch's own texts and motions, averaged).
- ``fid``: Fréchet distance between two feature sets (Gaussian fits).
- ``diversity``: mean distance between ``S_d`` random pairs of features (SignAvatar: 200).
- ``multimodality``: per class, mean distance between ``S_l`` random pairs of generations
  of that class (SignAvatar: 20), averaged over classes.
- ``jerk``: mean magnitude of the third time-derivative of joint positions.
numpy; never bpy.
"""
from __future__ import annotations

import numpy as np


def recall_at_k(sim: np.ndarray, ks=(1, 3, 10)) -> dict[str, float]:
    """``sim[i, j]``: similarity of query i to candidate j; the true match of i is j = i."""
    sim = np.asarray(sim, float)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError(f"recall needs a square similarity matrix; got {sim.shape}")
    true = np.diag(sim)[:, None]
    rank = (sim > true).sum(1)          # candidates scored strictly higher than the truth
    return {f"R@{k}": float((rank < k).mean()) for k in ks}


def retrieval_recall(text_emb: np.ndarray, motion_emb: np.ndarray, batch: int = 32,
                     ks=(1, 3, 10)) -> dict[str, float]:
    """TMR protocol: cosine similarities within consecutive batches of ``batch`` pairs."""
    t = _normalize(text_emb)
    m = _normalize(motion_emb)
    if len(t) != len(m):
        raise ValueError(f"{len(t)} texts but {len(m)} motions")
    n = (len(t) // batch) * batch
    if n == 0:
        raise ValueError(f"retrieval needs at least {batch} pairs; got {len(t)}")
    out: dict[str, list[float]] = {}
    for s in range(0, n, batch):
        sim = t[s:s + batch] @ m[s:s + batch].T
        for name, v in recall_at_k(sim, ks).items():
            out.setdefault(f"t2m_{name}", []).append(v)
        for name, v in recall_at_k(sim.T, ks).items():
            out.setdefault(f"m2t_{name}", []).append(v)
    return {k: float(np.mean(v)) for k, v in out.items()}


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, float)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets a (N, D) and b (M, D)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"FID needs two (N, D) sets with the same D; got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("FID needs at least two samples per set")
    mu1, mu2 = a.mean(0), b.mean(0)
    c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    c1, c2 = np.atleast_2d(c1), np.atleast_2d(c2)
    # trace of sqrt(c1 c2) from the eigenvalues of sqrt(c1) c2 sqrt(c1) (symmetric, stable)
    w, v = np.linalg.eigh(c1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = np.linalg.eigvalsh(root1 @ c2 @ root1)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.sqrt(np.clip(middle, 0, None)).sum())


def diversity(features: np.ndarray, pairs: int = 200, seed: int = 0) -> float:
    """Mean Euclidean distance between ``pairs`` random pairs of feature vectors."""
    x = np.asarray(features, float)
    if len(x) < 2:
        raise ValueError("diversity needs at least two samples")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(x), pairs)
    j = (i + rng.integers(1, len(x), pairs)) % len(x)   # never a sample with itself
    return float(np.linalg.norm(x[i] - x[j], axis=1).mean())


def multimodality(features: np.ndarray, labels: np.ndarray, pairs: int = 20, seed: int = 0) -> float:
    """Per class, mean distance between ``pairs`` random pairs of that class; averaged."""
    x, y = np.asarray(features, float), np.asarray(labels)
    rng = np.random.default_rng(seed)
    per_class = []
    for c in np.unique(y):
        members = x[y == c]
        if len(members) < 2:
            continue
        i = rng.integers(0, len(members), pairs)
        j = (i + rng.integers(1, len(members), pairs)) % len(members)
        per_class.append(np.linalg.norm(members[i] - members[j], axis=1).mean())
    if not per_class:
        raise ValueError("multimodality needs a class with at least two samples")
    return float(np.mean(per_class))


def jerk(positions: np.ndarray, fps: float) -> float:
    """Mean |d³x/dt³| of joint positions (T, J, 3), in m/s³: lower is smoother."""
    p = np.asarray(positions, float)
    if len(p) < 4:
        raise ValueError("jerk needs at least four frames")
    third = np.diff(p, n=3, axis=0) * fps ** 3
    return float(np.linalg.norm(third, axis=-1).mean())
