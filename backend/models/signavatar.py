"""SignAvatar: a transformer CVAE (ACTOR-style) conditioned on a text or image embedding.

- Encoder: the motion frames, a projection of the condition, and two learned tokens whose
  outputs are mu and log-variance (ACTOR's distribution tokens, shifted by the condition).
- Decoder: sinusoidal time queries attend to z plus a condition bias and return frames. With
  ``cond_token`` the memory also holds the condition projection as a token of its own, next to
  z + bias, so the decoder can read the word apart from z (runs from before it: one token).
- ``z_drop``: in training, that share of the samples decode from a prior draw z ~ N(0, I)
  instead of the posterior's, so the decoder must take the word from the condition and turns
  prior draws (the ``generate`` mode) into that word's motion (0 in runs from before it).
- Loss: reconstruction (masked MSE) + ``kl_weight`` * KL(q(z|x,c) || N(0, I)).
- Curriculum masking (SignAvatar eq. 3): a share of the encoder's input frames is masked,
  rising in steps of 0.1 up to 0.6; the paper steps every 500 of 5,000 epochs, so here
  every tenth of the run (``curriculum_ratio``).
- Modes: ``reconstruct`` (encode, take mu, decode; denoises fitted video) and
  ``generate`` (z ~ N(0, I)).
torch; never bpy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ..body.skeleton import FEATURE_DIM
from .config import PresetConfig
from .handmdm import sinusoid


@dataclass(frozen=True)
class SignAvatarConfig(PresetConfig):
    # new runs get the condition token and z dropout; the field defaults keep old runs' behaviour
    NEW_RUNS: ClassVar[dict] = {"cond_token": True, "z_drop": 0.25}
    PRESETS: ClassVar[dict] = {"paper": {**NEW_RUNS},
                               "small": {"layers": 2, "width": 128, "heads": 4, "ff": 256, "latent": 64,
                                         **NEW_RUNS}}
    KIND: ClassVar[str] = "SignAvatar"

    layers: int = 8
    width: int = 256
    heads: int = 4
    ff: int = 1024
    latent: int = 256
    cond_dim: int = 512           # CLIP; 384 for MiniLM
    dropout: float = 0.1
    kl_weight: float = 1e-5
    max_mask: float = 0.6
    max_frames: int = 196
    features: int = FEATURE_DIM
    cond_token: bool = False      # decoder memory: [z + c] (False, old runs) or [z + c, c]
    z_drop: float = 0.0           # training share of samples decoded from a prior z


def curriculum_ratio(progress: float, max_mask: float = 0.6) -> float:
    """Mask ratio at ``progress`` in [0, 1] of training: 0, 0.1, ... up to ``max_mask``."""
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must lie in [0, 1]; got {progress}")
    return min(max_mask, 0.1 * int(progress * 10 + 1e-9))


class SignAvatar(nn.Module):
    def __init__(self, cfg: SignAvatarConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.motion_in = nn.Linear(cfg.features, w)
        self.cond_in = nn.Linear(cfg.cond_dim, w)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, w))
        self.dist_tokens = nn.Parameter(torch.randn(2, w) * 0.02)     # mu, log-variance
        enc_layer = nn.TransformerEncoderLayer(w, cfg.heads, cfg.ff, cfg.dropout, activation="gelu",
                                               batch_first=True)
        self.encoder = nn.TransformerEncoder(enc_layer, cfg.layers, enable_nested_tensor=False)
        self.to_mu = nn.Linear(w, cfg.latent)
        self.to_logvar = nn.Linear(w, cfg.latent)
        self.z_in = nn.Linear(cfg.latent, w)
        dec_layer = nn.TransformerDecoderLayer(w, cfg.heads, cfg.ff, cfg.dropout, activation="gelu",
                                               batch_first=True)
        self.decoder = nn.TransformerDecoder(dec_layer, cfg.layers)
        self.motion_out = nn.Linear(w, cfg.features)

    def _mask(self, b, t, device, frame_mask):
        return torch.ones(b, t, dtype=torch.bool, device=device) if frame_mask is None else frame_mask

    def encode(self, x: torch.Tensor, cond: torch.Tensor, frame_mask: torch.Tensor | None = None,
               mask_ratio: float = 0.0, generator: torch.Generator | None = None):
        """Frames (B, T, 274) and condition (B, cond_dim) -> mu, logvar (B, latent)."""
        b, t, _ = x.shape
        if t > self.cfg.max_frames:
            raise ValueError(f"{t} frames exceed this model's {self.cfg.max_frames}")
        keep = self._mask(b, t, x.device, frame_mask)
        h = self.motion_in(x)
        if mask_ratio > 0:   # curriculum: hide a share of the real frames from the encoder
            hide = (torch.rand(b, t, generator=generator) < mask_ratio).to(x.device) & keep
            h = torch.where(hide[..., None], self.mask_token.expand_as(h), h)
        h = h + sinusoid(torch.arange(t, device=x.device), self.cfg.width)[None]
        c = self.cond_in(cond)[:, None]
        seq = torch.cat([self.dist_tokens[None].expand(b, -1, -1) + c, c, h], 1)
        pad = torch.cat([torch.ones(b, 3, dtype=torch.bool, device=x.device), keep], 1)
        out = self.encoder(seq, src_key_padding_mask=~pad)
        return self.to_mu(out[:, 0]), self.to_logvar(out[:, 1])

    def decode(self, z: torch.Tensor, cond: torch.Tensor, frames: int,
               frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        b = len(z)
        w = self.cfg.width
        queries = sinusoid(torch.arange(frames, device=z.device), w)[None].expand(b, -1, -1)
        c = self.cond_in(cond)
        memory = (self.z_in(z) + c)[:, None]        # z plus a condition bias
        if self.cfg.cond_token:                      # and the condition as its own token
            memory = torch.cat([memory, c[:, None]], 1)
        keep = self._mask(b, frames, z.device, frame_mask)
        out = self.decoder(queries, memory, tgt_key_padding_mask=~keep)
        return self.motion_out(out)

    def forward(self, x, cond, frame_mask=None, mask_ratio: float = 0.0, generator=None):
        mu, logvar = self.encode(x, cond, frame_mask, mask_ratio, generator)
        eps = torch.randn(mu.shape, generator=generator).to(mu.device)
        z = mu + (0.5 * logvar).exp() * eps
        if self.training and self.cfg.z_drop > 0:   # these samples decode from the prior
            drop = (torch.rand(len(z), generator=generator) < self.cfg.z_drop).to(z.device)
            prior = torch.randn(z.shape, generator=generator).to(z.device)
            z = torch.where(drop[:, None], prior, z)
        return self.decode(z, cond, x.shape[1], frame_mask), mu, logvar

    def loss(self, x, cond, frame_mask=None, mask_ratio: float = 0.0, generator=None) -> dict:
        rec, mu, logvar = self(x, cond, frame_mask, mask_ratio, generator)
        keep = self._mask(len(x), x.shape[1], x.device, frame_mask).float()[..., None]
        recon = (((rec - x) ** 2) * keep).sum() / (keep.sum() * x.shape[-1])
        kl = kl_divergence(mu, logvar)
        return {"loss": recon + self.cfg.kl_weight * kl, "recon": recon, "kl": kl}

    @torch.no_grad()
    def reconstruct(self, x, cond, frame_mask=None) -> torch.Tensor:
        mu, _ = self.encode(x, cond, frame_mask)
        return self.decode(mu, cond, x.shape[1], frame_mask)

    @torch.no_grad()
    def generate(self, cond: torch.Tensor, frames: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(len(cond), self.cfg.latent, generator=generator).to(cond.device)
        return self.decode(z, cond, frames)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over the latent, averaged over the batch."""
    return (0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(-1)).mean()
