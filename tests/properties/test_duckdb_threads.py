"""The DuckDB threads of the app's connections (components.db.THREADS_ENV) and how
deploy/serve.py shares the cores out between its workers."""

from __future__ import annotations

import importlib.util

import pytest

from components import db
from tests.corpus import REPO


def _serve():
    spec = importlib.util.spec_from_file_location("serve_py", REPO / "deploy" / "serve.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _threads(con) -> int:
    return int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])


def test_the_variable_sets_the_threads_of_a_connection(sample_ingest_db, monkeypatch):
    monkeypatch.delenv(db.THREADS_ENV, raising=False)
    con = db.connect(sample_ingest_db)
    default = _threads(con)
    con.close()
    monkeypatch.setenv(db.THREADS_ENV, "1")
    con = db.connect(sample_ingest_db)
    assert _threads(con) == 1 and _threads(db.cursor(con)) == 1
    assert con.execute("SELECT count(*) FROM conversations").fetchall() == [(20,)]
    con.close()
    monkeypatch.setenv(db.THREADS_ENV, " ")
    assert db.threads_from_env() is None and default >= 1


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5"])
def test_a_bad_value_is_refused_naming_the_variable(monkeypatch, bad):
    monkeypatch.setenv(db.THREADS_ENV, bad)
    with pytest.raises(ValueError, match=f"{db.THREADS_ENV}=.*at least 1"):
        db.threads_from_env()


def test_serve_shares_the_cores_between_workers():
    serve = _serve()
    assert serve.THREADS_ENV == db.THREADS_ENV
    assert [serve.duckdb_threads(w, 2) for w in (1, 2, 3)] == [2, 1, 1]
    assert [serve.duckdb_threads(w, 16) for w in (1, 2, 3, 4)] == [16, 8, 5, 4]
