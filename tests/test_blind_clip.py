"""Blind validation scores what the runtime answers: the P50 of a blind well far beyond the
training wells is clipped to the fold's training range (``clip``), as ``predict`` clips it, and
the scikit-learn baselines are held to the same range (issue 23: a linear trend extended to an
unlike real well scored 98-110 p.u. in blind validation while the runtime would have clipped)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from petro.models.spec import ModelSpec
from petro.models.validation import cross_validate


def _well(rng, name: str, gr_lo: float, gr_hi: float, n: int = 150) -> pd.DataFrame:
    gr = rng.uniform(gr_lo, gr_hi, n)
    return pd.DataFrame({"WELL": name, "DEPT": np.arange(n, dtype=float), "GR": gr,
                         "RHOB": 2.7 - 0.004 * gr + rng.normal(0, 0.01, n),
                         "PHIE": 0.02 + 0.002 * gr + rng.normal(0, 0.005, n)})


def test_blind_p50_and_baselines_are_clipped_to_the_fold_training_range():
    rng = np.random.default_rng(3)
    # three wells with GR 20-80 (porosity 0.06-0.18) and one with GR 300-400 (a linear trend
    # would say 0.62-0.82 v/v)
    table = pd.concat([_well(rng, w, 20, 80) for w in "ABC"] + [_well(rng, "D", 300, 400)],
                      ignore_index=True)
    spec = ModelSpec(name="t", target="porosity", params={"n_estimators": 40},
                     baselines=["ridge"], conformal=True)
    cv = cross_validate(table, ["GR", "RHOB"], spec)
    train = table[table.WELL != "D"]["PHIE"]
    span = train.max() - train.min()
    top = train.max() + 0.25 * span          # the fold's clip: its targets +- a quarter span
    d = cv.oof[cv.oof.WELL == "D"]
    assert d["p50"].max() <= top + 1e-9 and np.isclose(d["p50"], top).mean() > 0.9
    assert d["sk_ridge"].max() <= top + 1e-9 and np.isclose(d["sk_ridge"], top).mean() > 0.9
    # the band moved with its P50: the P10 below it, the P90 above, as the runtime answers
    assert (d["lo"] <= d["p50"]).all() and (d["hi"] >= d["p50"]).all()
    # in domain nothing changes: the training-range wells' blind P50 are not held at a bound
    abc = cv.oof[cv.oof.WELL != "D"]
    assert abc["p50"].between(0.0, 0.3).all() and abc["p50"].std() > 0.02
