"""Stage `ingest`: validate ThoughtTrace JSONL records and normalize them into tables.

Produces `conversations`, `messages`, `thoughts` (pandas frames) and the list of
problems found. Every input line is accounted for: it is either stored or reported
(``lines_in == records_stored + records_skipped + blank_lines``).

Two severities. An **error** skips the whole record (kept verbatim in `rejected`; with
``strict`` the whole ingest fails instead): a line that is not UTF-8 or not JSON, not an
object, without a usable ``id`` (or a duplicate one), or without a usable message. A
**warning** keeps the record: a bad optional field becomes NULL, a message or thought that
cannot be used is skipped (the others are kept), an oddity is fixed (a label in another
case, a number where the schema has a string, a lone UTF-16 surrogate replaced by U+FFFD,
a timestamp without a time zone read as UTC). Each problem names file, line, field, what was
expected and what was found (quoted, truncated), so nothing vanishes unreported.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from precompute.labels import (
    CODES_BY_KIND,
    DISSATISFACTION_CODES,
    KIND_BY_FIELD,
    STAGES,
    THOUGHT_FIELD_BY_ROLE,
    age_bracket,
    stage_index,
)

SURVEY_FIELDS = ("age", "gender", "education", "occupation", "frequency", "purposes")
TEXT_FIELDS = ("model_name", "model_provider", "task_summary", "task_expectation")
TIME_FIELDS = ("created_at", "updated_at")
#: Raw JSON kept for a rejected record is capped so one huge bad line cannot bloat the DB.
RAW_KEEP_CHARS = 200_000
#: How much of a dropped value a problem message quotes.
QUOTE_CHARS = 120
UTF8_BOM = b"\xef\xbb\xbf"
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
JSONL = "expected one JSON object per line (JSONL)"

#: A JSON escape of a UTF-16 surrogate (\uD800-\uDFFF) somewhere in a raw line: only such
#: lines can decode to strings holding surrogates (strict UTF-8 bytes never do).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class IngestError(Exception):
    """Raised in strict mode, or when the input cannot be read or holds no usable record."""


@dataclass(frozen=True)
class Problem:
    """One finding about one input line: where it is, which field, what was expected."""

    severity: str  # 'error' (record skipped) | 'warning' (fixed or dropped, record kept)
    file: str
    line: int
    conv_id: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        who = f" [{self.conv_id}]" if self.conv_id else ""
        return f"{where}{who} {self.field}: {self.message}"


@dataclass
class IngestResult:
    conversations: pd.DataFrame
    messages: pd.DataFrame
    thoughts: pd.DataFrame
    problems: list[Problem]
    rejected: pd.DataFrame  # file, line, conv_id, raw: every skipped record, verbatim
    lines_in: int
    blank_lines: int
    input_sha256: str

    @property
    def records_stored(self) -> int:
        return len(self.conversations)

    @property
    def records_skipped(self) -> int:
        return len(self.rejected)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def summary(self) -> str:
        return (f"{self.lines_in} lines read: {self.records_stored} conversations stored, "
                f"{self.records_skipped} skipped, {self.blank_lines} blank; "
                f"{len(self.errors)} errors, {len(self.warnings)} warnings; "
                f"{len(self.messages)} messages, {len(self.thoughts)} thoughts")


def read_lines(path: Path) -> tuple[list[bytes], str]:
    """Raw lines of a .jsonl or .jsonl.gz file and the sha256 of its (decompressed) bytes.

    A UTF-8 byte order mark at the start is dropped from the first line; the checksum is
    still that of the bytes as they are in the file (after decompression).
    """
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        else:
            data = path.read_bytes()
    except FileNotFoundError:
        raise IngestError(f"{path}: file not found (expected a .jsonl or .jsonl.gz file)") from None
    except IsADirectoryError:
        raise IngestError(f"{path}: is a directory (expected a .jsonl or .jsonl.gz file)") from None
    except gzip.BadGzipFile as exc:
        raise IngestError(f"{path}: not gzip data although the name ends in .gz ({exc}); "
                          "expected a gzip-compressed JSONL file") from exc
    except (EOFError, zlib.error) as exc:
        raise IngestError(f"{path}: the gzip data is truncated or corrupt ({exc}); expected a "
                          "complete gzip-compressed JSONL file") from exc
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc}") from exc
    sha = hashlib.sha256(data).hexdigest()
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines, sha


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__.replace("str", "string").replace(
        "dict", "object").replace("list", "array")


def _quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """``value`` as JSON for a problem message, cut to ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def _found(value: Any) -> str:
    """'<type> <quoted value>', as problem messages say what they found."""
    return "null" if value is None else f"{_type_name(value)} {_quote(value)}"


def _scrub(value: Any, path: str, found: list[tuple[str, str]]) -> Any:
    """``value`` with every lone UTF-16 surrogate in its strings (keys too) replaced by U+FFFD.

    Appends (field path, what was replaced) to ``found``; returns ``value`` itself when
    nothing needed replacing.
    """
    if isinstance(value, str):
        if not _SURROGATE.search(value):
            return value
        n = len(_SURROGATE.findall(value))
        found.append((path or "(record)", f"{n} lone UTF-16 surrogate code point"
                                          f"{'s' if n > 1 else ''}"))
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            clean = _scrub(key, f"{path}.(key)" if path else "(key)", found)
            out[clean] = _scrub(v, f"{path}.{clean}" if path else clean, found)
        return out
    return value


def _parse_time(value: str) -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


class _Record:
    """Validation of one decoded record; collects problems instead of raising."""

    def __init__(self, file: str, line: int, obj: Any):
        self.file, self.line, self.obj = file, line, obj
        self.conv_id: str | None = None
        self.problems: list[Problem] = []
        self.naive_times: list[str] = []  # fields of timestamps without a time zone

    def err(self, field_: str, message: str) -> None:
        self._add("error", field_, message)

    def warn(self, field_: str, message: str) -> None:
        self._add("warning", field_, message)

    def _add(self, severity: str, field_: str, message: str) -> None:
        self.problems.append(Problem(severity, self.file, self.line, self.conv_id, field_,
                                     message))

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def text(self, value: Any, field_: str, *, required: bool = False) -> str | None:
        """A string field: numbers are kept as text, anything else not a string is NULL."""
        if value is None:
            if required:
                self.warn(field_, "missing; expected a string; stored as NULL")
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.warn(field_, f"expected a string, got number {value!r}; kept as text")
            return str(value)
        self.warn(field_, f"expected a string, got {_found(value)}; stored as NULL")
        return None

    def time(self, value: Any, field_: str) -> datetime | None:
        """An ISO 8601 timestamp in UTC; NULL (with a warning) when it cannot be read."""
        if value is None:
            return None
        if not isinstance(value, str):
            self.warn(field_, f"expected an ISO 8601 timestamp string, got {_found(value)}; "
                              "stored as NULL")
            return None
        try:
            ts = _parse_time(value)
            if ts.tzinfo is None:
                self.naive_times.append(field_)
                return ts.replace(tzinfo=UTC)
            return ts.astimezone(UTC)
        except (ValueError, OverflowError):
            self.warn(field_, f"expected an ISO 8601 timestamp such as "
                              f"'2026-04-12T01:00:00Z', got {_found(value)}; stored as NULL")
            return None

    def integer(self, value: Any, field_: str) -> int | None:
        """A BIGINT field; NULL (with a warning) when not an integer in range."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.warn(field_, f"expected an integer, got {_found(value)}; stored as NULL")
            return None
        if not BIGINT_MIN <= value <= BIGINT_MAX:
            self.warn(field_, f"expected an integer within 64 bits, got {_quote(value, 40)}; "
                              "stored as NULL")
            return None
        return value

    def finish(self) -> None:
        """Warnings gathered over the whole record (one line for all naive timestamps)."""
        if self.naive_times:
            more = len(self.naive_times) - 1
            self.warn(self.naive_times[0], "timestamp without a time zone; read as UTC"
                      + (f" (and {more} more in this record)" if more else ""))


def _validate(rec: _Record) -> dict | None:
    """Normalized record (conversation dict with messages and thoughts), or None when the
    record must be skipped (no usable id or no usable message); see the module docstring."""
    obj = rec.obj
    if not isinstance(obj, dict):
        rec.err("(record)", f"expected a JSON object, got {_found(obj)}")
        return None
    conv_id = obj.get("id")
    if conv_id is None:
        rec.err("id", "missing; expected a string like 'user804_task2_conversation1'")
        return None
    if not isinstance(conv_id, str) or not conv_id.strip():
        rec.err("id", f"expected a non-empty string, got {_found(conv_id)}")
        return None
    rec.conv_id = conv_id
    messages = obj.get("messages")
    if messages is None:
        rec.err("messages", "missing; expected a non-empty array of messages")
        return None
    if not isinstance(messages, list):
        rec.err("messages", f"expected an array of messages, got {_found(messages)}")
        return None
    if not messages:
        rec.err("messages", "expected at least one message, got an empty array")
        return None

    conv: dict[str, Any] = {"conv_id": conv_id}
    head = conv_id.split("_", 1)[0]
    conv["user_id"] = head
    if not head.startswith("user"):
        rec.warn("id", "expected the form 'user<N>_task<K>_...'; user_id taken as the part "
                       "before the first '_'")
    for name in TEXT_FIELDS:
        conv[name] = rec.text(obj.get(name), name)
    for name in TIME_FIELDS:
        conv[name] = rec.time(obj.get(name), name)
    conv.update(_survey(rec, obj.get("survey_answers")))

    out_messages: list[dict] = []
    out_thoughts: list[dict] = []
    for i, msg in enumerate(messages):
        _message(rec, i, msg, out_messages, out_thoughts)
    rec.finish()
    if not out_messages:
        first = next(p for p in rec.problems if p.field.startswith("messages["))
        rec.err("messages", f"none of the {len(messages)} messages is usable (the first, "
                            f"{first.field}: {first.message}); expected objects with type "
                            "'user' or 'assistant'")
        return None
    if not rec.ok:
        return None
    conv["messages"] = out_messages
    conv["thoughts"] = out_thoughts
    return conv


def _survey(rec: _Record, survey: Any) -> dict[str, Any]:
    """The survey columns of one record (all NULL when the answers cannot be read)."""
    answers: dict | None = None
    where = "survey_answers"
    null = "; survey columns stored as NULL"
    if survey is None:
        pass
    elif isinstance(survey, dict):
        rec.warn(where, "expected an array of 0 or 1 object, got an object; read as that one "
                        "object")
        answers = survey
    elif not isinstance(survey, list):
        rec.warn(where, f"expected an array of 0 or 1 object, got {_found(survey)}{null}")
    elif len(survey) > 1:
        rec.warn(where, f"expected 0 or 1 object, got {len(survey)}: {_quote(survey)}{null}")
    elif survey:
        where = "survey_answers[0]"
        if isinstance(survey[0], dict):
            answers = survey[0]
        else:
            rec.warn(where, f"expected an object, got {_found(survey[0])}{null}")
    values = {name: rec.text(answers.get(name), f"{where}.{name}") for name in SURVEY_FIELDS
              } if answers is not None else {}
    out: dict[str, Any] = {"has_survey": answers is not None}
    age = values.get("age")
    out["age"] = age
    out["age_bracket"] = age_bracket(age)
    if age is not None and out["age_bracket"] is None:
        rec.warn(f"{where}.age", f"{_quote(age, 40)} is not a plausible age (13-100); kept as "
                                 "raw text, no age bracket")
    for name in ("gender", "education", "occupation", "purposes"):
        out[name] = values.get(name)
    freq = values.get("frequency")
    out["ai_frequency"] = None
    if freq is not None:
        if freq.strip() in {"1", "2", "3", "4", "5"}:
            out["ai_frequency"] = int(freq.strip())
        else:
            rec.warn(f"{where}.frequency", f"expected '1'..'5', got {_quote(freq, 40)}; "
                                           "stored as NULL")
    return out


def _message(rec: _Record, i: int, msg: Any, out_messages: list[dict],
             out_thoughts: list[dict]) -> None:
    """Append message ``i`` (and its usable thoughts) to the outputs, or skip it with a
    warning. Turns and thought positions count the kept items only."""
    where = f"messages[{i}]"
    if not isinstance(msg, dict):
        rec.warn(where, f"expected a message object, got {_found(msg)}; message skipped")
        return
    role = msg.get("type")
    if not isinstance(role, str) or role not in THOUGHT_FIELD_BY_ROLE:
        n = sum(len(msg[k]) for k in ("reasons", "reactions") if isinstance(msg.get(k), list))
        rec.warn(f"{where}.type", f"expected 'user' or 'assistant', got {_found(role)}; "
                                  f"message skipped (with its {n} thoughts): {_quote(msg)}")
        return
    turn = len(out_messages) + 1
    out_messages.append({
        "turn": turn, "message_id": rec.integer(msg.get("id"), f"{where}.id"), "role": role,
        "content": rec.text(msg.get("content"), f"{where}.content", required=True),
        "timestamp": rec.time(msg.get("timestamp"), f"{where}.timestamp")})
    own_field = THOUGHT_FIELD_BY_ROLE[role]
    for field_name in ("reasons", "reactions"):
        items = msg.get(field_name)
        if items is None:
            continue  # null and [] mean the same: no thought
        fpath = f"{where}.{field_name}"
        if not isinstance(items, list):
            rec.warn(fpath, f"expected an array of thoughts or null, got {_found(items)}; "
                            "no thought stored from it")
            continue
        if items and field_name != own_field:
            rec.warn(fpath, f"a {role} message carries {field_name}; expected {own_field} "
                            f"only; its {len(items)} thoughts skipped: {_quote(items)}")
            continue
        kind = KIND_BY_FIELD[field_name]
        allowed = CODES_BY_KIND[kind]
        idx = 0
        for j, th in enumerate(items):
            tpath = f"{fpath}[{j}]"
            if not isinstance(th, dict):
                rec.warn(tpath, f"expected a thought object, got {_found(th)}; thought skipped")
                continue
            label = th.get("label")
            norm = (label.strip().lower().replace(" ", "_").replace("-", "_")
                    if isinstance(label, str) else None)
            if norm not in allowed:
                rec.warn(f"{tpath}.label", f"expected a {kind} label, one of {sorted(allowed)}; "
                                           f"got {_found(label)}; thought skipped: "
                                           f"{_quote(th)}")
                continue
            if norm != label:
                rec.warn(f"{tpath}.label", f"label {label!r} normalized to {norm!r}")
            out_thoughts.append({
                "turn": turn, "idx": idx, "kind": kind, "label": norm,
                "content": rec.text(th.get("content"), f"{tpath}.content", required=True),
                "timestamp": rec.time(th.get("timestamp"), f"{tpath}.timestamp"),
            })
            idx += 1


_BAD = object()


def _records(lines: list[bytes], file: str, problems: list[Problem]) -> Iterator[
        tuple[int, bytes, Any]]:
    """(line number, raw bytes, decoded object or _BAD) for each non-blank line."""
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem("error", file, lineno, None, "(line)",
                                    f"invalid UTF-8 at byte {exc.start}; expected UTF-8 text"))
            yield lineno, raw, _BAD
            continue
        try:
            yield lineno, raw, json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(Problem("error", file, lineno, None, "(line)",
                                    f"invalid JSON at column {exc.colno}: {exc.msg}; {JSONL}"))
            yield lineno, raw, _BAD
        except RecursionError:
            problems.append(Problem("error", file, lineno, None, "(line)",
                                    "JSON nested too deeply; expected one flat record"))
            yield lineno, raw, _BAD
        except ValueError as exc:  # e.g. an integer of more than 4,300 digits
            problems.append(Problem("error", file, lineno, None, "(line)",
                                    f"unreadable JSON value ({str(exc)[:120]}); {JSONL}"))
            yield lineno, raw, _BAD


def _file_shape(lines: list[bytes], file: str) -> str | None:
    """What a file that is not JSONL looks like, or None when it may well be JSONL."""
    nonblank = [raw for raw in lines if raw.strip()]
    if not lines:
        return f"the file is empty (0 bytes); {JSONL}"
    if not nonblank:
        return f"the file holds only whitespace ({len(lines)} blank lines); {JSONL}"
    first = nonblank[0].lstrip()
    if first.startswith((b"\xff\xfe", b"\xfe\xff")):
        return ("the file is UTF-16 text (it starts with a UTF-16 byte order mark), expected "
                "UTF-8 with one JSON object per line (JSONL)")
    if not first.startswith((b"[", b"{")):
        if b"\x00" in b"".join(nonblank[:5])[:65536]:
            return ("the file holds NUL bytes (binary data or UTF-16 text?), expected UTF-8 "
                    "with one JSON object per line (JSONL)")
        return None
    try:
        whole = json.loads(b"\n".join(lines).decode("utf-8"))
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
        return None
    if isinstance(whole, list):
        return (f"the file is a JSON array ({len(whole)} items over {len(lines)} lines), "
                f"{JSONL}; convert it with: jq -c '.[]' {_shell_word(file)} > records.jsonl")
    if isinstance(whole, dict) and len(nonblank) > 1:
        return (f"the file is one JSON object spread over {len(lines)} lines (pretty-printed "
                f"JSON), {JSONL}; convert it with: jq -c . {_shell_word(file)} > records.jsonl")
    return None


def _shell_word(text: str) -> str:
    import shlex
    return shlex.quote(text)


def _first_line_is_object(lines: list[bytes]) -> bool:
    first = next((raw for raw in lines if raw.strip()), None)
    try:
        return first is not None and isinstance(json.loads(first.decode("utf-8")), dict)
    except (ValueError, RecursionError):
        return False


def _no_usable_record(lines: list[bytes], file: str, res: IngestResult) -> str:
    n = len(lines) - res.blank_lines
    if not res.errors:
        return f"{file}: no usable record in {n} non-blank lines; {JSONL}"
    first = res.errors[0]
    return (f"{file}: no usable record: all {n} non-blank lines are bad; the first, line "
            f"{first.line}, {first.field}: {first.message}")


def ingest_lines(lines: list[bytes], *, file: str, input_sha256: str = "",
                 strict: bool = False, progress: bool = False,
                 require_records: bool = False) -> IngestResult:
    """Validate and normalize raw JSONL lines.

    Args:
        lines: raw lines (bytes, no newline).
        file: file name used in problem reports.
        input_sha256: checksum of the input, recorded in provenance.
        strict: raise IngestError on the first record with an error (warnings never fail).
        progress: show a progress bar on stderr.
        require_records: raise IngestError, saying what the input looks like, when it is
            not JSONL (a JSON array, a pretty-printed object, empty, UTF-16) or when no
            record is usable; the CLI uses this so such an input never replaces a DB.
    """
    from tqdm import tqdm
    problems: list[Problem] = []
    convs: list[dict] = []
    rejected: list[dict] = []
    seen: dict[str, int] = {}
    blank = sum(1 for raw in lines if not raw.strip())
    if require_records and not _first_line_is_object(lines):
        shape = _file_shape(lines, file)
        if shape:
            raise IngestError(f"{file}: {shape}")
    bar = tqdm(total=len(lines), desc="ingest", unit="line", disable=not progress,
               leave=False, mininterval=0.5)
    for lineno, raw, obj in _records(lines, file, problems):
        bar.n = lineno
        bar.update(0)
        conv = None
        rec = None
        if obj is not _BAD:
            scrubbed: list[tuple[str, str]] = []
            if _SURROGATE_ESCAPE.search(raw):
                obj = _scrub(obj, "", scrubbed)
            rec = _Record(file, lineno, obj)
            conv = _validate(rec)
            if conv is not None and conv["conv_id"] in seen:
                rec.err("id", f"duplicate id {conv['conv_id']!r}; first seen on line "
                              f"{seen[conv['conv_id']]}; expected unique ids")
                conv = None
            problems.extend(Problem("warning", file, lineno, rec.conv_id, where,
                                    f"{what} replaced by U+FFFD (invalid text; expected "
                                    "valid Unicode)") for where, what in scrubbed)
            problems.extend(rec.problems)
        if conv is None:
            if strict:
                bad = [p for p in problems if p.severity == "error" and p.line == lineno]
                raise IngestError("; ".join(str(p) for p in bad) + " (--strict)")
            rejected.append({"file": file, "line": lineno,
                             "conv_id": rec.conv_id if rec else None,
                             "raw": raw.decode("utf-8", "replace")[:RAW_KEEP_CHARS]})
            continue
        seen[conv["conv_id"]] = lineno
        conv["source_line"] = lineno
        convs.append(conv)
    bar.close()
    conversations, messages, thoughts = _tables(convs)
    res = IngestResult(conversations, messages, thoughts, problems,
                       pd.DataFrame(rejected, columns=["file", "line", "conv_id", "raw"]),
                       lines_in=len(lines), blank_lines=blank, input_sha256=input_sha256)
    if require_records and res.records_stored == 0:
        raise IngestError(_no_usable_record(lines, file, res))
    return res


def ingest_file(path: Path, *, strict: bool = False, display_name: str | None = None,
                progress: bool = False, require_records: bool = False) -> IngestResult:
    """`ingest_lines` over a .jsonl / .jsonl.gz file (see there for the arguments)."""
    lines, sha = read_lines(path)
    return ingest_lines(lines, file=display_name or path.name, input_sha256=sha, strict=strict,
                        progress=progress, require_records=require_records)


def _tables(convs: Iterable[dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    conv_rows, msg_rows, th_rows = [], [], []
    thought_id = 0
    for conv in convs:
        msgs, ths = conv.pop("messages"), conv.pop("thoughts")
        n = len(msgs)
        per_turn: dict[int, int] = {}
        for t in ths:
            per_turn[t["turn"]] = per_turn.get(t["turn"], 0) + 1
        for m in msgs:
            s = stage_index(m["turn"], n)
            msg_rows.append({"conv_id": conv["conv_id"], **m, "stage_idx": s, "stage": STAGES[s],
                             "n_thoughts": per_turn.get(m["turn"], 0),
                             "n_chars": len(m["content"] or "")})
        for t in ths:
            thought_id += 1
            s = stage_index(t["turn"], n)
            th_rows.append({"thought_id": thought_id, "conv_id": conv["conv_id"], **t,
                            "stage_idx": s, "stage": STAGES[s]})
        conv_rows.append({
            **conv,
            "n_messages": n,
            "n_user_messages": sum(1 for m in msgs if m["role"] == "user"),
            "n_thoughts": len(ths),
            "n_reasons": sum(1 for t in ths if t["kind"] == "reason"),
            "n_reactions": sum(1 for t in ths if t["kind"] == "reaction"),
            "n_dissatisfied": sum(1 for t in ths if t["label"] in DISSATISFACTION_CODES),
        })
    conv_cols = ["conv_id", "user_id", "model_name", "model_provider", "created_at",
                 "updated_at", "n_messages", "n_user_messages", "n_thoughts", "n_reasons",
                 "n_reactions", "n_dissatisfied", "task_summary", "task_expectation",
                 "has_survey", "age", "age_bracket", "gender", "education", "occupation",
                 "ai_frequency", "purposes", "source_line"]
    msg_cols = ["conv_id", "turn", "message_id", "role", "content", "timestamp", "stage_idx",
                "stage", "n_thoughts", "n_chars"]
    th_cols = ["thought_id", "conv_id", "turn", "idx", "kind", "label", "content", "timestamp",
               "stage_idx", "stage"]
    return (pd.DataFrame(conv_rows, columns=conv_cols), pd.DataFrame(msg_rows, columns=msg_cols),
            pd.DataFrame(th_rows, columns=th_cols))
