"""The promotion gate: a worse model is registered but kept out of `champion`, with the reason."""

from __future__ import annotations

import subprocess
import sys

import yaml

from tests.conftest import REPO


def test_worse_model_becomes_challenger_and_promote_by_hand(trained, tmp_path, env_with_venv):
    from petro.api import train

    spec = yaml.safe_load((REPO / "models" / "permeability.yaml").read_text())
    spec.update(features=["logs"], tuning={}, baselines=["ridge"])   # no image features
    spec["criteria"]["must_beat"] = ["train_mean"]    # the champion decides, not ridge
    models = tmp_path / "models"
    models.mkdir()
    (models / "permeability.yaml").write_text(yaml.safe_dump(spec))
    run = train(REPO / "pipelines" / "demo.yaml", data=trained["field"], tracking_uri=trained["uri"],
                cache_dir=str(tmp_path / "cache"),
                overrides={"synthetic": None, "models": ["permeability"],
                           "models_dir": str(models), "tracking.experiment": "petro-test"})
    entries = [vars(m) for m in run.models]
    e = entries[0]
    champion_rmse = trained["entries"]["permeability"].metrics["model"]["rmse_dec"]
    assert e["metrics"]["model"]["rmse_dec"] > champion_rmse
    assert e["alias"] == "challenger"
    assert "does not beat champion v1" in e["reason"]

    env = dict(env_with_venv, MLFLOW_TRACKING_URI=trained["uri"])
    r = subprocess.run([sys.executable, "-m", "petro.cli", "models", "list"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "petro-permeability" in r.stdout and "challenger" in r.stdout
    r = subprocess.run([sys.executable, "-m", "petro.cli", "models", "promote",
                        "petro-permeability", str(e["version"]), "--alias", "candidate"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    from mlflow import MlflowClient
    import mlflow

    mlflow.set_tracking_uri(trained["uri"])
    mv = MlflowClient().get_model_version_by_alias("petro-permeability", "candidate")
    assert str(mv.version) == str(e["version"])
    assert MlflowClient().get_model_version_by_alias("petro-permeability", "champion").version \
        in (1, "1")


def test_criteria_and_spec_validation():
    import pytest

    from petro.errors import ConfigError
    from petro.models.spec import ModelSpec
    from petro.tracking import check_criteria

    pooled = {"model": {"rmse_dec": 0.5, "coverage_p10_p90": 0.6},
              "train_mean": {"rmse_dec": 0.4}, "petrophysical": {"rmse_dec": 0.9}}
    fails = check_criteria(pooled, {"max_rmse": 0.45, "min_coverage": 0.7,
                                    "must_beat": ["train_mean", "petrophysical"]}, "permeability")
    assert len(fails) == 3
    assert "train mean 0.400 decades beats the model's 0.500" in fails
    assert not any("density porosity" in f for f in fails)
    with pytest.raises(ConfigError, match="baselines"):
        ModelSpec(name="x", target="porosity", estimator="ridge")
    with pytest.raises(ConfigError, match="unknown baselines"):
        ModelSpec(name="x", target="porosity", baselines=["svm"])
