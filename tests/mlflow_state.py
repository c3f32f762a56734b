"""A fixture for tests that point MLflow at a store of their own in the test process
(``petro.tracking.setup`` sets MLflow's process-wide tracking and registry URIs, their
environment variables and the active experiment): everything as it was before, afterwards, so
a later test that sets the tracking URI alone still finds its registry."""

from __future__ import annotations

import os

import pytest


@pytest.fixture()
def restore_mlflow_state(monkeypatch):
    import mlflow.tracking._model_registry.utils as registry
    import mlflow.tracking._tracking_service.utils as tracking
    import mlflow.tracking.fluent as fluent

    monkeypatch.setattr(registry, "_registry_uri", registry._registry_uri)
    monkeypatch.setattr(tracking, "_tracking_uri", tracking._tracking_uri)
    monkeypatch.setattr(fluent, "_active_experiment_id", fluent._active_experiment_id)
    before = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    yield
    for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
        if key not in before:
            del os.environ[key]
    os.environ.update(before)
