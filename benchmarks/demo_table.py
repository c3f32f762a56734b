"""The README's demo table, produced by running the demo: ``python benchmarks/demo_table.py``.

Runs the packaged demo pipeline (synthetic field written first, as ``petro demo`` does) in a
temporary folder with its own MLflow store, and prints

- the blind-well table (markdown) with the pooled metrics of petro, its ablation and baselines,
- the permeability within x3 / x10, the blind P10-P90 coverage and in-domain rate,
- the wall time and where it went (per stage, from the application's events), the process CPU
  time and the machine's load average, so a number measured on a busy machine says so.

Options: ``--workdir DIR`` (keep the run), ``--profile FILE`` (cProfile of the whole run),
``--set KEY=VALUE`` (a pipeline setting, repeatable: ``--set synthetic.seed=3 --set
synthetic.wells=6`` runs another field), ``--spec KEY=VALUE`` (a setting of both model specs,
repeatable: ``--spec max_inputs=40``; the packaged specs are copied into the workdir and edited).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

COLUMNS = [("model", "petro"), ("logs_only", "logs-only sibling"),
           ("ridge_windowed", "ridge (windowed logs)"), ("ridge", "ridge (logs)"),
           ("hist_gbm", "hist GBM (logs)"), ("petrophysical", "density porosity / poro-perm"),
           ("train_mean", "training mean")]
ROWS = {"porosity": ("porosity RMSE, p.u.", "rmse_pu"),
        "permeability": ("log10 permeability RMSE, decades", "rmse_dec")}


class StageClock:
    """Seconds between each stage's 'start' and 'end' events (summed over repeats)."""

    def __init__(self):
        self.open: dict[str, float] = {}
        self.total: dict[str, float] = defaultdict(float)
        self.problems: list[str] = []

    def __call__(self, ev) -> None:
        now = time.perf_counter()
        if ev.kind == "start":
            self.open[ev.stage] = now
        elif ev.kind == "end" and ev.stage in self.open:
            self.total[ev.stage] += now - self.open.pop(ev.stage)
        elif ev.kind == "problem" and ev.problem is not None:
            self.problems.append(str(ev.problem))


def groups_line(e) -> str:
    """The image gain (logs-only sibling minus petro, blind), the sibling's coverage and the
    input groups the final model kept, with how many blind folds kept each."""
    key = ROWS[e.target][1]
    m, lo = e.metrics["model"], e.metrics.get("logs_only", {})
    text = ""
    if key in lo:
        text = (f"image gain {lo[key] - m[key]:+.3f}; logs-only coverage "
                f"{lo.get('coverage_p10_p90', float('nan')):.3f}; ")
    if not e.groups:
        return text + "no input groups"
    folds = e.groups["folds"]
    kept = [f"{g} ({sum(g in d['kept'] for d in folds.values())}/{len(folds)} folds)"
            for g in dict.fromkeys(g for d in folds.values() for g in d["kept"])]
    return text + f"final kept {e.groups['final']['kept']}; folds kept " + ", ".join(kept)


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", help="run here (default: a temporary folder, removed after)")
    ap.add_argument("--profile", help="write a cProfile of the run to this file")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="pipeline setting (dotted key, YAML value), e.g. synthetic.seed=3")
    ap.add_argument("--spec", action="append", default=[], metavar="KEY=VALUE",
                    help="model spec setting for both models (YAML value), e.g. max_inputs=40")
    args = ap.parse_args(argv)
    import yaml
    from petro.api import train
    from petro.config import packaged

    tmp = None
    if args.workdir:
        work = Path(args.workdir)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="petro-demo-")
        work = Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    clock = StageClock()
    load0 = os.getloadavg()
    t0, c0 = time.perf_counter(), cpu_seconds()
    overrides = {"data": str(work / "field"), "ingest.cache_dir": str(work / "cache")}
    for kv in args.set:
        k, _, v = kv.partition("=")
        overrides[k] = yaml.safe_load(v)
    if args.spec:
        demo = yaml.safe_load(packaged("pipelines", "demo.yaml").read_text())
        paths = []
        for name in demo["models"]:
            spec = yaml.safe_load(packaged("models", f"{name}.yaml").read_text())
            for kv in args.spec:
                k, _, v = kv.partition("=")
                spec[k] = yaml.safe_load(v)
            (work / "models").mkdir(exist_ok=True)
            paths.append(str(work / "models" / f"{name}.yaml"))
            Path(paths[-1]).write_text(yaml.safe_dump(spec, sort_keys=False))
        overrides["models"] = paths
    call = lambda: train(packaged("pipelines", "demo.yaml"),  # noqa: E731
                         tracking_uri=f"sqlite:///{work / 'mlflow.db'}", on_event=clock,
                         overrides=overrides)
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        run = prof.runcall(call)
        prof.dump_stats(args.profile)
    else:
        run = call()
    wall = time.perf_counter() - t0
    from joblib.externals.loky import reusable_executor

    if reusable_executor._executor is not None:   # joblib's workers (a run without the run's
        reusable_executor._executor.shutdown(wait=True)   # pool): reaped, their CPU counts
    cpu = cpu_seconds() - c0
    load1 = os.getloadavg()
    n_wells = sum(1 for w in run.wells if w.has_targets)
    print(f"Nested leave-one-well-out over the {n_wells} NMR wells of the demo field, pooled over "
          f"blind wells; `python benchmarks/demo_table.py` (the `petro demo` pipeline, synthetic "
          f"field included) took {wall:.0f} s wall on {os.cpu_count()} cores:\n")
    print("| | " + " | ".join(label for _, label in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for e in run.models:
        label, key = ROWS[e.target]
        cells = []
        for k, _ in COLUMNS:
            v = e.metrics.get(k, {}).get(key)
            cells.append("-" if v is None else (f"**{v:.3f}**" if k == "model" else f"{v:.3f}"))
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    for e in run.models:
        m = e.metrics["model"]
        n_in = client.get_run(e.run_id).data.params.get("n_features", "?")
        extra = ""
        if e.target == "permeability":
            extra = (f", within x3 {100 * m['within_x3']:.1f} %, within x10 "
                     f"{100 * m['within_x10']:.1f} %")
        print(f"- {e.model}: blind P10-P90 coverage {m.get('coverage_p10_p90', float('nan')):.3f} "
              f"(nominal 0.80), in domain {100 * m.get('in_domain_rate', float('nan')):.1f} %"
              f"{extra}; {n_in} inputs; version {e.version}, alias {e.alias or '-'}")
        print("  " + groups_line(e))
    if args.set or args.spec:
        print("settings: " + " ".join(args.set + args.spec))
    print(f"\nwall {wall:.1f} s, CPU {cpu:.1f} s (this process and its workers); load average "
          f"{load0[0]:.1f} before, {load1[0]:.1f} after, on {os.cpu_count()} cores")
    print("where the time went (wall, s): " + ", ".join(
        f"{k} {v:.1f}" for k, v in sorted(clock.total.items(), key=lambda kv: -kv[1])))
    if clock.problems:
        print("problems: " + "; ".join(clock.problems[:10]))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
