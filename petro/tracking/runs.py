"""One training run in MLflow: a parent run, then per model a child run with its parameters,
blind-well metrics, validation artifacts and plots, the model, its registration and the
promotion decision.

Everything is first kept on local disk (:mod:`petro.tracking.staging`) and logged from there.
``state.json`` in that folder records each step once the store has acknowledged it (the parent
run, each child run, its logged model, its registered version, its decision), so
:func:`log_pending` resumes a folder where the failed attempt stopped: a model already logged is
registered from its run, a version already registered is decided, never registered twice.
The folder is removed once every model is logged and decided.
"""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path

from petro.errors import ModelError, PetroError
from petro.tracking.gate import decide_alias, wells_tags
from petro.tracking.liveness import mark_stale_runs, process_tags
from petro.tracking.staging import PENDING_ROOT, absolute_uri, stage_training, write_json
from petro.tracking.store import brief_error, one_attempt, resolve_uri, setup


def log_training(result, *, uri: str | None = None, progress=None,
                 pending_root: Path = PENDING_ROOT, task_map=None) -> list[dict]:
    """Log a :class:`petro.app.trained.TrainResult`: one parent run, one child run per model.

    The result is first written to a folder under ``pending_root`` (``./petro-pending``), then
    logged from it (:func:`log_pending`). Returns one dict per model: name, registered name,
    version, alias, reason, run id, model URI, pooled metrics. ``task_map``: where the plots
    are drawn (:func:`petro.tracking.staging.stage_training`).
    """
    folder = stage_training(result, resolve_uri(uri), Path(pending_root), task_map)
    return log_pending(folder, progress=progress)


def log_pending(folder: str | Path, *, uri: str | None = None, progress=None) -> list[dict]:
    """Log a folder kept by :func:`log_training` (``petro models log-pending FOLDER``), resuming
    where it stopped, into ``uri`` (default: the store it was last being logged to; another
    store starts over there). Removes the folder once every model is logged and decided.

    A store that fails is a ModelError that names the folder and this command; on an interrupt
    the folder is kept and the KeyboardInterrupt says so."""
    folder = Path(folder).resolve()
    if not (folder / "run.json").is_file():
        raise ModelError(f"{folder}: not a folder of trained models waiting to be logged (no "
                         f"run.json); petro keeps them under ./{PENDING_ROOT}/")
    run = json.loads((folder / "run.json").read_text())
    state = folder / "state.json"
    uri = absolute_uri(resolve_uri(uri or (json.loads(state.read_text())["uri"] if state.is_file()
                                           else run["uri"])))
    again = f"`petro models log-pending {folder}`"
    try:
        entries = _log_folder(folder, run, uri, progress)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"the trained models are kept in {folder}; log them with "
                                f"{again}") from None
    except PetroError as err:
        raise ModelError(f"{err}. The trained models are kept in {folder}: {again} logs what is "
                         f"left once {uri} answers") from err
    except Exception as err:   # MLflow, HTTP, the store's database
        raise ModelError(f"MLflow store {uri} failed while petro logged the run "
                         f"({brief_error(err)}). The trained models are kept in {folder}: "
                         f"{again} logs what is left once the store answers") from err
    shutil.rmtree(folder, ignore_errors=True)
    if folder.parent.name == PENDING_ROOT.name and not any(folder.parent.iterdir()):
        folder.parent.rmdir()
    return entries


def _log_folder(folder: Path, run: dict, uri: str, progress) -> list[dict]:
    import mlflow
    from mlflow import MlflowClient

    state = _read_state(folder, uri)
    setup(uri, run["experiment"])
    client = MlflowClient()
    mark_stale_runs(client)        # runs killed outright before (this machine's): KILLED
    out = []
    with _active_run(run["run_name"], state.get("parent_run_id")) as parent:
        state["parent_run_id"] = parent.info.run_id
        _save_state(folder, state)
        mlflow.log_params(run["params"])
        mlflow.set_tags(run["tags"])
        mlflow.log_artifacts(str(folder / "parent"))
        for name in run["models"]:
            out.append(_log_model(client, folder / "models" / name, state, folder,
                                  parent.info.run_id, run["register"]))
            if progress:
                progress(name)
    return out


@contextmanager
def _active_run(name: str, run_id: str | None = None, nested: bool = False):
    """An MLflow run (a new one, or ``run_id`` resumed), tagged with this process
    (:mod:`petro.tracking.liveness`), ended FINISHED, FAILED on an error or KILLED on an
    interrupt; a store that fails to end it does not hide what stopped the run."""
    import mlflow

    run = mlflow.start_run(run_id=run_id, run_name=None if run_id else name, nested=nested,
                           tags=process_tags())
    try:
        yield run
    except BaseException as err:
        try:
            with one_attempt():
                mlflow.end_run("KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED")
        except Exception:  # the store that failed the run may fail this too: the first error wins
            pass
        raise
    mlflow.end_run("FINISHED")


def _log_model(client, mdir: Path, state: dict, folder: Path, parent_id: str,
               register: bool) -> dict:
    """One model's child run, from where its last attempt stopped; returns its entry."""
    m = json.loads((mdir / "model.json").read_text())
    st = state["models"].setdefault(m["name"], {})
    if not st.get("done"):
        # a run whose model was not logged is started again (the old one ended FAILED); one
        # whose model was logged is resumed
        if st.get("run_id") and not st.get("model_uri"):
            client.set_terminated(st["run_id"], "FAILED")
        with _active_run(m["run_name"], st.get("run_id") if st.get("model_uri") else None,
                         nested=True) as run:
            if not st.get("model_uri"):
                st.clear()
                st["run_id"] = run.info.run_id
                _save_state(folder, state)
                st.update(_log_model_run(client, mdir, m, parent_id))
                _save_state(folder, state)
            if register and m["registered"]:
                _register(client, m, st, folder, state)
        st["done"] = True
        _save_state(folder, state)
    return {"model": m["name"], "registered": m["registered"] if register else None,
            "run_id": st["run_id"], "model_uri": st["model_uri"], "metrics": m["pooled"],
            "version": st.get("version"), "alias": st.get("alias"), "reason": st.get("reason")}


def _log_model_run(client, mdir: Path, m: dict, parent_id: str) -> dict:
    """Parameters, tags, metrics, training dataset, validation artifacts and the model, in the
    active child run; returns the logged model's URI (``models:/<model id>``)."""
    import mlflow
    import pandas as pd
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    from petro.tracking.model import log_bundle_model

    mlflow.log_params(m["params"])
    mlflow.set_tags({**m["tags"], "petro.parent_run": parent_id})
    mlflow.log_metrics(m["metrics"])
    client.log_inputs(mlflow.active_run().info.run_id, datasets=[DatasetInput(
        Dataset(**m["dataset"]), tags=[InputTag(MLFLOW_DATASET_CONTEXT, "training")])])
    mlflow.log_artifacts(str(mdir / "artifacts"))
    example = pd.read_parquet(mdir / "example.parquet")
    info = log_bundle_model(mdir / "bundle", input_example=example.where(example.notna(), None))
    return {"model_uri": info.model_uri}


def _register(client, m: dict, st: dict, folder: Path, state: dict) -> None:
    """Register the logged model (once: a version the store created for this run, answer lost,
    is found again), tagged with the wells and data it was trained on, and decide its alias;
    the decision is also tagged on the run."""
    import mlflow

    name = m["registered"]
    if not st.get("version"):
        found = client.search_model_versions(f"name='{name}' and run_id='{st['run_id']}'")
        st["version"] = str(found[0].version if found else mlflow.register_model(
            st["model_uri"], name, tags={**wells_tags(m["train_wells"]),
                                         "petro.data_digest": m["data_digest"]}).version)
        _save_state(folder, state)
    # the registered model tagged as petro's, for `petro models list` whatever the field's prefix
    client.set_registered_model_tag(name, "petro.target", m["target"])
    alias, reason = decide_alias(client, name, st["version"], m["metric_key"], m["value"],
                                 m["fails"], m["train_wells"])
    st.update(alias=alias, reason=reason)
    _save_state(folder, state)
    mlflow.set_tags({"petro.decision": alias, "petro.reason": reason})


def _read_state(folder: Path, uri: str) -> dict:
    """What was logged of this folder, in ``uri``'s store (none when it went to another)."""
    path = folder / "state.json"
    state = json.loads(path.read_text()) if path.is_file() else {}
    if state.get("uri") != uri:
        state = {"uri": uri, "models": {}}
    return state


def _save_state(folder: Path, state: dict) -> None:
    write_json(folder / "state.json", state)
