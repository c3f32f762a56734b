"""Where a model's training rows live: what differs between training in one process and on a
Dask cluster, behind one interface the training pipeline (:mod:`petro.models.pipeline`) and
blind-well validation (:mod:`petro.models.validation`) are written against.

A *placement* (:class:`Placement`) holds a run's training rows: :attr:`Placement.table` is what
is in memory (here every training row; on a cluster a well-stratified sample, the partitions
staying on the workers) and :meth:`Placement.rows` gives one model's :class:`Rows`: its rows
with a finite target, split into blind-well :class:`Fold` s. For a fold (or :meth:`Rows.everything`,
the final model) a :class:`Rows` gives the rows in memory (inputs, comparators' inputs,
targets), the figures of *every* row of the training wells (:class:`TargetStats`), the
:class:`~petro.models.train.BoosterFitter` of the boosters (None: fitted on the rows in memory)
and the blind predictions of a fold's models where the blind rows are. This module implements
the in-memory placement (:class:`InMemory`); ``petro.app.disttrain`` implements the cluster's
(LightGBM's own Dask interface works the same way: the distributed part only places data, the
same learner fits it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from petro.errors import ModelError
from petro.models.blind import FoldModel, blind_rows
from petro.models.spec import ModelSpec
from petro.models.train import BoosterFitter, TargetStats
from petro.vocab import DEPTH, WELL


@dataclass(frozen=True, eq=False)
class Fold:
    """A blind-well fold: its training and blind wells, and their rows' positions in the
    model's rows (:class:`Rows`; in the order of the rows)."""

    name: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    tr: np.ndarray
    te: np.ndarray


def blind_folds(wells: np.ndarray, spec: ModelSpec, names=None) -> list[Fold]:
    """Leave-one-well-out folds (``spec.cv`` 'lowo', or 'auto' up to 12 wells), else grouped
    K-fold (``spec.n_splits``), of rows of ``wells`` (per row: a well name, or a code into
    ``names``)."""
    uniq = np.unique(wells)
    if uniq.size < 2:
        raise ModelError(f"{spec.name}: blind-well validation needs at least 2 wells with targets, "
                         f"found {uniq.size}")
    label = (lambda w: str(w)) if names is None else (lambda w: str(names[w]))

    def fold(name, tr, te):
        return Fold(name, tuple(label(w) for w in np.unique(wells[tr])),
                    tuple(label(w) for w in np.unique(wells[te])), tr, te)

    if spec.cv == "lowo" or (spec.cv == "auto" and uniq.size <= 12):
        return [fold(label(w), np.flatnonzero(wells != w), np.flatnonzero(wells == w))
                for w in uniq]
    k = min(spec.n_splits, uniq.size)
    return [fold(f"fold{i}", tr, te)
            for i, (tr, te) in enumerate(GroupKFold(n_splits=k).split(wells, groups=wells))]


class Rows(Protocol):
    """One model's training rows (finite target) wherever they live (see the module
    docstring). ``portable``: a fold's work, these rows included, may run as a task in another
    process; else folds run here and only their own tasks (fits, tuning trials) go out."""

    portable: bool
    features: list[str]            # the candidate inputs
    logs_only: list[str] | None    # the logs-only comparator's inputs (None: no comparator)
    baseline_columns: list[str]    # the scikit-learn baselines' inputs

    def folds(self, spec: ModelSpec) -> list[Fold]:
        """The blind-well folds (:func:`blind_folds`)."""

    def everything(self) -> Fold:
        """Every training well, no blind well: the final model's 'fold'."""

    def inputs(self, fold: Fold, columns: list[str]) -> np.ndarray:
        """The training wells' rows in memory, input ``columns`` (a subset of ``features``)."""

    def comparator(self, fold: Fold) -> np.ndarray:
        """The same rows, the logs-only comparator's inputs."""

    def baseline(self, fold: Fold) -> np.ndarray:
        """The same rows, the baselines' inputs."""

    def target(self, fold: Fold) -> np.ndarray:
        """The same rows' targets (model space)."""

    def frame(self, fold: Fold) -> pd.DataFrame:
        """The same rows as a table (WELL, PHID, the target; the inputs when tuning is
        nested): the folds' searches and the poro-perm transform read it."""

    def stats(self, fold: Fold) -> TargetStats:
        """The targets of every row of the training wells (in memory or not)."""

    def fitter(self, fold: Fold) -> BoosterFitter | None:
        """Who fits the boosters on every row of the training wells (None: the rows in memory
        are every row; :func:`petro.models.train.fit_boosters` fits them)."""

    def blind(self, fold: Fold, model: FoldModel) -> tuple[pd.DataFrame, np.ndarray]:
        """The out-of-fold rows of the blind wells and their novelty distances
        (:func:`petro.models.blind.blind_rows`), in the order of ``fold.te``."""

    def describe(self) -> dict | None:
        """What the model record says of where it was trained (``training``; None: here)."""


class Placement(Protocol):
    """A run's training rows (see the module docstring)."""

    table: pd.DataFrame       # the rows in memory, with every column training reads
    wells: list[str]          # the training wells

    def rows(self, column: str, features: list[str], logs_only: list[str] | None,
             nested: bool) -> Rows: ...


class InMemory:
    """Every training row in memory (``table``: the rows with a valid target of every training
    well)."""

    def __init__(self, table: pd.DataFrame):
        self.table = table
        self.wells = sorted(table[WELL].astype(str).unique())

    def rows(self, column: str, features: list[str], logs_only: list[str] | None,
             nested: bool) -> "InMemoryRows":
        return InMemoryRows(self.table, column, features, logs_only, nested)


class InMemoryRows:
    """A model's rows in memory: the matrices are built once, a fold's rows are taken by
    position (column selection first, then rows: the same arrays, to the bit, wherever a
    fold runs)."""

    portable = True

    def __init__(self, table: pd.DataFrame, column: str, features: list[str],
                 logs_only: list[str] | None, nested: bool):
        y = table[column].to_numpy(dtype=float)
        keep = np.isfinite(y)
        data = table.loc[keep].reset_index(drop=True)
        self.y = y[keep]
        self.wells = data[WELL].astype(str).to_numpy()
        self.depth = data[DEPTH].to_numpy()
        self.phid = data["PHID"].to_numpy(dtype=float) if "PHID" in data \
            else np.full(len(data), np.nan)
        self.features, self.logs_only = list(features), logs_only
        self.X = data[features].to_numpy(dtype=float)
        self.Xl = data[logs_only].to_numpy(dtype=float) if logs_only else None
        # scikit-learn baselines see the conventional logs (the petrophysicist's inputs)
        self.baseline_columns = [f for f in (logs_only or features) if f in data.columns]
        self.Xb = data[self.baseline_columns].to_numpy(dtype=float)
        cols = [WELL] + [c for c in ("PHID", column) if c in data.columns]
        self.small = data[list(dict.fromkeys(cols + (features if nested else [])))]

    def folds(self, spec: ModelSpec) -> list[Fold]:
        return blind_folds(self.wells, spec)

    def everything(self) -> Fold:
        return Fold("final", tuple(np.unique(self.wells)), (), np.arange(self.y.size),
                    np.arange(0))

    def _matrix(self, columns: list[str]) -> np.ndarray:
        if list(columns) == self.features:
            return self.X
        return self.X[:, [self.features.index(c) for c in columns]]

    def inputs(self, fold: Fold, columns: list[str]) -> np.ndarray:
        return self._matrix(columns)[fold.tr]

    def comparator(self, fold: Fold) -> np.ndarray:
        return self.Xl[fold.tr]

    def baseline(self, fold: Fold) -> np.ndarray:
        return self.Xb[fold.tr]

    def target(self, fold: Fold) -> np.ndarray:
        return self.y[fold.tr]

    def frame(self, fold: Fold) -> pd.DataFrame:
        return self.small.iloc[fold.tr]

    def stats(self, fold: Fold) -> TargetStats:
        return TargetStats.of(self.y[fold.tr])

    def fitter(self, fold: Fold) -> None:
        return None

    def blind(self, fold: Fold, model: FoldModel) -> tuple[pd.DataFrame, np.ndarray]:
        te = fold.te
        return blind_rows(model, self._matrix(model.features)[te],
                          self.Xl[te] if self.Xl is not None else None, self.Xb[te],
                          self.y[te], self.wells[te], self.depth[te], self.phid[te])

    def describe(self) -> None:
        return None
