"""Physical plausibility of curves and of the depth index (petro/data/plausibility.yaml)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from petro.errors import InputError
from petro.io.plausibility import table
from petro.io.wells import IngestOptions, load_well

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "las"


def test_table_covers_the_canonical_kinds():
    t = table()
    for name in ("GR", "RHOB", "NPHI", "DT", "RT", "RXO", "PEF", "CALI", "TCMR", "PHIE_NMR", "BVI",
                 "FFI", "T2LM", "KTIM", "KSDR"):
        assert t["curves"][name]["min"] < t["curves"][name]["max"], name
    assert {"density", "gamma", "resistive", "acoustic_amplitude"} <= set(t["images"])
    assert t["depth"]["min_step"] > 0


def test_curve_mostly_impossible_is_dropped_and_scattered_outliers_masked():
    w = load_well("W", [FIX / "implausible_values.las"])
    assert "RHOB" not in w.curves
    drop = [p for p in w.problems if p.code == "implausible_curve"]
    assert drop and drop[0].curve == "RHOB" and "5 of 6" in drop[0].message \
        and "median 21.1" in drop[0].message
    nphi = w.curves["NPHI"].to_numpy()
    assert np.isnan(nphi[2]) and nphi[0] == 0.18 and np.isfinite(nphi).sum() == 5
    assert any(p.code == "implausible_values" and p.curve == "NPHI" and "1 of 6" in p.message
               for p in w.problems)
    assert w.curves["GR"].tolist() == [45.0, 50.5, 55.0, 60.0, 62.5, 64.0]


def test_impossible_curve_fails_the_file_under_strict():
    with pytest.raises(InputError, match="RHOB is not physically possible.*strict"):
        load_well("W", [FIX / "implausible_values.las"], IngestOptions(unit_policy="strict"))


def test_depth_that_is_not_a_depth_is_refused_naming_the_column_that_is():
    with pytest.raises(InputError, match=r"curve DEPT: the depth curve DEPT cannot be a depth "
                                         r"index: it goes up and down.*column GR looks like a depth"):
        load_well("W", [FIX / "depth_in_other_column.las"])


@pytest.mark.parametrize("depth,match", [
    (1000 + np.arange(50) * 0.0001, "usual step is 0.0001 m"),
    (np.full(50, 7.0), "repeat"),
    (20000 + np.arange(50) * 0.5, "outside"),
])
def test_depth_step_repeats_and_range(tmp_path, depth, match):
    from petro.io.las_writer import write_las

    write_las(tmp_path / "d.las", depth, {"GR": np.linspace(40, 90, depth.size)},
              units={"GR": "GAPI"}, well={"WELL": "D"}, fmt="%.6f")
    with pytest.raises(InputError, match=match):
        load_well("W", [tmp_path / "d.las"])
