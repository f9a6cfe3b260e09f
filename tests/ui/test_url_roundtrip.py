"""Every sidebar filter the README lists under "Every view is a link" survives the URL round
trip: URL parameters -> `Filters` (`components.filters.from_query_params`) -> URL
(`Filters.to_query_params`) -> the same filters, for each key (domain, subtopic, model,
provider, age, gender, edu, freq, user, label, msgs and thoughts ranges with open ends,
seq with label groups, topics=certain, and the comparison cmp / b.*). Unknown or invalid
values are dropped with the documented notice; in the app, a range outside the data is
clamped to the data's bounds (with a notice) and a lo > hi range is ignored.

And "Opening a copied link reproduces filters, page and open conversation": the link the
sidebar's *Copy link to this view* box holds, opened in a fresh session (a new AppTest),
shows the same count, the same list page and the same open conversation.

Counts are by hand over the six conversations of `tests.queries.test_topic_filtering`
(messages per conversation 2-10, thoughts 2-10; see its `records`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import duckdb
import pytest

from components.filters import (
    Comparison,
    Filters,
    comparison_from_query_params,
    from_query_params,
)
from components.queries import conversations as browse
from components.queries import core
from tests.apptest import PAGE_SCRIPTS, assert_clean, html_elements, open_app, query_param
from tests.queries.test_topic_filtering import (
    C1,
    C2,
    C3,
    C4,
    C5,
    C6,
    CULT,
    EDU,
    FIT,
    HEALTH,
    PROG,
    TECH,
    build_labelled_db,
)

GPT, CLAUDE, GEMINI = "GPT-5.4", "Claude Opus 4.6", "Gemini 3"


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return build_labelled_db(tmp_path_factory.mktemp("url_roundtrip"))


@pytest.fixture(scope="module")
def opts(db) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return core.facet_options(con)
    finally:
        con.close()


def _ids(db: Path, filters: Filters) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return set(browse.conv_ids(con, filters))
    finally:
        con.close()


# ------------------------------------------------------------------ URL -> Filters -> URL

#: (URL parameters in canonical form, the filters they mean, the conversations selected).
CASES = [
    ({"domain": [EDU]}, Filters(domains=(EDU,)), {C2}),
    ({"domain": [TECH, HEALTH]}, Filters(domains=(TECH, HEALTH)), {C1, C3, C4, C5}),
    ({"subtopic": [PROG]}, Filters(subtopics=(PROG,)), {C1, C5}),
    ({"domain": [HEALTH], "subtopic": [FIT]}, Filters(domains=(HEALTH,), subtopics=(FIT,)),
     {C4}),
    ({"model": [GPT]}, Filters(models=(GPT,)), {C1, C3, C6}),
    ({"model": [CLAUDE, GEMINI]}, Filters(models=(CLAUDE, GEMINI)), {C2, C4, C5}),
    ({"provider": ["Google"]}, Filters(providers=("Google",)), {C5}),
    ({"age": ["25-34"]}, Filters(age_brackets=("25-34",)), {C1, C3, C6}),
    ({"age": ["(missing)"]}, Filters(age_brackets=("(missing)",)), {C4}),
    ({"age": ["18-24", "45-54"]}, Filters(age_brackets=("18-24", "45-54")), {C2, C5}),
    ({"gender": ["Male"]}, Filters(genders=("Male",)), {C2}),
    ({"edu": ["Undergraduate"]}, Filters(educations=("Undergraduate",)), {C5}),
    ({"freq": ["5"]}, Filters(ai_frequencies=("5",)), {C2}),
    ({"freq": ["(missing)", "2"]}, Filters(ai_frequencies=("(missing)", "2")), {C4, C5}),
    ({"user": ["user3"]}, Filters(users=("user3",)), {C3, C4}),
    ({"label": ["scope_fit"]}, Filters(labels_any=("scope_fit",)), {C2, C5}),
    ({"label": ["scope_fit", "social_and_others"]},
     Filters(labels_any=("scope_fit", "social_and_others")), {C2, C4, C5, C6}),
    # ranges: closed, open at either end (messages: C1 4, C2 2, C3 6, C4 8, C5 3, C6 10)
    ({"msgs": "4-8"}, Filters(messages_min=4, messages_max=8), {C1, C3, C4}),
    ({"msgs": "6-"}, Filters(messages_min=6), {C3, C4, C6}),
    ({"msgs": "-3"}, Filters(messages_max=3), {C2, C5}),
    ({"msgs": "6-6"}, Filters(messages_min=6, messages_max=6), {C3}),
    # thoughts: C1 4, C2 3, C3 6, C4 6, C5 2, C6 10
    ({"thoughts": "3-6"}, Filters(thoughts_min=3, thoughts_max=6), {C1, C2, C3, C4}),
    ({"thoughts": "-3"}, Filters(thoughts_max=3), {C2, C5}),
    ({"thoughts": "7-"}, Filters(thoughts_min=7), {C6}),
    # sequence: content_relevance, later task_continuation: C1 (2 -> 3), C3 (4 -> 5),
    # C6 (2 -> 7); a dissatisfaction, later a social reason: C4 (PS 4 -> SO 7), C6 (2 -> 9)
    ({"seq": "content_relevance>task_continuation"},
     Filters(seq_first="content_relevance", seq_then="task_continuation"), {C1, C3, C6}),
    ({"seq": "@dissatisfaction>social_and_others"},
     Filters(seq_first="@dissatisfaction", seq_then="social_and_others"), {C4, C6}),
    ({"seq": "context_grounding_and_constraints>content_relevance"},       # C3: 3 -> 4
     Filters(seq_first="context_grounding_and_constraints", seq_then="content_relevance"),
     {C3}),
    ({"seq": "task_continuation>content_relevance"},  # CR comes before TC in C1, C3, C6
     Filters(seq_first="task_continuation", seq_then="content_relevance"), set()),
    # on one message: C2's first message has [TM, CG] (positions 0, 1); C3: TM 1 -> CG 3
    ({"seq": "task_motivation>context_grounding_and_constraints"},
     Filters(seq_first="task_motivation", seq_then="context_grounding_and_constraints"),
     {C2, C3}),
    ({"seq": "context_grounding_and_constraints>task_motivation"},
     Filters(seq_first="context_grounding_and_constraints", seq_then="task_motivation"),
     set()),
    # a thought is not its own "later": every conversation has one task motivation
    ({"seq": "task_motivation>task_motivation"},
     Filters(seq_first="task_motivation", seq_then="task_motivation"), set()),
    ({"seq": "@reaction>@reason"}, Filters(seq_first="@reaction", seq_then="@reason"),
     {C1, C3, C4, C6}),
    ({"topics": "certain"}, Filters(certain_topics=True), {C1, C2, C3, C4, C5, C6}),
    # everything at once: GPT-5.4, Technology, 25-34, 4+ messages, a content relevance
    ({"domain": [TECH], "model": [GPT], "age": ["25-34"], "msgs": "4-",
      "label": ["content_relevance"], "topics": "certain"},
     Filters(domains=(TECH,), models=(GPT,), age_brackets=("25-34",), messages_min=4,
             labels_any=("content_relevance",), certain_topics=True), {C1, C3}),
]


@pytest.mark.parametrize("params, filters, expected", CASES,
                         ids=[str(sorted(p)) + str(i) for i, (p, _, _) in enumerate(CASES)])
def test_each_filter_round_trips_through_the_url(db, opts, params, filters, expected):
    parsed, notices = from_query_params(params, opts)
    assert (parsed, notices) == (filters, [])
    assert filters.to_query_params() == params
    assert from_query_params(filters.to_query_params(), opts) == (filters, [])
    assert _ids(db, filters) == expected


def test_a_single_value_reads_like_a_list_of_one(opts):
    """``st.query_params`` gives one value as a string: the same filters as a list."""
    assert from_query_params({"model": GPT, "label": "scope_fit", "user": "user3"}, opts) == \
        from_query_params({"model": [GPT], "label": ["scope_fit"], "user": ["user3"]}, opts)


def test_repeated_values_are_kept_once_in_order(opts):
    parsed, notices = from_query_params({"model": [GEMINI, GPT, GEMINI]}, opts)
    assert parsed == Filters(models=(GEMINI, GPT)) and notices == []


@pytest.mark.parametrize("params, notice", [
    ({"model": ["Nope"]}, "ignored unknown model 'Nope'"),
    ({"domain": ["<b>x</b>"]}, "ignored unknown domain '<b>x</b>'"),
    ({"freq": ["7"]}, "ignored unknown freq '7'"),
    ({"label": ["happiness"]}, "ignored unknown label 'happiness'"),
    ({"user": ["user999"]}, "ignored unknown user 'user999'"),
    ({"msgs": "9-3"}, "ignored msgs='9-3' (expected a range like 4-20)"),
    ({"msgs": "4"}, "ignored msgs='4' (expected a range like 4-20)"),
    ({"thoughts": "a-b"}, "ignored thoughts='a-b' (expected a range like 4-20)"),
    ({"seq": "task_motivation"}, "ignored seq='task_motivation' (expected LABEL>LABEL"),
    ({"seq": "task_motivation>@nothing"}, "ignored seq='task_motivation>@nothing'"),
    ({"topics": "maybe"}, "ignored topics='maybe' (expected topics=certain)"),
])
def test_an_invalid_value_is_dropped_with_a_notice(opts, params, notice):
    parsed, notices = from_query_params(params, opts)
    assert parsed == Filters()
    assert len(notices) == 1 and notices[0].startswith(notice), notices


def test_a_bad_value_beside_good_ones_keeps_the_good_ones(opts):
    parsed, notices = from_query_params({"model": ["Nope", GPT], "msgs": "9-3",
                                         "thoughts": "3-"}, opts)
    assert parsed == Filters(models=(GPT,), thoughts_min=3)
    assert notices == ["ignored unknown model 'Nope'",
                       "ignored msgs='9-3' (expected a range like 4-20)"]


@pytest.mark.parametrize("comparison", [
    Comparison(),
    Comparison(Filters(models=(CLAUDE,))),
    Comparison(Filters(domains=(CULT,), labels_any=("scope_fit",), age_brackets=("(missing)",))),
])
def test_the_comparison_round_trips_through_the_url(opts, comparison):
    params = comparison.to_query_params()
    assert params["cmp"] == ("rest" if comparison.rest else "subset")
    assert comparison_from_query_params(params, opts) == (comparison, [])


def test_the_comparison_drops_what_b_cannot_take(opts):
    got, notes = comparison_from_query_params(
        {"cmp": "subset", "b.model": [CLAUDE, "Nope"], "b.msgs": "2-3"}, opts)
    assert got == Comparison(Filters(models=(CLAUDE,)))
    assert len(notes) == 2
    assert notes[0].startswith("ignored b.msgs (subset B takes ")
    assert notes[1] == "ignored for B: unknown model 'Nope'"
    assert comparison_from_query_params({"cmp": "sideways"}, opts) == (
        None, ["ignored cmp='sideways' (expected rest or subset)"])


# ------------------------------------------------------------------ in the app

def _matches(at) -> int:
    text = next(m.value for m in at.sidebar.markdown if "match" in m.value)
    return int(text.split("**")[1].replace(",", ""))


def _link_notices(at) -> list[str]:
    return [c.value.split("Link: ", 1)[1] for c in at.sidebar.caption if "Link: " in c.value]


@pytest.mark.parametrize("msgs, notice, url, n", [
    # bounds of the data: 2-10 messages per conversation
    ("0-99", "msgs range clamped to the data's 2–10", None, 6),   # the full range: no filter
    ("5-99", "msgs range clamped to the data's 2–10", ["5-"], 3),  # C3, C4, C6
    ("50-60", "msgs range clamped to the data's 2–10", ["10-"], 1),  # C6
    ("1-3", "msgs range clamped to the data's 2–10", ["-3"], 2),    # C2, C5
    ("9-3", "ignored msgs='9-3' (expected a range like 4-20)", None, 6),
    ("6-", None, ["6-"], 3),
    ("-4", None, ["-4"], 3),                                        # C1, C2, C5
    ("2-10", None, None, 6),                                        # exactly the bounds
])
def test_a_range_in_a_link_is_clamped_to_the_data(db, monkeypatch, msgs, notice, url, n):
    at = open_app(db, monkeypatch, msgs=msgs)
    assert _link_notices(at) == ([notice] if notice else [])
    assert query_param(at, "msgs") == url
    assert _matches(at) == n


def test_a_thoughts_range_in_a_link_is_clamped_too(db, monkeypatch):
    at = open_app(db, monkeypatch, thoughts="0-6")  # data: 2-10 thoughts
    assert _link_notices(at) == ["thoughts range clamped to the data's 2–10"]
    assert query_param(at, "thoughts") == ["-6"]
    assert _matches(at) == 5  # all but C6


def test_unknown_values_in_a_link_are_named_in_the_sidebar(db, monkeypatch):
    at = open_app(db, monkeypatch, model=["Nope", GPT], user="user999", seq="x>y",
                  topics="maybe", cmp="sideways")
    assert _link_notices(at) == [
        "ignored unknown model 'Nope'",
        "ignored seq='x>y' (expected LABEL>LABEL, a label or a group such as "
        "@dissatisfaction on either side)",
        "ignored unknown user 'user999'",
        "ignored topics='maybe' (expected topics=certain)",
        "ignored cmp='sideways' (expected rest or subset)"]
    assert query_param(at, "model") == [GPT] and _matches(at) == 3
    for key in ("user", "seq", "topics", "cmp"):
        assert query_param(at, key) is None, key


def _share_link(at) -> str:
    [link] = [c.value for c in at.sidebar.code if c.value.startswith("?")]
    return link


def _listed(at) -> list[str]:
    frames = [df.value for df in at.dataframe if "conversation" in df.value.columns
              and "task summary" in df.value.columns]
    return list(frames[0]["conversation"]) if frames else []


def test_a_copied_link_opened_in_a_fresh_session_shows_the_same_view(db, monkeypatch):
    monkeypatch.setattr(browse, "PAGE_SIZE", 2)
    url = {"model": [GPT, CLAUDE], "msgs": "4-", "thoughts": "-6", "age": ["25-34", "(missing)"],
           "seq": "@reaction>@reason", "label": ["task_continuation"], "topics": "certain",
           "sort": "-messages", "page": "2", "conv": C3, "turn": "3",
           "cmp": "subset", "b.model": [GEMINI]}
    # GPT or Claude, 4+ messages, at most 6 thoughts, 25-34 or no survey, a reaction then a
    # reason, a task continuation: C1 (4 msgs), C3 (6), C4 (8); by most messages C4, C3, C1;
    # page 2 of 2-row pages: C1
    first = open_app(db, monkeypatch, "conversations", params=url)
    assert _matches(first) == 3 and _listed(first) == [C1]
    assert _link_notices(first) == []
    link = _share_link(first)

    params = parse_qs(link[1:], keep_blank_values=True)
    assert params["page"] == ["2"] and params["conv"] == [C3] and params["b.model"] == [GEMINI]
    fresh = open_app(db, monkeypatch, "conversations", params=params)
    assert _matches(fresh) == 3
    assert _listed(fresh) == [C1]
    assert query_param(fresh, "conv") == [C3] and query_param(fresh, "turn") == ["3"]
    assert any("linked turn" in h for h in html_elements(fresh))
    assert fresh.session_state["comparison"] == Comparison(Filters(models=(GEMINI,)))
    # and the fresh session's own link holds the same view
    assert parse_qs(_share_link(fresh)[1:], keep_blank_values=True) == params


def test_a_link_made_by_the_widgets_reproduces_the_view(db, monkeypatch):
    """Filters set in the sidebar (not from a link) write the URL that a fresh session
    reads back to the same filters."""
    at = open_app(db, monkeypatch, "conversations")
    at.sidebar.multiselect(key="f_domains").set_value([TECH]).run()
    at.sidebar.slider(key="f_thoughts").set_value((2, 4)).run()
    at.sidebar.selectbox(key="f_seq_first").set_value("@dissatisfaction").run()
    at.sidebar.selectbox(key="f_seq_then").set_value("@reaction").run()
    at.sidebar.text_input(key="f_users").set_value("user1, user4, nobody").run()
    assert_clean(at)
    # Technology (C1, C3, C5), at most 4 thoughts (C1, C5), a dissatisfaction then a
    # reaction (C1: CR 2 -> EA 4; C5 has one reaction only), users 1 and 4: C1
    assert _matches(at) == 1 and _listed(at) == [C1]
    link = _share_link(at)
    params = parse_qs(link[1:], keep_blank_values=True)
    assert params == {"domain": [TECH], "thoughts": ["-4"],
                      "seq": ["@dissatisfaction>@reaction"], "user": ["user1", "user4"]}
    fresh = open_app(db, monkeypatch, "conversations", params=params)
    assert _matches(fresh) == 1 and _listed(fresh) == [C1]
    assert fresh.session_state["filters"] == at.session_state["filters"]


def test_the_page_path_of_a_link_is_the_page(db, monkeypatch):
    """AppTest has no browser URL: the link is the query alone; a fresh session opened at
    another page keeps the filters (the path is the page, see components.links)."""
    at = open_app(db, monkeypatch, "conversations", domain=CULT)
    fresh = open_app(db, monkeypatch, params=parse_qs(_share_link(at)[1:]))
    fresh.switch_page(PAGE_SCRIPTS["thoughts"])
    fresh.run()
    assert_clean(fresh)
    assert _matches(fresh) == 1 and query_param(fresh, "domain") == [CULT]
