"""The global filter sidebar (streamlit): widgets <-> `Filters` <-> URL query parameters.

On a session's first run the URL is the source of truth (a shared link reproduces the
view); afterwards the widgets are, and every run writes the filters back into the URL.
Invalid or stale URL values are dropped with a small notice. Every option shows how many
conversations it would leave, given the other filters.
"""

from __future__ import annotations

import streamlit as st

from components import share, state
from components.share import url_params
from components.filters import FACETS, FILTER_KEYS, MISSING, RANGES, Filters, from_query_params

FACET_TITLES = {
    "domains": "Domain", "subtopics": "Subtopic", "models": "Model", "providers": "Provider",
    "age_brackets": "Age bracket", "genders": "Gender", "educations": "Education",
    "ai_frequencies": "AI-use frequency (1–5)",
}
DEMOGRAPHIC = ("age_brackets", "genders", "educations", "ai_frequencies")
_INIT = "_filters_from_url"


def _widget_key(name: str) -> str:
    return f"f_{name}"


def _load_into_widgets(filters: Filters, bounds: dict[str, tuple[int, int]]) -> None:
    ss = st.session_state
    for name in FACETS:
        ss[_widget_key(name)] = list(getattr(filters, name))
    for name in RANGES:
        lo_b, hi_b = bounds[name]
        lo, hi = getattr(filters, f"{name}_min"), getattr(filters, f"{name}_max")
        lo = lo_b if lo is None else min(max(lo, lo_b), hi_b)
        hi = hi_b if hi is None else max(min(hi, hi_b), lo)
        ss[_widget_key(name)] = (lo, hi)
    ss[_widget_key("labels_any")] = list(filters.labels_any)
    ss[_widget_key("seq_first")] = filters.seq_first or ""
    ss[_widget_key("seq_then")] = filters.seq_then or ""


def _range_value(name: str, bounds: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """The (lo, hi) of a range slider from session state, re-seeded with the full range
    when it is not a pair and clamped to the bounds: Streamlit drops a widget's state when a run does not draw it (a
    rebuilt DB whose conversations all have one length has no slider), and a redrawn
    slider would start from a single value."""
    lo_b, hi_b = bounds[name]
    stored = st.session_state.get(_widget_key(name))
    value = stored if isinstance(stored, (tuple, list)) and len(stored) == 2 else (lo_b, hi_b)
    # a rebuilt DB may have other bounds: an end that sat at the old data's extent moves to
    # the new extent (an open range stays open), and the range stays inside the bounds
    prev = st.session_state.get(f"_bounds_{name}")
    st.session_state[f"_bounds_{name}"] = (lo_b, hi_b)
    if prev is not None and tuple(prev) != (lo_b, hi_b):
        value = (lo_b if value[0] <= prev[0] else value[0],
                 hi_b if value[1] >= prev[1] else value[1])
    lo = min(max(int(value[0]), lo_b), hi_b)
    hi = max(min(int(value[1]), hi_b), lo)
    if stored is None or value is not stored or (lo, hi) != tuple(stored):
        st.session_state[_widget_key(name)] = (lo, hi)
    return lo, hi


def _from_widgets(bounds: dict[str, tuple[int, int]]) -> Filters:
    ss = st.session_state
    kwargs: dict = {name: tuple(ss.get(_widget_key(name)) or ()) for name in FACETS}
    for name in RANGES:
        lo_b, hi_b = bounds[name]
        lo, hi = _range_value(name, bounds)
        kwargs[f"{name}_min"] = None if lo <= lo_b else int(lo)
        kwargs[f"{name}_max"] = None if hi >= hi_b else int(hi)
    kwargs["labels_any"] = tuple(ss.get(_widget_key("labels_any")) or ())
    first, then = ss.get(_widget_key("seq_first")) or "", ss.get(_widget_key("seq_then")) or ""
    if first and then:
        kwargs["seq_first"], kwargs["seq_then"] = first, then
    return Filters(**kwargs)


def _reset(bounds: dict[str, tuple[int, int]]) -> None:
    _load_into_widgets(Filters(), bounds)


def write_url(filters: Filters) -> None:
    """Mirror ``filters`` into the URL, leaving page parameters (conv, turn, q, ...) alone."""
    wanted = filters.to_query_params()
    for key in list(st.query_params.keys()):
        if key in FILTER_KEYS and key not in wanted:
            del st.query_params[key]
    for key, value in wanted.items():
        current = st.query_params.get_all(key)
        target = value if isinstance(value, list) else [value]
        if current != target:
            st.query_params[key] = value


def render() -> Filters:
    """Draw the sidebar filters and return the current `Filters` (also in session state)."""
    opts = state.query("facet_options")
    bounds = state.query("range_bounds")
    labels = state.query("labels")
    display = dict(zip(labels["code"], labels["display_name"]))
    if _INIT not in st.session_state:
        filters, notices = from_query_params(url_params(), opts)
        for name, (key, _) in RANGES.items():
            lo_b, hi_b = bounds[name]
            lo, hi = getattr(filters, f"{name}_min"), getattr(filters, f"{name}_max")
            if (lo is not None and not lo_b <= lo <= hi_b) or \
                    (hi is not None and not lo_b <= hi <= hi_b):
                notices.append(f"{key} range clamped to the data's {lo_b}–{hi_b}")
        _load_into_widgets(filters, bounds)
        st.session_state[_INIT] = True
        st.session_state["_url_notices"] = notices
    current = _from_widgets(bounds)

    sb = st.sidebar
    sb.header("Filters")
    for notice in st.session_state.get("_url_notices", []):
        sb.caption(f":material/info: Link: {notice}")
    n_all = state.query("count_conversations", current)
    sb.markdown(f"**{n_all:,}** conversations match")
    sb.button("Reset filters", on_click=_reset, args=(bounds,), width="stretch",
              disabled=current.is_empty, icon=":material/restart_alt:")

    def facet(name: str, container) -> None:
        _, column = FACETS[name]
        counts = state.query("facet_counts", current.without(name), column)
        n = dict(zip(counts["value"], counts["n"]))
        options = list(opts[name])
        if name == "subtopics" and current.domains:
            options = [s for d in current.domains for s in opts["subtopics_by_domain"].get(d, [])]
        if MISSING in n or MISSING in (st.session_state.get(_widget_key(name)) or []):
            options.append(MISSING)
        key = _widget_key(name)
        st.session_state[key] = [v for v in st.session_state.get(key) or [] if v in options]
        if not options:
            return
        container.multiselect(FACET_TITLES[name], options, key=key,
                              format_func=lambda v: f"{v} ({n.get(v, 0):,})",
                              placeholder="any")

    for name in ("domains", "subtopics", "models", "providers"):
        facet(name, sb)
    for name, title in (("messages", "Messages per conversation"),
                        ("thoughts", "Thoughts per conversation")):
        lo, hi = bounds[name]
        if hi > lo:
            sb.slider(title, lo, hi, key=_widget_key(name))
    presence = state.query("label_presence_counts", current.without("labels_any"))
    pn = dict(zip(presence["value"], presence["n"]))
    sb.multiselect("Has a thought labelled (any of)", list(labels["code"]),
                   key=_widget_key("labels_any"), placeholder="any",
                   format_func=lambda c: f"{display.get(c, c)} ({pn.get(c, 0):,})")
    with sb.expander("Sequence: a thought A, later a thought B",
                     expanded=bool(current.seq_first)):
        codes = [""] + list(labels["code"])
        st.selectbox("First (A)", codes, key=_widget_key("seq_first"),
                     format_func=lambda c: display.get(c, "—"))
        st.selectbox("Later in the same conversation (B)", codes,
                     key=_widget_key("seq_then"), format_func=lambda c: display.get(c, "—"))
        if current.seq_first and current.seq_then:
            st.caption(f"{state.query('count_conversations', current):,} conversations "
                       "have A, then B later (any distance).")
    with sb.expander("Participants", expanded=any(getattr(current, n) for n in DEMOGRAPHIC)):
        for name in DEMOGRAPHIC:
            facet(name, st)
    filters = _from_widgets(bounds)
    st.session_state["filters"] = filters
    write_url(filters)
    share.render()
    return filters


def current_filters() -> Filters:
    return st.session_state.get("filters", Filters())


def display_names() -> dict[str, str]:
    labels = state.query("labels")
    return dict(zip(labels["code"], labels["display_name"]))

