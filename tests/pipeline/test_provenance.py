"""Provenance adds up, and the derived columns are what the README's table says they are.

One build of a small hostile-ish file written here (blank and whitespace-only lines, a line
that is not JSON, a duplicate id, a record without messages, and records with warnings:
a label in another case, an unknown label, a system message, an implausible age, a bad
AI-use frequency, a bare survey object, two survey objects, a timestamp without a zone).
Then ``provenance`` must agree with the tables (``n_errors`` / ``n_warnings`` = the rows
of ``ingest_problems`` by severity, ``n_messages`` / ``n_thoughts`` = the rows of
``messages`` / ``thoughts``, ``records_skipped`` = the rows of ``rejected_records``),
with the hand counts, and with the file (``input_sha256`` = sha256 of its bytes, after
gunzip for ``.gz``; ``lines_in = records_stored + records_skipped + blank_lines``).

Derived columns against hand counts: ``n_messages``, ``n_user_messages``, ``n_thoughts``,
``n_reasons``, ``n_reactions``, ``n_dissatisfied`` (content_relevance, presentation_style,
scope_fit; not partial_satisfaction), ``has_survey``, ``messages.n_chars`` (characters =
code points: an emoji is one) and ``messages.n_thoughts``; the age brackets (each edge and
its neighbours, 13-100 plausible) and the AI-use frequency (``"1"``-``"5"``).
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from precompute import pipeline
from precompute.config import Settings
from precompute.labels import age_bracket
from tests.corpus import conversation, write_jsonl

TM, TC, CE, SO = ("task_motivation", "task_continuation", "content_expectation",
                  "social_and_others")
EA, PAR, CR, PS, SF = ("explicit_affirmation", "partial_satisfaction", "content_relevance",
                       "presentation_style", "scope_fit")
A, B = "user1_task1_conversation1", "user2_task1_conversation1"
D, E, F = "user3_task2_conversation1", "user4_task1_conversation1", "user5_task1_conversation1"


def hostile_lines() -> list:
    """The file, line by line (see the expected counts in `EXPECTED`)."""
    # A: 4 messages (2 user), reasons TM, TC, SO (3), reactions CR, PS, PAR, SF, EA (5),
    # dissatisfied CR, PS, SF (3); no problem
    a = conversation(A, [("Héllo wörld", [TM]), ("answer one", [CR, PS, PAR]),
                         ("next 🙂", [TC, SO]), ("answer two", [SF, EA])])
    # B: 4 warnings: "Scope Fit" read as scope_fit; unknown reason "happy" skipped; age 366
    # (raw text, no bracket); frequency "7" (NULL). Kept thoughts: TM, scope_fit
    b = conversation(B, [("q", [TM]), ("a", ["Scope Fit"]), ("q2", ["happy"]), ("a2", [])],
                     survey=[{"age": "366", "gender": "Male", "education": "Graduate",
                              "occupation": "x", "frequency": "7", "purposes": "y"}])
    # C: no message at all: an error, the record is skipped
    c = {**conversation("user3_task1_conversation1", [("x", [])]), "messages": []}
    # D: a system message between the two: 1 warning, skipped with its thought; turns close
    # up (2 messages kept); survey [] = no survey, no warning
    d = conversation(D, [("only user", [CE]), ("reply", [EA])], survey=[])
    d["messages"].insert(1, {"id": 7, "timestamp": "2026-04-12T01:00:00Z", "type": "system",
                             "content": "sys", "reasons": [{"content": "t", "label": TM,
                                                            "timestamp": None}]})
    # E: one user message; a bare survey object (1 warning, read as the object): age 13
    e = conversation(E, [("x", [])])
    e["survey_answers"] = {"age": "13", "gender": "Female", "education": "Graduate",
                           "occupation": "x", "frequency": "1", "purposes": "y"}
    # F: two survey objects (1 warning, no survey) and created_at without a zone (1 warning);
    # it ends with two user messages in a row: 4 messages, 3 of them user messages
    f = conversation(F, [("f1", [TM]), ("f2", [])],
                     survey=[{"age": "30"}, {"age": "40"}])
    f["created_at"] = "2026-04-12T00:52:57"
    f["messages"] += [{**f["messages"][0], "id": 2000 + k, "content": f"f{3 + k}",
                       "reasons": []} for k in range(2)]
    return [
        a,                  # 1
        "",                 # 2 blank
        "   \t",            # 3 blank (whitespace only)
        "{not json",        # 4 error: not JSON
        b,                  # 5
        copy.deepcopy(a),   # 6 error: duplicate id
        c,                  # 7 error: no message
        d,                  # 8
        e,                  # 9
        f,                  # 10
    ]


EXPECTED = {"lines_in": 10, "blank_lines": 2, "records_stored": 5, "records_skipped": 3,
            "n_errors": 3, "n_warnings": 4 + 1 + 1 + 2,
            "n_messages": 4 + 4 + 2 + 1 + 4, "n_thoughts": 8 + 2 + 2 + 0 + 1}

#: conv_id -> (n_messages, n_user_messages, n_thoughts, n_reasons, n_reactions,
#: n_dissatisfied, has_survey, age, age_bracket, ai_frequency)
CONVERSATIONS = {
    A: (4, 2, 8, 3, 5, 3, True, "31", "25-34", 4),
    B: (4, 2, 2, 1, 1, 1, True, "366", None, None),
    D: (2, 1, 2, 1, 1, 0, False, None, None, None),
    E: (1, 1, 0, 0, 0, 0, True, "13", "13-17", 1),
    F: (4, 3, 1, 1, 0, 0, False, None, None, None),
}


def _build(src: Path, db: Path) -> duckdb.DuckDBPyConnection:
    pipeline.build(Settings(source=str(src), db=db, progress=False), only=("ingest",),
                   log=lambda _: None)
    return duckdb.connect(str(db), read_only=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("provenance")
    src = write_jsonl(d / "hostile.jsonl", hostile_lines())
    con = _build(src, d / "p.duckdb")
    yield src, con
    con.close()


def _prov(con) -> dict:
    cur = con.execute("SELECT * FROM provenance")
    [row] = cur.fetchall()
    return dict(zip([c[0] for c in cur.description], row))


def _one(con, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchall()[0][0]


def test_provenance_counts_are_the_hand_counts(built):
    _, con = built
    prov = _prov(con)
    assert {k: prov[k] for k in EXPECTED} == EXPECTED
    assert prov["lines_in"] == prov["records_stored"] + prov["records_skipped"] + \
        prov["blank_lines"]
    assert prov["source_kind"] == "file" and prov["is_demo"] is False


def test_provenance_adds_up_against_the_tables(built):
    _, con = built
    prov = _prov(con)
    assert prov["n_errors"] == _one(con, "SELECT count(*) FROM ingest_problems "
                                         "WHERE severity = 'error'")
    assert prov["n_warnings"] == _one(con, "SELECT count(*) FROM ingest_problems "
                                           "WHERE severity = 'warning'")
    assert _one(con, "SELECT count(*) FROM ingest_problems") == \
        prov["n_errors"] + prov["n_warnings"]
    assert prov["n_messages"] == _one(con, "SELECT count(*) FROM messages")
    assert prov["n_thoughts"] == _one(con, "SELECT count(*) FROM thoughts")
    assert prov["records_stored"] == _one(con, "SELECT count(*) FROM conversations")
    assert prov["records_skipped"] == _one(con, "SELECT count(*) FROM rejected_records")
    # the per-conversation counts add up to the totals too
    assert _one(con, "SELECT sum(n_messages) FROM conversations") == prov["n_messages"]
    assert _one(con, "SELECT sum(n_thoughts) FROM conversations") == prov["n_thoughts"]
    assert _one(con, "SELECT sum(n_thoughts) FROM messages") == prov["n_thoughts"]
    assert _one(con, "SELECT sum(n_reasons) + sum(n_reactions) FROM conversations") == \
        prov["n_thoughts"]


def test_problems_and_rejected_records_name_their_lines(built):
    _, con = built
    assert con.execute("SELECT line FROM ingest_problems WHERE severity = 'error' "
                       "ORDER BY line").fetchall() == [(4,), (6,), (7,)]
    assert con.execute("SELECT line, conv_id FROM rejected_records ORDER BY line"
                       ).fetchall() == [(4, None), (6, A), (7, "user3_task1_conversation1")]
    warnings = con.execute("SELECT line, count(*) FROM ingest_problems WHERE severity = "
                           "'warning' GROUP BY 1 ORDER BY 1").fetchall()
    assert warnings == [(5, 4), (8, 1), (9, 1), (10, 2)]


def test_input_sha256_is_the_checksum_of_the_file(built):
    src, con = built
    assert _prov(con)["input_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()


def test_input_sha256_of_a_gz_file_is_that_of_its_decompressed_bytes(built, tmp_path):
    src, _ = built
    gz = tmp_path / "hostile.jsonl.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    con = _build(gz, tmp_path / "gz.duckdb")
    try:
        prov = _prov(con)
        assert prov["input_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
        assert prov["input_sha256"] != hashlib.sha256(gz.read_bytes()).hexdigest()
        assert {k: prov[k] for k in EXPECTED} == EXPECTED
    finally:
        con.close()


def test_derived_conversation_columns(built):
    _, con = built
    rows = con.execute("""
        SELECT conv_id, n_messages, n_user_messages, n_thoughts, n_reasons, n_reactions,
               n_dissatisfied, has_survey, age, age_bracket, ai_frequency
        FROM conversations ORDER BY conv_id""").fetchall()
    assert {r[0]: tuple(r[1:]) for r in rows} == CONVERSATIONS


def test_derived_message_columns(built):
    _, con = built
    rows = con.execute("SELECT turn, role, n_chars, n_thoughts FROM messages WHERE conv_id = ?"
                       " ORDER BY turn", [A]).fetchall()
    # "Héllo wörld" 11, "answer one" 10, "next 🙂" 6 (the emoji is one character), 10
    assert rows == [(1, "user", 11, 1), (2, "assistant", 10, 3), (3, "user", 6, 2),
                    (4, "assistant", 10, 2)]
    # D: the system message is gone, the turns close up
    assert con.execute("SELECT turn, role, content, n_thoughts FROM messages WHERE conv_id = "
                       "? ORDER BY turn", [D]).fetchall() == [
        (1, "user", "only user", 1), (2, "assistant", "reply", 1)]


# ------------------------------------------------------------------ age and frequency edges

AGES = [  # raw answer -> bracket (13-100 plausible; brackets 13-17 ... 55-64, 65+)
    ("12", None), ("13", "13-17"), ("17", "13-17"), ("18", "18-24"), ("24", "18-24"),
    ("25", "25-34"), ("34", "25-34"), ("35", "35-44"), ("44", "35-44"), ("45", "45-54"),
    ("54", "45-54"), ("55", "55-64"), ("64", "55-64"), ("65", "65+"), ("99", "65+"),
    ("100", "65+"), ("101", None), ("0", None), (" 30 ", "25-34"), ("30.0", None),
    ("thirty", None), ("", None), ("030", "25-34"), ("²", None),
]
FREQS = [  # raw answer -> ai_frequency
    ("0", None), ("1", 1), ("2", 2), ("5", 5), ("6", None), (" 3 ", 3), ("3.0", None),
    ("", None), ("five", None), ("-1", None),
]


@pytest.mark.parametrize("raw, bracket", AGES)
def test_age_bracket_edges(raw, bracket):
    assert age_bracket(raw) == bracket


def test_age_and_frequency_edges_through_a_build(tmp_path):
    """One record per age (and a frequency beside it; an int where a string belongs is read
    as its text, with a warning); the stored columns are the hand-counted ones: the raw age
    text is kept as given, garbage included."""
    ages = AGES + [(45, "45-54")]
    freqs = FREQS + [(3, 3)] + [("4", 4)] * (len(ages) - len(FREQS) - 1)
    records = [conversation(f"user{i}_task1_conversation1", [("q", [])],
                            survey=[{"age": age, "gender": "x", "education": "x",
                                     "occupation": "x", "frequency": freq, "purposes": "x"}])
               for i, ((age, _), (freq, _)) in enumerate(zip(ages, freqs))]
    src = write_jsonl(tmp_path / "ages.jsonl", records)
    con = _build(src, tmp_path / "ages.duckdb")
    try:
        got = con.execute("SELECT age, age_bracket, ai_frequency FROM conversations "
                          "ORDER BY source_line").fetchall()
        assert got == [(str(a), b, f) for (a, b), (_, f) in zip(ages, freqs)]
        # warnings: age 12, 101, 0, 30.0, thirty, "", ² (no bracket) and the int 45 (8);
        # frequency 0, 6, 3.0, "", five, -1 (NULL) and the int 3 (7)
        by_field = dict(con.execute("SELECT regexp_extract(field, '[a-z]+$'), count(*) FROM "
                                    "ingest_problems GROUP BY 1").fetchall())
        assert by_field == {"age": 8, "frequency": 7}
    finally:
        con.close()


def test_json_of_the_hostile_file_is_what_the_test_says(built):
    """The file really holds the defects (so the counts above are not vacuous)."""
    src, _ = built
    lines = src.read_bytes().split(b"\n")
    assert lines[1] == b"" and lines[2].strip() == b"" and lines[3] == b"{not json"
    assert json.loads(lines[5])["id"] == json.loads(lines[0])["id"] == A
