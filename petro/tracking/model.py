"""A fitted bundle as an MLflow pyfunc model-from-code: its signature, requirements, metadata."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from petro.models.runtime import Bundle
from petro.serving import MODEL_CODE
from petro.vocab import (INPUT_COVERAGE, KEY_INPUT_COVERAGE, LOGS_ONLY, NOV_PREFIX, NOVELTY,
                         OOD_FLAG, OUTPUT_DESCRIPTIONS, WELL_NOVELTY, output_columns)


def _pin(pkg: str) -> str:
    try:
        return f"{pkg}=={version(pkg)}"
    except PackageNotFoundError:
        return pkg


def pip_requirements() -> list[str]:
    return [_pin(p) for p in ("mlflow", "lightgbm", "numpy", "pandas", "scikit-learn")]


def signature(output: str, residuals: list[str] = (), logs_only: bool = False):
    """The model's MLflow signature: its output columns and the ``well`` parameter, no inputs.

    The input columns are not in the signature: MLflow would then check and convert each of
    them, one pandas column at a time, on every request (two passes over ~220 columns, 17 ms of a
    1-row request, against 1 ms for petro's prediction), and it would drop every column it does
    not name before the model sees it, so a request with ``RHOZ`` or ``rhob`` would silently lose
    its density. Without input columns every column reaches the petro runtime, which checks the
    inputs itself, whole-array (columns by name, numbers, at least one row and one known column,
    HTTP 400 otherwise) and maps known aliases and case variants to the canonical input (or
    refuses them naming it). The input columns are in the model's metadata (``petro_inputs``, read
    by :func:`petro.serving.model_info`) and its input example.
    The ``well`` parameter says the rows are one well (the per-well shift test of the cross-log
    residuals applies). ``logs_only``: the model says which of it and its logs-only sibling
    answered each row (``LOGS_ONLY``, 1 = the sibling, from the conventional logs only).
    """
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    outputs = Schema([ColSpec("double", c) for c in output_columns(output)] +
                     [ColSpec("double", NOVELTY), ColSpec("long", OOD_FLAG),
                      ColSpec("double", INPUT_COVERAGE), ColSpec("double", KEY_INPUT_COVERAGE),
                      ColSpec("double", WELL_NOVELTY)] +
                     [ColSpec("double", NOV_PREFIX + c) for c in residuals] +
                     ([ColSpec("long", LOGS_ONLY)] if logs_only else []))
    params = ParamSchema([ParamSpec("well", "boolean", False)])
    return ModelSignature(inputs=None, outputs=outputs, params=params)


def log_bundle_model(bundle_dir: Path, input_example: pd.DataFrame | None = None):
    """Log a saved bundle folder (:meth:`Bundle.save`) as an MLflow pyfunc model
    (models-from-code) named ``model`` in the active run; returns MLflow's ``ModelInfo``.
    Registration is the caller's (:func:`mlflow.register_model`, with the version's tags)."""
    import mlflow

    bundle = Bundle.load(bundle_dir)
    tmp = Path(tempfile.mkdtemp(prefix="petro-model-"))
    try:
        runtime_copy = tmp / "petro_runtime.py"
        shutil.copy(Path(__file__).parents[1] / "models" / "runtime.py", runtime_copy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return mlflow.pyfunc.log_model(
                name="model", python_model=str(MODEL_CODE),
                artifacts={"bundle": str(bundle_dir)}, code_paths=[str(runtime_copy)],
                signature=signature(bundle.output, [
                    m["target"] for m in (bundle.meta.get("consistency") or {}).get("curves", [])],
                    "image_inputs" in bundle.meta),
                input_example=input_example, pip_requirements=pip_requirements(),
                metadata={"petro_output": bundle.output, "petro_unit": bundle.meta["unit"],
                          "petro_inputs": list(bundle.inputs),   # the sibling's too
                          "petro_columns": {
                              **{c: bundle.meta["unit"] for c in output_columns(bundle.output)},
                              NOVELTY: "distance / threshold", OOD_FLAG: "1 = out of domain",
                              **{c: OUTPUT_DESCRIPTIONS[c] for c in
                                 (INPUT_COVERAGE, KEY_INPUT_COVERAGE, WELL_NOVELTY)},
                              **({LOGS_ONLY: OUTPUT_DESCRIPTIONS[LOGS_ONLY]}
                                 if "image_inputs" in bundle.meta else {})},
                          "petro_consistency": bundle.meta.get("consistency"),
                          "petro_recipe": bundle.meta.get("recipe")})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
