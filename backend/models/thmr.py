"""THMR: text-motion retrieval in TMR's style (motion encoder + text projection, InfoNCE).

The motion encoder is a transformer over normalized 274-D frames with a learned summary
token; the text side projects a sentence encoder's tokens (MiniLM by default) with a
small transformer and its own summary token. Both land on the unit sphere of one
``embed``-wide space. Training uses a symmetric InfoNCE whose negatives skip texts that
are near-duplicates of the positive (text-embedding cosine above ``dup_threshold``), as
TMR does. ``score`` makes THMR a ``MotionTextScorer`` for the data factory's variant
assignment. torch; never bpy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from ..body.skeleton import FEATURE_DIM
from .config import PresetConfig
from .handmdm import sinusoid


@dataclass(frozen=True)
class THMRConfig(PresetConfig):
    PRESETS: ClassVar[dict] = {"paper": {},
                               "small": {"layers": 2, "width": 128, "heads": 4, "ff": 256, "embed": 128}}
    KIND: ClassVar[str] = "THMR"

    layers: int = 4
    width: int = 256
    heads: int = 4
    ff: int = 1024
    embed: int = 256
    text_dim: int = 384
    dropout: float = 0.1
    temperature: float = 0.1
    dup_threshold: float = 0.8
    max_frames: int = 196
    features: int = FEATURE_DIM


class _Summary(nn.Module):
    """Transformer with a learned summary token in front; returns the token's output."""

    def __init__(self, width, heads, ff, layers, dropout):
        super().__init__()
        self.token = nn.Parameter(torch.randn(width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, ff, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)

    def forward(self, seq, mask):
        b = len(seq)
        seq = torch.cat([self.token.expand(b, 1, -1), seq], 1)
        keep = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=seq.device), mask], 1)
        return self.norm(self.encoder(seq, src_key_padding_mask=~keep)[:, 0])


class THMR(nn.Module):
    def __init__(self, cfg: THMRConfig):
        super().__init__()
        self.cfg = cfg
        self.motion_in = nn.Linear(cfg.features, cfg.width)
        self.text_in = nn.Linear(cfg.text_dim, cfg.width)
        self.motion_enc = _Summary(cfg.width, cfg.heads, cfg.ff, cfg.layers, cfg.dropout)
        self.text_enc = _Summary(cfg.width, cfg.heads, cfg.ff, cfg.layers, cfg.dropout)
        self.motion_out = nn.Linear(cfg.width, cfg.embed)
        self.text_out = nn.Linear(cfg.width, cfg.embed)

    def encode_motion(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, 274) normalized frames (+ (B, T) mask) -> (B, embed) unit vectors."""
        b, t, _ = features.shape
        if t > self.cfg.max_frames:
            raise ValueError(f"{t} frames exceed this model's {self.cfg.max_frames}")
        if mask is None:
            mask = torch.ones(b, t, dtype=torch.bool, device=features.device)
        x = self.motion_in(features) + sinusoid(torch.arange(t, device=features.device), self.cfg.width)[None]
        return F.normalize(self.motion_out(self.motion_enc(x, mask)), dim=-1)

    def encode_text(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Sentence-encoder tokens (B, L, text_dim) + mask -> (B, embed) unit vectors."""
        x = self.text_in(tokens) + sinusoid(torch.arange(tokens.shape[1], device=tokens.device),
                                            self.cfg.width)[None]
        return F.normalize(self.text_out(self.text_enc(x, mask)), dim=-1)

    def loss(self, motion_emb: torch.Tensor, text_emb: torch.Tensor,
             text_pooled: torch.Tensor | None = None, rows: slice | None = None) -> torch.Tensor:
        """Symmetric InfoNCE; near-duplicate texts (by ``text_pooled`` cosine) are not negatives.

        ``rows`` picks the pairs this process scores against every pair of the batch: under DDP
        each rank passes the gathered global batch and its own rows, so a 2xN batch sees 2N
        negatives, and the ranks' losses average to the single-process loss of the whole batch."""
        rows = rows or slice(0, len(motion_emb))
        target = torch.arange(rows.start, rows.stop, device=motion_emb.device)
        motion_logits = motion_emb[rows] @ text_emb.T / self.cfg.temperature   # each motion vs every text
        text_logits = text_emb[rows] @ motion_emb.T / self.cfg.temperature     # each text vs every motion
        if text_pooled is not None:
            p = F.normalize(text_pooled, dim=-1)
            dup = (p[rows] @ p.T) > self.cfg.dup_threshold   # symmetric: one mask serves both directions
            dup[torch.arange(len(target), device=dup.device), target] = False
            motion_logits = motion_logits.masked_fill(dup, float("-inf"))
            text_logits = text_logits.masked_fill(dup, float("-inf"))
        return (F.cross_entropy(motion_logits, target) + F.cross_entropy(text_logits, target)) / 2


class THMRScorer:
    """THMR as the data factory's ``MotionTextScorer`` (features raw; normalized here)."""

    @classmethod
    def from_run(cls, run) -> "THMRScorer":
        """From a THMR run loaded by ``backend.runs.load_run(dir, kinds=("thmr",))`` and the text
        encoder it was trained with."""
        from ..text import load_text_encoder

        return cls(run.model, load_text_encoder(run.config.get("text_encoder", "minilm")), run.mean, run.std)

    @classmethod
    def load(cls, run_dir) -> "THMRScorer":
        """``from_run(load_run(run_dir, kinds=("thmr",)))``, for the data factory's retrieval
        assignment; a folder that cannot be used is a ``RunError`` (a ``ValueError``). The
        import of ``backend.runs`` stays inside: ``runs`` builds THMR, so THMR's module must not
        need ``runs`` to load."""
        from ..runs import load_run

        return cls.from_run(load_run(run_dir, kinds=("thmr",)))

    def __init__(self, model: THMR, text_encoder, mean, std):
        self.model = model.eval()
        self.text_encoder = text_encoder
        self.mean = torch.as_tensor(mean, dtype=torch.float32)
        self.std = torch.as_tensor(std, dtype=torch.float32)

    @torch.no_grad()
    def score(self, features, texts: list[str]):
        x = (torch.as_tensor(features, dtype=torch.float32) - self.mean) / self.std
        m = self.model.encode_motion(x[None])
        enc = self.text_encoder.encode(list(texts))
        t = self.model.encode_text(enc.tokens, enc.mask)
        return (t @ m[0]).numpy()
