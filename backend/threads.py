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

import os
import sys

ENV = "SIGNFORGE_THREADS"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def busy_cores() -> float:
    """Cores other processes keep busy: the 1-minute load average, or the tasks runnable right
    now (less this one) when that is higher; 0 where the OS reports neither."""
    busy = 0.0
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0
    try:   # Linux: "0.52 0.58 0.59 3/512 12345", the 4th field's first number runs now
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
        busy = max(busy, running - 1.0)
    except (OSError, ValueError, IndexError):
        pass
    return busy


def free_cores(leave: int = 0) -> int:
    """Cores free for this process's work, at least 1, keeping ``leave`` of them for others
    (the Blender-side backend keeps one for Blender). A core counts as busy from 0.7 of a load
    (a tool blinking in the background does not take a core away)."""
    cores = usable_cores()
    free = cores - int(busy_cores() + 0.3)
    return max(1, min(free, cores - leave))


def threads_wanted(leave: int = 0) -> int:
    """``SIGNFORGE_THREADS`` when set to a positive integer, else ``free_cores(leave)``."""
    raw = os.environ.get(ENV, "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n >= 1:
            return n
        sys.stderr.write(f"warning: {ENV}={raw!r} is not a positive integer; choosing from the free cores\n")
    return free_cores(leave)


def prepare(leave: int = 0) -> int:
    """Set this process up before torch loads: passive OpenMP waiting and intra-op threads
    for the cores free now (``OMP_NUM_THREADS``, unless the user set it, which torch reads
    when it loads; ``torch.set_num_threads`` as well when torch is already in). Returns the
    count chosen. Processes this one starts inherit both."""
    n = threads_wanted(leave)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]) if os.environ["OMP_NUM_THREADS"].isdigit() else n)
    return n
