"""HandMDM's inference attention (``handmdm.encode``, issue 21) against torch's encoder layers.

The shipped run's weights, so the sums are the real model's: a batch of equal lengths (no
mask), guidance's conditional and dropped rows in one batch (boolean mask), and rows of
different text and motion lengths, each within 1e-5 of the path training runs."""
from __future__ import annotations

import torch

from backend.diffusion import CosineSchedule, sample
from backend.runs import SHIPPED, load_run


def _model():
    net = load_run(SHIPPED["handmdm"], kinds=("handmdm",)).model.eval()
    assert net.fast_attention
    return net


def _both(net, x, t, cond):
    with torch.inference_mode():
        fast = net(x, t, cond)
        net.fast_attention = False
        try:
            slow = net(x, t, cond)
        finally:
            net.fast_attention = True
    return fast, slow


def _inputs(b, frames, words, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, frames, 274, generator=g), torch.randint(0, 100, (b,), generator=g),
            {"text": torch.randn(b, words, 384, generator=g), "text_mask": torch.ones(b, words, dtype=torch.bool)})


def test_fast_attention_matches_torch_layers():
    net = _model()
    x, t, cond = _inputs(4, 26, 12)
    fast, slow = _both(net, x, t, cond)   # every row the same length: no mask at all
    assert (fast - slow).abs().max() < 1e-5
    drop = torch.tensor([False, False, True, True])   # guidance's batch: two rows see only the null token
    fast, slow = _both(net, x, t, dict(cond, drop=drop))
    assert (fast - slow).abs().max() < 1e-5
    assert not torch.allclose(fast[0], fast[2], atol=1e-3)   # the dropped rows really differ
    text_mask = cond["text_mask"].clone()
    text_mask[1, 7:] = False
    text_mask[3, 3:] = False
    frame_mask = torch.ones(4, 26, dtype=torch.bool)
    frame_mask[0, 20:] = False
    frame_mask[2, 9:] = False
    fast, slow = _both(net, x, t, dict(cond, text_mask=text_mask, frame_mask=frame_mask, drop=drop))
    assert (fast - slow)[frame_mask].abs().max() < 1e-5
    # a shorter row padded out gives its frames the same x0 as the row alone
    alone = _both(net, x[2:3, :9], t[2:3], {"text": cond["text"][2:3], "text_mask": text_mask[2:3],
                                             "drop": drop[2:3]})[0]
    assert (alone - fast[2:3, :9]).abs().max() < 1e-5


def test_bucketed_rows_match_torch_layers():
    """Eight rows, four conditional and four dropped: each mask's rows run apart (BUCKET_ROWS)."""
    from backend.models.handmdm import BUCKET_ROWS

    net = _model()
    x, t, cond = _inputs(8, 30, 9, seed=3)
    drop = torch.arange(8) >= 4
    assert BUCKET_ROWS <= 4
    fast, slow = _both(net, x, t, dict(cond, drop=drop))
    assert (fast - slow).abs().max() < 1e-5
    text_mask = cond["text_mask"].clone()
    text_mask[:4, 6:] = False   # a shorter prompt: its padding is cut too
    fast, slow = _both(net, x, t, dict(cond, text_mask=text_mask, drop=drop))
    assert (fast - slow).abs().max() < 1e-5


def test_guided_sample_matches_torch_layers():
    net = _model()
    g = torch.Generator().manual_seed(1)
    cond = {"text": torch.randn(2, 10, 384, generator=g), "text_mask": torch.ones(2, 10, dtype=torch.bool)}

    def draw():
        return sample(net, (2, 26, 274), CosineSchedule.create(100), cond, guidance=2.5, steps=10,
                      generator=torch.Generator().manual_seed(0), precision="float32")
    fast = draw()
    net.fast_attention = False
    try:
        slow = draw()
    finally:
        net.fast_attention = True
    assert (fast - slow).abs().max() < 1e-4


def _pair_and_torch(net, x, t, cond):
    """``GuidedPair`` (one run's shared work done once) and torch's layers, each half."""
    from backend.models.handmdm import GuidedPair

    with torch.inference_mode():
        pair = net.guidance_pair(cond)
        assert isinstance(pair, GuidedPair)
        got = pair(x, t)
        net.fast_attention = False
        try:
            assert net.guidance_pair(cond) is None   # torch's layers: the plain doubled batch
            want = (net(x, t, cond), net(x, t, dict(cond, drop=torch.ones(len(x), dtype=torch.bool))))
        finally:
            net.fast_attention = True
    return got, want


def test_guided_pair_matches_torch_layers():
    """Guidance's two halves with their shared work done once (issue 21), against torch's layers:
    one and four variants of one prompt, and three rows of two prompt lengths."""
    net = _model()
    for rows, frames, seed in ((1, 26, 4), (4, 26, 5), (3, 51, 6)):
        x, t, cond = _inputs(rows, frames, 19, seed=seed)
        if rows == 3:
            cond["text_mask"][1, 8:] = False
            cond["text_mask"][2, 15:] = False
        (c, u), (c_ref, u_ref) = _pair_and_torch(net, x, t, cond)
        assert (c - c_ref).abs().max() < 1e-5 and (u - u_ref).abs().max() < 1e-5
        assert (c - u).abs().max() > 1e-3   # the halves really differ
    x, t, cond = _inputs(2, 26, 12, seed=7)
    x2, t2, _ = _inputs(2, 26, 12, seed=9)
    with torch.inference_mode():
        pair = net.guidance_pair(cond)
        pair(x, t)
        c, u = pair(x2, t2)   # the same run's next step keeps nothing of the last step
        c_new, u_new = net.guidance_pair(cond)(x2, t2)
        assert torch.equal(c, c_new) and torch.equal(u, u_new)


def test_forward_computes_only_the_frames_it_returns():
    """``forward``'s last layer runs the frames alone (the prefix tokens give it keys and values),
    bucketed or not, and one mask shared by all rows runs unmasked on its kept positions."""
    net = _model()
    x, t, cond = _inputs(3, 26, 12, seed=8)
    for drop in (None, torch.ones(3, dtype=torch.bool), torch.tensor([False, True, True])):
        c = cond if drop is None else dict(cond, drop=drop)
        fast, slow = _both(net, x, t, c)
        assert (fast - slow).abs().max() < 1e-5
