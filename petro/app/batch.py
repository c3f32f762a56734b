"""Batch prediction into a folder, resumable.

``predict_batch`` writes, in ``out_dir``:

- ``<well>_petro.las`` per well;
- ``predictions/well=<well>/part-0.parquet``: one Hive-partitioned Parquet dataset of every
  well's predictions (WELL, DEPT and the predicted columns);
- ``_petro_manifest.json``: per well the hash of its input files' contents, the identity of
  the models (URI and the logged model's id) and the SHA-256 of its two files;
- with ``plots``: ``plots/<well>.png`` (drawn by the well's task), ``plots/<well>.json`` and
  ``index.html`` (:mod:`petro.app.pictures`);
- ``.petro/``: the run's lock and the journal of finished wells (:mod:`petro.app.outdir`).

The folder is locked and checked for writing before any well is read; a second run into it is
refused. A rerun skips a well whose inputs and models are unchanged and whose files are as
they were written (and, with ``plots``, whose picture and index row are there), and says how
many it skipped; a well that failed is not recorded, so the next run tries it again. Each
remaining well is one task on the configured engine (local processes or Dask: read, features, the models applied, its LAS file and Parquet part written,
by :func:`petro.app.predict.predict_well`, then its journal entry, :class:`RecordedWell`); a
killed run loses only the wells in flight. The wells are submitted by chunks of ``CHUNK``
(64): the calling process holds one chunk's predicted logs.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from petro.app.events import EventHandler, Reporter, reporter
from petro.app.outdir import MANIFEST, complete, fold, locked, read_manifest, record
from petro.app.engine import os_error_words
from petro.app.pictures import INDEX, pictured, write_index
from petro.app.predict import (DATASET, LoadedModel, Plan, PredictedWell, WellOutcome,
                               dataset_part, predict_chunks, predict_well, prediction_plan)
from petro.app.wells import file_hasher
from petro.config import PipelineConfig
from petro.errors import ConfigError, PetroError
from petro.io.discovery import discover_many
from petro.problems import Problem, warning

__all__ = ["MANIFEST", "BatchResult", "predict_batch", "read_manifest"]
# wells submitted together (the calling process holds one chunk's predicted logs)
CHUNK = 64


@dataclass
class BatchResult:
    wells: list[PredictedWell] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)
    dataset: Path | None = None
    index: Path | None = None        # index.html, with plots


def model_identity(models: list[LoadedModel]) -> str:
    """URIs and logged-model ids: an alias moved to another version changes it."""
    ids = sorted((m.uri, str(getattr(getattr(m.model, "metadata", None), "model_uuid", "")
                             or getattr(getattr(m.model, "metadata", None), "run_id", "")))
                 for m in models)
    return hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:24]


def _file_hashes(files: list[Path], hasher) -> list[tuple[str, str]]:
    return sorted((Path(f).name, hasher(Path(f))) for f in files)


def _inputs_hash(parts) -> str:
    return hashlib.sha256(json.dumps(sorted(parts)).encode()).hexdigest()[:24]


@dataclass
class RecordedWell:
    """The batch's per-well task: :func:`petro.app.predict.predict_well`, then, once the
    well's files are written, its journal entry (:func:`petro.app.outdir.record`) crediting
    them to ``models`` (the identity) and its inputs, written by the same task."""

    models: str

    def __call__(self, name: str, files: list[str], out_dir: str | None,
                 file_hashes: dict[str, str] | None, read_threads: int | None,
                 plan: Plan) -> WellOutcome:
        out = predict_well(name, files, out_dir, file_hashes, read_threads, plan)
        if out.well is not None and out_dir is not None and file_hashes is not None:
            record(out_dir, name, _inputs_hash(file_hashes.items()), self.models,
                   [out.well.path, Path(out_dir) / dataset_part(name)])
        return out


def predict_batch(models: list[LoadedModel], data, out_dir: str | Path,
                  cfg: PipelineConfig | None = None, *, resume: bool = True, chunk: int = CHUNK,
                  plots: bool = False,
                  on_event: EventHandler | Reporter | None = None) -> BatchResult:
    """Predict the wells of ``data`` into ``out_dir`` (see the module docstring) with the
    settings of ``cfg`` (:func:`petro.app.predict.prediction_plan`; None: the defaults), with
    ``plots`` a picture of each well and the batch's ``index.html``. The files are hashed through the stat records of ``cfg.run.cache_dir`` when there is one (an
    unchanged file is not read again). Raises :class:`~petro.errors.ConfigError` before any
    well is read for a folder that cannot be written or that another run holds, and
    :class:`petro.app.outdir.OutputError` when the manifest cannot be written at the end."""
    rep = reporter(on_event)
    out_dir = Path(os.path.abspath(out_dir))       # the tasks may run in another folder
    plan = prediction_plan(models, cfg, rep)      # the settings checked before any file is read
    plan.plots = plots
    with locked(out_dir, warn=rep.note):
        manifest = fold(out_dir)                    # a killed run's finished wells
        res = _predict(plan, model_identity(models), data, out_dir, manifest, resume, chunk,
                       rep)
    return res


def _predict(plan: Plan, mid: str, data, out_dir: Path, manifest: dict, resume: bool,
             chunk: int, rep: Reporter) -> BatchResult:
    """The wells of ``data`` not done already, predicted and recorded (the folder locked)."""
    groups = discover_many(data)
    if not groups:
        raise ConfigError(f"{data}: no well files (.las, .dlis, .csv) found")
    hasher = file_hasher(plan.run.cache_dir)
    hashes = {name: _file_hashes(files, hasher) for name, files in groups.items()}
    inputs = {name: _inputs_hash(h) for name, h in hashes.items()}
    res = BatchResult(dataset=out_dir / DATASET)
    todo = {n: f for n, f in groups.items()
            if not (resume and complete(out_dir, manifest.get(n), inputs[n], mid)
                    and (not plan.plots or pictured(out_dir, n)))}
    res.skipped = sorted(set(groups) - set(todo))
    if res.skipped:
        rep.note(f"{len(res.skipped)} wells skipped: inputs and models unchanged since the "
                 f"last run into {out_dir}")
    if not todo:
        return _indexed(res, plan, out_dir, groups, rep)
    known = {n: dict(hashes[n]) for n in todo}     # the tasks do not hash the files again
    try:
        for outcomes in predict_chunks(plan, todo, chunk=chunk, out_dir=out_dir, hashes=known,
                                       rep=rep, task=RecordedWell(mid)):
            for o in outcomes:
                res.failed += o.failed
                if o.well is not None:
                    res.wells.append(o.well)
    except BaseException:
        with suppress(PetroError):      # the wells finished so far: the journal keeps them
            fold(out_dir)
        raise
    fold(out_dir)
    return _indexed(res, plan, out_dir, groups, rep)


def _indexed(res: BatchResult, plan: Plan, out_dir: Path, groups: dict,
             rep: Reporter) -> BatchResult:
    """``res`` with the batch's ``index.html`` written, with ``plan.plots`` (a warning when it
    cannot be: the wells' files are written and recorded)."""
    if plan.plots:
        try:
            res.index = write_index(out_dir, sorted(groups), res.failed)
        except OSError as err:
            rep.problem(warning(f"the index of the pictures {out_dir / INDEX} could not be "
                                f"written: {os_error_words(err)}; the wells' files are "
                                f"written", code="index_failed"))
    return res
