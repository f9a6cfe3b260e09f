"""Subset A against subset B (issue #16.1): the distribution of one dimension in each,
side by side and as differences, with user-level intervals, a permutation test over
users and Cramér's V (`components.stats.compare_subsets`).

A is the page's filters; B is a `Comparison`: "all the other conversations" or its own
filters. The dimensions are the distributions the pages draw:

- ``reason`` / ``reaction``: thought labels (optionally of one stage), unit = thought;
- ``relationship``: how a user message relates to the previous one (paper Fig. 4),
  user messages after the first, optionally of one stage;
- ``domain``: the conversation's primary domain, unit = conversation;
- ``length``: the conversation's length bin (the paper's bins), unit = conversation;
- ``age`` / ``gender`` / ``education`` / ``ai_frequency``: survey answers in the paper's
  groupings, unit = (user, answer) — counted by users, as the Participants page does.

Every unit belongs to one user; intervals and the test resample / permute users.
A conversation that is in both A and B (B given by its own filters) cannot be on both
sides of a test: the comparison reports the overlap and draws nothing.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import polars as pl

from components import published, stats
from components.filters import Comparison, Filters
from components.queries import participants as qp
from components.queries import relationships as qrl
from components.queries.core import frame
from components.queries.relationships import RELATIONSHIP_NAMES
from components.vocabulary import LABELS_BY_KIND, PAIR_TYPES
from precompute.labels import STAGES
from precompute.relationships import RELATIONSHIPS

#: Dimension -> (title, unit noun (plural), whether a stage may restrict it).
DIMENSIONS: dict[str, tuple[str, str, bool]] = {
    "reason": ("Reasons (thought labels on user messages)", "reasons", True),
    "reaction": ("Reactions (thought labels on assistant messages)", "reactions", True),
    "relationship": ("Relationship to the previous user message", "user messages", True),
    "domain": ("Primary domain", "conversations", False),
    "length": ("Conversation length (messages, the paper's bins)", "conversations", False),
    "age": ("Age bracket (survey)", "users", False),
    "gender": ("Gender (survey, the paper's groups)", "users", False),
    "education": ("Education (survey, the paper's groups)", "users", False),
    "ai_frequency": ("AI-use frequency (survey)", "users", False),
}
SURVEY = ("age", "gender", "education", "ai_frequency")
ITEM_SCHEMA = {"user_id": pl.Utf8, "side": pl.Int64, "category": pl.Utf8}
TABLE_SCHEMA = {"category": pl.Utf8, "n_a": pl.Int64, "share_a": pl.Float64,
                "lo_a": pl.Float64, "hi_a": pl.Float64, "n_b": pl.Int64,
                "share_b": pl.Float64, "lo_b": pl.Float64, "hi_b": pl.Float64,
                "diff": pl.Float64, "diff_lo": pl.Float64, "diff_hi": pl.Float64}


def _check(dimension: str, stage: str | None) -> None:
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r} (expected one of "
                         f"{', '.join(DIMENSIONS)})")
    if stage is not None and (stage not in STAGES or not DIMENSIONS[dimension][2]):
        raise ValueError(f"stage {stage!r} does not apply to {dimension!r}")


def _sides(a: Filters, comparison: Comparison) -> tuple[str, list]:
    """A CTE ``sides(conv_id, user_id, side)`` listing A's conversations (side 0) and
    B's (side 1); a conversation in both is listed twice."""
    where_a, params_a = a.where("c")
    where_b, params_b = comparison.where_b(a, "c")
    return (f"""sides AS (
            SELECT c.conv_id, c.user_id, 0 AS side FROM conversations c WHERE {where_a}
            UNION ALL
            SELECT c.conv_id, c.user_id, 1 AS side FROM conversations c WHERE {where_b})""",
            [*params_a, *params_b])


def overlap(con: duckdb.DuckDBPyConnection, a: Filters, comparison: Comparison
            ) -> dict[str, int]:
    """Conversations and users of A, of B and of both."""
    sides_cte, params = _sides(a, comparison)
    (ca, cb, cboth, ua, ub, uboth), = con.execute(f"""
        WITH {sides_cte}, per AS (
            SELECT conv_id, any_value(user_id) AS user_id, bool_or(side = 0) AS in_a,
                   bool_or(side = 1) AS in_b FROM sides GROUP BY conv_id),
        users AS (SELECT user_id, bool_or(in_a) AS in_a, bool_or(in_b) AS in_b
                  FROM per GROUP BY user_id)
        SELECT (SELECT count(*) FILTER (WHERE in_a) FROM per),
               (SELECT count(*) FILTER (WHERE in_b) FROM per),
               (SELECT count(*) FILTER (WHERE in_a AND in_b) FROM per),
               (SELECT count(*) FILTER (WHERE in_a) FROM users),
               (SELECT count(*) FILTER (WHERE in_b) FROM users),
               (SELECT count(*) FILTER (WHERE in_a AND in_b) FROM users)""",
        params).fetchall()
    return {"conversations_a": int(ca or 0), "conversations_b": int(cb or 0),
            "conversations_both": int(cboth or 0), "users_a": int(ua or 0),
            "users_b": int(ub or 0), "users_both": int(uboth or 0)}


def items(con: duckdb.DuckDBPyConnection, a: Filters, comparison: Comparison,
          dimension: str, stage: str | None = None) -> pl.DataFrame:
    """One row per unit of ``dimension`` in A (side 0) and in B (side 1): user_id, side,
    category. NULL categories are ``(missing)`` (a domain, a relationship not filled)."""
    _check(dimension, stage)
    sides_cte, params = _sides(a, comparison)
    if dimension in SURVEY:
        rows = frame(con, f"""
            WITH {sides_cte}
            SELECT s.side, c.conv_id, c.user_id, c.age, c.age_bracket, c.gender,
                   c.education, c.occupation, c.ai_frequency, c.purposes
            FROM sides s JOIN conversations c USING (conv_id)
            ORDER BY s.side, c.conv_id""", params)
        if rows.is_empty():
            return pl.DataFrame(schema=ITEM_SCHEMA)
        cats = qp.categorise(rows.drop("side"), dimension, grouping="paper")
        return (pl.DataFrame({"user_id": cats["user_id"], "side": rows["side"],
                              "category": cats["category"]}, schema=ITEM_SCHEMA)
                .unique(maintain_order=True))  # counted by users: one row per answer
    cond, stage_params = ("", [])
    if stage is not None:
        cond, stage_params = " AND x.stage = ?", [stage]
    if dimension in ("reason", "reaction"):
        sql = f"""
            WITH {sides_cte}
            SELECT s.user_id, s.side, x.label AS category
            FROM sides s JOIN thoughts x USING (conv_id)
            WHERE x.kind = ?{cond}
            ORDER BY s.side, s.conv_id, x.turn, x.idx"""
        return frame(con, sql, [*params, dimension, *stage_params]).cast(ITEM_SCHEMA)
    if dimension == "relationship":
        sql = f"""
            WITH {sides_cte}
            SELECT s.user_id, s.side, coalesce(x.relationship, '(missing)') AS category
            FROM sides s JOIN messages x USING (conv_id)
            WHERE TRUE{cond} AND x.role = 'user' AND coalesce(x.relationship, '') <> 'first'
            ORDER BY s.side, s.conv_id, x.turn"""
        return frame(con, sql, [*params, *stage_params]).cast(ITEM_SCHEMA)
    if dimension == "domain":
        sql = f"""
            WITH {sides_cte}
            SELECT s.user_id, s.side, coalesce(c.domain, '(missing)') AS category
            FROM sides s JOIN conversations c USING (conv_id) ORDER BY s.side, s.conv_id"""
        return frame(con, sql, params).cast(ITEM_SCHEMA)
    sql = f"""
        WITH {sides_cte}
        SELECT s.user_id, s.side, c.n_messages FROM sides s
        JOIN conversations c USING (conv_id) ORDER BY s.side, s.conv_id"""
    df = frame(con, sql, params)
    return pl.DataFrame({"user_id": df["user_id"], "side": df["side"],
                         "category": [published.length_bin(int(n)) for n in
                                      df["n_messages"].to_list()]}, schema=ITEM_SCHEMA)


def category_order(con: duckdb.DuckDBPyConnection, dimension: str,
                   present: list[str]) -> list[str]:
    """The display order of ``dimension``'s categories: the labels', the relationships'
    and the length bins' own order, the taxonomy's domains, the survey's display order;
    categories not in the order (``(missing)``) last."""
    if dimension in ("reason", "reaction"):
        order = list(LABELS_BY_KIND[dimension])
    elif dimension == "relationship":
        order = [r for r in RELATIONSHIPS if r != "first"]
    elif dimension == "length":
        order = list(published.LENGTH_BINS)
    elif dimension == "domain":
        order = [r[0] for r in con.execute(
            "SELECT domain FROM topic_taxonomy GROUP BY domain "
            "ORDER BY min(domain_order), domain").fetchall()] if _has(con, "topic_taxonomy") \
            else sorted(c for c in present if c != "(missing)")
    else:
        cats = pl.DataFrame({"conv_id": present, "user_id": present, "category": present},
                            schema=qp.CATEGORY_SCHEMA)
        order = qp.count_categories(cats, dimension)["category"].to_list()
    seen = set(order)
    return order + sorted(c for c in set(present) if c not in seen)


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
                            [table]).fetchall()[0][0])


def compare(con: duckdb.DuckDBPyConnection, a: Filters, comparison: Comparison,
            dimension: str, stage: str | None = None) -> dict[str, Any]:
    """A against B on one dimension.

    Returns ``{"table"}`` (TABLE_SCHEMA: per category the counts, shares and 95%
    intervals of A and of B, and the difference A - B with its interval; categories that
    neither side has are left out), ``"test"`` (`stats.compare_subsets`'s scalars:
    cramers_v, p_value, n_perm, n_boot, users_a/b/both, items_a/b), ``"overlap"``
    (`overlap`), ``"dimension"``, ``"stage"``, ``"unit"``, and ``"error"``: None, or why
    nothing was compared (A and B share conversations, or a side is empty).
    """
    _check(dimension, stage)
    ov = overlap(con, a, comparison)
    out: dict[str, Any] = {"dimension": dimension, "stage": stage, "overlap": ov,
                           "unit": DIMENSIONS[dimension][1],
                           "table": pl.DataFrame(schema=TABLE_SCHEMA), "test": {},
                           "error": missing_stage(con, dimension)}
    if out["error"]:
        return out
    if ov["conversations_both"]:
        out["error"] = (f"A and B share {ov['conversations_both']:,} conversations: a "
                        "conversation cannot be on both sides of a test. Define B so that "
                        "it leaves A's conversations out (or compare with all the others).")
        return out
    df = items(con, a, comparison, dimension, stage)
    sides = set(df["side"].to_list())
    if sides != {0, 1}:
        empty = "A" if 0 not in sides else "B"
        out["error"] = (f"Subset {empty} has no {DIMENSIONS[dimension][1]}"
                        + (f" in the {stage} stage" if stage else "") + ": nothing to compare.")
        return out
    cats = df["category"].to_list()
    order = category_order(con, dimension, sorted(set(cats)))
    label, order = stats.codes(cats, order)
    res = stats.compare_subsets(stats.dense(df["user_id"].to_list()), label,
                                df["side"].to_numpy(), len(order))
    present = (res["counts_a"] + res["counts_b"]) > 0
    cols = {"category": order}
    for key, src in (("n_a", "counts_a"), ("share_a", "share_a"), ("lo_a", "lo_a"),
                     ("hi_a", "hi_a"), ("n_b", "counts_b"), ("share_b", "share_b"),
                     ("lo_b", "lo_b"), ("hi_b", "hi_b"), ("diff", "diff"),
                     ("diff_lo", "diff_lo"), ("diff_hi", "diff_hi")):
        cols[key] = np.asarray(res[src]).tolist()
    table = pl.DataFrame(cols, schema=TABLE_SCHEMA).filter(pl.Series(present.tolist()))
    out["table"] = table
    out["test"] = {k: res[k] for k in ("cramers_v", "p_value", "n_perm", "n_boot", "users_a",
                                       "users_b", "users_both", "items_a", "items_b")}
    return out


def missing_stage(con: duckdb.DuckDBPyConnection, dimension: str) -> str | None:
    """Why this DB cannot give ``dimension`` (a build stage that did not run), or None."""
    if dimension == "relationship" and not qrl.availability(con)["relationships"]:
        return ("This database was built without the relationships stage: run `python -m "
                "precompute build` (or `python -m precompute relationships`).")
    if dimension == "domain" and not con.execute(
            "SELECT count(domain) FROM conversations").fetchall()[0][0]:
        return ("This database was built without the topics stage: run `python -m "
                "precompute build`.")
    return None


def category_names(dimension: str, display: dict[str, str]) -> dict[str, str]:
    """Display names of a dimension's categories (labels, relationships)."""
    if dimension in ("reason", "reaction"):
        return dict(display)
    if dimension == "relationship":
        return dict(RELATIONSHIP_NAMES)
    if dimension == "length":
        return {b: f"{b} messages" for b in published.LENGTH_BINS}
    return {}


SHIFT_SCHEMA = {"pair_type": pl.Utf8, "n_a": pl.Int64, "median_a": pl.Float64,
                "lo_a": pl.Float64, "hi_a": pl.Float64, "n_b": pl.Int64,
                "median_b": pl.Float64, "lo_b": pl.Float64, "hi_b": pl.Float64,
                "diff": pl.Float64, "diff_lo": pl.Float64, "diff_hi": pl.Float64,
                "p_value": pl.Float64, "users_a": pl.Int64, "users_b": pl.Int64,
                "users_both": pl.Int64}


def compare_shifts(con: duckdb.DuckDBPyConnection, a: Filters, comparison: Comparison
                   ) -> dict[str, Any]:
    """A against B on the semantic shifts: per pair type (consecutive user messages, a
    message and its reason, a reaction and the next message), the median map distance of
    each side, the difference, user-level 95% intervals and the permutation test over
    users (`stats.compare_medians`).

    Returns ``{"table"}`` (SHIFT_SCHEMA, one row per pair type with pairs on a side),
    ``"overlap"``, ``"error"`` (as `compare`).
    """
    ov = overlap(con, a, comparison)
    out: dict[str, Any] = {"overlap": ov, "table": pl.DataFrame(schema=SHIFT_SCHEMA),
                           "error": None}
    if not _has(con, "shift_pairs"):
        out["error"] = ("This database was built without the shifts stage: run `python -m "
                        "precompute build`.")
        return out
    if ov["conversations_both"]:
        out["error"] = (f"A and B share {ov['conversations_both']:,} conversations: a "
                        "conversation cannot be on both sides of a test. Define B so that "
                        "it leaves A's conversations out (or compare with all the others).")
        return out
    sides_cte, params = _sides(a, comparison)
    df = frame(con, f"""
        WITH {sides_cte}
        SELECT s.user_id, s.side, p.pair_type, p.umap_distance AS value
        FROM sides s JOIN shift_pairs p USING (conv_id)
        WHERE p.umap_distance IS NOT NULL AND isfinite(p.umap_distance)
        ORDER BY p.pair_type, s.side, p.conv_id, p.src_id, p.dst_id""", params)
    rows = []
    for pair_type in PAIR_TYPES:
        part = df.filter(pl.col("pair_type") == pair_type)
        if part.is_empty():
            continue
        res = stats.compare_medians(stats.dense(part["user_id"].to_list()),
                                    part["side"].to_numpy(), part["value"].to_numpy())
        rows.append({"pair_type": pair_type, **{k: res[k] for k in SHIFT_SCHEMA
                                                if k != "pair_type"}})
    if not rows:
        out["error"] = "Neither subset has shift pairs: nothing to compare."
        return out
    out["table"] = pl.DataFrame(rows, schema=SHIFT_SCHEMA)
    sides = {"A": int(out["table"]["n_a"].sum()), "B": int(out["table"]["n_b"].sum())}
    empty = [k for k, v in sides.items() if not v]
    if empty:
        out["error"] = f"Subset {empty[0]} has no shift pairs: nothing to compare."
    return out
