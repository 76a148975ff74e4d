"""Nothing SignForge loads reaches the network unless a user asks: checked with the guard on."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(code: str, log) -> subprocess.CompletedProcess:
    env = {**os.environ, "SIGNFORGE_NETGUARD_LOG": str(log)}
    env.pop("SIGNFORGE_ALLOW_DOWNLOAD", None)
    env.pop("HF_HUB_OFFLINE", None)   # the user has not set it: SignForge must stay local anyway
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


def test_the_guard_catches_an_attempt(tmp_path):
    log = tmp_path / "net.log"
    run = _run("import urllib.request\n"
               "try:\n    urllib.request.urlopen('https://huggingface.co', timeout=5)\n"
               "except Exception as exc:\n    print(type(exc).__name__)\n", log)
    assert run.returncode == 0, run.stderr
    assert "huggingface.co" in log.read_text()


@pytest.mark.parametrize("encoder", ["clip", "minilm"])
def test_text_encoders_load_local_only(tmp_path, encoder):
    log = tmp_path / "net.log"
    run = _run("from backend.text.encoders import load_text_encoder, EncoderError\n"
               f"try:\n    e = load_text_encoder({encoder!r})\n    print('loaded', e.encode(['a fist']).pooled.shape)\n"
               "except EncoderError as exc:\n    print('refused', exc)\n", log)
    assert run.returncode == 0, run.stderr
    assert not log.exists(), f"{encoder}: {log.read_text()}"
    if encoder == "clip":   # no CLIP weights on this machine: a clear local refusal
        assert run.stdout.startswith("refused no CLIP weights") and "SIGNFORGE_ALLOW_DOWNLOAD" in run.stdout
    else:
        assert run.stdout.startswith("loaded")
