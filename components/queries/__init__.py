"""The app's queries: a DuckDB cursor and hashable arguments in, polars frames (or plain
values) out; one module per page plus `core` (what every page and the sidebar read). Never
imports plotly or streamlit; the study-aware statistics they use live in
`components.stats`.

Every user value is an SQL parameter; SQL fragments formatted into a query come from
fixed tables in code. `components.ui.state.query(fn, *args)` caches any of these
functions per DB file and arguments.
"""
