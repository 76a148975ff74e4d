"""SignAvatar's paper table: word-set training, the ST-GCN judge and ``signforge eval signavatar``."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from backend.data.lexicon import resolve_lexicon_path

pytestmark = pytest.mark.skipif(not resolve_lexicon_path().exists(), reason="ASL-LEX 2.0 not found")
TINY_SA = {"layers": 1, "width": 32, "heads": 2, "ff": 64, "latent": 8}
TINY_GCN = {"channels": (8, 16)}


def test_word_set_names():
    from training.train import word_set_name

    assert word_set_name(30) == word_set_name("30") == word_set_name("W30") == "w30"
    assert word_set_name(None) is None and word_set_name("") is None
    with pytest.raises(ValueError, match="word set"):
        word_set_name("thirty")


@pytest.fixture(scope="module")
def word_runs(tmp_path_factory):
    from backend.data.dataset import BuildConfig, build
    from training.train import TrainConfig, train

    root = tmp_path_factory.mktemp("words")
    data = root / "ds"
    build(BuildConfig(out=str(data), samples=12, seed=4, workers=1, word_sets=(3,), word_set_samples=10))
    runs = {}
    runs["stgcn"] = root / "stgcn"
    runs["stgcn_steps"] = train(TrainConfig("stgcn", str(data), str(runs["stgcn"]), epochs=2, batch=8, lr=1e-3,
                                            word_set="3", overrides=TINY_GCN), progress=False)["steps"]
    for name, curriculum in (("sa", True), ("sa-nc", False)):
        runs[name] = root / name
        train(TrainConfig("signavatar", str(data), str(runs[name]), epochs=1, batch=8, word_set="w3",
                          condition="gloss", curriculum=curriculum, overrides=TINY_SA), progress=False)
    return data, runs


def test_word_set_runs_train_on_the_word_train_split(word_runs):
    from backend.data.dataset import Dataset

    data, runs = word_runs
    ds = Dataset.open(data)
    train_records = [r for r in ds.split("word_train") if "w3" in r["word_sets"]]
    assert len(train_records) == 24                      # 3 words x 10 samples, 8:2
    assert runs["stgcn_steps"] == 2 * math.ceil(len(train_records) / 8)
    for name in ("stgcn", "sa", "sa-nc"):
        meta = json.loads((runs[name] / "config.json").read_text())
        assert meta["run"]["word_set"] == "w3" and meta["words"] == sorted({r["word"] for r in train_records})


def test_batched_judging_and_reconstruction_match_one_motion_at_a_time(word_runs):
    from backend.runs import load_run
    from training.data import MotionTextData
    from training.evaluate import Classifier, signavatar_motions

    data, runs = word_runs
    judge = Classifier.load(runs["stgcn"])
    items = MotionTextData(data, ("word_test",), "gloss", 10 ** 6, "w3")
    raw = [items[i]["x"].numpy() * items.std + items.mean for i in range(len(items))]
    assert len({len(f) for f in raw}) > 1                # padding is exercised
    preds, pooled = judge.judge(raw)
    for f, p, h in zip(raw, preds, pooled):
        x = torch.as_tensor((f - judge.mean) / judge.std)[None]
        with torch.no_grad():
            one = judge.model.features(x)[0]
        np.testing.assert_allclose(h, one.numpy(), rtol=1e-4, atol=1e-5)
        assert p == int(judge.model.head(one).argmax())
    run = load_run(runs["sa"])
    texts = [r["texts"]["gloss"] for r in items.records]
    rec = signavatar_motions(run, raw, texts, "reconstruct")
    from backend.text import load_text_encoder

    cond = load_text_encoder("minilm").encode(texts[:1]).pooled
    one = run.model.reconstruct(torch.as_tensor((raw[0] - run.mean) / run.std)[None], cond)[0].numpy()
    np.testing.assert_allclose(rec[0], one * run.std + run.mean, rtol=1e-4, atol=1e-4)
    gen = signavatar_motions(run, raw, texts, "generate", seed=1)
    assert [len(g) for g in gen] == [len(f) for f in raw] and not np.allclose(gen[0], rec[0])
    again = signavatar_motions(run, raw, texts, "generate", seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(gen, again))


def test_eval_signavatar_table_is_complete_and_raw_scores_are_the_judges(word_runs, tmp_path):
    from backend.models.metrics import diversity
    from training.data import MotionTextData
    from training.evaluate import Classifier, eval_signavatar

    data, runs = word_runs
    rows = eval_signavatar([str(runs["sa"]), str(runs["sa-nc"])], [str(runs["stgcn"])], str(data))
    assert [r["condition"] for r in rows] == ["3 words: Raw", "3 words: Rec (curriculum)",
                                              "3 words: Gen (curriculum)", "3 words: Rec (no curriculum)",
                                              "3 words: Gen (no curriculum)"]
    cols = [f"{s} {m}" for s in ("train", "test") for m in ("Acc", "FID", "Div", "MM")]
    for r in rows:
        assert list(r)[1:] == cols and all(np.isfinite(r[c]) for c in cols)
        assert 0.0 <= r["train Acc"] <= 1.0 and 0.0 <= r["test Acc"] <= 1.0
        assert r["train Div"] > 0 and r["test MM"] > 0
    judge = Classifier.load(runs["stgcn"])
    items = MotionTextData(data, ("word_test",), "gloss", 10 ** 6, "w3")
    raw = [items[i]["x"].numpy() * items.std + items.mean for i in range(len(items))]
    preds, pooled = judge.judge(raw)
    labels = np.array([items[i]["label"] for i in range(len(items))])
    assert rows[0]["test Acc"] == pytest.approx(float((preds == labels).mean()))
    assert rows[0]["test Div"] == pytest.approx(diversity(pooled, 200, 0))
    assert rows[2]["test FID"] > 0 and rows[2] != rows[4]


def test_signforge_eval_signavatar_writes_the_table_with_its_command(word_runs, tmp_path):
    data, runs = word_runs
    out = tmp_path / "reports" / "signavatar.md"
    cmd = [sys.executable, "-m", "backend.cli", "eval", "signavatar", "--data", str(data), "--stgcn",
           str(runs["stgcn"]), "--run", str(runs["sa"]), "--out", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-1500:]
    text = out.read_text()
    assert f"--run {runs['sa']} --out {out}`" in text and "eval signavatar" in text
    assert "| motions | train Acc | train FID |" in text and "| 3 words: Gen (curriculum) |" in text
    missing = subprocess.run(cmd[:7] + ["--run", str(runs["sa"])], capture_output=True, text=True, timeout=300)
    assert missing.returncode != 0 and "--stgcn" in missing.stdout + missing.stderr
