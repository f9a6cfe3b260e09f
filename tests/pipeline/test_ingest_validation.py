"""Ingest validation, field by field: what is kept, what becomes NULL, what is skipped and
what fails the command. Each test builds a tiny corpus in code; the answers are counted by
hand from it."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from datetime import UTC, datetime

import duckdb
import pandas as pd
import pytest

from precompute.ingest import QUOTE_CHARS, IngestError, ingest_file, ingest_lines
from tests.corpus import conversation, ingest_db, write_jsonl

CID = "user1_task1_conversation1"


def _rec(conv_id: str = CID) -> dict:
    """4 messages (user, assistant, user, assistant), one thought on each."""
    return conversation(conv_id, [("first question", ["task_motivation"]),
                                  ("first answer", ["explicit_affirmation"]),
                                  ("second question", ["task_continuation"]),
                                  ("second answer", ["scope_fit"])])


def _line(obj) -> bytes:
    return json.dumps(obj).encode()


def _one(rec: dict, **kw):
    """Ingest one record (written with ASCII escapes, as json.dumps does by default)."""
    return ingest_lines([_line(rec)], file="t.jsonl", **kw)


def _warned(res, field: str) -> str:
    found = [p.message for p in res.warnings if p.field == field]
    assert len(found) == 1, (field, [(p.field, p.message) for p in res.problems])
    return found[0]


def _stat(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns


# ------------------------------------------------------------------ lone surrogates

def test_lone_surrogates_are_replaced_with_a_warning_per_field(tmp_path):
    rec = _rec("user1_task1_\ud800x")
    rec["model_name"] = "GPT-\udfff"
    rec["survey_answers"][0]["occupation"] = "Nurse\ud83d"
    rec["messages"][0]["content"] = "a \ud800 b \udc00 c"
    rec["messages"][1]["reactions"][0]["content"] = "\udbff"
    rec["messages"][2]["reasons"][0]["label"] = "task_continuation\ud800"  # then unknown
    rec["extra\ud800key"] = 1
    raw = _line(rec)
    assert b"\\ud800" in raw  # the file holds JSON escapes, which are valid JSON
    res = ingest_lines([raw], file="t.jsonl")
    assert res.records_stored == 1 and not res.errors
    conv = res.conversations.iloc[0]
    assert conv["conv_id"] == "user1_task1_\ufffdx" and conv["model_name"] == "GPT-\ufffd"
    assert conv["occupation"] == "Nurse\ufffd"
    msgs = res.messages.set_index("turn")["content"]
    assert msgs[1] == "a \ufffd b \ufffd c"
    assert list(res.thoughts["content"])[1] == "\ufffd"
    sur = {p.field: p for p in res.warnings if "surrogate" in p.message}
    assert set(sur) == {"id", "model_name", "survey_answers[0].occupation",
                        "messages[0].content", "messages[1].reactions[0].content",
                        "messages[2].reasons[0].label", "(key)"}
    assert "2 lone UTF-16 surrogate code points replaced by U+FFFD" in \
        sur["messages[0].content"].message
    assert all(p.line == 1 and p.file == "t.jsonl" and p.conv_id == "user1_task1_\ufffdx"
               for p in sur.values())
    # the label with a replaced character is no known label: that one thought is skipped
    skipped = [p.message for p in res.warnings if p.field == "messages[2].reasons[0].label"
               and "surrogate" not in p.message]
    assert len(skipped) == 1 and "task_continuation\ufffd" in skipped[0]
    assert "thought skipped" in skipped[0]
    assert len(res.thoughts) == 3
    # and the whole thing can be written to the DB (it used to end in a traceback)
    src = tmp_path / "s.jsonl"
    src.write_bytes(raw + b"\n")
    db = tmp_path / "s.duckdb"
    ingest_db(src, db)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT conv_id, model_name FROM conversations").fetchall() == [
        ("user1_task1_\ufffdx", "GPT-\ufffd")]
    assert con.execute("SELECT count(*) FROM ingest_problems WHERE message LIKE "
                       "'%surrogate%'").fetchone()[0] == 7
    con.close()


def test_surrogate_pairs_and_escaped_backslashes_are_not_touched():
    rec = _rec()
    rec["messages"][0]["content"] = "emoji \U0001F600 and a literal \\ud800"
    raw = _line(rec)
    assert b"\\ud83d\\ude00" in raw and b"\\\\ud800" in raw
    res = ingest_lines([raw], file="t.jsonl")
    assert res.messages.iloc[0]["content"] == "emoji \U0001F600 and a literal \\ud800"
    assert not res.problems


def test_raw_surrogate_bytes_are_invalid_utf8_and_skip_the_record():
    # CESU-8 style bytes for U+D800 are not UTF-8 (unlike the JSON escape above)
    res = ingest_lines([b'{"id": "user1_x\xed\xa0\x80", "messages": []}'], file="t.jsonl")
    assert res.records_skipped == 1 and "invalid UTF-8" in res.errors[0].message


# ------------------------------------------------------------------ BOM

def test_utf8_bom_is_read_and_the_checksum_is_of_the_file_bytes(tmp_path):
    path = tmp_path / "bom.jsonl"
    body = _line(_rec()) + b"\n" + _line(_rec("user2_task1_conversation1")) + b"\n"
    path.write_bytes(b"\xef\xbb\xbf" + body)
    res = ingest_file(path)
    assert res.records_stored == 2 and not res.problems
    assert res.input_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert res.input_sha256 != hashlib.sha256(body).hexdigest()
    gz = tmp_path / "bom.jsonl.gz"
    with gzip.open(gz, "wb") as fh:
        fh.write(b"\xef\xbb\xbf" + body)
    res = ingest_file(gz)
    assert res.records_stored == 2
    assert res.input_sha256 == hashlib.sha256(b"\xef\xbb\xbf" + body).hexdigest()


# ------------------------------------------------------------------ no usable record

GOOD = _line(_rec())

NOT_JSONL = [
    ("empty", [], "the file is empty (0 bytes)"),
    ("whitespace", [b"", b"   ", b"\t\r"], "only whitespace (3 blank lines)"),
    ("array_one_line", [b"[" + GOOD + b", " + GOOD + b"]"],
     "a JSON array (2 items over 1 lines), expected one JSON object per line (JSONL)"),
    ("array_pretty", json.dumps([_rec(), _rec()], indent=2).encode().split(b"\n"),
     "a JSON array (2 items over"),
    # one object per line inside brackets: the last object parses alone; still an array
    ("array_of_lines", [b"[", GOOD + b",", GOOD, b"]"], "a JSON array (2 items over 4 lines)"),
    ("object_pretty", json.dumps(_rec(), indent=2).encode().split(b"\n"),
     "one JSON object spread over"),
    ("utf16", ("\ufeff" + GOOD.decode()).encode("utf-16-le").split(b"\n"), "UTF-16"),
    ("binary", [b"\x89PNG\r", b"\x1a\x00\x00\x00\rIHDR"], "NUL bytes"),
    ("every_line_bad", [b"{oops", b"", b"[1, 2]", _line({"id": CID, "messages": []})],
     "no usable record: all 3 non-blank lines are bad; the first, line 1, (line): invalid "
     "JSON"),
]


@pytest.mark.parametrize("name, lines, message", NOT_JSONL, ids=[c[0] for c in NOT_JSONL])
@pytest.mark.parametrize("strict", [False, True])
def test_input_without_a_usable_record_is_a_clear_error(name, lines, message, strict):
    with pytest.raises(IngestError) as exc:
        ingest_lines(lines, file="in.jsonl", strict=strict, require_records=True)
    text = str(exc.value)
    assert "\n" not in text
    if strict and name == "every_line_bad":  # strict stops at the first bad line
        assert text.startswith("in.jsonl:1 (line): invalid JSON") and "--strict" in text
    else:
        assert text.startswith("in.jsonl: ") and message in text
    # the library call without require_records still accounts for every line
    if not strict:
        res = ingest_lines(lines, file="in.jsonl")
        assert res.lines_in == res.records_stored + res.records_skipped + res.blank_lines


def test_a_json_array_error_says_how_to_convert_it():
    with pytest.raises(IngestError, match=r"jq -c '\.\[\]' 'my file.json' > records.jsonl"):
        ingest_lines([b"[" + GOOD + b"]"], file="my file.json", require_records=True)


@pytest.mark.parametrize("name, lines, message", NOT_JSONL, ids=[c[0] for c in NOT_JSONL])
def test_input_without_a_usable_record_leaves_the_db_untouched(tmp_path, name, lines,
                                                               message):
    db = tmp_path / "good.duckdb"
    ingest_db(write_jsonl(tmp_path / "good.jsonl", [_rec()]), db)
    before = _stat(db)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join(lines) + (b"\n" if lines else b""))
    with pytest.raises(IngestError, match="bad.jsonl: "):
        ingest_db(bad, db)
    assert _stat(db) == before
    assert not list(tmp_path.glob(".good.duckdb.building-*"))
    # and no DB at all is made from it
    fresh = tmp_path / "fresh.duckdb"
    with pytest.raises(IngestError):
        ingest_db(bad, fresh)
    assert not fresh.exists()


def test_one_usable_record_among_bad_lines_is_enough(tmp_path):
    res = ingest_lines([b"{oops", GOOD], file="t.jsonl", require_records=True)
    assert res.records_stored == 1 and res.records_skipped == 1


# ------------------------------------------------------------------ bad optional fields

def _set(path: tuple, value):
    def mutate(rec):
        target = rec
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


def _drop(path: tuple):
    def mutate(rec):
        target = rec
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return mutate


#: (case, mutation, field warned about, fragment of the warning, check of the result)
NULLED = [
    ("created_at_unparseable", _set(("created_at",), "yesterday"), "created_at",
     'got string "yesterday"; stored as NULL',
     lambda r: pd.isna(r.conversations.iloc[0]["created_at"])),
    ("updated_at_number", _set(("updated_at",), 1712880000), "updated_at",
     "got int 1712880000; stored as NULL",
     lambda r: pd.isna(r.conversations.iloc[0]["updated_at"])),
    ("created_at_month_13", _set(("created_at",), "2026-13-45T00:00:00Z"), "created_at",
     "stored as NULL", lambda r: pd.isna(r.conversations.iloc[0]["created_at"])),
    ("message_timestamp", _set(("messages", 1, "timestamp"), ""), "messages[1].timestamp",
     'got string ""; stored as NULL', lambda r: pd.isna(r.messages.iloc[1]["timestamp"])),
    ("thought_timestamp", _set(("messages", 0, "reasons", 0, "timestamp"), {"t": 1}),
     "messages[0].reasons[0].timestamp", 'got object {"t": 1}; stored as NULL',
     lambda r: pd.isna(r.thoughts.iloc[0]["timestamp"]) and len(r.thoughts) == 4),
    ("model_name_list", _set(("model_name",), ["a", "b"]), "model_name",
     'got array ["a", "b"]; stored as NULL',
     lambda r: pd.isna(r.conversations.iloc[0]["model_name"])),
    ("task_summary_bool", _set(("task_summary",), True), "task_summary",
     "got bool true; stored as NULL",
     lambda r: pd.isna(r.conversations.iloc[0]["task_summary"])),
    ("message_id_string", _set(("messages", 0, "id"), "abc"), "messages[0].id",
     'expected an integer, got string "abc"; stored as NULL',
     lambda r: pd.isna(r.messages.iloc[0]["message_id"])),
    ("message_id_float", _set(("messages", 0, "id"), 1.5), "messages[0].id",
     "got float 1.5", lambda r: pd.isna(r.messages.iloc[0]["message_id"])),
    ("message_id_bool", _set(("messages", 0, "id"), True), "messages[0].id",
     "got bool true", lambda r: pd.isna(r.messages.iloc[0]["message_id"])),
    ("message_id_too_big", _set(("messages", 0, "id"), 2**70), "messages[0].id",
     "within 64 bits, got 1180591620717411303424",
     lambda r: pd.isna(r.messages.iloc[0]["message_id"])),
    ("message_content_object", _set(("messages", 2, "content"), {"text": "x"}),
     "messages[2].content", 'got object {"text": "x"}; stored as NULL',
     lambda r: pd.isna(r.messages.iloc[2]["content"]) and r.messages.iloc[2]["n_chars"] == 0),
    ("message_content_missing", _drop(("messages", 2, "content")), "messages[2].content",
     "missing; expected a string; stored as NULL",
     lambda r: pd.isna(r.messages.iloc[2]["content"])),
    ("thought_content_list", _set(("messages", 1, "reactions", 0, "content"), [1]),
     "messages[1].reactions[0].content", "got array [1]; stored as NULL",
     lambda r: pd.isna(r.thoughts.iloc[1]["content"]) and len(r.thoughts) == 4),
    ("survey_answer_object", _set(("survey_answers", 0, "gender"), {"x": 1}),
     "survey_answers[0].gender", 'got object {"x": 1}; stored as NULL',
     lambda r: pd.isna(r.conversations.iloc[0]["gender"])
     and r.conversations.iloc[0]["age"] == "31"),
    ("survey_two_objects", _set(("survey_answers",), [{"age": "31"}, {"age": "40"}]),
     "survey_answers", 'expected 0 or 1 object, got 2: [{"age": "31"}, {"age": "40"}]; '
     "survey columns stored as NULL",
     lambda r: not r.conversations.iloc[0]["has_survey"]
     and pd.isna(r.conversations.iloc[0]["age"])),
    ("survey_string", _set(("survey_answers",), "n/a"), "survey_answers",
     'got string "n/a"; survey columns stored as NULL',
     lambda r: not r.conversations.iloc[0]["has_survey"]),
    ("survey_item_not_object", _set(("survey_answers",), [5]), "survey_answers[0]",
     "expected an object, got int 5",
     lambda r: not r.conversations.iloc[0]["has_survey"]),
    ("survey_bare_object", _set(("survey_answers",), {"age": "40", "frequency": "2"}),
     "survey_answers", "got an object; read as that one object",
     lambda r: r.conversations.iloc[0]["has_survey"]
     and r.conversations.iloc[0]["age_bracket"] == "35-44"
     and r.conversations.iloc[0]["ai_frequency"] == 2),
    ("naive_timestamps", _set(("messages", 0, "timestamp"), "2026-04-12T03:00:00"),
     "messages[0].timestamp", "timestamp without a time zone; read as UTC",
     lambda r: r.messages.iloc[0]["timestamp"] == datetime(2026, 4, 12, 3, tzinfo=UTC)),
]


@pytest.mark.parametrize("case, mutate, field, fragment, check", NULLED,
                         ids=[c[0] for c in NULLED])
def test_a_bad_optional_field_becomes_null_and_the_record_is_kept(case, mutate, field,
                                                                  fragment, check):
    rec = _rec()
    mutate(rec)
    res = _one(rec)
    assert res.records_stored == 1 and not res.errors
    assert len(res.messages) == 4
    assert fragment in _warned(res, field)
    assert check(res)


#: (case, mutation, field warned about, fragment, labels of the thoughts that remain)
THOUGHT_SKIPPED = [
    ("label_null", _set(("messages", 1, "reactions", 0, "label"), None),
     "messages[1].reactions[0].label", "got null; thought skipped",
     ["task_motivation", "task_continuation", "scope_fit"]),
    ("label_unknown", _set(("messages", 1, "reactions", 0, "label"), "very_happy"),
     "messages[1].reactions[0].label", 'got string "very_happy"; thought skipped',
     ["task_motivation", "task_continuation", "scope_fit"]),
    ("label_not_string", _set(("messages", 0, "reasons", 0, "label"), 3),
     "messages[0].reasons[0].label", "got int 3; thought skipped",
     ["explicit_affirmation", "task_continuation", "scope_fit"]),
    ("reaction_label_on_reason", _set(("messages", 0, "reasons", 0, "label"), "scope_fit"),
     "messages[0].reasons[0].label", "expected a reason label",
     ["explicit_affirmation", "task_continuation", "scope_fit"]),
    ("thought_not_object", _set(("messages", 2, "reasons", 0), "fine"),
     "messages[2].reasons[0]", 'expected a thought object, got string "fine"; thought skipped',
     ["task_motivation", "explicit_affirmation", "scope_fit"]),
    ("thoughts_not_a_list", _set(("messages", 3, "reactions"), {"label": "scope_fit"}),
     "messages[3].reactions", "expected an array of thoughts or null, got object",
     ["task_motivation", "explicit_affirmation", "task_continuation"]),
    ("thoughts_a_string", _set(("messages", 3, "reactions"), "none"),
     "messages[3].reactions", 'got string "none"; no thought stored from it',
     ["task_motivation", "explicit_affirmation", "task_continuation"]),
    ("reasons_on_assistant", _set(("messages", 1, "reasons"),
                                  [{"content": "c", "label": "task_motivation"}]),
     "messages[1].reasons", "a assistant message carries reasons; expected reactions only; "
     'its 1 thoughts skipped: [{"content": "c", "label": "task_motivation"}]',
     ["task_motivation", "explicit_affirmation", "task_continuation", "scope_fit"]),
]


@pytest.mark.parametrize("case, mutate, field, fragment, labels", THOUGHT_SKIPPED,
                         ids=[c[0] for c in THOUGHT_SKIPPED])
def test_a_bad_thought_is_skipped_and_the_record_is_kept(case, mutate, field, fragment,
                                                         labels):
    rec = _rec()
    mutate(rec)
    res = _one(rec)
    assert res.records_stored == 1 and not res.errors and len(res.messages) == 4
    assert fragment in _warned(res, field)
    assert list(res.thoughts["label"]) == labels
    conv = res.conversations.iloc[0]
    assert conv["n_thoughts"] == len(labels)
    assert conv["n_reasons"] + conv["n_reactions"] == len(labels)
    assert list(res.messages["n_thoughts"]) == [
        sum(1 for t in res.thoughts["turn"] if t == turn) for turn in (1, 2, 3, 4)]


def test_positions_count_the_kept_thoughts():
    rec = _rec()
    rec["messages"][0]["reasons"] = [{"content": "a", "label": "nope"},
                                     {"content": "b", "label": "task_motivation"},
                                     {"content": "c", "label": "Style Expectation"}]
    res = _one(rec)
    first = res.thoughts[res.thoughts["turn"] == 1]
    assert list(first["idx"]) == [0, 1] and list(first["content"]) == ["b", "c"]
    assert list(res.thoughts["thought_id"]) == [1, 2, 3, 4, 5]
    assert _warned(res, "messages[0].reasons[2].label") == \
        "label 'Style Expectation' normalized to 'style_expectation'"


def test_an_unusable_message_is_skipped_and_the_turns_close_up():
    rec = conversation(CID, [(f"m{i}", []) for i in range(6)])
    rec["messages"][1] = "not a message"
    rec["messages"][3]["type"] = "system"
    rec["messages"][3]["reactions"] = [{"content": "x", "label": "scope_fit"}]
    res = _one(rec)
    assert res.records_stored == 1 and not res.errors
    # 4 of 6 kept: turns 1..4, stages by the rule over n = 4 (0, 1, 2, 3)
    assert list(res.messages["content"]) == ["m0", "m2", "m4", "m5"]
    assert list(res.messages["turn"]) == [1, 2, 3, 4]
    assert list(res.messages["stage_idx"]) == [0, 1, 2, 3]
    assert res.conversations.iloc[0]["n_messages"] == 4
    assert 'expected a message object, got string "not a message"; message skipped' == \
        _warned(res, "messages[1]")
    assert _warned(res, "messages[3].type").startswith(
        "expected 'user' or 'assistant', got string \"system\"; message skipped (with its 1 "
        "thoughts): {")


def test_a_dropped_value_is_quoted_truncated():
    rec = _rec()
    rec["messages"][2]["type"] = None
    rec["messages"][2]["content"] = "x" * 10_000
    res = _one(rec)
    msg = _warned(res, "messages[2].type")
    assert "characters)" in msg and len(msg) < QUOTE_CHARS + 200
    assert '"content": "xxx' in msg


@pytest.mark.parametrize("mutate, field, message", [
    (_set(("messages",), [1, "two", None]), "messages",
     "none of the 3 messages is usable"),
    (_set(("messages",), []), "messages", "expected at least one message"),
    (_set(("messages",), {"0": {}}), "messages", "expected an array of messages, got object"),
    (_drop(("messages",)), "messages", "missing; expected a non-empty array"),
    (_set(("id",), 12345), "id", "expected a non-empty string, got int 12345"),
    (_set(("id",), "  "), "id", 'got string "  "'),
    (_drop(("id",)), "id", "missing"),
], ids=["no_usable_message", "empty", "messages_object", "no_messages", "id_number",
        "id_blank", "no_id"])
def test_a_record_without_usable_id_or_messages_is_skipped(mutate, field, message):
    rec = _rec()
    mutate(rec)
    res = ingest_lines([_line(rec), b"", _line(_rec("user2_task1_conversation1"))],
                       file="t.jsonl")
    assert res.records_stored == 1 and res.records_skipped == 1 and res.blank_lines == 1
    assert res.lines_in == res.records_stored + res.records_skipped + res.blank_lines
    assert [(p.line, p.field) for p in res.errors] == [(1, field)]
    assert message in res.errors[0].message
    assert list(res.rejected["line"]) == [1]
    assert json.loads(res.rejected.iloc[0]["raw"]) == rec  # verbatim


def test_problem_rows_and_counts_are_stored(tmp_path):
    keep = _rec()
    keep["created_at"] = "soon"
    keep["messages"][1]["reactions"][0]["label"] = None
    drop = _rec("user2_task1_conversation1")
    drop["messages"] = ["a", "b"]
    src = write_jsonl(tmp_path / "p.jsonl", [keep, "", drop, "{"])
    db = tmp_path / "p.duckdb"
    ingest_db(src, db)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT lines_in, records_stored, records_skipped, blank_lines, "
                       "n_errors, n_warnings, n_thoughts FROM provenance").fetchone() == (
        4, 1, 2, 1, 2, 4, 3)
    rows = con.execute("SELECT severity, line, conv_id, field FROM ingest_problems "
                       "ORDER BY line, severity DESC, field").fetchall()
    assert rows == [
        ("warning", 1, CID, "created_at"),
        ("warning", 1, CID, "messages[1].reactions[0].label"),
        ("warning", 3, "user2_task1_conversation1", "messages[0]"),
        ("warning", 3, "user2_task1_conversation1", "messages[1]"),
        ("error", 3, "user2_task1_conversation1", "messages"),
        ("error", 4, None, "(line)"),
    ]
    assert con.execute("SELECT line FROM rejected_records ORDER BY line").fetchall() == [
        (3,), (4,)]
    assert con.execute("SELECT created_at FROM conversations").fetchone() == (None,)
    con.close()


def test_strict_fails_on_errors_only(tmp_path):
    warned = _rec()
    warned["created_at"] = "soon"
    warned["messages"][0]["reasons"][0]["label"] = "???"
    res = _one(warned, strict=True)
    assert res.records_stored == 1 and len(res.warnings) == 2
    bad = _rec("user2_task1_conversation1")
    bad["messages"] = []
    with pytest.raises(IngestError, match=r"t.jsonl:2 \[user2_task1_conversation1\] "
                                          r"messages: expected at least one message"):
        ingest_lines([_line(warned), _line(bad)], file="t.jsonl", strict=True)
    # the error of a record without a usable message says why its first message is not
    bad["messages"] = ["hello", {"type": "bot"}]
    with pytest.raises(IngestError, match=r"t.jsonl:1 \[user2_task1_conversation1\] "
                                          r"messages: none of the 2 messages is usable \(the "
                                          r"first, messages\[0\]: expected a message object, "
                                          r'got string "hello"; message skipped\)'):
        ingest_lines([_line(bad)], file="t.jsonl", strict=True)


# ------------------------------------------------------------------ other hostile values

def test_timestamps_with_and_without_zone_and_other_offsets_are_stored_in_utc(tmp_path):
    rec = _rec()
    rec["created_at"] = "2026-04-12T02:00:00+02:00"
    rec["updated_at"] = "2026-04-12"
    rec["messages"][0]["timestamp"] = "2026-04-12T01:00:00z"
    rec["messages"][1]["timestamp"] = "2026-04-12T01:00:00"
    rec["messages"][2]["timestamp"] = "0001-01-01T00:00:00+01:00"  # before year 1 in UTC
    src = write_jsonl(tmp_path / "t.jsonl", [rec])
    db = tmp_path / "t.duckdb"
    ingest_db(src, db)  # a mix of naive and aware datetimes used to fail the DB write
    con = duckdb.connect(str(db), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    assert con.execute("SELECT created_at::VARCHAR, updated_at::VARCHAR FROM conversations"
                       ).fetchone() == ("2026-04-12 00:00:00+00", "2026-04-12 00:00:00+00")
    assert [r[0] for r in con.execute("SELECT timestamp::VARCHAR FROM messages ORDER BY turn"
                                      ).fetchall()] == [
        "2026-04-12 01:00:00+00", "2026-04-12 01:00:00+00", None, "2026-04-12 01:00:00+00"]
    problems = dict(con.execute("SELECT field, message FROM ingest_problems").fetchall())
    con.close()
    assert problems["updated_at"] == ("timestamp without a time zone; read as UTC (and 1 more "
                                      "in this record)")
    assert "stored as NULL" in problems["messages[2].timestamp"]


def test_an_integer_too_long_to_read_is_a_line_error():
    res = ingest_lines([b'{"id": "user1_x", "n": ' + b"9" * 5000 + b"}"], file="t.jsonl")
    assert res.records_skipped == 1
    assert res.errors[0].field == "(line)" and "4300" in res.errors[0].message


def test_crlf_line_ends_and_nul_escapes(tmp_path):
    rec = _rec()
    rec["messages"][0]["content"] = "a\u0000b"
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(_line(rec) + b"\r\n\r\n" + _line(_rec("user2_task1_conversation1"))
                     + b"\r\n")
    res = ingest_file(path)
    assert (res.records_stored, res.blank_lines, len(res.problems)) == (2, 1, 0)
    assert res.messages.iloc[0]["content"] == "a\x00b"


@pytest.mark.parametrize("content, message", [
    (b"{}\n", "not gzip data although the name ends in .gz"),
    (gzip.compress(GOOD + b"\n")[:-12], "the gzip data is truncated or corrupt"),
    (gzip.compress(GOOD + b"\n")[:10] + b"\x00" * 40, "the gzip data is truncated or corrupt"),
], ids=["plain_text", "truncated", "corrupt"])
def test_a_broken_gzip_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(content)
    with pytest.raises(IngestError, match=message):
        ingest_file(path)


def test_a_directory_as_source_is_a_clear_error(tmp_path):
    from precompute.sources import SourceError

    folder = tmp_path / "data.jsonl"
    folder.mkdir()
    with pytest.raises(SourceError, match=r"data.jsonl: is a directory \(expected a .jsonl"):
        ingest_db(folder, tmp_path / "t.duckdb")
