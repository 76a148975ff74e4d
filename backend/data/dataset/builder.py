"""Building a dataset folder: plan, run the shards on an engine, then statistics and the manifest.

``build(config)`` plans every sample from the seed (``plan``), skips the shards already on
disk, runs the rest as synthesis batches on the chosen engine (``backend.engine``: local
processes by default, or Ray), then sums the train split's normalization statistics in
shard order and writes ``dataset.json``. A finished shard is never redone, so an
interrupted build resumes where it stopped and gives the same bytes as an uninterrupted
one, whichever engine made which shard. numpy + torch (in the workers); never bpy.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

from ...atomic import atomic_path
from ...engine import Engine, EngineError, run_tasks
from ...threads import free_cores
from ..lexicon import Lexicon, read_lexicon, resolve_lexicon_path
from .assign import MotionTextScorer, make_assigner
from .format import FORMAT_VERSION, LICENCE_NOTE, PARAPHRASE_SPLITS, DatasetError, read_records, write_stats
from .plan import BuildConfig, Spec, plan, plan_hash, shard_jobs, synthesizable, text_split
from .worker import ShardWorker


def build(cfg: BuildConfig, progress: Callable[[int, int], None] | None = None,
          scorer: MotionTextScorer | None = None, engine: Engine = Engine()) -> dict:
    """Build (or finish) the dataset in ``cfg.out``; returns the manifest. ``scorer``: a
    retrieval model object for ``assign="retrieval"``, used in this process alone."""
    if scorer is not None and engine.name != "local":
        raise EngineError("a retrieval model object runs in this process only: use the local engine, "
                          "or pass --retrieval-model RUN_DIR, which every worker loads")
    engine.check()
    lex_path = str(resolve_lexicon_path(cfg.lexicon))
    lex = read_lexicon(lex_path)
    out = Path(cfg.out)
    specs = plan(lex, cfg)
    out.mkdir(parents=True, exist_ok=True)
    if scorer is None and cfg.assign == "retrieval" and cfg.retrieval_run:
        from ...models.thmr import THMRScorer

        scorer = THMRScorer.load(cfg.retrieval_run)   # fail early, before any work (workers load their own)
        in_process = False
    else:
        in_process = scorer is not None
    make_assigner(cfg.assign, scorer)
    digest = plan_hash(cfg, specs)
    plan_file = out / "plan.json"
    if plan_file.exists():
        old = json.loads(plan_file.read_text())
        if old.get("plan_hash") != digest:
            raise DatasetError(f"{out} holds a dataset built with other settings; use a new --out folder")
    else:
        with atomic_path(plan_file) as tmp:
            tmp.write_text(json.dumps({"plan_hash": digest, "config": cfg.plan_key()}, indent=1))
    # the workers get absolute paths: a Ray worker runs in a folder of its own, on any node
    jobs = shard_jobs(specs, cfg, out.resolve())
    worker_cfg = replace(cfg, out=str(out.resolve()),
                         retrieval_run=str(Path(cfg.retrieval_run).resolve()) if cfg.retrieval_run else None)
    worker_lex = str(Path(lex_path).resolve())
    done = len(specs) - sum(len(job.specs) for batch in jobs for job in batch if job.write)
    if progress:
        progress(done, len(specs))
    if in_process:
        results = run_tasks(Engine(), jobs, ShardWorker,
                            (worker_lex, worker_cfg, scorer if not cfg.retrieval_run else None))
    else:
        workers = cfg.workers or free_cores()   # extra workers on busy cores cost more than they give
        results = run_tasks(engine, jobs, ShardWorker, (worker_lex, worker_cfg), workers=workers)
    for n in results:
        done += n
        if progress:
            progress(done, len(specs))
    return _finish(out, cfg, lex, specs)


def _finish(out: Path, cfg: BuildConfig, lex: Lexicon, specs: list[Spec]) -> dict:
    """Normalization statistics (train split) and the manifest."""
    counts: dict[str, int] = {}
    correct = 0
    multi = 0
    left_handed = 0
    shards = sorted(p.name for p in out.glob("shard-*.npz"))
    for name in shards:
        for rec in read_records(out / name.replace(".npz", ".jsonl")):
            counts[rec["split"]] = counts.get(rec["split"], 0) + 1
            left_handed += rec.get("dominant") == "left"
            if len(rec["candidates"]) > 1:
                multi += 1
                correct += rec["assigned"] == rec["entry"]
    if not write_stats(out, shards, lambda rec: rec["split"] == "train"):
        raise DatasetError("the train split is empty: raise --samples")
    _, why = synthesizable(lex)
    manifest = {
        "format_version": FORMAT_VERSION, "licence": LICENCE_NOTE, "config": asdict(cfg),
        "lexicon": {"path": lex.path, "sha256": hashlib.sha256(Path(lex.path).read_bytes()).hexdigest(),
                    "entries": len(lex), "not_synthesized": why},
        "samples": len(specs), "splits": counts, "shards": shards,
        "assignment": {"mode": cfg.assign, "multi_variant_samples": multi,
                       "accuracy": (correct / multi) if multi else None},
        "texts": dict(text_split(cfg).as_dict(), paraphrase_splits=list(PARAPHRASE_SPLITS),
                      left_handed=left_handed),
    }
    with atomic_path(out / "dataset.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest
