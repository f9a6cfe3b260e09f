"""Thought types & stages: for the filtered conversations, how reasons and reactions are
distributed (beside the published full-release shares), how their shares move through the
stages of a conversation (bootstrap 95% intervals, optionally split by a facet), how one
thought leads to the next (Sankey), and the thoughts behind any bar or flow."""

import streamlit as st

from components import stats
from components.figures import catalogue
from components.queries import thoughts
from components.ui import charts, compare, notices, sidebar, state, tables
from components.vocabulary import CREDIT, KIND_TITLES, LABELS_BY_KIND, THOUGHT_KINDS

filters = sidebar.current_filters()
display = state.display_names()
PAGE_SIZE = 200

st.title("Thought types & stages")
st.caption("What users thought while chatting: a **reason** on each user message, a "
           "**reaction** on each assistant message. Every chart covers the conversations "
           "selected in the sidebar; hover for meanings, counts and intervals.")
totals = notices.subset_totals(filters, "so there are no thoughts to analyse")
if totals["thoughts"] == 0:
    st.info(f"The {totals['conversations']:,} matching conversations carry no annotated "
            "thoughts. Loosen the filters in the sidebar.", icon=":material/filter_alt_off:")
    state.end_page()
m = st.columns(3)
m[0].metric("Conversations", f"{totals['conversations']:,}")
m[1].metric("Reasons", f"{totals['reasons']:,}")
m[2].metric("Reactions", f"{totals['reactions']:,}")

# ---------------------------------------------------------------------------- types
st.subheader("Thought types")
vs_paper = st.toggle("Compare with the published shares (Jin et al. 2026, full release)",
                    value=True, key="tt_compare")
for kind in THOUGHT_KINDS:  # one above the other: full-width titles and bar labels
    charts.show(catalogue.LABEL_SHARES, filters, name=f"{kind}-types", key=f"tt_types_{kind}",
                kind=kind, compare=vs_paper)
if vs_paper:
    st.caption("Hatched bars: shares published for all 2,155 conversations (Jin et al., 2026, "
               "arXiv 2605.20087). Solid bars: the selection. Shares are within each kind.")

# ---------------------------------------------------------------------------- A vs B
compare.section(filters, ("reason", "reaction"), key="tt")

# ---------------------------------------------------------------------------- stages
st.subheader("Stage dynamics")
c1, c2, c3 = st.columns([3, 2, 1])
rule = c1.radio("Stage rule", list(thoughts.STAGE_RULES), horizontal=True, key="tt_rule",
                format_func=lambda k: thoughts.STAGE_RULES[k].title)
split = c2.selectbox("Split by", list(thoughts.SPLITS), key="tt_split",
                     format_func=lambda k: thoughts.SPLITS[k].title)
top_n = c3.number_input("Panels (top N)", min_value=1, max_value=12,
                        value=thoughts.DEFAULT_TOP_N, step=1,
                        key="tt_top_n", disabled=(split == "none"),
                        help="With a split, show the N values with most conversations.")
rule_info = thoughts.STAGE_RULES[rule]
st.caption(f"**Stage rule:** {rule_info.explanation} {stats.METHOD}: a resample draws "
           "users with replacement and keeps all their conversations, because each user had "
           "about two conversations with one model. The whisker at each segment's centre spans "
           "its interval.")
top_n = thoughts.panels(split, top_n)
results = {kind: state.query(thoughts.stage_shares, filters, kind, rule, split, top_n)
           for kind in THOUGHT_KINDS}
split_title = None if split == "none" else thoughts.SPLITS[split].title
containers = (st.container(), st.container())  # full width: titles and legends fit
events = {}
for box, kind in zip(containers, THOUGHT_KINDS):
    with box:
        events[kind], _ = charts.show(
            catalogue.STAGE_DYNAMICS, filters,
            name=f"stage-dynamics-{kind}s" + (f"-by-{split}" if split != "none" else ""),
            on_select="rerun", selection_mode="points", key=f"tt_stage_{kind}_{rule}_{split}",
            kind=kind, rule=rule, split=split, top_n=top_n)
facets_df = results["reason"]["facets"]
hidden = thoughts.hidden_facets(facets_df)
if split != "none" and hidden.height:
    names_hidden = hidden["facet"].head(8).to_list()
    st.caption(f"Not shown: {hidden.height:,} more {split_title.lower()} values with "
               f"{int(hidden['conversations'].sum()):,} conversations "
               f"({', '.join(names_hidden)}{', …' if hidden.height > 8 else ''}).")
st.markdown("##### Beside the paper")
st.caption("Each label's share per stage in this selection (line, band = 95% interval) and "
           "in the paper's figure (dashed; full release, 4 relative stages; the paper does "
           "not publish its binning rule, so compare shapes more than exact values).")
for kind in THOUGHT_KINDS:
    charts.show(catalogue.STAGE_VS_PUBLISHED, filters, name=f"stage-vs-published-{kind}s",
                key=f"tt_vs_pub_{kind}", kind=kind)

# Clicked segment -> the selectboxes below (only when the click changes).
for kind in THOUGHT_KINDS:
    seg = thoughts.segment_from_points(events[kind].selection.points)
    if seg and st.session_state.get("tt_last_click") != (kind, *seg, rule, split):
        st.session_state["tt_last_click"] = (kind, *seg, rule, split)
        st.session_state["tt_sel_kind"] = kind
        st.session_state["tt_sel_label"] = seg[0]
        st.session_state["tt_sel_stage"] = seg[1]
        st.session_state["tt_sel_facet"] = seg[2]
        st.session_state["tt_sel_page"] = 1

st.markdown("##### The thoughts behind a bar")
st.caption("Click a bar segment above, or choose it here.")
names = results["reason"]["stage_names"]
shown_facets = thoughts.shown_facets(facets_df)
s1, s2, s3, s4 = st.columns(4)
sel_kind = s1.selectbox("Kind", THOUGHT_KINDS, key="tt_sel_kind",
                        format_func=lambda k: KIND_TITLES[k])
label_options = list(LABELS_BY_KIND[sel_kind])
if st.session_state.get("tt_sel_label") not in label_options:
    st.session_state["tt_sel_label"] = label_options[0]
sel_label = s2.selectbox("Label", label_options, key="tt_sel_label",
                         format_func=lambda c: display.get(c, c))
if st.session_state.get("tt_sel_stage") not in range(len(names)):
    st.session_state["tt_sel_stage"] = 0
sel_stage = s3.selectbox("Stage", list(range(len(names))), key="tt_sel_stage",
                         format_func=lambda i: names[i])
sel_facet = None
if split != "none" and shown_facets:
    if st.session_state.get("tt_sel_facet") not in shown_facets:
        st.session_state["tt_sel_facet"] = shown_facets[0]
    sel_facet = s4.selectbox(split_title, shown_facets, key="tt_sel_facet")
first = state.query(thoughts.stage_thoughts, filters, sel_kind, sel_label, sel_stage, rule,
                    split, sel_facet, PAGE_SIZE, 0)
n_pages = max(1, -(-first["total"] // PAGE_SIZE))
page = 1
if n_pages > 1:
    if not 1 <= st.session_state.get("tt_sel_page", 1) <= n_pages:
        st.session_state["tt_sel_page"] = 1
    page = st.number_input(f"Page (of {n_pages}, {PAGE_SIZE} per page)", 1, n_pages,
                           key="tt_sel_page")
behind_args = (filters, sel_kind, sel_label, sel_stage, rule, split, sel_facet, PAGE_SIZE,
               (int(page) - 1) * PAGE_SIZE)
behind = state.query(thoughts.stage_thoughts, *behind_args)
where = f" · {sel_facet}" if sel_facet else ""
st.markdown(f"**{first['total']:,}** {display.get(sel_label, sel_label)} "
            f"{KIND_TITLES[sel_kind].lower()} in stage **{names[sel_stage]}**{where}")
link_config = {"open": st.column_config.LinkColumn("open", display_text="open ↗",
                                                   width="small"),
               "thought": st.column_config.TextColumn("thought", width="large")}
if first["total"]:
    tables.dataframe(thoughts.thought_table(behind["rows"], display, sidebar.url_params()),
                    hide_index=True, width="stretch", column_config=link_config,
                    height=min(38 + 35 * behind["rows"].height, 420))

# ---------------------------------------------------------------------------- transitions
st.subheader("Transitions")
t1, t2, t3 = st.columns([3, 3, 2])
flow = t1.radio("Flow", list(thoughts.FLOWS), key="tt_flow",
                format_func=lambda k: thoughts.FLOWS[k])
source_stage = None
include_ends = True
if flow == "reaction_reason":
    mode = "pairs"
    t2.caption("For each reaction, the first reason on the next user message: what users "
               "intend after being satisfied or dissatisfied.")
    include_ends = t2.toggle("Include reactions with no reason after them", value=True,
                             key="tt_ends")
else:
    mode = t2.radio("View", ["stages", "pairs"], key="tt_mode",
                    format_func=lambda k: {"stages": "stage to stage (label @ stage)",
                                           "pairs": "every consecutive pair"}[k])
if mode == "pairs":
    pick = t3.selectbox("Starting in stage", [-1, *range(len(names))], key="tt_src_stage",
                        format_func=lambda i: "any stage" if i < 0 else names[i])
    source_stage = None if pick < 0 else int(pick)
links = state.query(thoughts.transition_links, filters, flow, rule, mode, source_stage,
                    include_ends)
charts.show(catalogue.FLOW, filters, name=f"flow-{flow.replace('_', '-')}-{mode}",
            key="tt_sankey", flow=flow, rule=rule, mode=mode, source_stage=source_stage,
            include_ends=include_ends)
if mode == "stages":
    st.caption("Each thought is linked to the next thought of the same kind in its "
               "conversation (by turn, then position on the message); shown are the pairs "
               "whose next thought is in a later stage, i.e. the flow from the last thought of "
               "a stage to the first of the next stage that has one. Pairs within one stage: "
               "choose *every consecutive pair*.")

if links.height:
    st.markdown("##### The pairs behind a flow")
    st.caption("Plotly Sankey diagrams cannot be clicked in Streamlit: pick a flow here "
               "(largest first).")

    link_keys = [f"{a}>{b}" for a, b in links.select("source", "target").iter_rows()]
    by_key = dict(zip(link_keys, range(links.height)))
    link_names = dict(zip(link_keys, thoughts.link_names(links, mode, names, display)))
    if st.session_state.get("tt_link") not in by_key:
        st.session_state["tt_link"] = link_keys[0]
    chosen = links.row(by_key[st.selectbox("Flow", link_keys, key="tt_link",
                                           format_func=link_names.__getitem__)], named=True)
    example_args = (filters, flow, chosen["label_a"], chosen["label_b"],
                    int(chosen["stage_a"]), int(chosen["stage_b"]), rule, PAGE_SIZE, 0)
    examples = state.query(thoughts.transition_examples, *example_args)
    if examples["total"] > PAGE_SIZE:
        st.caption(f"First {PAGE_SIZE} of {examples['total']:,} pairs.")
    tables.dataframe(thoughts.pair_table(examples["rows"], display, sidebar.url_params()),
                    hide_index=True, width="stretch", column_config=link_config,
                    height=min(38 + 35 * examples["rows"].height, 420))

st.caption(f"{CREDIT} Labels and meanings: the paper's display names with our paraphrase.")
