"""Training runs on a tiny factory dataset: run folders, resume, and DDP with two processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from backend.data.lexicon import resolve_lexicon_path

pytestmark = pytest.mark.skipif(not resolve_lexicon_path().exists(), reason="ASL-LEX 2.0 not found")
TINY = {"layers": 1, "width": 32, "heads": 2, "ff": 64}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from backend.data.dataset import BuildConfig, build

    out = tmp_path_factory.mktemp("ds")
    build(BuildConfig(out=str(out), samples=40, seed=3, workers=1, word_sets=(3,), word_set_samples=5))
    return out


@pytest.mark.parametrize("model", ["handmdm", "signavatar", "thmr", "stgcn"])
def test_each_model_trains_into_a_run_folder_and_resumes(dataset, tmp_path, model):
    from training.train import TrainConfig, train

    overrides = {} if model == "stgcn" else TINY
    cfg = TrainConfig(model, str(dataset), str(tmp_path / model), epochs=1, batch=16, overrides=overrides)
    first = train(cfg, progress=False)
    run = tmp_path / model
    last = f"checkpoints/step-{first['steps']:09d}"   # the epoch's end: a step checkpoint
    for name in ("config.json", "weights.safetensors", "stats.npz", "losses.csv", "provenance.json",
                 f"{last}/trainer.json", f"{last}/optimizer.safetensors", f"{last}/rng-0.safetensors"):
        assert (run / name).exists(), name
    meta = json.loads((run / "config.json").read_text())
    assert meta["format_version"] == 1 and meta["run"]["model"] == model
    assert load_file(str(run / "weights.safetensors"))
    again = train(TrainConfig(**{**cfg.__dict__, "epochs": 2}), progress=False)
    assert again["steps"] == 2 * first["steps"]
    rows = (run / "losses.csv").read_text().splitlines()
    header = "step,epoch,loss" + (",x0,vel,pos,pos_vel,length" if model == "handmdm" else "")
    assert rows[0] == header and len(rows) == 1 + again["steps"]
    assert all(len(r.split(",")) == len(header.split(",")) for r in rows)
    if model == "handmdm":   # the loss weights are part of the run's record; the length head is on
        assert meta["run"]["w_pos"] == 100.0 and meta["run"]["w_vel"] == 1.0 and meta["model"]["length_head"]
    if model != "stgcn":     # texts came from the dataset's cache, encoded once by the run's encoder
        assert (dataset / "text-minilm-phonology+hms" / "index.npz").exists()


def test_cached_texts_match_the_encoder_and_uncached_training_runs(dataset, tmp_path):
    from backend.text import load_text_encoder
    from training.data import MotionTextData
    from training.text_cache import text_cache
    from training.train import TrainConfig, train

    data = MotionTextData(dataset, ("train",))
    texts = data.condition_texts()
    table = text_cache(dataset, "phonology+hms", texts, "minilm", lambda: load_text_encoder("minilm"))
    assert len(table) == len(texts) >= len(data.all_texts())
    got, want = table.encode(texts[:8]), load_text_encoder("minilm").encode(texts[:8])
    assert torch.equal(got.mask, want.mask)
    assert (got.tokens - want.tokens).abs().max() < 2e-2 and (got.pooled - want.pooled).abs().max() < 2e-3
    cfg = TrainConfig("handmdm", str(dataset), str(tmp_path / "nc"), epochs=1, batch=16, overrides=TINY,
                      text_cache=False, w_pos=0.0, w_pos_vel=0.0)
    assert train(cfg, progress=False)["steps"] >= 1
    head = (tmp_path / "nc" / "losses.csv").read_text().splitlines()[0]
    assert head == "step,epoch,loss,x0,vel,length"   # weights of 0 skip the FK entirely


def test_an_unwritable_dataset_falls_back_to_live_encoding(dataset, monkeypatch):
    import training.text_cache as tc
    from training.data import MotionTextData
    from training.train import TrainConfig, _texts

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tc, "text_cache", refuse)
    enc = _texts(TrainConfig("handmdm", str(dataset), "unused"), MotionTextData(dataset, ("train",)), 0, 1)
    assert enc.name == "minilm" and enc.encode(["a fist"]).tokens.shape[-1] == 384


def test_devices_are_chosen_and_refused():
    from training.distributed import device_for as _device
    from training.distributed import rank_seed

    assert _device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert _device("auto").type == "cpu"
        with pytest.raises(ValueError, match="no CUDA"):
            _device("cuda")
    with pytest.raises((ValueError, RuntimeError)):
        _device("tpu")
    seeds = {rank_seed(7, r) for r in range(4)}
    assert rank_seed(7, 0) == 7 and len(seeds) == 4 and rank_seed(7, 1) == rank_seed(7, 1) != rank_seed(8, 1)


def test_a_different_run_in_the_same_folder_is_refused(dataset, tmp_path):
    from training.train import TrainConfig, train

    train(TrainConfig("thmr", str(dataset), str(tmp_path / "r"), epochs=1, batch=16, overrides=TINY), progress=False)
    with pytest.raises(ValueError, match="different run"):
        train(TrainConfig("handmdm", str(dataset), str(tmp_path / "r"), epochs=1, batch=16, overrides=TINY),
              progress=False)


@pytest.mark.parametrize("model", ["thmr", "handmdm"])
def test_ddp_with_two_processes_on_gloo(dataset, tmp_path, model):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "training.train", model,
           "--data", str(dataset), "--out", str(out), "--epochs", "1", "--batch", "8", "--device", "cpu"]
    cmd += sum([["--override", f"{k}={v}"] for k, v in TINY.items()], [])
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1], env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    # python -m training.train is signforge train; rank 0 alone reports. Two processes share the
    # 32 train-split samples: 16 each, two batches of 8
    assert run.stdout.count(f"trained {model}: 2 steps") == 1, run.stdout
    assert (out / "weights.safetensors").exists()
    rows = (out / "losses.csv").read_text().splitlines()
    assert len(rows) == 1 + 2   # one row per step: the ranks' mean, written by rank 0


@pytest.fixture(scope="module")
def tiny_runs(dataset, tmp_path_factory):
    from training.train import TrainConfig, train

    root = tmp_path_factory.mktemp("runs")
    for model in ("handmdm", "signavatar"):
        train(TrainConfig(model, str(dataset), str(root / model), epochs=1, batch=16, overrides=TINY),
              progress=False)
    return root


def test_generate_from_a_trained_run(tiny_runs, tmp_path):
    from backend.generate import GenerateError, generate
    from backend.io import load_motion

    a = generate("the right hand taps the chin", frames=20, steps=5, seed=1, num=2, run_dir=tiny_runs / "handmdm")
    b = generate("the right hand taps the chin", frames=20, steps=5, seed=1, num=2, run_dir=tiny_runs / "handmdm")
    assert len(a) == 2 and a[0].num_frames == 20 and a[0].fps == 25.0
    assert (a[0].poses == b[0].poses).all() and not (a[0].poses == a[1].poses).all()
    s = generate("both hands circle", seconds=1.0, seed=0, run_dir=tiny_runs / "signavatar")
    assert s[0].num_frames == 25
    # no length given: the run's length head picks it from the text, within 1 s and the model's limit
    auto = generate("the right hand taps the chin", steps=2, seed=1, run_dir=tiny_runs / "handmdm")[0]
    from backend.runs import load_run

    net = load_run(tiny_runs / "handmdm").model
    assert net.length_mlp is not None and 25 <= auto.num_frames <= net.cfg.max_frames
    assert generate("the right hand taps the chin", seconds=2.0, steps=2, run_dir=tiny_runs / "handmdm")[0] \
        .num_frames == 50
    with pytest.raises(GenerateError, match="empty"):
        generate("  ", run_dir=tiny_runs / "handmdm")
    with pytest.raises(GenerateError, match="exceed"):   # 80 s: over HandMDM's longest take
        generate("x", frames=2000, run_dir=tiny_runs / "handmdm")
    assert generate("the right hand taps the chin", frames=net.cfg.longest, steps=2,
                    run_dir=tiny_runs / "handmdm")[0].num_frames == net.cfg.longest   # the window, in full
    with pytest.raises(GenerateError, match="not a SignForge run"):
        generate("x", run_dir=tmp_path)
    out = tmp_path / "tap.npz"
    cmd = [sys.executable, "-m", "backend.cli", "generate", "the right hand taps the chin", "-o", str(out),
           "--run", str(tiny_runs / "handmdm"), "--frames", "16", "--steps", "4"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-1500:]
    assert load_motion(out).num_frames == 16


def test_a_half_rate_run_fine_tunes_from_another_and_generates_at_25_fps(dataset, tiny_runs, tmp_path):
    """--frame-step 2 --init RUN: the full-rate run's weights start a 12.5 fps model, whose takes
    come back at 25 fps, of the length asked for or (auto) within its longer limit."""
    import shutil

    from backend.generate import generate
    from backend.runs import load_run, write_stats
    from training.train import TrainConfig, train

    cfg = TrainConfig("handmdm", str(dataset), str(tmp_path / "half"), epochs=1, batch=16, overrides=TINY,
                      frame_step=2, max_frames=100, init=str(tiny_runs / "handmdm"))
    train(cfg, progress=False)
    meta = json.loads((tmp_path / "half" / "config.json").read_text())
    assert meta["model"]["frame_step"] == 2 and meta["model"]["max_frames"] == 51
    assert meta["run"]["init"] == str(tiny_runs / "handmdm")
    net = load_run(tmp_path / "half").model
    assert net.cfg.longest == 101
    take = generate("the right hand taps the chin", frames=37, steps=3, run_dir=tmp_path / "half")[0]
    assert take.num_frames == 37 and take.fps == 25.0
    auto = generate("the right hand taps the chin", steps=2, run_dir=tmp_path / "half")[0]
    assert 25 <= auto.num_frames <= 101
    other = tmp_path / "other"
    shutil.copytree(tiny_runs / "handmdm", other)
    mean, std = load_run(other).mean, load_run(other).std
    write_stats(other, mean + 1.0, std)
    with pytest.raises(ValueError, match="normalization"):
        train(TrainConfig(**{**cfg.__dict__, "out": str(tmp_path / "half2"), "init": str(other)}), progress=False)


def test_manifest_catches_a_damaged_weights_file(tiny_runs, tmp_path):
    import shutil

    from backend.runs import RunError, sha256, verify_manifest

    run = tmp_path / "handmdm"
    shutil.copytree(tiny_runs / "handmdm", run)
    manifest = tmp_path / "MANIFEST.json"
    files = {f"handmdm/{n}": sha256(run / n) for n in ("config.json", "weights.safetensors", "stats.npz")}
    manifest.write_text(json.dumps({"files": files}))
    verify_manifest(run, manifest)
    with open(run / "weights.safetensors", "r+b") as fh:
        fh.seek(-8, 2)
        fh.write(b"\x00" * 8)
    with pytest.raises(RunError, match="sha256"):
        verify_manifest(run, manifest)


def test_retrieval_assignment_with_a_trained_thmr(dataset, tiny_runs, tmp_path):
    from backend.data.dataset import BuildConfig, build
    from training.train import TrainConfig, train

    train(TrainConfig("thmr", str(dataset), str(tmp_path / "thmr"), epochs=1, batch=16, overrides=TINY),
          progress=False)
    cfg = BuildConfig(out=str(tmp_path / "ds"), samples=30, seed=5, workers=1, word_sets=(),
                      assign="retrieval", retrieval_run=str(tmp_path / "thmr"))
    manifest = build(cfg)
    assert manifest["assignment"]["mode"] == "retrieval"
    from backend.data.dataset import Dataset

    records = Dataset.open(tmp_path / "ds").records
    assert all(r["assignment"] == "retrieval" and r["assigned"] in r["candidates"] for r in records)
    if manifest["assignment"]["multi_variant_samples"]:
        assert 0.0 <= manifest["assignment"]["accuracy"] <= 1.0


def test_eval_writes_a_handmdm_table_with_its_command(dataset, tiny_runs, tmp_path):
    from backend.data.dataset import BuildConfig, build
    from training.evaluate import eval_handmdm, write_table
    from training.train import TrainConfig, train

    data = tmp_path / "evalds"
    build(BuildConfig(out=str(data), samples=170, seed=9, workers=1, word_sets=(), unseen_fraction=0.3,
                      test_seen_fraction=0.4))
    train(TrainConfig("thmr", str(dataset), str(tmp_path / "thmr"), epochs=1, batch=16, overrides=TINY),
          progress=False)
    rows = eval_handmdm({"phonology+hms": str(tiny_runs / "handmdm"), "same run, other label": str(tiny_runs / "handmdm")},
                        str(tmp_path / "thmr"), str(data), samples=32, steps=2)
    assert [r["condition"] for r in rows] == ["ground truth", "phonology+hms", "same run, other label"]
    assert rows[1]["text"] == rows[2]["text"] == "phonology+hms"     # prompted with the run's own condition
    assert rows[1]["test_unseen R@3"] == rows[2]["test_unseen R@3"]  # same run, same seeds: same numbers
    for r in rows:
        for split in ("test_seen", "test_unseen"):
            assert 0.0 <= r[f"{split} R@1"] <= r[f"{split} R@3"] <= 1.0
    assert rows[0]["test_seen FID"] == 0.0 and rows[1]["test_seen FID"] > 0.0
    table = write_table(rows, tmp_path / "reports" / "handmdm.md", "HandMDM", command="signforge eval handmdm ...")
    text = table.read_text()
    assert "`signforge eval handmdm ...`" in text and "| ground truth |" in text and "test_unseen R@3" in text


def test_shipped_weights_load_verified_and_generate():
    from backend.generate import DEFAULT_RUNS, generate
    from backend.runs import MANIFEST, load_run

    shipped = [m for m, p in DEFAULT_RUNS.items() if (p / "config.json").exists()]
    if not shipped:
        pytest.skip("no trained weights are shipped in backend/weights yet")
    manifest = json.loads(MANIFEST.read_text())
    for model in shipped:
        run = load_run(DEFAULT_RUNS[model])               # checks the sha256 sums
        assert run.kind == model and model in " ".join(manifest["runs"])
        motion = generate("the right hand, shaped as a fist, taps the chin twice", model=model, frames=30,
                          steps=5, seed=0)[0]
        assert motion.num_frames == 30 and np.isfinite(motion.poses).all()
    if "handmdm" in shipped:   # the default picks the length from the text, within 1 s and its limit
        auto = generate("the flat hand circles", steps=2, seed=0)[0].num_frames
        assert 25 <= auto <= load_run(DEFAULT_RUNS["handmdm"]).model.cfg.longest
        from backend.runs import WEIGHTS   # a run from before the length head keeps 2.4 s
        assert generate("the flat hand circles", steps=2, seed=0, refine=1,   # refine 1: no plan
                        run_dir=WEIGHTS / "handmdm-small")[0].num_frames == 60


def test_shipped_thmr_scores_variants():
    from backend.models.thmr import THMRScorer
    from backend.runs import SHIPPED

    run = SHIPPED["thmr"]
    if not (run / "config.json").exists():
        pytest.skip("no THMR weights are shipped")
    scorer = THMRScorer.load(run)
    scores = scorer.score(np.zeros((30, 274), np.float32), ["the right hand taps the chin", "both hands circle"])
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_learning_rate_warms_up_then_follows_a_half_cosine():
    from training.train import lr_factor

    assert lr_factor(0, 1000) == 1.0 == lr_factor(999, 1000)              # constant unless asked
    assert lr_factor(0, 1000, warmup=100) == pytest.approx(0.01)
    assert lr_factor(99, 1000, warmup=100) == 1.0 == lr_factor(100, 1000, warmup=100, cosine=True)
    assert lr_factor(550, 1000, warmup=100, cosine=True) == pytest.approx(0.55)
    assert lr_factor(1000, 1000, warmup=100, cosine=True) == pytest.approx(0.1)
    steps = [lr_factor(s, 1000, 100, True) for s in range(100, 1000)]
    assert all(a >= b for a, b in zip(steps, steps[1:]))                   # never rises after warm-up
