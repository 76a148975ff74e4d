"""Warm generation on a busy machine against the same on a quiet one (issue 21).

Each case is a fresh process that sets up its threads as ``signforge`` does
(``backend.threads.prepare``: intra-op threads from the cores free at start, passive OpenMP
waiting), loads the shipped HandMDM, warms up, then times warm ``generate`` calls: a 2 s
clip sampled from noise (refine 1, ``--steps`` DDIM steps, guidance 2.5), the HandMDM path
the issue measured. "Busy" is the same after this benchmark starts one spinning process per
usable core (``while True: pass``; ended, by their ids, when the case finishes); "quiet" is
without them. Beside the current setup, the old one (torch's default: a thread per core,
OpenMP's default waiting) runs under the same two conditions, so the gain shows in one run.

The machine may be shared: "quiet" then means no spinners of ours, and the load average at
each case's start is recorded. Bar: busy within 2x of quiet (``busy_over_quiet`` <= 2).

Run: python -m benchmarks.busy [--repeats 3] [--steps 50]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
PROMPT = "the right hand, shaped as a fist with the thumb up, taps the chin twice"
CHILD = """
import json, os, sys, time
if os.environ.get("BENCH_SETUP") == "current":
    from backend.threads import prepare
    prepare()
import torch
from backend.generate import generate
steps, repeats = int(sys.argv[1]), int(sys.argv[2])
prompt = {prompt!r}
generate(prompt + ", 0 times", seconds=2, steps=steps, seed=0, refine=1)   # loads the run, warms up
times = []
for k in range(repeats):
    t0 = time.perf_counter()
    generate(prompt + f", {{k + 1}} times", seconds=2, steps=steps, seed=0, refine=1)
    times.append(time.perf_counter() - t0)
print(json.dumps({{"threads": torch.get_num_threads(), "times": times}}))
""".format(prompt=PROMPT)


def _spinners(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def _case(setup: str, busy: bool, steps: int, repeats: int, timeout: float) -> dict:
    from backend.threads import usable_cores

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "SIGNFORGE_THREADS")}
    env["BENCH_SETUP"] = setup
    spin = _spinners(usable_cores()) if busy else []
    try:
        time.sleep(1.0 if busy else 0.0)   # the spinners running before the process picks its threads
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-c", CHILD, str(steps), str(repeats)], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"setup": setup, "busy": busy, "load_at_start": load, "timed_out_s": timeout}
        if done.returncode != 0:
            raise RuntimeError(f"{setup} {'busy' if busy else 'quiet'} failed:\n{done.stderr[-2000:]}")
        out = json.loads(done.stdout.strip().splitlines()[-1])
        return {"setup": setup, "busy": busy, "load_at_start": round(load, 2), "threads": out["threads"],
                "median_s": round(statistics.median(out["times"]), 3), "times_s": [round(t, 3) for t in out["times"]],
                "process_s": round(time.perf_counter() - t0, 2)}
    finally:
        for p in spin:
            p.kill()
            p.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="warm generations timed per case")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a case counts as stalled")
    args = parser.parse_args()
    cases = []
    for setup in ("current", "old"):
        for busy in (False, True):
            c = _case(setup, busy, args.steps, args.repeats, args.timeout)
            cases.append(c)
            what = f"{c['median_s'] * 1000:8.1f} ms with {c['threads']} threads" if "median_s" in c \
                else f"stalled past {c['timed_out_s']:.0f} s"
            print(f"{setup:>7} {'busy' if busy else 'quiet':>5} (load {c['load_at_start']:.2f}): warm 2 s clip, "
                  f"{args.steps} steps: {what}", flush=True)
    ratios = {}
    for setup in ("current", "old"):
        quiet, busy = (next(c for c in cases if c["setup"] == setup and c["busy"] == b) for b in (False, True))
        if "median_s" in quiet and "median_s" in busy:
            ratios[f"{setup}_busy_over_quiet"] = round(busy["median_s"] / quiet["median_s"], 2)
    print("  ".join(f"{k} {v:.2f}" for k, v in ratios.items()), "(bar: current <= 2)")
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "busy.json"
    path.write_text(json.dumps({"machine": machine, "steps": args.steps, "repeats": args.repeats,
                                "cases": cases, **ratios}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
