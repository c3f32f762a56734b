"""Command line: ``petro synth | ingest | targets | features | run | demo | predict | models``.

Exit codes: 0 all good; 1 some wells or files failed (the others were processed); 2 bad usage,
configuration or model (nothing done).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from petro.errors import PetroError

console = Console(stderr=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)

DEFAULT_MODELS = ("models:/petro-porosity@champion", "models:/petro-permeability@champion")
MIN_INPUT_FRACTION = 0.3


@contextmanager
def progress_bar(label: str, total: int | None):
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TextColumn("{task.fields[item]}"), TimeElapsedColumn(), console=err_console,
                  transient=False, disable=not err_console.is_terminal and os.environ.get("PETRO_PROGRESS") != "1") as prog:
        task = prog.add_task(label, total=total, item="")

        def step(item: str = ""):
            prog.update(task, advance=1, item=str(item))
        yield step


def _cfg_for(args, data: str | None):
    from petro.config import PipelineConfig, load_config

    if getattr(args, "pipeline", None):
        cfg = load_config(args.pipeline, data=data)
    else:
        cfg = PipelineConfig(data=data, n_jobs=getattr(args, "jobs", 2) or 2)
    if getattr(args, "no_cache", False):
        cfg.ingest.cache_dir = None
    elif getattr(args, "cache_dir", None):
        cfg.ingest.cache_dir = args.cache_dir
    return cfg


def safe_name(name: str) -> str:
    """A well name as a file name: letters, digits, '-', '_' and '.' kept, the rest '_'."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).strip("._") or "well"


# ------------------------------------------------------------------------------- commands
def cmd_synth(args) -> int:
    from petro.synth import SynthConfig, write_field

    cfg = SynthConfig(wells=args.wells, seed=args.seed, thickness=args.thickness,
                      nmr_fraction=args.nmr_fraction)
    with progress_bar("synthetic wells", cfg.wells) as step:
        summaries = write_field(args.out_dir, cfg, progress=step)
    t = Table(title=f"synthetic field in {args.out_dir}")
    for c in ("well", "NMR", "files"):
        t.add_column(c)
    for s in summaries:
        t.add_row(s["well"], "yes" if s["nmr"] else "no", ", ".join(s["files"]))
    console.print(t)
    return 0


def _well_results(args, cfg, with_targets=True):
    from petro.io.discovery import discover
    from petro.pipeline import process_wells

    groups = discover(cfg.data)
    if not groups:
        raise PetroError(f"{cfg.data}: no well files (.las, .dlis, .csv) found")
    with progress_bar("wells", len(groups)) as step:
        return process_wells(groups, cfg, with_targets=with_targets, progress=step)


def _report_failures(results) -> int:
    """Print every failed well and every failed file of a well that was otherwise read;
    1 if anything failed (the rest was processed), else 0."""
    status = 0
    for r in results:
        if r.error:
            err_console.print(f"[red]error[/red] well {r.name}: {r.error}")
            status = 1
        for p in r.problems:
            if p.is_error:
                err_console.print(f"[red]error[/red] well {r.name}: file {p}")
                status = 1
    return status


def cmd_ingest(args) -> int:
    cfg = _cfg_for(args, args.data_dir)
    results = _well_results(args, cfg, with_targets=False)
    t = Table(title=f"wells in {args.data_dir}", show_lines=True)
    for c in ("well", "files", "depth (m)", "step (m)", "curves", "images", "NMR", "problems"):
        t.add_column(c, overflow="fold")
    for r in results:
        s = r.summary
        if r.error:
            t.add_row(r.name, str(len(r.files)), "", "", "", "", "", f"[red]{r.error}[/red]")
            continue
        t.add_row(r.name, str(s["files"]), f"{s['top']:.2f} - {s['base']:.2f}", f"{s['step']:.4f}",
                  ", ".join(f"{c}<-{o}" if o != c else c for c, o in
                            list(s["origin"].items())[:14]) + (" ..." if len(s["origin"]) > 14 else ""),
                  "\n".join(f"{k}: {v}" for k, v in s["images"].items()),
                  "yes" if s["nmr"] else "no", "\n".join(str(p) for p in r.problems[:6]))
    console.print(t)
    return _report_failures(results)


def cmd_targets(args) -> int:
    from petro.io.las_writer import write_las
    from petro.targets.nmr import TargetParams

    cfg = _cfg_for(args, args.data_dir)
    overrides = {k: v for k, v in (("lithology", args.lithology), ("t2_cutoff_ms", args.cutoff),
                                   ("coates_c", args.coates_c), ("porosity", args.porosity),
                                   ("bvi", args.bvi), ("source", args.source),
                                   ("permeability", args.permeability)) if v is not None}
    if overrides:
        from dataclasses import asdict
        cfg.targets = TargetParams(**{**asdict(cfg.targets), **overrides})
    results = _well_results(args, cfg)
    out = Path(args.out_dir)
    t = Table(title="NMR targets")
    for c in ("well", "source", "porosity units", "valid", "masked / clipped", "file"):
        t.add_column(c, overflow="fold")
    status = _report_failures(results)
    for r in results:
        if r.error or r.table is None:
            continue
        if r.target_report is None:
            t.add_row(r.name, "no NMR", "", "", "", "")
            continue
        tb = r.table
        cols = {"PHIE": tb["PHIE"], "BVI": tb["BVI"], "FFI": tb["FFI"], "T2LM": tb["T2LM"],
                "PERM": tb["PERM"], "LOG10_PERM": tb["LOG10_PERM"],
                "VALID": tb["VALID"].astype(float),
                "PERM_CLIP": tb["FLAG"].map({"clipped to min_perm": -1.0,
                                             "clipped to max_perm": 1.0}).fillna(0.0)}
        units = {"PHIE": "V/V", "BVI": "V/V", "FFI": "V/V", "T2LM": "MS", "PERM": "MD",
                 "LOG10_PERM": "LOG10(MD)", "VALID": "", "PERM_CLIP": ""}
        for v in ("KTIM", "KSDR"):
            if v in tb:
                cols[v], units[v] = tb[v], "MD"
        p = cfg.targets
        params = {"TCUT": (f"{p.cutoff_ms:g}", "MS", "T2 cutoff"),
                  "CBWCUT": (f"{p.clay_cutoff_ms:g}", "MS", "Clay-bound cutoff"),
                  "PERMMOD": (p.permeability, "", "Permeability model"),
                  "COATESC": (f"{p.coates_c:g}", "", "Timur-Coates C (phi in p.u.)"),
                  "PHITYPE": (p.porosity, "", "Porosity used"), "BVISRC": (p.bvi, "", "BVI source")}
        path = out / f"{safe_name(r.name)}_targets.las"
        desc = {"PHIE": "NMR effective porosity (target)", "PERM": f"{p.permeability} permeability (target)",
                "VALID": "1 = valid target sample",
                "PERM_CLIP": "-1/+1 = permeability clipped to min_perm/max_perm"}
        write_las(path, tb["DEPT"].to_numpy(), {k: np.asarray(v, float) for k, v in cols.items()},
                  units=units, descriptions=desc, well=r.summary.get("header", {}),
                  params=params, fmt="%.6g")
        rep = r.target_report
        t.add_row(r.name, rep["source"], "\n".join(rep["notes"]), f"{rep['valid']}/{rep['n']}",
                  ", ".join(f"{k}: {v}" for k, v in {**rep["masked"], **rep["clipped"]}.items()),
                  str(path))
    console.print(t)
    return status


def cmd_features(args) -> int:
    cfg = _cfg_for(args, args.data_dir)
    results = _well_results(args, cfg, with_targets=not args.no_targets)
    tables = [r.table for r in results if r.table is not None]
    status = _report_failures(results)
    if not tables:
        return 1
    table = pd.concat(tables, ignore_index=True, sort=False)
    from petro.io.tables import write_table

    fmt = write_table(table, args.output, args.format)
    console.print(f"{len(table)} rows x {table.shape[1]} columns from {len(tables)} wells -> "
                  f"{args.output} ({fmt})")
    return status


def _print_metrics(entries) -> None:
    """Pooled blind-well metric of each model beside its ablation and baselines."""
    order = ["model", "logs_only"]
    for e in entries:
        order += [k for k in e["metrics"] if k not in order and k not in ("petrophysical",
                                                                          "train_mean")]
    order += ["petrophysical", "train_mean"]
    label = {"model": "petro", "logs_only": "logs only", "train_mean": "train mean",
             "random_forest": "random forest", "hist_gbm": "hist GBM", "ridge": "ridge (logs)"}
    t = Table(title="blind-well validation (pooled over left-out wells)")
    for c in ["model", "metric"] + [label.get(k, k) for k in order] + \
            ["P10-P90 cover", "in domain", "version", "alias"]:
        t.add_column(c)
    for e in entries:
        m = e["metrics"]
        key = "rmse_pu" if "rmse_pu" in m["model"] else "rmse_dec"
        unit = "p.u." if key == "rmse_pu" else "decades"
        t.add_row(e["model"], f"RMSE ({unit})",
                  *[f"{m[k][key]:.3f}" if k in m else "-" for k in order],
                  f"{m['model'].get('coverage_p10_p90', float('nan')):.3f}",
                  f"{m['model'].get('in_domain_rate', float('nan')):.3f}",
                  str(e.get("version") or "-"), str(e.get("alias") or "-"))
    console.print(t)
    for e in entries:
        m = e["metrics"]
        key = "rmse_pu" if "rmse_pu" in m["model"] else "rmse_dec"
        others = {k: v[key] for k, v in m.items() if k not in ("model", "logs_only") and key in v}
        best = min(others, key=others.get)
        d = others[best] - m["model"][key]
        console.print(f"  {e['model']}: blind RMSE {m['model'][key]:.3f} vs best baseline "
                      f"{label.get(best, best)} {others[best]:.3f} ({d:+.3f}, "
                      f"{100 * d / others[best]:+.0f} %); images vs logs only: "
                      f"{m['logs_only'][key] - m['model'][key]:+.3f}" if "logs_only" in m else "")
    for e in entries:
        if e.get("reason"):
            console.print(f"  {e['registered']} v{e['version']}: {e['alias']} ({e['reason']})")


def run_pipeline(cfg, uri=None) -> tuple[int, list[dict]]:
    from petro.pipeline import ensure_data, process_wells, train_models
    from petro.io.discovery import discover
    from petro.tracking import log_training

    t0 = time.time()
    data = ensure_data(cfg)
    groups = discover(data)
    if not groups:
        raise PetroError(f"{data}: no well files found")
    with progress_bar("wells", len(groups)) as step:
        wells = process_wells(groups, cfg, progress=step)
    status = _report_failures(wells)
    n_folds = sum(1 for w in wells if w.target_report) * len(cfg.models)
    with progress_bar("blind-well folds", n_folds) as step:
        result = train_models(cfg, wells, progress=step)
    with progress_bar("MLflow", len(result.models)) as step:
        entries = log_training(result, uri=uri, progress=step)
    _print_metrics(entries)
    console.print(f"pipeline {cfg.name}: {len(wells)} wells, {time.time() - t0:.1f} s")
    return status, entries


def cmd_run(args) -> int:
    from petro.config import load_config

    cfg = load_config(args.pipeline, data=args.data)
    if args.jobs:
        cfg.n_jobs = args.jobs
    status, _ = run_pipeline(cfg, args.tracking_uri)
    return status


def cmd_demo(args) -> int:
    from petro.config import load_config
    from petro.tracking import resolve_uri

    t0 = time.time()
    pipeline = Path(args.pipeline)
    cfg = load_config(pipeline, data=str(Path(args.workdir) / "field"))
    if args.wells:
        cfg.synthetic = dict(cfg.synthetic or {}, wells=args.wells)
    status, entries = run_pipeline(cfg, args.tracking_uri)
    uri = resolve_uri(args.tracking_uri)
    names = [e["registered"] for e in entries if e.get("registered")]
    console.print(f"\n[bold]demo finished in {time.time() - t0:.0f} s[/bold]; MLflow store: {uri}")
    console.print("Serve a model (from this folder):")
    for n in names:
        console.print(f"  MLFLOW_TRACKING_URI={uri} mlflow models serve -m \"models:/{n}@champion\" "
                      f"--env-manager local --port 5000")
    no_nmr = [w for w in sorted(Path(cfg.data).iterdir()) if w.is_dir() and not any(w.glob("*_cmr.las"))]
    console.print("Predict logs as LAS for the wells without NMR:")
    console.print(f"  petro predict {cfg.data} -o {Path(args.workdir) / 'predicted'}"
                  + (f"   # {', '.join(w.name for w in no_nmr)} have no NMR" if no_nmr else ""))
    console.print("Open the MLflow UI:")
    console.print(f"  mlflow ui --backend-store-uri {uri}")
    return status


def predict_well_table(models, table: pd.DataFrame) -> pd.DataFrame:
    """Predictions of several loaded models on one well's feature table; NULL (NaN) where fewer
    than MIN_INPUT_FRACTION of a model's inputs are present."""
    from petro.serving import predict_frame

    outs = []
    novelty = []
    for m in models:
        feats = m.metadata.get_input_schema().input_names()
        present = table.reindex(columns=feats).notna().mean(axis=1).to_numpy()
        pred = predict_frame(m, table.reindex(columns=[c for c in feats if c in table.columns]))
        pred = pred.reset_index(drop=True)
        lacking = present < MIN_INPUT_FRACTION
        pred.loc[lacking, :] = np.nan
        novelty.append(pred.pop("NOVELTY"))
        pred.pop("OOD_FLAG")
        outs.append(pred)
    out = pd.concat(outs, axis=1)
    nov = pd.concat(novelty, axis=1).max(axis=1, skipna=False)
    out["NOVELTY"] = nov
    out["OOD_FLAG"] = np.where(nov.notna(), (nov > 1.0).astype(float), np.nan)
    return out


def cmd_predict(args) -> int:
    from petro.io.las_writer import write_las
    from petro.serving import load_model
    from petro.tracking import setup

    setup(args.tracking_uri)
    uris = args.model or list(DEFAULT_MODELS)
    models = [load_model(u) for u in uris]
    cfg = _cfg_for(args, args.data_dir)
    results = _well_results(args, cfg, with_targets=False)
    status = _report_failures(results)
    out = Path(args.out_dir)
    t = Table(title="predicted wells")
    for c in ("well", "rows", "predicted", "out of domain", "file"):
        t.add_column(c)
    for r in results:
        if r.table is None:
            continue
        try:
            pred = predict_well_table(models, r.table)
        except PetroError as err:
            err_console.print(f"[red]error[/red] well {r.name}: {err}")
            status = 1
            continue
        if pred["NOVELTY"].isna().all():
            err_console.print(f"[red]error[/red] well {r.name}: no depth has {MIN_INPUT_FRACTION:.0%} "
                              f"of the model's inputs (curves found: "
                              f"{', '.join(r.summary.get('curves', [])) or 'none'}); nothing written")
            status = 1
            continue
        units, desc = {}, {}
        for col in pred.columns:
            units[col] = "MD" if col.startswith("PERM") else ("V/V" if col.startswith("PHIE") else "")
        desc.update({"NOVELTY": "Distance to training wells / threshold (>1 out of domain)",
                     "OOD_FLAG": "1 = inputs unlike the training wells"})
        header = {k: v for k, v in r.summary.get("header", {}).items()
                  if k not in ("STRT", "STOP", "STEP", "NULL")}
        path = out / f"{safe_name(r.name)}_petro.las"
        params = {f"MODEL{i + 1}": (u, "", "petro model URI") for i, u in enumerate(uris)}
        write_las(path, r.table["DEPT"].to_numpy(), {c: pred[c].to_numpy(float) for c in pred},
                  units=units, descriptions=desc, well=header, params=params, fmt="%.6g")
        ok = pred["NOVELTY"].notna()
        ood = int((pred["OOD_FLAG"] == 1).sum())
        frac = ood / max(1, int(ok.sum()))
        t.add_row(r.name, str(len(pred)), str(int(ok.sum())), f"{ood} ({frac:.0%})", str(path))
        if frac > 0.5:
            err_console.print(f"[yellow]warning[/yellow] well {r.name}: {frac:.0%} of its depths are "
                              f"out of the training domain; treat its predictions as extrapolation")
    console.print(t)
    return status


def cmd_models(args) -> int:
    from petro.tracking import list_models, promote

    if args.models_cmd == "promote":
        promote(args.name, args.version, args.alias, args.tracking_uri)
        console.print(f"{args.name} v{args.version} -> {args.alias}")
        return 0
    rows = list_models(args.tracking_uri)
    t = Table(title="registered petro models")
    for c in ("name", "version", "aliases", "blind metric", "value", "P10-P90 cover", "reason"):
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(r["name"], str(r["version"]), r["aliases"], r["metric"],
                  "" if r["value"] is None else f"{r['value']:.4f}",
                  "" if r["coverage"] is None else f"{r['coverage']:.3f}", r["reason"])
    console.print(t)
    return 0


# ------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="petro", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("synth", help="write a synthetic carbonate field as LAS files")
    s.add_argument("out_dir")
    s.add_argument("--wells", type=int, default=8)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--thickness", type=float, default=40.0, help="logged interval per well, m")
    s.add_argument("--nmr-fraction", type=float, default=0.75, help="share of wells with NMR")
    s.set_defaults(func=cmd_synth)

    def data_cmd(name, help_, func):
        c = sub.add_parser(name, help=help_)
        c.add_argument("data_dir")
        c.add_argument("--pipeline", help="pipeline YAML for ingest/targets/features settings")
        c.add_argument("--jobs", type=int, default=2, help="worker processes")
        c.add_argument("--cache-dir", default="petro-cache",
                       help="cache of parsed files (Parquet/npy), reused while files are unchanged")
        c.add_argument("--no-cache", action="store_true", help="parse every file again")
        c.set_defaults(func=func)
        return c

    data_cmd("ingest", "read a folder of well files and report what was found", cmd_ingest)
    c = data_cmd("targets", "compute NMR targets and write them as LAS", cmd_targets)
    c.add_argument("-o", "--out-dir", required=True)
    c.add_argument("--lithology", choices=["carbonate", "clastic", "sandstone"])
    c.add_argument("--cutoff", type=float, help="T2 cutoff, ms")
    c.add_argument("--coates-c", type=float)
    c.add_argument("--porosity", choices=["effective", "total"])
    c.add_argument("--bvi", choices=["auto", "curve", "total_minus_ffi", "effective_minus_ffi", "t2"])
    c.add_argument("--source", choices=["auto", "curves", "t2"])
    c.add_argument("--permeability", choices=["timur_coates", "sdr"])
    c = data_cmd("features", "export the model-ready feature table", cmd_features)
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--format", choices=["parquet", "csv", "json"], help="default: from the suffix")
    c.add_argument("--no-targets", action="store_true", help="features only")

    r = sub.add_parser("run", help="run a pipeline YAML (train, validate, log, register)")
    r.add_argument("pipeline")
    r.add_argument("--data", help="override the pipeline's data folder")
    r.add_argument("--jobs", type=int)
    r.add_argument("--tracking-uri")
    r.set_defaults(func=cmd_run)

    d = sub.add_parser("demo", help="synthetic field -> demo pipeline -> registered models")
    d.add_argument("--workdir", default="petro-demo")
    d.add_argument("--pipeline", default=str(Path("pipelines") / "demo.yaml"))
    d.add_argument("--wells", type=int)
    d.add_argument("--tracking-uri")
    d.set_defaults(func=cmd_demo)

    c = data_cmd("predict", "predict porosity / permeability logs as LAS", cmd_predict)
    c.add_argument("--model", action="append", help=f"model URI (repeatable; default: {', '.join(DEFAULT_MODELS)})")
    c.add_argument("-o", "--out-dir", required=True)
    c.add_argument("--tracking-uri")

    m = sub.add_parser("models", help="registered models")
    ms = m.add_subparsers(dest="models_cmd", required=True)
    ml = ms.add_parser("list")
    ml.add_argument("--tracking-uri")
    mp = ms.add_parser("promote")
    mp.add_argument("name")
    mp.add_argument("version")
    mp.add_argument("--alias", default="champion")
    mp.add_argument("--tracking-uri")
    m.set_defaults(func=cmd_models)
    return p


def _quiet_libraries() -> None:
    """MLflow's informational warnings (type hints, dataset source guesses) are not the user's
    concern; petro reports what matters itself."""
    import logging
    import warnings

    for category in (UserWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=r"mlflow(\..*)?")
        warnings.filterwarnings("ignore", category=category, message=r".*(type hint|dataset source)")
    logging.getLogger("mlflow").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    try:
        return int(args.func(args) or 0)
    except PetroError as err:
        err_console.print(f"[red]petro error:[/red] {err}")
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
