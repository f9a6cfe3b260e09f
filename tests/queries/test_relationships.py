"""Queries of the multi-turn relationship view (components.queries.relationships): shares
over all user turns, the paper's flow Start -> turn 2 -> turn 3 -> horizon, relationship x
reason, availability. A ten-conversation corpus (ingest only) whose relationships the
test sets itself, so every answer is counted by hand; plus the published numbers'
structure."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from components import published
from components.filters import Filters
from components.queries import relationships as qr
from components.vocabulary import NO_REASON
from tests.corpus import conversation, ingest_db, write_jsonl

TM, TC, SO, SE = "task_motivation", "task_continuation", "social_and_others", "style_expectation"

#: conv_id -> (model, relationships of user turns 2, 3, ...); user turn 1 is 'first'.
#: Ten conversations: two end after turn 1, three after turn 2, two after turn 3, three go on
#: (27 user turns: first 10, deepen 9, new_request 3, retry 3, variant 2).
PLAN: dict[str, tuple[str, tuple[str, ...]]] = {
    "u1_task1_conversation1": ("M1", ()),
    "u2_task1_conversation1": ("M1", ()),
    "u3_task1_conversation1": ("M1", ("deepen",)),
    "u4_task1_conversation1": ("M2", ("new_request",)),
    "u5_task1_conversation1": ("M2", ("deepen",)),
    "u6_task1_conversation1": ("M2", ("retry", "deepen")),
    "u7_task1_conversation1": ("M1", ("deepen", "variant")),
    "u8_task1_conversation1": ("M1", ("deepen", "deepen", "deepen")),
    "u9_task1_conversation1": ("M2", ("variant", "new_request", "retry", "deepen")),
    "u10_task1_conversation1": ("M2", ("new_request", "retry", "deepen")),
}


def _records() -> list[dict]:
    recs = []
    for conv_id, (model, rels) in PLAN.items():
        turns = []
        for k in range(1 + len(rels)):
            # reasons: first turn tm; later: tc, plus so on deepen turns of u8, none on u10
            if k == 0:
                labels = [TM]
            elif conv_id == "u8_task1_conversation1" and rels[k - 1] == "deepen":
                labels = [TC, SO]
            elif conv_id == "u10_task1_conversation1":
                labels = []
            elif rels[k - 1] == "variant":
                labels = [SE]
            else:
                labels = [TC]
            turns += [(f"question {k}", labels), (f"answer {k}", [])]
        recs.append(conversation(conv_id, turns, model=model))
    return recs


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """The corpus ingested, relationships set by hand (user turn k = message 2k - 1)."""
    d = tmp_path_factory.mktemp("rel")
    src = write_jsonl(d / "rel.jsonl", _records())
    path = d / "rel.duckdb"
    ingest_db(src, path)
    with duckdb.connect(str(path)) as con:
        for conv_id, (_, rels) in PLAN.items():
            for k, rel in enumerate(("first", *rels), start=1):
                con.execute("UPDATE messages SET relationship = ?, relationship_source = ? "
                            "WHERE conv_id = ? AND turn = ?",
                            [rel, "labels" if conv_id == "u1_task1_conversation1"
                             else "approx", conv_id, 2 * k - 1])
    return path


@pytest.fixture
def con(db):
    c = duckdb.connect(str(db), read_only=True)
    yield c
    c.close()


def _flow(df: pl.DataFrame) -> dict[tuple[str, str], int]:
    return {(s, c): n for s, c, n in df.select("step", "category", "n").iter_rows()}


# =========================================================================== shares


def test_shares_over_all_user_turns(con):
    out = qr.relationship_shares(con, Filters())
    assert out["relationship"].to_list() == ["first", "deepen", "new_request", "retry",
                                             "variant"]
    # 10 first + 17 later turns: deepen 9, new 3, retry 3, variant 2
    assert out["n"].to_list() == [10, 9, 3, 3, 2]
    assert set(out["n_total"]) == {27}
    assert out["share"].to_list() == pytest.approx([10 / 27, 9 / 27, 3 / 27, 3 / 27, 2 / 27])
    assert out["published_share"].to_list() == [0.252, 0.570, 0.125, 0.029, 0.023]
    assert out["display_name"][1] == "Deepen (extend)"


def test_shares_follow_the_filters(con):
    out = qr.relationship_shares(con, Filters(models=("M1",)))
    # M1: u1, u2, u3, u7, u8 -> first 5, deepen 1 + 1 + 3 = 5, variant 1
    assert out["n"].to_list() == [5, 5, 0, 0, 1]
    assert out["share"][2] == 0
    none = qr.relationship_shares(con, Filters(models=("x' OR 1=1 --",)))
    assert none["n"].sum() == 0 and none["share"].is_null().all()


def test_unfilled_user_messages_are_not_counted(db, tmp_path):
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(db.read_bytes())
    with duckdb.connect(str(copy)) as c:
        c.execute("UPDATE messages SET relationship = NULL WHERE conv_id = "
                  "'u9_task1_conversation1'")
        out = qr.relationship_shares(c, Filters())
        assert out["n_total"][0] == 22 and out["n"].to_list() == [9, 8, 2, 2, 1]
        flow = _flow(qr.relationship_flow(c, Filters()))
        assert flow[("turn_2", "unlabelled")] == 1 and flow[("turn_3", "unlabelled")] == 1
        assert not qr.availability(c)["relationships"]


# =========================================================================== flow


def test_flow_by_hand(con):
    out = qr.relationship_flow(con, Filters())
    assert out.columns == list(qr.FLOW_SCHEMA)
    assert set(out["n_started"]) == {10}
    flow = _flow(out)
    # turn 2 over the 8 conversations that reached it, 2 ended after turn 1
    assert [flow[("turn_2", c)] for c in ("deepen", "new_request", "retry", "variant",
                                          "ended_after_1")] == [4, 2, 1, 1, 2]
    # turn 3 over the 5 that reached it, 3 ended after turn 2, the 2 carried
    assert [flow[("turn_3", c)] for c in ("deepen", "new_request", "retry", "variant",
                                          "ended_after_2", "ended_after_1")] == [2, 1, 1, 1,
                                                                                 3, 2]
    assert [flow[("horizon", c)] for c in ("four_plus", "ended_after_3", "ended_after_2",
                                           "ended_after_1")] == [3, 2, 3, 2]
    for step in qr.FLOW_STEPS:
        part = out.filter(pl.col("step") == step)
        assert part["n"].sum() == 10 and part["share"].sum() == pytest.approx(1)
    carried = out.filter(pl.col("carried")).select("step", "category").rows()
    assert carried == [("turn_3", "ended_after_1"), ("horizon", "ended_after_2"),
                       ("horizon", "ended_after_1")]
    row = out.filter((pl.col("step") == "turn_2") & (pl.col("category") == "new_request"))
    assert row["share"][0] == pytest.approx(0.2) and row["published_share"][0] == 0.24
    assert row["step_label"][0] == "User turn 2" and row["category_label"][0] == "New request"


def test_flow_follows_the_filters(con):
    flow = _flow(qr.relationship_flow(con, Filters(models=("M2",))))
    # M2: u4 (2 turns), u5 (2), u6 (3), u9 (5), u10 (4)
    assert [flow[("turn_2", c)] for c in ("deepen", "new_request", "retry", "variant",
                                          "ended_after_1")] == [1, 2, 1, 1, 0]
    assert flow[("turn_3", "deepen")] == 1 and flow[("turn_3", "new_request")] == 1
    assert flow[("turn_3", "retry")] == 1 and flow[("turn_3", "ended_after_2")] == 2
    assert flow[("horizon", "four_plus")] == 2 and flow[("horizon", "ended_after_3")] == 1


def test_flow_of_nothing():
    rows = qr.flow_counts([], [], [])
    assert all(r["n"] == 0 and r["share"] is None for r in rows)


def test_published_flow_has_the_structure_the_query_produces(con):
    out = qr.relationship_flow(con, Filters())
    for step, shares in published.RELATIONSHIP_FLOW.items():
        # each published step adds up to 100% of the conversations that started (+-2
        # points of rounding): turn 3 = 13% + 16% + 60 + 7 + 3 + 2 = 101%
        assert 0.99 <= sum(shares.values()) <= 1.02, step
        cats = out.filter(pl.col("step") == step)["category"].to_list()
        assert cats == list(shares), step
    assert sum(published.RELATIONSHIP_SHARES.values()) == pytest.approx(0.999)  # rounded
    ended = published.RELATIONSHIP_FLOW
    assert ended["turn_3"]["ended_after_1"] == ended["turn_2"]["ended_after_1"]
    assert ended["horizon"]["ended_after_2"] == ended["turn_3"]["ended_after_2"]


# =========================================================================== by reason


def test_relationship_by_reason(con):
    out = qr.relationship_by_reason(con, Filters())
    assert out.height == 5 * 8
    cell = {(r, s): (n, share) for r, s, n, share in
            out.select("relationship", "reason", "n", "row_share").iter_rows()}
    assert cell[("first", TM)] == (10, 1.0)
    # deepen: 9 messages; u8's three carry tc + so, u10's one has none, five carry tc
    assert cell[("deepen", TC)][0] == 3 + 5 and cell[("deepen", SO)][0] == 3
    assert cell[("deepen", NO_REASON)][0] == 1
    deepen = out.filter(pl.col("relationship") == "deepen")
    assert set(deepen["row_total"]) == {12} and set(deepen["n_messages"]) == {9}
    assert deepen["row_share"].sum() == pytest.approx(1)
    assert cell[("deepen", SO)][1] == pytest.approx(3 / 12)
    so = deepen.filter(pl.col("reason") == SO)
    assert so["message_share"][0] == pytest.approx(3 / 9)
    # variants carry style expectations; u10's new request and retries have no reason
    assert cell[("variant", SE)] == (2, 1.0)
    assert cell[("new_request", NO_REASON)][0] == 1 and cell[("new_request", TC)][0] == 2
    assert cell[("retry", NO_REASON)][0] == 1 and cell[("retry", TC)][0] == 2


def test_by_reason_filtered_and_empty_rows(con):
    out = qr.relationship_by_reason(con, Filters(models=("M1",)))
    retry = out.filter(pl.col("relationship") == "retry")
    assert retry["n"].sum() == 0 and retry["row_share"].is_null().all()


# =========================================================================== availability


def test_availability(db, tmp_path):
    with duckdb.connect(str(db), read_only=True) as c:
        assert qr.availability(c) == {"columns": True, "relationships": True,
                                      "labels": True, "approx": True}
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(db.read_bytes())
    with duckdb.connect(str(copy)) as c:
        c.execute("UPDATE messages SET relationship = NULL, relationship_source = NULL")
        assert qr.availability(c) == {"columns": True, "relationships": False,
                                      "labels": False, "approx": False}
        c.execute("ALTER TABLE messages DROP COLUMN relationship")
        assert qr.availability(c)["columns"] is False


# =========================================================================== paths


def test_path_links_by_hand(con):
    """The flow figure's links, counted from PLAN: 10 start; turn 2 as in test_flow_by_hand;
    e.g. the 4 that deepen at turn 2: u5 ends after 2, u7 varies, u8 deepens, u3 ends."""
    links = qr.relationship_paths(con, Filters())
    got = {(a, ca, b, cb): n for a, ca, b, cb, n in links.iter_rows()}
    start = {cb: n for (a, _, b, cb), n in got.items() if a == "start"}
    assert start == {"deepen": 4, "new_request": 2, "retry": 1, "variant": 1,
                     "ended_after_1": 2}
    from_deepen = {cb: n for (a, ca, b, cb), n in got.items()
                   if a == "turn_2" and ca == "deepen"}
    assert from_deepen == {"ended_after_2": 2, "variant": 1, "deepen": 1}
    assert got[("turn_2", "ended_after_1", "turn_3", "ended_after_1")] == 2
    assert got[("turn_3", "ended_after_1", "horizon", "ended_after_1")] == 2
    horizon: dict[str, int] = {}
    for (_, _, b, cb), n in got.items():
        if b == "horizon":
            horizon[cb] = horizon.get(cb, 0) + n
    assert horizon == {"four_plus": 3, "ended_after_3": 2, "ended_after_2": 3,
                       "ended_after_1": 2}
    # every step's links carry all 10 started conversations
    for step in ("start", "turn_2", "turn_3"):
        assert links.filter(pl.col("step_a") == step)["n"].sum() == 10
    assert qr.path_links([], [], []).is_empty()
