"""The novelty detector: how far a depth's inputs lie from the training wells'.

One robust Mahalanobis detector per input block (the conventional logs; each image kind, see
:func:`novelty_blocks`): median / MAD standardisation, Ledoit-Wolf covariance, fitted on the
boosters' matrix (model features). Each block's threshold is calibrated on blind-well distances
(:func:`calibrate_thresholds`, called by :mod:`petro.models.validation`), so that a share
``novelty_quantile`` of the depths of every blind training well (not of the depths pooled) is
"in domain" in every block at once. The runtime (:mod:`petro.models.runtime`) applies it from
the plain numbers stored in the model's JSON (``novelty``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.covariance import LedoitWolf

from petro.models.runtime import block_distances
from petro.vocab import feature_block


# Wells needed before the spread across wells is estimated (Student t, N - 1 degrees of
# freedom): with two, one degree of freedom puts the 90 % bound 2.7 times the gap between the
# two wells' log-needs beyond their mean, and the detector would see nothing; the most
# demanding well sets the threshold then.
MIN_WELLS_FOR_BOUND = 3
# ... and the bound never exceeds this multiple of the most demanding training well's need: where
# three or four wells disagree that much (one block's needs 1.0 / 4.1 / 4.8 on a synthetic field
# put the bound at 3.6x the largest), they cannot say where a new well falls, and a threshold
# that loose would let rock unlike every training well through.
MAX_BOUND_RATIO = 1.5


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


def fit_detector(Xm: np.ndarray, model_features: list[str],
                 thresholds: dict[str, float] | None = None) -> dict | None:
    """The detector of a model fitted on its boosters' matrix ``Xm`` (columns
    ``model_features``), with the blind-well ``thresholds`` per block when given; None when no
    block has a usable column."""
    nov = fit_novelty(Xm, model_features)
    if not nov:
        return None
    if thresholds is not None:
        for b in nov["blocks"]:
            b["threshold"] = float(thresholds.get(b["name"], 1.0))
    return nov


def calibrate_thresholds(D: np.ndarray, quantile: float, wells: np.ndarray | None = None,
                         min_rows: int = 30, new_well: float = 0.0) -> np.ndarray:
    """Per-block thresholds at one common per-block quantile level of the rows of ``D``
    (out-of-fold distances, rows x blocks), the lowest level at which a share ``quantile`` of
    the rows is in domain in every block at once: of the rows pooled, or (``wells``: each
    row's well) of every well with at least ``min_rows`` rows (pooled when none has). Per
    well, one well unlike the others cannot carry most of the flags while the others stay in
    domain: a well as unlike the others as the most unusual training well is flagged at no
    more than ``1 - quantile`` of its depths. ``new_well`` (per well, at least
    :data:`MIN_WELLS_FOR_BOUND` wells): no threshold below the ``new_well`` prediction bound of
    what a new well of the same population needs (:func:`new_well_bound`); 0: none, the most
    demanding training well sets it."""
    ok = np.isfinite(D).all(axis=1)
    D = D[ok]
    if D.shape[0] == 0:
        return np.ones(D.shape[1])
    groups = [] if wells is None else [g for g in rows_by_well(wells[ok]) if g.size >= min_rows]
    groups = groups or [np.arange(len(D))]
    at = _Quantiles(D)
    levels = [_lowest_level(D[g], at, quantile) for g in groups]
    thr = at(max(levels))       # every well in: the most demanding well's level
    thr = np.where(thr > 0, thr, 1.0)
    return np.maximum(thr, new_well_bound(np.array([at(lv) for lv in levels]), new_well))


def rows_by_well(wells: np.ndarray) -> list[np.ndarray]:
    """Each well's row indices, in one sort (a mask per well costs wells x rows)."""
    _, inv, counts = np.unique(wells, return_inverse=True, return_counts=True)
    return np.split(np.argsort(inv, kind="stable"), np.cumsum(counts)[:-1])


class _Quantiles:
    """Per-column quantiles of ``D`` at any level from one sort (numpy's default linear
    interpolation), so that a bisection costs no re-sort per step."""

    def __init__(self, D: np.ndarray):
        self.sorted = np.sort(D, axis=0)

    def __call__(self, level: float) -> np.ndarray:
        S = self.sorted
        pos = level * (len(S) - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, len(S) - 1)
        return S[lo] + (pos - lo) * (S[hi] - S[lo])


def _lowest_level(Dg: np.ndarray, at: _Quantiles, quantile: float) -> float:
    """The lowest quantile level of the pooled distances (``at``) at which a share ``quantile``
    of the rows ``Dg`` (one well's, or all) is in domain in every block at once (bisection)."""
    def inside(level: float) -> float:
        t = at(level)
        return float(((Dg / np.where(t > 0, t, 1.0)) <= 1.0).all(axis=1).mean())

    lo, hi = quantile, 1.0
    if inside(lo) >= quantile:
        return lo
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if inside(mid) < quantile else (lo, mid)
    return hi


def new_well_bound(need: np.ndarray, level: float) -> np.ndarray:
    """Per column: the one-sided ``level`` prediction bound (:func:`prediction_bound`) of what a
    new well of the training wells' population needs, from what each of the N training wells
    needs (rows of ``need``: the threshold at which it keeps its share of depths in domain),
    capped at :data:`MAX_BOUND_RATIO` x the largest; 0 (no bound) when ``level`` is 0 or there
    are fewer than :data:`MIN_WELLS_FOR_BOUND` wells.

    The most demanding training well's need alone is beaten by a new well of the same
    population one time in N + 1: with the three NMR wells of a blind fold, one genuine well
    in four would be flagged beyond its share. The bound grows with how much the training wells
    differ from each other and shrinks as wells are added."""
    need = np.asarray(need, dtype=float)
    if not level or len(need) < MIN_WELLS_FOR_BOUND:
        return np.zeros(need.shape[1:])
    return np.minimum(prediction_bound(need, level), MAX_BOUND_RATIO * need.max(axis=0))


def prediction_bound(values: np.ndarray, level: float) -> np.ndarray:
    """Per column: the one-sided ``level`` prediction bound of a new well's value from the N
    wells' positive ``values`` (rows; at least two), log-normal across wells with Student t at
    N - 1 degrees of freedom: ``exp(mean + t * sd * sqrt(1 + 1/N))`` of the logs."""
    logs = np.log(np.maximum(np.asarray(values, dtype=float), 1e-12))
    n = len(logs)
    spread = logs.std(axis=0, ddof=1)
    return np.exp(logs.mean(axis=0) + stats.t.ppf(level, n - 1) * spread * np.sqrt(1 + 1 / n))


def blind_thresholds(Xm: np.ndarray, features: list[str], wells: np.ndarray, quantile: float,
                     folds: list[tuple[np.ndarray, np.ndarray]] | None = None,
                     min_rows: int = 30, new_well: float = 0.0) -> dict[str, float] | None:
    """Per-block thresholds for the detector of columns ``features`` fitted on the rows ``Xm``
    (the final model's matrix; each row's well ``wells``), calibrated like the blind folds'
    (:func:`calibrate_thresholds`, per well, ``new_well``) on the distances of each fold's
    blind rows to a detector with the *same columns* fitted on its other rows (``folds``:
    (training rows, blind rows) index pairs; default: each well left out in turn). The blind folds' own
    detectors read their own models' columns (each fold decides its input groups and inputs):
    their distances are on another scale than the final detector's, and on a clastic field the
    final porosity detector, given the folds' thresholds, flagged 35-44 % of its own training
    wells' depths. None with fewer than two wells."""
    uniq = np.unique(wells)
    if uniq.size < 2:
        return None
    if folds is None:
        folds = [(np.flatnonzero(wells != w), np.flatnonzero(wells == w)) for w in uniq]
    names = list(novelty_blocks(features))
    D = np.full((len(Xm), len(names)), np.nan)
    for tr, te in folds:
        det = fit_novelty(Xm[tr], features)
        if det:
            d = block_distances(det, Xm[te], features)
            for k, b in enumerate(det["blocks"]):
                D[te, names.index(b["name"])] = d[:, k]
    have = np.isfinite(D).any(axis=0)
    if not have.any():
        return None
    thr = calibrate_thresholds(D[:, have], quantile, wells, min_rows, new_well)
    return {n: float(t) for n, t in zip([n for n, h in zip(names, have) if h], thr)}
