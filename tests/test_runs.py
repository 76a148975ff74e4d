"""``backend.runs``: every shipped run loads through the one ``load_run``; damaged, foreign,
pickled or newer-format run folders are refused with one line naming the file."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from backend.runs import (CONFIG, FORMAT_VERSION, KINDS, MANIFEST, RUN_FILES, SHIPPED, RunError, load_run,
                          read_config, write_config, write_stats, write_weights)

EXPECTED = {"handmdm": "HandMDM", "signavatar": "SignAvatar", "thmr": "THMR", "stgcn": "STGCN"}


def shipped_copy(tmp_path, kind):
    """``backend/weights/<kind>-small`` and the shipped manifest, copied into ``tmp_path/weights``."""
    root = tmp_path / "weights"
    shutil.copytree(SHIPPED[kind], root / SHIPPED[kind].name)
    shutil.copyfile(MANIFEST, root / MANIFEST.name)
    return root / SHIPPED[kind].name, root / MANIFEST.name


def refused(match, *args, **kwargs) -> str:
    """The message of the RunError ``load_run`` raises; it must be one line."""
    with pytest.raises(RunError, match=match) as info:
        load_run(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_shipped_run_loads_from_its_folder(kind):
    listed = json.loads(MANIFEST.read_text())["files"]
    assert {f"{SHIPPED[kind].name}/{f}" for f in RUN_FILES} <= set(listed)   # every file is sha256-checked
    run = load_run(SHIPPED[kind])
    assert run.kind == kind and type(run.model).__name__ == EXPECTED[kind] and not run.model.training
    assert run.config["format_version"] == FORMAT_VERSION and run.path == SHIPPED[kind]
    assert run.mean.dtype == run.std.dtype == np.float32 and run.mean.shape == run.std.shape == (274,)
    weights = load_file(str(SHIPPED[kind] / "weights.safetensors"))
    state = run.model.state_dict()
    assert set(weights) == set(state) and all(torch.equal(weights[k], state[k]) for k in weights)


def test_old_stgcn_keeps_the_variance_floor_it_was_trained_with():
    assert load_run(SHIPPED["stgcn"]).model.cfg.input_eps == 1e-5   # its config.json predates the field


def test_a_damaged_shipped_file_is_refused_by_name(tmp_path):
    run, manifest = shipped_copy(tmp_path, "handmdm")
    assert load_run(run, manifest=manifest).kind == "handmdm"   # the intact copy matches the manifest
    data = bytearray((run / "weights.safetensors").read_bytes())
    data[len(data) // 2] ^= 0x01   # one bit: the file still parses, only the sha256 sees it
    (run / "weights.safetensors").write_bytes(bytes(data))
    message = refused("does not match its sha256", run, manifest=manifest)
    assert str(run / "weights.safetensors") in message and "damaged or altered" in message
    (run / "stats.npz").unlink()
    assert str(run / "stats.npz") in refused("missing; reinstall", run, manifest=manifest)


def test_a_folder_without_config_json_is_refused_in_one_line(tmp_path):
    (tmp_path / "weights.safetensors").write_bytes(b"")
    assert refused("not a SignForge run folder", tmp_path) == f"{tmp_path} is not a SignForge run folder (no {CONFIG})"
    assert str(tmp_path / "absent") in refused("not a SignForge run folder", tmp_path / "absent")


def test_the_cli_says_it_in_one_line_without_a_traceback(tmp_path):
    from backend.cli import app

    result = CliRunner().invoke(app, ["generate", "hello", "--run", str(tmp_path), "-o", str(tmp_path / "x.npz")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "not a SignForge run folder (no config.json)" in " ".join(result.output.split())
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("version, hint", [(FORMAT_VERSION + 1, "update SignForge"), (0, "retrain it")])
def test_another_format_version_is_refused_clearly(tmp_path, version, hint):
    run = tmp_path / "run"
    shutil.copytree(SHIPPED["thmr"], run)
    meta = json.loads((run / CONFIG).read_text())
    meta["format_version"] = version
    (run / CONFIG).write_text(json.dumps(meta))
    message = refused(f"is run format {version}; this SignForge reads format {FORMAT_VERSION}", run)
    assert str(run / CONFIG) in message and hint in message


@pytest.mark.parametrize("text, match", [("{not json", "cannot be read"), ("[1, 2]", "not a run config"),
                                         ('{"run": {"model": "thmr"}, "model": {}}', "no run format version"),
                                         ('{"format_version": 1, "run": {"model": "gpt"}, "model": {}}',
                                          "names model 'gpt'")])
def test_a_config_json_that_is_not_a_run_config_is_refused(tmp_path, text, match):
    (tmp_path / CONFIG).write_text(text)
    assert str(tmp_path / CONFIG) in refused(match, tmp_path)


def test_a_run_of_another_kind_is_refused_where_a_kind_is_needed(tmp_path):
    from backend.generate import GenerateError, generate
    from backend.models.thmr import THMRScorer
    from training.evaluate import Classifier

    assert refused("holds a run of THMR; this needs HandMDM or SignAvatar", SHIPPED["thmr"],
                   kinds=("handmdm", "signavatar"))
    with pytest.raises(RunError, match="holds a run of HandMDM; this needs THMR"):
        THMRScorer.load(SHIPPED["handmdm"])
    with pytest.raises(RunError, match="holds a run of THMR; this needs ST-GCN"):
        Classifier.load(SHIPPED["thmr"])
    with pytest.raises(GenerateError, match="holds a run of ST-GCN; this needs HandMDM or SignAvatar"):
        generate("hello", run_dir=SHIPPED["stgcn"], frames=8, steps=2)


def test_weights_of_another_model_are_refused_in_one_line(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(SHIPPED["signavatar"], run)
    shutil.copyfile(SHIPPED["handmdm"] / "weights.safetensors", run / "weights.safetensors")
    assert str(run / "weights.safetensors") in refused("weights.safetensors cannot be loaded", run)


def test_pickles_are_never_read(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(SHIPPED["thmr"], run)
    marker = tmp_path / "ran"
    # a torch checkpoint (a pickle) whose unpickling would create the marker file
    payload = type("Payload", (), {"__reduce__": lambda self: (open, (str(marker), "w"))})()
    torch.save({"x": payload}, run / "weights.safetensors")
    refused("weights.safetensors cannot be loaded", run)
    shutil.copyfile(SHIPPED["thmr"] / "weights.safetensors", run / "weights.safetensors")
    with open(run / "stats.npz", "wb") as fh:
        np.savez(fh, mean=np.array([payload], dtype=object), std=np.ones(274))
    refused("stats.npz cannot be loaded", run)
    assert not marker.exists()


def test_written_runs_read_back_with_this_format_version(tmp_path):
    from backend.models import STGCN, STGCNConfig

    cfg = STGCNConfig.named("small", classes=3)
    model = STGCN(cfg)
    mean, std = np.arange(274, dtype=np.float32), np.full(274, 2.0, np.float32)
    write_config(tmp_path, {"model": "stgcn", "word_set": "w3"}, cfg.as_dict(), ["a", "b", "c"], "minilm")
    write_stats(tmp_path, mean, std)
    write_weights(tmp_path, model)
    assert read_config(tmp_path)["format_version"] == FORMAT_VERSION
    run = load_run(tmp_path)
    assert run.model.cfg == cfg and run.config["words"] == ["a", "b", "c"]   # channels back as a tuple
    assert np.array_equal(run.mean, mean) and np.array_equal(run.std, std)
    assert all(torch.equal(v, run.model.state_dict()[k]) for k, v in model.state_dict().items())


def test_the_thmr_model_imports_without_generation_or_run_loading():
    code = ("import sys, backend.models.thmr; "
            "print(sorted(m for m in ('backend.generate', 'backend.runs') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.strip() == "[]"
    code = "import sys, backend.runs; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False"   # checking a manifest needs no torch


def test_shipped_configs_name_no_path_of_the_machine_that_trained_them():
    """training.ship writes DATA / RUN / RUN0 for the run's folders, as the manifest's command does."""
    import json

    from backend.runs import WEIGHTS

    configs = sorted(WEIGHTS.glob("*/config.json"))
    assert configs
    for path in configs:
        run = json.loads(path.read_text())["run"]
        for key in ("data", "out", "init"):
            value = run.get(key)
            assert value is None or not Path(value).is_absolute(), (path, key, value)
