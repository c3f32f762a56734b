"""What training returns (shared by the local path, :mod:`petro.app.training`, and the
``lightgbm.dask`` path, :mod:`petro.app.disttrain`), and the names of its progress stages."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from petro.app.wells import WellResult
from petro.config import PipelineConfig
from petro.errors import ModelError
from petro.features.table import model_features, usable_features
from petro.models.spec import ModelSpec
from petro.models.validation import CVResult
from petro.vocab import is_patch_feature

FOLDS = "blind-well folds"
TUNING = "tuning trials"


def spec_columns(table: pd.DataFrame, spec: ModelSpec, logs: list[str]) \
        -> tuple[list[str], list[str], list[str] | None, bool]:
    """For one model spec and the training table (or its sample): its candidate inputs, the
    logs-only inputs, the logs-only comparator's inputs (None when the model uses no image)
    and whether tuning is nested in the blind-well folds."""
    feats = usable_features(table, model_features(table.columns, spec.features, logs))
    if not spec.pca_components:  # patches only feed the learned embedding
        feats = [f for f in feats if not is_patch_feature(f)]
    logs_only = usable_features(table, model_features(table.columns, ["logs"], logs))
    if not feats:
        raise ModelError(f"{spec.name}: no usable feature columns in the training wells")
    nested = False
    if spec.tuning:
        from petro.models.tuning import tuning_settings

        nested = tuning_settings(spec)["nested"]
    return feats, logs_only, (logs_only if "image" in spec.features else None), nested


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
    table: pd.DataFrame          # the training rows (lightgbm.dask path: the in-memory sample)
    models: list[TrainedModel]
    plan: object = None   # petro.app.disttrain.TrainingPlan: which path trained, and why
