"""The noise schedule and samplers of an x0-predicting diffusion model (HandMDM, MDM-style).

``CosineSchedule`` is a plain object (no network): Nichol & Dhariwal's cosine alpha-bar
over ``steps`` (100 in HandMDM), ``add_noise`` for training, the DDPM posterior ``step``
and a DDIM ``ddim_step`` that reuse the same x0 predictions, so a trained model samples
with any number of steps <= ``steps``. ``sample`` runs either, with classifier-free
guidance whose conditional and unconditional passes share one batch. torch; never bpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from ..precision import autocast_dtype

Denoiser = Callable[[torch.Tensor, torch.Tensor, object], torch.Tensor]   # (x_t, t, cond) -> x0


@dataclass(frozen=True)
class CosineSchedule:
    steps: int
    alpha_bars: torch.Tensor   # (steps,) float64, alpha_bar[t] for t = 0 .. steps-1

    @classmethod
    def create(cls, steps: int = 100, s: float = 0.008, max_beta: float = 0.999) -> "CosineSchedule":
        if steps < 1:
            raise ValueError(f"a schedule needs at least one step; got {steps}")
        f = lambda t: math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
        betas = [min(1 - f(i + 1) / f(i), max_beta) for i in range(steps)]
        alpha_bars = torch.cumprod(1 - torch.tensor(betas, dtype=torch.float64), 0)
        return cls(steps, alpha_bars)

    def _ab(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """alpha_bar at integer steps t (B,), shaped to broadcast against ``like``; t = -1 is 1."""
        ab = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bars])[t.long().cpu() + 1]
        return ab.to(like.device, like.dtype).reshape(-1, *([1] * (like.dim() - 1)))

    def add_noise(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        ab = self._ab(t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def step(self, x0_pred: torch.Tensor, x_t: torch.Tensor, t: int,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """DDPM: a sample of x_{t-1} from q(x_{t-1} | x_t, x0 = x0_pred)."""
        tt = torch.full((len(x_t),), t)
        ab, ab_prev = self._ab(tt, x_t), self._ab(tt - 1, x_t)
        alpha = ab / ab_prev
        mean = (ab_prev.sqrt() * (1 - alpha) * x0_pred + alpha.sqrt() * (1 - ab_prev) * x_t) / (1 - ab)
        if t == 0:
            return mean
        var = (1 - ab_prev) / (1 - ab) * (1 - alpha)
        noise = torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype).to(x_t.device)
        return mean + var.sqrt() * noise

    def ddim_step(self, x0_pred: torch.Tensor, x_t: torch.Tensor, t: int, t_prev: int, eta: float = 0.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """DDIM from step t to t_prev (-1 is the clean end), deterministic when eta = 0."""
        tt = torch.full((len(x_t),), t)
        ab = self._ab(tt, x_t)
        ab_prev = self._ab(torch.full((len(x_t),), t_prev), x_t)
        eps = (x_t - ab.sqrt() * x0_pred) / (1 - ab).sqrt().clamp_min(1e-12)
        sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).clamp_min(0).sqrt()
        out = ab_prev.sqrt() * x0_pred + (1 - ab_prev - sigma ** 2).clamp_min(0).sqrt() * eps
        if eta > 0 and t_prev >= 0:
            out = out + sigma * torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype).to(x_t.device)
        return out

    def timesteps(self, k: int | None = None) -> list[int]:
        """The steps a sampler visits, from the noisiest down: all of them, or ``k`` spread evenly."""
        if k is None or k >= self.steps:
            return list(range(self.steps - 1, -1, -1))
        if k < 1:
            raise ValueError(f"sampling needs at least one step; got {k}")
        return sorted({int(round(x)) for x in torch.linspace(0, self.steps - 1, k).tolist()}, reverse=True)


def guided(denoiser: Denoiser, guidance: float, layers_dtype: torch.dtype | None = None,
           device_type: str = "cpu") -> Callable:
    """x0 with classifier-free guidance: conditional and unconditional passes in one batch.

    ``denoiser(x, t, cond)`` must accept ``cond=None`` rows through ``uncond`` semantics: the
    returned function calls it once with the batch doubled and the second half's condition
    dropped (``cond`` is a dict of tensors whose ``"drop"`` mask marks the dropped rows).

    A denoiser with ``guidance_pair(cond)`` (HandMDM) instead gives, once per condition, a
    function (x_t, t) -> (conditional x0, unconditional x0) that does the work the two halves
    share once: the returned function keeps it for as long as it is called with the same
    ``cond`` (a sampling run's steps).

    ``layers_dtype`` (torch.bfloat16; None: float32) runs the denoiser under ``torch.autocast``
    on ``device_type`` (``backend.precision``); its outputs come back in x_t's dtype before
    the halves are combined, so the guidance's sums stay float32.
    """
    run: list = [None, None]   # [cond, its pair function]: one sampling run's

    def call(fn: Callable, like: torch.Tensor, *args) -> tuple[torch.Tensor, ...]:
        with torch.autocast(device_type, dtype=layers_dtype or torch.bfloat16, enabled=layers_dtype is not None):
            out = fn(*args)
        return tuple(y.to(like.dtype) for y in (out if isinstance(out, tuple) else (out,)))

    def x0(x_t: torch.Tensor, t: torch.Tensor, cond: dict) -> torch.Tensor:
        if guidance == 1.0:
            return call(denoiser, x_t, x_t, t, cond)[0]
        make = getattr(denoiser, "guidance_pair", None)
        if make is not None:
            if run[0] is not cond:
                run[:] = [cond, make(cond)]
            if run[1] is not None:
                cond_x0, uncond_x0 = call(run[1], x_t, x_t, t)
                return uncond_x0 + guidance * (cond_x0 - uncond_x0)
        b = len(x_t)
        both = {k: torch.cat([v, v]) if isinstance(v, torch.Tensor) else v for k, v in cond.items()}
        both["drop"] = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)])
        out = call(denoiser, x_t, torch.cat([x_t, x_t]), torch.cat([t, t]), both)[0]
        cond_x0, uncond_x0 = out[:b], out[b:]
        return uncond_x0 + guidance * (cond_x0 - uncond_x0)
    return x0


@torch.no_grad()
def sample(denoiser: Denoiser, shape: tuple[int, ...], schedule: CosineSchedule, cond: dict,
           guidance: float = 1.0, steps: int | None = None, eta: float = 0.0,
           generator: torch.Generator | None = None, device: str = "cpu",
           callback: Callable[[int, int], None] | None = None, sampler: str | None = None,
           known: tuple[torch.Tensor, torch.Tensor] | None = None,
           start: tuple[torch.Tensor, float] | None = None,
           inpaint: tuple[torch.Tensor, torch.Tensor] | None = None,
           precision: str | None = None) -> torch.Tensor:
    """Draw x0 samples with ``steps`` steps (None: all of the schedule's).

    ``start`` = (x0 (B, T, F), strength in 0..1) begins from that motion noised to the
    step ``strength`` of the way up the schedule instead of from pure noise (SDEdit): the
    sample keeps the motion's coarse shape and timing, and the model redraws its detail;
    only the steps at or below that level are visited (strength 0 returns x0 unchanged).

    ``known`` = (values (B, T, F), mask (T,) bool) fixes those frames (inpainting): at every
    step the prediction's masked frames are replaced by the values before the update, so the
    sample ends exactly on them and its free frames are denoised in their context.

    ``inpaint`` = (values (B, T, F), mask bool, broadcastable to (B, T, F)) is MDM's inpainting
    (Tevet et al. 2023, sec. 4.2; RePaint's known-region step without resampling): before every
    model call the masked entries of x_t are replaced by the values noised to step t
    (q(x_t | x_0), eq. 4 of DDPM), so the model always sees the known part at the noise level it
    expects, and the result holds the values exactly where the mask is set. The mask may cover
    whole frames or single channels (one hand's joints); the free entries are denoised in their
    context. With ``start`` the free entries begin from that motion noised to the start level.

    ``sampler``: "ddim" (deterministic for eta=0, any number of steps) or "ddpm" (stochastic,
    every step of the schedule); by default DDPM when ``steps`` is None, else DDIM, so that
    10 and 100 steps are the same sampler at two resolutions. ``callback(done, total)`` runs
    after every step; an exception it raises stops sampling (the server's cancel).

    ``precision`` ("auto", "float32" or "bfloat16"; None reads ``SIGNFORGE_PRECISION``): the
    format the denoiser's layers run in (``backend.precision``); the sampler's own sums are
    always float32.
    """
    sampler = sampler or ("ddpm" if steps is None else "ddim")
    if sampler not in ("ddim", "ddpm"):
        raise ValueError(f"sampler is ddim or ddpm; got {sampler!r}")
    if sampler == "ddpm":
        steps = None
    device_type = torch.device(device).type
    x0_fn = guided(denoiser, guidance, autocast_dtype(device_type, precision), device_type)
    x = torch.randn(shape, generator=generator).to(device)
    visit = schedule.timesteps(steps)
    if start is not None:
        init, strength = start
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength is between 0 and 1; got {strength}")
        visit = [t for t in visit if t <= strength * (schedule.steps - 1)]
        if not visit:
            init = init.to(device)
            return init if inpaint is None else torch.where(inpaint[1].to(device).bool(), inpaint[0].to(device, init.dtype), init)
        x = schedule.add_noise(init.to(device, x.dtype), torch.full((shape[0],), visit[0]), x)
    if inpaint is not None:
        values, where = inpaint[0].to(device, x.dtype), inpaint[1].to(device).bool()
        where = torch.broadcast_to(where, shape)
    for i, t in enumerate(visit):
        if inpaint is not None:   # the known part at step t's noise level, fresh noise each step
            noise = torch.randn(shape, generator=generator, dtype=x.dtype).to(device)
            x = torch.where(where, schedule.add_noise(values, torch.full((shape[0],), t), noise), x)
        x0 = x0_fn(x, torch.full((shape[0],), t, device=device), cond)
        if known is not None:
            x0 = torch.where(known[1][None, :, None].to(device), known[0].to(device, x0.dtype), x0)
        if sampler == "ddpm":
            x = schedule.step(x0, x, t, generator)
        else:
            x = schedule.ddim_step(x0, x, t, visit[i + 1] if i + 1 < len(visit) else -1, eta, generator)
        if callback is not None:
            callback(i + 1, len(visit))
    if inpaint is not None:
        x = torch.where(where, values, x)
    return x


def sample_windows(denoiser: Denoiser, shape: tuple[int, int, int], window: int, schedule: CosineSchedule,
                   cond: dict, overlap: int | None = None, steps: int | None = None,
                   callback: Callable[[int, int], None] | None = None, **kw) -> torch.Tensor:
    """(B, T, F) samples longer than the denoiser's ``window`` frames: windows that overlap by
    ``overlap`` frames (a quarter of the window by default), each inpainted from the previous
    one's last frames (``known``), so the take runs on without a seam. One window when T fits."""
    b, frames, feats = shape
    if frames <= window:
        return sample(denoiser, shape, schedule, cond, steps=steps, callback=callback, **kw)
    overlap = max(1, window // 4) if overlap is None else overlap
    if not 0 < overlap < window:
        raise ValueError(f"overlap must be between 1 and {window - 1} frames; got {overlap}")
    starts = list(range(0, frames - window, window - overlap)) + [frames - window]
    sampler = kw.get("sampler") or ("ddpm" if steps is None else "ddim")
    visits = len(schedule.timesteps(None if sampler == "ddpm" else steps))
    out = torch.zeros(shape)
    done = 0
    for k, start in enumerate(starts):
        def progress(i: int, _n: int, base=done) -> None:
            if callback is not None:
                callback(base + i, visits * len(starts))
        known = None
        if k:
            mask = torch.arange(window) < (starts[k - 1] + window - start)   # this window's frames already made
            known = (out[:, start:start + window], mask)
        x = sample(denoiser, (b, window, feats), schedule, cond, steps=steps, callback=progress, known=known, **kw)
        out[:, start:start + window] = x.cpu()
        done += visits
    return out
