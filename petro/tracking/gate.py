"""The promotion gate: a new version's criteria, and champion or challenger with the reason."""

from __future__ import annotations

import hashlib

import numpy as np

from petro.errors import ModelError
from petro.tracking.store import brief_error, one_attempt
from petro.vocab import BASELINE_LABELS, COVERAGE, TARGETS, metric_name

CHAMPION, CHALLENGER = "champion", "challenger"
UNDECIDED = "undecided"
TRAIN_WELLS, WELLS_DIGEST = "petro.train_wells", "petro.train_wells_sha256"   # version tags   # the decision could not be made (the registry failed): no alias


def check_criteria(pooled: dict[str, dict[str, float]], criteria: dict, target: str) -> list[str]:
    """Failures of a model's pooled blind-well metrics against its spec's criteria.

    ``must_beat``: the comparators the model must beat on its primary metric; by default every
    comparator the run reports (the logs-only ablation, each scikit-learn baseline, density
    porosity / poro-perm, the training mean). A comparator without that metric (no density
    log: no density porosity) is not counted. Each one that ties or beats the model is named,
    e.g. "hist GBM 1.750 p.u. beats the model's 2.170". The logs-only sibling only fails the
    model by beating it: where the model kept no image input it is the model itself (a tie)."""
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
        if b is None or not np.isfinite(b):
            continue
        # the logs-only sibling equals the model where no image helped: a tie is no failure
        if b < mine if base == "logs_only" else not mine < b:
            fails.append(f"{BASELINE_LABELS.get(base, base)} {b:.3f} {t.report_unit} "
                         f"{'ties' if b == mine else 'beats'} the model's {mine:.3f}")
    return fails


def decide_alias(client, name: str, version: str, metric_key: str, value: float,
                 fails: list[str], wells: list[str] | None = None) -> tuple[str, str]:
    """Champion or challenger for a new version trained on ``wells``, with the reason; sets
    alias and tags.

    Only the registry's answer that ``name`` has no champion makes a first version champion: a
    champion that cannot be read (the server fails, times out or answers an error) stops the
    decision with a ModelError, the version registered without alias and tagged with why. A
    champion trained on other wells is compared but never replaced automatically: blind metrics
    over other wells are not comparable."""
    if fails:
        alias, reason = CHALLENGER, "fails criteria: " + "; ".join(fails)
    else:
        try:
            champ = champion(client, name)
            run = None if champ is None else client.get_run(champ.run_id)
        except Exception as err:
            why = (f"the champion of {name} could not be read from the registry ({brief_error(err)}): "
                   f"v{version} is registered without an alias. Promote it by hand if intended: "
                   f"`petro models promote {name} {version}`")
            _tag_quietly(client, name, version, UNDECIDED, why)
            raise ModelError(why) from err
        old = None if run is None else run.data.metrics.get(metric_name("model", metric_key))
        alias, reason = _compare(champ, old, metric_key, value,
                                 None if champ is None else _other_wells(champ, run, wells))
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, "petro.decision", alias)
    client.set_model_version_tag(name, version, "petro.reason", reason)
    return alias, reason


def wells_tags(wells: list[str]) -> dict[str, str]:
    """A version's tags naming the wells it was trained on: the names (cut at 4000 characters)
    and the digest of the whole list, which the gate compares."""
    names = ",".join(sorted(map(str, wells)))
    return {TRAIN_WELLS: names if len(names) <= 4000 else names[:3990] + ",...",
            WELLS_DIGEST: _digest(names)}


def _digest(names: str) -> str:
    return hashlib.sha256(names.encode()).hexdigest()[:16]


def _other_wells(champ, run, wells: list[str] | None) -> tuple[str, str] | None:
    """(the champion's wells, this version's) when the champion was trained on other wells;
    None when the same, or when either is not known. Versions registered before petro tagged
    them are read from their run's ``train_wells`` parameter (complete below 500 characters)."""
    if wells is None:
        return None
    tags = champ.tags or {}
    theirs, digest = tags.get(TRAIN_WELLS), tags.get(WELLS_DIGEST)
    if digest is None:
        theirs = run.data.params.get("train_wells")
        if not theirs or len(theirs) >= 500:
            return None
        digest = _digest(theirs)
    mine = wells_tags(wells)
    return None if digest == mine[WELLS_DIGEST] else (theirs, mine[TRAIN_WELLS])


def _shown(names: str) -> str:
    wells = names.split(",")
    return ", ".join(wells) if len(wells) <= 6 else f"{', '.join(wells[:6])}, ... ({len(wells)} wells)"


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


def _compare(champ, old: float | None, metric_key: str, value: float,
             other_wells: tuple[str, str] | None = None) -> tuple[str, str]:
    """The new version's pooled blind metric against the champion's (None: no champion)."""
    if champ is None:
        return CHAMPION, f"first version passing criteria ({metric_key} {value:.4f})"
    if other_wells:
        theirs, mine = other_wells
        old_text = "none" if old is None else f"{old:.4f}"
        return CHALLENGER, (f"blind {metric_key} {value:.4f} against champion v{champ.version}'s "
                            f"{old_text}, but champion v{champ.version} was trained on other "
                            f"wells ({_shown(theirs)}; this version: {_shown(mine)}): metrics "
                            f"are not comparable; promote by hand if intended")
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
