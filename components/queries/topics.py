"""Queries of the Topics page.

Reads the topics stage (``topic_taxonomy``, ``topic_scores``, ``conversations.domain`` /
``subtopic``) and the clusters stage (``clusters``, ``cluster_members``, with
``embedded_items`` to find each member's conversation).
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import polars as pl

from components.filters import Filters
from components.queries.core import frame, tables

NO_DOMAIN = "(no domain)"
NO_SUBTOPIC = "(no subtopic)"
NOISE_ID = -1
SPACES = {"task": "Tasks (one per conversation)", "reason": "Reasons", "reaction": "Reactions"}
COUNT_MODES = {"primary": "Primary topic (one per conversation)",
               "multi": "Multi-label (every assigned subtopic)"}


def availability(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """Whether the DB holds the topics stage's and the clusters stage's tables."""
    t = tables(con)
    return {"topics": {"topic_taxonomy", "topic_scores"} <= t,
            "clusters": {"clusters", "cluster_members", "embedded_items"} <= t}


def domain_order(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """Domains in taxonomy order."""
    return tuple(r[0] for r in con.execute(
        "SELECT domain FROM topic_taxonomy GROUP BY domain ORDER BY min(domain_order), domain"
    ).fetchall())


def topic_counts(con: duckdb.DuckDBPyConnection, filters: Filters,
                 mode: str = "primary") -> pl.DataFrame:
    """Counts per (domain, subtopic) for the filtered conversations.

    ``mode='primary'``: conversations by their primary topic (``conversations.domain`` /
    ``subtopic``; one per conversation; unassigned ones as '(no domain)'). ``'multi'``:
    every (conversation, subtopic) with ``topic_scores.is_assigned`` (a conversation may
    count in several subtopics and domains). Columns: domain, subtopic, n; taxonomy order.
    """
    where, params = filters.where("c")
    if mode == "primary":
        sql = f"""
            SELECT coalesce(c.domain, '{NO_DOMAIN}') AS domain,
                   coalesce(c.subtopic, '{NO_SUBTOPIC}') AS subtopic, count(*) AS n
            FROM conversations c WHERE {where} GROUP BY 1, 2"""
    elif mode == "multi":
        sql = f"""
            SELECT s.domain, s.subtopic, count(*) AS n
            FROM topic_scores s JOIN conversations c USING (conv_id)
            WHERE s.is_assigned AND {where} GROUP BY 1, 2"""
    else:
        raise ValueError(f"mode must be 'primary' or 'multi', got {mode!r}")
    return frame(con, f"""
        WITH x AS ({sql})
        SELECT x.domain, x.subtopic, x.n::BIGINT AS n FROM x
        LEFT JOIN topic_taxonomy t ON t.domain = x.domain AND t.subtopic = x.subtopic
        ORDER BY coalesce(t.domain_order, 999), coalesce(t.sort_order, 999), x.domain,
                 x.subtopic""", params)


SUNBURST_SCHEMA = {"id": pl.Utf8, "label": pl.Utf8, "parent": pl.Utf8, "value": pl.Int64,
                   "domain": pl.Utf8}


def sunburst_frame(counts: pl.DataFrame) -> pl.DataFrame:
    """ids / labels / parents / values for a two-level sunburst or treemap.

    Domain rows (parent '') carry the sum of their subtopics (``branchvalues='total'``),
    in order of first appearance; subtopic ids are ``domain/subtopic``. Columns: id,
    label, parent, value, domain.
    """
    doms: dict[str, int] = {}
    subs = []
    for d, s, n in counts.select("domain", "subtopic", "n").iter_rows():
        doms[d] = doms.get(d, 0) + int(n)
        subs.append({"id": f"{d}/{s}", "label": s, "parent": d, "value": int(n), "domain": d})
    rows = [{"id": d, "label": d, "parent": "", "value": v, "domain": d}
            for d, v in doms.items()] + subs
    return pl.DataFrame(rows, schema=SUNBURST_SCHEMA)


# --------------------------------------------------------------------------- clusters

def _member_conv_sql() -> str:
    """Members of one cluster space (parameter: the space) with their conversation."""
    return """
        SELECT cm.space, cm.cluster_id, cm.item_id, i.conv_id
        FROM cluster_members cm JOIN embedded_items i ON i.item_id = cm.item_id
        WHERE cm.space = ?"""


def cluster_summary(con: duckdb.DuckDBPyConnection, filters: Filters,
                    space: str) -> pl.DataFrame:
    """Clusters of one space with their size overall and within the filtered conversations.

    Columns: cluster_id, name, keywords, size (all data), n (members in the filter),
    is_noise. Noise (cluster_id -1) is its own row. Ordered by n, noise last.
    """
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}")
    where, params = filters.where("c")
    return frame(con, f"""
        WITH m AS ({_member_conv_sql()}),
        f AS (SELECT m.cluster_id, count(*) AS n FROM m JOIN conversations c USING (conv_id)
              WHERE {where} GROUP BY 1)
        SELECT cl.cluster_id, cl.name, cl.keywords, cl.size, coalesce(f.n, 0)::BIGINT AS n,
               cl.cluster_id = -1 AS is_noise
        FROM clusters cl LEFT JOIN f USING (cluster_id)
        WHERE cl.space = ?
        ORDER BY is_noise, n DESC, cl.cluster_id""", [space, *params, space])


def domain_by_cluster(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Conversations per (task cluster, primary domain) for the filtered conversations.

    Long format: cluster_id, name, domain, n (zero cells omitted).
    """
    where, params = filters.where("c")
    return frame(con, f"""
        WITH m AS ({_member_conv_sql()})
        SELECT m.cluster_id, cl.name, coalesce(c.domain, '{NO_DOMAIN}') AS domain,
               count(*)::BIGINT AS n
        FROM m JOIN conversations c USING (conv_id)
        JOIN clusters cl ON cl.space = m.space AND cl.cluster_id = m.cluster_id
        WHERE {where} GROUP BY 1, 2, 3 ORDER BY 1, 3""", ["task", *params])


def cluster_domain_table(long: pl.DataFrame, clusters: pl.DataFrame,
                         domains: tuple[str, ...] = ()) -> pl.DataFrame:
    """One row per task cluster: its name, conversations per domain (known domains first
    in ``domains``' order), the top domain and that domain's share (a low share: the
    cluster cuts across the taxonomy); noise last, the rest by size."""
    if long.is_empty():
        return pl.DataFrame()
    present = set(long["domain"].to_list())
    cols = [d for d in domains if d in present] + sorted(present - set(domains))
    wide = long.pivot(on="domain", index="cluster_id", values="n", aggregate_function="sum")
    wide = wide.with_columns([pl.lit(0, pl.Int64).alias(d) for d in cols
                              if d not in wide.columns]).fill_null(0)
    wide = wide.select(["cluster_id", *cols]).with_columns(
        [pl.col(d).cast(pl.Int64) for d in cols])
    names = dict(zip(clusters["cluster_id"].to_list(), clusters["name"].to_list())) \
        if clusters.height else {}
    matrix = wide.select(cols).to_numpy() if cols else np.zeros((wide.height, 0))
    total = matrix.sum(axis=1)
    top = [cols[i] for i in matrix.argmax(axis=1)] if cols else [None] * wide.height
    ids = wide["cluster_id"].to_list()
    out = pl.DataFrame({
        "cluster": [names.get(i, f"cluster {i}") for i in ids],
        "conversations": total.astype(np.int64),
        "top domain": top,
        "top share": matrix.max(axis=1) / np.where(total > 0, total, 1),
        "_noise": [i == NOISE_ID for i in ids]}).hstack(wide.select(cols))
    return out.sort(["_noise", "conversations"], descending=[False, True],
                    maintain_order=True).drop("_noise")


# --------------------------------------------------------------------------- thought types

def domain_label_counts(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Thoughts per (primary domain, label) for the filtered conversations, every label of
    the ``labels`` table present (zeros kept). Columns: domain, kind, label, display_name,
    n."""
    where, params = filters.where("c")
    return frame(con, f"""
        WITH d AS (SELECT DISTINCT coalesce(c.domain, '{NO_DOMAIN}') AS domain
                   FROM conversations c WHERE {where}),
        t AS (SELECT coalesce(c.domain, '{NO_DOMAIN}') AS domain, t.label, count(*) AS n
              FROM thoughts t JOIN conversations c USING (conv_id) WHERE {where}
              GROUP BY 1, 2)
        SELECT d.domain, l.kind, l.code AS label, l.display_name,
               coalesce(t.n, 0)::BIGINT AS n
        FROM d CROSS JOIN labels l LEFT JOIN t ON t.domain = d.domain AND t.label = l.code
        ORDER BY d.domain, l.sort_order""", [*params, *params])


def row_shares(counts: pl.DataFrame, row: str = "domain", value: str = "n") -> pl.DataFrame:
    """``counts`` plus ``row_total`` and ``share`` (value / row total; each row sums to 1,
    rows with no counts get null)."""
    total = pl.col(value).sum().over(row)
    return counts.with_columns(row_total=total, share=pl.when(total > 0)
                               .then(pl.col(value) / total).otherwise(None))


def label_matrix(counts: pl.DataFrame, kind: str,
                 domains: tuple[str, ...] = ()) -> dict[str, Any]:
    """Shares of one kind's labels per domain, for a heatmap.

    Returns ``{"domains", "labels", "display", "share", "n", "row_total", "long"}``:
    rows are domains (taxonomy order, then the others alphabetically; rows without
    thoughts of this kind dropped), columns the labels in the labels table's order;
    ``share`` and ``n`` are matrices (each share row sums to 1), ``row_total`` the
    thoughts per row, ``long`` the same numbers as a frame (domain, label, display_name,
    n, row_total, share).
    """
    df = counts.filter(pl.col("kind") == kind)
    labels = list(dict.fromkeys(df["label"].to_list()))
    display = dict(zip(df["label"].to_list(), df["display_name"].to_list()))
    present = list(dict.fromkeys(df["domain"].to_list()))
    order = [d for d in domains if d in present] + sorted(d for d in present
                                                          if d not in domains)
    cell = {(d, lab): int(n) for d, lab, n in df.select("domain", "label", "n").iter_rows()}
    n = np.array([[cell.get((d, lab), 0) for lab in labels] for d in order],
                 dtype=np.int64).reshape(len(order), len(labels))
    total = n.sum(axis=1)
    keep = total > 0
    order = [d for d, k in zip(order, keep) if k]
    n, total = n[keep], total[keep]
    share = n / np.where(total > 0, total, 1)[:, None] if len(order) else n.astype(float)
    long = pl.DataFrame({
        "domain": [d for d in order for _ in labels], "label": labels * len(order),
        "display_name": [display[lab] for lab in labels] * len(order),
        "n": n.ravel(), "row_total": np.repeat(total, len(labels)),
        "share": share.ravel().astype(np.float64)},
        schema={"domain": pl.Utf8, "label": pl.Utf8, "display_name": pl.Utf8, "n": pl.Int64,
                "row_total": pl.Int64, "share": pl.Float64})
    return {"domains": tuple(order), "labels": tuple(labels), "display": display,
            "share": share, "n": n, "row_total": total, "long": long}


# --------------------------------------------------------------------------- page views
# Composites of the queries above, so the page's per-rerun work is one cached call each.


def hierarchy_view(con: duckdb.DuckDBPyConnection, filters: Filters,
                   mode: str = "primary") -> dict[str, Any]:
    """``{"frame": sunburst_frame(...), "total": assignments or conversations}``."""
    counts = topic_counts(con, filters, mode)
    return {"frame": sunburst_frame(counts), "total": int(counts["n"].sum())}


def cluster_domain_view(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """`cluster_domain_table` of the task clusters for the filtered conversations."""
    return cluster_domain_table(domain_by_cluster(con, filters),
                                cluster_summary(con, filters, "task"), domain_order(con))


def label_matrices(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, dict]:
    """`label_matrix` per thought kind ('reason', 'reaction') for the filtered
    conversations, domains in taxonomy order."""
    counts = domain_label_counts(con, filters)
    domains = domain_order(con)
    return {kind: label_matrix(counts, kind, domains) for kind in ("reason", "reaction")}


def topic_certainty(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Per primary domain of the filtered conversations: conversations, how many of them
    are `topic_uncertain` (the runner-up domain scored within the margin) and that share;
    the threshold is ``meta.topic_margin_threshold``. Domains in taxonomy order."""
    where, params = filters.where("c")
    return frame(con, f"""
        SELECT coalesce(c.domain, '{NO_DOMAIN}') AS domain, count(*)::BIGINT AS conversations,
               count(*) FILTER (WHERE c.topic_uncertain)::BIGINT AS uncertain,
               count(*) FILTER (WHERE c.topic_uncertain) / count(*) AS share_uncertain
        FROM conversations c
        LEFT JOIN (SELECT domain, min(domain_order) AS o FROM topic_taxonomy GROUP BY 1) t
          ON t.domain = c.domain
        WHERE {where} GROUP BY 1 ORDER BY min(coalesce(t.o, 999)), 1""", params)
