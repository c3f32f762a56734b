"""Image window features pinned to the values of the implementation before the speed work.

The fixture ``fixtures/features/image_pinned.npz`` was written by the per-row cumulative-sum
implementation (commit 3c47fda); any later speed change must give the same features within a tight
tolerance on this small image (gaps, a low-coverage zone, a resistive image taken in log10,
targets at both ends and beyond the image).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from petro.features.image import ImageFeatureParams, image_window_features

FIXTURE = Path(__file__).parent / "fixtures" / "features" / "image_pinned.npz"


def pinned_case():
    """(kind, depth, values, target, params) of each pinned image."""
    rng = np.random.default_rng(42)
    rows, bins = 2400, 36
    depth = 1000.0 + np.arange(rows) * 0.0025
    amp = rng.normal(60, 8, (rows, bins)).astype(np.float32)
    amp[300:420] += rng.normal(-25, 5, (120, bins)).astype(np.float32)    # a dark (vuggy) zone
    amp[:, 30:] = np.nan                                                  # a pad gap
    amp[1500:1700, :25] = np.nan                                          # a low-coverage zone
    res = (10 ** rng.normal(1.0, 0.4, (rows, bins))).astype(np.float32)
    res[:, np.arange(bins) % 9 >= 7] = np.nan
    res[50:60] = -1.0                                                     # non-positive values
    target = np.concatenate([[999.9, 1000.0], np.arange(1000.05, 1006.0, 0.1524), [1006.2]])
    params = ImageFeatureParams(chunk_rows=700)
    return [("acoustic_amplitude", depth, amp, target, params),
            ("resistive", depth, res, target, params)]


@pytest.mark.parametrize("case", range(2))
def test_image_features_equal_the_pinned_values(case):
    kind, depth, values, target, params = pinned_case()[case]
    ref = np.load(FIXTURE)
    f = image_window_features(depth, values, target, kind, params)
    assert list(f.columns) == list(ref[f"{kind}__columns"])
    want = ref[f"{kind}__values"]
    np.testing.assert_array_equal(np.isnan(f.to_numpy(float)), np.isnan(want))
    np.testing.assert_allclose(f.to_numpy(float), want, rtol=1e-5, atol=1e-6)
