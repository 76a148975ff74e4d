"""The body file the backend's ``body`` request writes, read for the Blender shell. numpy; never bpy.

It holds what a skinned SMPL-X armature needs, already shaped by the signer's betas:
rest vertices, faces, rest joints, parents, joint names, LBS weights and expression
blend shapes, in SMPL-X space (+Y up, facing +Z). Read with allow_pickle=False.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from .errors import SignForgeError


class BodyFileError(SignForgeError, ValueError):
    """A body file that cannot build an armature; the message names the problem."""


@dataclass(frozen=True)
class BodyData:
    vertices: np.ndarray     # (V, 3)
    faces: np.ndarray        # (F, 3)
    joints: np.ndarray       # (55, 3)
    parents: np.ndarray      # (55,) -1 for the root
    joint_names: tuple[str, ...]
    weights: np.ndarray      # (V, 55)
    expressions: np.ndarray  # (E, V, 3); E may be 0
    model: str


def read_body(path: str | os.PathLike) -> BodyData:
    need = ("vertices", "faces", "joints", "parents", "joint_names", "weights")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in need if k not in z.files]
            if missing:
                raise BodyFileError(f"{path}: not a SignForge body file (missing {', '.join(missing)})")
            v = np.asarray(z["vertices"], np.float64)
            body = BodyData(
                vertices=v, faces=np.asarray(z["faces"], np.int64), joints=np.asarray(z["joints"], np.float64),
                parents=np.asarray(z["parents"], np.int64), joint_names=tuple(str(n) for n in z["joint_names"]),
                weights=np.asarray(z["weights"], np.float32),
                expressions=np.asarray(z["expressions"], np.float32) if "expressions" in z.files
                else np.zeros((0,) + v.shape, np.float32),
                model=str(z["model"]) if "model" in z.files else "smplx")
    except (OSError, ValueError) as exc:
        if isinstance(exc, BodyFileError):
            raise
        raise BodyFileError(f"{path}: cannot read body file ({exc})") from None
    n = len(body.joints)
    if body.vertices.ndim != 2 or body.vertices.shape[1] != 3:
        raise BodyFileError(f"{path}: vertices have shape {body.vertices.shape}")
    if body.weights.shape != (len(body.vertices), n) or len(body.joint_names) != n or len(body.parents) != n:
        raise BodyFileError(f"{path}: weights, joint names and parents do not match {n} joints")
    if body.faces.size and (body.faces.min() < 0 or body.faces.max() >= len(body.vertices)):
        raise BodyFileError(f"{path}: a face indexes a vertex that does not exist")
    return body
