"""How deep a motion's hands go into its own head and torso, measured on the skinned mesh.

Hand points (fingertips, palms, wrists) are compared with the nearest vertex of the head
and torso surfaces; a point behind that vertex's outward normal is inside by that much, one
in front of it is that vertex's distance away (``hand_gap``: how close a hand comes, signed). For
checks of synthesized and reconstructed motions. numpy + smplx; never bpy.
"""
from __future__ import annotations

import numpy as np

from .sites import SITE_INDEX
from .skeleton import JOINT_INDEX as J

HAND_SITES = tuple(f"{side}_{n}" for side in ("left", "right")
                   for n in ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip", "palm",
                             "back_of_hand"))
NEAR_SKIN = 0.06     # a point further than this from every skin vertex counts as outside
BODY_PARTS = {"head": ("head", "jaw", "neck"), "torso": ("spine1", "spine2", "spine3", "pelvis")}


def _vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted outward normals of (V, 3) or (T, V, 3) vertices."""
    frames = verts.reshape((-1,) + verts.shape[-2:])
    tri = frames[:, faces]
    fn = np.cross(tri[..., 1, :] - tri[..., 0, :], tri[..., 2, :] - tri[..., 0, :])   # (T, F, 3)
    # every face adds its normal to its three corners: a bincount per frame and coordinate
    # (np.add.at costs twice as much)
    corners = faces.T.reshape(-1)
    n = np.stack([np.stack([np.bincount(corners, np.tile(f[:, c], 3), frames.shape[1]) for c in range(3)], -1)
                  for f in fn])
    n = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    return n.reshape(verts.shape)


def _nearest_skin(body, motion, parts):
    """Per part, the hand points (T, P, 3) of ``HAND_SITES`` and the two wrists, their nearest
    skin vertex of the part (T, P, 3) with its outward normal, and the distance to it (T, P)."""
    posed = body.pose(motion)
    verts = posed.vertices.astype(np.float64)
    owner = body.model.lbs_weights.numpy().argmax(1)
    normals = _vertex_normals(verts, body.faces)
    sites = body.sites.positions(verts)
    points = sites[:, [SITE_INDEX[n] for n in HAND_SITES]]
    points = np.concatenate([points, posed.joints[:, [J["left_wrist"], J["right_wrist"]]]], 1)
    out = {}
    for part in parts:
        ids = np.flatnonzero(np.isin(owner, [J[n] for n in BODY_PARTS[part]]))
        v, nrm = verts[:, ids], normals[:, ids]
        d2 = ((points[:, :, None, :] - v[:, None, :, :]) ** 2).sum(-1)       # (T, P, V)
        near = d2.argmin(-1)
        nv = np.take_along_axis(v, near[..., None].repeat(3, -1), 1)
        nn = np.take_along_axis(nrm, near[..., None].repeat(3, -1), 1)
        out[part] = (points, nv, nn, np.sqrt(np.take_along_axis(d2, near[..., None], -1)[..., 0]))
    return out


def hand_penetration(body, motion, parts=("head", "torso")) -> dict[str, np.ndarray]:
    """Per part, (T,) the deepest any hand point lies inside it (metres; 0 when outside)."""
    out = {}
    for part, (points, nv, nn, dist) in _nearest_skin(body, motion, parts).items():
        depth = -((points - nv) * nn).sum(-1)                                  # > 0: behind the surface
        out[part] = np.where(dist < NEAR_SKIN, np.maximum(depth, 0.0), 0.0).max(1)
    return out


def hand_gap(body, motion, parts=("head", "torso")) -> dict[str, np.ndarray]:
    """Per hand side, (T,) the signed distance of its nearest point (fingertips, palm, back
    of the hand, wrist) to the skin of ``parts`` (metres; negative inside, as deep as its
    deepest point): how close a sign's hand comes to the face or body as a viewer sees it."""
    sides = {"left": [i for i, n in enumerate(HAND_SITES) if n.startswith("left_")] + [len(HAND_SITES)],
             "right": [i for i, n in enumerate(HAND_SITES) if n.startswith("right_")] + [len(HAND_SITES) + 1]}
    gaps = {s: [] for s in sides}
    for points, nv, nn, dist in _nearest_skin(body, motion, parts).values():
        along = ((points - nv) * nn).sum(-1)
        # behind the nearest vertex's normal is inside (by that much); a point far from
        # this part's skin is outside it whatever the normal says (the far side of the head)
        gap = np.where((along > 0) | (dist >= NEAR_SKIN), dist, np.minimum(along, 0.0))
        for s, cols in sides.items():
            gaps[s].append(gap[:, cols].min(1))
    return {s: np.min(g, 0) for s, g in gaps.items()}
