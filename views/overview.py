"""Overview: what the data really holds, for the current filters — totals, the per-model
table, conversation lengths, reason and reaction counts, and where the data came from."""

import pandas as pd
import streamlit as st

from components import charts, notices, sidebar, state

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

left, right = st.columns([3, 2])
with left:
    st.subheader("Per model")
    per_model = state.query("per_model", filters)
    total_row = pd.DataFrame([{"model": "All models", "provider": "",
                               "users": totals["users"], "conversations": totals["conversations"],
                               "messages": totals["messages"], "thoughts": totals["thoughts"]}])
    table = pd.concat([per_model, total_row], ignore_index=True)
    st.dataframe(table, hide_index=True, width="stretch", height=min(36 * (len(table) + 1) + 4, 760),
                 column_config={c: st.column_config.NumberColumn(format="localized")
                                for c in ("users", "conversations", "messages", "thoughts")})
    st.caption("Users are counted per model; a user who talked to two models counts in both "
               "rows, once in *All models*.")
n_conv = f"n = {totals['conversations']:,} conversations"
with right:
    charts.show(state.build("figures.length_histogram", state.Q("length_counts", filters),
                            totals["median_messages"]),
                name="length-distribution", n=n_conv)

for col, kind in zip(st.columns(2), ("reason", "reaction")):
    with col:
        charts.show(state.build("figures.label_bars", state.Q("label_counts", filters), kind),
                    name=f"{kind}-counts",
                    n=f"n = {totals[kind + 's']:,} {kind}s")

st.subheader("Where the data came from")
prov = state.query("provenance")
src = prov.get("source")
st.markdown(
    f"- **Source:** `{src}` ({prov.get('source_kind')}), file `{prov.get('source_file')}`\n"
    f"- **SHA-256 of the input:** `{prov.get('input_sha256')}`\n"
    f"- **Ingested:** {prov.get('ingested_at')} by ThoughtTrace Explorer "
    f"{prov.get('tool_version')}\n"
    f"- **Lines read:** {prov.get('lines_in'):,} — stored {prov.get('records_stored'):,} "
    f"conversations, skipped {prov.get('records_skipped'):,}, blank "
    f"{prov.get('blank_lines'):,}; {prov.get('n_errors'):,} errors, "
    f"{prov.get('n_warnings'):,} warnings")
if prov.get("fallback_reason"):
    st.warning(f"Fell back to the demo corpus: {prov['fallback_reason']}")
problems = state.query("ingest_problems")
with st.expander(f"Validation findings ({len(problems):,})", expanded=False):
    if problems.empty:
        st.write("Every record passed validation.")
    else:
        st.dataframe(problems, hide_index=True, width="stretch")
        rejected = state.query("rejected_records")
        if not rejected.empty:
            st.markdown("**Skipped records** (kept verbatim in table `rejected_records`):")
            st.dataframe(rejected, hide_index=True, width="stretch")
with st.expander("Build stages", expanded=False):
    st.dataframe(state.query("stage_runs"), hide_index=True, width="stretch")
st.caption("Data: ThoughtTrace (Jin et al., 2026, arXiv 2605.20087), "
           "huggingface.co/datasets/SCAI-JHU/ThoughtTrace, CC-BY-4.0.")
