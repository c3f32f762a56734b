"""Shared fixtures: the real public data folder, a small synthetic field, a trained field in a
temporary MLflow store (SQLite)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL = (REPO / ".." / "shared" / "data" / "real").resolve()


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
    """The demo pipeline run on the small field into a temporary SQLite MLflow store."""
    from petro.api import train

    store = tmp_path_factory.mktemp("mlruns")
    uri = f"sqlite:///{store / 'mlflow.db'}"
    run = train(REPO / "pipelines" / "demo.yaml", data=small_field, tracking_uri=uri,
                cache_dir=str(store / "cache"),
                overrides={"synthetic": None, "tracking.experiment": "petro-test"})
    return {"uri": uri, "entries": {e.model: e for e in run.models}, "status": run.status,
            "field": small_field, "store": store, "run": run}


@pytest.fixture()
def env_with_venv():
    """Environment for subprocesses: the running interpreter's bin folder first on PATH (uvicorn,
    mlflow and petro live there)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env
