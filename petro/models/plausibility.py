"""The physically possible range of each model input, stored in the model (bundle key
``plausibility``) so the runtime refuses an impossible served value with the same table the file
readers apply (``petro/data/plausibility.yaml``).

Pure: the caller passes the table (``petro.io.plausibility.table()``); nothing here reads files.
"""

from __future__ import annotations

import math

from petro.models.trust import _curve_of


def input_plausibility(features: list[str], table: dict) -> dict[str, list]:
    """``{input column: [min, max, unit]}`` for every model input the table lists.

    ``features`` are the model's input columns, ``table`` the parsed plausibility table (its
    ``curves`` mapping: canonical curve -> ``{min, max, unit}``). A log10 input (``LOG10_RT``)
    gets the log10 of its curve's range and unit ``"log10 <unit>"``; a non-positive lower bound
    has no log10 and is None (open). Inputs the table does not list (derived columns such as
    PHID, image features) are not in the result.

    >>> input_plausibility(["RHOB", "LOG10_RT", "PHID"],
    ...                    {"curves": {"RHOB": {"min": 1.0, "max": 4.0, "unit": "g/cm3"},
    ...                                "RT": {"min": 0.001, "max": 1e6, "unit": "ohm.m"}}})
    {'RHOB': [1.0, 4.0, 'g/cm3'], 'LOG10_RT': [-3.0, 6.0, 'log10 ohm.m']}
    """
    curves = table.get("curves") or {}
    out: dict[str, list] = {}
    for f in features:
        curve, how = _curve_of(f)
        spec = curves.get(curve)
        if not spec:
            continue
        lo, hi, unit = float(spec["min"]), float(spec["max"]), str(spec["unit"])
        if how == "log10":
            lo = math.log10(lo) if lo > 0 else None
            hi = math.log10(hi) if hi > 0 else None
            unit = f"log10 {unit}"
        out[f] = [lo, hi, unit]
    return out
