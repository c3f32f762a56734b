"""Fitting: LightGBM quantile boosters and their inputs into a runtime bundle, and scikit-learn
comparators.

A bundle is fitted in two parts (:func:`fit_model`). What is fitted on rows held in memory: the
input embedding (PCA of the image patches), the ridge linear base, the novelty detector and the
target's range. And the boosters, fitted by a :class:`BoosterFitter` on the rows it holds: by
default :func:`fit_boosters` (``lgb.train`` on the same rows in memory); on a Dask cluster,
``petro.app.disttrain`` passes one that fits ``lightgbm.dask`` on every row of the training
wells' partitions (the rows in memory are then a well-stratified sample of them, and the
target's range, :class:`TargetStats`, comes from every row). Either way the same parameters
(:func:`lgb_params`) and heads (:func:`heads`) are fitted and the model's state is one
:class:`~petro.models.record.ModelRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import lightgbm as lgb
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from petro.errors import ModelError
from petro.models.embedding import fit_embedding
from petro.models.novelty import fit_detector
from petro.models.record import ModelRecord
from petro.models.runtime import Bundle, linear_base, pca_scores
from petro.models.spec import ModelSpec
from petro.vocab import is_image_feature, is_patch_feature

Head = tuple[str, str, float | None]   # (booster key, LightGBM objective, quantile alpha)

DEFAULT_LGB = dict(n_estimators=300, learning_rate=0.04, num_leaves=15, min_child_samples=20,
                   subsample=0.8, subsample_freq=1, colsample_bytree=0.7, reg_lambda=1.0,
                   max_bin=63)
LGB_THREADS = 1
# a petro parameter, not LightGBM's: the P50 (L2) head's rounds x learning rate, chosen on inner
# folds (petro.models.groups.choose_rounds); the quantile heads keep every round
P50_REACH = "p50_reach"


def lgb_params(spec: ModelSpec, objective: str, alpha: float | None = None) -> tuple[dict, int]:
    """LightGBM parameters and boosting rounds of one head of ``spec`` (objective
    ``regression``: the P50, whose rounds ``P50_REACH`` may cut; ``quantile`` with ``alpha``)."""
    p = dict(DEFAULT_LGB)
    p.update(spec.params)
    rounds = int(p.pop("n_estimators"))
    reach = p.pop(P50_REACH, None)
    if reach is not None and objective == "regression":
        rounds = int(min(rounds, max(1, round(float(reach) / float(p["learning_rate"])))))
    ren = {"subsample": "bagging_fraction", "subsample_freq": "bagging_freq",
           "colsample_bytree": "feature_fraction", "reg_lambda": "lambda_l2",
           "reg_alpha": "lambda_l1", "min_child_samples": "min_data_in_leaf"}
    p = {ren.get(k, k): v for k, v in p.items()}
    # bit-identical boosters: deterministic mode, one fixed histogram layout (row-wise), a fixed
    # thread count (default 1: parallelism is across folds and trials, in processes, so the
    # machine's core count never enters a model) and the spec's seed
    p.update(objective=objective, seed=spec.seed, deterministic=True, verbosity=-1,
             num_threads=int(p.get("num_threads", LGB_THREADS)), force_row_wise=True,
             force_col_wise=False)
    if alpha is not None:
        p["alpha"] = alpha
    return p, rounds


def heads(spec: ModelSpec, p50_only: bool = False) -> list[Head]:
    """The boosters of a bundle: ``(key, objective, alpha)`` for P50 (L2), P10 and P90."""
    out = [("p50", "regression", None), ("p10", "quantile", spec.quantiles[0]),
           ("p90", "quantile", spec.quantiles[1])]
    return out[:1] if p50_only else out


def fit_inputs(X: np.ndarray, y: np.ndarray, features: list[str], spec: ModelSpec) -> dict:
    """What turns input columns into the boosters' matrix, fitted on rows ``X`` (finite ``y``):
    the embedding of the image patches (:mod:`petro.models.embedding`), the model's feature names and the ridge
    ``linear_base``. Applied by :func:`model_inputs`; a fit on a sample of the rows serves any
    number of rows (the distributed fit applies it partition by partition)."""
    inputs = list(features)
    pca = fit_embedding(X, inputs, spec.pca_components, spec.embedding, spec.seed) \
        if spec.pca_components else []
    keep = [j for j, f in enumerate(inputs) if not is_patch_feature(f)]
    names = [inputs[j] for j in keep] + [n for g in pca for n in g["names"]]
    prep = {"features": inputs, "keep": keep, "pca": pca, "model_features": names,
            "linear_base": None}
    if spec.linear_base:
        Xm, _ = model_inputs(X, prep)
        prep["linear_base"] = fit_linear_base(Xm, y, names, spec)
    return prep


def model_inputs(X: np.ndarray, prep: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """The boosters' matrix (kept columns, then PCA scores) and the linear base (init score,
    None without one) for input rows ``X`` (columns ``prep["features"]``)."""
    inputs = prep["features"]
    Xm = np.hstack([X[:, prep["keep"]]] +
                   [pca_scores(X[:, [inputs.index(c) for c in g["columns"]]], g)
                    for g in prep["pca"]])
    lb = prep["linear_base"]
    names = prep["model_features"]
    base = linear_base(Xm[:, [names.index(f) for f in lb["features"]]], lb) if lb else None
    return Xm, base


def booster_names(features: list[str]) -> list[str]:
    """Feature names as LightGBM stores them (no spaces)."""
    return [f.replace(" ", "_") for f in features]


@dataclass(frozen=True)
class TargetStats:
    """The finite targets a model is fitted on (model space): how many, their mean and range."""

    n: int
    mean: float
    lo: float
    hi: float

    @classmethod
    def of(cls, y: np.ndarray) -> "TargetStats":
        """Of the finite values ``y`` (at least one)."""
        return cls(int(y.size), float(np.mean(y)), float(y.min()), float(y.max()))


class BoosterFitter(Protocol):
    """Fits a bundle's boosters on the rows it holds: ``fitter(prep, spec, heads)`` -> one
    LightGBM booster per head key, on the boosters' matrix of those rows
    (:func:`model_inputs` with ``prep``, the target as label, the linear base as init score)."""

    def __call__(self, prep: dict, spec: ModelSpec, heads: list[Head]) \
            -> dict[str, lgb.Booster]: ...


def fit_boosters(Xm: np.ndarray, y: np.ndarray, base: np.ndarray | None, prep: dict,
                 spec: ModelSpec, heads: list[Head]) -> dict[str, lgb.Booster]:
    """The in-memory fitter: ``lgb.train`` of each head on the boosters' matrix ``Xm``, target
    ``y`` and init score ``base`` (None: no linear base)."""
    boosters = {}
    for key, obj, alpha in heads:
        params, rounds = lgb_params(spec, obj, alpha)
        ds = lgb.Dataset(Xm, y, init_score=base, feature_name=booster_names(prep["model_features"]),
                         free_raw_data=True, params={"max_bin": params.get("max_bin", 255),
                                                     "verbosity": -1})
        boosters[key] = lgb.train(params, ds, num_boost_round=rounds)
    return boosters


def fit_model(X: np.ndarray, y: np.ndarray, features: list[str], spec: ModelSpec, *,
              fitter: BoosterFitter | None = None, stats: TargetStats | None = None,
              conformal: dict | None = None, novelty_thresholds: dict | None = None,
              with_novelty: bool = True, p50_only: bool = False) \
        -> tuple[ModelRecord, dict[str, lgb.Booster]]:
    """The record and boosters of a model of ``spec`` on input rows ``X`` (columns
    ``features``) and targets ``y`` held in memory (rows without a finite target are left out).

    ``fitter``: fits the boosters on the rows it holds (default: :func:`fit_boosters` on these
    rows); ``stats``: the targets those rows have (default: of ``y``); the rows here then fit
    only the input embedding, the linear base and the novelty detector. ``conformal`` and
    ``novelty_thresholds``: from blind-well validation (none: no widening, thresholds 1)."""
    ok = np.isfinite(y)
    X, y = X[ok], y[ok]
    stats = stats or (TargetStats.of(y) if y.size else TargetStats(0, np.nan, np.nan, np.nan))
    if stats.n < 20 or y.size < 2:
        raise ModelError(f"{spec.name}: only {stats.n} valid target samples; need at least 20")
    prep = fit_inputs(X, y, features, spec)
    Xm, base = model_inputs(X, prep)
    if fitter is None:
        boosters = fit_boosters(Xm, y, base, prep, spec, heads(spec, p50_only))
    else:
        boosters = fitter(prep, spec, heads(spec, p50_only))
    span = float(stats.hi - stats.lo)
    record = ModelRecord(
        name=spec.name, target=spec.target, column=spec.column, output=spec.output,
        unit=spec.unit, transform=spec.transform, features=list(prep["features"]),
        model_features=list(prep["model_features"]), pca=prep["pca"],
        quantiles=list(spec.quantiles), conformal=conformal or {"lo": 0.0, "hi": 0.0},
        clip=[float(stats.lo - 0.25 * span), float(stats.hi + 0.25 * span)],
        n_train=int(stats.n), linear_base=prep["linear_base"] or None,
        novelty=fit_detector(Xm, prep["model_features"], novelty_thresholds)
        if with_novelty else None)
    return record, boosters


def fit_bundle(X: np.ndarray, y: np.ndarray, features: list[str], spec: ModelSpec,
               **kw) -> Bundle:
    """Fit P50 (L2) and the two quantile boosters and wrap them in a runtime :class:`Bundle`
    (arguments as :func:`fit_model`)."""
    record, boosters = fit_model(X, y, features, spec, **kw)
    return Bundle(record.to_dict(), boosters)


def fit_linear_base(X: np.ndarray, y: np.ndarray, features: list[str], spec: ModelSpec,
                    alpha: float = 1.0) -> dict | None:
    """Ridge regression on the conventional-log columns: the petrophysical trend the boosters
    then correct (boosting from ``init_score``). Stored as plain numbers for the runtime."""
    cols = [f for f in features if not is_image_feature(f)]
    if not cols:
        return None
    idx = [features.index(f) for f in cols]
    Xl = X[:, idx]
    med = np.nanmedian(Xl, axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    Z = np.where(np.isfinite(Xl), Xl, med)
    mean, scale = Z.mean(axis=0), Z.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    model = Ridge(alpha=alpha).fit((Z - mean) / scale, y)
    return {"features": cols, "median": med.tolist(), "mean": mean.tolist(),
            "scale": scale.tolist(), "coef": model.coef_.tolist(),
            "intercept": float(model.intercept_), "alpha": alpha}


class DropEmptyColumns(TransformerMixin, BaseEstimator):
    """Leaves out the columns without a single value in the rows it is fitted on: a curve only
    the blind well has (HistGradientBoosting cannot bin an empty column and failed the whole
    run, e.g. leave-one-well-out over wells with different logs); the other columns pass as
    they are."""

    def fit(self, X, y=None):
        self.keep_ = np.isfinite(np.asarray(X, dtype=float)).any(axis=0)
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float)[:, self.keep_]


def sklearn_estimator(name: str, params: dict, seed: int = 0):
    """A scikit-learn regressor by name, with median imputation (for comparators and baselines)."""
    if name in ("ridge", "ridge_windowed"):   # ridge_windowed: the logs at the beds' scale
        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                             StandardScaler(), Ridge(**({"alpha": 1.0} | params)))
    if name == "random_forest":
        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                             RandomForestRegressor(**({"n_estimators": 200, "min_samples_leaf": 5,
                                                      "n_jobs": 2, "random_state": seed} | params)))
    if name == "hist_gbm":   # NaN routed natively; a column the fold's wells lack is dropped
        return make_pipeline(DropEmptyColumns(), HistGradientBoostingRegressor(
            **({"max_iter": 300, "learning_rate": 0.05, "random_state": seed} | params)))
    raise ModelError(f"unknown scikit-learn estimator {name!r}")
