"""Hyper-parameter tuning by grouped (blind-well) cross-validation: a FIXED number of seeded trials.

Random search (scikit-learn's ``ParameterSampler``, without repeats, seeded by the spec's seed)
over the spec's ``tuning.space`` (parameter -> list of values), scored by the pooled blind-well
RMSE of the P50 model on grouped K-fold folds of the wells it is given (``tuning.inner_folds``,
default 3; wells are never split between folds). The spec's own parameters are always the first
trial, so tuning never returns something worse, by its own score, than what it was given.

Spec settings (``tuning:`` in a model spec)::

    trials: 6          # how many trials, always the same ones for the same seed and space
    inner_folds: 3     # grouped folds of the tuning CV
    nested: true       # blind metrics by nested leave-one-well-out (tuning inside each fold)
    budget_s: 600      # optional safety stop: a run that reaches it stops EARLY WITH A WARNING
    space: {num_leaves: [7, 15, 31], ...}

The number of trials decides the result, never the clock: ``budget_s`` exists only so a
mis-sized search cannot run for hours; when it stops a search, the number of trials run is
recorded (``trials.attrs``) and :func:`tuning_problems` makes it a warning (a
:class:`~petro.problems.Problem`, code ``tuning_budget``) that training returns and the
application reports, since the result then depends on the machine's speed.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, ParameterSampler

from petro.errors import ConfigError
from petro.models.spec import ModelSpec
from petro.models.tasks import TaskMap, close, run_tasks
from petro.models.train import fit_bundle
from petro.problems import Problem, Severity
from petro.vocab import WELL

DEFAULT_SPACE = {
    "num_leaves": [7, 15, 31],
    "learning_rate": [0.02, 0.04, 0.08],
    "n_estimators": [150, 300, 500],
    "min_child_samples": [10, 20, 40],
    "colsample_bytree": [0.5, 0.7, 0.9],
    "reg_lambda": [0.0, 1.0, 5.0],
}
DEFAULT_TRIALS = 8
DEFAULT_INNER_FOLDS = 3


def tuning_settings(spec: ModelSpec) -> dict:
    """The spec's tuning settings with defaults (``n_iter`` is the old name of ``trials``)."""
    cfg = dict(spec.tuning or {})   # its keys were checked with the spec (ModelSpec)
    trials = int(cfg.get("trials", cfg.get("n_iter", DEFAULT_TRIALS)))
    inner = int(cfg.get("inner_folds", DEFAULT_INNER_FOLDS))
    budget = cfg.get("budget_s")
    if trials < 1 or inner < 2:
        raise ConfigError(f"model spec {spec.source or spec.name}: tuning.trials must be >= 1 "
                          f"and tuning.inner_folds >= 2")
    return {"trials": trials, "inner_folds": inner, "nested": bool(cfg.get("nested", True)),
            "budget_s": None if budget is None else float(budget),
            "space": cfg.get("space") or DEFAULT_SPACE}


def candidates(spec: ModelSpec) -> list[dict]:
    """The trials' parameter sets: the spec's parameters, then ``trials - 1`` seeded samples."""
    s = tuning_settings(spec)
    sampler = ParameterSampler({k: list(v) for k, v in s["space"].items()},
                               n_iter=max(0, s["trials"] - 1),
                               random_state=int(np.random.default_rng(spec.seed)
                                                .integers(2 ** 31)))
    return [dict(spec.params)] + [{**spec.params, **c} for c in sampler]


def inner_folds(wells: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped K-fold over wells (at most one fold per well; deterministic)."""
    n = np.unique(wells).size
    if n < 2:
        raise ConfigError(f"tuning needs at least 2 wells, found {n}")
    return list(GroupKFold(n_splits=min(k, n)).split(wells, groups=wells))


def _trial(params, X, y, features, spec, fl):
    """Pooled inner-CV RMSE (report unit) of one parameter set, and its seconds."""
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    with threadpool_limits(1):
        trial_spec = replace(spec, params=params)
        pred = np.full(y.size, np.nan)
        for tr, te in fl:
            b = fit_bundle(X[tr], y[tr], features, trial_spec, with_novelty=False, p50_only=True)
            pred[te] = b.raw_quantiles(X[te])["p50"]
    rmse = float(np.sqrt(np.nanmean((pred - y) ** 2))) * spec.report_scale  # p.u. / decades
    return rmse, time.perf_counter() - t0


def tune(table: pd.DataFrame, features: list[str], spec: ModelSpec, progress=None,
         n_jobs: int = 1, task_map: TaskMap | None = None) -> tuple[dict, pd.DataFrame]:
    """Best parameters and the table of trials (parameters, blind RMSE in the report unit,
    p.u. or decades, and seconds). ``trials.attrs``: ``planned`` (the spec's trial count),
    ``run`` and ``stopped`` ('' or why the search stopped early). Trials run in ``n_jobs``
    processes or as the tasks of ``task_map`` (:mod:`petro.models.tasks`; each trial's result
    depends only on its parameters and the data, and trials are read in their order)."""
    s = tuning_settings(spec)
    y_all = table[spec.column].to_numpy(dtype=float)
    keep = np.isfinite(y_all)
    data = table.loc[keep].reset_index(drop=True)
    y = y_all[keep]
    X = data[features].to_numpy(dtype=float)
    fl = inner_folds(data[WELL].astype(str).to_numpy(), s["inner_folds"])
    start = time.perf_counter()
    trials = []
    cands = candidates(spec)
    stopped = ""
    results = run_tasks(_trial, [(c,) for c in cands], (X, y, features, spec, fl),
                        n_jobs=n_jobs, task_map=task_map)
    for params, (rmse, seconds) in zip(cands, results):
        trials.append({**{f"param.{k}": v for k, v in params.items()}, "blind_rmse": rmse,
                       "seconds": seconds})
        if progress:
            progress(f"trial {len(trials)}: {rmse:.4f}")
        if len(trials) < len(cands) and s["budget_s"] is not None and \
                time.perf_counter() - start > s["budget_s"]:
            stopped = (f"time budget {s['budget_s']:g} s reached after {len(trials)} of "
                       f"{len(cands)} trials: the result depends on the machine's speed")
            break
    close(results)       # a search stopped early: the trials not yet run are cancelled
    table_ = pd.DataFrame(trials)
    table_.attrs.update(planned=len(cands), run=len(trials), stopped=stopped)
    # first best wins ties: the same trials give the same choice
    best = cands[int(np.argmin(table_["blind_rmse"].to_numpy()))]
    return best, table_


def tuning_problems(model: str, trials: pd.DataFrame) -> list[Problem]:
    """A warning (code ``tuning_budget``) when the search of ``trials`` (:func:`tune`) stopped
    early on its time budget, else nothing."""
    why = trials.attrs.get("stopped", "")
    return [Problem(Severity.WARNING, f"{model}: tuning: {why}", code="tuning_budget")] \
        if why else []
