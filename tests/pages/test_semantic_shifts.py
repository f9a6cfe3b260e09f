"""The "Semantic shifts" page through AppTest: its two URL-bound tabs (centred gaps, global
map), the metrics of a filtered subset computed in the background (pending, done, failed),
a filter matching nothing, and a DB without the analytics tables."""

from __future__ import annotations

import threading

import duckdb

from components.figures import shifts as mf
from components.filters import Filters
from components.queries import shifts as sv
from components.ui import state
from tests.apptest import chart_specs, model_and_wrong_provider, open_app


def _title(spec: dict) -> str:
    return spec["layout"]["title"]["text"]


def test_shifts_page_with_a_filter(built_db, monkeypatch):
    model, _ = model_and_wrong_provider(built_db)
    state.clear_cache()
    at = open_app(built_db, monkeypatch, "shifts", model=model)
    assert at.title[0].value == "Semantic shifts"
    assert [t.label for t in at.tabs] == ["Centred gaps", "Global map"]
    specs = chart_specs(at)
    assert len(specs) == 1  # the open tab only: the map is neither queried nor drawn
    assert _title(specs[0]).startswith("Semantic shift")
    rings = [s for s in specs[0]["layout"]["shapes"] if s["line"]["color"] == mf.RING_COLOR]
    assert 1 <= len(rings) <= 9
    assert any(f"model: {model}" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert list(table["published p50"]) == ["1.96", "3.71", "6.62"]
    assert "None" not in table.to_string()  # missing values are dashes
    # the subset's MMD and probe run in the background; the next run shows them
    state.wait_background()
    at.run()
    assert any("recomputed for the filtered subset" in c.value for c in at.caption)
    # the other tab (what a click on it does), then the map's own widgets
    at.session_state["view"] = "Global map"
    at.run()
    specs = chart_specs(at)
    assert [_title(s)[:10] for s in specs] == ["Global map"]
    assert not at.dataframe  # the metrics table is on the other tab
    at.selectbox(key="sh_color").set_value("label").run()
    assert not at.exception
    # the colour survives a visit to the other tab (the widget is not drawn meanwhile)
    at.session_state["view"] = "Centred gaps"
    at.run()
    at.session_state["view"] = "Global map"
    at.run()
    assert at.selectbox(key="sh_color").value == "label"
    conv_box = at.selectbox(key="sh_conv")
    if len(conv_box.options) > 1:
        conv_box.set_value(conv_box.options[1]).run()
        assert not at.exception
        assert any(a.get("showarrow") for a in chart_specs(at)[0]["layout"]["annotations"])


def test_a_link_opens_the_global_map_tab(built_db, monkeypatch):
    """`?view=Global map` (what the tab writes into the URL) opens the map with the
    filters of the link; an unknown view falls back to the first tab."""
    model, _ = model_and_wrong_provider(built_db)
    at = open_app(built_db, monkeypatch, "shifts", model=model, view="Global map")
    specs = chart_specs(at)
    assert len(specs) == 1 and _title(specs[0]).startswith("Global map")
    assert any(f"model: {model}" in c.value for c in at.caption)
    at = open_app(built_db, monkeypatch, "shifts", view="no such view")
    assert _title(chart_specs(at)[0]).startswith("Semantic shift")


def test_search_hits_are_highlighted_on_the_global_map(built_db, monkeypatch):
    """`?q=` and `?sq=` on the map tab draw the keyword hits (every one, counted as the
    query does) and the semantic top-k as their own traces, named in the title and the
    caption; a DB whose query model is missing says so and keeps the keyword hits."""
    import precompute.embed as embed
    from tests.corpus import HashingEmbedder

    monkeypatch.setattr(embed, "load_embedder", lambda model, device="auto": HashingEmbedder())
    state.query_embedder.clear()
    con = duckdb.connect(str(built_db), read_only=True)
    try:
        n_kw = sv.keyword_map_hits(con, Filters(), "the")["total"]
    finally:
        con.close()
    # counted over the sample's JSONL: "the" is in 78 user messages and 172 thoughts
    assert n_kw == 78 + 172
    at = open_app(built_db, monkeypatch, "shifts", view="Global map", q="the",
                  sq="code error", sk="20")
    spec = chart_specs(at)[0]
    names = [d.get("name", "") for d in spec["data"]]
    assert f"keyword “the” ({n_kw:,})" in names
    assert "semantic “code error” top 20 (20)" in names
    assert "highlighted: keyword “the”" in _title(spec)
    assert any(f"Keyword “the”: {n_kw:,} user messages" in c.value for c in at.caption)
    assert any("nearest in meaning" in c.value for c in at.caption)
    # the Conversations page's keyword count links here
    at = open_app(built_db, monkeypatch, "conversations", q="the")
    link = next(m.value for m in at.markdown if ">on the map</a>" in m.value)
    assert "shifts?" in link and "view=Global+map" in link and "q=the" in link

    def broken(model, device="auto"):
        raise OSError("no such model offline")

    monkeypatch.setattr(embed, "load_embedder", broken)
    state.query_embedder.clear()
    state.embed_query.clear()
    try:
        at = open_app(built_db, monkeypatch, "shifts", view="Global map", q="the",
                      sq="something else")
        assert any("Could not embed the query" in w.value for w in at.warning)
        assert [d["name"] for d in chart_specs(at)[0]["data"]][-1].startswith("keyword")
    finally:
        state.query_embedder.clear()
        state.embed_query.clear()


def test_shift_metrics_of_a_new_subset_do_not_block_the_page(built_db, monkeypatch):
    """While MMD and the probe of a subset are computed, the page shows the subset's
    percentiles with the set-level columns empty and says so; the next run after they are
    done shows them."""
    model, _ = model_and_wrong_provider(built_db)
    release = threading.Event()
    real = sv.metrics

    def slow(con, filters, *args):
        assert release.wait(30)
        return real(con, filters, *args)
    monkeypatch.setattr(sv, "metrics", slow)
    state.clear_cache()
    try:
        at = open_app(built_db, monkeypatch, "shifts", model=model)
        table = at.dataframe[0].value
        assert (table["p50"] != "—").all() and (table["MMD²"] == "—").all()
        assert any("being computed" in c.value for c in at.caption)
        assert any("Computing the set-level metrics" in c.value for c in at.caption)
        n_pending = list(table["n (pairs)"])
    finally:
        release.set()
    state.wait_background()
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["n (pairs)"]) == n_pending  # same subset, same percentiles' pairs
    big = table["n (pairs)"].str.replace(",", "").astype(int) >= 10
    assert (table.loc[big, "MMD²"] != "—").all()
    assert any("recomputed for the filtered subset" in c.value for c in at.caption)
    assert not any("Computing the set-level metrics" in c.value for c in at.caption)
    state.clear_cache()


def test_shift_metrics_failing_in_the_background_is_a_friendly_error(built_db, monkeypatch):
    model, _ = model_and_wrong_provider(built_db)

    def broken(con, filters, *args):
        raise ValueError("no vectors for these pairs")
    monkeypatch.setattr(sv, "metrics", broken)
    state.clear_cache()
    # the failure may already show on the first run (it can finish within query_soon's wait)
    at = open_app(built_db, monkeypatch, "shifts", model=model, check=False)
    assert not at.exception
    state.wait_background()
    at.run()  # what the polling fragment triggers
    assert not at.exception
    assert any("ValueError: no vectors for these pairs" in e.value for e in at.error)
    state.clear_cache()


def test_shifts_page_unfiltered_uses_stored_metrics(built_db, monkeypatch):
    at = open_app(built_db, monkeypatch, "shifts")
    assert any("stored by the build" in c.value for c in at.caption)


def test_shifts_page_with_a_filter_matching_nothing(built_db, monkeypatch):
    model, other = model_and_wrong_provider(built_db)
    at = open_app(built_db, monkeypatch, "shifts", model=model, provider=other)
    assert any("No conversations match" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_shifts_page_on_db_without_analytics_says_run_build(ingest_only_db, monkeypatch):
    at = open_app(ingest_only_db, monkeypatch, "shifts")
    assert any("python -m precompute build" in i.value for i in at.info)
    assert any("python -m precompute build" in c.value for c in at.code)
    assert not at.get("plotly_chart")
