"""Shared fixtures: a private cache folder and one mannequin body per test session.

The whole suite runs with the network blocked: ``netguard/sitecustomize.py`` is loaded
here and, through ``PYTHONPATH``, by every Python the tests start; an attempt to reach
another machine is logged and fails the session even when a library swallowed the error.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

NETGUARD = Path(__file__).resolve().parent / "netguard"
NETGUARD_LOG = Path(tempfile.mkdtemp(prefix="signforge-netguard-")) / "attempts.log"
os.environ["SIGNFORGE_NETGUARD_LOG"] = str(NETGUARD_LOG)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(NETGUARD), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])
sys.path.insert(0, str(NETGUARD))
import sitecustomize  # noqa: E402,F401  (the guard, for this process)

sys.path.remove(str(NETGUARD))

# bpy and torch share this process in the tests (never in use: the add-on runs the backend as
# its own process). Once Blender has rendered through EGL, Mesa's LLVM is loaded, and loading
# triton's own LLVM after it segfaults (open_clip -> torchvision -> torch._dynamo -> triton).
# Loaded first, both live; so triton loads here, before any test renders.
try:
    import triton  # noqa: E402,F401
except ImportError:
    pass


_FINISHED: dict[str, int] = {}


class SharedData(NamedTuple):
    """The shared data the tests read: ASL-LEX 2.0 and, beside it, the real clip and its .pose file."""
    lexicon: Path
    clip: Path
    pose: Path


def shared_data() -> SharedData:
    """Where the shared data is (found the way the lexicon is: ../shared/data or $SIGNFORGE_LEXICON)."""
    from backend.data.lexicon import resolve_lexicon_path

    lexicon = resolve_lexicon_path()
    video = lexicon.parent.parent / "video"
    return SharedData(lexicon, video / "test_video.mp4", video / "mediapipe.pose")


def pytest_sessionstart(session):
    """Where the shared data must be there (CI sets SIGNFORGE_REQUIRE_SHARED_DATA=1), a missing
    file fails the run at once, rather than its tests skipping quietly."""
    if os.environ.get("SIGNFORGE_REQUIRE_SHARED_DATA") == "1":
        missing = [str(p) for p in shared_data() if not p.exists()]
        if missing:
            pytest.exit(f"shared data not found (SIGNFORGE_REQUIRE_SHARED_DATA=1): {', '.join(missing)}", returncode=1)


def pytest_sessionfinish(session, exitstatus):
    attempts = NETGUARD_LOG.read_text(encoding="utf-8") if NETGUARD_LOG.exists() else ""
    if attempts:
        sys.stderr.write(f"\nnetwork access was attempted during the tests:\n{attempts}")
        session.exitstatus = 1
    _FINISHED["status"] = int(session.exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Leave without the interpreter's teardown once bpy was loaded: after the Blender tests,
    bpy 4.4's own module teardown never returns (every thread waits on a futex, no Python
    thread is left), which would hold ``make test`` until CI's time runs out. Everything
    pytest writes is out by now; the exit status is pytest's own."""
    if "bpy" in sys.modules and "status" in _FINISHED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_FINISHED["status"])


@pytest.fixture(scope="session", autouse=True)
def signforge_cache(tmp_path_factory):
    """Keep generated models out of the user's ~/.cache and independent of $SIGNFORGE_SMPLX."""
    cache = tmp_path_factory.mktemp("signforge-cache")
    old = {k: os.environ.get(k) for k in ("SIGNFORGE_CACHE", "SIGNFORGE_SMPLX")}
    os.environ["SIGNFORGE_CACHE"] = str(cache)
    os.environ.pop("SIGNFORGE_SMPLX", None)
    yield cache
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def body(signforge_cache):
    from backend.body.model import Body

    return Body.load()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def scene_timing(scene) -> tuple:
    """What an animator's scene timing is: fps, fps base, frame range and the playhead."""
    return scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end, scene.frame_current


def film_scene():
    """A fresh scene set up as a film animator's: 24 fps, frames 1001-1250, the playhead at 1100."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.0
    scene.frame_start, scene.frame_end = 1001, 1250
    scene.frame_set(1100)
    return scene


def default_sigint() -> None:
    """``preexec_fn`` for a child that must die of Ctrl-C: SIGINT back to its default, as a shell
    started in the background (``cmd &``, nohup, some CI runners) hands its children SIGINT
    ignored, and a Python started so keeps ignoring it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


REPO = Path(__file__).resolve().parents[1]
SERVER_LISTENING = re.compile(r"^SignForge backend listening on 127\.0\.0\.1:(\d+) ")


def server_env(**extra) -> dict:
    """This process's environment without a server token, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "SIGNFORGE_TOKEN"}
    env.update(extra)
    return env


def start_server(args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    """A real ``python -m backend.server ARGS`` process from the repository, stderr to ``log``,
    dying of Ctrl-C (``default_sigint``)."""
    reset = default_sigint if os.name == "posix" else None
    with open(log, "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "backend.server", *args], cwd=REPO,
                                env=env or server_env(), stdout=subprocess.PIPE, stderr=err,
                                stdin=subprocess.DEVNULL, preexec_fn=reset)


def listening_port(proc: subprocess.Popen, log: Path) -> int:
    """The port a ``--listen 127.0.0.1:0`` server says it listens on."""
    line = proc.stdout.readline().decode()
    match = SERVER_LISTENING.match(line)
    assert match, f"no listening line: {line!r}; log: {log.read_text()}"
    return int(match.group(1))


def stop_server(proc: subprocess.Popen) -> None:
    """Ctrl-C, then kill after 20 s."""
    import signal

    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class LayoutRecorder:
    """A stand-in for Blender's UILayout that records the names the panel draws (props,
    operators, lists) and checks each exists in bpy's real RNA."""

    def __init__(self, log):
        self.log, self.enabled, self.scale_y, self.alert = log, True, 1.0, False

    def _sub(self, *a, **kw):
        return LayoutRecorder(self.log)

    column = row = _sub

    def prop(self, data, name, **kw):
        assert name in data.bl_rna.properties, name
        self.log.append(name)

    def operator(self, idname, **kw):
        import bpy

        module, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, module), name), idname
        self.log.append(idname)
        return type("Props", (), {})()

    def template_list(self, list_id, _, data, prop, active_data, active_prop, **kw):
        import bpy

        assert hasattr(bpy.types, list_id) and prop in data.bl_rna.properties
        assert active_prop in active_data.bl_rna.properties
        self.log.append(list_id)

    def label(self, **kw):
        pass

    def separator(self, **kw):
        pass


def on_first_progress(act):
    """A thread that calls ``act(job)`` once the add-on's running job has reported progress."""
    import threading
    import time

    from blender_addon.blender import operators

    def watch():
        end = time.monotonic() + 60
        while time.monotonic() < end:
            job = operators._ACTIVE["job"]
            if job is not None and job.fraction > 0:
                act(job)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def body_data(body, betas=None):
    """The add-on's ``BodyData`` of the backend ``body`` shaped by ``betas``, as the backend's
    ``body`` request writes it, without a backend process."""
    from backend.body.skeleton import JOINT_NAMES, PARENTS
    from blender_addon.core.bodyfile import BodyData

    betas = np.zeros(10) if betas is None else betas
    return BodyData(vertices=body.rest_vertices(betas), faces=body.faces,
                    joints=body.rest_joints(betas).astype(np.float64), parents=np.array(PARENTS),
                    joint_names=tuple(JOINT_NAMES), weights=body.model.lbs_weights.numpy().astype(np.float32),
                    expressions=np.zeros((0, body.num_vertices, 3), np.float32), model="mannequin")


def random_motion(rng, frames=12, fps=25.0, scale=0.4, **kwargs):
    from backend.motion import Motion

    return Motion(rng.normal(size=(frames, 55, 3)) * scale, rng.normal(size=(frames, 3)) * 0.1,
                  rng.normal(size=(frames, 10)), fps, betas=rng.normal(size=10) * 0.5, **kwargs)


@pytest.fixture(scope="module")
def addon(signforge_cache):
    """The add-on registered from the repository, its backend a real subprocess of this Python.

    Registered from a folder (not installed) the add-on has no preferences entry, so the
    backend comes from the environment, as in batch jobs.
    """
    import bpy

    import blender_addon

    saved = {k: os.environ.get(k) for k in ("SIGNFORGE_BACKEND_PYTHON", "SIGNFORGE_BACKEND_MODE")}
    os.environ["SIGNFORGE_BACKEND_PYTHON"] = sys.executable
    os.environ["SIGNFORGE_BACKEND_MODE"] = "subprocess"
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    yield blender_addon
    blender_addon.unregister()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def write_video(path, frames, fps: float = 25.0):
    """``frames`` (BGR uint8 arrays of one size) as an mp4 at ``path``, through OpenCV."""
    import cv2

    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        out.write(f)
    out.release()
    return path
