"""Run folders: the one place that writes and reads what ``signforge train`` leaves behind.

A run folder describes itself: ``config.json`` (``format_version``, the resolved run and
model configs, the word list, the text encoder), ``weights.safetensors`` and ``stats.npz``
(the normalization the weights expect). No file is a pickle. ``load_run(dir)`` builds any
kind (HandMDM, SignAvatar, THMR, ST-GCN) from the folder alone; shipped runs
(``backend/weights/``) are first checked against the sha256 sums in ``MANIFEST.json``.
A folder that is missing, damaged, of another format version or of the wrong kind is a
``RunError`` whose message is one line naming the file. torch only inside the functions
that load or save weights; never bpy.
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

from .atomic import atomic_path
from blender_addon.core.errors import SignForgeError

if TYPE_CHECKING:
    from torch import nn

FORMAT_VERSION = 1   # what config.json's "format_version" says; the shipped runs are format 1
CONFIG, WEIGHTS_FILE, STATS = "config.json", "weights.safetensors", "stats.npz"
RUN_FILES = (CONFIG, WEIGHTS_FILE, STATS)   # all that loading needs (and all that ships)
KINDS = {"handmdm": "HandMDM", "signavatar": "SignAvatar", "thmr": "THMR", "stgcn": "ST-GCN"}
WEIGHTS = Path(__file__).parent / "weights"
MANIFEST = WEIGHTS / "MANIFEST.json"
# what loads when no run is named: HandMDM's 4x256 base (75k signs, kinematic losses, a length
# head); the earlier handmdm-small still ships beside it for comparison (--run)
SHIPPED = {**{kind: WEIGHTS / f"{kind}-small" for kind in KINDS}, "handmdm": WEIGHTS / "handmdm-base"}


class RunError(SignForgeError, ValueError):
    """A run folder that cannot be used; the message is one line that names the file and why."""


@dataclass
class Run:
    """A loaded run: its model (in eval mode), the config.json it came from and its statistics."""
    kind: str
    model: nn.Module
    config: dict
    mean: np.ndarray
    std: np.ndarray
    path: Path


def _line(exc: BaseException, limit: int = 300) -> str:
    """An exception's text on one line (state-dict and zip errors span several)."""
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    return text if len(text) <= limit else text[:limit] + "..."


def sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_manifest(run_dir: str | os.PathLike, manifest: str | os.PathLike = MANIFEST) -> None:
    """Check ``run_dir``'s files listed in ``manifest`` against their sha256 sums; a folder the
    manifest does not list (any run of the user's own) passes."""
    run_dir, manifest = Path(run_dir), Path(manifest)
    if not manifest.exists():
        return
    try:
        sums = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise RunError(f"{manifest} cannot be read ({_line(exc)}); reinstall SignForge") from None
    for rel, digest in sums.items():
        path = manifest.parent / rel
        if path.parent.resolve() != run_dir.resolve():
            continue
        if not path.exists():
            raise RunError(f"{path} is listed in {manifest} but missing; reinstall SignForge")
        if sha256(path) != digest:
            raise RunError(f"{path} does not match its sha256 in {manifest}: the file is damaged or altered")


def read_config(run_dir: str | os.PathLike, kinds: Iterable[str] | None = None,
                manifest: str | os.PathLike = MANIFEST) -> dict:
    """``run_dir``'s config.json, after the ``manifest`` check, with its format version and model
    kind checked (one of ``kinds`` when given)."""
    run_dir = Path(run_dir)
    path = run_dir / CONFIG
    if not path.is_file():
        raise RunError(f"{run_dir} is not a SignForge run folder (no {CONFIG})")
    verify_manifest(run_dir, manifest)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(f"{path} cannot be read: {_line(exc)}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("run"), dict) or not isinstance(meta.get("model"), dict):
        raise RunError(f"{path} is not a run config (it needs format_version, run and model)")
    version = meta.get("format_version")
    if type(version) is not int:
        raise RunError(f"{path} has no run format version; it was not written by signforge train")
    if version != FORMAT_VERSION:
        newer = "update SignForge to load it" if version > FORMAT_VERSION else "retrain it with this SignForge"
        raise RunError(f"{path} is run format {version}; this SignForge reads format {FORMAT_VERSION} ({newer})")
    kind = meta["run"].get("model")
    if not isinstance(kind, str) or kind not in KINDS:
        raise RunError(f"{path} names model {kind!r}; SignForge runs are {', '.join(KINDS)}")
    if kinds is not None and kind not in tuple(kinds):
        wanted = " or ".join(KINDS[k] for k in kinds)
        raise RunError(f"{run_dir} holds a run of {KINDS[kind]}; this needs {wanted}")
    return meta


def longest_take(meta: dict) -> int:
    """The longest take, in 25 fps frames, a HandMDM or SignAvatar run's config.json allows,
    without torch (a client asks before anything loads): ``HandMDMConfig.longest`` (its window,
    in 25 fps frames), SignAvatar's ``max_frames``, with the configs' defaults for fields older
    runs lack. HandMDM could sample past its window (``sample_windows``), but with one prompt
    the later windows drift into other signs (an 8 s "waves" grew a two-handed sign at 2 s), so
    takes stay within the window until sentences give each window its own text."""
    fields = meta["model"]
    max_frames = int(fields.get("max_frames", 196))
    if meta["run"]["model"] == "handmdm":
        return (max_frames - 1) * int(fields.get("frame_step", 1)) + 1
    return max_frames


def build_model(kind: str, fields: dict) -> nn.Module:
    """A fresh model of ``kind`` from config.json's ``model`` fields."""
    from . import models as M

    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}   # JSON has no tuples
    if kind == "stgcn":
        fields.setdefault("input_eps", 1e-5)   # runs from before the variance floor trained with 1e-5
    classes = {"handmdm": (M.HandMDM, M.HandMDMConfig), "signavatar": (M.SignAvatar, M.SignAvatarConfig),
               "thmr": (M.THMR, M.THMRConfig), "stgcn": (M.STGCN, M.STGCNConfig)}
    model_cls, config_cls = classes[kind]
    try:
        return model_cls(config_cls(**fields))
    except (TypeError, ValueError) as exc:   # a field this version lacks, or a value it refuses
        raise RunError(f"the {KINDS[kind]} config in {CONFIG} does not fit this SignForge: {_line(exc)}") from None


def load_weights(model: nn.Module, run_dir: str | os.PathLike) -> None:
    """``run_dir``'s weights.safetensors into ``model`` (safetensors only: no pickle is ever read)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(run_dir) / WEIGHTS_FILE
    try:
        model.load_state_dict(load_file(str(path)))
    except (OSError, RuntimeError, SafetensorError) as exc:   # missing, truncated or of another model
        raise RunError(f"{path} cannot be loaded: {_line(exc)}") from None


def load_stats(run_dir: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """The (mean, std) the weights expect, as float32."""
    path = Path(run_dir) / STATS
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["mean"].astype(np.float32), z["std"].astype(np.float32)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise RunError(f"{path} cannot be loaded: {_line(exc)}") from None


def load_run(run_dir: str | os.PathLike, kinds: Iterable[str] | None = None,
             manifest: str | os.PathLike = MANIFEST) -> Run:
    """Any run folder from ``signforge train`` (or ``backend/weights/``), from the folder alone;
    ``kinds`` limits what it may hold, ``manifest`` lists the sha256 sums of shipped files."""
    run_dir = Path(run_dir)
    meta = read_config(run_dir, kinds, manifest)
    kind = meta["run"]["model"]
    model = build_model(kind, meta["model"])
    load_weights(model, run_dir)
    mean, std = load_stats(run_dir)
    return Run(kind, model.eval(), meta, mean, std, run_dir)


def write_config(run_dir: str | os.PathLike, run: dict, model: dict, words: list[str], text_encoder: str) -> None:
    """config.json, stamped with this SignForge's ``FORMAT_VERSION``."""
    meta = {"format_version": FORMAT_VERSION, "run": run, "model": model, "words": words,
            "text_encoder": text_encoder}
    with atomic_path(Path(run_dir) / CONFIG) as tmp:
        tmp.write_text(json.dumps(meta, indent=1))


def write_stats(run_dir: str | os.PathLike, mean: np.ndarray, std: np.ndarray) -> None:
    with atomic_path(Path(run_dir) / STATS) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, mean=mean, std=std)


def write_weights(run_dir: str | os.PathLike, model: nn.Module) -> None:
    from safetensors.torch import save_file

    with atomic_path(Path(run_dir) / WEIGHTS_FILE) as tmp:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
