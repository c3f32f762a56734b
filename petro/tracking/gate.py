"""The promotion gate: a new version's criteria, and champion or challenger with the reason."""

from __future__ import annotations

import numpy as np

from petro.vocab import COVERAGE, TARGETS, metric_name

CHAMPION, CHALLENGER = "champion", "challenger"


def check_criteria(pooled: dict[str, dict[str, float]], criteria: dict, target: str) -> list[str]:
    """Failures of a model's pooled blind-well metrics against its spec's criteria."""
    m = pooled["model"]
    key = TARGETS[target].metric
    fails = []
    if "max_rmse" in criteria and not m.get(key, np.inf) <= float(criteria["max_rmse"]):
        fails.append(f"{key} {m.get(key, float('nan')):.3f} > max_rmse {criteria['max_rmse']}")
    cov = m.get(COVERAGE, float("nan"))
    if "min_coverage" in criteria and not cov >= float(criteria["min_coverage"]):
        fails.append(f"P10-P90 coverage {cov:.3f} < {criteria['min_coverage']}")
    if "max_coverage" in criteria and not cov <= float(criteria["max_coverage"]):
        fails.append(f"P10-P90 coverage {cov:.3f} > {criteria['max_coverage']}")
    for base in criteria.get("must_beat", []):
        b = pooled.get(base, {}).get(key)
        if b is not None and not m.get(key, np.inf) < b:
            fails.append(f"does not beat baseline {base} ({m.get(key):.3f} >= {b:.3f})")
    return fails


def decide_alias(client, name: str, version: str, metric_key: str, value: float,
                 fails: list[str]) -> tuple[str, str]:
    """Champion or challenger for a new version, with the reason; sets alias and tags."""
    try:
        champ = client.get_model_version_by_alias(name, CHAMPION)
    except Exception:  # no champion yet
        champ = None
    if fails:
        alias, reason = CHALLENGER, "fails criteria: " + "; ".join(fails)
    elif champ is None:
        alias, reason = CHAMPION, f"first version passing criteria ({metric_key} {value:.4f})"
    else:
        old = client.get_run(champ.run_id).data.metrics.get(metric_name("model", metric_key))
        if old is not None and not value < old:
            alias, reason = CHALLENGER, (f"blind {metric_key} {value:.4f} does not beat champion "
                                         f"v{champ.version} ({old:.4f})")
        else:
            alias, reason = CHAMPION, (f"blind {metric_key} {value:.4f} beats champion "
                                       f"v{champ.version} ({old if old is not None else float('nan'):.4f})")
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, "petro.decision", alias)
    client.set_model_version_tag(name, version, "petro.reason", reason)
    return alias, reason
