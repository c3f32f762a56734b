"""One training pipeline: a model spec and its training rows -> a validated, fitted model.

:func:`train_model` runs, for one spec: blind-well validation (:func:`petro.models.validation
.validate`; with nested tuning, inside each fold, before anything else), the input selection
and the hyper-parameter search on every training well, the final fit with the blind-well
conformal adjustment and novelty thresholds, the trust metadata, and the model record
(:class:`~petro.models.record.ModelRecord`). What differs between training in one process and
on a Dask cluster is injected, never re-implemented: where the rows live and who fits the
boosters (a :class:`~petro.models.rows.Placement`: :class:`~petro.models.rows.InMemory`, or the
cluster's in ``petro.app.disttrain``), and where independent fits run (``n_jobs`` processes or
a :data:`~petro.models.tasks.TaskMap`). Non-fatal issues (a search stopped on its time budget)
come back as :class:`~petro.problems.Problem` records in :attr:`TrainedModel.problems`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

import pandas as pd

from petro.models.plausibility import input_plausibility
from petro.models.record import ModelRecord
from petro.models.rows import Placement
from petro.models.runtime import Bundle
from petro.models.selection import select_inputs
from petro.models.spec import ModelSpec
from petro.models.tasks import TaskMap
from petro.models.trust import trust_meta
from petro.models.tuning import tune, tuning_problems, tuning_settings
from petro.models.validation import CVResult, fit_final_model, validate
from petro.problems import Problem
from petro.vocab import is_image_feature

# progress stages
FOLDS = "blind-well folds"
TUNING = "tuning trials"


class Progress(Protocol):
    """Where progress goes (``petro.app.events.Reporter`` is one)."""

    def start(self, stage: str, total: int | None = None) -> None: ...

    def advance(self, stage: str, item: str = "") -> None: ...

    def end(self, stage: str) -> None: ...


class Quiet:
    """Progress that goes nowhere."""

    def start(self, stage: str, total: int | None = None) -> None:
        pass

    def advance(self, stage: str, item: str = "") -> None:
        pass

    def end(self, stage: str) -> None:
        pass


@dataclass(frozen=True)
class TrainingContext:
    """What a run gives every model it trains: the record's run-wide fields (alias table,
    out-of-domain policy, target parameters, the recipe that rebuilds inputs from files) and
    where independent fits run (``n_jobs`` local processes, or the tasks of ``task_map``)."""

    aliases: dict | None = None
    ood_policy: str = "widen"
    target_params: dict = field(default_factory=dict)
    recipe: dict | None = None
    plausibility_table: dict | None = None   # petro/data/plausibility.yaml, parsed by the caller
    n_jobs: int = 1
    task_map: TaskMap | None = None
    curve_verdicts: dict | None = None   # training well -> inputs left out or masked (QC)


@dataclass
class TrainedModel:
    """One trained model: its spec (with the chosen parameters), inputs, blind-well validation,
    bundle, the logs-only comparator's inputs, the final search's trials and the non-fatal
    problems met."""

    spec: ModelSpec
    features: list[str]
    cv: CVResult
    bundle: Bundle
    logs_only_features: list[str]
    tuning: pd.DataFrame | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def record(self) -> ModelRecord:
        return ModelRecord.from_dict(self.bundle.meta)


def _final_search(table: pd.DataFrame, inputs: list[str], spec: ModelSpec,
                  context: TrainingContext, progress: Progress) -> tuple[ModelSpec, pd.DataFrame]:
    """The final model's parameters: the spec's search on every training row in memory."""
    progress.start(TUNING, tuning_settings(spec)["trials"])
    best, trials = tune(table, inputs, spec, n_jobs=context.n_jobs, task_map=context.task_map,
                        progress=lambda t: progress.advance(TUNING, f"{spec.name}: {t}"))
    progress.end(TUNING)
    return replace(spec, params=best), trials


def train_model(spec: ModelSpec, placement: Placement, features: list[str],
                logs_only: list[str], context: TrainingContext = TrainingContext(),
                progress: Progress | None = None) -> TrainedModel:
    """Validate ``spec`` on blind wells and fit it on every training well of ``placement``.

    ``features``: the candidate inputs; ``logs_only``: the conventional-log inputs (the
    logs-only comparator's, when the model uses image features). Progress: one ``FOLDS`` item
    per fold, the ``TUNING`` stage of the final search."""
    progress = progress or Quiet()
    nested = bool(spec.tuning) and tuning_settings(spec)["nested"]
    # the logs-only ablation, when the model has image inputs to ablate
    comparator = logs_only if "image" in spec.features and \
        any(is_image_feature(f) for f in features) else None
    rows = placement.rows(spec.column, features, comparator, nested)

    def validated(s: ModelSpec) -> CVResult:
        return validate(rows, s, nested=nested, n_jobs=context.n_jobs,
                        task_map=context.task_map,
                        progress=lambda f: progress.advance(FOLDS, f"{s.name}: {f}"))

    cv = validated(spec) if nested else None   # blind figures first: tuning inside each fold
    # the final model's inputs: the same selection as in each fold, on every training well
    every = rows.everything()
    inputs = select_inputs(rows.inputs(every, features), rows.target(every), features, spec)
    trials = None
    if spec.tuning:   # the final model's parameters: the same search on every well
        spec, trials = _final_search(placement.table, inputs, spec, context, progress)
    if cv is None:
        cv = validated(spec)
    record, boosters = fit_final_model(rows, inputs, spec, cv)
    record = replace(record, **trust_meta(placement.table, inputs, cv.importance, record.pca,
                                          spec.novelty_quantile, context.aliases,
                                          cv.oof if spec.conformal else None,
                                          spec.nominal_coverage, context.ood_policy),
                     target_params=dict(context.target_params), recipe=context.recipe,
                     curve_verdicts=context.curve_verdicts,
                     training=rows.describe(),
                     plausibility=(input_plausibility(inputs, context.plausibility_table)
                                   if context.plausibility_table else None))
    problems = cv.problems + (tuning_problems(spec.name, trials) if trials is not None else [])
    return TrainedModel(spec, inputs, cv, Bundle(record.to_dict(), boosters), logs_only, trials,
                        problems)
