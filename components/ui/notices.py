"""Streamlit glue for the notices every analysis page opens with: which filters are active,
an explanatory empty state when they match nothing, and what to run when the database
lacks a stage the page needs. Each stops the page where nothing can be shown.

A page waiting for a stage (or for the database itself, views/build_db.py) watches for
it: a fragment that reruns every few seconds (`watch`) compares the DB file's signature
and the build's status file (`precompute.store.read_status`) with what the page showed,
and reruns the whole app when either changed, so the page fills in by itself when a
build publishes; meanwhile it says which stage the build is in.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import streamlit as st

from components import db
from components.filters import Filters
from components.queries import core
from components.ui import state
from precompute import store

#: Seconds between two checks while a build runs, and while none does (a build started
#: from a terminal is noticed too). A check is a stat and a small JSON read.
POLL_BUILDING_S = 2.0
POLL_IDLE_S = 10.0

#: What the build does in each of its stages, for the progress line.
STAGE_WORDS = {"source": "getting the source file", "ingest": "reading the conversations",
               "embed": "embedding the texts (the long stage)",
               "relationships": "relating each user turn to the previous one",
               "topics": "assigning topics", "clusters": "clustering",
               "shifts": "computing the semantic map and shifts"}


def subset_totals(filters: Filters, consequence: str = "") -> dict:
    """The filtered subset's `queries.core.totals`, after a caption naming the active
    filters.
    When no conversation matches: an info box ("No conversations match the current
    filters, <consequence>. Loosen or reset the filters in the sidebar.") and the page
    stops."""
    totals = state.query(core.totals, filters)
    if not filters.is_empty:
        st.caption(f"Filtered: {filters.describe(state.display_names())}")
    if totals["conversations"] == 0:
        why = f", {consequence}" if consequence else ""
        st.info(f"No conversations match the current filters{why}. Loosen or reset the "
                "filters in the sidebar.", icon=":material/filter_alt_off:")
        state.end_page()
    return totals


def require_stage(available: bool, message: str) -> None:
    """When ``available`` is false the page stops after saying why, and watches for the
    stage (`watch`): while a build runs, that it is being built (with the build's
    progress) and that the page fills in by itself; for a file a build published early and
    did not finish, how to finish it; otherwise ``message`` (what is missing and what to
    run) and the build command for this DB file."""
    if available:
        return
    path = state.db_path()
    status = store.read_status(Path(path))
    seen = (state.db_status().signature, status_key(status))
    if status is not None and status["state"] == "running":
        st.info("**Being built.** A build of this database is running now; what this page "
                "shows comes with it, and the page fills in by itself when the build is done "
                "(no need to reload).", icon=":material/hourglass_top:")
        watch(path, seen, POLL_BUILDING_S, progress=True)
        state.end_page()
    if store.is_partial(Path(path)):
        why = _stopped_why(status)
        st.warning("**Unfinished.** This database was published early by a build that "
                   f"stopped before its analytics{why}. Run it again to finish; it continues "
                   "from what was published:", icon=":material/build:")
    else:
        st.info(message, icon=":material/build:")
    st.code(build_command(path), language="bash")
    watch(path, seen, POLL_IDLE_S)
    state.end_page()


def build_command(path: str) -> str:
    """The command that builds (or finishes) the DB file ``path``, with the source it was
    built from when it has one (`precompute.store.recorded_source`)."""
    source = store.recorded_source(Path(path)) if Path(path).exists() else None
    return (f"python -m precompute build --source {shlex.quote(source or 'hf')} "
            f"--db {shlex.quote(str(path))}")


def _stopped_why(status: dict | None) -> str:
    """', which failed: <error>' / ', which was stopped' / '' for a build status."""
    if status is None:
        return ""
    if status["state"] == "failed":
        error = str(status.get("error") or "").replace("`", "'")
        return f" (it failed: `{error}`)" if error else " (it failed)"
    return " (its process is gone: it was stopped or killed)"


def status_key(status: dict | None) -> tuple | None:
    """What of a build status makes a page show something else: its state and process."""
    return None if status is None else (status["state"], status.get("pid"),
                                        status.get("started_at"))


def progress_line(status: dict, now: float | None = None) -> str:
    """One line on a running build: its stage, its place among the stages, how long the
    build and the stage have run, e.g. "Now: embedding the texts (the long stage) — stage
    3 of 7, for 1 min 05 s; the build started 1 min 09 s ago."
    """
    now = time.time() if now is None else now
    stages = list(status.get("stages") or [])
    stage = status.get("stage")
    place = (f" — stage {stages.index(stage) + 1} of {len(stages)}"
             if stage in stages else "")
    since = status.get("stage_started_at")
    during = f", for {_duration(now - since)}" if isinstance(since, (int, float)) else ""
    started = status.get("started_at")
    total = (f"; the build started {_duration(now - started)} ago"
             if isinstance(started, (int, float)) else "")
    words = STAGE_WORDS.get(str(stage), str(stage or "starting"))
    published = status.get("published") or []
    shown = (" The conversations are published already." if published else "")
    return f"Now: {words}{place}{during}{total}.{shown}"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _watch(path: str, seen: tuple, progress: bool) -> None:
    """One check (`watch`): the whole app reruns when the DB file or the build's state is
    not what the page showed; else the progress line is redrawn."""
    status = store.read_status(Path(path))
    if (db.signature(path), status_key(status)) != seen:
        st.rerun()
    if progress and status is not None:
        st.caption(progress_line(status))


def watch(path: str, seen: tuple, every_s: float, *, progress: bool = False) -> None:
    """Check every ``every_s`` seconds (a fragment) whether the DB file ``path`` or its
    build's state changed from ``seen`` = (the file's `components.db.signature` as the
    page read it, `status_key` of the build status it showed); on a change the whole app
    reruns (`st.rerun`), so the page shows the new file without a reload. With
    ``progress``, the build's `progress_line` under it, redrawn on every check."""
    st.fragment(_watch, run_every=every_s)(path, seen, progress)
