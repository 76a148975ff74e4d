"""Train the scene parser (``backend.plan.parse``) on a dataset's cached text embeddings.

    .venv/bin/python -m training.parser --data DATA --out RUN [--steps N] [--seed S] [--report reports/scene-parser.md]

Each train-split text of the ``phonology+hms`` condition is labelled with the ``Scene`` the
grammar wrote it from: ``scene_for`` on the phonology of the entry the text was written for
(the record's ``assigned`` entry, which differs from ``entry`` for about one record in nine)
and the record's measured cues. Labels seen fewer than ``min_count`` times in training are
left out of their field's vocabulary, and a text with such a label teaches that field nothing.
The run folder gets ``config.json`` (sizes and label vocabularies), ``weights.safetensors``
(float16), ``losses.csv`` and ``eval.json``; ``checkpoint.safetensors``, ``optimizer.safetensors``
and ``trainer.json`` let a stopped run resume at its last checkpoint. Evaluation: per-field
accuracy on the test splits' cached texts and on held-out paraphrases encoded live. torch; never bpy.
"""
from __future__ import annotations

import csv
import json
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch.nn import functional as F

from backend.atomic import atomic_path
from backend.plan.parse import (FIELDS, ParserConfig, SceneParserNet, scene_labels, write_parser_config)
from backend.runs import WEIGHTS_FILE

from .checkpoint import load_optimizer as _load_optimizer
from .checkpoint import save_optimizer as _save_optimizer
from .train import lr_factor

CHECKPOINT, TRAINER = "checkpoint.safetensors", "trainer.json"
MAIN = ("side", "hands", "place", "action", "count")   # the fields a planner cannot do without
IGNORE = -100


@dataclass(frozen=True)
class ParserTrainConfig:
    data: str
    out: str
    steps: int = 2500
    batch: int = 128
    lr: float = 1e-3
    warmup: int = 100
    seed: int = 0
    min_count: int = 20
    checkpoint_every: int = 500
    paraphrases: int = 1000   # held-out paraphrases to encode live, half from each test split
    token_drop: float = 0.0   # share of a training text's tokens hidden at random (the first is kept)
    augment: int = 0          # more train texts written now by today's grammar (see ``augment_texts``)
    balanced: int = 0         # more still, drawn evener over the actions (``augment_texts(balance=...)``)
    balance: float = 1.0      # their draw's weight is count(action) ** -balance: 1 even, 0.5 the square root


def record_labels(rec: dict, by_id: dict) -> dict[str, str]:
    """The labels of the scene the record's texts were written from."""
    from backend.data.hms import Cues, HandCues
    from backend.data.text import scene_for

    cues = Cues(hands={s: HandCues(**rec["hms"][s]) for s in ("left", "right")}, between=rec["hms"]["hands"],
                frames=(0, 0))
    return scene_labels(scene_for(by_id[rec.get("assigned", rec["entry"])].phonology, cues, rec["dominant"]))


def build_vocab(labels: list[dict[str, str]], min_count: int) -> dict[str, list[str]]:
    """Per field, the labels seen at least ``min_count`` times, most common first."""
    counts = {f: Counter(lab[f] for lab in labels) for f in FIELDS}
    return {f: [k for k, n in counts[f].most_common() if n >= min_count] for f in FIELDS}


def targets(labels: list[dict[str, str]], vocab: dict[str, list[str]]) -> torch.Tensor:
    """(N, fields) class indices; ``IGNORE`` where a label is not in its field's vocabulary."""
    index = {f: {k: i for i, k in enumerate(vocab[f])} for f in FIELDS}
    return torch.tensor([[index[f].get(lab[f], IGNORE) for f in FIELDS] for lab in labels], dtype=torch.long)


def loss_of(logits: dict[str, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """The mean over fields of each field's cross-entropy (texts whose label is unknown left out)."""
    terms = [F.cross_entropy(logits[f], y[:, i], ignore_index=IGNORE) for i, f in enumerate(FIELDS)
             if (y[:, i] != IGNORE).any()]
    return torch.stack(terms).mean()


@torch.no_grad()
def evaluate(net: SceneParserNet, texts: list[str], y: torch.Tensor, encode, batch: int = 512) -> dict:
    """Per-field accuracy, exact-scene accuracy (every field) and exact on the main fields."""
    net.eval()
    hits = []
    for a in range(0, len(texts), batch):
        enc = encode(texts[a:a + batch])
        logits = net(enc.tokens.float(), enc.mask)
        pred = torch.stack([logits[f].argmax(-1) for f in FIELDS], 1)
        hits.append(pred == y[a:a + batch])
    hit = torch.cat(hits)
    out = {f: float(hit[:, i].float().mean()) for i, f in enumerate(FIELDS)}
    out["exact scene"] = float(hit.all(1).float().mean())
    out["exact main"] = float(hit[:, [FIELDS.index(f) for f in MAIN]].all(1).float().mean())
    out["texts"] = len(texts)
    return out


def fit(cfg: ParserTrainConfig, texts: list[str], labels: list[dict[str, str]], encode,
        model: ParserConfig = ParserConfig(), log=print) -> tuple[SceneParserNet, dict[str, list[str]]]:
    """Train on ``texts`` (``encode`` gives their token states) into ``cfg.out``, resuming from
    its checkpoint; returns the trained net and the vocabularies."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = json.loads((out / TRAINER).read_text()) if (out / TRAINER).exists() else None
    vocab = meta["vocab"] if meta else build_vocab(labels, cfg.min_count)
    y = targets(labels, vocab)
    torch.manual_seed(cfg.seed)
    net = SceneParserNet({f: len(vocab[f]) for f in FIELDS}, model)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=0.01)
    start = 0
    if meta:
        net.load_state_dict(load_file(str(out / CHECKPOINT)))
        _load_optimizer(opt, out / "optimizer.safetensors", meta["optimizer"])
        start = meta["step"]
        log(f"resuming at step {start} of {cfg.steps}")
    # batches of texts of about one length (by characters, near enough to tokens) pad little: a
    # random window of the length-sorted texts, ``batch`` drawn from it
    by_length = np.argsort([len(t) for t in texts], kind="stable")
    window = min(len(texts), cfg.batch * 4)
    rows, t0 = [], time.time()
    for step in range(start, cfg.steps):
        net.train()
        # each step's batch and dropout follow from (seed, step), so a resumed run draws what an unbroken one would
        rng = np.random.default_rng([cfg.seed, step])
        torch.manual_seed(cfg.seed * 1_000_003 + step)
        a = int(rng.integers(len(texts) - window + 1))
        pick = by_length[a + rng.choice(window, size=min(cfg.batch, window), replace=False)]
        enc = encode([texts[i] for i in pick])
        for group in opt.param_groups:
            group["lr"] = cfg.lr * lr_factor(step, cfg.steps, cfg.warmup, cosine=True)
        mask = enc.mask
        if cfg.token_drop:   # a text missing some words still says its scene: read it from the others
            mask = mask & torch.from_numpy(rng.random(tuple(mask.shape)) >= cfg.token_drop)
            mask[:, 0] = True
        loss = loss_of(net(enc.tokens.float(), mask), y[pick])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        rows.append((step + 1, loss.item()))
        if (step + 1) % 100 == 0:
            log(f"step {step + 1}/{cfg.steps} loss {np.mean([r[1] for r in rows[-100:]]):.4f} "
                f"({time.time() - t0:.0f} s)")
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            _checkpoint(out, net, opt, step + 1, vocab, rows)
            rows = []
    net.eval()
    write_parser_config(out, {k: v for k, v in asdict(cfg).items()}, model, vocab)
    with atomic_path(out / WEIGHTS_FILE) as tmp:   # float16 ships at half the size; loading casts back
        save_file({k: v.detach().half().contiguous() for k, v in net.state_dict().items()}, str(tmp))
    return net, vocab


def _checkpoint(out: Path, net, opt, step: int, vocab: dict, rows: list) -> None:
    with atomic_path(out / CHECKPOINT) as tmp:
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp))
    optimizer = _save_optimizer(opt, out / "optimizer.safetensors")
    log = out / "losses.csv"
    new = not log.exists()
    with open(log, "a", newline="") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(["step", "loss"])
        w.writerows(rows)
    with atomic_path(out / TRAINER) as tmp:
        tmp.write_text(json.dumps({"step": step, "optimizer": optimizer, "vocab": vocab}))


def dataset_texts(data: str, wanted: dict[str, tuple[str, ...]]) -> dict[tuple[str, str], tuple[list[str], list]]:
    """Every text of each wanted condition (condition -> splits) and its labels, by (condition, split)."""
    from backend.data.dataset import Dataset
    from backend.data.lexicon import read_lexicon

    by_id = read_lexicon().by_id()
    out = {(c, s): ([], []) for c, splits in wanted.items() for s in splits}
    for rec in Dataset.open(data).records:
        keys = [(c, rec["split"]) for c in wanted if (c, rec["split"]) in out and rec["texts"].get(c)]
        if not keys:
            continue
        lab = record_labels(rec, by_id)
        for key in keys:
            for t in rec["texts"][key[0]]:
                out[key][0].append(t)
                out[key][1].append(lab)
    return out


def dataset_split(data: str):
    """The ``TextSplit`` a dataset was built with (its held-out style and synonyms), from its manifest."""
    from backend.data.dataset import Dataset
    from backend.data.vocab import TextSplit

    saved = Dataset.open(data).manifest.get("texts", {})
    held = frozenset(f"{key}/{text}" for key, texts in saved.get("held_out_synonyms", {}).items() for text in texts)
    return TextSplit(saved.get("held_out_style"), held)


# Terse notes of a fingers change as the grammar wrote them before it said "opening": "open
# hand" there is also the spread shape's own name, so "right hand open" read as a change.
STALE_NOTES = {"open", "open hand", "close", "close hand"}


def stale_notes_dropped(texts: list[str], labels: list[dict]) -> tuple[list[str], list[dict]]:
    """The texts (and labels) but those a dataset built by an older grammar wrote with a
    fingers change noted as a bare "open hand" or "close" (``STALE_NOTES``)."""
    keep = [i for i, (t, lab) in enumerate(zip(texts, labels))
            if lab["fingers"] == "none" or not STALE_NOTES & {p.strip(" .").lower() for p in re.split(r"[,;]", t)}]
    return [texts[i] for i in keep], [labels[i] for i in keep]


def augment_texts(data: str, n: int, seed: int = 0, balance: float = 0.0) -> tuple[list[str], list[dict]]:
    """``n`` more train texts and their labels: drawn train records described again by the
    grammar as it is now, so words the grammar gained after the dataset was built are read
    too. The dataset's own held-out style and synonyms stay out (``dataset_split``), so its
    paraphrase test still measures words the parser never trained on.

    ``balance`` > 0 draws records with weight ``count(action) ** -balance`` (1: every action
    equally often), with replacement, each draw described anew. The lexicon's actions are
    far from even (one record in 230 moves the hands apart, one in 13 brings them together),
    and a parser trained on that reads "spread apart" as "together"; people ask for claps,
    waves and hands moving apart far more often than a dictionary holds them."""
    from backend.data.dataset import Dataset
    from backend.data.hms import Cues, HandCues
    from backend.data.lexicon import read_lexicon
    from backend.data.text import TemplateTranslator, forbidden_words

    by_id = read_lexicon().by_id()
    translator = TemplateTranslator(dataset_split(data))
    records = [r for r in Dataset.open(data).records if r["split"] == "train"]
    rng = np.random.default_rng([seed, 0xA06] + ([0xBA1] if balance else []))
    if balance:
        actions = [record_labels(r, by_id)["action"] for r in records]
        counts = Counter(actions)
        p = np.array([counts[a] ** -balance for a in actions])
        draws = rng.choice(len(records), size=n, replace=True, p=p / p.sum())
    else:
        draws = rng.choice(len(records), size=min(n, len(records)), replace=False)
    texts, labels, seen = [], [], set()
    for i in draws:
        rec = records[int(i)]
        entry = by_id[rec.get("assigned", rec["entry"])]
        cues = Cues(hands={s: HandCues(**rec["hms"][s]) for s in ("left", "right")}, between=rec["hms"]["hands"],
                    frames=(0, 0))
        for text in translator.describe(entry.phonology, cues, rec["dominant"], 1, rng, forbidden_words(entry)):
            if text not in seen:
                seen.add(text)
                texts.append(text)
                labels.append(record_labels(rec, by_id))
    return texts, labels


class _Tables:
    """Token states of texts from several cached tables, each text from the table that holds it."""

    def __init__(self, *tables):
        self.tables = tables
        self.where = {t: k for k, table in enumerate(tables) for t in table.texts}

    def encode(self, texts: list[str]):
        from backend.text.encoders import Encoded

        groups: dict[int, list[int]] = {}
        for i, t in enumerate(texts):
            groups.setdefault(self.where[t], []).append(i)
        parts = {k: self.tables[k].encode([texts[i] for i in rows]) for k, rows in groups.items()}
        width = max(p.tokens.shape[1] for p in parts.values())
        dim = next(iter(parts.values())).tokens.shape[2]
        tokens, mask = torch.zeros(len(texts), width, dim), torch.zeros(len(texts), width, dtype=torch.bool)
        pooled = torch.zeros(len(texts), next(iter(parts.values())).pooled.shape[1])
        for k, rows in groups.items():
            p, n = parts[k], parts[k].tokens.shape[1]
            tokens[rows, :n], mask[rows, :n], pooled[rows] = p.tokens, p.mask, p.pooled
        return Encoded(tokens, mask, pooled)


def run(cfg: ParserTrainConfig, log=print) -> dict:
    """Train on DATA's cached train texts, then evaluate; returns eval.json's content."""
    from backend.data.text import PARAPHRASE
    from backend.text import load_text_encoder

    from .text_cache import TextTable, cache_dir

    t0 = time.time()
    table = TextTable(cache_dir(cfg.data, "minilm", "phonology+hms"))
    tests = ("test_unseen", "test_seen")
    texts = dataset_texts(cfg.data, {"phonology+hms": ("train", *tests), PARAPHRASE: tests})
    log(f"labelled {sum(len(t) for t, _ in texts.values())} texts ({time.time() - t0:.0f} s)")
    train_texts = stale_notes_dropped(*texts["phonology+hms", "train"])
    log(f"{len(texts['phonology+hms', 'train'][0]) - len(train_texts[0])} train texts with a stale terse note left out")
    encode = table.encode
    if cfg.augment:
        from .text_cache import text_cache

        def written_table(name: str, written: list[str], labels: list[dict], known) -> tuple:
            """The texts of ``written`` not in ``known`` (a text held already is not encoded twice),
            their labels, and their table under DATA, encoded once."""
            keep = [i for i, t in enumerate(written) if t not in known]
            more, more_labels = [written[i] for i in keep], [labels[i] for i in keep]
            log(f"writing and encoding {len(more)} more train texts, {name} ({time.time() - t0:.0f} s)")
            return more, more_labels, text_cache(
                cfg.data, name, more, "minilm", load_text_encoder,
                progress=lambda done, total: log(f"encoded {done}/{total}") if done % 4096 < 256 else None)

        more, more_labels, extra = written_table(f"parser-augment-{cfg.augment}-{cfg.seed}",
                                                 *augment_texts(cfg.data, cfg.augment, cfg.seed), table.row)
        tables = [table, extra]
        train_texts = (train_texts[0] + more, train_texts[1] + more_labels)
        if cfg.balanced:
            more, more_labels, even = written_table(
                f"parser-balanced-{cfg.balanced}-{cfg.balance:g}-{cfg.seed}",
                *augment_texts(cfg.data, cfg.balanced, cfg.seed, balance=cfg.balance), set(table.row) | set(more))
            tables.append(even)
            train_texts = (train_texts[0] + more, train_texts[1] + more_labels)
        encode = _Tables(*tables).encode
    net, vocab = fit(cfg, *train_texts, encode, log=log)
    train_s = time.time() - t0
    results = {}
    for split in tests:
        own, labels = texts["phonology+hms", split]
        results[f"{split} phonology+hms"] = evaluate(net, own, targets(labels, vocab), table.encode)
    encoder = load_text_encoder("minilm")
    for split in tests:
        para, labels = texts[PARAPHRASE, split]
        pick = np.random.default_rng([cfg.seed, 7]).permutation(len(para))[:cfg.paraphrases // 2]
        para, labels = [para[i] for i in pick], [labels[i] for i in pick]
        results[f"{split} paraphrase"] = evaluate(net, para, targets(labels, vocab), encoder.encode, batch=64)
    out = {"results": results, "train_texts": len(train_texts[0]), "train_seconds": round(train_s),
           "total_seconds": round(time.time() - t0), "config": asdict(cfg),
           "vocab_sizes": {f: len(vocab[f]) for f in FIELDS}}
    with atomic_path(Path(cfg.out) / "eval.json") as tmp:
        tmp.write_text(json.dumps(out, indent=1))
    return out


def write_report(path: Path, ev: dict, command: str) -> None:
    cols = list(ev["results"])
    lines = ["# Scene parser: text -> Scene", "",
             "Per-field accuracy of `backend.plan.parse` (MiniLM token states -> 2-layer encoder, one pooling "
             "query and head per field). Cached sets: every `phonology+hms` text of the split; paraphrase sets: "
             f"{ev['config']['paraphrases'] // 2} held-out paraphrase texts per split (held-out style family and "
             "synonyms), encoded live. A text whose true label is outside the vocabulary counts as wrong.", "",
             "| field | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for f in (*FIELDS, "exact main", "exact scene"):
        name = f"**{f}**" if f in MAIN else f
        lines.append(f"| {name} | " + " | ".join(f"{ev['results'][c][f]:.1%}" for c in cols) + " |")
    lines.append("| texts | " + " | ".join(str(ev["results"][c]["texts"]) for c in cols) + " |")
    lines += ["", f"`exact main`: side, hands, place, action and count all right; `exact scene`: all {len(FIELDS)} "
              "fields.", "", f"Trained on {ev['train_texts']} train texts, {ev['config']['steps']} steps of "
              f"{ev['config']['batch']}; {ev['train_seconds']} s to train, {ev['total_seconds']} s with evaluation.",
              "", "Vocabulary sizes: " + ", ".join(f"{f} {n}" for f, n in ev["vocab_sizes"].items()), "",
              "Command:", "", f"    {command}", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=ParserTrainConfig.steps)
    ap.add_argument("--batch", type=int, default=ParserTrainConfig.batch)
    ap.add_argument("--seed", type=int, default=ParserTrainConfig.seed)
    ap.add_argument("--token-drop", type=float, default=ParserTrainConfig.token_drop,
                    help="share of each training text's tokens hidden at random (default 0)")
    ap.add_argument("--augment", type=int, default=0,
                    help="this many more train texts written by today's grammar and encoded once (default 0)")
    ap.add_argument("--balanced", type=int, default=0,
                    help="with --augment, this many more drawn evener over the actions (default 0)")
    ap.add_argument("--balance", type=float, default=ParserTrainConfig.balance,
                    help="--balanced texts' records are drawn with weight count(action) ** -BALANCE (default 1: even)")
    ap.add_argument("--report", type=Path, help="write the accuracy tables here (markdown)")
    a = ap.parse_args(argv)
    if a.balanced and not a.augment:
        ap.error("--balanced adds to --augment's texts: give --augment too")
    cfg = ParserTrainConfig(a.data, a.out, steps=a.steps, batch=a.batch, seed=a.seed, token_drop=a.token_drop,
                            augment=a.augment, balanced=a.balanced, balance=a.balance)
    ev = run(cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    if a.report:
        write_report(a.report, ev, f"OMP_NUM_THREADS=1 .venv/bin/python -m training.parser --data DATA --out RUN "
                                   f"--steps {a.steps} --batch {a.batch} --seed {a.seed}"
                                   + (f" --token-drop {a.token_drop:g}" if a.token_drop else "")
                                   + (f" --augment {a.augment}" if a.augment else "")
                                   + (f" --balanced {a.balanced} --balance {a.balance:g}" if a.balanced else "")
                                   + f" --report {a.report}")
    print(json.dumps(ev["results"], indent=1))


if __name__ == "__main__":
    main()
