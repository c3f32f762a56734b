"""Cost of the novelty threshold calibration (``novelty.calibrate_thresholds``) as wells are added.

The calibration runs once per model and, in blind validation, once per left-out well; with the
new-well bound it finds each training well's own lowest common level. Every bisection step
reads the per-block quantiles from one sort (``novelty._Quantiles``) and each well's rows are
found in one sort too, so one calibration costs about 40 passes over the rows whatever the
number of wells: linear in the rows. Measured in one run against bb20adf (no bound; a mask per
well and ``np.quantile`` at every step): 200 wells x 1,000 rows 2.77 -> 0.53 s (5.2x), 800 wells
14.15 -> 1.71 s (8.3x), the same thresholds. The bound's first version, ``np.quantile`` at every
step of every well's bisection, took 91 s at 200 wells (172x the present).
Prints the seconds per calibration, without and with the bound, for each field size, and the
ratio between sizes measured in this run; then (``--report``) the seconds of the validation
report's blind coverage and in-domain rate (``validation._blind_bands``, 500 rows a well), which
calibrates once per blind fold (each well up to 12 wells, 5 folds beyond). Once per well it took
3.8 s at 50 wells and 55 s at 200 (wells x rows); per fold 0.39 s and 1.6 s, 2,000 wells 18 s.

    .venv/bin/python benchmarks/bench_thresholds.py --wells 50,200,800 --rows 1000 --blocks 4

By hand, not in the test suite.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from petro.models.novelty import calibrate_thresholds


def field(wells: int, rows: int, blocks: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Distances of ``wells`` wells (``rows`` each) in ``blocks`` blocks, each well's scale
    log-normal: a heavy-tailed, well-to-well varying sample like out-of-fold distances."""
    rng = np.random.default_rng(seed)
    scale = np.exp(rng.normal(0, 0.25, (wells, 1, blocks)))
    D = np.abs(rng.standard_t(5, (wells, rows, blocks))) * scale
    return D.reshape(-1, blocks), np.repeat(np.arange(wells), rows)


def timed(D: np.ndarray, wells: np.ndarray, new_well: float, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        calibrate_thresholds(D, 0.95, wells, new_well=new_well)
        best = min(best, time.perf_counter() - t)
    return best


def report_seconds(wells: int, rows: int, blocks: int) -> float:
    """Seconds of the validation report's blind bands for a field of ``wells`` wells."""
    import pandas as pd

    from petro.models.spec import ModelSpec
    from petro.models.validation import _blind_bands

    D, well = field(wells, rows, blocks)
    rng = np.random.default_rng(1)
    y = rng.normal(0, 1, len(D))
    p50 = y + rng.normal(0, 0.5, len(D))
    oof = pd.DataFrame({"WELL": [f"W{w:05d}" for w in well], "y": y, "p50": p50,
                        "lo": p50 - 0.6, "hi": p50 + 0.6})
    t = time.perf_counter()
    _blind_bands(oof, D, [f"b{k}" for k in range(blocks)], ModelSpec(name="p", target="porosity"))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wells", default="50,200,800")
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--report", default="12,50,200,2000",
                    help="field sizes for the validation report's timing ('' to skip)")
    a = ap.parse_args()
    sizes = [int(w) for w in a.wells.split(",")]
    print(f"{'wells':>6} {'rows':>10} {'no bound, s':>12} {'bound, s':>10}")
    first = None
    for n in sizes:
        D, wells = field(n, a.rows, a.blocks)
        t0, t1 = timed(D, wells, 0.0, a.repeat), timed(D, wells, 0.9, a.repeat)
        first = first or (n, t1)
        print(f"{n:>6} {len(D):>10,} {t0:>12.3f} {t1:>10.3f}   "
              f"x{t1 / first[1]:.1f} the time of {first[0]} wells for x{n / first[0]:.0f} the rows")
    if a.report:
        print(f"\n{'wells':>6} {'report, s':>10}  (blind coverage and in-domain rate, 500 rows a well)")
        for n in [int(w) for w in a.report.split(",")]:
            print(f"{n:>6} {report_seconds(n, 500, a.blocks):>10.2f}")


if __name__ == "__main__":
    main()
