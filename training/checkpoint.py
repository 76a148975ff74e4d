"""Step checkpoints: all a stopped run needs to go on as if it had never stopped.

A checkpoint is a folder ``RUN/checkpoints/step-NNNNNNNNN/``:

- ``weights.safetensors`` and ``optimizer.safetensors`` (the AdamW moments; its param groups
  and scalars go in ``trainer.json``: no pickle anywhere);
- ``rng-R.safetensors`` for every rank R: that process's torch CPU generator state and, on a
  GPU, its CUDA generator state (dropout, diffusion noise and classifier-free drop draw on them);
- ``trainer.json``, written last, by rank 0, after every rank has written its file: the
  step (the learning-rate schedule is a function of it), the epoch and the batches of it
  done (the data position: the order of an epoch is a function of the seed and the epoch),
  and the world size. A folder without it is incomplete and is never resumed from.

The latest ``KEEP`` complete checkpoints are kept. ``RUN/weights.safetensors`` (what
``load_run`` reads) is refreshed at every checkpoint. Runs from before step checkpoints
kept ``trainer.json`` + ``optimizer.safetensors`` in the run folder at epoch ends;
``latest`` still resumes them, without random states (so not exactly). torch; never bpy.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from backend.atomic import atomic_path
from backend.runs import RunError, load_weights, write_weights

CHECKPOINTS = "checkpoints"
TRAINER, OPTIMIZER = "trainer.json", "optimizer.safetensors"
KEEP = 2


def rng_file(folder: Path, rank: int) -> Path:
    return folder / f"rng-{rank}.safetensors"


def save_rng(folder: Path, rank: int, device: torch.device) -> None:
    """This rank's random states into ``folder`` (every rank writes its own)."""
    tensors = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        tensors["cuda"] = torch.cuda.get_rng_state(device)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(rng_file(folder, rank)) as tmp:
        save_file(tensors, str(tmp))


def save_optimizer(opt: torch.optim.Optimizer, path: Path) -> dict:
    """Optimizer tensors into safetensors; returns the rest (param groups, scalars) as JSON-able metadata."""
    state = opt.state_dict()
    tensors, meta = {}, {"param_groups": state["param_groups"], "scalars": {}}
    for pid, entry in state["state"].items():
        for k, v in entry.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                meta["scalars"][f"{pid}.{k}"] = v
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    return meta


def load_optimizer(opt: torch.optim.Optimizer, path: Path, meta: dict) -> None:
    tensors = load_file(str(path))
    state: dict = {}
    for key, v in list(tensors.items()) + list(meta["scalars"].items()):
        pid, k = key.split(".", 1)
        state.setdefault(int(pid), {})[k] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save(out: Path, step: int, epoch: int, batch: int, world: int, model, opt) -> Path:
    """Rank 0's part of a checkpoint, once every rank's ``save_rng`` is done: weights, optimizer,
    then ``trainer.json``; older checkpoints past ``KEEP`` are removed."""
    folder = step_folder(out, step)
    write_weights(folder, model)
    meta = save_optimizer(opt, folder / OPTIMIZER)
    write_weights(out, model)
    with atomic_path(folder / TRAINER) as tmp:
        tmp.write_text(json.dumps({"step": step, "epoch": epoch, "batch": batch, "world": world,
                                   "optimizer": meta}))
    for old in complete(out)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def step_folder(out: Path, step: int) -> Path:
    return Path(out) / CHECKPOINTS / f"step-{step:09d}"


def complete(out: Path) -> list[Path]:
    """The run's complete checkpoints, oldest first."""
    root = Path(out) / CHECKPOINTS
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step-*") if (p / TRAINER).is_file())


@dataclass
class Resume:
    """Where a run goes on from: ``step``, ``epoch`` and the ``batch``es of it already done."""
    folder: Path
    step: int
    epoch: int
    batch: int
    world: int | None    # None: a run from before step checkpoints (no random states)
    meta: dict

    @property
    def exact(self) -> bool:
        return self.world is not None

    def load(self, model, opt) -> None:
        load_weights(model, self.folder)
        try:
            load_optimizer(opt, self.folder / OPTIMIZER, self.meta["optimizer"])
        except (OSError, KeyError, ValueError, SafetensorError) as exc:
            raise RunError(f"{self.folder / OPTIMIZER} cannot be loaded: {exc}") from None

    def restore_rng(self, rank: int, world: int, device: torch.device) -> bool:
        """This rank's saved random states, when the run stopped on as many ranks; False when
        they cannot be restored (another world size, or a run without them)."""
        if not self.exact or world != self.world:
            return False
        path = rng_file(self.folder, rank)
        try:
            states = load_file(str(path))
        except (OSError, SafetensorError) as exc:
            raise RunError(f"{path} cannot be loaded: {exc}") from None
        torch.set_rng_state(states["cpu"])
        if device.type == "cuda" and "cuda" in states:
            torch.cuda.set_rng_state(states["cuda"], device)
        return True


def latest(out: Path) -> Resume | None:
    """The checkpoint a run in ``out`` resumes from, or None for a new run."""
    out = Path(out)
    done = complete(out)
    if done:
        folder = done[-1]
        try:
            meta = json.loads((folder / TRAINER).read_text())
            return Resume(folder, int(meta["step"]), int(meta["epoch"]), int(meta["batch"]), int(meta["world"]), meta)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunError(f"{folder / TRAINER} cannot be read: {exc}") from None
    legacy = out / TRAINER
    if legacy.is_file():   # an epoch-end checkpoint in the run folder itself, from before step checkpoints
        try:
            meta = json.loads(legacy.read_text())
            return Resume(out, int(meta["step"]), int(meta["epoch"]), 0, None, meta)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunError(f"{legacy} cannot be read: {exc}") from None
    return None
