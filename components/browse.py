"""Read-only queries of the Conversation browser (no streamlit).

The list of matching conversations (sorted and paged in SQL, optionally narrowed to those
whose messages or thoughts contain a keyword), one conversation with its messages and
thoughts, neighbours in the list (previous / next), the texts of embedded items, and the
export of conversations in the release's JSONL schema plus a CSV of their thoughts.

Every function takes a cursor first and hashable arguments (scalars, tuples, `Filters`),
so `components.state.query("browse.<name>", ...)` can cache it. User values (keyword,
ids) are always SQL parameters; sort keys are looked up in a fixed table.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pandas as pd

from components.filters import Filters

#: Sort key -> (display name, SQL expression over the list query's columns).
SORTS: dict[str, tuple[str, str]] = {
    "id": ("Conversation id", "conv_id"),
    "model": ("Model", "model_name"),
    "messages": ("Messages", "n_messages"),
    "thoughts": ("Thoughts", "n_thoughts"),
    "dissatisfied": ("Dissatisfied reactions", "n_dissatisfied"),
    "created": ("Created", "created_at"),
    "hits": ("Keyword hits", "hits"),
}
DEFAULT_SORT = "id"
PAGE_SIZE = 25
#: Longest keyword accepted (a guard against pasting a whole document).
MAX_KEYWORD = 200

LIST_COLUMNS = ["conv_id", "model_name", "domain", "subtopic", "n_messages", "n_thoughts",
                "n_dissatisfied", "task_summary", "hits"]


def like_pattern(keyword: str) -> str:
    """``%keyword%`` for ``ILIKE ... ESCAPE '\\'``, with ``\\``, ``%`` and ``_`` escaped."""
    esc = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def clean_keyword(keyword: str | None) -> str:
    return (keyword or "").strip()[:MAX_KEYWORD]


def _matches(filters: Filters, keyword: str) -> tuple[str, list]:
    """SQL of the matching conversations with their keyword hit count, and its params.

    Columns: conv_id, model_name, domain, subtopic, n_messages, n_thoughts,
    n_dissatisfied, task_summary, created_at, hits (NULL without a keyword).
    """
    where, params = filters.where("c")
    cols = ("c.conv_id, c.model_name, c.domain, c.subtopic, c.n_messages, c.n_thoughts, "
            "c.n_dissatisfied, c.task_summary, c.created_at")
    keyword = clean_keyword(keyword)
    if not keyword:
        return (f"SELECT {cols}, NULL::BIGINT AS hits FROM conversations c WHERE {where}",
                params)
    pattern = like_pattern(keyword)
    # ESCAPE only when needed: without special characters the match is the same, and
    # DuckDB's plain ILIKE is about 1.5x faster than its ESCAPE variant
    esc = " ESCAPE '\\'" if pattern != f"%{keyword}%" else ""
    sql = f"""
        WITH h AS (
            SELECT conv_id, count(*) AS hits FROM (
                SELECT conv_id FROM messages WHERE content ILIKE ?{esc}
                UNION ALL
                SELECT conv_id FROM thoughts WHERE content ILIKE ?{esc})
            GROUP BY conv_id)
        SELECT {cols}, h.hits FROM conversations c JOIN h ON h.conv_id = c.conv_id
        WHERE {where}"""
    return sql, [pattern, pattern, *params]


def _order(sort: str, descending: bool) -> str:
    expr = SORTS.get(sort, SORTS[DEFAULT_SORT])[1]
    direction = "DESC" if descending else "ASC"
    tie = "" if expr == "conv_id" else f", conv_id {direction}"
    return f"{expr} {direction} NULLS LAST{tie}"


def matches(con: duckdb.DuckDBPyConnection, filters: Filters, keyword: str = "",
            sort: str = DEFAULT_SORT, descending: bool = False) -> dict[str, Any]:
    """The whole list in one query (one keyword scan): ids in order and their hit counts.

    Returns:
        {"ids": tuple of conv_ids in list order, "hits": tuple of hit counts (None without
        a keyword), "n_hits": total hits}. Count, pages and previous/next all come from
        this one cached result.
    """
    sql, params = _matches(filters, keyword)
    rows = con.execute(f"SELECT conv_id, hits FROM ({sql}) ORDER BY {_order(sort, descending)}",
                       params).fetchall()
    ids = tuple(r[0] for r in rows)
    if not clean_keyword(keyword):
        return {"ids": ids, "hits": None, "n_hits": 0}
    hits = tuple(int(r[1]) for r in rows)
    return {"ids": ids, "hits": hits, "n_hits": int(sum(hits))}


def rows_for(con: duckdb.DuckDBPyConnection, ids: tuple[str, ...]) -> pd.DataFrame:
    """The list columns (without hits) of the conversations ``ids``, in that order."""
    cols = [c for c in LIST_COLUMNS if c != "hits"]
    return con.execute(
        f"SELECT {', '.join('c.' + c for c in cols)} FROM conversations c "
        "JOIN (SELECT unnest(?::VARCHAR[]) AS conv_id, generate_subscripts(?::VARCHAR[], 1) "
        "AS i) o ON o.conv_id = c.conv_id ORDER BY o.i", [list(ids), list(ids)]).df()


def list_view(rows: pd.DataFrame, hits: tuple[int, ...] | None = None) -> pd.DataFrame:
    """The list as shown: friendly column names, domain / subtopic joined, and the hit
    counts (one per row, only with a keyword) as the last column."""
    rows = rows.copy()
    if hits is not None:
        rows["hits"] = list(hits)
    view = rows.rename(columns={"conv_id": "conversation", "model_name": "model",
                                "n_messages": "messages", "n_thoughts": "thoughts",
                                "n_dissatisfied": "dissatisfied",
                                "task_summary": "task summary"})
    view["domain / subtopic"] = [" / ".join(v for v in (d, s) if isinstance(v, str)) or "—"
                                 for d, s in zip(view["domain"], view["subtopic"])]
    columns = ["conversation", "model", "domain / subtopic", "messages", "thoughts",
               "dissatisfied", "task summary"] + (["hits"] if hits is not None else [])
    return view[columns]


def count_matches(con: duckdb.DuckDBPyConnection, filters: Filters, keyword: str = ""
                  ) -> tuple[int, int]:
    """(matching conversations, total keyword hits in them; 0 without a keyword)."""
    sql, params = _matches(filters, keyword)
    row = con.execute(f"SELECT count(*), coalesce(sum(hits), 0) FROM ({sql})",
                      params).fetchone()
    return int(row[0]), int(row[1])


def conversation_page(con: duckdb.DuckDBPyConnection, filters: Filters, keyword: str = "",
                      sort: str = DEFAULT_SORT, descending: bool = False, page: int = 1,
                      page_size: int = PAGE_SIZE) -> pd.DataFrame:
    """One page (1-based) of the matching conversations in the given order."""
    sql, params = _matches(filters, keyword)
    offset = max(0, int(page) - 1) * int(page_size)
    return con.execute(f"SELECT {', '.join(LIST_COLUMNS)} FROM ({sql}) "
                       f"ORDER BY {_order(sort, descending)} LIMIT ? OFFSET ?",
                       [*params, int(page_size), offset]).df()


def neighbours(ids: tuple[str, ...], conv_id: str) -> dict[str, Any]:
    """Where ``conv_id`` sits in the ordered ``ids`` (from `matches`): {index (1-based or
    None), previous, next}. Outside the list, previous / next are None and the first."""
    try:
        i = ids.index(conv_id)
    except ValueError:
        return {"index": None, "previous": None, "next": ids[0] if ids else None}
    return {"index": i + 1, "previous": ids[i - 1] if i > 0 else None,
            "next": ids[i + 1] if i + 1 < len(ids) else None}


def conv_ids(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[str, ...]:
    """Ids of the conversations under ``filters`` (for restricting semantic search)."""
    where, params = filters.where("c")
    return tuple(r[0] for r in con.execute(
        f"SELECT c.conv_id FROM conversations c WHERE {where} ORDER BY 1", params).fetchall())


# --------------------------------------------------------------------------- one conversation

def _records(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def transcript_data(con: duckdb.DuckDBPyConnection, conv_id: str) -> dict[str, Any] | None:
    """Everything the transcript view needs in one cached call (plain Python values, no
    DataFrames, so a cache hit is cheap): {"conv": the conversations row, "messages":
    [{turn, role, content, stage}], "thoughts": [{thought_id, turn, idx, kind, label,
    content}]} in order; None when there is no such conversation."""
    conv = _records(con.execute("SELECT * FROM conversations WHERE conv_id = ?", [conv_id]))
    if not conv:
        return None
    msgs = _records(con.execute("SELECT turn, role, content, stage FROM messages "
                                "WHERE conv_id = ? ORDER BY turn", [conv_id]))
    ths = _records(con.execute("SELECT thought_id, turn, idx, kind, label, content "
                               "FROM thoughts WHERE conv_id = ? ORDER BY turn, idx",
                               [conv_id]))
    return {"conv": conv[0], "messages": msgs, "thoughts": ths}


def item_texts(con: duckdb.DuckDBPyConnection, item_ids: tuple[str, ...]) -> pd.DataFrame:
    """Texts and context of embedded items (``m:conv:turn`` messages, ``t:id`` thoughts).

    Columns: item_id, text, model_name, stage; rows in no particular order.
    """
    if not item_ids:
        return pd.DataFrame(columns=["item_id", "text", "model_name", "stage"])
    msg = [i for i in item_ids if i.startswith("m:")]
    th = [int(i[2:]) for i in item_ids if i.startswith("t:") and i[2:].isdigit()]
    return con.execute("""
        SELECT 'm:' || m.conv_id || ':' || m.turn AS item_id, m.content AS text,
               c.model_name, m.stage
        FROM messages m JOIN conversations c USING (conv_id)
        WHERE 'm:' || m.conv_id || ':' || m.turn IN (SELECT unnest(?::VARCHAR[]))
        UNION ALL
        SELECT 't:' || t.thought_id, t.content, c.model_name, t.stage
        FROM thoughts t JOIN conversations c USING (conv_id)
        WHERE t.thought_id IN (SELECT unnest(?::INTEGER[]))""", [msg, th]).df()


# --------------------------------------------------------------------------- export

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
    df = con.execute(f"""
        SELECT t.thought_id, t.conv_id, t.turn, t.idx, t.kind, t.label, l.display_name,
               t.stage, {_ts('t.timestamp')} AS timestamp, c.model_name, c.domain,
               c.subtopic, t.content
        FROM thoughts t JOIN conversations c USING (conv_id)
        LEFT JOIN labels l ON l.code = t.label
        WHERE {where} ORDER BY c.source_line, t.turn, t.idx""", params).df()
    return df.to_csv(index=False).encode("utf-8")
