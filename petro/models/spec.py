"""Model specs: one YAML file per target under ``models/`` (estimator, parameters, features,
uncertainty, novelty and the validation criteria a new version must pass)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


from petro.yamlfile import read_mapping
from petro.errors import ConfigError
from petro.vocab import TARGETS, Target

ESTIMATORS = ("lightgbm",)                                 # what a registered model runs
BASELINE_ESTIMATORS = ("ridge", "random_forest", "hist_gbm", "ridge_windowed")  # scikit-learn comparators
FEATURE_SETS = ("logs", "image")
TUNING_KEYS = ("trials", "n_iter", "inner_folds", "nested", "budget_s", "space")
EMBEDDINGS = ("pca", "autoencoder")
GROUP_KEYS = ("select", "rounds", "inner_folds", "min_gain", "trees")


@dataclass
class ModelSpec:
    name: str
    target: str
    estimator: str = "lightgbm"
    params: dict = field(default_factory=dict)
    features: list[str] = field(default_factory=lambda: ["logs", "image"])
    quantiles: tuple[float, float] = (0.1, 0.9)
    conformal: bool = True
    linear_base: bool = True         # boost from a ridge fit on the conventional logs
    pca_components: int = 4          # learned embedding of the image patches: its size (0: none)
    embedding: str = "pca"           # 'pca' | 'autoencoder' (petro.models.embedding)
    input_groups: dict = field(default_factory=dict)   # select, inner_folds, min_gain (groups.py)
    max_inputs: int = 0              # keep the N highest-gain inputs (0: all; petro.models.selection)
    novelty_quantile: float = 0.95
    novelty_new_well: float = 0.9    # prediction level of a new well's need (0: the worst well's)
    cv: str = "auto"                 # 'lowo', 'group_kfold', or 'auto' (LOWO up to 12 wells)
    n_splits: int = 5
    criteria: dict = field(default_factory=dict)
    baselines: list[str] = field(default_factory=lambda: ["ridge"])  # on conventional logs
    tuning: dict = field(default_factory=dict)   # trials, inner_folds, nested, budget_s, space
    seed: int = 0
    source: str = ""

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ConfigError(f"model spec {self.source or self.name}: target {self.target!r} must "
                              f"be one of {sorted(TARGETS)}")
        if self.estimator not in ESTIMATORS:
            raise ConfigError(f"model spec {self.source or self.name}: estimator "
                              f"{self.estimator!r}: registered models use {list(ESTIMATORS)}; "
                              f"list scikit-learn estimators {list(BASELINE_ESTIMATORS)} under "
                              f"'baselines' to compare them on the same folds")
        bad = [b for b in self.baselines if b not in BASELINE_ESTIMATORS]
        if bad:
            raise ConfigError(f"model spec {self.source or self.name}: unknown baselines {bad}; "
                              f"use {list(BASELINE_ESTIMATORS)}")
        if self.tuning and not isinstance(self.tuning, dict):
            raise ConfigError(f"model spec {self.source or self.name}: tuning must be a mapping "
                              f"({', '.join(TUNING_KEYS)})")
        bad = sorted(set(self.tuning or {}) - set(TUNING_KEYS))
        if bad:
            raise ConfigError(f"model spec {self.source or self.name}: tuning: unknown keys "
                              f"{bad}; known: {list(TUNING_KEYS)}")
        bad = [f for f in self.features if f not in FEATURE_SETS]
        if bad:
            raise ConfigError(f"model spec {self.source or self.name}: unknown feature sets {bad}; "
                              f"use {list(FEATURE_SETS)}")
        lo, hi = self.quantiles
        if not 0 < lo < 0.5 < hi < 1:
            raise ConfigError(f"model spec {self.source or self.name}: quantiles must be "
                              f"(lo < 0.5 < hi)")
        if isinstance(self.max_inputs, bool) or not isinstance(self.max_inputs, int) or \
                self.max_inputs < 0:
            raise ConfigError(f"model spec {self.source or self.name}: max_inputs "
                              f"{self.max_inputs!r} must be a whole number >= 0 (0: all inputs)")
        for key in ("novelty_quantile", "novelty_new_well"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1 or \
                    (key == "novelty_quantile" and v == 0):
                raise ConfigError(f"model spec {self.source or self.name}: {key} {v!r} must be "
                                  f"a share below 1 (novelty_new_well: 0 for none)")
        if self.embedding not in EMBEDDINGS:
            raise ConfigError(f"model spec {self.source or self.name}: embedding "
                              f"{self.embedding!r} must be one of {list(EMBEDDINGS)}")
        if not isinstance(self.input_groups, dict) or \
                set(self.input_groups) - set(GROUP_KEYS):
            raise ConfigError(f"model spec {self.source or self.name}: input_groups must be a "
                              f"mapping of {list(GROUP_KEYS)}")
        if self.cv not in ("auto", "lowo", "group_kfold"):
            raise ConfigError(f"model spec {self.source or self.name}: cv {self.cv!r} must be "
                              f"auto, lowo or group_kfold")

    @property
    def target_info(self) -> Target:
        """The target's column, output prefix, unit, transform and report scale
        (:data:`petro.vocab.TARGETS`)."""
        return TARGETS[self.target]

    # the target's facts, as the spec's own attributes (petro.vocab.Target)
    column = property(lambda self: self.target_info.column)
    output = property(lambda self: self.target_info.output)
    unit = property(lambda self: self.target_info.unit)
    transform = property(lambda self: self.target_info.transform)
    report_scale = property(lambda self: self.target_info.report_scale)
    report_unit = property(lambda self: self.target_info.report_unit)

    @property
    def nominal_coverage(self) -> float:
        return self.quantiles[1] - self.quantiles[0]

    def as_params(self) -> dict:
        d = {"model.name": self.name, "model.target": self.target,
             "model.estimator": self.estimator, "model.features": ",".join(self.features),
             "model.quantiles": f"{self.quantiles[0]},{self.quantiles[1]}",
             "model.conformal": self.conformal, "model.linear_base": self.linear_base,
             "model.pca_components": self.pca_components, "model.embedding": self.embedding,
             "model.max_inputs": self.max_inputs,
             "model.novelty_quantile": self.novelty_quantile,
             "model.novelty_new_well": self.novelty_new_well,
             "model.cv": self.cv, "model.seed": self.seed}
        d.update({f"model.params.{k}": v for k, v in self.params.items()})
        d.update({f"model.criteria.{k}": v for k, v in self.criteria.items()})
        d["model.baselines"] = ",".join(self.baselines)
        d.update({f"model.tuning.{k}": v for k, v in self.tuning.items() if k != "space"})
        d.update({f"model.input_groups.{k}": v for k, v in self.input_groups.items()})
        return d


def load_spec(ref: str, models_dir: str | Path = "models") -> ModelSpec:
    """Load a spec by name (``models/<name>.yaml``) or by path."""
    path = Path(ref)
    if not path.suffix:
        path = Path(models_dir) / f"{ref}.yaml"
    raw = read_mapping(path, f"model spec {ref!r}: file", "a model spec is a mapping")
    known = set(ModelSpec.__dataclass_fields__) - {"source"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    if "quantiles" in raw:
        raw["quantiles"] = tuple(float(q) for q in raw["quantiles"])
    for req in ("name", "target"):
        if req not in raw:
            raise ConfigError(f"{path}: missing {req!r}")
    return ModelSpec(**raw, source=str(path))
