"""The head and torso skin that the fit's contact term reads (issue 17): vertices about 1.5 cm
apart, each riding rigidly on the upper-body joint that moves it most, posed for a fit's
frames, and the signed distance of a hand's touching points to it with its gradient.

Frame-major arrays, (T, V, 3): the contact search indexes frames and samples, unlike the
fit's components-first steps (``kinematics``). numpy only; never torch or bpy.
"""
from __future__ import annotations

import numpy as np

from ..body.collide import BODY_PARTS, NEAR_SKIN, _vertex_normals
from ..body.skeleton import JOINT_INDEX as J

PALM = (0, 5, 9, 13, 17)                                       # wrist and the four knuckles
# The points a hand touches with, as a viewer (and ``collide.hand_gap``) judges a touch: the
# wrist, the five fingertips and the palm's centre (wrist and knuckles), as rows of weights
# over the 21 hand points (``TOUCH @ hand``). Not the finger joints, which sit inside the
# fingers: with all 21 points the fit's own gap was 0.3-0.7 cm where the viewer's measure of
# the same fit was 2-4 cm (the contact benchmark's stripe, atlanta and zebra).
TOUCH = np.zeros((7, 21))
TOUCH[np.arange(6), [0, 4, 8, 12, 16, 20]] = 1.0
TOUCH[6, list(PALM)] = 1.0 / len(PALM)


def nearest_sq(a: np.ndarray, b: np.ndarray, rank: bool = False) -> np.ndarray:
    """(n, P, D) and (n, V, D) -> (n, P, V) squared distances (float64: the expansion's
    cancellation at a metre from the origin is far below a micrometre); with ``rank``, the
    same less each row's own |a|^2 (enough to rank the V by distance, and cheaper)."""
    sq = np.einsum("nvd,nvd->nv", b, b)[:, None] - 2 * a @ np.swapaxes(b, -1, -2)
    if rank:
        return sq
    return np.maximum(sq + np.einsum("npd,npd->np", a, a)[..., None], 0.0)


class Skin:
    """Head and torso skin samples of one body model, as offsets from the joints that carry
    them, affine in the betas, with their rest outward normals."""

    def __init__(self, body, joint_dirs: tuple[np.ndarray, np.ndarray], vertex_dirs: tuple[np.ndarray, np.ndarray],
                 carriers: list[int], spacing: float = 0.015):
        """``joint_dirs``: the rest joints (55, 3) and their shape directions (55, 3, 10);
        ``vertex_dirs`` the same of the vertices; ``carriers``: the joints the fit poses (its
        UPPER, in order): a sample rides on the one that moves it most (the jaw's on the
        head), the pelvis's samples stay fixed."""
        (jt, jd), (vt, sd) = joint_dirs, vertex_dirs
        owner = body.model.lbs_weights.numpy().argmax(1)
        on = {J[n]: J["head"] if n == "jaw" else J[n] for part in BODY_PARTS.values() for n in part}
        ids = np.flatnonzero(np.isin(owner, list(on)))
        # thin to one vertex per ``spacing`` cell: contact is judged to about a centimetre
        _, keep = np.unique(np.floor(vt[ids] / spacing).astype(np.int64), axis=0, return_index=True)
        ids = ids[np.sort(keep)]
        joint = np.array([on[o] for o in owner[ids]])
        at = np.array([carriers.index(j) if j in carriers else -1 for j in joint])
        # samples grouped by the joint that carries them: the whole skin is posed one joint's
        # block at a time, not by gathering a rotation per sample
        order = np.argsort(at, kind="stable")
        ids, joint = ids[order], joint[order]
        self.joint = at[order]
        self.off0, self.offdirs = vt[ids] - jt[joint], sd[ids] - jd[joint]
        self.normal = _vertex_normals(vt, body.faces)[ids]
        self.pelvis = (jt[0], jd[0])
        joints, counts = np.unique(self.joint, return_counts=True)
        self.groups = list(zip(joints.tolist(), counts.tolist()))

    def pose(self, glob: np.ndarray, pos: np.ndarray, betas: np.ndarray, samples: np.ndarray | None = None):
        """The samples (T, V, 3) and their normals posed by the carriers' global rotations
        (T, J, 3, 3) and positions (T, J, 3); with ``samples`` (T, K), only those of each
        frame, (T, K, 3)."""
        off = self.off0 + self.offdirs @ betas
        pelvis = self.pelvis[0] + self.pelvis[1] @ betas
        if samples is None:
            # one block per carrying joint: a (3, 3) by (3, n) product per frame and joint
            pts, nrms, a = [], [], 0
            for j, n in self.groups:
                o, nr = off[a:a + n], self.normal[a:a + n]
                if j < 0:
                    pts.append(np.broadcast_to(pelvis + o, (len(pos), n, 3)))
                    nrms.append(np.broadcast_to(nr, (len(pos), n, 3)))
                else:
                    g = np.swapaxes(glob[:, j], 1, 2)
                    pts.append(pos[:, j, None] + o @ g)
                    nrms.append(nr @ g)
                a += n
            return np.concatenate(pts, 1), np.concatenate(nrms, 1)
        rows = np.arange(len(samples))[:, None]
        joint = self.joint[samples]
        moving = joint >= 0
        at = np.maximum(joint, 0)
        g = np.where(moving[..., None, None], glob[rows, at], np.eye(3))
        base = np.where(moving[..., None], pos[rows, at], pelvis)
        return base + (g @ off[samples][..., None])[..., 0], (g @ self.normal[samples][..., None])[..., 0]

    @staticmethod
    def gap(hand: np.ndarray, surf: np.ndarray, nrm: np.ndarray, grad: bool = False):
        """(n,) signed distance (metres, negative inside) from a hand's nearest touching point
        (``TOUCH``; ``hand`` (n, 21, 3)) to the posed skin (``pose``'s (n, V, 3) samples and
        normals): each point against its nearest sample, along that sample's normal when near
        it (inside the skin, or between samples), else straight. With ``grad``, also its
        gradient by the hand's 21 points, (n, 21, 3), the skin held where it is (the hand
        goes to the face; the head and spine do not bend to meet it)."""
        hp = TOUCH @ hand                                                  # (n, 7, 3)
        near = nearest_sq(hp, surf, rank=True).argmin(-1)[..., None]       # (n, 7, 1) nearest samples
        diff = hp - np.take_along_axis(surf, near, 1)
        n = np.take_along_axis(nrm, near, 1)
        along = (diff * n).sum(-1)
        dist = np.sqrt((diff * diff).sum(-1))
        # inside is judged as the viewer's ``hand_gap`` judges it, up to NEAR_SKIN deep: with
        # only points within 3 cm of a sample counted by the normal, a wrist 3.7 cm deep in the
        # belly read as 3.7 cm outside, and no guard pushed it out (the shared .pose file)
        by_normal = (dist < 0.03) | ((along < 0) & (dist < NEAR_SKIN))
        val = np.where(by_normal, along, dist)
        best = val.argmin(-1)
        rows = np.arange(len(val))
        gap = val[rows, best]
        if not grad:
            return gap
        d_point = np.where(by_normal[rows, best, None], n[rows, best],
                           diff[rows, best] / np.maximum(dist[rows, best], 1e-12)[:, None])
        return gap, TOUCH[best][..., None] * d_point[:, None, :]
