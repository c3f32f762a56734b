"""Missing and misnamed inputs are never silent (issue 16): aliases and case variants are mapped
with their unit, or refused naming the canonical column; a missing important input is novelty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from petro.models.trust import trust_meta
from petro.models.runtime import Bundle, InputSchemaError
from petro.models.spec import ModelSpec
from petro.models.train import fit_bundle

FEATS = ["GR", "RHOB", "NPHI", "LOG10_RT", "PHID"]


@pytest.fixture(scope="module")
def bundle():
    rng = np.random.default_rng(1)
    n = 800
    phi = rng.uniform(0.02, 0.3, n)
    gr = rng.uniform(20, 80, n)
    rhob = 2.71 - 1.71 * phi + rng.normal(0, 0.01, n)
    nphi = phi + 0.002 * gr + rng.normal(0, 0.01, n)
    lrt = 1.5 - 3 * phi + rng.normal(0, 0.05, n)
    X = np.column_stack([gr, rhob, nphi, lrt, (2.71 - rhob) / 1.71])
    y = np.log10(1e3 * phi ** 3) + rng.normal(0, 0.05, n)
    spec = ModelSpec(name="t", target="permeability", params={"n_estimators": 60})
    b = fit_bundle(X, y, FEATS, spec, novelty_thresholds={"logs": 3.0})
    imp = pd.Series(b.boosters["p50"].feature_importance("gain"), index=b.model_features)
    table = pd.DataFrame(X, columns=FEATS)
    b.meta.update(trust_meta(table, FEATS, imp, [], 0.95))
    return Bundle(b.meta, b.boosters), table


def test_aliases_and_case_map_to_the_canonical_input(bundle):
    b, table = bundle
    rows = table.iloc[:50]
    full = b.predict(rows)
    for new in ("RHOZ", "rhob", "Rhob"):
        out = b.predict(rows.rename(columns={"RHOB": new}))
        pd.testing.assert_frame_equal(out, full)
        assert b.mapped_columns == {new: "RHOB"}
    # AT90 in ohm.m -> LOG10_RT; TNPH -> NPHI; density in kg/m3 converted
    alt = rows.drop(columns=["LOG10_RT", "NPHI"]).assign(AT90=10 ** rows["LOG10_RT"],
                                                           TNPH=rows["NPHI"])
    pd.testing.assert_frame_equal(b.predict(alt), full)
    kg = rows.drop(columns=["RHOB"]).assign(RHOZ=rows["RHOB"] * 1000.0)
    np.testing.assert_allclose(b.predict(kg).to_numpy(float), full.to_numpy(float), rtol=1e-9)
    # unrelated columns are ignored and listed
    b.predict(rows.assign(WELL="A", DEPT=1.0, COMMENT="x"))
    assert set(b.ignored_columns) == {"WELL", "DEPT", "COMMENT"}


def test_input_units_carry_the_quantitys_other_units(bundle):
    from petro.units import unit_conversions

    b, _ = bundle
    assert unit_conversions("density") == ("g/cm3", [(0.001, 0.0)])
    assert unit_conversions("no such quantity") is None
    rhob = b.meta["input_units"]["RHOB"]
    assert (rhob["quantity"], rhob["unit"], rhob["factors"]) == ("density", "g/cm3",
                                                                 [[0.001, 0.0]])
    assert "PHID" not in b.meta["input_units"]    # a derived column has no vendor unit


def test_alias_with_impossible_values_is_refused_naming_the_canonical_column(bundle):
    b, table = bundle
    bad = table.iloc[:20].drop(columns=["RHOB"]).assign(RHOZ=55.0)
    with pytest.raises(InputSchemaError, match="RHOB"):
        b.predict(bad)


def test_missing_important_input_is_novelty_and_key_coverage_drops(bundle):
    b, table = bundle
    rows = table.iloc[:200]
    full = b.predict(rows)
    assert full["OOD_FLAG"].mean() < 0.2
    assert (full["KEY_INPUT_COVERAGE"] == 1.0).all()
    no_rho = b.predict(rows.drop(columns=["RHOB"]))   # PHID left: computed from RHOB
    assert (no_rho["OOD_FLAG"] == 1).all()
    assert (no_rho["KEY_INPUT_COVERAGE"] < 0.9).all()
    assert no_rho["PERM_ML"].notna().all()           # flagged, still predicted (60 % of inputs)
    gr_only = b.predict(rows[["GR"]])
    assert gr_only["PERM_ML"].isna().all() and (gr_only["OOD_FLAG"] == 1).all()
    assert gr_only["INPUT_COVERAGE"].iloc[0] == pytest.approx(0.2)


def test_ood_policy_widen_withhold_keep(bundle):
    b, table = bundle
    rows = table.iloc[:200].drop(columns=["RHOB"])      # every row flagged (density missing)
    out = {}
    for policy in ("keep", "widen", "withhold"):
        out[policy] = Bundle(dict(b.meta, ood_policy=policy), b.boosters).predict(rows)
    keep, widen, hold = out["keep"], out["widen"], out["withhold"]
    assert (keep["OOD_FLAG"] == 1).all() and (widen["OOD_FLAG"] == 1).all()
    np.testing.assert_allclose(widen["PERM_ML"], keep["PERM_ML"])
    w_keep = np.log10(keep["PERM_P90"] / keep["PERM_P10"])
    w_widen = np.log10(widen["PERM_P90"] / widen["PERM_P10"])
    f = np.clip(widen["NOVELTY"], 1, 5)
    np.testing.assert_allclose(w_widen, w_keep * f, rtol=1e-6)   # half-widths x novelty
    assert hold["PERM_ML"].isna().all() and hold["PERM_P10"].isna().all()
    assert (hold["OOD_FLAG"] == 1).all()


def test_mondrian_bins_grow_with_novelty_and_cover_in_domain():
    from petro.models.conformal import blind_coverage, fit_mondrian

    rng = np.random.default_rng(3)
    n = 4000
    nov = rng.uniform(0, 1.5, n)
    y = rng.normal(0, 0.1 + 0.3 * nov)          # noisier where less familiar
    lo, hi = np.full(n, -0.1), np.full(n, 0.1)
    scores = np.maximum(lo - y, y - hi)
    fit = fit_mondrian(scores, nov, 0.8)
    assert fit["adj"] == sorted(fit["adj"]) and fit["adj"][-1] > fit["adj"][0] + 0.1
    wells = np.repeat(np.arange(8), n // 8)
    cov = blind_coverage(y, lo, hi, scores, nov, wells, 0.8)
    for a, z in ((0.0, 0.5), (0.5, 0.8), (0.8, 1.0)):
        m = (nov >= a) & (nov < z)
        assert 0.75 <= cov[m].mean() <= 0.85


def test_a_row_without_a_curve_every_training_row_had_is_flagged(bundle):
    """Issue 16.2: density was in every training row; a row without it is out of domain whatever
    weight density carried, and the other rows of the request are unchanged."""
    b, table = bundle
    assert set(b.meta["missing"]["required"]) == {"GR", "RHOB", "NPHI", "LOG10_RT"}
    rows = table.iloc[:40].copy()
    full = b.predict(rows)
    rows.loc[rows.index[:10], "RHOB"] = np.nan
    out = b.predict(rows)
    assert (out["OOD_FLAG"].iloc[:10] == 1).all() and (out["NOVELTY"].iloc[:10] >= 1.5).all()
    pd.testing.assert_frame_equal(out.iloc[10:], full.iloc[10:])
    assert out["PERM_ML"].notna().all()          # widen (default policy): flagged, still given


def test_a_well_in_a_hole_size_the_training_wells_never_had_is_named():
    """Issue 11.4: a caliper reading 12.25 in over the whole well, training wells in 8.5 in holes."""
    from petro.models.diagnosis import level_shift

    nov = {"blocks": [{"name": "logs", "features": ["GR", "CALI", "PHID", "SP"],
                       "center": [50.0, 8.5, 0.1, -20.0], "scale": [10.0, 0.08, 0.02, 5.0]}]}
    rng = np.random.default_rng(3)
    well = pd.DataFrame({"GR": rng.normal(50, 10, 60), "CALI": rng.normal(12.25, 0.1, 60),
                         "PHID": rng.normal(0.1, 0.02, 60), "SP": rng.normal(-22, 5, 60)})
    text = level_shift(well, nov)
    assert text.startswith("CALI reads about 12.") and "training wells 8.5 in" in text
    assert "hole size" in text
    assert level_shift(well.assign(CALI=rng.normal(8.6, 0.08, 60)), nov) == ""   # same hole
    assert level_shift(well.iloc[:20], nov) == ""                                # too few rows
    # GR is left to the cross-log check, even far off
    assert level_shift(well.assign(GR=150.0, CALI=8.5), nov) == ""
    assert "SP reads about -80" in level_shift(well.assign(CALI=8.5, SP=-80.0), nov)


def test_a_depth_predicted_alone_equals_the_same_depth_predicted_with_its_well(bundle):
    """A served one-row request and a whole well give the same bits for a depth: every product
    in the runtime sums each row on its own (with ``@``, BLAS took other kernels for one row
    and for many, and NOV_ residuals differed in the last digits)."""
    b, table = bundle
    wells = table.assign(WELL=np.repeat(["A", "B", "C", "D"], len(table) // 4))
    imp = pd.Series(b.boosters["p50"].feature_importance("gain"), index=b.model_features)
    b = Bundle({**b.meta, **trust_meta(wells, FEATS, imp, [], 0.95)}, b.boosters)
    assert b.meta["consistency"]["curves"]       # the cross-log ridges: NOV_<curve> residuals
    rows = table.iloc[:200].copy()
    rows.iloc[::7, 0] = np.nan                  # some rows without GR: the missing-input share
    whole = b.predict(rows)
    assert sum(c.startswith("NOV_") for c in whole.columns) >= 3
    alone = pd.concat([b.predict(rows.iloc[[i]]) for i in range(len(rows))])
    pd.testing.assert_frame_equal(alone, whole, check_exact=True)
