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

A Dask worker opens the files a task names on its own machine: every path leaves this process
absolute (the callers resolve them), and before the first task :func:`check_reach` asks every
worker whether it sees the data files and the folders of the call (output, cache, feature
dataset) at the same paths, as the same storage: a worker that does not is named and nothing
is submitted. A scheduler lost during a call (killed, its machine gone) ends it with
:class:`SchedulerLost` once the client gives up reconnecting (``timeout``, 30 s), never with a
failure per well.
"""

from __future__ import annotations

import ctypes
import errno
import multiprocessing
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import as_completed
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from petro.config import EngineOptions
from petro.errors import ConfigError, PetroError
from petro.problems import Problem, error

PROCESSES = "processes"
LOCAL_CLUSTER = "local-cluster"
ENV_ADDRESS = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT_S = 30        # to reach the scheduler, and to wait for it to come back


class SchedulerLost(PetroError):
    """The Dask scheduler went away during a call (the work done before it stays done)."""

    code = "scheduler_lost"
    exit_code = 1             # work was started: not a usage error


@dataclass
class Reach:
    """What the tasks of a call open on the workers' machines: ``folders`` (what it is, in
    the user's words -> absolute path) and data ``files`` (absolute path -> size, bytes)."""

    folders: dict[str, str] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, files, **folders: str | os.PathLike | None) -> Reach:
        """The reach of data ``files`` and the named folders (None left out), made absolute
        (the folders created here if absent: the tasks would create them)."""
        out = cls()
        for what, folder in folders.items():
            if folder is not None:
                out.folders["the " + what.replace("_", " ")] = os.path.abspath(folder)
        for f in files:
            path = os.path.abspath(f)
            try:
                out.files[path] = os.stat(path).st_size
            except OSError:
                continue         # a missing file is that well's problem, reported by its task
        return out


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
    address: str = ""           # the Dask scheduler's


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
def open_engine(opts: EngineOptions, n_jobs: int, n_items: int, shared: tuple = (),
                reach: Reach | None = None, pool: "RunPool | None" = None) -> Iterator[Engine]:
    """The engine for ``n_items`` tasks (see the module docstring); closed on exit.
    ``shared``: the arguments every task of :func:`map_tasks` gets after its own, sent to each
    worker once. ``reach``: the files and folders the tasks open, checked on every Dask worker
    before any task (:func:`check_reach`; local work sees this process's files). ``pool``: the
    run's local pool (:func:`run_pool`), used for local processes when nothing is shared."""
    address = scheduler_address(opts)
    if address is None:
        if n_jobs <= 1 or n_items <= 1 or multiprocessing.current_process().daemon:
            where = "this process (serial)" if not multiprocessing.current_process().daemon \
                else "this process (serial: a daemonic process, e.g. a Dask worker, has no pool)"
            yield Engine("serial", where, 1, opts.retries, shared=shared)
            return
        workers = min(n_jobs, n_items)
        opened = pool.lend if pool is not None and not shared else partial(local_pool,
                                                                           shared=shared)
        with opened(workers) as pool:
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
            check_reach(client, reach)
            with _scattered(client, shared) as data:
                yield Engine("dask", f"dask LocalCluster {cluster.scheduler_address} ({n_jobs} "
                             f"workers; dashboard {client.dashboard_link})", n_jobs,
                             opts.retries, client, shared=data,
                             address=cluster.scheduler_address)
        return
    try:
        client = Client(address, set_as_default=False, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as err:
        raise ConfigError(f"cannot reach the Dask scheduler {address} ({err}); start it "
                          f"(`dask scheduler`) or drop --scheduler / {ENV_ADDRESS}") from err
    try:
        with client_errors_in_one_line():
            n = len(client.scheduler_info().get("workers", {}))
            check_reach(client, reach)
            with _scattered(client, shared) as data:
                yield Engine("dask", f"dask {address} ({n} workers)", n, opts.retries, client,
                             shared=data, address=address)
    except SchedulerLost:
        raise
    except Exception as err:
        if lost(client, err):
            raise SchedulerLost(lost_words(address, err)) from err
        raise
    finally:
        with client_errors_in_one_line():
            client.close()


class _OneLine:
    """A logging filter: a record that carries an exception keeps its message and the
    exception's type and text, on one line, without the traceback."""

    def filter(self, record) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            err = record.exc_info[1]
            record.msg = f"{record.getMessage()} {type(err).__name__}: {err}".strip()
            record.args, record.exc_info, record.exc_text = (), None, None
        return True


@contextmanager
def client_errors_in_one_line() -> Iterator[None]:
    """While petro holds a client of an outside scheduler: the Dask client's errors without
    their tracebacks (a scheduler that went away made the client log one per failed reconnect,
    before petro's own message, :func:`lost_words`, said what happened and what to do)."""
    import logging

    logger, one_line = logging.getLogger("distributed.client"), _OneLine()
    logger.addFilter(one_line)
    try:
        yield
    finally:
        logger.removeFilter(one_line)


def lost(client, err: BaseException) -> bool:
    """True when ``err`` means that ``client`` lost its scheduler (its connection closed, or
    its futures cancelled because it did), not that a task failed."""
    from concurrent.futures import CancelledError

    from distributed.comm.core import CommClosedError

    if isinstance(err, SchedulerLost | CommClosedError):
        return True
    return isinstance(err, CancelledError | OSError | TimeoutError) \
        and getattr(client, "status", "running") != "running"


def lost_words(address: str, err: BaseException) -> str:
    """What to tell the user when the scheduler at ``address`` went away."""
    return (f"lost the Dask scheduler {address} ({type(err).__name__}; no answer for "
            f"{CONNECT_TIMEOUT_S} s): the work stopped. What was finished is kept (the "
            f"feature dataset's entries, the wells already written and recorded by "
            f"`petro predict`; `petro run` logged nothing). Start the scheduler and its workers "
            f"again (`dask scheduler`, `dask worker {address} --nthreads 1`) and run the same "
            f"command: it goes on from there")


def check_reach(client, reach: Reach | None) -> None:
    """Ask every worker of ``client`` whether it sees ``reach``: each folder as this machine's
    (a probe file written here must be read there: the same storage, not a folder of the same
    name on the worker's disk) and each data file (same size). Raises :class:`ConfigError`
    naming each worker that does not and what it misses, before any task is submitted."""
    if reach is None or not (reach.folders or reach.files):
        return
    token = secrets.token_hex(8)
    probes = {}
    try:
        for what, folder in reach.folders.items():
            probe = Path(folder) / f".petro-reach-{token}"
            try:
                Path(folder).mkdir(parents=True, exist_ok=True)
                probe.write_text(token)
            except OSError as err:
                raise ConfigError(f"cannot write in {what} {folder}: "
                                  f"{os_error_words(err)}") from err
            probes[what] = (folder, str(probe))
        try:
            answers = client.run(_unseen, probes, token, reach.files)
        except Exception as err:
            if lost(client, err):
                raise
            raise ConfigError(f"the Dask workers could not run petro's check of the files "
                              f"they must see ({type(err).__name__}: {err}): install this "
                              f"petro, in the same version, on every worker and restart "
                              f"them") from err
    finally:
        for _, probe in probes.values():
            Path(probe).unlink(missing_ok=True)
    blind = {addr: a for addr, a in sorted(answers.items()) if a["missing"]}
    if blind:
        who = "; ".join(f"worker {addr} on {a['host']} cannot see {', '.join(a['missing'])}"
                        for addr, a in blind.items())
        raise ConfigError(
            f"the Dask workers must see this machine's files at the same paths: {who}. Put "
            f"the data, the output folder and the cache folder on storage every worker mounts "
            f"at the same path (e.g. NFS), or run without --scheduler / {ENV_ADDRESS}")


UNSEEN_SHOWN = 3              # missing files named per worker (then a count)


def _unseen(probes: dict[str, tuple[str, str]], token: str, files: dict[str, int]) -> dict:
    """On a worker: what of :func:`check_reach`'s folders and files it cannot see."""
    missing = []
    for what, (folder, probe) in probes.items():
        try:
            if Path(probe).read_text() == token:
                continue
        except OSError:
            pass
        there = "a folder of that name, not the same storage" if os.path.isdir(folder) \
            else "no such folder there"
        missing.append(f"{what} {folder} ({there})")
    files_missing = []
    for path, size in files.items():
        try:
            if os.stat(path).st_size == size:
                continue
            files_missing.append(f"{path} (another size there)")
        except OSError:
            files_missing.append(path)
    if files_missing:
        more = len(files_missing) - UNSEEN_SHOWN
        missing.append(f"the data file{'s' if len(files_missing) > 1 else ''} "
                       f"{', '.join(files_missing[:UNSEEN_SHOWN])}"
                       + (f" and {more} more" if more > 0 else ""))
    return {"host": socket.gethostname(), "missing": missing}


@contextmanager
def _scattered(client, shared: tuple) -> Iterator[tuple]:
    """``shared`` on every worker of ``client`` (one future per item), released on exit."""
    data = tuple(client.scatter(list(shared), hash=False, broadcast=True)) if shared else ()
    try:
        yield data
    finally:
        for d in data:
            try:
                d.release()
            except Exception as err:   # noqa: PERF203 - a lost scheduler: nothing to release
                if not lost(client, err):
                    raise


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
    if isinstance(err, OSError):
        return error(f"a file could not be written or read: {os_error_words(err)}; the other "
                     f"wells went on: fix the cause and run again (finished work is kept)",
                     well=key, code="task_io")
    return error(f"the task for this well failed: {type(err).__name__}: {err} (a worker that "
                 f"died repeatedly, e.g. out of memory, or a bug: the other wells went on)",
                 well=key, code="task_failed")


OS_CAUSES = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
             errno.EFBIG: "the file would exceed the file size limit of this process "
                          "(`ulimit -f`)",
             errno.EROFS: "the file system is read-only",
             errno.EACCES: "no permission", errno.EPERM: "no permission"}


def os_error_words(err: OSError) -> str:
    """An operating-system error in the user's words: what, where, and the likely cause."""
    what = err.strerror or str(err)
    where = f" ({err.filename})" if err.filename else ""
    cause = OS_CAUSES.get(err.errno or 0)
    if cause is None and err.errno is None:
        cause = "a short write: a full disk or a file size limit?"
    return f"{what}{where}" + (f": {cause}" if cause else "")


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


@dataclass
class RunPool:
    """A local pool kept for a whole run (:func:`run_pool`): lent to each step as if it were
    its own (:meth:`lend`), and a :data:`petro.models.tasks.TaskMap` over it (:meth:`task_map`)."""

    pool: object
    workers: int

    def lend(self, workers: int) -> AbstractContextManager:
        """The pool, as :func:`local_pool` would give one (left open on exit)."""
        return nullcontext(self.pool)

    def task_map(self, fn: Callable, per_task, shared: tuple):
        """``fn(*p, *shared)`` for each ``p`` of ``per_task`` in the pool, results in that
        order (tasks not yet run are cancelled when the results are closed)."""
        return _in_order([self.pool.submit(fn, *p, *shared) for p in per_task])


def _in_order(futures: list):
    try:
        for f in futures:
            yield f.result()
    finally:
        for f in futures:
            f.cancel()


@contextmanager
def run_pool(opts: EngineOptions, n_jobs: int) -> Iterator[RunPool | None]:
    """One local pool of ``n_jobs`` processes for a whole run: writing a synthetic field, the
    per-well work, training's fits and the plots, so its processes start once (each start
    imports numpy, pandas, LightGBM and petro: ~1-2 s). None (each step opens what it needs)
    with a Dask scheduler, one job, or in a daemonic process."""
    if scheduler_address(opts) is not None or n_jobs <= 1 or \
            multiprocessing.current_process().daemon:
        yield None
        return
    with local_pool(n_jobs) as pool:
        yield RunPool(pool, n_jobs)


def process_pool() -> Callable[[int], AbstractContextManager] | None:
    """:func:`local_pool` as a factory of pools of N workers, or None in a daemonic process
    (a Dask worker, a pool process), which may not start processes: work there is serial."""
    return None if multiprocessing.current_process().daemon else local_pool


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
            if lost(engine.client, err):      # not this item's failure: every item's
                raise SchedulerLost(lost_words(engine.address, err)) from err
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
            try:
                client.cancel(futs)
                data.release()
            except Exception as err:   # a lost scheduler: the caller's error says so
                if not lost(client, err):
                    raise

    return task_map
