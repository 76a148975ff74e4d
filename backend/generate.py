"""Text -> SMPL-X motion with a trained run (HandMDM or SignAvatar), offline on a CPU.

``load_run(dir)`` reads a run folder from ``signforge train`` (config.json, weights and
normalization stats; safetensors only) after checking the sha256 sums of a shipped
manifest when there is one. ``generate(...)`` samples ``num`` motions for a prompt:
HandMDM by DDIM with classifier-free guidance, SignAvatar from z ~ N(0, I). With no run
given, the weights shipped in ``backend/weights/`` are used. torch; never bpy.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file

from .motion.motion import Motion

WEIGHTS = Path(__file__).parent / "weights"
MANIFEST = WEIGHTS / "MANIFEST.json"
DEFAULT_RUNS = {"handmdm": WEIGHTS / "handmdm-small", "signavatar": WEIGHTS / "signavatar-small"}
FORMAT_VERSION = 1
FPS = 25.0


class GenerateError(RuntimeError):
    """A run that cannot be loaded or a request that cannot be met; the message says why."""


@dataclass
class Run:
    kind: str
    model: torch.nn.Module
    config: dict
    mean: np.ndarray
    std: np.ndarray
    path: Path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_manifest(run_dir: Path, manifest: Path = MANIFEST) -> None:
    """Check the shipped files of ``run_dir`` against the manifest's sha256 sums (if listed)."""
    if not manifest.exists():
        return
    sums = json.loads(manifest.read_text())["files"]
    for rel, digest in sums.items():
        path = manifest.parent / rel
        if path.parent.resolve() != run_dir.resolve():
            continue
        if not path.exists():
            raise GenerateError(f"{path} is listed in {manifest} but missing; reinstall SignForge")
        if _sha256(path) != digest:
            raise GenerateError(f"{path} does not match its sha256 in {manifest}: the file is damaged or altered")


def load_run(run_dir: str | os.PathLike) -> Run:
    from .models import HandMDM, HandMDMConfig, SignAvatar, SignAvatarConfig

    run_dir = Path(run_dir)
    cfg_file = run_dir / "config.json"
    if not cfg_file.exists():
        raise GenerateError(f"{run_dir} is not a SignForge run folder (no config.json)")
    verify_manifest(run_dir)
    meta = json.loads(cfg_file.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise GenerateError(f"{run_dir}: run format {meta.get('format_version')}; this SignForge reads {FORMAT_VERSION}")
    kind = meta["run"]["model"]
    fields = meta["model"]
    if kind == "handmdm":
        model = HandMDM(HandMDMConfig(**fields))
    elif kind == "signavatar":
        model = SignAvatar(SignAvatarConfig(**fields))
    else:
        raise GenerateError(f"{run_dir} holds a {kind} model, which does not generate motion")
    try:
        model.load_state_dict(load_file(str(run_dir / "weights.safetensors")))
    except (OSError, RuntimeError) as exc:
        raise GenerateError(f"{run_dir}/weights.safetensors cannot be loaded: {exc}") from None
    with np.load(run_dir / "stats.npz", allow_pickle=False) as z:
        mean, std = z["mean"].astype(np.float32), z["std"].astype(np.float32)
    return Run(kind, model.eval(), meta, mean, std, run_dir)


_RUNS: dict[str, Run] = {}


def generate(text: str, model: str = "handmdm", frames: int | None = None, seconds: float | None = None,
             guidance: float = 2.5, steps: int = 50, seed: int = 0, num: int = 1,
             run_dir: str | os.PathLike | None = None,
             progress: Callable[[int, int], None] | None = None, device: str = "cpu") -> list[Motion]:
    """``num`` motions for ``text`` at 25 fps.

    ``progress(done, total)`` is called as sampling advances; an exception it raises
    aborts generation (that is how a cancel stops it). ``device`` is "cpu" or "cuda"; the
    noise is drawn on the CPU, so a seed gives the same start on either.
    """
    from .diffusion import CosineSchedule, sample
    from .text import load_text_encoder

    if not text or not text.strip():
        raise GenerateError("the prompt is empty")
    if frames is None:
        frames = int(round((seconds if seconds is not None else 2.4) * FPS))
    if num < 1 or frames < 4:
        raise GenerateError(f"need at least 1 sample and 4 frames; got num={num}, frames={frames}")
    if device not in ("cpu", "cuda"):
        raise GenerateError(f"unknown device {device!r}; choose cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise GenerateError("no CUDA GPU is available to this backend; choose the CPU")
    path = Path(run_dir) if run_dir else DEFAULT_RUNS.get(model)
    if path is None:
        raise GenerateError(f"unknown model {model!r}; choose handmdm or signavatar")
    if run_dir is None and not (path / "config.json").exists():
        raise GenerateError(f"no trained {model} weights at {path}; train one with `signforge train {model}` "
                            f"and pass --run RUN_DIR")
    key = str(path.resolve())
    if key not in _RUNS:
        _RUNS[key] = load_run(path)
    run = _RUNS[key]
    net = run.model.to(device)
    limit = run.model.cfg.max_frames
    if frames > limit:
        raise GenerateError(f"{frames} frames exceed this model's {limit} ({limit / FPS:.1f} s)")
    encoder = load_text_encoder(run.config.get("text_encoder", "minilm"))
    enc = encoder.encode([text] * num)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if run.kind == "handmdm":
            cond = {"text": enc.tokens.to(device), "text_mask": enc.mask.to(device)}
            x = sample(net, (num, frames, net.cfg.features), CosineSchedule.create(100), cond,
                       guidance=guidance, steps=steps, generator=g, callback=progress, device=device)
        else:
            x = net.generate(enc.pooled.to(device), frames, g)
            if progress is not None:
                progress(1, 1)
    feats = x.cpu().numpy() * run.std + run.mean
    return [Motion.from_features(f, FPS, text=text,
                                 provenance={"source": f"signforge-{run.kind}", "run": run.path.name,
                                             "seed": str(seed), "sample": str(i), "guidance": str(guidance),
                                             "steps": str(steps)})
            for i, f in enumerate(feats)]
