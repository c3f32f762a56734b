"""False alarms and caught shifts of the novelty flag (issue 23.4), on fields other than the demo's.

For a synthetic field (``--seed``, ``--wells``, ``--thickness``, ``--lithology``) with curve
groups left out of every well (``--drop density,sonic,pef,resistivity,images``: the JB case is
all five), each NMR well in turn is the blind well: the pipeline's models are trained on the
other NMR wells (no MLflow; ``--quick``: no tuning) and predict the blind well as one well, as it
is and with one log shifted over the whole well (neutron +0.05 v/v, density +0.10 g/cm3, sonic
+10 us/ft, GR x1.6, deep resistivity x3: those its curves allow). Printed per blind well and
perturbation: the share of depths flagged by either model (``petro predict``'s OOD_FLAG), the
term that flags most of them, and the well-level diagnosis. For the well as it is, per model
(``poro``, ``perm``): its share of depths flagged and how much larger its blind error is there
than at its in-domain depths (``err_x``: mean absolute error flagged / in domain, in model space;
above 1 the flags point at worse answers). For a shifted well, per model, how much the shift
worsens the answer (``harm``: mean absolute blind error shifted / as it is): a shift that
leaves the answer as good as it was is no harm missed.

    .venv/bin/python benchmarks/bench_false_alarms.py --workdir /tmp/fa --seed 3 --wells 6 \
        --drop density,sonic,pef,resistivity,images --quick

By hand, not in the test suite (a few minutes per field).
"""

from __future__ import annotations

import argparse
import copy
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from petro.api import configure
from petro.app.training import train_models
from petro.app.wells import process_well
from petro.features.table import well_features
from petro.io.discovery import discover
from petro.io.wells import load_well
from petro.models.diagnosis import diagnose
from petro.models.runtime import REQUIRED_MISSING_NOVELTY
from petro.synth import SynthConfig, write_field
from petro.vocab import DEPTH, OOD_FLAG, feature_block

REPO = Path(__file__).resolve().parents[1]
GROUPS = {"density": ["RHOB", "PHID", "NPHI_PHID", "SPI"], "sonic": ["DT", "DTS", "PHIS", "SPI"],
          "pef": ["PEF"], "resistivity": ["LOG10_RT", "LOG10_RXO", "RT", "RXO"],
          "neutron": ["NPHI", "NPHI_PHID"]}
_WINDOWED = re.compile(r"^(?P<curve>[A-Z0-9_]+)_(?:wmed|wmad)_w\d{3}$")   # petro.vocab's names
SHIFTS = {"NPHI +0.05": ("NPHI", lambda v: v + 0.05), "RHOB +0.10": ("RHOB", lambda v: v + 0.10),
          "DT +10": ("DT", lambda v: v + 10.0), "GR x1.6": ("GR", lambda v: v * 1.6),
          "RT x3": ("RT", lambda v: v * 3.0)}


def dropped_columns(columns, groups: list[str]) -> list[str]:
    """The table columns of the curve groups left out (``images``: every image feature), with
    the windowed statistics of their curves (``RT_wmed_w150``)."""
    out = {c for g in groups if g != "images" for c in GROUPS[g]}
    out |= {c for c in columns if (m := _WINDOWED.match(c)) and m["curve"] in out}
    if "images" in groups:
        out |= {c for c in columns if feature_block(c) != "logs"}
    return [c for c in columns if c in out]


def terms(b, X: np.ndarray) -> dict[str, np.ndarray]:
    """Each novelty term of a bundle's answer for the rows ``X`` of one well (1.0 = edge)."""
    Xm = b.design(X)
    t = {"distance": b.novelty(Xm, design=False)}
    if b._miss_thr > 0:
        t["missing"] = b.missing_share(X) / b._miss_thr
    if b._required:
        t["required"] = np.where(~np.isfinite(X[:, b._required]).all(axis=1),
                                 REQUIRED_MISSING_NOVELTY, 0.0)
    _, cons, well_nov = b.consistency(X, True)
    t["cross-log depth"] = b.consistency(X, False)[1]
    t["well"] = well_nov
    t["level"] = b.level_term(X, True)
    return t


def bench_specs(work: Path, quick: bool) -> str:
    """The packaged specs in ``work/specs``, gated on nothing (a benchmark registers nothing and
    reports every comparator); ``quick``: without the hyper-parameter search."""
    d = work / "specs"
    d.mkdir(parents=True, exist_ok=True)
    for name in ("porosity", "permeability"):
        spec = yaml.safe_load((REPO / "models" / f"{name}.yaml").read_text())
        spec["criteria"]["must_beat"] = []
        if quick:
            spec.pop("tuning", None)
        (d / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(d)


def blind_rows(b, well, cfg, drop, shift) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The blind well's feature table (with ``shift`` applied), its prediction and matrix."""
    well = copy.deepcopy(well)
    if shift is not None:
        curve, fn = shift
        well.curves[curve] = fn(well.curves[curve])
    tab = well_features(well, cfg.features, cfg.logs)
    tab = tab.drop(columns=dropped_columns(tab.columns, drop))
    rows = tab.reindex(columns=b.features)
    return tab, b.predict(rows, well=True), b.matrix(rows)


def abs_errors(b, spec, out: pd.DataFrame, tab: pd.DataFrame, target: pd.DataFrame) \
        -> np.ndarray:
    """One model's absolute blind error per depth of the blind well (model space: log10 for
    permeability; NaN where either side is missing) against ``target`` (the blind well's table
    with the model's target column)."""
    y = tab[[DEPTH]].merge(target[[DEPTH, spec.column]], on=DEPTH, how="left")[spec.column]
    p = out[f"{b.output}_ML"].to_numpy(float)
    if b.meta.get("transform") == "log10":
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.log10(p)
    return np.abs(p - y.to_numpy(float))


def flag_error(e: np.ndarray, out: pd.DataFrame) -> tuple[float, float]:
    """One model's share of depths flagged and its blind error ratio (mean absolute error ``e``
    at flagged depths / at in-domain depths; NaN without both)."""
    f = out[OOD_FLAG].to_numpy() == 1
    ok = np.isfinite(e)
    if not (ok & f).any() or not (ok & ~f).any():
        return float(f.mean()), float("nan")
    return float(f.mean()), float(e[ok & f].mean() / e[ok & ~f].mean())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--wells", type=int, default=6)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--thickness", type=float, default=20.0)
    ap.add_argument("--lithology", default="carbonate")
    ap.add_argument("--drop", default="", help="curve groups left out: " + ", ".join(GROUPS) +
                    ", images")
    ap.add_argument("--blind", default="", help="blind wells (comma list; default: each NMR well)")
    ap.add_argument("--quick", action="store_true", help="specs without tuning")
    ap.add_argument("--field", default=None,
                    help="a field folder to use instead of petro's generator (e.g. one written "
                         "by benchmarks/otherfield.py); --seed, --wells, --thickness unused")
    a = ap.parse_args(argv)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="petro-bench-fa-"))
    field = Path(a.field) if a.field else \
        work / f"field-s{a.seed}-w{a.wells}-t{a.thickness:g}-{a.lithology}"
    if a.field and not any(field.glob("**/*.las")):
        ap.error(f"--field {field}: no LAS files there")
    if not any(field.glob("**/*.las")):
        write_field(field, SynthConfig(wells=a.wells, seed=a.seed, thickness=a.thickness,
                                       lithology=a.lithology), n_jobs=1)
    drop = [g for g in a.drop.split(",") if g]
    cfg = configure(REPO / "pipelines" / "demo.yaml", data=field,
                    overrides={"models_dir": bench_specs(work, a.quick),
                               "targets.lithology": a.lithology})
    cfg.synthetic = None
    groups = discover(field)
    results = {n: process_well(n, f, cfg) for n, f in sorted(groups.items())}
    for r in results.values():
        if r.table is not None:
            r.table = r.table.drop(columns=dropped_columns(r.table.columns, drop))
    nmr = [n for n, r in results.items() if r.has_targets]
    blind = [b for b in a.blind.split(",") if b] or nmr
    rows = []
    for name in blind:
        tr = train_models(cfg, [results[n] for n in nmr if n != name])
        well = load_well(name, groups[name], cfg.ingest, cache_dir=cfg.run.cache_dir)
        genuine = {}
        for pert, shift in {"none": None, **SHIFTS}.items():
            if shift is not None and (shift[0] not in well.curves or
                                      shift[0] in dropped_columns([shift[0]], drop) or
                                      (shift[0] == "RT" and "resistivity" in drop)):
                continue
            flags, why, own, mae = [], {}, {}, {}
            for tm in tr.models:
                b = tm.bundle
                tab, out, X = blind_rows(b, well, cfg, drop, shift)
                flags.append(out[OOD_FLAG].to_numpy() == 1)
                key = tm.spec.name[:4]
                e = abs_errors(b, tm.spec, out, tab, results[name].table)
                mae[key] = float(np.nanmean(e))
                if shift is None:
                    own[f"{key}"], own[f"{key}_err_x"] = flag_error(e, out)
                    genuine[key] = mae[key]
                else:   # how much the shift worsens the answer: harmful or not
                    own[f"{key}_harm"] = mae[key] / genuine[key]
                for k, v in terms(b, X).items():
                    why[k] = np.fmax(why.get(k, np.full(len(v), np.nan)), v)
                diag = diagnose(out, b.meta.get("consistency"), tab, b.meta.get("novelty"))
            flag = np.logical_or.reduce(flags)
            share = {k: float(np.mean(np.nan_to_num(v) > 1.0)) for k, v in why.items()}
            rows.append({"blind": name, "perturbation": pert, "flagged": float(flag.mean()),
                         **{f"by_{k}": s for k, s in share.items()}, **own,
                         "diagnosis": diag or "-"})
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 250, "display.max_colwidth", 120)
    print(f"field {field.name if a.field else f'seed {a.seed}, {a.wells} wells, {a.thickness:g} m'}"
          f", {a.lithology}; "
          f"left out: {', '.join(drop) or 'nothing'}; NMR wells {nmr}")
    print(df.drop(columns="diagnosis").round(3).to_string(index=False))
    for _, r in df.iterrows():
        print(f"  {r.blind} {r.perturbation:11s} {r.diagnosis}")
    tag = field.name if a.field else f"s{a.seed}-w{a.wells}"
    df.to_csv(work / f"fa-{tag}-{'-'.join(drop) or 'all'}.csv", index=False)


if __name__ == "__main__":
    main()
