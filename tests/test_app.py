"""The application layer and configuration: one precedence (flag > YAML > default), the whole
configuration checked before any well is read, and the defects found in review, each pinned."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from petro.errors import ConfigError
from petro.io.las_writer import write_las
from tests.conftest import REPO


def petro(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "petro.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=env,
                          cwd=cwd or tempfile.mkdtemp(prefix="petro-app-"))


def _pipeline(folder: Path, **sections) -> Path:
    p = folder / "pipeline.yaml"
    p.write_text(yaml.safe_dump(sections))
    return p


def test_pipeline_cache_dir_is_used_when_the_flag_is_omitted(tmp_path, small_field):
    shutil.copytree(small_field / "SYN-04", tmp_path / "data" / "SYN-04")
    pipe = _pipeline(tmp_path, data="data", ingest={"cache_dir": "mycache"})
    work = tmp_path / "elsewhere"
    work.mkdir()
    r = petro("ingest", tmp_path / "data", "--pipeline", pipe, cwd=work)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "mycache").glob("??/*"))) == 3      # beside the pipeline file
    assert not (work / "petro-cache").exists()                    # no CLI default in the way
    r = petro("ingest", tmp_path / "data", "--pipeline", pipe, "--cache-dir", work / "c", cwd=work)
    assert r.returncode == 0 and len(list((work / "c").glob("??/*"))) == 3   # the flag wins


def test_jobs_flag_wins_over_the_pipeline(tmp_path):
    from petro.api import configure
    from petro.cli import _settings, build_parser

    pipe = _pipeline(tmp_path, data=".", n_jobs=3)
    args = build_parser().parse_args(["ingest", str(tmp_path), "--pipeline", str(pipe),
                                      "--jobs", "1"])
    assert configure(args.pipeline, data=args.data_dir, **_settings(args)).n_jobs == 1
    args = build_parser().parse_args(["ingest", str(tmp_path), "--pipeline", str(pipe)])
    assert configure(args.pipeline, data=args.data_dir, **_settings(args)).n_jobs == 3


@pytest.mark.parametrize("section,word", [
    ({"synthetic": {"wels": 3}}, "wels"),
    ({"synthetic": {"wells": "eight"}}, "synthetic.wells"),
    ({"synthetic": "yes"}, "synthetic"),
    ({"tracking": {"experimnt": "x"}}, "experimnt"),
    ({"tracking": "x"}, "tracking"),
    ({"ingest": {"units": {"density": {"kg/l": "one"}}}}, "ingest.units.density"),
    ({"ingest": {"grid": -1}}, "ingest.grid"),
    ({"models": ["porosty"]}, "porosty"),
    ({"n_jobs": "two"}, "n_jobs"),
])
def test_invalid_sections_are_config_errors_not_tracebacks(tmp_path, section, word):
    pipe = _pipeline(tmp_path, data="data", **section)
    r = petro("run", pipe)
    assert r.returncode == 2, r.stderr
    assert word in r.stderr and "Traceback" not in r.stderr


def test_model_spec_typo_fails_before_any_well_is_read(tmp_path, small_field):
    from petro.api import train

    models = tmp_path / "models"
    models.mkdir()
    spec = yaml.safe_load((REPO / "models" / "porosity.yaml").read_text())
    spec["quantlies"] = [0.1, 0.9]                                   # a typo in a spec
    (models / "porosity.yaml").write_text(yaml.safe_dump(spec))
    pipe = _pipeline(tmp_path, data=str(small_field), models=["porosity"])
    events = []
    with pytest.raises(ConfigError, match="quantlies"):
        train(pipe, on_event=events.append)
    assert events == []                                 # not one well was started


def test_a_well_with_tcmr_but_no_ffi_or_t2_keeps_its_features(tmp_path):
    from petro.api import features, targets

    depth = 1000 + np.arange(60) * 0.1524
    rng = np.random.default_rng(0)
    write_las(tmp_path / "W1" / "w1.las", depth,
              {"GR": rng.uniform(20, 80, 60), "RHOB": rng.uniform(2.3, 2.6, 60),
               "TCMR": rng.uniform(0.05, 0.2, 60)},
              units={"GR": "GAPI", "RHOB": "G/CC", "TCMR": "V/V"}, well={"WELL": "W1"})
    [res] = targets(tmp_path)
    assert res.table is not None and res.target_report is None
    assert np.isfinite(res.table["GR"]).all() and np.isfinite(res.table["RHOB"]).all()
    assert "PHIE" not in res.table
    no_targets = [p for p in res.problems if p.code == "no_targets"]
    assert no_targets and "FFI" in no_targets[0].message and not res.failed
    assert len(features(tmp_path)) == 60


def test_unknown_unit_message_points_to_a_section_that_exists(tmp_path):
    from petro.api import ingest

    depth = 1000 + np.arange(10) * 0.1524
    write_las(tmp_path / "W1" / "w1.las", depth, {"RHOB": np.full(10, 2.45)},
              units={"RHOB": "KG/L"}, well={"WELL": "W1"})
    [r] = ingest(tmp_path)
    [p] = [p for p in r.problems if p.code == "unit_unknown"]
    assert "ingest: {units: {density: {'KG/L'" in p.message
    [r] = ingest(tmp_path, overrides={"ingest.units": {"density": {"KG/L": 1.0}}})
    assert r.table["RHOB"].tolist() == [2.45] * 10                # the section does what it says


def test_dlis_null_from_the_file_or_the_option(tmp_path):
    from dliswriter import DLISFile, enums

    from petro.io.dlis import read_dlis

    def write(path, null_param):
        f = DLISFile()
        lf = f.add_logical_file()
        lf.add_origin("ORIGIN", well_name="DL-1")
        gr = np.array([40.0, -9999.0, -999.25, 55.0])
        chans = [lf.add_channel("DEPT", data=1000.0 + np.arange(4) * 0.5, units=enums.Unit.METER),
                 lf.add_channel("GR", data=gr, units="gAPI")]
        lf.add_frame("MAIN", channels=chans, index_type=enums.FrameIndexType.BOREHOLE_DEPTH)
        if null_param is not None:
            lf.add_parameter("NULL", values=[null_param])
        f.write(str(path))

    write(tmp_path / "a.dlis", -9999.0)
    [t] = read_dlis(tmp_path / "a.dlis")
    assert np.isnan(t.data["GR"].to_numpy()[1]) and t.data["GR"].to_numpy()[2] == -999.25
    write(tmp_path / "b.dlis", None)
    [t] = read_dlis(tmp_path / "b.dlis")                          # the default, -999.25
    assert t.data["GR"].to_numpy()[1] == -9999.0 and np.isnan(t.data["GR"].to_numpy()[2])
    assert "dlis_null" in t.problems[0].message
    [t] = read_dlis(tmp_path / "b.dlis", null=None)
    assert np.isfinite(t.data["GR"].to_numpy()).all()


def test_metrics_table_keeps_baselines_without_ablation_and_dashes_missing_ones(capsys):
    from petro.app.training import ModelEntry, RunResult
    from petro.render import print_metrics

    m = {"model": {"rmse_pu": 0.9, "coverage_p10_p90": 0.8, "in_domain_rate": 0.95},
         "ridge": {"rmse_pu": 1.2}, "petrophysical": {}, "train_mean": {"rmse_pu": 5.0}}
    print_metrics(RunResult(cfg=None, wells=[], models=[ModelEntry("porosity", "porosity", m)]))
    out = capsys.readouterr().out
    assert "blind RMSE 0.900 vs best baseline ridge (logs) 1.200" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("│ porosity"))
    assert row.count("-") >= 2                # no logs-only ablation, no density porosity


def test_one_merge_flag_over_pipeline_over_recipe_over_default(tmp_path):
    """Issue 24.1: one merge, key by key. Run settings (jobs, cache, engine) come from the flag,
    else the pipeline, else the default (a recipe carries none); what a model sees comes from
    its recipe, and a pipeline or flag that gives it otherwise is an error naming each key."""
    from petro.config import DEFAULT_JOBS, RunSettings, build_config, load_config

    recipe = load_config(None, require_data=False,
                         overrides={"features.windows_m": [0.2, 0.6],
                                    "ingest.unit_policy": "keep"}).recipe()
    kw = {"base": tmp_path, "require_data": False, "load_specs": False}
    plain = build_config({}, **kw)
    assert plain.run == RunSettings() and plain.n_jobs == DEFAULT_JOBS and plain.run.cache_dir is None
    model = build_config({}, recipe=recipe, **kw)
    assert model.features.windows_m == (0.2, 0.6) and model.ingest.unit_policy == "keep"
    assert model.run == RunSettings()
    pipe = {"n_jobs": 3, "ingest": {"cache_dir": "c", "fast": False, "unit_policy": "keep"},
            "engine": {"scheduler": "processes"}}
    p = build_config(pipe, recipe=recipe, **kw)        # agreeing with the recipe is fine
    assert (p.n_jobs, p.run.cache_dir, p.engine.scheduler) == (3, str(tmp_path / "c"), "processes")
    assert p.ingest.fast is False and p.features.windows_m == (0.2, 0.6)
    f = build_config(pipe, recipe=recipe, overrides={"n_jobs": 1, "ingest.cache_dir": "",
                                                     "engine.scheduler": "local-cluster"}, **kw)
    assert (f.n_jobs, f.run.cache_dir, f.engine.scheduler) == (1, None, "local-cluster")
    with pytest.raises(ConfigError, match=r"features\.windows_m: given \[0\.15, 0\.5\], "
                                          r"model \[0\.2, 0\.6\]"):
        build_config({"features": {"windows_m": [0.15, 0.5]}}, recipe=recipe, **kw)
    with pytest.raises(ConfigError, match=r"ingest\.unit_policy: given 'strict'"):
        build_config({}, recipe=recipe, overrides={"ingest.unit_policy": "strict"}, **kw)
    # from a built configuration, for each model: the same merge (its run settings kept whole)
    built = load_config(None, require_data=False, overrides={"n_jobs": 1,
                                                             "engine.scheduler": "processes"})
    for_model = built.for_recipe(recipe, "models:/x")
    assert for_model.run == built.run and for_model.features.windows_m == (0.2, 0.6)


VERBS = ["ingest", "targets", "features", "features --model", "predict", "predict -o"]


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_takes_the_run_settings_the_same_way(verb, trained, tmp_path):
    """Keyword > pipeline > default for the jobs and the cache, in every verb (the models'
    recipes, which differ from the defaults here, do not get in the way)."""
    from petro import api
    from petro.config import DEFAULT_JOBS

    d = tmp_path / "data"
    for w in ("SYN-01", "SYN-04"):
        shutil.copytree(trained["field"] / w, d / w)
    pipe = _pipeline(tmp_path, n_jobs=1, ingest={"cache_dir": "pc"})
    model = {"tracking_uri": trained["uri"]}
    call = {"ingest": lambda **k: api.ingest(d, **k),
            "targets": lambda **k: api.targets(d, **k),
            "features": lambda **k: api.features(d, **k),
            "features --model": lambda **k: api.features(d, model="models:/petro-porosity@champion",
                                                         **model, **k),
            "predict": lambda **k: api.predict(d, **model, **k),
            "predict -o": lambda **k: api.predict(d, out_dir=tmp_path / "o", resume=False,
                                                  **model, **k)}[verb]

    def where(**settings):
        events = []
        call(on_event=events.append, **settings)
        return [e.message for e in events if e.kind == "note" and "per-well" in e.message]

    assert where() == [f"per-well work on local process pool ({DEFAULT_JOBS} processes)"]
    assert not (tmp_path / "pc").exists()
    assert where(pipeline=pipe) == ["per-well work on this process (serial)"]
    records = sorted((tmp_path / "pc" / "stat").iterdir())
    assert records
    assert where(pipeline=pipe, cache_dir=str(tmp_path / "kw")) == \
        ["per-well work on this process (serial)"]
    assert sorted((tmp_path / "kw" / "stat").iterdir()) and \
        sorted((tmp_path / "pc" / "stat").iterdir()) == records


def test_the_command_line_leaves_library_logging_as_it_found_it(tmp_path):
    """Library logging is configured by the command line for the command only: a process that
    runs `main` (a test, a notebook) keeps its warning filters, MLflow level and environment."""
    import logging
    import os
    import warnings

    from petro.cli import main

    filters, level = list(warnings.filters), logging.getLogger("mlflow").level
    env = os.environ.get("MLFLOW_LOGGING_LEVEL")
    assert main(["synth", str(tmp_path / "f"), "--wells", "1", "--thickness", "5"]) == 0
    assert warnings.filters == filters and logging.getLogger("mlflow").level == level
    assert os.environ.get("MLFLOW_LOGGING_LEVEL") == env
