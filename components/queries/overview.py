"""Queries of the Overview page: the per-model table, conversation lengths, label counts,
and where the data came from (validation findings, skipped records, build stages)."""

from __future__ import annotations

import duckdb
import polars as pl

from components.filters import Filters
from components.queries.core import frame, has_table

PER_MODEL_COLUMNS = ("model", "provider", "users", "conversations", "messages", "thoughts")


def per_model(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Users, conversations, messages, thoughts per model (the authors' statistics
    format), largest first."""
    where, params = filters.where("c")
    return frame(con, f"""
        SELECT c.model_name AS model, any_value(c.model_provider) AS provider,
               count(DISTINCT c.user_id) AS users, count(*) AS conversations,
               sum(c.n_messages)::BIGINT AS messages, sum(c.n_thoughts)::BIGINT AS thoughts
        FROM conversations c WHERE {where}
        GROUP BY c.model_name ORDER BY conversations DESC, messages DESC, model""", params)


def per_model_table(per_model: pl.DataFrame, totals: dict) -> pl.DataFrame:
    """`per_model` with an "All models" row of the subset's totals (users are counted once
    there, even when a user talked to two models)."""
    total = pl.DataFrame([{"model": "All models", "provider": "", "users": totals["users"],
                           "conversations": totals["conversations"],
                           "messages": totals["messages"], "thoughts": totals["thoughts"]}],
                         schema=per_model.schema)
    return pl.concat([per_model, total])


def length_counts(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Conversations per message count: n_messages, conversations."""
    where, params = filters.where("c")
    return frame(con, f"""
        SELECT c.n_messages, count(*) AS conversations FROM conversations c WHERE {where}
        GROUP BY 1 ORDER BY 1""", params)


def label_counts(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Count and share (within its kind) of every label, zero rows kept: label, kind,
    display_name, meaning, n, share."""
    where, params = filters.where("c")
    return frame(con, f"""
        WITH t AS (
            SELECT t.label, count(*) AS n FROM thoughts t
            JOIN conversations c USING (conv_id) WHERE {where} GROUP BY t.label)
        SELECT l.code AS label, l.kind, l.display_name, l.meaning,
               coalesce(t.n, 0)::BIGINT AS n,
               coalesce(t.n, 0) / nullif(sum(coalesce(t.n, 0)) OVER (PARTITION BY l.kind), 0)
                   AS share
        FROM labels l LEFT JOIN t ON t.label = l.code
        ORDER BY l.sort_order""", params)


def ingest_problems(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return frame(con, "SELECT severity, file, line, conv_id, field, message "
                      "FROM ingest_problems ORDER BY line, severity")


def rejected_records(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return frame(con, "SELECT file, line, conv_id, left(raw, 300) AS raw_start, "
                      "length(raw) AS raw_chars FROM rejected_records ORDER BY line")


def stage_runs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    if not has_table(con, "stage_runs"):
        return pl.DataFrame(schema={"stage": pl.Utf8, "seconds": pl.Float64,
                                    "finished_at": pl.Datetime, "summary": pl.Utf8})
    return frame(con, "SELECT stage, seconds, finished_at, summary FROM stage_runs "
                      "ORDER BY finished_at")


def _code(value: object) -> str:
    """A value as a markdown code span (a path may hold backticks)."""
    return "`" + str(value).replace("`", "'") + "`"


def provenance_markdown(prov: dict) -> str:
    """Where the data came from, as the Overview's list: the source (its file only when it
    is not the source itself), checksum, when and by what it was ingested, and how every
    line was accounted for."""
    from components.vocabulary import count

    src, src_file = prov.get("source"), prov.get("source_file")
    where = f"{_code(src)} ({prov.get('source_kind')})"
    same = src_file is None or str(src_file) == str(src) or \
        str(src_file).endswith(str(src).lstrip("./~"))
    if not same:
        where += f", file {_code(src_file)}"
    return (
        f"- **Source:** {where}\n"
        f"- **SHA-256 of the input:** {_code(prov.get('input_sha256'))}\n"
        f"- **Ingested:** {prov.get('ingested_at')} by ThoughtTrace Explorer "
        f"{prov.get('tool_version')}\n"
        f"- **Lines read:** {int(prov.get('lines_in') or 0):,} — stored "
        f"{count(prov.get('records_stored') or 0, 'conversation')}, skipped "
        f"{int(prov.get('records_skipped') or 0):,}, blank {int(prov.get('blank_lines') or 0):,};"
        f" {count(prov.get('n_errors') or 0, 'error')}, "
        f"{count(prov.get('n_warnings') or 0, 'warning')}")
