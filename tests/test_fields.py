"""A field's own models: `petro init` names them after the field, and the gate never compares a
version with a champion trained on other wells without saying so (real MLflow on SQLite)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.conftest import REPO
from tests.mlflow_state import restore_mlflow_state  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("restore_mlflow_state")


def test_init_names_the_field_its_experiment_and_its_models(tmp_path):
    from petro.app.init import init_project
    from petro.config import load_config

    written = init_project(tmp_path / "North Sea B")
    cfg = load_config(written[0])
    assert (cfg.name, cfg.experiment, cfg.registered_prefix) == \
        ("north-sea-b", "north-sea-b", "north-sea-b-")
    assert [f"{cfg.registered_prefix}{s.name}" for s in cfg.specs] == \
        ["north-sea-b-porosity", "north-sea-b-permeability"]
    assert "registered_prefix: north-sea-b-   # models register as north-sea-b-porosity" in \
        written[0].read_text()                                   # the comments stay


def test_a_champion_trained_on_other_wells_is_not_replaced_automatically(small_field, tmp_path):
    from mlflow import MlflowClient

    from petro.api import train

    spec = yaml.safe_load((REPO / "models" / "porosity.yaml").read_text())
    spec.update(features=["logs"], tuning={}, baselines=[], criteria={"must_beat": []})
    spec["params"].update(n_estimators=40)
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "porosity.yaml").write_text(yaml.safe_dump(spec))
    fewer = tmp_path / "fewer"                     # two of the three wells with NMR
    for w in ("SYN-01", "SYN-02"):
        shutil.copytree(small_field / w, fewer / w)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    runs = [train(REPO / "pipelines" / "demo.yaml", data=data, tracking_uri=uri,
                  cache_dir=str(tmp_path / "cache"),
                  overrides={"synthetic": None, "models": ["porosity"], "tracking.experiment": "f",
                             "tracking.registered_prefix": "field-",
                             "models_dir": str(tmp_path / "specs")}).models[0]
            for data in (small_field, fewer)]
    assert (runs[0].version, runs[0].alias) == ("1", "champion")
    e = runs[1]
    assert (e.version, e.alias) == ("2", "challenger")
    value, old = e.metrics["model"]["rmse_pu"], runs[0].metrics["model"]["rmse_pu"]
    assert e.reason == (f"blind rmse_pu {value:.4f} against champion v1's {old:.4f}, but champion "
                        f"v1 was trained on other wells (SYN-01, SYN-02, SYN-03; this version: "
                        f"SYN-01, SYN-02): metrics are not comparable; promote by hand if "
                        f"intended")
    client = MlflowClient(uri, uri)
    assert str(client.get_model_version_by_alias("field-porosity", "champion").version) == "1"
    v2 = client.get_model_version("field-porosity", "2")
    assert v2.tags["petro.train_wells"] == "SYN-01,SYN-02"
    assert v2.tags["petro.data_digest"] == client.get_run(v2.run_id).data.tags["petro.data_digest"]

    from petro.tracking import list_models

    rows = list_models(uri)                        # listed under the field's own prefix
    assert [(r["name"], r["version"], r["aliases"]) for r in rows] == \
        [("field-porosity", 2, "challenger"), ("field-porosity", 1, "champion")]
