"""Conversation browser: the conversations under the current filters (sortable, paged,
keyword search with hit counts), semantic search over thoughts and user messages, one
conversation's transcript with its thoughts inline, similar thoughts across the dataset,
and export of the filtered conversations (JSONL in the release schema, CSV of thoughts).

Page state lives in the URL next to the sidebar's filters: ``conv`` and ``turn`` (the open
conversation and the linked message), ``q`` (keyword), ``sq`` (semantic query), ``sort``,
``page`` and ``group=user`` (the list grouped by participant), so a copied link
reproduces the view.
"""

from __future__ import annotations

import hashlib
import math

import streamlit as st

from components import links
from components.export import data as exports
from components.figures import transcript as tx
from components.filters import seq_labels, seq_name
from components.queries import conversations as browse
from components.queries import core, search
from components.queries import shifts as sv
from components.ui import sidebar, state, tables
from components.vocabulary import label_info

filters = sidebar.current_filters()
ss = st.session_state
LABELS = label_info(state.query(core.labels))
SORT_KEYS = [k for k in browse.SORTS]
_INIT = "_browser_from_url"
#: Search results / similar thoughts: the conversation column is its permalink.
RESULT_COLUMNS = {
    "kind": st.column_config.TextColumn(width=85),
    "label": st.column_config.TextColumn(width=150),
    "text": st.column_config.TextColumn(width=330),
    "turn": st.column_config.NumberColumn(width=45),
    "link": st.column_config.LinkColumn("conversation (opens the link)",
                                        display_text=r"conv=([^&#]+)", width=220)}
RESULT_ORDER = ["score", "kind", "label", "text", "turn", "link"]
#: Longer conversations are shown a window of turns at a time (a 10,000-message one would
#: otherwise take seconds to render); the linked turn's window opens first.
TURNS_PER_WINDOW = 200


# ---------------------------------------------------------------- state <-> URL

def _url_one(key: str) -> str | None:
    values = st.query_params.get_all(key)
    return values[0] if values else None


def _open(conv_id: str | None, turn: int | None = None) -> None:
    ss["br_conv"], ss["br_turn"] = conv_id, turn
    ss.pop("br_sim", None)


def _init_from_url() -> None:
    """On the session's first visit, the URL's conv/turn are the source of truth."""
    if ss.get(_INIT):
        return
    ss[_INIT] = True
    notices = []
    conv = _url_one("conv")
    turn_raw = _url_one("turn")
    turn = None
    if turn_raw is not None:
        if turn_raw.strip().isdigit():
            turn = int(turn_raw)
        else:
            notices.append(f"ignored turn={turn_raw[:20]!r} (expected a number)")
    if conv is not None:
        if state.query(browse.transcript_data, conv) is None:
            notices.append(f"the link's conversation `{conv[:80].replace('`', '')}` is not in "
                           "this database (stale or mistyped link)")
            conv, turn = None, None
    _open(conv, turn)
    sort_raw = _url_one("sort")
    ss["_br_url_sort"] = sort_raw
    if sort_raw is not None and sort_raw.lstrip("-") not in browse.SORTS:
        notices.append(f"ignored sort={sort_raw[:30]!r} (expected one of "
                       f"{', '.join(browse.SORTS)}, with - for descending)")
    page_raw = _url_one("page")
    ss["_br_url_page"] = 1
    if page_raw is not None:
        if page_raw.strip().isdigit() and int(page_raw) > 0:
            ss["_br_url_page"] = int(page_raw)
        else:
            notices.append(f"ignored page={page_raw[:20]!r} (expected a page number, 1 or "
                           "more); showing page 1")
    group_raw = _url_one("group")
    ss["br_group"] = group_raw == "user"
    if group_raw is not None and group_raw != "user":
        notices.append(f"ignored group={group_raw[:20]!r} (expected group=user)")
    ss["_br_notices"] = notices


def _write_url(**values: str | int | None) -> None:
    """Set (or, for None, remove) this page's own URL parameters."""
    for key, value in values.items():
        value = None if value is None else str(value)
        if value is None:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != value:
            st.query_params[key] = value


_init_from_url()

# ---------------------------------------------------------------- page head + controls

st.html(tx.CSS)
st.title("Conversations")
st.caption("Browse the conversations that match the sidebar filters; open one to read it "
           "with the users' thoughts inline. Every view is a shareable link.")
notice_box = st.container()  # the link's notices (one more may come from the list below)
for notice in ss.get("_br_notices", []):
    notice_box.info(f"Link: {notice}.", icon=":material/link_off:")

c1, c2 = st.columns(2)
c1.text_input("Keyword (in messages and thoughts)", key="q", bind="query-params",
              placeholder="e.g. too long", icon=":material/search:",
              help="Case-insensitive substring match. Narrows the list to conversations "
                   "with hits and highlights them in the transcript.")
c2.text_input("Semantic search (meaning, not words)", key="sq", bind="query-params",
              placeholder="e.g. users frustrated by the length of the answer",
              icon=":material/psychology_alt:",
              help="Ranks thoughts and user messages by cosine similarity of their "
                   "embeddings to your query, within the current filters.")
keyword = browse.clean_keyword(ss.get("q"))
semantic = (ss.get("sq") or "").strip()[:500]

# ---------------------------------------------------------------- semantic search

if semantic:
    info = state.query(search.embedding_info)
    st.subheader("Semantic search")
    if not info["available"]:
        st.warning("Semantic search needs embeddings, and this database was built without "
                   "the embed stage: run `python -m precompute build` (or `python -m "
                   "precompute embed`) and reload.", icon=":material/info:")
    else:
        index = state.vector_index()
        hits, why = state.semantic_hits(semantic, filters, 20)
        if hits is None:
            st.error(why, icon=":material/error:")
        elif hits.is_empty():
            st.info("No thoughts or user messages under the current filters to search.")
        else:
            table = tx.link_table(hits, state.query(browse.item_texts,
                                                    tuple(hits["item_id"].to_list())),
                                  LABELS, sidebar.url_params())
            key = "br_sem_" + hashlib.md5(repr((semantic, filters)).encode()).hexdigest()[:12]

            def _pick_sem(key=key, rows=tuple(hits.select("conv_id", "turn").iter_rows())):
                sel = ss[key].selection.rows
                if sel:
                    conv, turn = rows[sel[0]]
                    _open(str(conv), int(turn))

            on_map = links.page_url("shifts", sidebar.url_params(), view="Global map",
                                    sq=semantic, q=keyword)
            st.caption(f"Top {len(table)} of {len(index):,} embedded items "
                       f"({'all conversations' if filters.is_empty else 'within the filters'};"
                       f" model `{info['model']}`). Select a row to open it at that turn. "
                       f"[See the hits on the global map]({on_map}).")
            tables.dataframe(table, hide_index=True, width="stretch", key=key, on_select=_pick_sem,
                            column_order=RESULT_ORDER,
                            selection_mode="single-row",
                            column_config={
                                "score": st.column_config.NumberColumn(
                                    "similarity", format="%.3f", width=70),
                                **RESULT_COLUMNS})

# ---------------------------------------------------------------- the list

st.subheader("Matching conversations")
sort_options = [k for k in SORT_KEYS if keyword or k != "hits"]
sort_values = [f"{k}" for k in sort_options] + [f"-{k}" for k in sort_options]
default_sort = "-hits" if keyword else browse.DEFAULT_SORT
url_sort = ss.pop("_br_url_sort", None)
sort_value = ss.get("br_sort")
if sort_value not in sort_values:
    sort_value = url_sort if url_sort in sort_values else default_sort
    ss.pop("br_sort", None)
group = "user" if ss.get("br_group") else ""
# the whole ordered list in one cached query (one keyword scan): count, pages, prev / next
listing = state.query(browse.matches, filters, keyword, sort_value.lstrip("-"),
                      sort_value.startswith("-"), group)
n_match, n_hits = len(listing["ids"]), listing["n_hits"]
n_pages = max(1, math.ceil(n_match / browse.PAGE_SIZE))
if n_match == 0:
    if keyword:
        st.info(f"No conversation under the current filters has a message or thought "
                f"containing “{keyword}”. Try another keyword or loosen the filters.",
                icon=":material/search_off:")
    else:
        st.info("No conversations match the current filters. Loosen or reset them in the "
                "sidebar.", icon=":material/filter_alt_off:")
    page = 1
else:
    sort_cols = st.columns([2, 2, 2, 3])
    sort_value = sort_cols[0].selectbox(
        "Sort by", sort_values, key="br_sort", index=sort_values.index(sort_value),
        format_func=lambda v: browse.SORTS[v.lstrip("-")][0] + (" ↓" if v.startswith("-")
                                                                 else " ↑"))
    with sort_cols[1]:
        st.space(30)  # level with the sort box beside it
        st.toggle("Group by participant", key="br_group", persist_state="page",
                  help="Each participant's conversations together, participants with the "
                       "most matching conversations first; within one, the sort above. "
                       "Adds their id (a link to their profile on the Participants page) "
                       "and their number of conversations in the list.")
    hit_text = f" · {n_hits:,} keyword hit{'' if n_hits == 1 else 's'}" if keyword else ""
    noun = "conversation" if n_match == 1 else "conversations"
    map_link = ""
    if keyword and state.query(sv.availability)["shifts"]:
        on_map = links.page_url("shifts", sidebar.url_params(), view="Global map",
                                q=keyword, sq=semantic)
        map_link = f" · <a href='{tx.esc(on_map)}' target='_self'>on the map</a>"
    n_users = len(set(listing["users"]))
    noun += f" of {n_users:,} participant{'' if n_users == 1 else 's'}" if group else ""
    sort_cols[2].markdown(f"<div style='padding-top:2rem'><b>{n_match:,}</b> {noun}"
                          f"{tx.esc(hit_text)}{map_link}</div>", unsafe_allow_html=True)
    # a new widget (back on page 1) whenever the list changes; the URL's page on first visit
    signature = (filters, keyword, sort_value, group)
    page_key = "br_page_" + hashlib.md5(repr(signature).encode()).hexdigest()[:12]
    url_page = ss.pop("_br_url_page", 1)
    first_page = min(url_page, n_pages)
    if url_page > n_pages:
        notice_box.info(f"Link: page {url_page:,} is past the last page of this list "
                        f"({n_pages:,}); showing page {n_pages:,}.", icon=":material/link_off:")
    with sort_cols[3]:
        with st.container(horizontal_alignment="right"):
            page = st.pagination(n_pages, key=page_key, default=first_page,
                                 max_visible_pages=7)
    lo = (int(page) - 1) * browse.PAGE_SIZE
    ids = listing["ids"][lo:lo + browse.PAGE_SIZE]
    view = browse.list_view(state.query(browse.rows_for, ids),
                            None if listing["hits"] is None else
                            listing["hits"][lo:lo + browse.PAGE_SIZE],
                            browse.participant_cells(listing["users"][lo:lo + browse.PAGE_SIZE],
                                                     listing["user_n"][lo:lo + browse.PAGE_SIZE],
                                                     sidebar.url_params()) if group else None)
    list_key = f"br_list_{page_key}_{page}"

    def _pick(key=list_key, ids=ids):
        sel = ss[key].selection.rows
        if sel:
            _open(ids[sel[0]])

    current = ss.get("br_conv")
    default = {"selection": {"rows": [ids.index(current)], "columns": []}} \
        if current in ids else None
    tables.dataframe(view, hide_index=True, width="stretch", key=list_key,
                    on_select=_pick, selection_mode="single-row", selection_default=default,
                    height=min(36 * (view.height + 1) + 4, 460),
                    column_config={
                        "participant": st.column_config.LinkColumn(
                            display_text=r"pid=([^&#]+)", width=95,
                            help="their profile on the Participants page (opens a new tab)"),
                        "their matches": st.column_config.NumberColumn(
                            width=100, help="this participant's conversations in the list"),
                        "conversation": st.column_config.TextColumn(width=200),
                        "task summary": st.column_config.TextColumn(width=360),
                        "model": st.column_config.TextColumn(width=140),
                        "messages": st.column_config.NumberColumn(width="small"),
                        "thoughts": st.column_config.NumberColumn(width="small"),
                        "dissatisfied": st.column_config.NumberColumn(
                            width="small", help="reactions labelled Content Relevance, "
                                                "Presentation Style or Scope Fit"),
                        "hits": st.column_config.NumberColumn(
                            width="small", help="messages and thoughts containing the keyword")})
    ex1, ex2, _ = st.columns([1, 1, 2])
    ex1.download_button("Export conversations (JSONL)", state.deferred(exports.export_jsonl,
                                                                       filters),
                        file_name="thoughttrace_filtered.jsonl", mime="application/jsonl",
                        icon=":material/download:", on_click="ignore",
                        help="The conversations under the sidebar filters (the keyword does "
                             "not narrow the export), in the dataset's original JSONL schema.")
    ex2.download_button("Export their thoughts (CSV)",
                        state.deferred(exports.export_thoughts_csv, filters),
                        file_name="thoughttrace_thoughts.csv", mime="text/csv",
                        icon=":material/download:", on_click="ignore")
    # alignment / user-modelling exports of the same slice (the paper's Utility 2 and 1)
    n_pairs = state.query(exports.count_pairs, filters)
    n_sim = state.query(exports.count_simulator, filters)
    al1, al2, al3 = st.columns([1, 1, 2])
    al1.download_button(f"Preference pairs (JSONL, {n_pairs:,})",
                        state.deferred(exports.export_pairs, filters),
                        file_name="thoughttrace_pairs.jsonl", mime="application/jsonl",
                        icon=":material/download:", on_click="ignore", key="br_ex_pairs",
                        help="One record per dissatisfaction reaction (Content Relevance, "
                             "Presentation Style, Scope Fit) of 6 words or more, in a "
                             "conversation of 2–20 messages: context, response, reaction, "
                             "next user message. `python cli.py export pairs` has the "
                             "options (thresholds, message-guided critique).")
    al2.download_button(f"Simulator set (JSONL, {n_sim:,})",
                        state.deferred(exports.export_simulator, filters),
                        file_name="thoughttrace_simulator.jsonl", mime="application/jsonl",
                        icon=":material/download:", on_click="ignore", key="br_ex_sim",
                        help="One record per user message after the first: the 6 messages "
                             "before it, its reasons, the reactions on the answer before "
                             "it, and the message itself as the target.")
    al3.caption(f"**{n_pairs:,}** thought-guided preference "
                f"pair{'' if n_pairs == 1 else 's'} under these filters (the paper: "
                f"{exports.PUBLISHED_PAIRS:,} on the full release) · **{n_sim:,}** "
                f"next-message record{'' if n_sim == 1 else 's'} for a user simulator.")

# ---------------------------------------------------------------- the transcript

list_url = {"sort": None if sort_value == default_sort else sort_value,
            "page": None if page == 1 else page, "group": group or None}
conv_id = ss.get("br_conv")
turn_sel = ss.get("br_turn")
st.divider()
if conv_id is None:
    st.caption("Select a conversation in the list (or a search result) to read it here.")
    _write_url(conv=None, turn=None, **list_url)
    state.end_page()

data = state.query(browse.transcript_data, conv_id)
if data is None:  # the DB was rebuilt without it
    st.info(f"Conversation `{conv_id[:80].replace('`', '')}` is no longer in the database.")
    _open(None)
    _write_url(conv=None, turn=None, **list_url)
    state.end_page()

pos = browse.neighbours(listing["ids"], conv_id)
nav = st.columns([1, 3, 1])
nav[0].button("← Previous", disabled=pos["previous"] is None, on_click=_open,
              args=(pos["previous"],), width="stretch", key="br_prev")
if pos["index"] is None:
    nav[1].caption("This conversation is outside the current filters or keyword; previous / "
                   "next walk the list as it is now.")
else:
    nav[1].markdown(f"<div style='text-align:center;padding-top:.4rem'>Conversation "
                    f"<b>{pos['index']:,}</b> of {n_match:,} in the list</div>",
                    unsafe_allow_html=True)
nav[2].button("Next →", disabled=pos["next"] is None, on_click=_open, args=(pos["next"],),
              width="stretch", key="br_next")

conv, msgs, ths = data["conv"], data["messages"], data["thoughts"]
n_turns = len(msgs)
if turn_sel is not None and not (1 <= turn_sel <= n_turns):
    st.info(f"The link's turn {turn_sel} does not exist (this conversation has {n_turns} "
            "messages); showing the whole conversation.", icon=":material/link_off:")
    turn_sel = None
    ss["br_turn"] = None
seq_opened = False

# the sequence filter: mark the thoughts that make the match, open at the first
seq = None
if filters.seq_first and filters.seq_then:
    seq = browse.sequence_matches(ths, seq_labels(filters.seq_first),
                                  seq_labels(filters.seq_then))
    if turn_sel is None and seq["first_turn"] is not None:
        turn_sel = ss["br_turn"] = seq["first_turn"]
        ss["_br_seq_opened"] = (conv_id, turn_sel)
    seq_opened = ss.get("_br_seq_opened") == (conv_id, turn_sel)
_write_url(conv=conv_id, turn=turn_sel, **list_url)

st.html(tx.header_html(conv))
params = sidebar.url_params()
if seq is not None:
    display = state.display_names()
    sides = f"{seq_name(filters.seq_first, display)} → {seq_name(filters.seq_then, display)}"
    if seq["first_turn"] is None:
        st.caption(f":material/conversion_path: Sequence filter {sides}: this conversation "
                   "has no match (it is outside the filter).")
    else:
        n_marked = len(seq["sides"])
        st.caption(f":material/conversion_path: Sequence filter {sides}: "
                   f"{n_marked} thought{'' if n_marked == 1 else 's'} make the match, at "
                   f"turn{'' if len(seq['turns']) == 1 else 's'} "
                   f"{', '.join(map(str, seq['turns']))} (marked ① start, ② end)"
                   + (f"; opened at turn {turn_sel}, the first match." if seq_opened else "."))
if turn_sel is not None:
    what = "first match" if seq_opened else "linked turn"
    st.markdown(f"[Jump to the {what} {turn_sel} ↓](#{links.turn_anchor(turn_sel)})")

# similar thoughts: pick one of this conversation's thoughts
index = state.vector_index()
with st.expander("Similar thoughts across the dataset", expanded=bool(ss.get("br_sim"))):
    if index is None:
        st.caption("Needs embeddings: this database was built without the embed stage "
                   "(run `python -m precompute build`).")
    elif not ths:
        st.caption("This conversation has no thoughts.")
    else:
        options = [None] + [int(t["thought_id"]) for t in ths]
        by_id = {int(t["thought_id"]): t for t in ths}

        def _fmt(tid):
            if tid is None:
                return "— choose a thought of this conversation —"
            t = by_id[tid]
            name = LABELS.get(t["label"], {}).get("display_name", t["label"])
            return f"turn {t['turn']} · {name}: {tx.snippet(t['content'], 90)}"
        if ss.get("br_sim") not in options:
            ss["br_sim"] = None
        tid = st.selectbox("Thought", options, key="br_sim", format_func=_fmt)
        if tid is not None:
            near = search.similar(index, f"t:{tid}", k=10)
            if near.is_empty():
                st.caption("This thought has no stored vector (empty text).")
            else:
                sim_table = tx.link_table(
                    near, state.query(browse.item_texts, tuple(near["item_id"].to_list())),
                    LABELS, params)
                skey = f"br_simtab_{tid}"

                def _pick_sim(key=skey, rows=tuple(near.select("conv_id", "turn").iter_rows())):
                    sel = ss[key].selection.rows
                    if sel:
                        conv2, turn2 = rows[sel[0]]
                        _open(str(conv2), int(turn2))
                tables.dataframe(sim_table, hide_index=True, width="stretch", key=skey,
                                column_order=RESULT_ORDER,
                                on_select=_pick_sim, selection_mode="single-row",
                                column_config={
                                    "score": st.column_config.NumberColumn(
                                        "similarity", format="%.3f", width=70),
                                    **RESULT_COLUMNS})
                st.caption("The 10 nearest reasons and reactions by cosine similarity of the "
                           "stored vectors (the thought itself excluded). Select a row to "
                           "open it.")

# the turns (a very long conversation is shown a window of turns at a time)
thoughts_by_turn: dict[int, list[dict]] = {}
for rec in ths:
    thoughts_by_turn.setdefault(int(rec["turn"]), []).append(rec)
shown = msgs
if n_turns > TURNS_PER_WINDOW:
    windows = [(start, min(start + TURNS_PER_WINDOW - 1, n_turns))
               for start in range(1, n_turns + 1, TURNS_PER_WINDOW)]
    default = ((turn_sel or 1) - 1) // TURNS_PER_WINDOW
    window = st.selectbox(
        f"This conversation has {n_turns:,} messages; showing {TURNS_PER_WINDOW} at a time",
        range(len(windows)), index=default, key=f"br_window_{conv_id}_{turn_sel}",
        format_func=lambda i: f"turns {windows[i][0]:,}–{windows[i][1]:,}")
    first, last = windows[window]
    shown = msgs[first - 1:last]
for m in shown:
    turn, role = int(m["turn"]), m["role"]
    content = m["content"] or ""
    own = thoughts_by_turn.get(turn, [])
    hits = tx.count_hits(content, keyword)
    link = tx.permalink(params, conv_id, turn)
    with st.chat_message("user" if role == "user" else "assistant"):
        st.markdown(tx.turn_head_html(turn, role, m["stage"], n_turns, link,
                                      linked=(turn == turn_sel), hits=hits,
                                      linked_text="first match" if seq_opened else
                                      "linked turn"),
                    unsafe_allow_html=True)
        head, rest = tx.split_long(content)
        # remote images in the data load only when the reader asks (a tracking pixel must
        # not reach every reader's browser)
        images_key = f"br_img_{conv_id}_{turn}"
        show_images = bool(ss.get(images_key))
        hosts = [] if show_images else tx.guard_images(content)[1]
        md_head, md_rest = ((head, rest) if show_images else
                            (tx.guard_images(head)[0], tx.guard_images(rest)[0]))
        if hits:  # plain escaped text: no markdown, so no image either
            st.html(tx.plain_html(head, keyword, note=not rest))
        else:
            st.markdown(md_head, anchors=False)
        if rest:
            more = tx.count_hits(rest, keyword)
            label = f"Show more ({len(rest):,} more characters" + \
                (f", {more} keyword hit{'s' if more != 1 else ''})" if more else ")")
            with st.expander(label):
                if hits:
                    st.html(tx.plain_html(rest, keyword))
                else:
                    st.markdown(md_rest, anchors=False)
        if hosts and not hits:
            st.button(f"Load the {'image' if len(hosts) == 1 else 'images'} from "
                      f"{', '.join(h[:60] for h in hosts[:4])}"
                      + (f" and {len(hosts) - 4} more" if len(hosts) > 4 else ""),
                      key=f"{images_key}_btn", icon=":material/image:",
                      on_click=ss.__setitem__, args=(images_key, True),
                      help="Images in the data are not loaded by default: loading one "
                           "sends a request from your browser to that host.")
        if own:
            st.html(tx.thoughts_html(own, LABELS, keyword,
                                     seq["sides"] if seq is not None else None))
# open at the picked turn: scroll to it once per opening (a fresh load with the
# permalink's #turn-N fragment is scrolled by Streamlit itself)
if turn_sel is not None and ss.get("_br_scrolled") != (conv_id, turn_sel):
    ss["_br_scrolled"] = (conv_id, turn_sel)
    st.html(tx.scroll_to_turn_html(turn_sel), unsafe_allow_javascript=True)
