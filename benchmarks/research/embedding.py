"""Learned embedding of the image patches: an autoencoder next to PCA (issue 25, item d).

For each field and target, leave-one-well-out over the NMR wells, pooled blind RMSE of a
LightGBM booster (petro's parameters, P50, boosted from petro's ridge on the log columns, no
input selection) on the logs at the scale of the beds (petro's log inputs plus the median and
robust spread of each log over 0.5 and 1.5 m) and, added to them:

- ``stats``: the image window statistics (every kind);
- ``pca``: 4 PCA components of each kind's 32 patch columns (fitted on the fold's training
  wells, as petro's);
- ``ae``: 4 bottleneck units of an autoencoder of each kind's patch columns (scikit-learn
  MLPRegressor 16-4-16 tanh, trained to reproduce the standardised columns; fitted on the
  fold's training wells; seeded, one thread);
- ``stats+pca`` (petro's representation) and ``stats+ae``.

Also the autoencoder's fit time per 1,000 patch rows and its predict time per 1,000 rows (CPU
seconds of the one thread: the machine's load does not enter).

``python benchmarks/research/embedding.py --workdir /tmp/r25x --fields demo --out emb.json``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (KINDS, TARGETS, bed_scale_table, fit_embedding,  # noqa: E402
                    lgb_fit_predict, lowo, model_target, research_cli, rmse)

VARIANTS = ("logs", "stats", "pca", "ae", "stats+pca", "stats+ae")


def _blocks(X: dict[str, np.ndarray], variant: str) -> np.ndarray:
    parts = [X["logs"]]
    for piece in variant.split("+"):
        if piece != "logs":
            parts.append(X[piece])
    return np.hstack(parts)


def fold_matrices(table, groups, base_cols, tr, te, timing) -> tuple[dict, dict]:
    """Training and blind matrices of each block (logs, stats, pca, ae) for one fold; the
    embeddings fitted on the training rows only. ``timing`` collects the AE's seconds."""
    Xtr = {"logs": table.iloc[tr][base_cols].to_numpy(dtype=float)}
    Xte = {"logs": table.iloc[te][base_cols].to_numpy(dtype=float)}
    stats = [c for k in KINDS for c in groups.get(f"{k}_stats", [])]
    Xtr["stats"] = table.iloc[tr][stats].to_numpy(dtype=float)
    Xte["stats"] = table.iloc[te][stats].to_numpy(dtype=float)
    for method in ("pca", "ae"):
        a, b = [], []
        for k in KINDS:
            cols = groups.get(f"{k}_patch")
            if not cols:
                continue
            Ptr = table.iloc[tr][cols].to_numpy(dtype=float)
            Pte = table.iloc[te][cols].to_numpy(dtype=float)
            t0 = time.process_time()      # CPU seconds (one thread): not the machine's load
            enc = fit_embedding(Ptr, method)
            t1 = time.process_time()
            a.append(enc(Ptr))
            t2 = time.process_time()
            b.append(enc(Pte))
            if method == "ae":
                timing["fit_s"] += t1 - t0
                timing["fit_rows"] += int(np.isfinite(Ptr).all(axis=1).sum())
                timing["predict_s"] += time.process_time() - t2
                timing["predict_rows"] += len(Pte)
        Xtr[method], Xte[method] = np.hstack(a), np.hstack(b)
    return Xtr, Xte


def run_field(name: str, workdir: str) -> dict:
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    table, cols, groups, base = bed_scale_table(name, workdir)
    wells = table["WELL"].astype(str).to_numpy()
    pred = {(t, v): np.full(len(table), np.nan) for t in TARGETS for v in VARIANTS}
    timing = {"fit_s": 0.0, "fit_rows": 0, "predict_s": 0.0, "predict_rows": 0}
    with threadpool_limits(1):
        for _, tr, te in lowo(wells):
            Xtr, Xte = fold_matrices(table, groups, base, tr, te, timing)
            for target in TARGETS:
                spec = cols[target]["spec"]
                y = model_target(table, spec)
                for v in VARIANTS:
                    pred[(target, v)][te] = lgb_fit_predict(_blocks(Xtr, v), y[tr],
                                                            _blocks(Xte, v), spec,
                                                            n_linear=len(base))
    out = {"wells": int(len(np.unique(wells))), "rows": int(len(table))}
    for target in TARGETS:
        y = model_target(table, cols[target]["spec"])
        out[target] = {v: rmse(target, pred[(target, v)] - y) for v in VARIANTS}
        print(f"{name} {target}: " + ", ".join(f"{v} {r:.3f}" for v, r in out[target].items()),
              flush=True)
    out["ae_fit_s_per_1000_rows"] = 1000 * timing["fit_s"] / max(timing["fit_rows"], 1)
    out["ae_predict_s_per_1000_rows"] = 1000 * timing["predict_s"] / max(timing["predict_rows"], 1)
    out["seconds"] = time.perf_counter() - t0
    print(f"{name}: AE fit {out['ae_fit_s_per_1000_rows']:.2f} s / 1000 rows, predict "
          f"{1000 * out['ae_predict_s_per_1000_rows']:.2f} ms / 1000 rows", flush=True)
    return out


def main(argv=None) -> int:
    return research_cli(__doc__, "embedding", lambda name, a: run_field(name, a.workdir), argv)


if __name__ == "__main__":
    sys.exit(main())
