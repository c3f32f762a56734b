import numpy as np
import pandas as pd
import pytest

from petro.errors import ConfigError, InputError
from petro.problems import Severity
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
    t, rep, _ = compute_targets(w, TargetParams(min_perm=1e-4))
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
    t, rep, _ = compute_targets(w, TargetParams(lithology="carbonate"))
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


def _ktim_agreement(t):
    """Share of KTIM > 0.001 mD samples within 0.01 decade of petro's PERM (a sample petro masks
    counts as a disagreement) and the median log10 difference where petro gives a PERM."""
    ktim = t["KTIM"].to_numpy()
    sel = ktim > 0.001
    both = sel & t["VALID"].to_numpy()
    diff = np.full(len(t), np.nan)
    diff[both] = np.log10(t["PERM"].to_numpy()[both]) - np.log10(ktim[both])
    return sel, both, diff, float((np.abs(diff[sel]) <= 0.01).mean()), float(np.median(diff[both]))


def test_real_cmr_default_settings_reproduce_vendor_ktim():
    """JB 11-6TFH CMR with DEFAULT target settings against Schlumberger's KTIM: phi = TCMR (the
    perm_porosity default), BVI = BFV (the curve), C = 10, and the convention read from KTIM: BVI
    >= 0.02 v/v, FFI = TCMR - BVI. Measured over KTIM > 0.001 mD: 93.8 % within 0.01 decade
    (KTIM is written to 0.0001 mD), median -0.0001 decade; the textbook relation without the
    floor (convention: fixed) gave 44.7 % and +0.030, the effective-porosity phi 3.4 % and
    -0.08."""
    from petro.io.wells import load_well

    w = load_well("JB", [real_file("nmr/JB_11-6TFH_CMR.las")])
    t, rep, problems = compute_targets(w)
    assert rep["perm_porosity"] == "total" and rep["source"] == "summary curves (BVI: curve)"
    assert rep["convention"] == {"bvi_floor": 0.02, "ffi": "phi_minus_bvi", "phi": "total",
                                 "bvi": "curve", "source": "KTIM"}
    assert problems == []
    sel, both, diff, share, median = _ktim_agreement(t)
    assert sel.sum() > 1500
    assert share >= 0.90
    assert abs(median) <= 0.001
    # the porosity TARGET stays effective (CMRP_3MS), not the TCMR used in the transform
    valid = t["VALID"].to_numpy()
    assert np.allclose(t["PHIE"].to_numpy()[valid], w.curves["PHIE_NMR"].to_numpy()[valid])
    # petro's target is the formula with the file's curves and the vendor's floor wherever it
    # is valid and not clipped to [min_perm, max_perm]; the textbook one with convention: fixed
    phi, ffi, bfv = (w.curves[k].to_numpy() for k in ("TCMR", "FFI", "BVI"))
    inside = valid & (t["FLAG"].to_numpy() == "")
    b = np.maximum(bfv, 0.02)
    assert np.allclose(t["PERM"].to_numpy()[inside],
                       1e4 * phi[inside] ** 4 * ((phi[inside] - b[inside]) / b[inside]) ** 2)
    t_tb, _, problems = compute_targets(w, TargetParams(convention="fixed"))
    valid = t_tb["VALID"].to_numpy()
    inside = valid & (t_tb["FLAG"].to_numpy() == "")
    assert np.allclose(t_tb["PERM"].to_numpy()[inside],
                       1e4 * phi[inside] ** 4 * (ffi[inside] / bfv[inside]) ** 2)
    assert 0.40 <= _ktim_agreement(t_tb)[3] < 0.50
    assert [p.code for p in problems] == ["vendor_perm_disagrees"]
    # the old single setting (phi = effective in the transform) is far from the vendor; told
    # so, petro reads the file's own porosity (total) from KTIM and reproduces it, and under
    # convention: fixed keeps the setting and warns
    t_eff, rep_eff, _ = compute_targets(w, TargetParams(perm_porosity="effective"))
    assert rep_eff["convention"] == {"bvi_floor": 0.02, "ffi": "phi_minus_bvi", "phi": "total",
                                 "bvi": "curve", "source": "KTIM"}
    assert rep_eff["vendor"]["after"]["share"] == 1.0 and rep_eff["perm_porosity"] == "total"
    t_eff, rep_eff, problems = compute_targets(w, TargetParams(perm_porosity="effective",
                                                               convention="fixed"))
    assert _ktim_agreement(t_eff)[3] < 0.10 and rep_eff["convention"]["source"] == "settings"
    assert [p.code for p in problems] == ["vendor_perm_disagrees"]
    assert "(BVI floor 0.02 v/v, FFI = phi - BVI, phi = total NMR porosity)" in problems[0].message


def test_real_cmr_tcmr_minus_cmff_bvi_matches_vendor_ktim():
    """BVI = TCMR - CMFF (the relation in SOURCES.md) agrees as well; without the floor
    (convention: fixed) the vendor departs where BVI is small, below 0.02."""
    from petro.io.wells import load_well

    w = load_well("JB", [real_file("nmr/JB_11-6TFH_CMR.las")])
    wide = dict(bvi="total_minus_ffi", min_perm=0.0, max_perm=np.inf)
    t, rep, _ = compute_targets(w, TargetParams(**wide))
    assert rep["vendor"]["after"]["share"] == 1.0 and rep["convention"]["bvi_floor"] == 0.02
    t, rep, _ = compute_targets(w, TargetParams(convention="fixed", **wide))
    sel, both, diff, share, median = _ktim_agreement(t)
    assert share >= 0.40 and abs(median) <= 0.05
    bvi = (w.curves["TCMR"] - w.curves["FFI"]).to_numpy()
    big = both & (bvi > 0.02)
    assert (np.abs(diff[big]) <= 0.01).mean() > 0.85
    assert (np.abs(diff[both & (bvi < 0.02)]) <= 0.01).mean() < 0.05
    assert rep["masked"].get("BVI <= 0", 0) > 0


def test_porosity_target_and_perm_porosity_are_separate_settings():
    # TCMR 0.25, effective 0.20, FFI 0.15, BFV 0.10 (= TCMR - FFI)
    curves = {"TCMR": [0.25], "PHIE_NMR": [0.20], "FFI": [0.15], "BVI": [0.10]}
    t, rep, _ = compute_targets(_well(curves))
    # default: target effective 0.20; k = (25/10)^4 * (0.15/0.10)^2 = 39.0625 * 2.25 = 87.890625
    assert t["PHIE"].iloc[0] == pytest.approx(0.20)
    assert t["PERM"].iloc[0] == pytest.approx(87.890625)
    assert (rep["porosity"], rep["perm_porosity"]) == ("effective", "total")
    # porosity=total changes the TARGET only
    t, _, _ = compute_targets(_well(curves), TargetParams(porosity="total"))
    assert t["PHIE"].iloc[0] == pytest.approx(0.25)
    assert t["PERM"].iloc[0] == pytest.approx(87.890625)
    # perm_porosity=effective changes the transform only: (20/10)^4 * 1.5^2 = 36
    t, _, _ = compute_targets(_well(curves), TargetParams(perm_porosity="effective"))
    assert t["PHIE"].iloc[0] == pytest.approx(0.20)
    assert t["PERM"].iloc[0] == pytest.approx(36.0)
    # SDR uses perm_porosity too: 4 * 0.25^4 * 100^2 = 156.25
    t, _, _ = compute_targets(_well({**curves, "T2LM": [100.0]}), TargetParams(permeability="sdr"))
    assert t["PERM"].iloc[0] == pytest.approx(156.25)


def test_default_bvi_is_the_curve_else_tcmr_minus_ffi():
    # no BVI curve: BVI = TCMR - FFI = 0.12 (not effective - FFI = 0.05)
    t, rep, _ = compute_targets(_well({"TCMR": [0.27], "PHIE_NMR": [0.20], "FFI": [0.15]}))
    assert t["BVI"].iloc[0] == pytest.approx(0.12)
    # (27/10)^4 * (0.15/0.12)^2 = 53.1441 * 1.5625 = 83.03765625
    assert t["PERM"].iloc[0] == pytest.approx(83.03765625)
    assert rep["source"] == "summary curves (BVI: total_minus_ffi)"
    # a BVI curve wins when present
    t, _, _ = compute_targets(_well({"TCMR": [0.27], "PHIE_NMR": [0.20], "FFI": [0.15],
                                  "BVI": [0.10]}))
    assert t["BVI"].iloc[0] == pytest.approx(0.10)


def test_without_total_porosity_the_transform_uses_effective_with_a_warning():
    t, rep, problems = compute_targets(_well({"PHIE_NMR": [0.20], "FFI": [0.15], "BVI": [0.05]}))
    assert t["PERM"].iloc[0] == pytest.approx(144.0)
    assert rep["perm_porosity"] == "effective"
    # the fallback is a warning record naming the well, not a string in the report
    assert [(p.severity, p.code, p.well) for p in problems] == \
        [(Severity.WARNING, "target_fallback", "W")]
    assert "no total NMR porosity" in problems[0].message
    assert "warnings" not in rep and "no total NMR porosity" in " ".join(rep["notes"])
    with pytest.raises(InputError, match="porosity=total"):
        compute_targets(_well({"PHIE_NMR": [0.20], "FFI": [0.15], "BVI": [0.05]}),
                        TargetParams(porosity="total"))
    with pytest.raises(ConfigError, match="perm_porosity"):
        TargetParams(perm_porosity="apparent")


def test_t2_default_bvi_includes_clay_bound_and_phi_is_total():
    # 0.02 clay-bound below 3 ms, 0.05 between 3 and 30 ms, 0.15 above 300 ms
    edges = np.logspace(np.log10(0.3), np.log10(3000), 41)
    centres = np.sqrt(edges[:-1] * edges[1:])
    amp = np.zeros((1, 40))
    amp[0, centres < 3] = 0.02 / 10
    amp[0, (centres > 3) & (centres < 30)] = 0.05 / 10
    amp[0, (centres > 300) & (centres < 3000)] = 0.15 / 10
    t, rep, _ = compute_targets(_well({"GR": [10.0]}, T2Bins(amp, edges)))
    assert t["PHIE"].iloc[0] == pytest.approx(0.20)          # effective target
    assert t["BVI"].iloc[0] == pytest.approx(0.07)           # total - FFI
    # (22/10)^4 * (0.15/0.07)^2 = 23.4256 * 4.591837 = 107.5665
    assert t["PERM"].iloc[0] == pytest.approx(23.4256 * (0.15 / 0.07) ** 2)
    assert rep["source"].endswith("BVI: total_minus_ffi")


def test_percent_porosity_under_a_vv_unit_is_detected_and_reported():
    from petro.well import Provenance

    w = _well({"PHIE_NMR": [20.0, 18.0], "FFI": [15.0, 9.0], "BVI": [5.0, 9.0]})
    w.provenance = {k: Provenance("f.las", k, "V/V") for k in ("PHIE_NMR", "FFI", "BVI")}
    t, rep, _ = compute_targets(w)
    assert t["PHIE"].to_numpy() == pytest.approx([0.20, 0.18])
    assert t["PERM"].iloc[0] == pytest.approx(144.0)
    assert any("p.u." in n and "PHIE_NMR" in n for n in rep["notes"])
    assert w.curves["PHIE_NMR"].iloc[0] == 20.0          # the caller's well is not modified


def test_out_of_range_permeability_is_clipped_and_flagged_or_masked():
    w = _well({"PHIE_NMR": [0.20, 0.02, 0.30], "FFI": [0.15, 0.001, 0.29],
               "BVI": [0.05, 0.019, 0.01]})
    t, rep, _ = compute_targets(w, TargetParams(min_perm=0.01, max_perm=1000.0))
    # 2 p.u. with FFI/BVI = 0.053 -> 4.4e-7 mD; 30 p.u., ratio 29 -> 68,121 mD
    assert t["VALID"].all()
    assert t["PERM"].to_numpy() == pytest.approx([144.0, 0.01, 1000.0])
    assert list(t["FLAG"]) == ["", "clipped to min_perm", "clipped to max_perm"]
    assert rep["clipped"] == {"clipped to min_perm": 1, "clipped to max_perm": 1}
    t2, rep2, _ = compute_targets(w, TargetParams(min_perm=0.01, max_perm=1000.0,
                                               perm_out_of_range="mask"))
    assert list(t2["VALID"]) == [True, False, False]
    assert rep2["masked"] == {"permeability < min_perm": 1, "permeability > max_perm": 1}
