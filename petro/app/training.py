"""Training: files -> wells -> targets and features -> blind-well validated models -> MLflow.

``run(cfg, on_event=...)`` is what ``petro run`` and ``petro demo`` call; :func:`train_models`
is the part without MLflow (a notebook can call it and inspect the result).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from petro.app.disttrain import TrainingPlan, choose_path, on_cluster, training_wells
from petro.app.engine import RunPool, dask_task_map, open_engine, run_pool, scheduler_address
from petro.app.events import EventHandler, Reporter, reporter
from petro.app.trained import FOLDS, TrainResult, spec_columns
from petro.app.wells import WellResult, read_wells, store_root
from petro.config import PipelineConfig
from petro.errors import DataError
from petro.io import plausibility
from petro.models.pipeline import TrainingContext, train_model
from petro.models.rows import InMemory, Placement
from petro.quality import LEFT_OUT, MASKED
from petro.models.tasks import TaskMap
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
    groups: dict | None = None     # input groups: {"final": decision, "folds": {fold: decision}}


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
        raise DataError("no well with NMR targets could be read: nothing to train on")
    table = pd.concat(tables, ignore_index=True, sort=False)
    return table[table[VALID].astype(bool)].reset_index(drop=True)


def train_models(cfg: PipelineConfig, wells: list[WellResult],
                 on_event: EventHandler | Reporter | None = None,
                 pool: RunPool | None = None) -> TrainResult:
    """Tune, validate on blind wells and fit each model of ``cfg`` (no MLflow).

    One pipeline (:func:`petro.models.pipeline.train_model`) trains every model; the path,
    chosen by :func:`petro.app.disttrain.choose_path` (``engine.distributed_training`` and
    ``engine.local_training_max_bytes``; the run log says which and why), decides only where the
    rows live and who fits the boosters. Local path: the training table is built here; folds
    and tuning trials run on the configured engine (``engine.scheduler``, as for the per-well
    work: a Dask cluster, else ``n_jobs`` local processes), the final fit of each model here,
    and the result is the same wherever they ran. ``lightgbm.dask`` path: the wells' partitions
    on the workers (:func:`petro.app.disttrain.on_cluster`). ``pool``: the run's local pool
    (:func:`petro.app.engine.run_pool`; None: ``n_jobs`` processes of joblib's)."""
    rep = reporter(on_event)
    if scheduler_address(cfg.engine) is None:
        plan = choose_path(cfg.engine, wells, None)
        rep.note(plan.message())
        return _train(cfg, wells, rep, plan, InMemory(training_table(wells)),
                      pool.task_map if pool is not None else None)
    with open_engine(cfg.engine, cfg.n_jobs, 2) as engine:
        rep.note(f"training fits on {engine.where}")
        plan = choose_path(cfg.engine, wells, engine.client)
        rep.note(plan.message())
        task_map = dask_task_map(engine.client, engine.retries)
        if not plan.distributed:
            return _train(cfg, wells, rep, plan, InMemory(training_table(wells)), task_map)
        with on_cluster(cfg, wells, rep, engine.client, plan) as placement:
            return _train(cfg, wells, rep, plan, placement, task_map)


def training_verdicts(wells: list[WellResult], names) -> dict[str, list[dict]]:
    """Per training well, its input curves and images left out or masked by quality control
    (what the model's record lists: a curve left out of a well is no input there)."""
    keep = set(names)
    return {w.name: [v for v in w.summary.get("verdicts", [])
                     if v["status"] in (LEFT_OUT, MASKED)]
            for w in wells if w.name in keep}


def _train(cfg: PipelineConfig, wells: list[WellResult], rep: Reporter, plan: TrainingPlan,
           placement: Placement, task_map: TaskMap | None) -> TrainResult:
    """Every model of ``cfg`` trained on ``placement``'s rows; their problems reported."""
    context = TrainingContext(aliases=cfg.ingest.aliases, ood_policy=cfg.ood_policy,
                              target_params=dict(cfg.targets.as_params()), recipe=cfg.recipe(),
                              plausibility_table=plausibility.table(),
                              n_jobs=cfg.n_jobs, task_map=task_map,
                              curve_verdicts=training_verdicts(wells, placement.wells))
    rep.start(FOLDS, len(placement.wells) * len(cfg.specs))
    models = []
    for spec in cfg.specs:
        feats, logs_only = spec_columns(placement.table, spec, cfg.logs)
        model = train_model(spec, placement, feats, logs_only, context, rep)
        for problem in model.problems:
            rep.problem(problem)
        models.append(model)
    rep.end(FOLDS)
    return TrainResult(cfg, wells, placement.table, models, plan)


def run(cfg: PipelineConfig, *, tracking_uri: str | None = None,
        on_event: EventHandler | Reporter | None = None) -> RunResult:
    """The whole pipeline: data (written first if the pipeline is synthetic), per-well work,
    training and validation, MLflow logging and registration with the promotion gate."""
    from petro.tracking import check_server, create_store_early, log_training, resolve_uri

    check_server(resolve_uri(tracking_uri))   # a team server that does not answer: before the work
    rep = reporter(on_event)
    t0 = time.perf_counter()
    # with a scheduler and a feature dataset the tables stay in the dataset until the training
    # path is chosen (the lightgbm.dask path never reads them here)
    keep = cfg.engine.distributed_training == "never" or scheduler_address(cfg.engine) is None \
        or store_root(cfg) is None
    store_ready = create_store_early(resolve_uri(tracking_uri))   # a new store, meanwhile
    with run_pool(cfg.engine, cfg.n_jobs) as pool:   # one local pool for every step
        try:
            wells = read_wells(cfg, reporter=rep, keep_tables=keep, pool=pool)
            trained = train_models(cfg, wells, rep, pool)
        finally:
            store_ready()
        rep.start(TRACKING, len(trained.models))
        logged = log_training(trained, uri=tracking_uri, progress=rep.stepper(TRACKING),
                              task_map=pool.task_map if pool is not None else None)
        rep.end(TRACKING)
    entries = [ModelEntry(model=e["model"], target=tm.spec.target, metrics=e["metrics"],
                          run_id=e["run_id"], model_uri=e["model_uri"],
                          registered=e["registered"], version=e["version"], alias=e["alias"],
                          reason=e["reason"],
                          groups={"final": tm.groups.to_dict(), "folds": tm.cv.groups}
                          if tm.groups is not None else None)
               for e, tm in zip(logged, trained.models)]
    return RunResult(cfg, wells, entries, resolve_uri(tracking_uri), time.perf_counter() - t0,
                     engine=next((w.summary.get("engine", "") for w in wells), ""))
