"""The cosine schedule and its samplers, checked with an oracle denoiser that knows x0."""
from __future__ import annotations

import pytest
import torch

from backend.diffusion import CosineSchedule, guided, sample


def test_cosine_schedule_runs_from_clean_to_noise():
    s = CosineSchedule.create(100)
    ab = s.alpha_bars
    assert s.steps == 100 and ab.shape == (100,)
    assert (ab[1:] < ab[:-1]).all() and ab[0] > 0.999 and ab[-1] < 1e-4
    with pytest.raises(ValueError, match="at least one step"):
        CosineSchedule.create(0)


def test_add_noise_has_the_right_statistics():
    s = CosineSchedule.create(100)
    x0 = torch.full((20000, 4), 2.0)
    t = torch.full((20000,), 50)
    xt = s.add_noise(x0, t, torch.randn(x0.shape, generator=torch.Generator().manual_seed(0)))
    ab = float(s.alpha_bars[50])
    assert abs(xt.mean().item() - 2.0 * ab ** 0.5) < 0.02
    assert abs(xt.std().item() - (1 - ab) ** 0.5) < 0.02


class Oracle:
    """Returns the true clean sample: a perfect x0 predictor."""
    def __init__(self, x0):
        self.x0, self.calls, self.batch = x0, 0, []

    def __call__(self, x_t, t, cond):
        self.calls += 1
        self.batch.append(len(x_t))
        return self.x0.repeat(len(x_t) // len(self.x0), *([1] * (self.x0.dim() - 1)))


@pytest.mark.parametrize("steps", [None, 100, 10, 1])
def test_samplers_land_on_x0_with_a_perfect_denoiser(steps):
    s = CosineSchedule.create(100)
    x0 = torch.randn(3, 8, 5, generator=torch.Generator().manual_seed(1))
    oracle = Oracle(x0)
    out = sample(oracle, x0.shape, s, {}, steps=steps, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(out, x0, atol=1e-5)
    assert oracle.calls == (100 if steps is None else steps)


def test_guidance_shares_one_batch_and_mixes_conditional_and_unconditional():
    x = torch.zeros(2, 3)

    def denoiser(x_t, t, cond):
        out = torch.ones_like(x_t)                  # conditional: 1
        out[cond["drop"]] = 0.0                    # unconditional: 0
        return out

    calls = []

    def counting(x_t, t, cond):
        calls.append(len(x_t))
        return denoiser(x_t, t, cond)

    fn = guided(counting, 2.5)
    out = fn(x, torch.zeros(2), {"text": torch.zeros(2, 4)})
    assert calls == [4] and torch.allclose(out, torch.full((2, 3), 2.5))


def test_ddim_visits_a_spread_of_steps():
    s = CosineSchedule.create(100)
    assert s.timesteps() == list(range(99, -1, -1))
    few = s.timesteps(10)
    assert few[0] == 99 and few[-1] == 0 and len(few) == 10


def test_inpainting_keeps_known_frames_and_windows_continue_each_other():
    """``known`` frames come out exactly; a take longer than the window is made of windows,
    each starting from the frames the last one made, with progress over all of them."""
    from backend.diffusion import sample_windows

    s = CosineSchedule.create(100)

    def smooth(x_t, t, cond):   # a denoiser with temporal context: each frame's x0 is its neighbours' mean
        pad = torch.cat([x_t[:, :1], x_t, x_t[:, -1:]], 1)
        return (pad[:, :-2] + pad[:, 1:-1] + pad[:, 2:]) / 3

    g = torch.Generator().manual_seed(0)
    known = torch.randn(2, 12, 3, generator=g)
    mask = torch.arange(12) < 4
    out = sample(smooth, (2, 12, 3), s, {}, steps=10, generator=g, known=(known, mask))
    assert torch.equal(out[:, :4], known[:, :4]) and not torch.allclose(out[:, 4:], known[:, 4:])
    seen = []
    long = sample_windows(smooth, (2, 30, 3), 12, s, {}, steps=10, generator=torch.Generator().manual_seed(1),
                          callback=lambda i, n: seen.append((i, n)))
    assert long.shape == (2, 30, 3) and torch.isfinite(long).all()
    assert seen[-1] == (len(seen), len(seen)) and [i for i, _ in seen] == sorted(i for i, _ in seen)
    assert len(seen) == 10 * 3          # windows at 0, 9 and 18 (overlap 3)
    jumps = (long[:, 1:] - long[:, :-1]).abs().amax((0, 2))
    assert jumps.max() < 4 * jumps.median()   # no seam stands out where windows meet
    short = sample_windows(smooth, (2, 10, 3), 12, s, {}, steps=5, generator=torch.Generator().manual_seed(1))
    again = sample(smooth, (2, 10, 3), s, {}, steps=5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(short, again)


def test_inpainting_mask_feeds_the_known_part_at_each_steps_noise_level():
    """``inpaint``: the masked entries (here one channel, as a hand's joints are) come out exactly
    and reach the denoiser noised to the step it is called at (MDM's way); the free entries follow
    their context."""
    s = CosineSchedule.create(100)
    seen = []

    def follow(x_t, t, cond):   # x0: every channel becomes channel 0, the known one
        seen.append((int(t[0]), x_t.clone()))
        return x_t[..., :1].expand_as(x_t) / s.alpha_bars[t.long()].sqrt().float()[:, None, None]

    g = torch.Generator().manual_seed(0)
    values = torch.linspace(-1, 1, 16).reshape(1, 16, 1).expand(2, 16, 3).contiguous()
    mask = torch.zeros(16, 3, dtype=torch.bool)
    mask[:, 0] = True
    out = sample(follow, (2, 16, 3), s, {}, steps=20, generator=g, inpaint=(values, mask))
    assert torch.equal(out[..., 0], values[..., 0])
    first_t, first = seen[0]
    last_t, last = seen[-1]
    assert first_t == 99 and last_t == 0
    assert (first[..., 0] - values[..., 0]).abs().mean() > 0.5        # at t = 99 the known part is mostly noise
    assert (last[..., 0] - values[..., 0]).abs().max() < 0.1          # at t = 0 nearly clean
    assert (out[..., 1:] - values[..., :1]).abs().max() < 0.15          # the free channels took their context
    seen.clear()   # from a start partly up the schedule: fewer steps, the known part still exact
    partial = sample(follow, (2, 16, 3), s, {}, steps=20, generator=g, inpaint=(values, mask),
                     start=(torch.zeros(2, 16, 3), 0.3))
    assert torch.equal(partial[..., 0], values[..., 0]) and seen[0][0] <= 30 and len(seen) < 20
