"""Edges of precompute.ingest that the validation tests leave open: the derived columns of
the three tables (`_tables`: counts per conversation and message, stages, thought ids and
positions, source lines) and the survey columns (`_survey`: the shapes survey_answers
may take, age brackets, the frequency scale), plus reading a file (`read_lines`). Each
record is built in code and ingested in memory (`ingest_lines`, no DB), so mutation
testing stays fast; every expectation is counted by hand. Written to kill the mutants
that mutmut left alive (tests/README.md)."""

from __future__ import annotations

import gzip
import hashlib
import json

import pandas as pd
import pytest

from precompute.ingest import IngestError, ingest_lines, read_lines
from tests.corpus import conversation, message, record, thought

TM, TC, SO = "task_motivation", "task_continuation", "social_and_others"
EA, CR, PS, SF = "explicit_affirmation", "content_relevance", "presentation_style", "scope_fit"
SURVEY = {"age": "31", "gender": "Female", "education": "Graduate", "occupation": "Teacher",
          "frequency": "4", "purposes": "work"}


def _ingest(*records: dict):
    return ingest_lines([json.dumps(r).encode() for r in records], file="t.jsonl")


def _one(rec: dict):
    res = _ingest(rec)
    assert res.records_stored == 1, [str(p) for p in res.problems]
    return res, res.conversations.iloc[0]


# ------------------------------------------------------------------ derived columns


def test_counts_per_conversation_by_hand():
    # 5 messages: u (TM, TC) | a (EA, CR) | u () | a (PS, SF, EA) | u (SO)
    rec = conversation("user7_task2_conversation1", [
        ("hello", [TM, TC]), ("hi there", [EA, CR]), ("ok", []), ("four", [PS, SF, EA]),
        ("bye", [SO])])
    res, conv = _one(rec)
    assert conv["user_id"] == "user7"
    assert (conv["n_messages"], conv["n_user_messages"], conv["n_thoughts"]) == (5, 3, 8)
    assert (conv["n_reasons"], conv["n_reactions"], conv["n_dissatisfied"]) == (3, 5, 3)
    assert conv["source_line"] == 1
    msgs = res.messages
    assert msgs["turn"].tolist() == [1, 2, 3, 4, 5]
    assert msgs["role"].tolist() == ["user", "assistant", "user", "assistant", "user"]
    assert msgs["n_thoughts"].tolist() == [2, 2, 0, 3, 1]
    assert msgs["n_chars"].tolist() == [5, 8, 2, 4, 3]
    # r = (turn - 1) / 4 -> 0, .25, .5, .75, 1
    assert msgs["stage_idx"].tolist() == [0, 1, 2, 3, 3]
    assert msgs["stage"].tolist() == ["Early", "Mid-Early", "Mid-Late", "Late", "Late"]
    assert msgs["message_id"].tolist() == [1000, 1001, 1002, 1003, 1004]
    th = res.thoughts
    assert th["thought_id"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert th["turn"].tolist() == [1, 1, 2, 2, 4, 4, 4, 5]
    assert th["idx"].tolist() == [0, 1, 0, 1, 0, 1, 2, 0]
    assert th["kind"].tolist() == ["reason"] * 2 + ["reaction"] * 5 + ["reason"]
    assert th["stage_idx"].tolist() == [0, 0, 1, 1, 3, 3, 3, 3]
    assert th["stage"].tolist()[2] == "Mid-Early"
    assert th["content"].tolist()[0] == "hello / thought 0"
    assert set(th["conv_id"]) == {"user7_task2_conversation1"}


def test_thought_ids_run_on_across_conversations_and_lines_are_counted():
    a = conversation("user1_task1_conversation1", [("q", [TM]), ("a", [EA])])
    b = conversation("user2_task1_conversation1", [("q", [TM, SO])])
    lines = [json.dumps(a).encode(), b"", b"  ", json.dumps(b).encode()]
    res = ingest_lines(lines, file="t.jsonl")
    assert res.conversations["source_line"].tolist() == [1, 4]
    assert res.thoughts["thought_id"].tolist() == [1, 2, 3, 4]
    assert res.thoughts["conv_id"].tolist() == ["user1_task1_conversation1"] * 2 + \
        ["user2_task1_conversation1"] * 2
    # a single message: stage Early, its thoughts too
    assert res.messages[res.messages["conv_id"] == "user2_task1_conversation1"][
        "stage_idx"].tolist() == [0]
    assert (res.lines_in, res.blank_lines, res.records_stored) == (4, 2, 2)
    assert res.summary() == ("4 lines read: 2 conversations stored, 0 skipped, 2 blank; "
                             "0 errors, 0 warnings; 3 messages, 4 thoughts")


def test_a_missing_content_counts_zero_characters():
    rec = record("user1_task1_conversation1", [message("user", "abc"), message("assistant",
                                                                                None)])
    res, conv = _one(rec)
    assert res.messages["n_chars"].tolist() == [3, 0]
    assert pd.isna(res.messages["content"].tolist()[1])
    assert conv["n_user_messages"] == 1 and conv["n_thoughts"] == 0
    assert conv["n_dissatisfied"] == 0


def test_columns_of_the_three_tables():
    res, _ = _one(conversation("user1_task1_conversation1", [("q", [TM])]))
    assert list(res.conversations.columns) == [
        "conv_id", "user_id", "model_name", "model_provider", "created_at", "updated_at",
        "n_messages", "n_user_messages", "n_thoughts", "n_reasons", "n_reactions",
        "n_dissatisfied", "task_summary", "task_expectation", "has_survey", "age",
        "age_bracket", "gender", "education", "occupation", "ai_frequency", "purposes",
        "source_line"]
    assert list(res.messages.columns) == ["conv_id", "turn", "message_id", "role", "content",
                                          "timestamp", "stage_idx", "stage", "n_thoughts",
                                          "n_chars"]
    assert list(res.thoughts.columns) == ["thought_id", "conv_id", "turn", "idx", "kind",
                                          "label", "content", "timestamp", "stage_idx",
                                          "stage"]
    empty = ingest_lines([], file="t.jsonl")   # no record: the same columns, no rows
    assert list(empty.conversations.columns) == list(res.conversations.columns)
    assert list(empty.messages.columns) == list(res.messages.columns)
    assert list(empty.thoughts.columns) == list(res.thoughts.columns)
    assert empty.conversations.empty and empty.thoughts.empty


# ------------------------------------------------------------------ survey columns


def _survey(survey):
    rec = conversation("user1_task1_conversation1", [("q", [])], survey=survey)
    res, conv = _one(rec)
    return res, conv


def test_the_answers_land_in_their_columns():
    res, conv = _survey([dict(SURVEY, frequency=" 5 ", purposes="work; study")])
    assert conv["has_survey"]
    assert (conv["age"], conv["age_bracket"], conv["gender"], conv["education"]) == (
        "31", "25-34", "Female", "Graduate")
    assert (conv["occupation"], conv["ai_frequency"], conv["purposes"]) == (
        "Teacher", 5, "work; study")
    assert res.problems == []


@pytest.mark.parametrize("freq, value", [("1", 1), ("3", 3), ("5", 5), ("\t2 ", 2)])
def test_frequency_on_the_scale(freq, value):
    res, conv = _survey([dict(SURVEY, frequency=freq)])
    assert conv["ai_frequency"] == value and res.problems == []


@pytest.mark.parametrize("freq", ["0", "6", "3.0", "three", "", "12"])
def test_frequency_off_the_scale_is_null_with_a_warning(freq):
    res, conv = _survey([dict(SURVEY, frequency=freq)])
    assert pd.isna(conv["ai_frequency"])
    assert [(p.severity, p.field, p.message) for p in res.problems] == [
        ("warning", "survey_answers[0].frequency",
         f"expected '1'..'5', got {json.dumps(freq)}; stored as NULL")]


def test_a_number_as_frequency_is_read_as_text():
    res, conv = _survey([dict(SURVEY, frequency=4)])
    assert conv["ai_frequency"] == 4
    assert [p.field for p in res.problems] == ["survey_answers[0].frequency"]


def test_an_implausible_age_keeps_its_text_and_gets_no_bracket():
    res, conv = _survey([dict(SURVEY, age="7")])
    assert conv["age"] == "7" and pd.isna(conv["age_bracket"])
    assert [(p.severity, p.field, p.message) for p in res.problems] == [
        ("warning", "survey_answers[0].age",
         '"7" is not a plausible age (13-100); kept as raw text, no age bracket')]
    res, conv = _survey([{k: v for k, v in SURVEY.items() if k != "age"}])
    assert pd.isna(conv["age"]) and pd.isna(conv["age_bracket"]) and res.problems == []


def test_no_survey_an_empty_one_and_missing_answers():
    for survey in (None, []):
        rec = conversation("user1_task1_conversation1", [("q", [])])
        rec["survey_answers"] = survey
        res, conv = _one(rec)
        assert not conv["has_survey"] and res.problems == []
        assert all(pd.isna(conv[c]) for c in ("age", "age_bracket", "gender", "education",
                                               "occupation", "ai_frequency", "purposes"))
    res, conv = _survey([{}])     # an object without answers: a survey, all NULL
    assert conv["has_survey"] and pd.isna(conv["gender"]) and res.problems == []


def test_a_lone_object_is_read_as_the_one_survey():
    rec = conversation("user1_task1_conversation1", [("q", [])])
    rec["survey_answers"] = dict(SURVEY, gender="Male")
    res, conv = _one(rec)
    assert conv["has_survey"] and conv["gender"] == "Male" and conv["age_bracket"] == "25-34"
    assert [(p.field, p.message) for p in res.problems] == [
        ("survey_answers", "expected an array of 0 or 1 object, got an object; read as that "
                           "one object")]


@pytest.mark.parametrize("survey, field, message", [
    ("yes", "survey_answers",
     'expected an array of 0 or 1 object, got string "yes"; survey columns stored as NULL'),
    ([SURVEY, SURVEY], "survey_answers", "expected 0 or 1 object, got 2: "),
    (["x"], "survey_answers[0]",
     'expected an object, got string "x"; survey columns stored as NULL'),
])
def test_unreadable_surveys_are_null_with_a_warning(survey, field, message):
    rec = conversation("user1_task1_conversation1", [("q", [])])
    rec["survey_answers"] = survey
    res, conv = _one(rec)
    assert not conv["has_survey"] and pd.isna(conv["age"]) and pd.isna(conv["gender"])
    assert len(res.problems) == 1
    p = res.problems[0]
    assert (p.severity, p.field) == ("warning", field) and p.message.startswith(message)
    if isinstance(survey, list) and len(survey) == 2:
        assert p.message.endswith("; survey columns stored as NULL")


def test_a_bad_answer_names_its_field():
    res, conv = _survey([dict(SURVEY, gender=["F"], education=3)])
    assert pd.isna(conv["gender"]) and conv["education"] == "3"
    assert [p.field for p in res.problems] == ["survey_answers[0].gender",
                                               "survey_answers[0].education"]


# ------------------------------------------------------------------ reading a file


def test_read_lines_plain_gzip_bom_and_trailing_newline(tmp_path):
    body = b'{"a": 1}\n\n{"b": 2}\n'
    plain = tmp_path / "x.jsonl"
    plain.write_bytes(b"\xef\xbb\xbf" + body)
    lines, sha = read_lines(plain)
    assert lines == [b'{"a": 1}', b"", b'{"b": 2}']
    assert sha == hashlib.sha256(b"\xef\xbb\xbf" + body).hexdigest()
    packed = tmp_path / "x.jsonl.gz"
    packed.write_bytes(gzip.compress(body))
    lines, sha = read_lines(packed)
    assert lines == [b'{"a": 1}', b"", b'{"b": 2}']
    assert sha == hashlib.sha256(body).hexdigest()   # of the decompressed bytes
    no_end = tmp_path / "y.jsonl"
    no_end.write_bytes(b"one\ntwo")
    assert read_lines(no_end)[0] == [b"one", b"two"]
    two_ends = tmp_path / "z.jsonl"
    two_ends.write_bytes(b"one\n\n")
    assert read_lines(two_ends)[0] == [b"one", b""]
    empty = tmp_path / "e.jsonl"
    empty.write_bytes(b"")
    assert read_lines(empty) == ([], hashlib.sha256(b"").hexdigest())


def test_thought_timestamps_and_a_thought_on_a_later_message():
    rec = record("user1_task1_conversation1", [
        message("user", "q", [thought(TM, "t", "2026-04-12T01:00:00Z")]),
        message("assistant", "a", [thought(CR, "c", "2026-04-12T03:00:00+02:00")])])
    res, conv = _one(rec)
    stamps = res.thoughts["timestamp"].tolist()
    assert [str(s) for s in stamps] == ["2026-04-12 01:00:00+00:00", "2026-04-12 01:00:00+00:00"]
    assert conv["n_dissatisfied"] == 1 and res.thoughts["stage_idx"].tolist() == [0, 3]


def test_files_that_cannot_be_read_say_why(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(IngestError) as err:
        read_lines(missing)
    assert str(err.value) == f"{missing}: file not found (expected a .jsonl or .jsonl.gz file)"
    with pytest.raises(IngestError) as err:
        read_lines(tmp_path)
    assert str(err.value) == f"{tmp_path}: is a directory (expected a .jsonl or .jsonl.gz file)"
    fake = tmp_path / "plain.jsonl.gz"
    fake.write_bytes(b'{"a": 1}\n')
    with pytest.raises(IngestError) as err:
        read_lines(fake)
    assert str(err.value).startswith(f"{fake}: not gzip data although the name ends in .gz (")
    assert str(err.value).endswith("); expected a gzip-compressed JSONL file")
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(b'{"a": 1}\n' * 50)[:30])
    with pytest.raises(IngestError) as err:
        read_lines(cut)
    assert str(err.value).startswith(f"{cut}: the gzip data is truncated or corrupt (")
    assert str(err.value).endswith("); expected a complete gzip-compressed JSONL file")


def test_long_bad_survey_values_are_quoted_cut_at_40_characters():
    res, _ = _survey([dict(SURVEY, age="9" * 60, frequency="x" * 60)])
    age, freq = res.problems
    # json.dumps of 60 characters is 62 long: the first 40 are kept
    assert age.message == (f'"{"9" * 39}... (62 characters) is not a plausible age '
                           "(13-100); kept as raw text, no age bracket")
    assert freq.message == (f"expected '1'..'5', got \"{'x' * 39}... (62 characters); "
                            "stored as NULL")


def test_a_file_that_cannot_be_opened_says_so(tmp_path):
    long = tmp_path / ("x" * 300 + ".jsonl")     # a name longer than the system allows
    with pytest.raises(IngestError) as err:
        read_lines(long)
    assert str(err.value).startswith(f"{long}: cannot read: ")
