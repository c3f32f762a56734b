"""Batch prediction into a folder, resumable.

``predict_batch`` writes, in ``out_dir``:

- ``<well>_petro.las`` per well;
- ``predictions/well=<well>/part-0.parquet``: one Hive-partitioned Parquet dataset of every
  well's predictions (WELL, DEPT and the predicted columns);
- ``_petro_manifest.json``: per well the hash of its input files' contents and the identity of
  the models (URI and the logged model's id), written atomically after every few wells.

A rerun skips a well whose inputs and models are unchanged and whose outputs are present, and
says how many it skipped; a well that failed is not in the manifest, so the next run tries it
again. Each remaining well is one task on the configured engine (local processes or Dask:
read, features, the models applied, its LAS file and Parquet part written, by
:func:`petro.app.predict.predict_well`); the wells are submitted by chunks of ``CHUNK`` (64)
and the manifest is written as each chunk's wells come back, so a crash keeps what the chunks
before it wrote.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from petro.app.events import EventHandler, Reporter, reporter
from petro.app.predict import (DATASET, LoadedModel, PredictedWell, dataset_part, predict_chunks,
                                prediction_plan)
from petro.app.wells import file_hasher
from petro.config import PipelineConfig
from petro.errors import ConfigError
from petro.io.atomic import atomic_write_json
from petro.io.discovery import discover_many
from petro.problems import Problem

MANIFEST = "_petro_manifest.json"
FLUSH_EVERY = 25
# wells submitted together (the calling process holds one chunk's predicted logs)
CHUNK = 64


@dataclass
class BatchResult:
    wells: list[PredictedWell] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)
    dataset: Path | None = None


def model_identity(models: list[LoadedModel]) -> str:
    """URIs and logged-model ids: an alias moved to another version changes it."""
    ids = sorted((m.uri, str(getattr(getattr(m.model, "metadata", None), "model_uuid", "")
                             or getattr(getattr(m.model, "metadata", None), "run_id", "")))
                 for m in models)
    return hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:24]


def _file_hashes(files: list[Path], hasher) -> list[tuple[str, str]]:
    return sorted((Path(f).name, hasher(Path(f))) for f in files)


def _inputs_hash(parts: list[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def read_manifest(out_dir: Path) -> dict:
    try:
        return json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def predict_batch(models: list[LoadedModel], data, out_dir: str | Path,
                  cfg: PipelineConfig | None = None, *, resume: bool = True, chunk: int = CHUNK,
                  on_event: EventHandler | Reporter | None = None) -> BatchResult:
    """Predict the wells of ``data`` into ``out_dir`` (see the module docstring) with the
    settings of ``cfg`` (:func:`petro.app.predict.prediction_plan`; None: the defaults). The
    files are hashed through the stat records of ``cfg.run.cache_dir`` when there is one (an
    unchanged file is not read again)."""
    rep = reporter(on_event)
    out_dir = Path(out_dir)
    groups = discover_many(data)
    if not groups:
        raise ConfigError(f"{data}: no well files (.las, .dlis, .csv) found")
    plan = prediction_plan(models, cfg, rep)      # the settings checked before any file is read
    mid = model_identity(models)
    manifest = read_manifest(out_dir) if resume else {}
    hasher = file_hasher(plan.run.cache_dir)
    hashes = {name: _file_hashes(files, hasher) for name, files in groups.items()}
    inputs = {name: _inputs_hash(h) for name, h in hashes.items()}
    res = BatchResult(dataset=out_dir / DATASET)

    def done(name: str) -> bool:
        e = manifest.get(name)
        return bool(e) and e.get("inputs") == inputs[name] and e.get("models") == mid \
            and (out_dir / e.get("las", "")).is_file() \
            and (out_dir / e.get("parquet", "")).is_file()

    todo = {n: f for n, f in groups.items() if not done(n)}
    res.skipped = sorted(set(groups) - set(todo))
    if res.skipped:
        rep.note(f"{len(res.skipped)} wells skipped: inputs and models unchanged since the "
                 f"last run into {out_dir}")
    if not todo:
        return res
    for name in todo:
        manifest.pop(name, None)
    known = {n: dict(hashes[n]) for n in todo}     # the tasks do not hash the files again
    for outcomes in predict_chunks(plan, todo, chunk=chunk, out_dir=out_dir, hashes=known,
                                   rep=rep):
        # the wells' files are written by their tasks; the manifest says which are complete
        done_here = 0
        for o in outcomes:
            res.failed += o.failed
            if o.well is None:
                continue
            manifest[o.name] = {"inputs": inputs[o.name], "models": mid,
                                "las": o.well.path.name, "parquet": str(dataset_part(o.name))}
            res.wells.append(o.well)
            done_here += 1
            if done_here % FLUSH_EVERY == 0:
                atomic_write_json(out_dir / MANIFEST, manifest, indent=1, sort_keys=True)
        atomic_write_json(out_dir / MANIFEST, manifest, indent=1, sort_keys=True)
    return res
