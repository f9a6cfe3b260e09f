"""A new tab draws its first chart first (streamlit glue).

Opening a page in a new tab, the browser has to load Streamlit's frontend, plotly.js and
the code of every kind of element the page shows (the sidebar's widgets, tables,
popovers...), and the first chart waits until all of them are compiled. So a browser
session's first run is *light*: the router skips the sidebar's widgets (the filters still
come from the URL), the page runs until its first chart (`components.ui.charts.show`
then stops the run) and a small script asks for the rest as soon as that chart is drawn:
it clicks a hidden button, whose callback marks the session, and the next run draws the
whole page — sidebar, the other charts, tables, download menus — with the chart already
on screen.

A page that opens on a table, not a chart (`TABLE_FIRST`: the conversation list and its
transcript), draws in full in its first run, sidebar included: its table needs none of
plotly.js and paints before the one-chart floor page's chart does even with the sidebar
(0.88× that page in the third round of `benchmarks/README.md`), so a light run would only
cost the server a second run of the whole page for every link opened.

Runs without a browser (AppTest, bare mode: no Host header) are never light, and a
session is light only until its first full run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import streamlit as st

T = TypeVar("T")

#: Session flags: the rest has been asked for; this run is light; the request is placed.
FULL = "_first_paint_full"
LIGHT = "_first_paint_light"
PLACED = "_first_paint_placed"
BUTTON_KEY = "first_paint_more"
#: What counts as the first thing drawn: a plotly chart's traces (plotly.js draws the
#: empty SVG first and the traces a task or two later; a Sankey, a WebGL canvas), or a
#: table.
DRAWN = (".js-plotly-plot .trace, .js-plotly-plot .sankey, .js-plotly-plot canvas, "
         "[data-testid='stDataFrame']")
#: The script asks for the rest when the first chart is drawn, or after this many ms.
FALLBACK_MS = 2500

#: Once the chart is in the page, the click waits for two animation frames (the chart has
#: been painted) and a little more, so the rest's work does not hold back its paint.
PAINT_WAIT_MS = 200

_SCRIPT = (
    "<script>(function(){var t0=Date.now();var t=setInterval(function(){"
    f"var btn=document.querySelector('.st-key-{BUTTON_KEY} button');"
    f"var drawn=document.querySelector(\"{DRAWN}\");"
    f"if(btn&&(drawn||Date.now()-t0>{FALLBACK_MS})){{clearInterval(t);"
    "requestAnimationFrame(function(){requestAnimationFrame(function(){"
    f"setTimeout(function(){{btn.click();}},{PAINT_WAIT_MS});}});}});}}"
    "if(Date.now()-t0>30000){clearInterval(t);}},40);})();</script>")


def _from_browser() -> bool:
    """Whether this run serves a browser connection (it sent a Host header)."""
    try:
        headers = st.context.headers
        return bool(headers and headers.get("Host"))
    except Exception:  # noqa: BLE001 - no request context: AppTest, bare mode
        return False


#: Pages (keys of `components.links.PAGES`) that open on a table: never light.
TABLE_FIRST = frozenset({"conversations"})


def begin(page: str | None) -> bool:
    """Decide at the start of a run whether it is light (see the module docstring);
    ``page``: the key of the page this run shows (None: a page outside the navigation,
    such as the not-found page, drawn in full)."""
    ss = st.session_state
    ss[PLACED] = False
    light = not ss.get(FULL) and page is not None and page not in TABLE_FIRST \
        and _from_browser()
    if not light:
        ss[FULL] = True
    ss[LIGHT] = light
    return light


def is_light() -> bool:
    """Whether this run draws only up to the page's first chart."""
    return bool(st.session_state.get(LIGHT))


def _more() -> None:
    st.session_state[FULL] = True


def request_rest() -> None:
    """In a light run, place (in the sidebar, empty in such a run) the hidden button and
    the script that clicks it once the page's first chart or table is drawn."""
    ss = st.session_state
    if not is_light() or ss.get(PLACED):
        return
    ss[PLACED] = True
    with st.sidebar:
        st.html(f"<style>.st-key-{BUTTON_KEY}{{display:none}}</style>")
        st.button("Draw the rest of the page", key=BUTTON_KEY, on_click=_more)
        st.html(_SCRIPT, unsafe_allow_javascript=True)


def stop_after_first_chart() -> None:
    """In a light run, end the page here (after its first chart)."""
    if is_light():
        from components.ui import state
        state.end_page()


def url_choice(key: str, options: Sequence[T], default: T) -> T:
    """In a light run, the option a select box bound to the URL under ``key`` will show
    when it is drawn: the link's value when it names one of ``options`` (compared as
    text, as the URL holds it), else ``default``."""
    raw = st.query_params.get(key)
    return next((o for o in options if raw is not None and str(o) == raw), default)
