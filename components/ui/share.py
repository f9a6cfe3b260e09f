""""Copy link to this view" and "Cite this dataset" (streamlit glue), drawn at the end of
the sidebar on every page, after the page has run (so the link holds the view the page
left, its open conversation included).

The URL already carries the view (page path + filters and page parameters as query
parameters), so the link is the current URL: ``st.context.url`` (scheme, host, port and
page path, as the browser sees it) plus ``st.query_params``. ``st.code`` gives both boxes a
copy button; each sits in a popover (see `render`).
"""

from __future__ import annotations

import streamlit as st

from components.links import view_url
from components.vocabulary import CITATION_BIBTEX, CITATION_TEXT


def url_params() -> dict[str, list[str]]:
    """The current URL's query parameters, every value of a repeated key kept."""
    return {k: st.query_params.get_all(k) for k in st.query_params.keys()}


def _base_url() -> str | None:
    """The page's URL without query: ``st.context.url`` when the browser sent it, else
    built from the Host header and the current page's path (None when neither exists,
    e.g. in AppTest)."""
    try:
        url = st.context.url
    except Exception:  # noqa: BLE001 - older Streamlit / no browser context
        url = None
    if url:
        return url
    host = st.context.headers.get("Host") if st.context.headers else None
    if not host:
        return None
    path = ""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        manager = ctx.pages_manager if ctx else None
        info = manager.get_pages().get(manager.current_page_script_hash) if manager else None
        path = (info or {}).get("url_pathname", "") or ""
    except Exception:  # noqa: BLE001 - private API; the link still has host and query
        path = ""
    return f"http://{host}/{path.lstrip('/')}"


def render() -> None:
    """The sidebar's two buttons: the link to this view and the BibTeX, each in a popover.

    A popover mounts its content only when opened, so the code box (its copy button comes
    with a 1.5 MB syntax-highlighting chunk, about half a second of the browser's time in
    a new tab) stays off the path to a page's first chart."""
    url = view_url(_base_url(), url_params())
    sb = st.sidebar
    sb.divider()
    with sb.popover("Copy link to this view", icon=":material/link:", width="stretch"):
        st.code(url, language=None, wrap_lines=True)
        st.caption("The link opens this page with the same filters and view (copy button "
                   "at the right of the box).")
    with sb.popover("Cite this dataset", icon=":material/format_quote:", width="stretch"):
        st.code(CITATION_BIBTEX, language="bibtex")
        st.caption(f"{CITATION_TEXT} Exported figures carry a caption line with the "
                   "dataset, its version and the filters.")
