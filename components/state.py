"""The app's Streamlit glue: one read-only connection per DB file, cached queries.

Queries live in `components.queries` (no streamlit); this module caches them keyed by the
DB file's signature, so a rebuilt file (atomic rename) is picked up on the next rerun
while sessions that are mid-run keep reading the old one.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

import duckdb
import streamlit as st

from components import db, queries
from precompute.config import db_path_from_env


def db_path() -> str:
    return str(db_path_from_env())


_run = threading.local()


def begin_run() -> db.DbStatus:
    """Check the DB file once at the top of a script run (app.py); later calls in the same
    run reuse the answer. Every script run executes in its own thread."""
    path = db_path()
    _run.status = _checked(path, db.signature(path))
    return _run.status


def db_status() -> db.DbStatus:
    """The DB status of this run (a stat call; the full check only when the file changed)."""
    status = getattr(_run, "status", None)
    return status if status is not None else begin_run()


@st.cache_data(show_spinner=False, max_entries=8)
def _checked(path: str, signature: tuple | None) -> db.DbStatus:
    return db.check(path)


@st.cache_resource(show_spinner=False, max_entries=4)
def _connection(path: str, signature: tuple) -> duckdb.DuckDBPyConnection:
    return db.connect(path)


def cursor() -> duckdb.DuckDBPyConnection:
    """A fresh cursor on the shared read-only connection of the current DB file."""
    status = db_status()
    return db.cursor(_connection(status.path, status.signature))


@st.cache_data(show_spinner=False, max_entries=2048)
def _cached(name: str, path: str, signature: tuple, key: str, _args: tuple) -> Any:
    con = db.cursor(_connection(path, signature))
    module, _, func = name.rpartition(".")
    mod = importlib.import_module(f"components.{module}") if module else queries
    try:
        return getattr(mod, func)(con, *_args)
    finally:
        con.close()


def query(name: str, *args: Any) -> Any:
    """Result of ``components.queries.<name>(cursor, *args)``, cached per DB file and args.

    ``name`` may name another components module: ``"browse.conversation_page"`` calls
    ``components.browse.conversation_page(cursor, *args)``.

    Args must be hashable scalars, tuples or frozen dataclasses (e.g. `Filters`), never
    DataFrames.
    """
    status = db_status()
    # Streamlit would hash ``args`` recursively on every call (tens of ms per rerun with
    # ~20 queries); their repr is an exact, cheap key (scalars, tuples, frozen dataclasses).
    return _cached(name, status.path, status.signature, repr(args), args)


def is_demo() -> bool:
    prov = query("provenance")
    return bool(prov.get("is_demo"))


# ---- Conversation browser: vectors for semantic search, query model, deferred exports ----

@st.cache_resource(show_spinner=False, max_entries=2)
def _vector_index(path: str, signature: tuple) -> Any:
    from components import search
    con = db.cursor(_connection(path, signature))
    try:
        if not search.embedding_info(con)["available"]:
            return None
        return search.load_index(con)
    finally:
        con.close()


def vector_index() -> Any:
    """The `components.search.VectorIndex` of the current DB file (loaded once per file),
    or None when the DB has no embeddings."""
    status = db_status()
    return _vector_index(status.path, status.signature)


@st.cache_resource(show_spinner="Loading the embedding model (once)…", max_entries=2)
def query_embedder(model: str) -> Any:
    """The model the DB was embedded with (``meta.embed_model``), loaded lazily, once."""
    from precompute import embed
    return embed.load_embedder(model)


@st.cache_data(show_spinner=False, max_entries=256)
def embed_query(model: str, text: str) -> Any:
    """The normalized vector of one search query (cached per model and text)."""
    import numpy as np
    vec = np.asarray(query_embedder(model).encode([text], batch_size=1), dtype=np.float32)[0]
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


def deferred(name: str, *args: Any):
    """A zero-argument callable returning ``query(name, *args)`` for the current DB file,
    for ``st.download_button(data=...)``: the bytes are built only when requested (on
    Streamlit's download thread) and cached like any query."""
    status = db_status()
    path, signature = status.path, status.signature

    def build() -> Any:
        return _cached(name, path, signature, repr(args), args)
    return build
