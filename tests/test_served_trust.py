"""Issue 27: what the runtime answers to impossible, extreme and whole-well rows (in process;
tests/test_serving.py sends the same over HTTP).

A small model on realistic conventional logs of three synthetic wells, with the trust metadata
petro stores at training time (aliases, units, missing-input weights, cross-log consistency,
``ood_policy: widen``) and the physical ranges of ``petro/data/plausibility.yaml``
(``plausibility``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from petro.io.plausibility import table as plausibility_table
from petro.models.trust import trust_meta
from petro.models.plausibility import input_plausibility
from petro.models.runtime import WELL_NOVELTY, Bundle, InputSchemaError
from petro.models.spec import ModelSpec
from petro.models.train import fit_bundle

FEATS = ["GR", "RHOB", "NPHI", "DT", "LOG10_RT"]


def _logs(rng, n: int, well: str) -> pd.DataFrame:
    phi = rng.uniform(0.03, 0.30, n)
    return pd.DataFrame({
        "WELL": well, "DEPT": 1000.0 + 0.15 * np.arange(n),
        "GR": rng.uniform(15, 90, n), "RHOB": 2.71 - 1.7 * phi + rng.normal(0, 0.02, n),
        "NPHI": phi + rng.normal(0, 0.02, n), "DT": 47.5 + 140 * phi + rng.normal(0, 2, n),
        "LOG10_RT": 2.5 - 5 * phi + rng.normal(0, 0.1, n), "PHI": phi})


@pytest.fixture(scope="module")
def logs_model():
    rng = np.random.default_rng(3)
    table = pd.concat([_logs(rng, 300, w) for w in ("A", "B", "C")], ignore_index=True)
    y = np.log10(1e4 * table["PHI"].to_numpy() ** 4 / 0.05) + rng.normal(0, 0.2, len(table))
    spec = ModelSpec(name="perm", target="permeability", params={"n_estimators": 60})
    b = fit_bundle(table[FEATS].to_numpy(float), y, FEATS, spec,
                   conformal={"lo": 0.1, "hi": 0.1}, novelty_thresholds={"logs": 3.0})
    b.meta.update(trust_meta(table, FEATS, None, [], 0.95, ood_policy="widen"))
    b.meta["plausibility"] = input_plausibility(FEATS, plausibility_table())
    checked = Bundle(b.meta, b.boosters)          # re-read the metadata, as a load does
    unchecked = Bundle({k: v for k, v in b.meta.items() if k != "plausibility"}, b.boosters)
    return checked, unchecked, table


def test_plausibility_key_holds_the_packaged_ranges(logs_model):
    b, _, _ = logs_model
    assert b.meta["plausibility"] == {"GR": [-10.0, 2000.0, "gAPI"], "RHOB": [1.0, 4.0, "g/cm3"],
                                      "NPHI": [-0.15, 1.0, "v/v"], "DT": [30.0, 300.0, "us/ft"],
                                      "LOG10_RT": [-3.0, 6.0, "log10 ohm.m"]}
    # a curve the table has no range for is not listed; a log10 of a curve that can be 0 is open
    assert input_plausibility(["PHID", "LOG10_KTIM"], plausibility_table()) == \
        {"LOG10_KTIM": [None, 6.0, "log10 mD"]}


@pytest.mark.parametrize("column,value,words", [
    ("RHOB", -2.5, "RHOB = -2.5 g/cm3 in row 2 (DEPT 1000.3) is not physically possible "
                   "(possible: 1 .. 4 g/cm3)"),
    ("LOG10_RT", 99.0, "LOG10_RT = 99 log10 ohm.m in row 2"),
    ("NPHI", 45.0, "NPHI = 45 v/v"),                     # porosity in % sent as v/v
    ("DT", np.inf, "DT = inf us/ft"),
    ("GR", -999.25, "GR = -999.25 gAPI"),                # a LAS null marker sent as a number
])
def test_impossible_value_is_refused_naming_column_and_row(logs_model, column, value, words):
    b, unchecked, table = logs_model
    rows = table.iloc[:5].copy()
    rows.loc[2, column] = value
    with pytest.raises(InputSchemaError) as err:
        b.predict(rows)
    assert words in str(err.value) and "Send a missing value as null" in str(err.value)
    unchecked.predict(rows)   # a model saved without the ranges answers as before


def test_impossible_alias_values_are_refused_before_log10(logs_model):
    """RT = -5 ohm.m used to become a missing LOG10_RT (log10 of a negative) and an answer."""
    b, unchecked, table = logs_model
    rows = table.iloc[:3].drop(columns=["LOG10_RT"]).assign(RT=[10.0, -5.0, 20.0])
    with pytest.raises(InputSchemaError, match=r"'RT' \(taken as LOG10_RT, its log10\) = -5 "
                                               r"ohm.m in row 1 .*possible: 0.001 .. 1e\+06 ohm.m"):
        b.predict(rows)
    assert unchecked.predict(rows)["PERM_ML"].notna().all()
    with pytest.raises(InputSchemaError, match=r"'RT' \(taken as LOG10_RT, its log10\) = 1e\+08"):
        b.predict(rows.assign(RT=[10.0, 1e8, 20.0]))
    # density in kg/m3 is converted (x0.001), then checked in g/cm3
    kg = table.iloc[:3].drop(columns=["RHOB"]).assign(RHOZ=table["RHOB"].iloc[:3] * 1000)
    pd.testing.assert_frame_equal(b.predict(kg), b.predict(table.iloc[:3]))


def test_bounds_missing_values_and_other_columns_pass(logs_model):
    b, _, table = logs_model
    rows = table.iloc[:4].copy()
    rows["RHOB"] = [1.0, 4.0, np.nan, None]            # the bounds are possible; null is missing
    rows["LOG10_RT"] = [-3.0, 6.0, 1.0, 1.0]
    rows["COMMENT"] = ["x" * 300] * 4                  # not an input: ignored
    out = b.predict(rows)
    assert out["PERM_ML"].notna().all()
    alias = table.iloc[:3].drop(columns=["LOG10_RT"]).assign(RT=[0.001, 10.0, 1e6])
    assert b.predict(alias)["PERM_ML"].notna().all()


def test_many_impossible_values_are_counted_and_values_quoted_short(logs_model):
    b, _, table = logs_model
    rows = table.iloc[:10].assign(RHOB=-999.25)
    with pytest.raises(InputSchemaError, match="in row 0 .*; 10 values of the request are outside"):
        b.predict(rows)
    with pytest.raises(InputSchemaError) as err:
        b.predict(table.iloc[:2].assign(GR=["y" * 100_000, 50.0]))
    assert len(str(err.value)) < 400 and "(100,002 characters)" in str(err.value)


def _model_space(out: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.log10(out[f"PERM_{s}"].to_numpy()) for s in ("P10", "ML", "P90"))


def _calibrated_width(b: Bundle, rows: pd.DataFrame, nov: np.ndarray) -> np.ndarray:
    q = b.raw_quantiles(b.matrix(rows))
    lo_adj, hi_adj = b.conformal_adjustment(nov)
    return np.maximum(q["p90"] + hi_adj, q["p50"]) - np.minimum(q["p10"] - lo_adj, q["p50"])


def test_far_row_gets_its_calibrated_band_not_a_zero_width_one(logs_model):
    """The issue's case: a possible but extreme row (the linear base extrapolates past the
    clip range): the P50 is clipped, the band keeps its calibrated width around it and is
    widened x5 where the clip range leaves room (down here, not up)."""
    b, _, table = logs_model
    row = table.iloc[[0]].assign(RHOB=1.2, NPHI=0.95, DT=290.0, LOG10_RT=-2.9)
    assert b.raw_quantiles(b.matrix(row))["p10"][0] > b.meta["clip"][1]   # all three past it
    out = b.predict(row)
    lo, ml, hi = _model_space(out)
    assert out["OOD_FLAG"].iloc[0] == 1 and out["NOVELTY"].iloc[0] > 5
    np.testing.assert_allclose(ml, b.meta["clip"][1], rtol=1e-12)
    q = b.raw_quantiles(b.matrix(row))
    lo_adj, hi_adj = b.conformal_adjustment(out["NOVELTY"].to_numpy())
    np.testing.assert_allclose(ml - lo, 5.0 * (q["p50"] - q["p10"] + lo_adj), rtol=1e-9)
    np.testing.assert_allclose(hi - ml, q["p90"] - q["p50"] + hi_adj, rtol=1e-9)
    assert hi[0] - lo[0] > 0.5


def _rows_strategy():
    """1-6 rows, each input anywhere in its physically possible range (or missing)."""
    bounds = {"GR": (-10, 2000), "RHOB": (1, 4), "NPHI": (-0.15, 1), "DT": (30, 300),
              "LOG10_RT": (-3, 6)}
    value = {c: st.one_of(st.none(), st.floats(lo, hi), st.sampled_from([lo, hi]))
             for c, (lo, hi) in bounds.items()}
    return st.lists(st.fixed_dictionaries(value), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=_rows_strategy())
def test_band_is_never_narrower_out_of_domain(logs_model, records):
    """Over random possible rows: P10 <= P50 <= P90; under 'keep' the band is exactly the
    calibrated one (no clip narrows it); under 'widen' it contains the 'keep' band, its bounds
    moved out x clip(NOVELTY, 1, 5) but not past the clip range."""
    b, _, _ = logs_model
    rows = pd.DataFrame.from_records(records, columns=FEATS).astype(float)
    keep = Bundle(dict(b.meta, ood_policy="keep"), b.boosters).predict(rows)
    widen = b.predict(rows)
    ok = keep["PERM_ML"].notna().to_numpy()
    assert (widen["PERM_ML"].notna().to_numpy() == ok).all()
    if not ok.any():
        return
    k_lo, k_ml, k_hi = (v[ok] for v in _model_space(keep))
    w_lo, w_ml, w_hi = (v[ok] for v in _model_space(widen))
    nov = keep["NOVELTY"].to_numpy()[ok]
    assert np.all(k_lo <= k_ml) and np.all(k_ml <= k_hi)
    np.testing.assert_array_equal(w_ml, k_ml)
    np.testing.assert_allclose(k_hi - k_lo, _calibrated_width(b, rows[ok], nov), rtol=1e-9,
                               atol=1e-12)
    assert np.all(w_lo <= k_lo + 1e-12) and np.all(w_hi >= k_hi - 1e-12)
    f = np.clip(nov, 1.0, 5.0)
    lim0, lim1 = b.meta["clip"]
    want_lo = np.minimum(k_lo, np.maximum(k_ml - f * (k_ml - k_lo), lim0))
    want_hi = np.maximum(k_hi, np.minimum(k_ml + f * (k_hi - k_ml), lim1))
    np.testing.assert_allclose(w_lo, want_lo, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(w_hi, want_hi, rtol=1e-9, atol=1e-9)


def test_whole_well_term_is_its_own_column(logs_model):
    """Rows taken one by one: WELL_NOVELTY is NaN and a row's answer is its own; sent as one
    well: the term is given and NOVELTY is the larger of it and the per-row novelty."""
    b, _, table = logs_model
    well = table[table.WELL == "B"].iloc[:60].assign(RHOB=lambda d: d["RHOB"] + 0.12)
    rows = b.predict(well)
    whole = b.predict(well, well=True)
    assert rows[WELL_NOVELTY].isna().all()
    assert (whole[WELL_NOVELTY] > 1).all()   # a +0.12 g/cc density shift over the well
    np.testing.assert_allclose(whole["NOVELTY"], np.fmax(rows["NOVELTY"], whole[WELL_NOVELTY]))
    few = b.predict(well.iloc[:10], well=True)   # fewer rows than min_rows: not a well test
    assert few[WELL_NOVELTY].isna().all()
    pd.testing.assert_frame_equal(few, rows.iloc[:10])


def test_nulls_for_json_and_nan_in_process(logs_model):
    """``nulls=True`` (the served reply): None where the float answer is NaN, the same numbers
    elsewhere; the default keeps float columns with NaN (Python users rely on it)."""
    b, _, table = logs_model
    rows = pd.concat([table.iloc[:3][FEATS], table.iloc[:1][["GR"]]], ignore_index=True)
    plain, nulls = b.predict(rows), b.predict(rows, nulls=True)
    assert all(plain[c].dtype.kind in "fi" for c in plain.columns)
    assert plain["PERM_ML"].isna().iloc[-1] and nulls["PERM_ML"].iloc[-1] is None
    assert nulls[WELL_NOVELTY].tolist() == [None] * 4
    assert nulls["OOD_FLAG"].dtype == plain["OOD_FLAG"].dtype
    pd.testing.assert_frame_equal(nulls.astype(float), plain.astype(float))
