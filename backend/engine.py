"""Where the data factory's and batch reconstruction's tasks run: local processes or a Ray cluster.

``run_tasks(engine, tasks, factory, args)`` builds one worker per process with
``factory(*args)`` (a top-level class: it holds the body model, the synthesizer or the
fitter, loaded once) and yields ``getattr(worker, method)(task)`` for every task, in the
order they finish. The caller decides what a task is; the data factory's and the Ray
engine's tasks are whole shards that write their own files, so a shard is the unit of
work, of retry and of resuming whichever engine made it.

- ``local`` (the default): a spawned pool of single-threaded processes, or this process
  alone for one worker.
- ``ray``: one Ray task per shard (``max_retries``: a task whose worker process dies is run
  again elsewhere, and rewrites its shard whole), on the cluster at ``address`` ("auto",
  "HOST:PORT", "ray://HOST:PORT") or on a Ray started here. Ray is an optional extra
  (``signforge[ray]``) imported only when asked for. Workers read inputs and write shards
  at the paths the driver gives them, so on a cluster those must be shared storage.

Standard library only at import; never torch or bpy (workers import what they need).
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from blender_addon.core.errors import MissingExtraError, SignForgeError

ENGINES = ("local", "ray")
RAY_RETRIES = 3           # runs of a Ray task after its worker process died (a preempted node, a kill)
# what a Ray worker on another node needs to find the same models and lexicon the driver uses
FORWARDED_ENV = ("SIGNFORGE_SMPLX", "SIGNFORGE_LEXICON", "SIGNFORGE_CACHE", "SIGNFORGE_ALLOW_DOWNLOAD")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class EngineError(SignForgeError, ValueError):
    """An engine that cannot run the work: an unknown name, an unreachable cluster, a task
    that kept dying; the message says which."""


@dataclass(frozen=True)
class Engine:
    """Which engine runs the tasks. ``address`` is Ray's: None starts a Ray on this machine
    (or joins the one RAY_ADDRESS names, as ``ray.init`` does)."""
    name: str = "local"
    address: str | None = None

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise EngineError(f"--engine must be {' or '.join(ENGINES)}; got {self.name!r}")
        if self.address is not None and self.name != "ray":
            raise EngineError("--address names a Ray cluster: use it with --engine ray")
        if self.address is not None and not self.address.strip():
            raise EngineError("--address must be auto, HOST:PORT or ray://HOST:PORT; got an empty string")

    def check(self) -> None:
        """Raise unless this engine can start: Ray installed, a HOST:PORT address answering.
        Callers check before they write anything."""
        if self.name == "ray":
            if self.address not in (None, "auto", "local"):
                check_reachable(self.address)
            import_ray(self.address)


def quiet_on_interrupt() -> None:
    """In a pool worker: Ctrl-C is the parent's to handle (it stops the pool, and a finished
    shard stays finished), so workers ignore SIGINT instead of each printing a traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def one_thread_per_worker():
    """Spawned workers start with single-threaded BLAS: a worker per core already fills the
    machine, and OpenBLAS threads on the IK's tiny batched solves cost more than they give.
    The variables must be set before a worker imports numpy, so they go in the environment
    that the pool's processes inherit; the parent's own settings come back afterwards."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# One worker per process: the pool's initializer (or a Ray process's first task) makes it.
_WORKER: Any = None
_WORKER_KEY: Any = None


def _worker(factory: Callable[..., Any], args: tuple) -> Any:
    """This process's worker for (factory, args), made on first use: a Ray process runs
    many tasks, and loading the body model per task would cost more than most tasks."""
    global _WORKER, _WORKER_KEY
    if _WORKER is None or _WORKER_KEY != (factory, args):
        import torch

        torch.set_num_threads(1)
        _WORKER, _WORKER_KEY = None, None   # the old one's memory goes before the new one loads
        _WORKER, _WORKER_KEY = factory(*args), (factory, args)
    return _WORKER


def _init_pool_worker(factory: Callable[..., Any], args: tuple) -> None:
    quiet_on_interrupt()
    _worker(factory, args)


def _pool_task(call: tuple[str, Any]) -> Any:
    method, task = call
    return getattr(_WORKER, method)(task)


def shard_task(factory: Callable[..., Any], args: tuple, method: str, task: Any) -> Any:
    """A Ray task: this process's worker runs one task (one shard). Its name is what a Ray
    worker's process title shows while it runs (``ray::shard_task``)."""
    return getattr(_worker(factory, args), method)(task)


def run_tasks(engine: Engine, tasks: Iterable[Any], factory: Callable[..., Any], args: tuple, *,
              workers: int = 1, method: str = "run") -> Iterator[Any]:
    """Each task's result as it finishes (any order). ``workers``: local processes (1: this
    process, no pool), or the CPUs of a Ray started here; a Ray cluster uses what it has."""
    tasks = list(tasks)
    if not tasks:
        return
    if engine.name == "ray":
        yield from _ray_results(engine, tasks, factory, args, method, workers)
        return
    workers = max(1, min(workers, len(tasks)))
    if workers == 1:
        worker = factory(*args)
        for task in tasks:
            yield getattr(worker, method)(task)
        return
    ctx = mp.get_context("spawn")
    with one_thread_per_worker(), ctx.Pool(workers, initializer=_init_pool_worker, initargs=(factory, args)) as pool:
        yield from pool.imap_unordered(_pool_task, [(method, t) for t in tasks])


def import_ray(address: str | None = None):
    """The ray module, or one line saying how to install it. ``address``: the cluster it
    will join (Ray reads its token settings when it is first imported)."""
    if address is not None:
        _token_auth_for(address)
    try:
        import ray
    except ImportError:
        raise MissingExtraError("--engine ray", "ray", "ray") from None
    return ray


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A HOST:PORT (or ray://HOST:PORT) address must take a TCP connection: Ray itself would
    retry an address nothing listens at for minutes before it gives up."""
    import socket

    where = address.split("://", 1)[-1]
    host, sep, port = where.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise EngineError(f"--address must be auto, HOST:PORT or ray://HOST:PORT; got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise EngineError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def _token_auth_for(address: str) -> None:
    """Ray 2.60 clusters check a token by default. Joining by ``auto`` turns the check on when
    a token is at hand, but joining by HOST:PORT asks the cluster before that and is refused:
    where a token is at hand (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token) and
    RAY_AUTH_MODE is not set, this process says token mode, as ``auto`` would have. Ray
    reads it once, when first imported, so this runs before that."""
    if address in ("auto", "local") or "RAY_AUTH_MODE" in os.environ:
        return
    from pathlib import Path

    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or str(Path.home() / ".ray" / "auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or os.path.isfile(path):
        os.environ["RAY_AUTH_MODE"] = "token"


def _ray_results(engine: Engine, tasks: list, factory, args: tuple, method: str, workers: int) -> Iterator[Any]:
    if engine.address not in (None, "auto", "local"):
        check_reachable(engine.address)
    ray = import_ray(engine.address)
    from ray.exceptions import RayTaskError, WorkerCrashedError

    env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    for k in ("SIGNFORGE_SMPLX", "SIGNFORGE_LEXICON", "SIGNFORGE_CACHE"):   # paths: as this process reads them
        if env.get(k):
            env[k] = os.path.abspath(os.path.expanduser(env[k]))
    env.update({k: "1" for k in _THREAD_VARS})
    started = not ray.is_initialized()
    if started:
        kwargs: dict = {"address": engine.address, "log_to_driver": True}
        if engine.address is None and not os.environ.get("RAY_ADDRESS"):   # a Ray of our own, for this run
            # ("local": never a cluster that `ray start` left running on this machine)
            kwargs.update(address="local", num_cpus=max(1, workers), include_dashboard=False)
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            where = engine.address or os.environ.get("RAY_ADDRESS") or "this machine"
            hint = ("; a cluster that checks tokens needs its token here (RAY_AUTH_TOKEN or ~/.ray/auth_token)"
                    if engine.address not in (None, "auto", "local") else "")
            raise EngineError(f"cannot start or reach Ray at {where}: {str(exc).splitlines()[0]}{hint}") from None
    pending: list = []
    try:
        remote = ray.remote(num_cpus=1, max_retries=RAY_RETRIES, retry_exceptions=False)(shard_task)
        remote = remote.options(runtime_env={"env_vars": env})
        shared = ray.put(args)
        pending = [remote.remote(factory, shared, method, task) for task in tasks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                result = ray.get(done[0])
            except RayTaskError as exc:   # the task's own error: a SignForgeError stays one line
                cause = getattr(exc, "cause", None)
                if isinstance(cause, SignForgeError):
                    raise cause from None
                raise
            except WorkerCrashedError:
                raise EngineError(f"a Ray worker died running a shard {RAY_RETRIES + 1} times; "
                                  f"see the workers' logs (ray logs) for why") from None
            yield result
    finally:
        for ref in pending:   # an error or an interrupted caller: the rest need not run
            ray.cancel(ref)
        if started:
            ray.shutdown()
