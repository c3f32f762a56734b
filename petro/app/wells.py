"""Per-well work: files -> well -> targets and features, as a pure function of the files and the
configuration, run over many wells in worker processes.

:func:`process_well` never raises for bad data: a well that cannot be read comes back with
``error`` set, a file that fails inside an otherwise readable well, or targets that cannot be
computed, are problem records; the other wells of the batch go on. Only the per-well table
(a few MB) comes back from a worker, never the images.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from petro.app.engine import Reach, RunPool, map_tasks, open_engine, process_pool, task_failure
from petro.app.events import Reporter
from petro.app.featurestore import FeatureStore, well_key
from petro.config import PipelineConfig
from petro.errors import ConfigError, PetroError
from petro.features.table import well_features
from petro.io.cache import FileHashes, content_hash
from petro.io.checksum import ChecksumError
from petro.io.discovery import discover
from petro.io.wells import load_well
from petro.problems import Problem, Severity, warning
from petro.targets.nmr import compute_targets
from petro.vocab import is_nmr

WELLS = "wells"


@dataclass
class WellResult:
    """What per-well work returns: the model-ready table (features, and targets where the well
    has NMR), a summary for reports and lineage, and the problems met."""

    name: str
    files: list[str]
    table: pd.DataFrame | None = None
    target_report: dict | None = None
    summary: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    error: Problem | None = None
    table_path: str | None = None   # the table's file in the feature dataset, when stored
    # image kind -> (depth m, image reduced for display: petro.plots.image_preview), when asked
    previews: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """True when the well, or one of its files, could not be used."""
        return self.error is not None or any(p.is_error for p in self.problems)

    @property
    def has_targets(self) -> bool:
        return self.target_report is not None


def process_well(name: str, files: list[str], cfg: PipelineConfig, with_targets: bool = True,
                 file_hashes: dict[str, str] | None = None,
                 previews: bool = False) -> WellResult:
    """Read one well, compute its targets (if it has NMR) and its features. ``file_hashes``
    (file name -> content hash, for the lineage) when the caller has them already;
    ``previews``: every image reduced for display too (``res.previews``; the images
    themselves never leave this function)."""
    from petro.plots import image_preview

    res = WellResult(name, [str(f) for f in files])
    try:
        well = load_well(name, files, cfg.ingest, cache_dir=cfg.run.cache_dir)
    except PetroError as err:
        res.error = err.problem(well=name, code="well_failed")
        return res
    res.problems = list(well.problems)
    if previews:
        res.previews = {k: image_preview(img.depth, img.values) for k, img in well.images.items()}
    table = well_features(well, cfg.features, cfg.logs)
    has_nmr = is_nmr(well.curves.columns, well.t2_bins is not None)
    if with_targets and has_nmr:
        try:
            targets, report, target_problems = compute_targets(well, cfg.targets)
        except PetroError as err:
            # the well keeps its features (it can still be predicted); it cannot be trained on
            p = err.problem(code="no_targets", well=name)
            res.problems.append(replace(p, severity=Severity.WARNING,
                                        message=f"no NMR targets, features kept: {p.message}"))
        else:
            res.target_report = report
            res.problems += target_problems
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
                   "verdicts": [v.to_dict() for v in well.verdicts],
                   "sha256": file_hashes or _file_hashes(files, cfg)}
    return res


def _file_hashes(files: list[str], cfg: PipelineConfig) -> dict[str, str]:
    """File name -> content hash (lineage; the cache folder already knows unchanged files')."""
    hasher = file_hasher(cfg.run.cache_dir)
    return {Path(f).name: hasher(Path(f)) for f in files}


def file_hasher(cache_dir: str | None):
    """File content hashes: with a cache folder, remembered there for unchanged files (the
    parsed-file cache's stat records, :class:`petro.io.cache.FileHashes`)."""
    return FileHashes(cache_dir) if cache_dir else content_hash


def resolved(cfg: PipelineConfig) -> PipelineConfig:
    """``cfg`` with its run folders (cache, feature dataset) absolute: a task may run in a
    Dask worker started in another folder. (:func:`petro.config.load_config` resolves them
    already; a configuration built by hand may not.)"""
    run = cfg.run
    cache = None if run.cache_dir is None else os.path.abspath(run.cache_dir)
    store = run.engine.feature_store and os.path.abspath(run.engine.feature_store)
    if (cache, store) == (run.cache_dir, run.engine.feature_store):
        return cfg
    return replace(cfg, run=replace(run, cache_dir=cache,
                                    engine=replace(run.engine, feature_store=store)))


def store_root(cfg: PipelineConfig) -> Path | None:
    """The feature dataset folder: ``engine.feature_store``, else ``<cache_dir>/features``."""
    if cfg.run.engine.feature_store:
        return Path(cfg.run.engine.feature_store)
    return Path(cfg.run.cache_dir) / "features" if cfg.run.cache_dir else None


def task_config(cfg: PipelineConfig, threads: int | None) -> PipelineConfig:
    """The configuration a task gets: the LAS reader's ``threads`` (an engine's
    :attr:`~petro.app.engine.Engine.task_threads`) unless the pipeline set
    ``ingest.read_threads``."""
    if cfg.ingest.read_threads is not None or threads is None:
        return cfg
    return replace(cfg, ingest=replace(cfg.ingest, read_threads=threads))


def stored_well(name: str, files: list[str], cfg: PipelineConfig, with_targets: bool,
                root: str | None, keep_table: bool = True,
                file_hashes: dict[str, str] | None = None,
                previews: bool = False) -> WellResult:
    """:func:`process_well` through the per-well feature dataset: an entry for the same file
    contents and recipe is read back; a new result is written there (wells that failed are
    not stored, they are read again next time). ``keep_table=False``: a stored table is not
    sent back (``table`` None, ``table_path`` says where it is), e.g. for training on the
    cluster, where the workers read the tables. ``file_hashes`` and ``previews`` as for
    :func:`process_well`; an entry stored without the previews asked for is computed again
    (and stored with them)."""
    if root is None:
        return process_well(name, files, cfg, with_targets, file_hashes=file_hashes,
                            previews=previews)
    hashes = file_hashes or _file_hashes(files, cfg)
    store = FeatureStore(root)
    key = well_key(name, hashes, cfg.recipe(), with_targets)
    try:
        hit, damaged = store.get(name, key), None
    except ChecksumError as err:
        hit, damaged = None, err
    shown = store.previews(name, key, hit[1]) if hit is not None and previews else {}
    if shown is None:       # stored without them: computed again, and stored with them
        hit = None
    if hit is not None:
        table, meta = hit
        res = WellResult(name, [str(f) for f in files], table, meta.get("target_report"),
                         meta.get("summary", {}),
                         [Problem.from_dict(p) for p in meta.get("problems", [])],
                         previews=shown)
    else:
        res = process_well(name, files, cfg, with_targets, file_hashes=hashes,   # hashed once
                           previews=previews)
        if not res.failed:
            store.put(name, key, res.table, {"summary": res.summary,
                                             "target_report": res.target_report,
                                             "problems": [p.to_dict() for p in res.problems]},
                      previews=res.previews if previews else None)
        if damaged is not None:     # after the entry is written: the note is this run's only
            # a warning, not an info: every command shows it (something overwrote the store:
            # a disk, another process), though no answer changes
            res.problems.append(warning(f"the stored features of this well were damaged "
                                        f"({damaged}); they were computed again and the entry "
                                        f"replaced: check the disk and that no other process "
                                        f"writes to {store.root}", path=str(store.root),
                                        code="cache_damaged"))
    if res.table is not None and not res.failed:
        res.table_path = str(store.table_path(name, key))
        if not keep_table:
            res.table = None
    return res


def process_wells(groups: dict[str, list[Path]], cfg: PipelineConfig, *, with_targets=True,
                  reporter: Reporter | None = None, keep_tables: bool = True,
                  task: Callable[..., WellResult] = stored_well,
                  pool: RunPool | None = None) -> list[WellResult]:
    """:func:`process_well` over wells on the configured engine (local processes, or Dask:
    see :mod:`petro.app.engine`), each result through the feature dataset; results sorted by
    well name, whatever order the workers finish in. A well whose task failed for good (its
    worker died repeatedly, e.g. out of memory) comes back with ``error`` set.
    ``keep_tables=False``: stored tables stay in the feature dataset (:func:`stored_well`).
    ``task``: the per-well task, called as :func:`stored_well` (a test wraps it to make a
    worker die or run out of memory). ``pool``: the run's local pool (:func:`petro.app.engine
    .run_pool`; None: one is started for these wells)."""
    rep = reporter or Reporter()
    cfg = resolved(cfg)
    items = [(name, [os.path.abspath(f) for f in files]) for name, files in groups.items()]
    root = store_root(cfg)
    reach = Reach.of([f for _, files in items for f in files], cache_folder=cfg.run.cache_dir,
                     feature_dataset=root)
    rep.start(WELLS, len(items))
    results = []
    with open_engine(cfg.run.engine, cfg.run.n_jobs, len(items), reach=reach,
                     pool=pool) as engine:
        rep.note(f"per-well work on {engine.where}")
        tcfg = task_config(cfg, engine.task_threads)
        tasks = [(name, (name, files, tcfg, with_targets,
                         None if root is None else str(root), keep_tables))
                 for name, files in items]
        for name, res, err in map_tasks(engine, task, tasks):
            if err is not None:
                res = WellResult(name, [str(f) for f in groups[name]],
                                 error=task_failure(name, err))
            res.summary["engine"] = engine.where
            results.append(res)
            rep.advance(WELLS, name)
    rep.end(WELLS)
    results.sort(key=lambda r: r.name)
    for r in results:
        for p in ([r.error] if r.error else []) + r.problems:
            if p.severity >= Severity.WARNING:
                rep.problem(p.at(well=r.name))
    return results


def ensure_data(cfg: PipelineConfig, reporter: Reporter | None = None,
                pool: RunPool | None = None) -> Path:
    """The data folder; a ``synthetic:`` section writes the synthetic field there if it is
    absent (deterministic in the section's seed; in ``pool``, the run's, else a pool of its
    own)."""
    if cfg.data is None:
        raise ConfigError("no data folder: give one (DATA_DIR, `data:` in the pipeline)")
    data = Path(cfg.data)
    if cfg.synthetic and not (data.is_dir() and any(data.rglob("*.las"))):
        from petro.synth import write_field

        rep = reporter or Reporter()
        rep.start("synthetic wells", cfg.synthetic.wells)
        write_field(data, cfg.synthetic, progress=rep.stepper("synthetic wells"),
                    n_jobs=cfg.n_jobs, pool=pool.lend if pool is not None else process_pool())
        rep.end("synthetic wells")
    return data


def read_wells(cfg: PipelineConfig, *, with_targets: bool = True,
               reporter: Reporter | None = None, keep_tables: bool = True,
               pool: RunPool | None = None) -> list[WellResult]:
    """Discover the wells of ``cfg.data`` and process each one (``keep_tables``, ``pool``:
    see :func:`process_wells`)."""
    data = ensure_data(cfg, reporter, pool)
    groups = discover(data)
    if not groups:
        raise ConfigError(f"{data}: no well files (.las, .dlis, .csv) found")
    return process_wells(groups, cfg, with_targets=with_targets, reporter=reporter,
                         keep_tables=keep_tables, pool=pool)
