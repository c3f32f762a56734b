"""Novelty: depths unlike the training wells are flagged; blind wells of the field mostly are not."""

from __future__ import annotations

import subprocess
import sys

import mlflow
import pandas as pd
import pytest

from petro.features.table import well_features
from petro.io.discovery import discover
from petro.io.wells import load_well
from petro.serving import model_info
from petro.synth import SynthConfig, write_field


@pytest.fixture(scope="module")
def model(trained):
    mlflow.set_tracking_uri(trained["uri"])
    return mlflow.pyfunc.load_model("models:/petro-permeability@champion")


def _predict(model, well):
    feats = model_info(model)["inputs"]
    return model.predict(well_features(well).reindex(columns=feats), params={"well": True})


def test_blind_in_domain_rate_is_near_the_documented_95_percent(trained):
    """Three wells of 14 m: each well's thresholds come from the other two only. With the
    windowed logs and image groups (issue 25) the pooled rate is 0.848 (porosity 0.866): the
    thresholds are calibrated so that every blind training well, not the depths pooled, is
    95 % in domain (issue 23.4); pooled, one unlike well (SYN-02) carried most flags and the
    rate was 0.83. A block without blind evidence once fell back to a raw distance of 1.0:
    0.75 pooled, SYN-02 0.28."""
    m = trained["entries"]["permeability"].metrics["model"]
    assert 0.82 <= m["in_domain_rate"] <= 1.0


def test_field_well_mostly_in_domain_shifted_density_mostly_out(model, trained):
    well = load_well("SYN-04", discover(trained["field"])["SYN-04"])   # never trained on
    base = _predict(model, well)
    assert base["OOD_FLAG"].mean() < 0.3
    well.curves["RHOB"] = well.curves["RHOB"] + 0.15                   # miscalibrated density tool
    shifted = _predict(model, well)
    assert shifted["OOD_FLAG"].mean() > 0.8
    assert shifted["NOVELTY"].median() > base["NOVELTY"].median()


@pytest.mark.parametrize("curve,change,named", [
    ("RHOB", lambda v: v + 0.15, "RHOB reads about +0.1"),
    ("NPHI", lambda v: v + 0.05, "NPHI reads about +0.0"),
    ("DT", lambda v: v + 10.0, "DT reads about +"),
])
def test_whole_well_log_shift_is_flagged_and_named(model, trained, curve, change, named):
    """Issue 11: a log shifted over a whole well inside the training range is flagged at most
    depths, and the well-level diagnosis names the shifted curve."""
    from petro.models.diagnosis import diagnose

    cons = model.metadata.metadata["petro_consistency"]
    well = load_well("SYN-04", discover(trained["field"])["SYN-04"])
    base = _predict(model, well)
    assert diagnose(base, cons) == ""
    well.curves[curve] = change(well.curves[curve])
    shifted = _predict(model, well)
    assert shifted["OOD_FLAG"].mean() >= 0.9
    assert diagnose(shifted, cons).startswith(named)
    assert f"NOV_{curve}" in shifted.columns


def test_well_in_another_hole_size_is_flagged(model, trained):
    """Issue 11.4: the same well logged in a 12.25 in hole instead of the training wells' size."""
    well = load_well("SYN-04", discover(trained["field"])["SYN-04"])
    if "CALI" not in well.curves:
        pytest.skip("the synthetic well has no caliper")
    well.curves["CALI"] = well.curves["CALI"] + 3.75
    assert _predict(model, well)["OOD_FLAG"].mean() >= 0.9


def test_sandstone_shale_well_is_flagged(model, tmp_path):
    write_field(tmp_path, SynthConfig(wells=1, seed=5, thickness=12.0, lithology="clastic"), n_jobs=1)
    well = load_well("SYN-01", discover(tmp_path)["SYN-01"])
    pred = _predict(model, well)
    assert pred["OOD_FLAG"].mean() > 0.8


def test_predict_warns_when_a_well_is_mostly_out_of_domain(trained, tmp_path, env_with_venv):
    field = tmp_path / "clastic"
    write_field(field, SynthConfig(wells=1, seed=6, thickness=10.0, lithology="clastic"), n_jobs=1)
    env = dict(env_with_venv, MLFLOW_TRACKING_URI=trained["uri"])
    r = subprocess.run([sys.executable, "-m", "petro.cli", "predict", str(field), "-o",
                        str(tmp_path / "out")], env=env, capture_output=True, text=True, timeout=600,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "out of the training domain" in r.stderr
    import lasio
    las = lasio.read(tmp_path / "out" / "SYN-01_petro.las")
    assert pd.Series(las["OOD_FLAG"]).mean() > 0.8


def test_thresholds_let_every_blind_training_well_in_not_the_depths_pooled():
    """Issue 23.4: three blind wells' out-of-fold distances (two blocks), one well farther out
    than the others. Pooled, the 95 % level lets the two alike wells in and flags the unlike
    one at 11.5 % of its depths; per well, each well is flagged at no more than 5 %. The
    thresholds differ only in level, and a well too short to judge (10 rows) is not let to set
    it. (Without the new-well bound: see the next test.)"""
    import numpy as np

    from petro.models.consistency import depth_threshold
    from petro.models.novelty import calibrate_thresholds

    rng = np.random.default_rng(3)
    D = np.abs(rng.normal(0, [1.0, 2.0], (600, 2)))
    D[400:] *= 1.6                                     # the unlike well
    wells = np.repeat(["A", "B", "C"], 200)

    def flagged(thr):
        return {w: float(((D[wells == w] / thr) > 1).any(axis=1).mean()) for w in "ABC"}

    pooled, per_well = flagged(calibrate_thresholds(D, 0.95)), \
        flagged(calibrate_thresholds(D, 0.95, wells))        # no new-well bound (new_well=0)
    assert pooled["C"] > 0.10 and max(pooled["A"], pooled["B"]) < 0.02
    assert max(per_well.values()) <= 0.05 and per_well["C"] > 0.03
    short = np.concatenate([D, np.full((10, 2), 50.0)])   # 10 rows of a well far away
    t_short = calibrate_thresholds(short, 0.95, np.concatenate([wells, ["D"] * 10]))
    assert np.allclose(t_short, calibrate_thresholds(D, 0.95, wells), rtol=0.05)
    # the cross-log depth threshold likewise: the largest well's 99 % quantile
    depth = D[:, 0]
    assert depth_threshold(depth, wells, 0.99, 30) == np.quantile(depth[400:], 0.99)


def test_new_well_bound_keeps_genuine_wells_in_domain_and_still_flags_unlike_rock():
    """Issue 23.4: thresholds set by the most demanding of N training wells are beaten by a new
    well of the same population one time in N + 1. Simulated: wells whose distances differ in
    scale from well to well (log-normal, sd 0.25 per block), 3 training wells, 300 draws of a
    new well of the same kind. Without the bound 18 % of the new wells were flagged at more than
    10 % of their depths, with the 90 % bound 8 %. The price: the thresholds rise by 16 % (2.74
    -> 3.19 spreads of the typical well), so depths 3 spreads out in one block are flagged at 80 %
    instead of 95 %, and 4 spreads out at 97 % instead of 99.8 %."""
    import numpy as np

    from petro.models.novelty import calibrate_thresholds

    rng = np.random.default_rng(0)

    def well(n=150):
        return np.abs(rng.normal(0, 1, (n, 2))) * np.exp(rng.normal(0, 0.25, 2))

    over = {0.0: [], 0.9: []}
    far = []
    for _ in range(300):
        D = np.concatenate([well() for _ in range(3)])
        wells = np.repeat(["A", "B", "C"], 150)
        new = well()
        for level in over:
            thr = calibrate_thresholds(D, 0.95, wells, new_well=level)
            over[level].append(((new / thr) > 1).any(axis=1).mean())
        odd = new.copy()
        odd[:, 0] += 4.0 * np.median(D[:, 0]) / 0.6745       # 4 spreads out in block 0
        far.append(((odd / thr) > 1).any(axis=1).mean())
    beyond = {k: float((np.array(v) > 0.10).mean()) for k, v in over.items()}
    assert beyond[0.0] > 0.15 and beyond[0.9] < 0.11
    assert np.mean(over[0.9]) < np.mean(over[0.0])
    assert np.mean(far) > 0.95
    # with many wells the bound is below the most demanding well's need: it changes nothing
    D = np.concatenate([well() for _ in range(20)])
    wells = np.repeat(np.arange(20), 150)
    assert np.allclose(calibrate_thresholds(D, 0.95, wells, new_well=0.9),
                       calibrate_thresholds(D, 0.95, wells), rtol=0.15)
    # three wells that disagree wildly in block 0 (none / 8 % / 10 % of their depths 4x farther
    # out, as vuggy rock in one image block): the parametric bound would be several times the
    # largest need; it is held to 1.5x the threshold without it
    def tailed(share):
        d = np.abs(rng.normal(0, 1, (150, 2)))
        d[:int(150 * share), 0] *= 4.0
        return d
    D = np.concatenate([tailed(k) for k in (0.0, 0.08, 0.10)])
    wells = np.repeat(["A", "B", "C"], 150)
    plain = calibrate_thresholds(D, 0.95, wells)
    bounded = calibrate_thresholds(D, 0.95, wells, new_well=0.9)
    assert np.isclose(bounded[0], 1.5 * plain[0]) and plain[1] < bounded[1] < 1.5 * plain[1]
    # with two wells the spread across wells is not estimated: the more demanding well sets it
    D = np.concatenate([well(), well() * 3.0])
    wells = np.repeat(["A", "B"], 150)
    assert np.array_equal(calibrate_thresholds(D, 0.95, wells, new_well=0.9),
                          calibrate_thresholds(D, 0.95, wells))


def test_cross_log_depth_threshold_covers_a_new_well_like_the_training_wells():
    """The cross-log depth threshold (each well's 99 % quantile of its largest standardized
    residual, the largest over wells) has the same small-sample flaw: with three training
    wells whose residual scales differ (log-normal 0.25), a new well of the same kind was flagged
    at more than twice the nominal 1 % of its depths in 11 % of 300 draws; with the 90 %
    new-well bound in 5 %. Its mean flagged share halves (0.9 -> 0.4 %)."""
    import numpy as np

    from petro.models.consistency import depth_threshold

    rng = np.random.default_rng(1)

    def well(n=150):
        return np.abs(rng.standard_t(5, n)) * np.exp(rng.normal(0, 0.25))

    over = {0.0: [], 0.9: []}
    for _ in range(300):
        depth = np.concatenate([well() for _ in range(3)])
        wells = np.repeat(["A", "B", "C"], 150)
        new = well()
        for level in over:
            over[level].append((new > depth_threshold(depth, wells, 0.99, 30, level)).mean())
    beyond = {k: float((np.array(v) > 0.02).mean()) for k, v in over.items()}
    assert beyond[0.0] > 0.09 and beyond[0.9] < 0.06


def test_final_detector_thresholds_come_from_detectors_of_its_own_columns():
    """Each blind fold selects its own inputs (here 4 of 12, a different set where well C is
    blind), so the folds' detectors read other columns than the final model's: the final
    detector is calibrated on leave-one-well-out detectors of its own columns
    (novelty.blind_thresholds), and no training well has more than a few of its own depths
    out of domain (per well, the calibration's 95 %), nor, being in the final detector's
    training rows, more than its leave-one-out share."""
    from petro.models.novelty import blind_thresholds
    from petro.models.validation import cross_validate, fit_final
    from tests.test_selection import FEATS, _leaky_field, _spec

    table = _leaky_field(seed=3)
    spec = _spec(4)
    cv = cross_validate(table, FEATS, spec)
    b = fit_final(table, FEATS, spec, cv)
    wells = table["WELL"].to_numpy()
    X = b.matrix(table[b.features])
    thr = blind_thresholds(b.design(X), b.model_features, wells, spec.novelty_quantile,
                           new_well=spec.novelty_new_well)
    assert {k["name"]: k["threshold"] for k in b.meta["novelty"]["blocks"]} == thr
    nov = b.novelty(X)
    for w in "ABC":
        assert (nov[wells == w] > 1.0).mean() <= 0.05


def test_blind_in_domain_report_calibrates_once_per_blind_fold_not_per_well(monkeypatch):
    """The report's blind coverage and in-domain rate calibrate each blind unit's thresholds
    and conformal adjustment on the other units' rows. Per well that was wells x rows in all
    (200 wells x 500 rows: 55 s; 2,000 wells about 1.5 h); the units are now the blind folds
    as validation splits the wells: each well up to 12 wells (6 wells: 6 + 1 calibrations),
    grouped 5-fold beyond (30 wells: 5 + 1, not 30 + 1)."""
    import numpy as np
    import pandas as pd

    from petro.models import validation
    from petro.models.spec import ModelSpec

    calls = []
    real = validation.calibrate_thresholds

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(validation, "calibrate_thresholds", counted)
    rng = np.random.default_rng(0)
    spec = ModelSpec(name="p", target="porosity")
    for n_wells, expected in ((6, 7), (30, 6)):
        calls.clear()
        y = rng.normal(0, 1, n_wells * 40)
        p50 = y + rng.normal(0, 0.5, y.size)
        oof = pd.DataFrame({"WELL": np.repeat([f"W{i:02d}" for i in range(n_wells)], 40),
                            "y": y, "p50": p50, "lo": p50 - 0.6, "hi": p50 + 0.6})
        D = np.abs(rng.normal(0, 1, (y.size, 2)))
        validation._blind_bands(oof, D, ["logs", "amp"], spec)
        assert len(calls) == expected
        assert 0.7 < oof["covered"].mean() < 0.9 and oof["in_domain"].mean() > 0.9
