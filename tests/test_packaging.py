"""What the package says of itself is true: one version, and every declared dependency used."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions, version

import petro
from tests.conftest import REPO


def test_the_installed_distribution_has_the_packages_version():
    """The parse and feature caches key on ``petro.__version__``; the MLflow tag
    ``petro.version`` pins the installed distribution: they must be one number."""
    assert version("petro") == petro.__version__
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]


def _imported_top_levels() -> set[str]:
    names = set()
    for path in (REPO / "petro").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_declared_runtime_dependency_is_imported_by_petro():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    dists = {re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0].lower() for d in declared}
    by_module = packages_distributions()          # import name -> distributions
    used = {dist.lower() for name in _imported_top_levels() for dist in by_module.get(name, [])}
    assert dists - used == set(), f"declared but never imported: {sorted(dists - used)}"
