"""Where per-well work runs: in this process, a local process pool, or on a Dask cluster.

One call, :func:`map_tasks`, runs a function over named items and hands each result back as it
completes (never in the order of the list: callers sort). The engine is chosen by
:func:`open_engine` from the pipeline's ``engine.scheduler`` (or the ``--scheduler`` flag):

- ``None``: a Dask scheduler named by ``DASK_SCHEDULER_ADDRESS`` (or Dask's configuration
  ``scheduler-address``) if there is one, else the local process pool of ``n_jobs`` (serial for
  one job or one item);
- ``"processes"``: the local pool, whatever Dask's configuration says;
- ``"local-cluster"``: a ``distributed.LocalCluster`` of ``n_jobs`` single-threaded worker
  processes, started for the call and closed after it;
- an address (``tcp://host:8786``): that scheduler's workers.

On Dask each well is one task (``key`` names the well), submitted with ``retries`` for errors a
task raised; a task whose worker died (killed, out of memory) is rescheduled by the scheduler
up to its ``distributed.scheduler.allowed-failures`` and then fails with ``KilledWorker``. A
task that fails for good comes back as ``(key, None, error)``: the caller reports that item and
the others go on. Workers should run one thread each (``dask worker --nthreads 1``) so a
worker holds one well's images at a time.

What every task of a call shares (the configuration and models of a prediction) is given to
:func:`open_engine` once and lives as long as the engine: kept by the engine for serial work,
handed to each process of the local pool by the pool's initializer when the process starts (no
file), scattered to every Dask worker and released when the engine closes.

The local pool's processes are loky's (:func:`local_pool`): started as a fresh interpreter that
never imports the caller's ``__main__``, so the Python verbs work from a plain script without an
``if __name__ == "__main__":`` guard (multiprocessing's ``spawn`` re-ran the script in each
child, which then failed in its bootstrapping phase), from a notebook, and from the command
line alike. Each process dies with the process that started the pool (Linux:
``PR_SET_PDEATHSIG``; elsewhere a thread that watches the parent): a ``kill -9`` of ``petro``
leaves no worker behind writing files. A daemonic process (a Dask worker, a pool process) may
not start processes: there the work is serial.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import as_completed
from contextlib import contextmanager
from dataclasses import dataclass

from petro.config import EngineOptions
from petro.errors import ConfigError
from petro.problems import Problem, error

PROCESSES = "processes"
LOCAL_CLUSTER = "local-cluster"
ENV_ADDRESS = "DASK_SCHEDULER_ADDRESS"


@dataclass
class Engine:
    kind: str                   # 'serial' | 'processes' | 'dask'
    where: str                  # for the run log: "dask tcp://10.0.0.5:8786 (32 workers)"
    workers: int
    retries: int = 2
    client: object = None       # distributed.Client for 'dask'
    pool: object = None         # ProcessPoolExecutor for 'processes'
    shared: tuple = ()          # the shared arguments: as given ('serial'), Dask futures ('dask')
    # threads each task may use to read one LAS file (ingest.read_threads): 1 in the local pool,
    # whose processes already keep every core busy; None: the reader decides (in a Dask worker
    # from its nanny's OMP_NUM_THREADS=1)
    task_threads: int | None = None


def scheduler_address(opts: EngineOptions) -> str | None:
    """The Dask scheduler to use, or None for local work."""
    if opts.scheduler == PROCESSES:
        return None
    if opts.scheduler:
        return opts.scheduler
    if os.environ.get(ENV_ADDRESS):
        return os.environ[ENV_ADDRESS]
    try:
        import dask.config
    except ImportError:
        return None
    return dask.config.get("scheduler-address", None)


@contextmanager
def open_engine(opts: EngineOptions, n_jobs: int, n_items: int,
                shared: tuple = ()) -> Iterator[Engine]:
    """The engine for ``n_items`` tasks (see the module docstring); closed on exit.
    ``shared``: the arguments every task of :func:`map_tasks` gets after its own, sent to each
    worker once."""
    address = scheduler_address(opts)
    if address is None:
        if n_jobs <= 1 or n_items <= 1 or multiprocessing.current_process().daemon:
            where = "this process (serial)" if not multiprocessing.current_process().daemon \
                else "this process (serial: a daemonic process, e.g. a Dask worker, has no pool)"
            yield Engine("serial", where, 1, opts.retries, shared=shared)
            return
        workers = min(n_jobs, n_items)
        with local_pool(workers, shared) as pool:
            yield Engine(PROCESSES, f"local process pool ({workers} processes)", workers,
                         opts.retries, pool=pool, task_threads=1)
        return
    try:
        from distributed import Client
    except ImportError as err:  # pragma: no cover - a core dependency
        raise ConfigError("a Dask scheduler is configured but dask[distributed] is not "
                          "installed: pip install 'dask[distributed]'") from err
    if address == LOCAL_CLUSTER:
        with local_cluster(n_jobs) as cluster, Client(cluster, set_as_default=False) as client:
            with _scattered(client, shared) as data:
                yield Engine("dask", f"dask LocalCluster {cluster.scheduler_address} ({n_jobs} "
                             f"workers; dashboard {client.dashboard_link})", n_jobs,
                             opts.retries, client, shared=data)
        return
    try:
        client = Client(address, set_as_default=False, timeout=30)
    except (OSError, TimeoutError, ValueError) as err:
        raise ConfigError(f"cannot reach the Dask scheduler {address} ({err}); start it "
                          f"(`dask scheduler`) or drop --scheduler / {ENV_ADDRESS}") from err
    try:
        n = len(client.scheduler_info().get("workers", {}))
        with _scattered(client, shared) as data:
            yield Engine("dask", f"dask {address} ({n} workers)", n, opts.retries, client,
                         shared=data)
    finally:
        client.close()


@contextmanager
def _scattered(client, shared: tuple) -> Iterator[tuple]:
    """``shared`` on every worker of ``client`` (one future per item), released on exit."""
    data = tuple(client.scatter(list(shared), hash=False, broadcast=True)) if shared else ()
    try:
        yield data
    finally:
        for d in data:
            d.release()


# Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers (and in the process that runs
# the nannies). Setting it at all switches off glibc's dynamic mmap threshold: every array
# above 128 kB is then mapped and unmapped afresh, and per-well work (large temporary arrays)
# ran ~1.6x slower in a worker than in this process (bench_scale.py, 2026-11-29). Unset here.
FAST_MALLOC = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


@contextmanager
def local_cluster(n_workers: int, **kwargs) -> Iterator[object]:
    """A ``distributed.LocalCluster`` of ``n_workers`` single-threaded worker processes as
    petro starts one (``local-cluster``), with :data:`FAST_MALLOC`."""
    import dask.config
    from distributed import LocalCluster

    kwargs = {"threads_per_worker": 1, "processes": True, "dashboard_address": ":0", **kwargs}
    with dask.config.set(FAST_MALLOC), LocalCluster(n_workers=n_workers, **kwargs) as cluster:
        yield cluster


def task_failure(key: str, err: BaseException) -> Problem:
    """The problem of the item whose task failed for good (``key``: the well)."""
    return error(f"the task for this well failed: {type(err).__name__}: {err} (a worker that "
                 f"died repeatedly, e.g. out of memory, or a bug: the other wells went on)",
                 well=key, code="task_failed")


def _apply(fn: Callable, per_task: tuple, shared: tuple):
    return fn(*per_task, *shared)


@contextmanager
def local_pool(workers: int, shared: tuple = ()) -> Iterator[object]:
    """A pool of ``workers`` processes (``loky.ProcessPoolExecutor``, see the module docstring),
    each given ``shared`` once by its initializer and dying with this process; shut down on
    exit."""
    from loky import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=workers, initializer=_pool_worker,
                               initargs=(os.getpid(), shared))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True)


# In a process of the local pool only: the shared arguments of the engine that started it, set
# once by the pool's initializer (:func:`_pool_worker`) and kept for the life of the process
# (the pool's, which the engine closes). The calling process never sets it.
_WORKER_SHARED: tuple = ()
PR_SET_PDEATHSIG = 1          # linux/prctl.h
PARENT_POLL_S = 0.5


def _pool_worker(parent: int, shared: tuple) -> None:
    global _WORKER_SHARED
    die_with_parent(parent)
    _WORKER_SHARED = shared


def die_with_parent(parent: int) -> None:
    """This process ends when ``parent`` (the pid of the process that started it) does: on
    Linux the kernel kills it (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), elsewhere a daemon thread
    that sees the parent pid change exits it within :data:`PARENT_POLL_S`. A parent already
    gone ends it at once."""
    asked = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            asked = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            asked = False
    if os.getppid() != parent:        # died before the kernel was asked to tell us
        os._exit(1)
    if not asked:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                         name="petro-parent-watch").start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _call_pooled(fn: Callable, args: tuple):
    return fn(*args, *_WORKER_SHARED)


def map_tasks(engine: Engine, fn: Callable, items: list[tuple[str, tuple]]) \
        -> Iterator[tuple[str, object, BaseException | None]]:
    """``fn(*args, *shared)`` for each ``(key, args)`` (``shared``: given to
    :func:`open_engine`); yields ``(key, result, None)`` or ``(key, None, error)`` as each task
    completes."""
    if engine.kind == "serial":
        for key, args in items:
            try:
                yield key, _apply(fn, args, engine.shared), None
            except Exception as err:  # a bug in one well's work must not stop the batch
                yield key, None, err
        return
    if engine.kind == PROCESSES:
        futs = {engine.pool.submit(_call_pooled, fn, args): key for key, args in items}
        for fut in as_completed(futs):
            try:
                yield futs[fut], fut.result(), None
            except Exception as err:
                yield futs[fut], None, err
        return
    from distributed import as_completed as dask_completed

    token = os.urandom(4).hex()
    futs = {engine.client.submit(_apply, fn, args, engine.shared, key=f"petro-{key}-{token}",
                                 pure=False, retries=engine.retries): key for key, args in items}
    for fut in dask_completed(list(futs), loop=engine.client.loop):
        key = futs[fut]
        try:
            result = fut.result()
        except Exception as err:   # KilledWorker after allowed-failures, or the task's error
            yield key, None, err
        else:
            yield key, result, None
        finally:
            fut.release()


def dask_task_map(client, retries: int = 0) -> Callable:
    """A task map for :mod:`petro.models.tasks` that runs each fit as a task on ``client``'s
    cluster: ``shared`` (the feature matrix, the spec) is scattered once, each task carries only
    its own part (a fold's row indices, a trial's parameters), and results are yielded in the
    order of ``per_task`` (never in completion order). A task that raises makes the iteration
    raise, as in the serial run; closing the iteration early cancels the tasks not yet read."""

    def task_map(fn: Callable, per_task, shared: tuple):
        token = os.urandom(4).hex()
        name = getattr(fn, "__name__", "fit").strip("_")
        [data] = client.scatter([shared], hash=False)
        futs = [client.submit(_apply, fn, p, data, key=f"petro-{name}-{i}-{token}", pure=False,
                              retries=retries) for i, p in enumerate(per_task)]
        try:
            for fut in futs:
                yield fut.result()
        finally:
            client.cancel(futs)
            data.release()

    return task_map
