"""The words a petrophysicist acts on, for one well's predicted rows: which conventional curve is
off against the training wells' cross-log relations (:mod:`petro.models.consistency`) and by how
much, or which input reads at a level the training wells never had."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from petro.models.consistency import CONSISTENCY_CURVES
from petro.models.runtime import level_reading, well_centers, well_thresholds
from petro.models.trust import DERIVED_SOURCES
from petro.vocab import NOV_PREFIX

_UNIT_WORDS = {"RHOB": ("g/cc", "{:+.2f}"), "NPHI": ("v/v", "{:+.3f}"), "DT": ("us/ft", "{:+.1f}"),
               "GR": ("gAPI", "{:+.0f}"), "PEF": ("b/e", "{:+.2f}"), "DTS": ("us/ft", "{:+.1f}")}
_ADVICE = {"RHOB": "check calibration/matrix", "NPHI": "check the neutron's matrix setting and "
           "environmental corrections", "DT": "check calibration and cycle skipping",
           "GR": "check the tool's calibration/normalisation", "LOG10_RT": "check calibration, "
           "borehole and invasion corrections, or fluids the training wells did not have (a "
           "resistivity reads the fluids: an oil column, another water salinity)",
           "LOG10_RXO": "check pad contact and calibration",
           "PEF": "check barite mud and calibration", "DTS": "check the shear pick"}


def related(relation: dict, have: set[str]) -> str | None:
    """The input of a cross-log ``relation`` that weighs most (largest coefficient on robust
    units) among the curves the well reads, ``have``; None when it reads none of them. A
    relation is cited only between curves both the well and the training wells have."""
    inputs = [(abs(c), f) for f, c in zip(relation["inputs"], relation["coef"]) if f in have]
    return max(inputs)[1] if inputs else None


def well_shifts(out: pd.DataFrame, cons: dict | None,
                rows: pd.DataFrame | None = None) -> list[dict]:
    """Which curve is off, for one well's predicted rows (``NOV_<curve>`` columns).

    A shift d of curve c moves c's own residual by d and, through the relations that use c as an
    input, every other curve k's residual by -beta_kc d. For each candidate c, d is fitted to the
    well's median residuals (robust units, from each relation's training centre, divided by its
    whole-well threshold: a relation the training wells disagree on weighs less) by least
    squares; the candidate that explains them best is the culprit (a shifted density also puts
    the neutron off its relation with density; the pattern tells which of the two moved). A
    curve's ``top`` is its relation's main input among the curves the well reads (a residual
    with finite values). Sorted, best explanation first.

    Given the well's input ``rows``, the level tests (``cons["levels"]``: each curve's median
    over the well and in its shale, against the training wells', in its own thresholds) also
    vote: a shift d of c moves c's own levels by d and no other curve's. Relations alone cannot
    tell two curves that are each other's inputs apart (GR x1.6 or a neutron 0.08 low both put
    the neutron-GR relation off); the shifted curve's own level moved, the other's did not.
    The fitted d (the amount the words give) stays the relations' own."""
    curves = [m for m in (cons or {}).get("curves", []) if NOV_PREFIX + m["target"] in out]
    if not curves:
        return []
    names = [m["target"] for m in curves]
    scale = np.array([m["resid_scale"] for m in curves])
    center = well_centers(curves) * scale                 # in curve units
    thr = well_thresholds(curves, cons["well_threshold"])
    med, share = np.full(len(curves), np.nan), np.zeros(len(curves))
    for i, m in enumerate(curves):
        r = pd.to_numeric(out[NOV_PREFIX + m["target"]], errors="coerce").to_numpy(float)
        r = r[np.isfinite(r)] - center[i]    # from the training wells' own median residual
        if r.size >= 10:
            med[i] = np.median(r)
            share[i] = np.mean((np.sign(r) == np.sign(med[i])) & (np.abs(r) > 0.5 * abs(med[i])))
    ok = np.isfinite(med)
    if not ok.any():
        return []
    z = np.where(ok, med / scale, 0.0)
    have = {n for n, o in zip(names, ok) if o}   # curves the well reads (and the training wells)
    levels = _level_evidence(rows, cons, have) if rows is not None else []
    zt = z / thr     # in thresholds: a relation whose training wells differ much (a resistivity
    P, res = {}, []  # over several oil columns) weighs less than one they agree on
    for c, mc in enumerate(curves):
        if not ok[c]:
            continue
        p = np.zeros(len(curves))
        p[c] = 1.0 / scale[c]
        for k, mk in enumerate(curves):
            if k != c and names[c] in mk["inputs"]:
                j = mk["inputs"].index(names[c])
                p[k] = -mk["coef"][j] / mk["scale"][j] / scale[k]
        P[c] = np.where(ok, p, 0.0) / thr
        d = float(P[c] @ zt / (P[c] @ P[c]))
        res.append({"curve": names[c], "shift": d, "share": float(share[c]),
                    "rss": _rss(zt, {c: d}, P, names, levels),
                    "score": abs(d) / scale[c] / thr[c],
                    "top": related(mc, have),
                    "flagged": bool(np.max(np.abs(zt)) > 1.0), "_c": c})
    res.sort(key=lambda x: (x["rss"], -x["score"]))
    if np.max(np.abs(zt - res[0]["shift"] * P[res[0]["_c"]])) > 1.0:
        _pair(res, zt, P, names, levels)    # the best curve alone leaves a relation off
    for r in res:
        del r["_c"]
    return res


# a second curve is named with the first when the two shifts explain the well's relations and
# levels this much better than the first alone (sum of squares, in thresholds) and leave no
# relation beyond its threshold: a well can carry two things the training wells lack (a water
# leg where they were oil-bearing, and a shifted neutron)
PAIR_GAIN = 0.25


def _pair(res: list[dict], zt: np.ndarray, P: dict[int, np.ndarray], names: list[str],
          levels: list[tuple]) -> None:
    """Two curves off at once (``res``: the single-curve explanations, best first): the pair of
    shifts, fitted together, that explains the relations and levels best; when it does
    :data:`PAIR_GAIN` better than the best single curve and leaves no relation beyond its
    threshold, the pair's better single explanation goes first with the other as ``also``
    (shifts from the joint fit)."""
    by_c = {r["_c"]: r for r in res}
    best = None
    for a, b in itertools.combinations(sorted(P), 2):
        d = np.linalg.lstsq(np.column_stack([P[a], P[b]]), zt, rcond=None)[0]
        dd = {a: float(d[0]), b: float(d[1])}
        rss = _rss(zt, dd, P, names, levels)
        if best is None or rss < best[0]:
            best = (rss, dd)
    if best is None:
        return
    rss, dd = best
    left = zt - sum(d * P[c] for c, d in dd.items())
    if rss > PAIR_GAIN * res[0]["rss"] or np.max(np.abs(left)) > 1.0:
        return
    first, second = sorted(dd, key=lambda c: by_c[c]["rss"])
    lead = by_c[first]
    res.remove(lead)
    res.insert(0, lead)
    lead["shift"] = dd[first]
    lead["also"] = {k: by_c[second][k] for k in ("curve", "share", "top")} | {"shift": dd[second]}


def _rss(zt: np.ndarray, shifts: dict[int, float], P: dict[int, np.ndarray], names: list[str],
         levels: list[tuple]) -> float:
    """Sum of squares (in thresholds) left by the curve ``shifts`` (index: shift) in the well's
    relation residuals ``zt`` (each shift moving them by ``P[index]``) and in its levels: a
    shift d of a curve moves its own levels by d, and no other curve's."""
    fit = sum((d * P[c] for c, d in shifts.items()), np.zeros_like(zt))
    by_name = {names[c]: d for c, d in shifts.items()}
    return float(np.sum((zt - fit) ** 2) +
                 sum((zl - by_name.get(curve, 0.0) * pl) ** 2 for curve, zl, pl in levels))


def _level_evidence(rows: pd.DataFrame, cons: dict, names: set[str]) -> list[tuple]:
    """Per level test of a curve of ``names`` that the well's ``rows`` can take: (curve, the
    well's level from the training wells' in thresholds, what a shift of 1 curve unit moves it
    by in thresholds)."""
    tests = [t for t in ((cons.get("levels") or {}).get("curves") or [])
             if t["curve"] in names and float(t["threshold"]) > 0]
    return [(t["curve"], z / float(t["threshold"]), 1.0 / float(t["scale"]) / float(t["threshold"]))
            for t, _, z in _read_levels(rows, tests)]


def _read_levels(rows: pd.DataFrame, tests: list[dict]):
    """Per level test (entries of ``consistency.levels.curves``) that the well's ``rows`` can
    take (its curves, enough values): (test, the well's median, its distance from the training
    centre in robust spreads)."""
    for t in tests:
        cols = [t["curve"]] + (["GR"] if t.get("shale") is not None else [])
        if any(c not in rows for c in cols) or not float(t["scale"]) > 0:
            continue
        reading = level_reading(rows[cols].to_numpy(dtype=float), cols, t, LEVEL_MIN_ROWS)
        if reading is not None:
            yield t, *reading


# a conventional input outside the cross-log check whose median over a well lies this many robust
# spreads (MAD x 1.4826 of the training rows) from the training median is named (level_shift)
LEVEL_SHIFT_SPREADS = 6.0
LEVEL_MIN_ROWS = 30
_LEVEL_WORDS = {"CALI": ("in", "a hole size the model was not trained on (logs and images read "
                               "differently in another hole): check the bit size and treat the "
                               "predictions as extrapolation")}


def _level_candidates(novelty: dict | None, cons: dict | None) -> list[dict]:
    """The tests the level diagnosis reads, as entries of ``consistency.levels.curves`` (curve,
    center, scale, threshold in spreads; ``shale``: a shale-point test): the calibrated level
    test of the model (every input curve), else (models logged before it) the inputs outside
    the cross-log check at LEVEL_SHIFT_SPREADS."""
    lev = (cons or {}).get("levels")
    if lev:
        return list(lev["curves"])
    block = next((b for b in (novelty or {}).get("blocks", []) if b.get("name") == "logs"), None)
    if block is None:
        return []
    return [{"curve": f, "center": c, "scale": sc, "threshold": LEVEL_SHIFT_SPREADS}
            for f, c, sc in zip(block["features"], block["center"], block["scale"])
            if f not in CONSISTENCY_CURVES and f not in DERIVED_SOURCES]


def level_shift(rows: pd.DataFrame, novelty: dict | None, cons: dict | None = None) -> str:
    """One sentence naming the input curve whose level over the whole well (or in its shale:
    a shale-point test) lies furthest beyond its threshold (its median, in robust spreads of
    the training rows, from the training median: :func:`petro.models.consistency.fit_levels`),
    or ''. Every input curve is read, whether or not a cross-log relation covers it (a shifted
    neutron in a field without density)."""
    if len(rows) < LEVEL_MIN_ROWS:
        return ""
    worst = None
    for t, med, z in _read_levels(rows, _level_candidates(novelty, cons)):
        thr = float(t["threshold"])
        if abs(z) > thr and (worst is None or abs(z) / thr > abs(worst[3]) / worst[4]):
            worst = (t["curve"], med, float(t["center"]), z, thr, t.get("shale"))
    return _level_words(*worst) if worst else ""


def _level_words(f: str, med: float, c: float, z: float, thr: float,
                 shale: float | None = None) -> str:
    if f.startswith("LOG10_"):   # a resistivity: said in ohm.m
        f, med, c, unit = f[6:], 10 ** med, 10 ** c, "ohm.m"
        advice = _ADVICE.get("LOG10_" + f, "check calibration")
    else:
        unit = (_LEVEL_WORDS.get(f) or _UNIT_WORDS.get(f, ("",)))[0]
        advice = _LEVEL_WORDS[f][1] if f in _LEVEL_WORDS else _ADVICE.get(
            f, "a level the training wells never had: check the tool, its calibration and units")
    where, theirs = "over the well", "the training wells"
    if shale is not None:
        where = f"in the well's shale (its GR top {100 * (1 - shale):.0f} %)"
        theirs = "the training wells' shale"
    return (f"{f} reads about {med:.3g} {unit} {where}, {theirs} {c:.3g} {unit} "
            f"({z:+.1f} robust spreads, beyond the {thr:.1f} the training wells' own levels "
            f"allow): {advice}").replace("  ", " ")


def diagnose(out: pd.DataFrame, cons: dict | None, rows: pd.DataFrame | None = None,
             novelty: dict | None = None) -> str:
    """One sentence a petrophysicist acts on, for the worst-shifted curve of one well's predicted
    rows (``NOV_<curve>`` columns) against a relation with a curve the well reads, else (given
    the well's input ``rows``) for an input whose level lies beyond the training wells'
    (:func:`level_shift`: the level test in ``cons``, or for older models the ``novelty``
    parameters), or '' when nothing is off."""
    shifts = well_shifts(out, cons, rows)
    if not shifts or not shifts[0]["flagged"] or shifts[0]["top"] is None:
        # the runtime's well-level consistency rule did not flag: the level test
        return level_shift(rows, novelty, cons) if rows is not None else ""
    s = shifts[0]
    text = _shift_words(s, rows)
    if s.get("also") and s["also"]["top"] is not None:
        text += "; and " + _shift_words(s["also"], rows)
    return text


def _shift_words(s: dict, rows: pd.DataFrame | None) -> str:
    """The words of one curve's shift (an entry of :func:`well_shifts`)."""
    c = s["curve"]
    if c.startswith("LOG10_"):
        amount = f"x{10 ** s['shift']:.1f}"
        name = c[6:]
    else:
        unit, fmt = _UNIT_WORDS.get(c, ("", "{:+.3g}"))
        amount = (fmt.format(s["shift"]) + f" {unit}").strip()
        name = c
    rel = f"{CONSISTENCY_CURVES.get(c, c)}-{CONSISTENCY_CURVES.get(s['top'], s['top'])}"
    advice = _ADVICE.get(c, "check calibration")
    if c == "PEF" and abs(s["shift"]) >= PEF_LITHOLOGY_SHIFT and rows is not None and "PEF" in rows:
        pef = rows["PEF"].to_numpy(dtype=float)
        pef = pef[np.isfinite(pef)]
        if pef.size:   # a PEF that far off is the rock more often than the tool
            med = float(np.median(pef))
            mud = ", or barite mud" if s["shift"] > 0 else ""   # barite only raises PEF
            advice = (f"the well reads PEF {med:.1f} b/e ({_pef_rock(med)}): a lithology the "
                      f"training wells did not have{mud}; check the lithology"
                      f"{' and the mud' if mud else ''} before the calibration")
    return (f"{name} reads about {amount} against the training wells' {rel} relation over "
            f"{s['share']:.0%} of the well: {advice}")


# a PEF shift of this many b/e is a change of rock (quartz 1.8, dolomite 3.1, calcite 5.1)
PEF_LITHOLOGY_SHIFT = 1.0


def _pef_rock(pef: float) -> str:
    """The rock a petrophysicist reads from a PEF level (b/e, clean matrix values)."""
    if pef < 2.5:
        return "quartz sandstone or shaly sand"
    if pef < 4.0:
        return "dolomite, shale or a mixed matrix"
    if pef < 5.8:
        return "limestone"
    return "heavier than calcite: anhydrite, heavy minerals or barite mud"
