"""Input selection (spec ``max_inputs``): nested inside the blind-well folds, the final model's
inputs are the selected ones, and the model predicts from those columns only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from petro.errors import ConfigError
from petro.models.groups import decide_groups
from petro.models.selection import always_kept, rank_inputs, select_inputs
from petro.models.spec import ModelSpec
from petro.models.validation import cross_validate, fit_final
from tests.conftest import served_model

# image-feature columns (conventional curves are always kept, so they cannot show a selection)
SIGNAL = ["amp_mean_w015", "amp_std_w015", "amp_p10_w015"]
NOISE = [f"tt_{s}_w050" for s in ("mean", "std", "p10", "p50", "p90", "vug", "azc", "ent")]
LEAK = "res_vug_w150"


def _spec(n: int, **kw) -> ModelSpec:
    return ModelSpec(name="t", target="porosity", params={"n_estimators": 60}, max_inputs=n,
                     baselines=[], pca_components=0, conformal=True, **kw)


def _leaky_field(seed: int = 0, rows: int = 300) -> pd.DataFrame:
    """Three wells; the target is a weak function of SIGNAL plus a large residual e. LEAK equals
    e in well C and is noise in wells A and B: informative only where C is among the rows."""
    rng = np.random.default_rng(seed)
    parts = []
    for w in ("A", "B", "C"):
        F = rng.normal(size=(rows, len(SIGNAL) + len(NOISE)))
        e = rng.normal(size=rows)
        y = 0.15 + 0.02 * F[:, :3].sum(axis=1) + 0.04 * e
        leak = e if w == "C" else rng.normal(size=rows)
        df = pd.DataFrame(F, columns=SIGNAL + NOISE)
        df[LEAK] = leak
        df["WELL"], df["DEPT"], df["PHIE"] = w, np.arange(rows, dtype=float), y
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


FEATS = SIGNAL + NOISE + [LEAK]


def test_selection_in_a_fold_uses_only_that_folds_training_wells():
    table = _leaky_field()
    spec = _spec(4)
    # on every well (C included) LEAK is the strongest input: a selection that saw the blind
    # well would keep it
    everywhere = select_inputs(table[FEATS].to_numpy(float), table["PHIE"].to_numpy(float),
                               FEATS, spec)
    assert LEAK in everywhere and len(everywhere) == 4
    cv = cross_validate(table, FEATS, spec)
    assert set(cv.inputs) == {"A", "B", "C"}
    assert all(len(v) == 4 for v in cv.inputs.values())
    assert LEAK not in cv.inputs["C"]          # C blind: its fold never saw LEAK inform
    assert LEAK in cv.inputs["A"] and LEAK in cv.inputs["B"]   # C among the training wells
    assert set(SIGNAL) <= set(cv.inputs["C"])


def test_final_model_inputs_are_the_selected_ones_and_predict_from_them_only():
    table = _leaky_field(seed=1)
    spec = _spec(5)
    inputs = select_inputs(table[FEATS].to_numpy(float), table["PHIE"].to_numpy(float), FEATS,
                           spec)
    assert len(inputs) == 5 and inputs == [f for f in FEATS if f in inputs]
    cv = cross_validate(table, FEATS, spec)
    bundle = fit_final(table, inputs, spec, cv)
    assert bundle.features == inputs
    rows = table[table.WELL == "C"]
    only = bundle.predict(rows[inputs])
    full = bundle.predict(rows[FEATS + ["WELL", "DEPT"]])   # other columns: ignored
    pd.testing.assert_frame_equal(only, full)
    assert np.isfinite(only["PHIE_ML"]).all()
    assert (only["INPUT_COVERAGE"] == 1.0).all()
    assert sorted(bundle.ignored_columns) == sorted(set(FEATS) - set(inputs) | {"WELL", "DEPT"})
    # a selected input absent: coverage counts the selected inputs only (4 of 5)
    cut = bundle.predict(rows[inputs[1:]])
    assert np.allclose(cut["INPUT_COVERAGE"], 4 / 5)


def test_measured_conventional_curves_are_kept_whatever_their_gain():
    rng = np.random.default_rng(3)
    n = 600
    X = rng.normal(size=(n, 7))
    y = 0.1 + 0.05 * X[:, 0] + 0.005 * rng.normal(size=n)
    # one informative image column; the logs (derived PHID too) are pure noise
    feats = ["amp_mean_w015", "amp_std_w015", "tt_p50_w050", "RHOB", "CALI", "GR", "PHID"]
    assert always_kept(feats) == ["RHOB", "CALI", "GR"]
    spec = _spec(1)
    rank = rank_inputs(X, y, feats, spec)
    assert rank.index[0] == "amp_mean_w015"
    assert select_inputs(X, y, feats, spec) == ["amp_mean_w015", "RHOB", "CALI", "GR"]
    assert select_inputs(X, y, feats, _spec(0)) == feats      # 0: all inputs
    assert select_inputs(X, y, feats, _spec(7)) == feats


def test_patch_components_pass_their_gain_to_the_patch_columns():
    rng = np.random.default_rng(5)
    n = 800
    P = rng.normal(size=(n, 6)) * [1.0, 1.0, 1.0, 4.0, 1.0, 1.0]   # patch 03 spans the PC1
    cols = [f"amp_patch_{j:02d}" for j in range(6)]
    y = 0.2 + 0.05 * P[:, 3] + 0.01 * rng.normal(size=n)   # only patch 03 carries the target
    X = np.column_stack([P, rng.normal(size=n)])
    feats = cols + ["tt_mean_w050"]
    spec = ModelSpec(name="t", target="porosity", params={"n_estimators": 60}, max_inputs=2,
                     pca_components=3, baselines=[])
    rank = rank_inputs(X, y, feats, spec)
    assert set(rank.index) == set(feats) and rank.iloc[0] > 0
    # by squared loadings (an even split over a component's columns would tie them, and the
    # first listed, patch 00, would win)
    assert rank.index[0] == "amp_patch_03"
    assert select_inputs(X, y, feats, spec)[0] == "amp_patch_03"


def test_max_inputs_must_be_a_whole_number():
    with pytest.raises(ConfigError, match="max_inputs"):
        _spec(-1)
    with pytest.raises(ConfigError, match="max_inputs"):
        ModelSpec(name="t", target="porosity", max_inputs=2.5)


# ------------------------------------------------------------------ pipeline, MLflow, served model
@pytest.fixture(scope="module")
def selected_run(small_field, tmp_path_factory):
    """The demo pipeline's permeability model with max_inputs 12 (no tuning, to keep it short),
    trained on the small field into a temporary MLflow store."""
    import yaml

    from petro.api import train
    from petro.config import packaged

    store = tmp_path_factory.mktemp("sel")
    spec = yaml.safe_load(packaged("models", "permeability.yaml").read_text())
    spec.update(max_inputs=12, baselines=[], tuning={})
    (store / "perm12.yaml").write_text(yaml.safe_dump(spec))
    uri = f"sqlite:///{store / 'mlflow.db'}"
    run = train(packaged("pipelines", "demo.yaml"), data=small_field, tracking_uri=uri,
                cache_dir=str(store / "cache"),
                overrides={"synthetic": None, "tracking.experiment": "petro-sel",
                           "models": [str(store / "perm12.yaml")]})
    return {"uri": uri, "run": run, "store": store}


def test_logged_model_takes_the_selected_inputs_in_process_and_served(selected_run, tmp_path):
    import mlflow

    from petro.app.training import training_table
    from petro.config import load_config
    from petro.features.table import model_features, usable_features
    from petro.serving import load_model, model_info

    run = selected_run["run"]
    entry = run.models[0]
    mlflow.set_tracking_uri(selected_run["uri"])
    model = load_model(entry.model_uri)
    every = model_info(model)["inputs"]   # the model's inputs, then its logs-only sibling's
    bundle = model.unwrap_python_model().bundle
    assert every == bundle.inputs and every[:len(bundle.features)] == bundle.features
    inputs = bundle.features
    # the same selection, recomputed on the training table, gives the logged inputs
    table = training_table(run.wells)
    cfg = load_config(packaged_demo(), overrides={"data": str(run.cfg.data)})
    feats = usable_features(table, model_features(table.columns, ["logs", "image"], cfg.logs))
    spec = run.cfg.specs[0]
    assert spec.max_inputs == 12 and len(feats) > 40
    # the input groups first (petro.models.groups), decided on the same rows, then selection
    y = table[spec.column].to_numpy(float)
    decision = decide_groups(table[feats].to_numpy(float), y, table.WELL.astype(str).to_numpy(),
                             feats, spec)
    assert bundle.meta["input_groups"]["kept"] == decision.kept
    kept = decision.features(feats)
    assert inputs == select_inputs(table[kept].to_numpy(float), y, kept, spec)
    forced = always_kept(kept)
    assert forced and set(forced) <= set(inputs)
    assert 12 <= len(inputs) <= 12 + len(forced)
    assert len(inputs) < len(feats)
    # the logged input example and the trust metadata name the selected inputs only
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{entry.registered}/{entry.version}", dst_path=str(tmp_path))
    example = mlflow.models.Model.load(local).load_input_example(local)
    assert list(example.columns) == every
    assert set(bundle.meta["missing"]["weights"]) == set(inputs)
    assert {m["target"] for m in bundle.meta.get("consistency", {}).get("curves", [])} \
        <= set(inputs)
    # predict from those columns only, and from every column (the others ignored): same answer
    rows = table[table.WELL == table.WELL.iloc[0]]
    only = model.predict(rows[every])
    full = model.predict(rows[feats])
    pd.testing.assert_frame_equal(only, full)
    assert np.isfinite(only["PERM_ML"]).all() and (only["INPUT_COVERAGE"] == 1.0).all()
    served = _serve_and_predict(selected_run, entry.model_uri, rows[every].iloc[:50])
    np.testing.assert_allclose(served[list(only.columns)].to_numpy(float),
                               only.iloc[:50].to_numpy(float), rtol=1e-12)


def packaged_demo():
    from petro.config import packaged

    return packaged("pipelines", "demo.yaml")


def _serve_and_predict(selected_run, model_uri: str, rows: pd.DataFrame) -> pd.DataFrame:
    """`mlflow models serve` of the model as a real process; the answer to ``rows`` (JSON)."""
    import requests

    from petro.io.tables import dataframe_split

    with served_model(model_uri, selected_run["uri"], selected_run["store"], timeout=180) as base:
        r = requests.post(f"{base}/invocations", json=dataframe_split(rows), timeout=120)
        assert r.status_code == 200, r.text
        return pd.DataFrame(r.json()["predictions"])
