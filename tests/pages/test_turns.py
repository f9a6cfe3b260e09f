"""AppTest of the Turn by turn page (views/turns.py): the relationship flow, the shares
beside the paper and relationship x reason on a fully built small DB; what follows a
dissatisfaction (flow, voicing threshold, unvoiced shares, the ratio beside the paper,
the examples with links) and the timing, with their widgets; the page asks for the
stage on a DB without relationships; an empty subset says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apptest import chart_specs, chart_titles, open_app, texts


@pytest.fixture(scope="module")
def built_db(analysed_db) -> Path:
    return analysed_db


def test_turns_page_draws_the_flow_beside_the_paper(built_db, monkeypatch):
    at = open_app(built_db, monkeypatch, "turns")
    assert at.title[0].value == "Turn by turn"
    specs = chart_specs(at)
    assert [s["data"][0]["type"] for s in specs][:3] == ["sankey", "bar", "heatmap"]
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


def test_turns_page_without_the_stage_says_what_to_run(sample_ingest_db, monkeypatch):
    at = open_app(sample_ingest_db, monkeypatch, "turns")
    assert "relationships stage" in texts(at)
    assert not at.get("plotly_chart")


CHARTS = ["sankey", "bar", "heatmap", "sankey", "bar", "scatter", "scatter", "scatter"]


def test_turns_page_follows_each_dissatisfaction(built_db, monkeypatch):
    import duckdb

    with duckdb.connect(str(built_db), read_only=True) as con:
        n = con.execute("SELECT count(*) FROM thoughts WHERE label IN ('content_relevance', "
                        "'presentation_style', 'scope_fit')").fetchall()[0][0]
    at = open_app(built_db, monkeypatch, "turns")
    specs = chart_specs(at)
    assert [s["data"][0]["type"] for s in specs] == CHARTS
    flow = specs[3]["data"][0]["node"]["label"]
    assert sum(int(lab.split(" · ")[1].split(" ")[0]) for lab in flow[:3]) == n
    titles = chart_titles(at)
    assert titles[4].startswith("Does the next message say what the reaction says?")
    assert titles[5].startswith("Unvoiced dissatisfaction by stage")
    assert titles[6].startswith("Dissatisfaction in thoughts ÷")
    assert titles[7].startswith("Assistant response → next user message")
    assert "τ = " in texts(at) and "~2.2× fewer" in texts(at)
    table = at.dataframe[0].value
    assert len(table) == n
    assert table["open"].str.contains(r"^browser\?conv=.+&turn=\d+#turn-\d+$").all()
    assert set(table["voiced?"]) <= {"voiced", "unvoiced", "ended"}


def test_turns_page_widgets_change_the_figures(built_db, monkeypatch):
    at = open_app(built_db, monkeypatch, "turns")
    at.radio(key="ns_by").set_value("model").run()
    at.radio(key="ns_measure").set_value("similar").run()
    at.radio(key="ns_timing").set_value("reason").run()
    at.selectbox(key="ns_ex_status").set_value("ended").run()
    titles = chart_titles(at)
    assert titles[5].startswith("Unvoiced dissatisfaction by model")
    assert "similar to the reaction (cosine ≥ τ)" in titles[5]
    assert titles[7].startswith("User message → its reason")
    assert "by when the reason was written" in str(chart_specs(at)[7]["layout"])
    table = at.dataframe[0].value
    assert len(table) and set(table["voiced?"]) == {"ended"}
    at.toggle(key="ns_ends").set_value(False).run()
    assert "left out" in chart_titles(at)[6]
    assert not at.exception


def test_turns_page_next_steps_follow_the_filters(built_db, monkeypatch):
    import duckdb

    with duckdb.connect(str(built_db), read_only=True) as con:
        model, n = con.execute(
            "SELECT c.model_name, count(*) FROM thoughts t JOIN conversations c USING "
            "(conv_id) WHERE t.label IN ('content_relevance', 'presentation_style', "
            "'scope_fit') GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1").fetchall()[0]
    at = open_app(built_db, monkeypatch, "turns", model=model)
    assert len(at.dataframe[0].value) == n
    assert f"{n} dissatisfaction reaction" in chart_titles(at)[3]
    assert all(f"model={model.replace(' ', '+')}" in link
               for link in at.dataframe[0].value["open"])
