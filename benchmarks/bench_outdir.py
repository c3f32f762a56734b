"""What recording each finished well costs in batch predict's output folder (docs/scale.md, "Batch
predict"): the per-well journal entry petro writes (petro.app.outdir.record) against the two
other ways to keep the manifest current after every well: an atomic rewrite of the whole
manifest, and a line appended (and fsynced) to one journal file. Also the fold of the journal
into the manifest and the rerun's check of every well's files (SHA-256).

    python benchmarks/bench_outdir.py --wells 200 --rows 92 [--dir /some/folder]

The wells' outputs are written first as petro writes them (LAS + Parquet part of ``--rows``
depths and the 17 predicted columns), then each way is timed over every well; milliseconds
per well, median of ``--repeat`` rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from petro.app.outdir import MANIFEST, complete, fold, record
from petro.app.predict import PredictedWell, dataset_part, write_outputs
from petro.io.atomic import atomic_write_json

COLUMNS = ["PHIE_ML", "PHIE_P10", "PHIE_P90", "PERM_ML", "PERM_P10", "PERM_P90", "NOVELTY",
           "OOD_FLAG", "INPUT_COVERAGE", "KEY_INPUT_COVERAGE", "NOV_RHOB", "NOV_NPHI", "NOV_DT",
           "NOV_GR", "NOV_PEF", "NOV_LOG10_RT", "NOV_DTS"]


def outputs(folder: Path, wells: int, rows: int) -> list[tuple[str, list[Path]]]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(wells):
        name = f"W{i:04d}"
        depth = 2000 + 0.1524 * np.arange(rows)
        pw = PredictedWell(name, depth, {c: rng.random(rows) for c in COLUMNS},
                           {c: "" for c in COLUMNS}, {c: c for c in COLUMNS})
        write_outputs(pw, folder)
        out.append((name, [pw.path, folder / dataset_part(name)]))
    return out


def per_well(fn, items) -> float:
    t0 = time.perf_counter()
    for i, item in enumerate(items):
        fn(i, item)
    return (time.perf_counter() - t0) / len(items) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wells", type=int, default=200)
    ap.add_argument("--rows", type=int, default=92)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", help="where to write (default: a temporary folder)")
    args = ap.parse_args()
    root = Path(args.dir or tempfile.mkdtemp(prefix="bench-outdir-"))
    root.mkdir(parents=True, exist_ok=True)
    items = outputs(root, args.wells, args.rows)
    entry = {"inputs": "0" * 24, "models": "1" * 24, "las": "x", "parquet": "y",
             "sha256": {"x": "2" * 64, "y": "3" * 64}}
    times: dict[str, list[float]] = {}

    def journal(i, item):
        record(root, item[0], "0" * 24, "1" * 24, item[1])

    def rewrite(i, item):
        manifest = {n: entry for n, _ in items[: i + 1]}
        atomic_write_json(root / "rewrite.json", manifest, indent=1, sort_keys=True)

    def append(i, item):
        with open(root / "journal.jsonl", "a") as fh:
            fh.write(json.dumps({"well": item[0], **entry}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    for _ in range(args.repeat):
        (root / "journal.jsonl").unlink(missing_ok=True)
        (root / MANIFEST).unlink(missing_ok=True)
        times.setdefault("journal entry per well (petro)", []).append(per_well(journal, items))
        t0 = time.perf_counter()
        manifest = fold(root)
        times.setdefault("fold of the journal (per well)", []).append(
            (time.perf_counter() - t0) / len(items) * 1000)
        times.setdefault("atomic rewrite of the manifest per well", []).append(
            per_well(rewrite, items))
        times.setdefault("append + fsync to one journal file", []).append(
            per_well(append, items))
        times.setdefault("rerun check of the files (SHA-256, per well)", []).append(
            per_well(lambda i, it: complete(root, manifest[it[0]], "0" * 24, "1" * 24), items))
    size = sum(f.stat().st_size for _, fs in items for f in fs) / len(items) / 1024
    print(f"{args.wells} wells of {args.rows} rows ({size:.0f} KiB of output per well) in {root}")
    for what, ts in times.items():
        print(f"  {what}: {statistics.median(ts):.3f} ms")


if __name__ == "__main__":
    main()
