"""Issue 23.3: every input curve gets the whole-well level test, cross-log relation or not; the
cross-log fit works with two curves; a diagnosis cites only relations between curves the well
reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from petro.models.consistency import UNPINNED_TOLERANCE, fit_consistency, fit_levels
from petro.models.diagnosis import diagnose, related
from petro.models.runtime import Bundle
from petro.models.spec import ModelSpec
from petro.models.train import fit_bundle, sklearn_estimator
from petro.models.trust import trust_meta


def _well(rng, name: str, n: int = 300, phi_mean: float = 0.15, rt: bool = False,
          rhob: bool = False) -> pd.DataFrame:
    """A well of GR and NPHI (a shaly carbonate: the neutron reads porosity plus shale)."""
    vsh = np.clip(rng.beta(1.2, 12.0, n), 0, 1)
    phi = np.clip(phi_mean + 0.01 * rng.standard_normal(n), 0.01, 0.35)
    t = pd.DataFrame({"WELL": name, "GR": 20 + 120 * vsh + rng.normal(0, 3, n),
                      "NPHI": phi + 0.1 * vsh + rng.normal(0, 0.005, n), "PHIE": phi})
    if rt:
        t["LOG10_RT"] = 1.6 - 4.0 * phi + rng.normal(0, 0.05, n)
    if rhob:
        t["RHOB"] = 2.71 - 1.71 * phi - 0.1 * vsh + rng.normal(0, 0.01, n)
    return t


def _bundle(train: pd.DataFrame, feats: list[str]) -> Bundle:
    """A porosity model of ``feats`` with its trust metadata, as training makes it."""
    spec = ModelSpec(name="t", target="porosity", params={"n_estimators": 30})
    b = fit_bundle(train[feats].to_numpy(float), train["PHIE"].to_numpy(float), feats, spec,
                   novelty_thresholds={"logs": 3.0})
    imp = pd.Series(b.boosters["p50"].feature_importance("gain"), index=b.model_features)
    return Bundle({**b.meta, **trust_meta(train, feats, imp, [], 0.95)}, b.boosters)


@pytest.fixture(scope="module")
def field():
    rng = np.random.default_rng(5)
    means = [0.15, 0.152, 0.148, 0.151, 0.149]   # wells whose porosity levels agree
    return [_well(rng, f"W{i}", phi_mean=m) for i, m in enumerate(means)]


def test_two_curves_make_a_cross_log_fit(field):
    train = pd.concat(field[:4], ignore_index=True)
    cons = fit_consistency(train, ["GR", "NPHI"], train["WELL"].to_numpy())
    assert [m["target"] for m in cons["curves"]] == ["NPHI", "GR"]
    assert cons["curves"][0]["inputs"] == ["GR"]
    assert fit_consistency(train, ["GR"], train["WELL"].to_numpy()) == {}   # one curve: none


def test_level_threshold_lets_every_training_well_in(field):
    """Each curve's threshold is 3 x the largest distance of a training well left out (at least
    2 spreads), so no training well, left out, would be flagged; a curve fewer than three
    training wells have is not tested."""
    train = pd.concat(field[:4], ignore_index=True)
    sp = np.where(train["WELL"].isin(["W0", "W1"]), rng_sp(len(train)), np.nan)
    lev = fit_levels(train.assign(SP=sp), ["GR", "NPHI", "SP"], train["WELL"].to_numpy())
    whole = [c for c in lev["curves"] if "shale" not in c]
    assert [c["curve"] for c in whole] == ["GR", "NPHI"]
    assert [c["curve"] for c in lev["curves"] if "shale" in c] == ["NPHI"]   # its shale point
    for c in whole:
        for w, g in train.groupby("WELL"):
            rest = train[train["WELL"] != w][c["curve"]]
            spread = 1.4826 * np.median(np.abs(rest - rest.median()))
            z = abs(g[c["curve"]].median() - rest.median()) / spread
            floor = UNPINNED_TOLERANCE[c["curve"]] / c["scale"] if c["curve"] == "NPHI" else 2.0
            assert z <= c["threshold"] / 3 + 1e-9 or c["threshold"] == pytest.approx(floor)


def rng_sp(n: int) -> np.ndarray:
    return np.random.default_rng(4).normal(-20, 4, n)


def test_shifted_neutron_without_density_is_flagged_and_named(field):
    """The JB case: GR and NPHI only. The neutron of a blind well read 0.05 v/v high is flagged at
    every depth as one well and named; the genuine blind well is not flagged."""
    b = _bundle(pd.concat(field[:4], ignore_index=True), ["GR", "NPHI"])
    blind = field[4][["GR", "NPHI"]]
    genuine = b.predict(blind, well=True)
    assert genuine["WELL_NOVELTY"].iloc[0] < 1.0 and genuine["OOD_FLAG"].mean() <= 0.1
    assert diagnose(genuine, b.meta["consistency"], blind) == ""
    shifted = blind.assign(NPHI=blind["NPHI"] + 0.05)
    out = b.predict(shifted, well=True)
    assert (out["OOD_FLAG"] == 1).all()
    assert out["WELL_NOVELTY"].iloc[0] > 1.0
    assert b.level_term(b.matrix(shifted), well=True)[0] > 1.0   # the level test alone
    assert diagnose(out, b.meta["consistency"], shifted).startswith("NPHI reads about")
    # rows taken one by one: no whole-well test
    assert np.isnan(b.predict(shifted)["WELL_NOVELTY"]).all()


def _shaly_well(rng, name: str, phi_mean: float, n: int = 300) -> pd.DataFrame:
    """A well of clean limestone (porosity ``phi_mean``) and shale beds (a fifth of the rows):
    the neutron reads the porosity in the clean rock and the shale's hydrogen index (0.30)
    in the shale, the GR the shale volume."""
    vsh = np.where(rng.random(n) < 0.2, rng.uniform(0.8, 1.0, n), rng.uniform(0.0, 0.1, n))
    phi = np.clip(phi_mean + 0.02 * rng.standard_normal(n), 0.01, 0.35)
    return pd.DataFrame({"WELL": name, "GR": 20 + 120 * vsh + rng.normal(0, 3, n),
                         "NPHI": phi * (1 - vsh) + 0.30 * vsh + rng.normal(0, 0.005, n),
                         "PHIE": phi * (1 - vsh)})


def test_shale_point_catches_a_neutron_shift_the_whole_well_level_cannot():
    """Wells whose porosity differs (median neutron 0.08 to 0.16 v/v: as much as a 0.05 shift)
    but whose shales agree: the whole-well median test lets a neutron read 0.05 v/v high pass,
    the shale-point test (the neutron in the well's high-GR rows) flags it and names the
    neutron in its shale; the genuine well passes both."""
    rng = np.random.default_rng(8)
    train = pd.concat([_shaly_well(rng, f"W{i}", m) for i, m in
                       enumerate([0.08, 0.16, 0.11, 0.14])], ignore_index=True)
    lev = fit_levels(train, ["GR", "NPHI"], train["WELL"].to_numpy())
    b = Bundle({"features": ["GR", "NPHI"], "consistency": {"levels": lev}}, {})
    blind = _shaly_well(rng, "B", 0.12)[["GR", "NPHI"]]
    shifted = blind.assign(NPHI=blind["NPHI"] + 0.05)
    assert b.level_term(blind.to_numpy(float), well=True)[0] < 1.0
    assert b.level_term(shifted.to_numpy(float), well=True)[0] > 1.0
    median_only = Bundle({"features": ["GR", "NPHI"], "consistency": {"levels": {
        **lev, "curves": [c for c in lev["curves"] if "shale" not in c]}}}, {})
    assert median_only.level_term(shifted.to_numpy(float), well=True)[0] < 1.0
    text = diagnose(pd.DataFrame(index=shifted.index), b.meta["consistency"], shifted)
    assert text.startswith("NPHI reads about 0.34") and "v/v in the well's shale" in text
    assert diagnose(pd.DataFrame(index=blind.index), b.meta["consistency"], blind) == ""
    # with a density, the neutron and the density are both tested at their shale point too
    # (on fields whose shales agree it catches what their relation misses); the density's
    # threshold there is floored at twice its accuracy (0.05 g/cm3: a second test of a curve
    # its relation checks too), not at the shale rows' spread
    dens = train.assign(RHOB=2.71 - 1.7 * train["PHIE"])
    shale = [c for c in fit_levels(dens, ["GR", "NPHI", "RHOB"], dens["WELL"].to_numpy())["curves"]
             if "shale" in c]
    assert [c["curve"] for c in shale] == ["NPHI", "RHOB"]
    assert shale[1]["threshold"] * shale[1]["scale"] >= 0.05 - 1e-12


def test_unpinned_neutron_floor_is_its_accuracy_not_the_porosity_range():
    """Wells alike in neutron level (medians within 0.005 v/v) over a wide porosity range
    (robust spread of the neutron about 0.09 v/v): without a density or sonic, the neutron's
    level threshold is 3 x the training wells' own differences, floored at the tool's
    accuracy (0.02 v/v), so a neutron read 0.05 v/v high is flagged and the genuine well is
    not; two spreads (0.18 v/v, the floor of a neutron the density pins) would hide it."""
    rng = np.random.default_rng(12)

    def well(name):
        phi = rng.uniform(0.02, 0.32, 400)
        return pd.DataFrame({"WELL": name, "GR": rng.normal(30, 5, 400),
                             "NPHI": phi + rng.normal(0, 0.005, 400), "PHIE": phi})

    train = pd.concat([well(f"W{i}") for i in range(4)], ignore_index=True)
    lev = fit_levels(train, ["GR", "NPHI"], train["WELL"].to_numpy())
    nphi = next(c for c in lev["curves"] if c["curve"] == "NPHI" and "shale" not in c)
    assert nphi["scale"] > 0.07                               # two spreads would be > 0.14 v/v
    assert 0.02 <= nphi["threshold"] * nphi["scale"] < 0.045  # v/v: what the wells allow
    b = Bundle({"features": ["GR", "NPHI"], "consistency": {"levels": lev}}, {})
    blind = well("B")[["GR", "NPHI"]]
    assert b.level_term(blind.to_numpy(float), well=True)[0] < 1.0
    shifted = blind.assign(NPHI=blind["NPHI"] + 0.05).to_numpy(float)
    assert b.level_term(shifted, well=True)[0] > 1.0
    pinned = fit_levels(train.assign(RHOB=2.71 - 1.7 * train["PHIE"]), ["GR", "NPHI", "RHOB"],
                        train["WELL"].to_numpy())
    assert next(c for c in pinned["curves"] if c["curve"] == "NPHI")["threshold"] == 2.0


def test_level_test_reads_a_curve_no_relation_covers():
    """A curve outside the cross-log check (SP) far from the training level over the whole well
    is flagged by the level test alone."""
    rng = np.random.default_rng(2)
    train = pd.concat([pd.DataFrame({"WELL": w, "SP": rng.normal(-20 + i, 4, 200)})
                       for i, w in enumerate("ABCD")], ignore_index=True)
    b = Bundle({"features": ["SP"], "consistency": {"levels": fit_levels(
        train, ["SP"], train["WELL"].to_numpy())}}, {})
    ok = rng.normal(-19, 4, (100, 1))
    assert b.level_term(ok, well=True)[0] < 1.0
    assert b.level_term(ok - 40.0, well=True)[0] > 1.0
    assert np.isnan(b.level_term(ok[:20] - 40.0, well=True)).all()   # too few rows to judge
    assert "SP reads about -58" in diagnose(pd.DataFrame(index=range(100)), b.meta["consistency"],
                                            pd.DataFrame({"SP": ok[:, 0] - 40.0}))


def test_diagnosis_cites_only_curves_the_well_reads():
    """Training wells with GR, NPHI and density; the blind well has no density and a neutron
    0.06 v/v high: the diagnosis cites no density relation (it named a "neutron-deep resistivity
    relation" for wells without resistivity). Which curve it blames is not asserted there:
    without the density, the relations read it at the training median and the pattern of
    residuals is blurred."""
    rng = np.random.default_rng(11)
    train = pd.concat([_well(rng, f"W{i}", phi_mean=0.13 + 0.01 * i, rhob=True)
                       for i in range(4)], ignore_index=True)
    feats = ["GR", "NPHI", "RHOB"]
    b = _bundle(train, feats)
    nphi = next(m for m in b.meta["consistency"]["curves"] if m["target"] == "NPHI")
    assert nphi["top"] == "RHOB"            # with a density, the neutron's main relation
    assert related(nphi, {"GR", "NPHI", "RHOB"}) == "RHOB"
    assert related(nphi, {"GR", "NPHI"}) == "GR"
    assert related(nphi, {"NPHI"}) is None
    blind = _well(rng, "B", phi_mean=0.15, rhob=True).drop(columns="WELL")
    blind["NPHI"] += 0.06
    blind["RHOB"] = np.nan
    out = b.predict(blind[feats], well=True)
    text = diagnose(out, b.meta["consistency"], blind)
    assert text and "density" not in text and "relation" in text


def test_resistivity_checks_no_other_curve_and_fluids_do_not_move_the_neutrons_test():
    """The resistivity reads the fluids as well as the rock: training wells at different
    heights above an oil-water contact read higher resistivity at the same porosity. It is
    checked against the other curves but is no input of theirs (the old rule made it one of the
    neutron's and the density's), and the neutron's own whole-well test (centre and threshold
    of its own) passes a genuine well with an oil column no training well had and catches a
    neutron 0.04 v/v high with or without oil."""
    rng = np.random.default_rng(3)

    def well(name, oil, shift=0.0):
        t = _well(rng, name, phi_mean=0.14, rhob=True)
        phi = t["PHIE"].to_numpy()
        sw = 1.0 - oil                                  # Archie, m = n = 2, Rw 0.05
        t["LOG10_RT"] = np.log10(0.05 / (phi ** 2 * sw ** 2)) + rng.normal(0, 0.03, len(t))
        t["NPHI"] += shift
        return t

    train = pd.concat([well(f"W{i}", oil) for i, oil in enumerate([0.0, 0.3, 0.5, 0.6])],
                      ignore_index=True)
    feats = ["GR", "NPHI", "RHOB", "LOG10_RT"]
    b = _bundle(train, feats)
    rel = {m["target"]: m for m in b.meta["consistency"]["curves"]}
    assert "LOG10_RT" not in rel["NPHI"]["inputs"] and "LOG10_RT" not in rel["RHOB"]["inputs"]
    assert set(rel["LOG10_RT"]["inputs"]) == {"GR", "NPHI", "RHOB"}
    for oil, shift, flagged in [(0.8, 0.0, False), (0.8, 0.04, True), (0.0, 0.04, True)]:
        blind = well("B", oil, shift)
        nphi = b.consistency(blind[feats].to_numpy(float), True)
        z = np.nanmedian(nphi[0]["NPHI"]) / rel["NPHI"]["resid_scale"]
        thr = rel["NPHI"]["well_threshold"]
        assert (abs(z - rel["NPHI"]["well_center"]) > thr) == flagged, (oil, shift, z, thr)
        assert (nphi[2][0] > 1.0) == flagged


def test_hist_gbm_comparator_fits_without_a_curve_only_the_blind_well_has():
    """Leave-one-well-out over wells with different logs: a column empty in the training fold
    used to fail the whole run inside scikit-learn's binning."""
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=200), np.full(200, np.nan)])
    y = 2 * X[:, 0] + rng.normal(0, 0.1, 200)
    est = sklearn_estimator("hist_gbm", {"max_iter": 20}).fit(X, y)
    p = est.predict(np.column_stack([X[:5, 0], np.ones(5)]))
    assert np.corrcoef(p, y[:5])[0, 1] > 0.9


def test_whole_well_test_is_centred_on_the_training_wells_own_median_residual():
    """A quarter of every well's depths are light-hydrocarbon beds where the neutron reads
    0.08 v/v low: one line through all depths leaves every training well's median neutron
    residual about +0.4 spread (a skewed residual, as a field of several lithologies or fluids
    gives). Tested from 0 (the old rule), a neutron 0.03 v/v low moved it to about -0.8, inside
    the old single threshold; tested from the training wells' own centre, against the neutron's
    own threshold, it is caught and the neutron named, and a genuine well passes."""
    rng = np.random.default_rng(4)

    def well(name, shift=0.0, n=400):
        vsh = np.clip(rng.beta(1.5, 6.0, n), 0, 1)
        phi = np.clip(0.14 + 0.04 * rng.standard_normal(n), 0.01, 0.3)
        light = rng.random(n) < 0.25
        return pd.DataFrame({
            "WELL": name, "PHIE": phi, "GR": 20 + 100 * vsh + rng.normal(0, 3, n),
            "NPHI": phi + 0.3 * vsh - 0.08 * light + rng.normal(0, 0.008, n) + shift,
            "RHOB": 2.71 - 1.71 * phi - 0.05 * vsh - 0.03 * light + rng.normal(0, 0.015, n)})

    train = pd.concat([well(f"W{i}") for i in range(5)], ignore_index=True)
    feats = ["GR", "NPHI", "RHOB"]
    b = _bundle(train, feats)
    cons = b.meta["consistency"]
    rel = {m["target"]: m for m in cons["curves"]}
    assert 0.25 < rel["NPHI"]["well_center"] < 0.6
    shifted = well("B", shift=-0.03)
    resid, _, well_term = b.consistency(shifted[feats].to_numpy(float), True)
    z = np.nanmedian(resid["NPHI"]) / rel["NPHI"]["resid_scale"]
    assert abs(z) < cons["well_threshold"]             # from 0, the old single threshold: missed
    assert well_term[0] > 1.0
    out = b.predict(shifted[feats], well=True)
    assert (out["OOD_FLAG"] == 1).all()
    assert diagnose(out, cons, shifted).startswith("NPHI reads about -0.03")
    genuine = well("G")
    assert b.consistency(genuine[feats].to_numpy(float), True)[2][0] < 0.5


def test_diagnosis_names_the_curve_whose_own_level_moved():
    """GR and NPHI only: each is the other's one relation, so a GR read 1.6 times too high and a
    neutron read low put the same relation off; the relations alone named "NPHI reads about
    -0.08" for GR x1.6 on a second generator's lean wells. The curves' own levels tell them
    apart (the GR moved, the neutron's whole-well and shale levels did not): GR is named, and
    a neutron read low is still named NPHI."""
    rng = np.random.default_rng(21)

    def well(name):
        vsh = np.where(rng.random(400) < 0.25, rng.uniform(0.6, 1.0, 400),
                       rng.uniform(0.0, 0.2, 400))
        phi = np.clip(0.15 + 0.03 * rng.standard_normal(400), 0.01, 0.35)
        return pd.DataFrame({"WELL": name, "GR": 20 + 110 * vsh + rng.normal(0, 3, 400),
                             "NPHI": phi * (1 - vsh) + 0.32 * vsh + rng.normal(0, 0.006, 400),
                             "PHIE": phi * (1 - vsh)})

    b = _bundle(pd.concat([well(f"W{i}") for i in range(5)], ignore_index=True),
                ["GR", "NPHI"])
    cons = b.meta["consistency"]
    blind = well("B")[["GR", "NPHI"]]
    assert diagnose(b.predict(blind, well=True), cons, blind) == ""
    gr = blind.assign(GR=blind["GR"] * 1.6)
    assert diagnose(b.predict(gr, well=True), cons, gr).startswith("GR reads about +")
    low = blind.assign(NPHI=blind["NPHI"] - 0.06)
    text = diagnose(b.predict(low, well=True), cons, low)
    assert text.startswith("NPHI reads about -0.0")
    assert float(text.split()[3]) == pytest.approx(-0.06, abs=0.01)


def test_diagnosis_names_both_curves_of_a_well_with_two_things_wrong():
    """Water-bearing training wells; a blind well with an oil column (its resistivity reads the
    oil) and a neutron 0.05 v/v high. No single shift explains both relations: the diagnosis
    named the resistivity alone and the neutron went unsaid. Now both, each with its amount;
    the oil column alone names the resistivity alone."""
    rng = np.random.default_rng(8)

    def well(name, oil=0.0, shift=0.0):
        t = _well(rng, name, phi_mean=0.14, rhob=True)
        phi = t["PHIE"].to_numpy()
        t["LOG10_RT"] = np.log10(0.05 / (phi ** 2 * (1 - oil) ** 2)) + rng.normal(0, 0.03, len(t))
        t["NPHI"] += shift
        return t

    feats = ["GR", "NPHI", "RHOB", "LOG10_RT"]
    b = _bundle(pd.concat([well(f"W{i}") for i in range(5)], ignore_index=True), feats)
    cons = b.meta["consistency"]
    oil = well("B", oil=0.7)[feats]
    text = diagnose(b.predict(oil, well=True), cons, oil)
    assert text.startswith("RT reads about x") and "; and" not in text
    both = well("B", oil=0.7, shift=0.05)[feats]
    text = diagnose(b.predict(both, well=True), cons, both)
    assert text.startswith("RT reads about x") and "; and NPHI reads about +0.05" in text, text
