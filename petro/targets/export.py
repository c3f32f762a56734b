"""The targets as a log file a petrophysicist checks against the vendor's curves: which columns,
in which units, with which descriptions and parameters (pure; writing is the caller's)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from petro.targets.nmr import TargetParams
from petro.vocab import FLAG, TARGET_COLUMNS, VALID, VENDOR_PERMEABILITY

CLIP_CODES = {"clipped to min_perm": -1.0, "clipped to max_perm": 1.0}


def targets_log(table: pd.DataFrame, params: TargetParams, report: dict) -> dict:
    """Columns, units, descriptions and ~Parameter items of a well's target log.

    ``table`` is the per-well table with the target columns; ``report`` is the report
    :func:`petro.targets.nmr.compute_targets` returned (it says whether a T2 cutoff was used, the
    Timur-Coates convention used and the agreement with the vendor's permeability).
    """
    cols = {c: table[c].to_numpy(float) for c in TARGET_COLUMNS if c in table}
    cols[VALID] = table[VALID].astype(float).to_numpy()
    cols["PERM_CLIP"] = table[FLAG].map(CLIP_CODES).fillna(0.0).to_numpy(float)
    units = dict(TARGET_COLUMNS, **{VALID: "", "PERM_CLIP": ""})
    for v in VENDOR_PERMEABILITY:
        if v in table:
            cols[v], units[v] = table[v].to_numpy(float), "MD"
    desc = {"PHIE": f"NMR {params.porosity} porosity (target)",
            "PERM": f"{params.permeability} permeability (target)",
            "LOG10_PERM": "log10 of PERM (the model's target)",
            "BVI": "Bound fluid volume used in the permeability transform",
            "FFI": "Free fluid volume", "T2LM": "T2 logarithmic mean",
            VALID: "1 = valid target sample",
            "PERM_CLIP": "-1/+1 = permeability clipped to min_perm/max_perm",
            "KTIM": "Vendor Timur-Coates permeability (comparison)",
            "KSDR": "Vendor SDR permeability (comparison)"}
    p = params
    items = {"PERMMOD": (p.permeability, "", "Permeability model"),
             "COATESC": (f"{p.coates_c:g}", "", "Timur-Coates C (phi in p.u.)"),
             "PHITYPE": (p.porosity, "", "Porosity of the PHIE target"),
             "PERMPHI": (report.get("perm_porosity", p.perm_porosity), "",
                         "Porosity inside the permeability transform"),
             "BVISRC": (p.bvi, "", "BVI source")}
    if report.get("cutoff_used", False):      # summary curves: no cutoff was applied
        items["TCUT"] = (f"{p.cutoff_ms:g}", "MS", "T2 cutoff")
        items["CBWCUT"] = (f"{p.clay_cutoff_ms:g}", "MS", "Clay-bound cutoff")
    items.update(convention_items(report))
    return {"columns": {k: np.asarray(v, float) for k, v in cols.items()}, "units": units,
            "descriptions": {k: v for k, v in desc.items() if k in cols}, "params": items}


def convention_items(report: dict) -> dict[str, tuple[str, str, str]]:
    """~Parameter items of the Timur-Coates convention used and of the agreement with the
    vendor's permeability, with the settings (``0``) and with the targets written (``1``)."""
    items = {}
    conv = report.get("convention")       # None with SDR
    if conv:
        items = {"BVIFLOOR": (f"{conv['bvi_floor']:g}", "V/V",
                              "BVI floor in Timur-Coates (0: none)"),
                 "FFIRULE": (conv["ffi"], "", "FFI in Timur-Coates: measured or phi_minus_bvi"),
                 "PERMPHI": (conv.get("phi", "total"), "",
                             "phi in Timur-Coates: total or effective NMR porosity"),
                 "PERMBVI": (conv.get("bvi") or "curve", "",
                             "BVI in Timur-Coates: curve, total_minus_ffi, effective_minus_ffi"),
                 "CONVSRC": (conv["source"], "",
                             "Convention from the settings or the curve named")}
    vendor = report.get("vendor")
    if vendor:
        items["VENDK"] = (vendor["original"], "", "Vendor permeability compared")
        items["VKN"] = (str(vendor["after"]["n"]), "", "Depths compared (vendor K >= 0.01 mD)")
        for i, key in enumerate(("before", "after")):
            a, what = vendor[key], ("settings", "targets")[i]
            items[f"VKAGR{i}"] = (f"{100 * a['share']:.1f}", "%",
                                  f"Within 0.01 decade of the vendor, {what}")
            items[f"VKMED{i}"] = (f"{a['median_dec']:+.4f}", "DEC",
                                  f"Median log10(PERM / vendor), {what}")
    return items
