"""Opening the DuckDB file read-only and checking that the app can use it (no streamlit).

The build replaces the file atomically (rename), so a file's identity is its inode, size
and mtime: when that signature changes, the app opens a new connection and every cached
query result keyed on the old signature is no longer used.

`connect` attaches the file to a fresh in-memory DuckDB instance instead of calling
``duckdb.connect(path)``: DuckDB caches database instances by path within a process, so
after a rebuild (rename over the same path) a plain second ``connect(path)`` returns the
*old* file's instance as long as any connection to it is alive (a session mid-run, the
cached connection), and the app would keep showing the old data.
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


#: Catalog name of the attached DB file in the app's connections.
ALIAS = "tt"


#: Environment variable: DuckDB threads of each connection `connect` opens (default:
#: DuckDB's own, one per core). `deploy/serve.py` gives each of N workers cores / N, so N
#: workers on N cores do not each run a pool as wide as the machine.
THREADS_ENV = "THOUGHTTRACE_DUCKDB_THREADS"


def threads_from_env() -> int | None:
    """`THREADS_ENV` as a positive int, None when unset or empty; anything else is a
    ValueError that names the variable and what it holds."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{THREADS_ENV}={raw[:40]!r}: expected a whole number of threads, "
                         "at least 1 (or unset for one per core)")
    return int(raw)


def connect(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection whose default catalog is the DB file at ``path`` (the file as
    it is now, never a cached instance of a file that was replaced at that path), with
    `THREADS_ENV` threads when it is set."""
    threads = threads_from_env()
    con = duckdb.connect(":memory:", config={} if threads is None else {"threads": threads})
    try:
        quoted = str(path).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS {ALIAS} (READ_ONLY)")
        con.execute(f"USE {ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new cursor on ``con`` reading the same catalog (``con.cursor()`` starts in the
    default in-memory catalog; this switches it to the attached DB when there is one)."""
    cur = con.cursor()
    try:
        cur.execute(f"USE {ALIAS}")
    except duckdb.Error:
        pass  # a plain connection to a file (tests, notebooks): already its catalog
    return cur


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
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ?",
            [ALIAS]).fetchall()}
        missing = [t for t in REQUIRED_TABLES if t not in tables]
        if missing:
            return DbStatus(False, path, sig, f"{path} lacks the tables {', '.join(missing)}: "
                                              "it was not built by this version.", cmd)
        rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        version = rows[0][0] if rows else None
        if version != str(SCHEMA_VERSION):
            return DbStatus(False, path, sig, f"{path} has schema version {version}, this app "
                                              f"needs {SCHEMA_VERSION}: rebuild it.", cmd)
    except duckdb.Error as exc:
        return DbStatus(False, path, sig, f"{path} cannot be read as this app's database "
                                          f"({exc.__class__.__name__}).", cmd)
    finally:
        con.close()
    return DbStatus(True, path, sig)
