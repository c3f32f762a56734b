"""Command line: ``petro synth | init | ingest | targets | features | run | demo | predict | serve |
models``.

The command line parses, configures (flag > pipeline YAML > default; every flag defaults to None),
calls :mod:`petro.api` and renders tables. Exit codes: 0 all good; 1 some wells or files failed
(the others were processed, or the work stopped on a fault after part of it was done: a lost
Dask scheduler, a full disk); 2 bad usage, configuration or model (nothing done).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from petro.errors import ConfigError, PetroError
from petro.render import (Events, console, err_console, print_input_groups, print_metrics,
                          print_verdicts, table as _table)


def _settings(args, under: dict | None = None, over: dict | None = None) -> dict:
    """The run-settings flags and the ``--set`` settings (over ``under``, under ``over``: a
    command's own defaults and flags), as the keywords every verb of :mod:`petro.api` takes
    (None: not given, the pipeline, the model's recipe or the default stands)."""
    overrides = {**(under or {}), **_sets(getattr(args, "set", None) or []), **(over or {})}
    return {"n_jobs": getattr(args, "jobs", None), "scheduler": getattr(args, "scheduler", None),
            "cache_dir": "" if getattr(args, "no_cache", False) else getattr(args, "cache_dir", None),
            "overrides": overrides or None}


def _sets(items: list[str]) -> dict:
    """``--set KEY=VALUE`` items as dotted pipeline settings (``targets.lithology``: the
    ``lithology`` key of the ``targets:`` section; VALUE read as YAML: ``3``, ``0.5``, ``[0.15,
    0.5]``, ``clastic``), each checked as the pipeline YAML is checked (a ConfigError naming
    the item)."""
    import yaml

    from petro.config import load_config

    out = {}
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError(f"--set {item!r}: give KEY=VALUE with a pipeline key, e.g. "
                              f"--set targets.lithology=clastic")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {item}: the value is not YAML ({err})") from None
        try:                       # alone on the defaults: the message names this item
            load_config(None, overrides={key: value}, require_data=False)
        except ConfigError as err:
            raise ConfigError(f"--set {item}: {str(err).removeprefix('pipeline: ')}") from None
        out[key] = value
    return out


def cmd_synth(args) -> int:
    from petro.app.engine import process_pool
    from petro.config import DEFAULT_JOBS
    from petro.synth import SynthConfig, write_field

    given = {k: getattr(args, k) for k in ("image_source", "log_vug_visibility", "log_noise")
             if getattr(args, k) is not None}
    cfg = SynthConfig(wells=args.wells, seed=args.seed, thickness=args.thickness,
                      nmr_fraction=args.nmr_fraction, **given)
    summaries = write_field(args.out_dir, cfg, n_jobs=DEFAULT_JOBS, pool=process_pool())
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
    from petro.io.verdicts import verdict_rows

    with Events() as ev:
        results = ingest(args.data_dir, pipeline=args.pipeline, on_event=ev, **_settings(args))
    if args.json:   # machine-readable: everything, nothing cut
        print(json.dumps([{**r.summary, "well": r.name, "files": r.files,
                           "error": r.error.to_dict() if r.error else None,
                           "problems": [p.to_dict() for p in r.problems]} for r in results],
                         indent=1, default=str))
        return ev.status
    cut = None if args.long else 6
    rows = []
    for r in results:
        s = r.summary
        if r.error:
            rows.append((r.name, len(r.files), "", "", "", "", "", "", f"[red]{r.error}[/red]"))
            continue
        origin = [f"{c}<-{o}" if o != c else c for c, o in s["origin"].items()]
        rows.append((r.name, s["files"], f"{s['top']:.2f} - {s['base']:.2f}", f"{s['step']:.4f}",
                     _cut(origin, 14 if cut else None, ", "),
                     "\n".join(f"{k}:\n {v}" for k, v in s["images"].items()),
                     "yes" if s["nmr"] else "no",
                     _cut(verdict_rows(s.get("verdicts", []), everything=args.long), cut) or
                     "inputs used",
                     _cut([str(p) for p in r.problems], cut)))
    _table(f"wells in {args.data_dir}", ("well", "files", "depth (m)", "step (m)", "curves",
                                         "images", "NMR", "curve verdicts", "problems"), rows)
    if not args.long and any(len(r.problems) > 6 or len(r.summary.get("origin", {})) > 14
                             for r in results):
        console.print("lists cut: `petro ingest --long` shows them whole, `--json` as JSON")
    return ev.status


def _cut(items: list[str], n: int | None, sep: str = "\n") -> str:
    """Items joined for a table cell, the first ``n`` of them (all with None) and a count."""
    if n is None or len(items) <= n:
        return sep.join(items)
    return sep.join(items[:n]) + f"{sep}... {len(items) - n} more"


def cmd_targets(args) -> int:
    from petro.api import targets

    flags = ("lithology", "t2_cutoff_ms", "coates_c", "porosity", "perm_porosity", "bvi", "source",
             "permeability", "convention", "bvi_floor", "ffi")
    given = {f"targets.{k}": getattr(args, k) for k in flags if getattr(args, k) is not None}
    with Events() as ev:
        results = targets(args.data_dir, out_dir=args.out_dir, pipeline=args.pipeline,
                          on_event=ev, **_settings(args, over=given))
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
                    on_event=ev, **_settings(args, under=overrides))
    print_verdicts(run.wells)
    print_metrics(run)
    print_input_groups(run)
    console.print(f"pipeline {run.cfg.name}: {len(run.wells)} wells, {run.seconds:.1f} s")
    return max(ev.status, run.status), run


def cmd_run(args) -> int:
    return _train(args.pipeline, args)[0]


def cmd_demo(args) -> int:
    from petro.config import packaged

    t0 = time.time()
    work = Path(args.workdir).resolve()
    overrides = {"data": str(work / "field"), "ingest.cache_dir": str(work / "cache")}
    if args.wells:
        overrides["synthetic.wells"] = args.wells
    status, run = _train(args.pipeline or packaged("pipelines", "demo.yaml"), args, overrides)
    console.print(f"\n[bold]demo finished in {time.time() - t0:.0f} s[/bold]; MLflow store: "
                  f"{_absolute(run.tracking_uri)}")
    for line in _next_commands(run, work):
        console.print(line, highlight=False, soft_wrap=True)
    return status


def _absolute(uri: str) -> str:
    """A SQLite store's URI with an absolute path: it works from any folder."""
    from petro.tracking.staging import absolute_uri

    return absolute_uri(uri)


def _next_commands(run, work: Path) -> list[str]:
    """What to run after the demo (the README's "What you can do next"), every path absolute:
    the lines work from any folder."""
    uri = _absolute(run.tracking_uri)
    venv = Path(sys.executable).parent
    no_nmr = [w.name for w in run.wells if not w.has_targets]
    served = [e.registered for e in run.models if e.registered]
    data = Path(run.cfg.data)
    lines = ["What you can do next (absolute paths: from any folder):"]
    if (venv / "activate").is_file():
        lines.append(f"  source {venv / 'activate'}   # mlflow models serve needs uvicorn on PATH")
    lines.append(f"  export MLFLOW_TRACKING_URI={uri}")
    if served:
        lines.append(f"  mlflow models serve -m \"models:/{served[-1]}@champion\" "
                     f"--env-manager local --port 5000 &")
        if no_nmr:
            lines += [f"  petro features {data / no_nmr[0]} -o {work / 'rows.json'} --no-targets",
                      f"  curl -s -X POST localhost:5000/invocations -H 'Content-Type: "
                      f"application/json' -d @{work / 'rows.json'}"]
    lines.append(f"  petro predict {data} -o {work / 'predicted'}"
                 + (f"   # {', '.join(no_nmr)} have no NMR" if no_nmr else "")
                 + f"; pictures: {work / 'predicted' / 'index.html'}")
    lines.append("  " + (uri if uri.startswith(("http://", "https://"))
                         else f"mlflow ui --backend-store-uri {uri}"))
    return lines


def cmd_predict(args) -> int:
    from petro.api import predict

    with Events() as ev:
        wells = predict(args.data_dir, models=args.model, out_dir=args.out_dir,
                        resume=not args.no_resume, plots=not args.no_plots,
                        pipeline=args.pipeline,
                        tracking_uri=args.tracking_uri, on_event=ev, **_settings(args))
    if wells:   # none when every well was skipped as unchanged (the note above says so)
        _table("predicted wells", ("well", "rows", "predicted", "out of domain", "file", "diagnosis"),
               [(w.name, w.n_rows, w.n_predicted, f"{w.n_ood} ({w.ood_fraction:.0%})", w.path,
                 w.diagnosis or "-")
                for w in wells])
    index = Path(args.out_dir).resolve() / "index.html"
    if not args.no_plots and index.is_file():
        console.print(f"pictures of the wells: {index}")
    return ev.status


def cmd_serve(args) -> int:
    from petro.api import serve

    serve(args.model, host=args.host, port=args.port, max_body_mb=args.max_body_mb,
          tracking_uri=args.tracking_uri)
    return 0


def cmd_models(args) -> int:
    from petro.tracking import list_models, log_pending, promote

    if args.models_cmd == "log-pending":
        entries = log_pending(args.folder, uri=args.tracking_uri)
        _table(f"logged from {args.folder}", ("model", "registered", "version", "alias", "reason"),
               [(e["model"], e["registered"] or "-", e["version"] or "-", e["alias"] or "-",
                 e["reason"] or "") for e in entries])
        return 0
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


def _target_flags(c: argparse.ArgumentParser) -> None:
    """`petro targets`' output folder and the target settings as flags."""
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


def _models_commands(m: argparse.ArgumentParser) -> None:
    """`petro models list | promote | log-pending`."""
    ms = m.add_subparsers(dest="models_cmd", required=True)
    ml = ms.add_parser("list")
    ml.add_argument("--tracking-uri", help=TRACKING_HELP)
    mp = ms.add_parser("promote")
    mp.add_argument("name")
    mp.add_argument("version")
    mp.add_argument("--alias", default="champion")
    mp.add_argument("--tracking-uri", help=TRACKING_HELP)
    lp = ms.add_parser("log-pending", help="log trained models a failed or interrupted run kept "
                       "(./petro-pending/...), from where it stopped")
    lp.add_argument("folder")
    lp.add_argument("--tracking-uri", help="default: the store the run was logging to")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="petro", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def cmd(name, help_, func, *, data=False, settings=False, tracking=False, pipeline=False):
        c = sub.add_parser(name, help=help_)
        if data:
            c.add_argument("data_dir")
            c.add_argument("--pipeline", help="pipeline YAML (ingest/targets/features settings)")
        if data or pipeline:
            c.add_argument("--set", action="append", metavar="KEY=VALUE", help="a pipeline "
                           "setting over the YAML (repeatable; VALUE as in YAML), e.g. --set "
                           "targets.lithology=clastic --set features.windows_m=[0.15,0.5]")
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
    s.add_argument("--image-source", choices=["rock", "logs"],
                   help="images of the rock (default) or rendered from the recorded logs: images "
                        "that carry nothing beyond the logs")
    s.add_argument("--log-vug-visibility", type=float, metavar="SHARE",
                   help="share (0-1) of the vug porosity the density, neutron, sonic and "
                        "resistivity read (default 1; 0: only the images and the NMR see vugs)")
    s.add_argument("--log-noise", type=float, metavar="FACTOR",
                   help="multiplier of the conventional logs' noise (default 1: density "
                        "+/-0.012 g/cc; 1.7: +/-0.02 g/cc, a noisier tool string)")
    i = cmd("init", "write a starter pipeline and model specs to edit", cmd_init)
    i.add_argument("dir")
    i.add_argument("--force", action="store_true", help="overwrite existing files")
    c = cmd("ingest", "read a folder of well files and report what was found", cmd_ingest,
            data=True, settings=True)
    c.add_argument("--long", action="store_true", help="every curve, verdict and problem, uncut")
    c.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    c = cmd("targets", "compute NMR targets and write them as LAS", cmd_targets, data=True,
            settings=True)
    _target_flags(c)
    c = cmd("features", "export the model-ready feature table", cmd_features, data=True,
            settings=True, tracking=True)
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--format", choices=["parquet", "csv", "json"], help="default: from the suffix")
    c.add_argument("--no-targets", action="store_true", help="features only")
    c.add_argument("--model", help="build exactly this model's inputs, by its recipe (a URI)")
    r = cmd("run", "run a pipeline YAML (train, validate, log, register)", cmd_run,
            settings=True, tracking=True, pipeline=True)
    r.add_argument("pipeline")
    r.add_argument("--data", help="override the pipeline's data folder")
    d = cmd("demo", "synthetic field -> demo pipeline -> registered models", cmd_demo,
            settings=True, tracking=True, pipeline=True)
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
    c.add_argument("--no-plots", action="store_true", help="no depth-track picture per well "
                   "(OUT/plots/) and no OUT/index.html")
    c = cmd("serve", "serve a model over HTTP (MLflow's scoring app behind petro's request "
            "checks)", cmd_serve, tracking=True)
    c.add_argument("-m", "--model", required=True,
                   help="model URI, e.g. models:/petro-permeability@champion")
    c.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    c.add_argument("--port", type=int, default=5000)
    c.add_argument("--max-body-mb", type=float, help="largest request body in MB (default 64); "
                   "larger ones get HTTP 413")
    m = cmd("models", "registered models", cmd_models)
    _models_commands(m)
    return p


def main(argv: list[str] | None = None) -> int:
    from petro.tracking import quiet_mlflow_logging

    args = build_parser().parse_args(argv)
    try:
        with quiet_mlflow_logging():   # the entry point configures MLflow's logging, not petro
            return int(args.func(args) or 0)
    except PetroError as err:
        err_console.print(f"[red]petro error:[/red] {err}")
        return err.exit_code
    except KeyboardInterrupt as err:
        err_console.print(f"interrupted: {err}" if str(err) else "interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
