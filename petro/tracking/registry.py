"""The registered models as a team sees them: versions, aliases, metrics; promotion by hand."""

from __future__ import annotations

from petro.errors import ModelError
from petro.tracking.gate import CHAMPION
from petro.tracking.store import setup
from petro.vocab import COVERAGE, TARGETS, metric_name


def list_models(uri: str | None = None, prefix: str | None = None) -> list[dict]:
    """Registered petro models with their versions, aliases, metric and decision tags: those
    petro registered (tag ``petro.target``, any prefix) and any named ``petro-*``; with
    ``prefix``, those whose name starts with it."""
    setup(uri)
    from mlflow import MlflowClient

    client = MlflowClient()
    rows = []
    for rm in _all_registered_models(client):
        if not (rm.name.startswith(prefix) if prefix else
                rm.name.startswith("petro-") or "petro.target" in (rm.tags or {})):
            continue
        aliases: dict[str, list[str]] = {}
        for a, v in (rm.aliases or {}).items():
            aliases.setdefault(str(v), []).append(a)
        for mv in client.search_model_versions(f"name='{rm.name}'"):
            metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
            key = next((k for k in (metric_name("model", t.metric) for t in TARGETS.values())
                        if k in metrics), None)
            rows.append({"name": rm.name, "version": int(mv.version),
                         "aliases": ",".join(sorted(aliases.get(str(mv.version), []))),
                         "metric": key or "", "value": metrics.get(key) if key else None,
                         "coverage": metrics.get(metric_name("model", COVERAGE)),
                         "reason": (mv.tags or {}).get("petro.reason", "")})
    return sorted(rows, key=lambda r: (r["name"], -r["version"]))


def _all_registered_models(client) -> list:
    """Every registered model, page by page (MLflow answers 100 at a time)."""
    out, token = [], None
    while True:
        page = client.search_registered_models(max_results=100, page_token=token)
        out += list(page)
        token = page.token
        if not token:
            return out


def promote(name: str, version: str, alias: str = CHAMPION, uri: str | None = None,
            reason: str = "promoted by hand") -> None:
    """Move ``alias`` to a version by hand (recorded in the version's tags)."""
    setup(uri)
    from mlflow import MlflowClient

    client = MlflowClient()
    try:
        client.get_model_version(name, str(version))
    except Exception as err:
        raise ModelError(f"model {name} version {version} not found ({err}); see "
                         f"`petro models list`") from err
    client.set_registered_model_alias(name, alias, str(version))
    client.set_model_version_tag(name, str(version), "petro.decision", alias)
    client.set_model_version_tag(name, str(version), "petro.reason", reason)
