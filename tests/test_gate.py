"""The promotion gate's decisions against a real registry (MLflow on SQLite) and a registry that
does not answer."""

from __future__ import annotations

import pytest

from tests.conftest import free_port
from tests.mlflow_state import restore_mlflow_state  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("restore_mlflow_state")


def _store(tmp_path):
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("gate")      # not the experiment an earlier test set in this process
    return MlflowClient(uri, uri), uri


def _version(client, name: str, rmse: float) -> str:
    """A registered version whose run holds a pooled blind porosity RMSE."""
    import mlflow

    with mlflow.start_run() as run:
        mlflow.log_metric("blind_rmse_pu", rmse)
    if not client.search_registered_models(f"name='{name}'"):
        client.create_registered_model(name)
    return str(client.create_model_version(name, f"runs:/{run.info.run_id}/model",
                                           run.info.run_id).version)


def test_champion_is_none_only_when_the_registry_says_so(tmp_path):
    from petro.tracking.gate import champion, decide_alias

    client, _ = _store(tmp_path)
    assert champion(client, "petro-porosity") is None          # no such registered model
    v1 = _version(client, "petro-porosity", 2.0)
    assert champion(client, "petro-porosity") is None          # registered, no champion alias
    assert decide_alias(client, "petro-porosity", v1, "rmse_pu", 2.0, []) == \
        ("champion", "first version passing criteria (rmse_pu 2.0000)")
    assert champion(client, "petro-porosity").version in (1, "1")
    v2 = _version(client, "petro-porosity", 2.0)
    alias, reason = decide_alias(client, "petro-porosity", v2, "rmse_pu", 2.0, [])
    assert (alias, reason) == ("challenger", "blind rmse_pu 2.0000 does not beat champion v1 "
                                             "(2.0000)")


def test_a_registry_that_does_not_answer_never_promotes(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from petro.errors import ModelError
    from petro.tracking.gate import decide_alias

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    url = f"http://127.0.0.1:{free_port()}"                     # nobody listens
    with pytest.raises(ModelError) as err:
        decide_alias(MlflowClient(url, url), "petro-porosity", "2", "rmse_pu", 1.0, [])
    msg = str(err.value)
    assert "could not be read from the registry" in msg
    assert "v2 is registered without an alias" in msg
    assert "`petro models promote petro-porosity 2`" in msg


def test_a_model_that_loses_to_its_own_comparator_is_not_champion(small_field, tmp_path,
                                                                   env_with_venv):
    """By default a version must beat every comparator its run reports: a first version (no
    champion to beat) that loses to a baseline of its own run becomes challenger, the reason
    names each comparator that won, and `petro models list` shows it."""
    import subprocess
    import sys

    import yaml

    from petro.api import train
    from petro.vocab import BASELINE_LABELS
    from tests.conftest import REPO

    spec = yaml.safe_load((REPO / "models" / "porosity.yaml").read_text())
    spec.update(features=["logs"], tuning={}, baselines=["ridge", "hist_gbm"])
    spec["params"].update(n_estimators=60)
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "porosity.yaml").write_text(yaml.safe_dump(spec))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = train(REPO / "pipelines" / "demo.yaml", data=small_field, tracking_uri=uri,
                cache_dir=str(tmp_path / "cache"),
                overrides={"synthetic": None, "models": ["porosity"], "tracking.experiment": "weak",
                           "models_dir": str(tmp_path / "specs")})
    e = run.models[0]
    pooled, mine = e.metrics, e.metrics["model"]["rmse_pu"]
    winners = {k: v["rmse_pu"] for k, v in pooled.items() if k != "model" and v["rmse_pu"] < mine}
    assert list(winners) == ["ridge"], pooled       # on this field ridge alone beats the model
    assert e.alias == "challenger" and e.version == "1"
    assert e.reason == (f"fails criteria: ridge (logs) {winners['ridge']:.3f} p.u. beats the "
                        f"model's {mine:.3f}")
    for label, vals in pooled.items():                  # no comparator the model beat is named
        if label not in ("model", "ridge"):
            assert BASELINE_LABELS[label] not in e.reason

    env = {k: v for k, v in env_with_venv.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = uri
    r = subprocess.run([sys.executable, "-m", "petro.cli", "models", "list"], env=env,
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if "petro-porosity" in line)
    cells = [line.split("│") for line in lines[first:] if line.startswith("│")]
    reason = "".join(c[-2] for c in cells[:next((i for i, c in enumerate(cells[1:], 1)
                                                   if c[1].strip()), len(cells))])
    assert "challenger" in lines[first]
    assert "".join(reason.split()) == "".join(e.reason.split())      # the cell folds long text
