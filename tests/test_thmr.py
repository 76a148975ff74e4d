"""THMR: encoders, duplicate-aware InfoNCE, learning to retrieve, and its scorer role."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.models import THMR, THMRConfig, THMRScorer
from backend.models.metrics import retrieval_recall


def tiny():
    return THMR(THMRConfig.named("small", layers=1, width=32, heads=2, ff=64, embed=16, text_dim=8, dropout=0.0))


def test_embeddings_are_unit_vectors_and_ignore_padding():
    model = tiny().eval()
    x = torch.randn(2, 10, 274)
    m = model.encode_motion(x)
    assert m.shape == (2, 16) and torch.allclose(m.norm(dim=1), torch.ones(2), atol=1e-5)
    padded = torch.cat([x, torch.randn(2, 3, 274)], 1)
    mask = torch.cat([torch.ones(2, 10, dtype=torch.bool), torch.zeros(2, 3, dtype=torch.bool)], 1)
    assert torch.allclose(model.encode_motion(padded, mask), m, atol=1e-5)
    with pytest.raises(ValueError, match="exceed"):
        model.encode_motion(torch.zeros(1, 400, 274))


def test_near_duplicate_texts_are_not_negatives():
    model = tiny()
    emb = torch.nn.functional.normalize(torch.randn(3, 16), dim=-1)
    pooled = torch.tensor([[1.0, 0.0], [0.99, 0.05], [0.0, 1.0]])    # texts 0 and 1 say the same
    with_dups = model.loss(emb, emb, pooled)
    # masking a negative can only lower the loss
    assert with_dups < model.loss(emb, emb)


def test_learns_to_retrieve_paired_motions_and_texts():
    torch.manual_seed(0)
    model = tiny()
    n = 32
    g = torch.Generator().manual_seed(1)
    protos = torch.randn(n, 274, generator=g)
    motions = protos[:, None, :].expand(n, 6, 274) + 0.1 * torch.randn(n, 6, 274, generator=g)
    texts = protos[:, None, :8].expand(n, 3, 8).contiguous()        # the text "says" the motion's gist
    mask = torch.ones(n, 3, dtype=torch.bool)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(200):
        loss = model.loss(model.encode_motion(motions), model.encode_text(texts, mask))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        r = retrieval_recall(model.encode_text(texts, mask).numpy(), model.encode_motion(motions).numpy())
    assert r["t2m_R@1"] > 0.8 and r["m2t_R@1"] > 0.8


def test_scorer_ranks_texts_for_a_motion():
    from backend.text import load_text_encoder

    model = THMR(THMRConfig.named("small", layers=1, width=32, heads=2, ff=64, embed=16, dropout=0.0))
    scorer = THMRScorer(model, load_text_encoder("minilm"), np.zeros(274), np.ones(274))
    scores = scorer.score(np.random.default_rng(0).normal(size=(12, 274)),
                          ["the right hand taps the chin", "both hands circle", "a fist on the chest"])
    assert scores.shape == (3,) and np.all(np.abs(scores) <= 1.0 + 1e-6)
