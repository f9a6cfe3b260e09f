"""The Conversations list grouped by participant (`components.queries.conversations`
``matches(..., group="user")``, `participant_cells`, `list_view`): participants by their
number of matching conversations, then id; each one's conversations in the chosen sort;
the count and the profile link per row — on the tiny three-user corpus, by hand."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest

from components.filters import Filters
from components.queries import conversations as browse
from tests.queries.test_participant import build_participants


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    db = build_participants(tmp_path_factory.mktemp("grouped"))
    c = duckdb.connect(str(db), read_only=True)
    yield c
    c.close()


def c(user: int, task: int) -> str:
    return f"user{user}_task{task}_conversation1"


def test_grouped_by_user_most_conversations_first(con):
    """user30 has 3 conversations, user10 2, user20 1. By messages, descending: user30's
    4-message one, then its two 2-message ones (ties by id, descending as the sort)."""
    listing = browse.matches(con, Filters(), "", "messages", True, "user")
    assert listing["ids"] == (c(30, 2), c(30, 3), c(30, 1), c(10, 1), c(10, 2), c(20, 1))
    assert listing["users"] == ("user30",) * 3 + ("user10",) * 2 + ("user20",)
    assert listing["user_n"] == (3, 3, 3, 2, 2, 1)
    by_id = browse.matches(con, Filters(), "", "id", False, "user")["ids"]
    assert by_id == (c(30, 1), c(30, 2), c(30, 3), c(10, 1), c(10, 2), c(20, 1))


def test_ungrouped_and_unknown_groups_keep_the_sort(con):
    plain = browse.matches(con, Filters(), "", "id", False)
    assert plain["ids"] == tuple(sorted(plain["ids"]))
    assert browse.matches(con, Filters(), "", "id", False, "no; DROP TABLE x")["ids"] == \
        plain["ids"]
    # the per-row user and count are there without grouping too
    assert dict(zip(plain["users"], plain["user_n"])) == {"user10": 2, "user20": 1,
                                                          "user30": 3}


def test_counts_are_of_the_matching_conversations(con):
    """Under a filter or a keyword a participant counts only their conversations in the
    list: with GPT-5.4, user10 (2) before user20 (1); with the keyword "ok", user30's two
    conversations containing it."""
    gpt = browse.matches(con, Filters(models=("GPT-5.4",)), "", "id", False, "user")
    assert gpt["ids"] == (c(10, 1), c(10, 2), c(20, 1)) and gpt["user_n"] == (2, 2, 1)
    ok = browse.matches(con, Filters(), "ok", "hits", True, "user")
    assert set(ok["ids"]) == {c(30, 1), c(30, 2)} and ok["user_n"] == (2, 2)
    assert ok["hits"] is not None and len(ok["hits"]) == 2


def test_the_grouped_view_has_the_participant_columns(con):
    listing = browse.matches(con, Filters(), "", "id", False, "user")
    ids = listing["ids"][:4]
    cells = browse.participant_cells(listing["users"][:4], listing["user_n"][:4],
                                     {"model": ["GPT-5.4"], "conv": ["x"], "group": ["user"]})
    view = browse.list_view(browse.rows_for(con, ids), None, cells)
    assert view.columns[:3] == ["participant", "their matches", "conversation"]
    assert view["conversation"].to_list() == list(ids)
    assert view["their matches"].to_list() == [3, 3, 3, 2]
    link = view["participant"][3]
    parts = urlsplit(link)
    assert parts.path == "demographics"   # the Participants page
    query = parse_qs(parts.query)
    assert query == {"model": ["GPT-5.4"], "view": ["One participant"], "pid": ["user10"]}
    # ungrouped: the columns as before
    assert browse.list_view(browse.rows_for(con, ids)).columns[0] == "conversation"
