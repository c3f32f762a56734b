"""Prediction: wells -> predicted logs (with units and descriptions) -> LAS files.

A loaded model carries its *recipe* (the ingest, target and feature parameters it was trained
with); features for a well are rebuilt from that recipe, so a model trained with other windows,
aliases or unit rules gets exactly its own columns. The settings given (``--pipeline``, flags)
go over the recipe by the one rule of :func:`petro.config.build_config`: the run settings are
theirs, and a given ingest / feature / log setting that disagrees with the recipe is an error
that says what differs.

Several models on one well combine by one rule: each contributes its value columns
(``PHIE_ML/_P10/_P90``, ``PERM_ML/_P10/_P90``); ``NOVELTY`` is the largest of the models'
novelty (a depth is as unfamiliar as its least familiar model says), ``OOD_FLAG`` is 1 where any
model flags the depth, ``INPUT_COVERAGE`` the smallest share of inputs present. Which depths get
no prediction is decided by each model's runtime (the same rule in the CLI, Python and the server).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import types
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from petro.app.engine import Reach, map_tasks, open_engine, task_failure
from petro.app.events import EventHandler, Reporter, reporter
from petro.app.pictures import image_kinds, picture
from petro.app.wells import resolved, store_root, stored_well, task_config
from petro.config import PipelineConfig, RunSettings, load_config
from petro.errors import ConfigError, ModelError, PetroError
from petro.io.atomic import atomic_file, safe_name
from petro.io.discovery import discover_many
from petro.io.las_writer import write_las
from petro.models.diagnosis import diagnose
from petro.problems import Problem, Severity, error, info, warning
from petro.vocab import (DEPTH, INPUT_COVERAGE, KEY_INPUT_COVERAGE, LOGS_ONLY, ML, NOV_PREFIX,
                         NOVELTY, OOD_FLAG, OUTPUT_DESCRIPTIONS, P10, P90, PREFIX_KIND, TARGETS,
                         WELL, parse_feature)

RESIDUAL_UNITS = {"RHOB": "G/C3", "NPHI": "V/V", "DT": "US/F", "DTS": "US/F", "GR": "GAPI",
                  "PEF": "B/E", "LOG10_RT": "LOG10(OHMM)", "LOG10_RXO": "LOG10(OHMM)"}
DEFAULT_MODELS = ("models:/petro-porosity@champion", "models:/petro-permeability@champion")
PREDICT = "predict"
DATASET = "predictions"           # <out_dir>/predictions/well=<well>/part-0.parquet
MOSTLY_OOD = 0.5


@dataclass
class LoadedModel:
    uri: str
    model: object              # the MLflow pyfunc model
    inputs: list[str]          # its input columns (signature)
    output: str                # PHIE or PERM
    unit: str                  # output unit
    recipe: dict | None        # ingest / targets / features / logs parameters
    consistency: dict | None = None   # cross-log consistency models (the per-well diagnosis)
    novelty: dict | None = None       # novelty blocks (centre / spread of each input: diagnosis)
    answers: dict | None = None       # image inputs, blind figures of the model and its sibling

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        from petro.serving import predict_frame

        # one well's rows: the per-well shift test applies
        return predict_frame(self.model, rows.reindex(columns=[c for c in self.inputs
                                                               if c in rows.columns]),
                             params={"well": True})


def load_models(uris: list[str] | None = None, tracking_uri: str | None = None) \
        -> list[LoadedModel]:
    """Load models (default: the two champions) with their input columns and recipe."""
    from petro.serving import load_model, model_info
    from petro.tracking import setup

    setup(tracking_uri, existing=True)
    out = []
    for uri in uris or list(DEFAULT_MODELS):
        m = load_model(uri)
        info = model_info(m)
        out.append(LoadedModel(uri, m, info["inputs"], info["output"], info["unit"],
                               _without_removed(info["recipe"]), info.get("consistency"),
                               info.get("novelty"), info.get("answers")))
    return out


def _without_removed(recipe: dict | None) -> dict | None:
    """A model's recipe without the settings petro no longer has (``features.extra``, never
    used, removed in issue 24), so models registered before still load and compare."""
    if recipe and "extra" in (recipe.get("features") or {}):
        recipe = {**recipe, "features": {k: v for k, v in recipe["features"].items()
                                         if k != "extra"}}
    return recipe


@dataclass
class PredictedWell:
    """Predicted logs of one well on its depth grid, ready to write as LAS."""

    name: str
    depth: np.ndarray                          # m
    columns: dict[str, np.ndarray]
    units: dict[str, str]                      # LAS spelling
    descriptions: dict[str, str]
    header: dict[str, str] = field(default_factory=dict)
    params: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    path: Path | None = None                   # where it was written, if it was
    picture: Path | None = None                # its depth-track PNG, if drawn (app.pictures)
    diagnosis: str = ""                        # the worst log shift against the training wells
    engine: str = ""                           # where the per-well task ran (the run log's words)
    worker: str = ""                           # host:pid of the process that applied the models

    @property
    def n_rows(self) -> int:
        return int(self.depth.size)

    @property
    def n_predicted(self) -> int:
        vals = [v for k, v in self.columns.items() if k.endswith(f"_{ML}")]
        return int(np.isfinite(np.column_stack(vals)).any(axis=1).sum()) if vals else 0

    @property
    def n_ood(self) -> int:
        return int(np.nansum(self.columns.get(OOD_FLAG, np.zeros(0)) == 1))

    @property
    def ood_fraction(self) -> float:
        return self.n_ood / max(1, self.n_rows)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({WELL: self.name, DEPTH: self.depth, **self.columns})

    def write(self, out_dir: str | Path) -> Path:
        path = Path(out_dir) / f"{safe_name(self.name)}_petro.las"
        write_las(path, self.depth, self.columns, units=self.units,
                  descriptions=self.descriptions, well=self.header, params=self.params,
                  fmt="%.6g")
        self.path = path
        return path


def combine(models: list[LoadedModel], table: pd.DataFrame) -> tuple[pd.DataFrame, dict, dict]:
    """Predictions of several models on one well's feature table (see the module docstring).
    Returns the columns, their LAS units and descriptions."""
    values, novelty, flags, coverage, key_cov = [], [], [], [], []
    residuals: dict[str, pd.Series] = {}
    units, desc = {}, {}
    for m in models:
        pred = m.predict(table).reset_index(drop=True)
        target = next((t for t in TARGETS.values() if t.output == m.output), None)
        what = target.description if target else m.output
        las_unit = target.las_unit if target else m.unit
        for suffix in (ML, P10, P90):
            col = f"{m.output}_{suffix}"
            values.append(pred[col])
            units[col] = las_unit
            desc[col] = OUTPUT_DESCRIPTIONS[suffix].format(what=what.capitalize())
        novelty.append(pred[NOVELTY])
        flags.append(pred[OOD_FLAG])
        if LOGS_ONLY in pred:   # which of the model and its logs-only sibling answered
            col = f"{m.output}_{LOGS_ONLY}"
            values.append(pred[LOGS_ONLY].astype(float).rename(col))
            units[col], desc[col] = "", f"{m.output}: " + OUTPUT_DESCRIPTIONS[LOGS_ONLY]
        for col in pred.columns:   # cross-log residuals: the same for every model of a recipe
            if col.startswith(NOV_PREFIX) and col not in residuals:
                residuals[col] = pred[col]
        if INPUT_COVERAGE in pred:
            coverage.append(pred[INPUT_COVERAGE])
        if KEY_INPUT_COVERAGE in pred:
            key_cov.append(pred[KEY_INPUT_COVERAGE])
    out = pd.concat(values, axis=1)
    out[NOVELTY] = pd.concat(novelty, axis=1).max(axis=1, skipna=False)
    out[OOD_FLAG] = pd.concat(flags, axis=1).max(axis=1).astype(float)
    extra = [NOVELTY, OOD_FLAG]
    if coverage:
        out[INPUT_COVERAGE] = pd.concat(coverage, axis=1).min(axis=1)
        extra.append(INPUT_COVERAGE)
    if key_cov:
        out[KEY_INPUT_COVERAGE] = pd.concat(key_cov, axis=1).min(axis=1)
        extra.append(KEY_INPUT_COVERAGE)
    for c in extra:
        units[c], desc[c] = "", OUTPUT_DESCRIPTIONS[c]
    for c, r in residuals.items():
        out[c] = r
        curve = c[len(NOV_PREFIX):]
        units[c] = RESIDUAL_UNITS.get(curve, "")
        desc[c] = f"{curve} minus its value expected from the other logs (training wells)"
    return out, units, desc


def image_kind_note(models: list[LoadedModel], well_images) -> str:
    """In a petrophysicist's words, when the well's borehole images are not of the kinds the
    models were trained with (their image inputs are then absent and NOVELTY /
    KEY_INPUT_COVERAGE carry the cost); '' when the kinds agree."""
    used = sorted({f.kind for m in models if m.answers is None
                   for f in map(parse_feature, m.inputs) if f.is_image})
    have = sorted(well_images)
    if not used:
        return ""
    absent = [k for k in used if k not in have]
    if not absent:
        return ""
    words = {k: k.replace("_", " ") for k in set(used) | set(have)}
    other = [k for k in have if k not in used]
    missing = " or ".join(words[k] for k in absent)
    lead = (f"its {' and '.join(words[k] for k in other)} image is of a kind the models were not "
            f"trained with, and it has no {missing} image" if other
            else f"it has no {missing} image")
    return (f"{lead}: the models' {missing} image inputs are absent here and the predictions rest "
            f"on the other inputs (see KEY_INPUT_COVERAGE and OOD_FLAG)")


def answer_notes(models: list[LoadedModel], pred: pd.DataFrame, well_images=()) \
        -> tuple[list[str], dict[str, tuple[str, str, str]]]:
    """Which model answered, and why, in a petrophysicist's words (one line per model that
    says, :attr:`LoadedModel.answers`) and as LAS parameters (``<OUT>SRC``: the share of
    predicted depths the logs-only model answered, its reason and blind figures).
    ``well_images``: the well's image kinds (the missing ones are named)."""
    notes, params = [], {}
    for m in models:
        col = f"{m.output}_{LOGS_ONLY}"
        if not m.answers or col not in pred:
            continue
        target = next((t for t in TARGETS.values() if t.output == m.output), None)
        ok = np.isfinite(pred[f"{m.output}_{ML}"].to_numpy(float))
        share = float(np.mean(pred.loc[ok, col].to_numpy(float) == 1)) if ok.any() else 0.0
        used = [PREFIX_KIND.get(k, k) for k in m.answers["image_inputs"]]
        absent = [k for k in used if k not in well_images]
        kinds = " or ".join(k.replace("_", " ") for k in (absent if share > 0 and absent
                                                           else used))
        if not m.answers["image_inputs"]:
            why, cv = ("the model uses no image: no image group helped on its training wells",
                       m.answers["cv"])
        elif share > 0:
            why, cv = (f"logs-only model at {share:.0%} of the depths (no {kinds} image there)",
                       m.answers["logs_only_cv"])
        else:
            why, cv = f"the model with its {kinds} image inputs", m.answers["cv"]
        figures = _blind_figures(cv, target)
        notes.append(f"{m.output}: {why}{'; ' + figures if figures else ''}")
        params[f"{m.output}SRC"] = (f"{share:.3f}", "", f"share answered from logs only: {why}"
                                    f"{'; ' + figures if figures else ''}")
    return notes, params


def _blind_figures(cv: dict | None, target) -> str:
    """A model's pooled blind RMSE and P10-P90 coverage in words ('' when unknown)."""
    if not cv or target is None or target.metric not in cv:
        return ""
    text = f"blind RMSE {cv[target.metric]:.3f} {target.report_unit}"
    if "coverage_p10_p90" in cv:
        text += f", P10-P90 coverage {cv['coverage_p10_p90']:.2f}"
    return text


def _join(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Outer join on depth; NOVELTY / OOD_FLAG / INPUT_COVERAGE combined by the module's rule."""
    joined = pd.concat(frames, axis=1, join="outer").sort_index()
    out = joined.loc[:, ~joined.columns.duplicated()].copy()
    for col, how in ((NOVELTY, "max"), (OOD_FLAG, "max"), (INPUT_COVERAGE, "min"),
                     (KEY_INPUT_COVERAGE, "min")):
        if col in joined:
            sub = joined.loc[:, joined.columns == col]
            out[col] = getattr(sub, how)(axis=1, skipna=(col != NOVELTY))
    return out


# ------------------------------------------------------------------ models on the workers
class RuntimeCache:
    """Built model runtimes by model identity, at most ``size`` (least recently used dropped),
    and the runtime modules built from other petro versions' sources (by source hash; never put
    in ``sys.modules``). A per-process cache: a worker builds a model once, whatever number of
    wells (tasks) it predicts, for as long as the process lives. The one instance is
    :data:`RUNTIMES`; :func:`worker_models` puts the bundles MLflow loaded in this process there,
    so serial work applies exactly those."""

    def __init__(self, size: int = 8):
        self.size = size
        self._built: OrderedDict[str, tuple[object, type]] = OrderedDict()
        self._modules: dict[str, types.ModuleType] = {}

    def keys(self) -> list[str]:
        return list(self._built)

    def put(self, key: str, runtime: tuple[object, type]) -> None:
        self._built[key] = runtime
        self._built.move_to_end(key)
        while len(self._built) > self.size:
            self._built.popitem(last=False)

    def get(self, key: str, spec: dict) -> tuple[object, type]:
        """The runtime of ``key``, built from ``spec`` (a :class:`WorkerModel` bundle) if new."""
        hit = self._built.get(key)
        if hit is None:
            hit = self._build(spec)
        self.put(key, hit)
        return hit

    def module(self, source: str) -> types.ModuleType:
        """petro's runtime module when ``source`` is its text, else the runtime built from
        ``source`` (a model trained by another petro version)."""
        from petro.models import runtime

        if Path(runtime.__file__).read_text() == source:
            return runtime
        digest = hashlib.sha256(source.encode()).hexdigest()[:16]
        if digest not in self._modules:
            module = types.ModuleType(f"petro_runtime_{digest}")
            exec(compile(source, f"<{module.__name__}>", "exec"), module.__dict__)   # noqa: S102
            self._modules[digest] = module
        return self._modules[digest]

    def _build(self, spec: dict) -> tuple[object, type]:
        import lightgbm as lgb

        module = self.module(spec["runtime"])
        boosters = {k: lgb.Booster(model_str=text) for k, text in spec["boosters"].items()}
        return module.Bundle(spec["meta"], boosters), module.InputSchemaError


RUNTIMES = RuntimeCache()


@dataclass
class WorkerModel:
    """A loaded model in the form a worker applies: for a petro model its bundle as text (the
    JSON parameters, the LightGBM model strings and the source of the runtime it was loaded
    with), built into a runtime once per process (``key``: its identity); no MLflow on the
    worker. Another pyfunc model travels as itself (``pyfunc``) and predicts through MLflow."""

    uri: str
    inputs: list[str]
    output: str
    unit: str
    recipe: dict | None
    consistency: dict | None
    novelty: dict | None
    key: str
    bundle: dict | None = None
    pyfunc: object = None
    answers: dict | None = None

    def runtime(self) -> tuple[object, type]:
        return RUNTIMES.get(self.key, self.bundle)

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """One well's rows (the per-well shift test applies), as :meth:`LoadedModel.predict`."""
        rows = rows.reindex(columns=[c for c in self.inputs if c in rows.columns])
        if self.bundle is None:
            from petro.serving import predict_frame

            return predict_frame(self.pyfunc, rows, params={"well": True})
        bundle, refused = self.runtime()
        try:
            return bundle.predict(rows, well=True)
        except refused as err:   # the words MLflow's pyfunc wrapper gives it
            raise ModelError(f"the model refused the rows: petro: {err}") from err


def worker_models(models: list[LoadedModel]) -> list[WorkerModel]:
    """The models as workers apply them; this process keeps the loaded bundles themselves (a
    serial run applies exactly what MLflow loaded)."""
    from petro.serving import bundle_parts

    out = []
    for m in models:
        parts = bundle_parts(m.model)
        common = (m.uri, list(m.inputs), m.output, m.unit, m.recipe, m.consistency, m.novelty)
        if parts is None:
            out.append(WorkerModel(*common, key=f"pyfunc:{m.uri}", pyfunc=m.model,
                                   answers=m.answers))
            continue
        bundle, source = parts
        spec = {"meta": bundle.meta, "runtime": source,
                "boosters": {k: b.model_to_string() for k, b in sorted(bundle.boosters.items())}}
        key = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()
        RUNTIMES.put(key, (bundle, sys.modules[type(bundle).__module__].InputSchemaError))
        out.append(WorkerModel(*common, key=key, bundle=spec, answers=m.answers))
    return out


@dataclass
class Recipe:
    """One feature build of a well: the configuration of a recipe and the models that use it."""

    cfg: PipelineConfig
    models: list[WorkerModel]
    root: str | None                  # the feature dataset, if any


@dataclass
class Plan:
    """What every prediction task shares (sent to each worker once)."""

    recipes: list[Recipe]
    models: list[WorkerModel]         # all of them, in the caller's order
    run: RunSettings                  # where the tasks run (the same for every recipe)
    plots: bool = False               # a picture of each well written (petro.app.pictures)


@dataclass
class WellOutcome:
    """What one prediction task returns: the predicted logs (small: a dozen columns; None when
    the well could not be predicted) and every problem met reading and predicting it, once."""

    name: str
    well: PredictedWell | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def failed(self) -> list[Problem]:
        """The errors: a file, or the whole well, that could not be used."""
        return [p for p in self.problems if p.is_error]


def prediction_plan(models: list[LoadedModel], cfg: PipelineConfig | None = None,
                    rep: Reporter | None = None) -> Plan:
    """One feature build per distinct recipe, each with its models: the configuration of each
    is ``cfg`` (the settings given: flags and pipeline) merged over the models' recipe
    (:meth:`petro.config.PipelineConfig.for_recipe`; a given setting that differs from a
    recipe is an error). ``cfg`` None: the defaults."""
    rep = rep or Reporter()
    if not models:
        raise ModelError("no model to predict with")
    cfg = resolved(cfg if cfg is not None else load_config(require_data=False))
    by_recipe: dict[str, list[int]] = {}
    for i, m in enumerate(models):
        if m.recipe is None:
            rep.problem(warning(f"model {m.uri} carries no recipe (trained by an older petro): "
                                f"features are built with the settings given (else the "
                                f"defaults), which may not be the model's", code="no_recipe"))
        key = json.dumps(m.recipe, sort_keys=True, default=str)
        by_recipe.setdefault(key, []).append(i)
    configs = {key: cfg.for_recipe(models[idx[0]].recipe, models[idx[0]].uri)
               for key, idx in by_recipe.items()}     # every recipe checked before any work
    wm = worker_models(models)
    recipes = []
    for key, idx in by_recipe.items():
        root = store_root(configs[key])
        recipes.append(Recipe(configs[key], [wm[i] for i in idx],
                              None if root is None else str(root)))
    return Plan(recipes, wm, cfg.run)


def predict_well(name: str, files: list[str], out_dir: str | None,
                 file_hashes: dict[str, str] | None, read_threads: int | None,
                 plan: Plan) -> WellOutcome:
    """One well, start to end, where the task runs: read, features (through the feature
    dataset), every model applied, the diagnosis, and with ``out_dir`` its LAS file and Parquet
    part written (atomically), then, with ``plan.plots``, its picture and index row
    (:mod:`petro.app.pictures`). ``file_hashes``: the caller's content hashes of the files
    (file name -> sha256), not computed again; ``read_threads``: the engine's for the LAS
    reader."""
    first = None
    problems: list[Problem] = []
    tables: list[tuple[Recipe, pd.DataFrame]] = []
    previews = plan.plots and out_dir is not None and bool(image_kinds(plan.models))
    for rc in plan.recipes:
        r = stored_well(name, files, task_config(rc.cfg, read_threads), False, rc.root,
                        file_hashes=file_hashes, previews=previews and first is None)
        first = first or r
        problems += [p.at(well=name) for p in ([r.error] if r.error else []) + r.problems
                     if p.severity >= Severity.WARNING]
        if r.table is not None:
            tables.append((rc, r.table))
    # the recipes read the same files: a file's problem is met once per recipe, reported once
    out = WellOutcome(name, None, list(dict.fromkeys(problems)))
    if first.error is not None:
        return out
    try:
        parts = [(t[DEPTH].to_numpy(float), *combine(rc.models, t)) for rc, t in tables]
    except PetroError as err:
        out.problems.append(err.problem(well=name, code="predict_failed"))
        return out
    models = plan.models
    # models with other recipes may have other depth grids: join on depth
    frames = [p[1].set_axis(pd.Index(p[0], name=DEPTH)) for p in parts]
    pred = frames[0] if len(frames) == 1 else _join(frames)
    units = {k: v for p in parts for k, v in p[2].items()}
    desc = {k: v for p in parts for k, v in p[3].items()}
    depth = pred.index.to_numpy(float)
    header = {k: v for k, v in first.summary.get("header", {}).items()
              if k not in ("STRT", "STOP", "STEP", "NULL")}
    pw = PredictedWell(name, depth, {c: pred[c].to_numpy(float) for c in pred.columns},
                       units, desc, header,
                       {f"MODEL{i + 1}": (m.uri, "", "petro model URI")
                        for i, m in enumerate(models)},
                       worker=f"{socket.gethostname()}:{os.getpid()}")
    images = image_kind_note(models, first.summary.get("images", {}))
    if pw.n_predicted == 0:   # the images first when they are what is missing
        out.problems.append(error(f"{images + '. ' if images else ''}no depth has enough of the "
                                  f"models' inputs (curves found: "
                                  f"{', '.join(first.summary.get('curves', [])) or 'none'}); "
                                  f"nothing written", well=name, code="no_inputs"))
        return out
    cons = next((m.consistency for m in models if m.consistency), None)
    novelty = next((m.novelty for m in models if m.novelty), None)
    pw.diagnosis = diagnose(pred, cons, tables[0][1], novelty)
    if pw.diagnosis:
        pw.problems.append(warning(pw.diagnosis, well=name, code="log_shift"))
    answered, answer_params = answer_notes(models, pred, first.summary.get("images", {}))
    pw.params.update(answer_params)
    if answered:
        pw.problems.append(info("; ".join(answered), well=name, code="answered_by"))
        pw.diagnosis = "; ".join(t for t in (pw.diagnosis, *answered) if t)
    if images:
        pw.problems.append(warning(images, well=name, code="image_kind"))
        pw.diagnosis = "; ".join(t for t in (pw.diagnosis, images) if t)
    if pw.ood_fraction > MOSTLY_OOD:
        pw.problems.append(warning(f"{pw.ood_fraction:.0%} of its depths are out of the "
                                   f"training domain; treat its predictions as "
                                   f"extrapolation", well=name, code="mostly_ood"))
    if out_dir is not None:
        write_outputs(pw, out_dir)
        if plan.plots:
            pw.picture = picture(pw, pred, tables[0][1], first.summary, first.previews,
                                 models, out_dir)
    out.well = pw
    return out


def dataset_part(name: str) -> Path:
    """A well's file in the predictions dataset, relative to the output folder."""
    return Path(DATASET) / f"well={safe_name(name)}" / "part-0.parquet"


def write_outputs(pw: PredictedWell, out_dir: str | Path) -> None:
    """``<well>_petro.las`` and the well's part of the Parquet dataset, each atomically."""
    pw.write(out_dir)
    with atomic_file(Path(out_dir) / dataset_part(pw.name)) as tmp:
        pw.frame().to_parquet(tmp, index=False)


def predict_chunks(plan: Plan, groups: dict[str, list], *, chunk: int, out_dir=None,
                   hashes: dict[str, dict[str, str]] | None = None,
                   rep: Reporter | None = None,
                   task: Callable[..., WellOutcome] = predict_well) -> Iterator[list[WellOutcome]]:
    """:func:`predict_well` (or ``task``, called as it) over the wells on the plan's engine
    (opened once, the plan sent to each worker once; the paths absolute and checked on Dask
    workers), a chunk of wells at a time: each chunk's outcomes sorted by well, their problems
    reported (each once), before the next chunk is submitted. A task that failed for good (its
    worker died repeatedly, e.g. out of memory) comes back as that well's problem."""
    rep = rep or Reporter()
    names = sorted(groups)
    step = max(1, chunk)
    out = None if out_dir is None else os.path.abspath(out_dir)
    files = {n: [os.path.abspath(f) for f in groups[n]] for n in names}
    reach = Reach.of([f for fs in files.values() for f in fs], output_folder=out,
                     cache_folder=plan.run.cache_dir, feature_dataset=plan.recipes[0].root)
    rep.start(PREDICT, len(names))
    with open_engine(plan.run.engine, plan.run.n_jobs, len(names), shared=(plan,),
                     reach=reach) as engine:
        rep.note(f"per-well work on {engine.where}")
        for lo in range(0, len(names), step):
            tasks = [(n, (n, files[n], out, (hashes or {}).get(n), engine.task_threads))
                     for n in names[lo: lo + step]]
            outcomes = []
            for name, res, err in map_tasks(engine, task, tasks):
                if err is not None:
                    res = WellOutcome(name, None, [task_failure(name, err)])
                if res.well is not None:
                    res.well.engine = engine.where
                outcomes.append(res)
                rep.advance(PREDICT, name)
            outcomes.sort(key=lambda o: o.name)
            for o in outcomes:
                for p in o.problems + (o.well.problems if o.well is not None else []):
                    rep.problem(p)
            yield outcomes
    rep.end(PREDICT)


def predict_wells(models: list[LoadedModel], data, cfg: PipelineConfig | None = None, *,
                  on_event: EventHandler | Reporter | None = None) \
        -> tuple[list[PredictedWell], list[Problem]]:
    """Predict every well of ``data`` (a folder, a list of well folders and files, or a mapping
    well -> files) with the settings of ``cfg`` (:func:`prediction_plan`). Returns the
    predicted wells and the errors met (already reported as events, each once: the wells or
    files that could not be used, named, with the reason; the others go on). Each well is one
    task on the configured engine (read, features, models applied: :func:`predict_well`)."""
    rep = reporter(on_event)
    if not models:
        raise ModelError("no model to predict with")
    groups = discover_many(data)
    if not groups:
        raise ConfigError(f"{data}: no well files (.las, .dlis, .csv) found")
    plan = prediction_plan(models, cfg, rep)
    wells: list[PredictedWell] = []
    failed: list[Problem] = []
    for outcomes in predict_chunks(plan, groups, chunk=len(groups), rep=rep):
        for o in outcomes:
            failed += o.failed
            if o.well is not None:
                wells.append(o.well)
    return wells, failed
