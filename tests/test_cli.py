"""The command line as a user runs it: exit codes, no tracebacks, a bad file does not stop a batch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import lasio
import numpy as np
import pandas as pd
import pytest

from petro.api import configure

FIX = Path(__file__).resolve().parent / "fixtures" / "las"


def petro(*args, cwd=None, env=None):
    """Run the CLI as a user would; by default in a fresh folder (its cache lands there)."""
    import tempfile

    return subprocess.run([sys.executable, "-m", "petro.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or tempfile.mkdtemp(prefix="petro-cli-"), env=env,
                          timeout=600)


@pytest.fixture()
def mixed_dir(tmp_path, small_field):
    """Two good synthetic wells and two broken files of a third well."""
    d = tmp_path / "data"
    for w in ("SYN-01", "SYN-04"):
        shutil.copytree(small_field / w, d / w)
    (d / "BROKEN").mkdir()
    shutil.copy(FIX / "truncated.las", d / "BROKEN" / "run1.las")
    shutil.copy(FIX / "binary_garbage.las", d / "BROKEN" / "run2.las")
    return d


def test_ingest_reports_bad_wells_and_keeps_the_good(mixed_dir):
    r = petro("ingest", mixed_dir, "--jobs", "1")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr + r.stdout
    assert "SYN-01" in r.stdout and "SYN-04" in r.stdout
    assert "acoustic_amplitude" in r.stdout and "180 bins" in r.stdout
    assert "FIXTURE-1" in r.stderr and "line 19" in r.stderr      # the bad well, the bad line


def test_targets_writes_las_beside_vendor_curves(small_field, tmp_path):
    out = tmp_path / "t"
    r = petro("targets", small_field, "-o", out, "--cutoff", "100", "--source", "t2")
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in out.glob("*.las"))
    assert files == ["SYN-01_targets.las", "SYN-02_targets.las", "SYN-03_targets.las"]  # SYN-04: no NMR
    las = lasio.read(out / "SYN-01_targets.las")
    assert str(las.params["TCUT"].value) == "100"        # the T2 distribution was cut at 100 ms
    r = petro("targets", small_field, "-o", tmp_path / "c", "--source", "curves")
    assert r.returncode == 0, r.stderr
    assert "TCUT" not in lasio.read(tmp_path / "c" / "SYN-01_targets.las").params  # no cutoff used
    for c in ("PHIE", "PERM", "KTIM", "VALID"):
        assert c in las.keys()
    ok = las["VALID"] == 1
    assert np.all(np.isfinite(las["PERM"][ok])) and np.all(np.isnan(las["PERM"][~ok]))


def test_features_export_json_ready_to_post(small_field, tmp_path):
    out = tmp_path / "rows.json"
    r = petro("features", small_field / "SYN-04", "-o", out, "--no-targets")
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())["dataframe_split"]
    assert {"GR", "RHOB", "amp_vug_w050", "res_cov_w015"} <= set(doc["columns"])
    assert len(doc["data"]) > 50
    pq = tmp_path / "rows.parquet"
    assert petro("features", small_field, "-o", pq).returncode == 0
    table = pd.read_parquet(pq)
    assert set(table["WELL"]) == {"SYN-01", "SYN-02", "SYN-03", "SYN-04"}
    assert table.loc[table.WELL == "SYN-04", "PHIE"].isna().all()


def test_bad_usage_and_missing_pipeline_exit_2(tmp_path):
    r = petro("run", tmp_path / "nope.yaml")
    assert r.returncode == 2 and "not found" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: x\ntargets:\n  lithology: basalt\n")
    r = petro("run", bad)
    assert r.returncode == 2 and "basalt" in r.stderr
    r = petro("ingest", tmp_path / "missing-folder")
    assert r.returncode == 2 and "not a folder" in r.stderr


def test_predict_with_unknown_model_is_a_clear_error(tmp_path, small_field, trained):
    env = dict(__import__("os").environ, MLFLOW_TRACKING_URI=trained["uri"])
    r = petro("predict", small_field, "-o", tmp_path / "o", "--model", "models:/nope@champion",
              env=env, cwd=tmp_path)
    assert r.returncode == 2 and "cannot load model" in r.stderr and "Traceback" not in r.stderr


def test_a_store_that_is_not_there_is_named_not_created(tmp_path, small_field):
    """Issue 26.5: `petro predict` run from another folder than the demo's, with the README's
    relative store: MLflow created an empty store there and said the model was not found."""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MLFLOW_")}
    for uri in (None, "sqlite:///mlruns/mlflow.db"):
        r = petro("predict", small_field, "-o", tmp_path / "o", cwd=tmp_path,
                  env=env if uri is None else dict(env, MLFLOW_TRACKING_URI=uri))
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert f"no MLflow store at {tmp_path / 'mlruns' / 'mlflow.db'}" in r.stderr, r.stderr
        assert not (tmp_path / "mlruns").exists()


def test_a_bad_file_in_a_good_well_fails_the_exit_code_not_the_well(tmp_path, small_field):
    d = tmp_path / "data" / "SYN-01"
    shutil.copytree(small_field / "SYN-01", d)
    bad = (FIX / "truncated.las").read_text().replace("FIXTURE-1", "SYN-01")
    (d / "SYN-01_extra_run.las").write_text(bad)
    r = petro("ingest", tmp_path / "data", "--jobs", "1", "--no-cache")
    assert r.returncode == 1
    assert "SYN-01_extra_run.las" in r.stderr and "line 19" in r.stderr
    assert "180 bins" in r.stdout                       # the well itself was read


def test_predict_on_a_well_the_model_cannot_use_names_it_and_goes_on(trained, tmp_path,
                                                                    env_with_venv):
    d = tmp_path / "data"
    shutil.copytree(trained["field"] / "SYN-04", d / "SYN-04")
    (d / "ODD").mkdir()
    depth = "\n".join(f"{1000 + i * 0.1524:.4f} {i}.0" for i in range(20))
    (d / "ODD" / "odd.las").write_text(
        "~V\n VERS. 2.0 :\n WRAP. NO :\n~W\n STRT.M 1000 :\n STOP.M 1002.8956 :\n"
        " STEP.M 0.1524 :\n NULL. -999.25 :\n WELL. ODD :\n~C\n DEPT.M :\n XYZ.V : unknown\n~A\n"
        + depth + "\n")
    env = dict(env_with_venv, MLFLOW_TRACKING_URI=trained["uri"])
    r = petro("predict", d, "-o", tmp_path / "out", "--no-cache", env=env)
    assert r.returncode == 1, r.stderr
    assert "well ODD" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "out" / "SYN-04_petro.las").exists()


def test_a_well_without_the_models_image_kind_is_named_and_flagged(trained, tmp_path):
    """Issue 11 (unfamiliar tools): the well's acoustic image is missing (only the resistive pad
    image is left): the prediction says which image the models lack, and the rows carry it."""
    from petro.app.predict import load_models, predict_wells

    d = tmp_path / "data" / "SYN-04"
    shutil.copytree(trained["field"] / "SYN-04", d)
    full, _ = predict_wells(load_models(tracking_uri=trained["uri"]), d, configure(n_jobs=1))
    (d / "SYN-04_ubi.las").unlink()
    part, failed = predict_wells(load_models(tracking_uri=trained["uri"]), d,
                                 configure(n_jobs=1))
    assert not failed and len(part) == 1
    w, f = part[0], full[0]
    assert "no acoustic amplitude" in w.diagnosis and "no acoustic amplitude" not in f.diagnosis
    # issue 25.5: a model using the acoustic image answers from its logs-only sibling there
    # (before, without its image inputs, every depth was extrapolation: 1.00 flagged)
    used = 0
    for m in load_models(tracking_uri=trained["uri"]):
        ok = np.isfinite(w.columns[f"{m.output}_ML"])
        assert ok.mean() > 0.9
        if "amp" in ((m.answers or {}).get("image_inputs") or {}):
            used += 1
            assert (w.columns[f"{m.output}_LOGS_ONLY"][ok] == 1).all()
            assert (f.columns[f"{m.output}_LOGS_ONLY"][ok] == 0).mean() > 0.9
            assert f"{m.output}: logs-only model at 100% of the depths" in w.diagnosis
    assert used and w.ood_fraction < 0.9


def test_a_clastic_well_in_a_carbonate_model_is_flagged_and_its_rock_named(trained, tmp_path):
    """Issue 11.4: a sandstone/shale well predicted by the carbonate-trained models: every depth
    out of domain, and the diagnosis reads the rock from PEF instead of blaming the tool."""
    from petro.app.predict import load_models, predict_wells
    from petro.synth import SynthConfig, write_field

    write_field(tmp_path / "f", SynthConfig(wells=1, seed=5, thickness=14.0, lithology="clastic"),
                n_jobs=1)
    wells, failed = predict_wells(load_models(tracking_uri=trained["uri"]), tmp_path / "f",
                                  configure(n_jobs=1))
    assert not failed and len(wells) == 1
    w = wells[0]
    assert w.ood_fraction > 0.9
    assert "PEF" in w.diagnosis and "quartz sandstone" in w.diagnosis
    assert "barite" not in w.diagnosis      # a PEF below the training wells' is not barite


def test_batch_predict_by_chunks_writes_every_well_as_one_batch_would(trained, tmp_path):
    """Batch predict goes a chunk of wells at a time (the caller holds one chunk's features):
    chunks of one well give the same files and manifest as one chunk of all."""
    from petro.app.batch import MANIFEST, predict_batch
    from petro.app.predict import load_models

    models = load_models(tracking_uri=trained["uri"])
    whole = predict_batch(models, trained["field"], tmp_path / "a", configure(n_jobs=1),
                          chunk=64)
    bits = predict_batch(models, trained["field"], tmp_path / "b", configure(n_jobs=1),
                         chunk=1)
    assert [w.name for w in bits.wells] == [w.name for w in whole.wells] == \
        ["SYN-01", "SYN-02", "SYN-03", "SYN-04"]
    for w in whole.wells:
        a = lasio.read(tmp_path / "a" / f"{w.name}_petro.las").df()
        b = lasio.read(tmp_path / "b" / f"{w.name}_petro.las").df()
        pd.testing.assert_frame_equal(a, b)
    ma, mb = (json.loads((tmp_path / d / MANIFEST).read_text()) for d in ("a", "b"))
    assert ma == mb and sorted(ma) == ["SYN-01", "SYN-02", "SYN-03", "SYN-04"]


def test_features_for_a_model_run_where_the_scheduler_flag_says(trained, tmp_path, env_with_venv):
    """Issue 24.1: `features --model URI --scheduler X` built the model's features with the
    recipe's settings and dropped the run settings (it ran in local processes, silently)."""
    d = tmp_path / "data"
    for w in ("SYN-01", "SYN-04"):
        shutil.copytree(trained["field"] / w, d / w)
    env = dict(env_with_venv, MLFLOW_TRACKING_URI=trained["uri"])
    r = petro("features", d, "--model", "models:/petro-porosity@champion", "-o",
              tmp_path / "rows.parquet", "--scheduler", "local-cluster", "--jobs", "1",
              "--no-cache", env=env)
    assert r.returncode == 0, r.stderr
    assert "per-well work on dask LocalCluster" in r.stderr and "(1 workers" in r.stderr
    assert sorted(pd.read_parquet(tmp_path / "rows.parquet")["WELL"].unique()) == ["SYN-01",
                                                                                  "SYN-04"]


def test_a_bad_well_in_predict_is_reported_once(trained, tmp_path, env_with_venv):
    """Issue 24.2: a well that could not be read was reported twice (as read, then as failed)."""
    from petro.api import predict

    d = tmp_path / "data"
    shutil.copytree(trained["field"] / "SYN-04", d / "SYN-04")
    (d / "BROKEN").mkdir()
    shutil.copy(FIX / "binary_garbage.las", d / "BROKEN" / "run1.las")
    env = dict(env_with_venv, MLFLOW_TRACKING_URI=trained["uri"])
    r = petro("predict", d, "-o", tmp_path / "out", "--no-cache", "--jobs", "1", env=env)
    assert r.returncode == 1, r.stderr
    lines = [x for x in r.stderr.splitlines() if "BROKEN" in x]
    assert len(lines) == 1 and lines[0].startswith("error well BROKEN") \
        and "binary content" in lines[0], r.stderr
    events = []
    wells = predict(d, tracking_uri=trained["uri"], n_jobs=1, cache_dir="",
                    on_event=events.append)
    assert [w.name for w in wells] == ["SYN-04"]
    bad = [e.problem for e in events if e.kind == "problem" and e.problem.well == "BROKEN"]
    assert len(bad) == 1 and bad[0].is_error


def test_set_gives_any_pipeline_setting_checked_as_the_yaml(tmp_path):
    """Issue 26.5: ``--set KEY=VALUE`` on every command that reads a pipeline: the setting
    applies (a unit petro does not know fails the file under ``ingest.unit_policy=strict``,
    where by default the curve is dropped), and a bad key or value is refused before any well
    is read, naming the item."""
    from petro.io.las_writer import write_las

    depth = 1000 + np.arange(10) * 0.1524
    write_las(tmp_path / "W1" / "w1.las", depth, {"RHOB": np.full(10, 2.45),
                                                  "GR": np.full(10, 40.0)},
              units={"RHOB": "KG/L", "GR": "GAPI"}, well={"WELL": "W1"})
    assert petro("ingest", tmp_path, "--no-cache").returncode == 0
    r = petro("ingest", tmp_path, "--no-cache", "--set", "ingest.unit_policy=strict")
    assert r.returncode == 1 and "KG/L" in r.stderr, r.stderr
    bad = [(("ingest", tmp_path), "targets.lithology=granite", "choose one of"),
           (("ingest", tmp_path), "n_jobs=two", "is not a number"),
           (("ingest", tmp_path), "nosuch.key=1", "unknown sections ['nosuch']"),
           (("ingest", tmp_path), "targets.lithology", "give KEY=VALUE")]
    bad += [(cmd, "targets.foo=1", "unknown keys ['foo']") for cmd in (
        ("predict", tmp_path, "-o", tmp_path / "o"), ("run", tmp_path / "none.yaml"),
        ("demo", "--workdir", tmp_path / "d"), ("targets", tmp_path, "-o", tmp_path / "t"),
        ("features", tmp_path, "-o", tmp_path / "f.csv"))]
    for cmd, item, words in bad:
        r = petro(*cmd, "--set", item)
        assert r.returncode == 2, (cmd, item, r.stderr)
        assert f"--set {item}" in r.stderr and words in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    assert not any((tmp_path / n).exists() for n in ("o", "d", "t", "f.csv"))


def test_demo_prints_next_commands_that_work_from_any_folder(trained, tmp_path):
    """Issue 26.5: the commands ``petro demo`` prints name the store, the field and the output
    folder by absolute paths (the README's relative ones worked only where the demo ran)."""
    import re

    from petro.cli import _next_commands

    lines = _next_commands(trained["run"], tmp_path)
    text = "\n".join(lines)
    assert f"MLFLOW_TRACKING_URI=sqlite:///{trained['store'] / 'mlflow.db'}" in text
    assert f"petro predict {trained['field']} -o {tmp_path / 'predicted'}" in text
    assert f"petro features {trained['field'] / 'SYN-04'} -o {tmp_path / 'rows.json'}" in text
    for path in re.findall(r"(?<=[ @=])(/[^ ;]+)", text):     # every path is absolute...
        if not path.startswith(str(tmp_path)):                  # ...and, but for outputs, there
            assert Path(path.split("sqlite:///")[-1]).exists(), path


def test_predict_says_when_a_wells_stored_features_were_damaged(trained, tmp_path):
    """A stored feature table damaged between two predictions (a flipped bit) is computed
    again, and the prediction warns so for that well, as every command shows a warning (it
    used to be an info, which `petro predict` and the terminal kept to themselves); the
    answer is the one from undamaged features."""
    from petro.api import predict
    from petro.app.featurestore import FeatureStore
    from petro.problems import Severity

    d = tmp_path / "data"
    shutil.copytree(trained["field"] / "SYN-04", d / "SYN-04")
    cache = tmp_path / "cache"
    first = predict(d, tracking_uri=trained["uri"], n_jobs=1, cache_dir=str(cache))
    entries = FeatureStore(cache / "features").entries()
    assert entries
    for entry in entries:
        b = bytearray(entry.read_bytes())
        b[len(b) // 2] ^= 0x04
        entry.write_bytes(bytes(b))
    events = []
    again = predict(d, tracking_uri=trained["uri"], n_jobs=1, cache_dir=str(cache),
                    on_event=events.append)
    notes = [e.problem for e in events if e.kind == "problem" and e.problem.code == "cache_damaged"]
    assert notes and all(n.well == "SYN-04" and "computed again" in n.message and
                         n.severity == Severity.WARNING for n in notes)
    for col in first[0].columns:
        np.testing.assert_array_equal(np.asarray(again[0].columns[col]),
                                      np.asarray(first[0].columns[col]))

