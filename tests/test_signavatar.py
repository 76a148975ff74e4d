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


def test_old_configs_keep_the_single_memory_token_and_new_runs_get_the_condition_token():
    old = SignAvatarConfig(**{k: v for k, v in tiny().cfg.as_dict().items() if k not in ("cond_token", "z_drop")})
    assert old.cond_token is False and old.z_drop == 0.0      # runs saved before these fields
    new = SignAvatarConfig.named("small")
    assert new.cond_token is True and 0 < new.z_drop < 1
    # the flag adds no weights: an old run's state dict loads into either decoder
    a = SignAvatar(old)
    b = SignAvatar(SignAvatarConfig(**{**old.as_dict(), "cond_token": True}))
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    z, c = torch.randn(2, 8), torch.randn(2, 6)
    assert not torch.allclose(a.decode(z, c, 5), b.decode(z, c, 5))   # a second memory token: another output


def test_z_drop_makes_prior_draws_follow_the_condition():
    """Trained with the condition token and z dropout, z ~ N(0, I) decodes to the condition's motion."""
    torch.manual_seed(0)
    cfg = SignAvatarConfig.named("small", layers=1, width=32, heads=2, ff=64, latent=8, cond_dim=6, dropout=0.0,
                                 z_drop=0.5)
    model = SignAvatar(cfg)
    g = torch.Generator().manual_seed(1)
    protos = torch.randn(4, 1, 274, generator=g).expand(4, 8, 274)
    cond = torch.eye(4, 6)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(200):
        out = model.loss(protos, cond, generator=g)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    model.eval()
    gen = model.generate(cond, 8, torch.Generator().manual_seed(2))
    dist = ((gen[:, None] - protos[None]) ** 2).mean((-1, -2))      # (generated, prototype)
    assert (dist.argmin(1) == torch.arange(4)).all()                 # each draw is its condition's motion
    assert dist.diagonal().mean() < 0.3 * dist.mean()
