"""The app's in-process result cache (components.ui.state): values handed out stay intact
in the cache when a caller changes what it got, the LRU bound holds, keys name the
function by module and qualified name, a rebuilt DB file misses, `figure` caches a
catalogue entry's build, and `query_soon` computes in the background (failures raised to
the caller, then retried). Against real DBs: the shared sample and the tiny DB, ingest
only."""

from __future__ import annotations

import os
import shutil
import threading
import types
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from components.figures import catalogue
from components.figures import thoughts as ft
from components.filters import Filters
from components.queries import core
from components.queries import thoughts as qt
from components.ui import state
from tests.tiny_db import build_tiny_db

# =========================================================================== the cache


def test_mutating_a_returned_value_leaves_the_cache_intact():
    cache = state.ResultCache(max_entries=4)
    calls = []

    def compute():
        calls.append(1)
        return {"df": pl.DataFrame({"a": [1, 2, 3]}), "arr": np.arange(3),
                "parts": [pl.Series([1.0, 2.0])], "nested": {"xs": [1]}, "n": 3}

    got = cache.get(("k",), compute)
    got["df"][0, "a"] = -1                   # polars writes this in place
    got["df"] = got["df"].with_columns(new=pl.lit(1))
    got["parts"][0][0] = 100.0               # so does this
    got["parts"].append(pl.Series([5.0]))
    got["nested"]["xs"].append(2)
    got["n"] = 99
    got["extra"] = True
    with pytest.raises(ValueError):
        got["arr"][0] = 42  # read-only view
    again = cache.get(("k",), compute)
    assert calls == [1]  # the second call was a hit
    assert again["df"].columns == ["a"]
    assert again["df"]["a"].to_list() == [1, 2, 3]
    assert len(again["parts"]) == 1 and again["parts"][0].to_list() == [1.0, 2.0]
    assert again["nested"] == {"xs": [1]}
    assert again["n"] == 3 and "extra" not in again
    assert again["arr"].tolist() == [0, 1, 2]
    peeked = cache.peek(("k",))[1]
    peeked["df"][0, "a"] = -5
    assert cache.peek(("k",))[1]["df"]["a"].to_list() == [1, 2, 3]
    assert cache.peek(("missing",)) == (False, None)


def test_a_returned_frame_alone_is_shielded_too():
    cache = state.ResultCache(max_entries=2)
    df = cache.get(("f",), lambda: pl.DataFrame({"a": [1, 2]}))
    df[1, "a"] = 7
    assert cache.get(("f",), lambda: None)["a"].to_list() == [1, 2]


def test_lru_bound_and_clear():
    cache = state.ResultCache(max_entries=2)
    cache.get(("a",), lambda: 1)
    cache.get(("b",), lambda: 2)
    cache.get(("a",), lambda: -1)  # a hit: "a" becomes the most recent
    cache.get(("c",), lambda: 3)   # evicts "b", the least recently used
    assert len(cache) == 2
    assert cache.get(("a",), lambda: -1) == 1
    assert cache.get(("b",), lambda: 22) == 22  # recomputed
    cache.clear()
    assert len(cache) == 0


def test_a_failed_computation_is_not_cached():
    cache = state.ResultCache(max_entries=2)

    def boom():
        raise RuntimeError("no")
    with pytest.raises(RuntimeError):
        cache.get(("x",), boom)
    assert cache.get(("x",), lambda: 5) == 5


# =========================================================================== keys


def _module(name: str) -> types.ModuleType:
    """A module ``name`` with a query function ``rows(con)`` that says where it lives."""
    module = types.ModuleType(name)
    exec(f"def rows(con):\n    return {name!r}\n", module.__dict__)
    return module


def test_name_of_is_module_and_qualname():
    assert state.name_of(qt.stage_shares) == "components.queries.thoughts.stage_shares"
    assert state.name_of(catalogue.LABEL_SHARES.build) == \
        "components.figures.catalogue._label_shares"
    a, b = _module("fake_queries_a"), _module("fake_queries_b")
    assert a.rows.__name__ == b.rows.__name__ == "rows"
    assert state.name_of(a.rows) == "fake_queries_a.rows" != state.name_of(b.rows)


def test_the_key_is_exact():
    status = types.SimpleNamespace(path="/x.duckdb", signature=(1, 2, 3))
    fn = qt.label_distribution

    def key(*args, kind="query", sig=(1, 2, 3), **kwargs):
        return state._key(kind, fn, types.SimpleNamespace(path=status.path, signature=sig),
                          args, kwargs)
    assert key(Filters(models=("GPT-5.4",))) == key(Filters(models=("GPT-5.4",)))
    assert key(Filters(models=("GPT-5.4",))) != key(Filters(models=("Claude Opus 4.6",)))
    assert key(1, part="rows") != key(1)
    assert key(1, a=1, b=2) == key(1, b=2, a=1)  # keyword order does not matter
    assert key(1) != key(1, kind="figure")
    assert key(1) != key(1, sig=(1, 2, 4))       # a rebuilt file: another key
    assert key("1") != key(1)


# =========================================================================== against a DB


@pytest.fixture(scope="module")
def sample_ingest(sample_ingest_db) -> Path:
    """The shared sample, ingest only (20 conversations)."""
    return sample_ingest_db


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_db(tmp_path_factory.mktemp("state-tiny"))


def _serve(source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A copy of ``source`` as the app's DB file, with an empty cache."""
    db = tmp_path / "app.duckdb"
    shutil.copy(source, db)
    monkeypatch.setenv("THOUGHTTRACE_DB", str(db))
    state.clear_cache()
    state.begin_run()
    yield db
    state.wait_background()
    state.clear_cache()


@pytest.fixture
def app_db(sample_ingest, tmp_path, monkeypatch):
    """The sample as the app's DB file."""
    yield from _serve(sample_ingest, tmp_path, monkeypatch)


@pytest.fixture
def tiny_app_db(tiny, tmp_path, monkeypatch):
    """The tiny DB as the app's DB file."""
    yield from _serve(tiny, tmp_path, monkeypatch)


def test_same_name_in_two_modules_does_not_collide(tiny_app_db):
    a, b = _module("fake_queries_a"), _module("fake_queries_b")
    assert state.query(a.rows) == "fake_queries_a"
    assert state.query(b.rows) == "fake_queries_b"
    # the key is the name, not the object: the same function defined again is a hit
    assert state.query(_module("fake_queries_a").rows) == "fake_queries_a"


def test_queries_are_cached_per_db_file_and_a_rebuilt_file_misses(app_db, tiny):
    calls = []

    def conversations(con, filters):
        calls.append(filters)
        return core.count_conversations(con, filters)
    assert state.query(conversations, Filters()) == 20
    assert state.query(conversations, Filters()) == 20
    assert calls == [Filters()]
    # the build's atomic rename puts another file at the same path
    fresh = app_db.with_name("fresh.duckdb")
    shutil.copy(tiny, fresh)
    os.replace(fresh, app_db)
    assert state.query(conversations, Filters()) == 20  # this run keeps its file
    state.begin_run()                                   # the next run sees the new one
    assert state.query(conversations, Filters()) == 4
    assert len(calls) == 2
    assert state.is_demo() is False
    assert state.display_names()["task_motivation"]


def test_deferred_builds_on_demand_into_the_same_cache(app_db):
    calls = []

    def models(con):
        calls.append(1)
        return core.totals(con, Filters())["models"]
    build = state.deferred(models)
    assert calls == []                  # nothing until asked
    assert build() == 10 and build() == 10
    assert state.query(models) == 10 and calls == [1]


def test_figure_builds_an_entry_once_and_caches_it(app_db, monkeypatch):
    calls = []
    real = ft.label_share_bars

    def counting(*args, **kwargs):
        calls.append(args[1:])
        return real(*args, **kwargs)
    monkeypatch.setattr(ft, "label_share_bars", counting)

    filters = Filters()
    totals = state.query(core.totals, filters)
    drawn = state.figure(catalogue.LABEL_SHARES, filters, kind="reason", compare=False)
    again = state.figure(catalogue.LABEL_SHARES, filters, kind="reason", compare=False)
    other = state.figure(catalogue.LABEL_SHARES, filters, kind="reaction", compare=False)
    assert again is drawn and other is not drawn
    assert calls == [("reason", totals["conversations"], False),
                     ("reaction", totals["conversations"], False)]
    # the figure shows what the query counted: bar values are the reason shares
    dist = state.query(qt.label_distribution, filters)
    reasons = dist.filter(pl.col("kind") == "reason")
    shown = sorted(v for v in drawn.figure.data[0].x if v is not None)
    assert shown == pytest.approx(sorted(reasons["share"].to_list()))
    assert drawn.n == f"n = {int(reasons['n'].sum()):,} reasons"
    assert drawn.data["n"].sum() == reasons["n"].sum()
    # every option is part of the key
    assert state.figure(catalogue.LABEL_SHARES, filters, kind="reason") is not drawn
    assert len(calls) == 3

    # the thoughts behind a bar: a cached query's part, made a table with links
    first = str(reasons["label"][0])
    behind = state.query(qt.stage_thoughts, filters, "reason", first, 0, "relative", "none",
                         None, 50, 0)
    rows = qt.thought_table(behind["rows"], {}, {})
    assert {"open", "conversation", "turn", "label", "thought"} <= set(rows.columns)
    # the sample's JSONL, counted with the stage rule: 22 Task Motivation reasons are Early
    assert first == "task_motivation" and behind["total"] == 22
    assert rows.height == 22 and all("conv=" in u for u in rows["open"].to_list())


def test_query_soon_runs_in_the_background_and_reports_failures(app_db):
    gate = threading.Event()
    calls = []

    def slow(con, x):
        calls.append(x)
        assert gate.wait(30)
        if x == "bad":
            raise RuntimeError("metrics failed")
        return con.execute("SELECT count(*) FROM conversations").fetchone()[0] + x

    assert state.query_soon(slow, 1, wait_s=0.01) == (False, None)
    assert not state.soon_done(slow, 1)
    assert state.query_soon(slow, 1, wait_s=0.01) == (False, None)
    gate.set()
    state.wait_background()
    assert state.soon_done(slow, 1)
    assert state.query_soon(slow, 1) == (True, 21)  # 20 conversations + 1
    assert calls == [1]  # asked three times, computed once
    assert state.query(slow, 1) == 21  # the same cache as `query`

    # a failure is not cached and is raised to the next caller, once; then it retries
    state.query_soon(slow, "bad", wait_s=0)
    state.wait_background()
    assert state.soon_done(slow, "bad")  # done, so a poll reruns the page
    with pytest.raises(RuntimeError, match="metrics failed"):
        state.query_soon(slow, "bad")
    assert state.query_soon(slow, "bad", wait_s=0) == (False, None)  # retried
    state.wait_background()
    assert calls == [1, "bad", "bad"]
