"""Cold start: whole ``signforge`` processes, timed side by side with a bare ``import torch``.

A user runs ``signforge generate`` once and waits for all of it: the interpreter, the
imports, loading the weights, the work and the exit. The machine this runs on is shared
and its speed drifts, so the cases run interleaved (one of each per round, the order
rotating) and the bars are ratios of medians taken in the same run:

- ``generate_over_torch``: a cold ``signforge generate "the right fist taps the chin
  twice" -o X.npz --seconds 2 --steps 50`` over ``python -c "import torch"`` (bar: 2);
- ``help_s``, ``refused_empty_s``, ``refused_suffix_s``: ``signforge --help``, an empty
  prompt and a bad ``-o`` extension (bar: 1 s each), also given over ``import torch``;
- ``refused_reconstruct_s``: ``signforge reconstruct`` of a file that is not there (issue
  17: an error costs under a second; bar 1 s).

``--tree DIR`` (repeatable) runs the CLI of another source tree (for example ``git archive REV backend
blender_addon training | tar -x -C DIR``) next to this one, with the same interpreter, so a
change is measured against its parent in one run. Each process's exit code is checked:
a case that stops answering as it should is an error, not a time.

Run: python -m benchmarks.cold_start [--repeats 7] [--tree DIR]   (or python -m benchmarks.run --suite cold)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
PROMPT = "the right fist taps the chin twice"
BARS = {"generate_over_torch": 2.0, "help_s": 1.0, "refused_empty_s": 1.0, "refused_suffix_s": 1.0,
        "refused_reconstruct_s": 1.0}
# the console script's own lines (``.venv/bin/signforge``), with the tree to import from first
CLI = "import sys; sys.argv[0] = 'signforge'; from backend.cli import main; sys.exit(main())"


def _cases(out: Path) -> dict[str, tuple[list[str], int]]:
    """name -> (arguments to signforge, the exit code it must end with)."""
    return {"help": (["--help"], 0),
            "refused_empty": (["generate", "", "-o", str(out / "empty.npz")], 2),
            "refused_suffix": (["generate", PROMPT, "-o", str(out / "clip.mp3")], 2),
            "refused_reconstruct": (["reconstruct", str(out / "none.mp4"), "-o", str(out / "none.npz")], 2),
            "generate": (["generate", PROMPT, "-o", str(out / "clip.npz"), "--seconds", "2", "--steps", "50"], 0)}


def _time(cmd: list[str], cwd: Path, code: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(cwd), "COLUMNS": "100"}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    if done.returncode != code:
        raise RuntimeError(f"{' '.join(cmd[-6:])} in {cwd} exited {done.returncode}, not {code}: {done.stderr[-500:]}")
    return seconds


def cold_suite(repeats: int, trees: dict[str, Path] | None = None) -> dict:
    """Medians over ``repeats`` interleaved rounds for each tree (default: this one)."""
    trees = trees or {"this": ROOT}
    times: dict[str, list[float]] = {"torch": []}
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [("torch", [sys.executable, "-c", "import torch"], ROOT, 0)]
        for label, tree in trees.items():
            out = Path(tmp) / label
            out.mkdir()
            for name, (args, code) in _cases(out).items():
                key = f"{label}/{name}"
                times[key] = []
                jobs.append((key, [sys.executable, "-c", CLI, *args], tree, code))
        for job in jobs:   # one untimed round: the page cache holds torch and the weights
            _time(job[1], job[2], job[3])
        for r in range(repeats):
            for key, cmd, cwd, code in jobs[r % len(jobs):] + jobs[:r % len(jobs)]:
                times[key].append(_time(cmd, cwd, code))
    torch_s = statistics.median(times["torch"])
    results = {"prompt": PROMPT, "repeats": repeats, "torch_import_s": round(torch_s, 3), "bars": BARS,
               "trees": {k: str(v) for k, v in trees.items()}}
    label = 'python -c "import torch"'
    print(f"{label:34s} {torch_s:6.2f} s   (runs: {_spread(times['torch'])})")
    for label in trees:
        row = {}
        for name in _cases(Path(tmp)):
            s = statistics.median(times[f"{label}/{name}"])
            row[f"{name}_s"] = round(s, 3)
            row[f"{name}_over_torch"] = round(s / torch_s, 2)
            print(f"{label + ': ' + name:34s} {s:6.2f} s   {s / torch_s:5.2f}x torch   "
                  f"(runs: {_spread(times[f'{label}/{name}'])})")
        row["meets"] = {bar: row[bar] <= limit for bar, limit in BARS.items()}
        results[label] = row
    return results


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tree", type=Path, action="append", default=[],
                        help="another source tree to measure beside this one (repeatable; named by its folder)")
    args = parser.parse_args()
    trees = {"this": ROOT, **{tree.resolve().name: tree.resolve() for tree in args.tree}}
    results = cold_suite(args.repeats, trees)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "cold.json"
    path.write_text(json.dumps({"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                                "results": results}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
