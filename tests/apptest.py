"""The one AppTest runner of the page tests: the real app (router, sidebar, page) run
in-process on a DB, opened at a page with URL parameters, as a browser opens a link.

AppTest plotly charts are ``UnknownElement``s: `chart_specs` reads their JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
from streamlit.testing.v1 import AppTest

from tests.corpus import REPO, top_model

#: Page name -> its script, as app.py registers them (the URL paths are pinned there).
PAGE_SCRIPTS = {
    "overview": "views/overview.py",
    "conversations": "views/conversations.py",
    "thoughts": "views/thought_types.py",
    "turns": "views/turns.py",
    "participants": "views/participants.py",
    "topics": "views/topics.py",
    "shifts": "views/semantic_shifts.py",
}


def open_app(db: Path | str, monkeypatch: Any, page: str = "overview", *,
             timeout: float = 60, check: bool = True, params: dict | None = None,
             **url: Any) -> AppTest:
    """The app on ``db`` after its first run at ``page`` (a key of `PAGE_SCRIPTS`) with
    the URL parameters ``url`` and ``params`` (a value may be a list for a repeated key;
    ``params`` carries keys that clash with this function's, such as ``page``).

    The router runs once at the Overview first: AppTest can switch only to pages that
    ``st.navigation`` has registered. ``check`` asserts that no exception escaped.
    """
    monkeypatch.setenv("THOUGHTTRACE_DB", str(db))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    for key, value in {**url, **(params or {})}.items():
        at.query_params[key] = value
    at.run()
    if page != "overview":
        at.switch_page(PAGE_SCRIPTS[page])
        at.run()
    if check:
        assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    """No exception escaped the run and the error boundary showed nothing."""
    assert not at.exception, [e.value for e in at.exception]
    assert not [e for e in at.error if "unexpected problem" in e.value], \
        [e.value for e in at.error]


def chart_specs(at: AppTest) -> list[dict]:
    """The plotly figures on the page, as JSON specs, in page order."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def chart_titles(at: AppTest) -> list[str]:
    return [spec["layout"].get("title", {}).get("text", "") for spec in chart_specs(at)]


def query_param(at: AppTest, key: str) -> list[str] | None:
    """A URL parameter as a list of values (None when absent)."""
    if key not in at.query_params:
        return None
    value = at.query_params[key]
    return [value] if isinstance(value, str) else list(value)


def html_elements(at: AppTest) -> list[str]:
    """Every piece of custom HTML on the page: st.html and unsafe_allow_html markdown."""
    return [m.value for m in at.markdown if m.proto.allow_html] + [h.value for h in at.html]


def texts(at: AppTest) -> str:
    """All text of the page's markdown, captions, info/warning/error boxes, one string."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [b.value for b in (*at.info, *at.warning, *at.error, *at.success)]
    return "\n".join(parts)


def model_and_wrong_provider(db: Path) -> tuple[str, str]:
    """The most frequent model and a provider that is not its own."""
    model = top_model(db)
    c = duckdb.connect(str(db), read_only=True)
    try:
        (provider,), = c.execute("SELECT any_value(model_provider) FROM conversations "
                                 "WHERE model_name = ?", [model]).fetchall()
        other = c.execute("SELECT model_provider FROM conversations WHERE model_provider <> ?"
                          " LIMIT 1", [provider]).fetchall()
    finally:
        c.close()
    assert other, "the test corpus must have two providers"
    return model, other[0][0]


def spec_strings(node: Any, path: str = ""):
    """Every string in a plotly spec (or any JSON-like value) with its dotted path: what a
    browser could render as text (titles, ticks, hover, annotations, labels, customdata)."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from spec_strings(v, f"{path}.{k}")
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from spec_strings(v, path)
