"""Threads on a busy machine (issue 21): counts from the free cores, passive waiting, the
Blender-side backend's spare core, and an override; real processes, no patched clocks."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.threads import free_cores, threads_wanted, usable_cores

ROOT = Path(__file__).resolve().parents[1]
PROBE = ("import json, os; from backend.threads import prepare; n = prepare(leave={leave}); import torch; "
         "print(json.dumps([n, torch.get_num_threads(), os.environ['OMP_WAIT_POLICY']]))")


def _probe(leave: int = 0, **env) -> list:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "SIGNFORGE_THREADS")}
    done = subprocess.run([sys.executable, "-c", PROBE.format(leave=leave)], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_torch_gets_the_chosen_threads_and_waits_passively():
    n, torch_threads, policy = _probe()
    assert 1 <= n <= usable_cores()
    assert torch_threads == n and policy == "PASSIVE"
    n, torch_threads, _ = _probe(SIGNFORGE_THREADS="1")
    assert n == torch_threads == 1
    # the user's own OpenMP settings win
    _, torch_threads, policy = _probe(OMP_NUM_THREADS="1", OMP_WAIT_POLICY="ACTIVE")
    assert torch_threads == 1 and policy == "ACTIVE"


def test_blender_side_backend_leaves_blender_a_core():
    n, torch_threads, _ = _probe(leave=1)
    assert torch_threads == n == max(1, min(n, usable_cores() - 1))
    assert free_cores(leave=1) <= max(1, usable_cores() - 1)


def test_spinning_processes_take_their_cores(monkeypatch):
    monkeypatch.delenv("SIGNFORGE_THREADS", raising=False)
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(usable_cores())]
    try:
        time.sleep(0.5)
        assert free_cores() == 1   # every core runs a spinner: one thread, not one per core
        assert threads_wanted() == 1
    finally:
        for p in spin:
            p.kill()
            p.wait()
    monkeypatch.setenv("SIGNFORGE_THREADS", "3")
    assert threads_wanted() == 3


def test_data_factory_workers_follow_the_free_cores(tmp_path):
    from backend.data.dataset import BuildConfig, build
    from backend.data.lexicon import resolve_lexicon_path

    if not Path(resolve_lexicon_path(None)).exists():
        pytest.skip("ASL-LEX 2.0 not found (set SIGNFORGE_LEXICON)")
    kw = dict(samples=24, seed=2, shard_size=8, texts_per_sample=1, word_sets=())
    assert BuildConfig(out=str(tmp_path / "auto")).workers == 0   # the default: chosen when the build starts
    auto = build(BuildConfig(out=str(tmp_path / "auto"), **kw))
    one = build(BuildConfig(out=str(tmp_path / "one"), workers=1, **kw))
    assert auto["samples"] == one["samples"] == 24
    for shard in sorted((tmp_path / "one").glob("shard-*.jsonl")):
        assert (tmp_path / "auto" / shard.name).read_text() == shard.read_text()


class _ThreadsSeen:
    """A handler whose model request runs torch and answers with the intra-op threads it ran on."""

    def capabilities(self) -> list[str]:
        return ["generate"]

    def check(self, method, params):
        return params or {}

    def call(self, method, params, report):
        import torch

        torch.ones(64, 64) @ torch.ones(64, 64)
        return {"threads": torch.get_num_threads()}


def test_a_listening_server_picks_threads_for_each_request(monkeypatch):
    """``--listen`` servers live for hours: each model request takes the count for the cores free
    when it starts (issue 21), not the one chosen when the server started."""
    import torch

    from backend import threads as T
    from backend.server import TakingTurns
    from backend.threads import PerRequest

    for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "SIGNFORGE_THREADS"):   # as a server starts
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(T, "_CHOSEN", False)
    T.prepare()
    before = torch.get_num_threads()
    shared = TakingTurns(_ThreadsSeen(), threads=PerRequest())
    try:
        monkeypatch.setenv("SIGNFORGE_THREADS", "1")
        assert shared.call("generate", {}, lambda *a, **k: None) == {"threads": 1}
        monkeypatch.setenv("SIGNFORGE_THREADS", "2")
        assert shared.call("generate", {}, lambda *a, **k: None) == {"threads": 2}
        monkeypatch.delenv("SIGNFORGE_THREADS")
        spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(usable_cores())]
        try:
            time.sleep(0.5)
            assert shared.call("generate", {}, lambda *a, **k: None) == {"threads": 1}   # every core spins
        finally:
            for p in spin:
                p.kill()
                p.wait()
    finally:
        torch.set_num_threads(before)


def test_a_servers_own_past_work_is_not_another_process_load():
    """The load average counts the server's own last request too; ``PerRequest`` takes off its
    CPU use with the load average's weighting (e^(-age / 60 s)), so the next request is not
    left with fewer threads for the work the server itself just did."""
    import math

    from backend.threads import LOAD_WINDOW_S, PerRequest, _cpu_seconds

    threads = PerRequest()
    with threads:
        c0, t0 = _cpu_seconds(), time.monotonic()
        while time.monotonic() - t0 < 0.5:
            sum(i * i for i in range(1000))
        used = _cpu_seconds() - c0
    now = time.monotonic()
    own = threads.own_load(now)
    assert used > 0.05
    assert own == pytest.approx(used / LOAD_WINDOW_S, rel=0.25)   # ~ its CPU seconds over the window
    assert threads.own_load(now + LOAD_WINDOW_S) == pytest.approx(own * math.exp(-1), rel=0.25)
