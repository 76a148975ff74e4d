"""Training at scale, on the CPU: exact resume, two gloo ranks against one process, the
bf16 autocast branch, provenance and the one training command.

The two-rank runs are two processes started the way torchrun starts them (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT in the environment), each running several
trainings in one process group, so the imports are paid once."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from backend.data.lexicon import resolve_lexicon_path

pytestmark = pytest.mark.skipif(not resolve_lexicon_path().exists(), reason="ASL-LEX 2.0 not found")
ROOT = Path(__file__).parents[1]
TINY = {"layers": 1, "width": 32, "heads": 2, "ff": 64}
THMR_TINY = {**TINY, "embed": 16, "dropout": 0.0}   # no dropout: one process and two ranks draw it differently


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from backend.data.dataset import BuildConfig, build
    from backend.text import load_text_encoder
    from training.data import MotionTextData
    from training.text_cache import text_cache

    out = tmp_path_factory.mktemp("ds")
    build(BuildConfig(out=str(out), samples=40, seed=3, workers=1, word_sets=()))
    data = MotionTextData(out, ("train",))
    assert len(data) % 2 == 0   # two ranks split it evenly: no sample is repeated to pad a rank
    text_cache(out, "phonology+hms", data.condition_texts(), "minilm", lambda: load_text_encoder("minilm"))
    return out


def weights(run: Path) -> dict:
    return load_file(str(run / "weights.safetensors"))


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def without_key_bias(w: dict) -> dict:
    """The weights less attention's key bias: softmax ignores a shift shared by every key, so its
    gradient is zero but for rounding, and AdamW turns rounding into steps of up to the learning
    rate (two summation orders end ~4e-4 apart there and ~1e-7 everywhere else)."""
    w = dict(w)
    for k in [k for k in w if k.endswith("self_attn.in_proj_bias")]:
        w[k] = torch.cat([w[k].view(3, -1)[0], w[k].view(3, -1)[2]])
    return w


def losses(run: Path) -> list[float]:
    return [float(r.split(",")[2]) for r in (run / "losses.csv").read_text().splitlines()[1:]]


def test_stop_and_resume_gives_the_uninterrupted_weights(dataset, tmp_path):
    """Stopped mid-epoch at a step checkpoint and started again, a HandMDM run (diffusion noise,
    dropout, classifier-free drop, text choice, shuffled order) ends with the same weights, log and
    optimizer as one that never stopped."""
    from training.checkpoint import complete
    from training.train import TrainConfig, train

    base = dict(model="handmdm", data=str(dataset), epochs=3, batch=6, overrides=TINY, lr=1e-3)
    whole = train(TrainConfig(out=str(tmp_path / "whole"), checkpoint_minutes=None, **base), progress=False)
    assert whole["steps"] == 18 and not whole["stopped"]   # 32 samples, batches of 6: 6 steps per epoch
    part = train(TrainConfig(out=str(tmp_path / "split"), checkpoint_minutes=0, stop_step=8, **base), progress=False)
    assert part["stopped"] and part["steps"] == 8          # epoch 1, two batches in
    meta = json.loads((complete(tmp_path / "split")[-1] / "trainer.json").read_text())
    assert (meta["step"], meta["epoch"], meta["batch"], meta["world"]) == (8, 1, 2, 1)
    assert len(complete(tmp_path / "split")) == 2            # only the latest two are kept
    halfway = weights(tmp_path / "split")
    assert max_diff(halfway, weights(tmp_path / "whole")) > 1e-3
    rest = train(TrainConfig(out=str(tmp_path / "split"), checkpoint_minutes=None, **base), progress=False)
    assert rest["steps"] == 18
    assert max_diff(weights(tmp_path / "split"), weights(tmp_path / "whole")) < 1e-6
    assert losses(tmp_path / "split") == pytest.approx(losses(tmp_path / "whole"), abs=1e-6)
    a = load_file(str(complete(tmp_path / "whole")[-1] / "optimizer.safetensors"))
    b = load_file(str(complete(tmp_path / "split")[-1] / "optimizer.safetensors"))
    assert max_diff(a, b) < 1e-9
    sessions = json.loads((tmp_path / "split" / "provenance.json").read_text())["sessions"]
    assert [(s["step"], s["resumed"]) for s in sessions] == [(0, False), (8, True)]
    first = sessions[0]
    assert first["world_size"] == 1 and first["devices"] == ["cpu"] and first["precision"] == "float32"
    assert len(first["dataset"]["sha256"]) == 64 and first["packages"]["torch"] == torch.__version__.split("+")[0]
    assert first["git"]["commit"] is None or len(first["git"]["commit"]) == 40


def test_sigterm_saves_a_checkpoint_and_leaves(dataset, tmp_path, monkeypatch, capsys):
    """SIGTERM (Slurm's and torchrun's warning before a stop) during step 3: the run finishes that
    step, saves a checkpoint and returns; the same config resumes it to the end. A run from before
    step checkpoints (trainer.json in the run folder, no random states) still resumes, with a note."""
    import shutil
    import signal

    import training.train as T
    from training.checkpoint import complete

    real = T.lr_factor

    def term_at_step_3(step, *args):
        if step == 2:   # 0-based: the third step
            signal.raise_signal(signal.SIGTERM)
        return real(step, *args)

    monkeypatch.setattr(T, "lr_factor", term_at_step_3)
    cfg = T.TrainConfig("thmr", str(dataset), str(tmp_path / "r"), epochs=2, batch=8, overrides=THMR_TINY,
                        checkpoint_minutes=None)
    before = signal.getsignal(signal.SIGTERM)
    stopped = T.train(cfg, progress=False)
    assert stopped["stopped"] and stopped["steps"] == 3
    assert signal.getsignal(signal.SIGTERM) == before   # the handler is the run's alone
    monkeypatch.setattr(T, "lr_factor", real)
    assert T.train(cfg, progress=False)["steps"] == 8
    # the layout of runs from before step checkpoints: the last epoch's checkpoint in the run folder
    last = complete(tmp_path / "r")[-1]
    for name in ("trainer.json", "optimizer.safetensors"):
        shutil.copyfile(last / name, tmp_path / "r" / name)
    shutil.rmtree(tmp_path / "r" / "checkpoints")
    meta = json.loads((tmp_path / "r" / "trainer.json").read_text())
    (tmp_path / "r" / "trainer.json").write_text(json.dumps({k: meta[k] for k in ("epoch", "step", "optimizer")}))
    capsys.readouterr()
    more = T.train(T.TrainConfig(**{**cfg.__dict__, "epochs": 3}), progress=False)
    assert more["steps"] == 12 and "without its random states" in capsys.readouterr().err


RANK_SCRIPT = """
import json, sys
from training.train import TrainConfig, train
jobs = json.loads(sys.argv[1])
for job in jobs:
    train(TrainConfig(**job), progress=False)
"""


def two_ranks(jobs: list[dict]) -> None:
    """Run ``jobs`` (TrainConfig fields) one after another on two gloo ranks, as torchrun would."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, "-c", RANK_SCRIPT, json.dumps(jobs)], cwd=ROOT, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-2000:]


def test_two_gloo_ranks_match_one_process_and_resume_exactly(dataset, tmp_path):
    """THMR on two ranks of 4 pairs each, negatives gathered, ends with the weights of one process
    on batches of 8; and a two-rank HandMDM run stopped mid-epoch resumes to the weights of one that
    never stopped (each rank's own random states come back)."""
    from training.train import TrainConfig, train

    thmr = dict(model="thmr", data=str(dataset), epochs=2, overrides=THMR_TINY, lr=1e-3, device="cpu",
                checkpoint_minutes=None)
    mdm = dict(model="handmdm", data=str(dataset), epochs=2, batch=4, overrides=TINY, lr=1e-3, device="cpu")
    two_ranks([{**thmr, "out": str(tmp_path / "thmr2"), "batch": 4},
               {**mdm, "out": str(tmp_path / "mdm-whole"), "checkpoint_minutes": None},
               {**mdm, "out": str(tmp_path / "mdm-split"), "checkpoint_minutes": None, "stop_step": 3},
               {**mdm, "out": str(tmp_path / "mdm-split"), "checkpoint_minutes": None}])
    train(TrainConfig(out=str(tmp_path / "thmr1"), batch=8, **thmr), progress=False)
    one, two = without_key_bias(weights(tmp_path / "thmr1")), without_key_bias(weights(tmp_path / "thmr2"))
    # float32 sums in another order (the gathered negatives), grown by Adam over 2 epochs: 4.8e-7
    # on one build's texts and 1.2e-5 on the same records described by today's grammar
    assert max_diff(one, two) < 5e-5
    assert losses(tmp_path / "thmr1") == pytest.approx(losses(tmp_path / "thmr2"), abs=1e-5)
    # without the other rank's negatives the loss of a batch of 4 pairs is at most log(4)
    assert max(losses(tmp_path / "thmr2")) > torch.log(torch.tensor(4.0)).item()
    assert max_diff(weights(tmp_path / "mdm-split"), weights(tmp_path / "mdm-whole")) < 1e-6
    assert losses(tmp_path / "mdm-split") == pytest.approx(losses(tmp_path / "mdm-whole"), abs=1e-6)
    ckpt = sorted((tmp_path / "mdm-split" / "checkpoints").glob("step-*"))[-1]
    assert {p.name for p in ckpt.glob("rng-*")} == {"rng-0.safetensors", "rng-1.safetensors"}
    sessions = json.loads((tmp_path / "mdm-split" / "provenance.json").read_text())["sessions"]
    assert [(s["world_size"], s["devices"], s["step"]) for s in sessions] == [(2, ["cpu", "cpu"], 0),
                                                                             (2, ["cpu", "cpu"], 3)]


def test_bf16_autocast_branch_runs_on_the_cpu(dataset, tmp_path):
    """The GPU's precision (bf16 autocast) on the CPU: the same code path, close to float32 but not
    equal to it (so autocast really ran)."""
    from training.distributed import autocast_dtype, gpu_index
    from training.train import TrainConfig, train

    assert autocast_dtype("auto", torch.device("cuda", 0)) is torch.bfloat16
    assert [gpu_index(r, 4) for r in range(4)] == [0, 1, 2, 3]   # cuda:LOCAL_RANK, one GPU per process
    with pytest.raises(ValueError, match="at most 4 processes per machine"):
        gpu_index(4, 4)
    assert autocast_dtype("auto", torch.device("cpu")) is None and autocast_dtype("fp32", torch.device("cuda", 0)) is None
    base = dict(model="handmdm", data=str(dataset), epochs=1, batch=16, overrides=TINY, device="cpu")
    train(TrainConfig(out=str(tmp_path / "fp32"), **base), progress=False)
    train(TrainConfig(out=str(tmp_path / "bf16"), precision="bf16", **base), progress=False)
    full, half = losses(tmp_path / "fp32"), losses(tmp_path / "bf16")
    assert full != half and half == pytest.approx(full, rel=0.05)
    assert json.loads((tmp_path / "bf16" / "provenance.json").read_text())["sessions"][0]["precision"] == "bfloat16"
    train(TrainConfig(**{**base, "model": "thmr", "overrides": THMR_TINY, "out": str(tmp_path / "thmr")},
                      precision="bf16"), progress=False)
    assert all(0 < v < 10 for v in losses(tmp_path / "thmr"))   # InfoNCE of 16 pairs in float32 under autocast
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(out="x", precision="fp8", **base).check()


def test_one_training_command(dataset, tmp_path, monkeypatch, capsys):
    """signforge train (which python -m training.train forwards to) takes --override values as
    Python literals (a prefix naming one setting is enough), --text-encoder and --device; a bad
    value is one line and exit code 2."""
    from backend.cli import _main
    from training.train import parse_overrides

    assert parse_overrides(["kl=1e-3", "layers=2", "length_head=False", "channels=(8, 16)", "name=gelu"]) == \
        {"kl": 1e-3, "layers": 2, "length_head": False, "channels": (8, 16), "name": "gelu"}

    def signforge(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["signforge", "train", *args])
        with pytest.raises(SystemExit) as done:
            _main()
        out, err = capsys.readouterr()
        return done.value.code, out, err

    cmd = ["signavatar", "--data", str(dataset), "--out", str(tmp_path / "sa"), "--epochs", "1", "--batch", "16",
           "--device", "cpu", "--text-encoder", "minilm", "--override", "kl=1e-3",
           *sum([["--override", f"{k}={v}"] for k, v in TINY.items()], [])]
    code, out, err = signforge(*cmd)
    assert code == 0 and "trained signavatar: 2 steps" in out, err
    meta = json.loads((tmp_path / "sa" / "config.json").read_text())
    assert meta["model"]["kl_weight"] == 1e-3 and meta["model"]["layers"] == 1 and meta["text_encoder"] == "minilm"
    for bad, said in ((["--override", "x=1"], "no setting 'x'; its settings are layers, width"),
                      (["--override", "la=1"], "no setting 'la'; it could be layers, latent"),
                      (["--override", "layers=two"], "setting layers must be int; got 'two'"),
                      (["--override", "layers"], "--override takes KEY=VALUE"),
                      (["--text-encoder", "bert"], "unknown text encoder"),
                      (["--device", "tpu"], "unknown device")):
        code, out, err = signforge(*cmd[:4], str(tmp_path / "bad"), *bad)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and said in lines[0], err
    # generate and eval sample on --device too
    monkeypatch.setattr(sys, "argv", ["signforge", "generate", "both hands circle", "-o", str(tmp_path / "c.npz"),
                                      "--model", "signavatar", "--run", str(tmp_path / "sa"), "--seconds", "1",
                                      "--device", "cpu"])
    with pytest.raises(SystemExit) as done:
        _main()
    assert done.value.code == 0 and (tmp_path / "c.npz").exists()
    if not torch.cuda.is_available():
        monkeypatch.setattr(sys, "argv", [*sys.argv[:-1], "cuda"])
        with pytest.raises(SystemExit) as done:
            _main()
        err = capsys.readouterr().err.strip().splitlines()
        assert done.value.code == 2 and len(err) == 1 and "no CUDA GPU" in err[0]
