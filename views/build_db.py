"""Shown instead of every page when the DuckDB file is missing or was built by another
version: says exactly which command builds it."""

import streamlit as st

from components.ui import state

status = state.db_status()
st.title("ThoughtTrace Explorer needs its database")
st.error(status.problem, icon=":material/database_off:")
st.markdown("Build it (downloads ThoughtTrace from the Hugging Face Hub; without a network "
            "it falls back to the demo corpus and says so):")
st.code(status.build_command, language="bash")
st.markdown("From a local copy of the data: `python -m precompute build --source "
            "PATH/ThoughtTrace.jsonl --db " + status.path + "`. The app reads the file named "
            "by `THOUGHTTRACE_DB` (default `data/thoughttrace.duckdb`); reload this page "
            "when the build is done.")
