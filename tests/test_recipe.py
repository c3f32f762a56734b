"""Works anywhere after pip install: `petro init` in an empty folder outside the repository, a
pipeline with non-default feature windows, trained, then predicted with `petro predict` without
`--pipeline`: the model's own recipe rebuilds exactly its columns."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import lasio
import numpy as np
import pytest
import yaml

from petro.serving import model_info
from petro.vocab import parse_feature


# `petro init proj` names the field's models after its folder (tracking.registered_prefix)
MODELS = ("--model", "models:/proj-porosity@champion", "--model",
          "models:/proj-permeability@champion")


def petro(*args, cwd, env):
    return subprocess.run([sys.executable, "-m", "petro.cli", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def project(small_field, tmp_path_factory):
    """`petro init` + a field with non-default windows, trained into a private store."""
    root = tmp_path_factory.mktemp("user-project")
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{root / 'store' / 'mlflow.db'}")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    r = petro("init", "proj", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    proj = root / "proj"
    assert sorted(p.name for p in (proj / "models").iterdir()) == ["permeability.yaml",
                                                                  "porosity.yaml"]
    for w in ("SYN-01", "SYN-02", "SYN-03"):
        shutil.copytree(small_field / w, proj / "data" / w)
    cfg = yaml.safe_load((proj / "pipeline.yaml").read_text())
    cfg["features"]["windows_m"] = [0.2, 0.6]            # not the default windows
    cfg["tracking"]["experiment"] = "user"
    for spec in ("porosity", "permeability"):              # keep the test fast
        s = yaml.safe_load((proj / "models" / f"{spec}.yaml").read_text())
        s["tuning"] = {}
        s["params"]["n_estimators"] = 60
        s["criteria"]["must_beat"] = ["train_mean"]     # three tiny wells: champions needed
        (proj / "models" / f"{spec}.yaml").write_text(yaml.safe_dump(s))
    (proj / "pipeline.yaml").write_text(yaml.safe_dump(cfg))
    r = petro("run", "proj/pipeline.yaml", cwd=root, env=env)
    assert r.returncode == 0, r.stderr + r.stdout
    shutil.copytree(small_field / "SYN-04", root / "new" / "SYN-04")   # a well never trained on
    return {"root": root, "proj": proj, "env": env}


def test_model_inputs_use_the_pipeline_windows(project):
    import mlflow

    mlflow.set_tracking_uri(project["env"]["MLFLOW_TRACKING_URI"])
    mlflow.set_registry_uri(project["env"]["MLFLOW_TRACKING_URI"])
    m = mlflow.pyfunc.load_model("models:/proj-permeability@champion")
    inputs = model_info(m)["inputs"]
    # the image inputs the model kept (max_inputs) are of the pipeline's windows only
    windows = {parse_feature(c).window for c in inputs} - {None}
    assert windows and windows <= {"w020", "w060"}
    recipe = m.metadata.metadata["petro_recipe"]
    assert recipe["features"]["windows_m"] == [0.2, 0.6]


def test_predict_without_pipeline_rebuilds_the_models_columns(project):
    root, env = project["root"], project["env"]
    r = petro("predict", "new", "-o", "out", *MODELS, cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    las = lasio.read(root / "out" / "SYN-04_petro.las")
    cover = las["INPUT_COVERAGE"]
    # the default windows would give none of the model's image columns: coverage far lower
    assert np.nanmedian(cover) > 0.9
    assert np.isfinite(las["PERM_ML"]).mean() > 0.9


def test_conflicting_pipeline_is_an_error_that_says_what_differs(project):
    root, env = project["root"], project["env"]
    other = root / "other.yaml"
    other.write_text(yaml.safe_dump({"data": "new", "features": {"windows_m": [0.15, 0.5]}}))
    r = petro("predict", "new", "-o", "out2", "--pipeline", other, *MODELS, cwd=root, env=env)
    assert r.returncode == 2
    assert "features.windows_m" in r.stderr and "[0.2, 0.6]" in r.stderr
    assert not (root / "out2").exists()


def test_features_for_a_model_are_exactly_its_inputs(project):
    import pandas as pd

    root, env = project["root"], project["env"]
    r = petro("features", "new", "-o", "rows.parquet", "--model",
              "models:/proj-porosity@champion", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    import mlflow

    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    mlflow.set_registry_uri(env["MLFLOW_TRACKING_URI"])
    inputs = model_info(mlflow.pyfunc.load_model(
        "models:/proj-porosity@champion"))["inputs"]
    assert list(pd.read_parquet(root / "rows.parquet").columns) == ["WELL", "DEPT"] + inputs
