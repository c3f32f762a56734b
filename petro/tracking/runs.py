"""One training run in MLflow: a parent run, then per model a child run with its parameters,
blind-well metrics, validation artifacts and plots, the model, and its registration."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from petro.tracking.gate import check_criteria, decide_alias
from petro.tracking.model import _pin, log_bundle_model
from petro.tracking.store import setup
from petro.vocab import TARGETS, metric_name


def log_training(result, *, uri: str | None = None, progress=None) -> list[dict]:
    """Log a :class:`petro.app.trained.TrainResult`: one parent run, one child run per model.

    Returns one dict per model: name, registered name, version, alias, reason, run id, metrics.
    """
    import mlflow
    from mlflow import MlflowClient

    cfg = result.cfg
    setup(uri, cfg.experiment)
    client = MlflowClient()
    lineage = _lineage(result)
    out = []
    with mlflow.start_run(run_name=f"{cfg.name}") as parent:
        _log_parent(result, lineage)
        for tm in result.models:
            with mlflow.start_run(run_name=f"{cfg.name}-{tm.spec.name}", nested=True) as run:
                out.append(_log_model_run(client, result, tm, lineage, parent.info.run_id,
                                          run.info.run_id))
            if progress:
                progress(tm.spec.name)
    return out


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


def _log_parent(result, lineage: dict) -> None:
    """The parent run: the pipeline's parameters and lineage, and every well's summary."""
    import mlflow

    cfg = result.cfg
    mlflow.log_params({**cfg.params(), **lineage["path_params"]})
    mlflow.set_tags({"petro.pipeline": cfg.source, "petro.data_digest": lineage["digest"],
                     "petro.version": _pin("petro"), **lineage["path_tags"]})
    with tempfile.TemporaryDirectory() as td:
        path = Path(td) / "wells.json"
        path.write_text(json.dumps(
            [{**w.summary, "error": w.error, "problems": [p.to_dict() for p in w.problems],
              "targets": w.target_report} for w in result.wells], indent=1, default=str))
        mlflow.log_artifact(str(path), "data")


def _log_model_run(client, result, tm, lineage: dict, parent_id: str, run_id: str) -> dict:
    """One model in the active child run: parameters, metrics, training data, validation
    artifacts, the model, then its registration and the promotion decision."""
    import mlflow

    cfg, spec = result.cfg, tm.spec
    mlflow.log_params({**_model_params(cfg, tm), **lineage["path_params"]})
    mlflow.set_tags({"petro.data_digest": lineage["digest"], "petro.target": spec.target,
                     "petro.parent_run": parent_id, **lineage["path_tags"]})
    mlflow.log_metrics(_model_metrics(tm))
    table = result.table[["WELL", "DEPT"] + tm.features + [spec.column]]
    # lightgbm.dask path: the table is the in-memory sample, named so
    ds = mlflow.data.from_pandas(table, source=str(Path(cfg.data).resolve()),
                                 name=f"{cfg.name}-training" +
                                 ("-sample" if lineage["sampled"] else ""), targets=spec.column)
    mlflow.log_input(ds, context="training")
    with tempfile.TemporaryDirectory() as td:
        mlflow.log_artifacts(str(_write_validation(tm, lineage["hashes"], Path(td))))
    example = table[tm.features].head(5).astype(float)
    example = example.where(example.notna(), None)
    reg_name = f"{cfg.registered_prefix}{spec.name}" if cfg.register else None
    info = log_bundle_model(tm.bundle, input_example=example, registered_name=reg_name)
    entry = {"model": spec.name, "registered": reg_name, "run_id": run_id,
             "model_uri": info.model_uri, "metrics": tm.cv.pooled, "version": None,
             "alias": None, "reason": None}
    if reg_name:
        entry.update(_register(client, reg_name, str(info.registered_model_version), tm))
    return entry


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
    metrics.update({f"novelty_threshold_{b}": t for b, t in cv.novelty_thresholds.items()})
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


def _metric_name(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in s)


def _write_validation(tm, hashes: dict, folder: Path) -> Path:
    """The model's validation files (``validation/``: per-well metrics, blind predictions,
    importance, tuning trials, the inputs each fold kept, source file hashes) and plots
    (``plots/``) in ``folder``, laid out as in the run's artifacts."""
    from petro.plots import model_plots

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
    (val / "source_files.json").write_text(json.dumps(hashes, indent=1))
    model_plots(cv, folder / "plots", spec.name)
    return folder


def _register(client, reg_name: str, version: str, tm) -> dict:
    """The promotion gate on a new registered version; the decision is also tagged on the run."""
    import mlflow

    key = TARGETS[tm.spec.target].metric
    fails = check_criteria(tm.cv.pooled, tm.spec.criteria, tm.spec.target)
    alias, reason = decide_alias(client, reg_name, version, key, tm.cv.pooled["model"][key], fails)
    mlflow.set_tags({"petro.decision": alias, "petro.reason": reason})
    return {"version": version, "alias": alias, "reason": reason}
