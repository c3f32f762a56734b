"""Batch prediction into a folder, resumable.

``predict_batch`` writes, in ``out_dir``:

- ``<well>_petro.las`` per well;
- ``predictions/well=<well>/part-0.parquet``: one Hive-partitioned Parquet dataset of every
  well's predictions (WELL, DEPT and the predicted columns);
- ``_petro_manifest.json``: per well the hash of its input files' contents and the identity of
  the models (URI and the logged model's id), written atomically after every few wells.

A rerun skips a well whose inputs and models are unchanged and whose outputs are present, and
says how many it skipped; a well that failed is not in the manifest, so the next run tries it
again. The remaining wells go by chunks of ``CHUNK`` (64): a chunk's features are built on the
configured engine (local processes or Dask), the models are applied in this process, and the
chunk is written before the next one starts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from petro.app.events import EventHandler, Reporter, reporter
from petro.app.predict import LoadedModel, PredictedWell, predict_wells
from petro.app.wells import file_hasher
from petro.config import EngineOptions, PipelineConfig
from petro.errors import ConfigError
from petro.io.atomic import atomic_file, atomic_write_json, safe_name
from petro.io.discovery import discover_many
from petro.problems import Problem

MANIFEST = "_petro_manifest.json"
DATASET = "predictions"
FLUSH_EVERY = 25
# wells whose features are built, predicted and written together (the calling process holds one
# chunk's feature tables, not the field's)
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


def _inputs_hash(files: list[Path], cache_dir: str | None, cfg_ingest) -> str:
    hasher = file_hasher(cache_dir, cfg_ingest)
    parts = sorted((Path(f).name, hasher(Path(f))) for f in files)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def read_manifest(out_dir: Path) -> dict:
    try:
        return json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def predict_batch(models: list[LoadedModel], data, out_dir: str | Path, *,
                  pipeline: PipelineConfig | None = None, n_jobs: int = 2,
                  cache_dir: str | None = None, engine: EngineOptions | None = None,
                  resume: bool = True, chunk: int = CHUNK,
                  on_event: EventHandler | Reporter | None = None) -> BatchResult:
    rep = reporter(on_event)
    out_dir = Path(out_dir)
    groups = discover_many(data)
    if not groups:
        raise ConfigError(f"{data}: no well files (.las, .dlis, .csv) found")
    mid = model_identity(models)
    manifest = read_manifest(out_dir) if resume else {}
    ingest = pipeline.ingest if pipeline is not None else None
    inputs = {name: _inputs_hash(files, cache_dir, ingest) for name, files in groups.items()}
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
    names = sorted(todo)
    for lo in range(0, len(names), max(1, chunk)):
        # a chunk of wells at a time: their feature tables (hundreds of columns per depth) are
        # dropped once the chunk is written, and a crash keeps what the chunks before it wrote
        part_wells = {n: todo[n] for n in names[lo: lo + max(1, chunk)]}
        wells, failed = predict_wells(models, part_wells, pipeline=pipeline, n_jobs=n_jobs,
                                      cache_dir=cache_dir, engine=engine, on_event=rep)
        res.failed += failed
        for i, w in enumerate(wells):
            las = w.write(out_dir)
            part = Path(DATASET) / f"well={safe_name(w.name)}" / "part-0.parquet"
            with atomic_file(out_dir / part) as tmp:
                w.frame().to_parquet(tmp, index=False)
            manifest[w.name] = {"inputs": inputs[w.name], "models": mid, "las": las.name,
                                "parquet": str(part)}
            if (i + 1) % FLUSH_EVERY == 0:
                atomic_write_json(out_dir / MANIFEST, manifest, indent=1, sort_keys=True)
        atomic_write_json(out_dir / MANIFEST, manifest, indent=1, sort_keys=True)
        res.wells += wells
    return res
