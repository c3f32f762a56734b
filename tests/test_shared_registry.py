"""The team set-up: a real `mlflow server` (SQL backend + proxied artifact store), petro pointed
at it with MLFLOW_TRACKING_URI only, run from a folder outside the repository."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import free_port, mlflow_at, mlflow_server, petro_cli, team_pipeline


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`mlflow server` on SQLite with --artifacts-destination; terminated at the end."""
    root = tmp_path_factory.mktemp("mlflow-server")
    with mlflow_server(f"sqlite:///{root / 'mlflow.db'}", root) as url:
        yield {"url": url, "root": root, "artifacts": root / "artifacts"}


def test_team_registry_on_a_real_server(server, small_field, tmp_path, team_env):
    import mlflow
    from mlflow import MlflowClient

    pipeline = team_pipeline(tmp_path, small_field)
    work = tmp_path / "user"          # the user's working folder: outside the repository
    work.mkdir()
    env = dict(team_env, MLFLOW_TRACKING_URI=server["url"])

    # two runs of the same pipeline: v1 becomes champion, v2 (same metric) challenger
    for _ in range(2):
        r = petro_cli("run", pipeline, cwd=work, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
    assert "does not beat champion v1" in r.stdout + r.stderr

    r = petro_cli("models", "list", cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    rows = [ln for ln in r.stdout.splitlines() if "petro-porosity" in ln]
    assert len(rows) == 2, r.stdout
    assert any("champion" in ln and " 1 " in f" {ln} " for ln in rows), r.stdout
    assert any("challenger" in ln for ln in rows), r.stdout

    # batch predict with the champion (v1), then again after v2 is promoted by hand: the moved
    # alias changes the model identity, so the well is predicted again (not skipped)
    pred = tmp_path / "pred"
    well = small_field / "SYN-04"
    r = petro_cli("predict", well, "--model", "models:/petro-porosity@champion", "-o", pred,
               "--jobs", "1", cwd=work, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    manifest = json.loads((pred / "_petro_manifest.json").read_text())

    r = petro_cli("models", "promote", "petro-porosity", "2", cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    r = petro_cli("predict", well, "--model", "models:/petro-porosity@champion", "-o", pred,
               "--jobs", "1", cwd=work, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skipped" not in r.stdout + r.stderr
    assert "predicted wells" in r.stdout
    manifest2 = json.loads((pred / "_petro_manifest.json").read_text())
    # a third run with nothing changed: the well is skipped, and no empty table is printed
    r = petro_cli("predict", well, "--model", "models:/petro-porosity@champion", "-o", pred,
               "--jobs", "1", cwd=work, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 wells skipped" in r.stdout + r.stderr and "predicted wells" not in r.stdout
    assert manifest2["SYN-04"]["inputs"] == manifest["SYN-04"]["inputs"]
    assert manifest2["SYN-04"]["models"] != manifest["SYN-04"]["models"]
    predicted = pd.read_parquet(pred / "predictions" / "well=SYN-04" / "part-0.parquet")
    r = petro_cli("models", "promote", "petro-porosity", "99", cwd=work, env=env)
    assert r.returncode != 0 and "version 99 not found" in r.stdout + r.stderr

    # the rows the champion needs, built by its recipe, through the server (CLI)
    rows_file = tmp_path / "rows.parquet"
    r = petro_cli("features", well, "--model",
               "models:/petro-porosity@champion", "-o", rows_file, cwd=work, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    table = pd.read_parquet(rows_file)
    rows = table.drop(columns=["WELL", "DEPT"])
    assert len(rows) > 50

    # nothing local on the client: no mlruns/, mlartifacts/ or artifacts/ in its folder
    assert sorted(p.name for p in work.iterdir()) == []

    with mlflow_at(server["url"]):
        client = MlflowClient()
        champ = client.get_model_version_by_alias("petro-porosity", "champion")
        assert str(champ.version) == "2"
        assert champ.tags["petro.decision"] == "champion"
        assert champ.tags["petro.reason"] == "promoted by hand"
        v1 = client.get_model_version("petro-porosity", "1")
        assert v1.aliases == [] and v1.tags["petro.decision"] == "champion"  # decided at its run

        # runs, metrics and artifacts: in the server's store, under --artifacts-destination
        run = client.get_run(champ.run_id)
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
        assert run.data.tags["petro.decision"] == "challenger"
        assert np.isfinite(run.data.metrics["blind_rmse_pu"])
        exp = client.get_experiment_by_name("petro-team")
        assert len(client.search_runs([exp.experiment_id])) == 4      # 2 parents, 2 children
        names = {p.path for p in client.list_artifacts(champ.run_id, "validation")}
        assert "per_well_metrics.csv" in {Path(n).name for n in names}
        stored = {p.relative_to(server["artifacts"]).as_posix()
                  for p in server["artifacts"].rglob("*") if p.is_file()}
        assert any(s.endswith(f"{champ.run_id}/artifacts/validation/per_well_metrics.csv")
                   for s in stored), sorted(stored)[:20]
        assert sum(s.endswith("/MLmodel") for s in stored) == 2       # one model per run
        assert not (server["root"] / "mlartifacts").exists()

        # the champion, loaded through the server, predicts as the same model by its runs:/ URI
        by_alias = mlflow.pyfunc.load_model("models:/petro-porosity@champion")
        by_run = mlflow.pyfunc.load_model(f"runs:/{champ.run_id}/model")
        a, b = by_alias.predict(rows), by_run.predict(rows)
        assert {"PHIE_ML", "PHIE_P10", "PHIE_P90"} <= set(a.columns)
        pd.testing.assert_frame_equal(a, b)
        # and as `petro predict` wrote it, depth by depth
        got = predicted.set_index("DEPT")["PHIE_ML"]
        want = pd.Series(a["PHIE_ML"].to_numpy(), index=table["DEPT"].to_numpy())
        common = got.index.intersection(want.index)
        assert len(common) > 50
        np.testing.assert_allclose(got.loc[common], want.loc[common], rtol=1e-9)
        ml = a["PHIE_ML"].to_numpy()
        assert np.isfinite(ml).all() and (ml > 0).all() and (ml < 0.5).all()      # v/v
        assert (a["PHIE_P10"] <= a["PHIE_ML"]).all() and (a["PHIE_ML"] <= a["PHIE_P90"]).all()


def test_artifact_root_refuses_a_team_database_used_directly(tmp_path):
    from petro.errors import ConfigError
    from petro.tracking import artifact_root

    assert artifact_root(f"sqlite:///{tmp_path}/m/mlflow.db") == (tmp_path / "m" / "artifacts").as_uri()
    assert artifact_root("http://mlflow.example:5000") is None        # the server's store
    for uri in ("postgresql://petro:secret@db:5432/mlflow", "postgresql+psycopg2://db/mlflow",
                "mysql+pymysql://db/mlflow"):
        with pytest.raises(ConfigError, match="MLFLOW_TRACKING_URI at the team's tracking server") \
                as err:
            artifact_root(uri, "petro-team")
        assert "secret" not in str(err.value) and "petro-team" in str(err.value)


def test_a_server_that_does_not_answer_is_a_clear_error_before_any_work(small_field, tmp_path,
                                                                        team_env):
    pipeline = team_pipeline(tmp_path, small_field)
    env = dict(team_env)
    env["MLFLOW_TRACKING_URI"] = url = f"http://127.0.0.1:{free_port()}"   # nobody listens
    for args in (("run", pipeline), ("models", "list")):
        r = petro_cli(*args, cwd=tmp_path, env=env)
        assert r.returncode == 2, r.stdout + r.stderr
        assert f"MLflow tracking server {url} does not answer" in r.stderr
        assert "blind RMSE" not in r.stdout          # refused before reading and training
