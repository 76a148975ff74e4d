"""ST-GCN: the joint graph, masked pooling, and learning to tell signs apart."""
from __future__ import annotations

import numpy as np
import torch

from backend.body.skeleton import FEATURE_JOINTS, JOINT_INDEX
from backend.models import STGCN, STGCNConfig
from backend.models.stgcn import feature_graph


def test_graph_links_each_joint_to_its_nearest_kept_ancestor():
    a = feature_graph()
    assert a.shape == (44, 44) and np.allclose(a, a.T)
    idx = {j: i for i, j in enumerate(FEATURE_JOINTS)}
    spine1, wrist, index1 = idx[JOINT_INDEX["spine1"]], idx[JOINT_INDEX["right_wrist"]], idx[JOINT_INDEX["right_index1"]]
    assert a[wrist, index1] > 0 and a[spine1, wrist] == 0
    assert (a > 0).sum() == 44 + 2 * 43            # one tree over the 44 nodes, rooted at spine1


def test_masked_frames_do_not_count():
    model = STGCN(STGCNConfig.named("small", classes=5)).eval()
    x = torch.randn(2, 16, 274)
    mask = torch.ones(2, 16, dtype=torch.bool)
    mask[:, 12:] = False
    f = model.features(x, mask)
    assert f.shape == (2, 64) and model(x).shape == (2, 5)
    x2 = x.clone()
    x2[:, 12:] = 100.0   # whatever the padding holds, the kept frames' features are the same
    assert torch.allclose(model.features(x2, mask), f, atol=1e-5)
    alone = model.features(x[:1, :12])   # and they are the motion's own, unpadded features
    assert torch.allclose(f[:1], alone, atol=1e-5)


def test_learns_to_classify_three_signs():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    protos = torch.randn(3, 16, 274, generator=g)
    labels = torch.arange(3).repeat(8)
    x = protos[labels] + 0.3 * torch.randn(24, 16, 274, generator=g)
    model = STGCN(STGCNConfig.named("small", classes=3))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(40):
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    test = protos[labels] + 0.3 * torch.randn(24, 16, 274, generator=g)
    assert (model(test).argmax(1) == labels).float().mean() > 0.9


def test_a_feature_that_never_varied_in_training_is_not_amplified():
    model = STGCN(STGCNConfig.named("small", classes=3))
    x = torch.randn(4, 10, 274)
    x[..., 0] = 0.5                       # constant in every training frame: running variance 0
    model.norm.momentum = None            # running stats = this batch's exactly
    model(x)
    model.eval()
    frames = x[:1, :, :264].reshape(-1, 264)
    moved = frames.clone()
    moved[:, 0] += 0.1
    shift = (model.norm(moved) - model.norm(frames))[:, 0]
    gamma = model.norm.weight[0].item()
    # variance floor 1: the 0.1 move stays 0.1 (times the norm's scale), not 0.1 / sqrt(1e-5) = 32
    assert torch.allclose(shift, torch.full_like(shift, 0.1 * gamma), atol=1e-5)
