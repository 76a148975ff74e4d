"""SignAvatar CVAE: curriculum, KL, masking, reconstruct and generate modes, learning."""
from __future__ import annotations

import pytest
import torch

from backend.models import SignAvatar, SignAvatarConfig, curriculum_ratio
from backend.models.signavatar import kl_divergence


def tiny():
    return SignAvatar(SignAvatarConfig.named("small", layers=1, width=32, heads=2, ff=64, latent=8, cond_dim=6,
                                             dropout=0.0))


def test_curriculum_rises_in_tenths_to_0_6():
    got = [curriculum_ratio(p) for p in (0.0, 0.05, 0.1, 0.25, 0.5, 0.6, 0.8, 1.0)]
    assert got == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.5, 0.6, 0.6, 0.6])
    with pytest.raises(ValueError):
        curriculum_ratio(1.5)


def test_kl_is_zero_for_the_prior():
    assert kl_divergence(torch.zeros(4, 8), torch.zeros(4, 8)).item() == 0.0
    assert kl_divergence(torch.ones(4, 8), torch.zeros(4, 8)).item() == pytest.approx(4.0)


def test_shapes_padding_and_modes():
    model = tiny().eval()
    x, c = torch.randn(3, 10, 274), torch.randn(3, 6)
    mu, logvar = model.encode(x, c)
    assert mu.shape == logvar.shape == (3, 8)
    pad = torch.cat([x, torch.randn(3, 4, 274)], 1)
    mask = torch.cat([torch.ones(3, 10, dtype=torch.bool), torch.zeros(3, 4, dtype=torch.bool)], 1)
    assert torch.allclose(model.encode(pad, c, mask)[0], mu, atol=1e-5)
    assert model.reconstruct(x, c).shape == x.shape
    g = model.generate(c, 12, torch.Generator().manual_seed(0))
    assert g.shape == (3, 12, 274)
    assert not torch.allclose(g, model.generate(c, 12, torch.Generator().manual_seed(1)))
    # masking hides frames from the encoder: the encoding changes
    masked = model.encode(x, c, mask_ratio=0.6, generator=torch.Generator().manual_seed(0))[0]
    assert not torch.allclose(masked, mu)


def test_tiny_model_learns_to_reconstruct_per_condition():
    torch.manual_seed(0)
    model = tiny()
    g = torch.Generator().manual_seed(1)
    protos = torch.randn(4, 1, 274, generator=g).expand(4, 8, 274)
    cond = torch.eye(4, 6)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for step in range(150):
        out = model.loss(protos, cond, mask_ratio=curriculum_ratio(step / 150), generator=g)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        first = first or out["recon"].item()
    model.eval()
    err = ((model.reconstruct(protos, cond) - protos) ** 2).mean().item()
    assert err < 0.3 * first
