"""HandMDM's kinematic losses: torch FK from 274-D frames, the loss terms, the text cache and the length head."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.body.feature_fk import POINT_NAMES, FeatureFK, tip_offsets
from backend.body.features import pose_to_features
from backend.body.mannequin import rest_joints
from backend.body.rig import forward
from backend.body.skeleton import FEATURE_DIM, FEATURE_JOINTS, JOINT_INDEX


def _random_poses(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pose = np.zeros((n, 55, 3))
    pose[:, list(FEATURE_JOINTS)] = rng.normal(0, 0.7, (n, len(FEATURE_JOINTS), 3))
    return pose


@pytest.mark.parametrize("rest", ["mannequin", "shifted"])
def test_fk_matches_the_numpy_rig_on_random_poses(rest):
    joints = rest_joints()
    if rest == "shifted":   # another body: longer bones everywhere
        joints = joints * 1.1 + np.array([0.0, 0.05, 0.0])
    pose = _random_poses(32)
    glob, pos = forward(pose, joints)
    points = FeatureFK(joints)(torch.tensor(pose_to_features(pose), dtype=torch.float32)).numpy()
    assert points.shape == (32, len(POINT_NAMES), 3)
    wrists = pos[:, [JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]]]
    distal = [JOINT_INDEX[n.replace("_tip", "3")] for n in POINT_NAMES[2:]]
    tips = pos[:, distal] + np.einsum("tjab,jb->tja", glob[:, distal], tip_offsets())
    np.testing.assert_allclose(points[:, :2], wrists, atol=1e-4)
    np.testing.assert_allclose(points[:, 2:], tips, atol=1e-4)


def test_fk_at_rest_puts_the_tips_where_the_hand_table_does():
    from backend.body import anthropometry as A

    points = FeatureFK()(torch.tensor(pose_to_features(np.zeros((1, 55, 3))), dtype=torch.float32))[0].numpy()
    assert points[POINT_NAMES.index("left_index_tip")] == pytest.approx(A.left_finger_joints()["index"][3], abs=1e-5)
    assert points[POINT_NAMES.index("right_thumb_tip")] == pytest.approx(
        A.mirror(A.left_finger_joints()["thumb"][3]), abs=1e-5)


def _stats():
    pose = _random_poses(200, seed=1)
    feats = pose_to_features(pose)
    return feats.mean(0).astype(np.float32), (feats.std(0) + 0.05).astype(np.float32), feats


def test_losses_are_zero_on_the_target_and_masked():
    from training.losses import KinematicLoss

    mean, std, feats = _stats()
    loss = KinematicLoss(mean, std)
    x = torch.tensor((feats[:60].reshape(2, 30, FEATURE_DIM) - mean) / std, dtype=torch.float32)
    mask = torch.ones(2, 30, dtype=torch.bool)
    mask[1, 20:] = False
    for v in loss(x, x, mask).values():
        assert float(v) == 0.0
    noisy = x + 0.3 * torch.randn_like(x)
    base = loss(noisy, x, mask)
    assert all(float(v) > 0 for v in base.values())
    padded = noisy.clone()
    padded[1, 21:] += 5.0   # only frames the mask drops change
    for k, v in loss(padded, x, mask).items():
        assert float(v) == pytest.approx(float(base[k]), rel=1e-5), k


def test_loss_gradients_reach_the_prediction():
    from training.losses import KinematicLoss

    mean, std, feats = _stats()
    loss = KinematicLoss(mean, std)
    x = torch.tensor((feats[:40].reshape(2, 20, FEATURE_DIM) - mean) / std, dtype=torch.float32)
    pred = (x + 0.2 * torch.randn_like(x)).requires_grad_()
    mask = torch.ones(2, 20, dtype=torch.bool)
    for name, value in loss(pred, x, mask).items():
        grad, = torch.autograd.grad(value, pred, retain_graph=True)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, name
    # the positions see the rotations: a wrist-only error moves the pos term, not the expression dims
    grad, = torch.autograd.grad(loss(pred, x, mask)["pos"], pred)
    assert grad[..., 264:].abs().sum() == 0 and grad[..., :78].abs().sum() > 0


class _FakeEncoder:
    """A deterministic stand-in for MiniLM: one token per character, counted calls."""
    name, dim = "fake", 4

    def __init__(self):
        self.calls = 0

    def encode(self, texts):
        from backend.text import Encoded

        self.calls += 1
        n = max(len(t) for t in texts)
        tokens = torch.zeros(len(texts), n, 4)
        mask = torch.zeros(len(texts), n, dtype=torch.bool)
        for i, t in enumerate(texts):
            for k, ch in enumerate(t):
                tokens[i, k] = torch.tensor([ord(ch), k, len(t), 1.0]) / 128
                mask[i, k] = True
        return Encoded(tokens, mask, tokens.sum(1) / mask.sum(1, keepdim=True))


def test_text_cache_reads_back_what_the_encoder_gives_and_follows_the_texts(tmp_path):
    from training.text_cache import cache_dir, text_cache

    enc = _FakeEncoder()
    texts = ["a fist taps the chin", "hi", "the flat hand circles", "two hands move apart"] * 1
    table = text_cache(tmp_path, "phonology+hms", texts, "fake", lambda: enc)
    assert enc.calls == 1 and cache_dir(tmp_path, "fake", "phonology+hms").is_dir()
    ask = ["hi", "two hands move apart", "hi"]
    got, want = table.encode(ask), enc.encode(ask)
    assert torch.equal(got.mask, want.mask)
    torch.testing.assert_close(got.tokens, want.tokens, atol=2e-3, rtol=1e-3)   # float16 storage
    torch.testing.assert_close(got.pooled, want.pooled, atol=2e-3, rtol=1e-3)
    calls = enc.calls
    again = text_cache(tmp_path, "phonology+hms", texts, "fake", lambda: pytest.fail("re-encoded a fresh cache"))
    assert len(again) == 4 and enc.calls == calls
    changed = text_cache(tmp_path, "phonology+hms", texts + ["a new text"], "fake", lambda: enc)
    assert len(changed) == 5 and enc.calls == calls + 1   # other texts: encoded again
    with pytest.raises(KeyError):
        table.encode(["never seen"])


def test_length_head_picks_frames_within_limits_and_old_configs_have_none():
    from backend.models import HandMDM, HandMDMConfig

    old = HandMDM(HandMDMConfig.named("small", max_frames=76))
    assert old.length_mlp is None and old.auto_frames(torch.zeros(1, 3, 384), torch.ones(1, 3, dtype=torch.bool),
                                                      25) is None
    m = HandMDM(HandMDMConfig.named("small", max_frames=76, length_head=True))
    text, mask = torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool)
    with torch.no_grad():
        m.length_mlp[-1].bias.fill_(10.0)   # e^10 frames: clipped to the model's limit
        assert m.auto_frames(text, mask, 25) == 76
        m.length_mlp[-1].bias.fill_(-10.0)  # a fraction of a frame: raised to 1 s
        assert m.auto_frames(text, mask, 25) == 25
        m.length_mlp[-1].bias.fill_(float(np.log(50.0)))
        m.length_mlp[-1].weight.zero_()
        assert m.auto_frames(text, mask, 25) == 50


def test_cached_batches_pad_like_the_encoder(tmp_path):
    from training.text_cache import build_table

    enc = _FakeEncoder()
    table = build_table(tmp_path / "t", ["ab", "abcdef", "x"], enc)
    got = table.encode(["x", "abcdef"])
    assert got.tokens.shape == (2, 6, 4) and got.mask.sum(1).tolist() == [1, 6]
    assert (got.tokens[0, 1:] == 0).all()   # padding is zeros, as the encoder's is


def test_contact_term_counts_touching_pairs_only(monkeypatch):
    import training.losses as L

    mean, std, feats = _stats()
    loss = L.KinematicLoss(mean, std)
    x = torch.tensor((feats[:40].reshape(2, 20, FEATURE_DIM) - mean) / std, dtype=torch.float32)
    mask = torch.ones(2, 20, dtype=torch.bool)
    assert float(loss(x, x, mask, contact=True)["contact"]) == 0.0
    monkeypatch.setattr(L, "CONTACT", 10.0)   # every pair "touches": the term sees every distance
    pred = (x + 0.2 * torch.randn_like(x)).requires_grad_()
    value = loss(pred, x, mask, contact=True)["contact"]
    grad, = torch.autograd.grad(value, pred)
    assert float(value.detach()) > 0 and torch.isfinite(grad).all() and grad.abs().sum() > 0
    monkeypatch.setattr(L, "CONTACT", 0.0)    # nothing touches: no term
    assert float(loss(pred.detach(), x, mask, contact=True)["contact"]) == 0.0


def test_step_cost_times_a_real_training_step_and_counts_the_paper_size():
    from training.step_cost import SIZES, step_cost

    stats = (np.zeros(FEATURE_DIM, np.float32), np.ones(FEATURE_DIM, np.float32))
    seconds, params = step_cost(SIZES["small (4x128)"], stats, batch=2, frames=8, steps=1, kinematic=True)
    assert seconds > 0 and 0.7e6 < params < 0.8e6
    from backend.models import HandMDM, HandMDMConfig

    paper = sum(p.numel() for p in HandMDM(HandMDMConfig.named("small", **SIZES["paper (8x512)"])).parameters())
    assert paper == sum(p.numel() for p in HandMDM(HandMDMConfig.named("paper")).parameters())
