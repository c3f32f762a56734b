"""Every curve and image of a merged well gets a verdict, and the verdicts are applied.

Quality control (:mod:`petro.quality`: dead, flat, stuck, noisy, spiky, ramp curves; dead image
buttons) runs on the model-input curves of the alias table; what the reader already decided (a
curve left out as physically impossible or in an unknown unit, a duplicate left out, impossible
samples masked) becomes a verdict too; NMR curves are targets and other curves are not inputs.
A curve left out is removed from the well (it is no model input in this well, its feature column
is missing), its reason becomes a warning naming the well and the curve. Verdicts travel with the
well (``Well.verdicts``) to the reports (``petro ingest``, the run's report, the model's record).
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from petro.io.options import IngestOptions
from petro.problems import Problem, info, warning
from petro.quality import LEFT_OUT, MASKED, USED, Verdict, check_curves, check_image
from petro.vocab import NMR_CURVES
from petro.well import Well

NOT_INPUT = "not an input"
TARGET = "target"
# reader problems that decide a curve's fate (petro.io.canonical, petro.io.plausibility)
_LEFT_OUT_CODES = ("implausible_curve", "unit_unknown", "duplicate_curve")
_MASKED_CODE = "implausible_values"


def _reader_verdicts(well: Well, opts: IngestOptions) -> tuple[dict[str, Verdict], list[Verdict]]:
    """What the reader decided: samples masked per canonical curve, and curves left out."""
    table = opts.table()
    masked: dict[str, Verdict] = {}
    gone: list[Verdict] = []
    for p in well.problems:
        if not p.curve or p.code not in _LEFT_OUT_CODES + (_MASKED_CODE,):
            continue
        hit = table.canonical(p.curve)
        name = hit[0] if hit else p.curve.upper()
        if p.code == _MASKED_CODE and name in well.curves.columns:
            n = re.match(r"(\d+) of", p.message)
            masked[name] = Verdict(name, MASKED, p.message, p.code, int(n.group(1)) if n else 0)
        elif p.code in _LEFT_OUT_CODES:   # the file's curve, by its own mnemonic
            gone.append(Verdict(p.curve, LEFT_OUT, p.message, p.code))
    return masked, gone


def assess_well(well: Well, opts: IngestOptions | None = None) -> Well:
    """The well with its quality verdicts (``well.verdicts``: one per curve and image, in the
    order curves, images, reader's left-out curves) applied, and a warning for each curve or
    image left out or partly masked."""
    opts = opts or IngestOptions()
    inputs = [c for c in well.curves.columns if c in opts.table().inputs()]
    curves, checked = check_curves(well.curves, inputs)
    masked, gone = _reader_verdicts(well, opts)
    by_name = {v.item: v for v in checked}
    verdicts: list[Verdict] = []
    for c in well.curves.columns:
        v = by_name.get(c)
        if v is None:
            v = (Verdict(c, USED, "NMR curve: a target, never an input", TARGET)
                 if c in NMR_CURVES else Verdict(c, NOT_INPUT, "", "not_input"))
        elif v.status == USED and c in masked:
            v = masked[c]
        verdicts.append(v)
    images = dict(well.images)
    for kind, img in well.images.items():
        values, v = check_image(kind, img.values)
        verdicts.append(v)
        if values is None:
            del images[kind]
        elif v.status == MASKED:
            images[kind] = replace(img, values=values)
    verdicts += gone
    problems = [_problem(v, well.name) for v in verdicts
                if v.code in ("dead_columns",) or (v.status == LEFT_OUT and v.code not in
                                                   _LEFT_OUT_CODES)]
    return replace(well, curves=curves, images=images, verdicts=verdicts,
                   problems=well.problems + problems,
                   provenance={k: p for k, p in well.provenance.items() if k in curves.columns})


def _problem(v: Verdict, well: str) -> Problem:
    what = v.item.replace("image:", "").replace("_", " ") + " image" \
        if v.item.startswith("image:") else v.item
    make = info if v.code == "no_data" else warning   # an empty curve in a file is common
    return make(f"{what} {v.status}: {v.reason}", well=well,
                curve="" if v.item.startswith("image:") else v.item,
                code="curve_left_out" if v.status == LEFT_OUT else "image_columns_dead")


def verdict_rows(verdicts: list[dict], *, everything: bool = False) -> list[str]:
    """Verdicts (as dicts) for a table cell: inputs left out or masked and kept spikes, named by
    the check (``NPHI: left out (dead detector)``; the reason is in the well's warnings); with
    ``everything``, every verdict with its whole reason (a duplicate of a curve another file
    gives is only there)."""
    out = []
    for d in verdicts:
        v = Verdict.from_dict(d)
        if everything:
            out.append(str(v))
        elif (v.status not in (USED, NOT_INPUT) and v.code != "duplicate_curve") \
                or (v.status == USED and v.samples):
            out.append(f"{v.item}: {v.status} ({v.code.replace('_', ' ')})")
    return out


def count(verdicts: list[dict]) -> dict[str, int]:
    """How many curves and images got each status."""
    keys, n = np.unique([d["status"] for d in verdicts], return_counts=True) if verdicts \
        else ([], [])
    return {str(k): int(c) for k, c in zip(keys, n)}
