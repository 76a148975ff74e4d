"""The JSON-lines protocol as messages, then 1,000 malformed lines against a real server process."""
from __future__ import annotations

import json
import queue
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from blender_addon.core import protocol as P

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- messages
@pytest.mark.parametrize("msg", [
    P.hello("signforge 0.1.0", ["ping", "generate"]),
    P.request(1, "generate", {"prompt": "thank you\nplease", "steps": 5, "seconds": 1.5, "run": None}),
    P.request(2, "ping"),
    P.cancel(3),
    P.progress(4, 0.25, "sampling step 1/4"),
    P.result(5, {"motions": ["/tmp/ä b.npz"], "fps": 25.0, "frames": 20}),
    P.result(6),
    P.error(7, P.INVALID_PARAMS, "generate: missing required parameter 'prompt'"),
    P.error(None, P.PARSE_ERROR, "bad JSON"),
    P.notice("the SignForge backend stopped (exit code -9) and was restarted"),
])
def test_every_constructor_round_trips(msg):
    line = P.encode(msg)
    assert line.endswith("\n") and "\n" not in line[:-1] and line.isascii()
    assert P.decode(line) == msg
    assert P.decode(line.encode("ascii")) == msg
    assert P.is_terminal(msg) == (msg["type"] in ("result", "error"))


def test_constructor_shapes():
    assert P.hello("s", ("a",)) == {"type": "hello", "protocol": P.PROTOCOL_VERSION, "server": "s",
                                    "capabilities": ["a"]}
    assert P.request(9, "ping") == {"type": "request", "id": 9, "method": "ping", "params": {}}
    assert P.progress(1, 1.7)["fraction"] == 1.0 and P.progress(1, -2)["fraction"] == 0.0
    assert P.progress(1, float("nan"))["fraction"] == 0.0
    assert "stage" not in P.progress(1, 0.5, "x") and P.progress(1, 0, "x", P.STAGE_LOADING)["stage"] == "loading"
    assert P.decode(P.encode(P.progress(1, 0, "loading the model", P.STAGE_LOADING)))["stage"] == "loading"
    with pytest.raises(P.ProtocolError, match="'stage' must be a string"):
        P.decode('{"type": "progress", "id": 1, "fraction": 0, "stage": 3}')
    assert P.PROTOCOL_VERSION == 2
    with pytest.raises(ValueError, match="unknown error code"):
        P.error(1, "oops", "x")
    with pytest.raises(ValueError, match="request id"):
        P.request(True, "ping")
    with pytest.raises(P.ProtocolError, match="cannot be sent as JSON"):
        P.encode(P.result(1, {"x": float("nan")}))


@pytest.mark.parametrize("line, code, words", [
    (b"", P.PARSE_ERROR, "empty line"),
    (b"   \r", P.PARSE_ERROR, "empty line"),
    (b"{not json", P.PARSE_ERROR, "bad JSON"),
    (b'{"type":"request","id":1,"method":"ping"', P.PARSE_ERROR, "bad JSON"),
    (b'{"type":"request","id":1,"method":"p\xffing"}', P.PARSE_ERROR, "not UTF-8"),
    (b'{"type":"request","id":1,"method":"ping","params":{"x":NaN}}', P.PARSE_ERROR, "NaN is not JSON"),
    (b'{"type":"request","id":1,"method":"ping","params":{"x":1e999}}', P.PARSE_ERROR, "out of range"),
    (b"[" * 100_000, P.PARSE_ERROR, "nested too deeply"),
    (b"a" * (P.MAX_LINE_BYTES + 1), P.PARSE_ERROR, "longer than"),
    (b"[1, 2]", P.INVALID_REQUEST, "got an array"),
    (b'"request"', P.INVALID_REQUEST, "got a string"),
    (b"42", P.INVALID_REQUEST, "got a number"),
    (b"null", P.INVALID_REQUEST, "got null"),
    (b'{"id": 1, "method": "ping"}', P.INVALID_REQUEST, "without 'type'"),
    (b'{"type": 3}', P.INVALID_REQUEST, "'type' must be a string"),
    (b'{"type": "requests"}', P.INVALID_REQUEST, "unknown message type"),
    (b'{"type": "request", "method": "ping"}', P.INVALID_REQUEST, "without 'id'"),
    (b'{"type": "request", "id": "1", "method": "ping"}', P.INVALID_REQUEST, "'id' must be an integer"),
    (b'{"type": "request", "id": true, "method": "ping"}', P.INVALID_REQUEST, "'id' must be an integer"),
    (b'{"type": "request", "id": 1.5, "method": "ping"}', P.INVALID_REQUEST, "'id' must be an integer"),
    (b'{"type": "request", "id": -1, "method": "ping"}', P.INVALID_REQUEST, "'id' must be an integer"),
    (b'{"type": "request", "id": 1}', P.INVALID_REQUEST, "without 'method'"),
    (b'{"type": "request", "id": 1, "method": 7}', P.INVALID_REQUEST, "'method' must be a non-empty string"),
    (b'{"type": "request", "id": 1, "method": "ping", "params": [1]}', P.INVALID_PARAMS, "params must be an object"),
    (b'{"type": "cancel"}', P.INVALID_REQUEST, "without 'id'"),
    (b'{"type": "cancel", "id": "x"}', P.INVALID_REQUEST, "'id' must be an integer"),
    (b'{"type": "progress", "id": 1, "fraction": 2}', P.INVALID_REQUEST, "'fraction' must be a number in [0, 1]"),
    (b'{"type": "result", "id": 1, "result": []}', P.INVALID_REQUEST, "'result' must be an object"),
    (b'{"type": "error", "id": 1, "code": 5, "message": "x"}', P.INVALID_REQUEST, "'code' must be a string"),
    (b'{"type": "hello", "protocol": "1", "server": "s", "capabilities": []}', P.INVALID_REQUEST, "'protocol'"),
])
def test_decode_rejects(line, code, words):
    with pytest.raises(P.ProtocolError) as info:
        P.decode(line)
    assert info.value.code == code
    assert words in info.value.message


def test_decode_keeps_the_id_of_a_request_it_refuses():
    with pytest.raises(P.ProtocolError) as info:
        P.decode('{"type": "request", "id": 12, "method": "ping", "params": "x"}')
    assert info.value.id == 12
    with pytest.raises(P.ProtocolError) as info:   # a cancel's id is never an answer's id
        P.decode('{"type": "cancel", "id": -12}')
    assert info.value.id is None


def test_decode_fills_optional_fields_and_ignores_extra_ones():
    msg = P.decode('{"type": "request", "id": 0, "method": "ping", "future": 1}\r\n')
    assert msg["params"] == {} and msg["future"] == 1
    assert P.decode('{"type": "progress", "id": 1, "fraction": 0}')["message"] == ""


def test_check_params():
    out = P.check_params("generate", {"prompt": "hello", "out_dir": "/tmp/x", "steps": 7.0, "run": None})
    assert out["steps"] == 7 and out["model"] == "handmdm" and out["guidance"] == 2.5 and out["run"] is None
    assert P.check_params("generate", out) == out   # idempotent
    assert P.check_params("ping", None) == {}
    cases = [
        ("nope", {}, P.UNKNOWN_METHOD, "unknown method 'nope'"),
        ("ping", {"x": 1}, P.INVALID_PARAMS, "unknown parameter 'x' (ping takes no parameters)"),
        ("generate", {"out_dir": "/x"}, P.INVALID_PARAMS, "missing required parameter 'prompt'"),
        ("generate", {"prompt": "a", "out_dir": "/x", "steps": "many"}, P.INVALID_PARAMS,
         "parameter 'steps' must be an integer"),
        ("generate", {"prompt": "a", "out_dir": "/x", "steps": 0}, P.INVALID_PARAMS, "'steps' must be at least 1"),
        ("generate", {"prompt": "a", "out_dir": "/x", "model": "gpt"}, P.INVALID_PARAMS,
         "'model' must be one of 'handmdm', 'signavatar'"),
        ("generate", {"prompt": 5, "out_dir": "/x"}, P.INVALID_PARAMS, "'prompt' must be a string"),
        ("body", {"out": "  "}, P.INVALID_PARAMS, "'out' must be a file path"),
        ("body", {"out": "/b.npz", "betas": [0.0] * 11}, P.INVALID_PARAMS, "at most 10 numbers"),
        ("body", {"out": "/b.npz", "betas": ["x"]}, P.INVALID_PARAMS, "list of numbers"),
        ("reconstruct", {"path": "v.mp4", "out": "o.npz", "denoise": 1}, P.INVALID_PARAMS, "true or false"),
    ]
    for method, params, code, words in cases:
        with pytest.raises(P.ProtocolError) as info:
            P.check_params(method, params)
        assert info.value.code == code and words in info.value.message, (method, params, info.value)


def test_every_method_and_parameter_is_documented():
    assert set(P.METHODS) == {"generate", "body", "load_motion", "save_motion", "reconstruct", "ping", "info",
                              "sentence", "edit", "shutdown"}
    for method in P.METHODS.values():
        assert method.doc and method.result
        assert f"``{method.name}`` (" in P.__doc__, f"the module docstring does not list {method.name}"
        for p in method.params:
            assert p.name in P.__doc__.split(f"``{method.name}`` (")[1].split("->")[0], (method.name, p.name)
            assert p.doc and p.kind in ("str", "path", "int", "float", "bool", "floats", "items")
            if p.default is not None:
                assert P.check_params(method.name, {q.name: ["a"] if q.kind == "items" else "/x.npz"
                                                    for q in method.params if q.required})[p.name] == p.default


def test_iter_lines_splits_across_reads_and_bounds_long_lines():
    data = b'{"a":1}\nsecond line\n' + b"x" * 50 + b"\nlast"
    chunks = [data[i:i + 3] for i in range(0, len(data), 3)]
    reader = iter(chunks + [b""])
    lines = list(P.iter_lines(lambda n: next(reader), limit=20, chunk=3))
    assert lines == [b'{"a":1}', b"second line", b"x" * 21, b"last"]
    with pytest.raises(P.ProtocolError, match="longer than"):
        P.decode(b"x" * (P.MAX_LINE_BYTES + 1))


# ---------------------------------------------------------------------------- fuzzing a real server
def _malformed(rng: random.Random, k: int) -> tuple[bytes, str | None, int | None]:
    """One line that is not a valid client message: (line, expected code or None for any, expected id)."""
    rid = 1000 + k   # distinct ids, so no refusal is confused with a running request
    kind = rng.randrange(18)
    dump = lambda obj: json.dumps(obj).encode()  # noqa: E731
    if kind == 0:
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120))).replace(b"\n", b"\x00")
        return junk, None, None
    if kind == 1:
        whole = dump(P.request(rid, "generate", {"prompt": "thank you", "out_dir": "/tmp/x"}))
        return whole[: rng.randrange(1, len(whole) - 1)], P.PARSE_ERROR, None
    if kind == 2:
        return dump(rng.choice([[1, 2], "request", 3.5, None, True, [], [{"type": "request"}]])), \
            P.INVALID_REQUEST, None
    if kind == 3:
        return dump({"id": rid, "method": "ping"}), P.INVALID_REQUEST, None
    if kind == 4:
        return dump({"type": rng.choice([5, None, ["request"], {"a": 1}, "Request", "", "hello!"])}), \
            P.INVALID_REQUEST, None
    if kind == 5:   # shapes only a server sends
        msg = rng.choice([P.hello("x", []), P.progress(rid, 0.5), P.result(rid), P.notice("hi"),
                          P.error(rid, P.FAILED, "x")])
        return dump(msg), P.INVALID_REQUEST, None
    if kind == 6:
        return dump({"type": "request", "id": rng.choice(["1", 1.5, -3, True, None, 2 ** 60, {}]),
                     "method": "ping"}), P.INVALID_REQUEST, None
    if kind == 7:
        return dump({"type": "request", "id": rid, "method": rng.choice([None, "", 7, ["ping"]])}), \
            P.INVALID_REQUEST, rid
    if kind == 8:
        return dump({"type": "request", "id": rid, "method": "ping", "params": rng.choice([[1], "x", 3, True])}), \
            P.INVALID_PARAMS, rid
    if kind == 9:
        return dump(P.request(rid, rng.choice(["pong", "Generate", "rm -rf", "__init__", "_ping"]))), \
            P.UNKNOWN_METHOD, rid
    if kind == 10:
        params = rng.choice([{"x": 1}, {"prompt": "hi"}, {"prompt": "hi", "out_dir": "/tmp", "steps": "many"},
                             {"prompt": "hi", "out_dir": "/tmp", "seed": -1}, {"prompt": ["hi"], "out_dir": "/t"}])
        method = "ping" if "x" in params else "generate"
        return dump(P.request(rid, method, params)), P.INVALID_PARAMS, rid
    if kind == 11:
        # reconstruction is installed (a well-formed request would run): a badly typed one is refused at once
        return dump(P.request(rid, "reconstruct", {"path": "/v.mp4", "out": "/o.npz", "denoise": 1})), \
            P.INVALID_PARAMS, rid
    if kind == 12:
        return dump({"type": "cancel", "id": rng.choice(["7", -1, None, 1.25])}), P.INVALID_REQUEST, None
    if kind == 13:
        return b'{"type":"request","id":%d,"method":"ping","params":{"a":%s}}' % (
            rid, rng.choice([b"NaN", b"Infinity", b"-Infinity", b"1e400"])), P.PARSE_ERROR, None
    if kind == 14:
        return rng.choice([b"[", b"{\"a\":"]) * rng.randrange(2000, 50_000), P.PARSE_ERROR, None
    if kind == 15:
        return dump({"type": "request", "id": rid, "method": "ping"})[:-1] + b"\xc3\x28}", P.PARSE_ERROR, None
    if kind == 16:
        return rng.choice([b"", b" ", b"\t\r"]), P.PARSE_ERROR, None
    return b"{" + b"x" * (P.MAX_LINE_BYTES + rng.randrange(1, 100_000)), P.PARSE_ERROR, None


def test_a_thousand_malformed_lines_never_break_the_server():
    rng = random.Random(20240905)
    cases = [_malformed(rng, k) for k in range(1000)]
    proc = subprocess.Popen([sys.executable, "-m", "backend.server", "--log-level", "warning"], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: queue.Queue = queue.Queue()

    def read_stdout():
        for raw in proc.stdout:
            lines.put(raw)
        lines.put(None)

    def write_stdin():
        payload = b"".join(line + b"\n" for line, _, _ in cases)
        payload += b'{"type":"cancel","id":424242}\n'     # an unknown id: ignored, no answer
        payload += P.encode(P.request(7, "ping")).encode()
        proc.stdin.write(payload)
        proc.stdin.flush()

    threads = [threading.Thread(target=read_stdout, daemon=True), threading.Thread(target=write_stdin, daemon=True)]
    stderr = []
    threads.append(threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True))
    for t in threads:
        t.start()
    try:
        messages, deadline = [], time.monotonic() + 60
        while not (messages and messages[-1].get("id") == 7):
            raw = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert raw is not None, f"the server stopped: {stderr}"
            messages.append(P.decode(raw))
        threads[1].join(timeout=10)
        proc.stdin.write(P.encode(P.request(8, "shutdown")).encode())
        proc.stdin.close()
        assert proc.wait(timeout=20) == 0
        while (raw := lines.get(timeout=5)) is not None:
            messages.append(P.decode(raw))
    finally:
        if proc.poll() is None:
            proc.kill()
    assert messages[0]["type"] == "hello" and messages[0]["protocol"] == P.PROTOCOL_VERSION
    answers, tail = messages[1:1001], messages[1001:]
    assert len(answers) == 1000 and all(m["type"] == "error" for m in answers)
    for (line, code, rid), answer in zip(cases, answers):   # refusals come back in input order
        assert code is None or answer["code"] == code, (line[:80], answer)
        assert answer["id"] == rid, (line[:80], answer)
        assert answer["message"]
    assert tail == [P.result(7, {"pong": True}), P.result(8, {})]
