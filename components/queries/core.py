"""What every page and the sidebar read: totals of a subset, the label vocabulary, the
facet values and their counts, provenance and meta."""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from components.filters import FACETS, MISSING, Filters


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None
          ) -> pl.DataFrame:
    """The result of ``sql`` (``?`` placeholders bound to ``params``) as a polars frame."""
    return con.sql(sql, params=params or None).pl()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> Any:
    """The first column of the first row of ``sql``'s result (None when there is none)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def tables(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Names of the tables in the DB."""
    return frozenset(r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall())


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return name in tables(con)


def meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT key, value FROM meta").fetchall())


def provenance(con: duckdb.DuckDBPyConnection) -> dict:
    """The provenance row as a dict ({} when the table is empty)."""
    cur = con.execute("SELECT * FROM provenance")
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    return dict(zip(names, rows[0])) if rows else {}


def is_demo(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(provenance(con).get("is_demo"))


def labels(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The thought labels: code, kind, display_name, meaning, is_dissatisfaction."""
    return frame(con, "SELECT code, kind, display_name, meaning, is_dissatisfaction "
                      "FROM labels ORDER BY sort_order")


def label_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Label code -> display name."""
    return dict(con.execute("SELECT code, display_name FROM labels ORDER BY sort_order"
                            ).fetchall())


TOTAL_KEYS = ("users", "conversations", "messages", "thoughts", "models", "reasons",
              "reactions", "median_messages")


def totals(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, Any]:
    """Users, conversations, messages, thoughts, models, reasons, reactions and the median
    messages per conversation of the filtered subset."""
    where, params = filters.where("c")
    row = con.execute(f"""
        SELECT count(DISTINCT c.user_id), count(*), coalesce(sum(c.n_messages), 0),
               coalesce(sum(c.n_thoughts), 0), count(DISTINCT c.model_name),
               coalesce(sum(c.n_reasons), 0), coalesce(sum(c.n_reactions), 0),
               median(c.n_messages)
        FROM conversations c WHERE {where}""", params).fetchall()[0]
    return dict(zip(TOTAL_KEYS, row))


def count_conversations(con: duckdb.DuckDBPyConnection, filters: Filters) -> int:
    where, params = filters.where("c")
    return int(scalar(con, f"SELECT count(*) FROM conversations c WHERE {where}", params))


def facet_counts_many(con: duckdb.DuckDBPyConnection, filters: Filters,
                      columns: tuple[str, ...]) -> dict[str, pl.DataFrame]:
    """Conversations per value of each facet column (NULL as '(missing)') under the same
    ``filters``, in one query: column -> frame (value, n; most conversations first, then
    by value). ``columns`` are SQL expressions of `components.filters.FACETS` (fixed
    strings from code, never user input)."""
    allowed = {expr for _, expr in FACETS.values()}
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        raise ValueError(f"unknown facet column {unknown[0]!r}")
    if not columns:
        return {}
    where, params = filters.where("c")
    # one GROUP BY per column over the filtered rows, told apart by ``k`` (its index);
    # the column expressions are the fixed FACETS strings checked above
    sql = " UNION ALL ".join(
        f"SELECT ?::INTEGER AS k, coalesce({expr}, ?) AS value, count(*) AS n "
        "FROM fc c GROUP BY 2" for expr in (col.format(a="c") for col in columns))
    rows = con.execute(f"""
        WITH fc AS (SELECT * FROM conversations c WHERE {where})
        {sql}
        ORDER BY k, n DESC, value""",
                       [*params, *(x for k in range(len(columns)) for x in (k, MISSING))]
                       ).fetchall()
    by_k: list[list[tuple[str, int]]] = [[] for _ in columns]
    for k, value, n in rows:
        by_k[k].append((value, n))
    return {col: pl.DataFrame(by_k[k], schema={"value": pl.String, "n": pl.Int64},
                              orient="row") for k, col in enumerate(columns)}


def sidebar_facet_counts(con: duckdb.DuckDBPyConnection, filters: Filters,
                         names: tuple[str, ...]) -> dict[str, pl.DataFrame]:
    """For each facet in ``names`` (keys of `components.filters.FACETS`), the conversations
    each of its values would leave: counted under ``filters`` without that facet's own
    choice (as a multiselect's options read). Facets counted under the same filters share
    one query: every facet not chosen in ``filters`` is counted under ``filters`` itself."""
    groups: dict[Filters, list[str]] = {}
    for name in names:
        groups.setdefault(filters.without(name), []).append(name)
    out: dict[str, pl.DataFrame] = {}
    for under, group in groups.items():
        counts = facet_counts_many(con, under, tuple(FACETS[n][1] for n in group))
        out.update({n: counts[FACETS[n][1]] for n in group})
    return out


def label_presence_counts(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """For each label, how many conversations under ``filters`` contain it: value, n."""
    where, params = filters.where("c")
    return frame(con, f"""
        SELECT t.label AS value, count(DISTINCT t.conv_id) AS n FROM thoughts t
        JOIN conversations c USING (conv_id) WHERE {where} GROUP BY 1""", params)


def range_bounds(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    row = con.execute("SELECT min(n_messages), max(n_messages), min(n_thoughts), "
                      "max(n_thoughts) FROM conversations").fetchall()[0]
    return {"messages": (row[0] or 0, row[1] or 0), "thoughts": (row[2] or 0, row[3] or 0)}


def facet_options(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """All values of every facet in the DB (for validating URL parameters), plus
    ``labels`` and the domain -> subtopics mapping under ``subtopics_by_domain``."""
    out: dict[str, Any] = {}
    for name, (_, expr) in FACETS.items():
        e = expr.format(a="c")
        out[name] = [r[0] for r in con.execute(
            f"SELECT DISTINCT {e} FROM conversations c WHERE {e} IS NOT NULL ORDER BY 1"
        ).fetchall()]
    out["labels"] = [r[0] for r in con.execute("SELECT code FROM labels ORDER BY sort_order"
                                               ).fetchall()]
    out["users"] = [r[0] for r in con.execute(
        "SELECT DISTINCT user_id FROM conversations WHERE user_id IS NOT NULL ORDER BY 1"
    ).fetchall()]
    out["subtopics_by_domain"] = {}
    for dom, sub in con.execute("SELECT DISTINCT domain, subtopic FROM conversations "
                                "WHERE subtopic IS NOT NULL ORDER BY 1, 2").fetchall():
        out["subtopics_by_domain"].setdefault(dom, []).append(sub)
    return out


def sequence_counts(con: duckdb.DuckDBPyConnection, filters: Filters, first: str | None,
                    then: str | None) -> dict[str, dict[str, int]]:
    """How many conversations each option of the sequence filter would leave, given the
    other filters (``filters`` without the sequence) and the other side.

    Returns ``{"first": {option: n}, "then": {option: n}}`` over every label code and label
    group (`components.filters.LABEL_GROUPS`): for a first-side option A, the conversations
    with a thought A and, later, a thought ``then`` (or just a thought A when ``then`` is
    unset); for a then-side option B, those with ``first`` and later B (or just B).
    "Later" is by turn, then position on the message, as the filter itself.
    """
    from components.filters import LABEL_GROUPS

    where, params = filters.where("c")
    codes = [r[0] for r in con.execute("SELECT code FROM labels ORDER BY sort_order"
                                       ).fetchall()]
    options = [*LABEL_GROUPS, *codes]
    # option -> the labels it stands for: each code itself, each group its members
    pairs = [(code, code) for code in codes] + [
        (group, lab) for group, (_, members) in LABEL_GROUPS.items() for lab in members]
    # span: per conversation and option, the first and last position (by turn, then place
    # on the message) of a thought with one of the option's labels. A first-side option A
    # counts the conversations whose first A comes before the last ``then`` (or that hold
    # an A at all when ``then`` is unset); a then-side option B, those whose first
    # ``first`` comes before their last B.
    rows = con.execute(f"""
        WITH fc AS (SELECT c.conv_id FROM conversations c WHERE {where}),
        pos AS (
            SELECT t.conv_id, t.label,
                   row_number() OVER (PARTITION BY t.conv_id ORDER BY t.turn, t.idx) AS p
            FROM thoughts t JOIN fc USING (conv_id)),
        opt AS (SELECT unnest(?::VARCHAR[]) AS option, unnest(?::VARCHAR[]) AS label),
        span AS (SELECT pos.conv_id, opt.option, min(p) AS lo, max(p) AS hi
                 FROM pos JOIN opt USING (label) GROUP BY 1, 2),
        last_then AS (SELECT conv_id, hi FROM span WHERE option = ?),
        first_first AS (SELECT conv_id, lo FROM span WHERE option = ?)
        SELECT 'first', s.option, count(*) FROM span s
            LEFT JOIN last_then t USING (conv_id)
            WHERE ?::VARCHAR IS NULL OR s.lo < t.hi GROUP BY 2
        UNION ALL
        SELECT 'then', s.option, count(*) FROM span s
            LEFT JOIN first_first f USING (conv_id)
            WHERE ?::VARCHAR IS NULL OR f.lo < s.hi GROUP BY 2""",
                       [*params, [o for o, _ in pairs], [lab for _, lab in pairs],
                        then, first, then, first]).fetchall()
    out: dict[str, dict[str, int]] = {"first": dict.fromkeys(options, 0),
                                      "then": dict.fromkeys(options, 0)}
    for side, option, n in rows:
        out[side][option] = int(n)
    return out
