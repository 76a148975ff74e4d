"""Files and batches are written whole or not at all, and what a killed writer leaves is swept."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from backend.atomic import TMP_PREFIX, atomic_batch, atomic_path, sweep


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_a_failed_batch_leaves_nothing(tmp_path):
    out = tmp_path / "takes"
    with pytest.raises(RuntimeError):
        with atomic_batch(out) as tmp:
            (tmp / "a.npz").write_bytes(b"1")
            raise RuntimeError("killed halfway")
    assert not out.exists() and not list(tmp_path.glob(f"{TMP_PREFIX}*"))


def test_a_batch_lands_whole_in_a_new_or_existing_folder(tmp_path):
    out = tmp_path / "takes"
    with atomic_batch(out) as tmp:
        for i in range(3):
            (tmp / f"{i}.npz").write_bytes(b"x")
    assert sorted(p.name for p in out.iterdir()) == ["0.npz", "1.npz", "2.npz"]
    (out / "mine.txt").write_text("the user's")
    with atomic_batch(out) as tmp:
        (tmp / "3.npz").write_bytes(b"y")
    assert sorted(p.name for p in out.iterdir()) == ["0.npz", "1.npz", "2.npz", "3.npz", "mine.txt"]
    assert (out / "mine.txt").read_text() == "the user's"


def test_temporaries_of_dead_writers_are_swept_live_ones_kept(tmp_path):
    dead = tmp_path / f"{TMP_PREFIX}{_dead_pid()}-abcd1234-take.npz"
    dead.write_bytes(b"partial")
    dead_dir = tmp_path / f"{TMP_PREFIX}{_dead_pid()}-efgh5678-takes"
    (dead_dir / "sub").mkdir(parents=True)
    live = tmp_path / f"{TMP_PREFIX}{os.getpid()}-ijkl9012-other.npz"
    live.write_bytes(b"being written")
    user = tmp_path / ".take.npz"
    user.write_bytes(b"a user's hidden file")
    with atomic_path(tmp_path / "take.npz") as tmp:
        assert tmp.name.startswith(f"{TMP_PREFIX}{os.getpid()}-") and tmp.name.endswith("-take.npz")
        tmp.write_bytes(b"done")
    assert not dead.exists() and not dead_dir.exists()
    assert live.exists() and user.exists() and (tmp_path / "take.npz").read_bytes() == b"done"
    assert sweep(tmp_path) == []


def test_the_addons_temp_folder_must_be_this_users_private_one(tmp_path, monkeypatch):
    """On a shared /tmp another user could make ``signforge-<uid>`` first: it is refused, not used."""
    import tempfile

    from blender_addon.core import scratch

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    root = scratch.root()
    assert root.parent == tmp_path and (root.stat().st_mode & 0o777) == 0o700
    assert scratch.session_folder().parent == root
    if os.name == "posix":
        root.chmod(0o755)
        with pytest.raises(OSError, match="not a private folder"):
            scratch.root()
