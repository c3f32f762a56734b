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
"""

from __future__ import annotations

import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from petro.config import EngineOptions
from petro.errors import ConfigError

PROCESSES = "processes"
LOCAL_CLUSTER = "local-cluster"
ENV_ADDRESS = "DASK_SCHEDULER_ADDRESS"
# test-only fault injection: a folder where a test drops 'kill-once-<key>' (the worker running
# that task exits once) or 'oom-<key>' (the task allocates memory until its worker is killed)
FAULTS_ENV = "PETRO_TEST_FAULTS"


@dataclass
class Engine:
    kind: str                   # 'serial' | 'processes' | 'dask'
    where: str                  # for the run log: "dask tcp://10.0.0.5:8786 (32 workers)"
    workers: int
    retries: int = 2
    client: object = None       # distributed.Client for 'dask'
    pool: object = None         # ProcessPoolExecutor for 'processes'


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


def one_thread_per_worker() -> None:
    """In each process of the local pool: read LAS files with one thread (the pool already
    keeps every core busy; Dask's workers get the same from their nanny's OMP_NUM_THREADS=1).
    A value the user set is kept."""
    from petro.io.las import THREADS_ENV

    os.environ.setdefault(THREADS_ENV, "1")


@contextmanager
def open_engine(opts: EngineOptions, n_jobs: int, n_items: int) -> Iterator[Engine]:
    """The engine for ``n_items`` tasks (see the module docstring); closed on exit."""
    address = scheduler_address(opts)
    if address is None:
        if n_jobs <= 1 or n_items <= 1:
            yield Engine("serial", "this process (serial)", 1, opts.retries)
            return
        workers = min(n_jobs, n_items)
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                 initializer=one_thread_per_worker) as pool:
            yield Engine(PROCESSES, f"local process pool ({workers} processes)", workers,
                         opts.retries, pool=pool)
        return
    try:
        from distributed import Client
    except ImportError as err:  # pragma: no cover - a core dependency
        raise ConfigError("a Dask scheduler is configured but dask[distributed] is not "
                          "installed: pip install 'dask[distributed]'") from err
    if address == LOCAL_CLUSTER:
        with local_cluster(n_jobs) as cluster, Client(cluster, set_as_default=False) as client:
            yield Engine("dask", f"dask LocalCluster {cluster.scheduler_address} ({n_jobs} "
                         f"workers; dashboard {client.dashboard_link})", n_jobs, opts.retries,
                         client)
        return
    try:
        client = Client(address, set_as_default=False, timeout=30)
    except (OSError, TimeoutError, ValueError) as err:
        raise ConfigError(f"cannot reach the Dask scheduler {address} ({err}); start it "
                          f"(`dask scheduler`) or drop --scheduler / {ENV_ADDRESS}") from err
    try:
        n = len(client.scheduler_info().get("workers", {}))
        yield Engine("dask", f"dask {address} ({n} workers)", n, opts.retries, client)
    finally:
        client.close()


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


def _fault_hook(key: str) -> None:
    folder = os.environ.get(FAULTS_ENV)
    if not folder:
        return
    try:
        (Path(folder) / f"kill-once-{key}").unlink()   # only one process wins the unlink
    except FileNotFoundError:
        pass
    else:
        os._exit(17)
    if (Path(folder) / f"oom-{key}").exists():
        blocks = []
        for _ in range(80):            # bounded: 4 GB at most, then a MemoryError
            blocks.append(bytearray(50 * 2 ** 20))
            for i in range(0, len(blocks[-1]), 4096):
                blocks[-1][i] = 1      # touch the pages so they count as resident
            time.sleep(0.05)
        raise MemoryError(f"{key}: test allocation was not stopped by a memory limit")


def _call(fn: Callable, key: str, args: tuple, shared: tuple = ()):
    _fault_hook(key)
    return fn(*args, *shared)


# per process of the local pool: the file of the shared arguments of the current map -> them
_POOL_SHARED: dict[str, tuple] = {}


def _call_pooled(fn: Callable, key: str, args: tuple, shared_file: str):
    shared = _POOL_SHARED.get(shared_file)
    if shared is None:
        _POOL_SHARED.clear()
        shared = _POOL_SHARED[shared_file] = pickle.loads(Path(shared_file).read_bytes())
    return _call(fn, key, args, shared)


@contextmanager
def _shared_file(shared: tuple) -> Iterator[str]:
    """``shared`` pickled once into a temporary file the pool's processes read (once each)."""
    fd, name = tempfile.mkstemp(prefix="petro-shared-", suffix=".pkl")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(shared, fh, protocol=pickle.HIGHEST_PROTOCOL)
        yield name
    finally:
        Path(name).unlink(missing_ok=True)


def map_tasks(engine: Engine, fn: Callable, items: list[tuple[str, tuple]],
              shared: tuple = ()) -> Iterator[tuple[str, object, BaseException | None]]:
    """``fn(*args, *shared)`` for each ``(key, args)``; yields ``(key, result, None)`` or
    ``(key, None, error)`` as each task completes. ``shared`` (the same for every task: the
    configuration, the models) goes to each worker once, not with each task: scattered to the
    Dask workers, through a temporary file to the local pool's processes."""
    if engine.kind == "serial":
        for key, args in items:
            try:
                yield key, _call(fn, key, args, shared), None
            except Exception as err:  # a bug in one well's work must not stop the batch
                yield key, None, err
        return
    if engine.kind == PROCESSES:
        with _shared_file(shared) as shared_file:
            futs = {engine.pool.submit(_call_pooled, fn, key, args, shared_file): key
                    for key, args in items}
            for fut in as_completed(futs):
                try:
                    yield futs[fut], fut.result(), None
                except Exception as err:
                    yield futs[fut], None, err
        return
    from distributed import as_completed as dask_completed

    token = os.urandom(4).hex()
    data = engine.client.scatter(shared, hash=False, broadcast=True) if shared else ()
    futs = {engine.client.submit(_call, fn, key, args, data, key=f"petro-{key}-{token}",
                                 pure=False, retries=engine.retries): key for key, args in items}
    try:
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
    finally:
        for d in data:
            d.release()


def _apply(fn: Callable, per_task: tuple, shared: tuple):
    return fn(*per_task, *shared)


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
