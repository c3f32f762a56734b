"""Where runs and models go: the tracking URI, a team server's reachability, the experiment."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from petro.errors import ConfigError

DEFAULT_URI = "sqlite:///mlruns/mlflow.db"
SERVER_DATABASES = ("postgresql", "mysql", "mssql")
MLFLOW_LEVEL = "MLFLOW_LOGGING_LEVEL"    # MLflow reads it when it is imported
NO_RUN_LINKS = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"
# petro's bounds on MLflow's HTTP retries to a tracking server, set where unset. MLflow's own
# defaults (7 retries, backoff factor 2 s, 120 s per attempt, a server's Retry-After obeyed)
# held a run more than 10 minutes on a server killed while it logged. With these a request that
# is refused, dropped or answered 5xx gives up after 4 attempts, 0 + 2 + 4 s apart (+ up to 1 s
# of jitter each): within 9 s; one that is never answered after 4 x 20 s + 9 s = 89 s.
HTTP_BOUNDS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
               "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
               "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER": "false"}


@contextmanager
def quiet_mlflow_logging() -> Iterator[None]:
    """For one command of the command line (its entry point is the one place that configures
    library logging; petro as a library leaves its host's alone): MLflow's informational
    warnings (type hints, dataset source guesses), its log lines below WARNING and the run links
    it writes to stdout between petro's tables on a server ("View run ... at: URL") are not the
    user's concern, petro reports what matters itself. MLflow's level is set through its own
    setting (``MLFLOW_LOGGING_LEVEL``, read when MLflow is imported, in this process or a
    worker), or on its logger when it is imported already; the links through
    ``MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT``; a value the user set stands. Everything is
    restored when the command ends (``main`` may run in a longer-lived process: a test, a
    notebook)."""
    import logging
    import warnings

    logger = logging.getLogger("mlflow")
    level = logger.level
    ours = {k: v for k, v in ((MLFLOW_LEVEL, "WARNING"), (NO_RUN_LINKS, "true"))
            if k not in os.environ}
    with warnings.catch_warnings():
        for category in (UserWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category, module=r"mlflow(\..*)?")
            warnings.filterwarnings("ignore", category=category,
                                    message=r".*(type hint|dataset source)")
        imported = MLFLOW_LEVEL in ours and "mlflow" in sys.modules
        os.environ.update(ours)
        if imported:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for key in ours:
                os.environ.pop(key, None)
            if imported:
                logger.setLevel(level)


def resolve_uri(uri: str | None = None) -> str:
    """The tracking URI: the argument, else ``MLFLOW_TRACKING_URI``, else the local SQLite store."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    elif "://" not in uri:
        raise ConfigError(f"tracking URI {uri!r}: MLflow 3 refuses a plain folder store; use "
                          f"{DEFAULT_URI} or a server URL")
    return uri


def existing_store(uri: str | None = None) -> None:
    """Refuse a local SQLite store that does not exist where a model is read from it (MLflow
    would create an empty one and then not find the model): a relative path is relative to the
    current folder, and a new user runs from another folder than the demo's."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri[len("sqlite:///"):]).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"no MLflow store at {path} (tracking URI {uri}, relative to the current "
                          f"folder {Path.cwd()}): run from the folder where the models were "
                          f"trained, or give the store's absolute path (MLFLOW_TRACKING_URI="
                          f"sqlite:////absolute/path/mlflow.db, as `petro demo` prints it)")


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


def check_server(uri: str, timeout: float = 10.0) -> None:
    """A tracking server that does not answer at all is a ConfigError now, naming the URL (MLflow
    itself would retry, then fail with a traceback). Any HTTP answer counts as reachable (a proxy
    or an auth layer may answer ``/health`` with an error status).

    Every :func:`setup` checks (one ``GET /health``): ``petro run`` checks before reading any well
    and again before logging, when the server may have gone away during training."""
    import urllib.error
    import urllib.request

    if not uri.startswith(("http://", "https://")):
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


def bound_http_retries() -> None:
    """Set :data:`HTTP_BOUNDS` in this process's environment where the user has not set them
    (MLflow reads them at each request)."""
    for key, value in HTTP_BOUNDS.items():
        os.environ.setdefault(key, value)


@contextmanager
def one_attempt(timeout_s: int = 5):
    """MLflow's HTTP requests inside the block: one attempt, ``timeout_s`` seconds (for
    bookkeeping after a store has already failed: ending the runs it stopped)."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES",
                                              "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ.update(MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT=str(timeout_s))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def brief_error(err: BaseException) -> str:
    """An error's first line, at most 300 characters (MLflow's may hold a whole HTML page)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def create_store_early(uri: str) -> Callable[[], None]:
    """Start creating a new local SQLite store ``uri`` in a background thread and return what
    waits for it. MLflow creates and migrates a new store's tables when it first opens it: ~5 s
    on a fresh demo folder, mostly waiting on the disk; a run does it while it reads its wells
    and trains instead of after. A server, another database or a store that exists: nothing to
    do. Whatever fails here is left to :func:`setup`, which opens the store again and reports
    it; the thread is not a daemon, so a run that stops early never leaves a half-made store."""
    if not uri.startswith("sqlite:///") or Path(uri[len("sqlite:///"):]).exists():
        return lambda: None

    def create() -> None:
        try:
            from mlflow import MlflowClient

            with sqlite_creation_lock(uri):
                MlflowClient(uri, uri)      # creates and migrates the tables
        except Exception:   # reported by setup(), which opens the store again
            pass

    thread = threading.Thread(target=create, name="petro-new-store")
    thread.start()
    return thread.join


def setup(uri: str | None = None, experiment: str | None = None, *,
          existing: bool = False) -> str:
    """Point MLflow's tracking and registry at the store (checked, :func:`check_server`; HTTP
    retries bounded, :func:`bound_http_retries`) and, if given, at ``experiment`` (created when
    missing); returns the URI. ``existing``: a local store must exist (models are read from
    it, :func:`existing_store`)."""
    import mlflow

    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if existing:
        existing_store(uri)
    uri = resolve_uri(uri)
    check_server(uri)
    if uri.startswith(("http://", "https://")):
        bound_http_retries()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    with sqlite_creation_lock(uri):
        client = MlflowClient(uri, uri)     # opens the store: a new SQLite store is created here
        if experiment and client.get_experiment_by_name(experiment) is None:
            try:
                client.create_experiment(experiment,
                                         artifact_location=artifact_root(uri, experiment))
            except MlflowException as err:  # another process created it meanwhile (a server)
                if err.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
    if experiment:
        mlflow.set_experiment(experiment)
    return uri


@contextmanager
def sqlite_creation_lock(uri: str):
    """An exclusive OS lock (``fcntl.flock``) on ``<store>.lock`` beside a SQLite store while a
    process opens it and creates its experiment: MLflow creates and migrates a new store's
    tables when it first opens it, and two processes doing so at once fail ("duplicate column
    name: step"). Other stores, and systems without ``fcntl`` (Windows), take no lock. The lock
    file stays (removing it would let a third process lock another file of the same name)."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    try:
        import fcntl
    except ImportError:   # Windows
        yield
        return
    db = Path(uri[len("sqlite:///"):])
    with open(db.with_name(db.name + ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
