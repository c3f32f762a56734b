"""The layers the style guide asks for: only petro/io reads files with lasio/dlisio, only the
tracking and serving modules touch MLflow, features and models know nothing of files or MLflow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "petro"
RULES = {
    "lasio": ("io/",),
    "dlisio": ("io/",),
    "mlflow": ("tracking.py", "serving/"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_third_party_io_stays_in_its_layer(path):
    rel = str(path.relative_to(PKG))
    for lib, allowed in RULES.items():
        if lib in _imports(path):
            assert rel.startswith(allowed), f"{rel} imports {lib}; only {allowed} may"


@pytest.mark.parametrize("sub", ["features", "models", "targets"])
def test_pure_layers_do_not_import_io_or_tracking(sub):
    for path in (PKG / sub).rglob("*.py"):
        src = path.read_text()
        for forbidden in ("petro.io", "petro.tracking", "petro.serving", "petro.cli",
                          "petro.pipeline"):
            assert forbidden not in src, f"{path.relative_to(PKG)} uses {forbidden}"
