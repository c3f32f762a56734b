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
