"""Keep an image input group only where it helps, decided blind (issue 25, item e).

Base inputs: the logs at the scale of the beds (petro's log inputs plus the median and robust
spread of each log over 0.5 and 1.5 m). Image groups: each kind (``amp``, ``tt``, ``res``: its
window statistics and its embedding, 4 PCA components of its patch columns fitted on the
training wells of the fold that uses it), and ``images``, every kind at once. The model: a
LightGBM booster with petro's parameters boosted from petro's ridge on the base columns.

For each outer leave-one-well-out fold, on its training wells only: inner leave-one-well-out,
for each group the gain ``G`` = pooled inner RMSE of the base minus that of base + group
(positive: the group helps), its per-inner-fold gains (their standard error ``SE``) and, with
``--seeds`` > 1, its spread over LightGBM seeds. Decision rules, each keeping the groups that
pass:

- ``all``: every group (petro today); ``none``: the base alone;
- ``gain>0``: ``G > 0``;
- ``gain>1se``: ``G > SE``; ``gain>2se``: ``G > 2 SE``;
- ``gain>2%``: ``G`` above 2 % of the base's inner RMSE and positive in most inner folds.

The outer blind well is then predicted by a model fitted on the training wells with the base
and the kept groups. Reported per field and target: the pooled blind RMSE of each rule, how
often each group was kept, and the inner gains (mean over outer folds, with SE and seed spread).

``python benchmarks/research/image_gain.py --workdir /tmp/r25x --fields logs vis0 --out g.json``
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (KINDS, TARGETS, bed_scale_table, fit_embedding,  # noqa: E402
                    lgb_fit_predict, lowo, model_target, research_cli, rmse)

RULES = ("none", "all", "gain>0", "gain>1se", "gain>2se", "gain>2%")


def group_matrices(table, groups, tr, te) -> tuple[dict, dict]:
    """Training / blind matrices of each image group; embeddings fitted on ``tr`` only."""
    a, b = {}, {}
    for k in KINDS:
        parts_a, parts_b = [], []
        if f"{k}_stats" in groups:
            cols = groups[f"{k}_stats"]
            parts_a.append(table.iloc[tr][cols].to_numpy(dtype=float))
            parts_b.append(table.iloc[te][cols].to_numpy(dtype=float))
        if f"{k}_patch" in groups:
            cols = groups[f"{k}_patch"]
            enc = fit_embedding(table.iloc[tr][cols].to_numpy(dtype=float), "pca")
            parts_a.append(enc(table.iloc[tr][cols].to_numpy(dtype=float)))
            parts_b.append(enc(table.iloc[te][cols].to_numpy(dtype=float)))
        if parts_a:
            a[k], b[k] = np.hstack(parts_a), np.hstack(parts_b)
    a["images"] = np.hstack([a[k] for k in KINDS if k in a])
    b["images"] = np.hstack([b[k] for k in KINDS if k in b])
    return a, b


def fit_predict(table, base, groups, kept, tr, te, y, spec, seed=None) -> np.ndarray:
    """Blind predictions of a model on the base and the ``kept`` groups, fitted on ``tr``."""
    Xtr = [table.iloc[tr][base].to_numpy(dtype=float)]
    Xte = [table.iloc[te][base].to_numpy(dtype=float)]
    if kept:
        a, b = group_matrices(table, groups, tr, te)
        Xtr += [a[g] for g in kept]
        Xte += [b[g] for g in kept]
    return lgb_fit_predict(np.hstack(Xtr), y[tr], np.hstack(Xte), spec, seed,
                           n_linear=len(base))


def inner_gains(table, base, groups, names, rows, y, spec, seeds) -> dict:
    """Inner leave-one-well-out on ``rows`` (the outer fold's training rows): per seed, the
    pooled gain of each group and its per-inner-fold gains."""
    sub = table.iloc[rows].reset_index(drop=True)
    ys = y[rows]
    wells = sub["WELL"].astype(str).to_numpy()
    out = {g: {"pooled": [], "per_fold": []} for g in names}
    base_rmse = []
    for seed in seeds:
        pred = {g: np.full(len(sub), np.nan) for g in (None, *names)}
        folds = list(lowo(wells))
        for _, itr, ite in folds:
            a, b = group_matrices(sub, groups, itr, ite)
            Xb_tr = sub.iloc[itr][base].to_numpy(dtype=float)
            Xb_te = sub.iloc[ite][base].to_numpy(dtype=float)
            nl = len(base)
            pred[None][ite] = lgb_fit_predict(Xb_tr, ys[itr], Xb_te, spec, seed, nl)
            for g in names:
                pred[g][ite] = lgb_fit_predict(np.hstack([Xb_tr, a[g]]), ys[itr],
                                               np.hstack([Xb_te, b[g]]), spec, seed, nl)
        r0 = rmse(spec.target, pred[None] - ys)
        base_rmse.append(r0)
        for g in names:
            out[g]["pooled"].append(r0 - rmse(spec.target, pred[g] - ys))
            out[g]["per_fold"].append([rmse(spec.target, (pred[None] - ys)[ite])
                                       - rmse(spec.target, (pred[g] - ys)[ite])
                                       for _, _, ite in folds])
    return {"base": base_rmse, "groups": out}


def decide(gains: dict) -> dict[str, list[str]]:
    """The image kinds each rule keeps, from one outer fold's inner gains (seed-averaged): the
    kinds that pass on their own or, when none does but all kinds together pass, every kind."""
    base = float(np.mean(gains["base"]))
    tests = {r: {} for r in RULES[2:]}
    for g, d in gains["groups"].items():
        G = float(np.mean(d["pooled"]))
        per = np.mean(np.asarray(d["per_fold"]), axis=0)      # per inner fold, seed-averaged
        se = float(np.std(per, ddof=1) / np.sqrt(per.size)) if per.size > 1 else np.inf
        tests["gain>0"][g] = G > 0
        tests["gain>1se"][g] = G > se
        tests["gain>2se"][g] = G > 2 * se
        tests["gain>2%"][g] = G > 0.02 * base and (per > 0).mean() > 0.5
    kinds = [g for g in gains["groups"] if g != "images"]
    kept = {"none": [], "all": kinds}
    for rule, passed in tests.items():
        kept[rule] = [k for k in kinds if passed[k]] or (kinds if passed["images"] else [])
    return kept


def outer_fold(job) -> dict:
    """One outer fold: inner gains on its training wells, then the blind well under each rule."""
    from threadpoolctl import threadpool_limits

    table, base, groups, names, tr, te, target_specs, seeds = job
    res = {}
    with threadpool_limits(1):
        for target, spec in target_specs.items():
            y = model_target(table, spec)
            gains = inner_gains(table, base, groups, names, tr, y, spec, seeds)
            kept = decide(gains)
            preds, done = {}, {}
            for rule, groups_kept in kept.items():
                key = tuple(groups_kept)
                if key not in done:
                    done[key] = fit_predict(table, base, groups, list(key), tr, te, y, spec)
                preds[rule] = done[key]
            res[target] = {"gains": gains, "kept": kept, "pred": preds}
    return res


def run_field(name: str, workdir: str, seeds, n_jobs: int) -> dict:
    t0 = time.perf_counter()
    table, cols, groups, base = bed_scale_table(name, workdir)
    names = [k for k in KINDS if f"{k}_stats" in groups or f"{k}_patch" in groups] + ["images"]
    specs = {t: cols[t]["spec"] for t in TARGETS}
    folds = list(lowo(table["WELL"].astype(str).to_numpy()))
    jobs = [(table, base, groups, names, tr, te, specs, seeds) for _, tr, te in folds]
    with ProcessPoolExecutor(n_jobs) as ex:
        results = list(ex.map(outer_fold, jobs))
    out = {"wells": len(folds), "rows": int(len(table)), "seeds": list(seeds)}
    for target in TARGETS:
        y = model_target(table, specs[target])
        blind = {}
        for rule in RULES:
            p = np.full(len(table), np.nan)
            for (_, _, te), r in zip(folds, results):
                p[te] = r[target]["pred"][rule]
            blind[rule] = rmse(target, p - y)
        gains = {}
        for g in names:
            pooled = np.array([r[target]["gains"]["groups"][g]["pooled"] for r in results])
            per = [np.mean(np.asarray(r[target]["gains"]["groups"][g]["per_fold"]), axis=0)
                   for r in results]
            gains[g] = {"mean": float(pooled.mean()),
                        "se": float(np.mean([np.std(x, ddof=1) / np.sqrt(x.size) for x in per])),
                        "seed_sd": float(np.mean(pooled.std(axis=1, ddof=1)))
                        if pooled.shape[1] > 1 else None,
                        "outer_sd": float(pooled.mean(axis=1).std(ddof=1))}
        out[target] = {"blind": blind, "gains": gains,
                       "kept": {r: {g: sum(g in x[target]["kept"][r] for x in results)
                                    / len(folds) for g in names if g != "images"}
                                for r in RULES[2:]},
                       "inner_base": float(np.mean([np.mean(r[target]["gains"]["base"])
                                                    for r in results]))}
        print(f"{name} {target}: blind " + ", ".join(f"{k} {v:.3f}" for k, v in blind.items()),
              flush=True)
        print("   inner gain (mean / SE / seed sd / sd over outer folds): " + "; ".join(
            f"{g} {d['mean']:+.3f}/{d['se']:.3f}/"
            f"{'-' if d['seed_sd'] is None else format(d['seed_sd'], '.3f')}/{d['outer_sd']:.3f}"
            for g, d in gains.items()), flush=True)
    out["seconds"] = time.perf_counter() - t0
    return out


def main(argv=None) -> int:
    return research_cli(
        __doc__, "image_gain",
        lambda name, a: run_field(name, a.workdir,
                                  list(range(a.seeds)) if a.seeds > 1 else [None], a.jobs),
        argv, seeds=(1, "LightGBM seeds of the inner CV"),
        jobs=(2, "outer folds in parallel processes"))


if __name__ == "__main__":
    sys.exit(main())
