"""Hyper-parameter tuning by grouped (blind-well) cross-validation under a time budget.

Random search (scikit-learn's ``ParameterSampler``, without repeats) over the spec's
``tuning.space`` (parameter -> list of values), scored by the pooled
blind-well RMSE of the P50 model on the same folds as validation. It stops after ``n_iter``
trials or when ``budget_s`` seconds have passed (a trial that has started is finished); the
spec's own parameters are always the first trial, so tuning never returns something worse than
what it was given.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.model_selection import ParameterSampler

from petro.models.spec import ModelSpec
from petro.models.train import fit_bundle

DEFAULT_SPACE = {
    "num_leaves": [7, 15, 31],
    "learning_rate": [0.02, 0.04, 0.08],
    "n_estimators": [150, 300, 500],
    "min_child_samples": [10, 20, 40],
    "colsample_bytree": [0.5, 0.7, 0.9],
    "reg_lambda": [0.0, 1.0, 5.0],
}


def tune(table: pd.DataFrame, features: list[str], spec: ModelSpec, progress=None) \
        -> tuple[dict, pd.DataFrame]:
    """Best parameters and the table of trials (parameters, blind RMSE in the report unit,
    p.u. or decades, and seconds)."""
    from petro.models.validation import folds

    cfg = spec.tuning or {}
    budget = float(cfg.get("budget_s", 60.0))
    n_iter = int(cfg.get("n_iter", 20))
    space = cfg.get("space") or DEFAULT_SPACE
    rng = np.random.default_rng(spec.seed)
    y_all = table[spec.column].to_numpy(dtype=float)
    keep = np.isfinite(y_all)
    data = table.loc[keep].reset_index(drop=True)
    y = y_all[keep]
    X = data[features].to_numpy(dtype=float)
    fl = list(folds(data["WELL"].astype(str).to_numpy(), spec))
    start = time.perf_counter()
    trials = []
    candidates = [dict(spec.params)]
    sampler = ParameterSampler({k: list(v) for k, v in space.items()}, n_iter=max(0, n_iter - 1),
                               random_state=int(rng.integers(2 ** 31)))
    candidates += [{**spec.params, **c} for c in sampler]
    for params in candidates:
        if trials and time.perf_counter() - start > budget:
            break
        t0 = time.perf_counter()
        trial_spec = replace(spec, params=params, quantiles=spec.quantiles)
        pred = np.full(y.size, np.nan)
        for _, tr, te in fl:
            b = fit_bundle(X[tr], y[tr], features, trial_spec, with_novelty=False, p50_only=True)
            pred[te] = b.raw_quantiles(X[te])["p50"]
        rmse = float(np.sqrt(np.nanmean((pred - y) ** 2))) * spec.report_scale  # p.u. / decades
        trials.append({**{f"param.{k}": v for k, v in params.items()}, "blind_rmse": rmse,
                       "seconds": time.perf_counter() - t0})
        if progress:
            progress(f"trial {len(trials)}: {rmse:.4f}")
    table_ = pd.DataFrame(trials)
    best = candidates[int(table_["blind_rmse"].idxmin())]
    return best, table_
