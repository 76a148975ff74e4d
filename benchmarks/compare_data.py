"""CPU per data-factory sample, this working tree against another git revision, on identical work.

    .venv/bin/python -m benchmarks.compare_data REV [--samples 256] [--repeats 8]

Both versions' ``backend`` packages are imported side by side in one process (as
``old_backend`` and ``new_backend``; their imports are relative), each warms up on the same
specs, then they sign those specs in turn ``repeats`` times. Run side by side like this, the
machine's drift (up to +-20% over minutes here) hits both alike; the median of the per-pair
ratios is the figure to quote.
"""
from __future__ import annotations

import argparse
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _copy_backend(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rev", help="the git revision to compare against (e.g. HEAD~3)")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args()
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = "1"     # as in a build's workers (set before the backends import numpy)
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), args.rev], cwd=ROOT, check=True)
        try:
            _copy_backend(tree / "backend", Path(tmp) / "old_backend")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True)
        _copy_backend(ROOT / "backend", Path(tmp) / "new_backend")
        sys.path.insert(0, tmp)
        workers, part = {}, None
        for name in ("old", "new"):
            ds = importlib.import_module(f"{name}_backend.data.dataset")
            cfg = ds.BuildConfig(out="-", samples=4096, seed=0, word_sets=())
            worker = ds.ShardWorker(None, cfg)
            part = ds.plan(worker.lex, cfg)[1024:1024 + args.samples]
            worker.samples(part)                 # warm the caches on the specs timed below
            workers[name] = worker
        times: dict[str, list[float]] = {"old": [], "new": []}
        for r in range(args.repeats):
            for name in (("old", "new") if r % 2 == 0 else ("new", "old")):
                t0 = time.process_time()
                workers[name].samples(part)
                times[name].append((time.process_time() - t0) / len(part) * 1000)
    for name in ("old", "new"):
        print(f"{name} ({args.rev if name == 'old' else 'working tree'}): ms/sample min "
              f"{min(times[name]):.2f}, median {statistics.median(times[name]):.2f}")
    ratios = [n / o for n, o in zip(times["new"], times["old"])]
    print(f"new/old CPU per sample: median of pairs {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
