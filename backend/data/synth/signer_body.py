"""One signer's body on the rig, measured once and cached per body shape and posture: the
rest pose (the signer's posture, arms hanging, hands lax), forward-kinematics frames of
a pose, the head and torso skin (nearest points, depth behind it), and the hand's own
measures in the wrist frame (contact points of a handshape, the points kept off the skin).
numpy + torch (the body model); never bpy.
"""
from __future__ import annotations

import numpy as np

from ...body.collide import BODY_PARTS, NEAR_SKIN, _vertex_normals
from ...body.model import Body
from ...body.rig import Rig, forward
from ...body.skeleton import JOINT_INDEX as J
from ...body.skeleton import NUM_JOINTS, hand_joints
from .. import handshapes as H
from .signer import Signer
from .tables import SX

TORSO = ("spine1", "spine2", "spine3", "neck", "head")     # the joints a signer's posture leans
# Hand points kept out of the head and torso (and the wrist, see ``SignerBody.hand_points``).
HAND_POINT_SITES = ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip", "palm", "back_of_hand")


class SignerBody:
    """A signer's rig and rest pose, with measures shared by every sign of the same body.

    ``cache`` is the synthesizer's: entries are keyed by the body shape and posture, so
    signers drawn from the same person (see ``Signer.sample``) reuse each other's.
    """

    def __init__(self, body: Body, signer: Signer, cache: dict):
        self.body, self.cache = body, cache
        self.key = (signer.betas.tobytes(), signer.posture.tobytes())
        self.rig = Rig.from_body(body, signer.betas)
        self.rest = self._rest_pose(signer.posture)

    @staticmethod
    def _rest_pose(posture: np.ndarray) -> np.ndarray:
        pose = np.zeros((NUM_JOINTS, 3))
        for name, lean in zip(TORSO, posture):
            pose[J[name]] = (lean, 0.5 * lean, 0.0)
        pose[J["left_shoulder"]] = (0.0, 0.0, -1.2)
        pose[J["right_shoulder"]] = (0.0, 0.0, 1.2)
        pose[J["left_elbow"]] = (0.0, -0.3, 0.0)
        pose[J["right_elbow"]] = (0.0, 0.3, 0.0)
        for side in ("left", "right"):
            pose[list(hand_joints(side))] = H.hand_pose("lax", side)
        return pose

    # -- frames ---------------------------------------------------------------------
    @property
    def rest_frame(self):
        """``frame(rest)``, computed once per body."""
        key = (self.key, "rest")
        if key not in self.cache:
            self.cache[key] = self.frame(self.rest)
        return self.cache[key]

    def frame(self, pose: np.ndarray):
        """Global joint rotations (55, 3, 3), joint positions (55, 3) and site positions of a pose."""
        glob, pos = forward(pose[None], self.rig.rest_joints)
        return glob[0], pos[0], self.rig.sites(glob, pos)[0]

    def frame_of(self, pose: np.ndarray):
        """``frame(pose)``, from the cache when the pose is the rest pose."""
        return self.rest_frame if pose is self.rest or np.array_equal(pose, self.rest) else self.frame(pose)

    # -- the skin -------------------------------------------------------------------
    def _skin(self):
        """The head and torso skin of this signer at rest: vertices and outward normals."""
        key = (self.key, "surface")
        if key not in self.cache:
            body = self.body
            verts = self.rig.vertices(body, self.rest)
            normals = _vertex_normals(verts, body.faces)
            owner = body.model.lbs_weights.numpy().argmax(1)
            keep = np.isin(owner, [J[n] for part in BODY_PARTS.values() for n in part])
            self.cache[key] = (verts[keep], normals[keep])
        return self.cache[key]

    def _skin_tree(self):
        """A KD-tree over ``_skin()``'s vertices (nearest-vertex queries for clearance)."""
        key = (self.key, "surface tree")
        if key not in self.cache:
            from scipy.spatial import cKDTree

            self.cache[key] = cKDTree(self._skin()[0])
        return self.cache[key]

    def depths(self, points: np.ndarray):
        """How deep (metres, > 0 inside) points (..., 3) lie behind the head and torso skin,
        with the nearest skin vertex and its outward normal; points over 6 cm from the skin
        count as outside."""
        verts, normals = self._skin()
        flat = points.reshape(-1, 3)
        dist, idx = self._skin_tree().query(flat)
        v, n = verts[idx], normals[idx]
        depth = np.where(dist < NEAR_SKIN, ((v - flat) * n).sum(-1), -1.0)
        return depth.reshape(points.shape[:-1]), v.reshape(points.shape), n.reshape(points.shape)

    def on_surface(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest head or torso skin point (and its outward normal) to ``point``."""
        verts, normals = self._skin()
        i = int(self._skin_tree().query(point)[1])
        return verts[i].copy(), normals[i].copy()

    # -- the hands ------------------------------------------------------------------
    def hand_points(self, side: str, fingers: np.ndarray) -> np.ndarray:
        """The fingertips, palm, back of the hand and wrist (k, 8, 3) in the wrist frame for finger
        poses (k, 15, 3), by forward kinematics of the hand (points on a flexing finger move
        on arcs: interpolating them would cut through the palm)."""
        k = len(fingers)
        still = np.abs(fingers - fingers[0]).max() < 1e-9              # most signs keep one handshape
        key = (self.key, side, "hand points", fingers[0].tobytes())
        if still and key in self.cache:
            return np.broadcast_to(self.cache[key], (k, 8, 3))
        pose = np.repeat(self.rest[None], 1 if still else k, 0)
        pose[:, list(hand_joints(side))] = fingers[:1] if still else fingers
        glob, pos = forward(pose, self.rig.rest_joints)
        sites = self.rig.sites(glob, pos)[:, [self.rig.site(f"{side}_{n}") for n in HAND_POINT_SITES]]
        wr = J[f"{side}_wrist"]
        local = np.einsum("tpi,tij->tpj", sites - pos[:, wr, None], glob[:, wr])
        local = np.concatenate([local, np.zeros((len(local), 1, 3))], 1)     # and the wrist itself
        if still:
            self.cache[key] = local[0]
        return np.broadcast_to(local, (k, 8, 3))

    def offset(self, side: str, part: str, shape: str, spread: bool) -> np.ndarray:
        """The contact point in the wrist frame for a handshape (measured on the posed rig)."""
        key = (self.key, side, part, shape, spread)
        if key not in self.cache:
            self.cache[key] = self._measure_offset(side, part, shape, spread)
        return self.cache[key]

    def _hand_frame(self, side: str, shape: str, spread: bool):
        """The rest frame with one hand in a handshape (one posing serves every hand part)."""
        key = (self.key, side, "hand frame", shape, spread)
        if key not in self.cache:
            pose = self.rest.copy()
            pose[list(hand_joints(side))] = H.hand_pose(shape, side, spread)
            self.cache[key] = self.frame(pose)
        return self.cache[key]

    def _measure_offset(self, side: str, part: str, shape: str, spread: bool) -> np.ndarray:
        glob, pos, sites = self._hand_frame(side, shape, spread)
        wr = J[f"{side}_wrist"]
        if part == "fist":
            point = pos[J[f"{side}_middle2"]] + glob[wr] @ np.array([SX[side] * 0.012, -0.01, 0.0])
        elif part == "palm":
            point = sites[self.rig.site(f"{side}_palm")]
        else:
            point = sites[self.rig.site(f"{side}_{part}")]
        return glob[wr].T @ (point - pos[wr])
