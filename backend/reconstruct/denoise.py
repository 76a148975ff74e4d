"""SignAvatar denoising: a fitted motion through the shipped CVAE's reconstruct mode.

The motion's 274-D features are normalized with the run's statistics, encoded (the mean
of q(z | x, text)) and decoded, in windows of the model's longest length that overlap and
cross-fade. Global orientation, betas, confidence and provenance are kept; the result's
provenance names the run. torch; never bpy.
"""
from __future__ import annotations

import numpy as np
import torch

from ..motion import Motion

_RUN = {}


def _run():
    from ..runs import SHIPPED, load_run

    if "run" not in _RUN:
        _RUN["run"] = load_run(SHIPPED["signavatar"], kinds=("signavatar",))
    return _RUN["run"]


def signavatar_denoise(motion: Motion, text: str = "", overlap: int = 20) -> Motion:
    from ..text import load_text_encoder

    run = _run()
    net = run.model.eval()
    limit = int(net.cfg.max_frames)
    feats = motion.to_features()
    x = (feats - run.mean) / run.std
    cond = load_text_encoder(run.config.get("text_encoder", "minilm")).encode([text or ""]).pooled
    T = len(x)
    out = np.zeros_like(x)
    weight = np.zeros((T, 1), np.float32)
    step = max(1, limit - overlap)
    starts = list(range(0, max(T - limit, 0) + 1, step))
    if starts[-1] + limit < T:
        starts.append(T - limit)
    with torch.no_grad():
        for s in starts:
            e = min(T, s + limit)
            y = net.reconstruct(torch.from_numpy(x[s:e][None]).float(), cond).numpy()[0]
            n = e - s
            ramp = np.minimum(np.arange(1, n + 1), np.arange(n, 0, -1)).astype(np.float32)
            w = np.minimum(ramp / max(overlap, 1), 1.0)[:, None]
            out[s:e] += w * y
            weight[s:e] += w
    clean = out / np.maximum(weight, 1e-6) * run.std + run.mean
    denoised = Motion.from_features(clean, motion.fps)
    poses = denoised.poses.copy()
    poses[:, 0] = motion.poses[:, 0]
    prov = dict(motion.provenance)
    prov["denoise"] = f"signavatar:{run.path.name}"
    return motion.with_(poses=poses, expression=denoised.expression, provenance=prov)
