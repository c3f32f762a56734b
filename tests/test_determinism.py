"""Same files, same pipeline, same seed -> the same models (bit-identical LightGBM text) and the
same metrics, whatever the number of processes; tuning runs a fixed number of trials."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from petro.app.training import train_models
from petro.app.wells import read_wells
from petro.config import load_config, packaged
from petro.errors import ConfigError
from petro.models.spec import ModelSpec
from petro.models.tuning import candidates, tune, tuning_settings

FAST = {"trials": 3, "inner_folds": 2, "nested": True,
        "space": {"num_leaves": [7, 15], "learning_rate": [0.05, 0.1],
                  "min_child_samples": [10, 20]}}


def _cfg(field, n_jobs):
    cfg = load_config(packaged("pipelines", "demo.yaml"),
                      overrides={"data": str(field), "synthetic": None, "ingest.cache_dir": "",
                                 "n_jobs": n_jobs})
    specs = [replace(s, params={**s.params, "n_estimators": 40}, tuning=dict(FAST),
                     baselines=["ridge"], pca_components=2) for s in cfg.specs]
    return replace(cfg, specs=specs)


def _train(field, n_jobs):
    cfg = _cfg(field, n_jobs)
    return train_models(cfg, read_wells(cfg))


def test_two_runs_give_bit_identical_models_and_identical_metrics(small_field):
    a, b = _train(small_field, 1), _train(small_field, 2)   # 1 process, then 2
    assert [m.spec.name for m in a.models] == ["porosity", "permeability"]
    for ma, mb in zip(a.models, b.models):
        assert ma.cv.pooled == mb.cv.pooled                  # every metric, exactly
        assert ma.spec.params == mb.spec.params              # the same tuned parameters
        pd.testing.assert_frame_equal(ma.tuning.drop(columns="seconds"),
                                      mb.tuning.drop(columns="seconds"))
        assert len(ma.tuning) == 3 and ma.tuning.attrs["stopped"] == ""
        pd.testing.assert_frame_equal(ma.cv.tuning, mb.cv.tuning)   # nested: per outer fold
        for key in ("p50", "p10", "p90"):
            ta = ma.bundle.boosters[key].model_to_string()
            assert ta == mb.bundle.boosters[key].model_to_string()
            assert "[num_threads: 1]" in ta and "[deterministic: 1]" in ta
        np.testing.assert_array_equal(ma.cv.oof["p50"].to_numpy(), mb.cv.oof["p50"].to_numpy())


def _spec(**tuning):
    return ModelSpec(name="porosity", target="porosity", params={"n_estimators": 30},
                     features=["logs"], tuning=tuning)


def test_tuning_runs_the_same_fixed_trials_and_a_budget_only_stops_it_with_a_record():
    c1, c2 = candidates(_spec(trials=5)), candidates(_spec(trials=5))
    assert c1 == c2 and len(c1) == 5 and c1[0] == {"n_estimators": 30}
    assert candidates(_spec(n_iter=4)) == candidates(_spec(trials=4))   # the old key still works
    assert tuning_settings(_spec())["trials"] == 8 and tuning_settings(_spec())["nested"]
    rng = np.random.default_rng(0)
    n = 300
    table = pd.DataFrame({"WELL": np.repeat(["A", "B", "C"], n // 3), "GR": rng.normal(size=n),
                          "RHOB": rng.normal(size=n)})
    table["PHIE"] = 0.2 + 0.02 * table["GR"] + rng.normal(0, 0.005, n)
    best, trials = tune(table, ["GR", "RHOB"], _spec(trials=3, inner_folds=3))
    assert trials.attrs == {"planned": 3, "run": 3, "stopped": ""}
    best_b, _ = tune(table, ["GR", "RHOB"], _spec(trials=3, inner_folds=3))
    assert best == best_b
    # a budget that is reached stops after the first trial and says so
    _, cut = tune(table, ["GR", "RHOB"], _spec(trials=3, budget_s=0.0))
    assert cut.attrs["run"] == 1 and "time budget" in cut.attrs["stopped"]
    with pytest.raises(ConfigError, match="unknown keys"):
        _spec(trails=3)


def _field_table(seed=0, n=120):
    rng = np.random.default_rng(seed)
    wells = np.repeat(["A", "B", "C", "D"], n)
    gr, rhob = rng.normal(size=wells.size), rng.normal(size=wells.size)
    return pd.DataFrame({"WELL": wells, "DEPT": np.tile(np.arange(n) * 0.1, 4), "GR": gr,
                         "RHOB": rhob, "PHIE": 0.2 + 0.03 * np.tanh(gr) - 0.01 * rhob
                         + rng.normal(0, 0.004, wells.size)})


def test_nested_cv_tunes_each_outer_fold_without_its_blind_well():
    from petro.models.validation import cross_validate

    spec = ModelSpec(name="porosity", target="porosity", params={"n_estimators": 30},
                     features=["logs"], baselines=[], pca_components=0, linear_base=False,
                     tuning={"trials": 4, "inner_folds": 3,
                             "space": {"num_leaves": [3, 7, 15], "min_child_samples": [5, 40],
                                       "learning_rate": [0.02, 0.2]}})
    table = _field_table()
    cv = cross_validate(table, ["GR", "RHOB"], spec, nested=True)
    assert list(cv.tuning["fold"]) == ["A", "B", "C", "D"]
    assert (cv.tuning["trials_run"] == 4).all() and (cv.tuning["trials_planned"] == 4).all()
    # scramble the blind well A's targets: fold A's search (wells B, C, D only) is unchanged,
    # while the folds that train on A see other data
    other = table.copy()
    a = other["WELL"] == "A"
    other.loc[a, "PHIE"] = np.random.default_rng(5).uniform(0.05, 0.35, int(a.sum()))
    cv2 = cross_validate(other, ["GR", "RHOB"], spec, nested=True)
    pd.testing.assert_series_equal(cv.tuning.iloc[0], cv2.tuning.iloc[0], check_names=False)
    assert not np.allclose(cv.tuning["inner_rmse"].iloc[1:], cv2.tuning["inner_rmse"].iloc[1:])
    # the blind predictions of well A come from a model that never saw A's targets
    pa, pa2 = (c.oof.loc[c.oof.WELL == "A", "p50"].to_numpy() for c in (cv, cv2))
    np.testing.assert_array_equal(pa, pa2)


def test_nested_cv_with_two_wells_uses_the_spec_parameters_and_says_so():
    from petro.models.validation import cross_validate

    spec = ModelSpec(name="porosity", target="porosity", params={"n_estimators": 20},
                     features=["logs"], baselines=[], pca_components=0,
                     tuning={"trials": 2, "inner_folds": 2})
    table = _field_table()
    cv = cross_validate(table[table.WELL.isin(["A", "B"])], ["GR", "RHOB"], spec, nested=True)
    assert list(cv.tuning["trials_run"]) == [0, 0]
    assert cv.tuning["stopped"].str.contains("one training well").all()
    assert np.isfinite(cv.oof["p50"]).all()


def test_a_search_stopped_by_its_budget_comes_back_as_a_warning_per_search():
    """Every search the pipeline ran (one per blind fold, then the final one) that its time
    budget stopped is a Problem (warning, code tuning_budget) in what training returns."""
    from petro.models.pipeline import train_model
    from petro.models.rows import InMemory
    from petro.problems import Severity

    spec = ModelSpec(name="porosity", target="porosity", params={"n_estimators": 20},
                     features=["logs"], baselines=[], pca_components=0,
                     tuning={"trials": 3, "inner_folds": 2, "budget_s": 0.0,
                             "space": {"num_leaves": [3, 7]}})
    table = _field_table()
    tm = train_model(spec, InMemory(table), ["GR", "RHOB"], ["GR", "RHOB"])
    assert [(p.severity, p.code) for p in tm.problems] == [(Severity.WARNING, "tuning_budget")] * 5
    assert all(p.message.startswith("porosity: tuning: time budget 0 s reached after 1 of 3")
               for p in tm.problems)
    assert tm.tuning.attrs["run"] == 1 and (tm.cv.tuning["trials_run"] == 1).all()
    # two wells: each fold has one training well to tune on, and says so
    two = train_model(replace(spec, tuning={"trials": 2, "inner_folds": 2}),
                      InMemory(table[table.WELL.isin(["A", "B"])]), ["GR", "RHOB"],
                      ["GR", "RHOB"])
    assert [p.code for p in two.problems] == ["tuning_skipped"] * 2
