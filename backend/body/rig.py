"""A body's skeleton and its named sites for one set of betas, posed fast.

``Body.pose`` skins all ~10k vertices; the data factory and the motion cues only need the
joints and the ~50 body sites. Each site is a fixed blend of a few vertices, so its linear
blend skinning folds into per-joint weights: site = sum_j A[s, j] p_j + G_j B[s, j], with
A = R W and B[s, j] = sum_v R[s, v] W[v, j] (v_rest - J_j). Exact LBS for the sites;
pose-corrective blend shapes are left out (millimetres). numpy only; never bpy.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from . import rotations as R
from .skeleton import NUM_JOINTS, PARENTS
from .sites import SITE_INDEX


@dataclass
class Rig:
    rest_joints: np.ndarray    # (55, 3)
    site_weights: np.ndarray   # (S, 55): A
    site_offsets: np.ndarray   # (S, 55, 3): B
    betas: np.ndarray          # (10,)

    @classmethod
    def from_body(cls, body, betas=None) -> "Rig":
        cache = _cache(body)
        skin = _site_skin(body)
        b = np.zeros(skin["shapedirs"].shape[-1])
        if betas is not None:
            flat = np.asarray(betas, float).reshape(-1)[: len(b)]
            b[: len(flat)] = flat
        key = b.tobytes()
        if key in cache.rigs:
            return cache.rigs[key]
        rest = skin["j_template"] + skin["j_shapedirs"] @ b
        verts = skin["v_template"] + skin["shapedirs"] @ b
        reg, w = skin["reg"], skin["weights"]                           # (S, v), (v, 55)
        a = reg @ w                                                     # (S, 55)
        wv = (w[:, :, None] * verts[:, None, :]).reshape(len(verts), -1)  # (v, 55 * 3)
        b_off = (reg @ wv).reshape(len(reg), NUM_JOINTS, 3) - a[:, :, None] * rest[None]
        rig = cls(rest, a, b_off, b)
        if len(cache.rigs) >= MAX_RIGS:   # a long data build meets many signers: keep the latest ones
            del cache.rigs[next(iter(cache.rigs))]
        cache.rigs[key] = rig
        return rig

    def fk(self, poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(T, 55, 3) axis-angles (or (T, 55, 3, 3) matrices) -> global rotations and positions."""
        return forward(poses, self.rest_joints)

    def sites(self, glob: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """(T, S, 3) site positions for posed joints from ``fk`` (two matrix products)."""
        t = len(glob)
        rot = glob.transpose(0, 2, 1, 3).reshape(t, 3, NUM_JOINTS * 3)          # (T, a, j*b)
        turned = rot @ self.site_offsets.reshape(len(self.site_offsets), -1).T  # (T, a, S)
        return self.site_weights @ pos + turned.transpose(0, 2, 1)

    def vertices(self, body, pose: np.ndarray) -> np.ndarray:
        """(V, 3) mesh vertices for one (55, 3) pose, by linear blend skinning in numpy.

        Like the sites, pose-corrective blend shapes are left out (millimetres); this costs a
        few milliseconds where ``Body.pose`` (smplx, torch) costs a hundred.
        """
        mesh = _mesh(body)
        verts = mesh["v_template"] + mesh["shapedirs"] @ self.betas
        glob, pos = forward(np.asarray(pose, float)[None], self.rest_joints)
        # vertex = sum_j w_j (G_j (v - J_j) + p_j)
        trans = pos[0] - np.einsum("jab,jb->ja", glob[0], self.rest_joints)        # (55, 3)
        rot = mesh["weights"] @ glob[0].reshape(NUM_JOINTS, 9)                     # (V, 9)
        return np.einsum("vab,vb->va", rot.reshape(-1, 3, 3), verts) + mesh["weights"] @ trans

    def site(self, name: str) -> int:
        return SITE_INDEX[name]


def _levels() -> list[tuple[np.ndarray, np.ndarray]]:
    """Joints grouped by depth in the tree (pelvis excluded), with their parents."""
    depth = [0] * NUM_JOINTS
    for j in range(1, NUM_JOINTS):
        depth[j] = depth[PARENTS[j]] + 1
    return [(np.array([j for j in range(NUM_JOINTS) if depth[j] == d]),
             np.array([PARENTS[j] for j in range(NUM_JOINTS) if depth[j] == d]))
            for d in range(1, max(depth) + 1)]


_LEVELS = _levels()


def forward(poses: np.ndarray, rest_joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics in numpy: global rotations (T, 55, 3, 3) and positions (T, 55, 3).

    Joints of one depth are posed together, so a call is a dozen array products, not 55.
    """
    rot = np.asarray(poses, float)
    if rot.shape[-1] == 3 and rot.ndim == 3:
        rot = R.np_axis_angle_to_matrix(rot)
    offsets = rest_joints.copy()
    offsets[1:] = rest_joints[1:] - rest_joints[list(PARENTS[1:])]
    glob = np.empty(rot.shape)
    pos = np.empty(rot.shape[:2] + (3,))
    glob[:, 0] = rot[:, 0]
    pos[:, 0] = offsets[0]
    for joints, parents in _LEVELS:
        gp = glob[:, parents]
        glob[:, joints] = gp @ rot[:, joints]
        pos[:, joints] = pos[:, parents] + np.einsum("tjab,jb->tja", gp, offsets[joints])
    return glob, pos


MAX_RIGS = 256   # rigs kept per body, one per set of betas


@dataclass
class _BodyCache:
    """What this module derives from one body: its mesh and site skinning data in numpy and
    its rigs by betas. It lives exactly as long as the body (``_CACHES`` holds the body
    weakly), so a body that is collected takes its entries with it and a new body never
    meets another's."""
    mesh: dict | None = None
    skin: dict | None = None
    rigs: dict[bytes, Rig] = field(default_factory=dict)   # betas' bytes -> rig, oldest first


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cache(body) -> _BodyCache:
    cache = _CACHES.get(body)
    if cache is None:
        cache = _CACHES[body] = _BodyCache()
    return cache


def _mesh(body) -> dict:
    """The whole mesh's template, shape directions and skinning weights in numpy (cached)."""
    cache = _cache(body)
    if cache.mesh is None:
        m = body.model
        shapedirs = m.shapedirs.detach().numpy().astype(float)
        cache.mesh = {"v_template": m.v_template.detach().numpy().astype(float),
                      "shapedirs": shapedirs,
                      "weights": m.lbs_weights.detach().numpy().astype(float)}
    return cache.mesh


def _site_skin(body) -> dict:
    """The few vertices the sites use, with their skinning and shape data (cached per body)."""
    cache = _cache(body)
    if cache.skin is None:
        reg = body.sites.regressor
        used = np.flatnonzero(np.abs(reg).sum(0) > 0)
        m = body.model
        shapedirs = m.shapedirs.detach().numpy().astype(float)
        jreg = m.J_regressor.detach().numpy().astype(float)[:NUM_JOINTS]
        vt = m.v_template.detach().numpy().astype(float)
        cache.skin = {
            "reg": reg[:, used].astype(float),
            "weights": m.lbs_weights.detach().numpy()[used].astype(float),
            "v_template": vt[used],
            "shapedirs": shapedirs[used],
            "j_template": jreg @ vt,
            "j_shapedirs": np.einsum("jv,vkl->jkl", jreg, shapedirs),   # (55, 3, betas)
        }
    return cache.skin
