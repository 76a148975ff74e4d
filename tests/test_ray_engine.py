"""The Ray engine on a real local Ray cluster (``ray.init(num_cpus=2)``): ``data build`` and
``reconstruct-batch`` give the local engine's dataset, shard for shard, and a build whose
Ray workers are killed (SIGKILL, mid-shard) still finishes with the same shards.

Nothing is mocked: the worker processes are Ray's own, found by the title Ray gives a
process while it runs a task (``ray::shard_task``) and killed with os.kill. Skipped only
where Ray is not installed (``make setup`` installs it through the ``[dev]`` extra).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_data

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'signforge[ray]' (make setup does)")

LEXICON, _, POSE = shared_data()          # the .pose file: 170 frames at 24 fps, right hand only
needs_lexicon = pytest.mark.skipif(not LEXICON.exists(),
                                   reason=f"ASL-LEX 2.0 not found at {LEXICON} (set SIGNFORGE_LEXICON)")
TASK_TITLE = b"ray::shard_task"


def test_engine_choices_are_checked_and_a_dead_address_is_one_line(tmp_path, monkeypatch):
    from backend.data.dataset import BuildConfig, build
    from backend.engine import Engine, EngineError, run_tasks
    from blender_addon.core.errors import MissingExtraError

    monkeypatch.setenv("RAY_AUTH_MODE", "unset below")       # so that the test's end restores it, whatever it was
    monkeypatch.delenv("RAY_AUTH_MODE")
    with pytest.raises(EngineError, match="--engine must be local or ray"):
        Engine("spark")
    with pytest.raises(EngineError, match="--address names a Ray cluster"):
        Engine("local", "auto")
    with pytest.raises(EngineError, match="--address must be auto, HOST:PORT"):
        list(run_tasks(Engine("ray", "nowhere"), [1], dict, ()))
    if ray.is_initialized():   # run_tasks would use it, whatever the address
        pytest.skip("a Ray is running in this process already")
    with pytest.raises(EngineError, match="cannot reach the Ray cluster at 127.0.0.1:1"):
        list(run_tasks(Engine("ray", "127.0.0.1:1"), [1], dict, ()))
    with pytest.raises(EngineError, match="cannot reach"):   # refused before anything is written
        build(BuildConfig(out=str(tmp_path / "never"), samples=4), engine=Engine("ray", "127.0.0.1:1"))
    assert not (tmp_path / "never").exists()
    # joining by HOST:PORT with a token at hand says token mode before Ray is imported (Ray 2.60
    # refuses such a join otherwise; measured against a `ray start --head` cluster); auto is Ray's own
    from backend.engine import _token_auth_for

    assert "RAY_AUTH_MODE" not in os.environ                 # a refused address changed nothing
    monkeypatch.setenv("RAY_AUTH_TOKEN", "0" * 32)
    _token_auth_for("auto")
    assert "RAY_AUTH_MODE" not in os.environ
    _token_auth_for("head.example.org:6379")
    assert os.environ["RAY_AUTH_MODE"] == "token"
    monkeypatch.setitem(sys.modules, "ray", None)           # as where the [ray] extra is not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'signforge\[ray\]'"):
        Engine("ray").check()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Ray of two CPUs on loopback, which the tests' network guard (tests/netguard) leaves
    open: Ray's own node-address probe is off (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, Ray's
    single-machine mode), and its dashboard process, which asks cloud metadata servers what
    it runs on unless an autoscaler config names the provider, finds an empty one in the HOME
    it starts with."""
    home = tmp_path_factory.mktemp("ray-home")
    (home / "ray_bootstrap_config.yaml").write_text("{}\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", str(home))
        env.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")   # Ray's processes read it at start...
        env.setattr("ray._private.ray_constants.ENABLE_RAY_CLUSTER", False)   # ...this one read it at import
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)   # ours alone
    yield
    ray.shutdown()


def same_folder(a: Path, b: Path) -> list[str]:
    """The files both folders hold, checked alike: JSON lines and markers byte for byte, npz
    arrays to float32 rounding (BLAS kernels vary with memory alignment between processes),
    the manifests equal but for the output folder and worker count they name. Returns the
    names compared."""
    names = sorted(p.name for p in a.iterdir() if not p.name.startswith("."))
    assert names == sorted(p.name for p in b.iterdir() if not p.name.startswith(".")), (a, b)
    for name in names:
        if name.endswith(".npz"):
            with np.load(a / name) as za, np.load(b / name) as zb:
                assert za.files == zb.files, name
                for key in za.files:
                    assert za[key].dtype == zb[key].dtype and za[key].shape == zb[key].shape, (name, key)
                    sums = key in ("feature_sum", "feature_sq", "mean", "std")
                    np.testing.assert_allclose(za[key], zb[key], rtol=1e-6 if sums else 0, atol=1e-6,
                                               err_msg=f"{name}:{key}")
        elif name == "dataset.json":
            ma, mb = (json.loads((d / name).read_text()) for d in (a, b))
            for m in (ma, mb):   # where it went and how many processes made it: not the data
                m["config"].pop("out", None)
                m["config"].pop("workers", None)
            assert ma == mb
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    return names


def busy_shard_workers() -> list[int]:
    """The pids of Ray worker processes running a shard task now."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if fh.read().startswith(TASK_TITLE):
                        pids.append(int(entry))
            except OSError:   # gone meanwhile
                pass
    return pids


@needs_lexicon
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray's workers through /proc")
def test_ray_build_equals_the_local_build_and_survives_killed_workers(tmp_path, cluster):
    from backend.data.dataset import BuildConfig, build
    from backend.engine import Engine

    # 10 shards of 4 in 4 synthesis batches (tasks) of 2-3 shards: a task writes shards one by one
    kw = dict(samples=40, seed=6, shard_size=4, texts_per_sample=2, word_sets=())
    t0 = time.perf_counter()
    build(BuildConfig(out=str(tmp_path / "local"), workers=1, **kw))
    local_s = time.perf_counter() - t0

    out = tmp_path / "ray"
    result: dict = {}

    def run() -> None:
        try:
            result["manifest"] = build(BuildConfig(out=str(out), **kw), engine=Engine("ray"))
        except BaseException as exc:   # noqa: BLE001 - handed to the test thread
            result["error"] = exc

    t0 = time.perf_counter()
    driver = threading.Thread(target=run)
    driver.start()
    killed: list[int] = []
    # once a first shard is on disk, kill every worker busy on a task: each of those tasks
    # has written part of its batch (or none of it) and must be run again whole
    while driver.is_alive() and not killed:
        if any(out.glob("shard-*.jsonl")):
            for pid in busy_shard_workers():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.02)
    driver.join(timeout=240)
    ray_s = time.perf_counter() - t0
    assert not driver.is_alive(), "the Ray build did not finish"
    assert "error" not in result, result.get("error")
    assert killed, "no Ray worker was running a shard once the first shard was written"
    names = same_folder(tmp_path / "local", out)
    assert sum(n.endswith(".npz") and n.startswith("shard-") for n in names) == 10
    assert result["manifest"]["samples"] == 40
    print(f"local {local_s:.1f} s, ray {ray_s:.1f} s with {len(killed)} worker(s) killed")

    # resumable alike: a shard lost from the Ray build is remade by the local engine, the same
    (out / "shard-00003.npz").unlink()
    build(BuildConfig(out=str(out), workers=1, **kw))
    same_folder(tmp_path / "local", out)


@needs_lexicon
@pytest.mark.skipif(not POSE.exists(), reason=f"{POSE} not found")
def test_ray_reconstruct_batch_equals_the_local_one(tmp_path, cluster):
    from backend.engine import Engine
    from backend.reconstruct.batch import BatchConfig, reconstruct_batch

    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(POSE, videos / "signer.pose")
    (videos / "broken.mp4").write_text("this is not a video\n" * 20)
    labels = tmp_path / "labels.csv"
    labels.write_text("file,gloss,start,end,signer_id\nsigner.pose,hand,1.0,2.0,s1\nbroken.mp4,book,,,\n"
                      "signer.pose,shoulder,3.0,4.0,\n")
    outs = {}
    for name, engine in (("local", Engine()), ("ray", Engine("ray"))):
        outs[name] = tmp_path / name
        cfg = BatchConfig(video_dir=str(videos), labels=str(labels), out=str(outs[name]), shard_size=2, workers=1)
        manifest = reconstruct_batch(cfg, engine=engine)
        assert manifest["reconstruction"]["done"] == 2 and len(manifest["reconstruction"]["skipped"]) == 1
        assert manifest["run"]["processed"] == 3
    assert "shard-00001.done.json" in same_folder(outs["local"], outs["ray"])
