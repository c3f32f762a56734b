"""Trust metadata fitted at training time and stored in the model's JSON (no pickle): the alias
map the runtime uses to accept vendor mnemonics, the units and training ranges of the inputs, and
the importance weights of the missing-input novelty term (see petro/models/runtime.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from petro.mnemonics import AliasTable
from petro.models.conformal import fit_mondrian
from petro.models.train import robust_center_scale
from petro.units import _UNITS
from petro.vocab import NOV_PREFIX

# derived log columns and the curves they are computed from (petro/features/logs.py)
DERIVED_SOURCES = {"PHID": ("RHOB",), "PHIS": ("DT",), "NPHI_PHID": ("NPHI", "RHOB"),
                   "SPI": ("RHOB", "DT"), "RUGOSITY": ("CALI",)}


def _curve_of(feature: str) -> tuple[str, str]:
    """(canonical curve, how) of a conventional input column: ``LOG10_RT`` -> (RT, log10)."""
    if feature.startswith("LOG10_"):
        return feature[6:], "log10"
    return feature, "value"


def alias_map(features: list[str], aliases: dict | None = None) -> dict[str, list[str]]:
    """``{ALIAS: [input column, 'value'|'log10']}`` for every alias (upper case) of a curve the
    model takes as input; the canonical spelling of a log10 input (``RT``) is an alias too."""
    table = AliasTable(aliases)
    out: dict[str, list[str]] = {}
    for f in features:
        curve, how = _curve_of(f)
        spec = table.specs.get(curve)
        if spec is None:
            continue
        for a in spec.aliases:
            a = a.upper()
            if a != f and ":" not in a:
                out.setdefault(a, [f, how])
            if how == "log10":
                out.setdefault(f"LOG10_{a}", [f, "value"])
    return out


def input_units(table: pd.DataFrame, features: list[str], aliases: dict | None = None) -> dict:
    """Per conventional input column: quantity, canonical unit, the training wells' plausible
    range (0.5-99.5 % widened by half its span) and the other units' (scale, offset)."""
    t = AliasTable(aliases)
    out = {}
    for f in features:
        curve, _ = _curve_of(f)
        if curve not in t.specs or f not in table:
            continue
        q = t.quantity(curve)
        v = table[f].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        if q not in _UNITS or v.size < 10:
            continue
        lo, hi = np.quantile(v, [0.005, 0.995])
        span = max(hi - lo, 1e-6)
        unit, spell = _UNITS[q]
        factors = sorted({(float(s), float(o)) for s, o in spell.values() if (s, o) != (1.0, 0.0)})
        out[f] = {"quantity": q, "unit": unit, "range": [float(lo - span / 2), float(hi + span / 2)],
                  "factors": [list(x) for x in factors]}
    return out


def missing_weights(importance: pd.Series | None, features: list[str], pca: list[dict]) \
        -> dict[str, float]:
    """Weight of each input column in the missing-input term: its blind-well importance (a PCA
    component's spread over its patch columns), normalised to sum 1. A derived column counts as
    missing when a curve it is computed from is (``requires``): without RHOB, PHID is no
    density log the model can trust."""
    w = dict.fromkeys(features, 0.0)
    if importance is None or importance.empty:
        return w
    groups = {n: g["columns"] for g in pca for n in g["names"]}
    for name, val in importance.items():
        val = float(val)
        if not np.isfinite(val) or val <= 0:
            continue
        if name in groups:
            for c in groups[name]:
                w[c] = w.get(c, 0.0) + val / len(groups[name])
        elif name in w:
            w[name] += val
    total = sum(w.values())
    return {k: v / total for k, v in w.items()} if total > 0 else w


def requires(features: list[str]) -> dict[str, list[str]]:
    """Derived input columns and the input curves they are computed from."""
    return {d: [s for s in src if s in features] for d, src in DERIVED_SOURCES.items()
            if d in features and any(s in features for s in src)}


def missing_mask(X: np.ndarray, features: list[str], req: dict[str, list[str]]) -> np.ndarray:
    M = ~np.isfinite(X)
    for d, src in req.items():
        j = features.index(d)
        for s in src:
            M[:, j] |= M[:, features.index(s)]
    return M


def missing_threshold(M: np.ndarray, weights: np.ndarray, quantile: float,
                      floor: float = 0.05) -> float:
    """Missing share at the edge of the domain (``M``: the training rows' missing mask): the
    rows' ``quantile`` of it plus ``floor`` (a row missing 5 % more of the model's importance
    than usual is at the edge)."""
    share = M.astype(float) @ weights
    return float(max(floor, np.quantile(share, quantile) + floor)) if share.size else floor


def trust_meta(table: pd.DataFrame, features: list[str], importance: pd.Series | None,
               pca: list[dict], quantile: float, aliases: dict | None = None,
               oof: pd.DataFrame | None = None, nominal: float = 0.8,
               ood_policy: str = "widen") -> dict:
    """The bundle metadata of this module: ``aliases``, ``input_units``, ``missing``,
    ``consistency``, ``ood_policy`` and (from the out-of-fold rows ``oof`` of blind-well
    validation: y, lo, hi, dist) the Mondrian ``conformal_bins``."""
    w = missing_weights(importance, features, pca)
    X = table[features].to_numpy(dtype=float)
    warr = np.asarray([w[f] for f in features])
    req = requires(features)
    out = {"aliases": alias_map(features, aliases),
           "input_units": input_units(table, features, aliases),
           "missing": {"weights": w, "requires": req,
                       # conventional curves every training row had: missing one is novelty
                       "required": [f for f in features if f in CONSISTENCY_CURVES and
                                    float(np.isfinite(table[f].to_numpy(float)).mean()) >= 0.95],
                       "threshold": missing_threshold(missing_mask(X, features, req), warr,
                                                      quantile)}}
    if "WELL" in table:
        cons = fit_consistency(table, features, table["WELL"].astype(str).to_numpy())
        if cons:
            out["consistency"] = cons
    out["ood_policy"] = ood_policy
    if oof is not None and {"y", "lo", "hi", "dist"} <= set(oof.columns):
        scores = np.maximum(oof["lo"] - oof["y"], oof["y"] - oof["hi"]).to_numpy(float)
        out["conformal_bins"] = fit_mondrian(scores, oof["dist"].to_numpy(float), nominal)
    return out


# ---------------------------------------------------------------- cross-log consistency (issue 11)
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


_UNIT_WORDS = {"RHOB": ("g/cc", "{:+.2f}"), "NPHI": ("v/v", "{:+.3f}"), "DT": ("us/ft", "{:+.1f}"),
               "GR": ("gAPI", "{:+.0f}"), "PEF": ("b/e", "{:+.2f}"), "DTS": ("us/ft", "{:+.1f}")}
_ADVICE = {"RHOB": "check calibration/matrix", "NPHI": "check the neutron's matrix setting and "
           "environmental corrections", "DT": "check calibration and cycle skipping",
           "GR": "check the tool's calibration/normalisation", "LOG10_RT": "check calibration, "
           "borehole and invasion corrections", "LOG10_RXO": "check pad contact and calibration",
           "PEF": "check barite mud and calibration", "DTS": "check the shear pick"}


def well_shifts(out: pd.DataFrame, cons: dict | None) -> list[dict]:
    """Which curve is off, for one well's predicted rows (``NOV_<curve>`` columns).

    A shift d of curve c moves c's own residual by d and, through the relations that use c as an
    input, every other curve k's residual by -beta_kc d. For each candidate c, d is fitted to the
    well's median residuals (robust units) by least squares; the candidate that explains them best
    is the culprit (a shifted density also puts the neutron off its relation with density; the
    pattern tells which of the two moved). Sorted, best explanation first."""
    curves = [m for m in (cons or {}).get("curves", []) if NOV_PREFIX + m["target"] in out]
    if not curves:
        return []
    names = [m["target"] for m in curves]
    scale = np.array([m["resid_scale"] for m in curves])
    med, share = np.full(len(curves), np.nan), np.zeros(len(curves))
    for i, m in enumerate(curves):
        r = pd.to_numeric(out[NOV_PREFIX + m["target"]], errors="coerce").to_numpy(float)
        r = r[np.isfinite(r)]
        if r.size >= 10:
            med[i] = np.median(r)
            share[i] = np.mean((np.sign(r) == np.sign(med[i])) & (np.abs(r) > 0.5 * abs(med[i])))
    ok = np.isfinite(med)
    if not ok.any():
        return []
    z = np.where(ok, med / scale, 0.0)
    res = []
    for c, mc in enumerate(curves):
        if not ok[c]:
            continue
        p = np.zeros(len(curves))
        p[c] = 1.0 / scale[c]
        for k, mk in enumerate(curves):
            if k != c and names[c] in mk["inputs"]:
                j = mk["inputs"].index(names[c])
                p[k] = -mk["coef"][j] / mk["scale"][j] / scale[k]
        p = np.where(ok, p, 0.0)
        d = float(p @ z / (p @ p))
        rss = float(np.sum((z - d * p) ** 2))
        res.append({"curve": names[c], "shift": d, "share": float(share[c]), "rss": rss,
                    "score": abs(d) / scale[c] / cons["well_threshold"], "top": mc["top"],
                    "flagged": bool(np.max(np.abs(z)) / cons["well_threshold"] > 1.0)})
    return sorted(res, key=lambda x: (x["rss"], -x["score"]))


# a conventional input outside the cross-log check whose median over a well lies this many robust
# spreads (MAD x 1.4826 of the training rows) from the training median is named (level_shift)
LEVEL_SHIFT_SPREADS = 6.0
LEVEL_MIN_ROWS = 30
_LEVEL_WORDS = {"CALI": ("in", "a hole size the model was not trained on (logs and images read "
                               "differently in another hole): check the bit size and treat the "
                               "predictions as extrapolation")}


def level_shift(rows: pd.DataFrame, novelty: dict | None) -> str:
    """One sentence naming a conventional input (caliper, spectral gamma ray, SP, ...) whose level
    over the whole well lies far outside the training wells' (its median more than
    LEVEL_SHIFT_SPREADS robust spreads from the training median), or ''. The curves of the
    cross-log check (CONSISTENCY_CURVES) and derived columns are left to :func:`diagnose`."""
    block = next((b for b in (novelty or {}).get("blocks", []) if b.get("name") == "logs"), None)
    if block is None or len(rows) < LEVEL_MIN_ROWS:
        return ""
    derived = set(DERIVED_SOURCES)
    worst = None
    for f, c, sc in zip(block["features"], block["center"], block["scale"]):
        if f in CONSISTENCY_CURVES or f in derived or f not in rows or not sc > 0:
            continue
        v = rows[f].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        if v.size < LEVEL_MIN_ROWS:
            continue
        med = float(np.median(v))
        z = (med - float(c)) / float(sc)
        if abs(z) >= LEVEL_SHIFT_SPREADS and (worst is None or abs(z) > abs(worst[3])):
            worst = (f, med, float(c), z)
    if worst is None:
        return ""
    f, med, c, z = worst
    unit, advice = _LEVEL_WORDS.get(f, ("", "a level the training wells never had: check the "
                                            "tool, its calibration and units"))
    return (f"{f} reads about {med:.3g} {unit} over the well, the training wells {c:.3g} {unit} "
            f"({z:+.0f} robust spreads): {advice}").replace("  ", " ")


def diagnose(out: pd.DataFrame, cons: dict | None, rows: pd.DataFrame | None = None,
             novelty: dict | None = None) -> str:
    """One sentence a petrophysicist acts on, for the worst-shifted curve of one well's predicted
    rows (``NOV_<curve>`` columns), else (given the well's input ``rows`` and the model's
    ``novelty`` parameters) for an input whose level the training wells never had
    (:func:`level_shift`), or '' when nothing is off."""
    shifts = well_shifts(out, cons)
    if not shifts or not shifts[0]["flagged"]:   # the runtime's well-level consistency rule
        return level_shift(rows, novelty) if rows is not None else ""
    s = shifts[0]
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
