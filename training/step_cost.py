"""Seconds per HandMDM training step for a few model sizes, with and without the kinematic losses.

``python -m training.step_cost --data DATA [--device cuda]`` times full steps (forward,
loss, backward, clip, AdamW) on batches of ``--batch`` motions of ``--frames`` frames with
cached-size text tokens, as ``training.train`` runs them, and prints a markdown table. On
the CPU the figure is CPU-seconds (free of other processes' load); on a GPU it is wall
seconds with the device synchronized, under the autocast ``training.train`` uses there
(bf16). Only the dataset's normalization statistics are read. torch; never bpy.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

SIZES = {"small (4x128)": {}, "4x256": {"width": 256, "ff": 512}, "6x256": {"layers": 6, "width": 256, "ff": 512},
         "4x256 at 12.5 fps (frame_step 2)": {"width": 256, "ff": 512, "frame_step": 2},
         "6x256 at 12.5 fps (frame_step 2)": {"layers": 6, "width": 256, "ff": 512, "frame_step": 2},
         "paper (8x512)": {"layers": 8, "width": 512, "heads": 8, "ff": 2048, "registers": 4}}


def step_cost(size: dict, stats, batch: int, frames: int, steps: int, kinematic: bool,
              device: torch.device = torch.device("cpu")) -> tuple[float, int]:
    from backend.models import HandMDM, HandMDMConfig

    from . import distributed as D
    from .train import TrainConfig, _Loss

    cuda = device.type == "cuda"
    amp = D.autocast_dtype("auto", device)
    clock = time.perf_counter if cuda else time.process_time

    torch.manual_seed(0)
    model = HandMDM(HandMDMConfig.named("small", max_frames=frames, length_head=True, **size))
    cfg = TrainConfig("handmdm", "", "", **({} if kinematic else {"w_vel": 0.0, "w_pos": 0.0, "w_pos_vel": 0.0}))
    loss_mod = _Loss("handmdm", model, True, cfg, stats).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, frames, 274)
    mask = torch.ones(batch, frames, dtype=torch.bool)
    mask[batch // 2:, frames * 2 // 3:] = False   # padded rows, as collate makes them
    tokens, tmask = torch.randn(batch, 40, 384), torch.ones(batch, 40, dtype=torch.bool)
    x, mask, tokens, tmask = (v.to(device) for v in (x, mask, tokens, tmask))
    times = []
    for i in range(steps + 1):   # the first step warms up allocators and is not counted
        t0 = clock()
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            loss, _ = loss_mod(x, mask, tokens, tmask, None, None, 0.0)
        loss = loss.float()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if cuda:
            torch.cuda.synchronize(device)
        if i:
            times.append(clock() - t0)
    return float(np.median(times)), sum(p.numel() for p in model.parameters())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a dataset folder (its stats.npz)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--frames", type=int, default=75)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: CPU-seconds free of thread spin-waiting on a busy machine)")
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    unit = "CPU-s/step" if device.type == "cpu" else f"s/step on {torch.cuda.get_device_name(device)}"
    with np.load(f"{a.data}/stats.npz", allow_pickle=False) as z:
        stats = (z["mean"].astype(np.float32), z["std"].astype(np.float32))
    print(f"| config | parameters | {unit}, x0 MSE only | {unit}, + kinematic losses |  (batch {a.batch}, "
          f"{a.frames} frames, torch threads {torch.get_num_threads()})")
    print("| --- | --- | --- | --- |")
    for name, size in SIZES.items():
        plain, n = step_cost(size, stats, a.batch, a.frames, a.steps, False, device)
        kin, _ = step_cost(size, stats, a.batch, a.frames, a.steps, True, device)
        print(f"| {name} | {n / 1e6:.2f}M | {plain:.3g} | {kin:.3g} |", flush=True)


if __name__ == "__main__":
    main()
