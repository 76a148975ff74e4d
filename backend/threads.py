"""How many threads and workers to run on a machine that may be busy. Standard library only.

On a quiet machine torch's intra-op threads (one per core) are 1.5x faster than one thread.
When the cores are busy (Blender rendering, another job), threads that each wait for a core
stall one another: issue 21 measured a warm 100-step clip at 29.6 s with 2 threads against
1.22 s with 1 on 2 busy cores. So the count comes from the cores that are free now: the cores
this process may run on (``os.sched_getaffinity``) less those other processes keep busy (the
load average, or the tasks runnable this instant when that is higher, as a burst of work has
not yet reached the 1-minute average). Idle OpenMP threads wait passively
(``OMP_WAIT_POLICY=PASSIVE``), not spinning on cores another process needs; OpenMP reads
that when torch loads, so ``prepare`` runs before anything imports torch.

``SIGNFORGE_THREADS`` overrides the count (a positive integer); a user's own ``OMP_NUM_THREADS``
and ``OMP_WAIT_POLICY`` are left as they are.
"""
from __future__ import annotations

import math
import os
import sys
import time

ENV = "SIGNFORGE_THREADS"
LOAD_WINDOW_S = 60.0   # the 1-minute load average's time constant
_CHOSEN = False        # whether ``prepare`` chose OMP_NUM_THREADS (the user's own is kept as it is)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def busy_cores(own: float = 0.0) -> float:
    """Cores other processes keep busy: the 1-minute load average less ``own`` (this process's
    part of it), or the tasks runnable right now (less this one) when that is higher; 0 where
    the OS reports neither."""
    busy = 0.0
    try:
        busy = max(0.0, os.getloadavg()[0] - own)
    except (AttributeError, OSError):
        return 0.0
    try:   # Linux: "0.52 0.58 0.59 3/512 12345", the 4th field's first number runs now
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
        busy = max(busy, running - 1.0)
    except (OSError, ValueError, IndexError):
        pass
    return busy


def free_cores(leave: int = 0, own: float = 0.0) -> int:
    """Cores free for this process's work, at least 1, keeping ``leave`` of them for others
    (the Blender-side backend keeps one for Blender). A core counts as busy from 0.7 of a load
    (a tool blinking in the background does not take a core away). ``own``: see ``busy_cores``."""
    cores = usable_cores()
    free = cores - int(busy_cores(own) + 0.3)
    return max(1, min(free, cores - leave))


def threads_wanted(leave: int = 0, own: float = 0.0) -> int:
    """``SIGNFORGE_THREADS`` when set to a positive integer, else ``free_cores(leave, own)``."""
    raw = os.environ.get(ENV, "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n >= 1:
            return n
        sys.stderr.write(f"warning: {ENV}={raw!r} is not a positive integer; choosing from the free cores\n")
    return free_cores(leave, own)


def prepare(leave: int = 0) -> int:
    """Set this process up before torch loads: passive OpenMP waiting and intra-op threads
    for the cores free now (``OMP_NUM_THREADS``, unless the user set it, which torch reads
    when it loads; ``torch.set_num_threads`` as well when torch is already in). Returns the
    count chosen. Processes this one starts inherit both."""
    global _CHOSEN
    n = threads_wanted(leave)
    _CHOSEN = _CHOSEN or "OMP_NUM_THREADS" not in os.environ
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]) if os.environ["OMP_NUM_THREADS"].isdigit() else n)
    return n


class PerRequest:
    """Torch's intra-op threads chosen again before each request of a long-lived backend.

    A ``--listen`` server runs for hours: the cores free when it started are not the ones
    free when a request comes (Blender renders now, the other job ended). ``with threads:``
    around a request sets ``torch.set_num_threads`` from the cores free at its start, as
    ``prepare`` does at a process's start. The server's own past requests are in the load
    average too and must not count as another process's load, so this process's CPU use is
    tracked across requests (sampled at each start and end) and its exponentially decaying
    average (the load average's own 60 s weighting) is taken off. ``SIGNFORGE_THREADS`` still
    fixes the count (read at every request), and a user's own ``OMP_NUM_THREADS`` is left alone.
    """

    def __init__(self, leave: int = 0):
        self.leave = leave
        self._samples: list[tuple[float, float]] = [(time.monotonic(), _cpu_seconds())]

    def own_load(self, now: float | None = None) -> float:
        """This process's share of the 1-minute load average: its CPU rate between samples,
        weighted as the load average weights the past (e^(-age / 60 s))."""
        now = time.monotonic() if now is None else now
        samples = [*self._samples, (now, _cpu_seconds())]
        load = 0.0
        for (t0, c0), (t1, c1) in zip(samples, samples[1:]):
            if t1 > t0:
                weight = math.exp(-(now - t1) / LOAD_WINDOW_S) - math.exp(-(now - t0) / LOAD_WINDOW_S)
                load += (c1 - c0) / (t1 - t0) * weight
        return load

    def pick(self) -> int:
        """The count for a request starting now (set in torch when it is loaded); samples the CPU."""
        n = threads_wanted(self.leave, own=self.own_load())
        self._sample()
        torch = sys.modules.get("torch")
        if torch is not None and (_CHOSEN or os.environ.get(ENV, "").strip()):
            torch.set_num_threads(n)
        return n

    def _sample(self) -> None:
        now = time.monotonic()
        self._samples.append((now, _cpu_seconds()))
        self._samples = [s for s in self._samples if now - s[0] < 5 * LOAD_WINDOW_S] or self._samples[-1:]

    def __enter__(self) -> int:
        return self.pick()

    def __exit__(self, *exc) -> None:
        self._sample()


def _cpu_seconds() -> float:
    """CPU time this process has used, all its threads together."""
    t = os.times()
    return t.user + t.system
