"""A trained run kept on local disk before anything is sent to MLflow, so that a tracking server
that fails while petro logs costs no training.

The folder (written atomically, ``petro-pending/<pipeline>-<UTC time>-<pid>/``) holds what each
run and model logs, exactly as it is logged::

    run.json                      store, experiment, run name, parameters, tags, model order
    parent/data/wells.json        the parent run's artifacts
    models/<model>/model.json     parameters, tags, metrics, dataset, pooled metrics, the gate's
                                  inputs (criteria failures, training wells, data digest)
    models/<model>/bundle/        the fitted bundle (Bundle.save): what the served model loads
    models/<model>/example.parquet    the model's input example (5 rows, exact float64)
    models/<model>/artifacts/     validation/ and plots/, laid out as in the run's artifacts
    state.json                    what has been logged so far (written by petro.tracking.runs)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from petro.io.atomic import atomic_dir, atomic_write_text, safe_name
from petro.tracking.gate import check_criteria
from petro.tracking.model import _pin
from petro.vocab import DEPTH, TARGETS, WELL, metric_name

FORMAT = 1
PENDING_ROOT = Path("petro-pending")


def stage_training(result, uri: str, root: Path = PENDING_ROOT, task_map=None) -> Path:
    """Write ``result`` (a :class:`petro.app.trained.TrainResult`) to a new folder under ``root``
    for logging to ``uri``; returns the folder. The plots are drawn as the tasks of ``task_map``
    (:mod:`petro.models.tasks`), else in the run's ``n_jobs`` processes."""
    cfg = result.cfg
    lineage = _lineage(result)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder = root.resolve() / f"{safe_name(cfg.name)}-{stamp}-{os.getpid()}"
    with atomic_dir(folder) as tmp:
        write_json(tmp / "run.json", {
            "format": FORMAT, "uri": absolute_uri(uri), "experiment": cfg.experiment,
            "run_name": cfg.name, "register": bool(cfg.register),
            "models": [tm.spec.name for tm in result.models],
            "params": {k: str(v) for k, v in {**cfg.params(), **lineage["path_params"]}.items()},
            "tags": {"petro.pipeline": cfg.source, "petro.data_digest": lineage["digest"],
                     "petro.version": _pin("petro"), **lineage["path_tags"]}})
        atomic_write_text(tmp / "parent" / "data" / "wells.json", json.dumps(
            [{**w.summary, "error": w.error, "problems": [p.to_dict() for p in w.problems],
              "targets": w.target_report} for w in result.wells], indent=1, default=str))
        _plots(result, tmp / "models", task_map)
        for tm in result.models:
            _stage_model(result, tm, lineage, tmp / "models" / safe_name(tm.spec.name))
    return folder


def _plots(result, folder: Path, task_map=None) -> None:
    """Every model's plots (``<model>/artifacts/plots/``), one model per task (matplotlib is
    single-threaded: ~2 s a model)."""
    from petro.models.tasks import run_tasks

    jobs = [(tm.cv, folder / safe_name(tm.spec.name) / "artifacts" / "plots", tm.spec.name)
            for tm in result.models]
    for _ in run_tasks(_model_plots, jobs, (), n_jobs=result.cfg.n_jobs, task_map=task_map):
        pass


def _model_plots(cv, out_dir: Path, name: str) -> None:
    """:func:`petro.plots.model_plots`, matplotlib imported where the task runs (not here)."""
    from petro.plots import model_plots

    model_plots(cv, out_dir, name)


def absolute_uri(uri: str) -> str:
    """A SQLite URI with an absolute path (the folder may be logged from another directory)."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri[len("sqlite:///"):]).resolve())
    return uri


def write_json(path: Path, obj) -> None:
    """``obj`` as JSON, atomically; numpy scalars as numbers, NaN kept."""
    atomic_write_text(path, json.dumps(obj, indent=1, default=lambda o: o.item()
                                       if isinstance(o, np.generic) else str(o)))


def _lineage(result) -> dict:
    """What the run was trained on (file hashes per well and their digest) and how (the training
    path, local or lightgbm.dask, and the figures it was chosen on)."""
    hashes = {w.name: w.summary.get("sha256", {}) for w in result.wells}
    plan = getattr(result, "plan", None)
    return {"hashes": hashes,
            "digest": hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:16],
            "path_params": {k: str(v)[:500] for k, v in plan.params().items()} if plan else {},
            "path_tags": {"petro.training_path": plan.path} if plan else {},
            "sampled": bool(plan and plan.sample_rows is not None)}


def _stage_model(result, tm, lineage: dict, folder: Path) -> None:
    """One model: its bundle, input example, validation files and plots, and model.json."""
    import mlflow

    cfg, spec, cv = result.cfg, tm.spec, tm.cv
    table = result.table[[WELL, DEPTH] + tm.features + [spec.column]]
    # lightgbm.dask path: the table is the in-memory sample, named so
    ds = mlflow.data.from_pandas(table, source=str(Path(cfg.data).resolve()),
                                 name=f"{cfg.name}-training" +
                                 ("-sample" if lineage["sampled"] else ""), targets=spec.column)
    tm.bundle.save(folder / "bundle")
    inputs = tm.features + [f for f in tm.logs_only_features if f not in tm.features]
    result.table[inputs].head(5).astype(float).to_parquet(folder / "example.parquet")   # + sibling's
    _write_validation(tm, lineage["hashes"], folder / "artifacts")
    key = TARGETS[spec.target].metric
    write_json(folder / "model.json", {
        "name": spec.name, "run_name": f"{cfg.name}-{spec.name}", "target": spec.target,
        "registered": f"{cfg.registered_prefix}{spec.name}" if cfg.register else None,
        "params": {**_model_params(cfg, tm), **lineage["path_params"]},
        "tags": {"petro.data_digest": lineage["digest"], "petro.target": spec.target,
                 **lineage["path_tags"]},
        "metrics": _model_metrics(tm), "dataset": ds.to_dict(), "pooled": cv.pooled,
        "metric_key": key, "value": cv.pooled["model"][key],
        "fails": check_criteria(cv.pooled, spec.criteria, spec.target),
        "train_wells": sorted(map(str, cv.oof.WELL.unique())), "data_digest": lineage["digest"]})


def _model_params(cfg, tm) -> dict[str, str]:
    """The child run's parameters: pipeline, spec, inputs and training rows (500 characters at
    most each)."""
    cv = tm.cv
    params = {**cfg.params(), **tm.spec.as_params(), "n_features": len(tm.features),
              "n_train_rows": int(cv.oof.shape[0]),
              "train_wells": ",".join(sorted(cv.oof.WELL.unique())),
              "validation.nested_tuning": cv.tuning is not None}
    return {k: str(v)[:500] for k, v in params.items()}


def _model_metrics(tm) -> dict[str, float]:
    """Pooled blind-well metrics of the model and each comparator, the model's gain over each,
    the conformal adjustment, novelty thresholds, per-well metrics and tuning figures."""
    cv = tm.cv
    metrics = {}
    for label, vals in cv.pooled.items():
        metrics.update({metric_name(label, k): v for k, v in vals.items() if k != "n"})
    key = TARGETS[tm.spec.target].metric
    for label, vals in cv.pooled.items():
        if label != "model" and key in vals:   # how much the model beats each one
            name = "image_gain" if label == "logs_only" else f"gain_vs_{label}"
            metrics[f"{name}_{key}"] = vals[key] - cv.pooled["model"][key]
    metrics["conformal_adjustment"] = cv.conformal_adj
    metrics.update(_group_metrics(tm))
    # the thresholds the model flags with (its detector's, calibrated on detectors of its own
    # columns; the blind folds' where the model has none)
    blocks = (tm.bundle.meta.get("novelty") or {}).get("blocks") or []
    metrics.update({f"novelty_threshold_{b}": t for b, t in cv.novelty_thresholds.items()})
    metrics.update({f"novelty_threshold_{b['name']}": b["threshold"] for b in blocks})
    for _, row in cv.per_well[cv.per_well.model == "model"].iterrows():
        for k, v in row.items():
            if k not in ("well", "model", "n") and pd.notna(v):
                metrics[_metric_name(f"well_{row['well']}_{k}")] = float(v)
    out = {k: float(v) for k, v in metrics.items() if np.isfinite(v)}
    if tm.tuning is not None:
        out.update(tuning_trials=float(len(tm.tuning)),
                   tuning_trials_planned=float(tm.tuning.attrs.get("planned", len(tm.tuning))),
                   tuning_stopped_early=float(bool(tm.tuning.attrs.get("stopped"))))
    if cv.tuning is not None:   # nested CV: each outer fold's own search
        out.update(nested_tuning_trials_min=float(cv.tuning["trials_run"].min()),
                   tuning_best_blind_rmse=float(tm.tuning["blind_rmse"].min()))
    return out


def _group_metrics(tm) -> dict[str, float]:
    """The input-group decisions (:mod:`petro.models.groups`): per group the final model's
    verdict (``group_<g>_kept`` 0/1), its inner-CV gain and the floor it had to pass (report
    unit), and the share of blind folds that kept it (``group_<g>_folds_kept``); the share of
    the decision's boosting rounds the P50 kept (``p50_rounds_share_model`` / ``_logs_only``)."""
    if tm.groups is None:
        return {}
    out = {}
    folds = [d for d in tm.cv.groups.values() if d]
    for g, v in tm.groups.groups.items():
        out[_metric_name(f"group_{g}_kept")] = float(g in tm.groups.kept or
                                                     (g == "images" and v["keep"]))
        out[_metric_name(f"group_{g}_gain")] = float(v["gain"])
        out[_metric_name(f"group_{g}_needed")] = float(v["floor"])
    for g in dict.fromkeys(g for d in folds for g in d.get("groups", {})):
        if g != "images":
            out[_metric_name(f"group_{g}_folds_kept")] = \
                sum(g in d["kept"] for d in folds) / len(folds)
    for who, r in tm.groups.rounds.items():   # the P50's boosting rounds (share of all)
        out[_metric_name(f"p50_rounds_share_{who}")] = r["rounds"] / r["of"]
    return out


def _metric_name(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in s)


def _write_validation(tm, hashes: dict, folder: Path) -> None:
    """The model's validation files (``validation/``: per-well metrics, blind predictions,
    importance, tuning trials, the inputs each fold kept, source file hashes) in ``folder``,
    laid out as in the run's artifacts (the plots beside them: :func:`_plots`)."""
    cv, spec = tm.cv, tm.spec
    val = folder / "validation"
    val.mkdir(parents=True, exist_ok=True)
    cv.per_well.to_csv(val / "per_well_metrics.csv", index=False)
    cv.oof.to_csv(val / "blind_predictions.csv", index=False)
    cv.importance.rename("gain").to_csv(val / "feature_importance.csv")
    if tm.tuning is not None:
        tm.tuning.to_csv(val / "tuning_trials.csv", index=False)
    if cv.tuning is not None:
        cv.tuning.to_csv(val / "nested_tuning.csv", index=False)
    if spec.max_inputs:   # input selection: the inputs each blind fold kept
        (val / "fold_inputs.json").write_text(json.dumps(
            {"final": tm.features, "folds": cv.inputs}, indent=1))
    if tm.groups is not None:   # the input groups the final model and each blind fold kept
        (val / "input_groups.json").write_text(json.dumps(
            {"final": tm.groups.to_dict(), "folds": cv.groups}, indent=1, default=float))
    (val / "source_files.json").write_text(json.dumps(hashes, indent=1))
