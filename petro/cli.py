"""Command line: ``petro synth | init | ingest | targets | features | run | demo | predict | models``.

The command line parses, configures (flag > pipeline YAML > default; every flag defaults to None),
calls :mod:`petro.api` and renders tables. Exit codes: 0 all good; 1 some wells or files failed
(the others were processed, or the work stopped on a fault after part of it was done: a lost
Dask scheduler, a full disk); 2 bad usage, configuration or model (nothing done).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from petro.errors import PetroError
from petro.render import Events, console, err_console, print_metrics, table as _table


def _settings(args) -> dict:
    """The run-settings flags, as the keywords every verb of :mod:`petro.api` takes (None: not
    given, the pipeline, the model's recipe or the default stands)."""
    return {"n_jobs": getattr(args, "jobs", None), "scheduler": getattr(args, "scheduler", None),
            "cache_dir": "" if getattr(args, "no_cache", False) else getattr(args, "cache_dir", None)}


def cmd_synth(args) -> int:
    from petro.synth import SynthConfig, write_field

    cfg = SynthConfig(wells=args.wells, seed=args.seed, thickness=args.thickness,
                      nmr_fraction=args.nmr_fraction)
    summaries = write_field(args.out_dir, cfg)
    _table(f"synthetic field in {args.out_dir}", ("well", "NMR", "files"),
           [(s["well"], "yes" if s["nmr"] else "no", ", ".join(s["files"])) for s in summaries])
    return 0


def cmd_init(args) -> int:
    from petro.app.init import init_project

    written = init_project(args.dir, force=args.force)
    console.print("wrote " + ", ".join(map(str, written)))
    console.print(f"edit {Path(args.dir) / 'pipeline.yaml'} (data folder, settings), then: "
                  f"petro run {Path(args.dir) / 'pipeline.yaml'}")
    return 0


def cmd_ingest(args) -> int:
    from petro.api import ingest

    with Events() as ev:
        results = ingest(args.data_dir, pipeline=args.pipeline, on_event=ev, **_settings(args))
    rows = []
    for r in results:
        s = r.summary
        if r.error:
            rows.append((r.name, len(r.files), "", "", "", "", "", f"[red]{r.error}[/red]"))
            continue
        origin = [f"{c}<-{o}" if o != c else c for c, o in s["origin"].items()]
        rows.append((r.name, s["files"], f"{s['top']:.2f} - {s['base']:.2f}", f"{s['step']:.4f}",
                     ", ".join(origin[:14]) + (" ..." if len(origin) > 14 else ""),
                     "\n".join(f"{k}: {v}" for k, v in s["images"].items()),
                     "yes" if s["nmr"] else "no", "\n".join(str(p) for p in r.problems[:6])))
    _table(f"wells in {args.data_dir}", ("well", "files", "depth (m)", "step (m)", "curves",
                                         "images", "NMR", "problems"), rows)
    return ev.status


def cmd_targets(args) -> int:
    from petro.api import targets

    flags = ("lithology", "t2_cutoff_ms", "coates_c", "porosity", "perm_porosity", "bvi", "source",
             "permeability", "convention", "bvi_floor", "ffi")
    overrides = {f"targets.{k}": getattr(args, k) for k in flags if getattr(args, k) is not None}
    with Events() as ev:
        results = targets(args.data_dir, out_dir=args.out_dir, pipeline=args.pipeline,
                          on_event=ev, overrides=overrides, **_settings(args))
    from petro.targets.vendor import summary

    rows = []
    for r in results:
        if r.table is None:
            continue
        rep = r.target_report
        if rep is None:
            rows.append((r.name, "no NMR targets", "", "", "", "", ""))
            continue
        rows.append((r.name, rep["source"], "\n".join(rep["notes"]), f"{rep['valid']}/{rep['n']}",
                     ", ".join(f"{k}: {v}" for k, v in {**rep["masked"], **rep["clipped"]}.items()),
                     summary(rep), r.summary.get("targets_las", "")))
    _table("NMR targets", ("well", "source", "porosity units", "valid", "masked / clipped",
                           "vs vendor permeability", "file"), rows)
    return ev.status


def cmd_features(args) -> int:
    from petro.api import features

    with Events() as ev:
        table = features(args.data_dir, pipeline=args.pipeline, model=args.model,
                         with_targets=not args.no_targets, out=args.output, fmt=args.format,
                         tracking_uri=args.tracking_uri, on_event=ev, **_settings(args))
    console.print(f"{len(table)} rows x {table.shape[1]} columns from {table['WELL'].nunique()} "
                  f"wells -> {args.output}")
    return ev.status


def _train(pipeline, args, overrides=None) -> tuple[int, object]:
    from petro.api import train

    with Events() as ev:
        run = train(pipeline, data=getattr(args, "data", None), tracking_uri=args.tracking_uri,
                    on_event=ev, overrides=overrides, **_settings(args))
    print_metrics(run)
    console.print(f"pipeline {run.cfg.name}: {len(run.wells)} wells, {run.seconds:.1f} s")
    return max(ev.status, run.status), run


def cmd_run(args) -> int:
    return _train(args.pipeline, args)[0]


def cmd_demo(args) -> int:
    from petro.config import packaged

    t0 = time.time()
    work = Path(args.workdir)
    overrides = {"data": str(work / "field"), "ingest.cache_dir": str(work / "cache")}
    if args.wells:
        overrides["synthetic.wells"] = args.wells
    status, run = _train(args.pipeline or packaged("pipelines", "demo.yaml"), args, overrides)
    console.print(f"\n[bold]demo finished in {time.time() - t0:.0f} s[/bold]; MLflow store: "
                  f"{run.tracking_uri}")
    console.print("Serve a model (from this folder):")
    for e in run.models:
        if e.registered:
            console.print(f"  MLFLOW_TRACKING_URI={run.tracking_uri} mlflow models serve -m "
                          f"\"models:/{e.registered}@champion\" --env-manager local --port 5000")
    no_nmr = [w.name for w in run.wells if not w.has_targets]
    console.print("Predict logs as LAS for the wells without NMR:")
    console.print(f"  petro predict {run.cfg.data} -o {work / 'predicted'}"
                  + (f"   # {', '.join(no_nmr)} have no NMR" if no_nmr else ""))
    ui = run.tracking_uri if run.tracking_uri.startswith(("http://", "https://")) \
        else f"mlflow ui --backend-store-uri {run.tracking_uri}"
    console.print(f"Open the MLflow UI:\n  {ui}")
    return status


def cmd_predict(args) -> int:
    from petro.api import predict

    with Events() as ev:
        wells = predict(args.data_dir, models=args.model, out_dir=args.out_dir,
                        resume=not args.no_resume, pipeline=args.pipeline,
                        tracking_uri=args.tracking_uri, on_event=ev, **_settings(args))
    if wells:   # none when every well was skipped as unchanged (the note above says so)
        _table("predicted wells", ("well", "rows", "predicted", "out of domain", "file", "diagnosis"),
               [(w.name, w.n_rows, w.n_predicted, f"{w.n_ood} ({w.ood_fraction:.0%})", w.path,
                 w.diagnosis or "-")
                for w in wells])
    return ev.status


def cmd_models(args) -> int:
    from petro.tracking import list_models, promote

    if args.models_cmd == "promote":
        promote(args.name, args.version, args.alias, args.tracking_uri)
        console.print(f"{args.name} v{args.version} -> {args.alias}")
        return 0
    _table("registered petro models", ("name", "version", "aliases", "blind metric", "value",
                                       "P10-P90 cover", "reason"),
           [(r["name"], r["version"], r["aliases"], r["metric"],
             "" if r["value"] is None else f"{r['value']:.4f}",
             "" if r["coverage"] is None else f"{r['coverage']:.3f}", r["reason"])
            for r in list_models(args.tracking_uri)])
    return 0


TRACKING_HELP = ("MLflow store: a team server http://host:5000 or sqlite:///file.db (default: "
                 "MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="petro", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def cmd(name, help_, func, *, data=False, settings=False, tracking=False):
        c = sub.add_parser(name, help=help_)
        if data:
            c.add_argument("data_dir")
            c.add_argument("--pipeline", help="pipeline YAML (ingest/targets/features settings)")
        if settings:
            c.add_argument("--jobs", type=int, help="worker processes (default: pipeline, 2)")
            c.add_argument("--cache-dir", help="parsed-file cache (default: pipeline's "
                                               "ingest.cache_dir, else none)")
            c.add_argument("--no-cache", action="store_true", help="parse every file again")
            c.add_argument("--scheduler", help="Dask scheduler (tcp://host:8786), local-cluster "
                           "or processes (default: DASK_SCHEDULER_ADDRESS, else local processes)")
        if tracking:
            c.add_argument("--tracking-uri", help=TRACKING_HELP)
        c.set_defaults(func=func)
        return c

    s = cmd("synth", "write a synthetic carbonate field as LAS files", cmd_synth)
    s.add_argument("out_dir")
    s.add_argument("--wells", type=int, default=8)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--thickness", type=float, default=40.0, help="logged interval per well, m")
    s.add_argument("--nmr-fraction", type=float, default=0.75, help="share of wells with NMR")
    i = cmd("init", "write a starter pipeline and model specs to edit", cmd_init)
    i.add_argument("dir")
    i.add_argument("--force", action="store_true", help="overwrite existing files")
    cmd("ingest", "read a folder of well files and report what was found", cmd_ingest,
        data=True, settings=True)
    c = cmd("targets", "compute NMR targets and write them as LAS", cmd_targets, data=True,
            settings=True)
    c.add_argument("-o", "--out-dir", required=True)
    c.add_argument("--lithology", choices=["carbonate", "clastic", "sandstone"])
    c.add_argument("--cutoff", dest="t2_cutoff_ms", type=float, help="T2 cutoff, ms")
    c.add_argument("--coates-c", type=float)
    c.add_argument("--porosity", choices=["effective", "total"], help="the porosity target")
    c.add_argument("--perm-porosity", choices=["total", "effective"], help="phi in Timur-Coates/SDR")
    c.add_argument("--bvi", choices=["auto", "curve", "total_minus_ffi", "effective_minus_ffi", "t2"])
    c.add_argument("--source", choices=["auto", "curves", "t2"])
    c.add_argument("--permeability", choices=["timur_coates", "sdr"])
    c.add_argument("--convention", choices=["auto", "fixed"], help="BVI floor and FFI rule: auto "
                   "(read from the file's KTIM/MPERM where it has one) or fixed (the two below)")
    c.add_argument("--bvi-floor", type=float, help="BVI floor in Timur-Coates, v/v (0: none)")
    c.add_argument("--ffi", choices=["measured", "phi_minus_bvi"], help="FFI in Timur-Coates")
    c = cmd("features", "export the model-ready feature table", cmd_features, data=True,
            settings=True, tracking=True)
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--format", choices=["parquet", "csv", "json"], help="default: from the suffix")
    c.add_argument("--no-targets", action="store_true", help="features only")
    c.add_argument("--model", help="build exactly this model's inputs, by its recipe (a URI)")
    r = cmd("run", "run a pipeline YAML (train, validate, log, register)", cmd_run,
            settings=True, tracking=True)
    r.add_argument("pipeline")
    r.add_argument("--data", help="override the pipeline's data folder")
    d = cmd("demo", "synthetic field -> demo pipeline -> registered models", cmd_demo,
            settings=True, tracking=True)
    d.add_argument("--workdir", default="petro-demo")
    d.add_argument("--pipeline", help="default: the packaged demo pipeline")
    d.add_argument("--wells", type=int)
    c = cmd("predict", "predict porosity / permeability logs as LAS", cmd_predict, data=True,
            settings=True, tracking=True)
    c.add_argument("--model", action="append", help="model URI (repeatable; default: the "
                   "petro-porosity and petro-permeability champions)")
    c.add_argument("-o", "--out-dir", required=True)
    c.add_argument("--no-resume", action="store_true", help="predict every well again (default: "
                   "skip wells whose inputs and models are unchanged since the last run)")
    m = cmd("models", "registered models", cmd_models)
    ms = m.add_subparsers(dest="models_cmd", required=True)
    ml = ms.add_parser("list")
    ml.add_argument("--tracking-uri", help=TRACKING_HELP)
    mp = ms.add_parser("promote")
    mp.add_argument("name")
    mp.add_argument("version")
    mp.add_argument("--alias", default="champion")
    mp.add_argument("--tracking-uri", help=TRACKING_HELP)
    return p


MLFLOW_LEVEL = "MLFLOW_LOGGING_LEVEL"    # MLflow reads it when it is imported


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """For one command: MLflow's informational warnings (type hints, dataset source guesses)
    and its log lines below WARNING are not the user's concern (petro reports what matters
    itself). The command line's entry point is the one place that configures library logging:
    MLflow's level through its own setting (``MLFLOW_LOGGING_LEVEL``, read when MLflow is
    imported, in this process or a worker; a value the user set stands), or on its logger when
    it is imported already. Everything is restored when the command ends (``main`` may run in
    a longer-lived process: a test, a notebook)."""
    logger = logging.getLogger("mlflow")
    level, env = logger.level, os.environ.get(MLFLOW_LEVEL)
    with warnings.catch_warnings():
        for category in (UserWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category, module=r"mlflow(\..*)?")
            warnings.filterwarnings("ignore", category=category,
                                    message=r".*(type hint|dataset source)")
        imported = env is None and "mlflow" in sys.modules
        if env is None:
            os.environ[MLFLOW_LEVEL] = "WARNING"
        if imported:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            if env is None:
                os.environ.pop(MLFLOW_LEVEL, None)
            if imported:
                logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with quiet_libraries():
            return int(args.func(args) or 0)
    except PetroError as err:
        err_console.print(f"[red]petro error:[/red] {err}")
        return getattr(err, "exit_code", 2)   # 1: work had started (a lost scheduler, a full disk)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
