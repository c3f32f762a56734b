"""Training: files -> wells -> targets and features -> blind-well validated models -> MLflow.

``run(cfg, on_event=...)`` is what ``petro run`` and ``petro demo`` call; :func:`train_models`
is the part without MLflow (a notebook can call it and inspect the result).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import pandas as pd

from petro.app.disttrain import TrainingPlan, choose_path, train_distributed, training_wells
from petro.app.engine import dask_task_map, open_engine, scheduler_address
from petro.app.events import EventHandler, Reporter, reporter
from petro.app.trained import FOLDS, TUNING, TrainedModel, TrainResult, spec_columns
from petro.app.wells import WellResult, read_wells, store_root
from petro.config import PipelineConfig
from petro.errors import ModelError
from petro.models.novelty import trust_meta
from petro.models.selection import select_inputs
from petro.models.tasks import TaskMap
from petro.models.validation import cross_validate, fit_final
from petro.problems import Problem, Severity
from petro.vocab import VALID

TRACKING = "MLflow"


@dataclass
class ModelEntry:
    """One trained model as logged and registered."""

    model: str
    target: str
    metrics: dict[str, dict[str, float]]   # pooled blind-well metrics per model / baseline
    run_id: str | None = None
    model_uri: str | None = None
    registered: str | None = None
    version: str | None = None
    alias: str | None = None
    reason: str | None = None


@dataclass
class RunResult:
    cfg: PipelineConfig
    wells: list[WellResult]
    models: list[ModelEntry] = field(default_factory=list)
    tracking_uri: str | None = None
    seconds: float = 0.0
    engine: str = ""           # where the per-well work ran (local pool, dask address)

    @property
    def status(self) -> int:
        """0 when every well and file was used, 1 when some failed (the rest was processed)."""
        return 1 if any(w.failed for w in self.wells) else 0

    def model(self, name: str) -> ModelEntry:
        return next(m for m in self.models if m.model == name)


def training_table(wells: list[WellResult]) -> pd.DataFrame:
    """The rows with a valid target, from every well that has targets (a table left in the
    feature dataset, ``table_path``, is read here)."""
    tables = [w.table if w.table is not None else pd.read_parquet(w.table_path)
              for w in training_wells(wells)]
    if not tables:
        raise ModelError("no well with NMR targets could be read: nothing to train on")
    table = pd.concat(tables, ignore_index=True, sort=False)
    return table[table[VALID].astype(bool)].reset_index(drop=True)


def train_models(cfg: PipelineConfig, wells: list[WellResult],
                 on_event: EventHandler | Reporter | None = None) -> TrainResult:
    """Tune, validate on blind wells and fit each model of ``cfg`` (no MLflow).

    The path is chosen by :func:`petro.app.disttrain.choose_path` (``engine.distributed_training``
    and ``engine.local_training_max_bytes``; the run log says which and why). Local path: the
    training table is built here; folds and tuning trials run on the configured engine
    (``engine.scheduler``, as for the per-well work: a Dask cluster, else ``n_jobs`` local
    processes), the final fit of each model here, and the result is the same wherever
    they ran. ``lightgbm.dask`` path: :func:`petro.app.disttrain.train_distributed`."""
    rep = reporter(on_event)
    if scheduler_address(cfg.engine) is None:
        plan = choose_path(cfg.engine, wells, None)
        rep.note(plan.message())
        return _train_models(cfg, wells, rep, None, plan)
    with open_engine(cfg.engine, cfg.n_jobs, 2) as engine:
        rep.note(f"training fits on {engine.where}")
        plan = choose_path(cfg.engine, wells, engine.client)
        rep.note(plan.message())
        task_map = dask_task_map(engine.client, engine.retries)
        if plan.distributed:
            return train_distributed(cfg, wells, rep, engine.client, plan, task_map)
        return _train_models(cfg, wells, rep, task_map, plan)


def _train_models(cfg: PipelineConfig, wells: list[WellResult], rep: Reporter,
                  task_map: TaskMap | None, plan: TrainingPlan | None = None) -> TrainResult:
    table = training_table(wells)
    n_wells = int(table["WELL"].nunique())
    rep.start(FOLDS, n_wells * len(cfg.specs))
    models = []
    for spec in cfg.specs:
        feats, logs_only, logs, nested = spec_columns(table, spec, cfg.logs)
        trials = None
        if nested:   # blind figures first: tuning inside each outer fold (selection-free)
            cv = cross_validate(table, feats, spec, logs_only=logs, nested=True,
                                n_jobs=cfg.n_jobs, task_map=task_map,
                                progress=lambda f, s=spec: rep.advance(FOLDS, f"{s.name}: {f}"))
        # the final model's inputs: the same selection as in each fold, on every training well
        inputs = select_inputs(table[feats].to_numpy(dtype=float),
                               table[spec.column].to_numpy(dtype=float), feats, spec)
        if spec.tuning:   # the final model's parameters: the same search on every well
            from petro.models.tuning import tune, tuning_settings

            rep.start(TUNING, tuning_settings(spec)["trials"])
            best, trials = tune(table, inputs, spec, n_jobs=cfg.n_jobs, task_map=task_map,
                                progress=lambda t, s=spec: rep.advance(TUNING, f"{s.name}: {t}"))
            rep.end(TUNING)
            stops = [trials.attrs["stopped"]] + \
                ([x for x in cv.tuning["stopped"] if x] if nested and cv.tuning is not None
                 else [])
            for why in filter(None, stops):
                rep.problem(Problem(Severity.WARNING, f"{spec.name}: tuning: {why}",
                                    code="tuning_budget"))
            spec = replace(spec, params=best)
        if not nested:
            cv = cross_validate(table, feats, spec, logs_only=logs, n_jobs=cfg.n_jobs,
                                task_map=task_map,
                                progress=lambda f, s=spec: rep.advance(FOLDS, f"{s.name}: {f}"))
        bundle = fit_final(table, inputs, spec, cv)
        bundle.meta.update(trust_meta(table, inputs, cv.importance, bundle.meta.get("pca", []),
                                      spec.novelty_quantile, cfg.ingest.aliases,
                                      cv.oof if spec.conformal else None,
                                      spec.nominal_coverage, cfg.ood_policy))
        bundle.meta["target_params"] = dict(cfg.targets.as_params())
        bundle.meta["recipe"] = cfg.recipe()
        models.append(TrainedModel(spec, inputs, cv, bundle, logs_only, trials))
    rep.end(FOLDS)
    return TrainResult(cfg, wells, table, models, plan)


def run(cfg: PipelineConfig, *, tracking_uri: str | None = None,
        on_event: EventHandler | Reporter | None = None) -> RunResult:
    """The whole pipeline: data (written first if the pipeline is synthetic), per-well work,
    training and validation, MLflow logging and registration with the promotion gate."""
    from petro.tracking import check_server, log_training, resolve_uri

    check_server(resolve_uri(tracking_uri))   # a team server that does not answer: before the work
    rep = reporter(on_event)
    t0 = time.perf_counter()
    # with a scheduler and a feature dataset the tables stay in the dataset until the training
    # path is chosen (the lightgbm.dask path never reads them here)
    keep = cfg.engine.distributed_training == "never" or scheduler_address(cfg.engine) is None \
        or store_root(cfg) is None
    wells = read_wells(cfg, reporter=rep, keep_tables=keep)
    trained = train_models(cfg, wells, rep)
    rep.start(TRACKING, len(trained.models))
    logged = log_training(trained, uri=tracking_uri, progress=rep.stepper(TRACKING))
    rep.end(TRACKING)
    entries = [ModelEntry(model=e["model"], target=tm.spec.target, metrics=e["metrics"],
                          run_id=e["run_id"], model_uri=e["model_uri"],
                          registered=e["registered"], version=e["version"], alias=e["alias"],
                          reason=e["reason"]) for e, tm in zip(logged, trained.models)]
    return RunResult(cfg, wells, entries, resolve_uri(tracking_uri), time.perf_counter() - t0,
                     engine=next((w.summary.get("engine", "") for w in wells), ""))
