"""AppTest of the Participants page (views/participants.py) on the shared sample (ingest
only): six survey charts in the paper's groupings counted by users, the count switch, our
finer groupings one toggle away, the sidebar filter, and the empty state."""

from __future__ import annotations

import pytest

from tests.apptest import assert_clean, chart_titles, open_app


@pytest.fixture(scope="module")
def sample_ingest(sample_ingest_db):
    """The shared sample, ingest only (20 conversations by 17 users)."""
    return sample_ingest_db


def test_participants_page_renders(sample_ingest, monkeypatch):
    at = open_app(sample_ingest, monkeypatch, "participants")
    titles = chart_titles(at)
    assert len(titles) == 6
    assert titles[0].startswith("Age bracket: users (n=17)")   # the paper counts users
    assert {m.label: m.value for m in at.metric}["Users · conversations"] == "17 · 20"
    at.radio(key="pp_count").set_value("both").run()
    assert_clean(at)
    assert chart_titles(at)[1].startswith("Gender: conversations (n=20) and users (n=17)")


def _bars(at, field_title: str) -> list[str]:
    from tests.apptest import chart_specs
    spec = next(s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith(
        field_title))
    return [y.replace("\u200b", "") for y in spec["data"][-1]["y"]]


def test_paper_groupings_and_the_finer_toggle(sample_ingest, monkeypatch):
    """Education in the paper's 4 groups, frequency labelled as the paper does; the toggle
    shows the answers as given."""
    at = open_app(sample_ingest, monkeypatch, "participants")
    education = _bars(at, "Education")
    assert "Undergrad" in education and "Undergraduate" not in education
    assert set(education) <= {"Graduate", "Undergrad", "High school", "Other", "(missing)"}
    assert "5 (Many times a day)" in _bars(at, "AI-use frequency")
    at.toggle(key="pp_finer").set_value(True).run()
    assert_clean(at)
    assert "Undergraduate" in _bars(at, "Education")
    assert "5" in _bars(at, "AI-use frequency")


def test_participants_page_with_filter(sample_ingest, monkeypatch):
    filtered = open_app(sample_ingest, monkeypatch, "participants", model="Grok 4.20")
    assert chart_titles(filtered)[0].startswith("Age bracket: users (n=")


def test_participants_page_empty_state(sample_ingest, monkeypatch):
    at = open_app(sample_ingest, monkeypatch, "participants", model="Grok 4.20",
                  provider="Google")
    assert any("No conversations match" in i.value for i in at.info)
    assert not at.get("plotly_chart")


# --------------------------------------------------------------------------- one participant

def _one(at) -> dict:
    """What the participant tab shows: picker value, URL view / pid, chart titles."""
    from tests.apptest import query_param
    return {"pid": at.selectbox(key="pp_pid").value, "url_pid": query_param(at, "pid"),
            "url_view": query_param(at, "view"), "titles": chart_titles(at)}


def test_tabs_and_the_participant_url_round_trip(sample_ingest, monkeypatch):
    """``?view=One participant&pid=user804`` opens that user (a real user with two
    conversations); picking another writes its id; the Everyone tab drops ``pid`` and
    coming back keeps the pick."""
    at = open_app(sample_ingest, monkeypatch, "participants", view="One participant",
                  pid="user804")
    assert [t.label for t in at.tabs] == ["Everyone", "One participant"]
    shown = _one(at)
    assert shown["pid"] == "user804" and shown["url_pid"] == ["user804"]
    assert shown["url_view"] == ["One participant"]
    assert len(shown["titles"]) == 1 and "user804" in shown["titles"][0]
    convs = next(d.value for d in at.dataframe if "task summary" in d.value.columns)
    assert len(convs) == 2
    assert all("conv=user804_" in link for link in convs["conversation"])
    survey = next(d.value for d in at.dataframe if list(d.value.columns) == ["question",
                                                                            "answer"])
    assert len(survey) == 7
    at.selectbox(key="pp_pid").set_value("user897").run()
    assert_clean(at)
    assert _one(at)["url_pid"] == ["user897"] and "user897" in chart_titles(at)[0]
    # a click on the tab: the browser rewrites the bound ``view`` (AppTest re-sends the URL
    # it was opened with, so the test drops it as the browser would)
    at.session_state["view"] = "Everyone"
    del at.query_params["view"]
    at.run()
    assert_clean(at)
    assert _one_url(at) is None and len(chart_titles(at)) == 6
    at.session_state["view"] = "One participant"
    at.run()
    assert _one(at)["pid"] == "user897" and _one(at)["url_pid"] == ["user897"]


def _one_url(at):
    from tests.apptest import query_param
    return query_param(at, "pid")


def test_the_default_participant(sample_ingest, monkeypatch):
    """Without ``pid``: the sidebar's first user when one is set, else the participant
    with the most conversations (ties by id)."""
    import duckdb

    from components.filters import Filters
    from components.queries import participant as one

    con = duckdb.connect(str(sample_ingest), read_only=True)
    try:
        first = one.participant_options(con, Filters())["users"][0]
    finally:
        con.close()
    at = open_app(sample_ingest, monkeypatch, "participants", view="One participant")
    assert _one(at)["pid"] == first and _one(at)["url_pid"] == [first]
    at = open_app(sample_ingest, monkeypatch, "participants", view="One participant",
                  user="user897")
    assert _one(at)["pid"] == "user897"
    blank = open_app(sample_ingest, monkeypatch, "participants", view="One participant",
                     pid="  ")
    assert _one(blank)["pid"] == first and _one(blank)["url_pid"] == [first]


def test_the_everyone_tab_keeps_its_settings_across_a_visit(sample_ingest, monkeypatch):
    at = open_app(sample_ingest, monkeypatch, "participants")
    at.radio(key="pp_count").set_value("both").run()
    at.session_state["view"] = "One participant"
    at.run()
    assert_clean(at)
    at.session_state["view"] = "Everyone"
    at.run()
    assert at.radio(key="pp_count").value == "both"
    assert "conversations (n=20) and users (n=17)" in chart_titles(at)[0]


def test_a_stale_pid_is_a_notice(sample_ingest, monkeypatch):
    from tests.apptest import texts

    at = open_app(sample_ingest, monkeypatch, "participants", view="One participant",
                  pid="user99999")
    assert "`user99999` is not in this database" in texts(at)
    assert not at.get("plotly_chart")
    # a real participant, none of whose conversations is under the filters
    at = open_app(sample_ingest, monkeypatch, "participants", view="One participant",
                  pid="user804", model="Grok 4.20")
    text = texts(at)
    assert "has 2 conversations in the database, none of them under the current filters" \
        in text
    assert not at.get("plotly_chart")


def test_show_only_this_participant_everywhere(sample_ingest, monkeypatch):
    at = open_app(sample_ingest, monkeypatch, "participants", view="One participant",
                  pid="user804")
    at.button(key="pp_only").click().run()
    assert_clean(at)
    from tests.apptest import query_param
    assert query_param(at, "user") == ["user804"]
    assert at.sidebar.text_input(key="f_users").value == "user804"
    assert at.button(key="pp_only").disabled
    # the profile still compares with everyone else (the user filter aside)
    assert "user804 excluded" in chart_titles(at)[0]
    assert "of 16 users" in " ".join(a["text"] for a in _annotations(at))


def _annotations(at) -> list[dict]:
    from tests.apptest import chart_specs
    return chart_specs(at)[0]["layout"].get("annotations", [])


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory):
    from tests.queries.test_participant import build_participants
    return build_participants(tmp_path_factory.mktemp("participants_page"))


def test_hostile_text_is_escaped(hostile_db, monkeypatch):
    """HTML in a task summary and a survey answer: shown as text in the tables, never as
    HTML anywhere on the page or in the chart."""
    from tests.apptest import chart_specs, html_elements
    from tests.queries.test_participant import HOSTILE

    at = open_app(hostile_db, monkeypatch, "participants", view="One participant",
                  pid="user10")
    assert not any("<script" in h or "<img" in h for h in html_elements(at))
    assert "<script" not in str(chart_specs(at))
    convs = next(d.value for d in at.dataframe if "task summary" in d.value.columns)
    assert HOSTILE in list(convs["task summary"])           # verbatim, as text
    survey = next(d.value for d in at.dataframe if list(d.value.columns) == ["question",
                                                                            "answer"])
    assert f"Teacher / {HOSTILE}" in list(survey["answer"])
    assert "differ between this participant's conversations" in " ".join(
        c.value for c in at.caption)
