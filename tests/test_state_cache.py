"""The app's in-process result cache (components.state): shared values stay intact when a
caller changes what it got, the LRU bound holds, and `build` caches a builder's output
over `Q` query results against a real DB (the shared sample, ingest only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components import state


def test_mutating_a_returned_frame_leaves_the_cache_intact():
    cache = state.ResultCache(max_entries=4)
    calls = []

    def compute():
        calls.append(1)
        return {"df": pd.DataFrame({"a": [1, 2, 3]}), "arr": np.arange(3),
                "parts": [pd.Series([1.0, 2.0])], "n": 3}

    got = cache.get(("k",), compute)
    got["df"]["a"] = [9, 9, 9]
    got["df"]["new"] = 1
    got["df"].loc[0, "a"] = -1
    got["parts"][0].iloc[0] = 100.0
    got["n"] = 99
    got["extra"] = True
    with pytest.raises(ValueError):
        got["arr"][0] = 42  # read-only view
    again = cache.get(("k",), compute)
    assert calls == [1]  # the second call was a hit
    assert list(again["df"].columns) == ["a"]
    assert again["df"]["a"].tolist() == [1, 2, 3]
    assert again["parts"][0].tolist() == [1.0, 2.0]
    assert again["n"] == 3 and "extra" not in again
    assert again["arr"].tolist() == [0, 1, 2]


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


def test_q_repr_is_an_exact_key():
    from components.filters import Filters
    a = state.Q("analysis.label_distribution", Filters(models=("GPT-5.4",)))
    b = state.Q("analysis.label_distribution", Filters(models=("GPT-5.4",)))
    c = state.Q("analysis.label_distribution", Filters(models=("Claude Opus 4.6",)))
    assert repr(a) == repr(b) != repr(c)
    assert repr(state.Q("x", 1, part="rows")) != repr(state.Q("x", 1))


def test_build_resolves_queries_and_caches_the_result(build_db, sample_path, monkeypatch):
    settings, _ = build_db(sample_path, only=("ingest",))
    monkeypatch.setenv("THOUGHTTRACE_DB", str(settings.db))
    state.clear_cache()
    state.begin_run()
    from components import analysis_figures
    from components.filters import Filters

    calls = []
    real = analysis_figures.label_share_bars

    def counting(*args, **kwargs):
        calls.append(args[1:])
        return real(*args, **kwargs)
    monkeypatch.setattr(analysis_figures, "label_share_bars", counting)

    filters = Filters()
    totals = state.query("totals", filters)
    fig = state.build("analysis_figures.label_share_bars",
                      state.Q("analysis.label_distribution", filters), "reason",
                      totals["conversations"], False)
    again = state.build("analysis_figures.label_share_bars",
                        state.Q("analysis.label_distribution", filters), "reason",
                        totals["conversations"], False)
    other = state.build("analysis_figures.label_share_bars",
                        state.Q("analysis.label_distribution", filters), "reaction",
                        totals["conversations"], False)
    assert again is fig and other is not fig
    assert calls == [("reason", totals["conversations"], False),
                     ("reaction", totals["conversations"], False)]
    # the figure shows what the query counted: bar values are the reason shares
    dist = state.query("analysis.label_distribution", filters)
    reasons = dist[dist["kind"] == "reason"]
    shown = sorted(v for v in fig.data[0].x if v is not None)
    assert shown == pytest.approx(sorted(reasons["share"]))

    # part= picks one entry of a dict result
    rows = state.build("analysis.thought_table",
                       state.Q("analysis.stage_thoughts", filters, "reason",
                               str(reasons["label"].iloc[0]), 0, "relative", "none", None,
                               50, 0, part="rows"),
                       {}, {})
    assert {"open", "conversation", "turn", "label", "thought"} <= set(rows.columns)
    assert len(rows) > 0 and all(u.startswith("?") or "conv=" in u for u in rows["open"])
    state.clear_cache()


def test_query_soon_runs_in_the_background_and_reports_failures(build_db, sample_path,
                                                                 monkeypatch):
    import threading

    from components import queries
    settings, _ = build_db(sample_path, only=("ingest",))
    monkeypatch.setenv("THOUGHTTRACE_DB", str(settings.db))
    state.clear_cache()
    state.begin_run()
    gate = threading.Event()
    calls = []

    def slow(con, x):
        calls.append(x)
        assert gate.wait(30)
        if x == "bad":
            raise RuntimeError("metrics failed")
        return con.execute("SELECT count(*) FROM conversations").fetchone()[0] + x

    monkeypatch.setattr(queries, "slow_for_test", slow, raising=False)
    assert state.query_soon("slow_for_test", 1, wait_s=0.01) == (False, None)
    assert not state.soon_done("slow_for_test", 1)
    assert state.query_soon("slow_for_test", 1, wait_s=0.01) == (False, None)
    gate.set()
    state.wait_background()
    assert state.soon_done("slow_for_test", 1)
    assert state.query_soon("slow_for_test", 1) == (True, 21)  # 20 conversations + 1
    assert calls == [1]  # asked three times, computed once
    assert state.query("slow_for_test", 1) == 21  # the same cache as `query`

    # a failure is not cached and is raised to the next caller, once; then it retries
    state.query_soon("slow_for_test", "bad", wait_s=0)
    state.wait_background()
    assert state.soon_done("slow_for_test", "bad")  # done, so a poll reruns the page
    with pytest.raises(RuntimeError, match="metrics failed"):
        state.query_soon("slow_for_test", "bad")
    assert state.query_soon("slow_for_test", "bad", wait_s=0) == (False, None)  # retried
    state.wait_background()
    assert calls == [1, "bad", "bad"]
    state.clear_cache()
