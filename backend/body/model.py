"""Body-model provider: the user's SMPL-X file when given one, else the mannequin.

``Body.load(path)`` resolves ``path`` (a ``SMPLX_NEUTRAL.npz`` or its folder), then the
``SIGNFORGE_SMPLX`` environment variable, then the built-in mannequin (generated once
into the cache folder). Model files are read with ``allow_pickle=False`` and validated
(shapes, finite values, the joint tree): a file that needs pickle is refused, optional
pickled entries (``joint2num``...) are dropped. smplx, which itself calls
``np.load(allow_pickle=True)``, only ever reads a copy SignForge wrote from those plain
arrays into a private temporary folder, never the user's or the cache's file.
Imports torch and smplx when a body is loaded, not on import (commands that only check
their options stay fast); never bpy.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from blender_addon.core.errors import SignForgeError

from ..atomic import atomic_path
from .mannequin import MANNEQUIN_VERSION, build_model_arrays
from .skeleton import NUM_JOINTS

if TYPE_CHECKING:   # annotations only: torch loads with the first body (see the docstring)
    import torch

ENV_SMPLX = "SIGNFORGE_SMPLX"
ENV_CACHE = "SIGNFORGE_CACHE"
MODEL_FILE = "SMPLX_NEUTRAL.npz"
REQUIRED_KEYS = ("v_template", "f", "weights", "J_regressor", "kintree_table", "shapedirs",
                 "posedirs", "hands_componentsl", "hands_componentsr", "hands_meanl",
                 "hands_meanr", "lmk_faces_idx", "lmk_bary_coords")
NUM_BETAS = 10
MAX_MODEL_BYTES = 2 << 30     # the official SMPL-X .npz files are ~0.1-1 GB
MAX_VERTICES = 1_000_000
# A compact file's stand-in for all-zero pose blend shapes: their (V, 3, P) shape (see ``compact_arrays``)
ZERO_POSEDIRS = "signforge_zero_posedirs_shape"


class BodyModelError(SignForgeError, ValueError):
    """The SMPL-X model file cannot be used; the message names the file and the reason."""


def cache_dir() -> Path:
    """SignForge's cache folder; created owner-only (0700) when SignForge makes it."""
    root = os.environ.get(ENV_CACHE) or os.path.join(os.path.expanduser("~"), ".cache", "signforge")
    path = Path(root)
    if not path.exists():
        with contextlib.suppress(OSError):   # unwritable: the write that needs it says so
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


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


def read_model_arrays(p: Path) -> dict[str, np.ndarray]:
    """Every plain array of an SMPL-X ``.npz``, read without pickle and validated.

    Optional pickled entries (the official release's ``joint2num``...) are dropped; a
    required one, a non-finite value, or shapes that do not make an SMPL-X body are refused
    with ``BodyModelError`` naming the file and the entry.
    """
    if p.is_file() and p.stat().st_size > MAX_MODEL_BYTES:
        raise BodyModelError(f"{p}: {p.stat().st_size / 2**20:.0f} MB is over the "
                             f"{MAX_MODEL_BYTES / 2**20:.0f} MB limit for an SMPL-X model file")
    try:
        archive = np.load(p, allow_pickle=False)
    except Exception as exc:  # not a zip, truncated, a pickle...
        raise BodyModelError(f"{p}: not a readable .npz file ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise BodyModelError(f"{p}: a single .npy array, not an SMPL-X .npz archive")
    with archive:
        zero = ZERO_POSEDIRS in archive.files and "posedirs" not in archive.files
        missing = [k for k in REQUIRED_KEYS if k not in archive.files and not (k == "posedirs" and zero)]
        if missing:
            raise BodyModelError(f"{p}: not an SMPL-X model, missing {', '.join(missing)}")
        plain = {}
        for key in archive.files:
            try:
                plain[key] = archive[key]
            except ValueError:  # object array: would need pickle
                if key in REQUIRED_KEYS:
                    raise BodyModelError(f"{p}: entry {key!r} needs pickle to load") from None
            except Exception as exc:  # a damaged member
                raise BodyModelError(f"{p}: entry {key!r} cannot be read ({exc})") from None
    if zero:
        plain["posedirs"] = _zero_posedirs(p, plain.pop(ZERO_POSEDIRS))
    plain.pop(ZERO_POSEDIRS, None)
    _check_model_arrays(p, plain)
    return plain


def _zero_posedirs(p: Path, shape: np.ndarray) -> np.ndarray:
    """The all-zero pose blend shapes a compact file records by their shape alone."""
    dims = tuple(int(n) for n in np.asarray(shape).reshape(-1)) if np.asarray(shape).dtype.kind in "iu" else ()
    if len(dims) != 3 or min(dims) < 1 or dims[0] > MAX_VERTICES or dims[1] != 3 or dims[2] > 9 * 1000:
        raise BodyModelError(f"{p}: entry {ZERO_POSEDIRS!r} is not a (V, 3, P) shape")
    return np.zeros(dims, np.float32)   # calloc'd: no page is written until something writes it


def compact_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``arrays`` to save, with all-zero pose blend shapes (the mannequin's: 93 MB of them)
    recorded by their shape alone; ``read_model_arrays`` restores them."""
    if arrays["posedirs"].any():
        return arrays
    out = {k: v for k, v in arrays.items() if k != "posedirs"}
    out[ZERO_POSEDIRS] = np.array(arrays["posedirs"].shape, np.int64)
    return out


def _check_model_arrays(p: Path, a: dict[str, np.ndarray]) -> None:
    """Shapes, finiteness and the joint tree of an SMPL-X body, checked once at load."""
    def bad(key: str, why: str) -> BodyModelError:
        return BodyModelError(f"{p}: entry {key!r} {why}")

    for key in REQUIRED_KEYS:
        v = a[key]
        if v.dtype.kind not in "fiub":
            raise bad(key, f"has dtype {v.dtype}, expected numbers")
        if v.dtype.kind == "f" and not np.isfinite(v).all():
            raise bad(key, "holds non-finite values (NaN or infinity)")
    verts = a["v_template"]
    if verts.ndim != 2 or verts.shape[1] != 3 or not 0 < len(verts) <= MAX_VERTICES:
        raise bad("v_template", f"has shape {verts.shape}, expected (V, 3) with V up to {MAX_VERTICES}")
    n_verts = len(verts)
    faces = a["f"]
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype.kind not in "iu" or len(faces) == 0:
        raise bad("f", f"has shape {faces.shape} and dtype {faces.dtype}, expected (F, 3) integers")
    if faces.min() < 0 or faces.max() >= n_verts:
        raise bad("f", f"names vertices outside 0..{n_verts - 1}")
    regressor = a["J_regressor"]
    if regressor.ndim != 2 or regressor.shape[1] != n_verts or regressor.shape[0] < NUM_JOINTS:
        raise bad("J_regressor", f"has shape {regressor.shape}, expected (J >= {NUM_JOINTS}, {n_verts})")
    n_joints = regressor.shape[0]
    if a["weights"].shape != (n_verts, n_joints):
        raise bad("weights", f"has shape {a['weights'].shape}, expected {(n_verts, n_joints)}")
    tree = a["kintree_table"]
    if tree.ndim != 2 or tree.shape != (2, n_joints):
        raise bad("kintree_table", f"has shape {tree.shape}, expected {(2, n_joints)}")
    parents = tree[0].astype(np.int64)
    if not all(0 <= parents[i] < i for i in range(1, n_joints)):
        raise bad("kintree_table", "is not a joint tree (every joint's parent must come before it)")
    shapedirs = a["shapedirs"]
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (n_verts, 3) or shapedirs.shape[2] < 2 * NUM_BETAS:
        raise bad("shapedirs", f"has shape {shapedirs.shape}, expected ({n_verts}, 3, >= {2 * NUM_BETAS})")
    posedirs = a["posedirs"]
    if posedirs.shape[0] != n_verts or posedirs.size != n_verts * 3 * (n_joints - 1) * 9:
        raise bad("posedirs", f"has shape {posedirs.shape}, expected ({n_verts}, 3, {(n_joints - 1) * 9})")
    for side in "lr":
        if a[f"hands_components{side}"].shape != (45, 45) or a[f"hands_mean{side}"].size != 45:
            raise bad(f"hands_components{side}", "or its hand mean does not describe 15 hand joints")
    lmk = a["lmk_faces_idx"]
    if lmk.dtype.kind not in "iu" or (lmk.size and (lmk.min() < 0 or lmk.max() >= len(faces))):
        raise bad("lmk_faces_idx", f"names faces outside 0..{len(faces) - 1}")
    if a["lmk_bary_coords"].shape != lmk.shape + (3,):
        raise bad("lmk_bary_coords", f"has shape {a['lmk_bary_coords'].shape}, expected {lmk.shape + (3,)}")


def mannequin_arrays() -> dict[str, np.ndarray]:
    """The mannequin's arrays: read back from the cache folder, built and cached on a miss.

    The cache is read like any user file (no pickle, validated), so a file planted there
    cannot run code; one that is damaged or stale is rebuilt.
    """
    target = cache_dir() / f"mannequin-v{MANNEQUIN_VERSION}" / "smplx" / MODEL_FILE
    if target.is_file():
        try:
            with np.load(target, allow_pickle=False) as archive:
                compact = ZERO_POSEDIRS in archive.files
            arrays = read_model_arrays(target)
            if int(arrays.get("signforge_mannequin_version", -1)) == MANNEQUIN_VERSION:
                if not compact:   # a cache from before the compact form: rewritten once
                    _save_cache(target, arrays)
                return arrays
        except (BodyModelError, TypeError, ValueError, OSError):
            pass
    arrays = build_model_arrays()
    _save_cache(target, arrays)
    return arrays


def _save_cache(target: Path, arrays: dict[str, np.ndarray]) -> None:
    """The mannequin's cache file, compact (its zero pose blend shapes cost 0.5 s to inflate)."""
    try:
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **compact_arrays(arrays))
    except OSError:   # a read-only cache costs a rebuild next time, nothing more
        pass


def create_smplx(model_file: Path | None, batch_size: int = 1):
    """An ``smplx.SMPLX`` with SignForge's settings: full hand poses, flat-hand mean.

    smplx opens its model file with ``np.load(allow_pickle=True)``, so it is never handed
    a file SignForge did not write: the arrays, read without pickle and validated, are
    saved into a private (0700) temporary folder that smplx reads and that is then removed.
    """
    import smplx
    import torch

    arrays = mannequin_arrays() if model_file is None else read_model_arrays(model_file)
    # smplx prints warnings to stdout, which must stay clean for the JSON-lines server.
    # For the mannequin they only say it has 10 shape and 10 expression directions.
    printed = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="signforge-smplx-") as private:
        folder = Path(private) / "smplx"
        folder.mkdir(mode=0o700)
        # All-zero pose blend shapes (the mannequin's, 93 MB) would be written, read back and
        # copied for nothing: smplx gets one column of them, and the zeros are set after.
        posedirs = arrays["posedirs"]
        zero = not posedirs.any()
        with open(folder / MODEL_FILE, "wb") as fh:
            np.savez(fh, **{**arrays, "posedirs": posedirs[..., :1] if zero else posedirs})
        with contextlib.redirect_stdout(printed):
            model = smplx.create(private, model_type="smplx", gender="neutral",
                                use_pca=False, flat_hand_mean=True, num_betas=NUM_BETAS,
                                num_expression_coeffs=10, use_face_contour=False,
                                batch_size=batch_size)
        if zero:   # smplx's layout: (P, V * 3), the basis flattened and transposed
            model.posedirs = torch.zeros(posedirs.shape[2], posedirs.shape[0] * 3, dtype=model.posedirs.dtype)
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
        import torch

        b = np.zeros(NUM_BETAS, np.float32)
        if betas is not None:
            betas = np.asarray(betas, np.float32).reshape(-1)[:NUM_BETAS]
            b[: len(betas)] = betas
        return torch.from_numpy(b)[None]

    def rest_vertices(self, betas=None) -> np.ndarray:
        import torch

        with torch.no_grad():
            shaped = self.model.v_template + torch.einsum(
                "bl,vkl->bvk", self._betas(betas), self.model.shapedirs)[0]
        return shaped.numpy()

    def rest_joints(self, betas=None) -> np.ndarray:
        """Rest skeleton (55, 3) for these betas."""
        import torch

        with torch.no_grad():
            verts = torch.from_numpy(self.rest_vertices(betas))
            return (self.model.J_regressor @ verts)[:NUM_JOINTS].numpy()

    def pose(self, motion, chunk: int = 256) -> PosedBody:
        """Skinned vertices and joints for every frame of ``motion``."""
        import torch

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


def rest_pelvis(betas=None, smplx_path: str | os.PathLike | None = None) -> np.ndarray:
    """The pelvis joint J0 (3,) at rest for ``betas`` on the body ``Body.load(smplx_path)``
    would load, from the model's arrays alone (numpy; no torch). SMPL-X turns a motion's root
    about J0, so turning its world (``blender_addon.core.motion.turn_up``) needs it:
    J0 = J_regressor[0] @ (v_template + shapedirs[..., :10] @ betas)."""
    model_file = resolve_model_file(smplx_path)
    stamp = (None, 0, 0) if model_file is None else (str(model_file.resolve()), model_file.stat().st_mtime_ns,
                                                     model_file.stat().st_size)
    j0, dirs = _pelvis_terms(*stamp)
    b = np.zeros(NUM_BETAS)
    if betas is not None:
        given = np.asarray(betas, np.float64).reshape(-1)[:NUM_BETAS]
        b[:len(given)] = given
    return j0 + dirs @ b


@lru_cache(maxsize=4)
def _pelvis_terms(model_file: str | None, mtime_ns: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """J0 of the template and its (3, 10) shape directions for one model file (None: the
    mannequin), cached by the file's path, time and size: reading a model costs ~0.5 s."""
    a = mannequin_arrays() if model_file is None else read_model_arrays(Path(model_file))
    row = a["J_regressor"][0].astype(np.float64)
    return row @ a["v_template"], np.einsum("v,vkl->kl", row, a["shapedirs"][..., :NUM_BETAS].astype(np.float64))
