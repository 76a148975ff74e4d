"""Body-model provider: the user's SMPL-X file when given one, else the mannequin.

``Body.load(path)`` resolves ``path`` (a ``SMPLX_NEUTRAL.npz`` or its folder), then the
``SIGNFORGE_SMPLX`` environment variable, then the built-in mannequin (generated once
into the cache folder). Model files are read with ``allow_pickle=False`` first: a file
that needs pickle is refused, and optional pickled entries (``joint2num``...) are dropped
into a clean copy before smplx, which itself calls np.load(allow_pickle=True), sees it.
May import torch and smplx; never bpy.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path
from .mannequin import MANNEQUIN_VERSION, export_mannequin
from .skeleton import NUM_JOINTS

ENV_SMPLX = "SIGNFORGE_SMPLX"
ENV_CACHE = "SIGNFORGE_CACHE"
MODEL_FILE = "SMPLX_NEUTRAL.npz"
REQUIRED_KEYS = ("v_template", "f", "weights", "J_regressor", "kintree_table", "shapedirs",
                 "posedirs", "hands_componentsl", "hands_componentsr", "hands_meanl",
                 "hands_meanr", "lmk_faces_idx", "lmk_bary_coords")
NUM_BETAS = 10


class BodyModelError(ValueError):
    """The SMPL-X model file cannot be used; the message names the file and the reason."""


def cache_dir() -> Path:
    root = os.environ.get(ENV_CACHE) or os.path.join(os.path.expanduser("~"), ".cache", "signforge")
    return Path(root)


def mannequin_root() -> Path:
    """Folder for smplx.create(...) holding the mannequin, generated on first use."""
    root = cache_dir() / f"mannequin-v{MANNEQUIN_VERSION}"
    if not (root / "smplx" / MODEL_FILE).exists():
        export_mannequin(root)
    return root


def resolve_model_file(path: str | os.PathLike | None = None) -> Path | None:
    """The user's SMPL-X file from ``path`` or $SIGNFORGE_SMPLX; None means the mannequin."""
    given = path if path not in (None, "") else os.environ.get(ENV_SMPLX) or None
    if given is None:
        return None
    p = Path(given).expanduser()
    if p.is_dir():
        for candidate in (p / MODEL_FILE, p / "smplx" / MODEL_FILE):
            if candidate.is_file():
                return candidate
        if any(p.glob("**/SMPLX_*.pkl")):
            raise BodyModelError(f"{p}: holds only .pkl SMPL-X files; SignForge never loads "
                                 f"pickles. Download the .npz release of SMPL-X instead.")
        raise BodyModelError(f"{p}: no {MODEL_FILE} in this folder or in its smplx/ subfolder")
    if not p.exists():
        raise BodyModelError(f"{p}: no such file")
    if p.suffix.lower() == ".pkl":
        raise BodyModelError(f"{p}: .pkl model files need pickle, which SignForge never loads; "
                             f"use the .npz release of SMPL-X")
    if p.suffix.lower() != ".npz":
        raise BodyModelError(f"{p}: expected an SMPL-X .npz file")
    return p


def _pickle_free_copy(p: Path) -> Path:
    """``p`` itself when it holds only plain arrays, else a cached copy without the rest."""
    try:
        archive = np.load(p, allow_pickle=False)
    except Exception as exc:  # not a zip, truncated...
        raise BodyModelError(f"{p}: not a readable .npz file ({exc})") from exc
    with archive:
        missing = [k for k in REQUIRED_KEYS if k not in archive.files]
        if missing:
            raise BodyModelError(f"{p}: not an SMPL-X model, missing {', '.join(missing)}")
        plain, dropped = {}, []
        for key in archive.files:
            try:
                plain[key] = archive[key]
            except ValueError:  # object array: would need pickle
                if key in REQUIRED_KEYS:
                    raise BodyModelError(f"{p}: entry {key!r} needs pickle to load") from None
                dropped.append(key)
    if plain["J_regressor"].shape[0] < NUM_JOINTS:
        raise BodyModelError(f"{p}: J_regressor has {plain['J_regressor'].shape[0]} joints, "
                             f"SMPL-X needs {NUM_JOINTS}")
    if not dropped:
        return p
    stat = p.stat()
    key = hashlib.sha1(f"{p.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_dir() / "smplx-clean" / key / "smplx" / MODEL_FILE
    if not target.exists():
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **plain)
    return target


def create_smplx(model_file: Path | None, batch_size: int = 1):
    """An ``smplx.SMPLX`` with SignForge's settings: full hand poses, flat-hand mean."""
    import smplx

    model_path = mannequin_root() if model_file is None else _pickle_free_copy(model_file)
    # smplx prints warnings to stdout, which must stay clean for the JSON-lines server.
    # For the mannequin they only say it has 10 shape and 10 expression directions.
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        model = smplx.create(str(model_path), model_type="smplx", gender="neutral",
                            use_pca=False, flat_hand_mean=True, num_betas=NUM_BETAS,
                            num_expression_coeffs=10, use_face_contour=False,
                            batch_size=batch_size)
    if model_file is not None and printed.getvalue():
        sys.stderr.write(printed.getvalue())
    return model


@dataclass
class PosedBody:
    vertices: np.ndarray   # (T, V, 3)
    joints: np.ndarray     # (T, 55, 3)


class Body:
    """An SMPL-X body (user's model or mannequin) with the helpers SignForge needs."""

    def __init__(self, model, source: str):
        self.model = model.eval()
        self.source = source

    @classmethod
    def load(cls, smplx_path: str | os.PathLike | None = None) -> "Body":
        model_file = resolve_model_file(smplx_path)
        source = "mannequin" if model_file is None else str(model_file)
        return cls(create_smplx(model_file), source)

    @property
    def faces(self) -> np.ndarray:
        return np.asarray(self.model.faces, dtype=np.int64)

    @property
    def num_vertices(self) -> int:
        return int(self.model.v_template.shape[0])

    def _betas(self, betas) -> torch.Tensor:
        b = np.zeros(NUM_BETAS, np.float32)
        if betas is not None:
            betas = np.asarray(betas, np.float32).reshape(-1)[:NUM_BETAS]
            b[: len(betas)] = betas
        return torch.from_numpy(b)[None]

    def rest_vertices(self, betas=None) -> np.ndarray:
        with torch.no_grad():
            shaped = self.model.v_template + torch.einsum(
                "bl,vkl->bvk", self._betas(betas), self.model.shapedirs)[0]
        return shaped.numpy()

    def rest_joints(self, betas=None) -> np.ndarray:
        """Rest skeleton (55, 3) for these betas."""
        with torch.no_grad():
            verts = torch.from_numpy(self.rest_vertices(betas))
            return (self.model.J_regressor @ verts)[:NUM_JOINTS].numpy()

    def pose(self, motion, chunk: int = 256) -> PosedBody:
        """Skinned vertices and joints for every frame of ``motion``."""
        verts, joints = [], []
        betas = self._betas(motion.betas)
        with torch.no_grad():
            for s in range(0, motion.num_frames, chunk):
                p = torch.tensor(motion.poses[s:s + chunk])
                n = len(p)
                out = self.model(
                    betas=betas.expand(n, -1), global_orient=p[:, 0],
                    body_pose=p[:, 1:22].reshape(n, -1), jaw_pose=p[:, 22],
                    leye_pose=p[:, 23], reye_pose=p[:, 24],
                    left_hand_pose=p[:, 25:40].reshape(n, -1),
                    right_hand_pose=p[:, 40:55].reshape(n, -1),
                    expression=torch.tensor(motion.expression[s:s + chunk]),
                    transl=torch.tensor(motion.trans[s:s + chunk]),
                    return_verts=True)
                verts.append(out.vertices.numpy())
                joints.append(out.joints[:, :NUM_JOINTS].numpy())
        return PosedBody(np.concatenate(verts), np.concatenate(joints))

    @cached_property
    def sites(self):
        from .sites import BodySites

        return BodySites.from_body(self)
