"""Queries of the Conversations page (`components.queries.conversations`): the filtered,
sorted, paged list, keyword matches with literal wildcards, previous / next, one
conversation's transcript data and the texts of embedded items.

Also home of the small five-conversation corpus the other Conversations tests
(search, export, the page) build on: `small_corpus`, `ALL` and `build_small`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from components.filters import Filters, seq_labels, strict_filters
from components.queries import conversations as browse
from components.queries import core
from precompute import pipeline
from precompute.config import Settings
from tests.corpus import conversation, write_jsonl

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(1)>"


def _survey(age="31", gender="Female", education="Graduate", occupation="Teacher",
            frequency="4") -> list[dict]:
    return [{"age": age, "gender": gender, "education": education, "occupation": occupation,
             "frequency": frequency, "purposes": "work"}]


def small_corpus() -> list[dict]:
    """Five conversations with known facets, labels, sequences and texts."""
    return [
        conversation("user1_task1_conversation1", [
            ("How do I bake sourdough bread at home?", ["task_motivation"]),
            ("Here is a recipe for sourdough.", ["explicit_affirmation"]),
            ("Make it shorter please, the answer was far too long", ["style_expectation"]),
            ("Shorter recipe.", ["scope_fit"]),
        ], model="GPT-5.4", provider="OpenAI", survey=_survey()),
        conversation("user2_task1_conversation1", [
            ("Plan a trip to Lisbon for me", ["task_motivation"]),
            ("A three day plan for Lisbon.", ["content_relevance"]),
        ], model="Claude Opus 4.6", provider="Anthropic",
            survey=_survey(age="52", gender="Male", education="High school", frequency="2")),
        conversation("user3_task1_conversation1", [
            ("Explain quantum tunnelling simply", ["task_motivation"]),
            ("Quantum tunnelling is when particles pass barriers.", ["scope_fit"]),
            ("Thanks, that helps", ["social_and_others"]),
            ("You are welcome.", []),
            ("One more question about electrons", ["task_continuation"]),
            ("Electrons tunnel too.", ["explicit_affirmation"]),
        ], model="Claude Opus 4.6", provider="Anthropic", survey=[]),
        conversation("user4_task1_conversation1", [
            ("Show me this HTML: " + HOSTILE, ["task_motivation"]),
            ("Here it is: " + HOSTILE, ["presentation_style"]),
        ], model="Gemini 3 Flash Preview", provider="Google",
            survey=_survey(age="366", gender="Female", education="Graduate", frequency="5")),
        conversation("user5_task1_conversation1", [
            ("Write a poem about the sea 100% original_work", ["task_motivation"]),
            ("The sea is wide and blue.", ["explicit_affirmation"]),
            ("Now in German", ["task_continuation"]),
            ("Das Meer ist weit.", ["explicit_affirmation"]),
            ("Thank you", ["social_and_others"]),
            ("Gern geschehen.", ["explicit_affirmation"]),
            ("Bye", []),
            ("Goodbye.", []),
        ], model="GPT-5.4", provider="OpenAI",
            survey=_survey(age="24", gender="Male", education="Undergraduate", frequency="5")),
    ]


ALL = {f"user{i}_task1_conversation1" for i in range(1, 6)}


def build_small(directory: Path, *, embed: bool = False, name: str = "small") -> Path:
    """`small_corpus` through the real pipeline into ``directory/<name>.duckdb``: ingest,
    and with ``embed`` the embed stage too (with the fake `HashingEmbedder`)."""
    from tests.corpus import HashingEmbedder

    src = write_jsonl(directory / f"{name}.jsonl", small_corpus())
    db = directory / f"{name}.duckdb"
    stages = ("ingest", "embed") if embed else ("ingest",)
    kwargs = {"embedder": HashingEmbedder()} if embed else {}
    pipeline.build(Settings(source=str(src), db=db, progress=False), only=stages,
                   log=lambda _: None, **kwargs)
    return db


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    db = build_small(tmp_path_factory.mktemp("conversations_queries"))
    c = duckdb.connect(str(db), read_only=True)
    yield c
    c.close()


# ------------------------------------------------------------------ the list


#: Each URL filter on the small corpus and the conversations it leaves, counted by hand
#: (also run through the page: tests/pages/test_conversations.py).
FILTER_CASES = [
    ({}, ALL),
    ({"model": "Claude Opus 4.6"}, {"user2_task1_conversation1", "user3_task1_conversation1"}),
    ({"provider": "OpenAI"}, {"user1_task1_conversation1", "user5_task1_conversation1"}),
    ({"msgs": "4-6"}, {"user1_task1_conversation1", "user3_task1_conversation1"}),
    ({"label": "scope_fit"}, {"user1_task1_conversation1", "user3_task1_conversation1"}),
    ({"seq": "scope_fit>social_and_others"}, {"user3_task1_conversation1"}),
    ({"seq": "social_and_others>scope_fit"}, set()),
    ({"gender": "Male"}, {"user2_task1_conversation1", "user5_task1_conversation1"}),
    ({"gender": "(missing)"}, {"user3_task1_conversation1"}),
    ({"age": "(missing)"}, {"user3_task1_conversation1", "user4_task1_conversation1"}),
    ({"age": "45-54"}, {"user2_task1_conversation1"}),
    ({"edu": "Graduate"}, {"user1_task1_conversation1", "user4_task1_conversation1"}),
    ({"freq": "5"}, {"user4_task1_conversation1", "user5_task1_conversation1"}),
]


@pytest.mark.parametrize("params, expected", FILTER_CASES)
def test_each_filter_narrows_the_list(con, params, expected):
    filters = strict_filters(params, core.facet_options(con))
    listing = browse.matches(con, filters)
    assert set(listing["ids"]) == expected
    assert listing["hits"] is None and listing["n_hits"] == 0
    assert browse.count_matches(con, filters) == (len(expected), 0)
    assert set(browse.conv_ids(con, filters)) == expected


def test_sorting_and_paging(con):
    by_messages = browse.matches(con, Filters(), "", "messages", True)["ids"]
    assert by_messages[0] == "user5_task1_conversation1"
    # two-message conversations last, ties broken by id in the same direction
    assert by_messages[-2:] == ("user4_task1_conversation1", "user2_task1_conversation1")
    p1 = browse.conversation_page(con, Filters(), "", "id", False, 1, 2)
    p3 = browse.conversation_page(con, Filters(), "", "id", False, 3, 2)
    assert isinstance(p1, pl.DataFrame) and p1.columns == browse.LIST_COLUMNS
    assert p1["conv_id"].to_list() == sorted(ALL)[:2]
    assert p3["conv_id"].to_list() == sorted(ALL)[4:]
    # an unknown sort key falls back to the id (never reaches SQL)
    bad = browse.conversation_page(con, Filters(), "", "1; DROP TABLE x", True, 1, 5)
    assert bad["conv_id"].to_list() == sorted(ALL, reverse=True)
    assert browse.matches(con, Filters(), "", "1; DROP TABLE x", True)["ids"] == \
        tuple(sorted(ALL, reverse=True))


def test_rows_for_keeps_the_order_and_list_view_names_the_columns(con):
    ids = ("user3_task1_conversation1", "user1_task1_conversation1")
    rows = browse.rows_for(con, ids)
    assert rows["conv_id"].to_list() == list(ids)
    view = browse.list_view(rows)
    assert view.columns == ["conversation", "task summary", "model", "domain / subtopic",
                            "messages", "thoughts", "dissatisfied"]
    assert view["messages"].to_list() == [6, 4]
    assert view["domain / subtopic"].to_list() == ["—", "—"]  # no topics stage
    with_hits = browse.list_view(rows, (1, 2))
    assert with_hits.columns[-1] == "hits" and with_hits["hits"].to_list() == [1, 2]


def test_keyword_counts_the_message_and_its_reason(con):
    listing = browse.matches(con, Filters(), "FAR TOO long")
    assert listing["ids"] == ("user1_task1_conversation1",)
    assert listing["hits"] == (2,) and listing["n_hits"] == 2  # the message and its reason
    page = browse.conversation_page(con, Filters(), "FAR TOO long")
    assert page["hits"].to_list() == [2]
    assert browse.count_matches(con, Filters(), "zzz-nothing") == (0, 0)


def test_keyword_wildcards_are_literal(con):
    assert browse.count_matches(con, Filters(), "100%")[0] == 1
    assert browse.count_matches(con, Filters(), "original_work")[0] == 1
    assert browse.count_matches(con, Filters(), "%")[0] == 1
    assert browse.count_matches(con, Filters(), "_")[0] == 1
    assert browse.count_matches(con, Filters(), "o_i")[0] == 0
    assert browse.count_matches(con, Filters(), "\\")[0] == 0
    assert browse.like_pattern("a%b_c\\") == "%a\\%b\\_c\\\\%"


def test_neighbours_walk_the_ordered_list(con):
    ids = browse.matches(con, Filters(providers=("Anthropic",)))["ids"]
    assert ids == ("user2_task1_conversation1", "user3_task1_conversation1")
    assert browse.neighbours(ids, ids[0]) == {"index": 1, "previous": None, "next": ids[1]}
    assert browse.neighbours(ids, ids[1]) == {"index": 2, "previous": ids[0], "next": None}
    # outside the list: no position, "next" is the first of the list
    assert browse.neighbours(ids, "user5_task1_conversation1") == \
        {"index": None, "previous": None, "next": ids[0]}
    assert browse.neighbours((), "x") == {"index": None, "previous": None, "next": None}


# ------------------------------------------------------------------ one conversation


def test_transcript_data_has_messages_and_thoughts_in_order(con):
    data = browse.transcript_data(con, "user3_task1_conversation1")
    assert data["conv"]["conv_id"] == "user3_task1_conversation1"
    assert data["conv"]["model_name"] == "Claude Opus 4.6" and not data["conv"]["has_survey"]
    assert [m["turn"] for m in data["messages"]] == [1, 2, 3, 4, 5, 6]
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"] * 3
    assert data["messages"][1]["content"] == \
        "Quantum tunnelling is when particles pass barriers."
    assert [(t["turn"], t["label"]) for t in data["thoughts"]] == [
        (1, "task_motivation"), (2, "scope_fit"), (3, "social_and_others"),
        (5, "task_continuation"), (6, "explicit_affirmation")]
    assert [t["kind"] for t in data["thoughts"]] == ["reason", "reaction", "reason",
                                                     "reason", "reaction"]
    assert browse.transcript_data(con, "user999_gone") is None


def test_item_texts_of_messages_and_thoughts(con):
    tid = con.execute("SELECT thought_id FROM thoughts WHERE conv_id = ? AND turn = 2",
                      ["user3_task1_conversation1"]).fetchall()[0][0]
    texts = browse.item_texts(con, ("m:user2_task1_conversation1:1", f"t:{tid}", "t:nope",
                                    "m:user999:1"))
    assert texts.columns == ["item_id", "text", "model_name", "stage"]
    got = dict(zip(texts["item_id"].to_list(), texts["text"].to_list()))
    assert got == {"m:user2_task1_conversation1:1": "Plan a trip to Lisbon for me",
                   f"t:{tid}": "Quantum tunnelling is when particles pass barriers. / thought 0"}


def test_sequence_matches_marks_both_sides_and_the_first_turn():
    """Counted by hand: reasons R (turn 1), X (turn 3) and reactions D (turns 2, 4, 6),
    O (turn 4, after D). "R then D" marks R and every later D; "D then D" marks D2 and D4
    as starts (a later D follows) and D4, D6 as ends; "X then R" never happens."""
    def t(tid, turn, idx, label):
        return {"thought_id": tid, "turn": turn, "idx": idx, "label": label}
    ths = [t(5, 4, 1, "O"), t(1, 1, 0, "R"), t(2, 2, 0, "D"), t(3, 3, 0, "X"),
           t(4, 4, 0, "D"), t(6, 6, 0, "D")]
    got = browse.sequence_matches(ths, ["R"], ["D"])
    assert got == {"sides": {1: "first", 2: "then", 4: "then", 6: "then"},
                   "turns": [1, 2, 4, 6], "first_turn": 1}
    got = browse.sequence_matches(ths, ["D"], ["D"])
    assert got["sides"] == {2: "first", 4: "both", 6: "then"} and got["first_turn"] == 2
    assert browse.sequence_matches(ths, ["X"], ["R"]) == {"sides": {}, "turns": [],
                                                         "first_turn": None}
    # the same turn counts when the second thought comes later in it (idx)
    got = browse.sequence_matches(ths, ["D"], ["O"])
    assert got["sides"] == {4: "first", 2: "first", 5: "then"} and got["first_turn"] == 2
    assert browse.sequence_matches(ths, ["O"], ["D"])["sides"] == {5: "first", 6: "then"}
    # a group on either side
    assert browse.sequence_matches(ths, ["R", "X"], ["O"])["turns"] == [1, 3, 4]


@pytest.fixture(scope="module")
def sample_con(sample_ingest_db):
    c = duckdb.connect(str(sample_ingest_db), read_only=True)
    yield c
    c.close()


@pytest.mark.parametrize("seq", ["@dissatisfaction>@reason", "@reason>@dissatisfaction",
                                 "scope_fit>@reaction", "@reaction>@reaction",
                                 "content_relevance>presentation_style"])
def test_sequence_marks_agree_with_the_filter_on_the_sample(sample_con, seq):
    """A conversation is in the sequence filter exactly when the transcript finds a match
    to mark in it (the real sample, every conversation)."""
    first, then = seq.split(">")
    f = Filters(seq_first=first, seq_then=then)
    where, params = f.where("c")
    in_filter = {r[0] for r in sample_con.execute(
        f"SELECT conv_id FROM conversations c WHERE {where}", params).fetchall()}
    marked = set()
    for (conv_id,) in sample_con.execute("SELECT conv_id FROM conversations").fetchall():
        ths = browse.transcript_data(sample_con, conv_id)["thoughts"]
        got = browse.sequence_matches(ths, seq_labels(f.seq_first), seq_labels(f.seq_then))
        if got["first_turn"] is not None:
            marked.add(conv_id)
            assert got["first_turn"] == got["turns"][0]
    assert marked == in_filter
