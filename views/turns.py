"""Turn by turn: how the filtered conversations unfold from one user turn to the next —
how each user message relates to the previous one (the paper's Fig. 4: first request,
deepen, new request, retry, variant), as a flow Start -> turn 2 -> turn 3 -> horizon
beside the published shares, and the reasons behind each kind of turn."""

import streamlit as st

from components.figures import catalogue
from components.queries import relationships
from components.ui import charts, notices, sidebar, state
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
    "precompute relationships`), then reload this page.")
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
st.caption(CREDIT)
