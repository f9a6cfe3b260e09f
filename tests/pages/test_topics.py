"""The Topics page through AppTest: with a filter (sunburst, clusters and heatmaps; the
count mode, chart shape and cluster space widgets), a filter matching nothing, and a DB
without the analytics tables."""

from __future__ import annotations

from tests.apptest import chart_specs, model_and_wrong_provider, open_app


def test_topics_page_with_a_filter(built_db, monkeypatch):
    model, _ = model_and_wrong_provider(built_db)
    at = open_app(built_db, monkeypatch, "topics", model=model)
    assert at.title[0].value == "Topics"
    kinds = [s["data"][0]["type"] for s in chart_specs(at)]
    assert kinds[0] == "pie" and "heatmap" in kinds  # the domain donut first
    assert any(f"model: {model}" in c.value for c in at.caption)
    at.radio(key="tp_mode").set_value("multi").run()
    at.radio(key="tp_shape").set_value("treemap").run()
    at.radio(key="tp_space").set_value("reason").run()
    assert not at.exception
    assert chart_specs(at)[0]["data"][0]["type"] == "treemap"
    assert any("multi-label" in c.value for c in at.caption)


def test_topics_page_with_a_filter_matching_nothing(built_db, monkeypatch):
    model, other = model_and_wrong_provider(built_db)
    at = open_app(built_db, monkeypatch, "topics", model=model, provider=other)
    assert any("No conversations match" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_topics_page_on_db_without_analytics_says_run_build(ingest_only_db, monkeypatch):
    at = open_app(ingest_only_db, monkeypatch, "topics")
    assert any("python -m precompute build" in i.value for i in at.info)
    assert any("python -m precompute build" in c.value for c in at.code)
    assert not at.get("plotly_chart")
