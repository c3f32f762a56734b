"""Trust metadata fitted at training time and stored in the model's JSON (no pickle): the alias
map the runtime uses to accept vendor mnemonics, the units and training ranges of the inputs, the
importance weights of the missing-input novelty term, the cross-log consistency fit
(:mod:`petro.models.consistency`) and the Mondrian conformal bins (:mod:`petro.models.conformal`);
see petro/models/runtime.py for how each is used."""

from __future__ import annotations

import numpy as np
import pandas as pd

from petro.mnemonics import AliasTable
from petro.models.conformal import fit_mondrian
from petro.models.consistency import CONSISTENCY_CURVES, fit_consistency, fit_levels
from petro.units import unit_conversions
from petro.vocab import WELL, feature_block

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
        units = unit_conversions(q)
        v = table[f].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        if units is None or v.size < 10:
            continue
        lo, hi = np.quantile(v, [0.005, 0.995])
        span = max(hi - lo, 1e-6)
        unit, factors = units
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


def level_curves(features: list[str]) -> list[str]:
    """The measured conventional input curves (not the derived columns, not image features):
    each gets the whole-well level test (:func:`petro.models.consistency.fit_levels`)."""
    return [f for f in features if feature_block(f) == "logs" and f not in DERIVED_SOURCES]


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
               ood_policy: str = "widen", new_well: float = 0.0) -> dict:
    """The trust fields of the model record (:class:`petro.models.record.ModelRecord`):
    ``aliases``, ``input_units``, ``missing``, ``consistency`` (the cross-log relations and,
    under ``levels``, the whole-well level test of every input curve; absent when neither
    could be fitted), ``ood_policy`` and (from the out-of-fold rows ``oof`` of
    blind-well validation: y, lo, hi, dist) the Mondrian ``conformal_bins``; fitted on the
    training rows in memory ``table`` (model inputs ``features``; ``new_well``: the prediction
    level of the cross-log depth threshold, :func:`petro.models.consistency.depth_threshold`)."""
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
    if WELL in table:
        wells = table[WELL].astype(str).to_numpy()
        cons = fit_consistency(table, features, wells, new_well=new_well)
        levels = fit_levels(table, level_curves(features), wells)
        if levels:
            cons["levels"] = levels
        if cons:
            out["consistency"] = cons
    out["ood_policy"] = ood_policy
    if oof is not None and {"y", "lo", "hi", "dist"} <= set(oof.columns):
        scores = np.maximum(oof["lo"] - oof["y"], oof["y"] - oof["hi"]).to_numpy(float)
        out["conformal_bins"] = fit_mondrian(scores, oof["dist"].to_numpy(float), nominal)
    return out
