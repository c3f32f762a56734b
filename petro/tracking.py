"""MLflow tracking and registry: runs, metrics, plots, lineage, models and the promotion gate.

Store: ``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///mlruns/mlflow.db`` (relative to the
working directory), with artifacts in ``artifacts/`` beside the SQLite file. A team points
``MLFLOW_TRACKING_URI`` at an ``mlflow server`` (its SQL backend and ``--artifacts-destination``
hold runs, registry and artifacts; see docs/scale.md); a team database used directly is refused
when petro would create an experiment (its artifacts would stay on one machine). Models are logged as
MLflow pyfunc models-from-code (:mod:`petro.serving.pyfunc_model`) with the fitted bundle
(LightGBM text models + JSON) as an artifact: no pickle.

Promotion: every run registers a new version of ``petro-<target>``. Alias ``champion`` moves to it
only if it passes its spec's ``criteria`` and beats the current champion's pooled blind-well
metric; otherwise the version gets ``challenger``. Tags ``petro.decision`` and ``petro.reason``
on the version say why.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd

from petro.errors import ConfigError, ModelError
from petro.models.runtime import Bundle
from petro.serving import MODEL_CODE
from petro.vocab import (COVERAGE, INPUT_COVERAGE, KEY_INPUT_COVERAGE, NOV_PREFIX, NOVELTY,
                         OOD_FLAG, TARGETS, WELL_NOVELTY, metric_name, output_columns)

DEFAULT_URI = "sqlite:///mlruns/mlflow.db"
CHAMPION, CHALLENGER = "champion", "challenger"


def _mlflow():
    import logging

    import mlflow

    # MLflow sets its logger to INFO on import; its INFO lines repeat what petro reports
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    return mlflow


def resolve_uri(uri: str | None = None) -> str:
    """The tracking URI: the argument, else ``MLFLOW_TRACKING_URI``, else the local SQLite store."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    elif "://" not in uri:
        raise ConfigError(f"tracking URI {uri!r}: MLflow 3 refuses a plain folder store; use "
                          f"{DEFAULT_URI} or a server URL")
    return uri


SERVER_DATABASES = ("postgresql", "mysql", "mssql")


def artifact_root(uri: str, experiment: str = "petro") -> str | None:
    """Where a new experiment's artifacts go: beside a local SQLite file; the server's artifact
    store for a tracking server (None). A team database used directly is refused: MLflow would
    put the experiment's artifacts in this machine's ``./mlruns``, where nobody else can load the
    models registered in the shared database."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///"):]).resolve().parent / "artifacts").as_uri()
    if uri.split(":", 1)[0].split("+", 1)[0] in SERVER_DATABASES:
        raise ConfigError(
            f"tracking URI {uri.split('://', 1)[0]}://...: experiment {experiment!r} does not exist "
            f"and petro will not create it with its artifacts in this machine's ./mlruns. Point "
            f"MLFLOW_TRACKING_URI at the team's tracking server (`mlflow server --backend-store-uri "
            f"<this database> --artifacts-destination s3://...|/shared/folder`, then "
            f"http://host:5000), or create the experiment with a shared artifact location: "
            f"`mlflow experiments create -n {experiment} -l s3://...`")
    return None


_REACHED: set[str] = set()


def check_server(uri: str, timeout: float = 10.0) -> None:
    """A tracking server that does not answer at all is a ConfigError now, naming the URL (MLflow
    itself would retry for minutes, then fail with a traceback). Any HTTP answer counts as
    reachable (a proxy or an auth layer may answer ``/health`` with an error status)."""
    import urllib.error
    import urllib.request

    if not uri.startswith(("http://", "https://")) or uri in _REACHED:
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            pass
    except urllib.error.HTTPError:
        pass
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ConfigError(f"MLflow tracking server {uri} does not answer ({reason}): is `mlflow "
                          f"server` running there? Check MLFLOW_TRACKING_URI / --tracking-uri") \
            from err
    _REACHED.add(uri)


def setup(uri: str | None = None, experiment: str | None = None) -> str:
    mlflow = _mlflow()
    uri = resolve_uri(uri)
    check_server(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if experiment:
        exp = mlflow.get_experiment_by_name(experiment)
        if exp is None:
            mlflow.create_experiment(experiment, artifact_location=artifact_root(uri, experiment))
        mlflow.set_experiment(experiment)
    return uri


def _pin(pkg: str) -> str:
    try:
        return f"{pkg}=={version(pkg)}"
    except PackageNotFoundError:
        return pkg


def pip_requirements() -> list[str]:
    return [_pin(p) for p in ("mlflow", "lightgbm", "numpy", "pandas", "scikit-learn")]


def signature(output: str, residuals: list[str] = ()):
    """The model's MLflow signature: its output columns and the ``well`` parameter, no inputs.

    The input columns are not in the signature: MLflow would then check and convert each of
    them, one pandas column at a time, on every request (two passes over ~220 columns, 17 ms of a
    1-row request, against 1 ms for petro's prediction), and it would drop every column it does
    not name before the model sees it, so a request with ``RHOZ`` or ``rhob`` would silently lose
    its density. Without input columns every column reaches the petro runtime, which checks the
    inputs itself, whole-array (columns by name, numbers, at least one row and one known column,
    HTTP 400 otherwise) and maps known aliases and case variants to the canonical input (or
    refuses them naming it). The input columns are in the model's metadata (``petro_inputs``, read
    by :func:`petro.serving.model_info`) and its input example.
    The ``well`` parameter says the rows are one well (the per-well shift test of the cross-log
    residuals applies).
    """
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    outputs = Schema([ColSpec("double", c) for c in output_columns(output)] +
                     [ColSpec("double", NOVELTY), ColSpec("long", OOD_FLAG),
                      ColSpec("double", INPUT_COVERAGE), ColSpec("double", KEY_INPUT_COVERAGE),
                      ColSpec("double", WELL_NOVELTY)] +
                     [ColSpec("double", NOV_PREFIX + c) for c in residuals])
    params = ParamSchema([ParamSpec("well", "boolean", False)])
    return ModelSignature(inputs=None, outputs=outputs, params=params)


def log_bundle_model(bundle: Bundle, input_example: pd.DataFrame | None = None,
                     registered_name: str | None = None):
    """Log a bundle as an MLflow pyfunc model (models-from-code) in the active run."""
    mlflow = _mlflow()
    tmp = Path(tempfile.mkdtemp(prefix="petro-model-"))
    try:
        bdir = bundle.save(tmp / "bundle")
        runtime_copy = tmp / "petro_runtime.py"
        shutil.copy(Path(__file__).parent / "models" / "runtime.py", runtime_copy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = mlflow.pyfunc.log_model(
                name="model", python_model=str(MODEL_CODE), artifacts={"bundle": str(bdir)},
                code_paths=[str(runtime_copy)], signature=signature(
                    bundle.output,
                    [m["target"] for m in (bundle.meta.get("consistency") or {}).get("curves", [])]),
                input_example=input_example, pip_requirements=pip_requirements(),
                registered_model_name=registered_name,
                metadata={"petro_output": bundle.output, "petro_unit": bundle.meta["unit"],
                          "petro_inputs": list(bundle.features),
                          "petro_columns": {
                              **{c: bundle.meta["unit"] for c in output_columns(bundle.output)},
                              NOVELTY: "distance / threshold", OOD_FLAG: "1 = out of domain",
                              INPUT_COVERAGE: "share of inputs present",
                              KEY_INPUT_COVERAGE: "importance-weighted share of inputs present"},
                          "petro_consistency": bundle.meta.get("consistency"),
                          "petro_recipe": bundle.meta.get("recipe")})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info


def _metric_name(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in s)


def check_criteria(pooled: dict[str, dict[str, float]], criteria: dict, target: str) -> list[str]:
    """Failures of a model's pooled blind-well metrics against its spec's criteria."""
    m = pooled["model"]
    key = TARGETS[target].metric
    fails = []
    if "max_rmse" in criteria and not m.get(key, np.inf) <= float(criteria["max_rmse"]):
        fails.append(f"{key} {m.get(key, float('nan')):.3f} > max_rmse {criteria['max_rmse']}")
    cov = m.get(COVERAGE, float("nan"))
    if "min_coverage" in criteria and not cov >= float(criteria["min_coverage"]):
        fails.append(f"P10-P90 coverage {cov:.3f} < {criteria['min_coverage']}")
    if "max_coverage" in criteria and not cov <= float(criteria["max_coverage"]):
        fails.append(f"P10-P90 coverage {cov:.3f} > {criteria['max_coverage']}")
    for base in criteria.get("must_beat", []):
        b = pooled.get(base, {}).get(key)
        if b is not None and not m.get(key, np.inf) < b:
            fails.append(f"does not beat baseline {base} ({m.get(key):.3f} >= {b:.3f})")
    return fails


def decide_alias(client, name: str, version: str, metric_key: str, value: float,
                 fails: list[str]) -> tuple[str, str]:
    """Champion or challenger for a new version, with the reason; sets alias and tags."""
    try:
        champ = client.get_model_version_by_alias(name, CHAMPION)
    except Exception:  # no champion yet
        champ = None
    if fails:
        alias, reason = CHALLENGER, "fails criteria: " + "; ".join(fails)
    elif champ is None:
        alias, reason = CHAMPION, f"first version passing criteria ({metric_key} {value:.4f})"
    else:
        old = client.get_run(champ.run_id).data.metrics.get(metric_name("model", metric_key))
        if old is not None and not value < old:
            alias, reason = CHALLENGER, (f"blind {metric_key} {value:.4f} does not beat champion "
                                         f"v{champ.version} ({old:.4f})")
        else:
            alias, reason = CHAMPION, (f"blind {metric_key} {value:.4f} beats champion "
                                       f"v{champ.version} ({old if old is not None else float('nan'):.4f})")
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, "petro.decision", alias)
    client.set_model_version_tag(name, version, "petro.reason", reason)
    return alias, reason


def log_training(result, *, uri: str | None = None, progress=None) -> list[dict]:
    """Log a :class:`petro.pipeline.TrainResult`: one parent run, one child run per model.

    Returns one dict per model: name, registered name, version, alias, reason, run id, metrics.
    """
    mlflow = _mlflow()
    from mlflow import MlflowClient

    from petro.plots import model_plots

    cfg = result.cfg
    setup(uri, cfg.experiment)
    client = MlflowClient()
    hashes = {w.name: w.summary.get("sha256", {}) for w in result.wells}
    data_digest = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:16]
    out = []
    # which training path (local or lightgbm.dask) and the figures it was chosen on
    plan = getattr(result, "plan", None)
    path_params = {k: str(v)[:500] for k, v in plan.params().items()} if plan else {}
    path_tags = {"petro.training_path": plan.path} if plan else {}
    sampled = bool(plan and plan.sample_rows is not None)
    with mlflow.start_run(run_name=f"{cfg.name}") as parent:
        mlflow.log_params({**cfg.params(), **path_params})
        mlflow.set_tags({"petro.pipeline": cfg.source, "petro.data_digest": data_digest,
                         "petro.version": _pin("petro"), **path_tags})
        with tempfile.TemporaryDirectory() as td:
            td = Path(td)
            (td / "wells.json").write_text(json.dumps(
                [{**w.summary, "error": w.error, "problems": [p.to_dict() for p in w.problems],
                  "targets": w.target_report} for w in result.wells], indent=1, default=str))
            mlflow.log_artifact(str(td / "wells.json"), "data")
        for tm in result.models:
            spec, cv = tm.spec, tm.cv
            reg_name = f"{cfg.registered_prefix}{spec.name}"
            with mlflow.start_run(run_name=f"{cfg.name}-{spec.name}", nested=True) as run:
                params = {**cfg.params(), **spec.as_params(), "n_features": len(tm.features),
                          "n_train_rows": int(cv.oof.shape[0]),
                          "train_wells": ",".join(sorted(cv.oof.WELL.unique())),
                          "validation.nested_tuning": cv.tuning is not None}
                mlflow.log_params({**{k: str(v)[:500] for k, v in params.items()},
                                   **path_params})
                mlflow.set_tags({"petro.data_digest": data_digest, "petro.target": spec.target,
                                 "petro.parent_run": parent.info.run_id, **path_tags})
                metrics = {}
                for label, vals in cv.pooled.items():
                    metrics.update({metric_name(label, k): v for k, v in vals.items() if k != "n"})
                key = TARGETS[spec.target].metric
                for label, vals in cv.pooled.items():
                    if label != "model" and key in vals:   # how much the model beats each one
                        name = "image_gain" if label == "logs_only" else f"gain_vs_{label}"
                        metrics[f"{name}_{key}"] = vals[key] - cv.pooled["model"][key]
                metrics["conformal_adjustment"] = cv.conformal_adj
                metrics.update({f"novelty_threshold_{b}": t
                                for b, t in cv.novelty_thresholds.items()})
                for _, row in cv.per_well[cv.per_well.model == "model"].iterrows():
                    for k, v in row.items():
                        if k not in ("well", "model", "n") and pd.notna(v):
                            metrics[_metric_name(f"well_{row['well']}_{k}")] = float(v)
                mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
                table = result.table[["WELL", "DEPT"] + tm.features + [spec.column]]
                # lightgbm.dask path: the table is the in-memory sample, named so
                ds = mlflow.data.from_pandas(table, source=str(Path(cfg.data).resolve()),
                                             name=f"{cfg.name}-training" +
                                             ("-sample" if sampled else ""),
                                             targets=spec.column)
                mlflow.log_input(ds, context="training")
                with tempfile.TemporaryDirectory() as td:
                    td = Path(td)
                    cv.per_well.to_csv(td / "per_well_metrics.csv", index=False)
                    cv.oof.to_csv(td / "blind_predictions.csv", index=False)
                    cv.importance.rename("gain").to_csv(td / "feature_importance.csv")
                    if tm.tuning is not None:
                        tm.tuning.to_csv(td / "tuning_trials.csv", index=False)
                        mlflow.log_artifact(str(td / "tuning_trials.csv"), "validation")
                        mlflow.log_metric("tuning_trials", len(tm.tuning))
                        mlflow.log_metric("tuning_trials_planned",
                                          tm.tuning.attrs.get("planned", len(tm.tuning)))
                        mlflow.log_metric("tuning_stopped_early",
                                          float(bool(tm.tuning.attrs.get("stopped"))))
                    if cv.tuning is not None:   # nested CV: each outer fold's own search
                        cv.tuning.to_csv(td / "nested_tuning.csv", index=False)
                        mlflow.log_artifact(str(td / "nested_tuning.csv"), "validation")
                        mlflow.log_metric("nested_tuning_trials_min",
                                          float(cv.tuning["trials_run"].min()))
                        mlflow.log_metric("tuning_best_blind_rmse",
                                          float(tm.tuning["blind_rmse"].min()))
                    if spec.max_inputs:   # input selection: the inputs each blind fold kept
                        (td / "fold_inputs.json").write_text(json.dumps(
                            {"final": tm.features, "folds": cv.inputs}, indent=1))
                        mlflow.log_artifact(str(td / "fold_inputs.json"), "validation")
                    (td / "source_files.json").write_text(json.dumps(hashes, indent=1))
                    for f in ("per_well_metrics.csv", "blind_predictions.csv",
                              "feature_importance.csv", "source_files.json"):
                        mlflow.log_artifact(str(td / f), "validation")
                    for png in model_plots(cv, td / "plots", spec.name):
                        mlflow.log_artifact(str(png), "plots")
                example = table[tm.features].head(5).astype(float)
                example = example.where(example.notna(), None)
                info = log_bundle_model(tm.bundle, input_example=example,
                                        registered_name=reg_name if cfg.register else None)
                entry = {"model": spec.name, "registered": reg_name if cfg.register else None,
                         "run_id": run.info.run_id, "model_uri": info.model_uri,
                         "metrics": cv.pooled, "version": None, "alias": None, "reason": None}
                if cfg.register:
                    ver = str(info.registered_model_version)
                    key = TARGETS[spec.target].metric
                    fails = check_criteria(cv.pooled, spec.criteria, spec.target)
                    alias, reason = decide_alias(client, reg_name, ver, key,
                                                 cv.pooled["model"][key], fails)
                    mlflow.set_tags({"petro.decision": alias, "petro.reason": reason})
                    entry.update(version=ver, alias=alias, reason=reason)
                out.append(entry)
                if progress:
                    progress(spec.name)
    return out


def list_models(uri: str | None = None, prefix: str = "petro-") -> list[dict]:
    """Registered petro models with their versions, aliases, metric and decision tags."""
    setup(uri)
    from mlflow import MlflowClient

    client = MlflowClient()
    rows = []
    for rm in client.search_registered_models():
        if not rm.name.startswith(prefix):
            continue
        aliases: dict[str, list[str]] = {}
        for a, v in (rm.aliases or {}).items():
            aliases.setdefault(str(v), []).append(a)
        for mv in client.search_model_versions(f"name='{rm.name}'"):
            metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
            key = next((k for k in (metric_name("model", t.metric) for t in TARGETS.values())
                        if k in metrics), None)
            rows.append({"name": rm.name, "version": int(mv.version),
                         "aliases": ",".join(sorted(aliases.get(str(mv.version), []))),
                         "metric": key or "", "value": metrics.get(key) if key else None,
                         "coverage": metrics.get(metric_name("model", COVERAGE)),
                         "reason": (mv.tags or {}).get("petro.reason", "")})
    return sorted(rows, key=lambda r: (r["name"], -r["version"]))


def promote(name: str, version: str, alias: str = CHAMPION, uri: str | None = None,
            reason: str = "promoted by hand") -> None:
    """Move ``alias`` to a version by hand (recorded in the version's tags)."""
    setup(uri)
    from mlflow import MlflowClient

    client = MlflowClient()
    try:
        client.get_model_version(name, str(version))
    except Exception as err:
        raise ModelError(f"model {name} version {version} not found ({err}); see "
                         f"`petro models list`") from err
    client.set_registered_model_alias(name, alias, str(version))
    client.set_model_version_tag(name, str(version), "petro.decision", alias)
    client.set_model_version_tag(name, str(version), "petro.reason", reason)
