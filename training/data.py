"""Training data from a data-factory folder: normalized 274-D frames, texts and labels.

Batches carry texts as strings; training encodes them with the run's sentence encoder
(token features for HandMDM and THMR, the pooled embedding for SignAvatar), normally by
reading the embeddings cached for ``condition_texts()`` (``training.text_cache``). ST-GCN
and SignAvatar's word-set runs take word labels. torch; never bpy.
"""
from __future__ import annotations

import numpy as np
import torch

from backend.data.dataset import Dataset


class MotionTextData(torch.utils.data.Dataset):
    def __init__(self, root, splits: tuple[str, ...], condition: str = "phonology+hms", max_frames: int = 196,
                 word_set: str | None = None):
        self.ds = Dataset.open(root)
        records = [r for r in self.ds.records if r["split"] in splits and r["texts"].get(condition)]
        if word_set:
            records = [r for r in records if word_set in r["word_sets"]]
        if not records:
            raise ValueError(f"{root} has no samples in {splits}" + (f" for word set {word_set}" if word_set else ""))
        self.records = records
        self.condition = condition
        self.max_frames = max_frames
        with np.load(self.ds.root / "stats.npz", allow_pickle=False) as z:
            self.mean, self.std = z["mean"].astype(np.float32), z["std"].astype(np.float32)
        self.words = sorted({r["word"] for r in self.ds.records if (not word_set or word_set in r["word_sets"])})
        self.label = {w: i for i, w in enumerate(self.words)}
        self._shards: dict[str, dict] = {}

    def texts(self, record: dict) -> list[str]:
        value = record["texts"][self.condition]
        return list(value) if isinstance(value, list) else [value]

    def all_texts(self) -> list[str]:
        return sorted({t for r in self.records for t in self.texts(r)})

    def condition_texts(self) -> list[str]:
        """Every text of this condition in the whole dataset (all splits), sorted: what the text
        cache holds, so runs on other splits or word sets reuse it."""
        return sorted({t for r in self.ds.records if r["texts"].get(self.condition) for t in self.texts(r)})

    def _shard(self, name: str) -> dict:
        if name not in self._shards:
            with np.load(self.ds.root / name, allow_pickle=False) as z:
                self._shards[name] = {k: z[k] for k in ("features", "lengths", "offsets")}
        return self._shards[name]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict:
        r = self.records[i]
        z = self._shard(r["shard"])
        o, n = int(z["offsets"][r["row"]]), int(z["lengths"][r["row"]])
        n_use = min(n, self.max_frames)
        x = (z["features"][o:o + n_use] - self.mean) / self.std
        return {"x": torch.from_numpy(x.astype(np.float32)), "texts": self.texts(r), "label": self.label[r["word"]],
                "id": r["id"], "index": i}


def text_draws(seed: int, epoch: int, n: int) -> np.ndarray:
    """One uniform draw per sample for ``epoch``: which of its texts the sample shows then. A
    function of the seed, the epoch and the sample alone, so the texts do not depend on the
    number of ranks or on where a resumed run stopped."""
    return np.random.default_rng([seed, epoch]).random(n)


def collate(items: list[dict], rng: np.random.Generator | None = None, draws: np.ndarray | None = None) -> dict:
    """Pad motions; pick one of each sample's texts (a different one each epoch): by the
    sample's entry of ``draws`` (``text_draws``) when given, else from ``rng``."""
    rng = rng or np.random.default_rng()
    t = max(len(it["x"]) for it in items)
    x = torch.zeros(len(items), t, items[0]["x"].shape[1])
    mask = torch.zeros(len(items), t, dtype=torch.bool)
    for i, it in enumerate(items):
        x[i, :len(it["x"])] = it["x"]
        mask[i, :len(it["x"])] = True
    if draws is not None:
        texts = [it["texts"][min(int(draws[it["index"]] * len(it["texts"])), len(it["texts"]) - 1)] for it in items]
    else:
        texts = [it["texts"][int(rng.integers(len(it["texts"])))] for it in items]
    return {"x": x, "mask": mask, "texts": texts, "label": torch.tensor([it["label"] for it in items])}
