"""Training on a real Dask LocalCluster (2 worker processes): blind-well folds (with their nested
tuning and baselines) and the final tuning trials run as cluster tasks, and the models and
metrics are exactly the local run's."""

from __future__ import annotations

import os
from dataclasses import replace

import pandas as pd
import pytest

from petro.app.engine import dask_task_map, local_cluster, open_engine
from petro.app.events import Reporter
from petro.app.training import train_models
from petro.app.wells import read_wells
from petro.config import EngineOptions, load_config, packaged

distributed = pytest.importorskip("distributed")

FAST = {"trials": 3, "inner_folds": 2, "nested": True,
        "space": {"num_leaves": [7, 15], "learning_rate": [0.05, 0.1],
                  "min_child_samples": [10, 20]}}


@pytest.fixture(scope="module")
def cluster():
    """LocalCluster(n_workers=2, processes=True, one thread each), as petro starts one."""
    with local_cluster(2) as c, distributed.Client(c) as client:
        yield c, client


def _cfg(field, scheduler):
    """The permeability model only (logs + image features, PCA embedding, a logs-only model and
    a ridge baseline per fold), few trees, nested tuning of 3 trials."""
    cfg = load_config(packaged("pipelines", "demo.yaml"),
                      overrides={"data": str(field), "synthetic": None, "ingest.cache_dir": "",
                                 "n_jobs": 1})
    specs = [replace(s, params={**s.params, "n_estimators": 30}, tuning=dict(FAST),
                     baselines=["ridge"], pca_components=2)
             for s in cfg.specs if s.name == "permeability"]
    cfg = replace(cfg, specs=specs)
    cfg.engine = replace(cfg.engine, scheduler=scheduler)
    return cfg


def test_training_on_the_cluster_equals_the_local_run(cluster, small_field):
    c, client = cluster
    local_cfg = _cfg(small_field, "processes")
    wells = read_wells(local_cfg)
    local = train_models(local_cfg, wells).models[0]
    events = []
    with distributed.get_task_stream(client) as stream:
        remote = train_models(_cfg(small_field, c.scheduler_address), wells,
                              Reporter(events.append)).models[0]
    # the fits ran as tasks on the workers: 3 blind-well folds (nested tuning inside each) and
    # the final search's 3 trials
    keys = [t["key"] for t in stream.data]
    assert sum(k.startswith("petro-fold-") for k in keys) == 3
    assert sum(k.startswith("petro-trial-") for k in keys) == 3
    assert f"training fits on dask {c.scheduler_address} (2 workers)" in \
        [e.message for e in events if e.kind == "note"]
    # ... and gave exactly the local run's figures and models
    assert remote.cv.pooled == local.cv.pooled
    assert set(local.cv.pooled) >= {"model", "ridge", "logs_only", "petrophysical"}
    assert remote.spec.params == local.spec.params
    pd.testing.assert_frame_equal(remote.cv.oof, local.cv.oof)
    pd.testing.assert_frame_equal(remote.cv.per_well, local.cv.per_well)
    pd.testing.assert_frame_equal(remote.cv.tuning, local.cv.tuning)
    pd.testing.assert_frame_equal(remote.tuning.drop(columns="seconds"),
                                  local.tuning.drop(columns="seconds"))
    assert remote.cv.conformal_adj == local.cv.conformal_adj
    assert remote.cv.novelty_thresholds == local.cv.novelty_thresholds
    for key in ("p50", "p10", "p90"):
        assert remote.bundle.boosters[key].model_to_string() == \
            local.bundle.boosters[key].model_to_string()


def test_the_task_map_keeps_list_order_and_raises_a_task_error(cluster):
    _, client = cluster
    task_map = dask_task_map(client)

    def slow_first(i, base):        # the first tasks finish last
        import time

        time.sleep(0.3 * (4 - i))
        return base + i

    assert list(task_map(slow_first, [(i,) for i in range(4)], (10,))) == [10, 11, 12, 13]

    def fails_on_two(i):
        if i == 2:
            raise ValueError("fold 2 failed")
        return i

    results = task_map(fails_on_two, [(i,) for i in range(4)], ())
    assert next(results) == 0 and next(results) == 1
    with pytest.raises(ValueError, match="fold 2 failed"):
        next(results)


def test_local_cluster_workers_keep_the_allocators_dynamic_mmap_threshold(monkeypatch):
    """Dask's nanny would set MALLOC_TRIM_THRESHOLD_ (in the workers and in this process); any
    value switches off glibc's dynamic mmap threshold and per-well work ran ~1.6x slower."""
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with open_engine(EngineOptions(scheduler="local-cluster"), 1, 2) as engine:
        assert engine.kind == "dask" and "LocalCluster" in engine.where
        env = engine.client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")
        assert list(env.values()) == [None]
        assert list(engine.client.run(os.environ.get, "OMP_NUM_THREADS").values()) == ["1"]
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
