"""Cold start, as behaviour (the times are in benchmarks/cold_start.py): refused requests
answer without importing torch, and the CLI's quick exit keeps every line, file, exit code
and atexit handler."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# the CLI, with an atexit handler (registered first, so it runs last) that says which heavy
# modules the process imported and that atexit handlers still run after the quick exit
RUNNER = ("import atexit, os, sys\n"
          "atexit.register(lambda: open(os.environ['MODULES_FILE'], 'w').write("
          "' '.join(m for m in ('torch', 'smplx', 'scipy', 'sentence_transformers') if m in sys.modules)))\n"
          "sys.argv = ['signforge'] + sys.argv[1:]\n"
          "from backend.cli import main\n"
          "main()\n")


def signforge(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    seen = tmp_path / "modules.txt"
    seen.unlink(missing_ok=True)
    run = subprocess.run([sys.executable, "-c", RUNNER, *args], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "MODULES_FILE": str(seen), "COLUMNS": "200"}, cwd=ROOT)
    assert seen.exists(), f"the atexit handler did not run: {run.stderr}"
    return run, seen.read_text().split()


@pytest.mark.parametrize("args, message", [
    (["generate", "", "-o", "{tmp}/x.npz"], "the prompt is empty"),
    (["generate", "a fist taps the chin", "-o", "{tmp}/x.mp3"], "unknown extension '.mp3'"),
    (["generate", "a fist taps the chin", "-o", "{tmp}/x.npz", "--steps", "0"], "--steps must be at least 1"),
    (["generate", "a fist taps the chin", "-o", "{tmp}/x.npz", "--seconds", "60"], "exceed this model's longest"),
    (["generate", "a fist taps the chin", "-o", "{tmp}/x.npz", "--hand", "middle"], "--hand must be one of"),
    (["generate", "a fist taps the chin", "-o", "{tmp}/x.npz", "--run", "{tmp}/none"], "not a SignForge run"),
    (["info", "{tmp}/none.npz"], "no such file"),
    (["reconstruct", "{tmp}/none.mp4", "-o", "{tmp}/x.npz"], "no such file"),
    (["reconstruct", "{tmp}", "-o", "{tmp}/x.npz"], "is a folder"),
    (["reconstruct", "README.md", "-o", "{tmp}/x.npz"], "unknown kind of file '.md'"),
    (["reconstruct", "{tmp}/none.mp4", "-o", "{tmp}/x.mp3"], "unknown extension '.mp3'"),
], ids=["empty", "suffix", "steps", "too-long", "hand", "no-run", "info", "reconstruct-missing",
        "reconstruct-folder", "reconstruct-kind", "reconstruct-suffix"])
def test_refused_requests_answer_without_torch(tmp_path, args, message):
    run, heavy = signforge(tmp_path, *[a.format(tmp=tmp_path) for a in args])
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert heavy == [], f"a refused request imported {heavy}"


def test_the_quick_exit_keeps_output_files_and_codes(tmp_path):
    """After torch was loaded the CLI leaves with os._exit: everything it printed and wrote is
    there, and its exit code, and the atexit handlers ran."""
    from backend.io import load_motion

    out = tmp_path / "tap.npz"
    run, heavy = signforge(tmp_path, "generate", "the right fist taps the chin twice", "-o", str(out),
                           "--seconds", "2", "--steps", "5")
    assert run.returncode == 0, run.stderr
    assert "torch" in heavy and "sentence_transformers" not in heavy
    assert run.stdout.strip() == f"wrote {out} (50 frames, 2.00 s)"
    assert load_motion(out).num_frames == 50 and np.isfinite(load_motion(out).poses).all()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".signforge-tmp-")]
    info, _ = signforge(tmp_path, "info", str(out))   # a long table on stdout, through a pipe
    assert info.returncode == 0 and "frames" in info.stdout and "provenance.source" in info.stdout
