"""``signforge train``: HandMDM, SignAvatar, THMR or ST-GCN on a data-factory dataset.

A run folder holds ``config.json`` (the resolved run and model configs and the format
version), ``weights.safetensors``, ``stats.npz`` (the normalization the weights expect),
all three written and read by ``backend.runs``; ``losses.csv`` and, for resuming,
``trainer.json`` + ``optimizer.safetensors``. No file is a pickle. Started again on the
same folder, a run resumes at its last saved epoch.

HandMDM's loss is the x0 MSE plus MDM's kinematic terms (``training.losses``: feature
velocity, wrist and fingertip positions and velocities by forward kinematics), each
weighted in ``TrainConfig`` and recorded in config.json, plus its length head's log-frames
error; ``losses.csv`` logs every term. Texts are read from the dataset's cached
embeddings (``training.text_cache``; encoded once per dataset and encoder) unless
``text_cache`` is off.

It trains on the GPU when there is one (``device="auto"``; ``--device`` picks). Under
``torchrun --nproc_per_node N -m training.train ...`` it trains with DDP (gloo on CPU,
nccl on GPU, one GPU per ``LOCAL_RANK``); each rank draws its own noise from a seed
derived from the run seed and its rank, logged losses are averaged over ranks, and rank 0
writes the files. torch; never bpy.
"""
from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch import nn

from backend.atomic import atomic_path
from backend.runs import KINDS, load_weights, read_config, write_config, write_stats, write_weights

MODELS = tuple(KINDS)


@dataclass
class TrainConfig:
    model: str
    data: str
    out: str
    config: str = "small"
    epochs: int = 10
    batch: int = 32
    lr: float = 2e-4
    seed: int = 0
    text_encoder: str = "minilm"
    condition: str = "phonology+hms"
    splits: tuple[str, ...] = ("train",)
    word_set: str | None = None
    max_frames: int = 100
    clip_grad: float = 1.0
    curriculum: bool = True
    overrides: dict = field(default_factory=dict)
    text_cache: bool = True       # read the dataset's cached text embeddings (encoded once per dataset)
    device: str = "auto"          # auto (cuda:LOCAL_RANK when a GPU exists, else cpu), cpu, cuda or cuda:N
    # HandMDM's loss: x0 MSE + w_vel * feature velocity + w_pos * wrist/fingertip position (m^2)
    # + w_pos_vel * their velocity ((m/s)^2) + w_length * the length head's log-frames error
    w_vel: float = 1.0
    w_pos: float = 100.0          # (10 cm)^2 of mean squared point error counts as 1
    w_pos_vel: float = 0.1        # (3.2 m/s)^2 counts as 1
    w_length: float = 0.1
    w_contact: float = 0.0        # off by default: touching point pairs' distance error (m^2)
    # learning rate: linear warm-up over ``warmup`` steps, then constant, or with ``cosine`` a
    # half cosine down to 10% of ``lr`` at the last step (a function of the step: resumes exactly)
    warmup: int = 0
    cosine: bool = False
    # HandMDM at 25/frame_step fps: the model sees every frame_step-th frame (max_frames stays in 25 fps frames)
    frame_step: int = 1
    init: str | None = None       # start a new run from another run's weights of the same shapes (fine-tuning)

    def check(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose {', '.join(MODELS)}")
        if self.epochs < 1 or self.batch < 1 or self.lr <= 0:
            raise ValueError("epochs and batch must be at least 1 and lr positive")
        self.word_set = word_set_name(self.word_set)   # "30" and "w30" name the same set
        if min(self.w_vel, self.w_pos, self.w_pos_vel, self.w_length, self.w_contact) < 0:
            raise ValueError("loss weights must be at least 0")
        if self.frame_step != 1 and self.model != "handmdm":
            raise ValueError("--frame-step is a HandMDM setting")


class _Loss(nn.Module):
    """One model and its training loss, behind ``forward`` so DDP sees every call.

    ``forward`` returns (loss, parts): the loss to minimize and its named terms, detached, for the log."""

    def __init__(self, kind: str, model: nn.Module, curriculum: bool = True, cfg: TrainConfig | None = None,
                 stats: tuple[np.ndarray, np.ndarray] | None = None):
        super().__init__()
        self.kind, self.model, self.curriculum = kind, model, curriculum
        if kind == "handmdm":
            from backend.diffusion import CosineSchedule

            from .losses import FPS, KinematicLoss

            self.schedule = CosineSchedule.create(100)
            self.weights = {k: getattr(cfg, f"w_{k}") if cfg else 0.0
                            for k in ("vel", "pos", "pos_vel", "contact", "length")}
            kinematic = self.weights["vel"] or self.weights["pos"] or self.weights["pos_vel"] or self.weights["contact"]
            self.kinematic = KinematicLoss(*stats, fps=FPS / model.cfg.frame_step) \
                if kinematic and stats is not None else None

    def forward(self, x, mask, tokens, tmask, pooled, labels, progress: float, generator=None):
        m = self.model
        if self.kind == "handmdm":
            step = m.cfg.frame_step
            if step > 1:   # the model's rate: every step-th frame from a random first one
                phase = int(torch.randint(step, (1,), generator=generator))
                x, mask = x[:, phase::step], mask[:, phase::step]
            # noise is drawn on the CPU and moved, so a seed gives the same run on either device
            t = torch.randint(0, self.schedule.steps, (len(x),), generator=generator)
            noise = torch.randn(x.shape, generator=generator)
            drop = m.training_drop(len(x), generator)
            t, noise, drop = t.to(x.device), noise.to(x.device), drop.to(x.device)
            xt = self.schedule.add_noise(x, t, noise)
            cond = {"text": tokens, "text_mask": tmask, "frame_mask": mask, "drop": drop}
            pred = m(xt, t, cond)
            err = ((pred - x) ** 2).mean(-1)
            loss = (err * mask).sum() / mask.sum()
            parts = {"x0": loss}
            if self.kinematic is not None:
                w = self.weights
                kin = self.kinematic(pred, x, mask, positions=bool(w["pos"] or w["pos_vel"] or w["contact"]),
                                     contact=bool(w["contact"]))
                for k, v in kin.items():
                    loss = loss + self.weights[k] * v
                parts.update(kin)
            if m.length_mlp is not None:   # log frame count from the text (the motion as trained, capped)
                frames = mask.sum(1).clamp_min(1).to(x.dtype)
                parts["length"] = ((m.log_frames(tokens, tmask) - frames.log()) ** 2).mean()
                loss = loss + self.weights["length"] * parts["length"]
            return loss, {k: v.detach() for k, v in parts.items()}
        if self.kind == "signavatar":
            from backend.models import curriculum_ratio

            ratio = curriculum_ratio(progress, m.cfg.max_mask) if self.curriculum else 0.0
            return m.loss(x, pooled, mask, ratio, generator)["loss"], {}
        if self.kind == "thmr":
            return m.loss(m.encode_motion(x, mask), m.encode_text(tokens, tmask), pooled), {}
        return nn.functional.cross_entropy(m(x, mask), labels), {}



def word_set_name(value: str | int | None) -> str | None:
    """``30``, ``"30"`` or ``"w30"`` -> ``"w30"`` (the name records carry); None stays None."""
    if value is None or value == "":
        return None
    name = str(value).strip().lower()
    name = name if name.startswith("w") else f"w{name}"
    if not name[1:].isdigit():
        raise ValueError(f"a word set is a size such as 30 or w30; got {value!r}")
    return name


def build_model(cfg: TrainConfig, text_dim: int, classes: int) -> tuple[nn.Module, dict]:
    from backend import models as M
    from backend.models.handmdm import model_frames

    o = dict(cfg.overrides)
    if cfg.model == "handmdm":
        o.setdefault("length_head", True)   # new runs pick their length from the text
        o.setdefault("frame_step", cfg.frame_step)
        frames = model_frames(cfg.max_frames, o["frame_step"])
        mc = M.HandMDMConfig.named(cfg.config, text_dim=text_dim, max_frames=frames, **o)
        return M.HandMDM(mc), mc.as_dict()
    if cfg.model == "signavatar":
        mc = M.SignAvatarConfig.named(cfg.config, cond_dim=text_dim, max_frames=cfg.max_frames, **o)
        return M.SignAvatar(mc), mc.as_dict()
    if cfg.model == "thmr":
        mc = M.THMRConfig.named(cfg.config, text_dim=text_dim, max_frames=cfg.max_frames, **o)
        return M.THMR(mc), mc.as_dict()
    mc = M.STGCNConfig.named(cfg.config, classes=classes, **o)
    return M.STGCN(mc), mc.as_dict()


def _dist(device: str = "auto") -> tuple[int, int]:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if _device(device).type == "cuda" else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _device(name: str = "auto") -> torch.device:
    """The device this process trains on: ``auto`` is the GPU of this ``LOCAL_RANK`` when there is one."""
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local % max(torch.cuda.device_count(), 1)}"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA GPU is available; use cpu")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}; choose auto, cpu, cuda or cuda:N")
    return device


def rank_seed(seed: int, rank: int) -> int:
    """Each rank's own seed for noise, dropout and text choice, derived from the run seed."""
    if rank == 0:
        return seed   # one process trains exactly as before
    return int(np.random.SeedSequence([seed, rank]).generate_state(1, np.uint32)[0])


def _texts(cfg: TrainConfig, data, rank: int, world: int):
    """What encodes the batch's texts: the dataset's cached table, or the encoder itself."""
    from backend.text import load_text_encoder

    if cfg.model == "stgcn":
        return None
    if not cfg.text_cache:
        encoder = load_text_encoder(cfg.text_encoder)
        encoder.reserve(3 * len(data) + 1024)   # keep every training text's encoding: later epochs encode nothing
        return encoder
    from .text_cache import text_cache

    def say(done: int, total: int) -> None:   # a first run on a big dataset encodes for a while
        if done == total or done % (256 * 20) == 0:
            print(f"text cache: encoded {done}/{total} texts", file=sys.stderr, flush=True)

    table = None
    try:
        if rank == 0:   # one process encodes; the others wait for the table
            table = text_cache(cfg.data, cfg.condition, data.condition_texts(), cfg.text_encoder,
                               lambda: load_text_encoder(cfg.text_encoder), say)
        if world > 1:
            dist.barrier()
        if table is None:
            table = text_cache(cfg.data, cfg.condition, data.condition_texts(), cfg.text_encoder,
                               lambda: load_text_encoder(cfg.text_encoder))
    except OSError as exc:   # a read-only dataset folder: encode while training, as --no-text-cache does
        print(f"text cache unavailable ({exc.strerror or exc}); encoding texts while training", file=sys.stderr)
        encoder = load_text_encoder(cfg.text_encoder)
        encoder.reserve(3 * len(data) + 1024)
        return encoder
    return table


def _save_optimizer(opt: torch.optim.Optimizer, path: Path) -> dict:
    """Optimizer tensors into safetensors, the rest as JSON-able metadata (no pickle)."""
    state = opt.state_dict()
    tensors, meta = {}, {"param_groups": state["param_groups"], "scalars": {}}
    for pid, entry in state["state"].items():
        for k, v in entry.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{pid}.{k}"] = v.contiguous()
            else:
                meta["scalars"][f"{pid}.{k}"] = v
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    return meta


def _load_optimizer(opt: torch.optim.Optimizer, path: Path, meta: dict) -> None:
    tensors = load_file(str(path))
    state: dict = {}
    for key, v in list(tensors.items()) + list(meta["scalars"].items()):
        pid, k = key.split(".", 1)
        state.setdefault(int(pid), {})[k] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def train(cfg: TrainConfig, progress: bool = True) -> dict:
    from .data import MotionTextData, collate

    cfg.check()
    device = _device(cfg.device)
    rank, world = _dist(cfg.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.manual_seed(cfg.seed)   # the same initial weights on every rank
    out = Path(cfg.out)
    word_set = cfg.word_set
    if word_set is None and cfg.model == "stgcn":   # the largest word set the dataset has
        from backend.data.dataset import Dataset

        sizes = Dataset.open(cfg.data).manifest["config"]["word_sets"]
        if not sizes:
            raise ValueError(f"{cfg.data} has no word sets to classify; build it with --word-sets")
        word_set = f"w{max(sizes)}"
    # word-set runs (ST-GCN always; SignAvatar with --word-set) read the word sets' own train split
    splits = ("word_train",) if word_set and cfg.splits == ("train",) else cfg.splits
    data = MotionTextData(cfg.data, splits, cfg.condition, cfg.max_frames, word_set)
    encoder = _texts(cfg, data, rank, world)
    model, model_cfg = build_model(cfg, encoder.dim if encoder else 0, len(data.words))
    loss_mod = _Loss(cfg.model, model, cfg.curriculum, cfg, (data.mean, data.std))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    start_epoch, step = 0, 0
    trainer_file = out / "trainer.json"
    if trainer_file.exists():   # resume
        saved = read_config(out)
        if saved["run"]["model"] != cfg.model or saved["model"] != json.loads(json.dumps(model_cfg)):
            raise ValueError(f"{out} holds a different run ({saved['run']['model']}); use another --out")
        load_weights(model, out)
        meta = json.loads(trainer_file.read_text())
        _load_optimizer(opt, out / "optimizer.safetensors", meta["optimizer"])
        start_epoch, step = meta["epoch"], meta["step"]
    elif cfg.init:   # fine-tune: another run's weights, same shapes (its config may differ, e.g. frame_step)
        from backend.runs import load_stats

        mean, std = load_stats(cfg.init)
        if not (np.allclose(mean, data.mean) and np.allclose(std, data.std)):
            raise ValueError(f"--init {cfg.init} was trained on another dataset's normalization (stats.npz); "
                             f"fine-tune it on that dataset")
        load_weights(model, Path(cfg.init))
    loss_mod.to(device)
    for st in opt.state.values():   # a resumed optimizer's moments follow the weights
        for k, v in st.items():
            if isinstance(v, torch.Tensor) and v.dim() > 0:
                st[k] = v.to(device)
    torch.manual_seed(rank_seed(cfg.seed, rank))   # each rank its own noise from here on
    ddp = nn.parallel.DistributedDataParallel(loss_mod, device_ids=[device] if device.type == "cuda" else None) \
        if world > 1 else loss_mod
    sampler = torch.utils.data.DistributedSampler(data, world, rank, shuffle=True, seed=cfg.seed) if world > 1 \
        else None
    rng = np.random.default_rng(rank_seed(cfg.seed, rank))
    loader = torch.utils.data.DataLoader(data, batch_size=cfg.batch, shuffle=sampler is None, sampler=sampler,
                                         collate_fn=lambda items: collate(items, rng), drop_last=False,
                                         generator=torch.Generator().manual_seed(cfg.seed))
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_config(out, asdict(cfg), model_cfg, data.words, cfg.text_encoder)
        write_stats(out, data.mean, data.std)
    total = cfg.epochs * len(loader)
    bar = _Bar(total, step, enabled=progress and rank == 0)
    log_rows, names = [], []
    for epoch in range(start_epoch, cfg.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        ddp.train()
        for batch in loader:
            tokens = tmask = pooled = None
            if encoder is not None:
                enc = encoder.encode(batch["texts"])
                tokens, tmask, pooled = enc.tokens, enc.mask, enc.pooled
            tokens, tmask, pooled = (v.to(device) if v is not None else None for v in (tokens, tmask, pooled))
            loss, parts = ddp(batch["x"].to(device), batch["mask"].to(device), tokens, tmask, pooled,
                              batch["label"].to(device), step / max(total, 1))
            for group in opt.param_groups:
                group["lr"] = cfg.lr * lr_factor(step, total, cfg.warmup, cfg.cosine)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
            opt.step()
            step += 1
            logged = torch.stack([loss.detach()] + list(parts.values())).float()
            if world > 1:   # the log shows the mean over ranks, not rank 0's share
                dist.all_reduce(logged)
                logged /= world
            values = logged.tolist()
            log_rows.append((step, epoch, *values))
            bar.update(step, values[0])
            names = list(parts)
        if rank == 0:
            _checkpoint(out, model, opt, epoch + 1, step, log_rows, names if log_rows else [])
            log_rows = []
        if world > 1:
            dist.barrier()
    bar.close()
    return {"steps": step, "epochs": cfg.epochs, "out": str(out)}


def lr_factor(step: int, total: int, warmup: int = 0, cosine: bool = False) -> float:
    """The learning rate's share of ``lr`` at ``step`` (0-based) of ``total``."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if not cosine:
        return 1.0
    done = (step - warmup) / max(total - warmup, 1)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))


def _checkpoint(out: Path, model, opt, epoch: int, step: int, rows, parts: list[str]) -> None:
    write_weights(out, model)
    meta = _save_optimizer(opt, out / "optimizer.safetensors")
    log = out / "losses.csv"
    header = ["step", "epoch", "loss"] + parts
    if log.exists():   # a run resumed from before a column existed keeps its own columns
        with open(log, newline="") as fh:
            header = next(csv.reader(fh), header)
    new = not log.exists()
    with open(log, "a", newline="") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(header)
        w.writerows(row[:len(header)] for row in rows)
    with atomic_path(out / "trainer.json") as tmp:
        tmp.write_text(json.dumps({"epoch": epoch, "step": step, "optimizer": meta}))


class _Bar:
    """A rich progress bar with loss and ETA on rank 0; silent elsewhere."""

    def __init__(self, total: int, done: int, enabled: bool, every: int = 50):
        # a bar on a terminal; in a log (nohup, a cluster job) a line every ``every`` steps
        self.lines = enabled and not sys.stderr.isatty()
        self.enabled = enabled and not self.lines
        self.total, self.every, self.start = total, every, done
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.p = Progress(TextColumn("[bold]training[/]"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                              TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn())
            self.task = self.p.add_task("train", total=total, completed=done, loss="-")
            self.p.start()
        self.t0 = time.time()

    def update(self, step: int, loss: float) -> None:
        if self.enabled:
            self.p.update(self.task, completed=step, loss=f"{loss:.4f}")
        elif self.lines and (step % self.every == 0 or step == self.total):
            per_step = (time.time() - self.t0) / max(step - self.start, 1)
            left = per_step * (self.total - step) / 60
            print(f"step {step}/{self.total} loss {loss:.4f} {per_step:.2f} s/step, {left:.0f} min left",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled:
            self.p.stop()


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", default="small")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--condition", default="phonology+hms", choices=("gloss", "phonology", "phonology+hms"))
    ap.add_argument("--max-frames", type=int, default=100)
    ap.add_argument("--no-curriculum", action="store_true")
    ap.add_argument("--word-set", default=None, help="train on one word set (30 or w30) and its word_train split")
    ap.add_argument("--override", action="append", default=[], help="model config KEY=VALUE (int/float)")
    ap.add_argument("--text-encoder", default="minilm", choices=("minilm", "clip"))
    ap.add_argument("--no-text-cache", action="store_true", help="encode texts while training instead of "
                                                                 "reading the dataset's cached embeddings")
    ap.add_argument("--device", default="auto", help="auto (the GPU of LOCAL_RANK if any), cpu, cuda or cuda:N")
    ap.add_argument("--warmup", type=int, default=0, help="learning-rate warm-up steps")
    ap.add_argument("--cosine", action="store_true", help="cosine learning-rate decay to 10%% at the last step")
    ap.add_argument("--frame-step", type=int, default=1, help="HandMDM at 25/N fps: train on every N-th frame")
    ap.add_argument("--init", default=None, help="start from this run folder's weights (same shapes)")
    for name, default in (("vel", 1.0), ("pos", 100.0), ("pos-vel", 0.1), ("length", 0.1), ("contact", 0.0)):
        ap.add_argument(f"--w-{name}", type=float, default=default, help=f"HandMDM loss weight of {name}")
    a = ap.parse_args(argv)
    overrides = {}
    for kv in a.override:
        k, _, v = kv.partition("=")
        overrides[k] = float(v) if "." in v else int(v)
    cfg = TrainConfig(a.model, a.data, a.out, a.config, a.epochs, a.batch, a.lr, a.seed, condition=a.condition,
                      max_frames=a.max_frames, curriculum=not a.no_curriculum, overrides=overrides,
                      word_set=word_set_name(a.word_set), text_encoder=a.text_encoder,
                      text_cache=not a.no_text_cache, device=a.device, w_vel=a.w_vel, w_pos=a.w_pos,
                      w_pos_vel=a.w_pos_vel, w_length=a.w_length, w_contact=a.w_contact, warmup=a.warmup,
                      cosine=a.cosine, frame_step=a.frame_step, init=a.init)
    result = train(cfg)
    if _dist()[0] == 0:
        print(json.dumps(result))
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
