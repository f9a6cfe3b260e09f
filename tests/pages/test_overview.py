"""AppTest of the Overview page (views/overview.py) and what every page shares: the right
totals and per-model table on the shared sample (ingest only), the demo banner, the
build-the-database page for a missing or incompatible DB file, and the sidebar's link and
citation boxes."""

from __future__ import annotations

from urllib.parse import urlencode

import duckdb
import pytest

from tests.apptest import open_app
from tests.corpus import DEMO, ingest_db


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture(scope="module")
def ingested_sample(sample_ingest_db):
    """The shared sample, ingest only (17 users, 20 conversations, 10 models)."""
    return sample_ingest_db


def test_overview_on_sample(ingested_sample, monkeypatch):
    at = open_app(ingested_sample, monkeypatch)
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
    ingest_db("demo", db)
    con = duckdb.connect(str(db), read_only=True)
    n_conv, n_msg = con.execute("SELECT count(*), sum(n_messages) FROM conversations"
                                ).fetchone()
    con.close()
    at = open_app(db, monkeypatch)
    m = _metrics(at)
    assert m["Conversations"] == f"{n_conv:,}" and m["Messages"] == f"{n_msg:,}"
    assert any("Demo corpus" in w.value for w in at.warning)


def test_missing_db_page_says_which_command_builds_it(tmp_path, monkeypatch):
    at = open_app(tmp_path / "nothing.duckdb", monkeypatch)
    assert any("No database at" in e.value for e in at.error)
    assert any("python -m precompute build" in c.value for c in at.code)


def test_incompatible_db_page(tmp_path, monkeypatch):
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE conversations (x INT)")
    con.close()
    at = open_app(db, monkeypatch)
    assert any("not built by this version" in e.value for e in at.error)


def test_sidebar_link_and_citation_boxes(ingested_sample, monkeypatch):
    """The sidebar's two popovers hold the link to this view (the URL's filters) and the
    BibTeX, each as a code box (with its copy button)."""
    con = duckdb.connect(str(ingested_sample), read_only=True)
    model = con.execute("SELECT model_name FROM conversations GROUP BY ALL "
                        "ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
    con.close()
    at = open_app(ingested_sample, monkeypatch, model=model)
    link, bibtex = [c.value for c in at.sidebar.code]
    assert link.endswith("?" + urlencode({"model": model}))  # no browser here: no host
    assert bibtex.startswith("@") and "ThoughtTrace" in bibtex
