"""Per-well work at scale: serial vs a local process pool vs a Dask LocalCluster of 1 and 2 workers.

A synthetic field of ``--wells`` short wells (petro.synth, written into a temporary folder) is
run through:

- ingest + targets + features (``petro.app.wells.process_wells``, no feature cache: every well
  is computed), and
- batch prediction (``petro.app.batch.predict_batch``: one task per well on the engine: read,
  features, the models applied, LAS + Parquet written) with a small model trained once on a few
  wells of the field (few trees, no tuning) into a temporary SQLite MLflow store.

Each configuration reports wells per minute (of the work itself: from the moment the engine is
up to the last result; a LocalCluster's start-up is reported separately). On the Dask runs the
benchmark starts the LocalCluster itself (as an external cluster would be), prints its dashboard
link, and reads each worker's peak resident memory (``VmHWM``, reset before each run) and its
resident memory before the run; the peak is reported as a multiple of the largest well's arrays
(curves + images + T2 bins, as loaded), both whole and above the worker's idle baseline (a Python
process with petro, numpy, pandas, LightGBM and Dask imported, warmed up by processing the
smallest well once as a task, in the thread that runs tasks: ``warm_workers``).

It also prints a projection for 5,000 image-logged wells on a 32-worker cluster from the
measured per-well cost per MB of well files (assumptions printed with it).

The LocalClusters are started as petro starts one (``petro.app.engine.local_cluster``: one
thread per worker, Dask's ``MALLOC_TRIM_THRESHOLD_`` unset; ``--dask-default-malloc`` adds a run
with Dask's default for comparison). Each configuration runs ``--repeat`` times and keeps the
fastest (the machine is shared); the load average is printed with every run.

Run: python benchmarks/bench_scale.py [--wells 64] [--thickness 10] [--repeat 2]
         [--skip-pool] [--dask-default-malloc] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return 0


def worker_idle(name=None, files=None, cfg=None) -> int:
    """On a worker: warm up (imports, and one well processed when given, so lazily imported
    modules and the allocator's pools are in place), then reset the peak-RSS mark; the
    resident memory then (bytes)."""
    import petro.app.predict  # noqa: F401
    from petro.app.wells import process_well

    if name is not None:
        process_well(name, files, cfg)
    try:
        Path("/proc/self/clear_refs").write_text("5")     # resets VmHWM (Linux)
    except OSError:
        pass
    return _status("VmRSS")


def warm_workers(client, warm: tuple) -> dict:
    """Warm every worker up with a task (the smallest well processed in the thread that runs
    tasks: its allocator arena is then in use, as in a worker that has run a task before; a
    warm-up through ``client.run`` runs in the event-loop thread and leaves the task thread's
    arena cold, which put ~25 MB of first-use arena growth into the 60 m well's peak), then
    reset the peak marks; each worker's resident memory then (bytes)."""
    from petro.app.wells import process_well

    if warm:
        futs = [client.submit(process_well, *warm, workers=[w], pure=False,
                              allow_other_workers=False)
                for w in client.scheduler_info()["workers"]]
        client.gather(futs)
        del futs
    return client.run(worker_idle)


def worker_peak() -> int:
    return _status("VmHWM")


def largest_well_bytes(groups: dict, cfg) -> tuple[str, int, int]:
    """(well, bytes of its arrays as loaded, bytes of its files) of the well with the most file
    bytes."""
    from petro.io.wells import load_well

    name, files = max(groups.items(), key=lambda kv: sum(Path(f).stat().st_size for f in kv[1]))
    well = load_well(name, files, cfg.ingest)
    n = int(well.curves.memory_usage(deep=True).sum())
    n += sum(int(im.values.nbytes) + int(im.depth.nbytes) for im in well.images.values())
    if well.t2_bins is not None:
        n += int(well.t2_bins.amplitudes.nbytes)
    return name, n, sum(Path(f).stat().st_size for f in files)


class Clock:
    """Times from the engine's 'per-well work on ...' note to the end of the call."""

    def __init__(self, verbose: bool):
        self.t_up = None
        self.where = ""
        self.verbose = verbose

    def __call__(self, e) -> None:
        if e.kind == "note" and e.message.startswith("per-well work on") and self.t_up is None:
            self.t_up = time.perf_counter()
            self.where = e.message
            if self.verbose:
                print(f"  {e.message}", file=sys.stderr)


def run_config(label: str, fn, engine_opts, n_jobs: int, client, n_wells: int,
               warm: tuple = (), repeat: int = 1) -> dict:
    """The best of ``repeat`` runs (the machine is shared: the fastest run is the least
    disturbed one); memory: the highest peak of any run."""
    best = None
    for _ in range(repeat):
        clock = Clock(verbose=best is None)
        idle = warm_workers(client, warm) if client is not None else {}
        t0 = time.perf_counter()
        fn(engine_opts, n_jobs, clock)
        t1 = time.perf_counter()
        work = t1 - (clock.t_up or t0)
        row = {"config": label, "where": clock.where, "wells": n_wells,
               "seconds": round(t1 - t0, 2), "work_seconds": round(work, 2),
               "wells_per_min": round(n_wells / work * 60, 1), "load_avg": os.getloadavg()[0]}
        if client is not None:
            peak = client.run(worker_peak)
            row["worker_idle_rss"] = max(idle.values())
            row["worker_peak_rss"] = max(peak.values())
            row["worker_peak_above_idle"] = max(peak[w] - idle.get(w, 0) for w in peak)
        print(f"  {label}: {row['wells_per_min']:.1f} wells/min ({work:.1f} s of work, "
              f"{t1 - t0:.1f} s in all; load {row['load_avg']:.2f})", file=sys.stderr)
        if best is not None:
            for k in ("worker_peak_rss", "worker_peak_above_idle"):
                if k in row:
                    row[k] = max(row[k], best[k])
        if best is None or row["work_seconds"] < best["work_seconds"]:
            best = {**(best or {}), **row}
        else:
            best.update({k: row[k] for k in ("worker_peak_rss", "worker_peak_above_idle")
                         if k in row})
    best["runs"] = repeat
    return best


def train_small(field: Path, tmp: Path, n_train: int) -> tuple[str, list[str]]:
    """A small porosity + permeability model on ``n_train`` NMR wells: model URIs."""
    from petro.app.training import run
    from petro.config import load_config, packaged

    train_dir = tmp / "train"
    train_dir.mkdir()
    nmr = sorted(p for p in field.iterdir() if p.is_dir())[:n_train]   # the first wells have NMR
    for w in nmr:
        (train_dir / w.name).symlink_to(w)
    cfg = load_config(packaged("pipelines", "demo.yaml"),
                      overrides={"data": str(train_dir), "synthetic": None,
                                 "ingest.cache_dir": "", "n_jobs": 2,
                                 "tracking.experiment": "bench-scale"})
    specs = [replace(s, params={**s.params, "n_estimators": 60}, tuning={}, baselines=[],
                     pca_components=2) for s in cfg.specs]
    cfg = replace(cfg, specs=specs)
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    t0 = time.perf_counter()
    res = run(cfg, tracking_uri=uri)
    print(f"trained {len(res.models)} small models on {len(nmr)} wells in "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return uri, [m.model_uri for m in res.models]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wells", type=int, default=64)
    ap.add_argument("--thickness", type=float, default=10.0, help="m of log per well")
    ap.add_argument("--workers", default="1,2", help="LocalCluster sizes to measure")
    ap.add_argument("--train-wells", type=int, default=6)
    ap.add_argument("--big-thickness", type=float, default=60.0,
                    help="m of one larger well whose worker memory is measured alone (0: skip)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per configuration (best kept)")
    ap.add_argument("--dask-default-malloc", action="store_true",
                    help="also run ingest on 2 workers with Dask's own MALLOC_TRIM_THRESHOLD_ "
                         "(what petro.app.engine.local_cluster unsets), for comparison")
    ap.add_argument("--skip-predict", action="store_true")
    ap.add_argument("--skip-pool", action="store_true",
                    help="leave out the local process pool (serial and LocalClusters only)")
    ap.add_argument("--real-well-mb", type=float, default=300.0,
                    help="file size of a real image-logged well, for the projection")
    ap.add_argument("--target-wells", type=int, default=5000)
    ap.add_argument("--target-workers", type=int, default=32)
    ap.add_argument("--json", help="write the figures here (a 'table' list for perf_table.py)")
    ap.add_argument("--keep", help="write the field here and keep it (default: a temp folder)")
    args = ap.parse_args(argv)

    from distributed import Client, LocalCluster

    from petro.app.engine import local_cluster
    from petro.app.batch import predict_batch
    from petro.app.predict import load_models
    from petro.app.wells import process_wells
    from petro.config import EngineOptions, load_config
    from petro.io.discovery import discover
    from petro.app.engine import process_pool
    from petro.synth import SynthConfig, write_field

    load0 = os.getloadavg()
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="petro-bench-scale-"))
    field = tmp / "field"
    t0 = time.perf_counter()
    write_field(field, SynthConfig(wells=args.wells, seed=5, thickness=args.thickness,
                                   nmr_fraction=0.75), n_jobs=2, pool=process_pool())
    groups = discover(field)
    files_mb = sum(Path(f).stat().st_size for fs in groups.values() for f in fs) / 2 ** 20
    base = load_config(None, require_data=False, overrides={"n_jobs": 1})
    big_name, big_bytes, big_file = largest_well_bytes(groups, base)
    print(f"field: {len(groups)} wells of {args.thickness:g} m, {files_mb:.0f} MB of LAS "
          f"({files_mb / len(groups):.1f} MB/well), written in {time.perf_counter() - t0:.0f} s; "
          f"largest well {big_name}: {big_bytes / 2 ** 20:.1f} MB of arrays, "
          f"{big_file / 2 ** 20:.1f} MB of files", file=sys.stderr)
    small = min(groups, key=lambda n: sum(Path(f).stat().st_size for f in groups[n]))
    warm = (small, [str(f) for f in groups[small]], base)
    worker_idle(*warm)                  # the serial run's process is warmed up the same way
    uris = []
    if not args.skip_predict:
        tracking_uri, uris = train_small(field, tmp, args.train_wells)
        models = load_models(uris, tracking_uri)

    def settings(opts, n_jobs):
        cfg = load_config(None, require_data=False, overrides={"n_jobs": n_jobs})
        cfg.engine = opts
        return cfg

    def ingest(opts, n_jobs, clock, wells=None):
        from petro.app.events import Reporter

        res = process_wells(wells or groups, settings(opts, n_jobs), reporter=Reporter(clock))
        bad = [r.name for r in res if r.error is not None]
        if bad or len(res) != len(wells or groups):
            raise SystemExit(f"wells failed: {bad}")

    def predict(opts, n_jobs, clock, wells=None):
        out = tmp / f"pred-{time.time_ns()}"
        wells = wells or groups
        res = predict_batch(models, wells, out, settings(opts, n_jobs), resume=False,
                            on_event=clock)
        if len(res.wells) != len(wells):
            raise SystemExit(f"predicted {len(res.wells)} of {len(wells)} wells: {res.failed}")
        shutil.rmtree(out, ignore_errors=True)

    rows = {"ingest": [], "predict": []}
    stages = [("ingest", ingest)] + ([] if args.skip_predict else [("predict", predict)])
    local = [("serial", EngineOptions(scheduler="processes"), 1)] + \
        ([] if args.skip_pool else [("process pool, 2 processes",
                                      EngineOptions(scheduler="processes"), 2)])
    for stage, fn in stages:
        print(f"{stage}:", file=sys.stderr)
        for label, opts, n in local:
            rows[stage].append(run_config(label, fn, opts, n, None, len(groups),
                                          repeat=args.repeat))
    starts = {}
    for k in [int(x) for x in args.workers.split(",") if x]:
        t0 = time.perf_counter()
        with local_cluster(k) as cluster, Client(cluster) as client:
            starts[k] = time.perf_counter() - t0
            print(f"LocalCluster of {k} workers up in {starts[k]:.1f} s; dashboard: "
                  f"{client.dashboard_link}", file=sys.stderr)
            opts = EngineOptions(scheduler=cluster.scheduler_address)
            for stage, fn in stages:
                print(f"{stage}:", file=sys.stderr)
                rows[stage].append(run_config(f"LocalCluster, {k} worker{'s' * (k > 1)}", fn,
                                              opts, k, client, len(groups), warm,
                                              args.repeat))
    big = None
    if args.big_thickness > 0:     # memory of one larger well, alone on one fresh worker
        bdir = tmp / "big"
        write_field(bdir, SynthConfig(wells=1, seed=6, thickness=args.big_thickness,
                                      nmr_fraction=1.0), n_jobs=1)
        bgroups = discover(bdir)
        bname, bbytes, bfile = largest_well_bytes(bgroups, base)
        with local_cluster(1) as cluster, Client(cluster) as client:
            r = run_config(f"one {args.big_thickness:g} m well",
                           lambda o, n, c: ingest(o, n, c, bgroups),
                           EngineOptions(scheduler=cluster.scheduler_address), 1, client, 1,
                           warm)
        big = {"thickness_m": args.big_thickness, "array_bytes": bbytes, "file_bytes": bfile,
               "worker_idle_rss": r["worker_idle_rss"], "worker_peak_rss": r["worker_peak_rss"],
               "worker_peak_above_idle": r["worker_peak_above_idle"]}
        print(f"one {args.big_thickness:g} m well: {bbytes / 2 ** 20:.0f} MB of arrays, worker "
              f"peak {r['worker_peak_rss'] / 2 ** 20:.0f} MB, "
              f"{r['worker_peak_above_idle'] / 2 ** 20:.0f} MB above idle", file=sys.stderr)
        if not args.skip_predict:   # the whole prediction task of that well, on a fresh worker
            with local_cluster(1) as cluster, Client(cluster) as client:
                r = run_config(f"one {args.big_thickness:g} m well, predict",
                               lambda o, n, c: predict(o, n, c, bgroups),
                               EngineOptions(scheduler=cluster.scheduler_address), 1, client,
                               1, warm)
            big["predict_worker_peak_above_idle"] = r["worker_peak_above_idle"]
            print(f"one {args.big_thickness:g} m well, predict: worker peak "
                  f"{r['worker_peak_rss'] / 2 ** 20:.0f} MB, "
                  f"{r['worker_peak_above_idle'] / 2 ** 20:.0f} MB above idle", file=sys.stderr)
    if args.dask_default_malloc:     # last: Dask's nanny leaks the variable into this process
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            print(f"LocalCluster with Dask's default MALLOC_TRIM_THRESHOLD_; dashboard: "
                  f"{client.dashboard_link}", file=sys.stderr)
            rows["ingest"].append(run_config(
                "LocalCluster, 2 workers, Dask's default MALLOC_TRIM_THRESHOLD_", ingest,
                EngineOptions(scheduler=cluster.scheduler_address), 2, client, len(groups),
                warm, args.repeat))
    load1 = os.getloadavg()

    def rate(stage, label):
        return next((r["wells_per_min"] for r in rows[stage] if r["config"] == label), None)

    table = []
    for stage in rows:
        for r in rows[stage]:
            table.append({"what": f"{stage}: {r['config']}", "value": r["wells_per_min"],
                          "unit": "wells/min", "target": "", "ok": None})
        one, two = rate(stage, "LocalCluster, 1 worker"), rate(stage, "LocalCluster, 2 workers")
        if one and two:
            table.append({"what": f"{stage}: speed-up, 2 vs 1 LocalCluster workers",
                          "value": round(two / one, 2), "unit": "x", "target": ">= 1.7",
                          "ok": two / one >= 1.7})
        ser = rate(stage, "serial")
        if ser and two:
            table.append({"what": f"{stage}: speed-up, 2 LocalCluster workers vs serial",
                          "value": round(two / ser, 2), "unit": "x", "target": "", "ok": None})
        dask_rows = [r for r in rows[stage] if "worker_peak_rss" in r]
        if dask_rows:
            peak = max(r["worker_peak_rss"] for r in dask_rows)
            above = max(r["worker_peak_above_idle"] for r in dask_rows)
            table.append({"what": f"{stage}: worker peak RSS / largest well's arrays",
                          "value": round(peak / big_bytes, 1), "unit": "x", "target": "<= 3",
                          "ok": peak / big_bytes <= 3})
            table.append({"what": f"{stage}: worker peak RSS above idle / largest well's arrays",
                          "value": round(above / big_bytes, 1), "unit": "x", "target": "<= 3",
                          "ok": above / big_bytes <= 3})

    if big:
        table.append({"what": f"one {args.big_thickness:g} m well "
                              f"({big['array_bytes'] / 2 ** 20:.0f} MB of arrays): worker peak "
                              f"RSS above idle / its arrays",
                      "value": round(big["worker_peak_above_idle"] / big["array_bytes"], 1),
                      "unit": "x", "target": "<= 3",
                      "ok": big["worker_peak_above_idle"] / big["array_bytes"] <= 3})
        if "predict_worker_peak_above_idle" in big:
            v = big["predict_worker_peak_above_idle"] / big["array_bytes"]
            table.append({"what": f"one {args.big_thickness:g} m well, predict task: worker peak "
                                  f"RSS above idle / its arrays", "value": round(v, 1),
                          "unit": "x", "target": "<= 3", "ok": v <= 3})
        table.append({"what": f"one {args.big_thickness:g} m well: worker peak RSS / its arrays",
                      "value": round(big["worker_peak_rss"] / big["array_bytes"], 1),
                      "unit": "x", "target": "<= 3",
                      "ok": big["worker_peak_rss"] / big["array_bytes"] <= 3})
    # projection: the measured cost per MB of well files on one worker, scaled to a real well
    one_row = next((r for r in rows["ingest"] if r["config"] == "LocalCluster, 1 worker"),
                   rows["ingest"][0])
    s_per_mb = one_row["work_seconds"] / files_mb
    s_per_well = s_per_mb * args.real_well_mb
    hours = args.target_wells * s_per_well / args.target_workers / 3600
    projection = {
        "wells": args.target_wells, "workers": args.target_workers,
        "assumed_mb_per_well": args.real_well_mb, "measured_s_per_mb": round(s_per_mb, 3),
        "s_per_well": round(s_per_well, 1), "hours": round(hours, 2),
        "assumptions": (f"cost linear in file size (measured {s_per_mb:.3f} s per MB of LAS on "
                        f"one worker here: synthetic wells of {files_mb / len(groups):.1f} MB, "
                        f"images 180 + 96 bins); a real image-logged well of "
                        f"{args.real_well_mb:g} MB; 32 single-threaded workers as fast as one "
                        f"core here, scaling linearly (no shared-storage or scheduler limit); "
                        f"reading {args.target_wells * args.real_well_mb / 2 ** 20:.1f} TB at "
                        f"1 GB/s alone takes "
                        f"{args.target_wells * args.real_well_mb / 1024 / 3600:.1f} h; "
                        f"each worker needs memory for one well (see the peak multiple)")}
    table.append({"what": f"projected: ingest+features of {args.target_wells} wells of "
                          f"{args.real_well_mb:g} MB on {args.target_workers} workers",
                  "value": round(hours, 2), "unit": "h", "target": "", "ok": None})
    result = {"wells": len(groups), "thickness_m": args.thickness, "files_mb": round(files_mb, 1),
              "largest_well": big_name, "largest_well_array_bytes": big_bytes,
              "largest_well_file_bytes": big_file, "cluster_start_s":
              {str(k): round(v, 1) for k, v in starts.items()}, "rows": rows,
              "machine": f"{os.cpu_count()} CPUs, load average {load0[0]:.1f} before, "
                         f"{load1[0]:.1f} after bench_scale",
              "load_avg_before": load0, "load_avg_after": load1, "cpus": os.cpu_count(),
              "big_well": big, "projection": projection, "table": table}
    print(f"\nload average before {load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f}, after "
          f"{load1[0]:.2f} / {load1[1]:.2f} / {load1[2]:.2f} ({os.cpu_count()} CPUs)")
    print(f"{'what':<72} {'value':>10}  target")
    for e in table:
        ok = "" if e["ok"] is None else ("ok" if e["ok"] else "MISSED")
        print(f"{e['what']:<72} {e['value']:>8} {e['unit']:<9} {e['target']} {ok}")
    print(f"\nprojection: {args.target_wells} wells on {args.target_workers} workers: "
          f"{hours:.1f} h ({s_per_well:.0f} s per well of {args.real_well_mb:g} MB).\n"
          f"assumed: {projection['assumptions']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
