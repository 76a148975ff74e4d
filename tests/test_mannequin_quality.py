"""The mannequin up close (issue 16): seams that hold when joints bend, no wrist step,
eyes in their sockets. (The thumb's rest is measured, not asserted: a relaxed thumb rest moves
thumb joints the shipped models' rotations were learned on, so it waits for retrained models.)

Each check measures the built mesh directly (numpy linear-blend skinning of the
mannequin's own weights about its rest joints), so a regression reads as a number.
"""
from __future__ import annotations

import numpy as np
import pytest

from backend.body.mannequin import build_mesh
from backend.body.skeleton import JOINT_INDEX as J, PARENTS


def _rot(aa) -> np.ndarray:
    aa = np.asarray(aa, float)
    t = np.linalg.norm(aa)
    if t < 1e-12:
        return np.eye(3)
    k = aa / t
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(t) * K + (1 - np.cos(t)) * K @ K


def skin(mesh, pose: dict[str, tuple]) -> np.ndarray:
    """Linear-blend skinning of the rest mesh with local axis-angle rotations by joint name."""
    n = len(PARENTS)
    R, T = [None] * n, [None] * n
    rest = mesh.joints
    for j in range(n):   # parents come first in SMPL-X order
        local = _rot(pose.get(next(k for k, v in J.items() if v == j), (0, 0, 0)))
        p = PARENTS[j]
        if p < 0:
            R[j], T[j] = local, rest[j]
        else:
            R[j] = R[p] @ local
            T[j] = R[p] @ (rest[j] - rest[p]) + T[p]
    A = np.stack([np.hstack([R[j], (T[j] - R[j] @ rest[j])[:, None]]) for j in range(n)])  # (55,3,4)
    M = np.einsum("vj,jab->vab", mesh.weights, A)
    return np.einsum("vab,vb->va", M[:, :, :3], mesh.vertices) + M[:, :, 3]


def _ids(mesh, *parts):
    return np.flatnonzero(np.isin(np.array(mesh.part_names)[mesh.part_of], parts))


def seam_tear(mesh, a: str, b: str, joint: str, pose: dict, radius: float) -> float:
    """Largest change (m) in the distance between neighbouring vertices of two parts that meet
    at ``joint`` (each vertex of ``a`` within 1 cm of ``b`` at rest, and its nearest ``b``
    vertex) when the body takes ``pose``: a seam whose two sides are skinned alike holds."""
    va, vb = _ids(mesh, a), _ids(mesh, b)
    c = mesh.joints[J[joint]]
    va = va[np.linalg.norm(mesh.vertices[va] - c, axis=1) < radius]
    d = np.linalg.norm(mesh.vertices[va][:, None] - mesh.vertices[vb][None], axis=2)
    near = d.min(1) < 0.01
    pa, pb = va[near], vb[d[near].argmin(1)]
    posed = skin(mesh, pose)
    before = np.linalg.norm(mesh.vertices[pa] - mesh.vertices[pb], axis=1)
    after = np.linalg.norm(posed[pa] - posed[pb], axis=1)
    return float(np.abs(after - before).max())


def bend_kink(mesh, part: str, joint: str, pose: dict, radius: float, axis: int, side: float) -> float:
    """Largest growth (degrees) of the angle between edge-neighbouring face normals of
    ``part`` within ``radius`` of ``joint`` when posed: a hard weight edge folds sharply.
    Only faces on the open side of the joint (``side`` * (coordinate ``axis`` - joint's) > -1 cm)
    count; the tube's end cap hides inside the next part."""
    f = mesh.faces[(mesh.part_of[mesh.faces] == mesh.part_names.index(part)).all(1)]
    c = mesh.joints[J[joint]]
    centroid = mesh.vertices[f].mean(1)
    f = f[(np.linalg.norm(centroid - c, axis=1) < radius) & (side * (centroid[:, axis] - c[axis]) > -0.01)]
    edges = {}
    pairs = []
    for k, tri in enumerate(f):
        for e in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0])):
            key = (min(e), max(e))
            if key in edges:
                pairs.append((edges[key], k))
            else:
                edges[key] = k
    pairs = np.array(pairs)

    def angles(v):
        t = v[f]
        n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        return np.degrees(np.arccos(np.clip((n[pairs[:, 0]] * n[pairs[:, 1]]).sum(1), -1, 1)))

    return float((angles(skin(mesh, pose)) - angles(mesh.vertices)).max())


def wrist_step(mesh) -> float:
    """Largest drop (m) of the forearm/hand outline (thickness and width about the wrist axis)
    within 4 mm along the arm near the left wrist, at rest: the forearm's end poking out of
    the palm reads as a step."""
    parts = [mesh.part_names.index(n) for n in ("left_arm", "left_palm")]
    f = mesh.faces[np.isin(mesh.part_of[mesh.faces], parts).all(1)]
    # The surface, sampled densely (rings are centimetres apart).
    a, b = np.meshgrid(np.linspace(0, 1, 12), np.linspace(0, 1, 12))
    keep = (a + b) <= 1
    bary = np.stack([1 - a[keep] - b[keep], a[keep], b[keep]], 1)
    v = np.einsum("kc,fcx->fkx", bary, mesh.vertices[f]).reshape(-1, 3)
    w = mesh.joints[J["left_wrist"]]
    worst = 0.0
    xs = np.arange(w[0] - 0.03, w[0] + 0.03, 0.001)
    for axis in (1, 2):
        env = np.array([np.abs(v[np.abs(v[:, 0] - x) < 0.0005, axis] - w[axis]).max() for x in xs])
        worst = max(worst, float(np.max(env[:-4] - env[4:])))
    return worst


def thumb_rest(mesh) -> tuple[float, float]:
    """The left thumb's rest direction (thumb1 -> tip) as (degrees below the palm plane,
    toward the palm; degrees from the middle finger's direction). The rest hand is palm down."""
    tip_id = _ids(mesh, "left_thumb")
    p1 = mesh.joints[J["left_thumb1"]]
    d3 = mesh.joints[J["left_thumb3"]] - mesh.joints[J["left_thumb2"]]
    tip = mesh.vertices[tip_id[np.argmax(mesh.vertices[tip_id] @ (d3 / np.linalg.norm(d3)))]]
    d = (tip - p1) / np.linalg.norm(tip - p1)
    fingers = mesh.joints[J["left_middle2"]] - mesh.joints[J["left_middle1"]]
    fingers /= np.linalg.norm(fingers)
    below = np.degrees(np.arcsin(-d[1]))
    return float(below), float(np.degrees(np.arccos(d @ fingers)))


def eye_protrusion(mesh) -> float:
    """How far (m) the left eye reaches in front of the head's surface around it."""
    eye, head = mesh.vertices[_ids(mesh, "left_eye")], mesh.vertices[_ids(mesh, "head")]
    worst = -1.0
    for p in eye[eye[:, 2] > np.median(eye[:, 2])]:
        near = head[np.linalg.norm(head[:, :2] - p[:2], axis=1) < 0.006]
        surface = near[:, 2].max() if len(near) else -np.inf
        worst = max(worst, p[2] - surface)
    return float(worst)


WRIST_BENT = {"left_wrist": (0.0, 0.0, -1.1)}          # palm-down hand flexed ~60 deg
HIP_BENT = {"left_hip": (1.4, 0.0, 0.0)}               # thigh raised ~80 deg, as sitting


def measure(mesh=None) -> dict[str, float]:
    mesh = build_mesh() if mesh is None else mesh
    below, spread = thumb_rest(mesh)
    return {
        "wrist_step_mm": 1000 * wrist_step(mesh),
        "wrist_seam_tear_mm": 1000 * seam_tear(mesh, "left_arm", "left_palm", "left_wrist", WRIST_BENT, 0.04),
        "wrist_kink_deg": bend_kink(mesh, "left_arm", "left_wrist", WRIST_BENT, 0.04, 0, -1.0),
        "hip_seam_tear_mm": 1000 * seam_tear(mesh, "left_leg", "torso", "left_hip", HIP_BENT, 0.2),
        "hip_kink_deg": bend_kink(mesh, "left_leg", "left_hip", HIP_BENT, 0.15, 1, -1.0),
        "thumb_below_palm_deg": below,
        "thumb_from_fingers_deg": spread,
        "eye_protrusion_mm": 1000 * eye_protrusion(mesh),
    }


@pytest.fixture(scope="module")
def quality():
    return measure()


def test_wrist_has_no_step_and_bends_smoothly(quality):
    # Version 1: a 7.5 mm step, 6.8 mm seam tear, a 170 deg fold (a face flipped).
    assert quality["wrist_step_mm"] < 1.5
    assert quality["wrist_seam_tear_mm"] < 4.0
    assert quality["wrist_kink_deg"] < 35.0


def test_hip_seam_holds_when_the_thigh_rises(quality):
    # Version 1 opened by 144 mm (the thigh's top followed the pelvis, the torso's side the
    # thigh). What is left is the crotch, where the torso's midline cannot follow one leg.
    # (hip_kink_deg, the groin/buttock fold at 80 deg, is still ~160 deg: plain linear
    # blend skinning without corrective shapes; measured, not yet asserted.)
    assert quality["hip_seam_tear_mm"] < 35.0


def test_eyes_sit_in_the_head(quality):
    # Version 1: balls 19 mm proud of the face.
    assert quality["eye_protrusion_mm"] < 2.5


@pytest.mark.blender
def test_the_addon_shades_the_body_smooth():
    """Close-ups show the lofted rings as facets unless every face is shaded smooth."""
    bpy = pytest.importorskip("bpy")
    import types

    from blender_addon.blender.body import _mesh

    m = build_mesh()
    mesh = _mesh(types.SimpleNamespace(vertices=m.vertices, faces=m.faces), "smooth-check")
    try:
        smooth = np.zeros(len(mesh.polygons), bool)
        mesh.polygons.foreach_get("use_smooth", smooth)
        assert smooth.all()
        sharp = mesh.attributes.get("sharp_face")
        if sharp is not None:
            flags = np.zeros(len(mesh.polygons), bool)
            sharp.data.foreach_get("value", flags)
            assert not flags.any()
    finally:
        bpy.data.meshes.remove(mesh)


if __name__ == "__main__":  # before/after numbers: python tests/test_mannequin_quality.py
    for k, v in measure().items():
        print(f"{k:26s} {v:8.2f}")
