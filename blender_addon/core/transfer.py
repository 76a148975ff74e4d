"""File transfer over a remote (TCP) backend: the methods and the client's side. Standard library only.

``protocol.py`` is the specification of the wire; this module adds four methods that only a
TCP server offers (its hello lists them; the stdio server does not), so a Blender on another
machine can send its input files and fetch the results:

    ``workspace`` ()                          -> ``{"path": folder, "sep": "/"}``
        This connection's private folder on the server; the server removes it, with
        everything in it, when the connection ends.
    ``upload`` (path, data; offset=0, last=false)  -> ``{"path": absolute path, "size": n, "done": bool}``
        ``data`` is base64 of at most ``CHUNK_BYTES`` bytes written at ``offset`` (which must
        be the bytes sent so far; 0 starts the file again). The file appears at ``path``
        only with the ``last`` chunk, whole.
    ``download`` (path; offset=0, length=CHUNK_BYTES) -> ``{"data": base64, "offset": o, "size": n, "end": bool}``
    ``remove`` (path)                         -> ``{"removed": bool}``

``path`` is relative to the workspace, with "/" between names; an absolute path, ``..``, a
name starting with "." and a link on the way are refused (``invalid_params``), so nothing
outside the workspace is read or written through these methods.

``Transfer`` is the client's side of one request: it uploads the request's local input files,
points its outputs into the workspace, runs it, downloads the results beside where the
caller asked for them (each file written whole or not at all) and hands back the result
with the caller's local paths. ``client.RemoteBackend`` runs it inside ``poll``, one step
at a time, so the caller's UI never waits on the network.
"""
from __future__ import annotations

import base64
import os
import re
import secrets
from pathlib import Path
from typing import Callable, Mapping

from . import protocol as P
from .errors import SignForgeError

CHUNK_BYTES = 1 << 19   # 512 KiB: base64 of it (700 KB) fits a line (MAX_LINE_BYTES) with room to spare
WINDOW = 4              # chunks in flight: the connection stays busy without queueing a whole file
TMP_PREFIX = ".signforge-tmp-"   # backend/atomic.py's, so its sweep removes what a crash left

METHODS: Mapping[str, P.Method] = {m.name: m for m in (
    P.Method("workspace", "This connection's private folder on the server, removed when the connection ends.",
             (), '{"path": absolute folder, "sep": the server\'s path separator}'),
    P.Method("upload", "Write one chunk of a file in the workspace; the file appears with its last chunk.",
             (P.Param("path", "path", "where in the workspace (relative, '/' between names)", required=True),
              P.Param("data", "str", f"base64 of at most {CHUNK_BYTES} bytes", required=True),
              P.Param("offset", "int", "where the chunk goes: the bytes sent so far (0 starts again)", default=0,
                      minimum=0),
              P.Param("last", "bool", "the file's last chunk: the file is complete", default=False)),
             '{"path": absolute path, "size": bytes so far, "done": bool}'),
    P.Method("download", "Read one chunk of a file in the workspace.",
             (P.Param("path", "path", "which file in the workspace (relative)", required=True),
              P.Param("offset", "int", "the first byte", default=0, minimum=0),
              P.Param("length", "int", "at most this many bytes", default=CHUNK_BYTES, minimum=1,
                      maximum=CHUNK_BYTES)),
             '{"data": base64, "offset": o, "size": file size, "end": bool}'),
    P.Method("remove", "Remove a file or folder in the workspace (a link itself, never what it points to).",
             (P.Param("path", "path", "which file or folder in the workspace (relative)", required=True),),
             '{"removed": bool}'),
)}

# What each method reads (local files to send) and writes (where the caller wants the result).
INPUTS = {"generate": ("image",), "body": ("smplx",), "load_motion": ("path",), "save_motion": ("src", "smplx"),
          "reconstruct": ("path", "smplx"), "edit": ("motion",)}
OUTPUTS = {"generate": "out_dir", "body": "out", "load_motion": "out", "save_motion": "dst",
           "reconstruct": "out", "sentence": "out", "edit": "out"}
SMPLX_FILE = "SMPLX_NEUTRAL.npz"   # what a model folder holds (backend.body.model.resolve_model_file)


def check_params(method: str, params: Mapping | None) -> dict:
    """``params`` of a transfer method checked and completed, as ``protocol.check_params`` does."""
    spec = METHODS[method]
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise P.ProtocolError(P.INVALID_PARAMS, f"{method}: params must be an object")
    known = {p.name: p for p in spec.params}
    unknown = [k for k in params if k not in known]
    if unknown:
        raise P.ProtocolError(P.INVALID_PARAMS, f"{method}: unknown parameter {unknown[0]!r} ({method} takes "
                                                f"{', '.join(known) or 'no parameters'})")
    out = {}
    for name, p in known.items():
        if params.get(name) is None:
            if p.required:
                raise P.ProtocolError(P.INVALID_PARAMS, f"{method}: missing required parameter {name!r} ({p.doc})")
            out[name] = p.default
        else:
            out[name] = P._check_value(method, p, params[name])
    return out


def safe_name(name: str) -> str:
    """``name`` as a workspace file name: letters, digits, ``.``, ``_`` and ``-``, never starting with "."."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".") or "file"
    return clean[-120:]


def _model_file(path: Path) -> Path:
    """The SMPL-X file a model folder names, by the backend's rule; the path itself when a file."""
    if path.is_dir():
        for candidate in (path / SMPLX_FILE, path / "smplx" / SMPLX_FILE):
            if candidate.is_file():
                return candidate
        raise ValueError(f"{path}: no {SMPLX_FILE} in this folder or in its smplx/ subfolder")
    return path


class TransferError(SignForgeError, RuntimeError):
    """A request whose files cannot be sent or received; ends it with ``code`` and one line."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class Transfer:
    """One request run on a remote backend with its files carried across.

    Steps: ``workspace`` and the uploads, then the request with its paths in the workspace,
    then the downloads, then the result with the caller's paths. ``send(method, params)``
    submits a request and returns its id; ``cancel_id(id)`` cancels one. ``on_message``
    takes the messages of the ids this transfer sent; ``advance`` sends what can go now.
    Both return messages for the caller's id (``rid``): progress, and one terminal at the end.
    """

    def __init__(self, rid: int, method: str, params: Mapping, send: Callable[[str, dict], int],
                 cancel_id: Callable[[int], None], workspace: dict | None = None, chunk: int = CHUNK_BYTES):
        self.rid, self.method, self.params = rid, method, dict(params)
        self.chunk = max(1, min(int(chunk), CHUNK_BYTES))
        self._send, self._cancel_id = send, cancel_id
        self.folder = f"job-{secrets.token_hex(6)}"   # this request's files in the workspace
        self.workspace = workspace
        self.ids: set[int] = set()                     # sent and not ended
        self.ended = False
        self.main_id: int | None = None
        self.main_fraction = 0.0
        self._uploads: list[dict] = []
        self._downloads: list[dict] = []
        self._remote_params: dict | None = None
        self._result: dict | None = None
        self._asked_workspace = False
        self._what: dict[int, dict] = {}              # what each id was sent for
        for name in INPUTS.get(method, ()):
            value = self.params.get(name)
            if not isinstance(value, str) or not value.strip():
                continue
            local = Path(value).expanduser()
            if not local.exists():   # not a file of this machine: a path on the server, sent as it is
                continue
            try:
                local = _model_file(local) if name == "smplx" else local
                size = local.stat().st_size
                handle = open(local, "rb")
            except (OSError, ValueError) as exc:
                for u in self._uploads:
                    u["file"].close()
                raise TransferError(P.INVALID_PARAMS, f"{method}: parameter {name!r}: {exc}") from None
            self._uploads.append({"param": name, "local": local, "size": size, "file": handle, "sent": 0,
                                  "acked": 0, "rel": f"{self.folder}/in/{len(self._uploads)}-{safe_name(local.name)}"})
        out = OUTPUTS.get(method)
        self._out: tuple[str, Path, str] | None = None   # (param, the caller's path, its workspace path)
        if out and isinstance(self.params.get(out), str):
            local = Path(self.params[out]).expanduser().absolute()
            rel = f"{self.folder}/out/" + (safe_name(local.name) if out != "out_dir" else "motions")
            self._out = (out, local, rel)

    # ------------------------------------------------------------------ paths
    def _ws(self) -> dict:
        """The connection's workspace on the server (asked for before any file moves)."""
        if self.workspace is None:
            raise TransferError(P.FAILED, f"{self.method}: the server's workspace is not known yet")
        return self.workspace

    def _remote(self, rel: str) -> str:
        ws = self._ws()
        return ws["path"].rstrip(ws["sep"]) + ws["sep"] + rel.replace("/", ws["sep"])

    def _relative(self, remote: str) -> str:
        ws = self._ws()
        head = ws["path"].rstrip(ws["sep"]) + ws["sep"]
        if not remote.startswith(head):
            raise TransferError(P.FAILED, f"{self.method}: the server wrote {remote}, outside this connection's "
                                          f"workspace")
        return remote[len(head):].replace(ws["sep"], "/")

    # ------------------------------------------------------------------ progress
    def _bytes(self, items: list[dict], key: str) -> tuple[int, int]:
        known = [i for i in items if i["size"] is not None]   # a download's size comes with its first chunk
        return sum(min(i[key], i["size"]) for i in known), sum(i["size"] for i in known)

    def fraction(self) -> float:
        parts = [(2.0, 1.0 if self._result is not None else self.main_fraction)]
        if self._uploads:
            done, total = self._bytes(self._uploads, "acked")
            parts.append((1.0, done / total if total else 1.0))
        if self._out is not None:   # the results still to come back, each file its share
            files = [1.0 if d.get("done") else d["acked"] / d["size"] if d["size"] else 0.0 for d in self._downloads]
            parts.append((1.0, sum(files) / len(files) if files else 0.0))
        return sum(w * f for w, f in parts) / sum(w for w, _ in parts)

    def _progress(self, message: str, stage: str) -> dict:
        return P.progress(self.rid, self.fraction(), message, stage)

    def _megabytes(self, items: list[dict], verb: str) -> str:
        done, total = self._bytes(items, "acked")
        names = ", ".join(sorted({Path(i["local"]).name for i in items}))
        return f"{verb} {names} ({done / 1e6:.1f}/{total / 1e6:.1f} MB)"

    # ------------------------------------------------------------------ steps
    def advance(self) -> list[dict]:
        """Send what can go now; messages for ``rid``."""
        if self.ended:
            return []
        if self.workspace is None and not self._asked_workspace:
            self._asked_workspace = True
            self._ask("workspace", {}, {"kind": "workspace"})
        if self._uploads and any(u["acked"] < u["size"] or not u.get("done") for u in self._uploads):
            self._send_chunks_up()
            return []
        if self.workspace is None:
            return []
        if self.main_id is None:
            self._remote_params = dict(self.params)
            for u in self._uploads:
                self._remote_params[u["param"]] = self._remote(u["rel"])
            if self._out is not None:
                self._remote_params[self._out[0]] = self._remote(self._out[2])
            self.main_id = self._ask(self.method, self._remote_params, {"kind": "main"})
            return []
        if self._result is not None:
            self._send_chunks_down()
            if all(d.get("done") for d in self._downloads):
                return [self._finish()]
        return []

    def _ask(self, method: str, params: dict, what: dict) -> int:
        req_id = self._send(method, params)
        self.ids.add(req_id)
        self._what[req_id] = what
        return req_id

    def _in_flight(self, kind: str) -> int:
        return sum(1 for i in self.ids if self._what[i]["kind"] == kind)

    def _send_chunks_up(self) -> None:
        for u in self._uploads:
            while u["sent"] < u["size"] or (u["size"] == 0 and not u.get("asked")):
                if self._in_flight("upload") >= WINDOW:
                    return
                u["asked"] = True
                data = u["file"].read(self.chunk)
                offset, u["sent"] = u["sent"], u["sent"] + len(data)
                last = u["sent"] >= u["size"] or not data
                self._ask("upload", {"path": u["rel"], "data": base64.b64encode(data).decode("ascii"),
                                     "offset": offset, "last": last}, {"kind": "upload", "item": u, "n": len(data)})
                if last:
                    u["file"].close()
                    u["sent"] = u["size"]
                    break

    def _send_chunks_down(self) -> None:
        for d in self._downloads:
            if d.get("done"):
                continue
            if d["size"] is None:   # its first chunk tells the size
                if not d.get("asked"):
                    d["asked"] = True
                    self._ask("download", {"path": d["rel"], "offset": 0, "length": self.chunk},
                              {"kind": "download", "item": d})
                return
            while d["next"] < d["size"]:
                if self._in_flight("download") >= WINDOW:
                    return
                self._ask("download", {"path": d["rel"], "offset": d["next"], "length": self.chunk},
                          {"kind": "download", "item": d})
                d["next"] += self.chunk
            return

    def on_message(self, msg: dict) -> list[dict]:
        """A message for one of this transfer's ids; messages for ``rid``."""
        req_id = msg.get("id")
        what: dict = self._what.get(req_id, {"kind": "?"}) if isinstance(req_id, int) else {"kind": "?"}
        if self.ended:
            return []
        kind = what["kind"]
        if msg.get("type") == P.PROGRESS:
            if kind == "main":
                self.main_fraction = float(msg.get("fraction", 0.0))
                fwd = dict(msg, id=self.rid, fraction=self.fraction())
                return [fwd]
            return []
        self.ids.discard(req_id)
        if msg.get("type") == P.ERROR:
            code = msg.get("code", P.FAILED)
            text = str(msg.get("message", ""))
            if kind != "main":
                text = f"{self.method}: {kind} failed: {text}"
            elif self.workspace is not None:   # the user's own file names, not their copies on the server
                for u in self._uploads:
                    text = text.replace(self._remote(u["rel"]), str(u["local"]))
                if self._out is not None:
                    text = text.replace(self._remote(self._out[2]), str(self._out[1]))
            return [self.fail(code, text)]
        result = msg.get("result", {})
        try:
            if kind == "workspace":
                self.workspace = {"path": str(result["path"]), "sep": str(result.get("sep") or "/")}
            elif kind == "upload":
                u = what["item"]
                u["acked"] += what["n"]
                u["done"] = bool(result.get("done"))
                if u["done"]:
                    u["acked"] = u["size"]
                out = [self._progress(self._megabytes(self._uploads, "uploading"), "upload")]
                return out + self.advance()
            elif kind == "main":
                self._result = dict(result)
                self._plan_downloads()
            elif kind == "download":
                self._took(what["item"], result)
                return [self._progress(self._megabytes(self._downloads, "downloading"), "download")] + self.advance()
        except TransferError as exc:
            return [self.fail(exc.code, exc.message)]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return [self.fail(P.FAILED, f"{self.method}: receiving the result failed: {exc}")]
        return self.advance()

    def _plan_downloads(self) -> None:
        """What to fetch, and the result with the caller's paths."""
        result = self._result
        if self._out is None or result is None:
            return
        name, local, _ = self._out
        if name == "out_dir":
            sep = self._ws()["sep"]
            files = [(str(p), local / Path(str(p).replace(sep, "/")).name)
                     for p in result.get("motions", [])]
            result["motions"] = [str(t) for _, t in files]
        else:
            files = [(str(result["path"]), local)] if "path" in result else []
            if files:
                result["path"] = str(local)
        clip = result.get("clip")
        if isinstance(clip, dict) and self.method == "reconstruct":   # the video is the caller's own
            clip["path"] = str(Path(self.params["path"]).expanduser().absolute())
        for remote, target in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd_path = target.parent / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{target.name}"
            handle = open(fd_path, "wb")
            self._downloads.append({"rel": self._relative(remote), "local": target, "tmp": fd_path, "file": handle,
                                    "size": None, "next": 0, "acked": 0})

    def _took(self, d: dict, result: dict) -> None:
        data = base64.b64decode(result["data"], validate=True)
        size, offset = int(result["size"]), int(result["offset"])
        if d["size"] is None:
            d["size"], d["next"] = size, len(data)
        elif size != d["size"]:
            raise TransferError(P.FAILED, f"{self.method}: {d['local'].name} changed on the server while it "
                                          f"was downloaded")
        d["file"].seek(offset)
        d["file"].write(data)
        d["acked"] += len(data)
        if d["acked"] >= d["size"]:
            d["file"].close()
            os.replace(d["tmp"], d["local"])
            d["done"] = True

    def _finish(self) -> dict:
        self.ended = True
        self._tidy(remote=True)
        return P.result(self.rid, self._result)

    def fail(self, code: str, message: str) -> dict:
        """End the caller's request with an error, after ``abort``."""
        self.abort(cancel=True)
        return P.error(self.rid, code if code in P.ERROR_CODES else P.FAILED, message)

    def abort(self, cancel: bool = True, remote: bool = True) -> None:
        """Stop: cancel what is in flight, remove every partial file here and this request's
        folder there (its removal queues behind the cancelled request on the server)."""
        self.ended = True
        if cancel:
            for req_id in list(self.ids):
                self._cancel_id(req_id)
        self._tidy(remote=remote)

    def _tidy(self, remote: bool) -> None:
        for u in self._uploads:
            u["file"].close()
        for d in self._downloads:
            d["file"].close()
            if not d.get("done"):
                try:
                    os.unlink(d["tmp"])
                except OSError:
                    pass
        if remote and (self.main_id is not None or self._uploads):
            try:
                self.ids.add(self._send("remove", {"path": self.folder}))
            except Exception:   # the connection is gone: the server removes the whole workspace
                pass
