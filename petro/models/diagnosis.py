"""The words a petrophysicist acts on, for one well's predicted rows: which conventional curve is
off against the training wells' cross-log relations (:mod:`petro.models.consistency`) and by how
much, or which input reads at a level the training wells never had."""

from __future__ import annotations

import numpy as np
import pandas as pd

from petro.models.consistency import CONSISTENCY_CURVES
from petro.models.trust import DERIVED_SOURCES
from petro.vocab import NOV_PREFIX

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
