"""The vendor's permeability curve as evidence of its Timur-Coates convention (issue 23.1).

Synthetic wells whose vendor curve is made with a known BVI floor and FFI rule, the real JB
11-6TFH CMR well (Schlumberger KTIM) and the real MRIL wells (Halliburton MPERM)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from petro.errors import ConfigError
from petro.problems import Severity
from petro.targets.nmr import TargetParams, compute_targets
from petro.targets.vendor import Convention, agreement, implied_bvi, read_floor
from petro.well import Provenance, Well
from tests.conftest import real_file


def _vendor_tc(tcmr, bvi, ffi, floor, rule):
    """The vendor's Timur-Coates (C = 10, phi = TCMR in p.u.), written to 4 decimals in mD like
    a vendor LAS (F11.4); a negative free fluid gives 0."""
    b = np.maximum(bvi, floor)
    f = tcmr - b if rule == "phi_minus_bvi" else ffi
    k = (tcmr * 100 / 10) ** 4 * (np.clip(f, 0, None) / b) ** 2
    return np.round(k, 4)


def _well(n=300, floor=0.035, rule="phi_minus_bvi", seed=3, vendor=True, name="V-1") -> Well:
    rng = np.random.default_rng(seed)
    tcmr = rng.uniform(0.015, 0.25, n)
    bvi = rng.uniform(0.004, 0.09, n) * tcmr / 0.25 + 0.002        # many below 0.035
    ffi = np.clip(tcmr - bvi - 0.004, 0.0, None)                    # CMFF: not TCMR - BFV
    cbw = np.minimum(rng.uniform(0.0, 0.03, n), 0.5 * tcmr)         # clay-bound water
    curves = {"TCMR": tcmr, "PHIE_NMR": tcmr - cbw, "BVI": bvi, "FFI": ffi}
    if vendor:
        curves["KTIM"] = _vendor_tc(tcmr, bvi, ffi, floor, rule)
    df = pd.DataFrame(curves, index=pd.Index(1000 + np.arange(n) * 0.1524, name="DEPT"))
    prov = {k: Provenance("v.las", k, "V/V") for k in curves}
    return Well(name, df, provenance=prov)


def _textbook(w: Well, floor: float, rule: str) -> np.ndarray:
    c = w.curves
    b = np.maximum(c["BVI"].to_numpy(), floor)
    f = np.clip(c["TCMR"].to_numpy() - b, 0, None) if rule == "phi_minus_bvi" else \
        c["FFI"].to_numpy()
    return 1e4 * c["TCMR"].to_numpy() ** 4 * (f / b) ** 2


@pytest.mark.parametrize("floor, rule", [(0.035, "phi_minus_bvi"), (0.03, "measured"),
                                         (0.0125, "phi_minus_bvi")])
def test_auto_reads_a_known_floor_and_ffi_rule_from_the_vendor_curve(floor, rule):
    w = _well(floor=floor, rule=rule)
    t, rep, problems = compute_targets(w)
    assert rep["convention"] == {"bvi_floor": floor, "ffi": rule, "phi": "total",
                                 "bvi": "curve", "source": "KTIM"}
    v = rep["vendor"]
    assert v["after"]["share"] == 1.0 and v["after"]["n"] >= 250
    assert v["before"]["share"] < 0.85          # the settings (no floor, FFI measured) do not
    assert problems == []
    inside = t["VALID"].to_numpy() & (t["FLAG"] == "").to_numpy()
    np.testing.assert_allclose(t["PERM"].to_numpy()[inside], _textbook(w, floor, rule)[inside],
                               rtol=1e-12)
    # the BVI column is the one the transform used: raised to the floor
    assert t["BVI"].min() == pytest.approx(floor)
    if rule == "phi_minus_bvi":
        # where the floor is above TCMR there is no free fluid: k = 0, the vendor's 0, kept in
        # training at min_perm (flagged), not masked
        tight = (w.curves["TCMR"] - np.maximum(w.curves["BVI"], floor) < 0).to_numpy()
        assert tight.sum() > (10 if floor > 0.03 else -1)     # TCMR from 0.015 v/v
        assert (t["FFI"].to_numpy()[tight] == 0).all()
        assert (t["FLAG"].to_numpy()[tight] == "clipped to min_perm").all()


def test_no_vendor_curve_keeps_the_settings_bit_for_bit():
    w = _well(vendor=False)
    t, rep, problems = compute_targets(w)
    assert rep["vendor"] is None and problems == []
    assert rep["convention"] == {"bvi_floor": 0.0, "ffi": "measured", "phi": "total",
                                 "bvi": "curve", "source": "settings"}
    c = w.curves
    timur = ((c["TCMR"] * 100 / 10) ** 4 * (c["FFI"] / c["BVI"]) ** 2).to_numpy()
    valid = t["VALID"].to_numpy()
    assert np.array_equal(t["PERM"].to_numpy()[valid], timur[valid])
    assert np.array_equal(t["BVI"].to_numpy(), c["BVI"].to_numpy())


def test_a_vendor_curve_made_as_petro_makes_it_keeps_the_settings():
    # the synthetic field's KTIM: no floor, FFI as measured (CMFF)
    w = _well(floor=0.0, rule="measured")
    _, rep, problems = compute_targets(w)
    assert rep["convention"]["source"] == "settings"
    assert rep["vendor"]["before"]["share"] == rep["vendor"]["after"]["share"] == 1.0
    assert problems == []


def test_an_explicit_setting_is_honoured_and_its_low_agreement_is_a_warning():
    w = _well(floor=0.035, rule="phi_minus_bvi")
    p = TargetParams(convention="fixed")                # no floor, FFI measured, on every well
    t, rep, problems = compute_targets(w, p)
    assert rep["convention"] == {"bvi_floor": 0.0, "ffi": "measured", "phi": "total",
                                 "bvi": "curve", "source": "settings"}
    v = rep["vendor"]
    assert v["after"] == v["before"] and v["after"]["share"] < 0.85
    assert v["best"] == {"bvi_floor": 0.035, "ffi": "phi_minus_bvi", "phi": "total",
                         "bvi": "curve"}
    assert v["best_agreement"]["share"] == 1.0
    inside = t["VALID"].to_numpy() & (t["FLAG"] == "").to_numpy()
    np.testing.assert_allclose(t["PERM"].to_numpy()[inside],
                               _textbook(w, 0.0, "measured")[inside], rtol=1e-12)
    [pr] = problems
    assert (pr.severity, pr.code, pr.well) == (Severity.WARNING, "vendor_perm_disagrees", "V-1")
    assert "BVI floor 0.035 v/v, FFI = phi - BVI" in pr.message and "100.0%" in pr.message
    # an explicit setting that matches the vendor: no warning
    good = TargetParams(convention="fixed", bvi_floor=0.035, ffi="phi_minus_bvi")
    _, rep, problems = compute_targets(w, good)
    assert rep["vendor"]["after"]["share"] == 1.0 and problems == []


def test_too_few_vendor_depths_compare_but_do_not_choose():
    w = _well(n=8, floor=0.035)
    _, rep, _ = compute_targets(w)
    assert rep["convention"]["source"] == "settings"
    assert rep["vendor"]["after"]["n"] <= 8


def test_convention_settings_are_checked_and_logged():
    with pytest.raises(ConfigError, match="convention"):
        TargetParams(convention="vendor")
    with pytest.raises(ConfigError, match="ffi"):
        TargetParams(ffi="curve")
    with pytest.raises(ConfigError, match="bvi_floor"):
        TargetParams(bvi_floor=-0.01)
    with pytest.raises(ConfigError, match="bvi_floor"):
        TargetParams(bvi_floor=0.6)
    params = TargetParams(bvi_floor=0.02).as_params()
    assert (params["targets.convention"], params["targets.bvi_floor"], params["targets.ffi"]) == \
        ("auto", 0.02, "measured")


def test_implied_bvi_inverts_timur_coates_and_the_floor_is_read_from_it():
    phi = np.array([0.20, 0.10, 0.05, 0.15])
    bvi = np.array([0.05, 0.01, 0.004, 0.03])
    k = (phi * 10) ** 4 * ((phi - np.maximum(bvi, 0.02)) / np.maximum(bvi, 0.02)) ** 2
    implied = implied_bvi(k, phi, None, "phi_minus_bvi", c=10, m=4, n=2)
    np.testing.assert_allclose(implied, np.maximum(bvi, 0.02))
    assert read_floor(implied, bvi) is None                # two raised depths are not enough
    assert read_floor(np.r_[implied, 0.02], np.r_[bvi, 0.001]) == 0.02
    a = agreement(np.array([1.0, 1.02, np.nan, 5.0]), np.array([1.0, 1.0, 2.0, 0.001]))
    assert (a.n, a.share) == (3, pytest.approx(2 / 3))     # masked counts against, < 0.01 mD out
    assert a.median_dec == pytest.approx(np.log10(1.02) / 2)
    assert Convention(0.02, "phi_minus_bvi").describe() == "BVI floor 0.02 v/v, FFI = phi - BVI"


def test_real_cmr_defaults_reproduce_schlumberger_ktim():
    """JB 11-6TFH: the textbook relation on BFV matched KTIM at 41 % of the depths with KTIM >=
    0.01 mD (median +0.28 decade: too permeable in the best rock); the file's own convention
    (BVI floor 0.02, FFI = TCMR - BVI), read from KTIM, matches it at every one."""
    from petro.io.wells import load_well

    w = load_well("JB", [real_file("nmr/JB_11-6TFH_CMR.las")])
    t, rep, problems = compute_targets(w)
    v = rep["vendor"]
    assert rep["convention"] == {"bvi_floor": 0.02, "ffi": "phi_minus_bvi", "phi": "total",
                                 "bvi": "curve", "source": "KTIM"}
    assert v["after"]["n"] > 1000
    assert v["after"]["share"] >= 0.95
    assert abs(v["after"]["median_dec"]) < 0.002
    assert 0.35 < v["before"]["share"] < 0.45 and v["before"]["median_dec"] > 0.2
    assert problems == []


@pytest.mark.parametrize("rule, floor, bvi", [("measured", 0.0, "curve"),
                                              ("measured", 0.02, "curve"),
                                              ("phi_minus_bvi", 0.02, "curve"),
                                              ("phi_minus_bvi", 0.02, "effective_minus_ffi")])
def test_a_vendor_curve_made_with_the_effective_porosity_is_read(rule, floor, bvi):
    """Vendors differ in which NMR porosity is phi and which BVI they floor: the real JB well
    with its KTIM remade from its own CMRP_3MS (the effective porosity) instead of TCMR, with
    the BFV curve or with CMRP_3MS - CMFF as BVI, as another vendor or software version writes
    it. Read with the total porosity and the BFV curve only, no floor or FFI rule explained it
    (4-33 % of the depths within 0.01 decade); the file's porosity and BVI are read too, and the
    targets reproduce it at 99.8-100 % of the depths."""
    from petro.io.wells import load_well

    w = load_well("JB", [real_file("nmr/JB_11-6TFH_CMR.las")])
    c = w.curves
    phi = c["PHIE_NMR"].to_numpy()
    b = c["BVI"].to_numpy() if bvi == "curve" else phi - c["FFI"].to_numpy()
    b = np.maximum(b, floor)
    ffi = c["FFI"].to_numpy() if rule == "measured" else np.clip(phi - b, 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = (phi * 100 / 10) ** 4 * (ffi / b) ** 2
    w.curves["KTIM"] = np.where(np.isfinite(c["KTIM"]), np.round(k, 4), np.nan)
    t, rep, problems = compute_targets(w)
    v = rep["vendor"]
    assert rep["convention"] == {"bvi_floor": floor, "ffi": rule, "phi": "effective",
                                 "bvi": bvi, "source": "KTIM"}
    assert v["before"]["share"] < 0.35 and v["after"]["share"] >= 0.995 and problems == []
    assert rep["perm_porosity"] == "effective"
    inside = t["VALID"].to_numpy() & (t["FLAG"] == "").to_numpy()
    np.testing.assert_allclose(t["PERM"].to_numpy()[inside], k[inside], rtol=1e-9)
    np.testing.assert_allclose(t["BVI"].to_numpy()[inside], b[inside])   # the BVI it used


def test_real_mril_wells_are_compared_and_reported():
    """CHEVRON's MPERM follows Timur-Coates on its MPHI / MBVI / MFFI at 44 % of the depths
    (median -0.012 decade, the vendor higher where BVI is small); no floor or FFI rule does
    better, so the settings stay and a note says so. B2 has no vendor NMR permeability (its
    CPERM does not follow Timur-Coates on its MRIL curves): nothing is compared."""
    from petro.io.wells import load_well

    w = load_well("CHEVRON", [real_file("mril/CHEVRON.LAS")])
    _, rep, problems = compute_targets(w)
    v = rep["vendor"]
    assert v["original"] == "MPERM" and rep["convention"]["source"] == "settings"
    assert v["after"]["n"] > 1500 and 0.40 < v["after"]["share"] < 0.50
    notes = [p for p in problems if p.code == "vendor_perm_disagrees"]
    assert [p.severity for p in notes] == [Severity.INFO] and "MPERM" in notes[0].message
    b2 = load_well("B2", [real_file("mril/B2.LAS")])
    _, rep, _ = compute_targets(b2)
    assert rep["vendor"] is None


def test_a_vendor_curve_that_differs_for_another_reason_is_not_explained_away_by_a_floor():
    """The vendor used C = 10; petro is told C = 9 (every depth +0.18 decade): no floor or FFI
    rule explains that, so the settings stay and a note says the vendor used other inputs."""
    w = _well(floor=0.0, rule="measured")
    _, rep, problems = compute_targets(w, TargetParams(coates_c=9.0))
    v = rep["vendor"]
    assert rep["convention"]["source"] == "settings" and v["after"]["share"] < 0.05
    assert v["after"]["median_dec"] == pytest.approx(4 * np.log10(10 / 9), abs=1e-3)
    [note] = problems
    assert note.severity == Severity.INFO and "explains the difference" in note.message
    # the rule: a convention read from the file must at least halve the depths that disagree
    from petro.targets.vendor import Agreement, explains

    assert explains(Agreement(100, 0.41, 0.2), Agreement(100, 1.0, 0.0))
    assert not explains(Agreement(100, 0.01, 0.2), Agreement(100, 0.03, 0.0))
    assert not explains(Agreement(100, 0.98, 0.0), Agreement(100, 0.985, 0.0))


def test_sdr_is_compared_with_the_vendor_sdr_curve_only():
    """With SDR, KSDR is the vendor curve: compared and reported, no Timur-Coates convention."""
    w = _well(vendor=False)
    c = w.curves
    c["T2LM"] = np.linspace(5.0, 400.0, len(c))
    c["KSDR"] = np.round(4.0 * c["TCMR"] ** 4 * c["T2LM"] ** 2, 4)
    _, rep, problems = compute_targets(w, TargetParams(permeability="sdr"))
    assert rep["convention"] is None and problems == []
    assert rep["vendor"]["curve"] == "KSDR" and rep["vendor"]["after"]["share"] == 1.0
    _, rep, problems = compute_targets(w, TargetParams(permeability="sdr", sdr_a=2.0))
    [note] = problems
    assert "(SDR)" in note.message and rep["vendor"]["after"]["share"] == 0.0
