"""ThoughtTrace Explorer: the Streamlit router (page config, shared sidebar, navigation).

Run with ``streamlit run app.py``; the DB path comes from ``$THOUGHTTRACE_DB`` (default
data/thoughttrace.duckdb). Pages live in views/ (one file per page, named after it), the
app's library in components/ (its wings: queries, figures, export, ui).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from components import db
from components.links import NOT_FOUND_SCRIPT, PAGE_PATHS, PAGES
from components.queries import core
from components.ui import first_paint, share, sidebar, state

log = logging.getLogger("thoughttrace.app")
#: The page icon, a local file: an icon given as ":material/...:" makes every browser
#: fetch it from a font CDN (an error offline, a request nobody agreed to).
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"

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
    st.set_page_config(page_title="ThoughtTrace Explorer", page_icon=str(ICON),
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
    by_key = {page: st.Page(path, title=title, icon=icon, default=(i == 0),
                            url_path=PAGE_PATHS[page] or None)
              for i, (page, (path, title, icon)) in enumerate(PAGES.items())}
    pages = list(by_key.values())
    unknown = _unknown_page_path()
    if unknown:  # the app's own not-found page instead of Streamlit's modal
        st.session_state["_not_found_path"] = unknown
        pages.append(st.Page(NOT_FOUND_SCRIPT, title="Page not found", url_path=unknown,
                             visibility="hidden"))
    nav = st.navigation(pages)
    # a new tab: its first chart first, then the rest
    light = first_paint.begin(next((k for k, p in by_key.items() if p is nav), None))
    sidebar.render(light=light)
    first_paint.request_rest()
    try:
        nav.run()
    except state.PageEnd:
        pass  # the page ended on purpose; the app's own parts still follow
    finally:
        if not light:
            # after the page: the link box holds the view as the page left it (a page
            # writes its own state, e.g. the open conversation, into the URL as it runs)
            share.render()


def _unknown_page_path() -> str | None:
    """The URL path a fresh page load asks for when it is no page of the app (None when
    it is one, or when Streamlit asks by page hash); only simple names can be served."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        manager = ctx.pages_manager if ctx else None
        name = manager.intended_page_name if manager else None
        by_hash = manager.intended_page_script_hash if manager else None
    except Exception:  # noqa: BLE001 - private API: without it Streamlit's own notice shows
        return None
    if not name or by_hash or name in PAGE_PATHS.values():
        return None
    return name if re.fullmatch(r"[\w.-]{1,100}", name) else None


if __name__ == "__main__":
    run()
