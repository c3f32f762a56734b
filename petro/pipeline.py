"""The training pipeline: files -> wells -> targets and features -> blind-well validated models.

Per-well work (:func:`process_well`) is a pure function of the well's files and the config, run
in worker processes; only the per-well tables (a few MB) come back, never the images. MLflow
logging is delegated to :mod:`petro.tracking`.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from petro.config import PipelineConfig
from petro.errors import ModelError, PetroError
from petro.features.table import model_features, usable_features, well_features
from petro.io.cache import PartCache, content_hash
from petro.io.discovery import discover
from petro.io.wells import load_well
from petro.models.spec import ModelSpec, load_spec
from petro.models.validation import CVResult, cross_validate, fit_final
from petro.targets.nmr import compute_targets


@dataclass
class WellResult:
    name: str
    files: list[str]
    table: pd.DataFrame | None = None
    target_report: dict | None = None
    summary: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    error: str | None = None


def process_well(name: str, files: list[str], cfg: PipelineConfig, with_targets: bool = True) \
        -> WellResult:
    """Read one well, compute targets (if it has NMR) and features. Never raises PetroError:
    a failure is returned in ``error`` so the other wells of the batch go on."""
    res = WellResult(name, [str(f) for f in files])
    # lineage hashes: the cache already knows them for unchanged files
    hasher = PartCache(cfg.ingest.cache_dir, cfg.ingest).file_hash if cfg.ingest.cache_dir \
        else content_hash
    try:
        well = load_well(name, files, cfg.ingest)
        res.problems = list(well.problems)
        table = well_features(well, cfg.features, cfg.logs)
        has_nmr = any(c in well.curves.columns for c in ("FFI", "TCMR", "PHIE_NMR")) or \
            well.t2_bins is not None
        if with_targets and has_nmr:
            targets, report = compute_targets(well, cfg.targets)
            res.target_report = report
            table = pd.concat([table, targets.reset_index(drop=True)], axis=1)
        res.table = table
        res.summary = {"well": name, "files": len(files), "rows": len(table),
                       "top": float(well.depth[0]), "base": float(well.depth[-1]),
                       "step": well.step, "curves": sorted(well.curves.columns),
                       "origin": {c: well.provenance[c].original for c in well.curves.columns
                                  if c in well.provenance},
                       "images": {k: f"{v.n_bins} bins @ {v.step * 1000:.2f} mm"
                                  for k, v in well.images.items()},
                       "nmr": has_nmr, "header": dict(well.header),
                       "sha256": {Path(f).name: hasher(Path(f)) for f in files}}
    except PetroError as err:
        res.error = str(err)
    return res


def process_wells(groups: dict[str, list[Path]], cfg: PipelineConfig, *, with_targets=True,
                  progress=None) -> list[WellResult]:
    """Run :func:`process_well` over wells, in ``cfg.n_jobs`` processes (sorted by well name)."""
    items = list(groups.items())
    results = []
    if cfg.n_jobs <= 1 or len(items) <= 1:
        for name, files in items:
            results.append(process_well(name, files, cfg, with_targets))
            if progress:
                progress(name)
    else:
        with ProcessPoolExecutor(max_workers=min(cfg.n_jobs, len(items)),
                                 mp_context=get_context("spawn")) as ex:
            futs = {ex.submit(process_well, n, f, cfg, with_targets): n for n, f in items}
            for fut in as_completed(futs):
                results.append(fut.result())
                if progress:
                    progress(futs[fut])
    return sorted(results, key=lambda r: r.name)


@dataclass
class TrainedModel:
    spec: ModelSpec
    features: list[str]
    cv: CVResult
    bundle: object
    logs_only_features: list[str]
    tuning: pd.DataFrame | None = None


@dataclass
class TrainResult:
    cfg: PipelineConfig
    wells: list[WellResult]
    table: pd.DataFrame
    models: list[TrainedModel]


def training_table(wells: list[WellResult]) -> pd.DataFrame:
    tables = [w.table for w in wells if w.table is not None and "VALID" in w.table]
    if not tables:
        raise ModelError("no well with NMR targets could be read: nothing to train on")
    table = pd.concat(tables, ignore_index=True, sort=False)
    return table[table["VALID"].astype(bool)].reset_index(drop=True)


def train_models(cfg: PipelineConfig, wells: list[WellResult], progress=None) -> TrainResult:
    table = training_table(wells)
    models = []
    for ref in cfg.models:
        spec = load_spec(ref, cfg.models_dir)
        feats = usable_features(table, model_features(table.columns, spec.features))
        if not spec.pca_components:  # patches only feed the learned embedding
            feats = [f for f in feats if "_patch_" not in f]
        logs_only = usable_features(table, model_features(table.columns, ["logs"]))
        if not feats:
            raise ModelError(f"{spec.name}: no usable feature columns in the training wells")
        trials = None
        if spec.tuning:
            from dataclasses import replace

            from petro.models.tuning import tune

            best, trials = tune(table, feats, spec,
                                progress=(lambda t, s=spec: progress(f"{s.name}: tuning {t}"))
                                if progress else None)
            spec = replace(spec, params=best)
        cv = cross_validate(table, feats, spec,
                            logs_only=logs_only if "image" in spec.features else None,
                            progress=(lambda f, s=spec: progress(f"{s.name}: fold {f}"))
                            if progress else None)
        bundle = fit_final(table, feats, spec, cv)
        bundle.meta["target_params"] = {k: v for k, v in cfg.targets.as_params().items()}
        models.append(TrainedModel(spec, feats, cv, bundle, logs_only, trials))
    return TrainResult(cfg, wells, table, models)


def ensure_data(cfg: PipelineConfig, progress=None) -> Path:
    """The data folder; a ``synthetic:`` section writes the synthetic field there if it is absent."""
    data = Path(cfg.data)
    if cfg.synthetic and not (data.is_dir() and any(data.rglob("*.las"))):
        from petro.synth import SynthConfig, write_field
        write_field(data, SynthConfig(**cfg.synthetic), progress=progress)
    return data


def discover_wells(cfg: PipelineConfig) -> dict[str, list[Path]]:
    return discover(ensure_data(cfg))


