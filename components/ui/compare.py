"""Compare subset A (the sidebar's filters) with subset B (streamlit glue over
`components.queries.compare`).

The sidebar section (`render_sidebar`, drawn under the filters) turns the comparison on
and defines B: "all the other conversations" (the default) or B's own domain, subtopic,
model, provider, participant and label filters. The comparison lives in the URL
(``cmp=rest`` or ``cmp=subset`` with ``b.model=...``), so a link reproduces it; on the
session's first run the URL is the source of truth, as for the filters.

`section` is what a page with distributions calls: with a comparison on, the A-vs-B
figure of one of the page's dimensions (a stage for thoughts and relationships), with
its download menu; without one, a line saying where to turn it on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from components.figures import catalogue
from components.filters import (
    B_FIELDS,
    B_PREFIX,
    COMPARE_KEY,
    FACETS,
    MISSING,
    Comparison,
    Filters,
    comparison_from_query_params,
    domain_subtopics,
    stray_subtopics,
)
from components.queries import compare as qcmp
from components.queries import core
from components.ui import charts, state
from components.ui.share import url_params
from components.vocabulary import count
from precompute.labels import STAGES

_INIT = "_compare_from_url"
ON, KIND = "cmp_on", "cmp_kind"
KINDS = {"rest": "all the other conversations", "subset": "a subset defined here"}
B_TITLES = {"domains": "Domain", "subtopics": "Subtopic", "models": "Model",
            "providers": "Provider", "age_brackets": "Age bracket", "genders": "Gender",
            "educations": "Education", "ai_frequencies": "AI-use frequency (1–5)",
            "labels_any": "Has a thought labelled (any of)"}


def _key(name: str) -> str:
    return f"cmpb_{name}"


def _load(comparison: Comparison | None) -> None:
    ss = st.session_state
    ss[ON] = comparison is not None
    ss[KIND] = "rest" if comparison is None or comparison.rest else "subset"
    b = comparison.b if comparison is not None and comparison.b is not None else Filters()
    for name in B_FIELDS:
        ss[_key(name)] = list(getattr(b, name))


def drop_stray_subtopics(domains_key: str, subtopics_key: str,
                         opts: Mapping[str, Any]) -> list[str]:
    """Subtopics follow the chosen domains, for A's widgets (the sidebar) and for B's:
    drop from the subtopic widget (session key ``subtopics_key``) every chosen subtopic
    that is no (primary) subtopic of a domain chosen in ``domains_key``, before anything
    is counted (else a run's counts would combine the new domains with an old subtopic).
    Returns the dropped ones."""
    ss = st.session_state
    chosen = ss.get(subtopics_key) or []
    stray = stray_subtopics(ss.get(domains_key) or [], chosen, opts)
    if stray:
        ss[subtopics_key] = [s for s in chosen if s not in stray]
    return stray


def _drop_stray_subtopics(opts: Mapping[str, Any]) -> list[str]:
    return drop_stray_subtopics(_key("domains"), _key("subtopics"), opts)


def current() -> Comparison | None:
    """The comparison of this run (None when off); set by `render_sidebar`."""
    return st.session_state.get("comparison")


def _from_widgets() -> Comparison | None:
    ss = st.session_state
    if not ss.get(ON):
        return None
    if ss.get(KIND) != "subset":
        return Comparison()
    return Comparison(Filters(**{name: tuple(ss.get(_key(name)) or ()) for name in B_FIELDS}))


def write_url(comparison: Comparison | None) -> None:
    """Mirror the comparison into the URL (``cmp``, ``b.*``), leaving the rest alone."""
    wanted = {} if comparison is None else comparison.to_query_params()
    for key in list(st.query_params.keys()):
        if (key == COMPARE_KEY or key.startswith(B_PREFIX)) and key not in wanted:
            del st.query_params[key]
    for key, value in wanted.items():
        target = value if isinstance(value, list) else [value]
        if st.query_params.get_all(key) != target:
            st.query_params[key] = value


def render_sidebar(a: Filters, opts: Mapping[str, Any], display: Mapping[str, str],
                   light: bool = False) -> Comparison | None:
    """The sidebar's "Compare with subset B" section; returns the comparison (or None).
    ``light``: the comparison of the URL, nothing drawn (see `components.ui.first_paint`)."""
    ss = st.session_state
    if _INIT not in ss:
        comparison, notices = comparison_from_query_params(url_params(), opts)
        _load(comparison)
        notices += [f"ignored B subtopic {v[:60]!r} (not a subtopic of B's domains)"
                    for v in _drop_stray_subtopics(opts)]
        ss[_INIT] = True
        ss["_cmp_notices"] = notices
    if light:
        ss["comparison"] = _from_widgets()
        return ss["comparison"]
    sb = st.sidebar
    with sb.expander("Compare with a subset B", expanded=bool(ss.get(ON)),
                     icon=":material/compare_arrows:"):
        for notice in ss.get("_cmp_notices", []):
            st.caption(f":material/info: Link: {notice}")
        st.toggle("Compare A (the filters above) with B", key=ON,
                  help="Pages with distributions then draw A against B: shares side by "
                       "side and their differences, with intervals over users, a "
                       "permutation test over users and Cramér's V.")
        if ss.get(ON):
            st.radio("B is", list(KINDS), key=KIND, format_func=KINDS.get)
            if ss.get(KIND) == "subset":
                _b_widgets(opts, display)
            comparison = _from_widgets()
            ov = state.query(qcmp.overlap, a, comparison)
            st.caption(f"A: {count(ov['conversations_a'], 'conversation')} "
                       f"({count(ov['users_a'], 'user')}) · B: "
                       f"{count(ov['conversations_b'], 'conversation')} "
                       f"({count(ov['users_b'], 'user')})"
                       + (f" · **{ov['conversations_both']:,} in both**: make B leave A's "
                          "conversations out" if ov["conversations_both"] else "")
                       + (f" · {ov['users_both']:,} users have conversations in both"
                          if ov["users_both"] and not ov["conversations_both"] else ""))
    comparison = _from_widgets()
    ss["comparison"] = comparison
    write_url(comparison)
    return comparison


def _b_widgets(opts: Mapping[str, Any], display: Mapping[str, str]) -> None:
    """B's multiselects, each option with the number of conversations it would leave."""
    ss = st.session_state
    _drop_stray_subtopics(opts)
    b = _from_widgets().b or Filters()
    facet_n = state.query(core.sidebar_facet_counts, b, tuple(FACETS))
    for name in FACETS:
        options = list(opts.get(name, ()))
        if name == "subtopics" and b.domains:
            options = domain_subtopics(b.domains, opts)
        counts = dict(facet_n[name].iter_rows())
        if MISSING in counts:
            options.append(MISSING)
        key = _key(name)
        ss[key] = [v for v in ss.get(key) or [] if v in options]
        if options:
            st.multiselect(f"B: {B_TITLES[name]}", options, key=key, placeholder="any",
                           format_func=lambda v, n=counts: f"{v} ({n.get(v, 0):,})")
    presence = dict(state.query(core.label_presence_counts,
                                b.without("labels_any")).iter_rows())
    st.multiselect(f"B: {B_TITLES['labels_any']}", list(display), key=_key("labels_any"),
                   placeholder="any",
                   format_func=lambda c: f"{display.get(c, c)} ({presence.get(c, 0):,})")


def _turn_on() -> None:
    st.session_state[ON] = True
    st.session_state[KIND] = "rest"


def _offer(key: str) -> None:
    st.caption(":material/compare_arrows: Compare this subset (A) with another (B) — "
               "side by side, differences with intervals over users, a permutation "
               "test over users: **Compare with a subset B** in the sidebar.")
    st.button("Compare A with all the other conversations", key=f"{key}_cmp_on",
              on_click=_turn_on, icon=":material/compare_arrows:")


def shifts_section(filters: Filters, key: str, heading: str = "A against B") -> None:
    """The Semantic shifts page's comparison: the median shift per pair type of A and of
    B, or how to turn the comparison on."""
    comparison = current()
    if comparison is None:
        _offer(key)
        return
    st.subheader(heading)
    charts.show(catalogue.COMPARE_SHIFTS, filters, name="compare-shifts",
                key=f"{key}-compare", comparison=comparison)
    st.caption("Per pair type, the median distance on the map between a text and its "
               "source in A and in B, whiskers the 95% interval from resampling users; "
               "right: the difference of the medians with its interval and the p-value of "
               "a permutation test over users (a user with conversations on both sides "
               "swaps their two parts).")


def section(filters: Filters, dimensions: Sequence[str], key: str,
            heading: str = "A against B") -> None:
    """A page's comparison: the A-vs-B figure of one of ``dimensions`` (a picker when more
    than one; a stage picker where one applies), or how to turn the comparison on."""
    comparison = current()
    if comparison is None:
        _offer(key)
        return
    st.subheader(heading)
    c1, c2 = st.columns([2, 1])
    dimension = dimensions[0]
    if len(dimensions) > 1:
        dimension = c1.selectbox("Distribution", list(dimensions), key=f"{key}_dim",
                                 format_func=lambda d: qcmp.DIMENSIONS[d][0])
    stage = None
    if qcmp.DIMENSIONS[dimension][2]:
        stage = c2.selectbox("Stage", [None, *STAGES], key=f"{key}_stage",
                             format_func=lambda s: "all stages" if s is None else s) or None
    charts.show(catalogue.COMPARE, filters, name=f"compare-{dimension}",
                key=f"{key}-compare", comparison=comparison, dimension=dimension, stage=stage)
    st.caption("Left: each category's share of the subset's "
               f"{qcmp.DIMENSIONS[dimension][1]} in A and in B, whiskers the 95% interval "
               "from resampling users (all of a user's items move together); right: the "
               "difference A − B in percentage points with its interval. The test permutes "
               "users between A and B (a user with conversations on both sides swaps their "
               "two parts); Cramér's V is the effect size of the A-vs-B table (0 = the "
               "same distribution).")
