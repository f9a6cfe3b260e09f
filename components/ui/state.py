"""The app's Streamlit glue to the data: one read-only connection per DB file, an
in-process cache of query results and built figures, and background work.

Calls name functions, never strings: ``state.query(thoughts.stage_shares, filters,
"reason")`` runs ``thoughts.stage_shares(cursor, filters, "reason")`` once per DB file and
arguments. The cache key is the function's module and qualified name, the arguments' repr
and the DB file's signature, so a rebuilt file (atomic rename) is picked up on the next
rerun while sessions that are mid-run keep reading the old one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import duckdb
import numpy as np
import polars as pl
import streamlit as st

from components import db
from components.figures.catalogue import Drawn, Entry
from components.queries import core
from precompute.config import db_path_from_env

T = TypeVar("T")


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
    pickles the values: a hit costs a dict lookup. Values are shared between sessions:
    figures are handed out as they are (nothing in the app mutates a built figure),
    polars frames as clones and containers as copies (see `_shielded`)."""

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


def _shielded(value: Any) -> Any:
    """What a caller may change without changing the cached value. Strings, numbers,
    frozen dataclasses and figures are shared as they are (immutable, or never mutated
    after building); polars frames and series are clones (``df[0, "a"] = x`` writes in
    place; a clone costs a microsecond and shares the buffers copy-on-write); dicts and
    lists are copied one level down recursively; numpy arrays are read-only views."""
    if isinstance(value, (pl.DataFrame, pl.Series)):
        return value.clone()
    if isinstance(value, dict):
        return {k: _shielded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shielded(v) for v in value]
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


def name_of(fn: Callable) -> str:
    """``module.qualname`` of a query function: its part of a cache key."""
    return f"{fn.__module__}.{fn.__qualname__}"


def _key(kind: str, fn: Callable, status: db.DbStatus, args: tuple, kwargs: dict | None = None
         ) -> tuple:
    # The args' repr is an exact, cheap key (scalars, tuples, frozen dataclasses).
    return (kind, name_of(fn), status.path, status.signature, repr(args),
            repr(sorted((kwargs or {}).items())))


def _call(fn: Callable[..., T], status: db.DbStatus, args: tuple) -> T:
    con = db.cursor(_connection(status.path, status.signature))
    try:
        return fn(con, *args)
    finally:
        con.close()


def query(fn: Callable[..., T], *args: Any) -> T:
    """``fn(cursor, *args)`` on the current DB file, cached per file and arguments.

    Args must be hashable scalars, tuples or frozen dataclasses (e.g. `Filters`), never
    frames. The result is shared with other sessions: a caller may change what comes back
    (frames, dicts and lists come back as copies, arrays read-only) without changing it
    for the others.
    """
    status = db_status()
    return _results.get(_key("query", fn, status, args), lambda: _call(fn, status, args))


class _AppSource:
    """The catalogue's `Source` in the app: every read goes through the cache."""

    def query(self, fn: Callable[..., T], *args: Any) -> T:
        return query(fn, *args)


APP_SOURCE = _AppSource()


def figure(entry: Entry, *args: Any, **options: Any) -> Drawn:
    """The catalogue ``entry`` built for ``args`` (the filters) and ``options``, cached
    like a query: a rerun that changes nothing a figure depends on reuses the built figure
    instead of rebuilding it. A figure is shared between sessions: never mutate it."""
    status = db_status()
    return _results.get(_key("figure", entry.build, status, args, options),
                        lambda: entry.build(APP_SOURCE, *args, **options))


# One background worker: slow queries (the shift metrics of a new subset) run here while
# the page renders everything else; concurrent requests for one key share one future.
_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thoughttrace-bg")
_pending: dict[tuple, Future] = {}
_pending_lock = threading.Lock()


def query_soon(fn: Callable[..., T], *args: Any, wait_s: float = 0.02
               ) -> tuple[bool, T | None]:
    """Like `query`, without blocking the page on a slow computation: (True, result) when
    the result is cached or ready within ``wait_s`` seconds, else (False, None) while it
    goes on in a background thread and lands in the cache (ask again on a later run). An
    exception of the computation is raised here, as `query` would, and the next call
    retries."""
    status = db_status()
    key = _key("query", fn, status, args)
    hit, value = _results.peek(key)
    if hit:
        return True, value
    with _pending_lock:
        future = _pending.get(key)
        started = future is None
        if started:
            future = _background.submit(_results.get, key, lambda: _call(fn, status, args))
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


def soon_done(fn: Callable, *args: Any) -> bool:
    """Whether `query_soon` would now answer at once: the result is cached, or its
    computation has finished (a failure included: `query_soon` then raises it). Never
    starts or raises anything, so a polling fragment can call it."""
    status = db_status()
    key = _key("query", fn, status, args)
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


def deferred(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    """A zero-argument callable returning ``query(fn, *args)`` for the current DB file,
    for ``st.download_button(data=...)``: the bytes are built only when requested (on
    Streamlit's download thread) and cached like any query."""
    status = db_status()

    def build() -> T:
        return _results.get(_key("query", fn, status, args), lambda: _call(fn, status, args))
    return build


def is_demo() -> bool:
    return query(core.is_demo)


def display_names() -> dict[str, str]:
    """Label code -> display name, from the DB's labels table."""
    return query(core.label_names)


# ---- Conversation browser: vectors for semantic search, query model ----

@st.cache_resource(show_spinner=False, max_entries=2)
def _vector_index(path: str, signature: tuple) -> Any:
    from components.queries import search
    con = db.cursor(_connection(path, signature))
    try:
        if not search.embedding_info(con)["available"]:
            return None
        return search.load_index(con)
    finally:
        con.close()


def vector_index() -> Any:
    """The `components.queries.search.VectorIndex` of the current DB file (loaded once per
    file), or None when the DB has no embeddings."""
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
    vec = np.asarray(query_embedder(model).encode([text], batch_size=1), dtype=np.float32)[0]
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


def semantic_hits(text: str, filters: Any, k: int) -> tuple[pl.DataFrame | None, str | None]:
    """The top-``k`` thoughts and user messages nearest in meaning to ``text`` within the
    filtered conversations (`components.queries.search.search`), or ``(None, why)`` when
    this DB has no vectors or the query cannot be embedded with the DB's model."""
    from components.queries import conversations as browse
    from components.queries import search
    info = query(search.embedding_info)
    if not info["available"]:
        return None, search.NO_EMBEDDINGS
    allowed = None if filters.is_empty else query(browse.conv_ids, filters)
    try:
        qvec = embed_query(info["model"], text)
        return search.search(vector_index(), qvec, k=k, conv_ids=allowed), None
    except Exception as exc:  # model missing offline, another dimension, ...
        return None, (f"Could not embed the query with `{info['model']}`, the model this "
                      f"database was built with ({exc.__class__.__name__}: "
                      f"{str(exc)[:200]}).")


class PageEnd(Exception):
    """A page ends here on purpose (nothing to show for this subset, no conversation
    open...). Unlike ``st.stop()``, after which Streamlit draws nothing more in the run,
    the router catches it and still draws what follows every page (the link box)."""


def end_page() -> None:
    """End the current page here; the router draws the rest of the app (see `PageEnd`)."""
    raise PageEnd
