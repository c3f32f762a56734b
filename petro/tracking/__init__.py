"""MLflow tracking and registry: runs, metrics, plots, lineage, models and the promotion gate.

Store: ``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///mlruns/mlflow.db`` (relative to the
working directory), with artifacts in ``artifacts/`` beside the SQLite file. A team points
``MLFLOW_TRACKING_URI`` at an ``mlflow server`` (its SQL backend and ``--artifacts-destination``
hold runs, registry and artifacts; see docs/scale.md); a team database used directly is refused
when petro would create an experiment (its artifacts would stay on one machine). Models are logged as
MLflow pyfunc models-from-code (:mod:`petro.serving.pyfunc_model`) with the fitted bundle
(LightGBM text models + JSON) as an artifact: no pickle.

Promotion: every run registers a new version of ``petro-<target>``. Alias ``champion`` moves to it
only if it passes its spec's ``criteria`` and beats the current champion's pooled blind-well
metric; otherwise the version gets ``challenger``. Tags ``petro.decision`` and ``petro.reason``
on the version say why.

Modules: :mod:`~petro.tracking.store` (URI, server, experiment), :mod:`~petro.tracking.model`
(a bundle as a pyfunc model), :mod:`~petro.tracking.runs` (a training run),
:mod:`~petro.tracking.gate` (the promotion gate), :mod:`~petro.tracking.registry` (list, promote).
"""

from petro.tracking.gate import CHALLENGER, CHAMPION, check_criteria, decide_alias
from petro.tracking.model import log_bundle_model, pip_requirements, signature
from petro.tracking.registry import list_models, promote
from petro.tracking.runs import log_training
from petro.tracking.store import (DEFAULT_URI, SERVER_DATABASES, artifact_root, check_server,
                                  resolve_uri, setup)

__all__ = ["CHALLENGER", "CHAMPION", "DEFAULT_URI", "SERVER_DATABASES", "artifact_root",
           "check_criteria", "check_server", "decide_alias", "list_models", "log_bundle_model",
           "log_training", "pip_requirements", "promote", "resolve_uri", "setup", "signature"]
