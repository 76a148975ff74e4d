"""Text embeddings encoded once per dataset, read back by training instead of the encoder.

Encoding a batch of 64 new texts with MiniLM costs 1.3-2.0 CPU-seconds, about what a
small HandMDM step costs; reading a cached batch costs about 30 ms. ``text_cache(root,
condition, texts, encoder_name, load_encoder)`` returns a ``TextTable`` over every text
of one condition of a dataset: the folder ``ROOT/text-<encoder>-<condition>/`` holds ``tokens.f16`` (all token embeddings
end to end, float16, memory-mapped so a 100k-sample dataset's gigabytes stay on disk)
and ``index.npz`` (each text's token start and count, pooled embeddings, the texts as
UTF-8, and a key). The key is the sha256 of the encoder's name and every text, so a dataset whose
texts changed, or another encoder, is re-encoded rather than misread; a table rebuilt for
changed texts copies the rows of texts it already held and encodes only the new ones. The folder is
written under a temporary name and renamed, so an interrupted encode leaves nothing
half-written (and an interrupted encode starts again). ``TextTable.encode`` returns the
encoder's own ``Encoded``. ``python -m training.text_cache --data DATA`` encodes ahead of
training: about 30 MiniLM texts per CPU-second, so ~3 CPU-hours for 300k texts. numpy +
torch; never bpy.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from backend.text import Encoded

INDEX, TOKENS = "index.npz", "tokens.f16"
CHUNK = 256   # texts per encoder call: sorted by length, so padding stays small


def cache_dir(root: str | os.PathLike, encoder_name: str, condition: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "+-_" else "_" for ch in condition)
    return Path(root) / f"text-{encoder_name}-{safe}"


def texts_key(encoder_name: str, texts: list[str]) -> str:
    h = hashlib.sha256(encoder_name.encode())
    for t in texts:
        h.update(b"\0" + t.encode("utf-8"))
    return h.hexdigest()


class TextTable:
    """Cached token embeddings of a fixed list of texts; ``encode`` answers like the encoder."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        with np.load(self.folder / INDEX, allow_pickle=False) as z:
            self.key = str(z["key"])
            self.name = str(z["encoder"])
            self.starts, self.lengths = z["starts"].astype(np.int64), z["lengths"].astype(np.int64)
            self.pooled = torch.from_numpy(z["pooled"].astype(np.float32))
            raw, text_offsets = z["text_bytes"].tobytes(), z["text_offsets"]
        self.dim = int(self.pooled.shape[1])
        self.texts = [raw[a:b].decode("utf-8") for a, b in zip(text_offsets[:-1], text_offsets[1:])]
        self.row = {t: i for i, t in enumerate(self.texts)}
        total = int(self.lengths.sum())
        self.tokens = np.memmap(self.folder / TOKENS, np.float16, "r", shape=(total, self.dim)) if total else \
            np.zeros((0, self.dim), np.float16)

    def __len__(self) -> int:
        return len(self.texts)

    def encode(self, texts: list[str]) -> Encoded:
        rows = [self.row[t] for t in texts]   # a KeyError names a text the table was not built for
        lengths = [int(self.lengths[r]) for r in rows]
        out = torch.zeros(len(rows), max(lengths), self.dim)
        mask = torch.zeros(len(rows), max(lengths), dtype=torch.bool)
        for i, (r, n) in enumerate(zip(rows, lengths)):
            a = int(self.starts[r])
            out[i, :n] = torch.from_numpy(self.tokens[a:a + n].astype(np.float32))
            mask[i, :n] = True
        return Encoded(out, mask, self.pooled[rows])


def build_table(folder: str | os.PathLike, texts: list[str], encoder, progress=None,
                reuse: TextTable | None = None) -> TextTable:
    """Encode ``texts`` (unique, in this order) with ``encoder`` into ``folder``. Texts that
    ``reuse`` (an older table of the same encoder) holds are copied from it, not encoded again."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    known = {} if reuse is None or reuse.name != encoder.name else reuse.row
    order = sorted((i for i, t in enumerate(texts) if t not in known), key=lambda i: len(texts[i]))
    pooled = np.zeros((len(texts), encoder.dim), np.float16)
    starts = np.zeros(len(texts), np.int64)   # tokens are stored in encoding order, found by start
    lengths = np.zeros(len(texts), np.int64)
    written = 0
    with open(tmp / TOKENS, "wb") as fh:
        for i, t in enumerate(texts):
            if t in known:
                r = known[t]
                a, n = int(reuse.starts[r]), int(reuse.lengths[r])
                fh.write(np.asarray(reuse.tokens[a:a + n]).tobytes())
                starts[i], lengths[i] = written, n
                written += n
                pooled[i] = reuse.pooled[r].numpy()
        for start in range(0, len(order), CHUNK):
            idx = order[start:start + CHUNK]
            enc = encoder.encode([texts[i] for i in idx])
            for k, i in enumerate(idx):
                n = int(enc.mask[k].sum())
                fh.write(enc.tokens[k, :n].numpy().astype(np.float16).tobytes())
                starts[i], lengths[i] = written, n
                written += n
                pooled[i] = enc.pooled[k].numpy()
            if progress is not None:
                progress(min(start + CHUNK, len(order)), len(order))
    raw = [t.encode("utf-8") for t in texts]
    text_offsets = np.concatenate([[0], np.cumsum([len(b) for b in raw])]).astype(np.int64)
    with open(tmp / INDEX, "wb") as fh:
        np.savez(fh, key=np.array(texts_key(encoder.name, texts)), encoder=np.array(encoder.name),
                 starts=starts, lengths=lengths, pooled=pooled,
                 text_bytes=np.frombuffer(b"".join(raw), np.uint8), text_offsets=text_offsets)
    (tmp / "README.json").write_text(json.dumps({"what": "token embeddings of a dataset's texts (signforge train)",
                                                 "encoder": encoder.name, "texts": len(texts)}))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return TextTable(folder)


def text_cache(root: str | os.PathLike, condition: str, texts: list[str], encoder_name: str, load_encoder,
               progress=None) -> TextTable:
    """The table of ``texts`` (every text of ``condition``) under ``root``, encoded now if it is
    missing or was built from other texts or another encoder; ``load_encoder()`` is called only then."""
    folder = cache_dir(root, encoder_name, condition)
    key = texts_key(encoder_name, texts)
    if (folder / INDEX).exists():
        try:
            with np.load(folder / INDEX, allow_pickle=False) as z:
                fresh = str(z["key"]) == key
        except (OSError, ValueError, KeyError):
            fresh = False
        if fresh:
            return TextTable(folder)
    try:   # texts the stale table holds are kept; only new ones are encoded
        old = TextTable(folder) if (folder / INDEX).exists() else None
    except (OSError, ValueError, KeyError):
        old = None
    return build_table(folder, texts, load_encoder(), progress, reuse=old)


def main(argv=None) -> None:
    """``python -m training.text_cache --data DATA``: encode a dataset's texts ahead of training."""
    import argparse
    import sys
    import time

    from backend.text import load_text_encoder

    from .data import MotionTextData

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--condition", default="phonology+hms", choices=("gloss", "phonology", "phonology+hms"))
    ap.add_argument("--text-encoder", default="minilm", choices=("minilm", "clip"))
    a = ap.parse_args(argv)
    texts = MotionTextData(a.data, ("train", "test_seen", "test_unseen"), a.condition).condition_texts()
    t0 = time.time()

    def progress(done: int, total: int) -> None:
        if done == total or done % (CHUNK * 20) == 0:
            rate = done / max(time.time() - t0, 1e-9)
            print(f"encoded {done}/{total} texts ({rate:.0f}/s)", file=sys.stderr, flush=True)

    table = text_cache(a.data, a.condition, texts, a.text_encoder, lambda: load_text_encoder(a.text_encoder), progress)
    print(f"{table.folder}: {len(table)} texts")


if __name__ == "__main__":
    main()
