"""Ingest: exact counts on the shared sample, every defect reported with its line, nothing
silently dropped."""

from __future__ import annotations

import collections
import gzip
import json

import duckdb
import pandas as pd
import pytest

from precompute.config import Settings
from precompute.ingest import IngestError, ingest_file
from precompute.labels import REACTION_CODES, REASON_CODES, stage_index
from precompute.pipeline import build
from tests.corpus import SAMPLE, conversation, ingest_db, write_jsonl

needs_sample = pytest.mark.skipif(not SAMPLE.exists(), reason="shared sample not present")


@needs_sample
def test_sample_counts_match_published_and_independent_count(tmp_path):
    db = tmp_path / "s.duckdb"
    ingest_db(SAMPLE, db)
    con = duckdb.connect(str(db), read_only=True)
    row = con.execute("SELECT count(*), count(DISTINCT user_id), count(DISTINCT model_name), "
                      "sum(n_messages), sum(n_thoughts) FROM conversations").fetchone()
    assert row == (20, 17, 10, 328, 310)
    assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 328
    assert con.execute("SELECT count(*) FROM thoughts").fetchone()[0] == 310
    # independent count straight from the JSON
    expected = collections.Counter()
    for line in SAMPLE.read_text().splitlines():
        for msg in json.loads(line)["messages"]:
            for th in (msg.get("reasons") or []) + (msg.get("reactions") or []):
                expected[th["label"]] += 1
    got = dict(con.execute("SELECT label, count(*) FROM thoughts GROUP BY label").fetchall())
    assert got == dict(expected)
    # user id is the part before the first "_"
    assert con.execute("SELECT user_id FROM conversations WHERE conv_id = "
                       "'user804_task2_conversation1'").fetchone()[0] == "user804"
    # reasons only on user messages, reactions only on assistant messages
    bad = con.execute("""SELECT count(*) FROM thoughts t JOIN messages m USING (conv_id, turn)
        WHERE (t.kind = 'reason') <> (m.role = 'user')""").fetchone()[0]
    assert bad == 0
    prov = con.execute("SELECT records_stored, records_skipped, n_errors, is_demo "
                       "FROM provenance").fetchone()
    assert prov == (20, 0, 0, False)


def test_stage_rule():
    assert [stage_index(t, 8) for t in range(1, 9)] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert [stage_index(t, 2) for t in (1, 2)] == [0, 3]
    assert stage_index(1, 1) == 0
    assert [stage_index(t, 5) for t in range(1, 6)] == [0, 1, 2, 3, 3]


HOSTILE_HTML = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _hostile(tmp_path):
    good1 = conversation("user1_task1_conversation1",
                         [(HOSTILE_HTML, ["task_motivation"]), ("ok", ["explicit_affirmation"])])
    good2 = conversation("user2_task1_conversation1", [("hi", []), ("hello", [])],
                         survey=[{"age": "366", "gender": "Male", "education": None,
                                  "occupation": "x", "frequency": None, "purposes": ""}])
    good2["messages"][0]["reasons"] = None  # null and [] are the same
    no_id = conversation("x", [("a", [])])
    del no_id["id"]
    no_msgs = conversation("user3_task1_conversation1", [])
    del no_msgs["messages"]
    bad_role = conversation("user4_task1_conversation1", [("a", [])])
    bad_role["messages"][0]["type"] = "system"
    bad_label = conversation("user5_task1_conversation1", [("a", ["task_motivation"]),
                                                           ("b", ["very_happy"])])
    dup = conversation("user1_task1_conversation1", [("again", [])])
    wrong_type = conversation("user6_task1_conversation1", [("a", [])])
    wrong_type["messages"][0]["content"] = 42
    return write_jsonl(tmp_path / "hostile.jsonl", [
        good1,                                  # line 1 ok
        "{not json",                            # line 2
        no_id,                                  # line 3
        no_msgs,                                # line 4
        bad_role,                               # line 5
        bad_label,                              # line 6 kept, the thought dropped
        dup,                                    # line 7
        wrong_type,                             # line 8 kept, the number as text
        good2,                                  # line 9 ok
        b"\xff\xfe not utf8",                   # line 10
        "",                                     # line 11 blank
    ])


def test_hostile_corpus_reports_each_defect_and_keeps_good_records(tmp_path):
    path = _hostile(tmp_path)
    res = ingest_file(path)
    assert sorted(res.conversations["conv_id"]) == [
        "user1_task1_conversation1", "user2_task1_conversation1", "user5_task1_conversation1",
        "user6_task1_conversation1"]
    errors = {p.line: p for p in res.errors}
    assert set(errors) == {2, 3, 4, 5, 7, 10}
    warnings = {(p.line, p.field): p.message for p in res.warnings}
    assert "invalid JSON" in errors[2].message and errors[2].file == "hostile.jsonl"
    assert errors[3].field == "id" and "missing" in errors[3].message
    assert errors[4].field == "messages" and "missing" in errors[4].message
    # the only message has an unknown role: skipped, so the record has none left
    assert errors[5].field == "messages" and "none of the 1 messages" in errors[5].message
    assert '"system"' in warnings[(5, "messages[0].type")]
    # an unknown label drops that one thought; the record and its other thought stay
    msg = warnings[(6, "messages[1].reactions[0].label")]
    assert "very_happy" in msg and "explicit_affirmation" in msg and "skipped" in msg
    assert list(res.thoughts[res.thoughts["conv_id"] == "user5_task1_conversation1"]["label"]
                ) == ["task_motivation"]
    assert "duplicate id" in errors[7].message and "line 1" in errors[7].message
    assert "got number 42; kept as text" in warnings[(8, "messages[0].content")]
    assert "UTF-8" in errors[10].message
    # nothing silently dropped: lines in = stored + skipped + blank
    assert res.lines_in == res.records_stored + res.records_skipped + res.blank_lines == 11
    assert sorted(res.rejected["line"]) == [2, 3, 4, 5, 7, 10]
    # HTML is data: stored verbatim, never stripped
    assert HOSTILE_HTML in set(res.messages["content"])
    # garbage age kept as text, no bracket; a warning says so
    conv2 = res.conversations.set_index("conv_id").loc["user2_task1_conversation1"]
    assert conv2["age"] == "366" and pd.isna(conv2["age_bracket"])
    assert any(p.severity == "warning" and p.line == 9 and "age" in p.field
               for p in res.problems)


def test_strict_fails_with_location_and_leaves_db_untouched(tmp_path):
    path = _hostile(tmp_path)
    with pytest.raises(IngestError, match=r"hostile.jsonl:2"):
        ingest_file(path, strict=True)
    db = tmp_path / "t.duckdb"
    with pytest.raises(IngestError):
        build(Settings(source=str(path), db=db, strict=True, progress=False),
              only=("ingest",), log=lambda _: None)
    assert not db.exists()


def test_rejected_records_and_problems_are_stored(tmp_path):
    path = _hostile(tmp_path)
    db = tmp_path / "t.duckdb"
    ingest_db(path, db)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM rejected_records").fetchone()[0] == 6
    assert con.execute("SELECT count(*) FROM ingest_problems WHERE severity = 'error'"
                       ).fetchone()[0] == 6
    assert con.execute("SELECT lines_in, records_stored, records_skipped, blank_lines "
                       "FROM provenance").fetchone() == (11, 4, 6, 1)


def test_label_case_normalized_with_warning_and_numbers_coerced(tmp_path):
    rec = conversation("user7_task1_conversation1", [("a", ["Task_Motivation"]), ("b", [])],
                       survey=[{"age": 31, "gender": "Male", "education": "Graduate",
                                "occupation": "Nurse", "frequency": 5, "purposes": "x"}])
    res = ingest_file(write_jsonl(tmp_path / "c.jsonl", [rec]))
    assert list(res.thoughts["label"]) == ["task_motivation"]
    conv = res.conversations.iloc[0]
    assert conv["age"] == "31" and conv["age_bracket"] == "25-34" and conv["ai_frequency"] == 5
    assert {p.field for p in res.warnings} >= {"messages[0].reasons[0].label",
                                               "survey_answers[0].age"}


def test_thought_on_wrong_role_is_dropped_and_empty_conversation_is_an_error(tmp_path):
    wrong = conversation("user8_task1_conversation1", [("a", [])])
    wrong["messages"][0]["reactions"] = [{"content": "c", "timestamp": None,
                                          "label": "explicit_affirmation"}]
    empty = conversation("user9_task1_conversation1", [])
    res = ingest_file(write_jsonl(tmp_path / "w.jsonl", [wrong, empty]))
    assert list(res.conversations["conv_id"]) == ["user8_task1_conversation1"]
    assert len(res.messages) == 1 and len(res.thoughts) == 0
    assert {p.line: p.field for p in res.errors} == {2: "messages"}
    assert [(p.line, p.field) for p in res.warnings] == [(1, "messages[0].reactions")]


def test_gzip_source(tmp_path):
    rec = conversation("user1_task1_conversation1", [("a", ["task_motivation"]), ("b", [])])
    gz = tmp_path / "c.jsonl.gz"
    with gzip.open(gz, "wb") as fh:
        fh.write((json.dumps(rec) + "\n").encode())
    res = ingest_file(gz)
    assert res.records_stored == 1 and len(res.thoughts) == 1


def test_all_label_codes_known():
    assert len(REASON_CODES) == 7 and len(REACTION_CODES) == 5


def test_unhashable_role_is_a_clear_error(tmp_path):
    # found by the hypothesis test in test_hostile.py
    rec = conversation("user1_task1_conversation1", [("a", [])])
    rec["messages"][0]["type"] = []
    res = ingest_file(write_jsonl(tmp_path / "r.jsonl", [rec]))
    assert res.records_stored == 0
    assert [(p.line, p.field) for p in res.errors] == [(1, "messages")]
    assert [(p.line, p.field) for p in res.warnings] == [(1, "messages[0].type")]
