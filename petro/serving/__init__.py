"""Serving and loading petro models through MLflow (the pyfunc flavour, models-from-code)."""

from __future__ import annotations

import hashlib
import sys
import types
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
    the recipe (ingest / target / feature parameters) it was trained with (None if absent), and
    (``answers``) the model's image inputs per kind with its and its logs-only sibling's
    pooled blind figures."""
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
    sibling = bundle_meta.get("logs_only") or {}
    # the logs-only sibling's own inputs too: without them it cannot answer a well without images
    inputs = list(inputs) + [f for f in sibling.get("features", []) if f not in inputs]
    return {"inputs": inputs, "novelty": bundle_meta.get("novelty"),
            "output": extra.get("petro_output", ""), "unit": extra.get("petro_unit", ""),
            "recipe": extra.get("petro_recipe"), "consistency": extra.get("petro_consistency"),
            # which of the model and its logs-only sibling answers (None: an older model)
            "answers": None if "image_inputs" not in bundle_meta else {
                "image_inputs": bundle_meta["image_inputs"],
                "cv": (bundle_meta.get("cv") or {}).get("pooled"),
                "logs_only_cv": (sibling.get("cv") or {}).get("pooled")}}


def bundle_parts(model) -> tuple[object, str] | None:
    """A loaded petro model's fitted bundle and the source of the runtime module it predicts
    with, so it can be applied without MLflow elsewhere (a Dask worker); None for another
    pyfunc model, or a runtime whose source is gone and whose code is not petro's own.

    MLflow imports the runtime shipped with a model (``petro_runtime``) once per process, from
    the folder of the first model loaded, which may be a temporary folder removed since; its
    code is then compared with petro's runtime (bytecode and constants)."""
    try:
        bundle = model.unwrap_python_model().bundle
    except Exception:  # another pyfunc or flavour
        return None
    module = sys.modules.get(type(bundle).__module__)
    source = getattr(module, "__file__", None)
    if source and Path(source).is_file():
        return bundle, Path(source).read_text()
    from petro.models import runtime

    if module is not None and code_fingerprint(module) == code_fingerprint(runtime):
        return bundle, Path(runtime.__file__).read_text()
    return None


def code_fingerprint(module) -> str:
    """A hash of a module's own functions and classes (bytecode, names, constants) and its
    plain constants; not of file names or line numbers."""
    h = hashlib.sha256()

    def code(c: types.CodeType) -> None:
        h.update(c.co_code)
        h.update(repr((c.co_names, c.co_varnames, c.co_argcount, c.co_kwonlyargcount)).encode())
        for k in c.co_consts:
            if isinstance(k, types.CodeType):
                code(k)
            else:
                h.update(repr(k).encode())

    for name, obj in sorted(vars(module).items()):
        if name.startswith("__"):
            continue
        if isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__:
            h.update(name.encode())
            code(obj.__code__)
        elif isinstance(obj, type) and obj.__module__ == module.__name__:
            h.update(name.encode())
            for k, f in sorted(vars(obj).items()):
                f = getattr(f, "__func__", getattr(f, "fget", f))
                if hasattr(f, "__code__"):
                    h.update(k.encode())
                    code(f.__code__)
        elif isinstance(obj, (int, float, str, tuple, frozenset)):
            h.update(repr((name, obj)).encode())
    return h.hexdigest()
