"""The Conversations page (AppTest, views/conversations.py at /browser): the list under the
URL's filters, sort and paging in the URL, stale links, previous / next, the transcript
with every thought under its message, keyword hits and escaping, semantic search, similar
thoughts and the export buttons."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from components.figures.theme import LABEL_COLORS
from components.queries import conversations as browse
from components.queries import search
from components.queries import shifts as sv
from tests.apptest import PAGE_SCRIPTS, assert_clean, html_elements, open_app, query_param
from tests.corpus import HashingEmbedder, ingest_db
from tests.queries.test_conversations import ALL, FILTER_CASES, HOSTILE, build_small


@pytest.fixture(scope="module")
def small_db(tmp_path_factory) -> Path:
    """`small_corpus` with the embed stage (fake embedder)."""
    return build_small(tmp_path_factory.mktemp("page_small"), embed=True)


@pytest.fixture(scope="module")
def plain_db(tmp_path_factory) -> Path:
    """The small corpus without the embed stage."""
    return build_small(tmp_path_factory.mktemp("page_plain"), name="plain")


@pytest.fixture(scope="module")
def sample_ingested(sample_ingest_db) -> Path:
    """The shared sample, ingest stage only."""
    return sample_ingest_db


@pytest.fixture(autouse=True)
def fake_query_model(monkeypatch):
    """The app embeds queries with precompute.embed.load_embedder: use the fake."""
    import precompute.embed as embed
    monkeypatch.setattr(embed, "load_embedder", lambda model, device="auto": HashingEmbedder())


def open_page(db: Path, monkeypatch, **params) -> AppTest:
    return open_app(db, monkeypatch, page="conversations", **params)


def listed(at: AppTest) -> list[str]:
    """The conversation ids of the list, in page order."""
    frames = [df.value for df in at.dataframe if "conversation" in df.value.columns
              and "task summary" in df.value.columns]
    return list(frames[0]["conversation"]) if frames else []


def result_table(at: AppTest):
    """The semantic-search / similar-thoughts table (pandas, as AppTest gives it)."""
    return next(d.value for d in at.dataframe if "score" in d.value.columns)


def thought_ids_by_message(at: AppTest) -> list[tuple[int, list[int]]]:
    """(turn, thought ids shown in its chat bubble) for every chat message, in order."""
    out = []
    for msg in at.chat_message:
        values = [m.value for m in msg.markdown] + [h.value for h in msg.html]
        head = next(v for v in values if 'class="tt-turnhead"' in v)
        turn = int(re.search(r'data-anchor="turn-(\d+)"', head).group(1))
        ids = [int(x) for v in values for x in re.findall(r'data-thought-id="(\d+)"', v)]
        out.append((turn, ids))
    return out


# ------------------------------------------------------------------ URL and filters


def test_filters_and_page_state_round_trip_through_url(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, model="GPT-5.4", q="sea", sort="-messages",
                   conv="user5_task1_conversation1", turn="3")
    assert listed(at) == ["user5_task1_conversation1"]
    assert query_param(at, "model") == ["GPT-5.4"] and query_param(at, "q") == ["sea"]
    assert query_param(at, "conv") == ["user5_task1_conversation1"]
    assert query_param(at, "turn") == ["3"] and query_param(at, "sort") == ["-messages"]
    assert at.text_input(key="q").value == "sea"
    assert at.selectbox(key="br_sort").value == "-messages"
    assert any("linked turn" in v for v in html_elements(at))
    # the header shows the participant; the sidebar reflects the URL filter
    assert any("user5_task1_conversation1" in v and "Undergraduate" in v
               for v in html_elements(at))
    assert at.sidebar.multiselect(key="f_models").value == ["GPT-5.4"]


@pytest.mark.parametrize("params, expected", FILTER_CASES)
def test_each_filter_from_the_url_narrows_the_list(small_db, monkeypatch, params, expected):
    at = open_page(small_db, monkeypatch, **params)
    assert set(listed(at)) == expected
    if not expected:
        assert any("No conversations match" in i.value for i in at.info)


def test_sorting_from_the_url(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, sort="-messages")
    assert listed(at)[0] == "user5_task1_conversation1"
    assert listed(at)[-1] in ("user4_task1_conversation1", "user2_task1_conversation1")


def test_page_from_url_and_reset_on_sort_change(small_db, monkeypatch):
    monkeypatch.setattr(browse, "PAGE_SIZE", 2)
    # the URL parameter "page" is also open_app's argument: set it before the switch
    at = open_app(small_db, monkeypatch)
    at.query_params["page"] = "2"
    at.switch_page(PAGE_SCRIPTS["conversations"])
    at.run()
    assert_clean(at)
    assert listed(at) == sorted(ALL)[2:4] and query_param(at, "page") == ["2"]
    at.selectbox(key="br_sort").set_value("-id").run()
    assert listed(at) == sorted(ALL, reverse=True)[:2]
    assert query_param(at, "page") is None and query_param(at, "sort") == ["-id"]


def test_stale_conversation_in_url_is_a_notice(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, conv="user999_gone", turn="x")
    notes = " ".join(i.value for i in at.info)
    assert "not in this database" in notes and "ignored turn" in notes
    assert "conv" not in at.query_params
    assert set(listed(at)) == ALL


def test_turn_out_of_range_is_a_notice(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, conv="user2_task1_conversation1", turn="9")
    assert any("does not exist" in i.value for i in at.info)
    assert len(at.chat_message) == 2


def test_previous_next_follow_filter_and_sort(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, provider="Anthropic",
                   conv="user2_task1_conversation1")
    assert at.button(key="br_prev").disabled
    at.button(key="br_next").click().run()
    assert query_param(at, "conv") == ["user3_task1_conversation1"]
    assert at.button(key="br_next").disabled
    at.button(key="br_prev").click().run()
    assert query_param(at, "conv") == ["user2_task1_conversation1"]


# ------------------------------------------------------------------ transcript


def test_transcript_shows_every_thought_in_order_under_its_message(sample_ingested,
                                                                   monkeypatch):
    con = duckdb.connect(str(sample_ingested), read_only=True)
    try:
        conv_id, n_msgs = con.execute("SELECT conv_id, n_messages FROM conversations "
                                      "ORDER BY n_thoughts DESC, conv_id LIMIT 1"
                                      ).fetchall()[0]
        expected = con.execute("SELECT turn, thought_id FROM thoughts WHERE conv_id = ? "
                               "ORDER BY turn, idx", [conv_id]).fetchall()
    finally:
        con.close()
    at = open_page(sample_ingested, monkeypatch, conv=conv_id)
    shown = thought_ids_by_message(at)
    assert [t for t, _ in shown] == list(range(1, n_msgs + 1))
    flat = [(turn, tid) for turn, ids in shown for tid in ids]
    assert flat == [(t, i) for t, i in expected]
    # stage markers and permalinks on every turn
    heads = [v for v in html_elements(at) if 'class="tt-turnhead"' in v]
    assert len(heads) == n_msgs
    assert all(re.search(r">(Early|Mid-Early|Mid-Late|Late)<", h) for h in heads)
    assert all(f"conv={conv_id}" in h and "permalink" in h for h in heads)


def test_transcript_header_and_missing_demographics(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, conv="user3_task1_conversation1")
    head = next(v for v in html_elements(at) if 'class="tt-head"' in v)
    assert "Claude Opus 4.6" in head and "no survey answers" in head
    assert head.count("—") == 6  # the five answers and the domain / subtopic (no topics)
    at = open_page(small_db, monkeypatch, conv="user4_task1_conversation1")
    head = next(v for v in html_elements(at) if 'class="tt-head"' in v)
    assert "raw age 366" in head


def test_thought_chip_has_display_name_meaning_and_colour(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, conv="user1_task1_conversation1")
    html = " ".join(html_elements(at))
    assert 'title="Scope Fit: unhappy with how much: length, detail, breadth"' in html
    assert LABEL_COLORS["scope_fit"] in html


# ------------------------------------------------------------------ keyword search + escaping


def test_keyword_search_finds_a_known_phrase(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, q="FAR TOO long")
    assert listed(at) == ["user1_task1_conversation1"]
    frame = at.dataframe[0].value
    assert int(frame["hits"].iloc[0]) == 2  # the message and its reason
    at = open_page(small_db, monkeypatch, q="far too long", conv="user1_task1_conversation1")
    marked = [v for v in html_elements(at) if '<mark class="tt-hit">' in v]
    assert any('<mark class="tt-hit">far too long</mark>' in v for v in marked)


def test_keyword_without_hits_says_so(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, q="zzz-nothing")
    assert listed(at) == []
    assert any("zzz-nothing" in i.value for i in at.info)


def test_hostile_html_is_escaped(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, conv="user4_task1_conversation1")
    for value in html_elements(at):
        assert "<script" not in value.lower() and "<img" not in value.lower()
    # message bodies go through st.markdown without unsafe_allow_html
    raw = [m for m in at.markdown if HOSTILE in m.value]
    assert raw and not any(m.proto.allow_html for m in raw)
    # thoughts (custom HTML) carry the text escaped
    thoughts = [v for v in html_elements(at) if "tt-thought" in v]
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in v
               for v in thoughts)
    # with a keyword hit, the body is custom HTML: escaped first, then marked
    at = open_page(small_db, monkeypatch, conv="user4_task1_conversation1", q="alert")
    html = html_elements(at)
    assert any('&lt;script&gt;<mark class="tt-hit">alert</mark>(1)&lt;/script&gt;' in v
               for v in html)
    for value in html:
        assert "<script" not in value.lower() and "<img" not in value.lower()


# ------------------------------------------------------------------ semantic search


def test_semantic_search_returns_expected_item(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, sq="quantum tunnelling particles barriers")
    tables = [d.value for d in at.dataframe if "score" in d.value.columns]
    assert tables, "no semantic results table"
    top = tables[0].iloc[0]
    assert top["conversation"] == "user3_task1_conversation1" and int(top["turn"]) in (1, 2)
    assert "link" in tables[0].columns and "conv=user3_task1_conversation1" in top["link"]
    assert list(tables[0]["score"]) == sorted(tables[0]["score"], reverse=True)
    # restricted to the current filters
    at = open_page(small_db, monkeypatch, sq="quantum tunnelling particles barriers",
                   provider="OpenAI")
    assert set(result_table(at)["conversation"]) <= {"user1_task1_conversation1",
                                                     "user5_task1_conversation1"}


def test_search_links_to_its_hits_on_the_global_map(small_db, monkeypatch):
    """The semantic results and the keyword count link to the map tab of Semantic shifts
    with the same filters and searches (the map highlights them)."""
    at = open_page(small_db, monkeypatch, sq="quantum tunnelling", provider="OpenAI")
    caption = next(c.value for c in at.caption if "See the hits on the global map" in c.value)
    link = caption.split("](", 1)[1].split(")", 1)[0]
    assert link.startswith("shifts?") and "provider=OpenAI" in link
    assert "view=Global+map" in link and "sq=quantum+tunnelling" in link
    con = duckdb.connect(str(small_db), read_only=True)
    try:
        has_map = sv.availability(con)["shifts"]
    finally:
        con.close()
    at = open_page(small_db, monkeypatch, q="far too long")
    found = [v for v in html_elements(at) if ">on the map</a>" in v] + [
        m.value for m in at.markdown if ">on the map</a>" in m.value]
    if has_map:
        assert found and "q=far+too+long" in found[0] and "view=Global+map" in found[0]
    else:
        assert not found  # no map to show them on


def test_sequence_filter_marks_the_match_and_opens_at_it(small_db, monkeypatch):
    """user3: scope_fit on turn 2, social_and_others on turn 3. Opened without a turn
    under "scope fit then social", the transcript opens at turn 2 (URL, chip, scroll) and
    marks the two thoughts; a turn in the link wins; without the filter nothing is
    marked."""
    conv = "user3_task1_conversation1"
    at = open_page(small_db, monkeypatch, seq="scope_fit>social_and_others", conv=conv)
    assert query_param(at, "turn") == ["2"]
    caption = next(c.value for c in at.caption if "Sequence filter" in c.value)
    assert "2 thoughts make the match, at turns 2, 3" in caption
    assert "opened at turn 2, the first match" in caption
    html = html_elements(at)
    assert sum(v.count('class="tt-seq"') for v in html) == 2
    assert any("① sequence start" in v and 'data-label="scope_fit"' in v for v in html)
    assert any("② sequence end" in v and 'data-label="social_and_others"' in v for v in html)
    assert any('<span class="tt-linked">first match</span>' in v and 'data-anchor="turn-2"'
               in v for v in html)
    scripts = [h for h in at.html if "scrollIntoView" in h.value]
    assert len(scripts) == 1 and 'data-anchor="turn-2"' in scripts[0].value
    at = open_page(small_db, monkeypatch, seq="scope_fit>social_and_others", conv=conv,
                   turn="5")
    assert query_param(at, "turn") == ["5"]
    assert not any("opened at turn" in c.value for c in at.caption)
    at = open_page(small_db, monkeypatch, conv=conv)
    assert query_param(at, "turn") is None
    assert not any('class="tt-seq"' in v for v in html_elements(at))
    assert not [h for h in at.html if "scrollIntoView" in h.value]


def test_semantic_search_without_embeddings_says_how_to_build(plain_db, monkeypatch):
    at = open_page(plain_db, monkeypatch, sq="anything", conv="user1_task1_conversation1")
    assert any("without the embed stage" in w.value and "python -m precompute build"
               in w.value for w in at.warning)
    assert len(at.chat_message) == 4


def test_semantic_search_model_failure_is_an_error_message(small_db, monkeypatch):
    import precompute.embed as embed
    from components.ui import state

    def broken(model, device="auto"):
        raise OSError("model files not found")

    monkeypatch.setattr(embed, "load_embedder", broken)
    state.query_embedder.clear()  # an earlier test may have cached the fake model
    try:
        at = open_page(small_db, monkeypatch, sq="a query nobody embedded before")
        assert any("Could not embed the query" in e.value for e in at.error)
        assert set(listed(at)) == ALL  # the rest of the page still works
    finally:
        state.query_embedder.clear()


def test_similar_thoughts_exclude_the_thought_itself(small_db, monkeypatch):
    con = duckdb.connect(str(small_db), read_only=True)
    try:
        index = search.load_index(con)
        tid = con.execute("SELECT thought_id FROM thoughts WHERE label = 'scope_fit' "
                          "ORDER BY thought_id LIMIT 1").fetchall()[0][0]
    finally:
        con.close()
    near = search.similar(index, f"t:{tid}", k=10)
    at = open_page(small_db, monkeypatch, conv="user1_task1_conversation1")
    at.selectbox(key="br_sim").set_value(tid).run()
    assert not at.exception
    table = result_table(at)
    # the small corpus has 19 thoughts (4 + 2 + 5 + 2 + 6): 18 others, the nearest 10 listed
    assert near.height == 10 and len(table) == 10
    assert f"t:{tid}" not in set(near["item_id"].to_list())
    assert list(zip(table["conversation"], table["turn"])) == list(
        zip(near["conv_id"].to_list(), near["turn"].to_list()))


# ------------------------------------------------------------------ export


def test_export_buttons_are_on_the_page(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch)
    labels = [b.proto.label for b in at.get("download_button")]
    assert any("JSONL" in label for label in labels) and any("CSV" in label for label in labels)


# ------------------------------------------------------------------ #13: links and images


@pytest.fixture(scope="module")
def image_db(tmp_path_factory):
    """Three conversations; the first answer holds a remote image (a tracking pixel)."""
    from tests.corpus import conversation, write_jsonl

    d = tmp_path_factory.mktemp("images")
    recs = [conversation(f"user{i}_task1_conversation1",
                         [(f"question {i}", ["task_motivation"]),
                          ("here ![px](http://pixel.invalid/p.gif) it is" if i == 0
                           else "an answer", [])]) for i in range(3)]
    db = d / "img.duckdb"
    ingest_db(write_jsonl(d / "img.jsonl", recs), db)
    return db


def test_a_remote_image_is_a_placeholder_until_asked(image_db, monkeypatch):
    at = open_app(image_db, monkeypatch, "conversations", conv="user0_task1_conversation1")
    shown = " ".join(m.value for m in at.markdown)
    assert "from pixel.invalid: not loaded" in shown and "](http://pixel.invalid" not in shown
    button = next(b for b in at.button if "pixel.invalid" in b.label)
    button.click().run()
    shown = " ".join(m.value for m in at.markdown)
    assert "![px](http://pixel.invalid/p.gif)" in shown
    assert not any("pixel.invalid" in b.label for b in at.button)


@pytest.mark.parametrize("page, expected", [
    ("-5", "ignored page='-5'"), ("abc", "ignored page='abc'"),
    ("40", "page 40 is past the last page of this list (1)")])
def test_a_bad_page_in_the_link_gets_a_notice(image_db, monkeypatch, page, expected):
    at = open_app(image_db, monkeypatch, "conversations", params={"page": page})
    assert any(expected in i.value for i in at.info), [i.value for i in at.info]


def test_an_unknown_sort_in_the_link_gets_a_notice(image_db, monkeypatch):
    at = open_app(image_db, monkeypatch, "conversations", sort="-nonsense")
    assert any("ignored sort='-nonsense'" in i.value for i in at.info)
