"""The house rules that keep petro's layers clean (the layer order itself is an import-linter
contract in pyproject.toml, run by CI): no import cycle anywhere in petro, module-level or inside
functions; no side effects at import; the model runtime's literals equal the vocabulary's."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "petro"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _petro_imports(path: Path, modules: set[str]) -> set[str]:
    """petro modules imported anywhere in a file (top level and inside functions)."""
    me = _module_name(path)
    pkg = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1] +
                                ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for n in names:
            # the deepest petro module the name refers to (`from petro.io import las`)
            while n and n not in modules:
                n = n.rpartition(".")[0]
            if n and n != me and n != "petro":
                out.add(n)
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    modules = set(files)
    return {m: _petro_imports(p, modules) for m, p in files.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            # a package's __init__ importing its own submodules is not a cycle of layers
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_in_petro_including_function_level_imports():
    graph = _graph()
    assert len(graph) > 30 and graph["petro.app.wells"] >= {"petro.io.wells", "petro.config"}
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_importing_petro_has_no_side_effects():
    """Importing every module leaves the process umask, warning filters and pandas' display
    options as they were (third-party libraries are imported first: their own import-time
    filters are not petro's doing)."""
    code = (
        "import os, warnings, pkgutil, importlib, pandas as pd\n"
        "import numpy, scipy.stats, sklearn.ensemble, lightgbm, mlflow.pyfunc, matplotlib, lasio\n"
        "import dlisio.dlis, rich.console, yaml\n"
        "u = os.umask(0o022); os.umask(u)\n"
        "filters = list(warnings.filters); opts = pd.get_option('display.max_columns')\n"
        "import petro\n"
        "for m in pkgutil.walk_packages(petro.__path__, 'petro.'):\n"
        "    if m.name != 'petro.serving.pyfunc_model':  # MLflow's models-from-code entry\n"
        "        importlib.import_module(m.name)\n"
        "u2 = os.umask(0o022); os.umask(u2)\n"
        "assert u2 == u, (u, u2)\n"
        "assert warnings.filters == filters, 'warning filters changed at import'\n"
        "assert pd.get_option('display.max_columns') == opts\n"
        "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_runtime_literals_equal_the_vocabulary():
    """The runtime ships without petro and spells the output columns itself."""
    from petro import vocab
    from petro.models import runtime

    assert (runtime.NOVELTY, runtime.OOD_FLAG, runtime.INPUT_COVERAGE,
            runtime.KEY_INPUT_COVERAGE, runtime.NOV_PREFIX, runtime.WELL_NOVELTY,
            runtime.LOGS_ONLY) == \
        (vocab.NOVELTY, vocab.OOD_FLAG, vocab.INPUT_COVERAGE, vocab.KEY_INPUT_COVERAGE,
         vocab.NOV_PREFIX, vocab.WELL_NOVELTY, vocab.LOGS_ONLY)
    src = (PKG / "models" / "runtime.py").read_text()
    for suffix in (vocab.ML, vocab.P10, vocab.P90):
        assert f'f"{{o}}_{suffix}"' in src
    imported = {n.module for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom)} | \
        {a.name for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m and m.startswith("petro") for m in imported)
