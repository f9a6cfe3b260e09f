"""Shown instead of every page when the DuckDB file is missing or was built by another
version: says exactly which command builds it, or, while a build runs, that it is being
built and how far it is. It watches the file (`notices.watch`) and opens the app by
itself when the file appears (a first build publishes the conversations within seconds)."""

from pathlib import Path

import streamlit as st

from components.ui import notices, state
from precompute import store

#: Seconds between two checks of the file while a build runs / while none does.
POLL_BUILDING_S = 1.0
POLL_IDLE_S = 5.0

status = state.db_status()
build = store.read_status(Path(status.path))
seen = (status.signature, notices.status_key(build))
if build is not None and build["state"] == "running":
    st.title("ThoughtTrace Explorer is building its database")
    if status.signature is None:
        when = ("as soon as the conversations are read (seconds; the analyses follow while "
                "you browse)")
    else:
        when = "when the build is done"
        st.caption(status.problem)
    st.info(f"**Being built.** The app opens here by itself {when}: no need to reload.",
            icon=":material/hourglass_top:")
    notices.watch(status.path, seen, POLL_BUILDING_S, progress=True)
else:
    st.title("ThoughtTrace Explorer needs its database")
    st.error(status.problem, icon=":material/database_off:")
    if build is not None:
        if build["state"] == "failed" and build.get("error"):
            st.warning("The last build of this file failed:", icon=":material/error:")
            st.code(str(build["error"]), language=None)  # may quote dataset text: plain
        else:
            st.warning("The last build of this file was stopped before it wrote it.",
                       icon=":material/error:")
    st.markdown("Build it (downloads ThoughtTrace from the Hugging Face Hub; without a "
                "network it falls back to the demo corpus and says so):")
    st.code(status.build_command, language="bash")
    st.markdown("From a local copy of the data: `python -m precompute build --source "
                "PATH/ThoughtTrace.jsonl --db " + status.path + "`. The app reads the file "
                "named by `THOUGHTTRACE_DB` (default `data/thoughttrace.duckdb`) and opens "
                "here by itself as soon as a build publishes it.")
    notices.watch(status.path, seen, POLL_IDLE_S)
