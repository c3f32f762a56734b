"""Cross-log consistency (issue 11): each conventional curve predicted from the others, fitted
at training time and stored in the model's JSON (``consistency``).

The runtime (:mod:`petro.models.runtime`) turns the fit into ``NOV_<curve>`` residuals (a curve
minus what the training wells' relation with the other logs expects) and a novelty term per
depth and, for rows of one well, per well; :mod:`petro.models.diagnosis` names the curve that is
off in a petrophysicist's words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from petro.models.novelty import robust_center_scale

# conventional curves checked against the others, and the words a petrophysicist uses for them
CONSISTENCY_CURVES = {"RHOB": "density", "NPHI": "neutron", "DT": "sonic", "LOG10_RT":
                      "deep resistivity", "GR": "gamma-ray", "PEF": "PEF", "LOG10_RXO":
                      "flushed-zone resistivity", "DTS": "shear sonic"}


def _ridge(Z: np.ndarray, y: np.ndarray, alpha: float = 1.0) -> tuple[np.ndarray, float]:
    mu = y.mean()
    A = Z.T @ Z + alpha * np.eye(Z.shape[1])
    return np.linalg.solve(A, Z.T @ (y - mu)), float(mu)


def _fit_one(X: np.ndarray, t: int, inp: list[int]) -> dict | None:
    ok = np.isfinite(X[:, t]) & np.isfinite(X[:, inp]).any(axis=1)
    if ok.sum() < 50:
        return None
    center, scale = robust_center_scale(X[ok][:, inp])
    Z = (X[ok][:, inp] - center) / scale
    Z = np.where(np.isfinite(Z), Z, 0.0)
    coef, mu = _ridge(Z, X[ok, t])
    return {"center": center, "scale": scale, "coef": coef, "intercept": mu}


def _apply(X: np.ndarray, t: int, inp: list[int], m: dict) -> np.ndarray:
    Z = (X[:, inp] - m["center"]) / m["scale"]
    have = np.isfinite(Z).any(axis=1)
    Z = np.where(np.isfinite(Z), Z, 0.0)
    r = X[:, t] - (Z @ m["coef"] + m["intercept"])
    return np.where(have, r, np.nan)


def fit_consistency(table: pd.DataFrame, features: list[str], wells: np.ndarray,
                    quantile: float = 0.99, min_rows: int = 30) -> dict:
    """Cross-log consistency: each conventional curve predicted from the others by a ridge on
    robust-scaled inputs, fitted on all training wells; the residual scale (robust, in the curve's
    unit) and the thresholds come from leave-one-well-out residuals. Per depth, the largest
    |residual| / scale over curves against ``depth_threshold``; per well (a request of at least
    ``min_rows`` rows), the median residual / scale of each curve against ``well_threshold``."""
    curves = [c for c in CONSISTENCY_CURVES if c in features]
    if len(curves) < 3:
        return {}
    X = table[curves].to_numpy(dtype=float)
    uniq = np.unique(wells)
    out, Zoof = [], []
    for j, c in enumerate(curves):
        inp = [k for k in range(len(curves)) if k != j]
        m = _fit_one(X, j, inp)
        if m is None:
            continue
        oof = np.full(len(X), np.nan)
        for w in uniq:
            te = wells == w
            mw = _fit_one(X[~te], j, inp)
            if mw is not None:
                oof[te] = _apply(X[te], j, inp, mw)
        r = oof[np.isfinite(oof)]
        if r.size < 50:
            continue
        s = float(np.median(np.abs(r - np.median(r))) * 1.4826) or float(np.std(r)) or 1.0
        top = curves[inp[int(np.argmax(np.abs(m["coef"])))]]
        out.append({"target": c, "inputs": [curves[k] for k in inp],
                    "center": m["center"].tolist(), "scale": m["scale"].tolist(),
                    "coef": m["coef"].tolist(), "intercept": m["intercept"],
                    "resid_scale": s, "top": top})
        Zoof.append(oof / s)
    if not out:
        return {}
    Z = np.column_stack(Zoof)
    depth = np.nanmax(np.abs(Z), axis=1)
    depth = depth[np.isfinite(depth)]
    dthr = float(np.quantile(depth, quantile)) if depth.size else 4.0
    # per training well: the median standardized residual of each curve (its calibration offset)
    wmax = np.nanmax(np.abs(np.array([np.nanmedian(Z[wells == w], axis=0) for w in uniq])))
    wthr = float(max(1.0, 1.5 * (wmax if np.isfinite(wmax) else 0.0)))
    return {"curves": out, "depth_threshold": max(dthr, 1.0), "well_threshold": wthr,
            "min_rows": min_rows}
