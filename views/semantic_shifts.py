"""Semantic shifts (paper Fig. 5): for the filtered conversations, how far a text lands
from its source on one shared 2-D map — consecutive user messages, a message and its
reason, a reaction and the next message — with percentile rings, the set-level metrics
per pair type beside the published values, and the global map of every user message and
thought (colour by kind, label, domain, model or cluster; lasso to list items), on two
tabs bound to the URL."""

import polars as pl
import streamlit as st

from components import links, published
from components.figures import catalogue
from components.queries import shifts as sv
from components.ui import charts, compare, first_paint, notices, sidebar, state, tables
from components.vocabulary import CREDIT, KIND_NOUNS, PAIR_TITLES, item_names

filters = sidebar.current_filters()
display = state.display_names()
names = item_names(display)

st.title("Semantic shifts")
st.caption("Every user message and thought sits on one 2-D map of their embeddings. For "
           "each pair below, the dot is where the destination landed relative to its "
           "source (the star): the farther out, the bigger the shift in meaning.")

notices.require_stage(
    state.query(sv.availability)["shifts"],
    "This database was built without the shifts stage, so there is no map and no pairs to "
    "show. Run `python -m precompute build` (it embeds the texts and computes the map): "
    "this page fills in by itself when it is done.")
totals = notices.subset_totals(filters, "so there are no pairs to show")

# The two views are lazy tabs bound to the URL (`?view=Global+map` links to the map):
# only the open one runs and is drawn, so the centred gaps do not wait for the map's
# WebGL set-up (about a second in a browser without a GPU) and vice versa.
VIEWS = ("Centred gaps", "Global map")
SEMANTIC_TOP = (20, 50, 100, 200, 500)
ss = st.session_state
MAX_CONV_OPTIONS = 1000  # a longer list makes every rerun slow; other ids can be typed
gaps_tab, map_tab = st.tabs(VIEWS, key="view", bind="query-params")


def centred_gaps() -> None:
    """The three panels, the clicked pair and the metrics table."""
    panels = state.query(sv.shift_panels, filters, sv.MAX_PANEL_POINTS, sv.SNIPPET_MAX_PAIRS)
    n_pairs = sum(panels["n"].values())
    if n_pairs == 0:
        st.info(f"The {totals['conversations']:,} matching conversations have no pairs on the "
                "map (they need at least two user messages, a reason or a reaction followed by "
                "a user message). Loosen the filters in the sidebar.",
                icon=":material/filter_alt_off:")
        return
    event, _ = charts.show(catalogue.SHIFT_PANELS, filters, name="semantic-shift-panels",
                           on_select="rerun", selection_mode=("points",))
    no_text = [PAIR_TITLES[t] for t, ok in panels["texts"].items() if not ok and panels["n"][t]]
    st.caption("Rings: 25th, 50th and 75th percentile of the distance (map units) over every "
               "pair of the selection. Axes are shared and equal across panels. "
               + ("Hover a point for both texts; " if not no_text else
                  f"Hover texts are left out where a panel has over {sv.SNIPPET_MAX_PAIRS:,} "
                  f"pairs ({', '.join(no_text)}); ")
               + "click a point to read the pair and open its conversation.")

    picked = sv.picked_pair(panels["points"], event.selection.points if event else [])
    if picked:
        detail = state.query(sv.pair_detail, *picked)
        if detail:
            link = links.conversation_url(sidebar.url_params(), detail["conv_id"],
                                          detail["src_turn"])
            with st.container(border=True):
                st.markdown(f"**{PAIR_TITLES[detail['pair_type']]}** · "
                            f"`{detail['conv_id']}` · turn {detail['src_turn']} → "
                            f"{detail['dst_turn']} · map distance "
                            f"{detail['umap_distance']:.2f} · cosine distance "
                            f"{detail['cosine_distance']:.2f}")
                a, b = st.columns(2)
                for col, side in ((a, "src"), (b, "dst")):
                    kind = names.get(detail[f"{side}_kind"], detail[f"{side}_kind"] or "")
                    label = detail[f"{side}_label"]
                    head = "Source" if side == "src" else "Destination"
                    col.markdown(f"**{head}** — {kind}"
                                 + (f" · *{display.get(label, label)}*" if label else ""))
                    col.text(detail[f"{side}_text"] or "—")
                st.link_button("Open the conversation at this turn", link,
                               icon=":material/forum:")
                st.caption(f"Link: `{link}`")

    st.subheader("Metrics per pair type")
    # MMD and the probe of a new subset take ~0.5–1 s: they run in the background while the
    # rest of the page renders, and the table fills in when they are done.
    ready, res = state.query_soon(sv.metrics, filters, sv.METRICS_MAX_PER_SIDE)
    if not ready:
        res = {"table": sv.pending_metrics(panels["rings"]), "source": "pending"}

        @st.fragment(run_every=0.5)
        def _wait_for_metrics() -> None:
            if state.soon_done(sv.metrics, filters, sv.METRICS_MAX_PER_SIDE):
                st.rerun()  # the whole page: the table, or the computation's error
            st.caption(":material/hourglass_top: Computing the set-level metrics for this "
                       "subset; the table fills in by itself.")
        _wait_for_metrics()
    table = sv.metrics_display(sv.metrics_with_published(res["table"]))
    tables.dataframe(table, hide_index=True, width="stretch", column_config={
        "note": st.column_config.TextColumn(width="medium")})
    source = {"stored": "stored by the build (all conversations)",
              "pending": "percentiles of the filtered subset; the set-level metrics are being "
                         "computed"}.get(res["source"],
                                        f"recomputed for the filtered subset (MMD and probe on "
                                        f"at most {sv.METRICS_MAX_PER_SIDE:,} items per side, "
                                        "fixed seed)")
    st.markdown("\n".join(f"- **{name}**: {words}" for name, words in sv.METRIC_WORDS.items()))
    st.caption(f"This table: {source}. Ordering by p50 here: {sv.ordering(res['table'])}. "
               f"Columns *published …*: {published.SHIFT_NOTE}; Jin et al. 2026 publish only "
               f"the percentiles. {sv.NOT_AVAILABLE} = not computable for this subset (the "
               "note says why).")
    compare.shifts_section(filters, key="sh")


def search_hits() -> tuple[tuple[tuple[str, tuple[str, ...]], ...], list[str]]:
    """The search boxes of the map: ``(name, item ids)`` per search to highlight, and a
    caption per search (how many hits, how they were found). In a new tab's light run the
    boxes wait for the rest of the page (their places are kept) and the searches come
    from the link, as the boxes bound to it will read them."""
    c1, c2, c3 = st.columns([3, 3, 1])
    if first_paint.is_light():
        keyword, semantic = st.query_params.get("q", ""), st.query_params.get("sq", "")
        top = first_paint.url_choice("sk", SEMANTIC_TOP, SEMANTIC_TOP[1])
    else:
        c1.text_input("Highlight keyword hits", key="q", bind="query-params",
                      placeholder="e.g. too long", icon=":material/search:",
                      help="Case-insensitive substring of a user message, reason or "
                           "reaction (the Conversations page's keyword search).")
        c2.text_input("Highlight semantic hits", key="sq", bind="query-params",
                      placeholder="e.g. the answer ignored my constraints",
                      icon=":material/psychology_alt:",
                      help="The user messages and thoughts nearest in meaning to your query "
                           "(cosine similarity of embeddings), within the filters.")
        top = c3.selectbox("Semantic top", SEMANTIC_TOP, index=1, key="sk",
                           bind="query-params", help="How many semantic hits to highlight.")
        keyword, semantic = ss.get("q"), ss.get("sq")
    keyword = (keyword or "").strip()
    semantic = (semantic or "").strip()[:500]
    hits, notes = [], []
    if keyword:
        found = state.query(sv.keyword_map_hits, filters, keyword)
        hits.append((f"keyword “{keyword[:60]}”", found["item_ids"]))
        more = (f"; the first {sv.MAX_HIGHLIGHT:,} by id are highlighted"
                if found["total"] > sv.MAX_HIGHLIGHT else "")
        notes.append(f":material/search: Keyword “{keyword[:60]}”: {found['total']:,} user "
                     f"messages and thoughts in the filtered conversations contain it "
                     f"(case-insensitive){more}. Black circles.")
    if semantic:
        found, why = state.semantic_hits(semantic, filters, int(top or SEMANTIC_TOP[1]))
        if found is None:
            st.warning(why, icon=":material/info:")
        else:
            ids = tuple(found["item_id"].to_list())
            hits.append((f"semantic “{semantic[:60]}” top {len(ids)}", ids))
            worst = f", similarity ≥ {found['score'].min():.3f}" if found.height else ""
            notes.append(f":material/psychology_alt: Semantic “{semantic[:60]}”: the "
                         f"{len(ids):,} user messages and thoughts nearest in meaning within "
                         f"the filters (cosine similarity of the stored embeddings{worst})."
                         " Black diamonds.")
    return tuple(hits), notes


def global_map() -> None:
    """Every user message and thought on the map; a lasso lists the selected items."""
    options = state.query(sv.color_options)
    c1, c2 = st.columns([1, 2])
    if first_paint.is_light():  # a new tab: the map first, in the defaults of the boxes
        color_by, conv = options[0], ""
    else:
        color_by = c1.selectbox("Colour by", options, key="sh_color", persist_state="page",
                                format_func=lambda k: sv.COLOR_BY[k])
        convs = state.query(sv.map_conversations, filters)
        conv = c2.selectbox(
            "Arrows from each message to its reason, for one conversation",
            ("",) + convs[:MAX_CONV_OPTIONS], key="sh_conv", persist_state="page",
            format_func=lambda c: c or "— none —",
            accept_new_options=True,
            help=f"{len(convs):,} conversations in the filter have a reason on a user "
                 "message" + (f"; the list shows the first {MAX_CONV_OPTIONS:,}, type any "
                              "other id" if len(convs) > MAX_CONV_OPTIONS else "") + ".")
    if conv and conv not in state.query(sv.map_conversation_set, filters):
        st.caption(f":material/info: `{conv[:80].replace('`', '')}` is not among the filtered "
                   "conversations with reasons: no arrows drawn.")
        conv = ""
    hits, hit_notes = search_hits()
    data = state.query(sv.map_points, filters, color_by)
    sel, _ = charts.show(catalogue.GLOBAL_MAP, filters, on_select="rerun",
                         selection_mode=("box", "lasso"), color_by=color_by,
                         arrows_for=conv or "", hits=hits)
    for note in hit_notes:
        st.caption(note)
    kinds = ", ".join(f"{data['by_kind'].get(k, 0):,} {KIND_NOUNS[k]}"
                      for k in sv.MAP_KINDS)
    st.caption(f"{kinds}. Lasso or box-select points (the map opens in lasso mode; zoom from "
               "the toolbar) to list them below."
               + (" Cluster colours: reasons and reactions by their own HDBSCAN cluster, user "
                  "messages by their conversation's task cluster." if color_by == "cluster"
                  else "")
               + (f" Outliers: the {sv.OUTLIER_TOP:.0%} of each space's items (tasks, reasons, "
                  "reactions) with the highest GLOSH outlier score from HDBSCAN — items far "
                  "from the dense core of any cluster; user messages take their "
                  "conversation's task." if color_by == "outlier" else ""))

    hit_frame = (pl.concat([state.query(sv.map_positions, ids) for _, ids in hits])
                 if hits else None)
    ids = sv.picked_items(data["points"], sel.selection.points if sel else [], hit_frame)
    if ids:
        texts = state.query(sv.item_texts, ids[:sv.MAX_LISTED])
        st.markdown(f"**{len(ids):,} selected**" + (f" (listing the first {sv.MAX_LISTED})"
                                                       if len(ids) > sv.MAX_LISTED else ""))
        left, right = st.columns([3, 2])
        with right:
            charts.show(catalogue.SELECTION_LABELS, filters, color_by=color_by, items=ids)
        with left:
            params = sidebar.url_params()
            tables.dataframe(sv.selection_table(texts, names, params), hide_index=True,
                            width="stretch", height=420, column_config={
                                "text": st.column_config.TextColumn(width="large"),
                                "link": st.column_config.LinkColumn("conversation",
                                                                    display_text=r"conv=([^&#]+)")})
    st.caption("Map: one UMAP of all embedded user messages, reasons and reactions, fitted by "
               f"the build (fixed seed); the app only reads it. {CREDIT}")


if gaps_tab.open:
    with gaps_tab:
        centred_gaps()
if map_tab.open:
    with map_tab:
        global_map()
