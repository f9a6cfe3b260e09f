"""The sequence filter ("a thought X, later a thought Y"; URL ``seq=X>Y``) on a corpus built
for it, through all three places that implement its rule: the SQL of `Filters.where`, the
sidebar's option counts (`core.sequence_counts`) and the transcript's marks
(`conversations.sequence_matches`).

"Later" means a later message, or the same message and a later thought on it; X then X
needs two distinct thoughts in that order. The corpus is built so that a filter matching
only adjacent (or same-message) thoughts, or one letting a thought follow itself, gives
a different set of conversations: X and Y several messages apart with other thoughts
between, across a user -> assistant message, in one message in both orders, X then X with
one X and with two (on two messages and on one), and label groups on either side.
"""

from __future__ import annotations

import duckdb
import pytest

from components.filters import Filters, seq_labels, strict_filters
from components.queries import conversations as browse
from components.queries import core
from precompute import pipeline
from precompute.config import Settings
from tests.corpus import conversation, top_model, write_jsonl

# reasons (user messages)
TM, TC, CE, SE, SO = ("task_motivation", "task_continuation", "content_expectation",
                      "style_expectation", "social_and_others")
# reactions (assistant messages); CR, PS, SF are the dissatisfaction group
EA, PSAT, CR, PS, SF = ("explicit_affirmation", "partial_satisfaction", "content_relevance",
                        "presentation_style", "scope_fit")

FAR, CROSS, SAME, ONE, TWO, TWIN, DIS = (f"user{i}_task1_conversation1" for i in range(1, 8))
ALL = {FAR, CROSS, SAME, ONE, TWO, TWIN, DIS}


def corpus() -> list[dict]:
    """Seven conversations; messages alternate user / assistant from turn 1."""
    return [
        # TM on turn 1, SF on turn 6: five messages apart, four thoughts between
        conversation(FAR, [("plan my week", [TM]), ("a plan", [EA]), ("add sport", [TC]),
                           ("with sport", [EA]), ("thanks", [SO]), ("a long essay", [SF])]),
        # a reason, then a reaction on the very next (assistant) message
        conversation(CROSS, [("make it short", [SE]), ("far too long", [SF])]),
        # one message, two thoughts: TC first, CE second
        conversation(SAME, [("go on, in depth", [TC, CE]), ("more", [])]),
        # one SO only
        conversation(ONE, [("hello", [SO]), ("hi", [EA])]),
        # SO on turn 1 and again on turn 3
        conversation(TWO, [("hello", [SO]), ("hi", [PSAT]), ("thanks", [SO]), ("bye", [])]),
        # two CE on one message
        conversation(TWIN, [("details, and more details", [CE, CE]), ("ok", [])]),
        # two different dissatisfactions (turns 2 and 4) with a reason between
        conversation(DIS, [("a question", [TM]), ("off topic", [CR]), ("be precise", [CE]),
                           ("rude", [PS])]),
    ]


#: seq -> the conversations it selects, counted by hand from `corpus`.
EXPECTED: dict[str, set[str]] = {
    f"{TM}>{SF}": {FAR},                    # five messages apart (DIS has TM but no SF)
    f"{EA}>{SO}": {FAR},                    # turn 2 -> turn 5, TC and EA between (ONE: SO first)
    f"{SE}>{SF}": {CROSS},                  # user -> assistant
    f"{SF}>{SE}": set(),                    # the other way round
    f"{TC}>{CE}": {SAME},                   # same message, in order
    f"{CE}>{TC}": set(),                    # same message, out of order
    f"{SO}>{SO}": {TWO},                    # FAR and ONE have one SO each
    f"{CE}>{CE}": {TWIN},                   # SAME and DIS have one CE each
    f"{EA}>{EA}": {FAR},                    # ONE has one EA
    "@dissatisfaction>@dissatisfaction": {DIS},     # FAR and CROSS have one SF each
    "@reason>@dissatisfaction": {FAR, CROSS, DIS},
    "@dissatisfaction>@reason": {DIS},      # CR (turn 2) -> CE (turn 3)
    f"{TM}>@dissatisfaction": {FAR, DIS},
    "@reaction>@reason": {FAR, TWO, DIS},   # EA -> TC/SO, PSAT -> SO, CR -> CE
    "@reaction>@reaction": {FAR, DIS},      # ONE, TWO and CROSS have one reaction each
    "@reason>@reason": {FAR, SAME, TWO, TWIN, DIS},     # CROSS and ONE: one reason each
}


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    d = tmp_path_factory.mktemp("sequence_filter")
    db = d / "seq.duckdb"
    pipeline.build(Settings(source=str(write_jsonl(d / "seq.jsonl", corpus())), db=db,
                            progress=False), only=("ingest",), log=lambda _: None)
    c = duckdb.connect(str(db), read_only=True)
    yield c
    c.close()


def _selected(con, filters: Filters) -> set[str]:
    where, params = filters.where("c")
    return {r[0] for r in con.execute(f"SELECT conv_id FROM conversations c WHERE {where}",
                                      params).fetchall()}


def test_the_corpus_is_as_counted(con):
    """The thoughts stored are the ones the hand counts assume: 21 in all, in order."""
    rows = con.execute("SELECT conv_id, turn, idx, label FROM thoughts "
                       "ORDER BY conv_id, turn, idx").fetchall()
    assert len(rows) == 21  # 6 + 2 + 2 + 2 + 3 + 2 + 4
    got = {}
    for conv, turn, idx, label in rows:
        got.setdefault(conv, []).append((turn, idx, label))
    assert got[FAR] == [(1, 0, TM), (2, 0, EA), (3, 0, TC), (4, 0, EA), (5, 0, SO),
                        (6, 0, SF)]
    assert got[SAME] == [(1, 0, TC), (1, 1, CE)]
    assert got[TWIN] == [(1, 0, CE), (1, 1, CE)]


@pytest.mark.parametrize("seq", list(EXPECTED))
def test_the_filter_selects_the_hand_counted_conversations(con, seq):
    filters = strict_filters({"seq": seq}, core.facet_options(con))
    assert (filters.seq_first, filters.seq_then) == tuple(seq.split(">"))
    assert _selected(con, filters) == EXPECTED[seq]
    assert core.count_conversations(con, filters) == len(EXPECTED[seq])
    assert set(browse.matches(con, filters)["ids"]) == EXPECTED[seq]


@pytest.mark.parametrize("seq", list(EXPECTED))
def test_the_sidebar_counts_agree(con, seq):
    """Each side's option count is the number of conversations the filter would leave."""
    first, then = seq.split(">")
    counts = core.sequence_counts(con, Filters(), first, then)
    assert counts["then"][then] == len(EXPECTED[seq])
    assert counts["first"][first] == len(EXPECTED[seq])


@pytest.mark.parametrize("seq", list(EXPECTED))
def test_the_transcript_marks_a_match_exactly_where_the_filter_matches(con, seq):
    first, then = seq.split(">")
    marked = set()
    for conv in sorted(ALL):
        ths = browse.transcript_data(con, conv)["thoughts"]
        got = browse.sequence_matches(ths, seq_labels(first), seq_labels(then))
        if got["first_turn"] is not None:
            marked.add(conv)
        else:
            assert got == {"sides": {}, "turns": [], "first_turn": None}, conv
    assert marked == EXPECTED[seq]


def _marks(con, conv, first, then):
    ths = browse.transcript_data(con, conv)["thoughts"]
    by_id = {int(t["thought_id"]): (int(t["turn"]), int(t["idx"])) for t in ths}
    got = browse.sequence_matches(ths, seq_labels(first), seq_labels(then))
    return {by_id[tid]: side for tid, side in got["sides"].items()}, got


def test_marks_name_the_two_ends_of_each_match(con):
    """(turn, idx) -> side, by hand: the start and the end of the matches, not the
    thoughts between; X then X marks the first X as start and the second as end."""
    sides, got = _marks(con, FAR, TM, SF)
    assert sides == {(1, 0): "first", (6, 0): "then"}
    assert got["turns"] == [1, 6] and got["first_turn"] == 1
    sides, got = _marks(con, SAME, TC, CE)
    assert sides == {(1, 0): "first", (1, 1): "then"} and got["turns"] == [1]
    sides, _ = _marks(con, TWO, SO, SO)
    assert sides == {(1, 0): "first", (3, 0): "then"}
    sides, _ = _marks(con, TWIN, CE, CE)
    assert sides == {(1, 0): "first", (1, 1): "then"}
    # EA on turns 2 and 4 are both followed by the SO on turn 5
    sides, got = _marks(con, FAR, EA, SO)
    assert sides == {(2, 0): "first", (4, 0): "first", (5, 0): "then"}
    assert got["first_turn"] == 2
    # FAR's reactions EA (2), EA (4), SF (6): the middle one both ends and starts a match
    sides, _ = _marks(con, FAR, "@reaction", "@reaction")
    assert sides == {(2, 0): "first", (4, 0): "both", (6, 0): "then"}
    # a lone X is no match for X then X
    assert _marks(con, ONE, SO, SO)[0] == {}
    assert _marks(con, SAME, CE, CE)[0] == {}


def test_one_side_alone_counts_conversations_with_that_label(con):
    """With the other side unset, an option counts the conversations holding it."""
    counts = core.sequence_counts(con, Filters(), None, None)
    assert counts["first"][SO] == counts["then"][SO] == 3          # FAR, ONE, TWO
    assert counts["first"][CE] == 3                                 # SAME, TWIN, DIS
    assert counts["first"]["@dissatisfaction"] == 3                 # FAR, CROSS, DIS
    assert counts["then"][PSAT] == 1                                # TWO
    # the other filters narrow the counts: user1 is FAR alone, with one SO
    narrowed = core.sequence_counts(con, Filters(users=("user1",)), SO, None)
    assert narrowed["first"][SO] == 1 and narrowed["then"][SO] == 0


def _counts_by_walking(con, filters: Filters, first, then) -> dict[str, dict[str, int]]:
    """The option counts the slow way: every conversation's thoughts in order, and for
    each option the conversations where the filter it would make selects them."""
    from components.filters import LABEL_GROUPS
    where, params = filters.where("c")
    order: dict[str, list[str]] = {}
    for conv, label in con.execute(
            f"SELECT t.conv_id, t.label FROM thoughts t JOIN conversations c USING (conv_id) "
            f"WHERE {where} ORDER BY t.conv_id, t.turn, t.idx", params).fetchall():
        order.setdefault(conv, []).append(label)
    codes = [r[0] for r in con.execute("SELECT code FROM labels ORDER BY sort_order").fetchall()]

    def holds(labels, a, b):
        if a is None or b is None:
            return any(lab in seq_labels(a or b) for lab in labels)
        return any(x in seq_labels(a) and y in seq_labels(b)
                   for i, x in enumerate(labels) for y in labels[i + 1:])
    options = [*LABEL_GROUPS, *codes]
    return {"first": {o: sum(holds(ls, o, then) for ls in order.values()) for o in options},
            "then": {o: sum(holds(ls, first, o) for ls in order.values()) for o in options}}


def test_every_option_pair_agrees_with_walking_the_thoughts(con, sample_ingest_db):
    """Every (first, then) pair, either side unset or a label or a group, on the hand
    corpus and on the shared sample (unfiltered and narrowed to one model)."""
    from components.filters import LABEL_GROUPS
    sample = duckdb.connect(str(sample_ingest_db), read_only=True)
    try:
        model = top_model(sample_ingest_db)
        for db, filters, every in ((con, Filters(), True), (sample, Filters(), True),
                                   (sample, Filters(models=(model,)), False)):
            codes = [r[0] for r in db.execute("SELECT code FROM labels").fetchall()]
            sides = [None, *LABEL_GROUPS, *(codes if every else codes[:2])]
            for first in sides:
                for then in sides:
                    assert core.sequence_counts(db, filters, first, then) == \
                        _counts_by_walking(db, filters, first, then), (first, then)
        # the sample is not degenerate: a pair with a strict subset of its first side
        some = core.sequence_counts(sample, Filters(), None, "@dissatisfaction")
        alone = core.sequence_counts(sample, Filters(), None, None)
        assert 0 < some["first"]["@reason"] < alone["first"]["@reason"]
    finally:
        sample.close()
