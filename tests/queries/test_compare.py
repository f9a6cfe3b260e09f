"""Subset A against subset B (components.queries.compare) on a corpus counted by hand,
with B as "all the others" and as its own filters, users on both sides, a stage, an
overlap that refuses to test, and stages a DB lacks; plus the shared sample."""

from __future__ import annotations

import duckdb
import pytest

from components.filters import Comparison, Filters
from components.queries import compare as qc
from tests.corpus import SAMPLE, conversation, ingest_db, write_jsonl


def _survey(gender: str) -> list[dict]:
    return [{"age": "31", "gender": gender, "education": "Graduate", "occupation": "Teacher",
             "frequency": "4", "purposes": "work"}]


def corpus() -> list[dict]:
    """user1 (GPT-5.4, Female) two conversations; user2 (Claude, Male), user3 (Claude,
    Female) one each. Reasons: A (GPT) = motivation x2, style x1; B (Claude) =
    motivation x2, continuation x1. Reactions: A = affirmation 1, scope fit 2; B = content
    relevance 1, affirmation 1."""
    return [
        conversation("user1_task1_conversation1", [
            ("q1", ["task_motivation"]), ("a1", ["explicit_affirmation"]),
            ("q2", ["style_expectation"]), ("a2", ["scope_fit"])],
            model="GPT-5.4", provider="OpenAI", survey=_survey("Female")),
        conversation("user1_task2_conversation1", [
            ("q1", ["task_motivation"]), ("a1", ["scope_fit"])],
            model="GPT-5.4", provider="OpenAI", survey=_survey("Female")),
        conversation("user2_task1_conversation1", [
            ("q1", ["task_motivation"]), ("a1", ["content_relevance"]),
            ("q2", ["task_continuation"]), ("a2", [])],
            model="Claude Opus 4.6", provider="Anthropic", survey=_survey("Male")),
        conversation("user3_task1_conversation1", [
            ("q1", ["task_motivation"]), ("a1", ["explicit_affirmation"])],
            model="Claude Opus 4.6", provider="Anthropic", survey=_survey("Female")),
    ]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    d = tmp_path_factory.mktemp("compare")
    db = d / "c.duckdb"
    ingest_db(write_jsonl(d / "c.jsonl", corpus()), db)
    c = duckdb.connect(str(db), read_only=True)
    yield c
    c.close()


GPT = Filters(models=("GPT-5.4",))


def rows(res) -> dict[str, tuple]:
    return {r["category"]: (r["n_a"], r["share_a"], r["n_b"], r["share_b"])
            for r in res["table"].to_dicts()}


def test_reasons_of_one_model_against_the_rest(con):
    res = qc.compare(con, GPT, Comparison(), "reason")
    assert res["error"] is None
    got = rows(res)
    assert got["task_motivation"] == (2, pytest.approx(2 / 3), 2, pytest.approx(2 / 3))
    assert got["style_expectation"] == (1, pytest.approx(1 / 3), 0, 0.0)
    assert got["task_continuation"] == (0, 0.0, 1, pytest.approx(1 / 3))
    assert set(got) == {"task_motivation", "style_expectation", "task_continuation"}
    assert [r["category"] for r in res["table"].to_dicts()] == [
        "task_motivation", "task_continuation", "style_expectation"]  # the labels' order
    t = res["test"]
    assert (t["users_a"], t["users_b"], t["users_both"], t["items_a"], t["items_b"]) == \
        (1, 2, 0, 3, 3)
    for r in res["table"].to_dicts():
        assert r["diff"] == pytest.approx(r["share_a"] - r["share_b"])
        assert r["lo_a"] <= r["share_a"] <= r["hi_a"] and r["diff_lo"] <= r["diff"]
    # B as its own filters, disjoint from A: the same comparison
    same = qc.compare(con, GPT, Comparison(Filters(models=("Claude Opus 4.6",))), "reason")
    assert rows(same) == got and same["test"]["p_value"] == res["test"]["p_value"]


def test_reactions_survey_and_length(con):
    got = rows(qc.compare(con, GPT, Comparison(), "reaction"))
    assert got == {"explicit_affirmation": (1, pytest.approx(1 / 3), 1, 0.5),
                   "scope_fit": (2, pytest.approx(2 / 3), 0, 0.0),
                   "content_relevance": (0, 0.0, 1, 0.5)}
    # counted by users: user1's two conversations give one Female answer
    res = qc.compare(con, GPT, Comparison(), "gender")
    assert rows(res) == {"Female": (1, 1.0, 1, 0.5), "Male": (0, 0.0, 1, 0.5)}
    assert res["unit"] == "users"
    assert rows(qc.compare(con, GPT, Comparison(), "length")) == {
        "2": (1, 0.5, 1, 0.5), "4": (1, 0.5, 1, 0.5)}


def test_a_user_on_both_sides_and_a_stage(con):
    """A = 4-message conversations (user1's first, user2's): user1 is on both sides."""
    four = Filters(messages_min=4, messages_max=4)
    res = qc.compare(con, four, Comparison(), "reason")
    assert res["test"]["users_both"] == 1 and res["overlap"]["users_both"] == 1
    assert res["overlap"]["conversations_both"] == 0
    assert rows(res)["task_motivation"] == (2, 0.5, 2, 1.0)
    # the Early stage holds turn 1 of each conversation: every reason there is motivation
    early = rows(qc.compare(con, four, Comparison(), "reason", "Early"))
    assert early == {"task_motivation": (2, 1.0, 2, 1.0)}
    with pytest.raises(ValueError, match="does not apply"):
        qc.compare(con, four, Comparison(), "domain", "Early")
    with pytest.raises(ValueError, match="unknown dimension"):
        qc.compare(con, four, Comparison(), "colour")


def test_overlap_empty_sides_and_missing_stages_are_reasons_not_errors(con):
    res = qc.compare(con, GPT, Comparison(Filters(providers=("OpenAI",))), "reason")
    assert "share 2 conversations" in res["error"] and res["table"].is_empty()
    res = qc.compare(con, Filters(), Comparison(), "reason")
    assert res["error"].startswith("Subset B has no reasons")
    assert "relationships stage" in qc.compare(con, GPT, Comparison(), "relationship")["error"]
    assert "topics stage" in qc.compare(con, GPT, Comparison(), "domain")["error"]


def test_the_others_include_conversations_with_a_null_facet(tmp_path):
    """B = "all the others" of A = domain X must keep the conversations without a domain:
    NOT (domain IN (...)) alone would drop them."""
    c = duckdb.connect()
    c.execute("CREATE TABLE conversations (conv_id VARCHAR, user_id VARCHAR, domain "
              "VARCHAR)")
    c.execute("INSERT INTO conversations VALUES ('c1','u1','X'), ('c2','u2',NULL), "
              "('c3','u3','Y')")
    ov = qc.overlap(c, Filters(domains=("X",)), Comparison())
    assert (ov["conversations_a"], ov["conversations_b"], ov["conversations_both"]) == \
        (1, 2, 0)


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared sample not present")
def test_on_the_sample_the_sides_partition_the_thoughts(sample_ingest_db):
    """On the real sample, A = the most frequent model and B = the rest: the two sides'
    reasons add up to every reason, and the users to every user."""
    c = duckdb.connect(str(sample_ingest_db), read_only=True)
    model = c.execute("SELECT model_name FROM conversations GROUP BY 1 "
                      "ORDER BY count(*) DESC, 1 LIMIT 1").fetchall()[0][0]
    res = qc.compare(c, Filters(models=(model,)), Comparison(), "reason")
    n_reasons, n_users = c.execute("SELECT (SELECT count(*) FROM thoughts WHERE kind = "
                                   "'reason'), (SELECT count(DISTINCT user_id) FROM "
                                   "conversations)").fetchall()[0]
    t = res["test"]
    assert t["items_a"] + t["items_b"] == n_reasons
    assert t["users_a"] + t["users_b"] - t["users_both"] == n_users
    assert 0 <= t["p_value"] <= 1 and 0 <= t["cramers_v"] <= 1
    c.close()


OPTIONS = {"models": ["GPT-5.4", "Claude Opus 4.6"], "domains": ["Technology"],
           "labels": ["scope_fit"], "users": ["user1"]}


@pytest.mark.parametrize("comparison", [
    Comparison(), Comparison(Filters()), Comparison(Filters(models=("Claude Opus 4.6",))),
    Comparison(Filters(domains=("Technology",), labels_any=("scope_fit",)))])
def test_comparison_round_trips_through_the_url(comparison):
    from components.filters import comparison_from_query_params
    params = comparison.to_query_params()
    assert all(k == "cmp" or k.startswith("b.") for k in params)
    assert comparison_from_query_params(params, OPTIONS) == (comparison, [])


def test_comparison_links_with_bad_values_say_what_was_ignored():
    from components.filters import comparison_from_query_params
    assert comparison_from_query_params({}, OPTIONS) == (None, [])
    got, notes = comparison_from_query_params({"cmp": "sideways"}, OPTIONS)
    assert got is None and "expected rest or subset" in notes[0]
    got, notes = comparison_from_query_params(
        {"cmp": "subset", "b.model": ["GPT-5.4", "GPT-9"], "b.msgs": "2-4"}, OPTIONS)
    assert got == Comparison(Filters(models=("GPT-5.4",)))
    assert any("b.msgs" in n for n in notes) and any("'GPT-9'" in n for n in notes)
    assert Comparison().describe_b() == "all the other conversations"
    assert Comparison(Filters(models=("GPT-5.4",))).describe_b() == "model: GPT-5.4"
