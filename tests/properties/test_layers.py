"""The architecture as a test: an AST scan of every module that fails when an import runs
against the layers (source -> precompute -> DuckDB -> components: queries -> figures ->
export/ui -> views) or when a call names a function by a string.

The rules (see the README's architecture section):
- streamlit is imported only in components/ui, app.py and views/;
- components/queries never imports plotly, streamlit, or the figures/export/ui wings;
- the figure builders (components/figures, the catalogue aside) never import duckdb or
  the queries; the catalogue is where figures meet their queries;
- components/export never imports the ui wing;
- nothing under precompute/ imports components/;
- no call passes a module-qualified function name as a string to the cache
  (``state.query("thoughts.stage_shares", ...)``), and nothing resolves names with
  importlib.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.corpus import REPO

SOURCES = sorted(p for pattern in ("app.py", "cli.py", "views/*.py", "components/**/*.py",
                                   "precompute/*.py")
                 for p in REPO.glob(pattern))
CACHE_CALLS = {"query", "query_soon", "soon_done", "deferred", "figure"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path`` (``from a.b import c`` gives ``a.b`` and
    ``a.b.c``, so importing a submodule by name counts)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def _rel(path: Path) -> str:
    try:
        return path.relative_to(REPO).as_posix()
    except ValueError:  # a probe file outside the repository
        return path.name


def _violations(allowed, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in SOURCES:
        rel = _rel(path)
        if not allowed(rel):
            continue
        for line, module in _imports(path):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                bad.append(f"{rel}:{line} imports {module}")
    return bad


def test_the_scan_sees_the_whole_tree():
    rels = {_rel(p) for p in SOURCES}
    assert {"app.py", "cli.py", "views/overview.py", "components/ui/state.py",
            "components/queries/thoughts.py", "components/figures/catalogue.py",
            "components/export/pack.py", "precompute/pipeline.py"} <= rels


def test_streamlit_only_in_the_ui_wing_app_and_pages():
    def outside(rel: str) -> bool:
        return not (rel == "app.py" or rel.startswith(("views/", "components/ui/")))
    assert _violations(outside, ("streamlit",)) == []


def test_queries_never_draw_or_render():
    assert _violations(lambda rel: rel.startswith("components/queries/"),
                       ("plotly", "streamlit", "components.figures", "components.export",
                        "components.ui")) == []


def test_figure_builders_never_read_the_db():
    def builders(rel: str) -> bool:
        return rel.startswith("components/figures/") and rel != "components/figures/catalogue.py"
    assert _violations(builders, ("duckdb", "components.queries", "components.export",
                                  "components.ui", "streamlit")) == []


def test_exports_never_reach_the_ui():
    assert _violations(lambda rel: rel.startswith("components/export/"),
                       ("streamlit", "components.ui")) == []


def test_precompute_never_imports_the_app():
    assert _violations(lambda rel: rel.startswith("precompute/"),
                       ("components", "streamlit", "plotly", "views", "app", "cli")) == []


def _string_named_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
        if name in CACHE_CALLS and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            bad.append(f"{_rel(path)}:{node.lineno} {name}({node.args[0].value!r}, ...)")
        if name == "import_module":
            bad.append(f"{_rel(path)}:{node.lineno} resolves a module by name")
    return bad


def test_calls_name_functions_not_strings():
    bad = [v for path in SOURCES for v in _string_named_calls(path)]
    assert bad == []


@pytest.mark.parametrize("code, expected", [
    ("state.query('thoughts.stage_shares', f)", 1),
    ("state.query(thoughts.stage_shares, f)", 0),
    ("importlib.import_module('components.x')", 1),
])
def test_the_string_call_check_can_fail(tmp_path, code, expected):
    path = tmp_path / "probe.py"
    path.write_text(code + "\n", encoding="utf-8")
    assert len(_string_named_calls(path)) == expected


def test_the_import_check_can_fail(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import streamlit as st\nfrom plotly import graph_objects\n",
                     encoding="utf-8")
    assert [m for _, m in _imports(probe)] == ["streamlit", "plotly", "plotly.graph_objects"]
