"""Pipeline configuration: a YAML file of parameters (paths, cutoffs, model names), never code."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from petro.errors import ConfigError
from petro.features.image import ImageFeatureParams
from petro.features.logs import LogFeatureParams
from petro.io.options import IngestOptions
from petro.targets.nmr import TargetParams

SECTIONS = ("name", "data", "synthetic", "ingest", "targets", "features", "logs", "models",
            "tracking", "n_jobs", "models_dir", "aliases")


@dataclass
class PipelineConfig:
    name: str = "petro"
    data: str | None = None
    synthetic: dict | None = None
    ingest: IngestOptions = field(default_factory=IngestOptions)
    targets: TargetParams = field(default_factory=TargetParams)
    features: ImageFeatureParams = field(default_factory=ImageFeatureParams)
    logs: LogFeatureParams = field(default_factory=LogFeatureParams)
    models: list[str] = field(default_factory=lambda: ["porosity", "permeability"])
    models_dir: str = "models"
    experiment: str = "petro"
    register: bool = True
    registered_prefix: str = "petro-"
    n_jobs: int = 2
    source: str = ""

    def params(self) -> dict[str, object]:
        """Flat parameters for MLflow."""
        out: dict[str, object] = {"pipeline.name": self.name, "pipeline.source": self.source}
        out.update(self.targets.as_params())
        for f in fields(self.features):
            out[f"features.{f.name}"] = str(getattr(self.features, f.name))
        for f in fields(self.logs):
            out[f"logs.{f.name}"] = getattr(self.logs, f.name)
        for f in fields(self.ingest):
            if f.name != "aliases":
                out[f"ingest.{f.name}"] = str(getattr(self.ingest, f.name))
        return out


def _build(cls, raw: dict | None, section: str, path: str):
    raw = dict(raw or {})
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{path}: section {section!r}: unknown keys {sorted(unknown)}; known: "
                          f"{sorted(known)}")
    for k, v in list(raw.items()):
        if isinstance(v, list):
            raw[k] = tuple(v) if k not in ("t2_edges_ms",) else v
    try:
        return cls(**raw)
    except TypeError as err:
        raise ConfigError(f"{path}: section {section!r}: {err}") from err


def load_config(path: str | Path, *, data: str | None = None) -> PipelineConfig:
    """Read a pipeline YAML. Relative paths in it are relative to the current directory."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"pipeline file {path} not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a pipeline is a mapping of sections")
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"{path}: unknown sections {sorted(unknown)}; known: {list(SECTIONS)}")
    ingest_raw = dict(raw.get("ingest") or {})
    if raw.get("aliases"):
        ingest_raw["aliases"] = raw["aliases"]
    tracking = raw.get("tracking") or {}
    cfg = PipelineConfig(
        name=str(raw.get("name", path.stem)),
        data=data or raw.get("data"),
        synthetic=raw.get("synthetic"),
        ingest=_build(IngestOptions, ingest_raw, "ingest", str(path)),
        targets=_build(TargetParams, raw.get("targets"), "targets", str(path)),
        features=_build(ImageFeatureParams, raw.get("features"), "features", str(path)),
        logs=_build(LogFeatureParams, raw.get("logs"), "logs", str(path)),
        models=list(raw.get("models") or ["porosity", "permeability"]),
        models_dir=str(raw.get("models_dir", "models")),
        experiment=str(tracking.get("experiment", "petro")),
        register=bool(tracking.get("register", True)),
        registered_prefix=str(tracking.get("registered_prefix", "petro-")),
        n_jobs=int(raw.get("n_jobs", 2)),
        source=str(path),
    )
    if cfg.data is None:
        raise ConfigError(f"{path}: 'data' (the folder of well files) is missing")
    return cfg
