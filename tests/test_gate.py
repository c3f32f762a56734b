"""The promotion gate's decisions against a real registry (MLflow on SQLite) and a registry that
does not answer."""

from __future__ import annotations

import pytest

from tests.conftest import free_port


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
