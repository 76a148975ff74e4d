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


def encode(encoder: nn.TransformerEncoder, seq: torch.Tensor, keep: torch.Tensor, tail: int | None = None) -> torch.Tensor:
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
    ``scaled_dot_product_attention`` as a boolean mask over keys. One mask shared by every row
    (a batch of dropped rows alone) always runs on its kept positions. Rows must keep at least
    one position each. Masked positions' outputs are not meaningful (zeros when bucketed).

    ``tail``: only the last ``tail`` positions' outputs are wanted (B, tail, W) (HandMDM reads
    only its frames): the last layer's queries, output projection and feed-forward then run on
    those positions alone, the other positions giving it only their keys and values."""
    s = seq.shape[1]
    tail = s if tail is None else tail
    if bool(keep.all()):
        return _layers(encoder, seq, None, tail)
    masks, which = torch.unique(keep, dim=0, return_inverse=True)
    if len(masks) == 1 or (len(masks) * BUCKET_ROWS <= len(keep)
                           and bool((torch.bincount(which) >= BUCKET_ROWS).all())):
        out = seq.new_zeros(len(seq), tail, seq.shape[2])
        for k, mask in enumerate(masks):
            rows, cols = (which == k).nonzero()[:, 0], mask.nonzero()[:, 0]
            wanted = cols[cols >= s - tail]   # the kept positions of the tail: the last of ``cols``
            out[rows[:, None], (wanted - (s - tail))[None]] = _layers(encoder, seq[rows][:, cols], None, len(wanted))
        return out
    return _layers(encoder, seq, keep[:, None, None, :], tail)   # (B, 1, 1, S): True attends


def _layers(encoder: nn.TransformerEncoder, seq: torch.Tensor, mask: torch.Tensor | None,
            tail: int | None = None) -> torch.Tensor:
    """The pre-norm layers with SDPA; the last one computes only the last ``tail`` positions."""
    b, s, w = seq.shape
    x = seq
    last = len(encoder.layers) - 1
    for i, layer in enumerate(encoder.layers):
        attn = layer.self_attn
        heads = attn.num_heads
        qkv = F.linear(layer.norm1(x), attn.in_proj_weight, attn.in_proj_bias)
        q, k, v = qkv.view(b, s, 3, heads, w // heads).permute(2, 0, 3, 1, 4)   # each (B, H, S, d)
        if i == last and tail is not None and tail < s:   # the rest is read only through k and v
            q, x = q[:, :, s - tail:], x[:, s - tail:]
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + attn.out_proj(o.transpose(1, 2).reshape(b, x.shape[1], w))
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
            out = self.encoder(seq, src_key_padding_mask=~keep)[:, -frames:]
        else:
            out = encode(self.encoder, seq, keep, tail=frames)
        return self.motion_out(self.norm(out))

    def guidance_pair(self, cond: dict) -> "GuidedPair | None":
        """For classifier-free guidance over a whole sampling run: a function (x_t, t) -> the
        conditional and the unconditional x0, the work both share done once (see ``GuidedPair``);
        None where it does not apply (training, torch's layers, a frame mask or a drop given)."""
        if self.training or not self.fast_attention or cond.get("frame_mask") is not None or "drop" in cond:
            return None
        return GuidedPair(self, cond)

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


class GuidedPair:
    """HandMDM's conditional and unconditional x0 of the same x_t for one sampling run's condition.

    Classifier-free guidance asks the model twice per step, with the prompt and without it
    (its text swapped for the null token). The two differ only in their text tokens, so:

    - what depends on the run alone is made once per run, not per step: the text tokens'
      projection, and the first layer's normed keys, values and queries of the register, text
      and null tokens (their inputs never change), written once into the packed tokens that
      each step fills in;
    - what depends on the step alone is made once per step, not per half: the timestep token,
      the motion tokens' projection and their first-layer keys, values and queries;
    - the unconditional rows carry the null token alone, not the prompt's text masked out;
    - both halves (and each distinct text mask) run as one packed set of tokens through every
      linear layer, attention running per group of rows of one length, unmasked;
    - the last layer computes the motion frames alone (the only outputs read).

    The sums are ``forward``'s with ``drop`` on the second half (to ~1e-5, float order)."""

    def __init__(self, net: HandMDM, cond: dict):
        self.net = net
        layer0 = net.encoder.layers[0]
        text = net.text_in(cond["text"]) + net.kind[2]                       # (B, L, W)
        mask = cond["text_mask"].bool()
        self.rows = len(text)
        masks, which = torch.unique(mask, dim=0, return_inverse=True)
        # groups of rows of one length: each distinct text mask's conditional rows, then every
        # row unconditional (the null token alone); for each its rows and constant text tokens
        groups = [((which == k).nonzero()[:, 0], text[which == k][:, m]) for k, m in enumerate(masks)]
        groups.append((torch.arange(self.rows, device=text.device), (net.null_text + net.kind[2]).expand(self.rows, 1, -1)))
        reg = net.registers[0] + net.kind[0]                                   # (R, W)
        reg_qkv = self._qkv0(layer0, reg)
        # each group's tokens are [registers, text, step, frames]: the constant prefix and its
        # first-layer q, k, v made here, once; the order of tokens is free (no positions in
        # attention), and the frames last make the last layer's slice one piece
        self.groups = []
        for rows, words in groups:
            n = len(rows)
            every = n == self.rows and bool((rows == torch.arange(n, device=rows.device)).all())
            self.groups.append((None if every else rows, torch.cat([reg.expand(n, -1, -1), words], 1),
                                torch.cat([reg_qkv.expand(n, -1, -1), self._qkv0(layer0, words)], 1)))
        self._packed: dict[int, tuple] = {}   # frames -> the packed tokens with their prefixes in place

    @staticmethod
    def _qkv0(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        attn = layer.self_attn
        return F.linear(layer.norm1(x), attn.in_proj_weight, attn.in_proj_bias)

    def _layout(self, frames: int, like: torch.Tensor) -> tuple:
        """For ``frames`` frames: the positions' embeddings, and the packed first-layer input and
        q, k, v (N, W) and (N, 3W) with every group's constant prefix written, and each group's
        (start, rows, length); each step writes only its shared tokens into them."""
        if frames not in self._packed:
            w = self.net.cfg.width
            shapes, start = [], 0
            for _, prefix, _ in self.groups:
                n, s = prefix.shape[0], prefix.shape[1] + 1 + frames
                shapes.append((start, n, s))
                start += n * s
            x, qkv = like.new_empty(start, w), like.new_empty(start, 3 * w)
            for (_, prefix, prefix_qkv), (begin, n, s) in zip(self.groups, shapes):
                c = prefix.shape[1]
                x[begin:begin + n * s].view(n, s, w)[:, :c] = prefix
                qkv[begin:begin + n * s].view(n, s, 3 * w)[:, :c] = prefix_qkv
            positions = sinusoid(torch.arange(frames, device=like.device), w) + self.net.kind[3]
            self._packed[frames] = (positions, x, qkv, shapes)
        return self._packed[frames]

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        net = self.net
        b, frames, _ = x_t.shape
        if frames > net.cfg.max_frames:
            raise ValueError(f"{frames} frames exceed this model's {net.cfg.max_frames}")
        if b != self.rows:
            raise ValueError(f"x_t has {b} rows; the condition {self.rows}")
        w = net.cfg.width
        layers = net.encoder.layers
        positions, x, qkv, shapes = self._layout(frames, x_t)
        step = net.time_mlp(sinusoid(t, w))[:, None] + net.kind[1]                  # (B, 1, W)
        shared = torch.cat([step, net.motion_in(x_t) + positions], 1)              # (B, 1 + T, W)
        shared_qkv = self._qkv0(layers[0], shared)
        for (rows, prefix, _), (begin, n, s) in zip(self.groups, shapes):   # this step's tokens, in place
            c = prefix.shape[1]
            x[begin:begin + n * s].view(n, s, w)[:, c:] = shared if rows is None else shared[rows]
            qkv[begin:begin + n * s].view(n, s, 3 * w)[:, c:] = shared_qkv if rows is None else shared_qkv[rows]
        for i, layer in enumerate(layers):
            attn = layer.self_attn
            if i:
                qkv = F.linear(layer.norm1(x), attn.in_proj_weight, attn.in_proj_bias)
            last = i == len(layers) - 1
            outs, keep = [], []
            for begin, n, s in shapes:
                part = qkv[begin:begin + n * s].view(n, s, 3, attn.num_heads, w // attn.num_heads)
                q, k, v = part.permute(2, 0, 3, 1, 4)                              # each (n, H, s, d)
                if last:   # only the frames' outputs are read: their queries alone
                    q = q[:, :, s - frames:]
                    keep.append(x[begin:begin + n * s].view(n, s, w)[:, s - frames:].reshape(-1, w))
                o = F.scaled_dot_product_attention(q, k, v)
                outs.append(o.transpose(1, 2).reshape(-1, w))
            if last:
                x = torch.cat(keep)
            x = x + attn.out_proj(torch.cat(outs))
            x = x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))
        if net.encoder.norm is not None:
            x = net.encoder.norm(x)
        x0 = net.motion_out(net.norm(x)).view(-1, frames, x_t.shape[2])            # (sum n, T, F)
        if len(self.groups) == 2 and self.groups[0][0] is None:   # one prompt for every row
            return x0[:b], x0[b:]
        cond_x0 = torch.empty_like(x_t)
        start = 0
        for rows, _, _ in self.groups[:-1]:
            cond_x0[rows] = x0[start:start + len(rows)]
            start += len(rows)
        return cond_x0, x0[start:]


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
