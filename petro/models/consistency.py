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

# a tool's accuracy between wells (curve unit: calibration and environmental corrections, about
# what tool specifications quote; log10 ohm.m for the resistivities): a whole-well shift within
# it is no evidence of a bad log, so no whole-well test is tighter
WELL_ACCURACY = {"NPHI": 0.02, "RHOB": 0.025, "DT": 2.0, "DTS": 4.0, "GR": 8.0, "PEF": 0.25,
                 "LOG10_RT": 0.05, "LOG10_RXO": 0.05}
# the whole-well level test (fit_levels): a curve's threshold is LEVEL_FACTOR x the largest
# distance of a training well left out, in robust spreads, at least LEVEL_FLOOR; a curve fewer
# than LEVEL_MIN_WELLS training wells have is not tested. Calibrated on 39 genuine blind wells
# of 9 synthetic fields (benchmarks/bench_false_alarms.py, docs/trust.md): at x1.5 a whole
# genuine well was flagged 26-36 % of the time (wells differ in porosity, hence neutron level,
# as much as a 0.05 v/v shift), at x3 5-8 %
LEVEL_FACTOR = 3.0
LEVEL_FLOOR = 2.0
LEVEL_MIN_WELLS = 3
# the shale-point level test (fit_levels): the neutron and the density in the well's shale rows
# (GR at or above this quantile of the well's GR; at least SHALE_MIN_ROWS of them), as a
# petrophysicist normalises them, fitted whenever the GR is there; floored at the tool's accuracy
# (below), not at spreads of the shale rows. Fitted at first only without a density or
# sonic (on petro's generator the shales differ between wells as much as the porosity, and the
# point added false alarms at the old floors): on a second generator's fields, whose shales agree
# (benchmarks/otherfield.py, shale neutron 0.014-0.016 v/v apart over five wells), the cross-log
# relation missed a neutron +0.05 or a density +0.10 on one to three wells in five, the shale
# point catches them. Calibrated on the training wells like every level test, it is wide where
# their shales differ.
SHALE_POINT_CURVES = ("NPHI", "RHOB")
# where a cross-log relation also checks the curve (the density; a neutron with a density or
# sonic), the shale point is a second test, floored at twice the tool's accuracy: shales differ
# between wells by compaction and mineralogy too. At the tool's accuracy, a genuine blind well of
# seed 2 whose shale density was 0.028 g/cm3 from three training wells agreeing within 0.008 was
# flagged (benchmarks/bench_levels.py); a curve nothing else checks keeps UNPINNED_TOLERANCE
PINNED_SHALE_FLOOR = 2.0
# a neutron is "pinned" by a density or sonic: its relation with them fixes its level, else (the
# JB case) its whole-well level test is floored at its accuracy (UNPINNED_TOLERANCE)
PINNED_BY = {"NPHI": ("RHOB", "DT")}
SHALE_GR_QUANTILE = 0.9
SHALE_MIN_ROWS = 10
# the floor of the level threshold of a curve that nothing pins (a neutron without density or
# sonic; curve unit: v/v), instead of LEVEL_FLOOR spreads: the neutron's accuracy between wells
# (tool calibration and environmental corrections, about 1-2 p.u.). Two spreads of the field's
# neutron are 0.07-0.11 v/v on carbonates (its porosity range), so a floor in spreads hid any
# shift below that however alike the training wells were; with this floor the 3 x factor
# decides (36 blind wells of 8 synthetic fields, 3-7 training wells, GR / NPHI / CALI only:
# NPHI +0.05 caught on 5 -> 9 wells, genuine wells flagged 0 -> 1: benchmarks/bench_levels.py)
UNPINNED_TOLERANCE = {"NPHI": WELL_ACCURACY["NPHI"]}

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
# the resistivities read the fluids as much as the rock (saturation, water salinity, invasion):
# a well with a longer oil column reads higher resistivity at the same porosity and lithology,
# and as an input that moved every other relation's whole-well residual with it. So they are
# checked against the other curves (and each other) but check no other curve while it has
# another input. On a second generator's field (benchmarks/otherfield.py: an oil column above a
# contact, wells at different heights above it) the neutron's median residual per training
# well spread over 1.4 residual spreads with the resistivity as an input, 0.55 without.
FLUID_CURVES = ("LOG10_RT", "LOG10_RXO")
# the whole-well cross-log test, per curve: a well's median residual (in the relation's residual
# spreads) against the training wells' own, which need not be zero (a skewed residual: a field of
# several lithologies fitted by one line). Its threshold is WELL_FACTOR x the largest distance of
# a training well left out from the median of the others, at least the tool's accuracy between
# wells (WELL_ACCURACY), calibrated on at least WELL_MIN_WELLS training wells; with fewer the old
# single threshold (1.5 x the largest median of any curve) applies. Three wells left out give
# a new well like them about a 5 % chance of passing the threshold by chance (normal medians;
# 2 % with four, under 1 % with five)
WELL_FACTOR = 3.0
WELL_MIN_WELLS = 3


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
    request of at least ``min_rows`` rows), the median residual / scale of each curve from its
    ``well_center`` against its ``well_threshold`` (:func:`well_tests`; with fewer than
    :data:`WELL_MIN_WELLS` training wells, from 0 against the model's one ``well_threshold``)."""
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
    # per training well: the median standardized residual of each curve (its calibration
    # offset) and how many residuals it has; one threshold for every curve, used where a curve
    # has too few wells for its own (well_tests)
    groups = rows_by_well(wells)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.array([np.nanmedian(Z[g], axis=0) for g in groups])
    count = np.array([np.isfinite(Z[g]).sum(axis=0) for g in groups])
    wmax = np.nanmax(np.abs(med))
    wthr = float(max(1.0, 1.5 * (wmax if np.isfinite(wmax) else 0.0)))
    for m, t in zip(out, well_tests(med, count, out, min_rows)):
        m.update(t)
    return {"curves": out, "depth_threshold": max(dthr, 1.0), "well_threshold": wthr,
            "min_rows": min_rows}


def _inputs(curves: list[str], j: int) -> list[int]:
    """The inputs of curve ``j``'s relation: the other curves, the sonics
    (:data:`PRIMARY_POROSITY_CURVES`) and the resistivities (:data:`FLUID_CURVES`) left out of
    the relation of a curve of another kind while it has some other input."""
    others = [k for k in range(len(curves)) if k != j]
    kept = others
    for kind in (PRIMARY_POROSITY_CURVES, FLUID_CURVES):
        if curves[j] not in kind:
            kept = [k for k in kept if curves[k] not in kind]
    return kept or others


def well_tests(med: np.ndarray, count: np.ndarray, relations: list[dict], min_rows: int,
               factor: float = WELL_FACTOR, min_wells: int = WELL_MIN_WELLS) -> list[dict]:
    """Per relation, the whole-well test's centre and threshold (in residual spreads) from each
    training well's median standardized left-out residual ``med`` and its number of residuals
    ``count`` (wells x relations), over the wells with at least ``min_rows`` of them: the centre
    is the median of the wells' medians, the threshold ``factor`` x the largest distance of a
    well's median from the median of the other wells' (each well left out in turn), at least
    the curve's :data:`WELL_ACCURACY`; ``{}`` for a relation fewer than ``min_wells`` wells
    inform."""
    out = []
    for j, m in enumerate(relations):
        med_j = med[count[:, j] >= min_rows, j]
        if med_j.size < min_wells:
            out.append({})
            continue
        dev = max(abs(med_j[i] - np.median(np.delete(med_j, i))) for i in range(med_j.size))
        floor = WELL_ACCURACY.get(m["target"], 0.0) / m["resid_scale"]
        out.append({"well_center": float(np.median(med_j)),
                    "well_threshold": float(max(factor * dev, floor))})
    return out


def depth_threshold(depth: np.ndarray, wells: np.ndarray, quantile: float, min_rows: int,
                    new_well: float = 0.0) -> float:
    """The per-depth threshold of the cross-log test: the largest over training wells (with at
    least ``min_rows`` left-out residuals) of the well's ``quantile`` of its depths' largest
    standardized residual ``depth``, so that every training well left out is flagged at no more
    than ``1 - quantile`` of its depths (pooled, one unlike well would carry most of the
    flags), and (``new_well``, at least three wells) no less than the ``new_well`` prediction
    bound of a new well's quantile (:func:`petro.models.novelty.new_well_bound`: the largest
    of N wells is beaten by a new well one time in N + 1; capped); the pooled quantile when no
    well has enough rows, 4 without any."""
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

    With a GR among ``curves``, the neutron and the density (:data:`SHALE_POINT_CURVES`) are
    also tested at their shale point, as a petrophysicist normalises them: the median over the
    well's shale rows (GR at or above the well's :data:`SHALE_GR_QUANTILE`; at least
    :data:`SHALE_MIN_ROWS` of them), against the training wells' shale rows, calibrated the same
    way (entries with ``shale``: :func:`petro.models.runtime.level_values`) and floored at
    twice the tool's accuracy (:data:`WELL_ACCURACY`, :data:`PINNED_SHALE_FLOOR`; once for a
    neutron nothing else pins). A whole-well median follows the porosity, which
    differs between the wells of a field; in shale a neutron reads the shale's hydrogen index
    and a density the shale's. It helps where the wells' shales agree better than their
    porosities; on petro's own synthetic fields they do not, and the calibration keeps it
    quiet there (docs/trust.md). A neutron without a density or sonic (the JB case: nothing
    pins its level) has its whole-well test floored at its accuracy between wells
    (:data:`UNPINNED_TOLERANCE`), not at ``floor`` spreads: with the shale point it is its
    only check.
    """
    X = table[curves].to_numpy(dtype=float)
    unpinned = [c for c, pins in PINNED_BY.items()
                if c in curves and not any(p in curves for p in pins)]
    tolerance = {c: UNPINNED_TOLERANCE[c] for c in unpinned if c in UNPINNED_TOLERANCE}
    out = _levels(X, curves, wells, min_rows, factor, floor, min_wells, {}, tolerance)
    shale = [c for c in SHALE_POINT_CURVES if c in curves]
    if "GR" in curves and shale:
        g = table["GR"].to_numpy(dtype=float)
        mask = np.zeros(len(g), dtype=bool)
        for rows in rows_by_well(wells):          # one sort, not a mask per well
            mask[rows] = shale_rows(g[rows], SHALE_GR_QUANTILE)
        Xs = np.where(mask[:, None], table[shale].to_numpy(dtype=float), np.nan)
        out += _levels(Xs, shale, wells, SHALE_MIN_ROWS, factor, floor, min_wells,
                       {"shale": SHALE_GR_QUANTILE, "min_rows": SHALE_MIN_ROWS},
                       {c: tolerance.get(c, PINNED_SHALE_FLOOR * WELL_ACCURACY[c])
                        for c in shale})
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
