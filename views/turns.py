"""Turn by turn: how the filtered conversations unfold from one user turn to the next —
how each user message relates to the previous one (the paper's Fig. 4: first request,
deepen, new request, retry, variant), as a flow Start -> turn 2 -> turn 3 -> horizon
beside the published shares, and the reasons behind each kind of turn; what users do
after a dissatisfaction reaction and whether their next message voices it (beside the
paper's ~2.2x); and how long replies and thoughts take."""

import streamlit as st

from components import stats
from components.figures import catalogue
from components.queries import next_steps, relationships
from components.ui import charts, compare, notices, sidebar, state, tables
from components.vocabulary import CREDIT

filters = sidebar.current_filters()

st.title("Turn by turn")
st.caption("How a conversation unfolds: what each user message does relative to the "
           "previous one, and what users do after a reaction.")
avail = state.query(relationships.availability)
notices.require_stage(
    avail["relationships"],
    "This database has no relationship for its user turns (it was built before the "
    "relationships stage, or without it). Run `python -m precompute build` (or `python -m "
    "precompute relationships`): this page fills in by itself when it is done.")
notices.subset_totals(filters, "so there are no turns to follow")

st.subheader("How each user turn relates to the previous one")
source = ("imported from a label file (`--relationship-labels`)" if avail["labels"]
          and not avail["approx"] else "our offline approximation from the stored "
          "embeddings and the thought labels (README, *Relationships*), not the paper's LLM "
          "labels: compare shapes, and import labels for exact numbers")
st.caption(f"Relationships here are {source}. *Deepen*: the same task, taken further; "
           "*new request*: another task; *retry*: the same request again; *variant*: the "
           "same request changed. Shares are of the conversations that started (the flow) "
           "or of all user turns (the bars); the paper's values are beside each.")
charts.show(catalogue.RELATIONSHIP_FLOW, filters)
charts.show(catalogue.RELATIONSHIP_SHARES, filters)
charts.show(catalogue.RELATIONSHIP_BY_REASON, filters)
st.caption("Each row is a kind of user turn (its number of reasons in brackets); cells are "
           "the share of its reasons with each label, so each row sums to 100%. A turn with "
           "no reason counts under “(no reason given)”.")

# ---------------------------------------------------------------------------- A vs B
compare.section(filters, ("relationship",), key="tn")

# ---------------------------------------------------------------------------- next steps
st.subheader("After a dissatisfaction: what users do next")
st.caption("Every reaction labelled *content relevance*, *presentation style* or *scope "
           "fit*, followed to the next user message: its first reason (or none), and how "
           "that message relates to the previous one. A conversation may end right there.")
charts.show(catalogue.NEXT_STEPS_FLOW, filters)

st.markdown("##### Does the next message voice it?")
threshold = state.query(next_steps.voicing_threshold)
tau = (f"τ = {threshold['tau']:.2f}" if threshold["tau"] is not None else
       "no τ (too few pairs in this database, so nothing counts as similar)")
st.caption("A dissatisfaction is *voiced* when the next user message is **similar** to the "
           "reaction (the cosine of their stored embeddings is at least τ) or carries a "
           "**content or style expectation** reason. τ is the 95th percentile of the cosine "
           "between each dissatisfaction reaction and the *other* user messages of its "
           "conversation, over the whole database: a next message counts as similar when it "
           "is closer to the reaction than 95% of the messages that do not answer it, so "
           f"sharing the conversation's topic is not enough ({tau}). The paper guided 1,000 "
           "preference pairs by these thoughts; guided by the messages, the same turns "
           "surfaced 450, ~2.2× fewer.")
charts.show(catalogue.VOICING_THRESHOLD, filters)
v1, v2, v3 = st.columns([3, 2, 2])
measure = v1.radio("Voiced means", list(next_steps.MEASURES), key="ns_measure",
                   format_func=lambda k: next_steps.MEASURES[k].title)
by = v2.radio("Split by", list(next_steps.GROUPINGS), key="ns_by", horizontal=False,
              index=list(next_steps.GROUPINGS).index("stage"),
              format_func=lambda k: next_steps.GROUPINGS[k].title)
include_ends = v3.toggle("Ends count as unvoiced", value=True, key="ns_ends",
                         help="On: a dissatisfaction the conversation ends on counts as "
                              "unvoiced (no message says it). Off: reactions with no next "
                              "user message are left out of the shares and ratios.")
charts.show(catalogue.UNVOICED, filters, name=f"unvoiced-dissatisfaction-by-{by}",
            key="ns_unvoiced", by=by, measure=measure, include_ends=include_ends)
charts.show(catalogue.VOICING_RATIO, filters, key="ns_ratio", include_ends=include_ends)
st.caption(f"{stats.METHOD}: a resample draws users with replacement and keeps all their "
           "reactions. The ratio is dissatisfaction in thoughts ÷ dissatisfaction voiced in "
           "the next message; its interval is the reciprocal of the voiced share's (∞ when "
           "that interval reaches 0).")

st.markdown("##### The reactions behind the figures")
e1, e2 = st.columns(2)
ex_label = e1.selectbox("Dissatisfaction", [next_steps.ANY, *next_steps.DISSATISFACTIONS],
                        key="ns_ex_label",
                        format_func=lambda c: "any" if c == next_steps.ANY
                        else state.display_names().get(c, c))
ex_status = e2.selectbox("Voiced?", [next_steps.ANY, *next_steps.STATUSES], key="ns_ex_status",
                         format_func=lambda s: {"any": "any", "voiced": "voiced",
                                                "unvoiced": "not voiced",
                                                "ended": "conversation ended"}[s])
EXAMPLES = 200
found = state.query(next_steps.examples, filters, measure, ex_label, ex_status, EXAMPLES, 0)
st.markdown(f"**{found['total']:,}** dissatisfaction reactions"
            + (f" (the first {EXAMPLES})" if found["total"] > EXAMPLES else ""))
if found["total"]:
    tables.dataframe(next_steps.example_table(found["rows"], state.display_names(),
                                             sidebar.url_params(), measure),
                    hide_index=True, width="stretch",
                    column_config={"open": st.column_config.LinkColumn(
                                       "open", display_text="open ↗", width="small"),
                                   "thought": st.column_config.TextColumn(width="large"),
                                   "next message": st.column_config.TextColumn(width="large")},
                    height=min(38 + 35 * found["rows"].height, 420))

# ---------------------------------------------------------------------------- timing
st.subheader("Timing")
timing = st.radio("Gap", list(next_steps.TIMINGS), horizontal=True, key="ns_timing",
                  format_func=lambda k: next_steps.TIMINGS[k].title)
info = next_steps.TIMINGS[timing]
st.caption(f"Seconds between the two timestamps, by {info.group_title}, by stage and by when "
           "the thought was written. Medians and IQRs, because gaps are skewed; the median's "
           f"95% interval resamples users. Left out and counted: a missing timestamp; a "
           "negative gap (the later event has the earlier clock: a clock problem); a gap over "
           f"{info.cap_text} (the user left and came back). "
           "Many users wrote their thoughts after the chat: their message → thought gaps are "
           "minutes, not seconds, hence the last panel.")
charts.show(catalogue.TIMING, filters, name=f"timing-{timing}", key="ns_timing_chart",
            measure=timing)
st.caption(CREDIT)
