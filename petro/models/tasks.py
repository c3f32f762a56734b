"""Independent fits (blind-well folds, tuning trials) as tasks of an order-preserving map.

A *task map* is a callable ``task_map(fn, per_task, shared)`` that returns an iterable of
``fn(*per_task[i], *shared)`` **in the order of** ``per_task``, whatever order they ran or
finished in. :func:`run_tasks` uses the one it is given (the application layer passes one that
runs the tasks on a Dask cluster: ``petro.app.engine.dask_task_map``), else runs them here or in
``n_jobs`` local processes (joblib). Each fit depends only on its arguments (seeded,
single-threaded, ``deterministic`` LightGBM), and results are consumed in list order, so the
outcome is the same wherever the tasks ran. ``shared`` is what every task needs (the feature
matrix, the spec): a task map may send it to the workers once rather than with every task.

This module imports nothing distributed: the models layer stays numpy / pandas / LightGBM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

TaskMap = Callable[[Callable, Sequence[tuple], tuple], Iterable]


def run_tasks(fn: Callable, per_task: Sequence[tuple], shared: tuple, *, n_jobs: int = 1,
              task_map: TaskMap | None = None) -> Iterable:
    """``fn(*p, *shared)`` for each ``p`` in ``per_task``, results in that order."""
    if task_map is not None and per_task:
        return task_map(fn, per_task, shared)
    if n_jobs > 1 and len(per_task) > 1:
        from joblib import Parallel, delayed

        # max_nbytes=None: arguments are pickled, not memory-mapped from /dev/shm (joblib's
        # resource tracker printed KeyError tracebacks unlinking those files: joblib #1243)
        return Parallel(n_jobs=min(n_jobs, len(per_task)), return_as="generator",
                        max_nbytes=None)(
            delayed(fn)(*p, *shared) for p in per_task)
    return (fn(*p, *shared) for p in per_task)


def close(results: Iterable) -> None:
    """Stop a partly consumed map (its pending tasks are cancelled where the map can)."""
    stop = getattr(results, "close", None)
    if stop is not None:
        stop()
