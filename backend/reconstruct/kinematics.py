"""The fit's differentiable pieces in numpy (float64), each a forward with its hand-written
backward: Rodrigues rotations, the hand's and the upper body's kinematic chains, points
riding on a joint, and the robust and smoothness terms.

Why not torch's autograd: the fit's tensors are small (a clip's frames by 13 joints), so
its cost was the per-operation overhead of autograd (about 800 small operations a step at
5-8 microseconds each), not arithmetic; reconstruction cost 1.4x MediaPipe alone (issue 21,
bar 1.15x). Written out, a step is a few hundred plain numpy calls.

Layout: components first. A vector field is (3, ...), a rotation field (3, 3, ...), and the
trailing axes (joints, frames) are contiguous, so every elementwise operation and every sum
over components runs one long inner loop. With the components last, (..., 3, 3), each
operation's inner loop is three elements long and costs 5-10x more (an outer product of two
(58, 13, 3) fields: 30 microseconds against 5).

Every backward here is checked against central differences (tests/test_reconstruct_grad.py).
Conventions: ``*_grad`` functions take the forward's inputs (or its cache) and the loss's
gradient with respect to the forward's output, and return the gradients of the inputs.
"""
from __future__ import annotations

import numpy as np

_SMALL = 1e-4     # below this angle (radians) the Rodrigues coefficients use their series


def mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Products of rotation fields (3, 3, ...) a b."""
    return np.einsum("ab...,bc...->ac...", a, b)


def mtm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a^T b for rotation fields (3, 3, ...)."""
    return np.einsum("ba...,bc...->ac...", a, b)


def mmt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a b^T for rotation fields (3, 3, ...)."""
    return np.einsum("ab...,cb...->ac...", a, b)


def mv(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """a v for a rotation field (3, 3, ...) and a vector field (3, ...)."""
    return np.einsum("ab...,b...->a...", a, v)


def outer(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """u v^T for vector fields (3, ...) -> (3, 3, ...)."""
    return u[:, None] * v[None]


def _coefficients(theta2: np.ndarray):
    """sin t / t, (1 - cos t) / t^2 and their derivatives over t, (a'(t) / t, b'(t) / t),
    for t^2 = ``theta2``; their Taylor series near 0."""
    small = theta2 < _SMALL ** 2
    t2 = np.where(small, 1.0, theta2)
    t = np.sqrt(t2)
    s, c = np.sin(t), np.cos(t)
    a, b = s / t, (1 - c) / t2
    da, db = (t * c - s) / (t2 * t), (t * s - 2 * (1 - c)) / (t2 * t2)
    if small.any():
        th = theta2[small]
        a[small], b[small] = 1 - th / 6, 0.5 - th / 24
        da[small], db[small] = -1 / 3 + th / 30, -1 / 12 + th / 180
    return a, b, da, db


def rodrigues(v: np.ndarray) -> tuple[np.ndarray, tuple]:
    """(3, ...) rotation vectors -> (3, 3, ...) matrices R = cos t I + a K + b v v^T (K the
    cross-product matrix of v, a = sin t / t, b = (1 - cos t) / t^2), and the cache for
    ``rodrigues_grad``."""
    x, y, z = v
    theta2 = x * x + y * y + z * z
    a, b, da, db = _coefficients(theta2)
    bx, by, bz = b * x, b * y, b * z
    bxy, bxz, byz = bx * y, bx * z, by * z
    ax, ay, az = a * x, a * y, a * z
    m = np.empty((3, 3) + x.shape)
    m[0, 0], m[0, 1], m[0, 2] = 1 - by * y - bz * z, bxy - az, bxz + ay
    m[1, 0], m[1, 1], m[1, 2] = bxy + az, 1 - bx * x - bz * z, byz - ax
    m[2, 0], m[2, 1], m[2, 2] = bxz - ay, byz + ax, 1 - bx * x - by * y
    return m, (v, theta2, a, b, da, db)


def rodrigues_grad(cache: tuple, g: np.ndarray) -> np.ndarray:
    """d loss / d v (3, ...) from d loss / d R (``g``, (3, 3, ...)). With K_i the
    cross-product matrix of the i-th axis, dR/dv_i = a'/t v_i K + a K_i + b'/t v_i K^2 +
    b (e_i v^T + v e_i^T - 2 v_i I), and <G, K_i> is the i-th component of w = vee(G - G^T)."""
    v, theta2, a, b, da, db = cache
    w = np.stack([g[2, 1] - g[1, 2], g[0, 2] - g[2, 0], g[1, 0] - g[0, 1]])
    tr = g[0, 0] + g[1, 1] + g[2, 2]
    sv = mv(g + g.swapaxes(0, 1), v)                   # (G + G^T) v
    scalar = da * (w * v).sum(0) + db * (0.5 * (sv * v).sum(0) - theta2 * tr) - 2 * b * tr
    return scalar * v + a * w + b * sv


def moved(origin: np.ndarray, frame: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Points ``local`` ((3, P), or (3, P, T) per frame) of a joint at ``origin`` (3, T)
    turned by its ``frame`` (3, 3, T) -> (3, P, T)."""
    turned = np.einsum("abt,bp->apt", frame, local) if local.ndim == 2 else np.einsum("abt,bpt->apt", frame, local)
    return origin[:, None] + turned


def moved_grad(frame: np.ndarray, local: np.ndarray, g: np.ndarray):
    """Gradients of ``moved`` for the points' gradient ``g`` (3, P, T): of the origin (3, T),
    the frame (3, 3, T) and the local points (their shape)."""
    if local.ndim == 2:
        return g.sum(1), np.einsum("apt,bp->abt", g, local), np.einsum("abt,apt->bp", frame, g)
    return g.sum(1), np.einsum("apt,bpt->abt", g, local), np.einsum("abt,apt->bpt", frame, g)


def hand_chain(rot: np.ndarray, knuckles: np.ndarray, bones: np.ndarray, tip_a: np.ndarray,
               tip_b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Hand FK in the wrist frame: local rotations (3, 3, 5, 3, T) [.., finger, joint, frame]
    in MediaPipe finger order, rest knuckles (3, 5) and bones (3, 5, 2) relative to the
    wrist, fingertip skinning weights (5, 16) and offsets (3, 5, 16) over the wrist and the
    15 finger joints -> (3, 21, T) points (MediaPipe order) and the cache for
    ``hand_chain_grad``."""
    t = rot.shape[-1]
    g1 = rot[:, :, :, 0]
    g2 = mm(g1, rot[:, :, :, 1])
    g3 = mm(g2, rot[:, :, :, 2])
    p1 = np.broadcast_to(knuckles[..., None], (3, 5, t))
    p2 = p1 + mv(g1, bones[:, :, 0, None])
    p3 = p2 + mv(g2, bones[:, :, 1, None])
    # tip_s = sum_j a_sj pos_j + G_j b_sj (exact linear blend skinning of the fingertips);
    # the wrist is at the origin, unturned. The second sum is a (5, 45) by (45, T) product per
    # row of the G_j: their columns and joints raveled together, b's likewise
    pos15 = np.stack([p1, p2, p3], 2).reshape(3, 15, t)
    glob45 = np.stack([g1, g2, g3], 3).reshape(3, 45, t)
    tip_b45 = tip_b[:, :, 1:].transpose(0, 2, 1).reshape(45, 5)
    tips = tip_a[:, 1:] @ pos15 + tip_b[:, :, :1] + tip_b45.T @ glob45
    points = np.concatenate([np.zeros((3, 1, t)), np.stack([p1, p2, p3, tips], 2).reshape(3, 20, t)], 1)
    return points, (rot, g1, g2, bones, tip_a, tip_b45)


def hand_chain_grad(cache: tuple, g: np.ndarray) -> np.ndarray:
    """d loss / d rot (3, 3, 5, 3, T) from d loss / d points (3, 21, T)."""
    rot, g1, g2, bones, tip_a, tip_b45 = cache
    t = rot.shape[-1]
    gf = g[:, 1:].reshape(3, 5, 4, t)
    d_tips = gf[:, :, 3]
    d_pos = (tip_a[:, 1:].T @ d_tips).reshape(3, 5, 3, t)
    d_glob = (tip_b45 @ d_tips).reshape(3, 3, 5, 3, t)
    d_p3 = gf[:, :, 2] + d_pos[:, :, 2]
    d_p2 = gf[:, :, 1] + d_pos[:, :, 1] + d_p3
    d_g3 = d_glob[:, :, :, 2]
    d_g2 = d_glob[:, :, :, 1] + outer(d_p3, bones[:, :, 1, None]) + mmt(d_g3, rot[:, :, :, 2])
    d_g1 = d_glob[:, :, :, 0] + outer(d_p2, bones[:, :, 0, None]) + mmt(d_g2, rot[:, :, :, 1])
    return np.stack([d_g1, mtm(g1, d_g2), mtm(g2, d_g3)], 3)


def body_chain(rot: np.ndarray, offsets: np.ndarray, root: np.ndarray, levels: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Upper-body FK: local rotations (3, 3, J, T), each joint's rest offset from its parent
    (3, J) and the first joint's parent's position (3,) (it does not turn) -> global
    rotations (3, 3, J, T) and positions (3, J, T). ``levels``: (joints, parents) slices of
    the joints by depth, each level's parents in the level before (one parent broadcasts)."""
    glob, pos = np.empty_like(rot), np.empty(rot.shape[:1] + rot.shape[2:])
    (first, _), *rest = levels
    glob[:, :, first] = rot[:, :, first]
    pos[:, first] = (root[:, None] + offsets[:, first])[..., None]
    for js, ps in rest:
        gp = glob[:, :, ps]
        pos[:, js] = pos[:, ps] + mv(gp, offsets[:, js, None])
        glob[:, :, js] = mm(gp, rot[:, :, js])
    return glob, pos


def body_chain_grad(glob: np.ndarray, pos: np.ndarray, parents: np.ndarray, subtree: np.ndarray,
                    d_glob: np.ndarray, d_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``body_chain`` from those of its outputs (global rotations G and
    positions p): of the local rotations (3, 3, J, T), the offsets (3, J) and the root (3,).
    ``parents`` (J,) indexes each joint's parent (-1: the root) and ``subtree`` (J, J) is 1
    where the column's joint is the row's or below it.

    No walk back up the chain: a joint j's rotation moves everything below it rigidly, so
    the total derivative by G_j is [sum over its subtree d of (dG_d G_d^T + dp_d p_d^T) -
    (sum of dp_d) p_j^T] G_j, and that of its local rotation is G_parent^T times that. The
    subtree sums are one product with ``subtree``; an offset moves its joint's subtree, so
    its gradient is G_parent^T times the subtree's sum of dp."""
    moment = subtree @ (mmt(d_glob, glob) + outer(d_pos, pos))                # (3, 3, J, T)
    push = subtree @ d_pos                                                    # (3, J, T)
    d_g = mm(moment - outer(push, pos), glob)
    g_parent = np.take(np.concatenate([np.broadcast_to(np.eye(3)[:, :, None, None], glob.shape[:2] + (1,) + glob.shape[3:]),
                                       glob], 2), parents + 1, axis=2)
    return mtm(g_parent, d_g), np.einsum("abjt,ajt->bj", g_parent, push), push[:, parents < 0].sum((1, 2))


def chain_levels(parents: np.ndarray) -> tuple:
    """``body_chain``'s levels from each joint's parent (-1: a root; joints ordered by depth):
    (joints, parents) slices, each level's joints contiguous and their parents either one
    joint (broadcast) or a run in the same order. ValueError for a tree not laid out so."""
    depth: list[int] = []
    for p in parents:
        depth.append(0 if p < 0 else depth[p] + 1)
    levels, start = [], 0
    for d in range(max(depth) + 1):
        n = depth.count(d)
        js = slice(start, start + n)
        if depth[js] != [d] * n:
            raise ValueError(f"joints of depth {d} are not contiguous: order the joints by depth")
        ps = [int(p) for p in parents[js]]
        if d == 0:
            levels.append((js, js))
        elif len(set(ps)) == 1:
            levels.append((js, slice(ps[0], ps[0] + 1)))
        elif ps == list(range(ps[0], ps[0] + n)):
            levels.append((js, slice(ps[0], ps[0] + n)))
        else:
            raise ValueError(f"the parents of the joints of depth {d} ({ps}) are neither one joint nor a run")
        start += n
    return tuple(levels)


def subtree_matrix(parents: np.ndarray) -> np.ndarray:
    """(J, J) 1 where joint k is joint j or below it (``parents``: each joint's parent's
    index, -1 for a root; parents come before their children)."""
    n = len(parents)
    below = np.eye(n)
    for k in range(n - 1, -1, -1):
        if parents[k] >= 0:
            below[parents[k]] += below[k]
    return below


def gmof(sq: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Geman-McClure of squared residuals (robust to a wrong landmark) and its derivative."""
    s2 = sigma ** 2
    den = sq + s2
    return s2 * sq / den, (s2 / den) ** 2


def smooth_loss(x: np.ndarray) -> tuple[float, np.ndarray]:
    """4 mean(second differences^2) + mean(first differences^2) over time (the last axis)
    of ``x`` (..., T), and its gradient."""
    if x.shape[-1] < 3:
        return 0.0, np.zeros_like(x)
    d1 = x[..., 1:] - x[..., :-1]
    d2 = d1[..., 1:] - d1[..., :-1]
    f1, f2 = d1.ravel(), d2.ravel()
    g2 = 8.0 / d2.size * d2
    g1 = 2.0 / d1.size * d1
    g1[..., 1:] += g2
    g1[..., :-1] -= g2
    g = np.zeros_like(x)
    g[..., 1:] += g1
    g[..., :-1] -= g1
    return 4.0 * float(f2 @ f2) / f2.size + float(f1 @ f1) / f1.size, g
