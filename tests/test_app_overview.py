"""AppTest: the overview on real data shows the right totals; the missing-DB page renders."""

from __future__ import annotations

from urllib.parse import urlencode

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from precompute import pipeline
from precompute.config import Settings
from tests.corpus import DEMO, REPO, SAMPLE


def _app(db, monkeypatch) -> AppTest:
    monkeypatch.setenv("THOUGHTTRACE_DB", str(db))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture(scope="module")
def ingested_sample(tmp_path_factory):
    if not SAMPLE.exists():
        pytest.skip("shared sample not present")
    db = tmp_path_factory.mktemp("ov") / "sample.duckdb"
    pipeline.build(Settings(source=str(SAMPLE), db=db, progress=False), only=("ingest",),
                   log=lambda _: None)
    return db


def test_overview_on_sample(ingested_sample, monkeypatch):
    at = _app(ingested_sample, monkeypatch)
    assert _metrics(at) == {"Users": "17", "Conversations": "20", "Messages": "328",
                            "Thoughts": "310", "Models": "10"}
    table = at.dataframe[0].value
    assert len(table) == 11 and table.iloc[-1]["model"] == "All models"
    assert table["conversations"].iloc[:-1].sum() == 20
    assert not any("Demo corpus" in w.value for w in at.warning)


def test_overview_on_demo_shows_banner_and_totals(tmp_path, monkeypatch):
    if not DEMO.exists():
        pytest.skip("demo corpus not written yet")
    db = tmp_path / "demo.duckdb"
    pipeline.build(Settings(source="demo", db=db, progress=False), only=("ingest",),
                   log=lambda _: None)
    con = duckdb.connect(str(db), read_only=True)
    n_conv, n_msg = con.execute("SELECT count(*), sum(n_messages) FROM conversations"
                                ).fetchone()
    con.close()
    at = _app(db, monkeypatch)
    m = _metrics(at)
    assert m["Conversations"] == f"{n_conv:,}" and m["Messages"] == f"{n_msg:,}"
    assert any("Demo corpus" in w.value for w in at.warning)


def test_missing_db_page_says_which_command_builds_it(tmp_path, monkeypatch):
    at = _app(tmp_path / "nothing.duckdb", monkeypatch)
    assert any("No database at" in e.value for e in at.error)
    assert any("python -m precompute build" in c.value for c in at.code)


def test_incompatible_db_page(tmp_path, monkeypatch):
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE conversations (x INT)")
    con.close()
    at = _app(db, monkeypatch)
    assert any("not built by this version" in e.value for e in at.error)


def test_view_url_keeps_repeated_keys_and_drops_the_old_query():
    from components.share import view_url

    url = view_url("http://host:8501/thoughts?old=1#turn-3",
                   {"model": ["GPT 5", "Grok"], "q": ["a&b"]})
    assert url == "http://host:8501/thoughts?model=GPT+5&model=Grok&q=a%26b"
    assert view_url("http://host:8501/topics", {}) == "http://host:8501/topics"
    assert view_url(None, {}) == "?"


def test_sidebar_link_and_citation_boxes(ingested_sample, monkeypatch):
    """The sidebar's two popovers hold the link to this view (the URL's filters) and the
    BibTeX, each as a code box (with its copy button)."""
    monkeypatch.setenv("THOUGHTTRACE_DB", str(ingested_sample))
    con = duckdb.connect(str(ingested_sample), read_only=True)
    model = con.execute("SELECT model_name FROM conversations GROUP BY ALL "
                        "ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
    con.close()
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.query_params["model"] = model
    at.run()
    assert not at.exception
    link, bibtex = [c.value for c in at.sidebar.code]
    assert link.endswith("?" + urlencode({"model": model}))  # no browser here: no host
    assert bibtex.startswith("@") and "ThoughtTrace" in bibtex
