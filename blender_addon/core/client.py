"""The add-on's side of the backend: find a Python, start or embed the server, talk to it. Standard library only.

Never imports ``bpy``, ``numpy`` or ``torch`` (``InProcessBackend`` imports the backend,
and with it torch, only when it starts). The backends (a subprocess, in process, a remote
server over TCP: ``RemoteBackend``) have one interface, polled from
Blender's main thread by a modal operator's timer or looped over in batch mode:

- ``submit(method, params) -> id`` queues a request (starting the backend if needed);
- ``poll() -> [message]`` returns what arrived, never blocking: progress, exactly one
  terminal (``result``/``error``) per request, and client-side ``notice`` messages;
- ``cancel(id)``, ``wait(id, timeout)``, ``alive``, ``close()``.

A subprocess that dies ends every request it had not answered with a synthesized
``backend_crashed`` error (exit code and the last lines of its log); the next ``submit``
starts a fresh one and says so with a notice.
"""
from __future__ import annotations

import abc
import collections
import importlib
import importlib.util
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from . import protocol as P
from . import transfer as T
from .errors import SignForgeError

SERVER_MODULE = "backend.server"
ORIGIN_FILE = "backend_origin.json"
VENV_PYTHONS = (Path(".venv") / "bin" / "python", Path(".venv") / "Scripts" / "python.exe")
REMOTE_HINT = ("check Remote backend and Token in Preferences > Add-ons > SignForge, and that "
               "`python -m backend.server --listen HOST:PORT` runs there")
PREFERENCES_HINT = ("click Install Backend in Preferences > Add-ons > SignForge, or set Backend Python there "
                    "to a Python with SignForge's backend installed (a checkout's .venv/bin/python)")


class BackendError(SignForgeError, RuntimeError):
    """The backend cannot be found, started or reached; the message says what to do."""


# ---------------------------------------------------------------------------- finding a Python
def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _repository_python(root: Path) -> Path | None:
    """The virtual environment's Python of a SignForge checkout at ``root``, if it has one."""
    if not (root / "backend").is_dir():
        return None
    for rel in VENV_PYTHONS:
        if _executable(root / rel):
            return (root / rel).absolute()   # not resolve(): a venv's python is a link out of the venv
    return None


def find_python(preference: str, addon_dir: Path | str, levels: int = 4,
                installed: Path | None = None) -> Path | None:
    """The interpreter to run the backend with, or None when there is none to be found.

    In order: the add-on preference when set (an error if it is not an executable file);
    ``installed``, the private backend the preferences' Install Backend made
    (``install.installed_python``); the ``.venv`` of a SignForge checkout at ``addon_dir`` or
    up to ``levels`` folders above it; the ``.venv`` of the checkout recorded in
    ``addon_dir/backend_origin.json`` (``{"repository": "/path"}``, only in a zip built with
    ``--link-checkout``).
    """
    if preference and preference.strip():
        path = Path(preference.strip()).expanduser()
        if not path.exists():
            raise BackendError(f"Backend Python {path} does not exist; {PREFERENCES_HINT}")
        if path.is_dir():
            raise BackendError(f"Backend Python {path} is a folder; choose the python executable inside "
                               f"it (for example {path / 'bin' / 'python'})")
        if not os.access(path, os.X_OK):
            raise BackendError(f"Backend Python {path} is not executable; {PREFERENCES_HINT}")
        return path.absolute()
    if installed is not None and _executable(Path(installed)):
        return Path(installed).absolute()
    addon_dir = Path(addon_dir).absolute()
    for root in [addon_dir, *addon_dir.parents][: levels + 1]:
        found = _repository_python(root)
        if found is not None:
            return found
    origin = addon_dir / ORIGIN_FILE
    if origin.is_file():
        try:
            repository = json.loads(origin.read_text(encoding="utf-8"))["repository"]
            if not isinstance(repository, str):
                raise TypeError("'repository' is not a string")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BackendError(f"{origin} is damaged ({exc}); reinstall the add-on or {PREFERENCES_HINT}") from None
        return _repository_python(Path(repository).expanduser())
    return None


def repository_of(python: Path) -> Path | None:
    """The checkout whose ``.venv`` holds ``python``, so the server starts inside it."""
    venv = Path(python).absolute().parent.parent
    root = venv.parent
    return root if venv.name == ".venv" and (root / "backend").is_dir() else None


def safe_working_folder(python: Path) -> Path:
    """Where a backend run by ``python`` starts: its checkout, else its own install's folder.

    Never the caller's working folder (Blender's may be any download folder); with the
    server in isolated mode the folder is not on ``sys.path`` either way, but relative
    paths then resolve somewhere the user chose to install into.
    """
    repository = repository_of(python)
    if repository is not None:
        return repository
    prefix = Path(python).absolute().parent.parent   # <prefix>/bin/python, <venv>/Scripts/python.exe
    return prefix if prefix.is_dir() else Path.home()


# ---------------------------------------------------------------------------- shared client logic
class _Ended:
    """Put on the inbox when a backend stopped: its exit code and last log lines."""

    def __init__(self, code: int | None, tail: list[str], generation: int):
        self.code, self.tail, self.generation = code, tail, generation


class Backend(abc.ABC):
    """Ids, pending requests, the inbox and the crash bookkeeping common to both backends.

    Subclasses start and stop the server and deliver messages to it; whatever the server
    sends goes on ``_inbox``, followed by an ``_Ended`` when it stops.
    """

    name = "backend"

    def __init__(self, log: Callable[[str], None] | None = None):
        self._log = log
        self._inbox: queue.Queue = queue.Queue()
        self._backlog: list[dict] = []
        self._pending: dict[int, str] = {}   # id -> method, until its terminal is polled
        self._internal: set[int] = set()     # ids of our own shutdown requests; never shown
        self._next_id = 0
        self._lock = threading.RLock()
        self._generation = 0                 # which start of the backend; stale ends are ignored
        self._expect_exit = False
        self._last_crash: int | None | bool = False   # exit code of an unexpected stop, until restarted
        self.notices: list[str] = []
        self.server = ""
        self.capabilities: list[str] = []
        self.log_lines: collections.deque[str] = collections.deque(maxlen=300)

    @abc.abstractmethod
    def _start(self) -> None:
        """Start the server and fill in ``server`` and ``capabilities``; BackendError if it cannot."""

    @abc.abstractmethod
    def _deliver(self, msg: dict) -> bool:
        """Hand a request or cancel to the server; False when it is gone (its end follows on the inbox)."""

    @abc.abstractmethod
    def _stop(self, timeout: float) -> None:
        """Make the running server stop, by force after ``timeout`` seconds."""

    @property
    @abc.abstractmethod
    def alive(self) -> bool:
        """Whether the server runs now."""

    # -- public
    def start(self) -> "Backend":
        """Start the backend unless it runs; after an unexpected stop, say that it restarted."""
        with self._lock:
            if self.alive:
                return self
            self._absorb_end()
            self._expect_exit = False
            self._generation += 1
            self._start()
            if self._last_crash is not False:
                self._note(self._restarted_text(self._last_crash))
                self._last_crash = False
            return self

    def submit(self, method: str, params: Mapping | None = None) -> int:
        """Send a request; its messages come from ``poll``. Returns the request's id."""
        with self._lock:
            self.start()
            self._next_id += 1
            req_id = self._next_id
            try:
                line = P.encode(P.request(req_id, method, params))   # refuses what JSON cannot carry
            except P.ProtocolError as exc:
                raise BackendError(f"{method}: {exc.message}") from None
            self._pending[req_id] = method
            if method == "shutdown":
                self._expect_exit = True
            self._deliver(P.decode(line))
            return req_id

    def cancel(self, req_id: int) -> None:
        """Ask the backend to stop request ``req_id``; its terminal message still comes from ``poll``."""
        with self._lock:
            if req_id in self._pending and self.alive:
                self._deliver(P.cancel(req_id))

    def poll(self) -> list[dict]:
        """Every message that arrived since the last call; never blocks."""
        with self._lock:
            out, self._backlog = self._backlog, []
            out += self._drain()
            return out

    @property
    def pending(self) -> list[int]:
        """Ids of requests whose terminal message has not been polled yet."""
        return sorted(self._pending)

    def wait(self, req_id: int, timeout: float = 600.0, on_progress: Callable[[dict], None] | None = None,
             interval: float = 0.01) -> dict:
        """Poll until request ``req_id`` ends and return its terminal message.

        Its progress messages go to ``on_progress``; messages of other requests are kept
        for the next ``poll``. After ``timeout`` seconds the request is cancelled and
        ``BackendError`` raised.
        """
        keep: list[dict] = []
        deadline = time.monotonic() + timeout
        try:
            with self._lock:
                known = req_id in self._pending or any(
                    m.get("id") == req_id and P.is_terminal(m) for m in self._backlog)
            if not known:
                raise BackendError(f"request {req_id} is unknown or its answer was already polled")
            while True:
                messages = self.poll()
                for k, msg in enumerate(messages):
                    if msg.get("id") == req_id and msg.get("type") in P.TERMINAL_TYPES:
                        keep += messages[k + 1:]
                        return msg
                    if msg.get("id") == req_id and msg.get("type") == P.PROGRESS:
                        if on_progress is not None:
                            on_progress(msg)
                    else:
                        keep.append(msg)
                if time.monotonic() > deadline:
                    self.cancel(req_id)
                    raise BackendError(f"request {req_id} got no answer within {timeout:g} s and was cancelled")
                time.sleep(interval)
        finally:
            with self._lock:
                self._backlog = keep + self._backlog

    def close(self, timeout: float = 5.0) -> None:
        """Cancel what is pending, stop the backend (forcefully after ``timeout``) and keep the answers."""
        with self._lock:
            if self.alive:
                for req_id in list(self._pending):
                    self._deliver(P.cancel(req_id))
                self._expect_exit = True
                self._stop(timeout)
            self._absorb_end()
            for req_id, method in list(self._pending.items()):   # the backend could not answer them
                self._backlog.append(P.error(req_id, P.CANCELLED, f"{method}: cancelled, the backend was closed"))
                del self._pending[req_id]

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals
    def _stopped_text(self, code: int | None) -> str:
        """How an unexpected stop reads in the error that ends each of its requests."""
        return f"the SignForge backend stopped (exit code {code})"

    def _restarted_text(self, code: int | None) -> str:
        return "the SignForge backend stopped and was restarted"

    def _note(self, text: str) -> None:
        self.notices.append(text)
        self._backlog.append(P.notice(text))
        self._emit(f"[signforge client] {text}")

    def _emit(self, line: str) -> None:
        self.log_lines.append(line)
        if self._log is not None:
            try:
                self._log(line)
            except Exception:   # a broken log callback must not break the backend
                pass

    def _drain(self) -> list[dict]:
        out: list[dict] = []
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return out
            if isinstance(item, _Ended):
                out += self._ended(item)
                continue
            req_id = item.get("id")
            if P.is_terminal(item):
                self._pending.pop(req_id, None)
            if req_id in self._internal:
                if P.is_terminal(item):
                    self._internal.discard(req_id)
                continue
            if item.get("type") == P.ERROR and req_id is None:
                self._emit(f"[signforge client] the backend refused a line: {item.get('message')}")
            out.append(item)

    def _ended(self, end: _Ended) -> list[dict]:
        if end.generation != self._generation:
            return []
        if not self._expect_exit:   # not after close() or a shutdown request: the user hears of it
            self._last_crash = end.code
        tail = "\n".join(end.tail[-12:])
        out = []
        for req_id, method in sorted(self._pending.items()):
            if self._expect_exit:   # closed (or shut down) while it ran: that is a cancel
                out.append(P.error(req_id, P.CANCELLED, f"{method}: cancelled, the backend was closed "
                                                        f"(exit code {end.code})"))
            else:
                out.append(P.error(req_id, P.BACKEND_CRASHED,
                                   f"{self._stopped_text(end.code)} during {method}"
                                   + (f"; its last log lines:\n{tail}" if tail else "")))
        self._pending.clear()
        self._internal.clear()
        self._generation += 1   # nothing more comes from this start
        return out

    def _absorb_end(self) -> None:
        """Before (re)starting or after closing: wait for the old backend's end and keep its messages."""
        self._join_threads()
        self._backlog += self._drain()

    def _join_threads(self) -> None:
        pass


# ---------------------------------------------------------------------------- over a byte stream
class _StreamBackend(Backend):
    """A server spoken to over a byte stream: a child's pipes or a socket.

    One reader thread (``_pump``) decodes lines: the first is the handshake, handed to the
    starting thread through a queue; the rest go on the inbox, then an ``_Ended``. Writes
    are whole lines under one lock (``_write_line``). Subclasses open and close the stream.
    """

    def __init__(self, log: Callable[[str], None] | None = None, hello_timeout: float = 60.0):
        super().__init__(log)
        self.hello_timeout = hello_timeout
        self._threads: list[threading.Thread] = []
        self._write_lock = threading.Lock()

    def _pump(self, read: Callable[[int], bytes], hello: queue.Queue, generation: int,
              finish: Callable[[], "_Ended"]) -> None:
        shaken = False
        for line in P.iter_lines(read):
            try:
                msg = P.decode(line)
            except P.ProtocolError as exc:
                self._emit(f"[signforge client] unreadable line from the backend ({exc.message}): "
                           f"{line[:200]!r}")
                if not shaken:
                    hello.put(BackendError(exc.message))
                    shaken = True
                continue
            if not shaken:
                hello.put(msg)
                shaken = True
            else:
                self._inbox.put(msg)
        end = finish()
        if not shaken:
            hello.put(end)
        self._inbox.put(end)

    def _first_message(self, hello: queue.Queue, what: str):
        """The handshake's first message (a dict, a BackendError or an _Ended)."""
        try:
            return hello.get(timeout=self.hello_timeout)
        except queue.Empty:
            raise BackendError(f"{what} did not answer within {self.hello_timeout:g} s"
                               f"{self._log_hint()}") from None

    def _log_hint(self) -> str:
        return ""

    def _check_hello(self, first, what: str, who: str) -> dict:
        """``first`` if it is a hello of this protocol version, else ``BackendError`` saying what it is."""
        if isinstance(first, BackendError) or first.get("type") != P.HELLO:
            why = first if isinstance(first, BackendError) else "its first message is not hello"
            raise BackendError(f"{what} is not a SignForge backend: {why}")
        if first["protocol"] != P.PROTOCOL_VERSION:
            raise BackendError(f"{who} ({first['server']}) speaks protocol {first['protocol']}, this add-on "
                               f"speaks {P.PROTOCOL_VERSION}; install the add-on and the backend from the same "
                               f"SignForge version")
        return first

    def _shake_hands(self, handshake: Callable[[], dict], abort: Callable[[], None]) -> dict:
        """The server's hello from ``handshake()``, kept in ``server`` and ``capabilities``; when
        it fails, ``abort()`` the server, wait for the reader and raise its ``BackendError``."""
        try:
            first = handshake()
        except BackendError:
            abort()
            self._join_threads()
            self._generation += 1   # its end is reported here, not to poll()
            raise
        self.server, self.capabilities = first["server"], list(first["capabilities"])
        return first

    def _write_line(self, write: Callable[[memoryview], int | None], msg: dict) -> bool:
        with self._write_lock:
            try:
                P.write_message(write, msg)
                return True
            except (OSError, ValueError):   # it is gone: the reader's end of input reports it
                return False


# ---------------------------------------------------------------------------- subprocess
class SubprocessBackend(_StreamBackend):
    """``python -m backend.server`` in a child process, spoken to over pipes.

    Starts on the first ``submit`` (or ``start()``), waits up to ``hello_timeout`` seconds
    for the handshake and refuses another protocol version. A reader thread decodes stdout
    onto a queue; another drains stderr into ``log_lines`` (bounded) and ``log(line)``, so
    neither pipe ever fills.
    """

    name = "subprocess"

    def __init__(self, python: Path | str, cwd: Path | str | None = None, env: Mapping[str, str] | None = None,
                 log: Callable[[str], None] | None = None, *, module: str = SERVER_MODULE,
                 args: Iterable[str] = (), hello_timeout: float = 60.0, isolated: bool = True):
        super().__init__(log, hello_timeout)
        self.python = Path(python)
        self.cwd = safe_working_folder(self.python) if cwd is None else Path(cwd)
        self.isolated = isolated
        self.env = None if env is None else dict(env)
        self.module = module
        self.args = list(args)
        self._proc: subprocess.Popen | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)   # this start's, for errors

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _start(self) -> None:
        # -I: isolated mode, so neither the working folder nor PYTHONPATH is on sys.path and
        # the backend is imported from the configured install only, never from a `backend/`
        # folder that happens to sit where Blender was started
        command = [str(self.python), *(["-I"] if self.isolated else []), "-m", self.module, *self.args]
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0
        try:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, bufsize=0, cwd=self.cwd, env=self.env,
                                    creationflags=flags)
        except OSError as exc:
            raise BackendError(f"cannot start the SignForge backend with {self.python}: {exc}; "
                               f"{PREFERENCES_HINT}") from None
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None   # all PIPE
        self._proc = proc
        self._stderr = collections.deque(maxlen=20)
        generation = self._generation
        hello: queue.Queue = queue.Queue()
        err = threading.Thread(target=self._read_stderr, args=(proc,), name="signforge-stderr", daemon=True)
        def finish() -> _Ended:
            code = proc.wait()
            err.join(timeout=2.0)   # so the crash message can quote the last log lines
            return _Ended(code, list(self._stderr), generation)

        out = threading.Thread(target=self._pump, args=(proc.stdout.read, hello, generation, finish),
                               name="signforge-stdout", daemon=True)
        self._threads = [err, out]
        err.start()
        out.start()
        first = self._shake_hands(lambda: self._handshake(hello, " ".join(command)), self._kill)
        self._emit(f"[signforge client] started {first['server']} (pid {proc.pid})")

    def _restarted_text(self, code: int | None) -> str:
        return f"the SignForge backend stopped (exit code {code}) and was restarted"

    def _handshake(self, hello: queue.Queue, command: str) -> dict:
        first = self._first_message(hello, f"the SignForge backend ({command})")
        if isinstance(first, _Ended):
            self._threads[0].join(timeout=2.0)
            raise BackendError(f"the SignForge backend ({command}) exited with code {first.code} before "
                               f"its handshake; its log:\n{self._tail()}")
        return self._check_hello(first, command, f"the backend at {self.python}")

    def _log_hint(self) -> str:
        return f"; its log:\n{self._tail()}"

    def _read_stderr(self, proc: subprocess.Popen) -> None:
        tail = self._stderr
        assert proc.stderr is not None   # started with stderr=PIPE
        for line in P.iter_lines(proc.stderr.read, limit=8192):
            text = line.decode("utf-8", "replace").rstrip("\r")
            tail.append(text)
            self._emit(text)

    def _deliver(self, msg: dict) -> bool:
        assert self._proc is not None and self._proc.stdin is not None   # only a started backend delivers
        return self._write_line(self._proc.stdin.write, msg)   # a raw pipe may take part of a line per write

    def _stop(self, timeout: float) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None   # only a started backend stops
        self._next_id += 1
        self._internal.add(self._next_id)
        self._deliver(P.request(self._next_id, "shutdown", {}))
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._emit(f"[signforge client] the backend did not stop within {timeout:g} s; terminating it")
            self._kill()

    def _kill(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _join_threads(self) -> None:
        for t in self._threads:
            t.join(timeout=5.0)
        self._threads = []
        if self._proc is not None:
            for pipe in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
                try:
                    if pipe is not None:
                        pipe.close()
                except OSError:
                    pass

    def _tail(self, n: int = 12) -> str:
        return "\n".join(list(self._stderr)[-n:]) or "(nothing)"


# ---------------------------------------------------------------------------- over TCP
class RemoteBackend(_StreamBackend):
    """A ``python -m backend.server --listen HOST:PORT`` server, spoken to over TCP.

    Connects on the first ``submit`` (or ``start()``), sends the token as its first line
    and waits for the handshake; a refused token, an unreachable or malformed address are
    a ``BackendError`` in one line. A lost connection ends every request it had not
    answered with ``backend_crashed``; the next ``submit`` connects again and says so.

    When the server offers file transfer (``core/transfer.py``) a request that reads or writes
    files runs as a ``Transfer``: its local input files are uploaded into this connection's
    workspace, its outputs are pointed there, and its results are downloaded to the paths
    the caller gave, as further steps that ``poll`` drives and ``cancel`` stops (a cancelled
    download leaves no file). Its id, progress and one terminal are the caller's as with any
    request; the result names local paths. With ``transfers=False``, or a server without
    transfer, paths are the server machine's.
    """

    name = "remote"

    def __init__(self, address: str, token: str, log: Callable[[str], None] | None = None, *,
                 connect_timeout: float = 10.0, hello_timeout: float = 30.0, transfers: bool = True,
                 chunk_bytes: int = T.CHUNK_BYTES):
        super().__init__(log, hello_timeout)
        try:
            self.host, self.port = P.parse_address(address)
        except ValueError as exc:
            raise BackendError(f"Remote backend: {exc}; {REMOTE_HINT}") from None
        if not (token or "").strip():
            raise BackendError(f"Remote backend {address.strip()} needs its token; {REMOTE_HINT}")
        self.address = address.strip()
        self._token = token.strip()
        self.connect_timeout = connect_timeout
        self._sock: socket.socket | None = None
        self.transfers = transfers
        self._transfers: dict[int, T.Transfer] = {}   # the caller's id -> its transfer, until it ends
        self._owners: dict[int, T.Transfer] = {}      # ids a transfer sent -> it, until their terminal
        self._workspace: tuple[int, dict] | None = None   # (generation, workspace) of this connection
        self._sending: T.Transfer | None = None           # the transfer whose step runs now
        self.chunk_bytes = chunk_bytes

    @property
    def alive(self) -> bool:
        return self._sock is not None and bool(self._threads) and self._threads[0].is_alive()

    def _start(self) -> None:
        what = f"the SignForge backend at {self.address}"
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except socket.gaierror:
            raise BackendError(f"cannot reach {what}: unknown host {self.host!r}; {REMOTE_HINT}") from None
        except (TimeoutError, socket.timeout):
            raise BackendError(f"cannot reach {what}: no answer within {self.connect_timeout:g} s; "
                               f"{REMOTE_HINT}") from None
        except OSError as exc:
            raise BackendError(f"cannot reach {what}: {exc.strerror or exc}; {REMOTE_HINT}") from None
        sock.settimeout(None)
        self._sock = sock
        generation = self._generation
        hello: queue.Queue = queue.Queue()

        def read(n: int) -> bytes:
            try:
                return sock.recv(n)
            except OSError:
                return b""

        reader = threading.Thread(target=self._pump, args=(read, hello, generation,
                                                           lambda: _Ended(None, [], generation)),
                                  name="signforge-remote", daemon=True)
        self._threads = [reader]
        reader.start()
        def handshake() -> dict:
            if not self._write_line(sock.send, P.auth(self._token)):
                raise BackendError(f"{what} closed the connection before its token was sent; {REMOTE_HINT}")
            first = self._first_message(hello, what)
            if isinstance(first, _Ended):
                raise BackendError(f"{what} closed the connection before its handshake; {REMOTE_HINT}")
            if isinstance(first, dict) and first.get("type") == P.ERROR:
                raise BackendError(f"{what} refused the connection: {first['message']}; {REMOTE_HINT}")
            return self._check_hello(first, what, what)

        first = self._shake_hands(handshake, self._disconnect)
        self._emit(f"[signforge client] connected to {first['server']} at {self.address}")

    def _deliver(self, msg: dict) -> bool:
        assert self._sock is not None   # only a connected backend delivers
        return self._write_line(self._sock.send, msg)

    # -- file transfer
    def submit(self, method: str, params: Mapping | None = None) -> int:
        with self._lock:
            self.start()
            if not (self.transfers and method in T.OUTPUTS and "upload" in self.capabilities):
                return super().submit(method, params)
            self._next_id += 1
            rid = self._next_id
            try:
                P.encode(P.request(rid, method, params))   # refuses what JSON cannot carry
                workspace = self._workspace[1] if self._workspace and self._workspace[0] == self._generation else None
                transfer = T.Transfer(rid, method, params or {}, self._send_for, self._cancel_for, workspace,
                                      chunk=self.chunk_bytes)
            except P.ProtocolError as exc:
                raise BackendError(f"{method}: {exc.message}") from None
            except T.TransferError as exc:
                raise BackendError(exc.message) from None
            self._pending[rid] = method
            self._transfers[rid] = transfer
            self._sending = transfer
            self._backlog += self._step(transfer, transfer.advance)
            return rid

    @property
    def pending(self) -> list[int]:
        """The caller's requests not yet ended (a transfer's own requests are not the caller's)."""
        return sorted(i for i in self._pending if i not in self._owners)

    def _send_for(self, method: str, params: dict) -> int:
        """Send a transfer's own request on this connection (never a new one: its workspace is gone)."""
        if not self.alive:
            raise T.TransferError(P.BACKEND_CRASHED, f"{self._stopped_text(None)}")
        req_id = super().submit(method, params)
        assert self._sending is not None   # called from a transfer's step (_step sets it)
        self._owners[req_id] = self._sending
        return req_id

    def _cancel_for(self, req_id: int) -> None:
        super().cancel(req_id)

    def _step(self, transfer: "T.Transfer", step: Callable[..., list[dict]], *args) -> list[dict]:
        """Run one step of ``transfer``; when it ends the caller's request, forget it."""
        self._sending = transfer
        try:
            out = step(*args)
        except T.TransferError as exc:
            out = [transfer.fail(exc.code, exc.message)]
        except OSError as exc:
            out = [transfer.fail(P.FAILED, f"{transfer.method}: {exc.strerror or exc}")]
        if transfer.workspace is not None and (self._workspace is None or self._workspace[0] != self._generation):
            self._workspace = (self._generation, transfer.workspace)
        if any(P.is_terminal(m) for m in out):
            self._transfers.pop(transfer.rid, None)
            self._pending.pop(transfer.rid, None)
        return out

    def poll(self) -> list[dict]:
        with self._lock:
            messages = super().poll()
            if not self._transfers and not self._owners:
                return messages
            out: list[dict] = []
            ended: set[int] = set()   # callers' ids whose terminal went out in this call
            for msg in messages:
                req_id = msg.get("id")
                owner = self._owners.get(req_id) if req_id is not None else None
                if owner is not None and req_id is not None:
                    if P.is_terminal(msg):
                        del self._owners[req_id]
                    got = self._step(owner, owner.on_message, msg)
                elif req_id in self._transfers and P.is_terminal(msg):   # the connection was lost or closed
                    self._transfers.pop(req_id).abort(cancel=False, remote=False)
                    got = [msg]
                elif req_id in ended and P.is_terminal(msg):
                    got = []
                else:
                    got = [msg]
                ended.update(m["id"] for m in got if P.is_terminal(m))
                out += got
            for transfer in list(self._transfers.values()):
                got = self._step(transfer, transfer.advance)
                ended.update(m["id"] for m in got if P.is_terminal(m))
                out += got
            return out

    def cancel(self, req_id: int) -> None:
        with self._lock:
            transfer = self._transfers.pop(req_id, None)
            if transfer is None:
                return super().cancel(req_id)
            self._sending = transfer
            transfer.abort(cancel=self.alive, remote=self.alive)
            self._pending.pop(req_id, None)
            self._backlog.append(P.error(req_id, P.CANCELLED, f"{transfer.method}: cancelled"))

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            super().close(timeout)   # each transfer's request ends "cancelled" on the backlog
            for transfer in self._transfers.values():
                transfer.abort(cancel=False, remote=False)   # its partial downloads go now
            self._transfers.clear()
            self._workspace = None

    def _stop(self, timeout: float) -> None:
        self._next_id += 1
        self._internal.add(self._next_id)
        self._deliver(P.request(self._next_id, "shutdown", {}))   # ends this connection, not the server
        assert self._sock is not None   # _deliver needed it too
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self._threads[0].join(timeout=timeout)
        if self._threads[0].is_alive():
            self._emit(f"[signforge client] the backend at {self.address} did not close within {timeout:g} s; "
                       f"closing the connection")
            self._disconnect()

    def _disconnect(self) -> None:
        try:
            if self._sock is not None:
                self._sock.shutdown(socket.SHUT_RDWR)   # wakes the reader with end of input
        except OSError:
            pass

    def _join_threads(self) -> None:
        for t in self._threads:
            t.join(timeout=5.0)
        self._threads = []
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _stopped_text(self, code: int | None) -> str:
        return f"the connection to the SignForge backend at {self.address} was lost"

    def _restarted_text(self, code: int | None) -> str:
        return f"the connection to the SignForge backend at {self.address} was lost and is open again"


# ---------------------------------------------------------------------------- in process
class InProcessBackend(Backend):
    """``backend.server``'s Dispatcher and Handler on a worker thread inside this Python.

    For a Blender whose Python can import torch and the backend. Messages still pass
    through ``encode``/``decode``, so both backends hand the caller the same dicts.
    """

    name = "in_process"

    def __init__(self, log: Callable[[str], None] | None = None):
        super().__init__(log)
        self._handler: Any = None      # backend.server's Handler, made on the first start
        self._dispatcher: Any = None   # backend.server's Dispatcher of the running start
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _start(self) -> None:
        shadow = shadowing_backend()
        if shadow is not None:
            raise BackendError(f"{shadow} in the working folder would be imported instead of SignForge's "
                               f"installed backend; start from another folder or {PREFERENCES_HINT}")
        try:
            server = importlib.import_module(SERVER_MODULE)
        except ImportError as exc:
            raise BackendError(f"this Python cannot import SignForge's backend ({exc}); choose Subprocess "
                               f"in the add-on preferences and {PREFERENCES_HINT}") from None
        if self._handler is None:
            self._handler = server.Handler()   # kept across restarts: loaded bodies stay loaded
        generation = self._generation
        self._dispatcher = server.Dispatcher(self._handler, lambda m: self._inbox.put(P.decode(P.encode(m))))
        self._thread = threading.Thread(target=self._run, args=(self._dispatcher, generation),
                                        name="signforge-backend", daemon=True)
        self._thread.start()
        self.server = f"{server.server_name()} (in process)"
        self.capabilities = self._handler.capabilities()

    def _run(self, dispatcher, generation: int) -> None:
        code = 0
        try:
            dispatcher.run()
        except BaseException as exc:   # reported to the pending requests as a crash
            code = 1
            self._emit(f"[signforge client] the in-process backend stopped: {type(exc).__name__}: {exc}")
        finally:
            self._inbox.put(_Ended(code, list(self.log_lines)[-12:], generation))

    def _deliver(self, msg: dict) -> bool:
        if msg["type"] == P.REQUEST:
            self._dispatcher.submit(msg["id"], msg["method"], msg["params"])
        elif msg["type"] == P.CANCEL:
            self._dispatcher.cancel(msg["id"])
        return True

    def _stop(self, timeout: float) -> None:
        assert self._thread is not None   # only a started backend stops
        self._dispatcher.stop(cancel_running=True)
        self._thread.join(timeout=timeout)
        if self._thread.is_alive():   # a thread cannot be killed: let it finish, unheard
            self._emit(f"[signforge client] the in-process backend did not stop within {timeout:g} s; "
                       f"it finishes in the background")
        self._thread = self._dispatcher = None

    def _join_threads(self) -> None:
        if self._thread is not None and not self._thread.is_alive():
            self._thread.join()


# ---------------------------------------------------------------------------- choosing
def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _origin(spec) -> Path | None:
    return None if spec is None or spec.origin is None else Path(spec.origin).resolve()


def shadowing_backend() -> Path | None:
    """A ``backend`` package this Python would import from the working folder instead of its install.

    When the working folder is on ``sys.path`` (``""``, ``"."``), a ``backend/`` folder there
    would be imported and run in process. Returns that folder, or None when the backend
    this Python imports is the one it finds without the working folder.
    """
    cwd = Path.cwd().resolve()

    def is_cwd(entry: str) -> bool:
        try:
            return entry in ("", ".") or Path(entry).resolve() == cwd
        except OSError:
            return False

    if not any(is_cwd(p) for p in sys.path):
        return None
    loaded = sys.modules.get("backend")
    try:
        found = _origin(loaded.__spec__) if loaded is not None else _origin(importlib.util.find_spec("backend"))
        saved = list(sys.path)
        sys.path[:] = [p for p in sys.path if not is_cwd(p)]
        try:
            cached = sys.modules.pop("backend", None)
            try:
                safe = _origin(importlib.util.find_spec("backend"))
            finally:
                if cached is not None:
                    sys.modules["backend"] = cached
        finally:
            sys.path[:] = saved
    except (ImportError, ValueError):
        return None
    if found is not None and found != safe and found.parent.parent == cwd:
        return found.parent
    return None


def choose_backend(python_pref: str, addon_dir: Path | str, mode: str = "auto",
                   installed: Path | None = None) -> Path | None:
    """Where the preferences put the backend: None for in this Python, else the Python to run.

    ``mode``: "in_process", "subprocess" or "auto" (in process when no Backend Python is
    set, Install Backend made none, and this Python can import torch and the backend, else a
    subprocess). Raises
    ``BackendError`` saying what to set when there is nowhere to run it.
    """
    if mode not in ("auto", "in_process", "subprocess"):
        raise BackendError(f"unknown backend mode {mode!r}; choose auto, in_process or subprocess")
    embeddable = _importable("torch") and _importable("backend")
    if mode == "in_process" or (mode == "auto" and not (python_pref or "").strip() and installed is None
                                and embeddable):
        if not embeddable:
            raise BackendError("Blender's Python cannot import torch and SignForge's backend; choose "
                               f"Subprocess in the add-on preferences and {PREFERENCES_HINT}")
        shadow = shadowing_backend()
        if shadow is not None:
            raise BackendError(f"{shadow} in the working folder would be imported instead of SignForge's "
                               f"installed backend; start Blender from another folder or {PREFERENCES_HINT}")
        return None
    python = find_python(python_pref, addon_dir, installed=installed)
    if python is None:
        raise BackendError(f"no Python with SignForge's backend was found; {PREFERENCES_HINT}")
    return python


def make_backend(python_pref: str, addon_dir: Path | str, mode: str = "auto",
                 log: Callable[[str], None] | None = None, address: str = "", token: str = "",
                 installed: Path | None = None) -> Backend:
    """A ``RemoteBackend`` when ``address`` (HOST:PORT) is set, else the backend ``choose_backend``
    picks; nothing starts or connects until the first request."""
    if (address or "").strip():
        return RemoteBackend(address, token, log=log)
    python = choose_backend(python_pref, addon_dir, mode, installed=installed)
    if python is None:
        return InProcessBackend(log=log)
    return SubprocessBackend(python, log=log)
