"""Queries of the multi-turn relationship view (paper Fig. 4): how each user message
relates to the previous user message (``messages.relationship``, filled by the
`relationships` stage: first, deepen, new_request, retry, variant), beside the paper's
published shares and flow.

- `relationship_shares`: the share of each relationship over all user turns.
- `relationship_flow`: the flow Start -> user turn 2 -> user turn 3 -> horizon, every
  step as shares of the conversations that started (at least one user message), so each
  step sums to 1: at turn 2 the relationship of the second user message, or "ended after
  turn 1"; at turn 3 the relationship of the third, "ended after turn 2" and, carried,
  "ended after turn 1"; at the horizon "4+ user turns", "ended after turn 3" and the
  two carried ends. This is how the paper's published numbers add up (turn 3: 13% + 16%
  + 72% = 101%, rounded).
- `relationship_by_reason`: relationship x the reasons on the same user message.
- `availability`: whether the columns exist and are filled.

User turns are the conversation's user messages in order (user turn 2 = the second user
message, whatever its ``messages.turn``).
"""

from __future__ import annotations

import duckdb
import polars as pl

from components import published
from components.filters import Filters
from components.queries.core import frame
from components.vocabulary import LABELS_BY_KIND, NO_REASON
from precompute.relationships import RELATIONSHIPS

#: Display names, with the paper's word in brackets where ours differs.
RELATIONSHIP_NAMES: dict[str, str] = {
    "first": "First request", "deepen": "Deepen (extend)", "new_request": "New request",
    "retry": "Retry (re-attempt)", "variant": "Variant (variation)"}
#: Relationships of a later user turn, in the paper's order.
FOLLOW_UPS: tuple[str, ...] = tuple(r for r in RELATIONSHIPS if r != "first")
#: A user message whose relationship is NULL (the stage has not filled it).
UNLABELLED = "unlabelled"

FLOW_STEPS: dict[str, str] = {"turn_2": "User turn 2", "turn_3": "User turn 3",
                              "horizon": "Horizon"}
FLOW_NAMES: dict[str, str] = {
    **{r: RELATIONSHIP_NAMES[r] for r in FOLLOW_UPS},
    "ended_after_1": "Ended after turn 1", "ended_after_2": "Ended after turn 2",
    "ended_after_3": "Ended after turn 3", "four_plus": "4+ user turns",
    UNLABELLED: "(no relationship)"}

SHARES_SCHEMA = {"relationship": pl.Utf8, "display_name": pl.Utf8, "n": pl.Int64,
                 "n_total": pl.Int64, "share": pl.Float64, "published_share": pl.Float64}
FLOW_SCHEMA = {"step": pl.Utf8, "step_label": pl.Utf8, "category": pl.Utf8,
               "category_label": pl.Utf8, "carried": pl.Boolean, "n": pl.Int64,
               "n_started": pl.Int64, "share": pl.Float64, "published_share": pl.Float64}


def availability(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """What the DB holds: ``columns`` (messages.relationship and relationship_source
    exist), ``relationships`` (they exist and every user message has one; false for a DB
    without user messages), ``labels`` (some come from a label file) and ``approx``
    (some come from the approximation)."""
    cols = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'messages'"
    ).fetchall()}
    out = {"columns": {"relationship", "relationship_source"} <= cols,
           "relationships": False, "labels": False, "approx": False}
    if not out["columns"]:
        return out
    n_user, n_filled, n_labels, n_approx = con.execute("""
        SELECT count(*), count(relationship),
               count(*) FILTER (WHERE relationship_source = 'labels'),
               count(*) FILTER (WHERE relationship_source = 'approx')
        FROM messages WHERE role = 'user'""").fetchall()[0]
    out.update(relationships=n_user > 0 and n_filled == n_user, labels=n_labels > 0,
               approx=n_approx > 0)
    return out


def _user_turns_sql(filters: Filters) -> tuple[str, list]:
    """``WITH fc, ut``: filtered conversations and their user messages with ``user_idx``
    (1-based among the conversation's user messages) and ``relationship``."""
    where, params = filters.where("c")
    return f"""
        WITH fc AS (SELECT c.conv_id FROM conversations c WHERE {where}),
        ut AS (
            SELECT m.conv_id, m.turn, m.relationship,
                   row_number() OVER (PARTITION BY m.conv_id ORDER BY m.turn) AS user_idx
            FROM messages m JOIN fc USING (conv_id) WHERE m.role = 'user')""", params


# =========================================================================== shares


def relationship_shares(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """The five relationships (zeros kept, paper order) over all user turns of the
    filtered conversations: relationship, display_name, n, n_total (user turns with a
    relationship), share (n / n_total; null when n_total is 0), published_share. User
    messages without a relationship are not counted (see `availability`)."""
    sql, params = _user_turns_sql(filters)
    counts = dict(con.execute(
        f"{sql} SELECT relationship, count(*) FROM ut WHERE relationship IS NOT NULL "
        "GROUP BY 1", params).fetchall())
    total = sum(counts.values())
    rows = [{"relationship": r, "display_name": RELATIONSHIP_NAMES[r],
             "n": int(counts.get(r, 0)), "n_total": total,
             "share": counts.get(r, 0) / total if total else None,
             "published_share": published.RELATIONSHIP_SHARES.get(r)}
            for r in RELATIONSHIPS]
    return pl.DataFrame(rows, schema=SHARES_SCHEMA)


# =========================================================================== flow


def flow_counts(n_user_turns: list[int], rel_2: list[str | None],
                rel_3: list[str | None]) -> list[dict]:
    """The flow's rows from one entry per started conversation (pure; see the module
    docstring): its number of user turns and the relationship of user turns 2 and 3
    (None when absent or unfilled)."""
    n_started = sum(1 for n in n_user_turns if n >= 1)
    ended = {k: sum(1 for n in n_user_turns if n == k) for k in (1, 2, 3)}

    def step_rows(step: str, rels: list[str | None], k: int) -> list[dict]:
        reached = [r for n, r in zip(n_user_turns, rels) if n >= k]
        rows = [(cat, sum(1 for r in reached if r == cat), False) for cat in FOLLOW_UPS]
        n_none = sum(1 for r in reached if r not in FOLLOW_UPS)
        if n_none:
            rows.append((UNLABELLED, n_none, False))
        rows += [(f"ended_after_{j}", ended[j], j < k - 1) for j in range(k - 1, 0, -1)]
        return [_flow_row(step, cat, n, carried, n_started) for cat, n, carried in rows]

    out = step_rows("turn_2", rel_2, 2) + step_rows("turn_3", rel_3, 3)
    horizon = [("four_plus", sum(1 for n in n_user_turns if n >= 4), False),
               ("ended_after_3", ended[3], False), ("ended_after_2", ended[2], True),
               ("ended_after_1", ended[1], True)]
    out += [_flow_row("horizon", cat, n, carried, n_started) for cat, n, carried in horizon]
    return out


def _flow_row(step: str, category: str, n: int, carried: bool, n_started: int) -> dict:
    return {"step": step, "step_label": FLOW_STEPS[step], "category": category,
            "category_label": FLOW_NAMES[category], "carried": carried, "n": n,
            "n_started": n_started, "share": n / n_started if n_started else None,
            "published_share": published.RELATIONSHIP_FLOW[step].get(category)}


def relationship_flow(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """The paper's Fig. 4 flow for the filtered conversations: Start -> user turn 2 ->
    user turn 3 -> horizon.

    Every row is a share of the conversations that started (at least one user message),
    so each step sums to 1. Columns: step (turn_2, turn_3, horizon), step_label,
    category (deepen, new_request, retry, variant, ended_after_1/2/3, four_plus, and
    'unlabelled' only when a reached turn has no relationship), category_label, carried
    (an end already shown at an earlier step), n, n_started, share, published_share.
    """
    sql, params = _user_turns_sql(filters)
    per_conv = con.execute(f"""{sql}
        SELECT count(*) AS n_user,
               any_value(relationship) FILTER (WHERE user_idx = 2) AS rel_2,
               any_value(relationship) FILTER (WHERE user_idx = 3) AS rel_3
        FROM ut GROUP BY conv_id ORDER BY conv_id""", params).fetchall()
    rows = flow_counts([int(r[0]) for r in per_conv], [r[1] for r in per_conv],
                       [r[2] for r in per_conv])
    return pl.DataFrame(rows, schema=FLOW_SCHEMA)


# =========================================================================== by reason


def relationship_by_reason(con: duckdb.DuckDBPyConnection, filters: Filters
                           ) -> pl.DataFrame:
    """Relationship x the reasons on the same user message, every cell (zeros kept).

    A user message counts once under each of its reasons, and under '(no reason given)'
    when it has none. Columns: relationship, reason (label code or NO_REASON), n,
    row_total (n summed over the relationship's row), row_share (n / row_total; each row
    sums to 1, null for an empty row), n_messages (user messages with that
    relationship), message_share (n / n_messages: the share of those messages carrying
    the reason).
    """
    sql, params = _user_turns_sql(filters)
    df = frame(con, f"""{sql},
        pairs AS (
            SELECT ut.relationship, coalesce(t.label, ?) AS reason
            FROM ut LEFT JOIN thoughts t
              ON t.conv_id = ut.conv_id AND t.turn = ut.turn AND t.kind = 'reason'
            WHERE ut.relationship IS NOT NULL)
        SELECT relationship, reason, count(*) AS n FROM pairs GROUP BY 1, 2""",
               [*params, NO_REASON])
    n_messages = dict(con.execute(
        f"{sql} SELECT relationship, count(*) FROM ut WHERE relationship IS NOT NULL "
        "GROUP BY 1", params).fetchall())
    counts = {(r, s): n for r, s, n in df.iter_rows()}
    reasons = (*LABELS_BY_KIND["reason"], NO_REASON)
    rows = []
    for rel in RELATIONSHIPS:
        row_total = sum(counts.get((rel, s), 0) for s in reasons)
        n_msg = int(n_messages.get(rel, 0))
        for reason in reasons:
            n = int(counts.get((rel, reason), 0))
            rows.append({"relationship": rel, "reason": reason, "n": n,
                         "row_total": row_total,
                         "row_share": n / row_total if row_total else None,
                         "n_messages": n_msg,
                         "message_share": n / n_msg if n_msg else None})
    return pl.DataFrame(rows, schema={"relationship": pl.Utf8, "reason": pl.Utf8,
                                      "n": pl.Int64, "row_total": pl.Int64,
                                      "row_share": pl.Float64, "n_messages": pl.Int64,
                                      "message_share": pl.Float64})


# =========================================================================== paths


PATH_SCHEMA = {"step_a": pl.Utf8, "category_a": pl.Utf8, "step_b": pl.Utf8,
               "category_b": pl.Utf8, "n": pl.Int64}


def path_links(n_user_turns: list[int], rel_2: list[str | None], rel_3: list[str | None]
               ) -> pl.DataFrame:
    """The flow's links (pure): how many started conversations go from each category of
    one step to each of the next (start -> user turn 2 -> user turn 3 -> horizon), with
    the categories of `flow_counts` (an ended conversation keeps its end at later steps).
    Columns: step_a, category_a, step_b, category_b, n."""
    def at(n: int, rel: str | None, k: int) -> str:
        if n < k:
            return f"ended_after_{n}"
        return rel if rel in FOLLOW_UPS else UNLABELLED

    counts: dict[tuple[str, str, str, str], int] = {}
    for n, r2, r3 in zip(n_user_turns, rel_2, rel_3):
        if n < 1:
            continue
        c2, c3 = at(n, r2, 2), at(n, r3, 3)
        c4 = "four_plus" if n >= 4 else f"ended_after_{n}"
        for key in (("start", "start", "turn_2", c2), ("turn_2", c2, "turn_3", c3),
                    ("turn_3", c3, "horizon", c4)):
            counts[key] = counts.get(key, 0) + 1
    rows = [(*k, v) for k, v in counts.items()]
    return pl.DataFrame(rows, schema=PATH_SCHEMA, orient="row")


def relationship_paths(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """`path_links` of the filtered conversations (the flow figure's links)."""
    sql, params = _user_turns_sql(filters)
    per_conv = con.execute(f"""{sql}
        SELECT count(*) AS n_user,
               any_value(relationship) FILTER (WHERE user_idx = 2) AS rel_2,
               any_value(relationship) FILTER (WHERE user_idx = 3) AS rel_3
        FROM ut GROUP BY conv_id ORDER BY conv_id""", params).fetchall()
    return path_links([int(r[0]) for r in per_conv], [r[1] for r in per_conv],
                      [r[2] for r in per_conv])
