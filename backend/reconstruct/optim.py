"""The fit's optimizers on one flat numpy vector, for a ``loss_grad(x) -> (loss, gradient)``
written out by hand (``kinematics``): Adam and L-BFGS."""
from __future__ import annotations

from typing import Callable

import numpy as np

LossGrad = Callable[[np.ndarray], "tuple[float, np.ndarray]"]


def adam(loss_grad: LossGrad, x: np.ndarray, lr: np.ndarray, iters: int, after: Callable[[np.ndarray], None] | None = None,
         state: dict | None = None, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> np.ndarray:
    """``iters`` Adam steps (Kingma and Ba; torch.optim.Adam's update) from ``x`` with a
    learning rate per entry (``lr``, x's shape); ``after(x)`` runs after every step and may
    change x in place (such as clamping). The moments and step count live in ``state`` when
    given, so a second call goes on where the first stopped (a fresh Adam's first steps move
    every parameter by its full rate). Returns the new x (``x`` itself is left as it was)."""
    x = np.array(x, np.float64, copy=True)
    kept = state if state is not None else {}
    if "m" not in kept:
        kept.update(m=np.zeros_like(x), v=np.zeros_like(x), step=0)
    m, v = kept["m"], kept["v"]
    for step in range(kept["step"] + 1, kept["step"] + iters + 1):
        _, g = loss_grad(x)
        m += (1 - b1) * (g - m)
        v *= b2
        v += (1 - b2) * g * g
        x -= lr / (1 - b1 ** step) * m / (np.sqrt(v / (1 - b2 ** step)) + eps)
        if after is not None:
            after(x)
    kept["step"] += iters
    return x


def lbfgs(loss_grad: LossGrad, x: np.ndarray, iters: int, history: int = 20) -> np.ndarray:
    """L-BFGS from ``x``: the two-loop recursion over the last ``history`` steps and a
    backtracking (Armijo) line search; stops early when the gradient, the step or the
    loss's change vanishes. Returns the new x."""
    x = np.array(x, np.float64, copy=True)
    f, g = loss_grad(x)
    pairs: list = []
    for _ in range(iters):
        if np.abs(g).max() < 1e-7:
            break
        q, alphas = g.copy(), []
        for s_k, y_k, rho in reversed(pairs):
            a_k = rho * (s_k @ q)
            q -= a_k * y_k
            alphas.append(a_k)
        if pairs:
            s_k, y_k, _ = pairs[-1]
            q *= (s_k @ y_k) / (y_k @ y_k)
        for (s_k, y_k, rho), a_k in zip(pairs, reversed(alphas)):
            q += (a_k - rho * (y_k @ q)) * s_k
        d = -q
        slope = g @ d
        if slope > -1e-12:                        # not a descent direction: start afresh
            pairs, d, slope = [], -g, -(g @ g)
        t = 1.0 if pairs else min(1.0, 1.0 / max(np.abs(g).sum(), 1e-12))
        for _ in range(12):
            x_new = x + t * d
            f_new, g_new = loss_grad(x_new)
            if f_new <= f + 1e-4 * t * slope:
                break
            t *= 0.5
        else:
            break
        s_new, y_new = x_new - x, g_new - g
        sy = s_new @ y_new
        if sy > 1e-10:
            pairs = (pairs + [(s_new, y_new, 1.0 / sy)])[-history:]
        x = x_new
        if abs(f - f_new) < 1e-10 * max(1.0, abs(f)):
            break
        f, g = f_new, g_new
    return x
