"""MLflow tracking and registry: runs, metrics, plots, lineage, models and the promotion gate.

Store: ``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///mlruns/mlflow.db`` (relative to the
working directory), with artifacts in ``artifacts/`` beside the SQLite file. A team points
``MLFLOW_TRACKING_URI`` at an ``mlflow server`` (its SQL backend and ``--artifacts-destination``
hold runs, registry and artifacts; see docs/scale.md); a team database used directly is refused
when petro would create an experiment (its artifacts would stay on one machine). Models are logged as
MLflow pyfunc models-from-code (:mod:`petro.serving.pyfunc_model`) with the fitted bundle
(LightGBM text models + JSON) as an artifact: no pickle.

Promotion: every run registers a new version of ``petro-<target>``. Alias ``champion`` moves to it
only if it passes its spec's ``criteria`` (by default its pooled blind-well metric must beat every
comparator its run reports, :func:`~petro.tracking.gate.check_criteria`) and beats the current
champion's, unless the champion was trained on other wells (tag ``petro.train_wells``): blind
metrics over other wells are not comparable, and a person decides. Otherwise the version gets
``challenger``. Tags ``petro.decision`` and ``petro.reason`` on the version say why.

Modules: :mod:`~petro.tracking.store` (URI, server, experiment, bounded HTTP retries), :mod:`~petro.tracking.model`
(a bundle as a pyfunc model), :mod:`~petro.tracking.runs` (a training run, resumable),
:mod:`~petro.tracking.gate` (the promotion gate), :mod:`~petro.tracking.registry` (list, promote),
:mod:`~petro.tracking.staging` (a trained run kept on disk until it is logged).
The names below are imported from them when first used: ``petro.cli`` calls
:func:`quiet_mlflow_logging` at start-up without loading pandas, LightGBM or MLflow.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "gate": ("CHALLENGER", "CHAMPION", "check_criteria", "decide_alias"),
    "model": ("log_bundle_model", "pip_requirements", "signature"),
    "registry": ("list_models", "promote"),
    "runs": ("log_pending", "log_training"),
    "store": ("DEFAULT_URI", "SERVER_DATABASES", "artifact_root", "check_server",
              "create_store_early", "quiet_mlflow_logging", "resolve_uri", "setup"),
}
_MODULE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE)


def __getattr__(name: str):
    if name not in _MODULE:
        raise AttributeError(f"module 'petro.tracking' has no attribute {name!r}")
    return getattr(import_module(f"petro.tracking.{_MODULE[name]}"), name)
