"""The learned scene parser: free English text -> the ``Scene`` the text grammar writes from.

``SceneParserNet`` reads MiniLM token states (a projection, a small transformer encoder,
one attention-pooling query and one linear head per field); ``SceneParser`` wraps it with
its label vocabularies and the encoder, and ``parse(text)`` returns a ``Parsed``: the scene,
each field's confidence (its top softmax probability) and ``probs(field)`` for the
runner-ups. ``scene_labels`` / ``scene_from_labels`` are the one mapping between a
``Scene`` and the per-field class labels (training uses the first). ``load_parser()``
loads ``backend/weights/scene-parser``, sha256-checked against the manifest like every
shipped run. May import torch; never bpy.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..data.text import Scene
from ..runs import CONFIG, FORMAT_VERSION, WEIGHTS, RunError, _line, load_weights, verify_manifest

KIND = "scene-parser"
SHIPPED_PARSER = WEIGHTS / KIND
# the fields the parser predicts, in head order; palm and repeated are not predicted
FIELDS = ("side", "hands", "shape", "base_shape", "place", "place_side", "contact", "action", "dirs", "count",
          "then", "then_dirs", "then_count", "fingers")
NONE = "none"        # the label of an empty field ("" shape, no place side, no second movement...)
NEUTRAL = "neutral"  # place None: neutral space
MAX_COUNT = 4        # counts of 4 and more are one class, "4+"


class ParseError(RunError):
    """A prompt the parser cannot read, or parser weights that cannot be used; one line."""


def _count_label(n: int) -> str:
    return f"{MAX_COUNT}+" if n >= MAX_COUNT else str(n)


def scene_labels(scene: Scene) -> dict[str, str]:
    """Each predicted field of ``scene`` as a class label (directions: the first two, joined)."""
    return {"side": scene.side, "hands": scene.hands, "shape": scene.shape or NONE,
            "base_shape": scene.base_shape or NONE, "place": scene.place or NEUTRAL,
            "place_side": scene.place_side or NONE, "contact": "yes" if scene.contact else "no",
            "action": scene.action, "dirs": ",".join(scene.dirs[:2]) or NONE, "count": _count_label(scene.count),
            "then": scene.then or NONE, "then_dirs": ",".join(scene.then_dirs[:2]) or NONE,
            "then_count": _count_label(scene.then_count), "fingers": scene.fingers or NONE}


def scene_from_labels(labels: dict[str, str]) -> Scene:
    """The ``Scene`` a set of labels names (the inverse of ``scene_labels`` up to its merges)."""
    def text(f: str) -> str:
        return "" if labels[f] == NONE else labels[f]

    def dirs(f: str) -> tuple[str, ...]:
        return tuple(labels[f].split(",")) if labels[f] != NONE else ()

    count, then_count = int(labels["count"].rstrip("+")), int(labels["then_count"].rstrip("+"))
    return Scene(labels["side"], labels["hands"], text("shape"), text("base_shape"),
                 None if labels["place"] == NEUTRAL else labels["place"], text("place_side"),
                 labels["contact"] == "yes", labels["action"], dirs("dirs"), count, text("then"),
                 dirs("then_dirs"), then_count, (), text("fingers"), repeated=count > 1)


@dataclass(frozen=True)
class ParserConfig:
    dim_in: int = 384     # MiniLM's token width
    width: int = 192
    layers: int = 2
    heads: int = 4
    ff: int = 384
    dropout: float = 0.1


class SceneParserNet(nn.Module):
    """Token states (B, L, dim_in) + mask (B, L) -> one logit vector per field."""

    def __init__(self, sizes: dict[str, int], cfg: ParserConfig = ParserConfig()):
        super().__init__()
        self.cfg, self.fields = cfg, tuple(sizes)
        self.proj = nn.Sequential(nn.LayerNorm(cfg.dim_in), nn.Linear(cfg.dim_in, cfg.width))
        layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, cfg.ff, cfg.dropout, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.width)
        self.queries = nn.Parameter(torch.randn(len(sizes), cfg.width) * 0.02)
        self.key = nn.Linear(cfg.width, cfg.width)
        self.heads = nn.ModuleDict({f: nn.Linear(cfg.width, n) for f, n in sizes.items()})

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.norm(self.encoder(self.proj(tokens), src_key_padding_mask=~mask))
        # one attention pool per field: softmax over tokens of <query_f, key(h_t)> / sqrt(width)
        scores = torch.einsum("bld,fd->bfl", self.key(h), self.queries) / math.sqrt(self.cfg.width)
        weights = scores.masked_fill(~mask[:, None, :], float("-inf")).softmax(-1)
        pooled = torch.einsum("bfl,bld->bfd", weights, h)
        return {f: self.heads[f](pooled[:, i]) for i, f in enumerate(self.fields)}


@dataclass(frozen=True)
class Parsed:
    """One parsed prompt: the scene, each field's top probability and every label's."""
    text: str
    scene: Scene
    confidence: dict[str, float]
    labels: dict[str, str]
    _probs: dict[str, dict[str, float]] = field(repr=False, default_factory=dict)

    def probs(self, name: str) -> dict[str, float]:
        """Label -> probability for one field, most likely first."""
        if name not in self._probs:
            raise KeyError(f"{name!r} is not a parsed field; the fields are {', '.join(FIELDS)}")
        return dict(self._probs[name])


class SceneParser:
    """A ``SceneParserNet`` with its label vocabularies and the text encoder it reads."""

    def __init__(self, net: SceneParserNet, vocab: dict[str, list[str]], encoder=None, encoder_name: str = "minilm"):
        self.net, self.vocab, self._encoder, self.encoder_name = net.eval(), vocab, encoder, encoder_name

    @property
    def encoder(self):
        if self._encoder is None:
            from ..text import load_text_encoder

            self._encoder = load_text_encoder(self.encoder_name)
        return self._encoder

    @torch.no_grad()
    def parse_many(self, texts: list[str]) -> list[Parsed]:
        clean = [" ".join(str(t).split()) for t in texts]
        for raw, t in zip(texts, clean):
            if not t:
                raise ParseError("nothing to parse: the text is empty")
            if not any(c.isalpha() for c in t):
                raise ParseError(f"nothing to parse: {raw!r} has no words")
        enc = self.encoder.encode(clean)
        logits = self.net(enc.tokens.float(), enc.mask)
        out = []
        for i, t in enumerate(clean):
            probs, labels, conf = {}, {}, {}
            for f in FIELDS:
                p = logits[f][i].softmax(-1).tolist()
                ranked = sorted(zip(self.vocab[f], p), key=lambda kv: -kv[1])
                probs[f] = dict(ranked)
                labels[f], conf[f] = ranked[0][0], ranked[0][1]
            out.append(Parsed(t, scene_from_labels(labels), conf, labels, probs))
        return out

    def parse(self, text: str) -> Parsed:
        return self.parse_many([text])[0]


def write_parser_config(run_dir: str | os.PathLike, run: dict, cfg: ParserConfig, vocab: dict[str, list[str]],
                        text_encoder: str = "minilm") -> None:
    from dataclasses import asdict

    from ..atomic import atomic_path

    meta = {"format_version": FORMAT_VERSION, "run": {**run, "model": KIND}, "model": asdict(cfg),
            "labels": {f: vocab[f] for f in FIELDS}, "text_encoder": text_encoder}
    with atomic_path(Path(run_dir) / CONFIG) as tmp:
        tmp.write_text(json.dumps(meta, indent=1))


def load_parser(path: str | os.PathLike | None = None, encoder=None) -> SceneParser:
    """The parser in ``path`` (default: the shipped one), its files checked against the manifest."""
    run_dir = Path(path) if path is not None else SHIPPED_PARSER
    config = run_dir / CONFIG
    if not config.is_file():
        raise ParseError(f"{run_dir} is not a scene-parser folder (no {CONFIG})")
    try:
        verify_manifest(run_dir)
        meta = json.loads(config.read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION or meta.get("run", {}).get("model") != KIND:
            raise ParseError(f"{config} is not a scene parser of format {FORMAT_VERSION}")
        vocab = {f: list(meta["labels"][f]) for f in FIELDS}
        net = SceneParserNet({f: len(v) for f, v in vocab.items()}, ParserConfig(**meta["model"]))
    except ParseError:
        raise
    except RunError as exc:
        raise ParseError(str(exc)) from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ParseError(f"{config} cannot be read as a scene parser: {_line(exc)}") from None
    try:
        load_weights(net, run_dir)
    except RunError as exc:
        raise ParseError(str(exc)) from None
    return SceneParser(net, vocab, encoder, meta.get("text_encoder", "minilm"))
