"""No code runs from a file or folder it shouldn't: the cache, the working folder.

Each case plants code that would write a marker file if it ever ran, then drives the real
entry point (the ``signforge`` CLI, the add-on's subprocess backend, in-process choice) and
checks that the marker never appears and the real thing still works.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backend.body.mannequin import MANNEQUIN_VERSION, build_model_arrays
from backend.body.model import Body, BodyModelError, read_model_arrays
from blender_addon.core import client
from blender_addon.core.client import SubprocessBackend

REPO = Path(__file__).resolve().parents[1]
SIGNFORGE = [sys.executable, "-c", "from backend.cli import main; main()"]


class _Payload:
    """Unpickling this runs ``open(marker, "w")``: the proof that pickle code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _object_array(marker: Path) -> np.ndarray:
    arr = np.empty(1, dtype=object)
    arr[0] = _Payload(marker)
    return arr


def _plant_mannequin(cache: Path, write) -> Path:
    target = cache / f"mannequin-v{MANNEQUIN_VERSION}" / "smplx" / "SMPLX_NEUTRAL.npz"
    target.parent.mkdir(parents=True)
    write(target)
    return target


@pytest.mark.parametrize("kind", ["object entry", "bare pickle"])
def test_a_crafted_cached_mannequin_runs_no_code(tmp_path, kind):
    cache, marker = tmp_path / "cache", tmp_path / "PWNED"
    arrays = build_model_arrays()
    if kind == "object entry":   # a valid body plus one pickled extra that smplx used to unpickle
        _plant_mannequin(cache, lambda p: np.savez(p, evil=_object_array(marker), **arrays))
    else:                       # np.load(allow_pickle=True) unpickles a file that is not a zip
        _plant_mannequin(cache, lambda p: p.write_bytes(pickle.dumps(_Payload(marker))))
    env = {**os.environ, "SIGNFORGE_CACHE": str(cache)}
    env.pop("SIGNFORGE_SMPLX", None)
    run = subprocess.run([*SIGNFORGE, "body", "sites"], env=env, capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert not marker.exists(), f"pickled code from the cache ran ({kind})"
    assert run.returncode == 0, run.stderr
    assert "right_palm" in run.stdout or "palm" in run.stdout


def test_a_users_model_with_a_pickled_payload_runs_no_code(tmp_path):
    marker = tmp_path / "PWNED"
    target = tmp_path / "SMPLX_NEUTRAL.npz"
    np.savez(target, joint2num=_object_array(marker), **build_model_arrays())
    before = target.read_bytes()
    body = Body.load(target)
    assert body.num_vertices > 0
    assert not marker.exists()
    assert target.read_bytes() == before   # the user's file is untouched
    pickled = tmp_path / "pickled" / "SMPLX_NEUTRAL.npz"
    pickled.parent.mkdir()
    pickled.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(BodyModelError, match="not a readable .npz"):
        Body.load(pickled)
    assert not marker.exists()


def test_cache_folder_is_created_owner_only(tmp_path, monkeypatch):
    cache = tmp_path / "fresh-cache"
    monkeypatch.setenv("SIGNFORGE_CACHE", str(cache))
    Body.load()
    assert cache.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("entry,value,why", [
    ("v_template", "nan", "non-finite"),
    ("f", "out of range", "outside"),
    ("kintree_table", "cycle", "joint tree"),
    ("weights", "shape", "shape"),
])
def test_a_broken_body_model_is_refused_at_load(tmp_path, entry, value, why):
    arrays = build_model_arrays()
    if value == "nan":
        arrays[entry] = arrays[entry].copy()
        arrays[entry][3, 1] = np.nan
    elif value == "out of range":
        arrays[entry] = arrays[entry].copy()
        arrays[entry][0, 0] = len(arrays["v_template"]) + 5
    elif value == "cycle":
        arrays[entry] = arrays[entry].copy()
        arrays[entry][0, 5] = 7
    else:
        arrays[entry] = arrays[entry][:, :10]
    target = tmp_path / "SMPLX_NEUTRAL.npz"
    np.savez(target, **arrays)
    with pytest.raises(BodyModelError, match=why) as err:
        read_model_arrays(target)
    assert str(target) in str(err.value) and entry in str(err.value)


def _hostile_folder(tmp_path: Path) -> tuple[Path, Path]:
    """A working folder holding a ``backend/`` package whose import writes a marker."""
    folder, marker = tmp_path / "Downloads", tmp_path / "HIJACKED"
    (folder / "backend").mkdir(parents=True)
    code = f"open({str(marker)!r}, 'w').close()\n"
    (folder / "backend" / "__init__.py").write_text(code)
    (folder / "backend" / "server.py").write_text(code)
    return folder, marker


def test_the_subprocess_backend_never_imports_from_the_working_folder(tmp_path, monkeypatch):
    folder, marker = _hostile_folder(tmp_path)
    monkeypatch.chdir(folder)            # Blender started from a folder holding backend/
    monkeypatch.setenv("PYTHONPATH", str(folder))   # and a PYTHONPATH naming it
    backend = SubprocessBackend(sys.executable)   # as make_backend builds it: no cwd given
    try:
        end = backend.wait(backend.submit("ping"), timeout=120)
    finally:
        backend.close()
    assert end["type"] == "result", end
    assert not marker.exists(), "a backend/ package in the working folder was imported"
    assert backend.cwd != folder


def test_the_working_folder_is_never_the_servers(tmp_path):
    python = tmp_path / "env" / "bin" / "python"
    python.parent.mkdir(parents=True)
    assert client.safe_working_folder(python) == tmp_path / "env"
    assert client.safe_working_folder(REPO / ".venv" / "bin" / "python") == REPO


def test_in_process_refuses_a_backend_shadowed_by_the_working_folder(tmp_path):
    folder, marker = _hostile_folder(tmp_path)
    # `python -c` puts the working folder first on sys.path, as a bpy script run from it would
    probe = (
        "from pathlib import Path\n"
        "from blender_addon.core import client\n"
        "print('shadow', client.shadowing_backend())\n"
        "for attempt in (lambda: client.choose_backend('', Path('.'), mode='in_process'),\n"
        "                lambda: client.InProcessBackend().start()):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('started')\n"
        "    except client.BackendError as exc:\n"
        "        print('refused', exc)\n")
    run = subprocess.run([sys.executable, "-c", probe], cwd=folder, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"shadow {(folder / 'backend').resolve()}"
    assert [line.split()[0] for line in lines[1:]] == ["refused", "refused"]
    assert "working folder" in lines[1]
    assert not marker.exists(), "a backend/ package in the working folder was imported in process"
    elsewhere = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                               text=True, timeout=120)
    assert elsewhere.stdout.splitlines()[0] == "shadow None"
