"""The Topics page through AppTest: with a filter (sunburst, clusters and heatmaps; the
count mode, chart shape and cluster space widgets), a filter matching nothing, and a DB
without the analytics tables."""

from __future__ import annotations

import duckdb
import pytest

from tests.apptest import chart_specs, open_app
from tests.corpus import build_analysed_db, sample_or_demo


@pytest.fixture(scope="module")
def built_db(tmp_path_factory):
    """The shared sample (or demo), every stage, with a fake embedder and a PCA reducer."""
    return build_analysed_db(sample_or_demo(),
                             tmp_path_factory.mktemp("topics_page") / "full.duckdb")


@pytest.fixture(scope="module")
def ingest_only_db(tmp_path_factory):
    from precompute import pipeline
    from precompute.config import Settings

    db = tmp_path_factory.mktemp("topics_ingest") / "ingest.duckdb"
    pipeline.build(Settings(source=str(sample_or_demo()), db=db, progress=False), only=("ingest",),
                   log=lambda _: None)
    return db


def _model_and_wrong_provider(db) -> tuple[str, str | None]:
    """The most frequent model and a provider that is not its own (None if there is one)."""
    c = duckdb.connect(str(db), read_only=True)
    try:
        (model, provider), = c.execute(
            "SELECT model_name, model_provider FROM conversations GROUP BY ALL "
            "ORDER BY count(*) DESC, 1 LIMIT 1").fetchall()
        other = c.execute("SELECT model_provider FROM conversations WHERE model_provider <> ?"
                          " LIMIT 1", [provider]).fetchall()
    finally:
        c.close()
    return model, (other[0][0] if other else None)


def test_topics_page_with_a_filter(built_db, monkeypatch):
    model, _ = _model_and_wrong_provider(built_db)
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
    model, other = _model_and_wrong_provider(built_db)
    assert other is not None, "the test corpus must have two providers for this test"
    at = open_app(built_db, monkeypatch, "topics", model=model, provider=other)
    assert any("No conversations match" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_topics_page_on_db_without_analytics_says_run_build(ingest_only_db, monkeypatch):
    at = open_app(ingest_only_db, monkeypatch, "topics")
    assert any("python -m precompute build" in i.value for i in at.info)
    assert any("python -m precompute build" in c.value for c in at.code)
    assert not at.get("plotly_chart")
