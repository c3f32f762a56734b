"""Training with LightGBM's own Dask interface (``lightgbm.dask``) when the feature table is too
large for one process: the path is chosen by :func:`choose_path`; the training itself is the one
pipeline of the models layer (:func:`petro.models.pipeline.train_model`), given the cluster's
placement of the rows (:func:`on_cluster`, :class:`ClusterRows`) and its booster fitter
(:meth:`Cluster.fit`).

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import pandas as pd

from petro.app.events import Reporter
from petro.app.wells import WellResult
from petro.config import LOCAL_TRAINING_DEFAULT, LOCAL_TRAINING_SHARE, EngineOptions
from petro.errors import ConfigError, DataError
from petro.models.blind import FoldModel, blind_rows
from petro.models.rows import Fold, blind_folds
from petro.models.spec import ModelSpec
from petro.models.train import TargetStats, booster_names, lgb_params, model_inputs
from petro.vocab import DEPTH, VALID, WELL

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
    part = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    y = part[column].to_numpy(dtype=float)
    ok = np.isfinite(y)
    Xm, base = model_inputs(part.loc[ok, features].to_numpy(dtype=float), prep)
    out = pd.DataFrame(Xm, columns=booster_names(prep["model_features"]))
    out["__y"] = y[ok]
    out["__base"] = base if base is not None else 0.0
    return out


def blind_part(part: pd.DataFrame, model: FoldModel, column: str,
               base_cols: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """A blind well's out-of-fold rows and their novelty distances per block
    (:func:`petro.models.blind.blind_rows`), computed where the partition lives."""
    y = part[column].to_numpy(dtype=float)
    data = part[np.isfinite(y)].reset_index(drop=True)
    return blind_rows(model, data[model.features].to_numpy(dtype=float),
                      data[model.logs_features].to_numpy(dtype=float)
                      if model.logs_bundle else None,
                      data[base_cols].to_numpy(dtype=float), data[column].to_numpy(dtype=float),
                      data[WELL].astype(str).to_numpy(), data[DEPTH].to_numpy(),
                      data["PHID"].to_numpy(dtype=float))


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

    def fit(self, wells: list[str], prep: dict, spec: ModelSpec, heads) -> dict:
        """The boosters of ``heads`` fitted with ``lightgbm.dask`` on every row of ``wells``
        (a :class:`petro.models.train.BoosterFitter` once ``wells`` are bound)."""
        import dask.dataframe as dd
        from lightgbm.dask import DaskLGBMRegressor

        # one partition per worker (its training wells, concatenated there), workers in the
        # order of their first well: LightGBM's rank 0 holds the first well, and so on
        by_worker: dict[str, list[str]] = {}
        for w in wells:
            by_worker.setdefault(self.where[w], []).append(w)
        futs = [self.client.submit(model_part, [self.parts[w] for w in ws], prep["features"],
                                   prep, spec.column, workers=[worker], allow_other_workers=False,
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




# ------------------------------------------------------------------ the cluster's rows
class ClusterRows:
    """One model's rows on the cluster (:class:`petro.models.rows.Rows`): every row in the
    wells' partitions on the workers (target figures, boosters, blind predictions), the
    in-memory sample for the rest. Folds run here (the cluster's client does not travel to a
    task); their searches' trials and their boosters' fits run on the workers."""

    portable = False

    def __init__(self, cluster: Cluster, sample: pd.DataFrame, column: str,
                 features: list[str], logs_only: list[str] | None):
        self.cluster, self.column = cluster, column
        self.features, self.logs_only = list(features), logs_only
        self.baseline_columns = [f for f in (logs_only or features) if f in sample.columns]
        self.n_sample = len(sample)
        self.wstats = dict(zip(cluster.names, cluster.gather(
            [cluster.on(w, part_stats, column) for w in cluster.names])))
        self.names = [w for w in cluster.names if self.wstats[w][0] > 0]
        self.codes = np.repeat(np.arange(len(self.names)), [self.wstats[w][0] for w in self.names])
        ok = np.isfinite(sample[column].to_numpy(dtype=float))
        self.sample = sample[ok].reset_index(drop=True)
        self._wells = self.sample[WELL].astype(str)
        self._memory: dict[str, pd.DataFrame] = {}

    def folds(self, spec: ModelSpec) -> list[Fold]:
        return blind_folds(self.codes, spec, self.names)

    def everything(self) -> Fold:
        return Fold("final", tuple(self.names), (), np.arange(self.codes.size), np.arange(0))

    def frame(self, fold: Fold) -> pd.DataFrame:
        """The sample's rows of the fold's training wells."""
        if fold.name not in self._memory:
            self._memory = {fold.name: self.sample[self._wells.isin(fold.train)]
                            .reset_index(drop=True)}
        return self._memory[fold.name]

    def inputs(self, fold: Fold, columns: list[str]) -> np.ndarray:
        return self.frame(fold)[columns].to_numpy(dtype=float)

    def baseline(self, fold: Fold) -> np.ndarray:
        return self.inputs(fold, self.baseline_columns)

    def target(self, fold: Fold) -> np.ndarray:
        return self.frame(fold)[self.column].to_numpy(dtype=float)

    def stats(self, fold: Fold) -> TargetStats:
        """Of every row of the fold's training wells (their partitions' figures)."""
        s = [self.wstats[w] for w in fold.train]
        n = sum(x[0] for x in s)
        return TargetStats(n, sum(x[1] for x in s) / n, min(x[2] for x in s),
                           max(x[3] for x in s))

    def fitter(self, fold: Fold):
        return partial(self.cluster.fit, list(fold.train))

    def blind(self, fold: Fold, model: FoldModel) -> tuple[pd.DataFrame, np.ndarray]:
        """Each blind well's rows predicted on the worker that holds its partition."""
        got = self.cluster.gather([self.cluster.on(w, blind_part, model, self.column,
                                                   self.baseline_columns)
                                   for w in fold.test])
        return pd.concat([g[0] for g in got], ignore_index=True), np.vstack([g[1] for g in got])

    def describe(self) -> dict:
        return {"path": DASK, "sample_rows": self.n_sample, "rows": int(self.codes.size)}


class OnCluster:
    """A run's training rows on the cluster (:class:`petro.models.rows.Placement`): the wells'
    partitions, and ``table``, the well-stratified sample held here."""

    def __init__(self, cluster: Cluster, sample: pd.DataFrame):
        self.cluster, self.table, self.wells = cluster, sample, list(cluster.names)

    def rows(self, column: str, features: list[str], logs_only: list[str] | None,
             nested: bool) -> ClusterRows:
        return ClusterRows(self.cluster, self.table, column, features, logs_only)


def _columns(cfg, train: list[WellResult]) -> list[str]:
    """The columns training reads of the wells' tables (the Parquet schemas, not the rows)."""
    import pyarrow.parquet as pq

    from petro.features.table import model_features

    columns: list[str] = []
    for w in train:
        names = pq.read_schema(w.table_path).names if w.table_path else list(w.table.columns)
        columns += [c for c in names if c not in columns]
    wanted = model_features(columns, ["logs", "image"], cfg.logs)
    keep = [WELL, DEPTH, VALID, "PHID"] + [s.column for s in cfg.specs] + wanted
    return [c for c in dict.fromkeys(keep) if c in columns or c == "PHID"]


@contextmanager
def on_cluster(cfg, wells: list[WellResult], rep: Reporter, client,
               plan: TrainingPlan) -> Iterator[OnCluster]:
    """The training wells placed as partitions on ``client``'s workers and the in-memory
    sample drawn (``plan.sample_rows``); the partitions are released on leaving."""
    train = training_wells(wells)
    if not train:
        raise DataError("no well with NMR targets could be read: nothing to train on")
    cluster = Cluster(client, train, _columns(cfg, train))
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
        yield OnCluster(cluster, sample)
    finally:
        cluster.close()
