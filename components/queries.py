"""Read-only queries over the DuckDB file (no streamlit).

Each function takes a cursor and scalar/tuple arguments (a `Filters` included) and returns
a DataFrame or plain values. All user values are SQL parameters.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from components.filters import Filters


def _df(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                       [name]).fetchone()[0] > 0


def meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT key, value FROM meta").fetchall())


def provenance(con: duckdb.DuckDBPyConnection) -> dict:
    df = _df(con, "SELECT * FROM provenance")
    return df.iloc[0].to_dict() if len(df) else {}


def labels(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _df(con, "SELECT code, kind, display_name, meaning, is_dissatisfaction "
                    "FROM labels ORDER BY sort_order")


def totals(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, int]:
    where, params = filters.where("c")
    row = con.execute(f"""
        SELECT count(DISTINCT c.user_id), count(*), coalesce(sum(c.n_messages), 0),
               coalesce(sum(c.n_thoughts), 0), count(DISTINCT c.model_name),
               coalesce(sum(c.n_reasons), 0), coalesce(sum(c.n_reactions), 0),
               median(c.n_messages)
        FROM conversations c WHERE {where}""", params).fetchone()
    keys = ("users", "conversations", "messages", "thoughts", "models", "reasons",
            "reactions", "median_messages")
    return dict(zip(keys, row))


def per_model(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Users, conversations, messages, thoughts per model (the authors' statistics format)."""
    where, params = filters.where("c")
    return _df(con, f"""
        SELECT c.model_name AS model, any_value(c.model_provider) AS provider,
               count(DISTINCT c.user_id) AS users, count(*) AS conversations,
               sum(c.n_messages)::BIGINT AS messages, sum(c.n_thoughts)::BIGINT AS thoughts
        FROM conversations c WHERE {where}
        GROUP BY c.model_name ORDER BY conversations DESC, messages DESC, model""", params)


def length_counts(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Number of conversations per message count."""
    where, params = filters.where("c")
    return _df(con, f"""
        SELECT c.n_messages, count(*) AS conversations FROM conversations c WHERE {where}
        GROUP BY 1 ORDER BY 1""", params)


def label_counts(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Count and share of every label (zero rows kept) within its kind."""
    where, params = filters.where("c")
    return _df(con, f"""
        WITH t AS (
            SELECT t.label, count(*) AS n FROM thoughts t
            JOIN conversations c USING (conv_id) WHERE {where} GROUP BY t.label)
        SELECT l.code AS label, l.kind, l.display_name, l.meaning,
               coalesce(t.n, 0)::BIGINT AS n,
               coalesce(t.n, 0) / nullif(sum(coalesce(t.n, 0)) OVER (PARTITION BY l.kind), 0)
                   AS share
        FROM labels l LEFT JOIN t ON t.label = l.code
        ORDER BY l.sort_order""", params)


def ingest_problems(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _df(con, "SELECT severity, file, line, conv_id, field, message FROM ingest_problems "
                    "ORDER BY line, severity")


def rejected_records(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _df(con, "SELECT file, line, conv_id, left(raw, 300) AS raw_start, length(raw) "
                    "AS raw_chars FROM rejected_records ORDER BY line")


def stage_runs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    if not has_table(con, "stage_runs"):
        return pd.DataFrame(columns=["stage", "seconds", "finished_at", "summary"])
    return _df(con, "SELECT stage, seconds, finished_at, summary FROM stage_runs "
                    "ORDER BY finished_at")


def facet_counts(con: duckdb.DuckDBPyConnection, filters: Filters, column: str
                 ) -> pd.DataFrame:
    """Conversations per value of one facet column (NULL as '(missing)') under ``filters``.

    ``column`` is one of the SQL expressions in `components.filters.FACETS` (fixed strings
    from code, never user input).
    """
    from components.filters import FACETS, MISSING

    allowed = {expr for _, expr in FACETS.values()}
    if column not in allowed:
        raise ValueError(f"unknown facet column {column!r}")
    where, params = filters.where("c")
    expr = column.format(a="c")
    return _df(con, f"""
        SELECT coalesce({expr}, ?) AS value, count(*) AS n FROM conversations c
        WHERE {where} GROUP BY 1 ORDER BY n DESC, value""", [MISSING, *params])


def label_presence_counts(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """For each label, how many conversations under ``filters`` contain it."""
    where, params = filters.where("c")
    return _df(con, f"""
        SELECT t.label AS value, count(DISTINCT t.conv_id) AS n FROM thoughts t
        JOIN conversations c USING (conv_id) WHERE {where} GROUP BY 1""", params)


def count_conversations(con: duckdb.DuckDBPyConnection, filters: Filters) -> int:
    where, params = filters.where("c")
    return con.execute(f"SELECT count(*) FROM conversations c WHERE {where}",
                       params).fetchone()[0]


def range_bounds(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    row = con.execute("SELECT min(n_messages), max(n_messages), min(n_thoughts), "
                      "max(n_thoughts) FROM conversations").fetchone()
    return {"messages": (row[0] or 0, row[1] or 0), "thoughts": (row[2] or 0, row[3] or 0)}


def facet_options(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """All values of every facet in the DB (for validating URL parameters), plus labels
    and the domain -> subtopics mapping under key ``subtopics_by_domain``."""
    from components.filters import FACETS

    out: dict[str, list] = {}
    for name, (_, expr) in FACETS.items():
        e = expr.format(a="c")
        out[name] = [r[0] for r in con.execute(
            f"SELECT DISTINCT {e} FROM conversations c WHERE {e} IS NOT NULL ORDER BY 1"
        ).fetchall()]
    out["labels"] = [r[0] for r in con.execute("SELECT code FROM labels ORDER BY sort_order"
                                               ).fetchall()]
    out["subtopics_by_domain"] = {}
    for dom, sub in con.execute("SELECT DISTINCT domain, subtopic FROM conversations "
                                "WHERE subtopic IS NOT NULL ORDER BY 1, 2").fetchall():
        out["subtopics_by_domain"].setdefault(dom, []).append(sub)
    return out
