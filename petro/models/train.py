"""Fitting: LightGBM quantile boosters into a runtime bundle, the novelty detector, and
scikit-learn comparators."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from petro.errors import ModelError
from petro.models.runtime import Bundle, linear_base, pca_scores
from petro.models.spec import ModelSpec
from petro.vocab import (feature_block, is_image_feature, is_patch_feature, parse_feature,
                         pc_feature)

DEFAULT_LGB = dict(n_estimators=300, learning_rate=0.04, num_leaves=15, min_child_samples=20,
                   subsample=0.8, subsample_freq=1, colsample_bytree=0.7, reg_lambda=1.0,
                   max_bin=63)
LGB_THREADS = 1


def lgb_params(spec: ModelSpec, objective: str, alpha: float | None = None) -> tuple[dict, int]:
    p = dict(DEFAULT_LGB)
    p.update(spec.params)
    rounds = int(p.pop("n_estimators"))
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


def novelty_blocks(features: list[str]) -> dict[str, list[str]]:
    """Input blocks of the novelty detector: conventional logs, and one per image kind."""
    blocks: dict[str, list[str]] = {}
    for f in features:
        blocks.setdefault(feature_block(f), []).append(f)
    return blocks


def robust_center_scale(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: median (0 where a column has no value) and robust spread (MAD x 1.4826; the
    standard deviation where the MAD is zero; 1 where both are)."""
    center = np.nanmedian(X, axis=0)
    scale = np.nanmedian(np.abs(X - center), axis=0) * 1.4826
    std = np.nanstd(X, axis=0)
    scale = np.where(scale > 1e-9, scale, np.where(std > 0, std, 1.0))
    return np.where(np.isfinite(center), center, 0.0), scale


def fit_novelty(X: np.ndarray, features: list[str], min_coverage: float = 0.5) -> dict:
    """Robust Mahalanobis novelty detector per input block (median / MAD standardisation,
    Ledoit-Wolf covariance). Features present in fewer than ``min_coverage`` of the rows are left
    out. Thresholds are 1.0 until calibrated on blind wells (:func:`calibrate_thresholds`)."""
    cover = np.isfinite(X).mean(axis=0)
    blocks = []
    for name, cols in novelty_blocks(features).items():
        keep = [features.index(c) for c in cols
                if cover[features.index(c)] >= min_coverage and
                np.nanstd(X[:, features.index(c)]) > 0]
        if not keep:
            continue
        Xk = X[:, keep]
        center, scale = robust_center_scale(Xk)   # kept columns have values: centres are medians
        z = (Xk - center) / scale
        z = np.where(np.isfinite(z), z, 0.0)
        precision = np.linalg.pinv(LedoitWolf().fit(z).covariance_)
        blocks.append({"name": name, "features": [features[j] for j in keep],
                       "center": center.tolist(), "scale": scale.tolist(),
                       "precision": precision.tolist(), "threshold": 1.0})
    return {"blocks": blocks} if blocks else {}


def fit_patch_pca(X: np.ndarray, features: list[str], n_components: int) -> list[dict]:
    """PCA of each image kind's patch columns (the learned embedding), on these rows only."""
    groups: dict[str, list[str]] = {}
    for f in features:
        name = parse_feature(f)
        if name.is_patch:
            groups.setdefault(name.block, []).append(f)
    out = []
    for prefix, cols in groups.items():
        P = X[:, [features.index(c) for c in cols]]
        rows = np.isfinite(P).all(axis=1)
        if rows.sum() < max(20, n_components * 5):
            continue
        k = min(n_components, len(cols))
        pca = PCA(n_components=k, svd_solver="covariance_eigh", random_state=0).fit(P[rows])
        med = np.median(P[rows], axis=0)
        out.append({"prefix": prefix, "columns": cols, "median": med.tolist(),
                    "mean": pca.mean_.tolist(), "components": pca.components_.tolist(),
                    "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
                    "names": [pc_feature(prefix, i + 1) for i in range(k)]})
    return out


def calibrate_thresholds(D: np.ndarray, quantile: float) -> np.ndarray:
    """Per-block thresholds at one common per-block quantile level, chosen so that a share
    ``quantile`` of the rows of ``D`` (out-of-fold distances, rows x blocks) is in domain in
    every block at once."""
    D = D[np.isfinite(D).all(axis=1)]
    if D.shape[0] == 0:
        return np.ones(D.shape[1])
    lo, hi = quantile, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        thr = np.quantile(D, mid, axis=0)
        inside = ((D / np.where(thr > 0, thr, 1.0)) <= 1.0).all(axis=1).mean()
        lo, hi = (mid, hi) if inside < quantile else (lo, mid)
    thr = np.quantile(D, hi, axis=0)
    return np.where(thr > 0, thr, 1.0)


def heads(spec: ModelSpec, p50_only: bool = False) -> list[tuple[str, str, float | None]]:
    """The boosters of a bundle: ``(key, objective, alpha)`` for P50 (L2), P10 and P90."""
    out = [("p50", "regression", None), ("p10", "quantile", spec.quantiles[0]),
           ("p90", "quantile", spec.quantiles[1])]
    return out[:1] if p50_only else out


def fit_inputs(X: np.ndarray, y: np.ndarray, features: list[str], spec: ModelSpec) -> dict:
    """What turns input columns into the boosters' matrix, fitted on rows ``X`` (finite ``y``):
    the PCA embedding of the image patches, the model's feature names and the ridge
    ``linear_base``. Applied by :func:`model_inputs`; a fit on a sample of the rows serves any
    number of rows (the distributed fit applies it partition by partition)."""
    inputs = list(features)
    pca = fit_patch_pca(X, inputs, spec.pca_components) if spec.pca_components else []
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


def bundle_meta(spec: ModelSpec, prep: dict, y_min: float, y_max: float, n_train: int,
                conformal: dict | None = None) -> dict:
    """The bundle metadata of a model fitted with ``prep`` on ``n_train`` targets in
    [``y_min``, ``y_max``] (model space)."""
    span = float(y_max - y_min)
    meta = {"name": spec.name, "target": spec.target, "column": spec.column, "output": spec.output,
            "unit": spec.unit, "transform": spec.transform, "features": list(prep["features"]),
            "model_features": list(prep["model_features"]), "pca": prep["pca"],
            "quantiles": list(spec.quantiles), "conformal": conformal or {"lo": 0.0, "hi": 0.0},
            "clip": [float(y_min - 0.25 * span), float(y_max + 0.25 * span)],
            "n_train": int(n_train)}
    if prep["linear_base"]:
        meta["linear_base"] = prep["linear_base"]
    return meta


def add_novelty(meta: dict, Xm: np.ndarray, novelty_thresholds=None) -> None:
    """Fit the novelty detector on model-matrix rows ``Xm`` into ``meta`` (thresholds from
    blind wells when given)."""
    nov = fit_novelty(Xm, meta["model_features"])
    if nov:
        if novelty_thresholds is not None:
            for b in nov["blocks"]:
                b["threshold"] = float(novelty_thresholds.get(b["name"], 1.0))
        meta["novelty"] = nov


def fit_bundle(X: np.ndarray, y: np.ndarray, features: list[str], spec: ModelSpec, *,
               conformal: dict | None = None, novelty_thresholds=None,
               with_novelty: bool = True, p50_only: bool = False) -> Bundle:
    """Fit P50 (L2) and the two quantile boosters and wrap them in a runtime :class:`Bundle`."""
    ok = np.isfinite(y)
    X, y = X[ok], y[ok]
    if y.size < 20:
        raise ModelError(f"{spec.name}: only {y.size} valid target samples; need at least 20")
    prep = fit_inputs(X, y, features, spec)
    X, base = model_inputs(X, prep)
    boosters = {}
    for key, obj, alpha in heads(spec, p50_only):
        params, rounds = lgb_params(spec, obj, alpha)
        ds = lgb.Dataset(X, y, init_score=base, feature_name=booster_names(prep["model_features"]),
                         free_raw_data=True, params={"max_bin": params.get("max_bin", 255),
                                                     "verbosity": -1})
        boosters[key] = lgb.train(params, ds, num_boost_round=rounds)
    meta = bundle_meta(spec, prep, y.min(), y.max(), y.size, conformal)
    if with_novelty:
        add_novelty(meta, X, novelty_thresholds)
    return Bundle(meta, boosters)


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


def sklearn_estimator(name: str, params: dict, seed: int = 0):
    """A scikit-learn regressor by name, with median imputation (for comparators and baselines)."""
    if name == "ridge":
        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                             StandardScaler(), Ridge(**({"alpha": 1.0} | params)))
    if name == "random_forest":
        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                             RandomForestRegressor(**({"n_estimators": 200, "min_samples_leaf": 5,
                                                      "n_jobs": 2, "random_state": seed} | params)))
    if name == "hist_gbm":
        return HistGradientBoostingRegressor(**({"max_iter": 300, "learning_rate": 0.05,
                                                 "random_state": seed} | params))
    raise ModelError(f"unknown scikit-learn estimator {name!r}")
