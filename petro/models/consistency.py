"""Cross-log consistency (issue 11): each conventional curve predicted from the others, fitted
at training time and stored in the model's JSON (``consistency``).

The runtime (:mod:`petro.models.runtime`) turns the fit into ``NOV_<curve>`` residuals (a curve
minus what the training wells' relation with the other logs expects) and a novelty term per
depth and, for rows of one well, per well; :mod:`petro.models.diagnosis` names the curve that is
off in a petrophysicist's words.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from petro.models.novelty import new_well_bound, robust_center_scale, rows_by_well
from petro.models.runtime import depth_residuals, shale_rows

# the whole-well level test (fit_levels): a curve's threshold is LEVEL_FACTOR x the largest
# distance of a training well left out, in robust spreads, at least LEVEL_FLOOR; a curve fewer
# than LEVEL_MIN_WELLS training wells have is not tested. Calibrated on 39 genuine blind wells
# of 9 synthetic fields (benchmarks/bench_false_alarms.py, docs/trust.md): at x1.5 a whole
# genuine well was flagged 26-36 % of the time (wells differ in porosity, hence neutron level,
# as much as a 0.05 v/v shift), at x3 5-8 %
LEVEL_FACTOR = 3.0
LEVEL_FLOOR = 2.0
LEVEL_MIN_WELLS = 3
# the shale-point level test (fit_levels): the neutron in the well's shale rows (GR at or above
# this quantile of the well's GR; at least SHALE_MIN_ROWS of them), fitted only when none of the
# logs whose cross-log relation pins the neutron's level is there (with a density or sonic the
# relation catches a neutron shift at 92-100 % of wells and the shale point only adds false
# alarms: benchmarks/bench_levels.py, docs/trust.md)
SHALE_POINT_CURVES = {"NPHI": ("RHOB", "DT")}
SHALE_GR_QUANTILE = 0.9
SHALE_MIN_ROWS = 10
# the floor of the level threshold of a curve that nothing pins (a neutron without density or
# sonic; curve unit: v/v), instead of LEVEL_FLOOR spreads: the neutron's accuracy between wells
# (tool calibration and environmental corrections, about 1-2 p.u.). Two spreads of the field's
# neutron are 0.07-0.11 v/v on carbonates (its porosity range), so a floor in spreads hid any
# shift below that however alike the training wells were; with this floor the 3 x factor
# decides (36 blind wells of 8 synthetic fields, 3-7 training wells, GR / NPHI / CALI only:
# NPHI +0.05 caught on 5 -> 9 wells, genuine wells flagged 0 -> 1: benchmarks/bench_levels.py)
UNPINNED_TOLERANCE = {"NPHI": 0.02}

# conventional curves checked against the others, and the words a petrophysicist uses for them
CONSISTENCY_CURVES = {"RHOB": "density", "NPHI": "neutron", "DT": "sonic", "LOG10_RT":
                      "deep resistivity", "GR": "gamma-ray", "PEF": "PEF", "LOG10_RXO":
                      "flushed-zone resistivity", "DTS": "shear sonic"}


# the sonics see the intergranular (primary) porosity, not vugs or fractures: where the neutron
# and density read more porosity than the sonic (the secondary porosity index), the rock is
# vuggy, not the sonic wrong. So a sonic is checked against the other curves but does not check
# them (no input of their relations while they have another), and per depth only a sonic
# slower than the others expect is off (faster: secondary porosity); the whole-well median
# stays two-sided (a tool reading fast over the whole well). On a vuggy blind well of a
# synthetic field (seed 1, SYN-02) the sonic's relation flagged 17 % of the depths, all of them
# with density-neutron porosity 0.07 v/v above the sonic's.
PRIMARY_POROSITY_CURVES = ("DT", "DTS")


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
                    quantile: float = 0.99, min_rows: int = 30, new_well: float = 0.0) -> dict:
    """Cross-log consistency (at least two curves): each conventional curve predicted from the
    others (a sonic only from them: :data:`PRIMARY_POROSITY_CURVES`) by a ridge on
    robust-scaled inputs, fitted on all training wells; the residual scale (robust, in the curve's
    unit) and the thresholds come from leave-one-well-out residuals. Per depth, the largest
    |residual| / scale over curves against ``depth_threshold`` (:func:`depth_threshold`: every
    training well left out has at most ``1 - quantile`` of its depths beyond it, and a new well
    like them too at the ``new_well`` prediction level; a sonic only
    when slow: :func:`petro.models.runtime.depth_residuals`); per well (a
    request of at least ``min_rows`` rows), the median residual / scale of each curve against
    ``well_threshold``."""
    curves = [c for c in CONSISTENCY_CURVES if c in features]
    if len(curves) < 2:
        return {}
    X = table[curves].to_numpy(dtype=float)
    uniq = np.unique(wells)
    out, Zoof = [], []
    for j, c in enumerate(curves):
        inp = _inputs(curves, j)
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
        side = {"one_sided": "slow"} if c in PRIMARY_POROSITY_CURVES else {}
        out.append({"target": c, "inputs": [curves[k] for k in inp],
                    "center": m["center"].tolist(), "scale": m["scale"].tolist(),
                    "coef": m["coef"].tolist(), "intercept": m["intercept"],
                    "resid_scale": s, "top": top, **side})
        Zoof.append(oof / s)
    if not out:
        return {}
    Z = np.column_stack(Zoof)
    with warnings.catch_warnings():   # a row no relation reads: NaN, left out by depth_threshold
        warnings.simplefilter("ignore", RuntimeWarning)
        depth = np.nanmax(np.abs(depth_residuals(Z, out)), axis=1)
    dthr = depth_threshold(depth, wells, quantile, min_rows, new_well)
    # per training well: the median standardized residual of each curve (its calibration offset)
    wmax = np.nanmax(np.abs(np.array([np.nanmedian(Z[wells == w], axis=0) for w in uniq])))
    wthr = float(max(1.0, 1.5 * (wmax if np.isfinite(wmax) else 0.0)))
    return {"curves": out, "depth_threshold": max(dthr, 1.0), "well_threshold": wthr,
            "min_rows": min_rows}


def _inputs(curves: list[str], j: int) -> list[int]:
    """The inputs of curve ``j``'s relation: the other curves, the sonics left out of another
    curve's relation while it has some other input (:data:`PRIMARY_POROSITY_CURVES`)."""
    others = [k for k in range(len(curves)) if k != j]
    if curves[j] in PRIMARY_POROSITY_CURVES:
        return others
    kept = [k for k in others if curves[k] not in PRIMARY_POROSITY_CURVES]
    return kept or others


def depth_threshold(depth: np.ndarray, wells: np.ndarray, quantile: float, min_rows: int,
                    new_well: float = 0.0) -> float:
    """The per-depth threshold of the cross-log test: the largest over training wells (with at
    least ``min_rows`` left-out residuals) of the well's ``quantile`` of its depths' largest
    standardized residual ``depth``, so that every training well left out is flagged at no more
    than ``1 - quantile`` of its depths (pooled, one unlike well would carry most of the
    flags), and (``new_well``, at least three wells) no less than the ``new_well`` prediction
    bound of a new well's quantile (:func:`petro.models.novelty.new_well_bound`: the largest
    of N wells is beaten by a new well one time in N + 1; capped); the pooled quantile when no well has enough rows, 4 without any."""
    ok = np.isfinite(depth)
    per_well = [np.quantile(depth[ok][g], quantile) for g in rows_by_well(wells[ok])
                if g.size >= min_rows]
    if per_well:
        return float(max(max(per_well), new_well_bound(np.array(per_well)[:, None], new_well)[0]))
    return float(np.quantile(depth[ok], quantile)) if ok.any() else 4.0


def well_levels(X: np.ndarray, wells: np.ndarray, min_rows: int) \
        -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per well (rows of ``X`` labelled by ``wells``) and column: the well's median, and the
    median and robust spread of the other wells' rows; NaN where a well has fewer than
    ``min_rows`` values of a column. Returns (well medians, other medians, other spreads), each
    (wells x columns)."""
    uniq = np.unique(wells)
    med, cen, spr = (np.full((len(uniq), X.shape[1]), np.nan) for _ in range(3))
    for i, w in enumerate(uniq):
        te = wells == w
        enough = np.isfinite(X[te]).sum(axis=0) >= min_rows
        if not enough.any() or (~te).sum() == 0:
            continue
        with warnings.catch_warnings():   # columns a well lacks: NaN, said by ``enough``
            warnings.simplefilter("ignore", RuntimeWarning)
            med[i] = np.where(enough, np.nanmedian(X[te], axis=0), np.nan)
            c, s = robust_center_scale(X[~te])
        cen[i], spr[i] = c, s
    return med, cen, spr


def fit_levels(table: pd.DataFrame, curves: list[str], wells: np.ndarray, min_rows: int = 30,
               factor: float = LEVEL_FACTOR, floor: float = LEVEL_FLOOR,
               min_wells: int = LEVEL_MIN_WELLS) -> dict:
    """The whole-well level test of every conventional input curve (issue 23.3), whether or not
    a cross-log relation covers it: a well's median of the curve, in robust spreads (MAD x
    1.4826 of the training rows) from the training rows' median. Each curve's threshold is
    calibrated on the training wells left out one at a time: ``factor`` x the largest such
    distance of a left-out well (a genuine well as unlike the others as the most unusual
    training well stays in domain, with room for the wells not seen), at least ``floor``
    spreads. A curve fewer than ``min_wells`` training wells have is not tested (two wells
    left out in turn give one distance twice: nothing to calibrate on).

    With a GR and no density or sonic among ``curves`` (:data:`SHALE_POINT_CURVES`: the JB case,
    where no cross-log relation pins the neutron), the neutron is also tested at its shale
    point, as a petrophysicist normalises it: the median over the well's shale rows (GR at or
    above the well's :data:`SHALE_GR_QUANTILE`; at least :data:`SHALE_MIN_ROWS` of them),
    against the training wells' shale rows, calibrated the same way (entries with ``shale``:
    :func:`petro.models.runtime.level_values`). A whole-well median follows the porosity, which
    differs between the wells of a field; in shale a neutron reads the shale's hydrogen index.
    It helps where the wells' shales agree better than their porosities; on petro's own
    synthetic fields they do not (docs/trust.md). Such a neutron's tests (whole well and shale
    point) are floored at its accuracy between wells (:data:`UNPINNED_TOLERANCE`), not at
    ``floor`` spreads: they are its only check."""
    X = table[curves].to_numpy(dtype=float)
    unpinned = [c for c, pins in SHALE_POINT_CURVES.items()
                if c in curves and not any(p in curves for p in pins)]
    tolerance = {c: UNPINNED_TOLERANCE[c] for c in unpinned if c in UNPINNED_TOLERANCE}
    out = _levels(X, curves, wells, min_rows, factor, floor, min_wells, {}, tolerance)
    if "GR" in curves and unpinned:
        g = table["GR"].to_numpy(dtype=float)
        mask = np.zeros(len(g), dtype=bool)
        for w in np.unique(wells):
            m = wells == w
            mask[m] = shale_rows(g[m], SHALE_GR_QUANTILE)
        Xs = np.where(mask[:, None], table[unpinned].to_numpy(dtype=float), np.nan)
        out += _levels(Xs, unpinned, wells, SHALE_MIN_ROWS, factor, floor, min_wells,
                       {"shale": SHALE_GR_QUANTILE, "min_rows": SHALE_MIN_ROWS}, tolerance)
    return {"curves": out, "min_rows": min_rows} if out else {}


def _levels(X: np.ndarray, curves: list[str], wells: np.ndarray, min_rows: int, factor: float,
            floor: float, min_wells: int, extra: dict,
            tolerance: dict[str, float] | None = None) -> list[dict]:
    """The level-test entries of the columns of ``X`` (rows not read: NaN), calibrated on the
    training wells left out (:func:`fit_levels`), each with the keys of ``extra``; a curve of
    ``tolerance`` (curve unit) has that floor instead of ``floor`` spreads."""
    med, cen, spr = well_levels(X, wells, min_rows)
    with np.errstate(invalid="ignore"):
        z = np.abs(med - cen) / spr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        center, scale = robust_center_scale(X)
    out = []
    for j, c in enumerate(curves):
        zj = z[:, j][np.isfinite(z[:, j])]
        if zj.size < min_wells:
            continue
        low = tolerance[c] / scale[j] if tolerance and c in tolerance else floor
        out.append({"curve": c, "center": float(center[j]), "scale": float(scale[j]),
                    "threshold": float(max(low, factor * zj.max())), **extra})
    return out
