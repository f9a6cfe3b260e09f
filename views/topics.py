"""Topics: what the filtered conversations are about — domain -> subtopic counts (primary
topic, or every assigned subtopic), the emergent HDBSCAN clusters of tasks, reasons and
reactions with their keywords, where the task clusters and the taxonomy's domains
disagree, and how thought types differ by domain."""

import streamlit as st

from components import published
from components.figures import catalogue
from components.queries import core
from components.queries import topics as tv
from components.ui import charts, compare, notices, sidebar, state, tables

filters = sidebar.current_filters()

st.title("Topics")
st.caption("Domains and subtopics come from our taxonomy (the paper's 7 domains, our 36 "
           "subtopics) matched zero-shot to each conversation's task; clusters emerge from "
           "the data itself. Comparing the two shows where the taxonomy fits and where not.")

avail = state.query(tv.availability)
notices.require_stage(
    avail["topics"],
    "This database was built without the topics stage, so conversations have no domain or "
    "subtopic yet. Run `python -m precompute build` (it embeds the texts, assigns topics "
    "and clusters them): this page fills in by itself when the new file is in place.")
totals = notices.subset_totals(filters)
# ---------------------------------------------------------------------------- hierarchy
st.subheader("Domains and subtopics")
c1, c2 = st.columns([3, 1])
mode = c1.radio("Count", list(tv.COUNT_MODES), key="tp_mode", horizontal=True,
                format_func=lambda k: tv.COUNT_MODES[k])
shape = c2.radio("Chart", ["donut", "sunburst", "treemap"], key="tp_shape", horizontal=True,
                 format_func={"donut": "domains (donut)", "sunburst": "subtopics (sunburst)",
                              "treemap": "subtopics (treemap)"}.get)
total = state.query(tv.hierarchy_view, filters, mode)["total"]
charts.show(catalogue.TOPIC_HIERARCHY, filters, name=f"topics-{mode}-{shape}", mode=mode,
            shape=shape)
if mode == "primary":
    st.caption(f"Shown: the **primary** topic — each of the {totals['conversations']:,} "
               "conversations counts once, in its best-matching subtopic. Click a domain to "
               "zoom in.")
else:
    st.caption(f"Shown: **multi-label** counts — every subtopic assigned to a conversation "
               f"(`topic_scores.is_assigned`: the best match and any within the margin), "
               f"{total:,} assignments for {totals['conversations']:,} conversations; a "
               "conversation can count in several subtopics and domains. Published domain "
               f"shares (multi-label, full release): {published.domain_shares_text()}.")

certainty = state.query(tv.topic_certainty, filters)
n_uncertain = int(certainty["uncertain"].sum())
n_assigned = int(certainty["conversations"].sum())
threshold = state.query(core.meta).get("topic_margin_threshold", "?")
st.markdown(f"**Uncertain assignments: {n_uncertain:,} of {n_assigned:,} conversations** — "
            f"their best domain's score beat the runner-up's by less than {threshold}. "
            "Leave them out with *Only confident topics* in "
            "the sidebar; the Conversations list marks them.")
with st.expander("Uncertain assignments per domain"):
    tables.dataframe(certainty, hide_index=True, width="stretch", column_config={
        "share_uncertain": st.column_config.ProgressColumn("share uncertain", format="percent",
                                                              min_value=0, max_value=1)})

# ---------------------------------------------------------------------------- A vs B
compare.section(filters, ("domain", "reason", "reaction"), key="tp")

# ---------------------------------------------------------------------------- clusters
st.subheader("Emergent clusters")
if not avail["clusters"]:
    st.info("This database was built without the clusters stage. Run "
            "`python -m precompute build` to add HDBSCAN clusters.", icon=":material/build:")
else:
    space = st.radio("Space", list(tv.SPACES), key="tp_space", horizontal=True,
                     format_func=lambda k: tv.SPACES[k])
    clusters = state.query(tv.cluster_summary, filters, space)
    charts.show(catalogue.CLUSTERS, filters, name=f"clusters-{space}", space=space)
    st.caption("HDBSCAN (the hdbscan package) on a 5-D UMAP of the embeddings, fitted by the "
               "build; each cluster is named by three key phrases from its texts, chosen to "
               "be close to the cluster's centre and unlike each other. Noise — items no "
               "cluster claims — is its own grey bar. The global map (Semantic shifts) can "
               "show each item's GLOSH outlier score.")
    with st.expander(f"All {clusters.height:,} clusters of this space with keywords"):
        tables.dataframe(clusters.drop("is_noise").rename({
            "size": "size (all data)", "n": "in the selection"}), hide_index=True,
            width="stretch")

    st.markdown("**Task clusters × domains** — conversations per task cluster and primary "
                "domain. A low *top share* means the cluster cuts across domains: the data "
                "groups those tasks together, the taxonomy does not.")
    table = state.query(tv.cluster_domain_view, filters)
    if table.is_empty():
        st.info("No task clusters for the current filters.")
    else:
        tables.dataframe(table, hide_index=True, width="stretch", column_config={
            "cluster": st.column_config.TextColumn(width="medium"),
            "top share": st.column_config.ProgressColumn(format="percent", min_value=0,
                                                            max_value=1)})

# ---------------------------------------------------------------------------- thought types
st.subheader("Thought types by domain")
for kind in ("reason", "reaction"):
    charts.show(catalogue.DOMAIN_LABELS, filters, name=f"domain-{kind}-shares", kind=kind)
st.caption("Each row is a primary domain (its number of thoughts in brackets); cells are "
           "shares within the row, so each row sums to 100%. Hover for counts.")
