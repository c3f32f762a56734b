"""Blind-well validation: leave-one-well-out (or grouped K-fold), metrics, baselines,
conformalised P10/P90 and the calibration of the novelty threshold.

Everything here is computed on wells the fold's model never saw. Conformal (CQR) adjustment: the
score of a sample is ``max(q_lo - y, y - q_hi)`` from its out-of-fold quantiles; the adjustment is
the ``(1 - alpha)(1 + 1/n)`` quantile of the scores. The reported coverage is itself blind: the
adjustment applied to a well is computed from the other wells' scores only. The novelty
thresholds (one per input block) are calibrated on the out-of-fold distances so that a share
``novelty_quantile`` of blind-well depths is "in domain" in every block at once; the reported
in-domain rate is blind the same way (thresholds from the other wells).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from petro.errors import ModelError
from petro.models.runtime import Bundle
from petro.models.selection import select_inputs
from petro.models.spec import ModelSpec
from petro.models.tasks import TaskMap, run_tasks
from petro.models.train import calibrate_thresholds, fit_bundle, novelty_blocks, sklearn_estimator

LOG10_3 = np.log10(3.0)


def regression_metrics(y: np.ndarray, p: np.ndarray, target: str) -> dict[str, float]:
    """Porosity: RMSE/MAE in p.u. and R2; permeability: RMSE in decades, within x3 / x10, R2."""
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok], p[ok]
    if y.size == 0:
        return {}
    e = p - y
    ss = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(e ** 2)) / ss if ss > 0 else float("nan")
    if target == "porosity":
        return {"rmse_pu": float(np.sqrt(np.mean(e ** 2)) * 100), "mae_pu": float(np.mean(np.abs(e)) * 100),
                "r2": r2, "n": int(y.size)}
    return {"rmse_dec": float(np.sqrt(np.mean(e ** 2))), "mae_dec": float(np.mean(np.abs(e))),
            "within_x3": float(np.mean(np.abs(e) <= LOG10_3)),
            "within_x10": float(np.mean(np.abs(e) <= 1.0)), "r2": r2, "n": int(y.size)}


def primary_metric(target: str) -> str:
    return "rmse_pu" if target == "porosity" else "rmse_dec"


def conformal_quantile(scores: np.ndarray, coverage: float) -> float:
    s = np.sort(scores[np.isfinite(scores)])
    if s.size == 0:
        return 0.0
    level = min(1.0, coverage * (1 + 1 / s.size))
    return float(np.quantile(s, level, method="higher"))


@dataclass
class CVResult:
    spec: ModelSpec
    features: list[str]
    oof: pd.DataFrame                  # per sample: WELL, DEPT, y, p50, lo, hi, dist, baselines
    per_well: pd.DataFrame             # one row per (well, model): metrics
    pooled: dict[str, dict[str, float]]  # model -> metrics
    conformal_adj: float
    novelty_thresholds: dict[str, float]
    coverage: dict[str, float] = field(default_factory=dict)
    in_domain: dict[str, float] = field(default_factory=dict)
    importance: pd.Series | None = None
    tuning: pd.DataFrame | None = None   # nested CV: per outer fold, the trials and the choice
    inputs: dict[str, list[str]] = field(default_factory=dict)   # per fold: the inputs it used


def folds(wells: np.ndarray, spec: ModelSpec):
    uniq = np.unique(wells)
    if uniq.size < 2:
        raise ModelError(f"{spec.name}: blind-well validation needs at least 2 wells with targets, "
                         f"found {uniq.size}")
    if spec.cv == "lowo" or (spec.cv == "auto" and uniq.size <= 12):
        for w in uniq:
            yield str(w), np.flatnonzero(wells != w), np.flatnonzero(wells == w)
        return
    k = min(spec.n_splits, uniq.size)
    for i, (tr, te) in enumerate(GroupKFold(n_splits=k).split(wells, groups=wells)):
        yield f"fold{i}", tr, te


def petro_baseline(train: pd.DataFrame, test: pd.DataFrame, spec: ModelSpec) -> np.ndarray:
    """Single-log petrophysical estimate: density porosity; for permeability, a log-linear
    poro-perm transform on density porosity fitted on the training wells."""
    phid_te = test["PHID"].to_numpy(dtype=float) if "PHID" in test else np.full(len(test), np.nan)
    if spec.target == "porosity":
        return np.clip(phid_te, 0.0, 0.5)
    x = train["PHID"].to_numpy(dtype=float) if "PHID" in train else np.array([])
    y = train[spec.column].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 5:
        return np.full(len(test), np.nanmean(y))
    a, b = np.polyfit(x[ok], y[ok], 1)
    return a * phid_te + b


def _fold(name, tr, te, X, y, Xl, Xb, data, features, logs_only, spec, nested):
    """One outer fold: (nested) tuning on the fold's training wells only, then the model, the
    logs-only model and the baselines fitted on them and applied to the blind well(s)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):     # one thread per process: the result never depends on cores
        if spec.max_inputs:   # input selection on the fold's training wells only
            kept = select_inputs(X[tr], y[tr], features, spec)
            X = X[:, [features.index(f) for f in kept]]
            features = kept
        tuned = None
        if nested and data["WELL"].iloc[tr].nunique() < 2:   # nothing to tune across
            tuned = {"fold": name, "trials_run": 0, "trials_planned": 0,
                     "stopped": "one training well: no search, the spec's parameters are used",
                     "inner_rmse": float("nan")}
        elif nested:
            from petro.models.tuning import tune

            best, trials = tune(data.iloc[tr], features, spec)
            tuned = {"fold": name, "trials_run": trials.attrs["run"],
                     "trials_planned": trials.attrs["planned"],
                     "stopped": trials.attrs["stopped"],
                     "inner_rmse": float(trials["blind_rmse"].min()),
                     **{f"param.{k}": v for k, v in best.items()}}
            spec = replace(spec, params=best)
        bundle = fit_bundle(X[tr], y[tr], features, spec)
        out = {"q": bundle.raw_quantiles(X[te]), "tuned": tuned, "dist": None, "inputs": features,
               "imp": pd.Series(bundle.boosters["p50"].feature_importance("gain"),
                                index=bundle.model_features),
               "petro": petro_baseline(data.iloc[tr], data.iloc[te], spec),
               "mean": float(np.mean(y[tr])), "sk": {}}
        if "novelty" in bundle.meta:
            out["dist"] = ([b["name"] for b in bundle.meta["novelty"]["blocks"]],
                           bundle.novelty_distances(X[te]))
        if logs_only:
            lb = fit_bundle(Xl[tr], y[tr], logs_only, spec, with_novelty=False, p50_only=True)
            out["logs_only"] = lb.raw_quantiles(Xl[te])["p50"]
        for b in spec.baselines:
            est = sklearn_estimator(b, {}, seed=spec.seed)
            est.fit(Xb[tr], y[tr])
            out["sk"][b] = est.predict(Xb[te])
    return out


def cross_validate(table: pd.DataFrame, features: list[str], spec: ModelSpec, *,
                   logs_only: list[str] | None = None, progress=None, nested: bool = False,
                   n_jobs: int = 1, task_map: TaskMap | None = None) -> CVResult:
    """Blind-well cross-validation of ``spec`` on ``table`` (rows with a valid target).

    ``nested``: the hyper-parameters are tuned inside each outer fold on that fold's training
    wells only (:func:`petro.models.tuning.tune`), so the blind figures are free of the
    selection. With ``spec.max_inputs``, each fold first keeps its inputs
    (:func:`petro.models.selection.select_inputs`) on its training wells only, and tunes and fits
    on them (``CVResult.inputs``: the inputs of each fold). Folds (each with its selection,
    tuning, model, logs-only model and baselines) run in ``n_jobs`` processes, or as the tasks
    of ``task_map`` (e.g. on a Dask cluster, see :mod:`petro.models.tasks`); each fold's result
    depends only on its data and the seed and the folds are pooled in fold order, so the result
    is the same wherever they ran.
    """
    y_all = table[spec.column].to_numpy(dtype=float)
    keep = np.isfinite(y_all)
    data = table.loc[keep].reset_index(drop=True)
    y = y_all[keep]
    wells = data["WELL"].astype(str).to_numpy()
    X = data[features].to_numpy(dtype=float)
    oof = pd.DataFrame({"WELL": wells, "DEPT": data["DEPT"].to_numpy(), "y": y})
    for c in ("p50", "lo", "hi", "dist", "mean", "petro", "logs_only"):
        oof[c] = np.nan
    for b in spec.baselines:
        oof[f"sk_{b}"] = np.nan
    # scikit-learn baselines see the conventional logs (the petrophysicist's inputs)
    base_cols = [f for f in (logs_only or features) if f in data.columns]
    Xb = data[base_cols].to_numpy(dtype=float)
    Xl = data[logs_only].to_numpy(dtype=float) if logs_only else None
    block_names = list(novelty_blocks(features))
    D = np.full((len(data), len(block_names)), np.nan)   # out-of-fold novelty distances per block
    imp = pd.Series(dtype=float)
    fl = list(folds(wells, spec))
    cols = ["WELL"] + [c for c in ("PHID", spec.column) if c in data.columns]
    small = data[list(dict.fromkeys(cols + (features if nested else [])))]
    results = run_tasks(_fold, fl, (X, y, Xl, Xb, small, features, logs_only, spec, nested),
                        n_jobs=n_jobs, task_map=task_map)
    tuned, fold_inputs = [], {}
    for (name, tr, te), r in zip(fl, results):
        fold_inputs[name] = r["inputs"]
        q = r["q"]
        oof.loc[te, "p50"], oof.loc[te, "lo"], oof.loc[te, "hi"] = q["p50"], q["p10"], q["p90"]
        if r["dist"] is not None:
            idx = [block_names.index(b) for b in r["dist"][0]]
            D[np.ix_(te, idx)] = r["dist"][1]
        imp = imp.add(r["imp"], fill_value=0.0)
        oof.loc[te, "mean"] = r["mean"]
        oof.loc[te, "petro"] = r["petro"]
        if logs_only:
            oof.loc[te, "logs_only"] = r["logs_only"]
        for b, v in r["sk"].items():
            oof.loc[te, f"sk_{b}"] = v
        if r["tuned"]:
            tuned.append(r["tuned"])
        if progress:
            progress(name)
    return summarise(oof, D, block_names, imp / len(fl), spec, features, tuned, bool(logs_only),
                     fold_inputs)


def summarise(oof: pd.DataFrame, D: np.ndarray, block_names: list[str], importance: pd.Series,
              spec: ModelSpec, features: list[str], tuned: list[dict],
              logs_only: bool, fold_inputs: dict[str, list[str]] | None = None) -> CVResult:
    """The :class:`CVResult` of out-of-fold rows ``oof`` (WELL, DEPT, y, p50, lo, hi and one
    column per comparator: mean, petro, logs_only, sk_<name>) and their out-of-fold novelty
    distances ``D`` (rows x ``block_names``; ``logs_only``: whether the logs-only comparator
    ran): conformal adjustment, blind coverage, novelty
    thresholds, blind in-domain rate and the pooled and per-well metrics."""
    wells = oof["WELL"].astype(str).to_numpy()
    # conformal adjustment, blind coverage, novelty threshold and blind in-domain rate
    scores = np.maximum(oof["lo"] - oof["y"], oof["y"] - oof["hi"]).to_numpy()
    nominal = spec.nominal_coverage
    adj = conformal_quantile(scores, nominal) if spec.conformal else 0.0
    have = np.isfinite(D).any(axis=0)
    D = D[:, have]
    block_names = [b for b, h in zip(block_names, have) if h]
    thr = calibrate_thresholds(D, spec.novelty_quantile)
    oof["dist"] = (D / thr).max(axis=1) if D.shape[1] else np.nan
    covered = np.zeros(len(oof), dtype=bool)
    in_dom = np.zeros(len(oof), dtype=bool)
    oof["lo_c"], oof["hi_c"] = np.nan, np.nan
    for w in np.unique(wells):
        m = wells == w
        a = conformal_quantile(scores[~m], nominal) if spec.conformal else 0.0
        lo = np.minimum(oof.loc[m, "lo"] - a, oof.loc[m, "p50"])
        hi = np.maximum(oof.loc[m, "hi"] + a, oof.loc[m, "p50"])
        oof.loc[m, "lo_c"], oof.loc[m, "hi_c"] = lo, hi
        covered[m] = (oof.loc[m, "y"] >= lo) & (oof.loc[m, "y"] <= hi)
        if D.shape[1]:
            t = calibrate_thresholds(D[~m], spec.novelty_quantile)
            in_dom[m] = ~((D[m] / t).max(axis=1) > 1.0)
        else:
            in_dom[m] = True
    oof["covered"], oof["in_domain"] = covered, in_dom
    models = {"model": "p50", "train_mean": "mean", "petrophysical": "petro",
              **{b: f"sk_{b}" for b in spec.baselines}}
    if logs_only:
        models["logs_only"] = "logs_only"
    rows = []
    pooled = {}
    for label, col in models.items():
        pooled[label] = regression_metrics(oof["y"].to_numpy(), oof[col].to_numpy(), spec.target)
        for w, g in oof.groupby("WELL"):
            rows.append({"well": w, "model": label,
                         **regression_metrics(g["y"].to_numpy(), g[col].to_numpy(), spec.target)})
    pooled["model"]["coverage_p10_p90"] = float(covered.mean())
    pooled["model"]["in_domain_rate"] = float(in_dom.mean())
    per_well = pd.DataFrame(rows)
    cov_w = oof.groupby("WELL")["covered"].mean().to_dict()
    dom_w = oof.groupby("WELL")["in_domain"].mean().to_dict()
    per_well.loc[per_well.model == "model", "coverage_p10_p90"] = \
        per_well.loc[per_well.model == "model", "well"].map(cov_w)
    per_well.loc[per_well.model == "model", "in_domain_rate"] = \
        per_well.loc[per_well.model == "model", "well"].map(dom_w)
    return CVResult(spec, features, oof, per_well, pooled, adj,
                    {b: float(t) for b, t in zip(block_names, thr)},
                    {str(k): float(v) for k, v in cov_w.items()},
                    {str(k): float(v) for k, v in dom_w.items()},
                    importance.sort_values(ascending=False),
                    pd.DataFrame(tuned) if tuned else None, fold_inputs or {})


def fit_final(table: pd.DataFrame, features: list[str], spec: ModelSpec, cv: CVResult) -> Bundle:
    """Fit on every well, with the conformal adjustment and novelty threshold from ``cv``."""
    y = table[spec.column].to_numpy(dtype=float)
    X = table[features].to_numpy(dtype=float)
    bundle = fit_bundle(X, y, features, spec, conformal={"lo": cv.conformal_adj,
                                                          "hi": cv.conformal_adj},
                        novelty_thresholds=cv.novelty_thresholds)
    bundle.meta["cv"] = {"pooled": cv.pooled["model"], "wells": sorted(cv.oof.WELL.unique())}
    return bundle
