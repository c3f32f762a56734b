"""End to end on a small synthetic field: pipeline -> MLflow (SQLite) -> registry -> load, serve,
predict LAS. Real components: a real MLflow store, a real `mlflow models serve` process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lasio
import numpy as np
import pandas as pd
import pytest
import requests

from petro.features.table import well_features
from petro.io.discovery import discover
from petro.io.tables import dataframe_split
from petro.io.wells import load_well
from petro.serving import model_info
from tests.conftest import served_model


def _client(uri):
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient()


def test_pipeline_registers_both_models_as_champion(trained):
    assert trained["status"] == 0
    client = _client(trained["uri"])
    for name in ("petro-porosity", "petro-permeability"):
        mv = client.get_model_version_by_alias(name, "champion")
        assert str(mv.version) == "1"
        assert mv.tags["petro.decision"] == "champion"
        run = client.get_run(mv.run_id)
        # target parameters are logged with the model
        assert run.data.params["targets.t2_cutoff_ms"] == "92.0"
        assert run.data.params["targets.permeability"] == "timur_coates"
        arts = {a.path for a in client.list_artifacts(mv.run_id, "plots")}
        assert any(p.endswith("_depth_tracks.png") for p in arts)
        assert any(p.endswith("_crossplot.png") for p in arts)


def test_blind_well_metrics_beat_baselines(trained):
    perm = trained["entries"]["permeability"].metrics
    por = trained["entries"]["porosity"].metrics
    # three blind wells only: still far better than predicting the training mean
    assert perm["model"]["rmse_dec"] < 0.8 * perm["train_mean"]["rmse_dec"]
    assert por["model"]["rmse_pu"] < 0.6 * por["train_mean"]["rmse_pu"]
    assert por["model"]["rmse_pu"] < 3.0
    assert 0.5 < perm["model"]["coverage_p10_p90"] <= 1.0


def _rows(field: Path, well: str, features: list[str]) -> pd.DataFrame:
    w = load_well(well, discover(field)[well])
    t = well_features(w)
    return t[[c for c in features if c in t.columns]]


def test_load_in_fresh_process_gives_same_numbers(trained, tmp_path, env_with_venv):
    import mlflow

    _client(trained["uri"])
    uri = "models:/petro-permeability@champion"
    model = mlflow.pyfunc.load_model(uri)
    feats = model_info(model)["inputs"]
    rows = _rows(trained["field"], "SYN-04", feats).iloc[::7]
    local = model.predict(rows)
    assert list(local.columns)[:8] == ["PERM_ML", "PERM_P10", "PERM_P90", "NOVELTY", "OOD_FLAG",
                                     "INPUT_COVERAGE", "KEY_INPUT_COVERAGE", "WELL_NOVELTY"]
    # then the cross-log residuals NOV_<curve>, density among them
    assert "NOV_RHOB" in local.columns and all(c.startswith("NOV_") for c in local.columns[8:])
    assert (local["PERM_P10"] <= local["PERM_ML"]).all() and (local["PERM_ML"] <= local["PERM_P90"]).all()
    rows.to_parquet(tmp_path / "rows.parquet")
    script = (
        "import sys, mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri({trained['uri']!r})\n"
        f"m = mlflow.pyfunc.load_model({uri!r})\n"
        "m.predict(pd.read_parquet('rows.parquet')).to_parquet('out.parquet')\n")
    # a clean working directory, away from the checkout: nothing imported from the source tree
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env_with_venv, check=True,
                   timeout=300)
    other = pd.read_parquet(tmp_path / "out.parquet")
    np.testing.assert_allclose(other.to_numpy(float), local.to_numpy(float), rtol=1e-12)


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    """`mlflow models serve` of the permeability champion, started as a real process."""
    with served_model("models:/petro-permeability@champion", trained["uri"],
                      tmp_path_factory.mktemp("serve")) as base:
        yield base


@pytest.fixture(scope="module")
def perm_model(trained):
    import mlflow

    _client(trained["uri"])
    model = mlflow.pyfunc.load_model("models:/petro-permeability@champion")
    feats = model_info(model)["inputs"]
    rows = _rows(trained["field"], "SYN-01", feats)
    return model, rows


def test_mlflow_models_serve_answers_like_in_process(server, perm_model):
    model, rows = perm_model
    rows = rows.iloc[:40]
    local = model.predict(rows)
    r = requests.post(f"{server}/invocations", json=dataframe_split(rows), timeout=60)
    assert r.status_code == 200, r.text
    served = pd.DataFrame(r.json()["predictions"])[list(local.columns)]
    np.testing.assert_allclose(served.to_numpy(float), local.to_numpy(float), rtol=1e-12)
    # columns the well lacks may be absent: same answer as sending them as null
    some = rows[rows.columns[:20]]
    r1 = requests.post(f"{server}/invocations", json=dataframe_split(some), timeout=60)
    r2 = requests.post(f"{server}/invocations", timeout=60, json=dataframe_split(
        rows.assign(**{c: np.nan for c in rows.columns[20:]})))
    assert r1.status_code == r2.status_code == 200
    assert r1.json() == r2.json()


def _variants(rows):
    return {"full": rows, "no_RHOB": rows.drop(columns=["RHOB"]), "GR_only": rows[["GR"]],
            "RHOZ": rows.rename(columns={"RHOB": "RHOZ"}),
            "rhob": rows.rename(columns={"RHOB": "rhob"})}


def test_missing_and_misnamed_inputs_served_and_in_process(server, perm_model):
    """Issue 16: RHOB removed / only GR are flagged (and GR-only withheld); RHOZ and rhob give the
    full-input answer, served and in process alike."""
    model, rows = perm_model
    rows = rows.iloc[:30]
    got = {}
    for name, frame in _variants(rows).items():
        local = model.predict(frame)
        r = requests.post(f"{server}/invocations", json=dataframe_split(frame), timeout=60)
        assert r.status_code == 200, (name, r.text)
        served = pd.DataFrame(r.json()["predictions"])[list(local.columns)]
        np.testing.assert_allclose(served.to_numpy(float), local.to_numpy(float), rtol=1e-12)
        got[name] = local
    full = got["full"]
    for name in ("RHOZ", "rhob"):
        pd.testing.assert_frame_equal(got[name], full)
    # every training row had density: a row without it is out of domain (NOVELTY >= 1.5)
    assert (got["no_RHOB"]["NOVELTY"] >= np.fmax(full["NOVELTY"], 1.5) - 1e-12).all()
    assert (got["no_RHOB"]["OOD_FLAG"] == 1).all() and got["no_RHOB"]["PERM_ML"].notna().all()
    assert (got["no_RHOB"]["KEY_INPUT_COVERAGE"] < full["KEY_INPUT_COVERAGE"]).all()
    assert got["GR_only"]["PERM_ML"].isna().all() and (got["GR_only"]["OOD_FLAG"] == 1).all()
    assert got["GR_only"]["INPUT_COVERAGE"].max() < 0.3
    # an alias whose values fit no unit: 400 naming the canonical column
    bad = rows.drop(columns=["RHOB"]).assign(RHOZ=55.0)
    r = requests.post(f"{server}/invocations", json=dataframe_split(bad), timeout=60)
    assert r.status_code == 400 and "RHOB" in r.json()["message"]


def test_signature_lists_outputs_and_the_runtime_checks_inputs(perm_model):
    """The signature holds the outputs only (MLflow's per-column input enforcement over ~220
    columns cost most of a one-row request); the input columns are in the model's metadata, and
    the runtime refuses what MLflow's schema used to: non-numbers (naming the column), no rows,
    no known column; numeric strings convert as they did."""
    from mlflow.exceptions import MlflowException

    model, rows = perm_model
    meta = model.metadata
    bundle = model.unwrap_python_model().bundle
    residuals = [m["target"] for m in bundle.meta["consistency"]["curves"]]
    assert "RHOB" in residuals
    assert meta.get_input_schema() is None
    assert meta.get_output_schema().input_names() == ["PERM_ML", "PERM_P10", "PERM_P90",
                                                       "NOVELTY", "OOD_FLAG", "INPUT_COVERAGE",
                                                       "KEY_INPUT_COVERAGE", "WELL_NOVELTY"] + [
        f"NOV_{c}" for c in residuals]
    assert model_info(model)["inputs"] == bundle.features == list(rows.columns)
    col = rows.columns[0]
    for bad, word in ((pd.DataFrame({col: ["abc"]}), col), (rows.iloc[:0], "no rows"),
                      (pd.DataFrame({"NOPE": [1.0]}), "input columns")):
        with pytest.raises(MlflowException, match=word) as err:
            model.predict(bad)
        assert err.value.get_http_status_code() == 400
    as_text = rows.iloc[:3].astype(object).where(rows.iloc[:3].isna(), rows.iloc[:3].astype(str))
    pd.testing.assert_frame_equal(model.predict(as_text), model.predict(rows.iloc[:3]))


@pytest.mark.parametrize("body,word", [
    ({"dataframe_split": {"columns": ["GR"], "data": [["abc"]]}}, "GR"),
    ({"dataframe_split": {"columns": ["NOT_A_COLUMN"], "data": [[1.0]]}}, "input columns"),
    ({"dataframe_split": {"columns": ["GR"], "data": []}}, "no"),
    ("{not json", "JSON"),
    ({"dataframe_split": {"columns": ["GR", "RHOB"], "data": [[1.0]]}}, ""),
])
def test_bad_requests_get_4xx_with_a_message(server, body, word):
    data = body if isinstance(body, str) else json.dumps(body)
    r = requests.post(f"{server}/invocations", data=data,
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
    msg = r.json()["message"]
    assert word in msg and "Traceback" not in msg


def test_concurrent_clients_all_answered_correctly(server, perm_model):
    """8 clients x 200 requests of 1-5 rows each on loopback: no failure, same numbers."""
    from concurrent.futures import ThreadPoolExecutor

    model, rows = perm_model
    rows = rows.reset_index(drop=True)
    local = model.predict(rows).to_numpy(float)
    n = len(rows)

    def client(seed):
        rng = np.random.default_rng(seed)
        bad = []
        with requests.Session() as sess:
            for _ in range(200):
                k = int(rng.integers(1, 6))
                i = int(rng.integers(0, n - k + 1))
                r = sess.post(f"{server}/invocations", json=dataframe_split(rows.iloc[i:i + k]),
                              timeout=60)
                if r.status_code != 200:
                    bad.append((i, k, r.status_code, r.text[:300]))
                    continue
                got = pd.DataFrame(r.json()["predictions"]).to_numpy(float)
                if not np.allclose(got, local[i:i + k], rtol=1e-12, equal_nan=True):
                    bad.append((i, k, "mismatch", got.tolist(), local[i:i + k].tolist()))
        return bad

    with ThreadPoolExecutor(8) as ex:
        failures = [f for fs in ex.map(client, range(8)) for f in fs]
    assert failures == [], failures[:3]


def test_petro_predict_writes_las_that_lasio_reads(trained, tmp_path, env_with_venv):
    out = tmp_path / "pred"
    env = dict(env_with_venv, MLFLOW_TRACKING_URI=trained["uri"])
    r = subprocess.run([sys.executable, "-m", "petro.cli", "predict", str(trained["field"]), "-o",
                        str(out)], env=env, capture_output=True, text=True, timeout=600,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr + r.stdout
    files = sorted(out.glob("*.las"))
    assert [f.name for f in files] == [f"SYN-0{i}_petro.las" for i in range(1, 5)]
    las = lasio.read(out / "SYN-04_petro.las")
    src = load_well("SYN-04", discover(trained["field"])["SYN-04"])
    np.testing.assert_allclose(las.index, src.depth, atol=1e-4)
    for c in ("PHIE_ML", "PHIE_P10", "PHIE_P90", "PERM_ML", "PERM_P10", "PERM_P90", "NOVELTY",
              "OOD_FLAG"):
        assert c in las.keys()
    assert las.curves["PERM_ML"].unit == "MD"
    assert las.well["WELL"].value == "SYN-04"
    phie = las["PHIE_ML"]
    assert np.nanmin(phie) > 0.0 and np.nanmax(phie) < 0.4
    assert np.all((las["PERM_P10"] <= las["PERM_ML"] + 1e-9)[np.isfinite(las["PERM_ML"])])


def test_readme_python_example_runs(trained, tmp_path, env_with_venv):
    """The README's Python block, run as written in a fresh folder holding the store."""
    import re
    import shutil

    from tests.conftest import REPO

    section = (REPO / "README.md").read_text().split("## In Python", 1)[1]
    block = re.search(r"```python\n(import mlflow\n.*?)```", section, re.S).group(1)
    (tmp_path / "mlruns").mkdir()
    shutil.copy(trained["store"] / "mlflow.db", tmp_path / "mlruns" / "mlflow.db")
    r = subprocess.run([sys.executable, "-m", "petro.cli", "features", str(trained["field"]),
                        "-o", "rows.parquet", "--no-targets"], cwd=tmp_path, env=env_with_venv,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    script = block + "\npred.to_parquet('pred.parquet')\n"
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env_with_venv,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    pred = pd.read_parquet(tmp_path / "pred.parquet")
    assert list(pred.columns)[:8] == ["PERM_ML", "PERM_P10", "PERM_P90", "NOVELTY", "OOD_FLAG",
                                     "INPUT_COVERAGE", "KEY_INPUT_COVERAGE", "WELL_NOVELTY"]
    # then the cross-log residuals NOV_<curve>, density among them
    assert "NOV_RHOB" in pred.columns and all(c.startswith("NOV_") for c in pred.columns[8:])
    assert len(pred) > 100 and pred["PERM_ML"].notna().all()
