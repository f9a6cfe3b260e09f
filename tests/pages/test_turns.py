"""AppTest of the Turn by turn page (views/turns.py): the relationship flow, the shares
beside the paper and relationship x reason on a fully built small DB; the page asks for
the stage on a DB without relationships; an empty subset says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apptest import chart_specs, chart_titles, open_app, texts
from tests.corpus import SAMPLE, build_analysed_db


@pytest.fixture(scope="module")
def built_db(tmp_path_factory) -> Path:
    if not SAMPLE.is_file():
        pytest.skip("shared sample not present")
    return build_analysed_db(SAMPLE, tmp_path_factory.mktemp("turns") / "full.duckdb")


def test_turns_page_draws_the_flow_beside_the_paper(built_db, monkeypatch):
    at = open_app(built_db, monkeypatch, "turns")
    assert at.title[0].value == "Turn by turn"
    specs = chart_specs(at)
    assert [s["data"][0]["type"] for s in specs] == ["sankey", "bar", "heatmap"]
    nodes = specs[0]["data"][0]["node"]["label"]
    assert nodes[0] == "<b>20</b> conversations"          # the sample's 20 conversations
    assert any("· paper 59%" in n for n in nodes)          # turn 2 deepen, published
    assert chart_titles(at)[1].startswith("Relationship of each user turn")
    assert "offline approximation" in texts(at)


def test_turns_page_follows_the_filters_and_says_when_empty(built_db, monkeypatch):
    at = open_app(built_db, monkeypatch, "turns", model="Gemini 3 Flash Preview")
    nodes = chart_specs(at)[0]["data"][0]["node"]["label"]
    assert nodes[0].endswith("conversations") and nodes[0] != "<b>20</b> conversations"
    import duckdb
    with duckdb.connect(str(built_db), read_only=True) as con:
        other = con.execute("SELECT model_provider FROM conversations WHERE model_name <> ? "
                            "AND model_provider <> 'Google' LIMIT 1",
                            ["Gemini 3 Flash Preview"]).fetchall()[0][0]
    empty = open_app(built_db, monkeypatch, "turns", model="Gemini 3 Flash Preview",
                     provider=other)
    assert any("No conversations match" in i.value for i in empty.info)


def test_turns_page_without_the_stage_says_what_to_run(sample_path, tmp_path, monkeypatch):
    from precompute import pipeline
    from precompute.config import Settings

    db = tmp_path / "ingest.duckdb"
    pipeline.build(Settings(source=str(sample_path), db=db, progress=False), only=("ingest",),
                   log=lambda _: None)
    at = open_app(db, monkeypatch, "turns")
    assert "relationships stage" in texts(at)
    assert not at.get("plotly_chart")
