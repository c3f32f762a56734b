"""Vuggy rock is not a bad sonic: the sonic sees the intergranular porosity only, so where the
neutron and density read more (the secondary porosity index) the per-depth cross-log test lets
the sonic read fast; a sonic reading slow (cycle skipping) or shifted over the whole well is
still flagged, and no other curve's relation leans on the sonic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from petro.models.consistency import fit_consistency
from petro.models.runtime import Bundle

FEATS = ["GR", "NPHI", "RHOB", "DT"]


def _well(rng, name: str, n: int = 400, vug_share: float = 0.0, vug: float = 0.07) -> pd.DataFrame:
    """A limestone well: primary porosity 0.05-0.25, vugs of ``vug`` v/v over a share
    ``vug_share`` of the depths; neutron and density read the total porosity, the sonic
    (Wyllie, 47.5 / 189 us/ft) the primary porosity only."""
    phi1 = rng.uniform(0.05, 0.25, n)
    vugs = np.where(np.arange(n) < vug_share * n, vug, 0.0)
    phit = phi1 + vugs
    return pd.DataFrame({"WELL": name, "GR": rng.normal(25, 4, n),
                         "NPHI": phit + rng.normal(0, 0.008, n),
                         "RHOB": 2.71 - 1.71 * phit + rng.normal(0, 0.012, n),
                         "DT": 47.5 + 141.5 * phi1 + rng.normal(0, 1.0, n)})


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(21)
    train = pd.concat([_well(rng, f"W{i}") for i in range(4)], ignore_index=True)
    cons = fit_consistency(train, FEATS, train["WELL"].to_numpy())
    return Bundle({"features": FEATS, "consistency": cons}, {}), rng


def test_no_relation_leans_on_the_sonic_and_the_sonic_is_one_sided(fitted):
    b, _ = fitted
    rel = {m["target"]: m for m in b.meta["consistency"]["curves"]}
    assert "DT" not in rel["NPHI"]["inputs"] and "DT" not in rel["RHOB"]["inputs"]
    assert set(rel["DT"]["inputs"]) == {"GR", "NPHI", "RHOB"}
    assert rel["DT"]["one_sided"] == "slow" and "one_sided" not in rel["NPHI"]


def test_vuggy_depths_are_not_flagged_slow_sonic_and_a_shifted_sonic_are(fitted):
    b, rng = fitted
    blind = _well(rng, "B", vug_share=0.3)
    X = blind[FEATS].to_numpy(float)
    resid, depth, _ = b.consistency(X, False)
    vuggy = np.arange(len(X)) < 0.3 * len(X)
    dt = next(m for m in b.meta["consistency"]["curves"] if m["target"] == "DT")
    # the sonic reads about 10 us/ft faster than neutron-density expect in the vugs: far past
    # the per-depth threshold, two-sided
    assert np.median(resid["DT"][vuggy]) < -8.0
    assert np.mean(np.abs(resid["DT"][vuggy]) / dt["resid_scale"]
                   > b.meta["consistency"]["depth_threshold"]) > 0.9
    assert np.mean(depth[vuggy] > 1.0) < 0.05 and np.mean(depth[~vuggy] > 1.0) < 0.05
    # cycle skipping: the sonic 25 us/ft slow at a few depths is flagged there
    skips = np.array(X, copy=True)
    skips[::20, FEATS.index("DT")] += 25.0
    assert (b.consistency(skips, False)[1][::20] > 1.0).mean() > 0.9
    # a sonic reading 10 us/ft fast over the whole well: the whole-well term stays two-sided
    fast = _well(rng, "C")[FEATS].to_numpy(float).copy()
    fast[:, FEATS.index("DT")] -= 10.0
    assert b.consistency(fast, True)[2][0] > 1.0
    assert b.consistency(_well(rng, "D")[FEATS].to_numpy(float), True)[2][0] < 1.0
