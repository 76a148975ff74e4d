"""HandMDM's denoiser: shapes, masks, condition dropping, guidance and a learning check."""
from __future__ import annotations

import pytest
import torch

from backend.diffusion import CosineSchedule, sample
from backend.models import HandMDM, HandMDMConfig


def tiny(**kw):
    return HandMDM(HandMDMConfig.named("small", layers=2, width=32, heads=2, ff=64, text_dim=16, dropout=0.0,
                                       **kw))


def batch(b=3, frames=12, words=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, frames, 274, generator=g), torch.randint(0, 100, (b,), generator=g),
            {"text": torch.randn(b, words, 16, generator=g), "text_mask": torch.ones(b, words, dtype=torch.bool)})


def test_configs():
    paper = HandMDMConfig.named("paper")
    assert (paper.layers, paper.width, paper.heads, paper.ff, paper.cond_drop) == (8, 512, 8, 2048, 0.05)
    with pytest.raises(ValueError, match="unknown HandMDM config"):
        HandMDMConfig.named("huge")


def test_forward_shapes_and_padding_masks():
    model = tiny().eval()
    x, t, cond = batch()
    out = model(x, t, cond)
    assert out.shape == x.shape
    # padded frames and padded words do not change the real frames' output
    cond2 = dict(cond, text=torch.cat([cond["text"], torch.randn(3, 2, 16)], 1),
                 text_mask=torch.cat([cond["text_mask"], torch.zeros(3, 2, dtype=torch.bool)], 1))
    assert torch.allclose(model(x, t, cond2), out, atol=1e-5)
    x_pad = torch.cat([x, torch.randn(3, 4, 274)], 1)
    mask = torch.cat([torch.ones(3, 12, dtype=torch.bool), torch.zeros(3, 4, dtype=torch.bool)], 1)
    assert torch.allclose(model(x_pad, t, dict(cond, frame_mask=mask))[:, :12], out, atol=1e-5)
    with pytest.raises(ValueError, match="exceed"):
        model(torch.zeros(1, 500, 274), torch.zeros(1), {"text": torch.zeros(1, 2, 16),
                                                      "text_mask": torch.ones(1, 2, dtype=torch.bool)})


def test_dropped_rows_ignore_their_text():
    model = tiny().eval()
    x, t, cond = batch()
    drop = torch.tensor([True, False, True])
    a = model(x, t, dict(cond, drop=drop))
    b = model(x, t, dict(cond, text=torch.randn(3, 5, 16), drop=drop))
    assert torch.allclose(a[drop], b[drop], atol=1e-5) and not torch.allclose(a[~drop], b[~drop])
    rate = model.training_drop(100_000, torch.Generator().manual_seed(0)).float().mean().item()
    assert abs(rate - 0.05) < 0.005


def test_tiny_model_learns_to_denoise_and_samples_with_guidance():
    torch.manual_seed(0)
    model = tiny()
    sched = CosineSchedule.create(100)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    x0 = torch.sin(torch.linspace(0, 6, 12))[None, :, None].expand(4, 12, 274) * 0.5
    cond = {"text": torch.ones(4, 3, 16), "text_mask": torch.ones(4, 3, dtype=torch.bool)}
    losses = []
    for step in range(150):
        t = torch.randint(0, 100, (4,))
        xt = sched.add_noise(x0, t, torch.randn_like(x0))
        loss = ((model(xt, t, dict(cond, drop=model.training_drop(4))) - x0) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.3 * sum(losses[:10]) / 10
    model.eval()
    out = sample(model, (2, 12, 274), sched, {"text": torch.ones(2, 3, 16),
                                              "text_mask": torch.ones(2, 3, dtype=torch.bool)},
                 guidance=2.0, steps=20, generator=torch.Generator().manual_seed(3))
    assert out.shape == (2, 12, 274) and ((out - x0[:2]) ** 2).mean() < 0.1


def test_frame_step_counts_and_the_upsampler():
    from backend.models.handmdm import upsample

    cfg = tiny(max_frames=51, frame_step=2).cfg
    assert cfg.longest == 101 and cfg.model_frames(100) == 51 and cfg.model_frames(99) == 50
    with pytest.raises(ValueError, match="frame_step"):
        tiny(frame_step=0)
    x = torch.randn(2, 9, 3)
    assert torch.equal(upsample(x, 1, 9), x)
    y = upsample(x, 2, 17)
    assert y.shape == (2, 17, 3) and torch.allclose(y[:, ::2], x)   # through every model frame
    ramp = torch.arange(6.0).reshape(1, 6, 1)                        # a straight line stays straight
    assert torch.allclose(upsample(ramp, 3, 14)[0, 3:13, 0], torch.arange(3, 13) / 3.0)
    # velocity is continuous: no kink at the model frames (linear interpolation has one at each)
    t = torch.linspace(0, 3, 13)
    wave = torch.sin(t).reshape(1, -1, 1)
    fine = upsample(wave, 4, 49)[0, :, 0]
    accel = fine[2:] - 2 * fine[1:-1] + fine[:-2]
    assert accel.abs().max() < 0.01
