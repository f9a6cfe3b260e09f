"""Topics: what the filtered conversations are about — domain -> subtopic counts (primary
topic, or every assigned subtopic), the emergent HDBSCAN clusters of tasks, reasons and
reactions with their keywords, where the task clusters and the taxonomy's domains
disagree, and how thought types differ by domain."""

import streamlit as st

from components import charts, notices, sidebar, state
from components import topicviews as tv

filters = sidebar.current_filters()

st.title("Topics")
st.caption("Domains and subtopics come from our taxonomy (the paper's 7 domains, our 36 "
           "subtopics) matched zero-shot to each conversation's task; clusters emerge from "
           "the data itself. Comparing the two shows where the taxonomy fits and where not.")

avail = state.query("topicviews.availability")
notices.require_stage(
    avail["topics"],
    "This database was built without the topics stage, so conversations have no domain or "
    "subtopic yet. Run `python -m precompute build` (it embeds the texts, assigns topics "
    "and clusters them), then reload this page.")
totals = notices.subset_totals(filters)
# ---------------------------------------------------------------------------- hierarchy
st.subheader("Domains and subtopics")
c1, c2 = st.columns([3, 1])
mode = c1.radio("Count", list(tv.COUNT_MODES), key="tp_mode", horizontal=True,
                format_func=lambda k: tv.COUNT_MODES[k])
shape = c2.radio("Chart", ["sunburst", "treemap"], key="tp_shape", horizontal=True)
view = state.query("topicviews.hierarchy_view", filters, mode)
frame, total = view["frame"], view["total"]
unit = "conversations" if mode == "primary" else "topic assignments"
title = ("Primary topic per conversation" if mode == "primary" else
         "Every assigned subtopic (multi-label)")
charts.show(state.build("map_figures.topic_hierarchy",
                        state.Q("topicviews.hierarchy_view", filters, mode, part="frame"),
                        kind=shape, title=title, unit=unit),
            name=f"topics-{mode}-{shape}", n=f"n = {total:,} {unit}")
if mode == "primary":
    st.caption(f"Shown: the **primary** topic — each of the {totals['conversations']:,} "
               "conversations counts once, in its best-matching subtopic. Click a domain to "
               "zoom in.")
else:
    st.caption(f"Shown: **multi-label** counts — every subtopic assigned to a conversation "
               f"(`topic_scores.is_assigned`: the best match and any within the margin), "
               f"{total:,} assignments for {totals['conversations']:,} conversations; a "
               "conversation can count in several subtopics and domains. Published domain "
               "shares (multi-label, full release): Culture & Lifestyle 37.1% · Education & "
               "Knowledge 19.1% · Business & Society 14.8% · Health & Relationships 14.5% · "
               "Technology 6.6% · Arts & Entertainment 4.9% · Other Topics 3.1%.")

# ---------------------------------------------------------------------------- clusters
st.subheader("Emergent clusters")
if not avail["clusters"]:
    st.info("This database was built without the clusters stage. Run "
            "`python -m precompute build` to add HDBSCAN clusters.", icon=":material/build:")
else:
    space = st.radio("Space", list(tv.SPACES), key="tp_space", horizontal=True,
                     format_func=lambda k: tv.SPACES[k])
    clusters = state.query("topicviews.cluster_summary", filters, space)
    n_items = int(clusters["n"].sum())
    n_real = int((~clusters["is_noise"] & (clusters["n"] > 0)).sum())
    charts.show(state.build("map_figures.cluster_bars",
                            state.Q("topicviews.cluster_summary", filters, space), space,
                            title=f"{tv.SPACES[space]}: {n_real} clusters in the selection"),
                name=f"clusters-{space}", n=f"n = {n_items:,} items")
    st.caption("HDBSCAN on a 5-D UMAP of the embeddings (fitted by the build); names are "
               "each cluster's top c-TF-IDF words. Noise — items no cluster claims — is its "
               "own grey bar.")
    with st.expander(f"All {len(clusters):,} clusters of this space with keywords"):
        st.dataframe(clusters.drop(columns=["is_noise"]).rename(columns={
            "size": "size (all data)", "n": "in the selection"}), hide_index=True,
            width="stretch")

    st.markdown("**Task clusters × domains** — conversations per task cluster and primary "
                "domain. A low *top share* means the cluster cuts across domains: the data "
                "groups those tasks together, the taxonomy does not.")
    table = state.query("topicviews.cluster_domain_view", filters)
    if table.empty:
        st.info("No task clusters for the current filters.")
    else:
        st.dataframe(table, hide_index=True, width="stretch", column_config={
            "cluster": st.column_config.TextColumn(width="medium"),
            "top share": st.column_config.ProgressColumn(format="percent", min_value=0,
                                                         max_value=1)})

# ---------------------------------------------------------------------------- thought types
st.subheader("Thought types by domain")
matrices = state.query("topicviews.label_matrices", filters)
for kind, title in (("reason", "Reasons by domain"), ("reaction", "Reactions by domain")):
    mat = matrices[kind]
    n_kind = int(mat["row_total"].sum()) if len(mat["row_total"]) else 0
    charts.show(state.build("map_figures.label_matrix_heatmap",
                            state.Q("topicviews.label_matrices", filters, part=kind),
                            title=title, unit=f"{kind}s",
                            colorscale="Blues" if kind == "reason" else "Oranges"),
                name=f"domain-{kind}-shares", n=f"n = {n_kind:,} {kind}s")
st.caption("Each row is a primary domain (its number of thoughts in brackets); cells are "
           "shares within the row, so each row sums to 100%. Hover for counts.")
