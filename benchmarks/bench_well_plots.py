"""What a predicted well's picture costs against its prediction (issue 26.1): CPU seconds per
well of batch predict's per-well task (read, features, models, LAS and Parquet written) without
and with the picture (images reduced where the well is read, the depth-track PNG and its index
row), in this process, one well at a time.

    python benchmarks/bench_well_plots.py DATA --tracking-uri sqlite:///ABS/mlruns/mlflow.db

``DATA``: a folder of wells (e.g. the demo's ``petro-demo/field``); the models: the two
champions of the store (``--model`` to choose). Each well is predicted ``--repeat`` times each
way (alternating, after one warm-up), the median taken; no cache, so every run reads the files.
CPU time of this process (``time.process_time``): the figure holds under load, wall time does
not.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--tracking-uri")
    ap.add_argument("--model", action="append")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from petro.api import configure
    from petro.app.predict import load_models, predict_well, prediction_plan
    from petro.io.discovery import discover_many

    models = load_models(args.model, args.tracking_uri)
    plan = prediction_plan(models, configure(n_jobs=1, cache_dir=""))
    groups = discover_many(args.data)
    rows = []
    with tempfile.TemporaryDirectory(prefix="petro-bench-plots-") as out:
        for name, files in sorted(groups.items()):
            files = [str(f) for f in files]
            times = {False: [], True: []}
            for i in range(2 * args.repeat + 1):
                plan.plots = bool(i % 2)
                t0 = time.process_time()
                res = predict_well(name, files, out, None, 1, plan)
                if i:                                   # the first run warms up
                    times[plan.plots].append(time.process_time() - t0)
            if res.well is None:
                print(f"{name}: not predicted ({'; '.join(map(str, res.problems))})")
                continue
            base, full = statistics.median(times[False]), statistics.median(times[True])
            rows.append((name, res.well.n_rows, base, full - base,
                         (Path(out) / "plots" / f"{name}.png").stat().st_size / 1e3))
    print(f"{'well':8} {'rows':>6} {'predict CPU-s':>14} {'+ picture CPU-s':>16} {'ratio':>6} "
          f"{'PNG kB':>7}")
    for name, n, base, extra, kb in rows:
        print(f"{name:8} {n:6d} {base:14.2f} {extra:16.2f} {extra / base:6.2f} {kb:7.0f}")
    base = sum(r[2] for r in rows)
    extra = sum(r[3] for r in rows)
    print(f"{'all':8} {sum(r[1] for r in rows):6d} {base:14.2f} {extra:16.2f} "
          f"{extra / base:6.2f}")


if __name__ == "__main__":
    main()
