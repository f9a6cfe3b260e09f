"""Data exports of a filtered subset (no streamlit): the conversations as JSONL in the
release's schema, their thoughts as CSV, and two JSONL sets for alignment and user
modelling: preference ``pairs`` (the paper's Utility 2 selection) and ``simulator``
records (next-user-message prediction, its Utility 1). The Conversations page offers them;
the command line (``python cli.py export``) writes them too.

Every export takes a cursor and a `Filters` and returns UTF-8 bytes; the counts the page
shows are plain functions of the same arguments, over the same SQL."""

from __future__ import annotations

import json

import duckdb

from components.filters import Filters
from components.queries.core import frame, scalar
from precompute.labels import DISSATISFACTION_CODES, REACTIONS

_ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


def _ts(col: str) -> str:
    return f"strftime(timezone('UTC', {col}), '{_ISO}')"


def export_jsonl(con: duckdb.DuckDBPyConnection, filters: Filters) -> bytes:
    """The conversations under ``filters`` as JSONL in the release's schema (UTF-8 bytes).

    Rebuilt from the tables, in input order: id, messages (content, timestamp, type, id,
    reasons on user / reactions on assistant messages: content, timestamp, label),
    model_name, model_provider, created_at, updated_at, task_summary, task_expectation,
    survey_answers ([] when the record had none). Re-ingesting the file gives the same
    conversations, messages and thoughts. Timestamps are written in UTC (``...Z``); an
    AI-use frequency that was invalid in the input is missing (null) here.
    """
    where, params = filters.where("c")
    rows = con.execute(f"""
        WITH sel AS (SELECT * FROM conversations c WHERE {where}),
        th AS (
            SELECT t.conv_id, t.turn,
                   list(struct_pack(content := t.content, timestamp := {_ts('t.timestamp')},
                                    label := t.label) ORDER BY t.idx) AS items
            FROM thoughts t JOIN sel USING (conv_id) GROUP BY t.conv_id, t.turn),
        msg AS (
            SELECT m.conv_id,
                   list(struct_pack(content := m.content, timestamp := {_ts('m.timestamp')},
                                    type := m.role, id := m.message_id,
                                    thoughts := coalesce(th.items, [])) ORDER BY m.turn) AS msgs
            FROM messages m JOIN sel USING (conv_id)
            LEFT JOIN th ON th.conv_id = m.conv_id AND th.turn = m.turn
            GROUP BY m.conv_id)
        SELECT sel.conv_id, to_json(msg.msgs), sel.model_name, sel.model_provider,
               {_ts('sel.created_at')}, {_ts('sel.updated_at')}, sel.task_summary,
               sel.task_expectation, sel.has_survey, sel.age, sel.gender, sel.education,
               sel.occupation, CAST(sel.ai_frequency AS VARCHAR), sel.purposes
        FROM sel JOIN msg USING (conv_id)
        ORDER BY sel.source_line, sel.conv_id""", params).fetchall()
    lines = []
    for (cid, msgs_json, model, provider, created, updated, summary, expectation, has_survey,
         age, gender, education, occupation, freq, purposes) in rows:
        msgs = []
        for m in json.loads(msgs_json):
            key = "reasons" if m["type"] == "user" else "reactions"
            msgs.append({"content": m["content"], "timestamp": m["timestamp"],
                         "type": m["type"], "id": m["id"], key: m["thoughts"]})
        survey = ([{"age": age, "gender": gender, "education": education,
                    "occupation": occupation, "frequency": freq, "purposes": purposes}]
                  if has_survey else [])
        rec = {"id": cid, "messages": msgs, "model_name": model, "model_provider": provider,
               "created_at": created, "updated_at": updated, "task_summary": summary,
               "task_expectation": expectation, "survey_answers": survey}
        lines.append(json.dumps(rec, ensure_ascii=False))
    return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")


def export_thoughts_csv(con: duckdb.DuckDBPyConnection, filters: Filters) -> bytes:
    """The thoughts of the conversations under ``filters`` as CSV (UTF-8 bytes)."""
    where, params = filters.where("c")
    df = frame(con, f"""
        SELECT t.thought_id, t.conv_id, t.turn, t.idx, t.kind, t.label, l.display_name,
               t.stage, {_ts('t.timestamp')} AS timestamp, c.model_name, c.domain,
               c.subtopic, t.content
        FROM thoughts t JOIN conversations c USING (conv_id)
        LEFT JOIN labels l ON l.code = t.label
        WHERE {where} ORDER BY c.source_line, t.turn, t.idx""", params)
    return df.write_csv().encode("utf-8")


# ---------------------------------------------------------------- alignment exports

#: The paper's Utility 2 set on the full release: 1,000 thought-guided preference pairs
#: (../shared/DATASET.md, "Alignment data of the paper").
PUBLISHED_PAIRS = 1000
#: The dissatisfaction reactions, in the labels' order.
DISSATISFACTION = tuple(lab.code for lab in REACTIONS if lab.code in DISSATISFACTION_CODES)
#: What a pair's critique is: the reaction's thought, or the next user message.
GUIDES = ("thought", "message")
#: The paper's selection: a thought of >= 6 words, a conversation of 2-20 messages.
MIN_WORDS, MIN_MESSAGES, MAX_MESSAGES = 6, 2, 20
#: Messages of history in a simulator record (the paper's Utility 1: up to 6 turns).
HISTORY = 6
#: One word: a maximal run of characters that are not whitespace as Python's
#: ``str.split()`` sees it (ASCII tab to carriage return, \x1c-\x1f, space, NEL and every
#: Unicode separator), so ``len(text.split())`` counts the same words.
WORD_RE = r"[^\t-\r\x{1c}-\x{20}\x{85}\p{Z}]+"
#: The message-guided variant needs a next user message with at least one word.
GUIDE_COND = {"thought": "TRUE",
              "message": f"regexp_matches(coalesce(nx.content, ''), '{WORD_RE}')"}


class ExportOptionError(ValueError):
    """An option of an alignment export that cannot be used: ``option`` (the parameter's
    name), the ``value`` given and what was ``expected``."""

    def __init__(self, option: str, value: object, expected: str):
        self.option, self.value, self.expected = option, value, expected
        super().__init__(f"{option}={value!r}: expected {expected}")


def _int_option(name: str, value: object, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExportOptionError(name, value, "a whole number")
    if value < lowest:
        raise ExportOptionError(name, value, f"{lowest} or more")
    return value


def _check_pairs(guide: str, min_words: int, min_messages: int, max_messages: int) -> None:
    if guide not in GUIDES:
        raise ExportOptionError("guide", guide, f"one of {', '.join(GUIDES)}")
    _int_option("min_words", min_words, 0)
    _int_option("min_messages", min_messages, 1)
    _int_option("max_messages", max_messages, 1)
    if min_messages > max_messages:
        raise ExportOptionError("max_messages", max_messages,
                                f"at least the minimum of messages ({min_messages})")


def _pairs_cte(filters: Filters, guide: str, min_words: int, min_messages: int,
               max_messages: int) -> tuple[str, list]:
    """``pr``: the selected dissatisfaction reactions (conv_id, turn, idx, label, content,
    source_line, next_user), after ``WITH``; and its parameters."""
    _check_pairs(guide, min_words, min_messages, max_messages)
    where, params = filters.where("c")
    sql = f"""
        sel AS (SELECT c.conv_id, c.source_line FROM conversations c
                WHERE {where} AND c.n_messages BETWEEN ? AND ?),
        pr AS (
            SELECT t.conv_id, t.turn, t.idx, t.label, t.content, sel.source_line,
                   nx.content AS next_user
            FROM thoughts t JOIN sel USING (conv_id)
            JOIN messages m ON m.conv_id = t.conv_id AND m.turn = t.turn
                           AND m.role = 'assistant'
            LEFT JOIN messages nx ON nx.conv_id = t.conv_id AND nx.turn = t.turn + 1
                                 AND nx.role = 'user'
            WHERE t.kind = 'reaction'
              AND t.label IN ({', '.join('?' for _ in DISSATISFACTION)})
              AND len(regexp_extract_all(coalesce(t.content, ''), '{WORD_RE}')) >= ?
              AND {GUIDE_COND[guide]})"""
    return sql, [*params, min_messages, max_messages, *DISSATISFACTION, min_words]


def count_pairs(con: duckdb.DuckDBPyConnection, filters: Filters, guide: str = "thought",
                min_words: int = MIN_WORDS, min_messages: int = MIN_MESSAGES,
                max_messages: int = MAX_MESSAGES) -> int:
    """How many records `export_pairs` writes for the same arguments."""
    sql, params = _pairs_cte(filters, guide, min_words, min_messages, max_messages)
    return int(scalar(con, f"WITH {sql} SELECT count(*) FROM pr", params))


def export_pairs(con: duckdb.DuckDBPyConnection, filters: Filters, guide: str = "thought",
                 min_words: int = MIN_WORDS, min_messages: int = MIN_MESSAGES,
                 max_messages: int = MAX_MESSAGES) -> bytes:
    """Preference-pair material as JSONL (UTF-8 bytes): one record per dissatisfaction
    reaction (content_relevance, presentation_style, scope_fit) whose thought has at least
    ``min_words`` words, in a conversation of ``min_messages``-``max_messages`` messages
    under ``filters`` (the paper's Utility 2 selection with the defaults).

    Fields: conv_id, turn (the assistant message's), context (the messages before it:
    ``[{role, content}]``), response (its text), reaction_label, reaction (the thought's
    text), next_user_message (the message right after it when that is a user message, else
    null), guide, critique (the reaction for ``guide="thought"``; the next user message for
    ``guide="message"``, which skips records whose next user message is missing or blank).
    In input order: source line, turn, the thought's position on its message.

    Raises:
        ExportOptionError: an unknown guide, a negative threshold, min above max.
    """
    sql, params = _pairs_cte(filters, guide, min_words, min_messages, max_messages)
    rows = con.execute(f"""
        WITH {sql}
        SELECT pr.conv_id, pr.turn, pr.label, pr.content, m.content, pr.next_user,
               (SELECT list(struct_pack(role := p.role, content := p.content) ORDER BY p.turn)
                FROM messages p WHERE p.conv_id = pr.conv_id AND p.turn < pr.turn)
        FROM pr JOIN messages m ON m.conv_id = pr.conv_id AND m.turn = pr.turn
        ORDER BY pr.source_line, pr.conv_id, pr.turn, pr.idx""", params).fetchall()
    lines = []
    for conv_id, turn, label, reaction, response, next_user, context in rows:
        rec = {"conv_id": conv_id, "turn": turn, "context": _pairs_of(context, "role"),
               "response": response, "reaction_label": label, "reaction": reaction,
               "next_user_message": next_user, "guide": guide,
               "critique": reaction if guide == "thought" else next_user}
        lines.append(json.dumps(rec, ensure_ascii=False))
    return _jsonl(lines)


def _sim_cte(filters: Filters) -> tuple[str, list]:
    """``um``: every user message after its conversation's first (conv_id, turn, content,
    source_line) under ``filters``, after ``WITH``; and its parameters."""
    where, params = filters.where("c")
    sql = f"""
        sel AS (SELECT c.conv_id, c.source_line FROM conversations c WHERE {where}),
        fu AS (SELECT m.conv_id, min(m.turn) AS turn FROM messages m JOIN sel USING (conv_id)
               WHERE m.role = 'user' GROUP BY m.conv_id),
        um AS (SELECT m.conv_id, m.turn, m.content, sel.source_line
               FROM messages m JOIN sel USING (conv_id) JOIN fu ON fu.conv_id = m.conv_id
               WHERE m.role = 'user' AND m.turn > fu.turn)"""
    return sql, params


def count_simulator(con: duckdb.DuckDBPyConnection, filters: Filters,
                    history: int = HISTORY) -> int:
    """How many records `export_simulator` writes for the same arguments."""
    _int_option("history", history, 1)
    sql, params = _sim_cte(filters)
    return int(scalar(con, f"WITH {sql} SELECT count(*) FROM um", params))


def export_simulator(con: duckdb.DuckDBPyConnection, filters: Filters,
                     history: int = HISTORY) -> bytes:
    """User-simulator material as JSONL (UTF-8 bytes): one record per user message after
    the first of each conversation under ``filters`` (the paper's Utility 1 set-up).

    Fields: conv_id, turn, history (the up to ``history`` messages right before it:
    ``[{role, content}]``, oldest first), reasons (on this message: ``[{label, content}]``),
    previous_reactions (on the message right before it, when that is an assistant message:
    ``[{label, content}]``), target (its text). In input order: source line, turn.

    Raises:
        ExportOptionError: ``history`` below 1.
    """
    _int_option("history", history, 1)
    sql, params = _sim_cte(filters)
    rows = con.execute(f"""
        WITH {sql}
        SELECT um.conv_id, um.turn, um.content,
               (SELECT list(struct_pack(role := h.role, content := h.content) ORDER BY h.turn)
                FROM messages h WHERE h.conv_id = um.conv_id AND h.turn < um.turn
                                  AND h.turn >= um.turn - ?),
               (SELECT list(struct_pack(label := t.label, content := t.content) ORDER BY t.idx)
                FROM thoughts t WHERE t.conv_id = um.conv_id AND t.turn = um.turn
                                  AND t.kind = 'reason'),
               (SELECT list(struct_pack(label := t.label, content := t.content) ORDER BY t.idx)
                FROM thoughts t WHERE t.conv_id = um.conv_id AND t.turn = um.turn - 1
                                  AND t.kind = 'reaction')
        FROM um ORDER BY um.source_line, um.conv_id, um.turn""",
                       [*params, history]).fetchall()
    lines = []
    for conv_id, turn, target, hist, reasons, reactions in rows:
        rec = {"conv_id": conv_id, "turn": turn, "history": _pairs_of(hist, "role"),
               "reasons": _pairs_of(reasons, "label"),
               "previous_reactions": _pairs_of(reactions, "label"), "target": target}
        lines.append(json.dumps(rec, ensure_ascii=False))
    return _jsonl(lines)


def _pairs_of(items: list[dict] | None, key: str) -> list[dict]:
    """A DuckDB list of structs as ``[{key, content}]`` (an empty list for NULL)."""
    return [{key: item[key], "content": item["content"]} for item in items or []]


def _jsonl(lines: list[str]) -> bytes:
    return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")
