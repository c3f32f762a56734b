"""A Dask scheduler started by hand that goes away while petro works: one error in words
(exit 1 from the command line), without the tracebacks the Dask client logs while it tries to
reconnect (issue 27.5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from petro.io.discovery import discover
from tests.conftest import REPO, free_port

pytest.importorskip("distributed")


# petro's per-well work on the scheduler; the task of the first well kills the scheduler
LOSE = """
import sys
from dataclasses import replace
from petro.app.engine import SchedulerLost
from petro.app.wells import process_wells, stored_well
from petro.config import load_config
from petro.io.discovery import discover
from tests.faults import Faulty
field, addr, folder = sys.argv[1:]
cfg = load_config(None, require_data=False, overrides={"n_jobs": 1})
cfg.engine = replace(cfg.engine, scheduler=addr)
try:
    process_wells(discover(field), cfg, task=Faulty(stored_well, folder))
except SchedulerLost as err:
    print(f"SchedulerLost: {err}")
"""


def _start(cmd: list, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True,    # the worker imports tests.faults
                            env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO)))


def test_a_lost_scheduler_is_one_error_without_a_traceback(small_field, tmp_path):
    bin_ = Path(sys.executable).parent
    addr = f"tcp://127.0.0.1:{free_port()}"
    sched = _start([bin_ / "dask", "scheduler", "--host", "127.0.0.1", "--port",
                    addr.rsplit(":", 1)[1], "--no-dashboard"], tmp_path)
    worker = _start([bin_ / "dask", "worker", addr, "--nthreads", "1", "--no-dashboard"],
                    tmp_path)
    try:
        from distributed import Client

        with Client(addr, timeout=60) as c:         # the worker has joined
            c.wait_for_workers(1, timeout=60)
        (tmp_path / f"kill-pid-{sorted(discover(small_field))[0]}").write_text(str(sched.pid))
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-c", LOSE, str(small_field), addr, str(tmp_path)],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
        assert time.monotonic() - t0 < 90
        assert r.stdout.startswith(f"SchedulerLost: lost the Dask scheduler {addr}"), r.stdout
        assert "Traceback" not in r.stderr, r.stderr
    finally:
        for p in (worker, sched):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=20)
