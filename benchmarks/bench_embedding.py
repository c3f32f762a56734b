"""The learned embedding's cost: fit time per 1,000 image rows and predict time, PCA against the
autoencoder (spec ``embedding``; :mod:`petro.models.embedding`).

Reads the wells of a field (default: a synthetic field of ``--wells`` wells written to a
temporary folder with the demo's settings), builds petro's feature table and, per image kind,
fits each embedding on its patch rows (``pca_components`` 4, seed 0) as a fold does, then
scores every row with the runtime (:func:`petro.models.runtime.pca_scores`, as a served model
does). Times are CPU seconds of this one thread (``time.process_time``, BLAS limited to one
thread): the machine's load does not enter them, its speed does. Median of ``--repeat`` runs.

Run: ``python benchmarks/bench_embedding.py [--field DIR] [--wells 4] [--json FILE]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def patch_rows(field: Path) -> dict[str, np.ndarray]:
    """Each image kind's complete patch rows over the field's wells."""
    import pandas as pd

    from petro.features.table import well_features
    from petro.io.discovery import discover
    from petro.io.wells import load_well
    from petro.models.embedding import patch_groups

    table = pd.concat([well_features(load_well(n, f)) for n, f in sorted(discover(field).items())],
                      ignore_index=True)
    out = {}
    for prefix, cols in patch_groups(list(table.columns)).items():
        P = table[cols].to_numpy(float)
        out[prefix] = P[np.isfinite(P).all(axis=1)]
    return out


def measure(P: np.ndarray, method: str, repeat: int) -> dict:
    """CPU seconds to fit one kind's embedding on ``P`` and to score its rows (medians)."""
    from petro.models.embedding import fit_embedding
    from petro.models.runtime import pca_scores

    cols = [f"amp_patch_{j:02d}" for j in range(P.shape[1])]
    fit, pred = [], []
    for _ in range(repeat):
        t0 = time.process_time()
        (g,) = fit_embedding(P, cols, 4, method=method, seed=0)
        t1 = time.process_time()
        pca_scores(P, g)
        pred.append(time.process_time() - t1)
        fit.append(t1 - t0)
    return {"fit_s": statistics.median(fit), "predict_s": statistics.median(pred)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--field", help="a folder of wells (default: a synthetic field)")
    ap.add_argument("--wells", type=int, default=4, help="wells of the synthetic field")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    with tempfile.TemporaryDirectory(prefix="petro-emb-") as tmp:
        field = Path(args.field) if args.field else Path(tmp)
        if not args.field:
            from petro.synth import SynthConfig, write_field

            write_field(field, SynthConfig(wells=args.wells, seed=7, thickness=40.0))
        kinds = patch_rows(field)
    res: dict[str, dict] = {}
    with threadpool_limits(1):
        for method in ("pca", "autoencoder"):
            parts = [measure(P, method, args.repeat) for P in kinds.values()]
            rows = sum(len(P) for P in kinds.values())
            res[method] = {"fit_s_per_1000": 1000 * sum(p["fit_s"] for p in parts) / rows,
                           "predict_ms_per_1000": 1e6 * sum(p["predict_s"] for p in parts) / rows,
                           "rows": rows, "kinds": len(kinds)}
            print(f"{method}: fit {res[method]['fit_s_per_1000']:.4f} CPU-s / 1,000 image rows, "
                  f"predict {res[method]['predict_ms_per_1000']:.2f} CPU-ms / 1,000 rows "
                  f"({rows} patch rows over {len(kinds)} image kinds)")
    pca, ae = res["pca"], res["autoencoder"]
    table = [{"what": "image embedding fit, per 1,000 image rows: PCA, autoencoder",
              "value": f"{pca['fit_s_per_1000']:.4f} s, {ae['fit_s_per_1000']:.2f} s"},
             {"what": "image embedding predict, per 1,000 rows: PCA, autoencoder",
              "value": f"{pca['predict_ms_per_1000']:.2f} ms, {ae['predict_ms_per_1000']:.2f} ms"},
             {"what": "autoencoder / PCA fit time", "value":
              ae["fit_s_per_1000"] / max(pca["fit_s_per_1000"], 1e-12), "unit": "x"}]
    if args.json:
        Path(args.json).write_text(json.dumps({"table": table, **res}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
