"""Queries of the Conversations page.

The list of matching conversations (sorted and paged in SQL, optionally narrowed to those
whose messages or thoughts contain a keyword, optionally grouped by participant), one
conversation with its messages and thoughts, neighbours in the list (previous / next) and
the texts of embedded items. User
values (keyword, ids) are always SQL parameters; sort keys are looked up in a fixed table.
The exports of the filtered conversations live in `components.export.data`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import polars as pl

from components import links
from components.filters import Filters
from components.queries.core import frame
from components.queries.participant import VIEW_ONE

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
#: How the list may be grouped (URL ``group``): key -> the ORDER BY prefix over the list
#: query's columns. ``user``: participants by their number of matching conversations
#: (most first), then by id; each one's conversations together, in the chosen sort.
GROUPS: dict[str, str] = {"": "", "user": "n_user DESC, user_id ASC, "}
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

    Columns: conv_id, user_id, model_name, domain, subtopic, n_messages, n_thoughts,
    n_dissatisfied, task_summary, created_at, hits (NULL without a keyword).
    """
    where, params = filters.where("c")
    cols = ("c.conv_id, c.user_id, c.model_name, c.domain, c.subtopic, c.n_messages, "
            "c.n_thoughts, c.n_dissatisfied, c.task_summary, c.created_at")
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
            sort: str = DEFAULT_SORT, descending: bool = False, group: str = ""
            ) -> dict[str, Any]:
    """The whole list in one query (one keyword scan): ids in order and their hit counts.

    Args:
        group: a key of `GROUPS`: ``"user"`` puts each participant's conversations
            together, participants with the most matching conversations first (ties by
            user id), each one's conversations in the ``sort`` order; ``""`` (or an
            unknown key) does not group.

    Returns:
        {"ids": tuple of conv_ids in list order, "hits": tuple of hit counts (None without
        a keyword), "n_hits": total hits, "users": the user id of each row, "user_n": how
        many of that user's conversations are in the list}. Count, pages and
        previous/next all come from this one cached result.
    """
    sql, params = _matches(filters, keyword)
    group = group if group in GROUPS else ""
    rows = con.execute(f"""
        SELECT conv_id, hits, user_id, count(*) OVER (PARTITION BY user_id) AS n_user
        FROM ({sql}) ORDER BY {GROUPS[group]}{_order(sort, descending)}""", params).fetchall()
    ids = tuple(r[0] for r in rows)
    out = {"ids": ids, "hits": None, "n_hits": 0, "users": tuple(r[2] for r in rows),
           "user_n": tuple(int(r[3]) for r in rows)}
    if not clean_keyword(keyword):
        return out
    hits = tuple(int(r[1]) for r in rows)
    return {**out, "hits": hits, "n_hits": int(sum(hits))}


def rows_for(con: duckdb.DuckDBPyConnection, ids: tuple[str, ...]) -> pl.DataFrame:
    """The list columns (without hits) of the conversations ``ids``, in that order."""
    cols = [c for c in LIST_COLUMNS if c != "hits"] + ["topic_uncertain"]
    return frame(con,
                 f"SELECT {', '.join('c.' + c for c in cols)} FROM conversations c "
                 "JOIN (SELECT unnest(?::VARCHAR[]) AS conv_id, "
                 "generate_subscripts(?::VARCHAR[], 1) AS i) o ON o.conv_id = c.conv_id "
                 "ORDER BY o.i", [list(ids), list(ids)])


LIST_VIEW_NAMES = {"conv_id": "conversation", "model_name": "model",
                   "n_messages": "messages", "n_thoughts": "thoughts",
                   "n_dissatisfied": "dissatisfied", "task_summary": "task summary"}


def participant_cells(users: Sequence[str], user_n: Sequence[int],
                      params: Mapping[str, Sequence[str] | str]) -> list[tuple[str, int, str]]:
    """Per row of the grouped list: (user id, their conversations in the list, the link to
    their profile: the Participants page's "One participant" tab with the filters of
    ``params``)."""
    return [(u, int(n), links.page_url("participants", params, view=VIEW_ONE, pid=u))
            for u, n in zip(users, user_n)]


def list_view(rows: pl.DataFrame, hits: tuple[int, ...] | None = None,
              participants: Sequence[tuple[str, int, str]] | None = None) -> pl.DataFrame:
    """The list as shown: friendly column names, domain / subtopic joined, and the hit
    counts (one per row, only with a keyword) as the last column. With ``participants``
    (the grouped list, `participant_cells`), two first columns: "participant" (the link to
    the user's profile, which the page shows as the user id) and "their matches" (their
    conversations in the list)."""
    unsure = (rows["topic_uncertain"].to_list() if "topic_uncertain" in rows.columns
              else [None] * rows.height)
    topic = [(" / ".join(v for v in (d, s) if isinstance(v, str)) or "—")
             + (" (uncertain)" if u else "")
             for d, s, u in zip(rows["domain"].to_list(), rows["subtopic"].to_list(), unsure)]
    view = rows.rename(LIST_VIEW_NAMES).with_columns(
        pl.Series("domain / subtopic", topic, dtype=pl.Utf8))
    # the summary second: at laptop widths the columns past the container scroll out of
    # view, and the summary is what a reader scans (the counts are short)
    columns = ["conversation", "task summary", "model", "domain / subtopic", "messages",
               "thoughts", "dissatisfied"]
    if hits is not None:
        view = view.with_columns(pl.Series("hits", list(hits), dtype=pl.Int64))
        columns.append("hits")
    if participants is not None:
        view = view.with_columns(
            pl.Series("participant", [p[2] for p in participants], dtype=pl.Utf8),
            pl.Series("their matches", [p[1] for p in participants], dtype=pl.Int64))
        columns = ["participant", "their matches", *columns]
    return view.select(columns)


def count_matches(con: duckdb.DuckDBPyConnection, filters: Filters, keyword: str = ""
                  ) -> tuple[int, int]:
    """(matching conversations, total keyword hits in them; 0 without a keyword)."""
    sql, params = _matches(filters, keyword)
    # fetchall, not fetchone: DuckDB 2 keeps a fetchone() result pending on the connection
    row = con.execute(f"SELECT count(*), coalesce(sum(hits), 0) FROM ({sql})",
                      params).fetchall()[0]
    return int(row[0]), int(row[1])


def conversation_page(con: duckdb.DuckDBPyConnection, filters: Filters, keyword: str = "",
                      sort: str = DEFAULT_SORT, descending: bool = False, page: int = 1,
                      page_size: int = PAGE_SIZE) -> pl.DataFrame:
    """One page (1-based) of the matching conversations in the given order."""
    sql, params = _matches(filters, keyword)
    offset = max(0, int(page) - 1) * int(page_size)
    return frame(con, f"SELECT {', '.join(LIST_COLUMNS)} FROM ({sql}) "
                      f"ORDER BY {_order(sort, descending)} LIMIT ? OFFSET ?",
                 [*params, int(page_size), offset])


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


def item_texts(con: duckdb.DuckDBPyConnection, item_ids: tuple[str, ...]) -> pl.DataFrame:
    """Texts and context of embedded items (``m:conv:turn`` messages, ``t:id`` thoughts).

    Columns: item_id, text, model_name, stage; rows in no particular order.
    """
    msg = [i for i in item_ids if i.startswith("m:")]
    th = [int(i[2:]) for i in item_ids if i.startswith("t:") and i[2:].isdigit()]
    return frame(con, """
        SELECT 'm:' || m.conv_id || ':' || m.turn AS item_id, m.content AS text,
               c.model_name, m.stage
        FROM messages m JOIN conversations c USING (conv_id)
        WHERE 'm:' || m.conv_id || ':' || m.turn IN (SELECT unnest(?::VARCHAR[]))
        UNION ALL
        SELECT 't:' || t.thought_id, t.content, c.model_name, t.stage
        FROM thoughts t JOIN conversations c USING (conv_id)
        WHERE t.thought_id IN (SELECT unnest(?::INTEGER[]))""", [msg, th])


def sequence_matches(thoughts: Sequence[Mapping[str, Any]], first: Sequence[str],
                     then: Sequence[str]) -> dict[str, Any]:
    """Where a conversation satisfies the sequence filter "a ``first`` label, later a
    ``then`` label" (`Filters.where`'s rule: later = a later turn, or the same turn and a
    later thought), over its thoughts in transcript order (turn, idx).

    Returns ``{"sides": {thought_id: "first" | "then" | "both"}, "turns": sorted turns of
    the marked thoughts, "first_turn": the turn of the earliest ``first`` thought that a
    ``then`` thought follows (None when the conversation does not match)}``: a ``first``
    thought is marked when some ``then`` thought comes after it, a ``then`` thought when
    some ``first`` thought comes before it.
    """
    first, then = set(first), set(then)
    ordered = sorted(thoughts, key=lambda t: (int(t["turn"]), int(t["idx"])))
    sides: dict[int, str] = {}
    seen_first = False
    for t in ordered:  # a then-thought after any first-thought
        if t["label"] in then and seen_first:
            sides[int(t["thought_id"])] = "then"
        if t["label"] in first:
            seen_first = True
    seen_then, first_turn = False, None
    for t in reversed(ordered):  # a first-thought before any then-thought
        if t["label"] in first and seen_then:
            tid = int(t["thought_id"])
            sides[tid] = "both" if sides.get(tid) == "then" else "first"
            first_turn = int(t["turn"])
        if t["label"] in then:
            seen_then = True
    turns = sorted({int(t["turn"]) for t in ordered if int(t["thought_id"]) in sides})
    return {"sides": sides, "turns": turns, "first_turn": first_turn}
