"""The global filter sidebar (streamlit): widgets <-> `Filters` <-> URL query parameters.

On a session's first run the URL is the source of truth (a shared link reproduces the
view); afterwards the widgets are, and every run writes the filters back into the URL.
Invalid or stale URL values are dropped with a small notice. Every option shows how many
conversations it would leave, given the other filters.
"""

from __future__ import annotations

import re
from dataclasses import replace

import streamlit as st

from components.filters import (
    FACETS,
    FILTER_KEYS,
    LABEL_GROUPS,
    MISSING,
    RANGES,
    Filters,
    domain_subtopics,
    from_query_params,
    seq_name,
)
from components.queries import core
from components.ui import compare, state
from components.ui.share import url_params
from components.vocabulary import count

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
    ss[_widget_key("users")] = ", ".join(filters.users)
    ss[_widget_key("certain_topics")] = filters.certain_topics


def _range_value(name: str, bounds: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """The (lo, hi) of a range slider from session state, re-seeded with the full range
    when it is not a pair and clamped to the bounds: Streamlit drops a widget's state when
    a run does not draw it (a rebuilt DB whose conversations all have one length has no
    slider), and a redrawn slider would start from a single value."""
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


def _from_widgets(bounds: dict[str, tuple[int, int]], known_users: frozenset[str]) -> Filters:
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
    kwargs["users"] = tuple(u for u in _user_ids(ss.get(_widget_key("users"))) if u in known_users)
    kwargs["certain_topics"] = bool(ss.get(_widget_key("certain_topics")))
    return Filters(**kwargs)


def _user_ids(text: object) -> list[str]:
    """User ids typed into the sidebar: separated by commas or spaces, each kept once."""
    return list(dict.fromkeys(t for t in re.split(r"[\s,;]+", str(text or "")) if t))


def _drop_stray_subtopics(opts: dict) -> list[str]:
    return compare.drop_stray_subtopics(_widget_key("domains"), _widget_key("subtopics"), opts)


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


def render(light: bool = False) -> Filters:
    """Draw the sidebar filters and return the current `Filters` (also in session state);
    ``light`` (a new tab's first run, `components.ui.first_paint`): the filters of the
    URL without drawing a widget."""
    opts = state.query(core.facet_options)
    bounds = state.query(core.range_bounds)
    display = state.display_names()
    if _INIT not in st.session_state:
        filters, notices = from_query_params(url_params(), opts)
        for name, (key, _) in RANGES.items():
            lo_b, hi_b = bounds[name]
            lo, hi = getattr(filters, f"{name}_min"), getattr(filters, f"{name}_max")
            if (lo is not None and not lo_b <= lo <= hi_b) or \
                    (hi is not None and not lo_b <= hi <= hi_b):
                notices.append(f"{key} range clamped to the data's {lo_b}–{hi_b}")
        _load_into_widgets(filters, bounds)
        notices += [f"ignored subtopic {s[:60]!r} (not a subtopic of the chosen domains)"
                    for s in _drop_stray_subtopics(opts)]
        st.session_state[_INIT] = True
        st.session_state["_url_notices"] = notices
    else:
        _drop_stray_subtopics(opts)
    known_users = frozenset(opts.get("users", ()))
    current = _from_widgets(bounds, known_users)
    if light:
        st.session_state["filters"] = current
        compare.render_sidebar(current, opts, display, light=True)
        return current

    sb = st.sidebar
    sb.header("Filters")
    for notice in st.session_state.get("_url_notices", []):
        sb.caption(f":material/info: Link: {notice}")
    n_all = state.query(core.count_conversations, current)
    sb.markdown(f"**{n_all:,}** {'conversation matches' if n_all == 1 else 'conversations match'}")
    sb.button("Reset filters", on_click=_reset, args=(bounds,), width="stretch",
              disabled=current.is_empty, icon=":material/restart_alt:")

    facet_n = state.query(core.sidebar_facet_counts, current, tuple(FACETS))

    def facet(name: str, container) -> None:
        n = dict(facet_n[name].iter_rows())
        options = list(opts[name])
        if name == "subtopics" and current.domains:
            options = domain_subtopics(current.domains, opts)
        if MISSING in n or MISSING in (st.session_state.get(_widget_key(name)) or []):
            options.append(MISSING)
        key = _widget_key(name)
        st.session_state[key] = [v for v in st.session_state.get(key) or [] if v in options]
        if not options:
            return
        container.multiselect(FACET_TITLES[name], options, key=key,
                              format_func=lambda v: f"{v} ({n.get(v, 0):,})",
                              placeholder="any")

    for name in ("domains", "subtopics"):
        facet(name, sb)
    if opts.get("domains"):
        n_certain = state.query(core.count_conversations, replace(current, certain_topics=True))
        sb.checkbox(f"Only confident topics ({n_certain:,})", key=_widget_key("certain_topics"),
                    help="Leave out conversations whose primary domain is uncertain: its "
                         "score is within the margin of the runner-up (see Topics).")
    for name in ("models", "providers"):
        facet(name, sb)
    for name, title in (("messages", "Messages per conversation"),
                        ("thoughts", "Thoughts per conversation")):
        lo, hi = bounds[name]
        if hi > lo:
            sb.slider(title, lo, hi, key=_widget_key(name))
    presence = state.query(core.label_presence_counts, current.without("labels_any"))
    pn = dict(presence.iter_rows())
    sb.multiselect("Has a thought labelled (any of)", list(display),
                   key=_widget_key("labels_any"), placeholder="any",
                   format_func=lambda c: f"{display.get(c, c)} ({pn.get(c, 0):,})")
    with sb.expander("Sequence: a thought A, later a thought B",
                     expanded=bool(current.seq_first)):
        ss = st.session_state
        first_now = ss.get(_widget_key("seq_first")) or None
        then_now = ss.get(_widget_key("seq_then")) or None
        seq_n = state.query(core.sequence_counts, current.without("sequence"), first_now,
                            then_now)
        codes = ["", *LABEL_GROUPS, *display]

        def seq_label(side: str):
            def fmt(c: str) -> str:
                if not c:
                    return "—"
                return f"{seq_name(c, display)} ({seq_n[side].get(c, 0):,})"
            return fmt
        st.selectbox("First (A)", codes, key=_widget_key("seq_first"),
                     format_func=seq_label("first"),
                     help="A label, or a group: any dissatisfaction (content relevance, "
                          "presentation style, scope fit), any reason, any reaction.")
        st.selectbox("Later in the same conversation (B)", codes,
                     key=_widget_key("seq_then"), format_func=seq_label("then"))
        if current.seq_first and current.seq_then:
            n_seq = state.query(core.count_conversations, current)
            st.caption(f"{count(n_seq, 'conversation')} {'has' if n_seq == 1 else 'have'} "
                       "A, then B later (any distance). The transcript marks the pair and "
                       "opens at it.")
    with sb.expander("Participants", expanded=any(getattr(current, n) for n in DEMOGRAPHIC)
                     or bool(current.users)):
        for name in DEMOGRAPHIC:
            facet(name, st)
        st.text_input("User id(s)", key=_widget_key("users"), placeholder="e.g. user804",
                      help="Only these participants' conversations (ids as in the data, "
                           "separated by commas). The Participants page's “One participant” "
                           "tab shows one user's profile, and its button sets this field.")
        unknown = [u for u in _user_ids(st.session_state.get(_widget_key("users")))
                   if u not in known_users]
        if unknown:
            st.caption(":material/info: not in this database: "
                       + ", ".join(u[:40] for u in unknown[:5]))
    filters = _from_widgets(bounds, known_users)
    st.session_state["filters"] = filters
    write_url(filters)
    compare.render_sidebar(filters, opts, display)
    return filters


def current_filters() -> Filters:
    return st.session_state.get("filters", Filters())

