"""Cased-hole sector arrays are not images; lasio's warnings become problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from petro.errors import InputError
from petro.io.images import find_families
from petro.io.las import read_las
from petro.io.raw import CurveInfo
from petro.io.wells import load_well

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "las"


def test_cement_bond_sectors_are_not_a_borehole_image():
    w = load_well("C", [FIX / "cement_bond_sectors.las"])
    assert w.images == {}
    assert "GR" in w.curves and w.curves["GR"].iloc[0] == 60.0
    note = [p for p in w.problems if p.code == "cased_hole_array"]
    assert note and "cement bond" in note[0].message and "SA*" in note[0].message
    assert not any(c.startswith("SA") for c in w.curves)


def test_open_hole_amplitude_image_is_still_an_image():
    amp = [CurveInfo(f"AMP{i:03d}", "", "Acoustic amplitude") for i in range(1, 37)]
    fams = find_families(amp)
    assert len(fams) == 1 and fams[0].kind == "acoustic_amplitude"
    cbl = [CurveInfo(f"AMP{i}", "MV", "CBL sector amplitude") for i in range(1, 9)]
    assert find_families(cbl)[0].kind == "cased_hole"


def test_lasio_warning_becomes_a_problem(tmp_path):
    text = (FIX / "good.las").read_text().replace(" DEPT.M     : Depth", " DEPT.FT    : Depth")
    path = tmp_path / "units.las"
    path.write_text(text)
    for fast in (True, False):
        las = read_las(path, fast=fast)
        hit = [p for p in las.problems if p.code == "lasio_warning"]
        assert len(hit) == 1 and "depth unit differs" in hit[0].message and "'FT'" in \
            hit[0].message, las.problems
    w = load_well("W", [path])
    assert any(p.code == "lasio_warning" for p in w.problems)


def test_curve_without_data_fails_the_file_not_a_nan_column(tmp_path):
    text = (FIX / "good.las").read_text().replace(" NPHI.%     : Neutron porosity\n",
                                                  " NPHI.%     : Neutron porosity\n"
                                                  " PEF .B/E   : Photoelectric factor\n")
    path = tmp_path / "excess.las"
    path.write_text(text)
    with pytest.raises(InputError, match="PEF.*no data"):
        load_well("W", [path])
