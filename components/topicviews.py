"""Queries and computations behind the "Topics" page (no streamlit).

Reads the topics stage (``topic_taxonomy``, ``topic_scores``, ``conversations.domain`` /
``subtopic``) and the clusters stage (``clusters``, ``cluster_members``, with
``embedded_items`` to find each member's conversation). Every function takes a cursor and
hashable arguments (a `Filters` included); user values are SQL parameters.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd

from components.filters import Filters

NO_DOMAIN = "(no domain)"
NO_SUBTOPIC = "(no subtopic)"
NOISE_ID = -1
SPACES = {"task": "Tasks (one per conversation)", "reason": "Reasons", "reaction": "Reactions"}
COUNT_MODES = {"primary": "Primary topic (one per conversation)",
               "multi": "Multi-label (every assigned subtopic)"}


def availability(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """Whether the DB holds the topics stage's and the clusters stage's tables."""
    t = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    return {"topics": {"topic_taxonomy", "topic_scores"} <= t,
            "clusters": {"clusters", "cluster_members", "embedded_items"} <= t}


def domain_order(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """Domains in taxonomy order."""
    return tuple(r[0] for r in con.execute(
        "SELECT domain FROM topic_taxonomy GROUP BY domain ORDER BY min(domain_order), domain"
    ).fetchall())


def topic_counts(con: duckdb.DuckDBPyConnection, filters: Filters,
                 mode: str = "primary") -> pd.DataFrame:
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
    df = con.execute(f"""
        WITH x AS ({sql})
        SELECT x.domain, x.subtopic, x.n::BIGINT AS n FROM x
        LEFT JOIN topic_taxonomy t ON t.domain = x.domain AND t.subtopic = x.subtopic
        ORDER BY coalesce(t.domain_order, 999), coalesce(t.sort_order, 999), x.domain,
                 x.subtopic""", params).df()
    return df


def sunburst_frame(counts: pd.DataFrame) -> pd.DataFrame:
    """ids / labels / parents / values for a two-level sunburst or treemap.

    Domain rows (parent '') carry the sum of their subtopics (``branchvalues='total'``);
    subtopic ids are ``domain/subtopic``. Columns: id, label, parent, value, domain.
    """
    if counts.empty:
        return pd.DataFrame(columns=["id", "label", "parent", "value", "domain"])
    doms = counts.groupby("domain", sort=False)["n"].sum()
    rows = [{"id": d, "label": d, "parent": "", "value": int(v), "domain": d}
            for d, v in doms.items()]
    rows += [{"id": f"{r.domain}/{r.subtopic}", "label": r.subtopic, "parent": r.domain,
              "value": int(r.n), "domain": r.domain} for r in counts.itertuples()]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- clusters

def _member_conv_sql() -> str:
    """Members of one cluster space (parameter: the space) with their conversation."""
    return """
        SELECT cm.space, cm.cluster_id, cm.item_id, i.conv_id
        FROM cluster_members cm JOIN embedded_items i ON i.item_id = cm.item_id
        WHERE cm.space = ?"""


def cluster_summary(con: duckdb.DuckDBPyConnection, filters: Filters,
                    space: str) -> pd.DataFrame:
    """Clusters of one space with their size overall and within the filtered conversations.

    Columns: cluster_id, name, keywords, size (all data), n (members in the filter),
    is_noise. Noise (cluster_id -1) is its own row. Ordered by n, noise last.
    """
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}")
    where, params = filters.where("c")
    df = con.execute(f"""
        WITH m AS ({_member_conv_sql()}),
        f AS (SELECT m.cluster_id, count(*) AS n FROM m JOIN conversations c USING (conv_id)
              WHERE {where} GROUP BY 1)
        SELECT cl.cluster_id, cl.name, cl.keywords, cl.size, coalesce(f.n, 0)::BIGINT AS n,
               cl.cluster_id = -1 AS is_noise
        FROM clusters cl LEFT JOIN f USING (cluster_id)
        WHERE cl.space = ?
        ORDER BY is_noise, n DESC, cl.cluster_id""", [space, *params, space]).df()
    return df


def domain_by_cluster(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Conversations per (task cluster, primary domain) for the filtered conversations.

    Long format: cluster_id, name, domain, n (zero cells omitted).
    """
    where, params = filters.where("c")
    return con.execute(f"""
        WITH m AS ({_member_conv_sql()})
        SELECT m.cluster_id, cl.name, coalesce(c.domain, '{NO_DOMAIN}') AS domain,
               count(*)::BIGINT AS n
        FROM m JOIN conversations c USING (conv_id)
        JOIN clusters cl ON cl.space = m.space AND cl.cluster_id = m.cluster_id
        WHERE {where} GROUP BY 1, 2, 3 ORDER BY 1, 3""", ["task", *params]).df()


def crosstab(long: pd.DataFrame, index: str, columns: str, values: str = "n",
             column_order: tuple[str, ...] = ()) -> pd.DataFrame:
    """Wide count table (0 where absent); known columns first in ``column_order``."""
    if long.empty:
        return pd.DataFrame()
    wide = long.pivot_table(index=index, columns=columns, values=values, aggfunc="sum",
                            fill_value=0, sort=False)
    order = [c for c in column_order if c in wide.columns] + \
        sorted(c for c in wide.columns if c not in column_order)
    wide = wide[order].astype("int64")
    wide.columns.name = None
    return wide


def cluster_domain_table(long: pd.DataFrame, clusters: pd.DataFrame,
                         domains: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per task cluster: its name, conversations per domain, the top domain and
    that domain's share (low share: the cluster cuts across the taxonomy)."""
    wide = crosstab(long, "cluster_id", "domain", column_order=domains)
    if wide.empty:
        return pd.DataFrame()
    names = clusters.set_index("cluster_id")["name"] if len(clusters) else pd.Series(
        dtype=object)
    total = wide.sum(axis=1)
    top = wide.idxmax(axis=1)
    out = pd.DataFrame({"cluster": [names.get(i, f"cluster {i}") for i in wide.index],
                        "conversations": total.to_numpy()}, index=wide.index)
    out["top domain"] = top.to_numpy()
    out["top share"] = (wide.max(axis=1) / total.where(total > 0, 1)).to_numpy()
    out = pd.concat([out, wide], axis=1)
    out["_noise"] = out.index == NOISE_ID
    out = out.sort_values(["_noise", "conversations"], ascending=[True, False])
    return out.drop(columns="_noise").reset_index(drop=True)


# --------------------------------------------------------------------------- thought types

def domain_label_counts(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Thoughts per (primary domain, label) for the filtered conversations, every label of
    the ``labels`` table present (zeros kept). Columns: domain, kind, label, display_name,
    n."""
    where, params = filters.where("c")
    return con.execute(f"""
        WITH d AS (SELECT DISTINCT coalesce(c.domain, '{NO_DOMAIN}') AS domain
                   FROM conversations c WHERE {where}),
        t AS (SELECT coalesce(c.domain, '{NO_DOMAIN}') AS domain, t.label, count(*) AS n
              FROM thoughts t JOIN conversations c USING (conv_id) WHERE {where}
              GROUP BY 1, 2)
        SELECT d.domain, l.kind, l.code AS label, l.display_name,
               coalesce(t.n, 0)::BIGINT AS n
        FROM d CROSS JOIN labels l LEFT JOIN t ON t.domain = d.domain AND t.label = l.code
        ORDER BY d.domain, l.sort_order""", [*params, *params]).df()


def row_shares(counts: pd.DataFrame, row: str = "domain", col: str = "label",
               value: str = "n") -> pd.DataFrame:
    """``counts`` plus ``row_total`` and ``share`` (value / row total; each row sums to 1,
    rows with no counts get NaN)."""
    out = counts.copy()
    out["row_total"] = out.groupby(row)[value].transform("sum")
    out["share"] = out[value] / out["row_total"].where(out["row_total"] > 0, np.nan)
    return out


def label_matrix(counts: pd.DataFrame, kind: str,
                 domains: tuple[str, ...] = ()) -> dict[str, Any]:
    """Shares (rows: domains, columns: labels of ``kind``) with counts, for a heatmap.

    Returns ``{"share", "n", "row_total", "labels", "display"}``; ``share`` and ``n`` are
    DataFrames indexed by domain (taxonomy order, then others), columns = label codes.
    Rows without thoughts of this kind are dropped.
    """
    df = counts[counts["kind"] == kind]
    if df.empty:
        empty = pd.DataFrame()
        return {"share": empty, "n": empty, "row_total": pd.Series(dtype="int64"),
                "labels": [], "display": {}}
    labels = list(dict.fromkeys(df["label"]))
    display = dict(zip(df["label"], df["display_name"]))
    n = df.pivot_table(index="domain", columns="label", values="n", aggfunc="sum",
                       fill_value=0, sort=False)[labels]
    order = [d for d in domains if d in n.index] + sorted(d for d in n.index
                                                          if d not in domains)
    n = n.loc[order]
    total = n.sum(axis=1)
    n = n[total > 0]
    total = total[total > 0]
    share = n.div(total, axis=0)
    n.columns.name = share.columns.name = None
    return {"share": share, "n": n.astype("int64"), "row_total": total.astype("int64"),
            "labels": labels, "display": display}


# --------------------------------------------------------------------------- page views
# Composites of the queries above, so the page's per-rerun work is one cached call each.


def hierarchy_view(con: duckdb.DuckDBPyConnection, filters: Filters,
                   mode: str = "primary") -> dict[str, Any]:
    """``{"frame": sunburst_frame(...), "total": assignments or conversations}``."""
    counts = topic_counts(con, filters, mode)
    return {"frame": sunburst_frame(counts), "total": int(counts["n"].sum())}


def cluster_domain_view(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """`cluster_domain_table` of the task clusters for the filtered conversations."""
    return cluster_domain_table(domain_by_cluster(con, filters),
                                cluster_summary(con, filters, "task"), domain_order(con))


def label_matrices(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, dict]:
    """`label_matrix` per thought kind ('reason', 'reaction') for the filtered
    conversations, domains in taxonomy order."""
    counts = domain_label_counts(con, filters)
    domains = domain_order(con)
    return {kind: label_matrix(counts, kind, domains) for kind in ("reason", "reaction")}
