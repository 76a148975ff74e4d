"""Install SignForge's backend into a private virtual environment, without a terminal. Standard library only.

Never imports ``bpy``. The extension zip carries SignForge's own wheel and the pinned
requirements of its backend (``backend_wheel/``, written by ``build.py``); ``Installer``
turns them into a working backend in the add-on's user folder, one subprocess at a time,
polled like a ``jobs.Job`` (by a modal operator's timer, so Blender never freezes):

1. check that the base Python is 3.11 with ``venv`` (the backend's ``requires-python``);
2. ``BASE -m venv --clear SLOT``: the base is Blender's own Python (``sys.executable`` inside
   Blender, which bundles a full 3.11 with ``venv`` and ``ensurepip``) unless the preferences
   name another, so a user needs nothing but Blender; a venv made from a venv's Python is
   made from its base interpreter, so nothing of Blender's site-packages leaks in;
3. ``SLOT_PY -m pip install -r requirements.txt``: the pins from ``pyproject.toml`` less
   ``bpy`` (the backend never imports it; 800 MB). Online from the user's configured index
   (PyPI by default, the ``network`` permission), or offline with ``--no-index
   --find-links WHEELS`` from a folder made by ``pip download -r requirements.txt``;
4. ``SLOT_PY -m pip install --no-deps --no-index --find-links backend_wheel signforge==VERSION``;
5. ``SLOT_PY -I -c "import torch, backend.server"``: the backend imports.

The user folder holds two slots (``venv-a``, ``venv-b``) and ``current.json`` naming the one
that works. An install goes into the other slot and ``current.json`` is replaced (atomically)
only after step 5, so a failed, cancelled or interrupted install never touches a working
backend; the old slot is removed afterwards. Slots are never moved: a venv's scripts name
their folder. ``install.lock`` keeps a second Blender from installing into the same folder. Every command and all of its output go to ``install.log`` in the user folder.
Every failure is one line (``InstallError`` or ``Installer.error``) naming the log.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .scratch import STALE_S, process_alive
from .errors import SignForgeError

WHEEL_FOLDER = "backend_wheel"           # in the add-on: SignForge's wheel and requirements.txt
REQUIREMENTS = "requirements.txt"
DISTRIBUTION = "signforge"
POINTER = "current.json"                 # {"slot": "venv-a", "version": "0.1.0"}
LOG = "install.log"
LOCK = "install.lock"                    # the installing Blender's process id, while it installs
SLOTS = ("venv-a", "venv-b")
PYTHON_VERSION = (3, 11)                 # pyproject's requires-python: >=3.11,<3.12
_WINDOWS = os.name == "nt"
_CHECK_BASE = ("import sys, venv, ensurepip; v = sys.version_info[:2]; "
               "sys.exit(0) if v == (3, 11) else sys.exit("
               "'SignForge-install: this Python is %d.%d; the backend needs 3.11' % v)")
_CHECK_BACKEND = "import torch, backend.server; print('SignForge backend', backend.__file__)"


class InstallError(SignForgeError, ValueError):
    """An install that cannot start; the message is the one line to show."""


def venv_python(venv: Path) -> Path:
    """The interpreter of the virtual environment at ``venv`` (Windows or POSIX layout)."""
    return Path(venv) / ("Scripts/python.exe" if _WINDOWS else "bin/python")


def installed_python(root: Path | str | None) -> Path | None:
    """The Python of the backend installed under ``root`` (the add-on's user folder), or None.

    Only a slot that ``current.json`` names, i.e. one whose install finished, counts.
    """
    if root is None:
        return None
    try:
        slot = json.loads((Path(root) / POINTER).read_text(encoding="utf-8"))["slot"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if slot not in SLOTS:
        return None
    python = venv_python(Path(root) / slot)
    return python.absolute() if python.is_file() else None


def bundled_wheels(addon_dir: Path | str) -> Path:
    """The add-on's ``backend_wheel/`` folder; ``InstallError`` when the zip lacks it."""
    folder = Path(addon_dir) / WHEEL_FOLDER
    if not (folder / REQUIREMENTS).is_file() or not _own_wheel(folder):
        raise InstallError(f"this add-on has no backend wheel ({folder} lacks it); install a zip made by "
                           "`python -m blender_addon.build`")
    return folder


def _own_wheel(folder: Path) -> Path | None:
    found = sorted(folder.glob(f"{DISTRIBUTION}-*.whl"))
    return found[-1] if found else None


def _version(wheel: Path) -> str:
    return wheel.name.split("-")[1]   # {distribution}-{version}-{python}-{abi}-{platform}.whl


@dataclass(frozen=True)
class Plan:
    """What to install where: the checked inputs of one install."""
    root: Path                 # the add-on's user folder: slots, current.json, install.log
    base_python: Path          # a Python 3.11 to make the venv from (Blender's own by default)
    wheels: Path               # the add-on's backend_wheel/ folder
    offline: Path | None = None   # a local wheel folder: pip --no-index --find-links (no network)
    env: dict | None = None    # the subprocesses' environment (None: this process's)

    @property
    def version(self) -> str:
        wheel = _own_wheel(self.wheels)
        if wheel is None:
            raise InstallError(f"{self.wheels} holds no {DISTRIBUTION} wheel; install a zip made by "
                               "`python -m blender_addon.build`")
        return _version(wheel)

    @property
    def log(self) -> Path:
        return self.root / LOG

    def slot(self) -> str:
        """The slot to install into: never the one ``current.json`` names."""
        current = installed_python(self.root)
        in_use = current.parent.parent.name if current is not None else None
        return next(s for s in SLOTS if s != in_use)


def plan(root: Path | str, addon_dir: Path | str, base_python: Path | str | None = None,
         offline: Path | str | None = None, env: dict | None = None) -> Plan:
    """Check what an install needs before anything runs; ``InstallError`` (one line) if it cannot."""
    base = Path(base_python or sys.executable).expanduser()
    if not base.is_file() or not os.access(base, os.X_OK):
        raise InstallError(f"Base Python {base} is not an executable file; choose a Python 3.11")
    folder = None
    if offline is not None and str(offline).strip():
        folder = Path(str(offline).strip()).expanduser().absolute()
        if not folder.is_dir():
            raise InstallError(f"Wheel folder {folder} does not exist; choose the folder `pip download -r "
                               f"{REQUIREMENTS}` filled, or leave it empty to download")
        if not any(folder.glob("*.whl")):
            raise InstallError(f"Wheel folder {folder} holds no .whl files; fill it with `pip download -r "
                               f"{REQUIREMENTS} -d {folder}`")
    wheels = bundled_wheels(addon_dir)
    root = Path(root).absolute()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InstallError(f"cannot make the backend folder {root}: {exc.strerror or exc}") from None
    return Plan(root, base.absolute(), wheels.absolute(), folder, env)


@dataclass(frozen=True)
class Step:
    label: str                 # shown while it runs
    argv: tuple[str, ...]
    weight: float              # its share of the progress bar


def steps(p: Plan, slot: str) -> list[Step]:
    """The commands of an install into ``slot`` (``-I``: no user site or PYTHON* variables; ``-u``:
    pip's lines reach the log, and the progress message, as they are written)."""
    py = str(venv_python(p.root / slot))
    pip = [py, "-I", "-u", "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    source = ["--no-index", "--find-links", str(p.offline)] if p.offline is not None else []
    return [
        Step("checking the base Python", (str(p.base_python), "-I", "-c", _CHECK_BASE), 0.01),
        Step("making the virtual environment", (str(p.base_python), "-I", "-m", "venv", "--clear",
                                                str(p.root / slot)), 0.05),
        Step("installing the backend's packages", (*pip, *source, "-r", str(p.wheels / REQUIREMENTS)), 0.82),
        Step("installing SignForge", (*pip, "--no-deps", "--no-index", "--find-links", str(p.wheels),
                                      f"{DISTRIBUTION}=={p.version}"), 0.04),
        Step("checking the backend", (py, "-I", "-c", _CHECK_BACKEND), 0.08),
    ]


def _remove_later(path: Path) -> None:
    """Remove a (multi-GB) slot in a background thread: the UI must not wait for it."""
    if path.exists():
        threading.Thread(target=shutil.rmtree, args=(path,), kwargs={"ignore_errors": True}, daemon=True).start()


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and whatever it started (pip's build subprocesses): its own process group."""
    try:
        if _WINDOWS:
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True, check=False)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        proc.kill()


_ERROR_LINE = re.compile(r"^(ERROR: |SignForge-install: |\w*Error: )(.*)")


@dataclass
class Installer:
    """One install, polled: ``start``, then ``poll`` until it returns True; ``cancel`` any time.

    ``fraction`` and ``message`` say how far it is; at the end ``ok``, or ``error`` (one line)
    and ``cancelled``; ``python`` is the new backend's interpreter once ``ok``.
    """
    plan: Plan
    slot: str = ""
    step: int = -1
    message: str = ""
    error: str | None = None
    cancelled: bool = False
    finished: bool = False
    python: Path | None = None
    _steps: list[Step] = field(default_factory=list)
    _proc: subprocess.Popen | None = None
    _log: IO[str] | None = None   # install.log, open from start() to the end
    _read_from: int = 0
    _output: list[str] = field(default_factory=list)   # this step's lines, for the error line
    _within: float = 0.0                                # how far into the running step
    _total: int = 0                                     # packages pip listed to install...
    _baseline: int | None = None                        # ...and the dist-info folders before it began

    def start(self) -> "Installer":
        """Begin the first step; ``InstallError`` when another Blender installs into the same folder."""
        _lock(self.plan.root)
        self.slot = self.plan.slot()
        self._steps = steps(self.plan, self.slot)
        self._log = open(self.plan.log, "a", encoding="utf-8")
        where = f"offline from {self.plan.offline}" if self.plan.offline else "from the package index"
        self._write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} SignForge {self.plan.version} into "
                    f"{self.plan.root / self.slot}, {where}\n")
        self._next()
        return self

    @property
    def ok(self) -> bool:
        return self.finished and self.error is None

    @property
    def fraction(self) -> float:
        if self.ok:
            return 1.0
        done = sum(s.weight for s in self._steps[:max(self.step, 0)])
        current = self._steps[self.step].weight if 0 <= self.step < len(self._steps) else 0.0
        return min(done + current * self._within, 0.99)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def poll(self) -> bool:
        """Follow the running step; start the next when it ends. True once the install has ended."""
        if self.finished:
            return True
        self._read_output()
        assert self._proc is not None   # a step runs until the install has finished
        code = self._proc.poll()
        if code is None:
            return False
        self._read_output()
        if code != 0:
            self._fail(code)
        elif self.step + 1 < len(self._steps):
            self._next()
        else:
            self._succeed()
        return self.finished

    def wait(self, timeout: float = 3600.0, interval: float = 0.2) -> "Installer":
        """Poll until the install ends (scripts and tests); cancelled after ``timeout`` seconds."""
        end = time.monotonic() + timeout
        while not self.poll():
            if time.monotonic() > end:
                self.cancel()
                self.error = f"the install took over {timeout:.0f} s and was cancelled (log: {self.plan.log})"
                break
            time.sleep(interval)
        return self

    def cancel(self) -> None:
        """Kill the running command and drop the half-made slot; the working backend stays."""
        if self.finished:
            return
        if self._proc is not None and self._proc.poll() is None:
            _kill_group(self._proc)
            self._proc.wait()
        self.cancelled, self.error = True, "install cancelled; the previous backend, if any, is unchanged"
        self._end(f"cancelled during: {self._steps[self.step].label}")
        _remove_later(self.plan.root / self.slot)

    # -- internals
    def _write(self, text: str) -> None:
        assert self._log is not None   # open from start() to the end
        self._log.write(text)
        self._log.flush()

    def _next(self) -> None:
        self.step += 1
        s = self._steps[self.step]
        self._output, self._within, self._total, self._baseline = [], 0.0, 0, None
        self.message = f"{s.label} ({self.step + 1}/{len(self._steps)})"
        self._write(f"$ {' '.join(s.argv)}\n")
        assert self._log is not None   # open from start() to the end
        self._read_from = self._log.tell()
        # the log is the command's stdout and stderr; its own process group, so cancel kills pip's children
        group: dict[str, Any] = ({"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)} if _WINDOWS
                                 else {"start_new_session": True})
        try:
            self._proc = subprocess.Popen(s.argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                          cwd=self.plan.root, env=self.plan.env, **group)
        except OSError as exc:
            self.error = f"{s.label} failed: cannot run {s.argv[0]}: {exc.strerror or exc} (log: {self.plan.log})"
            self._end(self.error)
            _remove_later(self.plan.root / self.slot)

    def _read_output(self) -> None:
        """New lines of the running step, from the log: the progress message and a guess of how far."""
        try:
            with open(self.plan.log, "r", encoding="utf-8", errors="replace") as fh:
                fh.seek(self._read_from)
                text = fh.read()
                self._read_from = fh.tell()
        except OSError:
            return
        lines = [ln.strip() for ln in re.split(r"[\r\n]+", text) if ln.strip()]
        if not lines:
            if self._baseline is not None and self._total:
                done = min(max(self._unpacked() - self._baseline, 0), self._total)
                self._within = max(self._within, 0.6 + 0.4 * done / self._total)
                s = self._steps[self.step]
                self.message = (f"{s.label} ({self.step + 1}/{len(self._steps)}): unpacked {done} of "
                                f"{self._total} packages")
            return
        self._output += lines
        del self._output[:-200]
        s = self._steps[self.step]
        shown = next((ln for ln in reversed(lines) if not ln.startswith(("━", "|"))), lines[-1])
        self.message = f"{s.label} ({self.step + 1}/{len(self._steps)}): {shown[:120]}"
        # pip: "Collecting X" (online) or "Processing X.whl" (offline) per package, about 100 for
        # the backend with torch's CUDA libraries, then one "Installing collected packages"
        # packages, silent for minutes while it unpacks ~6 GB: then the count of the slot's
        # *.dist-info folders against that line's list measures it
        collected = sum(ln.startswith(("Collecting ", "Processing ")) for ln in self._output)
        listed = next((ln for ln in self._output if ln.startswith("Installing collected packages:")), None)
        if listed is not None:
            if self._baseline is None:
                self._total, self._baseline = len(listed.split(":", 1)[1].split(",")), self._unpacked()
            self._within = max(self._within, 0.6)
        elif collected:
            self._within = max(self._within, min(0.55, 0.55 * collected / 100))

    def _unpacked(self) -> int:
        """How many distributions the slot's site-packages holds now."""
        slot = self.plan.root / self.slot
        return sum(1 for sp in (*slot.glob("lib/python3*/site-packages"), slot / "Lib" / "site-packages")
                   for _ in sp.glob("*.dist-info"))

    def _fail(self, code: int) -> None:
        s = self._steps[self.step]
        found = [m.group(2) for m in map(_ERROR_LINE.match, self._output) if m]
        why = found[0] if found else (self._output[-1] if self._output else f"exit code {code}")
        why = why if len(why) <= 240 else why[:239] + "…"   # pip lists every version it saw
        self.error = f"{s.label} failed: {why.rstrip('.')} (log: {self.plan.log})"
        self._end(f"failed with exit code {code}")
        _remove_later(self.plan.root / self.slot)

    def _succeed(self) -> None:
        pointer = self.plan.root / POINTER
        old = installed_python(self.plan.root)
        tmp = pointer.with_name(POINTER + ".partial")
        tmp.write_text(json.dumps({"slot": self.slot, "version": self.plan.version}), encoding="utf-8")
        os.replace(tmp, pointer)   # the swap: from here on the new backend is the one found
        self.python = installed_python(self.plan.root)
        self.message = f"SignForge {self.plan.version} backend installed: {self.python}"
        self._end("installed")
        if old is not None and old.parent.parent.name != self.slot:
            _remove_later(old.parent.parent)

    def _end(self, what: str) -> None:
        self.finished = True
        self._proc = None
        if self._log is not None and not self._log.closed:
            self._write(f"=== {what}\n")
            self._log.close()
        (self.plan.root / LOCK).unlink(missing_ok=True)


def _lock(root: Path) -> None:
    """Claim ``root`` for this process's install: two Blenders would pick the same slot. A lock
    whose process is gone (a Blender that quit or crashed mid-install) or is this one (which
    runs one install at a time) is taken over."""
    lock = root / LOCK
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(lock.read_text(encoding="utf-8").strip() or 0)
                stale = pid in (0, os.getpid()) or not _alive(pid, lock)
            except (OSError, ValueError):
                pid, stale = 0, True
            if not stale:
                raise InstallError(f"another Blender (process {pid}) is installing SignForge's backend into {root} "
                                   "now; wait for it, or cancel it there") from None
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(str(os.getpid()))
        return
    raise InstallError(f"cannot claim {lock}; remove it if no Blender is installing the backend")


def _alive(pid: int, lock: Path) -> bool:
    """Whether the process holding ``lock`` runs; where that cannot be asked (Windows), trust a
    lock under a day old."""
    alive = process_alive(pid)
    return time.time() - lock.stat().st_mtime < STALE_S if alive is None else alive
    return True


# The extras the add-on's backend needs besides the core: reconstruction from video and the
# CLIP encoders (image prompts). Not ``blender`` (Blender is the one that has bpy) nor ``ray``.
BACKEND_EXTRAS = ("video", "clip")


def requirements(pyproject: dict) -> list[str]:
    """The backend's pinned requirements: ``pyproject.toml``'s dependencies and its
    ``BACKEND_EXTRAS``, less ``bpy`` (the backend never imports it)."""
    project = pyproject["project"]
    deps = list(project["dependencies"])
    for extra in BACKEND_EXTRAS:
        deps += project.get("optional-dependencies", {}).get(extra, [])
    return [d for d in deps if re.split(r"[=<>!~ \[;]", d, maxsplit=1)[0].lower() != "bpy"]
