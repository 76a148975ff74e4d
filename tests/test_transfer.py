"""File transfer over the remote backend: a real ``python -m backend.server --listen`` process on
localhost, real sockets, the add-on's ``RemoteBackend``. The client's files live in its own
temporary folder and the server's in its per-connection workspace, as if on two machines.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.data.lexicon import resolve_lexicon_path
from backend.io import load_motion
from blender_addon.core import protocol as P
from blender_addon.core import transfer as T
from blender_addon.core.client import BackendError, RemoteBackend
from blender_addon.core.jobs import Job
from conftest import default_sigint, listening_port, server_env, start_server, stop_server

REPO = Path(__file__).resolve().parents[1]
SHORT = {"frames": 20, "steps": 2}


@pytest.fixture(scope="module")
def server(signforge_cache, tmp_path_factory):
    folder = tmp_path_factory.mktemp("transfer-server")
    token = secrets.token_urlsafe(32)
    log = folder / "server.log"
    proc = start_server(["--listen", "127.0.0.1:0"], log, server_env(SIGNFORGE_TOKEN=token))
    try:
        port = listening_port(proc, log)
        yield {"address": f"127.0.0.1:{port}", "port": port, "token": token, "log": log}
    finally:
        stop_server(proc)
    assert "Traceback" not in log.read_text(), log.read_text()


def _gone(path: Path, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not path.exists()


def _no_jobs_left(backend: RemoteBackend, workspace: Path) -> None:
    """Each request's folder on the server goes when it ends (its removal queues behind it)."""
    assert backend.wait(backend.submit("ping"), timeout=60)["result"] == {"pong": True}
    deadline = time.monotonic() + 10
    while any(p.name.startswith("job-") for p in workspace.iterdir()) and time.monotonic() < deadline:
        backend.poll()
        time.sleep(0.05)
    assert [p.name for p in workspace.iterdir() if p.name != ".partial"] == []


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_generate_and_convert_remotely_into_the_clients_folders(server, tmp_path):
    mine = tmp_path / "client"
    backend = RemoteBackend(server["address"], server["token"], chunk_bytes=4096)   # several chunks a file
    with backend:
        progress: list[dict] = []
        end = backend.wait(backend.submit("generate", {"prompt": "thank you", "seed": 3,
                                                       "out_dir": str(mine / "motions"), **SHORT}),
                           timeout=300, on_progress=progress.append)
        assert end["type"] == "result", end
        (path,) = end["result"]["motions"]
        assert path == str(mine / "motions" / "thank-you-s3.npz")   # the client's folder, not the server's
        assert load_motion(path).num_frames == 20 and load_motion(path).text == "thank you"
        stages = [m.get("stage") for m in progress]
        assert "sampling" in stages and "download" in stages and stages.index("sampling") < stages.index("download")
        fractions = [m["fraction"] for m in progress]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        workspace = Path(backend._workspace[1]["path"])
        assert workspace.is_dir() and not workspace.is_relative_to(tmp_path)

        # an uploaded file converted there and fetched back: .npz -> .bvh -> .npz, mirrored
        end = backend.wait(backend.submit("save_motion", {"src": path, "dst": str(mine / "take.bvh")}), timeout=120)
        assert end["type"] == "result" and end["result"]["path"] == str(mine / "take.bvh"), end
        assert (mine / "take.bvh").read_text().startswith("HIERARCHY")
        end = backend.wait(backend.submit("load_motion", {"path": str(mine / "take.bvh"), "mirror": True,
                                                          "out": str(mine / "back.npz")}), timeout=120)
        assert end["type"] == "result" and end["result"]["frames"] == 20, end
        assert load_motion(mine / "back.npz").num_frames == 20
        assert _leftovers(mine) == ["back.npz", "motions", "take.bvh"]
        _no_jobs_left(backend, workspace)
    assert _gone(workspace), "the connection's workspace outlived it"


def test_a_cancel_mid_download_leaves_no_file_here_or_there(server, tmp_path):
    mine = tmp_path / "client"
    with RemoteBackend(server["address"], server["token"], chunk_bytes=64) as backend:   # ~100 chunks of a take
        both = backend.wait(backend.submit("generate", {"prompt": "hello", "num": 2, "out_dir": str(tmp_path / "two"),
                                                        **SHORT}), timeout=300)   # two files, 64 bytes a chunk
        assert [Path(p).name for p in both["result"]["motions"]] == ["hello-s0-1.npz", "hello-s0-2.npz"], both
        assert [load_motion(p).num_frames for p in both["result"]["motions"]] == [20, 20]
        job = Job(backend, [("generate", {"prompt": "hello", "seed": 5, "out_dir": str(mine), **SHORT})]).start()
        deadline = time.monotonic() + 300
        while job.stage != "download":
            assert not job.poll(), job.error
            assert time.monotonic() < deadline, "no download step"
            time.sleep(0.005)
        downloading = _leftovers(mine)
        assert len(downloading) == 1 and downloading[0].startswith(T.TMP_PREFIX), downloading   # half a file
        job.cancel()
        assert job.finished and job.cancelled
        assert _leftovers(mine) == []
        _no_jobs_left(backend, Path(backend._workspace[1]["path"]))
        assert _leftovers(mine) == []


def _raw(port: int, token: str, *requests: dict, timeout: float = 20.0) -> list[dict]:
    """The answers to ``requests`` on one connection (after its hello), one terminal each."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(P.encode(P.auth(token)).encode())
        for k, params in enumerate(requests, 1):
            method = params.pop("method")
            sock.sendall(P.encode(P.request(k, method, params)).encode())
        data, answers = b"", []
        while len(answers) < len(requests):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
            *lines, data = data.split(b"\n")
            answers += [m for m in map(P.decode, lines) if m["type"] in P.TERMINAL_TYPES]
    return answers


def test_paths_that_escape_the_workspace_are_one_clear_error(server, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not yours")
    data = "aGVsbG8="   # b"hello"
    ws, *answers = _raw(server["port"], server["token"], {"method": "workspace"},
                        {"method": "upload", "path": "../escape.txt", "data": data, "last": True},
                        {"method": "upload", "path": str(outside / "abs.txt"), "data": data, "last": True},
                        {"method": "download", "path": "../../" + str(outside / "secret.txt")},
                        {"method": "upload", "path": "ok/hello.txt", "data": data, "last": True},
                        {"method": "download", "path": "ok/hello.txt"})
    root = Path(ws["result"]["path"])
    assert [a["type"] for a in answers] == ["error", "error", "error", "result", "result"], answers
    for answer, words in zip(answers, ("outside this connection's workspace", "is absolute",
                                       "outside this connection's workspace")):
        assert answer["code"] == P.INVALID_PARAMS and words in answer["message"], answer
        assert "\n" not in answer["message"] and "Traceback" not in answer["message"]
    assert answers[3]["result"] == {"path": str(root / "ok" / "hello.txt"), "size": 5, "done": True}
    assert answers[4]["result"] == {"data": data, "offset": 0, "size": 5, "end": True}
    assert _leftovers(outside) == ["secret.txt"] and not (root.parent / "escape.txt").exists()
    assert _gone(root), "the workspace outlived its connection"

    # a link planted in a workspace is never followed, reading or writing
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=20) as sock:
        sock.sendall(P.encode(P.auth(server["token"])).encode() + P.encode(P.request(1, "workspace")).encode())
        reader = P.iter_lines(sock.recv)
        assert P.decode(next(reader))["type"] == "hello"
        root = Path(P.decode(next(reader))["result"]["path"])
        (root / "link").symlink_to(outside)
        for k, (method, params) in enumerate((("download", {"path": "link/secret.txt"}),
                                              ("upload", {"path": "link/new.txt", "data": data, "last": True})), 2):
            sock.sendall(P.encode(P.request(k, method, params)).encode())
            answer = P.decode(next(reader))
            assert answer["code"] == P.INVALID_PARAMS and ": link is a link;" in answer["message"], answer
    assert _leftovers(outside) == ["secret.txt"]
    assert _gone(root)


def test_the_stdio_server_offers_no_file_transfer():
    with subprocess.Popen([sys.executable, "-m", "backend.server"], cwd=REPO, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        hello = P.decode(proc.stdout.readline())
        proc.stdin.write(P.encode(P.request(1, "workspace")).encode())
        proc.stdin.close()
        answer = P.decode(proc.stdout.readline())
        proc.wait(timeout=30)
    assert not set(T.METHODS) & set(hello["capabilities"])
    assert answer["type"] == "error" and answer["code"] == P.UNKNOWN_METHOD, answer


POSE = resolve_lexicon_path().parent.parent / "video" / "mediapipe.pose"


@pytest.mark.skipif(not POSE.exists(), reason=f"{POSE} not found")
def test_reconstruct_from_an_uploaded_pose_file(server, tmp_path):
    mine = tmp_path / "client"
    with RemoteBackend(server["address"], server["token"], chunk_bytes=1 << 16) as backend:   # 8 chunks up
        progress: list[dict] = []
        end = backend.wait(backend.submit("reconstruct", {"path": str(POSE), "start": 3.0, "end": 3.4,
                                                          "out": str(mine / "video.npz")}),
                           timeout=240, on_progress=progress.append)
        assert end["type"] == "result", end
        assert end["result"]["path"] == str(mine / "video.npz") and end["result"]["clip"] is None
        motion = load_motion(mine / "video.npz")
        assert motion.num_frames == end["result"]["frames"] > 0
        assert end["result"]["quality"]["frames"] == motion.num_frames
        uploads = [m for m in progress if m.get("stage") == "upload"]
        assert len(uploads) == 8 and uploads[-1]["message"].endswith(f"({POSE.stat().st_size / 1e6:.1f}/"
                                                                       f"{POSE.stat().st_size / 1e6:.1f} MB)")
        assert _leftovers(mine) == ["video.npz"]


def test_a_killed_servers_workspaces_go_at_the_next_start(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    base = tmp_path / f"signforge-server-{os.getuid()}"
    base.mkdir(mode=0o700)
    left = base / f"{dead.stdout.strip()}-abc123"
    (left / "job-1").mkdir(parents=True)
    (left / "job-1" / "video.mp4").write_bytes(b"x" * 100)
    mine = base / f"{os.getpid()}-alive"   # a running server's (this process stands in for it)
    mine.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SIGNFORGE_TOKEN"}
    env.update(SIGNFORGE_TOKEN="t" * 32, TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "backend.server", "--listen", "0"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            preexec_fn=default_sigint if os.name == "posix" else None)
    try:
        assert proc.stdout.readline().startswith(b"SignForge backend listening on ")
        assert _gone(left) and mine.is_dir()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def test_a_failed_remote_request_leaves_nothing_here(server, tmp_path):
    (tmp_path / "notes.npz").write_bytes(b"not a motion")
    with RemoteBackend(server["address"], server["token"]) as backend:
        end = backend.wait(backend.submit("save_motion", {"src": str(tmp_path / "notes.npz"),
                                                          "dst": str(tmp_path / "take.bvh")}), timeout=60)
        assert end["type"] == "error" and end["code"] == P.INVALID_PARAMS, end
        assert end["message"].startswith("save_motion: ") and "\n" not in end["message"], end
        assert str(tmp_path / "notes.npz") in end["message"] and "job-" not in end["message"], end   # the user's name
        with pytest.raises(BackendError, match=r"^load_motion: parameter 'path': .*[Ii]s a directory") as err:
            backend.submit("load_motion", {"path": str(tmp_path), "out": str(tmp_path / "x.npz")})
        assert "\n" not in str(err.value)
        assert backend.pending == [] and backend.wait(backend.submit("ping"), timeout=20)["type"] == "result"
    assert _leftovers(tmp_path) == ["notes.npz"]
