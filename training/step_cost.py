"""CPU-seconds per HandMDM training step for a few model sizes, with and without the kinematic losses.

``python -m training.step_cost --data DATA`` times full steps (forward, loss, backward,
clip, AdamW) on batches of ``--batch`` motions of ``--frames`` frames with cached-size
text tokens, as ``training.train`` runs them, and prints a markdown table. Only the
dataset's normalization statistics are read. torch; never bpy.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

SIZES = {"small (4x128)": {}, "4x256": {"width": 256, "ff": 512}, "6x256": {"layers": 6, "width": 256, "ff": 512},
         "4x256 at 12.5 fps (frame_step 2)": {"width": 256, "ff": 512, "frame_step": 2},
         "6x256 at 12.5 fps (frame_step 2)": {"layers": 6, "width": 256, "ff": 512, "frame_step": 2}}


def step_cost(size: dict, stats, batch: int, frames: int, steps: int, kinematic: bool) -> tuple[float, int]:
    from backend.models import HandMDM, HandMDMConfig

    from .train import TrainConfig, _Loss

    torch.manual_seed(0)
    model = HandMDM(HandMDMConfig.named("small", max_frames=frames, length_head=True, **size))
    cfg = TrainConfig("handmdm", "", "", **({} if kinematic else {"w_vel": 0.0, "w_pos": 0.0, "w_pos_vel": 0.0}))
    loss_mod = _Loss("handmdm", model, True, cfg, stats)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, frames, 274)
    mask = torch.ones(batch, frames, dtype=torch.bool)
    mask[batch // 2:, frames * 2 // 3:] = False   # padded rows, as collate makes them
    tokens, tmask = torch.randn(batch, 40, 384), torch.ones(batch, 40, dtype=torch.bool)
    times = []
    for i in range(steps + 1):   # the first step warms up allocators and is not counted
        t0 = time.process_time()
        loss, _ = loss_mod(x, mask, tokens, tmask, None, None, 0.0)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i:
            times.append(time.process_time() - t0)
    return float(np.median(times)), sum(p.numel() for p in model.parameters())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a dataset folder (its stats.npz)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--frames", type=int, default=75)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: CPU-seconds free of thread spin-waiting on a busy machine)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    with np.load(f"{a.data}/stats.npz", allow_pickle=False) as z:
        stats = (z["mean"].astype(np.float32), z["std"].astype(np.float32))
    print(f"| config | parameters | CPU-s/step, x0 MSE only | CPU-s/step, + kinematic losses |  (batch {a.batch}, "
          f"{a.frames} frames, torch threads {torch.get_num_threads()})")
    print("| --- | --- | --- | --- |")
    for name, size in SIZES.items():
        plain, n = step_cost(size, stats, a.batch, a.frames, a.steps, False)
        kin, _ = step_cost(size, stats, a.batch, a.frames, a.steps, True)
        print(f"| {name} | {n / 1e6:.2f}M | {plain:.2f} | {kin:.2f} |", flush=True)


if __name__ == "__main__":
    main()
