"""ThoughtTrace Explorer: the Streamlit router (page config, shared sidebar, navigation).

Run with ``streamlit run app.py``; the DB path comes from ``$THOUGHTTRACE_DB`` (default
data/thoughttrace.duckdb). Pages live in views/ (one file per page, named after it), the
app's library in components/ (its wings: queries, figures, export, ui).
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from components import db
from components.links import PAGE_PATHS
from components.queries import core
from components.ui import sidebar, state

log = logging.getLogger("thoughttrace.app")

#: (page, script, title, icon); the URL path of each page is pinned in `PAGE_PATHS`, so
#: links stay valid whatever the script is called.
PAGES = [
    ("overview", "views/overview.py", "Overview", ":material/dashboard:"),
    ("conversations", "views/conversations.py", "Conversations", ":material/forum:"),
    ("thoughts", "views/thought_types.py", "Thought types & stages",
     ":material/stacked_bar_chart:"),
    ("turns", "views/turns.py", "Turn by turn", ":material/timeline:"),
    ("participants", "views/participants.py", "Participants", ":material/groups:"),
    ("topics", "views/topics.py", "Topics", ":material/category:"),
    ("shifts", "views/semantic_shifts.py", "Semantic shifts", ":material/scatter_plot:"),
]


def show_unexpected(exc: BaseException) -> None:
    """The app's error boundary: a friendly message, never a traceback; the traceback goes
    to the server log."""
    log.error("unexpected error while rendering a page", exc_info=exc)
    # the message may quote dataset text: shown in a code span (no markdown, no HTML)
    message = " ".join(str(exc).split())[:300].replace("`", "'")
    st.error(f"This view hit an unexpected problem: `{exc.__class__.__name__}: {message}`. "
             "The error has been logged; try resetting filters or rebuilding the DB.",
             icon=":material/error:")
    try:
        replaced = db.signature(state.db_path()) != state.db_status().signature
    except Exception:  # noqa: BLE001 - best effort only
        replaced = False
    if replaced:
        st.info("The database file changed while this view was loading (it was rebuilt or "
                "removed): reload the page to read the current file.", icon=":material/sync:")


def run() -> None:
    st.set_page_config(page_title="ThoughtTrace Explorer", page_icon=":material/psychology:",
                       layout="wide")
    try:
        _route()
    except ScriptControlException:
        raise  # st.stop / st.rerun / st.switch_page: Streamlit's own control flow
    except Exception as exc:  # noqa: BLE001 - the boundary: every page error ends here
        show_unexpected(exc)


def _route() -> None:
    status = state.begin_run()
    if not status.ok:
        st.navigation([st.Page("views/build_db.py", title="Build the database",
                               icon=":material/build:")]).run()
        return
    if state.is_demo():
        prov = state.query(core.provenance)
        why = f" ({prov['fallback_reason']})" if prov.get("fallback_reason") else ""
        st.warning("**Demo corpus** — these are 30 conversations written by the ThoughtTrace "
                   f"Explorer team, not the ThoughtTrace dataset{why}. Build the real data "
                   "with `python -m precompute build --source PATH_TO/ThoughtTrace.jsonl`.",
                   icon=":material/science:")
    pages = [st.Page(path, title=title, icon=icon, default=(i == 0),
                     url_path=PAGE_PATHS[page] or None)
             for i, (page, path, title, icon) in enumerate(PAGES)]
    nav = st.navigation(pages)
    sidebar.render()
    nav.run()


if __name__ == "__main__":
    run()
