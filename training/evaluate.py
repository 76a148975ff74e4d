"""``signforge eval handmdm|signavatar``: the papers' tables, as markdown with the command that made them.

HandMDM rows: one HandMDM run per text condition (``gloss``, ``phonology``, ``phonology+hms``)
and the ground-truth motions as the ceiling. Columns: R@1 and R@3 (text -> motion, TMR
protocol, batches of 32) on ``test_seen`` and ``test_unseen``, with THMR as the judge
(its embeddings of each sample's free-text description and of the motion), and FID
between THMR motion embeddings of generated and real motions.

SignAvatar rows (per word set): Raw (the dataset's motions), then Rec (reconstruct: encode,
take mu, decode) and Gen (the word's condition, z ~ N(0, I)) for each SignAvatar run,
with and without curriculum masking. Columns: train / test (``word_train`` /
``word_test``) x Acc / FID / Div / MM, all judged by an ST-GCN classifier trained on the
word set's train split (its accuracy, and its pooled features for FID, Diversity over
S_d = 200 pairs and Multimodality over S_l = 20 pairs per word). FID on a split is
against that split's Raw features; the Raw row's FID is between two random halves of the
split (the sampling floor). torch; never bpy.
"""
from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from backend.atomic import atomic_path
from backend.models.metrics import diversity, fid, multimodality, retrieval_recall
from backend.runs import RunError, load_run, read_config


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


TEXT_CONDITIONS = ("gloss", "phonology", "phonology+hms")


def run_condition(run_dir: str | os.PathLike) -> str:
    """The text condition a HandMDM run was trained on (its config.json's run.condition)."""
    cond = read_config(run_dir)["run"].get("condition", "phonology+hms")
    if cond not in TEXT_CONDITIONS:
        raise RunError(f"{run_dir}: trained on text condition {cond!r}; eval knows {', '.join(TEXT_CONDITIONS)}")
    return cond


def eval_handmdm(runs: dict[str, str], thmr_run: str, data: str, splits=("test_seen", "test_unseen"),
                 samples: int = 256, guidance: float = 2.5, steps: int = 50, seed: int = 0,
                 device: str = "cpu") -> list[dict]:
    """One row per run (plus the ground truth): R@1, R@3 per split and FID. ``runs`` maps a
    row label to a run folder; each run is prompted with the test texts of the condition it
    was trained on (so labels may name ablations, such as two assignment modes). The runs
    sample on ``device``; the THMR judge scores on the CPU."""
    from backend.data.dataset import Dataset
    from backend.generate import generate
    from backend.models.thmr import THMRScorer

    ds = Dataset.open(data)
    judge = THMRScorer.from_run(load_run(thmr_run, kinds=("thmr",)))
    limit = judge.model.cfg.max_frames
    rows = [{"condition": "ground truth"}] + [{"condition": c, "run": r, "text": run_condition(r)}
                                              for c, r in runs.items()]
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
                prompts = [r["texts"][row["text"]] for r in recs]
                prompts = [p[0] if isinstance(p, list) else p for p in prompts]
                feats = [generate(p, frames=min(len(f), limit), guidance=guidance, steps=steps, seed=seed + i,
                                  run_dir=row["run"], device=device)[0].to_features() for i, (p, f) in enumerate(zip(prompts, truth))]
                gen = _motion_embeddings(judge, feats)
            r = retrieval_recall(t_emb, gen, batch=32, ks=(1, 3))
            row[f"{split} R@1"] = r["t2m_R@1"]
            row[f"{split} R@3"] = r["t2m_R@3"]
            row[f"{split} FID"] = fid(real, gen) if row["condition"] != "ground truth" else 0.0
    return rows


WORD_SPLITS = {"train": "word_train", "test": "word_test"}
SIGNAVATAR_NOTES = """\
Raw: the dataset's motions. Rec: SignAvatar's reconstruct mode (encode, take mu, decode) of the
same motions. Gen: one motion per Raw motion, from its word's condition and length, z ~ N(0, I).
train / test: the word set's `word_train` / `word_test` split. Acc: the ST-GCN classifier (trained
on the word set's train split) against the word; FID: against the split's Raw features (for Raw,
between two random halves of the split); Div: S_d = 200 random pairs; MM: S_l = 20 pairs per word.
The condition is the offline MiniLM text embedding of the run's condition text (no CLIP weights
exist offline), so these are not the paper's CLIP numbers. Where a word set has several runs of one
kind, each row names the run's KL weight, decoder memory and folder: "one memory token" is z plus
the condition bias as the decoder's only memory (runs from before the condition token); "cond
token, z drop p" adds the condition projection as a second memory token and decodes a share p of
the training samples from a prior z ~ N(0, I) instead of the posterior's."""


@dataclass
class Classifier:
    """A trained ST-GCN run: the judge of SignAvatar's Acc, FID, Div and MM."""
    model: torch.nn.Module
    words: list[str]
    word_set: str | None
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def load(cls, run_dir: str | Path) -> "Classifier":
        run = load_run(run_dir, kinds=("stgcn",))
        return cls(run.model, list(run.config["words"]), run.config["run"].get("word_set"), run.mean, run.std)

    @torch.no_grad()
    def judge(self, feats: list[np.ndarray], batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Unnormalized (T, 274) motions -> (predicted labels, pooled features)."""
        preds, pooled = [], []
        for s in range(0, len(feats), batch):
            x, mask = _pad([(f - self.mean) / self.std for f in feats[s:s + batch]])
            h = self.model.features(x, mask)
            pooled.append(h.numpy())
            preds.append(self.model.head(h).argmax(-1).numpy())
        return np.concatenate(preds), np.concatenate(pooled)


def _pad(items: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    t = max(len(f) for f in items)
    x = torch.zeros(len(items), t, items[0].shape[1])
    mask = torch.zeros(len(items), t, dtype=torch.bool)
    for i, f in enumerate(items):
        x[i, :len(f)] = torch.as_tensor(f, dtype=torch.float32)
        mask[i, :len(f)] = True
    return x, mask


@torch.no_grad()
def signavatar_motions(run, feats: list[np.ndarray], texts: list[str], mode: str, seed: int = 0,
                       batch: int = 64) -> list[np.ndarray]:
    """SignAvatar's ``reconstruct`` (encode, mu, decode) or ``generate`` (z ~ N(0, I)) of each motion's
    length and condition text; unnormalized (T, 274) motions back."""
    from backend.text import load_text_encoder

    if mode not in ("reconstruct", "generate"):
        raise ValueError(f"mode is reconstruct or generate; got {mode!r}")
    net = run.model
    encoder = load_text_encoder(run.config.get("text_encoder", "minilm"))
    g = torch.Generator().manual_seed(seed)
    out = []
    for s in range(0, len(feats), batch):
        x, mask = _pad([(f - run.mean) / run.std for f in feats[s:s + batch]])
        cond = encoder.encode(texts[s:s + batch]).pooled
        if mode == "reconstruct":
            mu, _ = net.encode(x, cond, mask)
            y = net.decode(mu, cond, x.shape[1], mask)
        else:
            z = torch.randn(len(x), net.cfg.latent, generator=g)
            y = net.decode(z, cond, x.shape[1], mask)
        y = y.numpy() * run.std + run.mean
        out += [y[i, :int(m.sum())] for i, m in enumerate(mask)]
    return out


def _first(text: str | list[str]) -> str:
    """A record's condition text: the text itself, or the first of several descriptions."""
    return text[0] if isinstance(text, list) else text


def _scores(judge: Classifier, feats, labels: np.ndarray, reference: np.ndarray | None, seed: int,
            div_pairs: int, mm_pairs: int) -> tuple[dict, np.ndarray]:
    preds, pooled = judge.judge(feats)
    if reference is None:   # the Raw row: FID between two random halves of the split
        order = np.random.default_rng(seed).permutation(len(pooled))
        half = len(order) // 2
        f = fid(pooled[order[:half]], pooled[order[half:]])
    else:
        f = fid(reference, pooled)
    return {"Acc": float((preds == labels).mean()), "FID": f,
            "Div": diversity(pooled, div_pairs, seed), "MM": multimodality(pooled, labels, mm_pairs, seed)}, pooled


def eval_signavatar(runs: list[str], classifiers: list[str], data: str, seed: int = 0, div_pairs: int = 200,
                    mm_pairs: int = 20) -> list[dict]:
    """Rows ``<set> Raw``, then ``<set> Rec`` and ``<set> Gen`` per SignAvatar run (labelled curriculum or
    no curriculum); columns train/test x Acc/FID/Div/MM. Each run is judged by the classifier trained on
    the same word set (same words), so ``runs`` must be word-set runs (``--word-set``)."""
    from .data import MotionTextData

    judges = [Classifier.load(c) for c in classifiers]
    loaded = [load_run(r, kinds=("signavatar",)) for r in runs]
    by_set: dict[str, list] = {}
    for run in loaded:
        ws = run.config["run"].get("word_set")
        if not ws:
            raise ValueError(f"{run.path} was not trained on a word set (train it with --word-set)")
        by_set.setdefault(ws, []).append(run)
    rows = []
    for ws in sorted(by_set, key=lambda w: int(w[1:])):
        matching = [j for j in judges if j.word_set == ws]
        if not matching:
            raise ValueError(f"no ST-GCN classifier for word set {ws}: give one trained with --word-set {ws}")
        judge = matching[0]
        size = ws[1:]
        raw_row, gen_rows = {"condition": f"{size} words: Raw"}, {}
        for run in by_set[ws]:
            if run.config["words"] != judge.words:
                raise ValueError(f"{run.path} and the {ws} classifier disagree on the word list")
            tag = "curriculum" if run.config["run"].get("curriculum", True) else "no curriculum"
            kinds = {r.config["run"].get("curriculum", True) for r in by_set[ws]}
            if len(by_set[ws]) > len(kinds):   # several runs of one kind: name each run's settings and folder
                c = run.model.cfg
                tag += f", KL {c.kl_weight:g}"
                tag += f", cond token, z drop {c.z_drop:g}" if c.cond_token or c.z_drop else ", one memory token"
                tag += f", {run.config['run']['epochs']} ep, {run.path.name}"
            for mode, name in (("reconstruct", "Rec"), ("generate", "Gen")):
                gen_rows[(run.path, mode)] = {"condition": f"{size} words: {name} ({tag})"}
        for col, split in WORD_SPLITS.items():
            data_set = MotionTextData(data, (split,), "gloss", max_frames=10 ** 6, word_set=ws)
            if data_set.words != judge.words:
                raise ValueError(f"{data}'s {ws} words differ from the classifier's")
            items = [data_set[i] for i in range(len(data_set))]
            raw = [it["x"].numpy() * data_set.std + data_set.mean for it in items]
            labels = np.array([it["label"] for it in items])
            scores, reference = _scores(judge, raw, labels, None, seed, div_pairs, mm_pairs)
            raw_row.update({f"{col} {k}": v for k, v in scores.items()})
            for run in by_set[ws]:
                cond = run.config["run"]["condition"]
                texts = [_first(r["texts"][cond]) for r in data_set.records]
                limit = run.model.cfg.max_frames
                cut = [f[:limit] for f in raw]
                for mode in ("reconstruct", "generate"):
                    motions = signavatar_motions(run, cut, texts, mode, seed)
                    scores, _ = _scores(judge, motions, labels, reference, seed, div_pairs, mm_pairs)
                    gen_rows[(run.path, mode)].update({f"{col} {k}": v for k, v in scores.items()})
        rows += [raw_row] + list(gen_rows.values())
    return rows


def write_table(rows: list[dict], path: str | Path, title: str, command: str | None = None,
                label: str = "condition", notes: str | None = None) -> Path:
    cols = [k for k in rows[0] if k not in ("condition", "run")]
    lines = [f"# {title}", "", f"Made by: `{command or shlex.join(sys.argv)}`", "",
             f"| {label} | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for row in rows:
        lines.append(f"| {row['condition']} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    if notes:
        lines += ["", notes.strip()]
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path
