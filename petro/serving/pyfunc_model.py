"""MLflow models-from-code entry point of a petro model.

MLflow copies this file into the logged model and runs it at load time; nothing is pickled. The
fitted model is a bundle folder (LightGBM text models + JSON) logged as the artifact ``bundle``;
the runtime that predicts with it is shipped with the model as ``petro_runtime.py`` (code path),
so the model loads wherever numpy, pandas, lightgbm and mlflow are installed, with or without
petro, and always with the runtime version it was trained with.

Served (``mlflow models serve``, ``petro serve``: MLflow's scoring server marks its process with
``_MLFLOW_IS_IN_SERVING_ENVIRONMENT``), a missing or non-finite value is returned as None so the
reply's JSON holds ``null`` (MLflow writes a float NaN as a bare ``NaN``, which strict JSON
parsers, a browser's or node's ``JSON.parse``, refuse). In process, ``model.predict`` keeps float
columns with NaN. Should a later MLflow stop setting that variable, replies fall back to bare
``NaN`` (nothing else changes); ``tests/test_serving.py`` checks the reply over HTTP.
"""

from __future__ import annotations

import os

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel

try:  # the copy shipped with the model
    import petro_runtime as runtime
except ImportError:  # pragma: no cover - running from a petro checkout
    from petro.models import runtime


class PetroModel(PythonModel):
    """Per-depth rows in, ``{OUT}_ML``, ``{OUT}_P10``, ``{OUT}_P90``, ``NOVELTY``, ``OOD_FLAG`` out."""

    def load_context(self, context):
        self.bundle = runtime.Bundle.load(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        well = bool((params or {}).get("well", False))
        try:
            if serving():
                return self.bundle.predict(model_input, well=well, nulls=True)
            return self.bundle.predict(model_input, well=well)
        except runtime.InputSchemaError as err:
            raise MlflowException(f"petro: {err}", error_code=INVALID_PARAMETER_VALUE) from err


def serving() -> bool:
    """True in a process MLflow's scoring server runs (it sets this variable at start)."""
    return os.environ.get(SERVING_ENV, "").strip().lower() in ("true", "1")


SERVING_ENV = "_MLFLOW_IS_IN_SERVING_ENVIRONMENT"


mlflow.models.set_model(PetroModel())
