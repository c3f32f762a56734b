"""What training returns (whichever path trained: in one process or with ``lightgbm.dask``),
the candidate inputs of a model, and the names of training's progress stages."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from petro.app.wells import WellResult
from petro.config import PipelineConfig
from petro.errors import ModelError
from petro.features.table import model_features, usable_features
from petro.models.pipeline import FOLDS, TUNING, TrainedModel
from petro.models.spec import ModelSpec
from petro.vocab import is_patch_feature

__all__ = ["FOLDS", "TUNING", "TrainedModel", "TrainResult", "spec_columns"]


def spec_columns(table: pd.DataFrame, spec: ModelSpec, logs: list[str]) \
        -> tuple[list[str], list[str]]:
    """For one model spec and the training table (or its sample): its candidate inputs and the
    conventional-log inputs (the logs-only comparator's)."""
    feats = usable_features(table, model_features(table.columns, spec.features, logs))
    if not spec.pca_components:  # patches only feed the learned embedding
        feats = [f for f in feats if not is_patch_feature(f)]
    logs_only = usable_features(table, model_features(table.columns, ["logs"], logs))
    if not feats:
        raise ModelError(f"{spec.name}: no usable feature columns in the training wells")
    return feats, logs_only


@dataclass
class TrainResult:
    cfg: PipelineConfig
    wells: list[WellResult]
    table: pd.DataFrame          # the training rows (lightgbm.dask path: the in-memory sample)
    models: list[TrainedModel]
    plan: object = None   # petro.app.disttrain.TrainingPlan: which path trained, and why
