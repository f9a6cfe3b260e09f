"""The app's Streamlit glue: one read-only connection per DB file, cached queries.

Queries live in `components.queries` (no streamlit); this module caches them keyed by the
DB file's signature, so a rebuilt file (atomic rename) is picked up on the next rerun
while sessions that are mid-run keep reading the old one.
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Callable

import duckdb
import numpy as np
import pandas as pd
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


class ResultCache:
    """A thread-safe LRU of query results and figures, shared by every session of the
    process. Unlike ``st.cache_data`` it neither hashes the arguments recursively nor
    pickles the values: a hit costs a dict lookup (``st.cache_data`` spent 1–3 ms per
    hit on hashing and unpickling, about 20–60 ms per page). Values are shared, so `get`
    hands out protected views (see `_shielded`)."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._data: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return _shielded(self._data[key])
        value = compute()  # outside the lock: concurrent sessions do not queue behind it
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)
        return _shielded(value)

    def peek(self, key: tuple) -> tuple[bool, Any]:
        """(True, value) on a hit, else (False, None); never computes."""
        with self._lock:
            if key not in self._data:
                return False, None
            self._data.move_to_end(key)
            return True, _shielded(self._data[key])

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


_MUTABLE = (pd.DataFrame, pd.Series, dict, list, tuple, np.ndarray)


def _shielded(value: Any) -> Any:
    """What a caller may change without changing the cached value: DataFrames and Series
    as shallow copies (pandas' copy-on-write: writing to the copy never reaches the cache),
    dicts, lists and tuples copied one level down recursively, numpy arrays as read-only
    views. Plotly figures are handed out as they are: builders return new figures and
    nothing in the app mutates a figure after building it."""
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.copy(deep=False)
    if isinstance(value, dict):
        return {k: _shielded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if not any(isinstance(v, _MUTABLE) for v in value):
            return list(value) if isinstance(value, list) else value
        items = [_shielded(v) for v in value]
        if isinstance(value, list):
            return items
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, np.ndarray):
        view = value.view()
        view.flags.writeable = False
        return view
    return value


_results = ResultCache(max_entries=2048)


def clear_cache() -> None:
    """Forget every cached query result and figure (tests; a rebuilt DB file needs no
    clearing: its new signature is part of every key)."""
    _results.clear()
    with _pending_lock:
        _pending.clear()


def _call(name: str, path: str, signature: tuple, args: tuple) -> Any:
    con = db.cursor(_connection(path, signature))
    module, _, func = name.rpartition(".")
    mod = importlib.import_module(f"components.{module}") if module else queries
    try:
        return getattr(mod, func)(con, *args)
    finally:
        con.close()


def _query_key(name: str, path: str, signature: tuple, args: tuple) -> tuple:
    # The args' repr is an exact, cheap key (scalars, tuples, frozen dataclasses).
    return ("query", name, path, signature, repr(args))


def _cached(name: str, path: str, signature: tuple, args: tuple) -> Any:
    return _results.get(_query_key(name, path, signature, args),
                        lambda: _call(name, path, signature, args))


def query(name: str, *args: Any) -> Any:
    """Result of ``components.queries.<name>(cursor, *args)``, cached per DB file and args.

    ``name`` may name another components module: ``"browse.conversation_page"`` calls
    ``components.browse.conversation_page(cursor, *args)``.

    Args must be hashable scalars, tuples or frozen dataclasses (e.g. `Filters`), never
    DataFrames. The result is shared with other sessions: DataFrames come back as
    copy-on-write copies, so changing them is safe.
    """
    status = db_status()
    return _cached(name, status.path, status.signature, args)


# One background worker: slow queries (the shift metrics of a new subset) run here while
# the page renders everything else; concurrent requests for one key share one future.
_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thoughttrace-bg")
_pending: dict[tuple, Future] = {}
_pending_lock = threading.Lock()


def query_soon(name: str, *args: Any, wait_s: float = 0.02) -> tuple[bool, Any]:
    """Like `query`, without blocking the page on a slow computation: (True, result) when
    the result is cached or ready within ``wait_s`` seconds, else (False, None) while it
    goes on in a background thread and lands in the cache (ask again on a later run). An
    exception of the computation is raised here, as `query` would, and the next call
    retries."""
    status = db_status()
    key = _query_key(name, status.path, status.signature, args)
    hit, value = _results.peek(key)
    if hit:
        return True, value
    with _pending_lock:
        future = _pending.get(key)
        started = future is None
        if started:
            future = _background.submit(
                _results.get, key, lambda: _call(name, status.path, status.signature, args))
            _pending[key] = future
    if started:  # outside the lock: a finished future runs the callback right here
        future.add_done_callback(lambda f: _forget_done(key, f))
    try:
        value = future.result(timeout=wait_s)
    except FutureTimeout:
        return False, None
    finally:
        if future.done():
            with _pending_lock:
                if _pending.get(key) is future:
                    del _pending[key]
    return True, value


def soon_done(name: str, *args: Any) -> bool:
    """Whether `query_soon` would now answer at once: the result is cached, or its
    computation has finished (a failure included: `query_soon` then raises it). Never
    starts or raises anything, so a polling fragment can call it."""
    status = db_status()
    key = _query_key(name, status.path, status.signature, args)
    if _results.peek(key)[0]:
        return True
    with _pending_lock:
        future = _pending.get(key)
    return future is None or future.done()


def _forget_done(key: tuple, future: Future) -> None:
    """Drop a finished computation from the pending table once its result is cached; a
    failed one stays until a caller has been shown its exception (else the page's poll
    would restart it forever)."""
    if future.exception() is None:
        with _pending_lock:
            if _pending.get(key) is future:
                del _pending[key]


def wait_background(timeout_s: float = 60.0) -> None:
    """Wait until every background computation has finished (tests and benchmarks)."""
    with _pending_lock:
        futures = list(_pending.values())
    for future in futures:
        try:
            future.result(timeout=timeout_s)
        except Exception:  # noqa: BLE001 - raised again to the page that asks for it
            pass


@dataclass(frozen=True, init=False)
class Q:
    """A query named in `build`'s arguments: ``Q("analysis.label_distribution", filters)``
    stands for ``query("analysis.label_distribution", filters)``, with ``part="x"`` for
    that result's ``["x"]`` and with ``part=("x", "y")`` for its ``["x"]["y"]``. Its repr
    is the cache key, so args follow `query`'s rules."""
    name: str
    args: tuple
    part: str | tuple | None

    def __init__(self, name: str, *args: Any, part: str | tuple | None = None):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "part", part)


def build(builder: str, *args: Any, **kwargs: Any) -> Any:
    """``components.<builder>(*args, **kwargs)`` with every `Q` argument replaced by its
    query result, cached like a query. For pure builders of figures and display tables: a
    rerun that changes nothing a figure depends on reuses the built figure instead of
    rebuilding it (the costly part of the analysis pages). Other arguments must have an
    exact repr (scalars, tuples, lists and dicts of them, frozen dataclasses). A figure is
    shared between sessions: never mutate it."""
    status = db_status()
    key = ("figure", builder, status.path, status.signature, repr(args),
           repr(sorted(kwargs.items())))

    def resolve(value: Any) -> Any:
        if not isinstance(value, Q):
            return value
        result = _cached(value.name, status.path, status.signature, value.args)
        keys = () if value.part is None else (
            value.part if isinstance(value.part, tuple) else (value.part,))
        for k in keys:
            result = result[k]
        return result

    def make() -> Any:
        module, _, func = builder.rpartition(".")
        fn = getattr(importlib.import_module(f"components.{module}"), func)
        return fn(*[resolve(a) for a in args], **{k: resolve(v) for k, v in kwargs.items()})
    return _results.get(key, make)


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
        return _cached(name, path, signature, args)
    return build
