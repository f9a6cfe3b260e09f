"""Queries of one participant (`components.queries.participant`): the picker's options
under the filters, one user's conversations and survey answers (answers differ between
conversations, missing ones), and their thought-type profile against everyone else's with
user-level bootstrap intervals — counted by hand on a tiny corpus and independently from
the shared sample's file.

Also home of the tiny three-user corpus the other participant tests build on
(`participant_corpus`, `build_participants`).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import duckdb
import polars as pl
import pytest

from components.filters import Filters
from components.queries import participant as one
from tests.corpus import conversation, ingest_db, write_jsonl

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(1)>"


def _survey(age: str, occupation: str = "Teacher") -> list[dict]:
    return [{"age": age, "gender": "Female", "education": "Graduate",
             "occupation": occupation, "frequency": "4", "purposes": "work"}]


def participant_corpus() -> list[dict]:
    """Three users: user10 (2 conversations, GPT-5.4; 3 reasons, 2 of them task
    motivation; survey answers that differ, HTML in a summary and an answer), user20 (1,
    GPT-5.4) and user30 (3, Claude Opus 4.6; one without survey answers)."""
    return [
        conversation("user10_task1_conversation1", [
            ("Plan a trip to Porto", ["task_motivation"]),
            ("Here is a plan.", ["explicit_affirmation"]),
            ("Shorter please", ["style_expectation"]),
            ("A short plan.", ["scope_fit"]),
        ], survey=_survey("31"), summary="Planning a trip"),
        conversation("user10_task2_conversation1", [
            ("Another task entirely", ["task_motivation"]),
            ("An answer.", []),
        ], survey=_survey("32", occupation=HOSTILE), summary=HOSTILE),
        conversation("user20_task1_conversation1", [
            ("Hi, explain tides in depth", ["task_motivation", "content_expectation"]),
            ("Tides are ...", ["explicit_affirmation"]),
        ], survey=_survey("45")),
        conversation("user30_task1_conversation1", [
            ("Thanks!", ["social_and_others"]), ("ok", ["content_relevance"])],
            model="Claude Opus 4.6", provider="Anthropic", survey=_survey("23")),
        conversation("user30_task2_conversation1", [
            ("A new question", ["task_motivation"]), ("ok", ["explicit_affirmation"]),
            ("and more", ["task_continuation"]), ("ok", []),
        ], model="Claude Opus 4.6", provider="Anthropic", survey=_survey("23")),
        conversation("user30_task3_conversation1", [("x", []), ("y", [])],
                     model="Claude Opus 4.6", provider="Anthropic", survey=[]),
    ]


def build_participants(directory: Path) -> Path:
    """`participant_corpus` through the real pipeline (ingest) into ``directory``."""
    src = write_jsonl(directory / "participants.jsonl", participant_corpus())
    db = directory / "participants.duckdb"
    ingest_db(src, db)
    return db


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    db = build_participants(tmp_path_factory.mktemp("participant"))
    c = duckdb.connect(str(db), read_only=True)
    yield c
    c.close()


def _by_label(profile: pl.DataFrame) -> dict[str, dict]:
    return {r["label"]: r for r in profile.iter_rows(named=True)}


def _label_counts(records: list[dict], keep) -> dict[str, Counter]:
    """Thought labels per kind of the records whose user ``keep`` accepts, counted from
    the records themselves (not through the DB)."""
    out = {"reason": Counter(), "reaction": Counter()}
    for rec in records:
        if not keep(rec["id"].split("_")[0]):
            continue
        for m in rec["messages"]:
            for kind, key in (("reason", "reasons"), ("reaction", "reactions")):
                for t in m.get(key) or []:
                    out[kind][t["label"]] += 1
    return out


# --------------------------------------------------------------------------- who

def test_options_most_conversations_first_under_the_filters(con):
    opts = one.participant_options(con, Filters())
    assert opts["users"] == ("user30", "user10", "user20")
    assert opts["n"] == (3, 2, 1) and opts["total"] == 3
    assert opts["models"] == ("Claude Opus 4.6", "GPT-5.4", "GPT-5.4")
    gpt = one.participant_options(con, Filters(models=("GPT-5.4",)))
    assert gpt["users"] == ("user10", "user20")
    # the sidebar's user filter narrows the options; the limit cuts the list, not the total
    assert one.participant_options(con, Filters(users=("user20",)))["users"] == ("user20",)
    cut = one.participant_options(con, Filters(), limit=1)
    assert cut["users"] == ("user30",) and cut["total"] == 3


def test_conversations_of_one_user_under_the_filters(con):
    convs = one.participant_conversations(con, Filters(), "user10")
    assert convs["conv_id"].to_list() == ["user10_task1_conversation1",
                                          "user10_task2_conversation1"]
    assert convs["n_reasons"].to_list() == [2, 1] and convs["n_dissatisfied"].to_list() == [1, 0]
    # the sidebar's user filter does not hide the user the tab is about
    assert one.participant_conversations(con, Filters(users=("user20",)), "user10").height == 2
    assert one.participant_conversations(con, Filters(models=("Claude Opus 4.6",)),
                                         "user10").is_empty()
    assert one.user_conversation_count(con, "user10") == 2
    assert one.user_conversation_count(con, "user99") == 0
    assert one.user_conversation_count(con, "' OR 1=1 --") == 0


def test_conversation_table_links_keep_the_filters(con):
    convs = one.participant_conversations(con, Filters(), "user10")
    table = one.conversation_table(convs, {"model": ["GPT-5.4"], "view": ["One participant"],
                                           "pid": ["user10"]})
    first = table["conversation"][0]
    assert first.startswith("browser?") and "model=GPT-5.4" in first
    assert "conv=user10_task1_conversation1" in first and "pid=" not in first
    assert table["task summary"].to_list() == ["Planning a trip", HOSTILE]  # verbatim text
    assert table["messages"].to_list() == [4, 2]
    assert table["dissatisfied"].to_list() == [1, 0]


# --------------------------------------------------------------------------- survey

def test_survey_answers_that_differ_and_are_missing(con):
    survey = one.survey_answers(one.participant_conversations(con, Filters(), "user10"))
    answers = dict(survey["table"].select("question", "answer").iter_rows())
    assert answers["Age (as answered)"] == "31 / 32"
    assert answers["Age bracket"] == "25-34"          # the same bracket: not a difference
    assert answers["Occupation"] == f"Teacher / {HOSTILE}"
    assert answers["AI-use frequency (1–5)"] == "4 (Once a day)"
    assert survey["differs"] == ["Age (as answered)", "Occupation"]
    assert survey["no_survey"] == []
    assert survey["per_conversation"]["Age (as answered)"].to_list() == ["31", "32"]
    # a conversation without survey answers: every field "—", and it differs from the rest
    other = one.survey_answers(one.participant_conversations(con, Filters(), "user30"))
    answers = dict(other["table"].select("question", "answer").iter_rows())
    assert answers["Gender"] == "Female / —"
    assert other["no_survey"] == ["user30_task3_conversation1"]
    assert set(other["differs"]) == set(one.SURVEY_FIELDS.values())


# --------------------------------------------------------------------------- profile

def test_profile_counted_by_hand(con):
    """user10: 3 reasons, 2 task motivation (2/3); everyone else (user20, user30): 5
    reasons, 2 task motivation (2/5), counted from the corpus, not the DB."""
    profile = one.participant_profile(con, Filters(), "user10")
    assert profile.columns == list(one.PROFILE_SCHEMA)
    assert profile.height == 12 and set(profile["user_id"]) == {"user10"}
    rows = _by_label(profile)
    tm = rows["task_motivation"]
    assert (tm["user_n"], tm["user_total"]) == (2, 3)
    assert tm["user_share"] == pytest.approx(2 / 3)
    assert rows["style_expectation"]["user_share"] == pytest.approx(1 / 3)
    assert rows["task_continuation"]["user_share"] == 0.0
    assert rows["scope_fit"]["user_share"] == pytest.approx(1 / 2)
    others = _label_counts(participant_corpus(), lambda u: u != "user10")
    for kind in ("reason", "reaction"):
        total = sum(others[kind].values())
        for label, r in rows.items():
            if r["kind"] != kind:
                continue
            assert r["others_total"] == total
            assert r["others_n"] == others[kind][label]
            assert r["others_share"] == pytest.approx(others[kind][label] / total)
            assert r["ci_lo"] <= r["others_share"] <= r["ci_hi"]
            assert r["others_users"] == 2   # user20 and user30 both have both kinds
    assert tm["others_share"] == pytest.approx(2 / 5)
    # the sidebar's user filter changes neither side
    assert profile.equals(one.participant_profile(con, Filters(users=("user10",)), "user10"))


def test_profile_under_a_filter_excludes_the_user_from_everyone_else(con):
    """Under model GPT-5.4: user10 against user20 alone (the only other user there)."""
    rows = _by_label(one.participant_profile(con, Filters(models=("GPT-5.4",)), "user10"))
    assert rows["task_motivation"]["others_share"] == pytest.approx(1 / 2)
    assert rows["content_expectation"]["others_share"] == pytest.approx(1 / 2)
    assert rows["task_motivation"]["others_users"] == 1
    # one other user: every resample is that user, the interval is the point
    assert rows["task_motivation"]["ci_lo"] == rows["task_motivation"]["ci_hi"] == \
        pytest.approx(1 / 2)


LABELS = pl.DataFrame({"label": ["x", "y"], "kind": ["reason", "reason"],
                       "display_name": ["X", "Y"], "meaning": ["", ""]})


def _rows(thoughts: dict[str, list[str]]) -> pl.DataFrame:
    return pl.DataFrame([{"user_id": u, "kind": "reason", "label": lab}
                         for u, labs in thoughts.items() for lab in labs])


def test_the_interval_resamples_whole_users():
    """Users who all write X then Y: any resample of users gives 1/2, so the interval is
    the point (a bootstrap of thoughts would spread). Users A = [X, X] and B = [Y, Y]:
    resamples of two users give 1, 1/2 or 0, so the interval spans 0 to 1."""
    same = one.profile_shares(LABELS, _rows({"me": ["x"], "a": ["x", "y"], "b": ["x", "y"],
                                             "c": ["x", "y"]}), "me")
    x = _by_label(same)["x"]
    assert (x["user_share"], x["others_share"], x["ci_lo"], x["ci_hi"]) == (1.0, 0.5, 0.5, 0.5)
    assert x["others_users"] == 3
    split = _by_label(one.profile_shares(LABELS, _rows({"me": ["y"], "a": ["x", "x"],
                                                        "b": ["y", "y"]}), "me"))["x"]
    assert (split["others_share"], split["ci_lo"], split["ci_hi"]) == (0.5, 0.0, 1.0)


def test_profile_of_a_user_without_a_kind_and_of_an_unknown_user():
    rows = _by_label(one.profile_shares(LABELS, _rows({"a": ["x"]}), "nobody"))
    assert rows["x"]["user_total"] == 0 and rows["x"]["user_share"] is None
    assert rows["x"]["others_share"] == 1.0
    alone = _by_label(one.profile_shares(LABELS, _rows({"me": ["x"]}), "me"))
    assert alone["x"]["user_share"] == 1.0
    assert alone["x"]["others_share"] is None and alone["x"]["others_users"] == 0


# --------------------------------------------------------------------------- shared sample

@pytest.fixture(scope="module")
def sample_con(sample_ingest_db):
    c = duckdb.connect(str(sample_ingest_db), read_only=True)
    yield c
    c.close()


def test_a_real_user_with_two_conversations(sample_con, sample_path):
    """user804 of the shared sample: their labels and everyone else's, counted from the
    JSONL file directly."""
    records = [json.loads(line) for line in sample_path.read_text(encoding="utf-8")
               .splitlines() if line.strip()]
    theirs = [r for r in records if r["id"].split("_")[0] == "user804"]
    assert len(theirs) == 2  # counted in the JSONL: user804 has two conversations
    assert one.participant_conversations(sample_con, Filters(), "user804").height == len(theirs)
    opts = one.participant_options(sample_con, Filters())
    assert opts["total"] == len({r["id"].split("_")[0] for r in records})
    assert opts["n"][opts["users"].index("user804")] == len(theirs)
    rows = _by_label(one.participant_profile(sample_con, Filters(), "user804"))
    mine = _label_counts(records, lambda u: u == "user804")
    others = _label_counts(records, lambda u: u != "user804")
    for label, r in rows.items():
        kind = r["kind"]
        assert r["user_n"] == mine[kind][label]
        assert r["user_total"] == sum(mine[kind].values())
        assert r["others_n"] == others[kind][label]
        assert r["others_share"] == pytest.approx(others[kind][label]
                                                  / sum(others[kind].values()))
        assert r["ci_lo"] <= r["others_share"] <= r["ci_hi"]
