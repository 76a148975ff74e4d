"""The remote backend: a real ``python -m backend.server --listen`` process, real sockets, real clients.

One server per module (torch and the shipped model load once); tests that need a server
of their own (bad options, Ctrl-C) start one that never loads the model.
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.io import load_motion
from conftest import listening_port, server_env, start_server, stop_server
from blender_addon.core import protocol as P
from blender_addon.core.client import BackendError, RemoteBackend, make_backend
from blender_addon.core.jobs import Job

REPO = Path(__file__).resolve().parents[1]
SHORT = {"frames": 20, "steps": 2}
LONG = {"frames": 60, "steps": 100, "refine": 1.0}   # sampled from noise: cancelled or abandoned long before it ends
@pytest.fixture(scope="module")
def server(signforge_cache, tmp_path_factory):
    folder = tmp_path_factory.mktemp("remote")
    token = secrets.token_urlsafe(32)
    (folder / "token.txt").write_text(token + "\n")
    log = folder / "server.log"
    proc = start_server(["--listen", "127.0.0.1:0", "--token-file", str(folder / "token.txt")], log)
    try:
        port = listening_port(proc, log)
        yield {"address": f"127.0.0.1:{port}", "port": port, "token": token, "proc": proc, "log": log}
    finally:
        stop_server(proc)


def _raw(port: int, *lines: bytes, timeout: float = 20.0) -> list[dict]:
    """What the server answers to ``lines`` on a fresh connection, until it closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for line in lines:
            sock.sendall(line)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return [P.decode(line) for line in data.splitlines()]


def _auth(token: str) -> bytes:
    return P.encode(P.auth(token)).encode()


def _generate(out_dir: Path, rid: int = 1, prompt: str = "thank you", **params) -> bytes:
    return P.encode(P.request(rid, "generate", {"prompt": prompt, "out_dir": str(out_dir),
                                                **(params or SHORT)})).encode()


def test_a_client_with_the_token_generates_with_progress_and_cancel(server, tmp_path):
    backend = make_backend("", tmp_path, address=server["address"], token=server["token"])
    assert isinstance(backend, RemoteBackend)
    with backend:
        progress = []
        end = backend.wait(backend.submit("generate", {"prompt": "thank you", "seed": 3,
                                                       "out_dir": str(tmp_path / "out"), **SHORT}),
                           timeout=300, on_progress=progress.append)
        assert backend.server.startswith("signforge ") and "generate" in backend.capabilities
        assert end["type"] == "result", end
        (path,) = end["result"]["motions"]
        assert path == str(tmp_path / "out" / "thank-you-s3.npz")
        motion = load_motion(path)
        assert motion.num_frames == 20 and motion.text == "thank you"
        assert any(re.search(r"sampling step (\d+)/\1\b", m["message"]) for m in progress)   # to the last step
        job = Job(backend, [("generate", {"prompt": "hello", "out_dir": str(tmp_path / "cancelled"), **LONG})]).start()
        deadline = time.monotonic() + 120
        while not job.fractions and not job.poll():
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.01)
        job.cancel()
        assert job.finished and job.cancelled
        assert backend.wait(job.ids[0], timeout=120)["code"] == P.CANCELLED
        assert not (tmp_path / "cancelled").exists() or not any((tmp_path / "cancelled").iterdir())
        assert backend.wait(backend.submit("ping"), timeout=20)["result"] == {"pong": True}
    assert not backend.alive
    assert backend.wait(backend.submit("ping"), timeout=20)["result"] == {"pong": True}   # connects again
    backend.close()


def test_without_or_with_a_wrong_token_nothing_is_generated(server, tmp_path):
    out = tmp_path / "out"
    no_token = _raw(server["port"], _generate(out))
    wrong = _raw(server["port"], _auth("not-the-token-" + "x" * 20), _generate(out))
    almost = _raw(server["port"], _auth(server["token"][:-1]), _generate(out))
    overlong = _raw(server["port"], b"{" + b"x" * (P.MAX_AUTH_LINE_BYTES + 10))
    for answers, words in ((no_token, 'must be {"type": "auth"'), (wrong, "wrong token"), (almost, "wrong token"),
                           (overlong, "longer than")):
        assert len(answers) == 1, answers   # one error, then the connection is closed
        assert answers[0]["type"] == "error" and answers[0]["code"] == P.UNAUTHORIZED and answers[0]["id"] is None
        assert words in answers[0]["message"], answers
    with pytest.raises(BackendError, match=r"127\.0\.0\.1:\d+ refused the connection: wrong token; check"):
        RemoteBackend(server["address"], "a-wrong-token-of-some-length").start()
    with pytest.raises(BackendError, match="needs its token"):
        RemoteBackend(server["address"], "")
    assert not out.exists()
    assert "refused: wrong token" in server["log"].read_text()


def test_a_silent_client_blocks_nobody_and_a_dropped_one_leaves_the_server_serving(server, tmp_path):
    silent = socket.create_connection(("127.0.0.1", server["port"]))   # never sends its token
    dropped = socket.create_connection(("127.0.0.1", server["port"]), timeout=120)
    try:
        dropped.sendall(_auth(server["token"]) + _generate(tmp_path / "dropped", prompt="hello", **LONG))
        seen = b""
        while b'"progress"' not in seen:   # the hello, then the generate's first progress
            chunk = dropped.recv(65536)
            assert chunk, seen
            seen += chunk
        assert P.decode(seen.splitlines()[0])["type"] == "hello"
        dropped.close()   # mid-request
        with RemoteBackend(server["address"], server["token"]) as other:
            end = other.wait(other.submit("generate", {"prompt": "thank you", "out_dir": str(tmp_path / "after"),
                                                       **SHORT}), timeout=300)
            assert end["type"] == "result", end
            assert load_motion(end["result"]["motions"][0]).num_frames == 20
    finally:
        silent.close()
        dropped.close()
    assert server["proc"].poll() is None
    assert not (tmp_path / "dropped").exists() or not any((tmp_path / "dropped").iterdir())


def test_two_clients_at_once_take_turns_on_the_model(server, tmp_path):
    with RemoteBackend(server["address"], server["token"]) as a, RemoteBackend(server["address"], server["token"]) as b:
        ids = [(c, c.submit("generate", {"prompt": "thank you", "seed": k, "out_dir": str(tmp_path / str(k)),
                                         **SHORT})) for k, c in enumerate((a, b, a))]
        ends = [c.wait(i, timeout=300) for c, i in ids]
    assert [e["type"] for e in ends] == ["result"] * 3, ends
    assert [load_motion(e["result"]["motions"][0]).num_frames for e in ends] == [20, 20, 20]
    assert ids[0][1] == ids[1][1] == 1   # each connection has its own ids


def test_the_client_says_in_one_line_what_is_wrong_with_an_address():
    with socket.socket() as probe:   # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    with pytest.raises(BackendError, match=rf"cannot reach the SignForge backend at 127\.0\.0\.1:{free}: "):
        RemoteBackend(f"127.0.0.1:{free}", "t" * 20).start()
    for address, words in (("127.0.0.1", "is not HOST:PORT"), ("host:http", "the port must be a number"),
                           ("host:70000", "the port must be a number"), ("::1:80", "in brackets"),
                           ("127.0.0.1:0", "from 1 to 65535")):
        with pytest.raises(BackendError, match=re.escape(words)) as err:
            RemoteBackend(address, "t" * 20)
        assert "\n" not in str(err.value)
    assert P.parse_address("[::1]:8765") == ("::1", 8765)
    assert P.parse_address("8765", default_host="127.0.0.1", min_port=0) == ("127.0.0.1", 8765)


def test_the_server_refuses_bad_options_in_one_line(tmp_path):
    token = tmp_path / "token.txt"
    token.write_text(secrets.token_urlsafe(32))
    (tmp_path / "short.txt").write_text("abc\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cases = [
            (["--listen", "127.0.0.1:0"], "needs a token: give --token-file FILE or set SIGNFORGE_TOKEN"),
            (["--listen", "127.0.0.1:0", "--token-file", str(tmp_path / "none.txt")], "none.txt: No such file"),
            (["--listen", "127.0.0.1:0", "--token-file", str(tmp_path / "short.txt")], "the token must be 16"),
            (["--listen", "localhost:http", "--token-file", str(token)], "--listen: address 'localhost:http'"),
            (["--listen", f"127.0.0.1:{port}", "--token-file", str(token)],
             f"cannot listen on 127.0.0.1:{port}: the port is in use"),
            (["--token-file", str(token)], "--token-file goes with --listen"),
        ]
        for args, words in cases:
            done = subprocess.run([sys.executable, "-m", "backend.server", *args], cwd=REPO, env=server_env(),
                                  capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
            err = done.stderr.decode()
            assert done.returncode == 2 and done.stdout == b"", (args, done)
            assert err.count("\n") == 1 and err.startswith("error: ") and words in err, (args, err)


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_stops_the_server_quietly_even_mid_job(signforge_cache, tmp_path):
    log = tmp_path / "server.log"
    proc = start_server(["--listen", "0", "--log-level", "warning"], log, env=server_env(SIGNFORGE_TOKEN="t" * 32))
    try:
        port = listening_port(proc, log)
        with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:   # a client mid-job
            sock.sendall(_auth("t" * 32) + _generate(tmp_path / "out", prompt="hello", **LONG))
            seen = b""
            while b"sampling step" not in seen:
                chunk = sock.recv(65536)
                assert chunk, seen
                seen += chunk
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in log.read_text() and "terminate" not in log.read_text(), log.read_text()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.blender
def test_the_addon_generates_through_a_remote_backend(server, monkeypatch):
    """The add-on in real bpy, registered from the repository (so its settings come from the
    environment, as in batch jobs), generating a take through the remote server."""
    bpy = pytest.importorskip("bpy", reason="bpy is a SignForge dependency; install with make setup")
    import blender_addon
    from blender_addon.blender import prefs, session
    from blender_addon.blender.body import find_body

    monkeypatch.setenv("SIGNFORGE_BACKEND_ADDRESS", server["address"])
    monkeypatch.setenv("SIGNFORGE_TOKEN", server["token"])
    monkeypatch.setenv("SIGNFORGE_BACKEND_PYTHON", str(REPO / "no-such-python"))   # never started
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    try:
        fields = prefs.SignForgePreferences.bl_rna.properties
        assert fields["remote_token"].subtype == "PASSWORD" and fields["remote_address"].type == "STRING"
        assert session.describe() == f"remote backend: {server['address']}"
        s = bpy.context.scene.signforge
        s.prompt, s.seconds, s.steps, s.auto_length = "the right hand taps the chin", 0.8, 2, False
        assert bpy.ops.signforge.generate() == {"FINISHED"}
        assert isinstance(session.backend(), RemoteBackend)
        assert find_body(bpy.context) is not None
        assert len(bpy.data.actions) == 1
    finally:
        blender_addon.unregister()
