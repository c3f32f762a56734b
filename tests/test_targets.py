import numpy as np
import pandas as pd
import pytest

from petro.errors import ConfigError, InputError
from petro.targets.nmr import (TargetParams, compute_targets, fraction_above, sdr, t2_partition,
                               timur_coates)
from petro.well import T2Bins, Well
from tests.conftest import real_file


def _well(curves: dict, t2=None) -> Well:
    n = len(next(iter(curves.values())))
    df = pd.DataFrame(curves, index=pd.Index(np.arange(n) * 0.1524 + 1000, name="DEPT"))
    return Well("W", df, t2_bins=t2)


def test_timur_coates_hand_computed():
    # phi = 20 p.u., FFI/BVI = 3, C = 10: (20/10)^4 * 3^2 = 144 mD
    k = timur_coates(np.array([0.20]), np.array([0.15]), np.array([0.05]), c=10)
    assert k[0] == pytest.approx(144.0)
    # C = 5 gives 16x more; exponents are parameters
    assert timur_coates(np.array([0.2]), np.array([0.15]), np.array([0.05]), c=5)[0] == \
        pytest.approx(144.0 * 16)
    assert timur_coates(np.array([0.2]), np.array([0.1]), np.array([0.1]), m=2, n=1)[0] == \
        pytest.approx(4.0)


def test_sdr_hand_computed():
    assert sdr(np.array([0.1]), np.array([50.0]), a=4.0)[0] == pytest.approx(4 * 1e-4 * 2500)


def test_fraction_above_interpolates_on_log_t2():
    edges = np.array([1.0, 10.0, 100.0, 1000.0])
    f = fraction_above(edges, 31.6227766)  # half a decade into the second bin
    assert f == pytest.approx([0.0, 0.5, 1.0])


def test_bimodal_t2_split_matches_analytic():
    # two bins-aligned modes: 0.06 v/v between 3 and 30 ms, 0.14 v/v between 300 and 3000 ms,
    # plus 0.02 clay-bound below 3 ms
    edges = np.logspace(np.log10(0.3), np.log10(3000), 41)  # 10 bins per decade
    centres = np.sqrt(edges[:-1] * edges[1:])
    amp = np.zeros((1, 40))
    amp[0, (centres > 3) & (centres < 30)] = 0.06 / 10
    amp[0, (centres > 300) & (centres < 3000)] = 0.14 / 10
    amp[0, centres < 3] = 0.02 / 10
    part = t2_partition(amp, edges, cutoff_ms=92.0, clay_cutoff_ms=3.0)
    assert part["TCMR"][0] == pytest.approx(0.22)
    assert part["PHIE_NMR"][0] == pytest.approx(0.20)
    assert part["FFI"][0] == pytest.approx(0.14)
    assert part["BVI"][0] == pytest.approx(0.06)
    assert part["CBW"][0] == pytest.approx(0.02)
    # a cutoff inside a populated bin takes the log-proportional share of that bin
    # edges sit at log10(0.3) + k/10; a cutoff halfway through bin k=15 leaves 5 whole bins
    # (k=10..14) and half of bin 15 of the 3-30 ms mode below it
    part2 = t2_partition(amp, edges, cutoff_ms=10 ** (np.log10(0.3) + 1.55), clay_cutoff_ms=3.0)
    assert part2["BVI"][0] == pytest.approx(0.006 * 5.5)
    assert part2["FFI"][0] == pytest.approx(0.006 * 4.5 + 0.14)
    # T2LM is the porosity-weighted log mean of the bin centres
    expect = 10 ** (amp[0] @ np.log10(centres) / amp.sum())
    assert part["T2LM"][0] == pytest.approx(expect)


def test_targets_from_curves_and_masking():
    w = _well({"PHIE_NMR": [0.20, 0.0, 0.10, np.nan, 0.15], "FFI": [0.15, 0.0, 0.10, 0.1, 0.05],
               "BVI": [0.05, 0.0, 0.0, 0.1, 0.10]})
    t, rep = compute_targets(w, TargetParams(min_perm=1e-4))
    assert t["PERM"].iloc[0] == pytest.approx(144.0)
    assert list(t["VALID"]) == [True, False, False, False, True]
    assert t["REASON"].iloc[1] == "porosity <= min_porosity"
    assert t["REASON"].iloc[2] == "BVI <= 0"
    assert t["REASON"].iloc[3] == "porosity NULL"
    assert np.isfinite(t.loc[t.VALID, ["PHIE", "LOG10_PERM"]]).all().all()
    assert t.loc[~t.VALID, ["PHIE", "PERM", "LOG10_PERM"]].isna().all().all()
    assert rep["masked"] == {"porosity <= min_porosity": 1, "BVI <= 0": 1, "porosity NULL": 1}


def test_targets_from_t2_distribution_when_no_curves():
    edges = np.logspace(np.log10(0.3), np.log10(3000), 41)
    centres = np.sqrt(edges[:-1] * edges[1:])
    amp = np.zeros((3, 40))
    amp[:, (centres > 3) & (centres < 30)] = 0.05 / 10
    amp[:, (centres > 300) & (centres < 3000)] = 0.15 / 10
    w = _well({"GR": [10.0, 20.0, 30.0]}, T2Bins(amp, edges))
    t, rep = compute_targets(w, TargetParams(lithology="carbonate"))
    assert rep["source"].startswith("T2 distribution")
    # phi = 20 p.u., FFI/BVI = 3 -> 144 mD
    assert t["PERM"].to_numpy() == pytest.approx([144.0] * 3)


def test_lithology_sets_cutoff_and_params_are_checked():
    assert TargetParams(lithology="clastic").cutoff_ms == 33.0
    assert TargetParams().cutoff_ms == 92.0
    assert TargetParams(t2_cutoff_ms=50).as_params()["targets.t2_cutoff_ms"] == 50.0
    with pytest.raises(ConfigError):
        TargetParams(lithology="basalt")
    with pytest.raises(ConfigError):
        TargetParams(t2_cutoff_ms=2.0)


def test_no_nmr_is_a_clear_error():
    with pytest.raises(InputError, match="no NMR"):
        compute_targets(_well({"GR": [1.0, 2.0]}))


def test_real_cmr_timur_coates_matches_vendor_ktim():
    """JB 11-6TFH CMR: phi = TCMR, BVI = TCMR - CMFF, C = 10 against Schlumberger's KTIM.

    Where petro masks a sample (BVI <= 0) it counts as a disagreement; the median difference is
    taken over the samples where petro gives a permeability.
    """
    from petro.io.wells import load_well

    w = load_well("JB", [real_file("nmr/JB_11-6TFH_CMR.las")])
    t, rep = compute_targets(w, TargetParams(porosity="total", bvi="total_minus_ffi", coates_c=10,
                                             min_perm=0.0, max_perm=np.inf))
    ktim = t["KTIM"].to_numpy()
    sel = ktim > 0.001
    valid = t["VALID"].to_numpy()
    diff = np.full(len(t), np.nan)
    both = sel & valid
    diff[both] = np.log10(t["PERM"].to_numpy()[both]) - np.log10(ktim[both])
    close = np.abs(diff[sel]) <= 0.01          # NaN (masked by petro) is not close
    assert sel.sum() > 1500
    assert close.mean() >= 0.40
    assert abs(np.median(diff[both])) <= 0.05
    # agreement is near-total where BVI is at least 2 p.u.; the vendor departs below that
    bvi = (w.curves["TCMR"] - w.curves["FFI"]).to_numpy()
    big = both & (bvi > 0.02)
    assert (np.abs(diff[big]) <= 0.01).mean() > 0.85
    # petro's target is the textbook formula wherever it is valid
    phi, ffi = w.curves["TCMR"].to_numpy(), w.curves["FFI"].to_numpy()
    assert np.allclose(t["PERM"].to_numpy()[valid], (1e4 * phi ** 4 * (ffi / bvi) ** 2)[valid])
    assert rep["masked"].get("BVI <= 0", 0) > 0


def test_percent_porosity_under_a_vv_unit_is_detected_and_reported():
    from petro.well import Provenance

    w = _well({"PHIE_NMR": [20.0, 18.0], "FFI": [15.0, 9.0], "BVI": [5.0, 9.0]})
    w.provenance = {k: Provenance("f.las", k, "V/V") for k in ("PHIE_NMR", "FFI", "BVI")}
    t, rep = compute_targets(w)
    assert t["PHIE"].to_numpy() == pytest.approx([0.20, 0.18])
    assert t["PERM"].iloc[0] == pytest.approx(144.0)
    assert any("p.u." in n and "PHIE_NMR" in n for n in rep["notes"])
    assert w.curves["PHIE_NMR"].iloc[0] == 20.0          # the caller's well is not modified


def test_out_of_range_permeability_is_clipped_and_flagged_or_masked():
    w = _well({"PHIE_NMR": [0.20, 0.02, 0.30], "FFI": [0.15, 0.001, 0.29],
               "BVI": [0.05, 0.019, 0.01]})
    t, rep = compute_targets(w, TargetParams(min_perm=0.01, max_perm=1000.0))
    # 2 p.u. with FFI/BVI = 0.053 -> 4.4e-7 mD; 30 p.u., ratio 29 -> 68,121 mD
    assert t["VALID"].all()
    assert t["PERM"].to_numpy() == pytest.approx([144.0, 0.01, 1000.0])
    assert list(t["FLAG"]) == ["", "clipped to min_perm", "clipped to max_perm"]
    assert rep["clipped"] == {"clipped to min_perm": 1, "clipped to max_perm": 1}
    t2, rep2 = compute_targets(w, TargetParams(min_perm=0.01, max_perm=1000.0,
                                               perm_out_of_range="mask"))
    assert list(t2["VALID"]) == [True, False, False]
    assert rep2["masked"] == {"permeability < min_perm": 1, "permeability > max_perm": 1}
