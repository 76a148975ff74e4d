"""The scene parser: the shipped weights read plain prompts right, and the training code runs
end to end (with resume) on a tiny table of texts encoded live by the real MiniLM."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from backend.data.text import Scene
from backend.plan.parse import FIELDS, SHIPPED_PARSER, ParseError, load_parser, scene_labels

MAIN = ("side", "hands", "place", "action", "count")
PROMPTS = {   # text -> (side, hands, place, action, count)
    "The left fist taps the chin twice.": ("left", "one", "chin", "tap", 2),
    "Circle the flat right hand in front of the chest.": ("right", "one", None, "circle", 1),
    "Both flat hands move apart.": ("right", "both", None, "apart", 1),
    "Touch your forehead with your right index finger.": ("right", "one", "forehead", "touch", 1),
    "The right hand, shaped as a fist, taps the chin three times.": ("right", "one", "chin", "tap", 3),
}


@pytest.fixture(scope="module")
def parser():
    if not (SHIPPED_PARSER / "config.json").exists():
        pytest.skip("no scene parser is shipped")
    return load_parser()


def test_the_shipped_parser_reads_plain_prompts(parser):
    parsed = parser.parse_many(list(PROMPTS))
    for (text, want), p in zip(PROMPTS.items(), parsed):
        got = tuple(getattr(p.scene, f) for f in MAIN)
        assert got == want, (text, got)
        assert set(p.confidence) == set(FIELDS) and all(0.0 < c <= 1.0 for c in p.confidence.values())
    place = parsed[0].probs("place")
    assert next(iter(place)) == "chin" and abs(sum(place.values()) - 1.0) < 1e-4   # most likely first
    assert parsed[0].scene.contact and parser.parse("The left fist taps the chin twice.").scene == parsed[0].scene


def test_bad_prompts_and_weights_are_one_line(parser, tmp_path):
    for text in ("", "   ", "?!"):
        with pytest.raises(ParseError, match="nothing to parse"):
            parser.parse(text)
    with pytest.raises(ParseError, match="no config.json"):
        load_parser(tmp_path / "nowhere")
    bad = tmp_path / "bad"
    shutil.copytree(SHIPPED_PARSER, bad)
    (bad / "weights.safetensors").write_bytes(b"not weights")
    with pytest.raises(ParseError) as exc:
        load_parser(bad)
    assert "weights.safetensors" in str(exc.value) and "\n" not in str(exc.value)


def test_signforge_parse_prints_one_line_per_field(parser):
    run = subprocess.run([sys.executable, "-m", "backend.cli", "parse", "The left fist taps the chin twice."],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert run.returncode == 0, run.stderr
    lines = {ln.split()[0]: ln.split()[1] for ln in run.stdout.splitlines()}
    assert list(lines) == list(FIELDS) + ["planned"] and lines["side"] == "left" and lines["place"] == "chin"
    planned = run.stdout.splitlines()[-1].split()
    assert planned[1:5] == ["left", "one", "s", "chin"]          # what a take signs: the left fist at the chin
    bad = subprocess.run([sys.executable, "-m", "backend.cli", "parse", " "], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "nothing to parse" in bad.stderr


def test_training_runs_end_to_end_and_resumes(tmp_path):
    from backend.text import load_text_encoder
    from training.parser import TRAINER, ParserTrainConfig, evaluate, fit, targets
    from training.text_cache import build_table

    base = dict(side="right", hands="one", shape="s", base_shape="", place="chin", place_side="", contact=True,
                action="tap", count=2)
    scenes = {"taps the chin twice": Scene(**base),
              "circles in front of the chest": Scene(**{**base, "place": None, "contact": False,
                                                        "action": "circle", "count": 1}),
              "touches the forehead": Scene(**{**base, "place": "forehead", "action": "touch", "count": 1})}
    texts, labels = [], []
    for subject, side in (("The right fist", "right"), ("The left fist", "left"), ("Your right hand", "right"),
                          ("Your left hand", "left"), ("The signer's right hand", "right"),
                          ("The signer's left hand", "left"), ("One hand", "right"), ("A fist", "right")):
        for verb, scene in scenes.items():
            texts.append(f"{subject} {verb}.")
            labels.append(scene_labels(Scene(**{**scene.__dict__, "side": side})))
    table = build_table(tmp_path / "table", texts, load_text_encoder("minilm"))
    out = tmp_path / "run"
    cfg = ParserTrainConfig("unused", str(out), steps=4, batch=8, checkpoint_every=2, min_count=1, warmup=1,
                            token_drop=0.2)   # words hidden at random, as the shipped parser was trained
    fit(cfg, texts, labels, table.encode)
    assert json.loads((out / TRAINER).read_text())["step"] == 4
    said = []
    net, vocab = fit(ParserTrainConfig(**{**cfg.__dict__, "steps": 8}), texts, labels, table.encode, log=said.append)
    assert said[0] == "resuming at step 4 of 8" and json.loads((out / TRAINER).read_text())["step"] == 8
    assert len((out / "losses.csv").read_text().splitlines()) == 1 + 8   # header + one row a step
    assert vocab["side"] == ["right", "left"] and vocab["action"][0] in ("tap", "circle", "touch")
    acc = evaluate(net, texts, targets(labels, vocab), table.encode)
    assert set(FIELDS) <= set(acc) and acc["texts"] == len(texts) and 0.0 <= acc["exact scene"] <= 1.0
    parsed = load_parser(out, encoder=table).parse_many(texts[:2])   # the run folder loads as a parser
    assert [p.text for p in parsed] == texts[:2] and all(p.scene.side in ("left", "right") for p in parsed)


def test_augmented_texts_keep_the_datasets_held_out_words_out_and_read_from_two_tables(tmp_path):
    from backend.data import vocab as V
    from backend.data.dataset import BuildConfig, build
    from backend.text import load_text_encoder
    from training.parser import _Tables, augment_texts, dataset_split
    from training.text_cache import build_table

    data = tmp_path / "ds"
    build(BuildConfig(out=str(data), samples=40, seed=0, workers=1, shard_size=40, word_sets=()))
    split = dataset_split(str(data))
    assert split == V.TextSplit.from_seed(0)          # the manifest's split is the build's
    texts, labels = augment_texts(str(data), 12, seed=1)
    assert 8 <= len(texts) <= 12 and len(labels) == len(texts) and len(set(texts)) == len(texts)
    assert texts == augment_texts(str(data), 12, seed=1)[0]   # seeded
    held = list(V.word_patterns(split).values())
    assert not [t for t in texts if any(p.search(t) for p in held)]
    assert {lab["side"] for lab in labels} <= {"left", "right"} and all(set(lab) == set(FIELDS) for lab in labels)
    encoder = load_text_encoder("minilm")
    a, b = build_table(tmp_path / "a", texts[:4], encoder), build_table(tmp_path / "b", texts[4:8], encoder)
    mixed = [texts[5], texts[0], texts[7]]
    both = _Tables(a, b).encode(mixed)
    for row, text in enumerate(mixed):
        alone = (a if text in a.row else b).encode([text])
        n = int(alone.mask.sum())
        assert int(both.mask[row].sum()) == n
        assert torch.allclose(both.tokens[row, :n], alone.tokens[0, :n])
        assert torch.allclose(both.pooled[row], alone.pooled[0])
    # balanced draws: every action about equally often, each draw described anew
    even, even_labels = augment_texts(str(data), 40, seed=1, balance=1.0)
    assert len(even) == len(even_labels) >= 20 and len(set(even)) == len(even)
    actions = {lab["action"] for lab in labels}
    assert {lab["action"] for lab in even_labels} >= actions


def test_a_table_rebuilt_for_changed_texts_encodes_only_the_new_ones(tmp_path):
    from backend.text import load_text_encoder
    from training.text_cache import text_cache

    encoder = load_text_encoder("minilm")
    calls = []

    class Counting:
        name, dim = encoder.name, encoder.dim

        def encode(self, texts):
            calls.append(list(texts))
            return encoder.encode(texts)

    old = ["tap the chin twice", "a fist circles", "both hands move apart"]
    first = text_cache(tmp_path, "c", old, "minilm", Counting)
    new = [old[2], "wave the left hand", old[0]]
    second = text_cache(tmp_path, "c", new, "minilm", Counting)
    assert [t for c in calls[1:] for t in c] == ["wave the left hand"]   # only the new text was encoded
    assert second.texts == new and second.key != first.key
    for t in new:   # copied rows read back exactly as an encoder run on them alone
        got, want = second.encode([t]), encoder.encode([t])
        assert torch.equal(got.mask, want.mask)
        assert (got.tokens - want.tokens).abs().max() < 2e-2 and (got.pooled - want.pooled).abs().max() < 2e-3
    assert text_cache(tmp_path, "c", new, "minilm", lambda: 1 / 0).texts == new   # fresh: no encoder loaded
