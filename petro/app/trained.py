"""What training returns (shared by the local path, :mod:`petro.app.training`, and the
``lightgbm.dask`` path, :mod:`petro.app.disttrain`), and the names of its progress stages."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from petro.app.wells import WellResult
from petro.config import PipelineConfig
from petro.models.spec import ModelSpec
from petro.models.validation import CVResult

FOLDS = "blind-well folds"
TUNING = "tuning trials"


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
