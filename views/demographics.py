"""Participants: who took part, from the survey answers of the filtered conversations — age
bracket, gender, education, occupation, AI-use frequency and purposes (keyword groups) —
counted per conversation and per user, with missing and invalid answers as their own bars."""

import streamlit as st

from components import analysis, charts, notices, sidebar, state
from components import analysis_figures as af

filters = sidebar.current_filters()

st.title("Participants")
st.caption("Survey answers of the people behind the selected conversations. Each chart counts "
           "**conversations** and distinct **users** per answer; answers are stored with each "
           "conversation, so a user whose answers differ between conversations counts under "
           "each. Missing answers are a bar of their own, never dropped.")
totals = notices.subset_totals(filters, "so there are no participants to describe")

c1, c2, c3 = st.columns([2, 2, 2])
count = c1.radio("Count", ["both", "conversations", "users"], horizontal=True, key="pp_count",
                 format_func={"both": "conversations and users", "conversations":
                              "conversations", "users": "users"}.get)
top_n = c2.slider("Occupations shown (top N)", 5, 40, 15, key="pp_top_n")
show = ("conversations", "users") if count == "both" else (count,)
results = state.query("analysis.participant_counts_all", filters, int(top_n))
any_result = results["age"]
c3.metric("Users · conversations", f"{any_result['users']:,} · {any_result['conversations']:,}",
          help="Conversations without any survey answers: "
               f"{any_result['no_survey']:,} (counted as (missing) everywhere).")


def chart(field: str) -> None:
    r = results[field]
    fig = state.build("analysis_figures.participant_bars",
                      state.Q("analysis.participant_counts_all", filters, int(top_n),
                              part=(field, "counts")),
                      analysis.FIELDS[field], r["conversations"], r["users"], show=show,
                      note=af.participant_note(field, r, int(top_n)))
    charts.show(fig, name=f"participants-{field.replace('_', '-')}", key=f"pp_{field}",
                n=f"n = {r['conversations']:,} conversations, {r['users']:,} users")


# one per row: full-width titles stay readable (and match the exported figure)
for field in ("age", "gender", "education", "ai_frequency", "occupation", "purposes"):
    chart(field)
with st.expander("Purpose keyword groups"):
    st.caption("An answer is in a group when one of its words starts with a keyword (a "
               "keyword ending in “.” must be the whole word). Answers matching no keyword "
               "are “(no group matched)”.")
    st.dataframe(analysis.keyword_groups_table(), hide_index=True, width="stretch")
st.caption("Data: ThoughtTrace (Jin et al., 2026, arXiv 2605.20087), CC-BY-4.0.")
