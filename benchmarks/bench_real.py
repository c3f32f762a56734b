"""petro on the real NMR wells of ``../shared/data/real`` (issue 23): JB 11-6TFH (Schlumberger
CMR, Bakken), B2 and CHEVRON (Halliburton MRIL).

Per well, with petro's defaults:

- the agreement of ``petro targets`` with the vendor's NMR permeability (KTIM, MRIL's MPERM):
  the share of depths with vendor K >= 0.01 mD where petro's PERM is within 0.01 decade, the
  median difference, and the convention used (``targets.convention: auto``);
- the curve verdicts of ingest (each input curve used / masked / left out, and why);
- blind accuracy inside the well: leave-one-depth-block-out over 5 contiguous depth blocks (each
  block in turn is the blind "well", the models train on the 4 others), against the training
  mean, density porosity / poro-perm (where the well has a density) and the scikit-learn
  comparators (ridge, hist GBM) on the same folds. A block split is weaker evidence than a blind
  well: the blocks share the well's tools, calibrations, mud, borehole and per-well
  normalisation, and the beds next to a block boundary are seen on both sides, so it measures
  interpolation between depths of one well, not the move to a new well that a petrophysicist
  makes;
- leave-one-well-out across the three wells (blind metrics and comparators), and the share of
  each held-out well's depths flagged (``OOD_FLAG``, either model, the well sent as one well as
  ``petro predict`` does) by models trained on the two others. The three are unlike fields
  (a Bakken horizontal well, two Gulf of Mexico wells with other logs and NMR tools): a high
  flag rate is the honest answer there, not a failure.

The specs are the packaged ones without the hyper-parameter search (``--tuning`` keeps it; tens
of minutes more). Logs only: these wells have no images.

    .venv/bin/python benchmarks/bench_real.py [--data ../shared/data/real] [--json out.json]

By hand, not in the test suite (a few minutes).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench_false_alarms import bench_specs   # benchmarks/: the script's own folder
from petro.api import configure, targets
from petro.app.training import train_models
from petro.quality import LEFT_OUT, MASKED, USED
from petro.vocab import OOD_FLAG, WELL

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("nmr", "mril")
BLOCKS = 5
SHORT = {"Bakken2": "JB 11-6TFH (CMR)", "B2": "B2 (MRIL)",
         "OCS-G 1634 NO. BA-5 ST": "CHEVRON (MRIL)"}
COMPARATORS = ("model", "train_mean", "petrophysical", "ridge", "hist_gbm")


def vendor_agreement(report: dict) -> str:
    """'100.0 % (median -0.000 dec; BVI >= 0.02, FFI phi_minus_bvi, phi total, from KTIM)' or why
    not."""
    v = (report or {}).get("vendor")
    if not v:
        return "no vendor NMR permeability in the file"
    a, used = v["after"], v["used"]
    return (f"{v['original']}: {a['share']:.1%} of {a['n']} depths (median {a['median_dec']:+.3f} "
            f"dec; BVI floor {used['bvi_floor']:g}, FFI {used['ffi']}, phi "
            f"{used.get('phi', 'total')}, from {v['source']})")


def verdicts(summary: dict) -> str:
    """The well's input curves: used, masked (count) or left out (reason)."""
    out = []
    for v in summary.get("verdicts", []):
        if v["status"] == USED and v.get("code") not in ("target",):
            out.append(v["item"])
        elif v["status"] == MASKED:
            out.append(f"{v['item']} masked ({v['samples']} samples)")
        elif v["status"] == LEFT_OUT and "already gives" not in v["reason"]:
            out.append(f"**{v['item']} left out** ({v['reason'].split(':')[0]})")
    return ", ".join(out)


def blocks(well, k: int = BLOCKS) -> list:
    """The well cut into ``k`` contiguous depth blocks of equal row count, each a WellResult
    of its own (named ``<well> #i``): blind "wells" for leave-one-block-out."""
    t = well.table.sort_values("DEPT").reset_index(drop=True)
    out = []
    for i, idx in enumerate(np.array_split(np.arange(len(t)), k)):
        name = f"{well.name} #{i + 1}"
        out.append(replace(well, name=name, table=t.iloc[idx].assign(**{WELL: name})))
    return out


def metric_row(tr) -> dict:
    """Pooled blind RMSE of each model and comparator ('-' where a comparator did not run)."""
    row = {}
    for tm in tr.models:
        key = "rmse_pu" if tm.spec.target == "porosity" else "rmse_dec"
        for c in COMPARATORS:
            m = tm.cv.pooled.get(c) or {}
            row[f"{tm.spec.target}:{c}"] = m.get(key, np.nan)
        row[f"{tm.spec.target}:in_domain"] = tm.cv.pooled["model"].get("in_domain_rate", np.nan)
    return row


def flagged_share(tr, well) -> float:
    """Share of ``well``'s depths flagged by either model of ``tr``, the well sent as one."""
    flags = []
    for tm in tr.models:
        b = tm.bundle
        out = b.predict(well.table.reindex(columns=b.features), well=True)
        flags.append(out[OOD_FLAG].to_numpy() == 1)
    return float(np.logical_or.reduce(flags).mean())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "real"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--tuning", action="store_true")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="petro-bench-real-"))
    dirs = [str(Path(a.data) / f) for f in FOLDERS]
    cfg = configure(None, data=dirs[0], cache_dir="",
                    overrides={"models_dir": bench_specs(work, not a.tuning), "n_jobs": 1})
    wells = [w for w in targets(dirs, cache_dir="", n_jobs=1) if w.has_targets]
    report = {}
    for w in wells:
        tr = train_models(cfg, blocks(w))
        report[w.name] = {"targets": vendor_agreement(w.target_report),
                          "verdicts": verdicts(w.summary), "blocks": metric_row(tr)}
        print(f"{w.name}: {report[w.name]}", flush=True)
    tr = train_models(cfg, wells)
    report["leave-one-well-out"] = metric_row(tr)
    for w in wells:
        others = train_models(cfg, [o for o in wells if o.name != w.name])
        report[w.name]["flagged_lowo"] = flagged_share(others, w)
        report[w.name]["diagnosis"] = _diagnosis(others, w)
    print(table(report, [w.name for w in wells]))
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1, default=float))


def _diagnosis(tr, well) -> str:
    from petro.models.diagnosis import diagnose

    b = tr.models[0].bundle
    out = b.predict(well.table.reindex(columns=b.features), well=True)
    return diagnose(out, b.meta.get("consistency"), well.table, b.meta.get("novelty")) or "-"


def _fmt(v, digits=3) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def table(report: dict, names: list[str]) -> str:
    """The README's markdown tables."""
    lines = ["| well | vendor K agreement (`petro targets`, defaults) | input curves (ingest "
             "verdicts) |", "|---|---|---|"]
    for n in names:
        r = report[n]
        lines.append(f"| {SHORT.get(n, n)} | {r['targets']} | {r['verdicts']} |")
    head = ("| blind split | porosity RMSE p.u.: petro / mean / density porosity / ridge / "
            "hist GBM | log10 perm RMSE dec: petro / mean / poro-perm / ridge / hist GBM | "
            "flagged |")
    lines += ["", head, "|---|---|---|---|"]
    rows = [(f"{SHORT.get(n, n)}, 5 depth blocks", report[n]["blocks"],
             1 - report[n]["blocks"].get("porosity:in_domain", np.nan)) for n in names]
    for label, m, flag in rows:
        lines.append(f"| {label} | {_cells(m, 'porosity')} | {_cells(m, 'permeability')} | "
                     f"{_fmt(flag * 100, 1)} % (distance) |")
    m = report["leave-one-well-out"]
    flags = ", ".join(f"{SHORT.get(n, n).split(' ')[0]} {report[n]['flagged_lowo']:.0%}"
                      for n in names)
    lines.append(f"| leave one well out (3 wells) | {_cells(m, 'porosity')} | "
                 f"{_cells(m, 'permeability')} | {flags} |")
    return "\n".join(lines)


def _cells(m: dict, target: str) -> str:
    return " / ".join(_fmt(m.get(f"{target}:{c}")) for c in COMPARATORS)


if __name__ == "__main__":
    main()
