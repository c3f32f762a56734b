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

from petro.models.groups import DecisionFits, GroupDecision, decide_groups, decision_fits, \
    group_of, image_inputs, sibling_inputs
from petro.models.plausibility import input_plausibility
from petro.models.record import ModelRecord
from petro.models.rows import Placement, Rows
from petro.models.runtime import SIBLING, Bundle
from petro.models.selection import select_inputs
from petro.models.spec import ModelSpec
from petro.models.tasks import TaskMap, run_tasks
from petro.models.trust import trust_meta
from petro.models.tuning import tune, tuning_problems, tuning_settings
from petro.models.validation import CVResult, fit_final_model, validate
from petro.problems import Problem
from petro.vocab import WELL, is_image_feature

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
    bundle, its logs-only sibling's inputs (its own when it uses no image), the final search's
    trials, the non-fatal problems met and the final input-group decision."""

    spec: ModelSpec
    features: list[str]
    cv: CVResult
    bundle: Bundle
    logs_only_features: list[str]
    tuning: pd.DataFrame | None = None
    problems: list[Problem] = field(default_factory=list)
    groups: GroupDecision | None = None

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


def _decision_fits(rows: Rows, spec: ModelSpec, context: TrainingContext) \
        -> DecisionFits | None:
    """The inner fits of every input-group decision of ``spec`` on ``rows`` (each blind-well
    fold's and the final model's), each done once, in parallel (``context``)."""
    every = rows.everything()
    return decision_fits(rows.inputs(every, rows.features), rows.target(every),
                         rows.frame(every)[WELL].astype(str).to_numpy(), rows.features, spec,
                         [f.train for f in rows.folds(spec)] + [every.train],
                         n_jobs=context.n_jobs, task_map=context.task_map)


def _final_inputs(rows: Rows, features: list[str], spec: ModelSpec,
                  fits: DecisionFits | None = None) -> tuple[GroupDecision, list[str]]:
    """The final model's input groups and inputs: the same decision and selection as in each
    fold (:func:`petro.models.validation.validate`), on every training well."""
    every = rows.everything()
    X, y = rows.inputs(every, features), rows.target(every)
    decision = decide_groups(X, y, rows.frame(every)[WELL].astype(str).to_numpy(), features, spec,
                             fits)
    candidates = decision.features(features)
    return decision, select_inputs(rows.inputs(every, candidates), y, candidates, spec)


def _finished(record: ModelRecord, rows: Rows, placement: Placement, cv: CVResult,
              spec: ModelSpec, context: TrainingContext) -> ModelRecord:
    """A fitted record with its trust metadata and provenance."""
    return replace(record, **trust_meta(placement.table, record.features, cv.importance,
                                        record.pca, spec.novelty_quantile, context.aliases,
                                        cv.oof if spec.conformal else None,
                                        spec.nominal_coverage, context.ood_policy,
                                        spec.novelty_new_well),
                   target_params=dict(context.target_params), recipe=context.recipe,
                   curve_verdicts=context.curve_verdicts, training=rows.describe(),
                   plausibility=(input_plausibility(record.features, context.plausibility_table)
                                 if context.plausibility_table else None))


def _sibling_candidates(rows: Rows, decision: GroupDecision, cv: CVResult,
                        inputs: list[str]) -> list[str] | None:
    """The logs-only sibling's candidate inputs (the kept log groups), or None when the model
    uses no image input (it is logs-only itself) or was validated without a sibling."""
    if not image_inputs(inputs) or cv.logs_only is None:
        return None
    return [f for f in sibling_inputs(rows.features) if group_of(f) in decision.kept]


def _final_fit(features: list[str], cv: CVResult, select: bool, fit_spec: ModelSpec,
               rows: Rows, spec: ModelSpec) -> tuple[list[str], ModelRecord, dict]:
    """A final fit on every training well (inputs ``features``, selected first with ``spec``
    when ``select``; fitted with ``fit_spec``, the spec with its P50 rounds; conformal
    adjustment and novelty thresholds from ``cv``), on one thread wherever it runs: its
    inputs, record and boosters."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        if select:
            every = rows.everything()
            features = select_inputs(rows.inputs(every, features), rows.target(every), features,
                                     spec)
        record, boosters = fit_final_model(rows, features, fit_spec, cv)
    return features, record, boosters


def _final_fits(rows: Rows, inputs: list[str], siblings: list[str] | None, spec: ModelSpec,
                cv: CVResult, context: TrainingContext, decision: GroupDecision) -> list[tuple]:
    """The final model and its logs-only sibling (candidates ``siblings``, selected; None: no
    sibling; each with its own P50 rounds from ``decision``) fitted at once: two tasks of
    ``context`` when the rows travel, else here."""
    jobs = [(inputs, cv, False, decision.spec_for(spec))] + \
        ([(siblings, cv.logs_only, True, decision.spec_for(spec, SIBLING))]
         if siblings else [])
    if rows.portable:
        return list(run_tasks(_final_fit, jobs, (rows, spec), n_jobs=context.n_jobs,
                              task_map=context.task_map))
    return [_final_fit(*job, rows, spec) for job in jobs]


def train_model(spec: ModelSpec, placement: Placement, features: list[str],
                logs_only: list[str], context: TrainingContext = TrainingContext(),
                progress: Progress | None = None) -> TrainedModel:
    """Validate ``spec`` on blind wells and fit it on every training well of ``placement``.

    ``features``: the candidate inputs; ``logs_only``: the conventional-log inputs and their
    windowed statistics (the logs-only sibling's candidates, when the model uses image
    features). The final model keeps the input groups that help on every training well
    (:mod:`petro.models.groups`) and carries its logs-only sibling (record ``logs_only``, its
    boosters ``logs_only.<head>``), validated in the same folds, for the rows without its
    images. Progress: one ``FOLDS`` item per fold, the ``TUNING`` stage of the final search."""
    progress = progress or Quiet()
    nested = bool(spec.tuning) and tuning_settings(spec)["nested"]
    # the logs-only ablation, when the model has image inputs to ablate
    comparator = logs_only if "image" in spec.features and \
        any(is_image_feature(f) for f in features) else None
    rows = placement.rows(spec.column, features, comparator, nested)
    fits = _decision_fits(rows, spec, context)

    def validated(s: ModelSpec) -> CVResult:
        return validate(rows, s, nested=nested, n_jobs=context.n_jobs,
                        task_map=context.task_map, fits=fits,
                        progress=lambda f: progress.advance(FOLDS, f"{s.name}: {f}"))

    cv = validated(spec) if nested else None   # blind figures first: tuning inside each fold
    decision, inputs = _final_inputs(rows, features, spec, fits)
    trials = None
    if spec.tuning:   # the final model's parameters: the same search on every well
        spec, trials = _final_search(placement.table, inputs, spec, context, progress)
    if cv is None:
        cv = validated(spec)
    fitted = _final_fits(rows, inputs, _sibling_candidates(rows, decision, cv, inputs), spec, cv,
                         context, decision)
    _, record, boosters = fitted[0]
    record = _finished(record, rows, placement, cv, spec, context)
    record.input_groups = decision.to_dict()
    record.image_inputs = image_inputs(record.features)
    sibling = list(record.features)
    if len(fitted) > 1:   # the logs-only sibling, carried by the model
        sibling, sib, sib_boosters = fitted[1]
        record.logs_only = _finished(sib, rows, placement, cv.logs_only, spec, context).to_dict()
        boosters.update({f"{SIBLING}.{k}": b for k, b in sib_boosters.items()})
    problems = cv.problems + (tuning_problems(spec.name, trials) if trials is not None else [])
    return TrainedModel(spec, inputs, cv, Bundle(record.to_dict(), boosters), sibling, trials,
                        problems, decision)
