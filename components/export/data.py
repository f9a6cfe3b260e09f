"""Data exports of a filtered subset (no streamlit): the conversations as JSONL in the
release's schema, and their thoughts as CSV. The Conversations page offers both; the
command line (``python cli.py``) writes them too."""

from __future__ import annotations

import json

import duckdb

from components.filters import Filters
from components.queries.core import frame

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
