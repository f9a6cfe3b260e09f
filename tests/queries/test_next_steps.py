"""Queries of "what happens next" (components/queries/next_steps.py) on a tiny corpus built
in code, every answer counted by hand: four dissatisfaction reactions and where they
lead, the voiced measure on an embedder whose cosines we set, the unvoiced shares and
ratios with their user-bootstrap intervals, and the timing gaps with missing, negative,
over-the-cap and out-of-order timestamps.

The corpus (users u1, u2, u3; relationships imported from a label file):

c1 (u1, 6 messages)                          c2 (u2, 4 messages)
 1 user  10:00:00  task_motivation             1 user  11:00:00  task_motivation
 2 asst  10:00:10  R_a content_relevance       2 asst  11:00:05  R_d content_relevance
 3 user  10:01:10  content_expectation, deepen 3 user  12:00:05  style_expectation,
 4 asst  10:01:20  R_b scope_fit                                  task_continuation; retry
 5 user  10:01:50  (no reason), deepen         4 asst  11:59:00  explicit_affirmation
 6 asst  10:02:00  R_c presentation_style (the conversation ends)

c3 (u3, 6 messages): explicit_affirmation on 2 (its reaction is timestamped before the
message), a user message 3 timestamped before the assistant message 2 (a clock problem),
user message 5 without a timestamp, explicit_affirmation on 6 without a timestamp.

Cosines (the embedder maps these texts to set vectors; every other text gets its own
axis): R_a·c1m3 = 0.9, R_b·c1m1 = 0.5, R_c·c1m5 = 0.8, R_d·c2m3 = 0.6, all other pairs 0.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from components import stats
from components.filters import Filters
from components.queries import next_steps as q
from components.vocabulary import END_OF_CONVERSATION, NO_REASON
from tests.corpus import HashingEmbedder, ingest_db, message, record, thought, write_jsonl

DIM = 128


def _unit(*pairs: tuple[int, float]) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    for i, x in pairs:
        v[i] = x
    return v / np.linalg.norm(v)


#: Text -> vector: the similarities the tests count with.
VECTORS = {
    "R_a: the museums are missing": _unit((1, 1.0)),
    "add the museums please": _unit((1, 0.9), (2, math.sqrt(1 - 0.81))),
    "R_b: far too long": _unit((3, 1.0)),
    "plan a trip to rome": _unit((3, 0.5), (4, math.sqrt(0.75))),
    "R_c: too formal": _unit((5, 1.0)),
    "thanks": _unit((5, 0.8), (6, 0.6)),
    "R_d: not about cats": _unit((7, 1.0)),
    "make it about cats": _unit((7, 0.6), (8, 0.8)),
}


class ControlledEmbedder(HashingEmbedder):
    """`VECTORS` for the texts it names; every other text its own axis (from 20 on), so
    any two of them have cosine 0."""

    model_name = "controlled-test-embedder"

    def __init__(self) -> None:
        super().__init__(dim=DIM)
        self.axes: dict[str, int] = {}

    def vector(self, text: str) -> np.ndarray:
        if text in VECTORS:
            return VECTORS[text]
        axis = self.axes.setdefault(text, 20 + len(self.axes) % (DIM - 20))
        return _unit((axis, 1.0))


def _msg(i: int, role: str, text: str, ts: str | None, thoughts=()) -> dict:
    return message(role, text, [thought(lab, c, t) for lab, c, t in thoughts], mid=i, ts=ts)


def _rec(conv_id: str, messages: list[dict], model: str) -> dict:
    return record(conv_id, messages, model=model, provider="P",
                  created="2026-04-01T09:00:00Z", updated="2026-04-01T15:00:00Z",
                  summary=f"task of {conv_id}", expectation="help", survey=[{"age": "30"}])


D = "2026-04-01T"
C1 = "u1_task1_conversation1"
C2 = "u2_task1_conversation1"
C3 = "u3_task1_conversation1"
RECORDS = [
    _rec(C1, [
        _msg(1, "user", "plan a trip to rome", D + "10:00:00Z",
             [("task_motivation", "I want a plan", D + "10:00:05Z")]),
        _msg(2, "assistant", "here is a plan", D + "10:00:10Z",
             [("content_relevance", "R_a: the museums are missing", D + "10:00:40Z")]),
        _msg(3, "user", "add the museums please", D + "10:01:10Z",
             [("content_expectation", "I want museums in it", D + "10:01:15Z")]),
        _msg(4, "assistant", "the plan with museums", D + "10:01:20Z",
             [("scope_fit", "R_b: far too long", D + "10:05:00Z")]),
        _msg(5, "user", "thanks", D + "10:01:50Z"),
        _msg(6, "assistant", "you are welcome", D + "10:02:00Z",
             [("presentation_style", "R_c: too formal", D + "10:02:30Z")]),
    ], "Model A"),
    _rec(C2, [
        _msg(1, "user", "write a poem", D + "11:00:00Z",
             [("task_motivation", "a poem for my friend", D + "11:00:05Z")]),
        _msg(2, "assistant", "a poem about dogs", D + "11:00:05Z",
             [("content_relevance", "R_d: not about cats", D + "14:00:05Z")]),
        _msg(3, "user", "make it about cats", D + "12:00:05Z",
             [("style_expectation", "shorter lines", D + "12:00:10Z"),
              ("task_continuation", "same poem", D + "12:00:10Z")]),
        _msg(4, "assistant", "a poem about cats", D + "11:59:00Z",
             [("explicit_affirmation", "lovely", D + "11:59:30Z")]),
    ], "Model B"),
    _rec(C3, [
        _msg(1, "user", "hello there", D + "09:00:00Z",
             [("social_and_others", "greeting", D + "09:00:05Z")]),
        _msg(2, "assistant", "hi, how can I help", D + "09:00:20Z",
             [("explicit_affirmation", "friendly", D + "09:00:15Z")]),
        _msg(3, "user", "tell me a joke", D + "09:00:10Z",
             [("task_motivation", "I was bored", D + "09:00:15Z")]),
        _msg(4, "assistant", "a joke", D + "09:00:30Z"),
        _msg(5, "user", "another one", None,
             [("task_continuation", "more jokes", D + "09:00:50Z")]),
        _msg(6, "assistant", "another joke", D + "09:01:00Z",
             [("explicit_affirmation", "funny", None)]),
    ], "Model B"),
]
RELATIONSHIPS = [(C1, 1, "first"), (C1, 3, "deepen"), (C1, 5, "deepen"), (C2, 1, "first"),
                 (C2, 3, "retry"), (C3, 1, "first"), (C3, 3, "deepen"), (C3, 5, "deepen")]


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory) -> Path:
    from precompute.config import Settings
    from precompute.pipeline import build

    root = tmp_path_factory.mktemp("next_steps")
    src = write_jsonl(root / "tiny.jsonl", RECORDS)
    labels = root / "relationships.csv"
    with open(labels, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["conv_id", "turn", "relationship"])
        w.writerows(RELATIONSHIPS)
    db = root / "tiny.duckdb"
    build(Settings(source=str(src), db=db, progress=False, relationship_labels=labels),
          only=("ingest", "embed", "relationships"), embedder=ControlledEmbedder(),
          log=lambda _: None)
    return db


@pytest.fixture
def con(tiny_db):
    c = duckdb.connect(str(tiny_db), read_only=True)
    yield c
    c.close()


@pytest.fixture
def few_pairs(monkeypatch):
    """The tiny corpus has 8 "other" pairs: let τ come from them."""
    monkeypatch.setattr(q, "MIN_NULL_PAIRS", 5)


def _by_reaction(rows: pl.DataFrame) -> dict[str, dict]:
    return {r["snippet"][:3]: r for r in rows.iter_rows(named=True)}


# =========================================================================== next steps

def test_each_dissatisfaction_is_followed_to_the_next_user_message(con, few_pairs):
    rows = _by_reaction(q.dissatisfaction_next(con, Filters()))
    assert set(rows) == {"R_a", "R_b", "R_c", "R_d"}   # explicit_affirmation is not one
    a, b, c, d = (rows[k] for k in ("R_a", "R_b", "R_c", "R_d"))
    assert (a["turn"], a["next_turn"], a["next_reason"], a["relationship"]) == \
        (2, 3, "content_expectation", "deepen")
    assert (b["next_turn"], b["next_reason"], b["relationship"]) == (5, NO_REASON, "deepen")
    assert (c["next_turn"], c["next_reason"], c["relationship"]) == \
        (None, END_OF_CONVERSATION, q.ENDED)
    # the first of two reasons (by position), and the labels file's relationship
    assert (d["next_reason"], d["next_reasons"], d["relationship"]) == \
        ("style_expectation", "style_expectation,task_continuation", "retry")
    assert (a["stage"], b["stage"], c["stage"], d["stage"]) == \
        ("Early", "Mid-Late", "Late", "Mid-Early")
    assert a["next_snippet"] == "add the museums please"


def test_the_threshold_is_the_95th_percentile_of_the_other_pairs(con, few_pairs):
    pairs = q.similarity_pairs(con, Filters())
    other = sorted(pairs.filter(pl.col("pair") == "other")["similarity"].round(6).to_list())
    # R_a: m1 0, m5 0; R_b: m1 0.5, m3 0; R_c (no next): m1 0, m3 0, m5 0.8; R_d: m1 0
    assert other == [0.0] * 6 + [0.5, 0.8]
    nxt = sorted(pairs.filter(pl.col("pair") == "next")["similarity"].round(6).to_list())
    assert nxt == [0.0, 0.6, 0.9]
    t = q.voicing_threshold(con)
    # 0.95 * (8 - 1) = 6.65: 0.5 + 0.65 * (0.8 - 0.5)
    assert t["tau"] == pytest.approx(0.695, abs=1e-6)
    assert (t["n_other"], t["n_next"], t["next_above"]) == (8, 3, 1)


def test_without_enough_pairs_nothing_counts_as_similar(con):
    assert q.MIN_NULL_PAIRS > 8
    assert q.voicing_threshold(con)["tau"] is None
    rows = _by_reaction(q.dissatisfaction_next(con, Filters()))
    assert not any(r["similar"] for r in rows.values())
    assert rows["R_a"]["similarity"] == pytest.approx(0.9, abs=1e-6)


def test_the_signals_and_the_measures(con, few_pairs):
    rows = q.dissatisfaction_next(con, Filters())
    sig = {k: (r["similar"], r["expectation"], r["redo"])
           for k, r in _by_reaction(rows).items()}
    assert sig == {"R_a": (True, True, False),    # 0.9 >= 0.695, content expectation
                   "R_b": (False, False, False),  # "thanks": 0, no reason, deepen
                   "R_c": (False, False, False),  # the conversation ends
                   "R_d": (False, True, True)}    # 0.6 < 0.695, style expectation, retry
    status = {m: dict(zip(q.with_status(rows, m)["snippet"].str.slice(0, 3).to_list(),
                          q.with_status(rows, m)["status"].to_list()))
              for m in q.MEASURES}
    assert status["voiced"] == {"R_a": "voiced", "R_b": "unvoiced", "R_c": "ended",
                                "R_d": "voiced"}
    assert status["similar"]["R_d"] == "unvoiced"
    assert status["expectation"] == status["voiced"]
    assert status["voiced_or_redo"] == status["voiced"]
    with pytest.raises(ValueError, match="voicing measure"):
        q.with_status(rows, "louder")


def test_the_flow_links_are_counted_per_reaction(con, few_pairs):
    links = q.next_step_links(con, Filters())
    got = {(r["column_a"], r["source"], r["target"]): r["n"]
           for r in links.iter_rows(named=True)}
    assert got == {
        (0, "content_relevance", "content_expectation"): 1,
        (0, "content_relevance", "style_expectation"): 1,
        (0, "scope_fit", NO_REASON): 1,
        (0, "presentation_style", END_OF_CONVERSATION): 1,
        (1, "content_expectation", "deepen"): 1, (1, "style_expectation", "retry"): 1,
        (1, NO_REASON, "deepen"): 1, (1, END_OF_CONVERSATION, q.ENDED): 1}


def test_unvoiced_shares_by_stage_and_label(con, few_pairs):
    rows = q.dissatisfaction_next(con, Filters())
    by_stage = {r["group"]: r for r in q.unvoiced_shares(rows, "stage").iter_rows(named=True)}
    assert list(by_stage) == ["All", "Early", "Mid-Early", "Mid-Late", "Late"]
    assert (by_stage["All"]["n"], by_stage["All"]["n_voiced"], by_stage["All"]["n_unvoiced"],
            by_stage["All"]["n_ended"], by_stage["All"]["n_users"]) == (4, 2, 1, 1, 2)
    assert by_stage["All"]["share_unvoiced"] == pytest.approx(0.5)   # R_b and R_c of 4
    assert [by_stage[s]["share_unvoiced"] for s in ("Early", "Mid-Early", "Mid-Late",
                                                    "Late")] == [0.0, 0.0, 1.0, 1.0]
    for r in by_stage.values():
        assert r["ci_lo"] <= r["share_unvoiced"] <= r["ci_hi"]
    # ends left out: R_b of the 3 with a next message
    no_ends = q.unvoiced_shares(rows, "label", include_ends=False)
    assert no_ends["group"].to_list() == ["All", "content_relevance", "scope_fit"]
    assert no_ends["share_unvoiced"].to_list() == pytest.approx([1 / 3, 0.0, 1.0])
    by_model = q.unvoiced_shares(rows, "model")
    assert by_model["group"].to_list() == ["All", "Model A", "Model B"]  # most first
    assert by_model["share_unvoiced"].to_list() == pytest.approx([0.5, 2 / 3, 0.0])


def test_unvoiced_interval_resamples_users(con, few_pairs):
    """One user: every resample is that user, so the interval is the point; two users
    with 2/3 and 0 unvoiced: a resample holds u1 twice (2/3), u2 twice (0) or both (1/2),
    so the interval spans 0 to 2/3."""
    rows = q.dissatisfaction_next(con, Filters())
    one = q.unvoiced_shares(rows.filter(pl.col("user_id") == "u1"), "stage")
    assert one["ci_lo"][0] == one["ci_hi"][0] == one["share_unvoiced"][0] == pytest.approx(2 / 3)
    both = q.unvoiced_shares(rows, "stage")
    assert both["ci_lo"][0] == pytest.approx(0.0)
    assert both["ci_hi"][0] == pytest.approx(2 / 3)


def test_the_domain_split_names_conversations_without_a_topic(con, few_pairs):
    rows = q.dissatisfaction_next(con, Filters())          # the topics stage did not run
    assert q.unvoiced_shares(rows, "domain")["group"].to_list() == ["All", q.UNASSIGNED]
    with pytest.raises(ValueError, match="grouping"):
        q.unvoiced_shares(rows, "weather")


def test_ratios_thoughts_over_voiced(con, few_pairs):
    r = {x["measure"]: x for x in q.ratios(con, Filters()).iter_rows(named=True)}
    assert (r["voiced"]["n"], r["voiced"]["n_voiced"], r["voiced"]["ratio"]) == (4, 2, 2.0)
    assert (r["similar"]["n_voiced"], r["similar"]["ratio"]) == (1, 4.0)
    assert r["voiced"]["paper_ratio"] == pytest.approx(1000 / 450)
    # the interval is the reciprocal of the voiced share's: u1 voices 1 of 3, u2 1 of 1
    # -> voiced share from 1/3 (u1 twice) to 1 (u2 twice): ratio from 1 to 3
    assert (r["voiced"]["ratio_lo"], r["voiced"]["ratio_hi"]) == pytest.approx((1.0, 3.0))
    # similar: u2 twice voices nothing -> the ratio has no upper end
    assert r["similar"]["ratio_hi"] == math.inf
    no_ends = {x["measure"]: x for x in q.ratios(con, Filters(), False).iter_rows(named=True)}
    assert (no_ends["voiced"]["n"], no_ends["voiced"]["ratio"]) == (3, 1.5)


def test_filters_reach_every_next_steps_query(con, few_pairs):
    only_b = Filters(models=("Model B",))
    assert q.dissatisfaction_next(con, only_b)["snippet"].to_list() == ["R_d: not about cats"]
    assert q.ratios(con, only_b)["n"].to_list() == [1, 1, 1, 1]
    # τ stays the whole DB's
    assert q.voicing_threshold(con)["tau"] == pytest.approx(0.695, abs=1e-6)
    assert q.dissatisfaction_next(con, Filters(models=("nobody",))).height == 0
    empty = q.unvoiced_by(con, Filters(models=("nobody",)), "stage")
    assert empty["group"].to_list() == ["All"] and empty["n"].to_list() == [0]
    assert empty["share_unvoiced"][0] is None
    assert q.next_step_links(con, Filters(models=("nobody",))).height == 0


def test_examples_page_and_filter_by_label_and_status(con, few_pairs):
    all_ = q.examples(con, Filters())
    assert all_["total"] == 4
    unv = q.examples(con, Filters(), "voiced", q.ANY, "unvoiced")
    assert unv["total"] == 1 and unv["rows"]["snippet"][0] == "R_b: far too long"
    cr = q.examples(con, Filters(), "voiced", "content_relevance", q.ANY, limit=1, offset=1)
    assert cr["total"] == 2 and cr["rows"]["conv_id"].to_list() == [C2]
    table = q.example_table(all_["rows"], {"content_relevance": "Content Relevance"},
                            {"model": ["Model A"], "page": ["3"]})
    first = table.row(0, named=True)
    assert first["open"] == f"browser?model=Model+A&conv={C1}&turn=2#turn-2"
    assert first["dissatisfaction"] == "Content Relevance"
    assert table["relationship"].to_list()[2] == "(conversation ended)"
    with pytest.raises(ValueError, match="status"):
        q.examples(con, Filters(), "voiced", q.ANY, "shouted")


def test_a_db_without_vectors_has_no_similar_pairs(tmp_path):

    src = write_jsonl(tmp_path / "t.jsonl", RECORDS)
    db = tmp_path / "ingest.duckdb"
    ingest_db(src, db)
    with duckdb.connect(str(db), read_only=True) as c:
        assert q.similarity_pairs(c, Filters()).height == 0
        assert q.voicing_threshold(c)["tau"] is None
        rows = q.dissatisfaction_next(c, Filters())
    assert rows.height == 4 and rows["similarity"].null_count() == 4
    assert rows["relationship"].to_list().count(q.UNLABELLED) == 3


# =========================================================================== timing

def test_response_gaps_and_how_bad_timestamps_are_counted(con):
    t = q.timing(con, Filters(), "response")
    # c1: 2->3 60 s, 4->5 30 s; c2: 2->3 3600 s (over 30 min); c3: 2->3 -10 s (clock),
    # 4->5 missing; the last assistant message of each conversation has no gap
    assert t["totals"] == {"ok": 2, "missing": 1, "negative": 1, "over_cap": 1, "all": 5,
                           "after_end": 0}
    assert t["overall"]["median_s"] == pytest.approx(45.0)
    assert t["cap_s"] == 1800
    g = {(r["panel"], r["group"]): r for r in t["groups"].iter_rows(named=True)}
    cr = g[("label", "content_relevance")]
    assert (cr["n_all"], cr["n"], cr["n_over_cap"], cr["median_s"]) == (2, 1, 1, 60.0)
    ea = g[("label", "explicit_affirmation")]
    assert (ea["n_all"], ea["n"], ea["n_negative"], ea["median_s"]) == (1, 0, 1, None)
    assert g[("label", q.NO_REACTION)]["n_missing"] == 1
    early = g[("stage", "Early")]                      # c1 m2 (60 s) and c3 m2 (negative)
    assert (early["n_all"], early["n"], early["median_s"]) == (2, 1, 60.0)
    assert g[("stage", "Mid-Late")]["median_s"] == 30.0  # c1 m4; c3 m4 is missing
    # was the reaction written before the reply? (the gap then includes writing it)
    assert g[("when", q.BEFORE_REPLY)]["n_all"] == 1    # R_a 10:00:40 < 10:01:10
    assert g[("when", q.AFTER_REPLY)]["n_all"] == 3     # R_b, R_d, c3 m2
    # a cap of 2 h keeps c2's hour: median of 30, 60, 3600
    assert q.timing(con, Filters(), "response", 7200)["overall"]["median_s"] == 60.0


def test_message_to_thought_gaps(con):
    t = q.timing(con, Filters(), "reaction")
    # ok: R_a 30, R_b 220, R_c 30, c2 m4 30; R_d 3 h (over 2 h); c3 m2 -5 s; c3 m6 NULL
    assert t["totals"] == {"ok": 4, "missing": 1, "negative": 1, "over_cap": 1, "all": 7,
                           "after_end": 3}      # R_b, R_c, R_d after the last message
    g = {(r["panel"], r["group"]): r for r in t["groups"].iter_rows(named=True)}
    assert g[("label", "scope_fit")]["median_s"] == 220.0
    assert g[("label", "explicit_affirmation")]["n_all"] == 3
    assert (g[("when", q.DURING)]["n"], g[("when", q.AFTER_END)]["n"]) == (2, 2)
    assert g[("when", q.UNKNOWN)]["n_missing"] == 1
    reasons = q.timing(con, Filters(), "reason")
    assert reasons["overall"]["median_s"] == 5.0   # every reason 5 s after its message
    assert reasons["totals"]["missing"] == 1        # c3 m5 has no timestamp


def test_timing_keeps_every_group_and_follows_filters(con):
    t = q.timing(con, Filters(models=("Model A",)), "response")
    groups = t["groups"]
    assert groups.filter(pl.col("panel") == "stage")["group"].to_list() == \
        ["Early", "Mid-Early", "Mid-Late", "Late"]
    assert groups.filter(pl.col("panel") == "label").height == 6  # 5 reactions + none
    assert t["totals"]["all"] == 2
    empty = q.timing(con, Filters(models=("nobody",)), "reason")
    assert empty["totals"]["all"] == 0 and empty["overall"]["median_s"] is None
    with pytest.raises(ValueError, match="timing measure"):
        q.gaps(con, Filters(), "lunch")


def test_gap_status_boundaries():
    df = pl.DataFrame({"g": [None, -0.001, 0.0, 1800.0, 1800.5]}, schema={"g": pl.Float64})
    assert df.select(s=q.gap_status(pl.col("g"), 1800))["s"].to_list() == \
        ["missing", "negative", "ok", "ok", "over_cap"]


# =========================================================================== stats

def test_bootstrap_medians_by_hand():
    # users 0, 1 in group 0 (values 1, 2 | 3); user 2 alone in group 1
    med, lo, hi = stats.bootstrap_medians(np.array([0, 0, 1, 2]), np.array([0, 0, 0, 1]),
                                          np.array([1.0, 2.0, 3.0, 10.0]), 3)
    assert med[0] == 2.0 and med[1] == 10.0 and math.isnan(med[2])
    assert lo[1] == hi[1] == 10.0            # one user: every resample is that user
    # group 0 resamples: {0,0} -> 1.5, {1,1} -> 3, {0,1} -> 2 (and group 0 empty when
    # only user 2 is drawn: left out)
    assert lo[0] == pytest.approx(1.5) and hi[0] == pytest.approx(3.0)
    assert math.isnan(lo[2]) and math.isnan(hi[2])


def test_the_weighted_median_is_the_median_of_the_expanded_sample():
    rng = np.random.default_rng(3)
    vals = np.sort(rng.normal(size=9))
    for _ in range(100):
        w = rng.integers(0, 4, size=(1, 9))
        if w.sum():
            got = stats._expanded_median(vals, np.cumsum(w, axis=1))[0]
            assert got == pytest.approx(np.median(np.repeat(vals, w[0])))
