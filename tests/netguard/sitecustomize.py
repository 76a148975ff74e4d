"""Test-only network guard, imported at start-up by every Python the test suite starts.

The test suite puts this folder on ``PYTHONPATH``, so its own process and every
subprocess it starts (CLI runs, workers, Blender's bpy) load it. Any name lookup or
connection that leaves this machine is refused *and* written to
``$SIGNFORGE_NETGUARD_LOG``: libraries that swallow connection errors (the model hubs
fall back quietly) still leave a line, and the session fails on it. Loopback stays open
for torch.distributed, Ray and the backend's own TCP tests.
"""
import os
import socket

_LOG = os.environ.get("SIGNFORGE_NETGUARD_LOG")
_HOST = socket.gethostname()


def _local(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in (None, "", "localhost", "0.0.0.0", "::", "::1", _HOST):
        return True
    host = str(host)
    return host.startswith("127.") or host.endswith(".localhost") or host.startswith("::ffff:127.")


def _refuse(what: str):
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(f"pid {os.getpid()}: {what}\n")
    raise OSError(f"network access blocked in SignForge's tests: {what}")


_getaddrinfo = socket.getaddrinfo
_gethostbyname = socket.gethostbyname
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _local(host):
        _refuse(f"name lookup of {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


def _guarded_gethostbyname(host):
    if not _local(host):
        _refuse(f"name lookup of {host!r}")
    return _gethostbyname(host)


def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _refuse(f"connection to {address!r}")


def _guarded_connect(self, address):
    _check(self, address)
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    _check(self, address)
    return _connect_ex(self, address)


socket.getaddrinfo = _guarded_getaddrinfo
socket.gethostbyname = _guarded_gethostbyname
socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
