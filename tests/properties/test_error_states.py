"""Error states (AppTest): no page ever shows a traceback.

For every page one of its query functions is made to raise: the app's error boundary
(app.py) shows the friendly message, logs the traceback, and Streamlit's own control flow
(st.stop, reruns) still passes through. Plus the DB states a hosted app meets: missing,
incompatible, corrupt (random bytes), removed or corrupted while a session is open.
"""

from __future__ import annotations

import logging
import os

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.apptest import open_app
from tests.corpus import conversation, ingest_db, write_jsonl

FRIENDLY = "This view hit an unexpected problem"


def _corpus() -> list[dict]:
    return [conversation(f"user{i}_task1_conversation1",
                         [(f"question {i} about bread", ["task_motivation"]),
                          ("an answer", ["explicit_affirmation"]),
                          ("shorter please", ["style_expectation"]),
                          ("ok", ["scope_fit"])],
                         model="GPT-5.4" if i % 2 else "Claude Opus 4.6")
            for i in range(4)]


@pytest.fixture(scope="module")
def good_db(tmp_path_factory):
    d = tmp_path_factory.mktemp("errstates")
    src = write_jsonl(d / "c.jsonl", _corpus())
    db = d / "good.duckdb"
    ingest_db(src, db)
    return db


@pytest.fixture(autouse=True)
def fresh_caches():
    """A query that raised must be called again: results cached by other tests (same file,
    same arguments) would hide the patched function."""
    from components.ui import state

    def clear() -> None:
        st.cache_data.clear()
        st.cache_resource.clear()
        state.clear_cache()
    clear()
    yield
    clear()


def _run(db, monkeypatch, page: str = "overview", **params) -> AppTest:
    """The app at ``page`` (a `tests.apptest.PAGE_SCRIPTS` key), errors left to the test."""
    return open_app(db, monkeypatch, page, check=False, **params)


def _texts(at: AppTest) -> str:
    parts = [e.value for e in at.error] + [e.value for e in at.info] + \
        [m.value for m in at.markdown] + [str(e.value) for e in at.exception]
    return "\n".join(parts)


def _assert_friendly(at: AppTest, exc_name: str, message: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any(FRIENDLY in e and f"{exc_name}: {message}" in e for e in errors), errors
    assert "Traceback" not in _texts(at)


def _boom(message: str):
    def raise_(*_args, **_kwargs):
        raise RuntimeError(message)
    return raise_


# page -> (module, function): one query each page calls while rendering
PAGE_QUERIES = [
    ("overview", "components.queries.core", "totals"),
    ("conversations", "components.queries.conversations", "matches"),
    ("thoughts", "components.queries.thoughts", "label_distribution"),
    ("participants", "components.queries.participants", "participant_counts_all"),
    ("topics", "components.queries.topics", "availability"),
    ("shifts", "components.queries.shifts", "availability"),
]


@pytest.mark.parametrize("page, module, func", PAGE_QUERIES,
                         ids=[p for p, _, _ in PAGE_QUERIES])
def test_every_page_has_a_friendly_error_state(good_db, monkeypatch, caplog, page, module,
                                               func):
    import importlib
    monkeypatch.setattr(importlib.import_module(module), func,
                        _boom(f"{func} exploded <script>alert(1)</script>"))
    with caplog.at_level(logging.ERROR, logger="thoughttrace.app"):
        at = _run(good_db, monkeypatch, page)
    _assert_friendly(at, "RuntimeError", f"{func} exploded")
    # the message is in a code span: the payload is never live markup
    assert all("<script>" not in m.value for m in at.markdown if m.proto.allow_html)
    assert all("<script>" not in h.value for h in at.html)
    # the traceback went to the server log
    logged = [r for r in caplog.records if r.name == "thoughttrace.app"]
    assert logged and logged[-1].exc_info and logged[-1].exc_info[0] is RuntimeError
    # the sidebar still works: the user can reset filters and move on
    assert at.sidebar.button


def test_sidebar_failure_is_friendly_too(good_db, monkeypatch):
    from components.queries import core
    monkeypatch.setattr(core, "facet_options", _boom("facets unavailable"))
    at = _run(good_db, monkeypatch)
    _assert_friendly(at, "RuntimeError", "facets unavailable")


def test_control_flow_passes_through_the_boundary(good_db, monkeypatch):
    """st.stop (no conversation matches) is not an error; the page says why."""
    at = _run(good_db, monkeypatch, label="social_and_others")
    assert not at.exception and not at.error
    assert any("No conversations match" in i.value for i in at.info)
    # a rerun after a widget change (Streamlit's RerunException path) keeps working
    at.sidebar.button[0].click().run()
    assert not at.exception and not at.error
    assert [m.value for m in at.metric if m.label == "Conversations"] == ["4"]


def test_missing_db(tmp_path, monkeypatch):
    at = _run(tmp_path / "absent.duckdb", monkeypatch)
    assert not at.exception
    assert any("No database at" in e.value for e in at.error)
    assert any("python -m precompute build" in c.value for c in at.code)


def test_incompatible_db(tmp_path, monkeypatch):
    import duckdb
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE conversations (x INT)")
    con.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
    con.close()
    at = _run(db, monkeypatch)
    assert not at.exception
    assert any("not built by this version" in e.value for e in at.error)


def test_wrong_schema_version_and_broken_meta(tmp_path, good_db, monkeypatch):
    import shutil

    import duckdb
    db = tmp_path / "v0.duckdb"
    shutil.copyfile(good_db, db)
    con = duckdb.connect(str(db))
    con.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    con.close()
    at = _run(db, monkeypatch)
    assert not at.exception
    assert any("schema version 0" in e.value for e in at.error)
    # a meta table of the wrong shape is an incompatible DB, not a crash
    con = duckdb.connect(str(db))
    con.execute("DROP TABLE meta")
    con.execute("CREATE TABLE meta (k INT)")
    con.close()
    at = _run(db, monkeypatch)
    assert not at.exception
    assert any("cannot be read" in e.value for e in at.error)


@pytest.mark.parametrize("size", [0, 100, 64 * 1024])
def test_corrupt_db_file(tmp_path, monkeypatch, size):
    db = tmp_path / "corrupt.duckdb"
    db.write_bytes(os.urandom(size))
    at = _run(db, monkeypatch)
    assert not at.exception
    assert any("not a readable DuckDB file" in e.value or "cannot be read" in e.value
               for e in at.error), [e.value for e in at.error]
    assert "Traceback" not in _texts(at)


def test_db_removed_or_corrupted_mid_session(tmp_path, good_db, monkeypatch):
    import shutil
    db = tmp_path / "live.duckdb"
    shutil.copyfile(good_db, db)
    at = _run(db, monkeypatch, "conversations", conv="user1_task1_conversation1")
    assert not at.exception and len(at.chat_message) == 4
    db.unlink()
    at.run()
    assert not at.exception
    assert any("No database at" in e.value for e in at.error)
    db.write_bytes(os.urandom(4096))
    at.run()
    assert not at.exception
    assert any("not a readable DuckDB file" in e.value or "cannot be read" in e.value
               for e in at.error)
    # a good file back at the path: the same session recovers
    tmp = tmp_path / "next.duckdb"
    shutil.copyfile(good_db, tmp)
    os.replace(tmp, db)
    at.run()
    assert not at.exception and not at.error
