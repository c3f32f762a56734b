"""Serving and loading petro models through MLflow (the pyfunc flavour, models-from-code)."""

from __future__ import annotations

from pathlib import Path

MODEL_CODE = Path(__file__).with_name("pyfunc_model.py")


def load_model(uri: str):
    """Load a logged or registered petro model (``models:/petro-permeability@champion``)."""
    import mlflow.pyfunc

    from petro.errors import ModelError

    try:
        return mlflow.pyfunc.load_model(uri)
    except Exception as err:  # MlflowException, OSError: name the URI and what to do
        raise ModelError(f"cannot load model {uri!r}: {err}. Check the name and alias with "
                         f"`petro models list` and the tracking URI (MLFLOW_TRACKING_URI)") from err


def predict_frame(model, frame, params: dict | None = None):
    """Predict with a loaded pyfunc model; returns a DataFrame of the output columns.

    A model that refuses the rows (schema, no usable column) raises ModelError with its message.
    """
    import pandas as pd
    from mlflow.exceptions import MlflowException

    from petro.errors import ModelError

    try:
        out = model.predict(frame, params=params) if params else model.predict(frame)
    except MlflowException as err:
        raise ModelError(f"the model refused the rows: {err.message}") from err
    return out if isinstance(out, pd.DataFrame) else pd.DataFrame(out)


def model_info(model) -> dict:
    """What petro needs to know of a loaded model: input columns (metadata ``petro_inputs``; the
    signature holds outputs only, see :func:`petro.tracking.signature`), output prefix and unit, and
    the recipe (ingest / target / feature parameters) it was trained with (None if absent)."""
    meta = model.metadata
    extra = meta.metadata or {}
    inputs = extra.get("petro_inputs")
    if inputs is None:  # models logged before petro_inputs: the signature's input columns
        schema = meta.get_input_schema()
        inputs = schema.input_names() if schema is not None else []
    try:   # a petro model: its fitted parameters (novelty blocks: the well-level diagnosis)
        bundle_meta = model.unwrap_python_model().bundle.meta
    except Exception:  # another pyfunc or flavour
        bundle_meta = {}
    return {"inputs": list(inputs), "novelty": bundle_meta.get("novelty"),
            "output": extra.get("petro_output", ""), "unit": extra.get("petro_unit", ""),
            "recipe": extra.get("petro_recipe"), "consistency": extra.get("petro_consistency")}
