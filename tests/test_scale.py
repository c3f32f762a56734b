"""Per-well work on a real Dask LocalCluster (2 worker processes): the same results as the
serial run, the per-well feature dataset, a corrupt well, a worker killed mid-run and a well that
runs out of memory. One cluster for the module (starting one takes a few seconds)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from petro.api import configure
from petro.app.featurestore import FeatureStore
from petro.app.wells import process_wells, stored_well
from petro.config import load_config
from petro.io.discovery import discover
from tests.faults import Faulty

FIX = Path(__file__).resolve().parent / "fixtures" / "las"
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """LocalCluster(n_workers=2, processes=True); a task is given up after its worker died
    twice; test faults are dropped as files in ``cluster.faults`` (read by the per-well task
    wrapped in :class:`tests.faults.Faulty`)."""
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      memory_limit="1GiB", dashboard_address=None) as c:
            c.faults = tmp_path_factory.mktemp("faults")
            yield c


def _cfg(scheduler=None, store=None, jobs=1):
    cfg = load_config(None, require_data=False, overrides={"n_jobs": jobs})
    cfg.engine = replace(cfg.engine, scheduler=scheduler,
                         feature_store=None if store is None else str(store))
    return cfg


@pytest.fixture(scope="module")
def serial(small_field):
    return {r.name: r for r in process_wells(discover(small_field), _cfg())}


def _same(results, serial, skip=()):
    assert sorted(r.name for r in results) == sorted(serial)        # each well once
    for r in results:
        if r.name in skip:
            continue
        s = serial[r.name]
        assert not r.failed, r.error
        pd.testing.assert_frame_equal(r.table, s.table)
        assert r.target_report == s.target_report
        assert r.summary["sha256"] == s.summary["sha256"]


def test_cluster_equals_serial_and_fills_the_feature_dataset(cluster, small_field, serial,
                                                              tmp_path):
    store = tmp_path / "features"
    notes = []
    from petro.app.events import Reporter

    rep = Reporter(lambda e: notes.append(e))
    results = process_wells(discover(small_field), _cfg(cluster.scheduler_address, store),
                            reporter=rep)
    _same(results, serial)
    assert all(r.summary["engine"].startswith(f"dask {cluster.scheduler_address}")
               for r in results)
    assert [e.message for e in notes if e.kind == "note"] == \
        [f"per-well work on dask {cluster.scheduler_address} (2 workers)"]
    assert sorted(e.item for e in notes if e.kind == "advance") == sorted(serial)
    entries = FeatureStore(store).entries()
    assert sorted(p.parent.name for p in entries) == [f"well={n}" for n in sorted(serial)]
    # the dataset is a Hive-partitioned Parquet dataset: one read gives every well's table
    ds = pd.read_parquet(store)
    assert len(ds) == sum(len(s.table) for s in serial.values())
    # a second run reads the stored tables back (the files are not touched again)
    mtimes = [p.stat().st_mtime_ns for p in entries]
    again = process_wells(discover(small_field), _cfg(cluster.scheduler_address, store))
    _same(again, serial)
    assert [p.stat().st_mtime_ns for p in FeatureStore(store).entries()] == mtimes


def test_a_changed_file_gives_a_new_entry(small_field, serial, tmp_path):
    field = tmp_path / "field"
    shutil.copytree(small_field, field)
    store = tmp_path / "features"
    process_wells(discover(field), _cfg(store=store))
    las = sorted((field / "SYN-02").glob("*.las"))[0]
    las.write_text(las.read_text().replace("~A", "# touched\n~A", 1))
    process_wells(discover(field), _cfg(store=store))
    per_well = {}
    for p in FeatureStore(store).entries():
        per_well.setdefault(p.parent.name, []).append(p)
    assert len(per_well["well=SYN-02"]) == 2 and len(per_well["well=SYN-01"]) == 1


def test_corrupt_well_is_reported_the_others_finish_exit_1(cluster, small_field, tmp_path,
                                                           capsys):
    from petro.cli import main

    d = tmp_path / "data"
    for w in ("SYN-01", "SYN-04"):
        shutil.copytree(small_field / w, d / w)
    (d / "BROKEN").mkdir()
    shutil.copy(FIX / "binary_garbage.las", d / "BROKEN" / "run1.las")
    out = tmp_path / "features.parquet"
    code = main(["features", str(d), "-o", str(out), "--no-cache",
                 "--scheduler", cluster.scheduler_address])
    assert code == 1
    table = pd.read_parquet(out)
    assert sorted(table["WELL"].unique()) == ["SYN-01", "SYN-04"]
    err = capsys.readouterr()
    assert "BROKEN" in err.err + err.out and "Traceback" not in err.err + err.out


def test_worker_killed_mid_run_task_retried_no_well_lost_or_doubled(cluster, small_field,
                                                                     serial, tmp_path):
    marker = cluster.faults / "kill-once-SYN-02"
    marker.touch()
    store = tmp_path / "features"
    results = process_wells(discover(small_field), _cfg(cluster.scheduler_address, store),
                            task=Faulty(stored_well, str(cluster.faults)))
    assert not marker.exists()                      # the worker running SYN-02 did exit
    _same(results, serial)
    entries = FeatureStore(store).entries()
    assert len(entries) == len(serial)              # one entry per well
    assert not list(store.rglob("*.tmp"))           # no half-written file left


def test_well_out_of_memory_is_reported_the_others_finish(cluster, small_field, serial,
                                                          tmp_path):
    """The task of SYN-03 allocates until the nanny kills its worker (memory_limit 1 GiB); the
    scheduler retries it on a fresh worker, then gives up (allowed-failures 1): the well is
    reported failed, the others are unaffected."""
    marker = cluster.faults / "oom-SYN-03"
    marker.touch()
    try:
        results = process_wells(discover(small_field), _cfg(cluster.scheduler_address,
                                                            tmp_path / "features"),
                                task=Faulty(stored_well, str(cluster.faults)))
    finally:
        marker.unlink()
    _same(results, serial, skip={"SYN-03"})
    bad = next(r for r in results if r.name == "SYN-03")
    assert bad.failed and bad.error.code == "task_failed"
    assert "KilledWorker" in bad.error.message
    assert len(FeatureStore(tmp_path / "features").entries()) == len(serial) - 1


def _las_values(path):
    import lasio

    las = lasio.read(path)
    return {c.mnemonic: c.data for c in las.curves}


def test_batch_predict_on_the_cluster_resumes_and_redoes_only_changed_wells(
        cluster, trained, tmp_path):
    import numpy as np

    from petro.api import predict

    field = tmp_path / "field"
    shutil.copytree(trained["field"], field)
    serial = {w.name: w for w in predict(field, tracking_uri=trained["uri"], n_jobs=1)}
    out = tmp_path / "out"
    notes = []
    first = predict(field, out_dir=out, tracking_uri=trained["uri"],
                    scheduler=cluster.scheduler_address, on_event=notes.append)
    assert sorted(w.name for w in first) == sorted(serial)
    for w in first:        # the cluster's predictions are the serial ones, written as LAS
        got = _las_values(out / f"{w.name}_petro.las")
        for col, vals in serial[w.name].columns.items():
            np.testing.assert_allclose(got[col], vals, rtol=1e-5, equal_nan=True)
    ds = pd.read_parquet(out / "predictions")
    assert sorted(ds["well"].astype(str).unique()) == sorted(serial)
    assert len(ds) == sum(w.n_rows for w in serial.values())
    manifest = json.loads((out / "_petro_manifest.json").read_text())
    assert sorted(manifest) == sorted(serial)
    # a rerun skips every well and says so
    notes.clear()
    again = predict(field, out_dir=out, tracking_uri=trained["uri"],
                    scheduler=cluster.scheduler_address, on_event=notes.append)
    assert again == []
    assert f"{len(serial)} wells skipped" in " ".join(e.message for e in notes if e.kind == "note")
    # one well's file changes: only that well is predicted again
    las = sorted((field / "SYN-04").glob("*.las"))[0]
    las.write_text(las.read_text().replace("~A", "# touched\n~A", 1))
    third = predict(field, out_dir=out, tracking_uri=trained["uri"], n_jobs=1)
    assert [w.name for w in third] == ["SYN-04"]
    assert json.loads((out / "_petro_manifest.json").read_text())["SYN-01"] == manifest["SYN-01"]


def test_batch_predict_applies_the_models_on_the_workers_value_for_value(cluster, trained,
                                                                          tmp_path):
    """Each well is one task (read, features, the models applied, its files written) on a
    worker that built the models once: the predictions equal the serial run's value for value,
    the calling process applied no model, and a corrupt well fails alone."""
    import os
    import socket

    import numpy as np

    from petro.app.batch import MANIFEST, predict_batch
    from petro.app.predict import combine, load_models, predict_wells, worker_models
    from petro.app.wells import process_well

    field = tmp_path / "field"
    shutil.copytree(trained["field"], field)
    models = load_models(tracking_uri=trained["uri"])
    serial, failed = predict_wells(models, trained["field"], configure(n_jobs=1))
    assert not failed and len(serial) == 4
    here = f"{socket.gethostname()}:{os.getpid()}"
    assert {w.worker for w in serial} == {here}
    # the serial run applies the bundles MLflow loaded, as MLflow's pyfunc predicts with them
    w0 = serial[0]
    cfg = configure().for_recipe(models[0].recipe)
    table = process_well(w0.name, sorted(str(f) for f in (field / w0.name).iterdir()), cfg,
                         with_targets=False).table
    through_mlflow = combine(models, table)[0]
    for col in through_mlflow.columns:
        np.testing.assert_array_equal(through_mlflow[col].to_numpy(float), w0.columns[col])

    (field / "BROKEN").mkdir()
    shutil.copy(FIX / "binary_garbage.las", field / "BROKEN" / "run1.las")
    out = tmp_path / "out"
    res = predict_batch(models, field, out, configure(n_jobs=2,
                                                      scheduler=cluster.scheduler_address))
    assert [p.well for p in res.failed] == ["BROKEN"]
    got = {w.name: w for w in res.wells}
    assert sorted(got) == [w.name for w in serial]
    with distributed.Client(cluster.scheduler_address) as client:
        pids = client.run(os.getpid)
        built = client.run(lambda: sorted(__import__("petro.app.predict").app.predict
                                          .RUNTIMES.keys()))
    assert {w.worker.rsplit(":", 1)[1] for w in got.values()} <= {str(p) for p in pids.values()}
    assert here not in {w.worker for w in got.values()}
    keys = {m.key for m in worker_models(models)}
    by_pid = {str(p): addr for addr, p in pids.items()}
    for w in got.values():     # the worker that predicted keeps both models built (a cache)
        assert keys <= set(built[by_pid[w.worker.rsplit(":", 1)[1]]])
    for s in serial:
        g = got[s.name]
        assert g.engine.startswith(f"dask {cluster.scheduler_address}")
        np.testing.assert_array_equal(g.depth, s.depth)
        assert list(g.columns) == list(s.columns)
        for col, vals in s.columns.items():
            np.testing.assert_array_equal(g.columns[col], vals)
        assert g.diagnosis == s.diagnosis
        assert [p.message for p in g.problems] == [p.message for p in s.problems]
        # written by the task: the Parquet part holds the same values
        part = pd.read_parquet(out / "predictions" / f"well={s.name}" / "part-0.parquet")
        pd.testing.assert_frame_equal(part, s.frame())
        assert g.path == out / f"{s.name}_petro.las" and g.path.is_file()
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(manifest) == [w.name for w in serial]          # not the corrupt well
