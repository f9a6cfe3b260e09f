"""Overview: what the data really holds, for the current filters — totals, the per-model
table, conversation lengths, reason and reaction counts, and where the data came from."""

import streamlit as st

from components.figures import catalogue
from components.queries import core, overview
from components.ui import charts, compare, first_paint, notices, sidebar, state, tables
from components.vocabulary import CREDIT

filters = sidebar.current_filters()

st.title("ThoughtTrace Explorer")
st.caption("Multi-turn human–LLM conversations in which users annotated what they thought: "
           "a reason on each user message, a reaction on each assistant message.")

totals = notices.subset_totals(filters)
cols = st.columns(5)
for col, (key, label) in zip(cols, [("users", "Users"), ("conversations", "Conversations"),
                                    ("messages", "Messages"), ("thoughts", "Thoughts"),
                                    ("models", "Models")]):
    col.metric(label, f"{totals[key]:,}")
charts.download(catalogue.OVERVIEW_NUMBERS, filters, label="Download these numbers")

st.subheader("Per model")
per_model = st.container()  # a new tab draws the first chart first, the table after it
if not first_paint.is_light():
    with per_model:
        table = overview.per_model_table(state.query(overview.per_model, filters), totals)
        tables.dataframe(table, hide_index=True, width="stretch", height="content",
                        column_config={c: st.column_config.NumberColumn(format="localized")
                                       for c in ("users", "conversations", "messages",
                                                 "thoughts")})
        st.caption("Users are counted per model; a user who talked to two models counts in "
                   "both rows, once in *All models*.")
        charts.download(catalogue.PER_MODEL, filters, label="Download the table")
charts.show(catalogue.LENGTH, filters)  # full width: its legend and subtitle fit

for col, kind in zip(st.columns(2), ("reason", "reaction")):
    with col:
        charts.show(catalogue.LABEL_COUNTS, filters, name=f"{kind}-counts", kind=kind)

compare.section(filters, ("length", "reason", "reaction", "domain"), key="ov")

st.subheader("Where the data came from")
prov = state.query(core.provenance)
st.markdown(overview.provenance_markdown(prov))
if prov.get("fallback_reason"):
    st.warning(f"Fell back to the demo corpus: {prov['fallback_reason']}")
problems = state.query(overview.ingest_problems)
with st.expander(f"Validation findings ({problems.height:,})", expanded=False):
    if problems.is_empty():
        st.write("Every record passed validation.")
    else:
        tables.dataframe(problems, hide_index=True, width="stretch")
        rejected = state.query(overview.rejected_records)
        if not rejected.is_empty():
            st.markdown("**Skipped records** (kept verbatim in table `rejected_records`):")
            tables.dataframe(rejected, hide_index=True, width="stretch")
with st.expander("Build stages", expanded=False):
    tables.dataframe(state.query(overview.stage_runs), hide_index=True, width="stretch")
st.caption(CREDIT)
