"""LAS ingest speed: petro's fast ~A path against lasio, and the parsed-file cache.

Writes a large image LAS (default 180-bin amplitude + 180-bin transit time over 150 m at 5 mm,
about 110 MB) unless --file is given, then times in one run: lasio.read, petro's read_las,
load_well with an empty cache (parse + write cache), load_well again (cache hit). Checks that the
fast path's values equal lasio's.

Run: python benchmarks/bench_ingest.py [--file big.las] [--length 150]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    import lasio

    from petro.io.las import read_las
    from petro.io.las_writer import write_las
    from petro.io.wells import IngestOptions, load_well

    ap = argparse.ArgumentParser()
    ap.add_argument("--file")
    ap.add_argument("--length", type=float, default=150.0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="petro-bench-"))
    try:
        if args.file:
            path = Path(args.file)
        else:
            rng = np.random.default_rng(0)
            depth = 2000 + np.arange(int(args.length / 0.005)) * 0.005
            cols = {f"AMP{j:03d}": rng.normal(60, 8, depth.size) for j in range(1, 181)}
            cols.update({f"TT{j:03d}": rng.normal(80, 2, depth.size) for j in range(1, 181)})
            path = work / "image.las"
            write_las(path, depth, cols, units={k: "" for k in cols}, well={"WELL": "BENCH"},
                      fmt="%.2f")
        size = path.stat().st_size / 1e6
        t_lasio, ref = timed(lambda: lasio.read(path))
        t_fast, las = timed(lambda: read_las(path))
        same = np.array_equal(las.data.to_numpy(float), ref.df().reset_index().to_numpy(float),
                              equal_nan=True)
        opts = IngestOptions(cache_dir=str(work / "cache"))
        t_cold, _ = timed(lambda: load_well("B", [path], opts))
        t_warm, w = timed(lambda: load_well("B", [path], opts))
        t_plain, _ = timed(lambda: load_well("B", [path], IngestOptions()))
        print(f"file: {path.name}, {size:.0f} MB, {las.data.shape[0]} rows x {las.data.shape[1]} curves")
        print(f"lasio.read:               {t_lasio:7.2f} s  ({size / t_lasio:5.1f} MB/s)")
        print(f"petro read_las (fast ~A): {t_fast:7.2f} s  ({size / t_fast:5.1f} MB/s)  "
              f"{t_lasio / t_fast:.1f}x lasio; values identical to lasio: {same}")
        print(f"load_well, no cache:      {t_plain:7.2f} s")
        print(f"load_well, cache cold:    {t_cold:7.2f} s  (parse + write cache)")
        print(f"load_well, cache warm:    {t_warm:7.3f} s  -> {t_plain / t_warm:.0f}x faster than "
              f"parsing (target >= 20x)")
        print(f"images: {[(k, v.values.shape) for k, v in w.images.items()]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
