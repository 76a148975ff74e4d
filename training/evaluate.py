"""``signforge eval handmdm``: the paper's HandMDM table, as markdown with the command that made it.

Rows: one HandMDM run per text condition (``gloss``, ``phonology``, ``phonology+hms``)
and the ground-truth motions as the ceiling. Columns: R@1 and R@3 (text -> motion, TMR
protocol, batches of 32) on ``test_seen`` and ``test_unseen``, with THMR as the judge
(its embeddings of each sample's free-text description and of the motion), and FID
between THMR motion embeddings of generated and real motions. torch; never bpy.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from backend.atomic import atomic_path
from backend.models.metrics import fid, retrieval_recall


def _motion_embeddings(scorer, feats: list[np.ndarray]) -> np.ndarray:
    out = []
    with torch.no_grad():
        for f in feats:
            x = (torch.as_tensor(f, dtype=torch.float32) - scorer.mean) / scorer.std
            out.append(scorer.model.encode_motion(x[None])[0].numpy())
    return np.stack(out)


def _text_embeddings(scorer, texts: list[str]) -> np.ndarray:
    with torch.no_grad():
        enc = scorer.text_encoder.encode(texts)
        return scorer.model.encode_text(enc.tokens, enc.mask).numpy()


def eval_handmdm(runs: dict[str, str], thmr_run: str, data: str, splits=("test_seen", "test_unseen"),
                 samples: int = 256, guidance: float = 2.5, steps: int = 50, seed: int = 0) -> list[dict]:
    """One row per condition (plus the ground truth): R@1, R@3 per split and FID."""
    from backend.data.dataset import Dataset
    from backend.generate import generate
    from backend.models.thmr import THMRScorer

    ds = Dataset.open(data)
    judge = THMRScorer.load(thmr_run)
    limit = judge.model.cfg.max_frames
    rows = [{"condition": "ground truth"}] + [{"condition": c, "run": r} for c, r in runs.items()]
    for split in splits:
        recs = [r for r in ds.split(split) if r["texts"]["phonology+hms"]][:samples]
        if len(recs) < 32:
            raise ValueError(f"{data}: split {split} has {len(recs)} samples with text; retrieval needs 32")
        truth = [ds.motion(r).cut(0, min(limit, r["frames"])).to_features() for r in recs]
        texts = [r["texts"]["phonology+hms"][0] for r in recs]
        t_emb = _text_embeddings(judge, texts)
        real = _motion_embeddings(judge, truth)
        for row in rows:
            if row["condition"] == "ground truth":
                gen = real
            else:
                prompts = [r["texts"][row["condition"]] for r in recs]
                prompts = [p[0] if isinstance(p, list) else p for p in prompts]
                feats = [generate(p, frames=min(len(f), limit), guidance=guidance, steps=steps, seed=seed + i,
                                  run_dir=row["run"])[0].to_features() for i, (p, f) in enumerate(zip(prompts, truth))]
                gen = _motion_embeddings(judge, feats)
            r = retrieval_recall(t_emb, gen, batch=32, ks=(1, 3))
            row[f"{split} R@1"] = r["t2m_R@1"]
            row[f"{split} R@3"] = r["t2m_R@3"]
            row[f"{split} FID"] = fid(real, gen) if row["condition"] != "ground truth" else 0.0
    return rows


def write_table(rows: list[dict], path: str | Path, title: str, command: str | None = None) -> Path:
    cols = [k for k in rows[0] if k not in ("condition", "run")]
    lines = [f"# {title}", "", f"Made by: `{command or shlex.join(sys.argv)}`", "",
             "| condition | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for row in rows:
        lines.append(f"| {row['condition']} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path
