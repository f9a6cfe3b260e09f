"""Streamlit glue for the notices every analysis page opens with: which filters are active,
an explanatory empty state when they match nothing, and what to run when the database
lacks a stage the page needs. Each stops the page where nothing can be shown."""

from __future__ import annotations

import streamlit as st

from components.filters import Filters
from components.queries import core
from components.ui import state


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
        st.stop()
    return totals


def require_stage(available: bool, message: str) -> None:
    """When ``available`` is false: ``message`` (what is missing and what to run), the
    build command for this DB file, and the page stops."""
    if available:
        return
    st.info(message, icon=":material/build:")
    st.code(f"python -m precompute build --db {state.db_path()}", language="bash")
    st.stop()
