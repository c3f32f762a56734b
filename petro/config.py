"""Pipeline configuration: a YAML file of parameters (paths, cutoffs, model names), never code.

One precedence everywhere, key by key: a command-line flag (or a Python keyword) > the pipeline
YAML > the model's recipe (when features are built for a model) > the default. It is applied in
one place, :func:`build_config`: flags are set in the YAML's sections *before* validation, so a
flag is checked like the YAML it replaces, and the recipe lies under both. The whole
configuration, model specs included, is read and validated before any well is read: a typo
fails in a second, not after ingest.

A configuration holds two kinds of settings: *what* is computed (``ingest``, ``targets``,
``features``, ``logs``, the model specs: the recipe stored with every model) and *where and with
what* it runs (:class:`RunSettings`: jobs, the cache folder, the engine; never part of a recipe,
never a change to a result).

Relative paths in a pipeline file (``data``, ``ingest.cache_dir``, ``models_dir``, spec files) are
relative to the folder of that file; with no file (defaults and flags only), to the current
folder. Model specs are found, in order: a path; ``<models_dir>/<name>.yaml``;
``<pipeline folder>/models/<name>.yaml``; ``<pipeline folder>/<name>.yaml``; the packaged spec.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path


from petro.yamlfile import read_mapping
from petro.errors import ConfigError
from petro.features.image import ImageFeatureParams
from petro.features.logs import LogFeatureParams, with_extra_inputs
from petro.io.options import IngestOptions
from petro.mnemonics import AliasTable
from petro.models.spec import ModelSpec, load_spec
from petro.synth import SynthConfig
from petro.targets.nmr import TargetParams

SECTIONS = ("name", "data", "synthetic", "ingest", "targets", "features", "logs", "models",
            "tracking", "n_jobs", "models_dir", "aliases", "engine", "ood_policy")
# what a model does at out-of-domain depths (stored in its metadata; petro/models/runtime.py)
OOD_POLICIES = ("widen", "withhold", "keep")
TRACKING_KEYS = ("experiment", "register", "registered_prefix")
DEFAULT_MODELS = ("porosity", "permeability")
# the sections of a model's recipe (PipelineConfig.recipe), and those a pipeline must agree on
RECIPE_SECTIONS = ("ingest", "targets", "features", "logs")
CHECKED_SECTIONS = ("ingest", "features", "logs")


@dataclass
class EngineOptions:
    """Where per-well work runs (see petro.app.engine and docs/scale.md).

    ``scheduler``: None (a local process pool of ``n_jobs``; a Dask scheduler named by
    ``DASK_SCHEDULER_ADDRESS`` or Dask's configuration wins), ``"processes"`` (the local pool
    even if Dask is configured), ``"local-cluster"`` (a ``distributed.LocalCluster`` of
    ``n_jobs`` single-threaded workers) or a scheduler address ``tcp://host:8786``.
    ``feature_store``: folder of the per-well Parquet feature dataset (default
    ``<ingest.cache_dir>/features``; none without a cache). ``retries``: how often a task whose
    worker died is retried before the well is reported failed.

    Training (see petro.app.disttrain and docs/scale.md, "Training on the cluster"):
    ``distributed_training``: ``auto`` (LightGBM's own Dask interface, ``lightgbm.dask``, when
    a scheduler is configured and the estimated feature matrix of the training wells, rows x
    columns x 8 bytes from the Parquet metadata, exceeds ``local_training_max_bytes``),
    ``never`` or ``always``. ``local_training_max_bytes``: that line, bytes or a size
    (``"2GiB"``); None: a quarter (:data:`LOCAL_TRAINING_SHARE`) of the smallest worker's
    memory limit, or :data:`LOCAL_TRAINING_DEFAULT` when the workers report none.
    ``training_sample_rows``: on the ``lightgbm.dask`` path, the bound on the well-stratified
    sample of rows that the in-memory parts (input embedding, novelty, comparators, tuning,
    consistency) are fitted on."""

    scheduler: str | None = None
    feature_store: str | None = None
    retries: int = 2
    distributed_training: str = "auto"
    local_training_max_bytes: int | str | None = None
    training_sample_rows: int = 200_000

    def __post_init__(self):
        if self.scheduler is not None and not isinstance(self.scheduler, str):
            raise ValueError(f"scheduler {self.scheduler!r} is not an address or a name")
        if int(self.retries) < 0:
            raise ValueError("retries must be 0 or more")
        if self.distributed_training not in DISTRIBUTED_TRAINING:
            raise ValueError(f"distributed_training {self.distributed_training!r} is not one "
                             f"of {list(DISTRIBUTED_TRAINING)}")
        if self.local_training_max_bytes is not None:
            self.local_training_max_bytes = parse_size(self.local_training_max_bytes)
        if int(self.training_sample_rows) < 100:
            raise ValueError("training_sample_rows must be at least 100")
        self.training_sample_rows = int(self.training_sample_rows)


DISTRIBUTED_TRAINING = ("auto", "never", "always")
LOCAL_TRAINING_SHARE = 0.25          # of the smallest worker's memory limit
LOCAL_TRAINING_DEFAULT = 2 * 2 ** 30  # bytes, when the workers report no memory limit
_UNITS = {"": 1, "b": 1, "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9, "tb": 10 ** 12,
          "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}


def parse_size(value) -> int:
    """Bytes from a number or a size such as ``"512MiB"``, ``"2 GB"``."""
    if isinstance(value, bool):
        raise ValueError(f"size {value!r} is not a number of bytes")
    if isinstance(value, (int, float)):
        n = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        num = text.rstrip("kmgtib")
        unit = text[len(num):]
        try:
            n = float(num) * _UNITS[unit]
        except (KeyError, ValueError):
            raise ValueError(f"size {value!r}: a number of bytes or e.g. '512MiB', '2GB'") \
                from None
    if n <= 0:
        raise ValueError(f"size {value!r} must be positive")
    return int(n)


DEFAULT_JOBS = 2     # worker processes when no flag, keyword or pipeline says (the one place)


@dataclass
class RunSettings:
    """Where the work runs and with what. Never part of a model's recipe and never a change to
    a result: the same files and pipeline give the same tables, models and predictions under
    any run settings (``tests/test_determinism.py``).

    ``n_jobs``: processes of the local pool (per-well work, the blind-well folds and tuning
    trials), or workers of a ``local-cluster`` (pipeline ``n_jobs``, flag ``--jobs``).
    ``cache_dir``: the parsed-file cache, and below it the feature dataset
    (``<cache_dir>/features`` unless ``engine.feature_store``); None: no cache (pipeline
    ``ingest.cache_dir``, flags ``--cache-dir`` / ``--no-cache``). ``engine``: where per-well work
    and training run (:class:`EngineOptions`; pipeline ``engine:``, flag ``--scheduler``).

    Merged by :func:`build_config` like every setting: flag / keyword > pipeline > default (a
    model's recipe carries no run settings)."""

    n_jobs: int = DEFAULT_JOBS
    cache_dir: str | None = None
    engine: EngineOptions = field(default_factory=EngineOptions)

    def __post_init__(self):
        try:
            self.n_jobs = int(self.n_jobs)
        except (TypeError, ValueError):
            raise ValueError(f"n_jobs {self.n_jobs!r} is not a number") from None
        if self.n_jobs < 1:
            raise ValueError("n_jobs must be at least 1")


@dataclass
class PipelineConfig:
    """A validated pipeline: every section built, every model spec loaded."""

    name: str = "petro"
    data: str | None = None
    synthetic: SynthConfig | None = None
    ingest: IngestOptions = field(default_factory=IngestOptions)
    targets: TargetParams = field(default_factory=TargetParams)
    features: ImageFeatureParams = field(default_factory=ImageFeatureParams)
    logs: LogFeatureParams = field(default_factory=LogFeatureParams)
    specs: list[ModelSpec] = field(default_factory=list)
    experiment: str = "petro"
    register: bool = True
    registered_prefix: str = "petro-"
    source: str = ""
    run: RunSettings = field(default_factory=RunSettings)
    ood_policy: str = "widen"
    # what was given (the pipeline's mapping with the flags set in it) and the folder its
    # relative paths start from: :meth:`for_recipe` merges them again over a model's recipe
    given: dict = field(default_factory=dict, repr=False)
    base: str = ""

    @property
    def models(self) -> list[str]:
        return [s.name for s in self.specs]

    @property
    def n_jobs(self) -> int:
        """``run.n_jobs``."""
        return self.run.n_jobs

    @property
    def engine(self) -> EngineOptions:
        """``run.engine``."""
        return self.run.engine

    @engine.setter
    def engine(self, value: EngineOptions) -> None:
        self.run = replace(self.run, engine=value)   # a copy: configs may share a RunSettings

    def for_recipe(self, recipe: dict | None, model: str = "the model") -> "PipelineConfig":
        """This configuration for building ``model``'s inputs: its recipe under what was given
        (:func:`build_config`); the run settings and data are this configuration's. A given
        setting that differs from the recipe is a :class:`ConfigError` naming each difference.
        ``recipe`` None (a model of an older petro): this configuration as it is."""
        if recipe is None:
            return self
        return build_config(self.given, source=self.source, base=Path(self.base or "."),
                            recipe=recipe, model=model, require_data=False, load_specs=False)

    def recipe(self) -> dict:
        """What a model needs to rebuild its inputs from files: ingest, target and feature
        parameters (stored with every model; ``petro predict`` rebuilds features from it)."""
        return {"ingest": self.ingest.recipe(), "targets": asdict(self.targets),
                "features": asdict(self.features), "logs": asdict(self.logs)}

    def params(self) -> dict[str, object]:
        """Flat parameters for MLflow."""
        out: dict[str, object] = {"pipeline.name": self.name, "pipeline.source": self.source}
        out.update(self.targets.as_params())
        for f in fields(self.features):
            out[f"features.{f.name}"] = str(getattr(self.features, f.name))
        for f in fields(self.logs):
            out[f"logs.{f.name}"] = getattr(self.logs, f.name)
        for f in fields(self.ingest):
            if f.name not in ("aliases", "read_threads"):
                out[f"ingest.{f.name}"] = str(getattr(self.ingest, f.name))
        out["ingest.cache_dir"] = str(self.run.cache_dir)
        return out


def _build(cls, raw, section: str, where: str):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: section {section!r} must be a mapping of keys, got "
                          f"{type(raw).__name__}")
    raw = dict(raw)
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{where}: section {section!r}: unknown keys {sorted(unknown)}; known: "
                          f"{sorted(known)}")
    for k, v in list(raw.items()):
        if isinstance(v, list) and k not in ("t2_edges_ms",):
            raw[k] = tuple(v)
    try:
        return cls(**raw)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: section {section!r}: {err}") from err


def packaged(kind: str, name: str) -> Path:
    """A file shipped with petro: ``packaged('models', 'porosity.yaml')``."""
    return Path(str(resources.files("petro").joinpath("data", kind, name)))


def find_spec(ref: str, base: Path, models_dir: str | None) -> Path:
    """The spec file for a name or path (see the module docstring for the search order)."""
    p = Path(ref)
    if p.suffix in (".yaml", ".yml"):
        cand = [p if p.is_absolute() else base / p]
    else:
        cand = []
        if models_dir:
            md = Path(models_dir)
            cand.append((md if md.is_absolute() else base / md) / f"{ref}.yaml")
        cand += [base / "models" / f"{ref}.yaml", base / f"{ref}.yaml",
                 packaged("models", f"{ref}.yaml")]
    for c in cand:
        if c.is_file():
            return c
    raise ConfigError(f"model spec {ref!r} not found; looked for {', '.join(map(str, cand))}. "
                      f"`petro init DIR` writes editable specs")


def _apply(raw: dict, overrides: dict) -> dict:
    """Set dotted keys (``ingest.cache_dir``) in a copy of the raw YAML mapping."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        if rest:
            sec = out.get(head)
            sec = dict(sec) if isinstance(sec, dict) else {}
            sec[rest] = value
            out[head] = sec
        else:
            out[head] = value
    return out


def read_yaml(path: Path) -> dict:
    return read_mapping(path, "pipeline file", "a pipeline is a mapping of sections")


def _rel(value, base: Path) -> str | None:
    if value is None:
        return None
    p = Path(str(value)).expanduser()
    return str(p if p.is_absolute() else base / p)


def _run_settings(raw: dict, base: Path, where: str) -> RunSettings:
    """The run settings of a (layered) raw mapping: top-level ``n_jobs``, ``ingest.cache_dir``
    ("" -- the ``--no-cache`` flag -- means none) and the ``engine:`` section."""
    engine = _build(EngineOptions, raw.get("engine"), "engine", where)
    engine.feature_store = _rel(engine.feature_store or None, base)
    ingest = raw.get("ingest")
    cache_dir = (ingest.get("cache_dir") if isinstance(ingest, dict) else None) or None
    kwargs = {} if raw.get("n_jobs") is None else {"n_jobs": raw["n_jobs"]}
    try:
        return RunSettings(cache_dir=_rel(cache_dir, base), engine=engine, **kwargs)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from err


def recipe_sections(recipe: dict) -> dict:
    """A model's recipe (:meth:`PipelineConfig.recipe`) as the pipeline sections it came from."""
    raw = {k: dict(recipe.get(k) or {}) for k in RECIPE_SECTIONS}
    aliases = raw["ingest"].pop("aliases", None)
    if aliases:
        raw["aliases"] = aliases
    return raw


def _layer(lower: dict, upper: dict) -> dict:
    """``upper`` over ``lower``: key by key within the recipe sections, else section by section."""
    out = dict(lower)
    for key, value in upper.items():
        if key in RECIPE_SECTIONS and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def recipe_differences(mine: dict, recipe: dict) -> list[str]:
    """Where two recipes (:meth:`PipelineConfig.recipe`) differ in the sections that decide a
    model's input columns (ingest, features, logs), as ``section.key: given ..., model ...``."""
    diffs = []
    for section in CHECKED_SECTIONS:
        a, b = mine.get(section, {}), recipe.get(section, {}) or {}
        for key in sorted(set(a) | set(b)):
            va, vb = _plain(a.get(key)), _plain(b.get(key))
            if va != vb:
                diffs.append(f"{section}.{key}: given {va!r}, model {vb!r}")
    return diffs


def _plain(v):
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in sorted(v.items())}
    return v


def _inputs(raw: dict, where: str) -> tuple[dict, dict]:
    """The ``features`` and ``logs`` sections, with the input curves resolved: flagged in the
    alias table (with the pipeline's aliases), plus the curves named in ``features.logs``
    (resolved here so that the model's recipe lists them)."""
    features_raw = raw.get("features") or {}
    logs_raw = raw.get("logs") or {}
    for sec, val in (("features", features_raw), ("logs", logs_raw)):
        if not isinstance(val, dict):
            raise ConfigError(f"{where}: section {sec!r} must be a mapping of keys")
    features_raw, logs_raw = dict(features_raw), dict(logs_raw)
    extra_logs = features_raw.pop("logs", None)
    if extra_logs is not None and not isinstance(extra_logs, (list, dict)):
        raise ConfigError(f"{where}: features.logs is a list of curve names to use as inputs")
    if logs_raw.get("inputs") is None:
        logs_raw["inputs"] = AliasTable(raw.get("aliases")).inputs()
    logs_raw["inputs"] = with_extra_inputs(logs_raw["inputs"], extra_logs)
    return features_raw, logs_raw


def _specs(raw: dict, base: Path, where: str, load: bool) -> list[ModelSpec]:
    models = raw.get("models") or list(DEFAULT_MODELS)
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise ConfigError(f"{where}: 'models' is a list of spec names or files")
    specs = [load_spec(str(find_spec(m, base, raw.get("models_dir")))) for m in models] \
        if load else []
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: two model specs share a name ({names})")
    return specs


def _assemble(raw: dict, source: str, base: Path, where: str, load_specs: bool) \
        -> PipelineConfig:
    """A validated configuration from one (layered) raw mapping."""
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"{where}: unknown sections {sorted(unknown)}; known: {list(SECTIONS)}")
    ingest_raw = dict(raw.get("ingest") or {})
    ingest_raw.pop("cache_dir", None)           # a run setting (RunSettings.cache_dir)
    if raw.get("aliases"):
        ingest_raw["aliases"] = raw["aliases"]
    tracking = raw.get("tracking") or {}
    if not isinstance(tracking, dict) or set(tracking) - set(TRACKING_KEYS):
        raise ConfigError(f"{where}: section 'tracking': keys are {list(TRACKING_KEYS)}, got "
                          f"{sorted(tracking) if isinstance(tracking, dict) else tracking!r}")
    features_raw, logs_raw = _inputs(raw, where)
    synthetic = raw.get("synthetic")
    ood_policy = str(raw.get("ood_policy", "widen"))
    if ood_policy not in OOD_POLICIES:
        raise ConfigError(f"{where}: ood_policy {ood_policy!r} is not one of {list(OOD_POLICIES)}")
    return PipelineConfig(
        name=str(raw.get("name", Path(source).stem if source else "petro")),
        data=_rel(raw.get("data"), base),
        synthetic=_build(SynthConfig, synthetic, "synthetic", where) if synthetic else None,
        ingest=_build(IngestOptions, ingest_raw, "ingest", where),
        targets=_build(TargetParams, raw.get("targets"), "targets", where),
        features=_build(ImageFeatureParams, features_raw, "features", where),
        logs=_build(LogFeatureParams, logs_raw, "logs", where),
        specs=_specs(raw, base, where, load_specs),
        ood_policy=ood_policy,
        experiment=str(tracking.get("experiment", "petro")),
        register=bool(tracking.get("register", True)),
        registered_prefix=str(tracking.get("registered_prefix", "petro-")),
        source=source,
        run=_run_settings(raw, base, where),
    )


def build_config(raw: dict, *, source: str = "", base: Path | None = None,
                 overrides: dict | None = None, recipe: dict | None = None,
                 model: str = "the model", require_data: bool = True,
                 load_specs: bool = True) -> PipelineConfig:
    """The merge of every setting, key by key: the flags (dotted ``overrides``, None values
    left out) > the pipeline mapping ``raw`` > a model's ``recipe`` > the default.

    With a ``recipe`` (features built for ``model``), a given ingest / feature / log setting
    that differs from the recipe is a :class:`ConfigError` naming each difference: the model
    can only be given its own inputs. The run settings come from the flags and the pipeline
    (a recipe has none)."""
    where = source or "pipeline"
    base = Path(base) if base is not None else Path.cwd()
    given = _apply(raw, {k: v for k, v in (overrides or {}).items() if v is not None})
    layered = given if recipe is None else _layer(recipe_sections(recipe), given)
    cfg = _assemble(layered, source, base, where, load_specs)
    if recipe is not None:
        own = _assemble(recipe_sections(recipe), "", base, f"model {model}", False)
        diffs = recipe_differences(cfg.recipe(), own.recipe())
        if diffs:
            raise ConfigError(f"the settings given differ from those model {model} was trained "
                              f"with: " + "; ".join(diffs) + ". Leave them out: the model's "
                              "own recipe is used")
    cfg.given, cfg.base = given, str(base)
    if require_data and cfg.data is None:
        raise ConfigError(f"{where}: 'data' (the folder of well files) is missing")
    return cfg


def load_config(path: str | Path | None = None, *, overrides: dict | None = None,
                require_data: bool = True) -> PipelineConfig:
    """Read and validate a pipeline YAML (or the defaults when ``path`` is None) and merge it
    with the flags (dotted ``overrides``: ``{"data": ..., "n_jobs": 1, "ingest.cache_dir": ...,
    "engine.scheduler": ...}``) by :func:`build_config` (a model's recipe goes under both with
    :meth:`PipelineConfig.for_recipe`). A relative path among the overrides is relative to the
    current folder, like any command-line path.
    """
    overrides = dict(overrides or {})
    for key in ("data", "ingest.cache_dir", "models_dir", "engine.feature_store"):
        if overrides.get(key):
            overrides[key] = str(Path(overrides[key]).expanduser().resolve())
    if path is None:
        return build_config({}, overrides=overrides, require_data=require_data)
    path = Path(path)
    return build_config(read_yaml(path), source=str(path), base=path.resolve().parent,
                        overrides=overrides, require_data=require_data)
