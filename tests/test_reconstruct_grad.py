"""The fit's hand-written gradients (``reconstruct.kinematics``, and the hand and body
objectives built on them in ``reconstruct.fit``) against central differences of their own
losses: each piece at random inputs, then the two whole objectives at the points the real
fit reaches on a synthesized contact sign (so the skin term is in the body's)."""
from __future__ import annotations

import numpy as np
import pytest

from backend.data.lexicon import resolve_lexicon_path
from backend.reconstruct import kinematics as K

needs_lexicon = pytest.mark.skipif(not resolve_lexicon_path().exists(), reason="ASL-LEX 2.0 not found")


def central(f, x: np.ndarray, idx=None, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f() by the entries ``idx`` of x's flat view (all
    of them, shaped as x, by default), changing x in place and putting each entry back."""
    flat = x.reshape(-1)
    out = []
    for i in range(flat.size) if idx is None else idx:
        keep = flat[i]
        flat[i] = keep + eps
        up = f()
        flat[i] = keep - eps
        down = f()
        flat[i] = keep
        out.append((up - down) / (2 * eps))
    return np.array(out).reshape(x.shape) if idx is None else np.array(out)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_rodrigues_matches_the_rotation_module_and_its_gradient_the_differences(rng):
    from backend.body import rotations as R

    v = rng.normal(size=(3, 7))
    v[:, 0], v[:, 1], v[:, 2] = 0.0, 1e-5, 3 * v[:, 2]          # at zero, inside the series, past pi
    m, cache = K.rodrigues(v)
    assert np.abs(m - R.np_axis_angle_to_matrix(v.T).transpose(1, 2, 0)).max() < 1e-12
    g = rng.normal(size=(3, 3, 7))
    assert np.abs(K.rodrigues_grad(cache, g) - central(lambda: float((K.rodrigues(v)[0] * g).sum()), v)).max() < 1e-7


def test_hand_chain_gradient(rng):
    rest = dict(knuckles=rng.normal(size=(3, 5)), bones=rng.normal(size=(3, 5, 2)), tip_a=rng.random((5, 16)),
                tip_b=rng.normal(size=(3, 5, 16)))
    aa, g = 0.5 * rng.normal(size=(3, 5, 3, 4)), rng.normal(size=(3, 21, 4))

    def loss():
        return float((K.hand_chain(K.rodrigues(aa)[0], **rest)[0] * g).sum())

    rot, rot_cache = K.rodrigues(aa)
    _, cache = K.hand_chain(rot, **rest)
    assert np.abs(K.rodrigues_grad(rot_cache, K.hand_chain_grad(cache, g)) - central(loss, aa)).max() < 1e-6


def test_body_chain_gradient_by_rotations_offsets_and_root(rng):
    """The upper body's tree (one joint with three children, two chains of two below): the
    subtree-sum backward against differences."""
    parents = np.array([-1, 0, 1, 2, 2, 2, 3, 4, 5, 7, 8, 9, 10])
    sizes, starts = (1, 1, 1, 3, 3, 2, 2), (0, 1, 2, 3, 6, 9, 11)
    parent_slices = (None, (0, 1), (1, 2), (2, 3), (3, 6), (7, 9), (9, 11))
    levels = tuple((slice(a, a + n), slice(a, a + n) if p is None else slice(*p))
                   for a, n, p in zip(starts, sizes, parent_slices))
    assert K.chain_levels(parents) == levels
    aa, off, root = 0.5 * rng.normal(size=(3, 13, 3)), rng.normal(size=(3, 13)), rng.normal(size=3)
    dg, dp = rng.normal(size=(3, 3, 13, 3)), rng.normal(size=(3, 13, 3))

    def loss():
        glob, pos = K.body_chain(K.rodrigues(aa)[0], off, root, levels)
        return float((glob * dg).sum() + (pos * dp).sum())

    rot, rot_cache = K.rodrigues(aa)
    glob, pos = K.body_chain(rot, off, root, levels)
    d_rot, d_off, d_root = K.body_chain_grad(glob, pos, parents, K.subtree_matrix(parents), dg.copy(), dp.copy())
    assert np.abs(K.rodrigues_grad(rot_cache, d_rot) - central(loss, aa)).max() < 1e-6
    assert np.abs(d_off - central(loss, off)).max() < 1e-6
    assert np.abs(d_root - central(loss, root)).max() < 1e-6


@pytest.mark.parametrize("per_frame", [False, True])
def test_moved_points_gradient(rng, per_frame):
    origin, frame = rng.normal(size=(3, 4)), rng.normal(size=(3, 3, 4))
    local = rng.normal(size=(3, 5, 4) if per_frame else (3, 5))
    g = rng.normal(size=(3, 5, 4))

    def loss():
        return float((K.moved(origin, frame, local) * g).sum())

    d_origin, d_frame, d_local = K.moved_grad(frame, local, g)
    for got, x in ((d_origin, origin), (d_frame, frame), (d_local, local)):
        assert np.abs(got - central(loss, x)).max() < 1e-6


def test_smoothness_gradient(rng):
    x = rng.normal(size=(4, 9))
    _, g = K.smooth_loss(x)
    assert np.abs(g - central(lambda: K.smooth_loss(x)[0], x)).max() < 1e-6


@needs_lexicon
def test_the_fits_objectives_gradients_at_the_points_the_fit_reaches(monkeypatch):
    """The real fit of a synthesized sign that touches (6 cm depth errors: the contact term
    engages): every objective it minimized, near the point it stopped, against differences
    on 69 entries and, for the body, all of the betas and the camera's scale."""
    from backend.body.model import Body
    from backend.data.lexicon import read_lexicon
    from backend.reconstruct import fit as F
    from backend.reconstruct.synthetic import is_contact_sign, signs_with_truth

    body = Body.load()
    (_, _, _, lm, _), = signs_with_truth(body, read_lexicon(), 1, seed=3, depth_noise=0.06, keep=is_contact_sign)
    seen, contacts = [], []

    def spy(minimize):
        def run(loss_grad, x, *args, **kwargs):
            out = minimize(loss_grad, x, *args, **kwargs)
            seen.append((minimize.__name__, loss_grad, out))
            return out
        return run

    real_contacts = F.Fitter._contacts

    def record_contacts(self, *args):
        contacts.append(real_contacts(self, *args))
        return contacts[-1]

    monkeypatch.setattr(F, "adam", spy(F.adam))
    monkeypatch.setattr(F, "lbfgs", spy(F.lbfgs))
    monkeypatch.setattr(F.Fitter, "_contacts", record_contacts)
    F.Fitter(body).fit(lm)
    assert [name for name, _, _ in seen].count("adam") == 2 and "lbfgs" in [name for name, _, _ in seen]
    assert contacts and any(len(entry[0]) for entry in contacts[0].values()), "the skin term did not engage"
    # the skin term holds the skin still (the hand goes to the face; the head and spine do not
    # bend to meet it): its gradient treats the posed skin as fixed, so the differences do too,
    # with the skin posed once, at the point the gradient is taken
    real_skin, posed = F.Fitter._skin_at, {}

    def held_skin(self, out, betas, frames=None, samples=None):
        key = (None if frames is None else frames.tobytes(), None if samples is None else samples.tobytes())
        if key not in posed:
            posed[key] = real_skin(self, out, betas, frames, samples)
        return posed[key]

    monkeypatch.setattr(F.Fitter, "_skin_at", held_skin)
    rng = np.random.default_rng(1)
    for name, loss_grad, x in seen:
        x = x + 1e-3 * rng.normal(size=x.shape)                  # off the optimum: gradients of size
        posed.clear()
        _, g = loss_grad(x)
        idx = rng.choice(len(x), 69, replace=False)
        if name == "adam":       # the betas and the camera's scale sit before the 2 T image offsets
            idx = np.r_[idx, len(x) - 2 * lm.num_frames - 11 + np.arange(11)]
        want = central(lambda: loss_grad(x)[0], x, idx)
        assert np.abs(g[idx] - want).max() < 1e-5 * max(1.0, np.abs(want).max()), name
