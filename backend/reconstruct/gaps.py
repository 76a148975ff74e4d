"""Runs of frames where a hand is missing, and filling them: short gaps between two found
frames slerped, long ones held (``fill_gaps``). numpy only: the reconstruct package reads
these without loading the fitter (its body model loads torch)."""
from __future__ import annotations

import numpy as np

from ..body import rotations as R

MAX_GAP = 10     # the longest gap (frames) interpolated between two found frames; longer ones are held


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs of True in ``mask``."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.diff(m.astype(int))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def fill_gaps(block: np.ndarray, found: np.ndarray, max_gap: int = MAX_GAP, interpolate: bool = True,
              ramp_deg: float = 30.0):
    """Rotations (T, K, 3) known where ``found``: gaps of up to ``max_gap`` frames between
    two found frames are slerped (or, with ``interpolate=False``, keep the values already
    there, such as a smooth fit's); longer gaps (and the ends) hold the nearest earlier
    found pose (the first found one before it starts). A held gap that ends in a found frame
    turns to it over its last frames, at most ``ramp_deg`` degrees a frame (a hand found
    again after a long loss must not snap round). Returns (filled, state) with state 2
    found, 1 interpolated, 0 held/absent."""
    out = np.asarray(block, np.float64).copy()
    T = len(out)
    state = np.where(found, 2, 0).astype(np.int8)
    if not found.any():
        out[:] = 0.0
        return out, state
    q = R.np_axis_angle_to_quaternion(out)
    for a, b in runs(~found):
        if a > 0 and b < T and b - a <= max_gap:
            state[a:b] = 1
            if not interpolate:
                continue
            w = ((np.arange(a, b) - (a - 1)) / (b - (a - 1)))[:, None, None]
            qq = R.np_quaternion_slerp(np.broadcast_to(q[a - 1], (b - a,) + q.shape[1:]),
                                       np.broadcast_to(q[b], (b - a,) + q.shape[1:]), w)
            out[a:b] = R.np_quaternion_to_axis_angle(qq)
        else:
            out[a:b] = out[a - 1] if a > 0 else out[b]
            if a > 0 and b < T:
                held, then = q[a - 1], q[b]
                dot = np.abs((held * then).sum(-1)).clip(0.0, 1.0)
                angle = np.degrees(2 * np.arccos(dot)).max()
                k = min(b - a, int(np.ceil(angle / ramp_deg)) - 1)
                if k > 0:
                    w = (np.arange(1, k + 1) / (k + 1))[:, None, None]
                    qq = R.np_quaternion_slerp(np.broadcast_to(held, (k,) + held.shape),
                                               np.broadcast_to(then, (k,) + then.shape), w)
                    out[b - k:b] = R.np_quaternion_to_axis_angle(qq)
    return out, state
