"""Shared fixtures: the real public data folder, a small synthetic field, a trained field in a
temporary MLflow store (SQLite)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL = (REPO / ".." / "shared" / "data" / "real").resolve()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_model(model_uri: str, tracking_uri: str, cwd: Path, timeout: float = 120):
    """`mlflow models serve` of ``model_uri`` started as a real process (log in
    ``cwd/serve.log``); yields its base URL once /ping answers, terminated on exit."""
    import requests

    env = dict(os.environ, MLFLOW_TRACKING_URI=tracking_uri)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    port = free_port()
    with open(cwd / "serve.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m",
                                 model_uri, "--env-manager", "local", "--host", "127.0.0.1",
                                 "--port", str(port)], env=env, stdout=log,
                                stderr=subprocess.STDOUT, cwd=cwd)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + timeout
            while True:
                try:
                    if requests.get(f"{base}/ping", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail("server did not start: " + (cwd / "serve.log").read_text()[-2000:])
                time.sleep(0.5)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def real_file(rel: str) -> Path:
    p = REAL / rel
    if not p.exists():
        pytest.skip(f"real data {p} is absent (it lives in ../shared beside the checkout)")
    return p


@pytest.fixture(scope="session")
def real_dir() -> Path:
    if not REAL.is_dir():
        pytest.skip(f"real data folder {REAL} is absent (it lives in ../shared beside the checkout)")
    return REAL


@pytest.fixture(scope="session")
def small_field(tmp_path_factory) -> Path:
    """4 synthetic wells of 14 m: 3 with NMR, 1 without (SYN-04)."""
    from petro.synth import SynthConfig, write_field

    out = tmp_path_factory.mktemp("field")
    write_field(out, SynthConfig(wells=4, seed=11, thickness=14.0, nmr_fraction=0.75))
    return out


@pytest.fixture(scope="session")
def trained(small_field, tmp_path_factory):
    """The demo pipeline run on the small field into a temporary SQLite MLflow store. Its
    specs must beat the training mean and density porosity / poro-perm only: on three tiny
    wells ridge beats the porosity model (0.804 against 0.807 p.u.), which by default keeps
    it out of champion, and the tests that use this store need both champions."""
    import yaml

    from petro.api import train

    store = tmp_path_factory.mktemp("mlruns")
    uri = f"sqlite:///{store / 'mlflow.db'}"
    (store / "specs").mkdir()
    for name in ("porosity", "permeability"):
        spec = yaml.safe_load((REPO / "models" / f"{name}.yaml").read_text())
        spec["criteria"]["must_beat"] = ["train_mean", "petrophysical"]
        (store / "specs" / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    run = train(REPO / "pipelines" / "demo.yaml", data=small_field, tracking_uri=uri,
                cache_dir=str(store / "cache"),
                overrides={"synthetic": None, "tracking.experiment": "petro-test",
                           "models_dir": str(store / "specs")})
    return {"uri": uri, "entries": {e.model: e for e in run.models}, "status": run.status,
            "field": small_field, "store": store, "run": run}


@pytest.fixture()
def env_with_venv():
    """Environment for subprocesses: the running interpreter's bin folder first on PATH (uvicorn,
    mlflow and petro live there)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env
