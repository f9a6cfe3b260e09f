"""ThoughtTrace Explorer: the Streamlit router (page config, shared sidebar, navigation).

Run with ``streamlit run app.py``; the DB path comes from ``$THOUGHTTRACE_DB`` (default
data/thoughttrace.duckdb). Pages live in views/, shared logic in components/.
"""

from __future__ import annotations

import streamlit as st

from components import sidebar, state

PAGES = [
    ("views/overview.py", "Overview", ":material/dashboard:"),
    ("views/browser.py", "Conversations", ":material/forum:"),
    ("views/thoughts.py", "Thought types & stages", ":material/stacked_bar_chart:"),
    ("views/demographics.py", "Participants", ":material/groups:"),
    ("views/topics.py", "Topics", ":material/category:"),
    ("views/shifts.py", "Semantic shifts", ":material/scatter_plot:"),
]


def run() -> None:
    st.set_page_config(page_title="ThoughtTrace Explorer", page_icon=":material/psychology:",
                       layout="wide")
    status = state.begin_run()
    if not status.ok:
        st.navigation([st.Page("views/build_db.py", title="Build the database",
                               icon=":material/build:")]).run()
        return
    if state.is_demo():
        prov = state.query("provenance")
        why = f" ({prov['fallback_reason']})" if prov.get("fallback_reason") else ""
        st.warning("**Demo corpus** — these are 30 conversations written by the ThoughtTrace "
                   f"Explorer team, not the ThoughtTrace dataset{why}. Build the real data "
                   "with `python -m precompute build --source PATH_TO/ThoughtTrace.jsonl`.",
                   icon=":material/science:")
    pages = [st.Page(path, title=title, icon=icon, default=(i == 0))
             for i, (path, title, icon) in enumerate(PAGES)]
    nav = st.navigation(pages)
    sidebar.render()
    nav.run()


if __name__ == "__main__":
    run()
