import numpy as np
import pytest
from hypothesis import given, strategies as st

from petro.errors import UnitError
from petro.mnemonics import AliasTable
from petro.units import to_canonical


@pytest.mark.parametrize("unit,value,expect", [("ft", 1.0, 0.3048), ("F", 10.0, 3.048),
                                                ("m", 2.5, 2.5), ("M", 2.5, 2.5)])
def test_depth_units(unit, value, expect):
    v, u, _ = to_canonical(np.array([value]), "depth", unit)
    assert u == "m" and v[0] == pytest.approx(expect)


@pytest.mark.parametrize("unit", ["%", "pu", "P.U.", "PU"])
def test_percent_porosity(unit):
    v, u, notes = to_canonical(np.array([25.0]), "fraction", unit, name="TNPH")
    assert u == "v/v" and v[0] == pytest.approx(0.25) and notes


def test_blank_porosity_unit_is_decided_from_values_and_reported():
    v, _, notes = to_canonical(np.array([12.0, 20.0, 31.0]), "fraction", "", name="MPHI")
    assert v.max() == pytest.approx(0.31)
    assert "p.u." in notes[0]
    v, _, notes = to_canonical(np.array([0.12, 0.2]), "fraction", "", name="MPHI")
    assert v.max() == pytest.approx(0.2) and "v/v" in notes[0]


def test_slowness_density_spellings():
    assert to_canonical(np.array([328.084]), "slowness", "us/m")[0][0] == pytest.approx(100.0, rel=1e-5)
    for u in ("g/cc", "G/C3", "gm/cc", "g/cm3"):
        assert to_canonical(np.array([2.5]), "density", u)[0][0] == 2.5
    assert to_canonical(np.array([2500.0]), "density", "K/M3")[0][0] == pytest.approx(2.5)


def test_unknown_unit_strict_raises_warn_keeps():
    with pytest.raises(UnitError, match="RHOB"):
        to_canonical(np.array([1.0]), "density", "furlongs", name="RHOB")
    v, u, notes = to_canonical(np.array([1.0]), "density", "furlongs", name="RHOB", policy="warn")
    assert v[0] == 1.0 and "unconverted" in notes[0]


@given(st.floats(min_value=-1e5, max_value=1e5, allow_nan=False))
def test_feet_round_trip(x):
    v, _, _ = to_canonical(np.array([x]), "depth", "ft")
    assert v[0] / 0.3048 == pytest.approx(x, rel=1e-12, abs=1e-9)


def test_aliases():
    t = AliasTable()
    assert t.canonical("RHOZ")[0] == "RHOB"
    assert t.canonical("cmff")[0] == "FFI"
    assert t.canonical("MBVI")[0] == "BVI"
    assert t.canonical("TCMR")[0] == "TCMR"
    assert t.canonical("CMRP_3MS")[0] == "PHIE_NMR"
    assert t.canonical("GR:1")[0] == "GR"
    assert t.canonical("XYZ") is None
    t2 = AliasTable({"GR": {"quantity": "gamma", "aliases": ["MYGR"]}})
    assert t2.canonical("MYGR")[0] == "GR"
