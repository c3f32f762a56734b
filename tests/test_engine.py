"""Where per-well work runs (petro.app.engine): the settings reach the engine, each task reads
its LAS files with the engine's thread count (passed explicitly, no environment variable)."""

from __future__ import annotations

import os

import pytest

from petro.api import configure
from petro.app.wells import WellResult, process_wells
from petro.io.discovery import discover
from petro.io.las import default_threads


def _reader_threads(name, files, cfg, *rest) -> WellResult:
    """A per-well task that only says with how many threads it would read a large LAS file."""
    r = WellResult(name, files)
    r.summary["threads"] = cfg.ingest.read_threads or default_threads()
    return r


@pytest.mark.parametrize("scheduler,jobs,threads", [("processes", 1, 2), ("processes", 2, 1),
                                                    ("local-cluster", 2, 1)])
def test_tasks_read_las_with_the_engines_thread_count(monkeypatch, small_field, scheduler, jobs,
                                                      threads):
    """Two workers on two cores: each reads its LAS files with one thread (a plain process
    reads a large file with two), so the cores are not oversubscribed; serial work keeps two."""
    monkeypatch.setenv("OMP_NUM_THREADS", "")     # restored after the test: Dask's nannies set
    monkeypatch.delenv("OMP_NUM_THREADS")         # it in the process that runs them (this one)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert default_threads() == 2                  # this process
    cfg = configure(n_jobs=jobs, scheduler=scheduler, cache_dir="")
    results = process_wells(discover(small_field), cfg, task=_reader_threads)
    assert [r.summary["threads"] for r in results] == [threads] * 4
    where = {r.summary["engine"] for r in results}
    assert len(where) == 1 and where.pop().startswith(
        {1: "this process", 2: "local process pool" if scheduler == "processes"
         else "dask LocalCluster"}[jobs])
    assert cfg.ingest.read_threads is None        # the caller's configuration is untouched
    pinned = configure(n_jobs=jobs, scheduler=scheduler, cache_dir="",
                       overrides={"ingest.read_threads": 2})     # the pipeline's value stands
    assert {r.summary["threads"] for r in process_wells(discover(small_field), pinned,
                                                        task=_reader_threads)} == {2}
