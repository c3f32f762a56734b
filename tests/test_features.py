"""Image window features: alignment, coverage, chunking, and values on images whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from petro.features.image import ImageFeatureParams, image_window_features, robust_baseline
from petro.features.logs import conventional_features


def _image(rows=2000, bins=180, step=0.005, top=1000.0, seed=0):
    rng = np.random.default_rng(seed)
    depth = top + np.arange(rows) * step
    values = rng.normal(50.0, 2.0, (rows, bins)).astype(np.float32)
    return depth, values


def test_vug_fraction_and_mean_follow_a_painted_zone():
    depth, values = _image()
    # paint 10 % of the pixels dark (vugs) between 1003.0 and 1004.0 m
    zone = (depth >= 1003.0) & (depth < 1004.0)
    rng = np.random.default_rng(1)
    mask = zone[:, None] & (rng.random(values.shape) < 0.10)
    values[mask] = 30.0
    target = np.array([1001.0, 1003.5, 1006.0])
    f = image_window_features(depth, values, target, "acoustic_amplitude",
                              ImageFeatureParams(windows_m=(0.5,)))
    vug = f["amp_vug_w050"].to_numpy()
    # beyond 2 robust sd: the painted 10 % plus the normal tail of the rest, Phi(-2) = 0.0228
    tail = 0.0228
    assert vug[1] == pytest.approx(0.10 + 0.90 * tail, abs=0.01)
    assert vug[0] == pytest.approx(tail, abs=0.006) and vug[2] == pytest.approx(tail, abs=0.006)
    # 10 % of pixels 10 sd darker: the mean drops by about 1 robust unit
    assert f["amp_mean_w050"].iloc[1] - f["amp_mean_w050"].iloc[0] == pytest.approx(-1.0, abs=0.15)
    assert f["amp_cov_w050"].to_numpy() == pytest.approx([1.0, 1.0, 1.0], abs=0.02)


def test_windows_without_enough_coverage_are_nan():
    depth, values = _image()
    values[:, 60:] = np.nan                       # pads cover a third
    values[(depth > 1004) & (depth < 1005)] = np.nan   # a gap
    target = np.array([1002.0, 1004.5, 1020.0])   # inside, in the gap, past the end
    f = image_window_features(depth, values, target, "resistive",
                              ImageFeatureParams(windows_m=(0.3,), min_coverage=0.3))
    assert f["res_cov_w030"].iloc[0] == pytest.approx(1 / 3, abs=0.02)
    assert np.isfinite(f["res_mean_w030"].iloc[0])
    assert f.iloc[1].drop("res_cov_w030").isna().all()
    assert f.iloc[2].isna().all() or f.iloc[2].drop("res_cov_w030").isna().all()


def test_decreasing_depth_and_chunking_give_the_same_features():
    depth, values = _image(rows=3000)
    target = np.linspace(1001, 1013, 40)
    p = ImageFeatureParams(windows_m=(0.15, 0.5))
    a = image_window_features(depth, values, target, "acoustic_amplitude", p)
    b = image_window_features(depth[::-1], values[::-1], target, "acoustic_amplitude", p)
    c = image_window_features(depth, values, target, "acoustic_amplitude",
                              ImageFeatureParams(windows_m=(0.15, 0.5), chunk_rows=257))
    pd.testing.assert_frame_equal(a, b, rtol=1e-9)
    pd.testing.assert_frame_equal(a, c, rtol=1e-9)


def test_window_statistics_match_direct_computation():
    depth, values = _image(rows=1000, bins=36)
    target = np.array([1002.0])
    f = image_window_features(depth, values, target, "acoustic_amplitude",
                              ImageFeatureParams(windows_m=(0.5,), normalise="none"))
    sel = (depth >= 1001.75) & (depth < 1002.25)
    block = values[sel].astype(float)
    assert f["amp_mean_w050"].iloc[0] == pytest.approx(block.mean(), rel=1e-9)
    assert f["amp_std_w050"].iloc[0] == pytest.approx(block.std(), rel=1e-6)


def test_texture_contrast_separates_fine_from_coarse_texture():
    rng = np.random.default_rng(3)
    rows, bins = 2000, 180
    depth = 1000 + np.arange(rows) * 0.005
    fine = rng.normal(0, 1, (rows, bins))
    from scipy.ndimage import gaussian_filter
    coarse = gaussian_filter(rng.normal(0, 1, (rows, bins)), 3, mode="wrap")
    coarse /= coarse.std()
    values = np.where((depth < 1005)[:, None], fine, coarse)
    f = image_window_features(depth, values, np.array([1002.5, 1007.5]), "acoustic_amplitude",
                              ImageFeatureParams(windows_m=(0.5,)))
    assert f["amp_glcmc_w050"].iloc[0] > 5 * f["amp_glcmc_w050"].iloc[1]
    assert f["amp_glcmh_w050"].iloc[0] < f["amp_glcmh_w050"].iloc[1]


def test_per_well_normalisation_removes_a_calibration_offset():
    depth, values = _image()
    target = np.linspace(1001, 1008, 10)
    a = image_window_features(depth, values, target, "acoustic_amplitude")
    b = image_window_features(depth, values * 1.7 + 20.0, target, "acoustic_amplitude")
    pd.testing.assert_frame_equal(a, b, rtol=1e-4, atol=1e-4)   # float32 input rounding


def test_robust_baseline():
    med, scale = robust_baseline(np.array([[1.0, 2.0, 3.0, 4.0, 1000.0]]))
    assert med == 3.0 and scale == pytest.approx(1.4826)


def test_conventional_features_units_and_derived_curves():
    curves = pd.DataFrame({"RHOB": [2.71, 2.368], "DT": [47.6, 75.88], "RT": [10.0, 100.0],
                           "NPHI": [0.0, 0.25]})
    f = conventional_features(curves)
    assert f["PHID"].to_numpy() == pytest.approx([0.0, 0.2])
    assert f["PHIS"].to_numpy() == pytest.approx([0.0, 0.2])
    assert f["LOG10_RT"].to_numpy() == pytest.approx([1.0, 2.0])
    assert f["SPI"].to_numpy() == pytest.approx([0.0, 0.0], abs=1e-12)
    assert f["GR"].isna().all()                 # absent curve -> NaN column


def test_well_features_transformer_columns_match_the_table(small_field):
    from sklearn.base import clone

    from petro.features.transformer import WellFeatures
    from petro.io.discovery import discover
    from petro.io.wells import load_well

    wells = [load_well(n, f) for n, f in list(discover(small_field).items())[:2]]
    tf = clone(WellFeatures(image_kinds=("acoustic_amplitude", "acoustic_transit_time",
                                         "resistive")))
    table = tf.fit(wells).transform(wells)
    names = list(tf.get_feature_names_out())
    assert list(table.columns) == ["WELL", "DEPT"] + names
    assert len(names) == tf.n_features_out_
    # every documented column is produced; input curves the synthetic wells lack are NULL
    curves = {"LOG10_RXO", "DTS", "K", "TH", "U", "SP"}
    # and their windowed statistics (the logs at the scale of the beds, issue 25)
    lacking = curves | {n for n in names if any(n.startswith(f"{c}_wmed_") or
                                                n.startswith(f"{c}_wmad_") for c in curves)}
    assert table[[n for n in names if n not in lacking]].notna().mean().min() > 0.5
    assert table[sorted(lacking)].isna().all().all()
    assert {"amp_vug_w050", "res_cov_w150", "tt_patch_31", "SPI", "RUGOSITY"} <= set(names)


def test_bulk_depth_shift_moves_image_features(small_field):
    from petro.features.table import well_features
    from petro.io.discovery import discover
    from petro.io.wells import IngestOptions, load_well

    files = discover(small_field)["SYN-01"]
    a = well_features(load_well("SYN-01", files))
    shift = 0.1524 * 3
    b = well_features(load_well("SYN-01", files,
                                IngestOptions(depth_shift_m={"acoustic_amplitude": shift})))
    col = "amp_mean_w050"
    # the shifted image seen at depth d equals the original image at d - shift (3 samples)
    np.testing.assert_allclose(b[col].to_numpy()[10:-10], a[col].to_numpy()[7:-13], atol=1e-9)
    pd.testing.assert_series_equal(a["res_mean_w050"], b["res_mean_w050"])


def test_log_inputs_are_data_spectral_gamma_from_a_real_well():
    """The JB CMR well has spectral gamma ray (HFK, HTHO, HURA) and no density: K, TH, U are
    input columns with the well's values, density-derived columns are NULL."""
    from tests.conftest import real_file

    from petro.features.table import well_features
    from petro.io.wells import load_well

    w = load_well("JB", [real_file("nmr/JB_11-6TFH_CMR.las")])
    t = well_features(w)
    for c, orig in (("K", "HFK"), ("TH", "HTHO"), ("U", "HURA")):
        assert w.provenance[c].original == orig
        assert t[c].notna().mean() > 0.9
    assert np.nanmedian(t["K"]) < 0.1                     # HFK in % became a fraction
    assert t["RHOB"].isna().all() and t["PHID"].isna().all()


def test_pipeline_names_extra_input_curves_and_nmr_cannot_be_one(tmp_path):
    import yaml

    from petro.config import load_config
    from petro.errors import ConfigError
    from petro.features.table import model_features

    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"data": ".", "features": {"logs": ["XYZ"]}}))
    cfg = load_config(tmp_path / "p.yaml")
    assert cfg.logs.inputs["XYZ"] == "value" and cfg.logs.inputs["RT"] == "log10"
    curves = pd.DataFrame({"XYZ": [1.0, 2.0, 3.0], "GR": [10.0, 20.0, 30.0]},
                          index=pd.Index([1000.0, 1000.1, 1000.2]))
    f = conventional_features(curves, cfg.logs)
    assert f["XYZ"].tolist() == [1.0, 2.0, 3.0]
    assert "XYZ" in model_features(f.columns, ["logs"], cfg.logs)
    assert "XYZ" not in model_features(f.columns, ["logs"])       # not a default input
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"data": ".", "features": {"logs": ["TCMR"]}}))
    with pytest.raises(ConfigError, match="TCMR"):
        load_config(tmp_path / "p.yaml")


def test_rugosity_is_the_caliper_spread_over_the_window():
    depth = 1000.0 + np.arange(40) * 0.1
    cali = np.full(40, 8.5)
    cali[20:] = np.where(np.arange(20) % 2 == 0, 9.5, 8.5)          # washed-out, rough hole
    f = conventional_features(pd.DataFrame({"CALI": cali}, index=pd.Index(depth)))
    assert f["RUGOSITY"].iloc[5] == pytest.approx(0.0)
    assert f["RUGOSITY"].iloc[30] == pytest.approx(0.5, abs=0.05)


def test_a_model_recipe_with_the_removed_extra_field_still_rebuilds_its_features():
    """ImageFeatureParams.extra (never used) is gone; a model registered before keeps
    ``features.extra: {}`` in its recipe, which must not make its features unbuildable."""
    from petro.app.predict import _without_removed
    from petro.config import load_config
    from petro.errors import ConfigError

    cfg = load_config(require_data=False)
    old = cfg.recipe()
    old["features"] = {**old["features"], "windows_m": [0.25], "extra": {}}
    with pytest.raises(ConfigError, match="extra"):
        cfg.for_recipe(old)
    rebuilt = cfg.for_recipe(_without_removed(old))
    assert rebuilt.features.windows_m == (0.25,) and not hasattr(rebuilt.features, "extra")
    assert old["features"]["extra"] == {}          # the model's own record is not modified
