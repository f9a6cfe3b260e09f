"""The DuckDB file: schema of the core tables, atomic writes, provenance, stage records.

The file is a public contract (documented in the README). It is always written
atomically: the build works on a temporary copy next to the target and renames it over
the target only when every stage succeeded, so a crash or Ctrl-C leaves the previous file
intact, and a reader holding the old file keeps reading it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from precompute.labels import ALL_LABELS, STAGES

#: Bump when a table or column the app relies on changes; the app refuses other versions.
SCHEMA_VERSION = 2  # 2: messages.relationship, relationship_source

CORE_DDL = {
    "conversations": """
        CREATE TABLE conversations (
            conv_id VARCHAR PRIMARY KEY, user_id VARCHAR, model_name VARCHAR,
            model_provider VARCHAR, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ,
            n_messages INTEGER, n_user_messages INTEGER, n_thoughts INTEGER,
            n_reasons INTEGER, n_reactions INTEGER, n_dissatisfied INTEGER,
            task_summary VARCHAR, task_expectation VARCHAR, has_survey BOOLEAN,
            age VARCHAR, age_bracket VARCHAR, gender VARCHAR, education VARCHAR,
            occupation VARCHAR, ai_frequency TINYINT, purposes VARCHAR,
            source_line INTEGER, domain VARCHAR, subtopic VARCHAR, topic_margin DOUBLE,
            topic_uncertain BOOLEAN)""",
    "messages": """
        CREATE TABLE messages (
            conv_id VARCHAR, turn INTEGER, message_id BIGINT, role VARCHAR, content VARCHAR,
            timestamp TIMESTAMPTZ, stage_idx TINYINT, stage VARCHAR, n_thoughts INTEGER,
            n_chars INTEGER, relationship VARCHAR, relationship_source VARCHAR,
            PRIMARY KEY (conv_id, turn))""",
    "thoughts": """
        CREATE TABLE thoughts (
            thought_id INTEGER PRIMARY KEY, conv_id VARCHAR, turn INTEGER, idx INTEGER,
            kind VARCHAR, label VARCHAR, content VARCHAR, timestamp TIMESTAMPTZ,
            stage_idx TINYINT, stage VARCHAR)""",
    "labels": """
        CREATE TABLE labels (
            code VARCHAR PRIMARY KEY, kind VARCHAR, display_name VARCHAR, meaning VARCHAR,
            is_dissatisfaction BOOLEAN, sort_order INTEGER)""",
    "stages": """
        CREATE TABLE stages (stage_idx TINYINT PRIMARY KEY, stage VARCHAR,
                             position_label VARCHAR, rule VARCHAR)""",
    "ingest_problems": """
        CREATE TABLE ingest_problems (
            severity VARCHAR, file VARCHAR, line INTEGER, conv_id VARCHAR, field VARCHAR,
            message VARCHAR)""",
    "rejected_records": """
        CREATE TABLE rejected_records (file VARCHAR, line INTEGER, conv_id VARCHAR,
                                       raw VARCHAR)""",
    "provenance": """
        CREATE TABLE provenance (
            source_kind VARCHAR, source VARCHAR, source_file VARCHAR, input_sha256 VARCHAR,
            fallback_reason VARCHAR, is_demo BOOLEAN, strict BOOLEAN, lines_in INTEGER,
            blank_lines INTEGER, records_stored INTEGER, records_skipped INTEGER,
            n_errors INTEGER, n_warnings INTEGER, n_messages INTEGER, n_thoughts INTEGER,
            ingested_at TIMESTAMPTZ, tool_version VARCHAR, versions VARCHAR)""",
}

STAGE_RULE = ("relative position r = (turn-1)/(n_messages-1) (0 for a 1-message "
              "conversation); stage = min(3, floor(4r))")

META_DDL = "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)"
STAGE_RUNS_DDL = """
    CREATE TABLE IF NOT EXISTS stage_runs (
        stage VARCHAR PRIMARY KEY, input_hash VARCHAR, params VARCHAR, seconds DOUBLE,
        finished_at TIMESTAMPTZ, summary VARCHAR)"""


def tmp_path_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.building-{os.getpid()}")


def _remove_stale(path: Path) -> None:
    """Remove temp files left by builds that were killed (their process is gone)."""
    for tmp in path.parent.glob(f".{path.name}.building-*"):
        pid = tmp.name.rsplit("-", 1)[-1].split(".")[0]
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            _remove(tmp)
        except PermissionError:
            pass


def _remove(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


@contextmanager
def atomic_db(path: Path, *, reuse_existing: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writable connection to a temporary copy of ``path``, renamed over it on success.

    With ``reuse_existing`` the previous file is copied first, so cached stages (for
    example embeddings) are reused. On any exception, KeyboardInterrupt included, the
    temporary file is removed and ``path`` is left exactly as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_for(path)
    _remove_stale(path)
    _remove(tmp)
    if reuse_existing and path.exists():
        shutil.copyfile(path, tmp)
    con = duckdb.connect(str(tmp))
    try:
        con.execute(META_DDL)
        con.execute(STAGE_RUNS_DDL)
        yield con
        set_meta(con, "schema_version", str(SCHEMA_VERSION))
        con.execute("CHECKPOINT")
        con.close()
        os.replace(tmp, path)
    except BaseException:
        try:
            con.close()
        finally:
            _remove(tmp)
        raise


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])


def get_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    return rows[0][0] if rows else None


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                       [name]).fetchall()[0][0] > 0


def replace_table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame,
                  ddl: str | None = None) -> None:
    """Drop and recreate ``name`` from ``frame`` (columns matched by name when ``ddl``)."""
    con.execute(f'DROP TABLE IF EXISTS "{name}"')
    con.register("_frame", frame)
    try:
        if ddl:
            con.execute(ddl)
            cols = ", ".join(f'"{c}"' for c in frame.columns)
            con.execute(f'INSERT INTO "{name}" ({cols}) SELECT {cols} FROM _frame')
        else:
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _frame')
    finally:
        con.unregister("_frame")


def write_core(con: duckdb.DuckDBPyConnection, result: Any, provenance: dict) -> None:
    """Write the ingest result (an IngestResult) and its provenance row."""
    replace_table(con, "conversations", result.conversations, CORE_DDL["conversations"])
    replace_table(con, "messages", result.messages, CORE_DDL["messages"])
    replace_table(con, "thoughts", result.thoughts, CORE_DDL["thoughts"])
    labels = pd.DataFrame([{"code": lab.code, "kind": lab.kind, "display_name": lab.display,
                            "meaning": lab.meaning, "is_dissatisfaction": lab.dissatisfaction,
                            "sort_order": i} for i, lab in enumerate(ALL_LABELS)])
    replace_table(con, "labels", labels, CORE_DDL["labels"])
    stages = pd.DataFrame([{"stage_idx": i, "stage": s, "position_label": f"{round(100 * i / 3)}%",
                            "rule": STAGE_RULE} for i, s in enumerate(STAGES)])
    replace_table(con, "stages", stages, CORE_DDL["stages"])
    problems = pd.DataFrame([p.__dict__ for p in result.problems],
                            columns=["severity", "file", "line", "conv_id", "field", "message"])
    replace_table(con, "ingest_problems", problems, CORE_DDL["ingest_problems"])
    replace_table(con, "rejected_records", result.rejected, CORE_DDL["rejected_records"])
    prov = {
        **provenance,
        "input_sha256": result.input_sha256, "lines_in": result.lines_in,
        "blank_lines": result.blank_lines, "records_stored": result.records_stored,
        "records_skipped": result.records_skipped, "n_errors": len(result.errors),
        "n_warnings": len(result.warnings), "n_messages": len(result.messages),
        "n_thoughts": len(result.thoughts), "ingested_at": datetime.now(UTC),
    }
    prov["versions"] = json.dumps(prov.get("versions") or {}, sort_keys=True)
    replace_table(con, "provenance", pd.DataFrame([prov]), CORE_DDL["provenance"])


def hash_inputs(*parts: object) -> str:
    """A stage's input hash: sha256 over the repr of each part (a stage is skipped on a
    rerun when this is unchanged)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def record_stage(con: duckdb.DuckDBPyConnection, stage: str, *, input_hash: str,
                 params: dict, seconds: float, summary: str = "") -> None:
    con.execute(STAGE_RUNS_DDL)
    con.execute("INSERT OR REPLACE INTO stage_runs VALUES (?, ?, ?, ?, ?, ?)",
                [stage, input_hash, json.dumps(params, sort_keys=True, default=str), seconds,
                 datetime.now(UTC), summary])


def stage_record(con: duckdb.DuckDBPyConnection, stage: str) -> dict | None:
    if not table_exists(con, "stage_runs"):
        return None
    rows = con.execute("SELECT input_hash, params, seconds, summary FROM stage_runs "
                       "WHERE stage = ?", [stage]).fetchall()
    if not rows:
        return None
    row = rows[0]
    return {"input_hash": row[0], "params": json.loads(row[1]), "seconds": row[2],
            "summary": row[3]}
