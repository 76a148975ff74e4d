"""The format HandMDM's layers sample in (``backend.precision``, issue 21): float32 where
bfloat16 would be emulated, bfloat16 under autocast where the hardware does it, the sampler's
own sums float32 either way, and samples that stay close to float32's."""
from __future__ import annotations

import pytest
import torch

from backend import precision
from backend.diffusion import CosineSchedule, sample
from backend.runs import SHIPPED, load_run


def test_the_choice_follows_the_setting_and_the_hardware(monkeypatch):
    assert precision.autocast_dtype("cpu", "float32") is None
    assert precision.autocast_dtype("cpu", "bfloat16") is torch.bfloat16
    assert precision.autocast_dtype("mps", "auto") is None   # Apple's GPU: always float32
    native = precision.native_bfloat16("cpu")
    assert precision.autocast_dtype("cpu", "auto") is (torch.bfloat16 if native else None)
    monkeypatch.setenv(precision.ENV, "float32")
    assert precision.autocast_dtype("cpu") is None
    monkeypatch.setenv(precision.ENV, "BFloat16 ")
    assert precision.autocast_dtype("cpu") is torch.bfloat16
    with pytest.raises(ValueError, match="precision 'half'"):
        precision.autocast_dtype("cpu", "half")


def test_an_unknown_setting_is_one_warning_line_and_auto(monkeypatch, capsys):
    monkeypatch.setenv(precision.ENV, "fp8")
    assert precision.requested() == "auto"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SIGNFORGE_PRECISION='fp8'" in err


def _draw(net, cond, mode, frames=26, steps=10):
    with torch.inference_mode():
        return sample(net, (2, frames, 274), CosineSchedule.create(100), cond, guidance=2.5, steps=steps,
                      generator=torch.Generator().manual_seed(0), precision=mode)


def test_bfloat16_layers_sample_close_to_float32_and_return_float32():
    net = load_run(SHIPPED["handmdm"], kinds=("handmdm",)).model.eval()
    g = torch.Generator().manual_seed(1)
    cond = {"text": torch.randn(2, 10, 384, generator=g), "text_mask": torch.ones(2, 10, dtype=torch.bool)}
    full, half = _draw(net, cond, "float32"), _draw(net, cond, "bfloat16")
    assert full.dtype == half.dtype == torch.float32
    gap = (full - half).abs()
    # bfloat16 keeps 8 bits of mantissa: the layers' sums differ by ~0.4%; over 10 guided steps
    # the samples (normalised features, mean magnitude ~0.4) stay within 1% on average
    assert 0 < float(gap.mean()) < 0.01 * float(full.abs().mean()) + 1e-3
    assert float(gap.max()) < 0.1


def test_the_denoiser_runs_under_autocast_only_when_asked():
    seen = []

    def denoiser(x, t, cond):
        seen.append((torch.is_autocast_enabled("cpu"), torch.nn.functional.linear(x, torch.ones(3, 3)).dtype))
        return torch.nn.functional.linear(x, torch.eye(3)) * 0

    cond = {"text": torch.zeros(1, 1, 1)}
    for mode, want in (("float32", (False, torch.float32)), ("bfloat16", (True, torch.bfloat16))):
        seen.clear()
        out = sample(denoiser, (1, 4, 3), CosineSchedule.create(10), cond, steps=3,
                     generator=torch.Generator().manual_seed(0), precision=mode)
        assert out.dtype == torch.float32 and seen and all(s == want for s in seen)
