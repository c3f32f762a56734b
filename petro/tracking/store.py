"""Where runs and models go: the tracking URI, a team server's reachability, the experiment."""

from __future__ import annotations

import os
from pathlib import Path

from petro.errors import ConfigError

DEFAULT_URI = "sqlite:///mlruns/mlflow.db"
SERVER_DATABASES = ("postgresql", "mysql", "mssql")


def _mlflow():
    import logging

    import mlflow

    # MLflow sets its logger to INFO on import; its INFO lines repeat what petro reports
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    return mlflow


def resolve_uri(uri: str | None = None) -> str:
    """The tracking URI: the argument, else ``MLFLOW_TRACKING_URI``, else the local SQLite store."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    elif "://" not in uri:
        raise ConfigError(f"tracking URI {uri!r}: MLflow 3 refuses a plain folder store; use "
                          f"{DEFAULT_URI} or a server URL")
    return uri


def artifact_root(uri: str, experiment: str = "petro") -> str | None:
    """Where a new experiment's artifacts go: beside a local SQLite file; the server's artifact
    store for a tracking server (None). A team database used directly is refused: MLflow would
    put the experiment's artifacts in this machine's ``./mlruns``, where nobody else can load the
    models registered in the shared database."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///"):]).resolve().parent / "artifacts").as_uri()
    if uri.split(":", 1)[0].split("+", 1)[0] in SERVER_DATABASES:
        raise ConfigError(
            f"tracking URI {uri.split('://', 1)[0]}://...: experiment {experiment!r} does not exist "
            f"and petro will not create it with its artifacts in this machine's ./mlruns. Point "
            f"MLFLOW_TRACKING_URI at the team's tracking server (`mlflow server --backend-store-uri "
            f"<this database> --artifacts-destination s3://...|/shared/folder`, then "
            f"http://host:5000), or create the experiment with a shared artifact location: "
            f"`mlflow experiments create -n {experiment} -l s3://...`")
    return None


_REACHED: set[str] = set()


def check_server(uri: str, timeout: float = 10.0) -> None:
    """A tracking server that does not answer at all is a ConfigError now, naming the URL (MLflow
    itself would retry for minutes, then fail with a traceback). Any HTTP answer counts as
    reachable (a proxy or an auth layer may answer ``/health`` with an error status)."""
    import urllib.error
    import urllib.request

    if not uri.startswith(("http://", "https://")) or uri in _REACHED:
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            pass
    except urllib.error.HTTPError:
        pass
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ConfigError(f"MLflow tracking server {uri} does not answer ({reason}): is `mlflow "
                          f"server` running there? Check MLFLOW_TRACKING_URI / --tracking-uri") \
            from err
    _REACHED.add(uri)


def setup(uri: str | None = None, experiment: str | None = None) -> str:
    mlflow = _mlflow()
    uri = resolve_uri(uri)
    check_server(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if experiment:
        exp = mlflow.get_experiment_by_name(experiment)
        if exp is None:
            mlflow.create_experiment(experiment, artifact_location=artifact_root(uri, experiment))
        mlflow.set_experiment(experiment)
    return uri
