"""HandMDM's denoiser: a transformer over 274-D SMPL-X frames that predicts the clean motion.

One sequence goes through a transformer encoder: learned register tokens, a timestep
token, the projected text tokens, then the noisy motion frames with sinusoidal positions.
The frames' outputs are read back as x0 (274-D). Dropping the condition (5% of training
batches' rows, and the unconditional half under classifier-free guidance) swaps the text
tokens for one learned null token. Padding masks cover short texts and short motions.
With ``length_head`` (runs trained since the kinematic losses), a small MLP on the mean
text token predicts the motion's log frame count, so generation can take its length
from the text; older runs have no head and keep a fixed default length. torch; never bpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..body.skeleton import FEATURE_DIM
from .config import PresetConfig


@dataclass(frozen=True)
class HandMDMConfig(PresetConfig):
    PRESETS: ClassVar[dict] = {"paper": {},
                               "small": {"layers": 4, "width": 128, "heads": 4, "ff": 256, "registers": 2}}
    KIND: ClassVar[str] = "HandMDM"

    layers: int = 8
    width: int = 512
    heads: int = 8
    ff: int = 2048
    dropout: float = 0.1
    registers: int = 4
    text_dim: int = 384          # MiniLM tokens; 512 for CLIP
    max_frames: int = 196
    features: int = FEATURE_DIM
    cond_drop: float = 0.05
    length_head: bool = False    # False in runs from before the head: their weights have none
    frame_step: int = 1          # the model's frames are every frame_step-th frame at 25 fps

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.frame_step <= 8:
            raise ValueError(f"HandMDM frame_step={self.frame_step} is outside 1..8")

    @property
    def longest(self) -> int:
        """The longest take in 25 fps frames."""
        return (self.max_frames - 1) * self.frame_step + 1

    def model_frames(self, frames: int) -> int:
        """Model frames that cover ``frames`` frames at 25 fps (the last one included)."""
        return model_frames(frames, self.frame_step)


def model_frames(frames: int, step: int) -> int:
    """Frames every ``step``-th that cover ``frames`` frames at 25 fps (the last one included)."""
    return (frames - 1 + step - 1) // step + 1


def sinusoid(positions: torch.Tensor, width: int) -> torch.Tensor:
    """(N,) positions or steps -> (N, width) sinusoidal embedding."""
    half = width // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half).to(positions.device)
    angles = positions.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], -1)


BUCKET_ROWS = 4   # rows per distinct mask from which ``encode`` runs each mask's rows apart


def encode(encoder: nn.TransformerEncoder, seq: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``encoder``'s pre-norm layers at inference, with scaled-dot-product attention.

    The same sums as ``encoder(seq, src_key_padding_mask=~keep)`` without dropout (to ~1e-5 at
    the kept positions), in a kernel that stays fast under a mask: the padding mask made torch's
    encoder layer fall back to masked softmax attention (issue 21: guidance's one batch of
    conditional and unconditional rows was barely faster than two passes). ``keep`` (B, S)
    bool is dropped when every row keeps every position (the same length throughout). Else,
    when the rows share a few masks with at least ``BUCKET_ROWS`` rows each (guidance's
    conditional rows and its dropped ones, which keep one text token of the prompt's), each
    mask's rows run together on only their kept positions, unmasked: the dropped rows lose
    their padding's cost (1.14x at 4 variants, 1.29x at 16, measured on 2 shared cores; with
    fewer rows the extra pass costs more than it saves). Otherwise ``keep`` goes to
    ``scaled_dot_product_attention`` as a boolean mask over keys. Rows must keep at least one
    position each. Masked positions' outputs are not meaningful (zeros when bucketed)."""
    if bool(keep.all()):
        return _layers(encoder, seq, None)
    masks, which = torch.unique(keep, dim=0, return_inverse=True)
    if len(masks) * BUCKET_ROWS <= len(keep) and bool((torch.bincount(which) >= BUCKET_ROWS).all()):
        out = torch.zeros_like(seq)
        for k, mask in enumerate(masks):
            rows, cols = (which == k).nonzero()[:, 0], mask.nonzero()[:, 0]
            out[rows[:, None], cols[None]] = _layers(encoder, seq[rows][:, cols], None)
        return out
    return _layers(encoder, seq, keep[:, None, None, :])   # (B, 1, 1, S): True attends


def _layers(encoder: nn.TransformerEncoder, seq: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    b, s, w = seq.shape
    x = seq
    for layer in encoder.layers:
        attn = layer.self_attn
        heads = attn.num_heads
        qkv = F.linear(layer.norm1(x), attn.in_proj_weight, attn.in_proj_bias)
        q, k, v = qkv.view(b, s, 3, heads, w // heads).permute(2, 0, 3, 1, 4)   # each (B, H, S, d)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + attn.out_proj(o.transpose(1, 2).reshape(b, s, w))
        x = x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))
    return x if encoder.norm is None else encoder.norm(x)


class HandMDM(nn.Module):
    # Inference through ``encode`` (False: torch's encoder layers, as training always runs them)
    fast_attention: bool = True

    def __init__(self, cfg: HandMDMConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.motion_in = nn.Linear(cfg.features, w)
        self.motion_out = nn.Linear(w, cfg.features)
        self.text_in = nn.Linear(cfg.text_dim, w)
        self.null_text = nn.Parameter(torch.zeros(1, 1, w))
        self.registers = nn.Parameter(torch.randn(1, cfg.registers, w) * 0.02)
        self.time_mlp = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.kind = nn.Parameter(torch.zeros(4, w))   # register, time, text, motion
        layer = nn.TransformerEncoderLayer(w, cfg.heads, cfg.ff, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(w)
        self.length_mlp = nn.Sequential(nn.Linear(cfg.text_dim, w), nn.SiLU(), nn.Linear(w, 1)) \
            if cfg.length_head else None

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: dict) -> torch.Tensor:
        """x_t (B, T, 274), t (B,) steps, cond: ``text`` (B, L, text_dim), ``text_mask`` (B, L)
        bool, optional ``frame_mask`` (B, T) bool and ``drop`` (B,) bool -> x0 (B, T, 274)."""
        b, frames, _ = x_t.shape
        if frames > self.cfg.max_frames:
            raise ValueError(f"{frames} frames exceed this model's {self.cfg.max_frames}")
        w = self.cfg.width
        text = self.text_in(cond["text"])
        text_mask = cond["text_mask"]
        drop = cond.get("drop")
        if drop is not None:   # dropped rows see only the null token (always in the graph, for DDP)
            text = torch.where(drop[:, None, None], self.null_text.expand_as(text), text)
            text_mask = text_mask.clone()
            text_mask[drop] = False
            text_mask[drop, 0] = True
        frame_mask = cond.get("frame_mask")
        if frame_mask is None:
            frame_mask = torch.ones(b, frames, dtype=torch.bool, device=x_t.device)
        steps = self.time_mlp(sinusoid(t, w))[:, None]
        motion = self.motion_in(x_t) + sinusoid(torch.arange(frames, device=x_t.device), w)[None]
        seq = torch.cat([self.registers.expand(b, -1, -1) + self.kind[0], steps + self.kind[1],
                         text + self.kind[2], motion + self.kind[3]], 1)
        keep = torch.cat([torch.ones(b, self.cfg.registers + 1, dtype=torch.bool, device=x_t.device),
                          text_mask, frame_mask], 1)
        if self.training or not self.fast_attention:   # dropout in attention: torch's layers
            out = self.encoder(seq, src_key_padding_mask=~keep)
        else:
            out = encode(self.encoder, seq, keep)
        return self.motion_out(self.norm(out[:, -frames:]))

    def training_drop(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Which rows lose their condition this step (``cond_drop`` of them, 5% in the paper)."""
        return torch.rand(batch, generator=generator) < self.cfg.cond_drop

    def log_frames(self, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """(B,) predicted log frame count from the mean of each text's real tokens (needs ``length_head``)."""
        m = text_mask.to(text.dtype)[..., None]
        pooled = (text * m).sum(1) / m.sum(1).clamp_min(1.0)
        return self.length_mlp(pooled)[:, 0]

    def auto_frames(self, text: torch.Tensor, text_mask: torch.Tensor, low: int) -> int | None:
        """The 25 fps frame count the text asks for (the first row's), in [``low``, ``longest``]
        (``longest`` when that is shorter than ``low``); None when this run has no length head."""
        if self.length_mlp is None:
            return None
        high = self.cfg.longest
        low = min(low, high)
        model = self.log_frames(text[:1], text_mask[:1]).exp().nan_to_num(1.0)
        frames = ((model - 1) * self.cfg.frame_step + 1).clamp(low, high)
        return int(round(float(frames)))


def upsample(x: torch.Tensor, step: int, frames: int) -> torch.Tensor:
    """(B, M, F) frames every ``step``-th frame -> (B, ``frames``, F) at the full rate.

    A Catmull-Rom cubic through the samples (each end continued by a straight line): it passes
    through every model frame and its velocity is continuous, so no kinks every ``step``
    frames (linear interpolation would put a jerk spike at each)."""
    if step == 1:
        return x[:, :frames]
    if x.shape[1] < 2:
        return x[:, :1].expand(-1, frames, -1)
    padded = torch.cat([2 * x[:, :1] - x[:, 1:2], x, 2 * x[:, -1:] - x[:, -2:-1]], 1)
    m = x.shape[1]
    pos = torch.arange(frames, dtype=x.dtype, device=x.device) / step
    i = pos.floor().long().clamp(max=m - 1)
    u = (pos - i.to(x.dtype))[None, :, None]
    idx = lambda k: padded[:, (i + k + 1).clamp(0, m + 1)]   # noqa: E731
    p0, p1, p2, p3 = idx(-1), idx(0), idx(1), idx(2)
    return 0.5 * (2 * p1 + (p2 - p0) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u ** 2
                  + (3 * p1 - p0 - 3 * p2 + p3) * u ** 3)
