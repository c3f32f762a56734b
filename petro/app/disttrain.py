"""Training with LightGBM's own Dask interface (``lightgbm.dask``) when the feature table is too
large for one process: the path is chosen by :func:`choose_path`, the fit is
:func:`train_distributed`.

The choice (pipeline ``engine:``; see :class:`petro.config.EngineOptions`)::

    distributed_training: auto      # auto | never | always
    local_training_max_bytes: 2GiB  # the line; default: 0.25 x the smallest worker's memory limit
    training_sample_rows: 200000    # the bound on the in-memory sample (lightgbm.dask path)

``auto`` takes ``lightgbm.dask`` when a Dask scheduler is configured and the estimated feature
matrix of the training wells (rows x columns x 8 bytes, from the Parquet metadata of the
feature dataset: no table is read) exceeds the line. The run log says which path and why.

On the ``lightgbm.dask`` path the client never holds the feature table. Each training well's
Parquet file is read by one worker (wells placed round-robin over the workers in sorted well
order) and stays there as one partition. Fitted on every row, on the workers: the P50, P10 and
P90 boosters of the final model and of every blind-well fold (a fold is the partitions of its
training wells; its blind well's partition is predicted where it lives, by the runtime bundle,
and only the out-of-fold columns come back). Fitted on a bounded, well-stratified sample of rows
(at most ``training_sample_rows``, an equal share per well, seeded): the input selection of
each fold and of the final model (``max_inputs``), the input embedding (PCA of
the image patches), the ridge linear base, the novelty detector, the comparators (logs-only
model, scikit-learn baselines, the permeability poro-perm transform), the tuning searches and
the consistency and missing-input metadata. The conformal adjustments, novelty thresholds and
all blind metrics come from every out-of-fold row. The boosters are converted to plain LightGBM
text models (network parameters reset), so the logged model is the same bundle as the local
path's.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from petro.app.events import Reporter
from petro.app.wells import WellResult
from petro.config import LOCAL_TRAINING_DEFAULT, LOCAL_TRAINING_SHARE, EngineOptions
from petro.errors import ConfigError, ModelError
from petro.models.selection import select_inputs
from petro.vocab import VALID

LOCAL, DASK = "local", "lightgbm.dask"


def fmt_bytes(n: float) -> str:
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


@dataclass
class TrainingPlan:
    """Which training path, and the figures it was chosen on."""

    path: str                      # LOCAL | DASK
    mode: str                      # engine.distributed_training
    reason: str
    rows: int
    columns: int
    wells: int
    estimated_bytes: int
    line_bytes: int | None = None
    line_source: str = ""
    sample_rows: int | None = None   # the in-memory sample (DASK path)

    @property
    def distributed(self) -> bool:
        return self.path == DASK

    def message(self) -> str:
        return f"training path: {self.path} ({self.reason})"

    def params(self) -> dict:
        """For MLflow (``training.*``)."""
        out = {"training.path": self.path, "training.mode": self.mode,
               "training.reason": self.reason, "training.estimated_bytes": self.estimated_bytes,
               "training.table_rows": self.rows, "training.table_columns": self.columns}
        if self.line_bytes is not None:
            out["training.local_max_bytes"] = self.line_bytes
        if self.sample_rows is not None:
            out["training.sample_rows"] = self.sample_rows
        return out


def training_wells(wells: list[WellResult]) -> list[WellResult]:
    """The wells training uses: with targets and a table (in memory or in the dataset)."""
    return sorted((w for w in wells if w.has_targets and
                   (w.table is not None or w.table_path)), key=lambda w: w.name)


def table_size(wells: list[WellResult]) -> tuple[int, int, int]:
    """``(rows, columns, bytes)`` of the training wells' feature table as float64: from the
    Parquet footers of stored tables (nothing is read), from the tables held otherwise. An
    upper bound: every row and column of the files, before the valid-target filter."""
    import pyarrow.parquet as pq

    rows = cols = nbytes = 0
    for w in training_wells(wells):
        if w.table_path:
            md = pq.read_metadata(w.table_path)
            r, c = md.num_rows, md.num_columns
        else:
            r, c = w.table.shape
        rows, cols, nbytes = rows + r, max(cols, c), nbytes + r * c * 8
    return rows, cols, nbytes


def local_line(opts: EngineOptions, client) -> tuple[int, str]:
    """The largest estimated table trained in one process, and where the figure comes from."""
    if opts.local_training_max_bytes:
        return int(opts.local_training_max_bytes), "engine.local_training_max_bytes"
    limits = [int(w.get("memory_limit") or 0)
              for w in client.scheduler_info().get("workers", {}).values()]
    limits = [x for x in limits if x > 0]
    if limits:
        return int(LOCAL_TRAINING_SHARE * min(limits)), \
            (f"{LOCAL_TRAINING_SHARE:g} x the smallest worker memory limit "
             f"{fmt_bytes(min(limits))}")
    return LOCAL_TRAINING_DEFAULT, "default: the workers report no memory limit"


def choose_path(opts: EngineOptions, wells: list[WellResult], client) -> TrainingPlan:
    """Local training or ``lightgbm.dask`` (``client``: None without a scheduler)."""
    mode = opts.distributed_training
    rows, cols, est = table_size(wells)
    n = len(training_wells(wells))
    size = f"estimated feature matrix {fmt_bytes(est)} = {rows} rows x {cols} columns x 8 B"
    plan = TrainingPlan(LOCAL, mode, "", rows, cols, n, est)
    if mode == "never":
        return replace(plan, reason=f"engine.distributed_training: never; {size}")
    if client is None:
        if mode == "always":
            raise ConfigError("engine.distributed_training: always needs a Dask scheduler "
                              "(engine.scheduler, --scheduler or DASK_SCHEDULER_ADDRESS)")
        return replace(plan, reason=f"no Dask scheduler; {size}")
    line, source = local_line(opts, client)
    plan = replace(plan, line_bytes=line, line_source=source)
    if mode == "always":
        return replace(plan, path=DASK, reason=f"engine.distributed_training: always; {size}")
    if est > line:
        return replace(plan, path=DASK, reason=f"{size} > local line {fmt_bytes(line)} "
                                               f"({source})")
    return replace(plan, reason=f"{size} <= local line {fmt_bytes(line)} ({source})")


# ------------------------------------------------------------------ worker functions
def read_part(source, columns: list[str]) -> pd.DataFrame:
    """A training well's valid rows, ``columns`` only (absent ones NaN); ``source`` is the
    table's Parquet file or the table."""
    if isinstance(source, str):
        import pyarrow.parquet as pq

        have = set(pq.read_schema(source).names)
        table = pd.read_parquet(source, columns=[c for c in columns if c in have])
    else:
        table = source[[c for c in columns if c in source.columns]]
    table = table.reindex(columns=columns)
    return table[table[VALID].fillna(False).astype(bool)].reset_index(drop=True)


def part_stats(part: pd.DataFrame, column: str) -> tuple[int, float, float, float]:
    """``(n, sum, min, max)`` of the finite targets of a partition."""
    y = part[column].to_numpy(dtype=float)
    y = y[np.isfinite(y)]
    if y.size == 0:
        return 0, 0.0, math.inf, -math.inf
    return int(y.size), float(y.sum()), float(y.min()), float(y.max())


def sample_part(part: pd.DataFrame, k: int, seed: int) -> pd.DataFrame:
    """At most ``k`` rows of a partition, seeded, in depth order."""
    if len(part) <= k:
        return part
    idx = np.sort(np.random.default_rng(seed).choice(len(part), size=k, replace=False))
    return part.iloc[idx].reset_index(drop=True)


def model_part(parts: list[pd.DataFrame], features: list[str], prep: dict, column: str) \
        -> pd.DataFrame:
    """One worker's wells as the boosters' inputs: the model matrix (named as LightGBM stores
    the features), the target ``__y`` and the linear base ``__base`` (0 without one)."""
    from petro.models.train import booster_names, model_inputs

    part = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    y = part[column].to_numpy(dtype=float)
    ok = np.isfinite(y)
    Xm, base = model_inputs(part.loc[ok, features].to_numpy(dtype=float), prep)
    out = pd.DataFrame(Xm, columns=booster_names(prep["model_features"]))
    out["__y"] = y[ok]
    out["__base"] = base if base is not None else 0.0
    return out


def blind_part(part: pd.DataFrame, bundle, features: list[str], column: str,
               logs_only: list[str] | None, logs_bundle, base_cols: list[str], sk: dict,
               petro_train: pd.DataFrame, spec, mean: float, block_names: list[str]):
    """A blind well's out-of-fold rows (as :func:`petro.models.validation.cross_validate`
    builds them) and their novelty distances per block, computed where the partition lives."""
    from petro.models.validation import petro_baseline

    y = part[column].to_numpy(dtype=float)
    data = part[np.isfinite(y)].reset_index(drop=True)
    y = data[column].to_numpy(dtype=float)
    X = data[features].to_numpy(dtype=float)
    q = bundle.raw_quantiles(X)
    out = pd.DataFrame({"WELL": data["WELL"].astype(str).to_numpy(),
                        "DEPT": data["DEPT"].to_numpy(), "y": y, "p50": q["p50"],
                        "lo": q["p10"], "hi": q["p90"], "dist": np.nan, "mean": mean,
                        "petro": petro_baseline(petro_train, data, spec), "logs_only": np.nan})
    if logs_only:
        out["logs_only"] = logs_bundle.raw_quantiles(
            data[logs_only].to_numpy(dtype=float))["p50"]
    for name, est in sk.items():
        out[f"sk_{name}"] = est.predict(data[base_cols].to_numpy(dtype=float))
    D = np.full((len(data), len(block_names)), np.nan)
    if "novelty" in bundle.meta:
        names = [b["name"] for b in bundle.meta["novelty"]["blocks"]]
        D[:, [block_names.index(b) for b in names]] = bundle.novelty_distances(X)
    return out, D


# ------------------------------------------------------------------ the distributed fit
# the network parameters lightgbm.dask sets (workers' addresses and ports change from run to
# run), written back as a one-machine fit has them
_SERIAL = {"machines": "", "local_listen_port": "12400", "num_machines": "1", "time_out": "120"}
_NETWORK = re.compile(r"^\[(" + "|".join(_SERIAL) + r"): .*\]$", re.M)


def plain_booster(model):
    """A fitted ``DaskLGBMRegressor`` as a plain LightGBM booster: its text with the network
    parameters reset (:data:`_SERIAL`); the trees and other parameters as fitted."""
    import lightgbm as lgb

    text = model.to_local().booster_.model_to_string()
    text = _NETWORK.sub(lambda m: f"[{m.group(1)}: {_SERIAL[m.group(1)]}]", text)
    return lgb.Booster(model_str=text)


class RankedClient:
    """The Dask client as ``lightgbm.dask`` sees it: ``who_has`` answers in the order of the
    parts it is asked about.

    ``lightgbm.dask`` gives LightGBM rank 0 to the worker holding the first part in the order
    ``Client.who_has`` returns, and ``distributed`` builds that answer from a set of keys: the
    order, hence which worker gets which rank, changed from fit to fit. LightGBM's data-parallel
    learner finds each feature's histogram bins on the worker whose rank owns that feature,
    from that worker's rows, so two fits on the same partitions gave different trees. With the
    parts' order kept, rank ``i`` is the worker of the ``i``-th partition (petro puts the
    workers in the order of their first well), and the same placement gives the same trees."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def who_has(self, futures=None, **kwargs):
        found = self._client.who_has(futures, **kwargs)
        if futures is None:
            return found
        return {f.key: found[f.key] for f in futures}


class Cluster:
    """The training wells as partitions on the workers (see the module docstring)."""

    def __init__(self, client, wells: list[WellResult], columns: list[str]):
        self.client = client
        token = os.urandom(4).hex()
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise ConfigError("lightgbm.dask training: the Dask cluster has no workers")
        self.names = [w.name for w in wells]
        self.where = {w.name: workers[i % len(workers)] for i, w in enumerate(wells)}
        self.parts = {}
        for w in wells:
            src = w.table_path or client.scatter(w.table, workers=[self.where[w.name]])
            self.parts[w.name] = client.submit(read_part, src, columns,
                                               key=f"petro-part-{w.name}-{token}",
                                               workers=[self.where[w.name]],
                                               allow_other_workers=False, pure=False)

    def on(self, well: str, fn, *args):
        """``fn(<well's partition>, *args)`` on the worker that holds it (a future)."""
        return self.client.submit(fn, self.parts[well], *args, workers=[self.where[well]],
                                  allow_other_workers=False, pure=False)

    def gather(self, futures):
        return self.client.gather(futures)

    def sample(self, rows: int, seed: int) -> pd.DataFrame:
        k = max(1, math.ceil(rows / len(self.names)))
        parts = self.gather([self.on(w, sample_part, k, seed + i)
                             for i, w in enumerate(self.names)])
        return pd.concat(parts, ignore_index=True)

    def fit(self, wells: list[str], features: list[str], prep: dict, spec, heads) -> dict:
        """The boosters of ``heads`` fitted with ``lightgbm.dask`` on every row of ``wells``."""
        import dask.dataframe as dd
        from lightgbm.dask import DaskLGBMRegressor

        from petro.models.train import booster_names, lgb_params

        # one partition per worker (its training wells, concatenated there), workers in the
        # order of their first well: LightGBM's rank 0 holds the first well, and so on
        by_worker: dict[str, list[str]] = {}
        for w in wells:
            by_worker.setdefault(self.where[w], []).append(w)
        futs = [self.client.submit(model_part, [self.parts[w] for w in ws], features, prep,
                                   spec.column, workers=[worker], allow_other_workers=False,
                                   pure=False)
                for worker, ws in by_worker.items()]
        meta = pd.DataFrame({c: pd.Series(dtype=float) for c in
                             booster_names(prep["model_features"]) + ["__y", "__base"]})
        ddf = dd.from_delayed(futs, meta=meta, verify_meta=False)
        X, y = ddf[list(meta.columns[:-2])], ddf["__y"]
        init = ddf["__base"] if prep["linear_base"] else None
        boosters = {}
        for key, objective, alpha in heads:
            params, rounds = lgb_params(spec, objective, alpha)
            params.pop("num_threads")   # lightgbm.dask sets it to each worker's threads
            model = DaskLGBMRegressor(client=RankedClient(self.client), n_estimators=rounds,
                                      **params)
            with self.client.as_current(), warnings.catch_warnings():
                # lightgbm.dask waits on the current client; it warns that the estimator's
                # n_jobs (None: unset) is ignored
                warnings.filterwarnings("ignore", "Parameter n_jobs will be ignored")
                model.fit(X, y, init_score=init)
            boosters[key] = plain_booster(model)
        for f in futs:
            f.release()
        return boosters

    def close(self) -> None:
        self.client.cancel(list(self.parts.values()))


def _rows(table: pd.DataFrame, features: list[str], column: str):
    y = table[column].to_numpy(dtype=float)
    ok = np.isfinite(y)
    return table.loc[ok, features].to_numpy(dtype=float), y[ok]


def _bundle(cluster: Cluster, wells: list[str], sample: pd.DataFrame, features: list[str],
            spec, stats: dict, conformal=None, thresholds=None, p50_only=False):
    """A runtime bundle fitted on the workers (boosters) and the sample (the rest)."""
    from petro.models.runtime import Bundle
    from petro.models.train import add_novelty, bundle_meta, fit_inputs, heads, model_inputs

    Xs, ys = _rows(sample[sample["WELL"].astype(str).isin(wells)], features, spec.column)
    n = sum(stats[w][0] for w in wells)
    if n < 20 or ys.size < 2:
        raise ModelError(f"{spec.name}: only {n} valid target samples; need at least 20")
    prep = fit_inputs(Xs, ys, features, spec)
    boosters = cluster.fit(wells, features, prep, spec, heads(spec, p50_only))
    meta = bundle_meta(spec, prep, min(stats[w][2] for w in wells),
                       max(stats[w][3] for w in wells), n, conformal)
    add_novelty(meta, model_inputs(Xs, prep)[0], thresholds)
    return Bundle(meta, boosters)


def _fold_spec(spec, sample_train: pd.DataFrame, features: list[str], name: str, nested: bool,
               task_map=None):
    """Nested tuning of a fold on its training wells' sample (as the local fold does; the
    trials as tasks of ``task_map``)."""
    if not nested:
        return spec, None
    if sample_train["WELL"].nunique() < 2:
        return spec, {"fold": name, "trials_run": 0, "trials_planned": 0,
                      "stopped": "one training well: no search, the spec's parameters are used",
                      "inner_rmse": float("nan")}
    from petro.models.tuning import tune

    best, trials = tune(sample_train, features, spec, task_map=task_map)
    return replace(spec, params=best), {
        "fold": name, "trials_run": trials.attrs["run"], "trials_planned": trials.attrs["planned"],
        "stopped": trials.attrs["stopped"], "inner_rmse": float(trials["blind_rmse"].min()),
        **{f"param.{k}": v for k, v in best.items()}}


def cross_validate_dask(cluster: Cluster, sample: pd.DataFrame, features: list[str], spec, *,
                        logs_only: list[str] | None, nested: bool, progress=None,
                        task_map=None):
    """Blind-well validation with each fold's boosters fitted by ``lightgbm.dask`` on every
    row of its training wells and applied to every row of its blind wells."""
    from petro.models.train import fit_bundle, novelty_blocks, sklearn_estimator
    from petro.models.validation import folds, summarise

    stats = dict(zip(cluster.names, cluster.gather(
        [cluster.on(w, part_stats, spec.column) for w in cluster.names])))
    names = [w for w in cluster.names if stats[w][0] > 0]
    codes = np.repeat(np.arange(len(names)), [stats[w][0] for w in names])
    block_names = list(novelty_blocks(features))
    base_cols = [f for f in (logs_only or features) if f in sample.columns]
    sample_wells = sample["WELL"].astype(str)
    frames: dict[str, tuple] = {}
    imp = pd.Series(dtype=float)
    tuned = []
    fold_inputs: dict[str, list[str]] = {}
    n_folds = 0
    for name, _, te in folds(codes, spec):
        test = [names[i] for i in np.unique(codes[te])]
        train = [w for w in names if w not in test]
        name = test[0] if len(test) == 1 and name.isdigit() else name
        st = sample[sample_wells.isin(train)].reset_index(drop=True)
        fold_features = features
        if spec.max_inputs:   # input selection on the fold's training wells (their sample)
            fold_features = select_inputs(*_rows(st, features, spec.column), features, spec)
        fold_inputs[name] = fold_features
        fspec, tuning = _fold_spec(spec, st, fold_features, name, nested, task_map)
        if tuning:
            tuned.append(tuning)
        bundle = _bundle(cluster, train, sample, fold_features, fspec, stats)
        imp = imp.add(pd.Series(bundle.boosters["p50"].feature_importance("gain"),
                                index=bundle.model_features), fill_value=0.0)
        lb = None
        if logs_only:
            lb = fit_bundle(*_rows(st, logs_only, spec.column), logs_only, fspec,
                            with_novelty=False, p50_only=True)
        sk = {}
        for b in spec.baselines:
            Xb, yb = _rows(st, base_cols, spec.column)
            sk[b] = sklearn_estimator(b, {}, seed=spec.seed).fit(Xb, yb)
        petro_train = st[[c for c in ("PHID", spec.column) if c in st.columns]]
        mean = sum(stats[w][1] for w in train) / sum(stats[w][0] for w in train)
        futs = {w: cluster.on(w, blind_part, bundle, fold_features, spec.column, logs_only, lb,
                              base_cols, sk, petro_train, fspec, mean, block_names)
                for w in test}
        frames.update(zip(futs, cluster.gather(list(futs.values()))))
        n_folds += 1
        if progress:
            progress(name)
    oof = pd.concat([frames[w][0] for w in names], ignore_index=True)
    for b in spec.baselines:
        oof[f"sk_{b}"] = oof.pop(f"sk_{b}")
    D = np.vstack([frames[w][1] for w in names])
    return summarise(oof, D, block_names, imp / n_folds, spec, features, tuned,
                     bool(logs_only), fold_inputs), stats


def train_distributed(cfg, wells: list[WellResult], rep: Reporter, client, plan: TrainingPlan,
                      task_map=None):
    """Train every model of ``cfg`` with ``lightgbm.dask`` (see the module docstring)."""
    import pyarrow.parquet as pq

    from petro.app.trained import FOLDS, TUNING, TrainedModel, TrainResult, spec_columns
    from petro.features.table import model_features
    from petro.models.novelty import trust_meta

    train = training_wells(wells)
    if not train:
        raise ModelError("no well with NMR targets could be read: nothing to train on")
    columns: list[str] = []
    for w in train:
        names = pq.read_schema(w.table_path).names if w.table_path else list(w.table.columns)
        columns += [c for c in names if c not in columns]
    wanted = model_features(columns, ["logs", "image"], cfg.logs)
    keep = ["WELL", "DEPT", VALID, "PHID"] + [s.column for s in cfg.specs] + wanted
    keep = [c for c in dict.fromkeys(keep) if c in columns or c == "PHID"]
    cluster = Cluster(client, train, keep)
    try:
        seed = cfg.specs[0].seed if cfg.specs else 0
        sample = cluster.sample(cfg.engine.training_sample_rows, seed)
        plan.sample_rows = len(sample)
        held = [w.name for w in train if w.table is not None and not w.table_path]
        rep.note(f"lightgbm.dask: {len(train)} training wells as partitions on "
                 f"{len(set(cluster.where.values()))} workers; boosters (final model and every "
                 f"blind-well fold) fitted on every row on the workers; on a well-stratified "
                 f"sample of {len(sample)} of {plan.rows} rows: input selection (max_inputs), "
                 f"input embedding (PCA), linear "
                 f"base, novelty detector, comparators (logs-only, baselines, poro-perm), "
                 f"tuning, consistency and missing-input metadata" +
                 (f"; tables of {held} were sent from this process (not in the feature dataset)"
                  if held else ""))
        rep.start(FOLDS, sum(1 for _ in cluster.names) * len(cfg.specs))
        models = []
        for spec in cfg.specs:
            feats, logs_only, logs, nested = spec_columns(sample, spec, cfg.logs)
            trials = None

            def prog(fold, s=spec):
                rep.advance(FOLDS, f"{s.name}: {fold}")

            if nested:
                cv, stats = cross_validate_dask(cluster, sample, feats, spec, logs_only=logs,
                                                nested=True, progress=prog, task_map=task_map)
            # the final model's inputs: the same selection as in each fold, on the sample
            inputs = select_inputs(*_rows(sample, feats, spec.column), feats, spec) \
                if spec.max_inputs else feats
            if spec.tuning:   # the final model's parameters: the search on the sample
                from petro.models.tuning import tune, tuning_settings

                rep.start(TUNING, tuning_settings(spec)["trials"])
                best, trials = tune(sample, inputs, spec, n_jobs=cfg.n_jobs, task_map=task_map,
                                    progress=lambda t, s=spec: rep.advance(TUNING,
                                                                           f"{s.name}: {t}"))
                rep.end(TUNING)
                spec = replace(spec, params=best)
            if not nested:
                cv, stats = cross_validate_dask(cluster, sample, feats, spec, logs_only=logs,
                                                nested=False, progress=prog)
            names = [w for w in cluster.names if stats[w][0] > 0]
            bundle = _bundle(cluster, names, sample, inputs, spec, stats,
                             conformal={"lo": cv.conformal_adj, "hi": cv.conformal_adj},
                             thresholds=cv.novelty_thresholds)
            bundle.meta["cv"] = {"pooled": cv.pooled["model"],
                                 "wells": sorted(cv.oof.WELL.unique())}
            bundle.meta.update(trust_meta(sample, inputs, cv.importance,
                                          bundle.meta.get("pca", []), spec.novelty_quantile,
                                          cfg.ingest.aliases,
                                          cv.oof if spec.conformal else None,
                                          spec.nominal_coverage, cfg.ood_policy))
            bundle.meta["target_params"] = dict(cfg.targets.as_params())
            bundle.meta["recipe"] = cfg.recipe()
            bundle.meta["training"] = {"path": DASK, "sample_rows": len(sample),
                                       "rows": int(sum(stats[w][0] for w in names))}
            models.append(TrainedModel(spec, inputs, cv, bundle, logs_only, trials))
        rep.end(FOLDS)
    finally:
        cluster.close()
    return TrainResult(cfg, wells, sample, models, plan)
