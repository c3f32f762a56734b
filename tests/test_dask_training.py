"""Training through LightGBM's own Dask interface (``lightgbm.dask``) on a real LocalCluster of 2
worker processes: the path chosen by size or by setting, the logged model, its blind-well
metrics against the local path's, the sample and the reproducibility on one cluster."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from petro.app.disttrain import DASK, LOCAL, choose_path, table_size
from petro.app.engine import local_cluster
from petro.app.events import Reporter
from petro.app.training import run, train_models
from petro.app.wells import read_wells
from petro.config import EngineOptions, load_config, packaged
from petro.errors import ConfigError

distributed = pytest.importorskip("distributed")
pytest.importorskip("lightgbm.dask")

WORKER_MEMORY = 2 ** 30


@pytest.fixture(scope="module")
def cluster():
    """LocalCluster(n_workers=2, processes=True, one thread each), workers of 1 GiB."""
    with local_cluster(2, memory_limit=WORKER_MEMORY) as c, distributed.Client(c) as client:
        yield c, client


def _cfg(field, scheduler, mode, store, models=("porosity", "permeability"), **engine):
    """Few trees and no tuning (the search itself is the local one, on the sample)."""
    cfg = load_config(packaged("pipelines", "demo.yaml"),
                      overrides={"data": str(field), "synthetic": None, "ingest.cache_dir": "",
                                 "n_jobs": 1, "tracking.experiment": "petro-dask-test"})
    specs = [replace(s, params={**s.params, "n_estimators": 60}, tuning={}, baselines=["ridge"],
                     pca_components=2) for s in cfg.specs if s.name in models]
    cfg = replace(cfg, specs=specs)
    cfg.engine = replace(cfg.engine, scheduler=scheduler, feature_store=str(store),
                         distributed_training=mode, **engine)
    return cfg


@pytest.fixture(scope="module")
def wells(cluster, small_field, tmp_path_factory):
    store = tmp_path_factory.mktemp("features")
    cfg = _cfg(small_field, cluster[0].scheduler_address, "never", store)
    return store, read_wells(cfg)


@pytest.fixture(scope="module")
def local(small_field, wells):
    """The local path's models (no scheduler), the reference."""
    store, ws = wells
    return train_models(_cfg(small_field, "processes", "never", store), ws)


def _params(booster) -> list[str]:
    text = booster.model_to_string()
    return [x for x in text[text.index("parameters:"):].splitlines() if x.startswith("[")]


def test_always_trains_with_lightgbm_dask_logs_a_model_that_loads_and_predicts(
        cluster, small_field, wells, local, tmp_path):
    import mlflow

    c, client = cluster
    store, _ = wells
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    events = []
    t0 = time.perf_counter()
    with distributed.get_task_stream(client) as stream:
        res = run(_cfg(small_field, c.scheduler_address, "always", store), tracking_uri=uri,
                  on_event=Reporter(events.append))
    seconds = time.perf_counter() - t0
    notes = [e.message for e in events if e.kind == "note"]
    assert any(n.startswith("training path: lightgbm.dask (engine.distributed_training: "
                            "always; estimated feature matrix") for n in notes), notes
    assert any("sample of 276 of 276 rows" in n for n in notes), notes
    # the client never held a feature table: the workers read them from the dataset
    trained = [w for w in res.wells if w.has_targets]
    assert trained and all(w.table is None and w.table_path for w in trained)
    # LightGBM's Dask training ran on both workers: wells round-robin in sorted order, SYN-01
    # and SYN-03 on the first worker, SYN-02 on the second, so the fold without SYN-02 trains on
    # one worker and the other two folds and the final model on two; 3 boosters, 2 models
    parts = [t for t in stream.data if str(t["key"]).startswith("_train_part")]
    assert len({t["worker"] for t in parts}) == 2
    # each model and fold that kept an image group also fits its logs-only sibling (3 heads)
    from petro.models.groups import is_image_group

    def sibling_parts(ref) -> int:
        folds = sum((1 if blind == "SYN-02" else 2) for blind, d in ref.cv.groups.items()
                    if any(is_image_group(g) for g in d["kept"]))
        return folds + (2 if ref.bundle.sibling is not None else 0)

    assert len(parts) == sum((2 + 1 + 2 + 2 + sibling_parts(ref)) * 3 for ref in local.models)

    mlflow.set_tracking_uri(uri)
    for entry, ref in zip(res.models, local.models):
        r = mlflow.get_run(entry.run_id)
        assert r.data.params["training.path"] == DASK
        assert r.data.tags["petro.training_path"] == DASK
        assert int(r.data.params["training.sample_rows"]) == 276
        model = mlflow.pyfunc.load_model(entry.model_uri)
        # input selection (max_inputs) ran on the sample, here every row: the local choice
        inputs = model.metadata.metadata["petro_inputs"]
        assert ref.spec.max_inputs and len(ref.features) < len(ref.cv.features)
        assert inputs == ref.bundle.inputs and inputs[:len(ref.features)] == ref.features
        folds = mlflow.artifacts.load_dict(f"runs:/{entry.run_id}/validation/fold_inputs.json")
        assert folds == {"final": ref.features, "folds": ref.cv.inputs} and len(folds["folds"]) == 3
        rows = pd.concat([w.table for w in wells[1] if w.has_targets], ignore_index=True)
        rows = rows[rows["VALID"].astype(bool)]
        out = model.predict(rows)
        col = ref.spec.column
        pred = out[f"{ref.spec.output}_ML"].to_numpy(float)
        truth = rows[col].to_numpy(float)
        if ref.spec.target == "permeability":
            pred = np.log10(pred)
        ok = np.isfinite(truth)
        assert np.isfinite(pred[ok]).all()
        # the logged model fits its own training rows far better than their mean does
        assert np.sqrt(np.mean((pred[ok] - truth[ok]) ** 2)) < 0.3 * np.std(truth[ok])

        # blind-well metrics close to the local path's, and far better than predicting the mean
        key = "rmse_pu" if ref.spec.target == "porosity" else "rmse_dec"
        d, lo = entry.metrics["model"][key], ref.cv.pooled["model"][key]
        mean = entry.metrics["train_mean"][key]
        print(f"{ref.spec.name}: blind {key} local {lo:.4f} lightgbm.dask {d:.4f} mean {mean:.4f}"
              f" ({seconds:.1f} s for the distributed run)")
        assert abs(d - lo) <= 0.2 * lo
        # (local: porosity 0.11 x the mean's RMSE, permeability 0.25 x)
        assert d < (0.2 if ref.spec.target == "porosity" else 0.4) * mean
        assert entry.metrics["train_mean"] == ref.cv.pooled["train_mean"]   # the same folds
        assert entry.metrics["model"]["n"] == ref.cv.pooled["model"]["n"] == 276
        cov = entry.metrics["model"]["coverage_p10_p90"]
        assert 0.6 <= cov <= 0.95


def test_the_dask_boosters_have_the_local_parameters_and_saw_every_row(
        cluster, small_field, wells, local):
    c, client = cluster
    store, ws = wells
    dist = train_models(_cfg(small_field, c.scheduler_address, "always", store, ["porosity"]), ws)
    [m] = dist.models
    ref = local.models[0]
    assert m.bundle.meta["training"] == {"path": DASK, "sample_rows": 276, "rows": 276}
    for key in ("p50", "p10", "p90"):
        a, b = _params(m.bundle.boosters[key]), _params(ref.bundle.boosters[key])
        # the spec's parameters went through; only the tree learner differs (data-parallel)
        assert [(x, y) for x, y in zip(a, b) if x != y] == \
            [("[tree_learner: data]", "[tree_learner: serial]")]
        # data-parallel trees count the bagged rows of every worker (0.8 of 276), not of one
        # worker's wells (~0.8 x 92 or 184)
        roots = [t["tree_structure"]["internal_count"]
                 for t in m.bundle.boosters[key].dump_model()["tree_info"]]
        assert 0.75 * 276 <= np.mean(roots) <= 0.85 * 276


def test_auto_takes_the_local_path_for_a_tiny_table_and_dask_below_a_low_line(
        cluster, small_field, wells, local):
    c, client = cluster
    store, ws = wells
    rows, cols, nbytes = table_size(ws)
    tables = [pd.read_parquet(w.table_path) for w in ws if w.has_targets]
    assert rows == sum(len(t) for t in tables) and cols == max(t.shape[1] for t in tables)
    assert nbytes == sum(t.size for t in tables) * 8
    assert all(pq.read_metadata(w.table_path).num_rows for w in ws if w.has_targets)

    # auto, default line: 0.25 x the workers' 1 GiB limit = 256 MiB, far above this table
    events = []
    res = train_models(_cfg(small_field, c.scheduler_address, "auto", store, ["porosity"]), ws,
                       Reporter(events.append))
    assert res.plan.path == LOCAL and res.plan.line_bytes == WORKER_MEMORY // 4
    note = next(e.message for e in events if e.message.startswith("training path"))
    assert note == (f"training path: local (estimated feature matrix "
                    f"{nbytes / 1024:.1f} KiB = {rows} rows x {cols} columns x 8 B <= local "
                    f"line 256.0 MiB (0.25 x the smallest worker memory limit 1.0 GiB))")
    pd.testing.assert_frame_equal(res.models[0].cv.oof, local.models[0].cv.oof)
    # as `petro run` hands them over with a scheduler and a feature dataset: tables left in the
    # dataset, read by the local path (the same figures)
    stored = [replace(w, table=None) if w.table_path else w for w in ws]
    again = train_models(_cfg(small_field, c.scheduler_address, "auto", store, ["porosity"]),
                         stored)
    assert again.plan.path == LOCAL
    pd.testing.assert_frame_equal(again.models[0].cv.oof, local.models[0].cv.oof)

    # auto, the line set very low (a size string) and a sample of at most 150 rows: lightgbm.dask
    cfg = _cfg(small_field, c.scheduler_address, "auto", store, ["porosity"],
               local_training_max_bytes="100KB", training_sample_rows=150)
    events = []
    a = train_models(cfg, ws, Reporter(events.append))
    assert a.plan.path == DASK and a.plan.line_bytes == 100_000
    assert "> local line 97.7 KiB (engine.local_training_max_bytes)" in a.plan.reason
    assert a.plan.sample_rows == len(a.table) == 150     # 50 rows from each of the 3 wells
    assert a.table["WELL"].value_counts().tolist() == [50, 50, 50]
    assert any("sample of 150 of 276 rows" in e.message for e in events)
    d = a.models[0].cv.pooled["model"]["rmse_pu"]
    lo = local.models[0].cv.pooled["model"]["rmse_pu"]
    assert abs(d - lo) <= 0.3 * lo
    # the same cluster, the same data and settings: the same models and figures, bit for bit
    b = train_models(cfg, ws)
    assert a.models[0].cv.pooled == b.models[0].cv.pooled
    pd.testing.assert_frame_equal(a.models[0].cv.oof, b.models[0].cv.oof)
    for key in ("p50", "p10", "p90"):
        assert a.models[0].bundle.boosters[key].model_to_string() == \
            b.models[0].bundle.boosters[key].model_to_string()


def test_settings_are_checked():
    for bad in ({"distributed_training": "sometimes"}, {"local_training_max_bytes": "lots"},
                {"local_training_max_bytes": 0}, {"training_sample_rows": 10}):
        with pytest.raises(ConfigError, match="section 'engine'"):
            load_config(None, require_data=False, overrides={f"engine.{k}": v
                                                             for k, v in bad.items()})
    opts = load_config(None, require_data=False,
                       overrides={"engine.local_training_max_bytes": "2GiB"}).engine
    assert opts.local_training_max_bytes == 2 * 2 ** 30 and opts.distributed_training == "auto"
    with pytest.raises(ConfigError, match="always needs a Dask scheduler"):
        choose_path(EngineOptions(distributed_training="always"), [], None)
    assert choose_path(EngineOptions(), [], None).reason.startswith("no Dask scheduler")


def test_tuning_on_the_dask_path_searches_the_sample_as_the_local_path_searches_the_table(
        cluster, small_field, wells):
    """With every row in the sample, the nested searches (inside each blind-well fold) and the
    final search pick exactly what the local path picks; the boosters are then fitted on the
    workers with those parameters."""
    c, _ = cluster
    store, ws = wells
    fast = {"trials": 2, "inner_folds": 2, "nested": True,
            "space": {"num_leaves": [7, 15], "learning_rate": [0.05, 0.1]}}

    def cfg(scheduler, mode):
        out = _cfg(small_field, scheduler, mode, store, ["porosity"])
        return replace(out, specs=[replace(s, tuning=dict(fast)) for s in out.specs])

    ref = train_models(cfg("processes", "never"), ws).models[0]
    with distributed.get_task_stream(cluster[1]) as stream:
        m = train_models(cfg(c.scheduler_address, "always"), ws).models[0]
    # every trial ran as a cluster task: 2 in each of the 3 nested searches, 2 in the final one
    assert sum(str(t["key"]).startswith("petro-trial-") for t in stream.data) == 3 * 2 + 2
    assert m.cv.tuning is not None and len(m.cv.tuning) == 3      # one search per blind well
    pd.testing.assert_frame_equal(m.cv.tuning, ref.cv.tuning)
    pd.testing.assert_frame_equal(m.tuning.drop(columns="seconds"),
                                  ref.tuning.drop(columns="seconds"))
    assert m.spec.params == ref.spec.params
    for key in ("p50", "p10", "p90"):      # the chosen parameters reached the workers' fits
        assert {f"[num_leaves: {m.spec.params['num_leaves']}]",
                f"[learning_rate: {m.spec.params['learning_rate']}]"} <= \
            set(_params(m.bundle.boosters[key]))
    d, lo = m.cv.pooled["model"]["rmse_pu"], ref.cv.pooled["model"]["rmse_pu"]
    assert abs(d - lo) <= 0.2 * lo


def test_no_training_well_is_a_data_error_on_the_dask_path_too(cluster, small_field, wells):
    from petro.errors import DataError

    c, _ = cluster
    store, ws = wells
    no_targets = [replace(w, target_report=None) for w in ws]
    with pytest.raises(DataError, match="no well with NMR targets") as err:
        train_models(_cfg(small_field, c.scheduler_address, "always", store), no_targets)
    assert err.value.exit_code == 1     # the data is wanting, not the usage


def test_a_search_stopped_by_its_budget_is_a_warning_on_both_paths(cluster, small_field, wells):
    """The one pipeline hands the models layer's problems to the reporter whichever path
    trained: a time budget that stops every search is one warning per search (3 blind folds,
    then the final search)."""
    c, _ = cluster
    store, ws = wells
    budget = {"trials": 2, "inner_folds": 2, "nested": True, "budget_s": 0.0,
              "space": {"num_leaves": [7, 15]}}
    for scheduler, mode in (("processes", "never"), (c.scheduler_address, "always")):
        cfg = _cfg(small_field, scheduler, mode, store, ["porosity"])
        cfg = replace(cfg, specs=[replace(s, tuning=dict(budget)) for s in cfg.specs])
        events = []
        res = train_models(cfg, ws, Reporter(events.append))
        warned = [e.problem for e in events if e.kind == "problem"]
        assert [p.code for p in warned] == ["tuning_budget"] * 4, (mode, warned)
        assert all("time budget 0 s reached after 1 of 2 trials" in p.message for p in warned)
        assert res.models[0].problems == warned
