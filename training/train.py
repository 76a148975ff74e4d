"""``signforge train``: HandMDM, SignAvatar, THMR or ST-GCN on a data-factory dataset.

A run folder holds ``config.json`` (the resolved run and model configs and the format
version), ``weights.safetensors``, ``stats.npz`` (the normalization the weights expect),
all three written and read by ``backend.runs``; ``losses.csv`` and, for resuming,
``trainer.json`` + ``optimizer.safetensors``. No file is a pickle. Started again on the
same folder, a run resumes at its last saved epoch.

Under ``torchrun --nproc_per_node N -m training.train ...`` it trains with DDP (gloo on
CPU, nccl on GPU); rank 0 writes the files. torch; never bpy.
"""
from __future__ import annotations

import csv
import json
import os
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

    def check(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose {', '.join(MODELS)}")
        if self.epochs < 1 or self.batch < 1 or self.lr <= 0:
            raise ValueError("epochs and batch must be at least 1 and lr positive")
        self.word_set = word_set_name(self.word_set)   # "30" and "w30" name the same set


class _Loss(nn.Module):
    """One model and its training loss, behind ``forward`` so DDP sees every call."""

    def __init__(self, kind: str, model: nn.Module, curriculum: bool = True):
        super().__init__()
        self.kind, self.model, self.curriculum = kind, model, curriculum
        if kind == "handmdm":
            from backend.diffusion import CosineSchedule

            self.schedule = CosineSchedule.create(100)

    def forward(self, x, mask, tokens, tmask, pooled, labels, progress: float, generator=None):
        m = self.model
        if self.kind == "handmdm":
            t = torch.randint(0, self.schedule.steps, (len(x),), generator=generator)
            xt = self.schedule.add_noise(x, t, torch.randn(x.shape, generator=generator))
            cond = {"text": tokens, "text_mask": tmask, "frame_mask": mask, "drop": m.training_drop(len(x), generator)}
            err = ((m(xt, t, cond) - x) ** 2).mean(-1)
            return (err * mask).sum() / mask.sum()
        if self.kind == "signavatar":
            from backend.models import curriculum_ratio

            ratio = curriculum_ratio(progress, m.cfg.max_mask) if self.curriculum else 0.0
            return m.loss(x, pooled, mask, ratio, generator)["loss"]
        if self.kind == "thmr":
            return m.loss(m.encode_motion(x, mask), m.encode_text(tokens, tmask), pooled)
        return nn.functional.cross_entropy(m(x, mask), labels)



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

    o = dict(cfg.overrides)
    if cfg.model == "handmdm":
        mc = M.HandMDMConfig.named(cfg.config, text_dim=text_dim, max_frames=cfg.max_frames, **o)
        return M.HandMDM(mc), mc.as_dict()
    if cfg.model == "signavatar":
        mc = M.SignAvatarConfig.named(cfg.config, cond_dim=text_dim, max_frames=cfg.max_frames, **o)
        return M.SignAvatar(mc), mc.as_dict()
    if cfg.model == "thmr":
        mc = M.THMRConfig.named(cfg.config, text_dim=text_dim, max_frames=cfg.max_frames, **o)
        return M.THMR(mc), mc.as_dict()
    mc = M.STGCNConfig.named(cfg.config, classes=classes, **o)
    return M.STGCN(mc), mc.as_dict()


def _dist() -> tuple[int, int]:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


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
    from backend.text import load_text_encoder

    from .data import MotionTextData, collate

    cfg.check()
    rank, world = _dist()
    torch.manual_seed(cfg.seed)
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
    encoder = load_text_encoder(cfg.text_encoder) if cfg.model != "stgcn" else None
    if encoder is not None:   # keep every training text's encoding: epochs after the first encode nothing
        encoder.reserve(3 * len(data) + 1024)
    model, model_cfg = build_model(cfg, encoder.dim if encoder else 0, len(data.words))
    loss_mod = _Loss(cfg.model, model, cfg.curriculum)
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
    ddp = nn.parallel.DistributedDataParallel(loss_mod) if world > 1 else loss_mod
    sampler = torch.utils.data.DistributedSampler(data, world, rank, shuffle=True, seed=cfg.seed) if world > 1 \
        else None
    rng = np.random.default_rng(cfg.seed + rank)
    loader = torch.utils.data.DataLoader(data, batch_size=cfg.batch, shuffle=sampler is None, sampler=sampler,
                                         collate_fn=lambda items: collate(items, rng), drop_last=False,
                                         generator=torch.Generator().manual_seed(cfg.seed))
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_config(out, asdict(cfg), model_cfg, data.words, cfg.text_encoder)
        write_stats(out, data.mean, data.std)
    total = cfg.epochs * len(loader)
    bar = _Bar(total, step, enabled=progress and rank == 0)
    log_rows = []
    for epoch in range(start_epoch, cfg.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        ddp.train()
        for batch in loader:
            tokens = tmask = pooled = None
            if encoder is not None:
                enc = encoder.encode(batch["texts"])
                tokens, tmask, pooled = enc.tokens, enc.mask, enc.pooled
            loss = ddp(batch["x"], batch["mask"], tokens, tmask, pooled, batch["label"], step / max(total, 1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
            opt.step()
            step += 1
            value = loss.item()
            log_rows.append((step, epoch, value))
            bar.update(step, value)
        if rank == 0:
            _checkpoint(out, model, opt, epoch + 1, step, log_rows)
            log_rows = []
        if world > 1:
            dist.barrier()
    bar.close()
    return {"steps": step, "epochs": cfg.epochs, "out": str(out)}


def _checkpoint(out: Path, model, opt, epoch: int, step: int, rows) -> None:
    write_weights(out, model)
    meta = _save_optimizer(opt, out / "optimizer.safetensors")
    new = not (out / "losses.csv").exists()
    with open(out / "losses.csv", "a", newline="") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(["step", "epoch", "loss"])
        w.writerows(rows)
    with atomic_path(out / "trainer.json") as tmp:
        tmp.write_text(json.dumps({"epoch": epoch, "step": step, "optimizer": meta}))


class _Bar:
    """A rich progress bar with loss and ETA on rank 0; silent elsewhere."""

    def __init__(self, total: int, done: int, enabled: bool):
        self.enabled = enabled
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.p = Progress(TextColumn("[bold]training[/]"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                              TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn())
            self.task = self.p.add_task("train", total=total, completed=done, loss="-")
            self.p.start()
        self.t0 = time.time()

    def update(self, step: int, loss: float) -> None:
        if self.enabled:
            self.p.update(self.task, completed=step, loss=f"{loss:.4f}")

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
    a = ap.parse_args(argv)
    overrides = {}
    for kv in a.override:
        k, _, v = kv.partition("=")
        overrides[k] = float(v) if "." in v else int(v)
    cfg = TrainConfig(a.model, a.data, a.out, a.config, a.epochs, a.batch, a.lr, a.seed, condition=a.condition,
                      max_frames=a.max_frames, curriculum=not a.no_curriculum, overrides=overrides,
                      word_set=word_set_name(a.word_set))
    result = train(cfg)
    if _dist()[0] == 0:
        print(json.dumps(result))
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
