"""Participants: who took part, from the survey answers of the filtered conversations — age
bracket, gender, education, occupation, AI-use frequency and purposes (keyword groups) —
counted per conversation and per user, with missing and invalid answers as their own bars."""

import streamlit as st

from components.figures import catalogue
from components.queries import participants
from components.ui import charts, notices, sidebar, state
from components.vocabulary import CREDIT

filters = sidebar.current_filters()

st.title("Participants")
st.caption("Survey answers of the people behind the selected conversations, in the paper's "
           "groupings (Fig. 2) and counted by **users**, as the paper does; our finer "
           "groupings and conversation counts are one toggle away. Answers are stored with "
           "each conversation, so a user whose answers differ between conversations counts "
           "under each. Missing answers are a bar of their own, never dropped.")
totals = notices.subset_totals(filters, "so there are no participants to describe")

c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
count = c1.radio("Count", ["users", "both", "conversations"], horizontal=True, key="pp_count",
                 format_func={"both": "both", "conversations": "conversations",
                              "users": "users"}.get,
                 help="The paper counts users; answers are stored per conversation.")
finer = c2.toggle("Our finer groupings", value=False, key="pp_finer",
                  help="Off: the paper's groupings (Fig. 2). On: the normalised answers and "
                       "our 8 purpose groups, with the top N occupations.")
grouping = "detailed" if finer else "paper"
top_n = c3.slider("Occupations shown (top N)", 5, 40, 15, key="pp_top_n", disabled=not finer)
show = ("conversations", "users") if count == "both" else (count,)
results = state.query(participants.participant_counts_all, filters, int(top_n), grouping)
any_result = results["age"]
c4.metric("Users · conversations", f"{any_result['users']:,} · {any_result['conversations']:,}",
          help="Conversations without any survey answers: "
               f"{any_result['no_survey']:,} (counted as (missing) everywhere).")


# one per row: full-width titles stay readable (and match the exported figure)
for field in ("age", "gender", "education", "ai_frequency", "occupation", "purposes"):
    charts.show(catalogue.PARTICIPANTS, filters, name=f"participants-{field.replace('_', '-')}",
                key=f"pp_{field}", field=field, top_n=int(top_n), show=show,
                grouping=grouping)
with st.expander("Purpose keyword groups"):
    st.caption("An answer is in a group when one of its words starts with a keyword (a "
               "keyword ending in “.” must be the whole word). Answers matching no keyword "
               "are “(no group matched)”.")
    st.dataframe(participants.keyword_groups_table(grouping), hide_index=True,
                 width="stretch")
st.caption(CREDIT)
