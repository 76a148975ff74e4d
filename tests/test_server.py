"""The backend server through its client: a real ``python -m backend.server`` process, and in process.

One server per module keeps the cost of loading torch and the model to once; tests that
kill or stop a server start their own.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from backend.io import load_motion, save_motion
from blender_addon.core import protocol as P
from blender_addon.core.client import (BackendError, InProcessBackend, SubprocessBackend, find_python,
                                       make_backend)
from conftest import random_motion

REPO = Path(__file__).resolve().parents[1]
SMALL = {"frames": 20, "steps": 5}


@pytest.fixture(scope="module")
def backend(signforge_cache):
    b = SubprocessBackend(sys.executable, cwd=REPO)
    yield b
    b.close()


def run_all(backend, ids: list[int], timeout: float = 60.0) -> list[dict]:
    """Every message until each of ``ids`` has ended (in arrival order)."""
    out, open_ids = [], set(ids)
    deadline = time.monotonic() + timeout
    while open_ids:
        for msg in backend.poll():
            out.append(msg)
            if P.is_terminal(msg):
                open_ids.discard(msg.get("id"))
        assert time.monotonic() < deadline, f"no answer for {open_ids}; log: {list(backend.log_lines)[-5:]}"
        time.sleep(0.005)
    return out


def first_progress(backend, req_id: int, timeout: float = 30.0) -> list[dict]:
    seen, deadline = [], time.monotonic() + timeout
    while not any(m.get("id") == req_id and m["type"] == "progress" for m in seen):
        seen += backend.poll()
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.002)
    return seen


def test_handshake_and_capabilities(backend):
    backend.start()
    assert backend.alive and backend.server.startswith("signforge ")
    assert backend.capabilities == ["ping", "info", "generate", "body", "load_motion", "save_motion",
                                    "reconstruct", "sentence", "edit", "shutdown"]
    assert backend.wait(backend.submit("ping"), timeout=10) == P.result(1, {"pong": True})


def test_generate_writes_a_motion_with_progress_and_one_terminal(backend, tmp_path):
    # refine 1 (no plan) visits every one of the steps asked for; a planned take visits fewer
    gen = backend.submit("generate", {"prompt": "thank you", "seed": 3, "out_dir": str(tmp_path / "out"),
                                      "refine": 1.0, **SMALL})
    ping = backend.submit("ping")   # queued behind: generation's messages all come before its answer
    messages = run_all(backend, [gen, ping])
    mine = [m for m in messages if m.get("id") == gen]
    assert [m["type"] for m in mine[:-1]] == ["progress"] * (len(mine) - 1) and len(mine) >= 1 + SMALL["steps"]
    fractions = [m["fraction"] for m in mine[:-1]]
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] <= 1
    assert any("sampling step 5/5" in m["message"] for m in mine)
    end = mine[-1]
    assert end["type"] == "result", end
    assert end["result"]["fps"] == 25.0 and end["result"]["frames"] == 20
    (path,) = end["result"]["motions"]
    assert path == str(tmp_path / "out" / "thank-you-s3.npz") and Path(path).is_absolute()
    motion = load_motion(path)
    assert motion.num_frames == 20 and motion.text == "thank you"
    with np.load(path, allow_pickle=False) as z:
        assert all(np.isfinite(z[k]).all() for k in z.files if z[k].dtype.kind == "f")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["thank-you-s3.npz"]   # no temporary left


def test_info_reports_what_generate_accepts_before_anything_loads(backend, tmp_path):
    import json

    from backend.models.handmdm import HandMDMConfig
    from backend.runs import SHIPPED, longest_take

    ids = [backend.submit("info"), backend.submit("info", {"model": "signavatar"}),
           backend.submit("info", {"run": str(tmp_path)})]
    default, avatar, bad = (m for m in run_all(backend, ids) if P.is_terminal(m))
    meta = json.loads((SHIPPED["handmdm"] / "config.json").read_text())
    longest = longest_take(meta)
    assert longest == HandMDMConfig(**meta["model"]).longest == 101   # 12.5 fps: 51 model frames, 4 s
    assert default["result"] == {"model": "handmdm", "run": "handmdm-base", "fps": 25.0, "longest_frames": longest,
                                 "longest_s": longest / 25.0, "steps": [1, 100], "variants": 64, "images": False,
                                 "images_note": "HandMDM is conditioned on text, not images",
                                 "samplers": ["ddim", "ddpm"]}
    assert avatar["result"]["model"] == "signavatar" and not avatar["result"]["images"]
    assert avatar["result"]["samplers"] == []   # SignAvatar draws z ~ N(0, I): nothing to choose
    assert "CLIP" in avatar["result"]["images_note"]
    assert bad["type"] == "error" and bad["code"] == P.INVALID_PARAMS and "not a SignForge run folder" in bad["message"]


def test_info_longest_take_is_where_generate_refuses(backend, tmp_path):
    """The add-on refuses a Duration from info's number; the backend must refuse at the same one."""
    for model in ("handmdm", "signavatar"):
        longest = backend.wait(backend.submit("info", {"model": model}), timeout=30)["result"]["longest_frames"]
        gen = backend.wait(backend.submit("generate", {"prompt": "hi", "model": model, "frames": longest + 1,
                                                       "steps": 1, "out_dir": str(tmp_path / "o")}), timeout=120)
        assert gen["type"] == "error" and f"longest take, {longest} frames" in gen["message"], (model, gen)


def test_generate_says_it_loads_and_returns_the_prompts_warnings(backend, tmp_path):
    long_prompt = " ".join(["the right hand taps the chin"] * 100)   # 600 words: past MiniLM's 256 tokens
    ids = [backend.submit("generate", {"prompt": p, "out_dir": str(tmp_path), **SMALL, "steps": 2})
           for p in (long_prompt, "\U0001f600\U0001f44b\U0001f600")]
    messages = run_all(backend, ids, timeout=180)
    first = [m for m in messages if m.get("id") == ids[0]]
    assert first[0]["type"] == "progress" and first[0]["stage"] == P.STAGE_LOADING
    assert "loading the model" in first[0]["message"] or "preparing" in first[0]["message"]
    stages = [m.get("stage") for m in first[:-1]]
    assert stages.index("sampling") > stages.index(P.STAGE_LOADING)
    ends = {m["id"]: m for m in messages if P.is_terminal(m)}
    truncated, emoji = (ends[i]["result"]["warnings"] for i in ids)
    assert any("reads the first 256" in w for w in truncated), truncated
    assert any("knows none of the prompt's characters" in w for w in emoji), emoji


def test_cancel_a_running_and_a_queued_request(backend, tmp_path):
    out = tmp_path / "cancelled"
    gen = backend.submit("generate", {"prompt": "good morning", "frames": 60, "steps": 100, "refine": 1.0,
                                      "out_dir": str(out)})
    ping = backend.submit("ping")
    seen = first_progress(backend, gen)
    backend.cancel(ping)   # queued: ends at once, before the running request
    backend.cancel(gen)
    messages = seen + run_all(backend, [gen, ping])
    ends = {m["id"]: m for m in messages if P.is_terminal(m)}
    assert ends[ping] == P.error(ping, P.CANCELLED, "cancelled before it started")
    assert ends[gen]["code"] == P.CANCELLED
    assert messages.index(ends[ping]) < messages.index(ends[gen])
    steps = [m for m in messages if m.get("id") == gen and "sampling" in m.get("message", "")]
    assert len(steps) < 100
    assert not out.exists() or not any(out.iterdir())
    assert backend.wait(backend.submit("ping"), timeout=10)["result"] == {"pong": True}   # still serving


def test_sentence_request_writes_one_motion_with_its_spans_and_cancels_cleanly(backend, tmp_path):
    items = ["the right fist taps the chin twice", {"entry": "castle_2", "transition": 0.4}]
    req = backend.submit("sentence", {"items": items, "steps": 5, "out": str(tmp_path / "s.npz")})
    messages = run_all(backend, [req], timeout=120)
    end = messages[-1]
    assert end["type"] == "result", end
    stages = [m.get("stage") for m in messages if m["type"] == "progress"]
    assert stages[0] == P.STAGE_LOADING and "signs" in stages and "transitions" in stages
    spans = end["result"]["spans"]
    assert [s["kind"] for s in spans] == ["sign", "transition", "sign"] and spans[1]["end"] - spans[1]["start"] == 10
    motion = load_motion(end["result"]["path"])
    assert motion.num_frames == end["result"]["frames"] == spans[-1]["end"]
    out = tmp_path / "cancelled.npz"
    req = backend.submit("sentence", {"items": items * 3, "out": str(out)})
    seen = first_progress(backend, req)
    backend.cancel(req)
    ends = [m for m in seen + run_all(backend, [req]) if P.is_terminal(m)]
    assert ends[-1]["code"] == P.CANCELLED and not out.exists()
    bad = backend.wait(backend.submit("sentence", {"items": ["nosuch_9"], "out": str(tmp_path / "x.npz")}), timeout=60)
    assert bad["code"] == P.INVALID_PARAMS and "no dictionary entry 'nosuch_9'" in bad["message"]


def test_invalid_params_name_the_parameter(backend, tmp_path):
    cases = [
        ("generate", {"out_dir": str(tmp_path)}, P.INVALID_PARAMS, "'prompt'"),
        ("generate", {"prompt": "hi", "out_dir": str(tmp_path), "steps": "many"}, P.INVALID_PARAMS, "'steps'"),
        ("generate", {"prompt": "hi", "out_dir": str(tmp_path), "frames": 20, "seconds": 1.0}, P.INVALID_PARAMS,
         "'seconds' or 'frames'"),
        ("generate", {"prompt": "hi", "out_dir": str(tmp_path), "run": str(tmp_path)}, P.INVALID_PARAMS,
         "not a SignForge run folder"),
        ("generate", {"prompt": "hi", "out_dir": str(tmp_path), "device": "tpu"}, P.INVALID_PARAMS, "'device'"),
        ("generate", {"prompt": "hi", "out_dir": str(tmp_path), "sampler": "euler"}, P.INVALID_PARAMS, "'sampler'"),
        ("generate", {"prompt": "hi", "out_dir": str(tmp_path), "image": str(tmp_path / "hand.png")},
         P.INVALID_PARAMS, "HandMDM is conditioned on text, not images"),
        ("body", {"smplx": str(tmp_path / "none.npz"), "out": str(tmp_path / "b.npz")}, P.INVALID_PARAMS,
         "'smplx'"),
        ("body", {"out": str(tmp_path / "b.txt")}, P.INVALID_PARAMS, "'out'"),
        ("load_motion", {"path": str(tmp_path / "missing.npz"), "out": str(tmp_path / "o.npz")}, P.INVALID_PARAMS,
         "missing.npz: no such file"),
        ("save_motion", {"src": str(tmp_path / "m.npz"), "dst": str(tmp_path / "m.fbx")}, P.INVALID_PARAMS,
         "'dst'"),
        ("teleport", {}, P.UNKNOWN_METHOD, "unknown method 'teleport'"),
    ]
    ids = [backend.submit(method, params) for method, params, _, _ in cases]
    ends = {m["id"]: m for m in run_all(backend, ids) if P.is_terminal(m)}
    for req_id, (method, params, code, words) in zip(ids, cases):
        assert ends[req_id]["type"] == "error" and ends[req_id]["code"] == code, (method, ends[req_id])
        assert words in ends[req_id]["message"], (method, ends[req_id])


def test_reconstruct_refuses_a_missing_file_and_writes_nothing(backend, tmp_path):
    end = backend.wait(backend.submit("reconstruct", {"path": str(tmp_path / "v.mp4"), "out": str(tmp_path / "o.npz")}))
    assert end["type"] == "error" and end["code"] == P.INVALID_PARAMS and "no such file" in end["message"], end
    assert not (tmp_path / "o.npz").exists()
    clip = tmp_path / "clip.pose"
    clip.write_bytes(b"not read: the body model is checked first")
    (tmp_path / "SMPLX_NEUTRAL.pkl").write_bytes(b"a pickle is never opened")
    end = backend.wait(backend.submit("reconstruct", {"path": str(clip), "smplx": str(tmp_path / "SMPLX_NEUTRAL.pkl"),
                                                      "out": str(tmp_path / "o.npz")}))
    assert end["code"] == P.INVALID_PARAMS and "'smplx'" in end["message"] and "pickle" in end["message"], end
    assert not (tmp_path / "o.npz").exists()


def test_body_file_builds_a_skinned_armature(backend, tmp_path):
    ids = [backend.submit("body", {"out": str(tmp_path / "rest.npz")}),
           backend.submit("body", {"out": str(tmp_path / "tall.npz"), "betas": [2.0, -1.0]})]
    ends = [backend.wait(i, timeout=60) for i in ids]
    assert all(e["type"] == "result" for e in ends), ends
    assert ends[0]["result"]["model"] == "mannequin" and ends[0]["result"]["path"] == str(tmp_path / "rest.npz")
    with np.load(tmp_path / "rest.npz", allow_pickle=False) as z:
        b = {k: z[k] for k in z.files}
    v = len(b["vertices"])
    assert v == ends[0]["result"]["vertices"]
    assert b["vertices"].shape == (v, 3) and b["vertices"].dtype == np.float32
    assert b["faces"].dtype == np.int32 and b["faces"].shape[1] == 3 and 0 <= b["faces"].min() <= b["faces"].max() < v
    assert b["joints"].shape == (55, 3) and b["joints"].dtype == np.float32
    assert b["parents"].dtype == np.int32 and b["parents"][0] == -1 and (b["parents"][1:] >= 0).all()
    assert (b["parents"][1:] < np.arange(1, 55)).all()   # parents come before their children
    assert b["joint_names"].dtype.kind == "U" and b["joint_names"][0] == "pelvis" and len(b["joint_names"]) == 55
    assert b["weights"].shape == (v, 55) and b["weights"].dtype == np.float32
    np.testing.assert_allclose(b["weights"].sum(1), 1.0, atol=1e-4)
    assert b["expressions"].shape == (10, v, 3) and np.abs(b["expressions"]).max() > 0
    assert str(b["model"]) == "mannequin"
    assert b["joints"][15, 1] > b["joints"][0, 1]   # +Y up: the head is above the pelvis
    with np.load(tmp_path / "tall.npz", allow_pickle=False) as z:
        assert not np.allclose(z["vertices"], b["vertices"]) and z["faces"].shape == b["faces"].shape


def test_load_and_save_motion_round_trip_through_bvh(backend, tmp_path, rng):
    from backend.body import rotations as R

    src = save_motion(random_motion(rng, frames=12, text="hello"), tmp_path / "src.npz")
    ids = [backend.submit("save_motion", {"src": str(src), "dst": str(tmp_path / "out.bvh")}),
           backend.submit("save_motion", {"src": str(src), "dst": str(tmp_path / "out.npy")})]
    ends = [backend.wait(i, timeout=60) for i in ids]
    assert [e["result"] for e in ends] == [{"path": str(tmp_path / "out.bvh")}, {"path": str(tmp_path / "out.npy")}]
    assert (tmp_path / "out.bvh").read_text().startswith("HIERARCHY")
    ids = [backend.submit("load_motion", {"path": str(tmp_path / "out.bvh"), "out": str(tmp_path / "bvh.npz")}),
           backend.submit("load_motion", {"path": str(tmp_path / "out.npy"), "fps": 30.0,
                                          "out": str(tmp_path / "npy.npz")})]
    ends = [backend.wait(i, timeout=60) for i in ids]
    assert ends[0]["result"] == {"path": str(tmp_path / "bvh.npz"), "frames": 12, "fps": 25.0}
    assert ends[1]["result"] == {"path": str(tmp_path / "npy.npz"), "frames": 12, "fps": 30.0}
    original, via_bvh, via_npy = (load_motion(tmp_path / n) for n in ("src.npz", "bvh.npz", "npy.npz"))
    rot = lambda m: R.axis_angle_to_matrix(m.poses.astype(float))  # noqa: E731
    assert np.abs(rot(via_bvh) - rot(original)).max() < 1e-4
    np.testing.assert_allclose(via_bvh.trans, original.trans, atol=1e-5)
    np.testing.assert_allclose(via_npy.to_features(), original.to_features(), atol=1e-4)
    (tmp_path / "other.bvh").write_text("HIERARCHY\nROOT Bip01_Pelvis\n{\n OFFSET 0 0 0\n CHANNELS 3 Zrotation "
                                        "Xrotation Yrotation\n}\nMOTION\nFrames: 1\nFrame Time: 0.04\n0 0 0\n")
    refused = backend.wait(backend.submit("load_motion", {"path": str(tmp_path / "other.bvh"),
                                                          "out": str(tmp_path / "x.npz")}))
    assert refused["code"] == P.INVALID_PARAMS and "Bip01_Pelvis" in refused["message"]
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_server_ends_its_requests_and_restarts(signforge_cache, tmp_path):
    with SubprocessBackend(sys.executable, cwd=REPO) as b:
        gen = b.submit("generate", {"prompt": "hello", "out_dir": str(tmp_path), **SMALL})
        queued = b.submit("ping")
        seen = first_progress(b, gen)
        pid = b.pid
        os.kill(pid, signal.SIGKILL)
        messages = seen + run_all(b, [gen, queued])
        ends = {m["id"]: m for m in messages if P.is_terminal(m)}
        for req_id, method in ((gen, "generate"), (queued, "ping")):
            assert ends[req_id]["code"] == P.BACKEND_CRASHED
            assert f"(exit code {-signal.SIGKILL}) during {method}" in ends[req_id]["message"]
        assert not b.alive and b.pending == []
        again = b.submit("ping")
        assert b.pid != pid
        messages = run_all(b, [again])
        assert P.notice(f"the SignForge backend stopped (exit code {-signal.SIGKILL}) and was restarted") in messages
        assert messages[-1] == P.result(again, {"pong": True})
        assert b.notices == [f"the SignForge backend stopped (exit code {-signal.SIGKILL}) and was restarted"]
    assert not b.alive and b._proc.returncode == 0   # close() shut it down cleanly


def test_close_cancels_pending_requests_and_stops_a_busy_server(signforge_cache, tmp_path):
    b = SubprocessBackend(sys.executable, cwd=REPO)
    gen = b.submit("generate", {"prompt": "hello", "frames": 60, "steps": 100, "refine": 1.0, "out_dir": str(tmp_path)})
    queued = b.submit("ping")
    first_progress(b, gen)   # now loading torch and the model: the cancel waits for its next report
    t0 = time.monotonic()
    b.close(timeout=0.5)
    assert time.monotonic() - t0 < 5 and not b.alive
    assert b._proc.returncode == (-signal.SIGTERM if os.name == "posix" else b._proc.returncode)
    ends = {m["id"]: m for m in b.poll() if P.is_terminal(m)}
    assert ends[queued] == P.error(queued, P.CANCELLED, "cancelled before it started")
    assert ends[gen]["code"] == P.CANCELLED and "the backend was closed" in ends[gen]["message"]
    assert b.notices == []
    assert not any(tmp_path.iterdir())
    with pytest.raises(BackendError, match="is unknown or its answer was already polled"):
        b.wait(gen)


def test_client_refuses_what_json_cannot_carry(backend):
    with pytest.raises(BackendError, match="cannot be sent as JSON"):
        backend.submit("generate", {"prompt": "x", "guidance": float("nan")})


def test_a_crash_message_quotes_the_servers_last_log_lines(tmp_path):
    (tmp_path / "dyingserver.py").write_text(
        "import json, sys\n"
        "print(json.dumps({'type': 'hello', 'protocol': 2, 'server': 's', 'capabilities': ['ping']}), flush=True)\n"
        "sys.stdin.readline()\n"
        "sys.stderr.write('MemoryError: out of memory while sampling\\n')\n"
        "sys.exit(7)\n")
    b = SubprocessBackend(sys.executable, cwd=tmp_path, module="dyingserver",
                          isolated=False)
    end = b.wait(b.submit("ping"), timeout=20)
    assert end["code"] == P.BACKEND_CRASHED
    assert end["message"] == ("the SignForge backend stopped (exit code 7) during ping; its last log lines:\n"
                              "MemoryError: out of memory while sampling")


def test_handshake_failures_are_clear(tmp_path):
    (tmp_path / "oldserver.py").write_text(
        "import json, sys\n"
        "hello = {'type': 'hello', 'protocol': 99, 'server': 'signforge 9', 'capabilities': []}\n"
        "print(json.dumps(hello), flush=True)\n"
        "sys.stdin.read()\n")
    (tmp_path / "brokenserver.py").write_text("import sys\nsys.stderr.write('ImportError: no torch here\\n')\n"
                                              "sys.exit(3)\n")
    (tmp_path / "chattyserver.py").write_text("print('Loading weights...', flush=True)\nimport time\ntime.sleep(30)\n")
    with pytest.raises(BackendError, match="speaks protocol 99, this add-on speaks 2"):
        SubprocessBackend(sys.executable, cwd=tmp_path, module="oldserver", isolated=False).start()
    with pytest.raises(BackendError, match=r"exited with code 3 before its handshake(.|\n)*no torch here"):
        SubprocessBackend(sys.executable, cwd=tmp_path, module="brokenserver", isolated=False).start()
    with pytest.raises(BackendError, match="is not a SignForge backend"):
        SubprocessBackend(sys.executable, cwd=tmp_path, module="chattyserver", isolated=False).start()
    with pytest.raises(BackendError, match="cannot start the SignForge backend"):
        SubprocessBackend(tmp_path / "no-python").start()


def test_in_process_backend_generates(signforge_cache, tmp_path):
    b = InProcessBackend()
    try:
        progress = []
        end = b.wait(b.submit("generate", {"prompt": "thank you", "out_dir": str(tmp_path), **SMALL}),
                     timeout=60, on_progress=progress.append)
        assert end["type"] == "result", end
        assert load_motion(end["result"]["motions"][0]).num_frames == 20
        assert progress and all(m["type"] == "progress" for m in progress)
        assert b.capabilities == ["ping", "info", "generate", "body", "load_motion", "save_motion",
                                  "reconstruct", "sentence", "edit", "shutdown"]
        assert progress[0]["stage"] == P.STAGE_LOADING   # in Blender's own Python too
        bad = b.wait(b.submit("ping", {"x": 1}))
        assert bad["code"] == P.INVALID_PARAMS and "'x'" in bad["message"]
        long = b.submit("generate", {"prompt": "hello", "frames": 60, "steps": 100, "refine": 1.0,
                                      "out_dir": str(tmp_path / "c")})
        first_progress(b, long)
        b.cancel(long)
        assert b.wait(long, timeout=30)["code"] == P.CANCELLED and not (tmp_path / "c").exists()
    finally:
        b.close()
    assert not b.alive


# ---------------------------------------------------------------------------- finding a Python
def _fake_python(path: Path, executable: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755 if executable else 0o644)
    return path


def test_find_python_from_the_preference(tmp_path):
    python = _fake_python(tmp_path / "env" / "bin" / "python")
    assert find_python(str(python), tmp_path) == python
    with pytest.raises(BackendError, match="does not exist"):
        find_python(str(tmp_path / "nope"), tmp_path)
    with pytest.raises(BackendError, match="is a folder"):
        find_python(str(tmp_path / "env"), tmp_path)
    plain = _fake_python(tmp_path / "plain", executable=False)
    if not os.access(plain, os.X_OK):   # (Windows has no execute bit)
        with pytest.raises(BackendError, match="not executable"):
            find_python(str(plain), tmp_path)


def test_find_python_in_the_repository_above_the_addon(tmp_path):
    repo = tmp_path / "signforge"
    (repo / "backend").mkdir(parents=True)
    addon = repo / "blender_addon"
    addon.mkdir()
    assert find_python("", addon) is None
    python = _fake_python(repo / ".venv" / "bin" / "python")
    assert find_python("", addon) == python
    assert find_python("  ", addon / "core" / "deeper") == python
    (repo / "backend").rmdir()   # a .venv beside no backend/ is someone else's
    assert find_python("", addon) is None


def test_find_python_from_the_build_record(tmp_path):
    repo = tmp_path / "checkout"
    (repo / "backend").mkdir(parents=True)
    python = _fake_python(repo / ".venv" / "bin" / "python")
    addon = tmp_path / "blender" / "extensions" / "user_default" / "signforge"
    addon.mkdir(parents=True)
    (addon / "backend_origin.json").write_text('{"repository": "%s"}' % repo.as_posix())
    assert find_python("", addon) == python
    (addon / "backend_origin.json").write_text("{broken")
    with pytest.raises(BackendError, match="backend_origin.json is damaged"):
        find_python("", addon)


def test_make_backend_modes(tmp_path):
    assert isinstance(make_backend("", tmp_path, mode="in_process"), InProcessBackend)   # this venv has torch
    assert isinstance(make_backend("", tmp_path, mode="auto"), InProcessBackend)
    b = make_backend(sys.executable, tmp_path, mode="auto")
    assert isinstance(b, SubprocessBackend) and not b.alive   # started only by the first request
    repo = tmp_path / "repo"
    (repo / "backend").mkdir(parents=True)
    python = _fake_python(repo / ".venv" / "bin" / "python")
    b = make_backend("", repo / "blender_addon", mode="subprocess")
    assert isinstance(b, SubprocessBackend) and b.python == python and b.cwd == repo
    with pytest.raises(BackendError, match="Backend Python"):
        make_backend("", tmp_path, mode="subprocess")
    with pytest.raises(BackendError, match="unknown backend mode"):
        make_backend("", tmp_path, mode="remote")
