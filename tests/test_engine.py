"""Where per-well work runs (petro.app.engine): the settings reach the engine, each task reads
its LAS files with the engine's thread count (passed explicitly, no environment variable)."""

from __future__ import annotations

import os
from pathlib import Path

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


def _field_copy(field, out, copies: int):
    """``copies`` renamed copies of every well of ``field`` (files grouped by their WELL header)."""
    for i in range(copies):
        for src in sorted(p for p in field.iterdir() if p.is_dir()):
            name = f"K{i}-{src.name}"
            (out / name).mkdir(parents=True)
            for f in src.iterdir():
                (out / name / f.name.replace(src.name, name)).write_text(
                    f.read_text().replace(src.name, name))
    return out


SCRIPT = '''from petro import api

wells = api.ingest("field")
table = api.features("field")
pred = api.predict("field", out_dir="pred", tracking_uri={uri!r})
print("read", sum(w.error is None for w in wells), "rows", len(table), "predicted", len(pred))
'''


@pytest.mark.parametrize("how", ["script", "notebook"])
def test_the_python_verbs_work_in_a_plain_script_without_a_main_guard(trained, tmp_path, how,
                                                                      env_with_venv):
    """Issue 26.2: the README's block saved as s.py and run with `python s.py` (no
    `if __name__ == "__main__":`) re-ran in every worker of the local pool (spawn imports the
    parent's main module), which failed in its bootstrapping phase: every well BrokenProcessPool.
    The same code without a file (a notebook cell, `python -c`) works too."""
    import shutil
    import subprocess
    import sys

    for w in ("SYN-01", "SYN-04"):
        shutil.copytree(trained["field"] / w, tmp_path / "field" / w)
    code = SCRIPT.format(uri=trained["uri"])
    (tmp_path / "s.py").write_text(code)
    cmd = [sys.executable, "s.py"] if how == "script" else [sys.executable, "-c", code]
    r = subprocess.run(cmd, cwd=tmp_path, env=env_with_venv, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "read 2 rows" in r.stdout and r.stdout.strip().endswith("predicted 2"), r.stdout
    assert "bootstrapping" not in r.stderr and "BrokenProcessPool" not in r.stderr
    assert sorted(p.name for p in (tmp_path / "pred").glob("*.las")) == \
        ["SYN-01_petro.las", "SYN-04_petro.las"]
    # the pictures too, drawn by the pool's workers (issue 26.1)
    assert sorted(p.name for p in (tmp_path / "pred" / "plots").glob("*.png")) == \
        ["SYN-01.png", "SYN-04.png"]


def test_a_synthetic_field_is_written_from_a_plain_script(tmp_path, env_with_venv):
    """A pipeline with a ``synthetic:`` section writes its field on first use, in the local
    pool: from a plain script without a main guard too (multiprocessing's spawn pool used there
    re-ran the script in each child: every child died in its bootstrapping phase)."""
    import subprocess
    import sys

    (tmp_path / "p.yaml").write_text("name: s\nsynthetic: {wells: 3, seed: 2, thickness: 4.0}\n"
                                     "n_jobs: 2\n")
    (tmp_path / "s.py").write_text(   # what api.train / api.run do first
        "from petro.api import configure\nfrom petro.app.wells import ensure_data\n"
        "print('written', ensure_data(configure('p.yaml', data='field')))\n")
    r = subprocess.run([sys.executable, "s.py"], cwd=tmp_path, env=env_with_venv,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "bootstrapping" not in r.stderr
    assert sorted(p.name for p in (tmp_path / "field").iterdir()) == ["SYN-01", "SYN-02", "SYN-03"]
    assert r.stdout.strip().endswith("/field"), r.stdout


def _engine_in_a_daemon(queue):
    from petro.app.engine import open_engine
    from petro.config import EngineOptions

    with open_engine(EngineOptions(scheduler="processes"), 2, 4) as engine:
        queue.put((engine.kind, engine.where))


def test_a_daemonic_process_works_serially():
    """A Dask worker is a daemonic process, which may not start processes: serial there."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    p = ctx.Process(target=_engine_in_a_daemon, args=(queue,), daemon=True)
    p.start()
    kind, where = queue.get(timeout=120)
    p.join(30)
    assert kind == "serial" and "daemonic" in where


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process, from /proc."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        out[int(stat.parent.name)] = (int(ppid), state)
    return out


def _descendants(pid: int) -> set[int]:
    procs, found, todo = _processes(), set(), [pid]
    while todo:
        parent = todo.pop()
        kids = [p for p, (pp, _) in procs.items() if pp == parent and p not in found]
        found.update(kids)
        todo += kids
    return found


def _alive(pids) -> set[int]:
    procs = _processes()
    return {p for p in pids if p in procs and procs[p][1] != "Z"}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_kill_9_of_predict_leaves_no_worker_and_no_file(trained, tmp_path, env_with_venv):
    """Issue 27.5: after `kill -9` of `petro predict`, its pool workers went on writing LAS files
    and stayed alive; each kill left a petro-shared-*.pkl in the temporary folder."""
    import signal
    import subprocess
    import sys
    import time

    data = _field_copy(trained["field"], tmp_path / "data", 3)        # 12 wells
    tmp, out = tmp_path / "tmp", tmp_path / "out"
    tmp.mkdir()
    env = dict(env_with_venv, MLFLOW_TRACKING_URI=trained["uri"], TMPDIR=str(tmp))
    proc = subprocess.Popen([sys.executable, "-m", "petro.cli", "predict", str(data), "-o",
                             str(out), "--jobs", "2", "--no-cache"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 400
    while not list(out.glob("*_petro.las")):
        assert proc.poll() is None and time.time() < deadline, "predict ended before the kill"
        time.sleep(0.05)
    children = _descendants(proc.pid)
    assert len(children) >= 2                     # the pool's workers (and loky's tracker)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    gone = time.time() + 10
    while _alive(children) and time.time() < gone:
        time.sleep(0.05)
    assert not _alive(children), f"still running after the kill: {_alive(children)}"
    written = sorted(out.glob("*_petro.las"))
    time.sleep(2)
    assert sorted(out.glob("*_petro.las")) == written and len(written) < 12
    assert not [p.name for p in tmp.iterdir() if p.name.startswith("petro")]
