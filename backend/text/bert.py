"""A BERT encoder in plain torch, enough to run sentence-transformers' all-MiniLM-L6-v2.

Importing sentence-transformers costs about 3.3 s of a cold start (it pulls in scikit-learn,
scipy, torchvision, sympy and timm) for what is a 6-layer BERT, a mean over the real tokens
and a unit-length normalisation. This module is that forward and nothing else: the weights
are the model folder's ``model.safetensors`` (Hugging Face ``BertModel`` names), the
tokenizer its ``tokenizer.json`` through ``tokenizers``. Inference only: no dropout, no
pooler, no token types other than 0. torch; never bpy.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F


class _Layer(nn.Module):
    """One post-LayerNorm BERT block (Devlin et al. 2019, Fig. 1 of Vaswani et al. 2017)."""

    def __init__(self, dim: int, heads: int, hidden: int, eps: float, device=None):
        super().__init__()
        self.heads = heads

        def linear(n_in, n_out):
            return nn.Linear(n_in, n_out, device=device)

        self.query, self.key, self.value = linear(dim, dim), linear(dim, dim), linear(dim, dim)
        self.attn_out, self.attn_norm = linear(dim, dim), nn.LayerNorm(dim, eps=eps, device=device)
        self.up, self.down, self.out_norm = linear(dim, hidden), linear(hidden, dim), nn.LayerNorm(dim, eps=eps, device=device)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape

        def split(t):   # (B, L, D) -> (B, heads, L, D / heads)
            return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)

        # softmax(QK^T / sqrt(d_head)) V; padding keys are masked out (``keep``: (B, 1, 1, L) bool)
        att = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)),
                                             attn_mask=keep)
        x = self.attn_norm(x + self.attn_out(att.transpose(1, 2).reshape(b, n, d)))
        return self.out_norm(x + self.down(F.gelu(self.up(x))))   # BERT's GELU is the exact (erf) one


class Bert(nn.Module):
    """``BertModel``'s last hidden state: ``forward(ids, mask)`` -> (B, L, D) token states.

    Built uninitialised (``torch.empty``; on ``device="meta"`` nothing is allocated): the
    weights always come from a file."""

    def __init__(self, vocab: int, dim: int, layers: int, heads: int, hidden: int, positions: int,
                 types: int = 2, eps: float = 1e-12, device=None):
        super().__init__()
        # the embedding tables as plain parameters: nn.Embedding would draw 12M random numbers
        # (and on "meta" its init pulls in torch._dynamo, 1.5 s) only to have them replaced
        self.words = nn.Parameter(torch.empty(vocab, dim, device=device))
        self.positions = nn.Parameter(torch.empty(positions, dim, device=device))
        self.types = nn.Parameter(torch.empty(types, dim, device=device))
        self.norm = nn.LayerNorm(dim, eps=eps, device=device)
        self.layers = nn.ModuleList(_Layer(dim, heads, hidden, eps, device) for _ in range(layers))

    @classmethod
    def from_folder(cls, folder: str | Path, device: str = "cpu") -> "Bert":
        """The model of a Hugging Face BERT folder (``config.json`` + ``model.safetensors``)."""
        from safetensors.torch import load_file

        folder = Path(folder)
        cfg = json.loads((folder / "config.json").read_text())
        if cfg.get("model_type") != "bert" or cfg.get("hidden_act", "gelu") != "gelu" or \
                cfg.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{folder} is not a BERT with absolute positions and GELU")
        model = cls(cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
                    cfg["intermediate_size"], cfg["max_position_embeddings"], cfg.get("type_vocab_size", 2),
                    cfg.get("layer_norm_eps", 1e-12), device="meta")   # the file's tensors are used as they are
        model.load_state_dict(_renamed(load_file(str(folder / "model.safetensors"))), assign=True)
        return model.to(device).eval()

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n = ids.shape[1]
        x = self.words[ids] + self.positions[:n] + self.types[0]
        x = self.norm(x)
        keep = mask.bool()[:, None, None, :]
        for layer in self.layers:
            x = layer(x, keep)
        return x


def _renamed(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Hugging Face ``BertModel`` names -> ``Bert``'s (``bert.`` prefixes dropped; the pooler and
    the stored position ids are not used)."""
    tables = {"embeddings.word_embeddings.weight": "words", "embeddings.position_embeddings.weight": "positions",
              "embeddings.token_type_embeddings.weight": "types"}
    names = {"embeddings.LayerNorm": "norm",
             "attention.self.query": "query", "attention.self.key": "key", "attention.self.value": "value",
             "attention.output.dense": "attn_out", "attention.output.LayerNorm": "attn_norm",
             "intermediate.dense": "up", "output.dense": "down", "output.LayerNorm": "out_norm"}
    out = {}
    for key, value in state.items():
        key = key.removeprefix("bert.")
        if key.startswith(("pooler.", "embeddings.position_ids")):
            continue
        if key in tables:
            out[tables[key]] = value
            continue
        key = key.replace("encoder.layer.", "layers.")
        stem, _, leaf = key.rpartition(".")
        for old, new in names.items():
            if stem.endswith(old):
                stem = stem[: -len(old)] + new
                break
        out[f"{stem}.{leaf}"] = value
    return out


def mean_pool(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sentence-transformers' ``Pooling(mean)`` then ``Normalize``: the mean of the real tokens'
    states, at unit length."""
    m = mask.to(tokens.dtype).unsqueeze(-1)
    mean = (tokens * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return F.normalize(mean, p=2, dim=1)
