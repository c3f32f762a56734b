"""Runs a process left behind, and a SQLite store two processes create at once (real MLflow
stores, real processes)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from tests.mlflow_state import restore_mlflow_state  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("restore_mlflow_state")

RACE = """
import os, sys, time
while not os.path.exists(sys.argv[2]):
    time.sleep(0.005)
from petro.tracking import setup
setup(sys.argv[1], "petro-race")
from mlflow import MlflowClient
print(len(MlflowClient().search_experiments()))
"""


def test_two_processes_create_a_new_sqlite_store_at_once(tmp_path):
    """Without the lock beside the store, MLflow's schema migration run by both at once fails
    ("duplicate column name: step"; 3 out of 3 tries on this machine)."""
    for attempt in range(2):
        store = tmp_path / f"s{attempt}"
        uri, go = f"sqlite:///{store / 'mlflow.db'}", tmp_path / f"go{attempt}"
        procs = [subprocess.Popen([sys.executable, "-c", RACE, uri, str(go)], cwd=REPO,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        time.sleep(8)                        # both have imported petro and wait for the signal
        go.touch()
        outs = [p.communicate(timeout=300) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err[-3000:]
            assert out.split()[-1] == "2", out    # Default and petro-race, created once
        assert (store / "mlflow.db.lock").exists()


DIES = """
import os, signal, sys
import mlflow
from petro.tracking import setup
from petro.tracking.liveness import process_tags
setup(sys.argv[1], "petro-stale")
run = mlflow.start_run(tags=process_tags())
print(run.info.run_id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)       # killed outright: the run cannot end itself
"""


def test_runs_of_a_process_that_is_gone_are_marked_killed(tmp_path):
    from mlflow import MlflowClient

    from petro.tracking import setup
    from petro.tracking.liveness import PID, PID_START, HOST, mark_stale_runs, process_tags

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    r = subprocess.run([sys.executable, "-c", DIES, uri], cwd=REPO, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == -9, r.stderr[-2000:]
    dead = r.stdout.split()[-1]
    setup(uri, "petro-stale")
    client = MlflowClient(uri, uri)
    assert client.get_run(dead).info.status == "RUNNING"
    mine = process_tags()
    alive = client.create_run(client.get_experiment_by_name("petro-stale").experiment_id,
                              tags=mine).info.run_id                   # this process: alive
    other = client.create_run(client.get_experiment_by_name("petro-stale").experiment_id,
                              tags={**mine, HOST: "another-" + socket.gethostname()}).info.run_id
    reused = client.create_run(client.get_experiment_by_name("petro-stale").experiment_id,
                               tags={**mine, PID_START: "1"}).info.run_id   # pid given again
    assert mine[PID] == str(os.getpid())

    killed = mark_stale_runs(client)
    assert sorted(killed) == sorted([dead, reused])
    assert client.get_run(dead).info.status == "KILLED"
    assert "was gone" in client.get_run(dead).data.tags["petro.end"]
    assert client.get_run(reused).info.status == "KILLED"
    assert client.get_run(alive).info.status == "RUNNING"
    assert client.get_run(other).info.status == "RUNNING"    # another machine: left alone
    assert mark_stale_runs(client) == []
