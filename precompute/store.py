"""The DuckDB file: schema of the core tables, atomic writes, provenance, stage records.

The file is a public contract (documented in the README). It is always written
atomically: the build works on a temporary copy next to the target and renames it over
the target only when every stage succeeded, so a crash or Ctrl-C leaves the previous file
intact, and a reader holding the old file keeps reading it.

A first build may publish early (`publish_snapshot`): a checkpointed copy of the temporary
file renamed over the target while the build goes on, so readers see a whole, browsable
file (``meta.build_complete = 'false'``) long before the analytics finish. While a build
runs, a status file next to the target (`BuildStatus`, ``.NAME.build.json``) says which
stage it is in, so the app can say "being built" instead of "run the build".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
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


def _snapshot_path_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.publishing-{os.getpid()}")


def _remove_stale(path: Path) -> None:
    """Remove temp files left by builds that were killed (their process is gone)."""
    for pattern in (f".{path.name}.building-*", f".{path.name}.publishing-*"):
        for tmp in path.parent.glob(pattern):
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


#: ``meta`` key: 'false' in a file published early (its analytics still to come, or the
#: build stopped before them), 'true' once a full build finished; absent in files of
#: older versions and of single-stage commands (read as complete).
BUILD_COMPLETE = "build_complete"


def publish_snapshot(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Publish the current state of the build's temporary file (``con``, opened by
    `atomic_db` on ``path``) at ``path`` while the build goes on: a checkpointed copy,
    opened once read-only to check it is whole, then renamed over ``path`` (readers see
    the old file or the new one, never a part). The copy is marked incomplete
    (``meta.build_complete = 'false'``; the temporary file keeps its own value) and
    stamped with this schema version, so the app reads it; the build's final rename
    replaces it."""
    path = Path(path)
    before = get_meta(con, BUILD_COMPLETE)
    set_meta(con, "schema_version", str(SCHEMA_VERSION))
    set_meta(con, BUILD_COMPLETE, "false")
    con.execute("CHECKPOINT")  # everything in the main file, nothing left in the WAL
    snap = _snapshot_path_for(path)
    _remove(snap)
    try:
        shutil.copyfile(tmp_path_for(path), snap)
        check = duckdb.connect(str(snap), read_only=True)
        try:
            check.execute("SELECT count(*) FROM conversations").fetchall()
        finally:
            check.close()
        os.replace(snap, path)
    except BaseException:
        _remove(snap)
        raise
    finally:
        if before is None:
            con.execute("DELETE FROM meta WHERE key = ?", [BUILD_COMPLETE])
        else:
            set_meta(con, BUILD_COMPLETE, before)


def is_partial(path: Path) -> bool:
    """Whether ``path`` is a file that a build published early and did not finish
    (``meta.build_complete = 'false'``); False for a missing or unreadable file."""
    if not Path(path).exists():
        return False
    try:
        con = duckdb.connect(":memory:")
        try:
            quoted = str(path).replace("'", "''")
            con.execute(f"ATTACH '{quoted}' AS db (READ_ONLY)")
            rows = con.execute("SELECT value FROM db.meta WHERE key = ?",
                               [BUILD_COMPLETE]).fetchall()
        finally:
            con.close()
    except duckdb.Error:
        return False
    return bool(rows) and rows[0][0] == "false"


def recorded_source(path: Path) -> str | None:
    """The ``--source`` that built ``path`` (a file's path, 'demo' or 'hf'), from its
    provenance; None when the file has none."""
    try:
        con = duckdb.connect(":memory:")
        try:
            quoted = str(path).replace("'", "''")
            con.execute(f"ATTACH '{quoted}' AS db (READ_ONLY)")
            rows = con.execute("SELECT source_kind, source_file FROM db.provenance"
                               ).fetchall()
        finally:
            con.close()
    except duckdb.Error:
        return None
    if not rows:
        return None
    kind, source_file = rows[0]
    return source_file if kind == "file" else kind


# ------------------------------------------------------------------ build status file

def status_path_for(path: Path) -> Path:
    """The build status file of the DB file ``path``: ``.NAME.build.json`` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.build.json")


class BuildStatus:
    """The status file of one running build (JSON, replaced atomically on each change):
    ``state`` ('running' or 'failed'), ``pid``, ``host``, ``started_at`` (epoch s), the
    ``stages`` it runs, the current ``stage`` and when it began (``stage_started_at``),
    the stages ``done``, those ``published`` early, and on failure ``error`` (one line).

    Removed when the build succeeds, or when it fails leaving a complete file; a failed
    build that leaves no file, or an unfinished early one, keeps it (state 'failed') so
    the app can say what happened. Readers use `read_status`."""

    def __init__(self, path: Path, stages: list[str]):
        self.db = Path(path)
        self.path = status_path_for(self.db)
        self.data: dict[str, Any] = {
            "state": "running", "pid": os.getpid(), "host": socket.gethostname(),
            "started_at": time.time(), "stages": list(stages), "stage": None,
            "stage_started_at": None, "done": [], "published": [], "error": None}

    def _write(self) -> None:
        self.db.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data), encoding="utf-8")
        os.replace(tmp, self.path)

    def stage(self, name: str) -> None:
        """The build begins stage ``name``."""
        self.data.update(stage=name, stage_started_at=time.time())
        self._write()

    def done(self, name: str) -> None:
        self.data["done"].append(name)
        self._write()

    def published(self, name: str) -> None:
        self.data["published"].append(name)
        self._write()

    def _ours(self) -> bool:
        try:
            return json.loads(self.path.read_text(encoding="utf-8")).get("pid") == os.getpid()
        except (OSError, ValueError, AttributeError):
            return False

    def finish(self, error: BaseException | None = None) -> None:
        """The build ended: remove the file (unless another build has taken it over), or
        keep it as 'failed' when ``error`` left no complete DB file behind."""
        if not self._ours():
            return
        keep = error is not None and (not self.db.exists() or is_partial(self.db))
        if not keep:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            return
        message = " ".join(str(error).split())[:300] or error.__class__.__name__
        if isinstance(error, KeyboardInterrupt):
            message = "interrupted"
        self.data.update(state="failed", error=message, finished_at=time.time())
        self._write()


def _alive(pid: object, host: object) -> bool:
    """Whether the process ``pid`` on ``host`` still runs (another host's: assumed)."""
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)  # type: ignore[arg-type]
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def read_status(path: Path) -> dict | None:
    """The build status of the DB file ``path``: None when no build runs or failed, else
    the status file's fields with ``state`` 'running', 'failed' or 'stopped' (the file
    says running but its process on this host is gone: killed)."""
    try:
        data = json.loads(status_path_for(Path(path)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("state") not in ("running", "failed"):
        return None
    if data["state"] == "running" and not _alive(data.get("pid"), data.get("host")):
        data["state"] = "stopped"
    return data


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
