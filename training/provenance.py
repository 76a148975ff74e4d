"""What a run was made from: ``RUN/provenance.json``.

Every start and every resume of a run appends one session: the step it started at, the
SignForge git commit (and whether the tree had uncommitted changes), the dataset's content
hash, the versions of the packages training depends on, the world size, each rank's device
and the precision. Nothing in it names a path or a machine of the trainer's.

The hash reads the whole dataset (a 1.3M-pair dataset is on the order of 100 GB), so
``Session`` computes it in a thread beside training and fills it in when done: the other
ranks never wait on it (NCCL gives up on a rank after 10 minutes). torch; never bpy.
"""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
import threading
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


class Session:
    """This start of a run in ``out``'s provenance.json: recorded at once, with the dataset's
    hash added by a background thread when it has read every file (``finish`` waits for it)."""

    def __init__(self, out: str | Path, step: int, data: str | Path, world: int, devices: list[str],
                 precision: str, resumed: bool):
        self.path = Path(out) / PROVENANCE
        entry = {"started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "step": step,
                 "resumed": resumed, "git": git_commit(), "dataset": {"sha256": None, "state": "hashing"},
                 "packages": packages(), "world_size": world, "devices": devices, "precision": precision,
                 "platform": sys.platform}
        sessions = self._read()
        self.index = len(sessions)
        self._write(sessions + [entry])
        self.thread = threading.Thread(target=self._hash, args=(Path(data),), name="dataset-hash", daemon=True)
        self.thread.start()

    def _hash(self, data: Path) -> None:
        try:
            found = dataset_hash(data)
        except OSError as exc:
            found = {"sha256": None, "state": f"unreadable: {exc.strerror or exc}"}
        sessions = self._read()
        if self.index < len(sessions):
            sessions[self.index]["dataset"] = found
            self._write(sessions)

    def finish(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    def _read(self) -> list:
        if not self.path.is_file():
            return []
        try:
            return json.loads(self.path.read_text())["sessions"]
        except (OSError, ValueError, KeyError, TypeError):
            return []   # a damaged record is replaced, never fatal to training

    def _write(self, sessions: list) -> None:
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps({"sessions": sessions}, indent=1))
