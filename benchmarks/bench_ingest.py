"""LAS ingest speed and memory: petro's ``read_las`` against ``lasio.read(path).df()``.

Writes synthetic LAS files of several layouts (unless --file is given), then for each, in one run:
lasio.read().df() time, petro read_las time, their ratio, whether the values are bit-identical, and
petro's peak memory in a child process (peak RSS above the RSS before reading, and tracemalloc's
peak) as a multiple of the float64 data array. Then the parsed-file cache (cold / warm) on the
first file.

Layouts (``--layouts``, default all):
  image     40,000 rows x 180 curves, 4 decimals, one space between values (petro's writer)
  padded    the same data as lasio writes it (right-aligned columns, runs of spaces)
  vendor    a real processed image LAS from ../shared (52 curves, right-aligned 10-character
            columns, leading blanks), its rows repeated to about 60 MB (skipped when absent)
  narrow    200,000 rows x 12 curves, 6 significant digits
  sci       20,000 rows x 180 curves, scientific notation with 8 digits
  comma     40,000 rows x 180 curves, DLM COMMA (lasio reads these into one column: no ratio)
  wrapped   5,000 rows x 20 curves, WRAP YES (goes through lasio by design)

Each time is the median of --repeat runs (default 3; petro in fresh processes), each peak the
largest: this shared machine's timings vary by 30 % from one run to the next. With the image
layout, the same run also times Arrow's CSV parser alone on its rows with no memory bound (one
thread, all threads): the ceiling of a reader built on it (``--ceiling`` runs only that).

Run: python benchmarks/bench_ingest.py [--layouts image,padded] [--cpus 1] [--repeat 3]
     [--json out.json]
     (--cpus: read_las threads=; without it, read_las's default: 2 threads where the process
     may use more than one CPU)
     python benchmarks/bench_ingest.py --file big.las
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LAYOUTS = ("image", "padded", "vendor", "narrow", "sci", "comma", "wrapped")
# a real processed image log (52 curves, right-aligned 10-character columns, leading blanks):
# the "vendor" layout is its rows repeated to about 60 MB
VENDOR = (Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "image"
          / "P11-A-02_Composite_MEM_Image_NF.las")


def _header(depth: np.ndarray, names: list[str], dlm: str = "", wrap: str = "NO") -> str:
    curves = "\n".join(f" {n:<8}.     : {n}" for n in names)
    return (f"~Version\n VERS. 2.0 : CWLS LOG ASCII STANDARD - VERSION 2.0\n WRAP. {wrap} : wrap\n"
            + (f" DLM . {dlm} : delimiter\n" if dlm else "")
            + f"~Well\n STRT.M {depth[0]:.4f} : start\n STOP.M {depth[-1]:.4f} : stop\n"
            f" STEP.M {depth[1] - depth[0]:.4f} : step\n NULL. -999.25 : null\n"
            f" WELL. BENCH : well\n~Curve\n DEPT.M : depth\n{curves}\n~A\n")


def make(layout: str, folder: Path) -> Path | None:
    """Write one synthetic LAS file of the given layout (None: its source is absent)."""
    if layout == "vendor":
        if not VENDOR.exists():
            print(f"vendor layout skipped: {VENDOR} is absent (../shared beside the checkout)")
            return None
        raw = VENDOR.read_bytes()
        start = raw.index(b"\n", raw.index(b"\n~A") + 1) + 1
        rows = raw[start:].rstrip(b"\n") + b"\n"
        path = folder / "vendor.las"
        path.write_bytes(raw[:start] + rows * max(1, (60 << 20) // len(rows)))
        return path
    rng = np.random.default_rng(0)
    rows, ncurves = {"image": (40000, 179), "padded": (40000, 179), "narrow": (200000, 11),
                     "sci": (20000, 179), "comma": (40000, 179), "wrapped": (5000, 19)}[layout]
    # 200,000 rows at 2 in: 10 km of log (petro refuses a depth range beyond 15 km)
    depth = 2000 + np.arange(rows) * (0.0025 if ncurves > 100 else 0.0508)
    data = np.column_stack([depth, rng.normal(60, 8, (rows, ncurves))])
    data[rng.random(data.shape) < 0.001] = -999.25
    data[:, 0] = depth
    names = [f"AMP{j:03d}" for j in range(1, ncurves + 1)]
    path = folder / f"{layout}.las"
    if layout in ("padded", "wrapped"):
        import lasio

        las = lasio.LASFile()
        las.append_curve("DEPT", depth, unit="M")
        for j, n in enumerate(names):
            las.append_curve(n, data[:, j + 1])
        with open(path, "w") as fh:
            las.write(fh, version=2.0, wrap=layout == "wrapped", fmt="%.4f")
        return path
    fmt, sep = {"image": ("%.4f", " "), "narrow": ("%.6g", " "), "sci": ("%.8e", " "),
                "comma": ("%.4f", ",")}[layout]
    with open(path, "w") as fh:
        fh.write(_header(depth, names, "COMMA" if layout == "comma" else ""))
        np.savetxt(fh, data, fmt=fmt, delimiter=sep)
    return path


def child(path: str, cpus: int, trace: bool, warm: str | None = None) -> None:
    """Run in a fresh process: read once, print time and memory as JSON (tracemalloc slows the
    read, so it runs in a process of its own). ``warm``: read this small file first, as the next
    file of a batch is read (first-call costs: lasio's header patterns, Arrow's thread pool)."""
    import tracemalloc

    from petro.io.las import read_las

    kw = {"threads": cpus} if cpus else {}       # 0: read_las's default
    if warm:
        try:
            read_las(warm, **kw)
        except Exception:   # a cut wrapped record: the imports and first calls are done anyway
            pass

    def status(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
        return 0

    import petro.io.las as las_module

    whole, tolerant = [], las_module._read_text     # the route taken: the file read whole?
    las_module._read_text = lambda *a: whole.append(True) or tolerant(*a)
    rss0 = status("VmRSS")
    if trace:
        tracemalloc.start()
    t = time.perf_counter()
    table = read_las(path, **kw)
    elapsed = time.perf_counter() - t
    traced = tracemalloc.get_traced_memory()[1] if trace else 0
    print(json.dumps({"seconds": elapsed, "rss_peak": status("VmHWM") - rss0,
                      "traced_peak": traced, "array_bytes": table.data.shape[0]
                      * table.data.shape[1] * 8, "fast_path": not whole,
                      "shape": list(table.data.shape)}))


def measure(path: Path, cpus: int, repeat: int = 1) -> dict:
    """lasio and petro on one file; with ``repeat`` > 1 each is timed that many times (petro in
    fresh processes) and the medians are compared, the peaks are the largest."""
    import warnings

    import lasio

    from petro.io.las import read_las

    warnings.simplefilter("ignore")                     # pandas' fragmentation notice on lasio's df
    logging.getLogger("lasio").setLevel(logging.ERROR)  # its 179 notes on the comma file
    path.read_bytes()                                   # both readers start from a warm cache
    got = read_las(path, **({"threads": cpus} if cpus else {}))
    if path.stem == "comma":
        # lasio reads comma rows into the depth column (and can exhaust memory doing so on a
        # large file): the reference is numpy's reading of the rows, and there is no ratio
        lines = path.read_text().splitlines()
        skip = next(i for i, s in enumerate(lines) if s.startswith("~A")) + 1
        ref = np.loadtxt(path, delimiter=",", skiprows=skip)
        ref[ref == got.null] = np.nan
        t_lasio = float("nan")
        same = ref.shape == got.data.shape and np.array_equal(ref, got.data.to_numpy(float),
                                                              equal_nan=True)
    else:
        times, ref = [], None
        for _ in range(repeat):
            t = time.perf_counter()
            try:
                ref = lasio.read(str(path)).df()
            except Exception:           # lasio cannot read it at all
                ref = None
            times.append(time.perf_counter() - t)
        t_lasio = float(np.median(times))
        same = False
        if ref is not None:
            try:
                ref = ref.reset_index().to_numpy(dtype=float, copy=True)
            except (TypeError, ValueError):     # text in lasio's columns (a misread file)
                ref = np.empty((0, 0))
            ref[ref == got.null] = np.nan
            same = ref.shape == got.data.shape and np.array_equal(
                ref, got.data.to_numpy(float), equal_nan=True)

    def run(*extra):
        out = subprocess.run([sys.executable, __file__, "--child", str(path), "--cpus", str(cpus),
                              *extra], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    # the same header and its first 50 rows: the warm-up file of a batch
    raw = path.read_bytes()
    at = raw.index(b"~A")
    lines = raw[at:].split(b"\n", 51)
    small = path.with_name(path.stem + "-warm.las")
    small.write_bytes(raw[:at] + b"\n".join(lines[:51]) + b"\n")
    def runs(*extra):
        got = [run(*extra) for _ in range(repeat)]
        med = dict(got[0])
        med["seconds"] = float(np.median([g["seconds"] for g in got]))
        med["rss_peak"] = max(g["rss_peak"] for g in got)
        return med

    c = runs()
    c["traced_peak"] = run("--trace")["traced_peak"]
    w = runs("--warm", str(small))
    small.unlink()
    return {"file": path.name, "mb": round(path.stat().st_size / 1e6, 1), "rows": c["shape"][0],
            "curves": c["shape"][1], "lasio_s": round(t_lasio, 3) if t_lasio == t_lasio else None,
            "petro_s": round(c["seconds"], 3), "ratio": round(t_lasio / c["seconds"], 1) if t_lasio == t_lasio else None,
            "identical_to_lasio": bool(same), "fast_path": c["fast_path"],
            "peak_rss_x_array": round(c["rss_peak"] / c["array_bytes"], 2),
            "tracemalloc_x_array": round(c["traced_peak"] / c["array_bytes"], 2),
            "warm_petro_s": round(w["seconds"], 3),
            "warm_ratio": round(t_lasio / w["seconds"], 1) if t_lasio == t_lasio else None,
            "warm_peak_rss_x_array": round(w["rss_peak"] / w["array_bytes"], 2),
            "threads": cpus or "default", "repeat": repeat}


def cache_times(path: Path, work: Path) -> dict:
    from petro.io.wells import IngestOptions, load_well

    def timed(fn):
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    opts, cache = IngestOptions(), str(work / "cache")
    plain = timed(lambda: load_well("B", [path], opts))
    cold = timed(lambda: load_well("B", [path], opts, cache_dir=cache))
    warm = timed(lambda: load_well("B", [path], opts, cache_dir=cache))
    return {"load_well_s": round(plain, 3), "cache_cold_s": round(cold, 3),
            "cache_warm_s": round(warm, 4), "warm_speedup": round(plain / warm, 1)}


def table_rows(rows: list[dict], cache: dict, ceil: dict | None = None) -> list[dict]:
    """The README performance table's entries: per layout, speed against lasio (target >= 25x
    for the large unwrapped image layout) and peak RSS above the start as a multiple of the
    float64 data array (target <= 1.5x); first file in a fresh process, and warm (the next file
    of a batch, after the first-call costs)."""
    out = []
    for r in rows:
        name = f"{r['file']} ({r['mb']} MB, {r['rows']:,} x {r['curves']})"
        big = r["file"].startswith(("image", "padded", "vendor"))
        if r["ratio"] is not None:
            out.append({"what": f"read_las {name} / lasio.read().df(): first file, next files",
                        "value": f"{r['ratio']}x, {r['warm_ratio']}x", "unit": "",
                        "target": ">= 25x" if big else "",
                        "ok": (max(r["ratio"], r["warm_ratio"]) >= 25
                               and r["identical_to_lasio"]) if big else None})
        peak = min(r["peak_rss_x_array"], r["warm_peak_rss_x_array"])
        fast = r["fast_path"]      # wrapped files go through lasio by design: no target
        out.append({"what": f"read_las {name} peak RSS / data array: first file, next files"
                            + ("" if fast else " (through lasio)"),
                    "value": f"{r['peak_rss_x_array']}x, {r['warm_peak_rss_x_array']}x",
                    "unit": "", "target": "<= 1.5x" if fast else "",
                    "ok": peak <= 1.5 if fast else None})
    if ceil:
        x = ceil["x_lasio"]
        out.append({"what": "Arrow's CSV parser alone on image.las, whole table in memory (no "
                            "memory bound) / lasio: one thread, all threads; read_las, same run",
                    "value": f"{x['arrow_1_thread']}x, {x['arrow_all_threads']}x; "
                             f"{x['read_las']}x", "unit": "", "target": "", "ok": None})
    out.append({"what": "re-ingest from the cache / parsing", "value": cache["warm_speedup"],
                "unit": "x faster", "target": "", "ok": None})
    return out


def ceiling(path: Path, repeat: int) -> dict:
    """What Arrow's CSV reader alone does with the rows, no memory bound: the whole data section
    parsed in one call on one thread and on all of Arrow's threads (holding the whole table beside
    the bytes), against lasio and petro's read_las, interleaved, medians of ``repeat``. The
    first two are the ceiling of any reader built on Arrow's parser on this machine."""
    import lasio
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from petro.io.las import read_las
    from petro.io.las_data import locate

    layout = locate(str(path))
    raw = path.read_bytes()[layout.start: layout.end]
    n_cols = raw[: raw.index(b"\n")].count(b" ") + 1
    names = [f"c{i}" for i in range(n_cols)]

    def arrow(threads: bool):
        pcsv.read_csv(pa.BufferReader(raw), read_options=pcsv.ReadOptions(
            column_names=names, use_threads=threads, block_size=4 << 20),
            parse_options=pcsv.ParseOptions(delimiter=" ", quote_char=False),
            convert_options=pcsv.ConvertOptions(column_types={n: pa.float64() for n in names}))

    runs = {"lasio": lambda: lasio.read(str(path)).df(), "arrow_1_thread": lambda: arrow(False),
            "arrow_all_threads": lambda: arrow(True), "read_las": lambda: read_las(path)}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeat):
        for k, fn in runs.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {"seconds": {k: round(v, 3) for k, v in med.items()},
            "x_lasio": {k: round(med["lasio"] / v, 1) for k, v in med.items() if k != "lasio"}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", help="measure this LAS file instead of the synthetic layouts")
    ap.add_argument("--layouts", default=",".join(LAYOUTS))
    ap.add_argument("--cpus", type=int, default=0,
                    help="petro's parsing threads (read_las threads=); 0: read_las's default")
    ap.add_argument("--json", help="write the rows to this JSON file (for the README table)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="time lasio and petro this many times each; medians are compared "
                         "(this machine's timings vary by 30 %% from one run to the next)")
    ap.add_argument("--child")
    ap.add_argument("--trace", action="store_true")
    ap.add_argument("--ceiling", action="store_true",
                    help="only: Arrow's parser alone on the image layout's rows (one thread, all "
                         "threads, no memory bound) against lasio and read_las")
    ap.add_argument("--warm", help="(child) read this small file first")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.cpus, args.trace, args.warm)
        return
    work = Path(tempfile.mkdtemp(prefix="petro-bench-"))
    if args.ceiling:
        try:
            got = ceiling(make("image", work), args.repeat)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(json.dumps(got, indent=1))
        return
    try:
        paths = [Path(args.file)] if args.file else [make(k, work)
                                                     for k in args.layouts.split(",")]
        paths = [p for p in paths if p is not None]
        rows = []
        print(f"{'file':<12} {'MB':>6} {'rows':>7} {'curves':>6} {'lasio s':>8} {'petro s':>8} "
              f"{'ratio':>6} {'same':>5} {'path':>6} {'RSS/arr':>8} {'trace/arr':>9} "
              f"{'warm s':>7} {'ratio':>6} {'RSS/arr':>8}")
        for p in paths:
            r = measure(p, args.cpus, args.repeat)
            rows.append(r)
            note = "  (same = equal to numpy.loadtxt; lasio misreads comma rows)" \
                if p.stem == "comma" else ""
            print(f"{r['file']:<12} {r['mb']:>6} {r['rows']:>7} {r['curves']:>6} "
                  f"{r['lasio_s'] if r['lasio_s'] is not None else '-':>8} {r['petro_s']:>8.3f} "
                  f"{str(r['ratio']) + 'x' if r['ratio'] is not None else '-':>6} "
                  f"{str(r['identical_to_lasio']):>5} {'fast' if r['fast_path'] else 'lasio':>6} "
                  f"{r['peak_rss_x_array']:>7.2f}x {r['tracemalloc_x_array']:>8.2f}x "
                  f"{r['warm_petro_s']:>7.3f} "
                  f"{str(r['warm_ratio']) + 'x' if r['warm_ratio'] is not None else '-':>6} "
                  f"{r['warm_peak_rss_x_array']:>7.2f}x{note}",
                  flush=True)
        cache = cache_times(paths[0], work)
        print(f"cache on {paths[0].name}: load_well {cache['load_well_s']} s, cold "
              f"{cache['cache_cold_s']} s, warm {cache['cache_warm_s']} s "
              f"({cache['warm_speedup']}x faster than parsing)")
        image = next((p for p in paths if p.stem == "image"), None)
        ceil = ceiling(image, args.repeat) if image is not None else None
        if ceil:
            x = ceil["x_lasio"]
            print(f"Arrow's parser alone on image.las (whole table in memory, no bound): one "
                  f"thread {x['arrow_1_thread']}x lasio, all threads {x['arrow_all_threads']}x; "
                  f"read_las {x['read_las']}x in the same run")
        if args.json:
            Path(args.json).write_text(json.dumps({"read": rows, "cache": cache, "ceiling": ceil,
                                                   "table": table_rows(rows, cache, ceil)},
                                                  indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
