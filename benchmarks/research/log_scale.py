"""Conventional logs at the scale of the beds (issue 25, items b and c).

For each field and target, leave-one-well-out over the NMR wells, pooled blind RMSE (p.u.,
decades):

- ``ridge_med_six``: ridge (petro's comparator: median imputation, standardisation, alpha 1) on
  the centred running medians of the six conventional logs (GR, RHOB, NPHI, DT, LOG10_RT, PEF)
  over 3, 5 and 9 samples (the issue's comparator);
- ``ridge_med_all``: the same with the caliper and the logs themselves added;
- ``petro``, ``petro_logs_only``: petro's model and its logs-only ablation, untuned (the spec's
  parameters; ``cross_validate`` without nesting, input selection inside each fold);
- ``petro_win``, ``petro_win_logs_only``: the same with the median and robust spread of each
  conventional log over the image windows (0.5 and 1.5 m; 0.15 m is one sample) added.

``python benchmarks/research/log_scale.py --workdir /tmp/r25x --fields demo logs vis0
--out log_scale.json`` (``--max-inputs 0``: without petro's input selection)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (CONVENTIONAL, SIX, TARGETS, field_table, lowo,  # noqa: E402
                    model_target, research_cli, rmse, running_medians, windowed_log_stats)


def ridge_running_medians(table: pd.DataFrame, spec, logs, raw: bool) -> float:
    """Blind RMSE of petro's ridge comparator on running medians of ``logs``."""
    from petro.models.train import sklearn_estimator

    X = running_medians(table, logs).reindex(table.index)
    if raw:
        X = pd.concat([table[list(logs)], X], axis=1)
    X = X.to_numpy(dtype=float)
    y = model_target(table, spec)
    pred = np.full(len(table), np.nan)
    for _, tr, te in lowo(table["WELL"].astype(str).to_numpy()):
        est = sklearn_estimator("ridge", {}).fit(X[tr], y[tr])
        pred[te] = est.predict(X[te])
    return rmse(spec.target, pred - y)


def petro_cv(table: pd.DataFrame, spec, features, logs_only, n_jobs: int) -> tuple[float, float]:
    """petro's blind RMSE (untuned, input selection inside each fold) and its logs-only one."""
    from petro.models.validation import cross_validate, primary_metric

    cv = cross_validate(table, features, spec, logs_only=logs_only, nested=False, n_jobs=n_jobs)
    key = primary_metric(spec.target)
    return cv.pooled["model"][key], cv.pooled["logs_only"][key]


def run_field(name: str, workdir: str, n_jobs: int, max_inputs: int = -1) -> dict:
    """All comparisons on field ``name``; ``max_inputs`` >= 0 replaces the specs' (0: every
    input, no selection)."""
    from dataclasses import replace

    from petro.features.table import usable_features

    t0 = time.perf_counter()
    table, cols = field_table(name, workdir)
    win = windowed_log_stats(table).reindex(table.index)
    wide = pd.concat([table, win], axis=1)
    out = {"wells": int(table["WELL"].nunique()), "rows": int(len(table))}
    for target in TARGETS:
        c = cols[target]
        spec = c["spec"] if max_inputs < 0 else replace(c["spec"], max_inputs=max_inputs)
        win_cols = usable_features(wide, list(win.columns))
        r = {"ridge_med_six": ridge_running_medians(table, spec, SIX, raw=False),
             "ridge_med_all": ridge_running_medians(table, spec, CONVENTIONAL, raw=True)}
        r["petro"], r["petro_logs_only"] = petro_cv(table, spec, c["features"], c["logs_only"],
                                                    n_jobs)
        r["petro_win"], r["petro_win_logs_only"] = petro_cv(
            wide, spec, c["features"] + win_cols, c["logs_only"] + win_cols, n_jobs)
        out[target] = r
        print(f"{name} {target}: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items()), flush=True)
    out["seconds"] = time.perf_counter() - t0
    return out


def main(argv=None) -> int:
    return research_cli(__doc__, "log_scale",
                        lambda name, a: run_field(name, a.workdir, a.jobs, a.max_inputs), argv,
                        jobs=(2, "fold processes"),
                        max_inputs=(-1, "replaces the specs' max_inputs (0: all; -1: the "
                                        "specs')"))


if __name__ == "__main__":
    sys.exit(main())
