"""Stage `ingest`: validate ThoughtTrace JSONL records and normalize them into tables.

Produces `conversations`, `messages`, `thoughts` (pandas frames) and the list of
problems found. Every input line is accounted for: it is either stored or reported
(``lines_in == records_stored + records_skipped + blank_lines``). A record with an error
is skipped whole (or, with ``strict``, the whole ingest fails); warnings (for example a
label written in another case, a number where the schema has a string) are fixed and
reported, never silent.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

import pandas as pd

from precompute.labels import (
    CODES_BY_KIND,
    DISSATISFACTION_CODES,
    KIND_BY_FIELD,
    THOUGHT_FIELD_BY_ROLE,
    age_bracket,
    STAGES,
    stage_index,
)

SURVEY_FIELDS = ("age", "gender", "education", "occupation", "frequency", "purposes")
TEXT_FIELDS = ("model_name", "model_provider", "task_summary", "task_expectation")
TIME_FIELDS = ("created_at", "updated_at")
#: Raw JSON kept for a rejected record is capped so one huge bad line cannot bloat the DB.
RAW_KEEP_CHARS = 200_000


class IngestError(Exception):
    """Raised in strict mode, or when the input cannot be read at all."""


@dataclass(frozen=True)
class Problem:
    """One finding about one input line: where it is, which field, what was expected."""

    severity: str  # 'error' (record skipped) | 'warning' (fixed, kept)
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
    """Raw lines of a .jsonl or .jsonl.gz file and the sha256 of its (decompressed) bytes."""
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        else:
            data = path.read_bytes()
    except FileNotFoundError:
        raise IngestError(f"{path}: file not found (expected a .jsonl or .jsonl.gz file)")
    except (OSError, EOFError) as exc:
        raise IngestError(f"{path}: cannot read: {exc}") from exc
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines, hashlib.sha256(data).hexdigest()


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__.replace("str", "string").replace(
        "dict", "object").replace("list", "array")


def _parse_time(value: Any) -> datetime | None:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


class _Record:
    """Validation of one decoded record; collects problems instead of raising."""

    def __init__(self, file: str, line: int, obj: Any):
        self.file, self.line, self.obj = file, line, obj
        self.conv_id: str | None = None
        self.problems: list[Problem] = []

    def err(self, field_: str, message: str) -> None:
        self.problems.append(Problem("error", self.file, self.line, self.conv_id, field_, message))

    def warn(self, field_: str, message: str) -> None:
        self.problems.append(Problem("warning", self.file, self.line, self.conv_id, field_, message))

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def text(self, value: Any, field_: str, *, required: bool = False,
             coerce_numbers: bool = False) -> str | None:
        if value is None:
            if required:
                self.err(field_, "missing; expected a string")
            return None
        if isinstance(value, str):
            return value
        if coerce_numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
            self.warn(field_, f"expected a string, got number {value!r}; kept as text")
            return str(value)
        self.err(field_, f"expected a string, got {_type_name(value)}")
        return None

    def time(self, value: Any, field_: str) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.err(field_, f"expected an ISO 8601 timestamp string, got {_type_name(value)}")
            return None
        try:
            return _parse_time(value)
        except ValueError:
            self.err(field_, f"expected an ISO 8601 timestamp, got {value[:40]!r}")
            return None


def _validate(rec: _Record) -> dict | None:
    """Normalized record (conversation dict with messages and thoughts) or None on error."""
    obj = rec.obj
    if not isinstance(obj, dict):
        rec.err("(record)", f"expected a JSON object, got {_type_name(obj)}")
        return None
    conv_id = obj.get("id")
    if conv_id is None:
        rec.err("id", "missing; expected a string like 'user804_task2_conversation1'")
    elif not isinstance(conv_id, str) or not conv_id.strip():
        rec.err("id", f"expected a non-empty string, got {_type_name(conv_id)} {conv_id!r:.40}")
        conv_id = None
    else:
        rec.conv_id = conv_id
    conv: dict[str, Any] = {"conv_id": conv_id}
    if conv_id:
        head = conv_id.split("_", 1)[0]
        conv["user_id"] = head
        if not head.startswith("user"):
            rec.warn("id", "expected the form 'user<N>_task<K>_...'; user_id taken as the part "
                           "before the first '_'")
    for name in TEXT_FIELDS:
        conv[name] = rec.text(obj.get(name), name, coerce_numbers=True)
    for name in TIME_FIELDS:
        conv[name] = rec.time(obj.get(name), name)

    survey = obj.get("survey_answers")
    answers: dict[str, Any] = {}
    if survey is None:
        pass
    elif not isinstance(survey, list):
        rec.err("survey_answers", f"expected an array of 0 or 1 object, got {_type_name(survey)}")
    elif len(survey) > 1:
        rec.err("survey_answers", f"expected 0 or 1 object, got {len(survey)}")
    elif survey:
        if not isinstance(survey[0], dict):
            rec.err("survey_answers[0]", f"expected an object, got {_type_name(survey[0])}")
        else:
            for name in SURVEY_FIELDS:
                answers[name] = rec.text(survey[0].get(name), f"survey_answers[0].{name}",
                                         coerce_numbers=True)
    conv["has_survey"] = bool(answers)
    age = answers.get("age")
    conv["age"] = age
    conv["age_bracket"] = age_bracket(age)
    if age is not None and conv["age_bracket"] is None:
        rec.warn("survey_answers[0].age", f"{age!r} is not a plausible age (13-100); kept as "
                                          "raw text, no age bracket")
    conv["gender"] = answers.get("gender")
    conv["education"] = answers.get("education")
    conv["occupation"] = answers.get("occupation")
    freq = answers.get("frequency")
    conv["ai_frequency"] = None
    if freq is not None:
        if freq.strip() in {"1", "2", "3", "4", "5"}:
            conv["ai_frequency"] = int(freq.strip())
        else:
            rec.warn("survey_answers[0].frequency", f"expected '1'..'5', got {freq!r:.40}; "
                                                    "stored as missing")
    conv["purposes"] = answers.get("purposes")

    messages = obj.get("messages")
    if messages is None:
        rec.err("messages", "missing; expected a non-empty array of messages")
        return None
    if not isinstance(messages, list):
        rec.err("messages", f"expected an array, got {_type_name(messages)}")
        return None
    if not messages:
        rec.err("messages", "expected at least one message, got an empty array")
        return None

    out_messages: list[dict] = []
    out_thoughts: list[dict] = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            rec.err(where, f"expected an object, got {_type_name(msg)}")
            continue
        role = msg.get("type")
        if not isinstance(role, str) or role not in THOUGHT_FIELD_BY_ROLE:
            rec.err(f"{where}.type", f"unknown role {role!r:.40}; expected 'user' or 'assistant'")
            continue
        content = rec.text(msg.get("content"), f"{where}.content", required=True)
        mid = msg.get("id")
        if mid is not None and (isinstance(mid, bool) or not isinstance(mid, int)):
            rec.err(f"{where}.id", f"expected an integer, got {_type_name(mid)}")
            mid = None
        turn = i + 1
        out_messages.append({"turn": turn, "message_id": mid, "role": role,
                             "content": content,
                             "timestamp": rec.time(msg.get("timestamp"), f"{where}.timestamp")})
        own_field = THOUGHT_FIELD_BY_ROLE[role]
        for field_name in ("reasons", "reactions"):
            items = msg.get(field_name)
            if items is None:
                continue  # null and [] mean the same: no thought
            fpath = f"{where}.{field_name}"
            if not isinstance(items, list):
                rec.err(fpath, f"expected an array of thoughts or null, got {_type_name(items)}")
                continue
            if items and field_name != own_field:
                rec.err(fpath, f"a {role} message carries {field_name}; expected "
                               f"{own_field} only")
                continue
            kind = KIND_BY_FIELD[field_name]
            allowed = CODES_BY_KIND[kind]
            for j, th in enumerate(items):
                tpath = f"{fpath}[{j}]"
                if not isinstance(th, dict):
                    rec.err(tpath, f"expected an object, got {_type_name(th)}")
                    continue
                label = th.get("label")
                if not isinstance(label, str):
                    rec.err(f"{tpath}.label", f"expected one of {sorted(allowed)}, "
                                              f"got {_type_name(label)}")
                    continue
                norm = label.strip().lower().replace(" ", "_").replace("-", "_")
                if norm not in allowed:
                    rec.err(f"{tpath}.label", f"unknown {kind} label {label!r:.60}; expected "
                                              f"one of {sorted(allowed)}")
                    continue
                if norm != label:
                    rec.warn(f"{tpath}.label", f"label {label!r} normalized to {norm!r}")
                out_thoughts.append({
                    "turn": turn, "idx": j, "kind": kind, "label": norm,
                    "content": rec.text(th.get("content"), f"{tpath}.content", required=True),
                    "timestamp": rec.time(th.get("timestamp"), f"{tpath}.timestamp"),
                })
    if not rec.ok:
        return None
    conv["messages"] = out_messages
    conv["thoughts"] = out_thoughts
    return conv


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
                                    f"invalid JSON at column {exc.colno}: {exc.msg}; expected "
                                    "one JSON object per line"))
            yield lineno, raw, _BAD
        except RecursionError:
            problems.append(Problem("error", file, lineno, None, "(line)",
                                    "JSON nested too deeply; expected one flat record"))
            yield lineno, raw, _BAD


_BAD = object()


def ingest_lines(lines: list[bytes], *, file: str, input_sha256: str = "",
                 strict: bool = False, progress: bool = False) -> IngestResult:
    """Validate and normalize raw JSONL lines.

    Args:
        lines: raw lines (bytes, no newline).
        file: file name used in problem reports.
        input_sha256: checksum of the input, recorded in provenance.
        strict: raise IngestError on the first record with an error.
        progress: show a progress bar on stderr.
    """
    from tqdm import tqdm
    problems: list[Problem] = []
    convs: list[dict] = []
    rejected: list[dict] = []
    seen: dict[str, int] = {}
    blank = sum(1 for raw in lines if not raw.strip())
    bar = tqdm(total=len(lines), desc="ingest", unit="line", disable=not progress,
               leave=False, mininterval=0.5)
    for lineno, raw, obj in _records(lines, file, problems):
        bar.n = lineno
        bar.update(0)
        conv = None
        rec = None
        if obj is not _BAD:
            rec = _Record(file, lineno, obj)
            conv = _validate(rec)
            if conv is not None and conv["conv_id"] in seen:
                rec.err("id", f"duplicate id {conv['conv_id']!r}; first seen on line "
                              f"{seen[conv['conv_id']]}; expected unique ids")
                conv = None
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
    return IngestResult(conversations, messages, thoughts, problems,
                        pd.DataFrame(rejected, columns=["file", "line", "conv_id", "raw"]),
                        lines_in=len(lines), blank_lines=blank, input_sha256=input_sha256)


def ingest_file(path: Path, *, strict: bool = False, display_name: str | None = None,
                progress: bool = False) -> IngestResult:
    lines, sha = read_lines(path)
    return ingest_lines(lines, file=display_name or path.name, input_sha256=sha, strict=strict,
                        progress=progress)


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
