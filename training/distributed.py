"""Processes, devices and ranks for training: one owner for what ``torchrun`` sets up.

Under ``torchrun`` (or ``srun torchrun``) each process reads ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK`` from its environment: it trains on the GPU of its ``LOCAL_RANK`` (NCCL), or
on the CPU (gloo) when there is none. Each rank draws its own noise from a seed derived
from the run seed; ``gather`` collects every rank's rows with their gradient (THMR's
negatives), ``mean`` averages logged losses, ``gather_text`` brings every rank's device
name to rank 0 for the run's provenance. No object is ever pickled between ranks. torch;
never bpy.
"""
from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist

PRECISIONS = ("auto", "fp32", "bf16")


def device_for(name: str = "auto") -> torch.device:
    """The device this process trains on: ``auto`` is the GPU of this ``LOCAL_RANK`` when there
    is one, else the CPU; ``cuda`` is ``cuda:LOCAL_RANK``; ``cuda:N`` and ``cpu`` are taken as said."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and torch.cuda.is_available():
        name = f"cuda:{gpu_index(int(os.environ.get('LOCAL_RANK', '0')), torch.cuda.device_count())}"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; choose auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}; choose auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA GPU is available; use cpu")
    return device


def gpu_index(local_rank: int, gpus: int) -> int:
    """The GPU of the process with ``local_rank`` on a machine with ``gpus``: one each, so
    more processes than GPUs (which NCCL refuses as duplicate GPUs) is an error that says so."""
    if not 0 <= local_rank < gpus:
        raise ValueError(f"LOCAL_RANK {local_rank} has no GPU of its own: this machine has {gpus}; start at most "
                         f"{gpus} processes per machine (torchrun --nproc_per_node {gpus})")
    return local_rank


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``, or None for full float32: ``auto`` is
    bf16 on a GPU and float32 on the CPU; ``bf16`` also runs on the CPU (the same code path, which
    is how it is tested without a GPU)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose {', '.join(PRECISIONS)}")
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def start(device: torch.device) -> tuple[int, int]:
    """(rank, world size): joins the process group torchrun describes (NCCL for a GPU, gloo for
    the CPU), or (0, 1) for a single process."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def rank_seed(seed: int, rank: int) -> int:
    """Each rank's own seed for noise and dropout, derived from the run seed (rank 0 keeps the
    run seed, so one process trains as it always did)."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank]).generate_state(1, np.uint32)[0])


class _Gather(torch.autograd.Function):
    """all_gather with a gradient: forward concatenates every rank's rows; backward sums every
    rank's gradient of the gathered tensor (each rank's loss reaches every rank's rows) and hands
    each rank its own rows' share. all_reduce rather than reduce_scatter, which gloo lacks."""

    @staticmethod
    def forward(ctx, x):
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.rows = slice(dist.get_rank() * len(x), (dist.get_rank() + 1) * len(x))
        return torch.cat(parts, 0)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[ctx.rows]


def gather(x: torch.Tensor) -> torch.Tensor:
    """Every rank's ``x`` (equal shapes), concatenated in rank order along dim 0, with the
    gradient flowing back to each rank's own rows. A single process gets ``x`` back."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return x
    sizes = [torch.zeros(1, dtype=torch.long, device=x.device) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, torch.tensor([len(x)], device=x.device))
    if len({int(s) for s in sizes}) != 1:
        raise ValueError(f"ranks hold batches of different sizes ({[int(s) for s in sizes]}); "
                         f"gathered negatives need equal batches")
    return _Gather.apply(x.contiguous())


def mean(values: torch.Tensor) -> torch.Tensor:
    """``values`` averaged over ranks (in place), for the log."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(values)
        values /= dist.get_world_size()
    return values


def gather_text(text: str, device: torch.device, width: int = 128) -> list[str]:
    """Every rank's short ``text`` (e.g. its device name), in rank order, as UTF-8 bytes in
    a fixed-width tensor: nothing is pickled."""
    raw = text.encode()[:width]
    buf = torch.zeros(width, dtype=torch.uint8, device=device)
    buf[:len(raw)] = torch.tensor(list(raw), dtype=torch.uint8)
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return [text]
    parts = [torch.zeros_like(buf) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, buf)
    return [bytes(p.cpu().tolist()).rstrip(b"\0").decode(errors="replace") for p in parts]


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return "cpu"
