"""Hostile input files, run through the command line as a user would.

`hostile_cases()` is a generator of whole files somebody else may hand us (lone UTF-16
surrogates, a BOM, an empty or whitespace-only file, a JSON array on one line or
pretty-printed, every line bad, a truncated last line, each bad optional field, a huge
line, NUL bytes, CRLF line ends, a .gz that is not gzip, UTF-16, ...). Each one goes through
``python -m precompute ingest --source F --db D`` (a few also through ``build``) over a
good DB made first: a file with a usable record is stored and every line is accounted
for; any other file fails with exit code 2 and one clear line on stderr, no traceback, and
the DB byte-identical with the same mtime.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.corpus import REPO, conversation

GOOD_ID = "user1_task1_conversation1"


@dataclass(frozen=True)
class Case:
    """One hostile file: its name, its bytes, and what the CLI must do with it."""

    name: str
    filename: str
    content: bytes
    stored: int | None  # conversations stored; None = the command must fail
    expect: str         # fragment of the error line (failures) or of a stored problem


def _rec(conv_id: str = GOOD_ID) -> dict:
    return conversation(conv_id, [("a question", ["task_motivation"]),
                                  ("an answer", ["explicit_affirmation"])])


def _line(obj) -> bytes:
    return json.dumps(obj).encode()


def _jsonl(*items) -> bytes:
    return b"".join((i if isinstance(i, bytes) else _line(i)) + b"\n" for i in items)


def _bad_optional_fields() -> list[dict]:
    """One record per bad optional field; every one of them must be stored."""
    out = []

    def add(change):
        rec = _rec(f"user{len(out) + 10}_task1_conversation1")
        change(rec)
        out.append(rec)

    add(lambda r: r.update(survey_answers=r["survey_answers"][0]))  # object, not a list
    add(lambda r: r.update(survey_answers=[{"age": "30"}, {"age": "40"}]))  # two objects
    add(lambda r: r.update(created_at="yesterday"))
    add(lambda r: r.update(updated_at="2026-02-30T00:00:00Z"))
    add(lambda r: r["messages"][0].update(timestamp="noon"))
    add(lambda r: r["messages"][0]["reasons"][0].update(timestamp=12))
    add(lambda r: r["messages"][1]["reactions"][0].update(label=None))
    add(lambda r: r["messages"][1]["reactions"][0].update(label="delighted"))
    add(lambda r: r["messages"][1]["reactions"][0].update(label=["scope_fit"]))
    add(lambda r: r["messages"][1].update(reactions="none"))
    add(lambda r: r["messages"][1].update(reasons=[{"content": "x", "label": "task_motivation"}]))
    add(lambda r: r["messages"][0].update(id="1000"))
    add(lambda r: r["messages"][0].update(content={"text": "a question"}))
    add(lambda r: r.update(model_name=["GPT"]))
    add(lambda r: r["messages"].append("not a message"))
    add(lambda r: r["messages"].append({"type": "system", "content": "x"}))
    return out


def hostile_cases() -> list[Case]:
    """Every hostile file, generated in code (nothing is read from disk)."""
    surrogates = _rec()
    surrogates["messages"][0]["content"] = "broken \ud800 text"
    surrogates["messages"][0]["reasons"][0]["content"] = "\udc00"
    surrogates["survey_answers"][0]["occupation"] = "Nurse\ud83d"
    surr_id = _rec("user2_\udfff")
    good2 = _rec("user2_task1_conversation1")
    no_messages = _rec("user3_task1_conversation1")
    no_messages["messages"] = [1, None, {"type": "robot"}]
    huge = _rec("user4_task1_conversation1")
    huge["messages"][0]["content"] = "x" * (8 * 1024 * 1024)
    bad_fields = _bad_optional_fields()
    full = _line(_rec())
    return [
        Case("lone_surrogates", "surrogates.jsonl", _jsonl(surrogates, surr_id), 2,
             "lone UTF-16 surrogate code point replaced by U+FFFD"),
        Case("bom", "bom.jsonl", b"\xef\xbb\xbf" + _jsonl(_rec(), good2), 2, ""),
        Case("empty", "empty.jsonl", b"", None, "empty.jsonl: the file is empty (0 bytes)"),
        Case("whitespace_only", "blank.jsonl", b"\n  \n\t\r\n", None,
             "blank.jsonl: the file holds only whitespace (3 blank lines)"),
        Case("array_one_line", "array.jsonl", json.dumps([_rec(), good2]).encode(), None,
             "array.jsonl: the file is a JSON array (2 items over 1 lines), expected one "
             "JSON object per line (JSONL)"),
        Case("array_pretty", "pretty.jsonl", json.dumps([_rec(), good2], indent=2).encode(),
             None, "pretty.jsonl: the file is a JSON array (2 items over"),
        Case("object_pretty", "object.jsonl", json.dumps(_rec(), indent=2).encode(), None,
             "object.jsonl: the file is one JSON object spread over"),
        Case("every_line_bad", "allbad.jsonl",
             _jsonl(b"{oops", b"[1, 2]", b'"text"', {"messages": []}, no_messages), None,
             "allbad.jsonl: no usable record: all 5 non-blank lines are bad; the first, "
             "line 1, (line): invalid JSON"),
        Case("no_usable_message", "nomsg.jsonl", _jsonl(no_messages), None,
             "none of the 3 messages is usable"),
        Case("truncated_last_line", "truncated.jsonl", _jsonl(_rec()) + full[:-20], 1,
             "invalid JSON"),
        Case("bad_optional_fields", "fields.jsonl", _jsonl(*bad_fields), len(bad_fields),
             "stored as NULL"),
        Case("huge_line", "huge.jsonl", _jsonl(huge, b"[" + b"9," * (4 * 1024 * 1024) + b"9]"),
             1, "expected a JSON object, got array"),
        Case("huge_integer", "bigint.jsonl", _jsonl(b'{"id": ' + b"7" * 5000 + b"}", _rec()), 1,
             "4300"),
        Case("nul_bytes", "nul.jsonl", _jsonl(full[:30] + b"\x00" + full[30:], good2), 1,
             "invalid JSON"),
        Case("crlf", "crlf.jsonl", _line(_rec()) + b"\r\n\r\n" + _line(good2) + b"\r\n", 2, ""),
        Case("not_gzip", "plain.jsonl.gz", _jsonl(_rec()), None,
             "not gzip data although the name ends in .gz"),
        Case("truncated_gzip", "cut.jsonl.gz", gzip.compress(_jsonl(_rec(), good2), mtime=0)[:-30],
             None, "the gzip data is truncated or corrupt"),
        Case("utf16", "utf16.jsonl", _jsonl(_rec()).decode().encode("utf-16"), None,
             "the file is UTF-16 text"),
        Case("binary", "image.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", None,
             "NUL bytes"),
    ]


CASES = {case.name: case for case in hostile_cases()}


def write_hostile_files(folder: Path) -> dict[str, Path]:
    """Write every hostile case into ``folder``; case name -> file."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for case in hostile_cases():
        out[case.name] = folder / case.filename
        out[case.name].write_bytes(case.content)
    return out


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "precompute", *args, "--no-progress"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def _stat(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return write_hostile_files(tmp_path_factory.mktemp("hostile_files"))


@pytest.fixture(scope="module")
def good_db(tmp_path_factory) -> Path:
    """A good DB of 3 conversations, made by the CLI."""
    d = tmp_path_factory.mktemp("good")
    src = d / "good.jsonl"
    src.write_bytes(_jsonl(*(_rec(f"user{i}_task1_good") for i in range(3))))
    db = d / "good.duckdb"
    res = _cli("ingest", "--source", str(src), "--db", str(db))
    assert res.returncode == 0, res.stderr
    return db


@pytest.fixture
def db(good_db, tmp_path) -> Path:
    copy = tmp_path / "target.duckdb"
    shutil.copy2(good_db, copy)
    return copy


def _assert_failed_cleanly(res, case: Case, db: Path, before) -> None:
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert lines[0].startswith("error: ") and case.expect in lines[0], lines[0]
    assert lines[0].endswith(f"({db} was not changed)")
    assert _stat(db) == before
    assert not list(db.parent.glob(f".{db.name}.building-*"))


def test_the_generator_covers_every_hostile_kind(files):
    assert set(files) == set(CASES) and len(CASES) == 19
    assert all(path.read_bytes() == CASES[name].content for name, path in files.items())
    # the surrogate file holds JSON escapes (valid JSON, invalid text), not raw bytes
    assert b"\\ud800" in files["lone_surrogates"].read_bytes()
    assert files["lone_surrogates"].read_bytes().isascii()


@pytest.mark.parametrize("name", sorted(CASES))
def test_ingest_cli_stores_or_fails_cleanly(files, db, name):
    case = CASES[name]
    before = _stat(db)
    res = _cli("ingest", "--source", str(files[name]), "--db", str(db))
    if case.stored is None:
        _assert_failed_cleanly(res, case, db, before)
        return
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    con = duckdb.connect(str(db), read_only=True)
    try:
        prov = con.execute("SELECT lines_in, records_stored, records_skipped, blank_lines, "
                           "n_errors, input_sha256 FROM provenance").fetchone()
        lines_in, stored, skipped, blank, n_errors, sha = prov
        assert stored == case.stored
        assert lines_in == stored + skipped + blank
        assert con.execute("SELECT count(*) FROM rejected_records").fetchone()[0] == skipped
        assert n_errors == skipped  # each skipped record has one error
        assert sha == hashlib.sha256(case.content).hexdigest()
        messages = [m for (m,) in con.execute("SELECT message FROM ingest_problems")
                    .fetchall()]
        if case.expect:
            assert any(case.expect in m for m in messages), messages
        else:
            assert messages == []
    finally:
        con.close()


def test_every_bad_optional_field_keeps_its_record(files, db):
    res = _cli("ingest", "--source", str(files["bad_optional_fields"]), "--db", str(db))
    assert res.returncode == 0, res.stderr
    con = duckdb.connect(str(db), read_only=True)
    try:
        n = len(_bad_optional_fields())
        assert con.execute("SELECT count(*), count(DISTINCT source_line) FROM conversations"
                           ).fetchone() == (n, n)
        assert con.execute("SELECT count(*) FROM ingest_problems WHERE severity = 'error'"
                           ).fetchone()[0] == 0
        # each line has its warning, naming the field it is about
        fields = dict(con.execute("SELECT line, string_agg(field, ' ') FROM ingest_problems "
                                  "GROUP BY line").fetchall())
        assert [fields[i] for i in range(1, n + 1)] == [
            "survey_answers", "survey_answers", "created_at", "updated_at",
            "messages[0].timestamp", "messages[0].reasons[0].timestamp",
            "messages[1].reactions[0].label", "messages[1].reactions[0].label",
            "messages[1].reactions[0].label", "messages[1].reactions", "messages[1].reasons",
            "messages[0].id", "messages[0].content", "model_name", "messages[2]",
            "messages[2].type"]
        # every record keeps both messages; the dropped thoughts are 4 of 2 x 16
        assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 2 * n
        assert con.execute("SELECT count(*) FROM thoughts").fetchone()[0] == 2 * n - 4
    finally:
        con.close()


def test_lone_surrogates_are_stored_replaced(files, db):
    res = _cli("ingest", "--source", str(files["lone_surrogates"]), "--db", str(db))
    assert res.returncode == 0, res.stderr
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert sorted(r[0] for r in con.execute("SELECT conv_id FROM conversations")
                      .fetchall()) == [GOOD_ID, "user2_\ufffd"]
        assert con.execute("SELECT content FROM messages WHERE conv_id = ? AND turn = 1",
                           [GOOD_ID]).fetchone() == ("broken \ufffd text",)
        assert con.execute("SELECT line, field FROM ingest_problems ORDER BY line, field"
                           ).fetchall() == [(1, "messages[0].content"),
                                            (1, "messages[0].reasons[0].content"),
                                            (1, "survey_answers[0].occupation"), (2, "id")]
    finally:
        con.close()


def test_huge_rejected_line_is_kept_capped(files, db):
    assert _cli("ingest", "--source", str(files["huge_line"]), "--db",
                str(db)).returncode == 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT line, length(raw) FROM rejected_records").fetchall() == [
            (2, 200_000)]
        assert con.execute("SELECT n_chars FROM messages WHERE turn = 1").fetchone() == (
            8 * 1024 * 1024,)
    finally:
        con.close()


@pytest.mark.parametrize("name", ["empty", "array_pretty", "every_line_bad", "not_gzip"])
def test_build_cli_fails_cleanly_and_leaves_the_db(files, db, name):
    before = _stat(db)
    res = _cli("build", "--source", str(files[name]), "--db", str(db))
    _assert_failed_cleanly(res, CASES[name], db, before)


def test_strict_ingest_fails_on_a_skipped_record_not_on_warnings(files, db):
    before = _stat(db)
    res = _cli("ingest", "--strict", "--source", str(files["truncated_last_line"]),
               "--db", str(db))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "truncated.jsonl:2 (line): invalid JSON" in res.stderr and "--strict" in res.stderr
    assert _stat(db) == before
    res = _cli("ingest", "--strict", "--source", str(files["bad_optional_fields"]),
               "--db", str(db))
    assert res.returncode == 0, res.stderr


@pytest.mark.model
def test_build_cli_on_a_bom_file_with_lone_surrogates(tmp_path):
    src = tmp_path / "both.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + CASES["lone_surrogates"].content)
    db = tmp_path / "both.duckdb"
    res = _cli("build", "--source", str(src), "--db", str(db))
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT records_stored, records_skipped FROM provenance"
                           ).fetchone() == (2, 0)
        assert con.execute("SELECT count(*) FROM embedded_items WHERE kind = 'user_message'"
                           ).fetchone()[0] == 2
    finally:
        con.close()
