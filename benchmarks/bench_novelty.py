"""Perturbation benchmark of petro's trust machinery (issue 11): does a whole-well log fault that
stays inside the training range get flagged, named and given an honest band?

Trains the demo pipeline's models on the demo field's NMR wells minus ``--blind`` of them (no
MLflow), then predicts the blind wells as they are and with one log perturbed over the whole well:
density +0.10 / +0.15 g/cm3, neutron +0.05 v/v, sonic +10 us/ft, GR x1.6, deep resistivity x3,
image amplitude gain x2. Per perturbation and model: share of depths flagged, blind error on
flagged / unflagged depths, P10-P90 coverage and median width on flagged / unflagged depths, how
far the perturbation moved the predictions (in blind RMSEs) and the well-level diagnosis.

    .venv/bin/python benchmarks/bench_novelty.py [--workdir DIR] [--wells 8] [--thickness 40]

By hand, not in the test suite (minutes).
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from petro.api import configure
from petro.app.engine import process_pool
from petro.app.training import train_models
from petro.app.wells import process_well
from petro.features.table import well_features
from petro.io.discovery import discover
from petro.io.wells import load_well
from petro.models.diagnosis import diagnose
from petro.synth import SynthConfig, write_field
from petro.vocab import OOD_FLAG

REPO = Path(__file__).resolve().parents[1]


def _curve(c, f):
    return lambda w: w.curves.__setitem__(c, f(w.curves[c]))


def _image_gain(w):
    for k, img in w.images.items():
        if "amp" in k:
            img.values = img.values * 2.0


PERTURBATIONS = {
    "none": lambda w: None,
    "RHOB +0.10": _curve("RHOB", lambda v: v + 0.10),
    "RHOB +0.15": _curve("RHOB", lambda v: v + 0.15),
    "NPHI +0.05": _curve("NPHI", lambda v: v + 0.05),
    "DT +10": _curve("DT", lambda v: v + 10.0),
    "GR x1.6": _curve("GR", lambda v: v * 1.6),
    "RT x3": _curve("RT", lambda v: v * 3.0),
    "image amp x2": _image_gain,
    "hole 12.25 in": _curve("CALI", lambda v: v + 3.75),
}
EXPECTED = {"RHOB +0.10": "RHOB", "RHOB +0.15": "RHOB", "NPHI +0.05": "NPHI", "DT +10": "DT",
            "GR x1.6": "GR", "RT x3": "LOG10_RT", "image amp x2": None, "none": None,
            "hole 12.25 in": "CALI"}


def _err(tm, y, p):
    return (p - y) * (100.0 if tm.spec.target == "porosity" else 1.0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--wells", type=int, default=8)
    ap.add_argument("--thickness", type=float, default=40.0)
    ap.add_argument("--blind", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args(argv)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="petro-bench-novelty-"))
    field = work / "field"
    if not any(field.glob("**/*.las")):
        write_field(field, SynthConfig(wells=a.wells, seed=a.seed, thickness=a.thickness), n_jobs=2,
                    pool=process_pool())
    cfg = configure(REPO / "pipelines" / "demo.yaml", data=field)
    cfg.synthetic = None
    groups = discover(field)
    results = {n: process_well(n, f, cfg) for n, f in sorted(groups.items())}
    nmr = [n for n, r in results.items() if r.has_targets]
    blind = nmr[-a.blind:]
    train = [results[n] for n in nmr if n not in blind]
    print(f"training on {[r.name for r in train]}, blind {blind}")
    tr = train_models(cfg, train)
    rows = []
    for tm in tr.models:
        b = tm.bundle
        col = tm.spec.column
        log = b.meta.get("transform") == "log10"
        blind_rmse = tm.cv.pooled["model"].get("rmse_pu" if tm.spec.target == "porosity"
                                              else "rmse_dec")
        for name in blind:
            base_tab = results[name].table
            y = base_tab[col].to_numpy(float)
            ok_y = base_tab.get("VALID", pd.Series(True, index=base_tab.index)).astype(bool)
            y = np.where(ok_y, y, np.nan)
            base_pred = None
            for pert, fn in PERTURBATIONS.items():
                well = load_well(name, groups[name], cfg.ingest, cache_dir=cfg.run.cache_dir)
                well = copy.deepcopy(well)
                try:
                    fn(well)
                except KeyError:
                    continue
                tab = well_features(well, cfg.features, cfg.logs)
                out = b.predict(tab.reindex(columns=b.features), well=True)
                p = out[f"{b.output}_ML"].to_numpy(float)
                lo, hi = out[f"{b.output}_P10"].to_numpy(float), out[f"{b.output}_P90"].to_numpy(float)
                yy = y
                if log:
                    p, lo, hi = np.log10(p), np.log10(lo), np.log10(hi)
                if pert == "none":
                    base_pred = p
                e = _err(tm, yy, p)
                flag = out[OOD_FLAG].to_numpy() == 1
                fin = np.isfinite(e)
                cov = (yy >= lo) & (yy <= hi)
                width = _err(tm, lo, hi)
                move = np.sqrt(np.nanmean(_err(tm, base_pred, p) ** 2)) / blind_rmse
                rows.append({
                    "model": tm.spec.name, "well": name, "perturbation": pert,
                    "flagged": flag.mean(), "move_x_rmse": move,
                    "rmse_flag": np.sqrt(np.nanmean(e[flag & fin] ** 2)) if (flag & fin).any() else np.nan,
                    "rmse_unflag": np.sqrt(np.nanmean(e[~flag & fin] ** 2)) if (~flag & fin).any() else np.nan,
                    "cov_flag": cov[flag & fin].mean() if (flag & fin).any() else np.nan,
                    "cov_unflag": cov[~flag & fin].mean() if (~flag & fin).any() else np.nan,
                    "width_flag": np.nanmedian(width[flag & fin]) if (flag & fin).any() else np.nan,
                    "width_unflag": np.nanmedian(width[~flag & fin]) if (~flag & fin).any() else np.nan,
                    "bad_unflagged": (np.abs(e) > 3 * blind_rmse)[~flag & fin].sum(),
                    "bad": (np.abs(e) > 3 * blind_rmse)[fin].sum(),
                    "diagnosis": diagnose(out, b.meta.get("consistency"), tab,
                                          b.meta.get("novelty")) or "-",
                    "expected": EXPECTED[pert] or "-",
                    "blind_rmse": blind_rmse})
    df = pd.DataFrame(rows)
    agg = df.groupby(["model", "perturbation"], sort=False).agg(
        flagged=("flagged", "mean"), move=("move_x_rmse", "mean"),
        rmse_flag=("rmse_flag", "mean"), rmse_unflag=("rmse_unflag", "mean"),
        cov_flag=("cov_flag", "mean"), cov_unflag=("cov_unflag", "mean"),
        width_flag=("width_flag", "mean"), width_unflag=("width_unflag", "mean"),
        bad=("bad", "sum"), bad_unflagged=("bad_unflagged", "sum"))
    pd.set_option("display.width", 200)
    print(agg.round(3).to_string())
    for m, g in df.groupby("model", sort=False):
        bad, miss = g["bad"].sum(), g["bad_unflagged"].sum()
        print(f"{m}: depths with error > 3x blind RMSE: {bad}, unflagged {miss} "
              f"({miss / max(bad, 1):.0%})")
    print("\nwell-level diagnosis (expected curve):")
    for _, r in df[df.model == df.model.iloc[0]].iterrows():
        print(f"  {r.well} {r.perturbation:14s} [{r.expected}] {r.diagnosis}")
    df.to_csv(work / "bench_novelty.csv", index=False)
    print(f"\nper-well rows: {work / 'bench_novelty.csv'}")


if __name__ == "__main__":
    main()
