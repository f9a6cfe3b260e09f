"""Opening the DuckDB file read-only and checking that the app can use it (no streamlit).

The build replaces the file atomically (rename), so a file's identity is its inode, size
and mtime: when that signature changes, the app opens a new connection and every cached
query result keyed on the old signature is no longer used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from precompute.store import SCHEMA_VERSION

REQUIRED_TABLES = ("conversations", "messages", "thoughts", "labels", "provenance", "meta")


@dataclass(frozen=True)
class DbStatus:
    ok: bool
    path: str
    signature: tuple | None
    problem: str = ""        # what is wrong, one sentence
    build_command: str = ""  # exactly what to run to fix it


def signature(path: str | Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def build_command(path: str | Path) -> str:
    return f"python -m precompute build --source hf --db {path}"


def connect(path: str | Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def check(path: str | Path) -> DbStatus:
    """Whether ``path`` is a DB this app version can read; if not, why and how to build it."""
    path = str(path)
    sig = signature(path)
    cmd = build_command(path)
    if sig is None:
        return DbStatus(False, path, None, f"No database at {path}.", cmd)
    try:
        con = connect(path)
    except duckdb.Error as exc:
        return DbStatus(False, path, sig, f"{path} is not a readable DuckDB file "
                                          f"({exc.__class__.__name__}).", cmd)
    try:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        missing = [t for t in REQUIRED_TABLES if t not in tables]
        if missing:
            return DbStatus(False, path, sig, f"{path} lacks the tables {', '.join(missing)}: "
                                              "it was not built by this version.", cmd)
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = row[0] if row else None
        if version != str(SCHEMA_VERSION):
            return DbStatus(False, path, sig, f"{path} has schema version {version}, this app "
                                              f"needs {SCHEMA_VERSION}: rebuild it.", cmd)
    finally:
        con.close()
    return DbStatus(True, path, sig)
