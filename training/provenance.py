"""What a run was made from: ``RUN/provenance.json``.

Every start and every resume of a run appends one session: the step it started at, the
SignForge git commit (and whether the tree had uncommitted changes), the dataset's content
hash, the versions of the packages training depends on, the world size, each rank's device
and the precision. Nothing in it names a path or a machine of the trainer's. torch; never bpy.
"""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from backend.atomic import atomic_path
from backend.runs import sha256

PROVENANCE = "provenance.json"
PACKAGES = ("signforge", "torch", "numpy", "safetensors", "sentence-transformers", "transformers", "open_clip_torch")
REPO = Path(__file__).resolve().parents[1]


def git_commit(repo: Path = REPO) -> dict:
    """{"commit": HEAD or None, "dirty": uncommitted changes to tracked files (None if unknown)}."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def dataset_hash(root: str | Path) -> dict:
    """The sha256 of the dataset's own files (dataset.json, stats.npz, every shard), by name and
    content, in name order; derived caches (text embeddings) are not part of it."""
    root = Path(root)
    files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    h = hashlib.sha256()
    for p in files:
        h.update(f"{p.name}\0{sha256(p)}\n".encode())
    return {"sha256": h.hexdigest(), "files": len(files), "bytes": sum(p.stat().st_size for p in files)}


def packages() -> dict:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        import torch

        found["cuda"] = torch.version.cuda
    except ImportError:
        pass
    return found


def session(step: int, data: str | Path, world: int, devices: list[str], precision: str,
            resumed: bool) -> dict:
    return {"started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "step": step, "resumed": resumed,
            "git": git_commit(), "dataset": dataset_hash(data), "packages": packages(), "world_size": world,
            "devices": devices, "precision": precision, "platform": sys.platform}


def record(out: str | Path, entry: dict) -> Path:
    """Append ``entry`` to ``out``'s provenance.json (a list of sessions)."""
    path = Path(out) / PROVENANCE
    sessions = []
    if path.is_file():
        try:
            sessions = json.loads(path.read_text())["sessions"]
        except (OSError, ValueError, KeyError, TypeError):
            sessions = []   # a damaged record is replaced, never fatal to training
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"sessions": sessions + [entry]}, indent=1))
    return path
