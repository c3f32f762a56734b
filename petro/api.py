"""petro's verbs for Python users: the same as the command line, returning objects.

>>> from petro.api import features, ingest, predict, train
>>> wells = ingest("field/")                      # doctest: +SKIP
>>> table = features("field/", with_targets=True) # doctest: +SKIP
>>> run = train("my_pipeline.yaml")               # doctest: +SKIP
>>> predicted = predict("field/", out_dir="pred") # doctest: +SKIP

``data`` is a folder, a list of well folders and files, or a mapping well -> files. Every verb
takes its settings the same way, merged by one rule (:func:`configure`, key by key): keyword >
the pipeline YAML (``pipeline=``) > the model's recipe (``features(model=...)``, ``predict``) >
the default. The keywords: ``overrides={"ingest.unit_policy": "strict"}`` (any pipeline key) and
the run settings ``n_jobs``, ``cache_dir`` (``""``: no cache) and ``scheduler``. Progress and
problems arrive as events (``on_event``); nothing here prints.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from petro.app.batch import predict_batch
from petro.app.events import EventHandler, reporter
from petro.app.export import write_targets
from petro.app.outdir import check_writable
from petro.app.predict import LoadedModel, PredictedWell, load_models, predict_wells
from petro.app.training import RunResult
from petro.app.training import run as _run
from petro.app.wells import WellResult, process_wells
from petro.config import PipelineConfig, load_config
from petro.errors import ConfigError, DataError
from petro.io.discovery import discover_many
from petro.io.tables import write_table
from petro.vocab import DEPTH, WELL

NO_CACHE = ""


def configure(pipeline: str | Path | PipelineConfig | None = None, *, data=None,
              overrides: dict | None = None, n_jobs: int | None = None,
              cache_dir: str | None = None, scheduler: str | None = None,
              require_data: bool = False) -> PipelineConfig:
    """A validated configuration: the pipeline file (or the defaults) with the keywords over it
    (None: not given). ``cache_dir=""`` turns the parsed-file cache off; ``scheduler`` is a
    Dask scheduler address, ``"local-cluster"`` or ``"processes"`` (see petro.app.engine). A
    model's recipe goes under both where features are built for it
    (:meth:`PipelineConfig.for_recipe`)."""
    flags = {"data": str(data) if isinstance(data, (str, Path)) else None, "n_jobs": n_jobs,
             "ingest.cache_dir": cache_dir, "engine.scheduler": scheduler}
    if isinstance(pipeline, PipelineConfig):
        if overrides or any(v is not None for k, v in flags.items() if k != "data"):
            raise ConfigError("give overrides with a pipeline file, not a built config")
        return pipeline
    # a keyword not given (None) leaves the override under the same key standing (petro demo
    # gives its data folder and cache as overrides)
    return load_config(pipeline, overrides={**(overrides or {}),
                                            **{k: v for k, v in flags.items() if v is not None}},
                       require_data=require_data)


def _wells(data, cfg: PipelineConfig, with_targets: bool, on_event) -> list[WellResult]:
    groups = discover_many(data if data is not None else cfg.data)
    if not groups:
        raise ConfigError(f"{data}: no well files (.las, .dlis, .csv) found")
    return process_wells(groups, cfg, with_targets=with_targets, reporter=reporter(on_event))


def ingest(data, *, pipeline=None, on_event: EventHandler | None = None,
           **settings) -> list[WellResult]:
    """Read wells: per well its curves, images, NMR, depth range and the problems met."""
    cfg = configure(pipeline, data=data, **settings)
    return _wells(data, cfg, False, on_event)


def targets(data, *, out_dir: str | Path | None = None, pipeline=None,
            on_event: EventHandler | None = None, **settings) -> list[WellResult]:
    """NMR targets of every well that has NMR (``result.table``: PHIE, PERM, ... per depth;
    ``result.target_report``); with ``out_dir``, also written as LAS beside the vendor curves
    (``result.summary['targets_las']``)."""
    cfg = configure(pipeline, data=data, **settings)
    results = _wells(data, cfg, True, on_event)
    if out_dir is not None:
        for r in results:
            path = write_targets(r, cfg.targets, out_dir)
            if path is not None:
                r.summary["targets_las"] = str(path)
    return results


def features(data, *, pipeline=None, model: str | None = None, with_targets: bool = True,
             out: str | Path | None = None, fmt: str | None = None, tracking_uri=None,
             on_event: EventHandler | None = None, **settings) -> pd.DataFrame:
    """The model-ready feature table of all wells (WELL, DEPT, features, targets).

    With ``model`` (a model URI), features are built with that model's recipe and the table
    holds exactly its input columns (a request body for the served model). With ``out``, the
    table is also written (Parquet, CSV, or ``dataframe_split`` JSON ready to post)."""
    cfg = configure(pipeline, data=data, **settings)
    keep = None
    if model is not None:
        lm = load_models([model], tracking_uri)[0]
        cfg = cfg.for_recipe(lm.recipe, model)
        keep = lm.inputs
        with_targets = False
    results = _wells(data, cfg, with_targets, on_event)
    tables = [r.table for r in results if r.table is not None]
    if not tables:
        raise DataError("no well could be read; see the problems reported")
    table = pd.concat(tables, ignore_index=True, sort=False)
    if keep is not None:
        table = table.reindex(columns=[WELL, DEPTH] + keep)
    if out is not None:
        write_table(table, out, fmt)
    return table


def train(pipeline=None, *, data=None, tracking_uri: str | None = None,
          on_event: EventHandler | None = None, **settings) -> RunResult:
    """Run a pipeline: targets, features, blind-well validated models logged and registered in
    MLflow (``MLFLOW_TRACKING_URI`` or ``sqlite:///mlruns/mlflow.db``)."""
    cfg = configure(pipeline, data=data, require_data=True, **settings)
    return _run(cfg, tracking_uri=tracking_uri, on_event=on_event)


def predict(data, *, models: list[str] | list[LoadedModel] | None = None,
            out_dir: str | Path | None = None, pipeline=None, tracking_uri: str | None = None,
            resume: bool = True, plots: bool | None = None,
            on_event: EventHandler | None = None, **settings) -> list[PredictedWell]:
    """Predicted logs of every well (default models: the porosity and permeability champions).

    Each model's features are rebuilt from its own recipe; a ``pipeline`` or keyword that
    disagrees with it is an error. With ``out_dir``, each well is written as
    ``<well>_petro.las`` and into the Parquet dataset ``<out_dir>/predictions``; with ``resume``
    a well whose inputs and models are unchanged since the last run into ``out_dir`` is skipped
    (a note event says how many; see petro.app.batch), and with ``plots`` (the default with
    ``out_dir``) a depth-track picture of each well in ``<out_dir>/plots`` (``.picture``) and
    ``<out_dir>/index.html`` (see petro.app.pictures). Wells that cannot be predicted are
    reported as error events (once each) and left out."""
    if plots and out_dir is None:
        raise ConfigError("plots=True needs out_dir: the pictures are files beside the LAS files")
    cfg = configure(pipeline, data=data, **settings)
    if out_dir is not None:
        # writable and free: said before the models load (predict_batch creates and locks it)
        check_writable(Path(os.path.abspath(out_dir)))
    loaded = [m for m in (models or []) if isinstance(m, LoadedModel)]
    uris = [m for m in (models or []) if not isinstance(m, LoadedModel)]
    if uris or not loaded:
        loaded += load_models(uris or None, tracking_uri)
    if out_dir is not None:
        return predict_batch(loaded, data, out_dir, cfg, resume=resume, on_event=on_event,
                             plots=plots is not False).wells
    return predict_wells(loaded, data, cfg, on_event=on_event)[0]


def serve(model: str, *, host: str = "127.0.0.1", port: int = 5000,
          max_body_mb: float | None = None, tracking_uri: str | None = None) -> None:
    """Serve model URI ``model`` over HTTP until interrupted: MLflow's scoring app (the routes,
    request formats and replies of ``mlflow models serve``) behind petro's request guard (a
    request without Content-Type: 415; a body over ``max_body_mb``, default 64: 413; error
    replies without stack traces; see petro/serving/server.py)."""
    from petro.serving.server import MAX_BODY_MB
    from petro.serving.server import serve as _serve
    from petro.tracking import setup

    setup(tracking_uri, existing=True)
    _serve(model, host, port, MAX_BODY_MB if max_body_mb is None else max_body_mb)
