"""Shared parts of the issue-25 research scripts: the fields, petro's training tables, windowed
log statistics, the image input groups, a plain LightGBM fit and the blind-well protocol.

Everything is built with petro as a library (``load_config`` of the packaged demo pipeline with
``synthetic.<key>`` overrides, ``read_wells``, ``training_table``, ``spec_columns``); nothing here
changes petro. Tables are cached as Parquet in ``WORKDIR/<field>/table.parquet``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

# name -> pipeline overrides of the packaged demo pipeline (seed 7, 8 wells, 6 with NMR)
FIELDS = {
    "demo": {},
    "s3": {"synthetic.seed": 3, "synthetic.wells": 6},
    "logs": {"synthetic.image_source": "logs"},
    "vis0": {"synthetic.log_vug_visibility": 0.0},
    "demo5": {"synthetic.wells": 5, "synthetic.nmr_fraction": 1.0},
    "logs5": {"synthetic.wells": 5, "synthetic.nmr_fraction": 1.0,
              "synthetic.image_source": "logs"},
    "vis05": {"synthetic.wells": 5, "synthetic.nmr_fraction": 1.0,
              "synthetic.log_vug_visibility": 0.0},
}
TARGETS = ("porosity", "permeability")
CONVENTIONAL = ("GR", "RHOB", "NPHI", "DT", "LOG10_RT", "CALI", "PEF")
SIX = ("GR", "RHOB", "NPHI", "DT", "LOG10_RT", "PEF")     # the six logs (no caliper)
WINDOWS_M = (0.15, 0.5, 1.5)                               # petro's image windows
KINDS = ("amp", "tt", "res")


def field_table(name: str, workdir: str | Path) -> tuple[pd.DataFrame, dict]:
    """petro's training table of field ``name`` (rows with a valid target) and, per target,
    petro's candidate inputs and logs-only inputs (``spec_columns``). The field is written
    into ``workdir/name/field`` first if it is not there."""
    from petro.app.trained import spec_columns
    from petro.app.training import training_table
    from petro.app.wells import read_wells
    from petro.config import load_config, packaged

    work = Path(workdir) / name
    cfg = load_config(packaged("pipelines", "demo.yaml"),
                      overrides={"data": str(work / "field"),
                                 "ingest.cache_dir": str(work / "cache"), **FIELDS[name]})
    cached = work / "table.parquet"
    if cached.exists():
        table = pd.read_parquet(cached)
    else:
        table = training_table(read_wells(cfg))
        table.to_parquet(cached)
    cols = {}
    for spec in cfg.specs:
        feats, logs_only = spec_columns(table, spec, cfg.logs)
        cols[spec.target] = {"spec": spec, "features": feats, "logs_only": logs_only}
    return table, cols


def model_target(table: pd.DataFrame, spec) -> np.ndarray:
    """The target in model space (porosity v/v; log10 permeability), NaN where invalid."""
    return table[spec.column].to_numpy(dtype=float)


def rmse(target: str, err: np.ndarray) -> float:
    """Pooled RMSE in p.u. (porosity) or decades (permeability)."""
    err = err[np.isfinite(err)]
    scale = 100.0 if target == "porosity" else 1.0
    return float(np.sqrt(np.mean(err ** 2)) * scale)


def _rolling(x: np.ndarray, n: int, how: str) -> np.ndarray:
    """Centred running median (``how='median'``) or robust spread (1.4826 MAD) over ``n``
    samples, NaN-aware; the ends use the samples there are."""
    h = n // 2
    pad = np.concatenate([np.full(h, np.nan), x, np.full(h, np.nan)])
    win = np.lib.stride_tricks.sliding_window_view(pad, n)
    with warnings.catch_warnings():     # all-NaN windows (a log missing there) give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(win, axis=1)
        if how == "median":
            return med
        return 1.4826 * np.nanmedian(np.abs(win - med[:, None]), axis=1)


def running_medians(table: pd.DataFrame, logs=SIX, samples=(3, 5, 9)) -> pd.DataFrame:
    """Centred running medians of ``logs`` over ``samples`` samples, per well (``{log}_med{n}``)."""
    out = {}
    for c in logs:
        for n in samples:
            out[f"{c}_med{n}"] = np.concatenate(
                [_rolling(g[c].to_numpy(dtype=float), n, "median")
                 for _, g in table.groupby("WELL", sort=False)])
    return pd.DataFrame(out, index=_well_order(table))


def _well_order(table: pd.DataFrame) -> pd.Index:
    return pd.Index(np.concatenate([g.index.to_numpy()
                                    for _, g in table.groupby("WELL", sort=False)]))


def window_samples(table: pd.DataFrame, window_m: float) -> int:
    """Samples in a centred depth window of ``window_m`` on the table's (regular) grid: odd."""
    step = float(np.nanmedian(np.diff(table["DEPT"].to_numpy(dtype=float))))
    half = int(np.floor(window_m / 2 / step + 1e-9))
    return 2 * half + 1


def windowed_log_stats(table: pd.DataFrame, logs=CONVENTIONAL, windows_m=WINDOWS_M) \
        -> pd.DataFrame:
    """Median and robust spread of each conventional log over centred depth windows (the image
    windows), per well: ``{log}_wmed{cm}`` and ``{log}_wmad{cm}``. A window of one sample
    (0.15 m on a 0.1524 m grid) gives the log itself and no spread, so it is left out."""
    out = {}
    for w in windows_m:
        n = window_samples(table, w)
        if n < 3:
            continue
        tag = f"{int(round(w * 100)):03d}"
        for c in logs:
            for how, key in (("median", "wmed"), ("mad", "wmad")):
                out[f"{c}_{key}{tag}"] = np.concatenate(
                    [_rolling(g[c].to_numpy(dtype=float), n, how)
                     for _, g in table.groupby("WELL", sort=False)])
    return pd.DataFrame(out, index=_well_order(table))


def image_groups(features: list[str]) -> dict[str, list[str]]:
    """Image inputs of ``features`` by group: ``{kind}_stats`` (window statistics) and
    ``{kind}_patch`` (the patch columns the embedding is learned from)."""
    from petro.vocab import parse_feature

    groups: dict[str, list[str]] = {}
    for f in features:
        p = parse_feature(f)
        if p.is_image:
            groups.setdefault(f"{p.block}_{'patch' if p.is_patch else 'stats'}", []).append(f)
    return groups


def lgb_fit_predict(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, spec,
                    seed: int | None = None, n_linear: int | None = None) -> np.ndarray:
    """P50 of a LightGBM booster with petro's parameters for ``spec`` (deterministic, one
    thread; ``seed`` overrides the spec's), boosted, as petro's, from a ridge fit on the first
    ``n_linear`` columns (the conventional-log inputs; None: no linear base)."""
    import lightgbm as lgb
    from petro.models.runtime import linear_base
    from petro.models.train import fit_linear_base, lgb_params

    params, rounds = lgb_params(spec, "regression")
    if seed is not None:
        params["seed"] = seed
    ok = np.isfinite(ytr)
    Xtr, ytr = Xtr[ok], ytr[ok]
    base_tr = base_te = None
    if n_linear:
        names = [f"x{j}" for j in range(n_linear)]
        lb = fit_linear_base(Xtr[:, :n_linear], ytr, names, spec)
        base_tr, base_te = linear_base(Xtr[:, :n_linear], lb), linear_base(Xte[:, :n_linear], lb)
    ds = lgb.Dataset(Xtr, ytr, init_score=base_tr,
                     params={"max_bin": params.get("max_bin", 255), "verbosity": -1})
    pred = lgb.train(params, ds, num_boost_round=rounds).predict(Xte)
    return pred if base_te is None else pred + base_te


def lowo(wells: np.ndarray):
    """Leave-one-well-out folds: (blind well, training rows, blind rows)."""
    for w in np.unique(wells):
        yield str(w), np.flatnonzero(wells != w), np.flatnonzero(wells == w)


def save(out: str | Path | None, result: dict) -> None:
    """Write ``result`` as JSON (with the time it was made) when ``out`` is given."""
    if out:
        result = {"written": time.strftime("%Y-%m-%d %H:%M:%S"), **result}
        Path(out).write_text(json.dumps(result, indent=1, default=float))


def fit_embedding(P: np.ndarray, method: str, k: int = 4, seed: int = 0):
    """A ``k``-dimensional embedding of patch rows ``P`` (rows x patch columns; rows with a gap
    are left out of the fit): ``'pca'`` (as petro's, centred), or ``'ae'``: an autoencoder, a
    scikit-learn MLPRegressor trained to reproduce the standardised rows through hidden layers
    of 16, ``k`` and 16 tanh units (adam, seeded; deterministic on one thread). Returns a
    function of patch rows -> scores (NaN where a row has a gap)."""
    from sklearn.decomposition import PCA
    from sklearn.neural_network import MLPRegressor

    rows = np.isfinite(P).all(axis=1)
    Z = P[rows]
    if method == "pca":
        model = PCA(n_components=k, svd_solver="covariance_eigh", random_state=0).fit(Z)
        encode = model.transform
    else:
        mean, scale = Z.mean(axis=0), Z.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        ae = MLPRegressor(hidden_layer_sizes=(16, k, 16), activation="tanh", solver="adam",
                          alpha=1e-4, learning_rate_init=1e-3, max_iter=300, tol=1e-5,
                          random_state=seed).fit((Z - mean) / scale, (Z - mean) / scale)

        def encode(X):
            h = (X - mean) / scale
            for W, b in zip(ae.coefs_[:2], ae.intercepts_[:2]):
                h = np.tanh(h @ W + b)
            return h

    def scores(X: np.ndarray) -> np.ndarray:
        out = np.full((X.shape[0], k), np.nan)
        ok = np.isfinite(X).all(axis=1)
        if ok.any():
            out[ok] = encode(X[ok])
        return out

    return scores


def bed_scale_table(name: str, workdir: str | Path):
    """Field ``name``'s table with the windowed log statistics added, petro's inputs per target
    (:func:`field_table`), its image groups and the base inputs: the logs at the scale of the
    beds (petro's log inputs plus the windowed statistics that vary)."""
    table, cols = field_table(name, workdir)
    win = windowed_log_stats(table).reindex(table.index)
    table = pd.concat([table, win], axis=1)
    groups = image_groups(cols["porosity"]["features"])
    base = cols["porosity"]["logs_only"] + [c for c in win.columns if table[c].std() > 0]
    return table, cols, groups, base


def research_cli(doc: str, script: str, run, argv=None, **extra) -> int:
    """The scripts' command line: ``--workdir``, ``--fields``, ``--out`` and ``extra`` integer
    options (name -> (default, help)); ``run(field, args)`` per field, the JSON saved after
    each field (a long run keeps what it measured)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--workdir", required=True, help="fields and cached tables (kept)")
    ap.add_argument("--fields", nargs="+", default=list(FIELDS), choices=list(FIELDS))
    ap.add_argument("--out", help="JSON of the results")
    for key, (default, text) in extra.items():
        ap.add_argument(f"--{key.replace('_', '-')}", type=int, default=default, help=text)
    args = ap.parse_args(argv)
    res = {}
    for name in args.fields:
        res[name] = run(name, args)
        save(args.out, {"script": script, "fields": res})
    return 0
