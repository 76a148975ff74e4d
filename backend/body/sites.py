"""Named body sites that signing refers to (forehead, chin, chest, palm, fingertips...).

Each site is a fixed weighted set of mesh vertices, found once on the rest mesh by a rule
that works for the mannequin and for a real SMPL-X body alike: a ray from inside a body
part to its surface, the part's extreme vertex in a direction, one of SMPL-X's face
landmarks, or the vertex nearest to a point built from those. Posed site positions are
then ``sites.positions(vertices)``. numpy only; never bpy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import JOINT_INDEX as J

SIDES = ("left", "right")
FINGERTIPS = ("thumb", "index", "middle", "ring", "pinky")

# smplx's 51 face landmarks (68-point scheme without the jaw contour): indices used here.
LMK_UPPER_LIP_TOP = 34     # 68-point index 51
LMK_LOWER_LIP_BOTTOM = 40  # 68-point index 57
LMK_INNER_LIP = tuple(range(43, 51))


def _site_names() -> tuple[str, ...]:
    names = ["forehead", "nose", "mouth", "lip_upper", "lip_lower", "chin", "neck",
             "chest", "stomach"]
    for side in SIDES:
        names += [f"{side}_{n}" for n in ("temple", "eye", "cheek", "ear", "chest",
                                            "shoulder", "upper_arm", "elbow", "forearm",
                                            "forearm_inner", "wrist", "wrist_inner", "palm",
                                            "back_of_hand")]
        names += [f"{side}_{f}_tip" for f in FINGERTIPS]
    return tuple(names)


SITE_NAMES: tuple[str, ...] = _site_names()
SITE_INDEX = {n: i for i, n in enumerate(SITE_NAMES)}


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


@dataclass
class BodySites:
    names: tuple[str, ...]
    regressor: np.ndarray   # (S, V): site = regressor @ vertices

    def positions(self, vertices: np.ndarray) -> np.ndarray:
        """(..., V, 3) posed vertices -> (..., S, 3) site positions."""
        return np.einsum("sv,...vk->...sk", self.regressor, vertices)

    def as_dict(self, vertices: np.ndarray) -> dict[str, np.ndarray]:
        pos = self.positions(vertices)
        return {n: pos[..., i, :] for i, n in enumerate(self.names)}

    @classmethod
    def from_body(cls, body) -> "BodySites":
        verts = body.rest_vertices()
        joints = body.rest_joints()
        weights = body.model.lbs_weights.numpy()
        faces = body.faces
        lmk_faces = body.model.lmk_faces_idx.numpy()
        lmk_bary = body.model.lmk_bary_coords.numpy()
        return cls.from_arrays(verts, joints, weights, faces, lmk_faces, lmk_bary)

    @classmethod
    def from_arrays(cls, verts, joints, weights, faces, lmk_faces, lmk_bary) -> "BodySites":
        owner = weights.argmax(1)
        reg = np.zeros((len(SITE_NAMES), len(verts)))

        def group(*names):
            ids = np.flatnonzero(np.isin(owner, [J[n] for n in names]))
            if len(ids) == 0:
                raise ValueError(f"no vertex is skinned to {names}")
            return ids

        def ray(ids, anchor, direction):
            rel = verts[ids] - anchor
            dist = np.linalg.norm(rel, axis=1) + 1e-12
            cos = rel @ _unit(direction) / dist
            for limit in (np.cos(np.radians(8)), np.cos(np.radians(20)), -1.0):
                inside = cos >= limit
                if inside.any():
                    return int(ids[inside][np.argmax(dist[inside])])
            raise AssertionError("unreachable")

        def extreme(ids, direction):
            return int(ids[np.argmax(verts[ids] @ _unit(direction))])

        def nearest(ids, point):
            return int(ids[np.argmin(np.linalg.norm(verts[ids] - point, axis=1))])

        def landmark_weights(indices):
            w = np.zeros(len(verts))
            for i in indices:
                for corner, b in zip(faces[lmk_faces[i]], lmk_bary[i]):
                    w[corner] += b / len(indices)
            return w

        def put(name, vertex_or_weights):
            if isinstance(vertex_or_weights, (int, np.integer)):
                reg[SITE_INDEX[name], vertex_or_weights] = 1.0
            else:
                reg[SITE_INDEX[name]] = vertex_or_weights

        jp = {n: joints[i] for n, i in J.items()}
        head = group("head", "jaw", "left_eye_smplhf", "right_eye_smplhf")
        centre = verts[head].mean(0)
        put("forehead", ray(head, centre, (0, 0.55, 1)))
        nose = extreme(head, (0, 0, 1))
        put("nose", nose)
        put("mouth", landmark_weights(LMK_INNER_LIP))
        put("lip_upper", landmark_weights([LMK_UPPER_LIP_TOP]))
        lower = landmark_weights([LMK_LOWER_LIP_BOTTOM])
        put("lip_lower", lower)
        lower_p = lower @ verts
        put("chin", nearest(head, lower_p + 0.6 * (lower_p - verts[nose])))
        put("neck", ray(group("neck"), (jp["neck"] + jp["head"]) / 2, (0, 0, 1)))
        torso_hi = group("spine3", "spine2")
        put("chest", ray(torso_hi, jp["spine3"], (0, 0.2, 1)))
        put("stomach", ray(group("spine1", "spine2", "pelvis"), jp["spine1"], (0, 0, 1)))
        for side, sx in (("left", 1.0), ("right", -1.0)):
            s = lambda n: f"{side}_{n}"  # noqa: E731
            put(s("temple"), ray(head, centre, (sx, 0.35, 0.55)))
            put(s("eye"), ray(head, centre, jp[s("eye_smplhf")] - centre))
            put(s("cheek"), ray(head, centre, (0.55 * sx, -0.4, 0.9)))
            put(s("ear"), ray(head, centre, (sx, 0.0, -0.1)))
            put(s("chest"), ray(torso_hi, jp["spine3"], (0.5 * sx, 0.2, 1)))
            put(s("shoulder"), ray(group(s("shoulder"), s("collar")), jp[s("shoulder")], (0, 1, 0)))
            upper = group(s("shoulder"))
            put(s("upper_arm"), ray(upper, (jp[s("shoulder")] + jp[s("elbow")]) / 2, (0, 1, 0)))
            put(s("elbow"), ray(group(s("elbow"), s("shoulder")), jp[s("elbow")], (0, 0, -1)))
            fore = group(s("elbow"))
            mid = (jp[s("elbow")] + jp[s("wrist")]) / 2
            put(s("forearm"), ray(fore, mid, (0, 1, 0)))
            put(s("forearm_inner"), ray(fore, mid, (0, -1, 0)))
            wrist_g = group(s("wrist"), s("elbow"))
            put(s("wrist"), ray(wrist_g, jp[s("wrist")], (0, 1, 0)))
            put(s("wrist_inner"), ray(wrist_g, jp[s("wrist")], (0, -1, 0)))
            palm_c = (jp[s("wrist")] + jp[s("middle1")]) / 2
            put(s("palm"), ray(group(s("wrist")), palm_c, (0, -1, 0)))
            put(s("back_of_hand"), ray(group(s("wrist")), palm_c, (0, 1, 0)))
            for f in FINGERTIPS:
                d = jp[s(f"{f}3")] - jp[s(f"{f}2")]
                put(s(f"{f}_tip"), extreme(group(s(f"{f}3")), d))
        return cls(SITE_NAMES, reg)
