"""Keeping the hands out of the head and torso: after a sign's arms are solved, the frames
where a fingertip, the palm, the back of the hand or the wrist sinks behind the skin are
turned about the contact point (``Arm.clear``) over a few rounds, and each round's change
is spread over the neighbouring frames. numpy; never bpy.
"""
from __future__ import annotations

import numpy as np

from ...body import rotations as R
from .arm import CLEAR_MARGIN
from .batch import Clear
from .maths import mv
from .signer_body import SignerBody

CLEAR_LIMIT = 0.008         # deeper than this somewhere in a sign: the arm turns the hand out


def clear(figure: SignerBody, arms: dict, paths: dict, solved: list, fingers: dict, rounds: int = 3):
    """Keep the hands out of the head and torso over the solved frames: where a fingertip,
    the palm, the back of the hand or the wrist sinks more than CLEAR_LIMIT behind the
    skin, the arm turns the hand about its contact point (``Arm.clear``, against the skin
    plane under each point). The skin curves, so the planes are measured again for each
    of a few rounds. Each round's change is spread over neighbouring frames so that the
    motion stays smooth.

    ``arms``, ``paths``: each side's ``Arm`` and ``HandPath``; ``solved``: their solves
    (local shoulder, elbow, wrist, contact point reached), in ``paths``' order; ``fingers``:
    the finger poses (k, 15, 3) of the hands that move. A generator: the solves are
    requests (see ``batch``). Returns ``solved`` with the turned arms."""
    out = list(solved)
    live = {i: side for i, side in enumerate(paths) if side in fingers}
    start = {}
    for _ in range(rounds):
        asks, which = [], []
        for i, side in live.items():
            sh, el, wr, reached = out[i]
            pts, rot, offsets, _ = paths[side]
            arm, local = arms[side], figure.hand_points(side, fingers[side])
            g_wr = arm.g_collar @ sh @ el @ wr
            world = (reached - mv(g_wr, offsets))[:, None] + np.einsum("tij,tpj->tpi", g_wr, local)
            depth, v, n = figure.depths(world)
            if depth.max() <= CLEAR_LIMIT:
                continue
            n = np.where((depth > -1.0)[..., None], n, 0.0)       # far from the skin: no plane
            # the frames that sink, and their neighbours (the change spreads over them)
            rows = np.flatnonzero(np.convolve(depth.max(1) > CLEAR_MARGIN, np.ones(5), "same") > 0)
            asks.append(Clear(arm, pts[rows], rot[rows], offsets[rows], local[rows], sh[rows], el[rows],
                              wr[rows], v[rows], n[rows]))
            which.append((i, side, rows, sh, el, wr))
        if not asks:
            break
        answers = yield asks
        for (i, side, rows, sh, el, wr), (_, x_new) in zip(which, answers):
            x_now = arms[side].params(sh, el, wr)
            x0 = start.setdefault(i, x_now)
            x = x_now.copy()
            x[rows] = x_new
            x = x0 + spread_in_time(x - x0)
            l_sh, l_el, l_wr, _, point = arms[side].chain(x, paths[side].offsets)
            out[i] = (l_sh, l_el, l_wr, point)
        live = {w[0]: w[1] for w in which}
    return out


def spread_in_time(delta: np.ndarray, reach: int = 2, sigma: float = 1.5) -> np.ndarray:
    """Per-frame changes (T, D) spread in time: each frame takes the largest change within
    ``reach`` frames, then a Gaussian (``sigma`` frames) smooths the steps between them."""
    t = len(delta)
    size = R.np_norm(delta, axis=1)
    idx = np.arange(t)
    win = np.clip(idx[:, None] + np.arange(-reach, reach + 1)[None], 0, t - 1)
    held = delta[win[idx, np.argmax(size[win], 1)]]
    k = np.arange(-3 * int(np.ceil(sigma)), 3 * int(np.ceil(sigma)) + 1)
    w = np.exp(-0.5 * (k / sigma) ** 2)
    w /= w.sum()
    padded = np.pad(held, ((len(k) // 2, len(k) // 2), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, d], w, mode="valid") for d in range(delta.shape[1])], 1)
