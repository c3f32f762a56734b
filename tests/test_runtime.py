"""The model runtime: bundles round-trip through their files, columns are matched by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from petro.models.runtime import Bundle, InputSchemaError
from petro.models.spec import ModelSpec
from petro.models.train import fit_bundle


@pytest.fixture(scope="module")
def bundle():
    rng = np.random.default_rng(0)
    n = 600
    X = rng.normal(size=(n, 4))
    X[rng.random((n, 4)) < 0.05] = np.nan
    y = 0.5 * np.nan_to_num(X[:, 0]) - 0.3 * np.nan_to_num(X[:, 1]) + rng.normal(0, 0.2, n)
    spec = ModelSpec(name="t", target="permeability", params={"n_estimators": 80})
    return fit_bundle(X, y, ["GR", "RHOB", "amp_mean_w050", "tt_std_w050"], spec,
                      conformal={"lo": 0.1, "hi": 0.1}, novelty_thresholds={"logs": 3.0, "amp": 3.0, "tt": 3.0}), X


def test_save_load_round_trip_is_exact(bundle, tmp_path):
    b, X = bundle
    df = pd.DataFrame(X, columns=b.features)
    before = b.predict(df)
    b.save(tmp_path / "bundle")
    b.save(tmp_path / "bundle")        # saving again over it is safe
    after = Bundle.load(tmp_path / "bundle").predict(df)
    pd.testing.assert_frame_equal(before, after)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_quantiles_ordered_and_log_transform_applied(bundle):
    b, X = bundle
    out = b.predict(pd.DataFrame(X, columns=b.features))
    assert (out["PERM_P10"] <= out["PERM_ML"]).all() and (out["PERM_ML"] <= out["PERM_P90"]).all()
    raw = b.raw_quantiles(X)["p50"]
    lo, hi = b.meta["clip"]
    np.testing.assert_allclose(out["PERM_ML"], 10 ** np.clip(raw, lo, hi))


def test_columns_matched_by_name_missing_and_unknown(bundle):
    b, X = bundle
    df = pd.DataFrame(X[:5], columns=b.features)
    shuffled = df[df.columns[::-1]].assign(EXTRA=1.0)
    pd.testing.assert_frame_equal(b.predict(df), b.predict(shuffled))
    partial = b.predict(df[["GR", "RHOB"]])
    full_nan = b.predict(df.assign(amp_mean_w050=np.nan, tt_std_w050=np.nan))
    pd.testing.assert_frame_equal(partial, full_nan)


@pytest.mark.parametrize("frame,match", [
    (pd.DataFrame({"FOO": [1.0]}), "none of the model's input columns"),
    (pd.DataFrame({"GR": []}), "no rows"),
    (pd.DataFrame({"GR": ["abc"]}), "non-numeric"),
])
def test_bad_input_is_a_schema_error(bundle, frame, match):
    b, _ = bundle
    with pytest.raises(InputSchemaError, match=match):
        b.predict(frame)


def test_novelty_flags_far_rows(bundle):
    b, X = bundle
    near = b.predict(pd.DataFrame(X[:200], columns=b.features))
    far = b.predict(pd.DataFrame(X[:200] + 8.0, columns=b.features))
    assert near["OOD_FLAG"].mean() < 0.2
    assert far["OOD_FLAG"].mean() > 0.95


def test_save_records_each_booster_file(bundle, tmp_path):
    import hashlib
    import json

    b, _ = bundle
    path = b.save(tmp_path / "bundle")
    files = json.loads((path / "bundle.json").read_text())["files"]
    assert sorted(files) == ["booster_p10.txt", "booster_p50.txt", "booster_p90.txt"]
    for name, rec in files.items():
        data = (path / name).read_bytes()
        assert rec == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert "files" not in b.meta          # the record is of the saved copy, not the model


@pytest.mark.parametrize("damage,words", [
    (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "bytes, "),
    (lambda p: p.write_bytes(p.read_bytes().replace(b"tree", b"TREE", 1)), "content differs"),
    (lambda p: p.unlink(), "missing"),
])
def test_damaged_booster_is_a_clear_error_not_a_crash(bundle, tmp_path, damage, words):
    """Issue 27.4: LightGBM aborts the process on a truncated model file; the record catches
    it first, naming the file and what to do."""
    import subprocess
    import sys

    from petro.models.runtime import BundleError

    b, _ = bundle
    path = b.save(tmp_path / "bundle")
    damage(path / "booster_p50.txt")
    with pytest.raises(BundleError, match=f"booster_p50.txt: .*{words}.*re-log"):
        Bundle.load(path)
    # the same load in a fresh process ends with the message, not a signal
    r = subprocess.run([sys.executable, "-c", "from petro.models.runtime import Bundle; "
                        f"Bundle.load({str(path)!r})"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1 and "BundleError" in r.stderr and "booster_p50.txt" in r.stderr


def test_bundles_saved_before_the_record_load_as_before(bundle, tmp_path):
    import json

    b, X = bundle
    path = b.save(tmp_path / "bundle")
    meta = json.loads((path / "bundle.json").read_text())
    del meta["files"]
    (path / "bundle.json").write_text(json.dumps(meta))
    df = pd.DataFrame(X[:20], columns=b.features)
    pd.testing.assert_frame_equal(Bundle.load(path).predict(df), b.predict(df))
    (path / "bundle.json").write_text('{"format": 1, "featu')
    from petro.models.runtime import BundleError

    with pytest.raises(BundleError, match="bundle.json cannot be read"):
        Bundle.load(path)


def test_quote_cuts_long_values():
    from petro.models.runtime import QUOTE_CHARS, quote

    assert quote("abc") == "'abc'"
    long = quote("x" * 10_000)
    assert len(long) < QUOTE_CHARS + 40 and long.endswith("(10,002 characters)")
