"""Blind-well validation: leave-one-well-out (or grouped K-fold), metrics, baselines,
conformalised P10/P90 and the calibration of the novelty threshold.

Everything here is computed on wells the fold's model never saw. Conformal (CQR) adjustment: the
score of a sample is ``max(q_lo - y, y - q_hi)`` from its out-of-fold quantiles; the adjustment is
the ``(1 - alpha)(1 + 1/n)`` quantile of the scores. The reported coverage is itself blind: the
adjustment applied to a well is computed from the other wells' scores only. The novelty
thresholds (one per input block) are calibrated on the out-of-fold distances so that a share
``novelty_quantile`` of the depths of every blind well is "in domain" in every block at once
(per well, not pooled: one unlike well cannot carry most of the flags); the reported in-domain
rate is blind the same way (thresholds from the other wells).

The folds are written once, against :class:`petro.models.rows.Rows` (where the rows live): in
memory (:func:`cross_validate`), or on a Dask cluster (``petro.app.disttrain``).
"""

from __future__ import annotations

import warnings

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from petro.models.blind import SIBLING_BLOCK, FoldModel, fit_petro
from petro.models.conformal import conformal_quantile
from petro.models.groups import SIBLING, DecisionFits, GroupDecision, decide_groups, \
    sibling_inputs
from petro.models.novelty import blind_thresholds, calibrate_thresholds, novelty_blocks
from petro.models.rows import Fold, InMemory, Rows, blind_folds
from petro.models.runtime import Bundle
from petro.models.selection import select_inputs
from petro.models.spec import ModelSpec
from petro.models.tasks import TaskMap, run_tasks
from petro.models.train import fit_bundle, fit_model, sklearn_estimator
from petro.models.tuning import tune, tuning_problems
from petro.problems import Problem, Severity
from petro.vocab import COVERAGE, IN_DOMAIN, WELL, is_windowed_log

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
    problems: list[Problem] = field(default_factory=list)   # non-fatal: a search stopped early
    groups: dict[str, dict] = field(default_factory=dict)   # per fold: its input-group decision
    logs_only: "CVResult | None" = None   # the logs-only sibling's own blind validation


ONE_WELL = "one training well: no search, the spec's parameters are used"


def _search(fold: Fold, rows: Rows, features: list[str], spec: ModelSpec, nested: bool,
            trial_map: TaskMap | None) -> tuple[ModelSpec, dict | None, list[Problem]]:
    """Nested tuning of a fold on its training wells' rows in memory (the trials as tasks of
    ``trial_map``, else here): the fold's spec, its row of the nested-tuning table, problems."""
    if not nested:
        return spec, None, []
    if len(fold.train) < 2:   # nothing to tune across
        return spec, {"fold": fold.name, "trials_run": 0, "trials_planned": 0,
                      "stopped": ONE_WELL, "inner_rmse": float("nan")}, \
            [Problem(Severity.WARNING, f"{spec.name}: tuning: {ONE_WELL}", code="tuning_skipped")]
    best, trials = tune(rows.frame(fold), features, spec, task_map=trial_map)
    return replace(spec, params=best), {
        "fold": fold.name, "trials_run": trials.attrs["run"],
        "trials_planned": trials.attrs["planned"], "stopped": trials.attrs["stopped"],
        "inner_rmse": float(trials["blind_rmse"].min()),
        **{f"param.{k}": v for k, v in best.items()}}, tuning_problems(spec.name, trials)


@dataclass
class FoldResult:
    """One fold's out-of-fold rows, their novelty distances and what the fold chose."""

    oof: pd.DataFrame
    dist: np.ndarray
    importance: pd.Series
    inputs: list[str]
    tuned: dict | None
    problems: list[Problem]
    groups: dict | None = None      # the fold's input-group decision (GroupDecision.to_dict)
    logs_importance: pd.Series | None = None   # its logs-only sibling's gain importance


def baseline_columns(name: str, columns: list[str]) -> list[int]:
    """Positions among the baselines' ``columns`` that baseline ``name`` sees: the windowed
    statistics for ``ridge_windowed`` only (with the logs), the conventional logs for the others."""
    return [j for j, c in enumerate(columns) if name == "ridge_windowed" or not is_windowed_log(c)]


def _sibling(fold: Fold, rows: Rows, y: np.ndarray, candidates: list[str], features: list[str],
             bundle: Bundle, spec: ModelSpec, decision: GroupDecision) -> tuple[list[str], Bundle]:
    """The fold's logs-only sibling: its inputs and bundle. The model itself when no image
    group was kept (the same inputs); else the kept log groups, selected and fitted the same
    way (with the fold's parameters and the sibling's own P50 rounds)."""
    logs = sibling_inputs(candidates)
    if logs == candidates:
        return features, bundle
    if spec.max_inputs:
        logs = select_inputs(rows.inputs(fold, logs), y, logs, spec)
    return logs, fit_bundle(rows.inputs(fold, logs), y, logs, decision.spec_for(spec, SIBLING),
                            fitter=rows.fitter(fold), stats=rows.stats(fold))


def fold_blocks(rows: Rows) -> list[str]:
    """The novelty blocks of a fold's blind rows: the model's candidate inputs', then its
    logs-only sibling's (``logs_only:<block>``)."""
    own = list(novelty_blocks(rows.features))
    return own + [SIBLING_BLOCK + b for b in novelty_blocks(rows.logs_only or [])]


def _fold(fold: Fold, rows: Rows, spec: ModelSpec, nested: bool,
          trial_map: TaskMap | None = None, fits: DecisionFits | None = None) -> FoldResult:
    """One outer fold, on the fold's training wells only: the input groups kept, the input
    selection and (nested) tuning, then the model, its logs-only sibling and the baselines
    fitted and applied to the blind well(s)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):     # one thread per process: the result never depends on cores
        y = rows.target(fold)
        train = rows.frame(fold)
        decision = decide_groups(rows.inputs(fold, rows.features), y,
                                 train[WELL].astype(str).to_numpy(), rows.features, spec, fits)
        candidates = decision.features(rows.features)
        features = candidates
        if spec.max_inputs:   # input selection on the fold's training wells only
            features = select_inputs(rows.inputs(fold, features), y, features, spec)
        spec, tuned, problems = _search(fold, rows, features, spec, nested, trial_map)
        stats = rows.stats(fold)
        bundle = fit_bundle(rows.inputs(fold, features), y, features, decision.spec_for(spec),
                            fitter=rows.fitter(fold), stats=stats)
        phid = train["PHID"].to_numpy(dtype=float) if "PHID" in train else np.full(y.size, np.nan)
        model = FoldModel(bundle, features, fold_blocks(rows), fit_petro(phid, y, spec),
                          stats.mean)
        if rows.logs_only:
            model.logs_features, model.logs_bundle = _sibling(fold, rows, y, candidates,
                                                              features, bundle, spec, decision)
        for b in spec.baselines:
            idx = baseline_columns(b, rows.baseline_columns)
            model.baselines[b] = (sklearn_estimator(b, {}, seed=spec.seed).fit(
                rows.baseline(fold)[:, idx], y), idx)
        oof, dist = rows.blind(fold, model)
    return FoldResult(oof, dist, _importance(bundle), features, tuned, problems,
                      decision.to_dict(), _importance(model.logs_bundle))


def _importance(bundle: Bundle | None) -> pd.Series | None:
    """The gain importance of a bundle's P50 booster per model feature (None: no bundle)."""
    if bundle is None:
        return None
    return pd.Series(bundle.heads["p50"].feature_importance("gain"), index=bundle.model_features)


def _mean_importance(parts: list[pd.Series | None]) -> pd.Series:
    """The mean over folds of the folds' importances (a feature a fold lacks counts 0)."""
    total = pd.Series(dtype=float)
    for imp in parts:
        if imp is not None:
            total = total.add(imp, fill_value=0.0)
    return total / max(1, len(parts))


def validate(rows: Rows, spec: ModelSpec, *, nested: bool = False, progress=None,
             n_jobs: int = 1, task_map: TaskMap | None = None,
             fits: DecisionFits | None = None) -> CVResult:
    """Blind-well cross-validation of ``spec`` on ``rows`` (:class:`petro.models.rows.Rows`).

    Each outer fold decides on its training wells only which input groups to keep
    (:func:`petro.models.groups.decide_groups`; ``CVResult.groups``), then, with
    ``spec.max_inputs``, which inputs (:func:`petro.models.selection.select_inputs`;
    ``CVResult.inputs``), then (``nested``) tunes the hyper-parameters
    (:func:`petro.models.tuning.tune`), so the blind figures are free of every choice. The
    model's logs-only sibling (the kept log groups; the model itself when no image group was
    kept) is fitted in the same folds and validated like the model (``CVResult.logs_only``).
    Rows that can travel (``rows.portable``): the folds run in ``n_jobs`` processes, or as the
    tasks of ``task_map`` (e.g. on a Dask cluster, see :mod:`petro.models.tasks`); else the
    folds run here and the trials of their searches are the tasks of ``task_map``. Each fold's
    result depends only on its data and the seed and the folds are pooled in row order, so the
    result is the same wherever they ran. ``progress(fold name)`` after each fold. ``fits``:
    the inner fits of the folds' input-group decisions, done once for all of them
    (:func:`petro.models.groups.decision_fits`; without them each fold fits its own).
    """
    fl = rows.folds(spec)
    if rows.portable:
        results = run_tasks(_fold, [(f,) for f in fl], (rows, spec, nested, None, fits),
                            n_jobs=n_jobs, task_map=task_map)
    else:
        results = (_fold(f, rows, spec, nested, task_map, fits) for f in fl)
    done = []
    for fold, r in zip(fl, results):
        done.append(r)
        if progress:
            progress(fold.name)
    order = np.argsort(np.concatenate([f.te for f in fl]), kind="stable")
    oof = pd.concat([r.oof for r in done], ignore_index=True).iloc[order].reset_index(drop=True)
    D = np.vstack([r.dist for r in done])[order]
    blocks = fold_blocks(rows)
    own = [j for j, b in enumerate(blocks) if not b.startswith(SIBLING_BLOCK)]
    sibling = None
    if rows.logs_only:
        sib = [j for j, b in enumerate(blocks) if b.startswith(SIBLING_BLOCK)]
        # the sibling's own block names (its detector looks its thresholds up by them)
        sibling = summarise(_sibling_oof(oof), D[:, sib],
                            [blocks[j][len(SIBLING_BLOCK):] for j in sib],
                            _mean_importance([r.logs_importance for r in done]), spec,
                            list(rows.logs_only), [], None)
    cv = summarise(oof, D[:, own], [blocks[j] for j in own],
                   _mean_importance([r.importance for r in done]), spec,
                   rows.features, [r.tuned for r in done if r.tuned], sibling,
                   {f.name: r.inputs for f, r in zip(fl, done)},
                   [p for r in done for p in r.problems])
    cv.groups = {f.name: r.groups for f, r in zip(fl, done)}
    return cv


def _sibling_oof(oof: pd.DataFrame) -> pd.DataFrame:
    """The out-of-fold rows as the logs-only sibling's (its P50, P10, P90 as the model's)."""
    out = oof.drop(columns=["p50", "lo", "hi", "logs_only", "logs_lo", "logs_hi"])
    return out.assign(p50=oof["logs_only"], lo=oof["logs_lo"], hi=oof["logs_hi"])


def cross_validate(table: pd.DataFrame, features: list[str], spec: ModelSpec, *,
                   logs_only: list[str] | None = None, progress=None, nested: bool = False,
                   n_jobs: int = 1, task_map: TaskMap | None = None) -> CVResult:
    """Blind-well cross-validation of ``spec`` on the rows of ``table`` held in memory (rows
    with a valid target; :func:`validate`). ``logs_only``: the inputs of the logs-only
    comparator (None: no comparator; the scikit-learn baselines then see ``features``)."""
    rows = InMemory(table).rows(spec.column, features, logs_only, nested)
    return validate(rows, spec, nested=nested, progress=progress, n_jobs=n_jobs,
                    task_map=task_map)


def _blind_bands(oof: pd.DataFrame, D: np.ndarray, block_names: list[str], spec: ModelSpec) \
        -> tuple[float, dict[str, float]]:
    """The conformal adjustment and novelty thresholds of every out-of-fold row, and (columns
    added to ``oof``: dist, lo_c, hi_c, covered, in_domain) each blind fold's band, coverage
    and in-domain flags with the adjustment and thresholds of the other folds' wells only
    (blind; the folds as validation splits the wells, :func:`blind_folds`: each well up to 12
    wells, grouped K-fold beyond, so a field of thousands of wells calibrates K times, not
    once per well). A block the other folds' models do not have (they dropped that input
    group) has no blind evidence: the pooled threshold stands in there (this fold's own
    distances, the only evidence), not the 1.0 of a block without any distance (a raw Mahalanobis distance: that
    flagged 72 % of such a well's depths)."""
    wells = oof[WELL].astype(str).to_numpy()
    scores = np.maximum(oof["lo"] - oof["y"], oof["y"] - oof["hi"]).to_numpy()
    nominal = spec.nominal_coverage
    adj = conformal_quantile(scores, nominal) if spec.conformal else 0.0
    have = np.isfinite(D).any(axis=0)
    D = D[:, have]
    block_names = [b for b, h in zip(block_names, have) if h]
    thr = calibrate_thresholds(D, spec.novelty_quantile, wells,
                               new_well=spec.novelty_new_well)
    with warnings.catch_warnings():      # a row without any block's distance: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        oof["dist"] = np.nanmax(D / thr, axis=1) if D.shape[1] else np.nan
    covered = np.zeros(len(oof), dtype=bool)
    in_dom = np.zeros(len(oof), dtype=bool)
    lo_c, hi_c = np.full(len(oof), np.nan), np.full(len(oof), np.nan)
    lo_r, hi_r, p50, y = (oof[c].to_numpy(dtype=float) for c in ("lo", "hi", "p50", "y"))
    units = [f.te for f in blind_folds(wells, spec)] if np.unique(wells).size >= 2 \
        else [np.arange(len(oof))]
    for te in units:
        m = np.zeros(len(oof), dtype=bool)
        m[te] = True
        a = conformal_quantile(scores[~m], nominal) if spec.conformal else 0.0
        lo_c[m] = np.minimum(lo_r[m] - a, p50[m])
        hi_c[m] = np.maximum(hi_r[m] + a, p50[m])
        covered[m] = (y[m] >= lo_c[m]) & (y[m] <= hi_c[m])
        if D.shape[1]:
            seen = np.isfinite(D[~m]).any(axis=0)
            t = thr.copy()
            if seen.any():
                t[seen] = calibrate_thresholds(D[~m][:, seen], spec.novelty_quantile,
                                               wells[~m], new_well=spec.novelty_new_well)
            in_dom[m] = ~((D[m] / t).max(axis=1) > 1.0)
        else:
            in_dom[m] = True
    oof["lo_c"], oof["hi_c"] = lo_c, hi_c
    oof["covered"], oof["in_domain"] = covered, in_dom
    return adj, {b: float(t) for b, t in zip(block_names, thr)}


def _metrics(oof: pd.DataFrame, spec: ModelSpec) \
        -> tuple[dict[str, dict[str, float]], pd.DataFrame]:
    """Pooled and per-well blind metrics of the model and of each comparator (with the blind
    coverage and in-domain rate of the model, from :func:`_blind_bands`)."""
    models = {"model": "p50", "train_mean": "mean", "petrophysical": "petro",
              **{b: f"sk_{b}" for b in spec.baselines}}
    rows = []
    pooled = {}
    for label, col in models.items():
        pooled[label] = regression_metrics(oof["y"].to_numpy(), oof[col].to_numpy(), spec.target)
        for w, g in oof.groupby(WELL):
            rows.append({"well": w, "model": label,
                         **regression_metrics(g["y"].to_numpy(), g[col].to_numpy(), spec.target)})
    pooled["model"][COVERAGE] = float(oof["covered"].to_numpy().mean())
    pooled["model"][IN_DOMAIN] = float(oof["in_domain"].to_numpy().mean())
    per_well = pd.DataFrame(rows)
    model = per_well.model == "model"
    for key, col in ((COVERAGE, "covered"), (IN_DOMAIN, "in_domain")):
        per_well.loc[model, key] = per_well.loc[model, "well"].map(
            oof.groupby(WELL)[col].mean().to_dict())
    return pooled, per_well


def summarise(oof: pd.DataFrame, D: np.ndarray, block_names: list[str], importance: pd.Series,
              spec: ModelSpec, features: list[str], tuned: list[dict],
              logs_only: CVResult | None, fold_inputs: dict[str, list[str]] | None = None,
              problems: list[Problem] | None = None) -> CVResult:
    """The :class:`CVResult` of out-of-fold rows ``oof`` (WELL, DEPT, y, p50, lo, hi and one
    column per comparator: mean, petro, sk_<name>) and their out-of-fold novelty distances
    ``D`` (rows x ``block_names``): conformal adjustment, blind coverage, novelty thresholds,
    blind in-domain rate and the pooled and per-well metrics. ``logs_only``: the logs-only
    sibling's own result (its pooled and per-well figures are reported as ``logs_only``)."""
    adj, thresholds = _blind_bands(oof, D, block_names, spec)
    pooled, per_well = _metrics(oof, spec)
    if logs_only is not None:
        pooled["logs_only"] = dict(logs_only.pooled["model"])
        mine = logs_only.per_well[logs_only.per_well.model == "model"].assign(model="logs_only")
        per_well = pd.concat([per_well, mine], ignore_index=True)
    cov_w = oof.groupby(WELL)["covered"].mean().to_dict()
    dom_w = oof.groupby(WELL)["in_domain"].mean().to_dict()
    return CVResult(spec, features, oof, per_well, pooled, adj, thresholds,
                    {str(k): float(v) for k, v in cov_w.items()},
                    {str(k): float(v) for k, v in dom_w.items()},
                    importance.sort_values(ascending=False),
                    pd.DataFrame(tuned) if tuned else None, fold_inputs or {}, problems or [],
                    logs_only=logs_only)


def fit_final_model(rows: Rows, features: list[str], spec: ModelSpec, cv: CVResult):
    """The record and boosters of the model fitted on every training well (inputs
    ``features``), with the conformal adjustment from ``cv`` and its novelty detector's
    thresholds calibrated on leave-one-well-out detectors of its own columns
    (:func:`petro.models.novelty.blind_thresholds`; ``cv``'s, of the folds' detectors, where
    that cannot be done)."""
    every = rows.everything()
    X, y = rows.inputs(every, features), rows.target(every)
    record, boosters = fit_model(X, y, features, spec,
                                 fitter=rows.fitter(every), stats=rows.stats(every),
                                 conformal={"lo": cv.conformal_adj, "hi": cv.conformal_adj},
                                 novelty_thresholds=cv.novelty_thresholds)
    if record.novelty:
        ok = np.isfinite(y)
        wells = rows.frame(every)[WELL].astype(str).to_numpy()[ok]
        Xm = Bundle(record.to_dict(), boosters).design(X[ok])
        folds = [(f.tr, f.te) for f in blind_folds(wells, spec)]   # as validation splits
        thr = blind_thresholds(Xm, record.model_features, wells, spec.novelty_quantile, folds,
                               new_well=spec.novelty_new_well)
        for b in record.novelty["blocks"] if thr else []:
            b["threshold"] = thr.get(b["name"], b["threshold"])
    record.cv = {"pooled": cv.pooled["model"], "wells": sorted(cv.oof[WELL].unique())}
    return record, boosters


def fit_final(table: pd.DataFrame, features: list[str], spec: ModelSpec, cv: CVResult) -> Bundle:
    """Fit on every well of ``table`` (in memory), with the conformal adjustment and novelty
    threshold from ``cv``."""
    record, boosters = fit_final_model(InMemory(table).rows(spec.column, features, None, False),
                                       features, spec, cv)
    return Bundle(record.to_dict(), boosters)
