"""The promotion gate: a new version's criteria, and champion or challenger with the reason."""

from __future__ import annotations

import numpy as np

from petro.errors import ModelError
from petro.tracking.store import brief_error, one_attempt
from petro.vocab import BASELINE_LABELS, COVERAGE, TARGETS, metric_name

CHAMPION, CHALLENGER = "champion", "challenger"
UNDECIDED = "undecided"   # the decision could not be made (the registry failed): no alias


def check_criteria(pooled: dict[str, dict[str, float]], criteria: dict, target: str) -> list[str]:
    """Failures of a model's pooled blind-well metrics against its spec's criteria.

    ``must_beat``: the comparators the model must beat on its primary metric; by default every
    comparator the run reports (the logs-only ablation, each scikit-learn baseline, density
    porosity / poro-perm, the training mean). A comparator without that metric (no density
    log: no density porosity) is not counted. Each one that ties or beats the model is named,
    e.g. "hist GBM 1.750 p.u. beats the model's 2.170"."""
    m = pooled["model"]
    t = TARGETS[target]
    key = t.metric
    fails = []
    if "max_rmse" in criteria and not m.get(key, np.inf) <= float(criteria["max_rmse"]):
        fails.append(f"{key} {m.get(key, float('nan')):.3f} > max_rmse {criteria['max_rmse']}")
    cov = m.get(COVERAGE, float("nan"))
    if "min_coverage" in criteria and not cov >= float(criteria["min_coverage"]):
        fails.append(f"P10-P90 coverage {cov:.3f} < {criteria['min_coverage']}")
    if "max_coverage" in criteria and not cov <= float(criteria["max_coverage"]):
        fails.append(f"P10-P90 coverage {cov:.3f} > {criteria['max_coverage']}")
    mine = m.get(key, np.inf)
    must_beat = criteria.get("must_beat")
    if isinstance(must_beat, str):
        must_beat = [must_beat]
    for base in [b for b in pooled if b != "model"] if must_beat is None else must_beat:
        b = pooled.get(base, {}).get(key)
        if b is not None and np.isfinite(b) and not mine < b:
            fails.append(f"{BASELINE_LABELS.get(base, base)} {b:.3f} {t.report_unit} "
                         f"{'ties' if b == mine else 'beats'} the model's {mine:.3f}")
    return fails


def decide_alias(client, name: str, version: str, metric_key: str, value: float,
                 fails: list[str]) -> tuple[str, str]:
    """Champion or challenger for a new version, with the reason; sets alias and tags.

    Only the registry's answer that ``name`` has no champion makes a first version champion: a
    champion that cannot be read (the server fails, times out or answers an error) stops the
    decision with a ModelError, the version registered without alias and tagged with why."""
    if fails:
        alias, reason = CHALLENGER, "fails criteria: " + "; ".join(fails)
    else:
        try:
            champ = champion(client, name)
            old = None if champ is None else \
                client.get_run(champ.run_id).data.metrics.get(metric_name("model", metric_key))
        except Exception as err:
            why = (f"the champion of {name} could not be read from the registry ({brief_error(err)}): "
                   f"v{version} is registered without an alias. Promote it by hand if intended: "
                   f"`petro models promote {name} {version}`")
            _tag_quietly(client, name, version, UNDECIDED, why)
            raise ModelError(why) from err
        alias, reason = _compare(champ, old, metric_key, value)
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, "petro.decision", alias)
    client.set_model_version_tag(name, version, "petro.reason", reason)
    return alias, reason


def champion(client, name: str):
    """The version alias ``champion`` points at; None only when the registry answers that there
    is none (the registered model lists no such alias, or does not exist). Every other failure
    is raised: MLflow answers a missing alias asked by name with INVALID_PARAMETER_VALUE, which
    a malformed request gets too, so the alias is read from the registered model's listing."""
    from mlflow.exceptions import MlflowException

    try:
        rm = client.get_registered_model(name)
    except MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    ver = (rm.aliases or {}).get(CHAMPION)
    return None if ver is None else client.get_model_version(name, str(ver))


def _compare(champ, old: float | None, metric_key: str, value: float) -> tuple[str, str]:
    """The new version's pooled blind metric against the champion's (None: no champion)."""
    if champ is None:
        return CHAMPION, f"first version passing criteria ({metric_key} {value:.4f})"
    if old is not None and not value < old:
        return CHALLENGER, (f"blind {metric_key} {value:.4f} does not beat champion "
                            f"v{champ.version} ({old:.4f})")
    return CHAMPION, (f"blind {metric_key} {value:.4f} beats champion v{champ.version} "
                      f"({old if old is not None else float('nan'):.4f})")


def _tag_quietly(client, name: str, version: str, decision: str, reason: str) -> None:
    """Tag a version's decision when the registry answers; a registry that does not is already
    being reported by the caller."""
    try:
        with one_attempt():
            client.set_model_version_tag(name, version, "petro.decision", decision)
            client.set_model_version_tag(name, version, "petro.reason", reason)
    except Exception:  # the caller raises the registry's first error
        pass
