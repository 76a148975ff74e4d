"""``signforge train``: HandMDM, SignAvatar, THMR or ST-GCN on a data-factory dataset.

A run folder holds ``config.json`` (the resolved run and model configs and the format
version), ``weights.safetensors``, ``stats.npz`` (the normalization the weights expect),
all three written and read by ``backend.runs``; ``losses.csv``, ``provenance.json`` (commit,
dataset hash, packages, world size and devices of every session: ``training.provenance``)
and ``checkpoints/`` (``training.checkpoint``: weights, optimizer, every rank's random
states and the data position, every ``checkpoint_minutes`` and at each epoch's end). No
file is a pickle. Started again on the same folder, a run resumes at its last checkpoint
and goes on exactly as if it had not stopped (on the same number of ranks); SIGTERM saves
one and leaves.

HandMDM's loss is the x0 MSE plus MDM's kinematic terms (``training.losses``: feature
velocity, wrist and fingertip positions and velocities by forward kinematics), each
weighted in ``TrainConfig`` and recorded in config.json, plus its length head's log-frames
error; ``losses.csv`` logs every term. Texts are read from the dataset's cached
embeddings (``training.text_cache``; encoded once per dataset and encoder) unless
``text_cache`` is off.

It trains on the GPU when there is one (``device="auto"``; ``--device`` picks), under bf16
autocast there (``precision``). Under ``torchrun --nproc_per_node N -m training.train ...``
it trains with DDP (``training.distributed``: gloo on CPU, nccl on GPU, one GPU per
``LOCAL_RANK``); each rank draws its own noise from a seed derived from the run seed and
its rank, an epoch's order and texts are functions of the seed and the epoch, THMR's
negatives are gathered from every rank, logged losses are averaged over ranks, and rank 0
writes the files. ``python -m training.train`` is ``signforge train``. torch; never bpy.
"""
from __future__ import annotations

import csv
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from backend.atomic import atomic_path
from backend.runs import KINDS, load_weights, read_config, write_config, write_stats

from . import checkpoint
from . import distributed as D
from .provenance import Session

MODELS = tuple(KINDS)
TEXT_ENCODERS = ("minilm", "clip")


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
    precision: str = "auto"       # auto (bf16 autocast on a GPU, float32 on the CPU), fp32 or bf16
    # a step checkpoint (optimizer, every rank's random states, the data position) every this many
    # minutes (0: every step; None: at epoch ends only), and always at each epoch's end
    checkpoint_minutes: float | None = 30.0
    stop_step: int | None = None  # save a checkpoint and leave after this step (a job's slice of a run)

    def check(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose {', '.join(MODELS)}")
        if self.epochs < 1 or self.batch < 1 or self.lr <= 0:
            raise ValueError("epochs and batch must be at least 1 and lr positive")
        self.word_set = word_set_name(self.word_set)   # "30" and "w30" name the same set
        from backend.data.text import CONDITIONS

        if self.condition not in CONDITIONS:
            raise ValueError(f"unknown condition {self.condition!r}; choose {', '.join(CONDITIONS)}")
        if self.text_encoder not in TEXT_ENCODERS:
            raise ValueError(f"unknown text encoder {self.text_encoder!r}; choose {', '.join(TEXT_ENCODERS)}")
        if min(self.w_vel, self.w_pos, self.w_pos_vel, self.w_length, self.w_contact) < 0:
            raise ValueError("loss weights must be at least 0")
        if self.frame_step != 1 and self.model != "handmdm":
            raise ValueError("--frame-step is a HandMDM setting")
        if self.precision not in D.PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose {', '.join(D.PRECISIONS)}")
        if self.checkpoint_minutes is not None and self.checkpoint_minutes < 0:
            raise ValueError("--checkpoint-minutes must be at least 0")
        if self.stop_step is not None and self.stop_step < 1:
            raise ValueError("--stop-step must be at least 1")


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
            pred = m(xt, t, cond).float()   # the losses in float32 (under bf16 autocast the network is bf16)
            err = ((pred - x) ** 2).mean(-1)
            loss = (err * mask).sum() / mask.sum()
            parts = {"x0": loss}
            if self.kinematic is not None:
                w = self.weights
                with torch.autocast(x.device.type, enabled=False):   # forward kinematics in float32
                    kin = self.kinematic(pred, x, mask, positions=bool(w["pos"] or w["pos_vel"] or w["contact"]),
                                         contact=bool(w["contact"]))
                for k, v in kin.items():
                    loss = loss + self.weights[k] * v
                parts.update(kin)
            if m.length_mlp is not None:   # log frame count from the text (the motion as trained, capped)
                frames = mask.sum(1).clamp_min(1).to(x.dtype)
                parts["length"] = ((m.log_frames(tokens, tmask).float() - frames.log()) ** 2).mean()
                loss = loss + self.weights["length"] * parts["length"]
            return loss, {k: v.detach() for k, v in parts.items()}
        if self.kind == "signavatar":
            from backend.models import curriculum_ratio

            ratio = curriculum_ratio(progress, m.cfg.max_mask) if self.curriculum else 0.0
            return m.loss(x, pooled, mask, ratio, generator)["loss"], {}
        if self.kind == "thmr":
            # negatives from every rank: each scores its own pairs against the gathered batch
            motion, text = m.encode_motion(x, mask).float(), m.encode_text(tokens, tmask).float()
            rows = slice(D.rank() * len(x), (D.rank() + 1) * len(x))
            with torch.autocast(x.device.type, enabled=False):   # logits over temperature 0.1: float32
                return m.loss(D.gather(motion), D.gather(text), D.gather(pooled.float()).detach(), rows), {}
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


def train(cfg: TrainConfig, progress: bool = True) -> dict:
    from .data import MotionTextData, collate, text_draws

    cfg.check()
    device = D.device_for(cfg.device)
    amp = D.autocast_dtype(cfg.precision, device)
    if device.type == "cuda":   # before the process group: NCCL's barriers use the current device
        torch.cuda.set_device(device)
    rank, world = D.start(device)
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
    resume = checkpoint.latest(out)
    if resume is not None:
        saved = read_config(out)
        if saved["run"]["model"] != cfg.model or saved["model"] != json.loads(json.dumps(model_cfg)):
            raise ValueError(f"{out} holds a different run ({saved['run']['model']}); use another --out")
        resume.load(model, opt)
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
    torch.manual_seed(D.rank_seed(cfg.seed, rank))   # each rank its own noise from here on
    start_epoch, skip, step = (resume.epoch, resume.batch, resume.step) if resume else (0, 0, 0)
    if resume is not None and not resume.restore_rng(rank, world, device) and rank == 0:
        why = (f"it stopped on {resume.world} ranks, this run has {world}" if resume.exact
               else "it was saved before step checkpoints kept them")
        print(f"note: resuming {out} at step {step} without its random states ({why}); the result will "
              f"differ from an uninterrupted run", file=sys.stderr)
    ddp = nn.parallel.DistributedDataParallel(loss_mod, device_ids=[device] if device.type == "cuda" else None) \
        if world > 1 else loss_mod
    # the order of each epoch is a function of the seed and the epoch (one process is a world of one)
    order = torch.utils.data.DistributedSampler(data, world, rank, shuffle=True, seed=cfg.seed)
    per_epoch = math.ceil(len(order) / cfg.batch)
    devices = D.gather_text(D.device_name(device), device)
    provenance = None
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_config(out, asdict(cfg), model_cfg, data.words, cfg.text_encoder)
        write_stats(out, data.mean, data.std)
        provenance = Session(out, step, cfg.data, world, devices, str(amp or torch.float32).replace("torch.", ""),
                             resume is not None)
        if resume is not None:
            _trim_log(out / "losses.csv", step)
    total = cfg.epochs * per_epoch
    bar = _Bar(total, step, enabled=progress and rank == 0)
    log_rows, names = [], []
    last_save, stopped = time.monotonic(), False
    with _Preemption() as preempted:
        for epoch in range(start_epoch, cfg.epochs):
            order.set_epoch(epoch)
            indices = list(order)[skip * cfg.batch:]
            draws = text_draws(cfg.seed, epoch, len(data))
            # a private generator: the loader must not draw on the global one the noise comes from
            loader = torch.utils.data.DataLoader(data, batch_size=cfg.batch, sampler=indices,
                                                 collate_fn=lambda items, d=draws: collate(items, draws=d),
                                                 generator=torch.Generator())
            ddp.train()
            for done, batch in enumerate(loader, start=skip + 1):
                tokens = tmask = pooled = None
                if encoder is not None:
                    enc = encoder.encode(batch["texts"])
                    tokens, tmask, pooled = enc.tokens, enc.mask, enc.pooled
                tokens, tmask, pooled = (v.to(device) if v is not None else None for v in (tokens, tmask, pooled))
                with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                    loss, parts = ddp(batch["x"].to(device), batch["mask"].to(device), tokens, tmask, pooled,
                                      batch["label"].to(device), step / max(total, 1))
                loss = loss.float()
                for group in opt.param_groups:
                    group["lr"] = cfg.lr * lr_factor(step, total, cfg.warmup, cfg.cosine)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
                opt.step()
                step += 1
                # the ranks' mean loss for the log, and whether to save or stop: rank 0's clock
                # decides when a timed checkpoint is due, any rank's stop request stops all of them
                due = rank == 0 and cfg.checkpoint_minutes is not None and \
                    time.monotonic() - last_save >= 60 * cfg.checkpoint_minutes
                stop = step == cfg.stop_step or preempted()
                logged = torch.stack([loss.detach()] + [v.float() for v in parts.values()]).float()
                flags = torch.tensor([float(due), float(stop)], device=logged.device)
                logged = D.mean(torch.cat([logged, flags * world]))   # flags: summed, not averaged
                values, (due, stop) = logged[:-2].tolist(), (logged[-2:] > 0).tolist()
                log_rows.append((step, epoch, *values))
                bar.update(step, values[0])
                names = list(parts)
                if due or stop or done == per_epoch:
                    # the position after this batch: the next epoch's start once this one is done
                    at = (epoch + 1, 0) if done == per_epoch else (epoch, done)
                    _save(out, rank, world, device, step, at, model, opt, log_rows, names)
                    log_rows, last_save = [], time.monotonic()
                if stop:
                    stopped = True
                    break
            skip = 0
            if stopped:
                break
    bar.close()
    if provenance is not None:   # a stopped run has little time left (torchrun kills 30 s after SIGTERM)
        provenance.finish(timeout=10 if stopped else None)
    return {"steps": step, "epochs": cfg.epochs, "out": str(out), "stopped": stopped}


def _save(out: Path, rank: int, world: int, device, step: int, at: tuple[int, int], model, opt, rows,
          parts: list[str]) -> None:
    """A step checkpoint: every rank's random states, then rank 0's weights, optimizer and log."""
    folder = checkpoint.step_folder(out, step)
    checkpoint.save_rng(folder, rank, device)
    if world > 1:
        dist.barrier()
    if rank == 0:
        _append_log(out / "losses.csv", rows, parts)
        checkpoint.save(out, step, at[0], at[1], world, model, opt)
    if world > 1:
        dist.barrier()


def lr_factor(step: int, total: int, warmup: int = 0, cosine: bool = False) -> float:
    """The learning rate's share of ``lr`` at ``step`` (0-based) of ``total``."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if not cosine:
        return 1.0
    done = (step - warmup) / max(total - warmup, 1)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))


def _append_log(log: Path, rows, parts: list[str]) -> None:
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


def _trim_log(log: Path, step: int) -> None:
    """Drop rows past ``step``: a run stopped between its log and its checkpoint logged steps it will redo."""
    if not log.exists():
        return
    with open(log, newline="") as fh:
        rows = list(csv.reader(fh))
    kept = rows[:1] + [r for r in rows[1:] if r and int(r[0]) <= step]
    if len(kept) < len(rows):
        with atomic_path(log) as tmp, open(tmp, "w", newline="") as fh:
            csv.writer(fh).writerows(kept)


class _Preemption:
    """SIGTERM (what Slurm and torchrun send before they stop a job) asks the run to save a
    checkpoint after the current step and leave; the same command resumes it."""

    def __init__(self):
        self.asked, self.previous = False, None

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._ask)
        return lambda: self.asked

    def _ask(self, signum, frame) -> None:
        self.asked = True

    def __exit__(self, *exc) -> None:
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


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


def parse_overrides(items: list[str]) -> dict:
    """``--override KEY=VALUE`` items as a dict; each value is read as a Python literal (``1e-3``,
    ``2``, ``True``, ``(64, 128)``), and a bare word that is none is kept as a string."""
    import ast

    found = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.isidentifier() or not value:
            raise ValueError(f"--override takes KEY=VALUE, such as kl_weight=1e-3; got {item!r}")
        try:
            found[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            found[key] = value
    return found


def main(argv: list[str] | None = None) -> None:
    """``python -m training.train ARGS`` (and ``torchrun ... -m training.train ARGS``) is
    ``signforge train ARGS``: one command, one set of options."""
    from backend.cli import main as cli

    sys.argv = ["signforge", "train", *(sys.argv[1:] if argv is None else argv)]
    cli()


if __name__ == "__main__":
    main()
