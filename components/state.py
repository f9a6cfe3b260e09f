"""The app's Streamlit glue: one read-only connection per DB file, cached queries.

Queries live in `components.queries` (no streamlit); this module caches them keyed by the
DB file's signature, so a rebuilt file (atomic rename) is picked up on the next rerun
while sessions that are mid-run keep reading the old one.
"""

from __future__ import annotations

from typing import Any

import duckdb
import streamlit as st

from components import db, queries
from precompute.config import db_path_from_env


def db_path() -> str:
    return str(db_path_from_env())


def db_status() -> db.DbStatus:
    """Checked on every rerun (a stat call; the full check only when the file changed)."""
    path = db_path()
    return _checked(path, db.signature(path))


@st.cache_data(show_spinner=False, max_entries=8)
def _checked(path: str, signature: tuple | None) -> db.DbStatus:
    return db.check(path)


@st.cache_resource(show_spinner=False, max_entries=4)
def _connection(path: str, signature: tuple) -> duckdb.DuckDBPyConnection:
    return db.connect(path)


def cursor() -> duckdb.DuckDBPyConnection:
    """A fresh cursor on the shared read-only connection of the current DB file."""
    status = db_status()
    return _connection(status.path, status.signature).cursor()


@st.cache_data(show_spinner=False, max_entries=2048)
def _cached(name: str, path: str, signature: tuple, args: tuple) -> Any:
    con = _connection(path, signature).cursor()
    try:
        return getattr(queries, name)(con, *args)
    finally:
        con.close()


def query(name: str, *args: Any) -> Any:
    """Result of ``components.queries.<name>(cursor, *args)``, cached per DB file and args.

    Args must be hashable scalars, tuples or frozen dataclasses (e.g. `Filters`), never
    DataFrames.
    """
    status = db_status()
    return _cached(name, status.path, status.signature, args)


def is_demo() -> bool:
    prov = query("provenance")
    return bool(prov.get("is_demo"))
