"""The Conversation browser page (AppTest) and its modules: list, filters from the URL,
keyword and semantic search, transcript, escaping, similar thoughts, export round-trip."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components import browse, search, transcript
from components.filters import Filters
from precompute import pipeline
from precompute.config import Settings
from tests.corpus import REPO, SAMPLE, conversation, write_jsonl

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(1)>"
DIM = 64


class FakeEmbedder:
    """Deterministic bag-of-words vectors: texts sharing words are close."""

    model_name = "fake-bow"

    def encode(self, sentences, batch_size=64, **_):
        out = np.zeros((len(sentences), DIM), dtype=np.float32)
        for i, text in enumerate(sentences):
            for word in re.findall(r"[a-z]+", str(text).lower()):
                seed = int(hashlib.md5(word.encode()).hexdigest()[:8], 16)
                out[i] += np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
            if not out[i].any():
                out[i, 0] = 1.0
        return out


def _survey(age="31", gender="Female", education="Graduate", occupation="Teacher",
            frequency="4"):
    return [{"age": age, "gender": gender, "education": education, "occupation": occupation,
             "frequency": frequency, "purposes": "work"}]


def small_corpus() -> list:
    """Five conversations with known facets, labels, sequences and texts."""
    return [
        conversation("user1_task1_conversation1", [
            ("How do I bake sourdough bread at home?", ["task_motivation"]),
            ("Here is a recipe for sourdough.", ["explicit_affirmation"]),
            ("Make it shorter please, the answer was far too long", ["style_expectation"]),
            ("Shorter recipe.", ["scope_fit"]),
        ], model="GPT-5.4", provider="OpenAI", survey=_survey()),
        conversation("user2_task1_conversation1", [
            ("Plan a trip to Lisbon for me", ["task_motivation"]),
            ("A three day plan for Lisbon.", ["content_relevance"]),
        ], model="Claude Opus 4.6", provider="Anthropic",
            survey=_survey(age="52", gender="Male", education="High school", frequency="2")),
        conversation("user3_task1_conversation1", [
            ("Explain quantum tunnelling simply", ["task_motivation"]),
            ("Quantum tunnelling is when particles pass barriers.", ["scope_fit"]),
            ("Thanks, that helps", ["social_and_others"]),
            ("You are welcome.", []),
            ("One more question about electrons", ["task_continuation"]),
            ("Electrons tunnel too.", ["explicit_affirmation"]),
        ], model="Claude Opus 4.6", provider="Anthropic", survey=[]),
        conversation("user4_task1_conversation1", [
            ("Show me this HTML: " + HOSTILE, ["task_motivation"]),
            ("Here it is: " + HOSTILE, ["presentation_style"]),
        ], model="Gemini 3 Flash Preview", provider="Google",
            survey=_survey(age="366", gender="Female", education="Graduate", frequency="5")),
        conversation("user5_task1_conversation1", [
            ("Write a poem about the sea 100% original_work", ["task_motivation"]),
            ("The sea is wide and blue.", ["explicit_affirmation"]),
            ("Now in German", ["task_continuation"]),
            ("Das Meer ist weit.", ["explicit_affirmation"]),
            ("Thank you", ["social_and_others"]),
            ("Gern geschehen.", ["explicit_affirmation"]),
            ("Bye", []),
            ("Goodbye.", []),
        ], model="GPT-5.4", provider="OpenAI",
            survey=_survey(age="24", gender="Male", education="Undergraduate", frequency="5")),
    ]


ALL = {f"user{i}_task1_conversation1" for i in range(1, 6)}


def _build(source: Path, db: Path, stages=("ingest",), embedder=None) -> Path:
    kwargs = {"embedder": embedder} if embedder is not None else {}
    pipeline.build(Settings(source=str(source), db=db, progress=False), only=stages,
                   log=lambda _: None, **kwargs)
    return db


@pytest.fixture(scope="module")
def small_db(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("browser_small")
    src = write_jsonl(d / "small.jsonl", small_corpus())
    return _build(src, d / "small.duckdb", ("ingest", "embed"), FakeEmbedder())


@pytest.fixture(scope="module")
def plain_db(tmp_path_factory) -> Path:
    """The small corpus without the embed stage."""
    d = tmp_path_factory.mktemp("browser_plain")
    src = write_jsonl(d / "small.jsonl", small_corpus())
    return _build(src, d / "plain.duckdb")


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:
    if not SAMPLE.exists():
        pytest.skip("shared sample not present")
    d = tmp_path_factory.mktemp("browser_sample")
    return _build(SAMPLE, d / "sample.duckdb")


@pytest.fixture(autouse=True)
def fake_query_model(monkeypatch):
    """The app embeds queries with precompute.embed.load_embedder: use the fake."""
    import precompute.embed as embed
    monkeypatch.setattr(embed, "load_embedder", lambda model, device="auto": FakeEmbedder())


def open_page(db: Path, monkeypatch, **params) -> AppTest:
    monkeypatch.setenv("THOUGHTTRACE_DB", str(db))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page("views/browser.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def qp(at: AppTest, key: str) -> list[str] | None:
    """A URL parameter as a list of values (None when absent)."""
    if key not in at.query_params:
        return None
    value = at.query_params[key]
    return [value] if isinstance(value, str) else list(value)


def listed(at: AppTest) -> list[str]:
    frames = [df.value for df in at.dataframe if "conversation" in df.value.columns
              and "task summary" in df.value.columns]
    return list(frames[0]["conversation"]) if frames else []


def html_elements(at: AppTest) -> list[str]:
    """Every piece of custom HTML on the page: st.html and unsafe_allow_html markdown."""
    return [m.value for m in at.markdown if m.proto.allow_html] + [h.value for h in at.html]


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
    assert qp(at, "model") == ["GPT-5.4"] and qp(at, "q") == ["sea"]
    assert qp(at, "conv") == ["user5_task1_conversation1"] and qp(at, "turn") == ["3"]
    assert qp(at, "sort") == ["-messages"]
    assert at.text_input(key="q").value == "sea"
    assert at.selectbox(key="br_sort").value == "-messages"
    assert any("linked turn" in v for v in html_elements(at))
    # the header shows the participant; the sidebar reflects the URL filter
    assert any("user5_task1_conversation1" in v and "Undergraduate" in v
               for v in html_elements(at))
    assert at.sidebar.multiselect(key="f_models").value == ["GPT-5.4"]


@pytest.mark.parametrize("params, expected", [
    ({}, ALL),
    ({"model": "Claude Opus 4.6"}, {"user2_task1_conversation1", "user3_task1_conversation1"}),
    ({"provider": "OpenAI"}, {"user1_task1_conversation1", "user5_task1_conversation1"}),
    ({"msgs": "4-6"}, {"user1_task1_conversation1", "user3_task1_conversation1"}),
    ({"label": "scope_fit"}, {"user1_task1_conversation1", "user3_task1_conversation1"}),
    ({"seq": "scope_fit>social_and_others"}, {"user3_task1_conversation1"}),
    ({"seq": "social_and_others>scope_fit"}, set()),
    ({"gender": "Male"}, {"user2_task1_conversation1", "user5_task1_conversation1"}),
    ({"gender": "(missing)"}, {"user3_task1_conversation1"}),
    ({"age": "(missing)"}, {"user3_task1_conversation1", "user4_task1_conversation1"}),
    ({"age": "45-54"}, {"user2_task1_conversation1"}),
    ({"edu": "Graduate"}, {"user1_task1_conversation1", "user4_task1_conversation1"}),
    ({"freq": "5"}, {"user4_task1_conversation1", "user5_task1_conversation1"}),
])
def test_each_filter_narrows_the_list(small_db, monkeypatch, params, expected):
    at = open_page(small_db, monkeypatch, **params)
    assert set(listed(at)) == expected
    if not expected:
        assert any("No conversations match" in i.value for i in at.info)


def test_sorting_and_paging(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, sort="-messages")
    assert listed(at)[0] == "user5_task1_conversation1"
    assert listed(at)[-1] == "user4_task1_conversation1" or listed(at)[-1] == \
        "user2_task1_conversation1"
    con = duckdb.connect(str(small_db), read_only=True)
    try:
        p1 = browse.conversation_page(con, Filters(), "", "id", False, 1, 2)
        p3 = browse.conversation_page(con, Filters(), "", "id", False, 3, 2)
        assert list(p1["conv_id"]) == sorted(ALL)[:2] and list(p3["conv_id"]) == sorted(ALL)[4:]
        # an unknown sort key falls back to the id (never reaches SQL)
        bad = browse.conversation_page(con, Filters(), "", "1; DROP TABLE x", True, 1, 5)
        assert list(bad["conv_id"]) == sorted(ALL, reverse=True)
    finally:
        con.close()


def test_page_from_url_and_reset_on_sort_change(small_db, monkeypatch):
    monkeypatch.setattr(browse, "PAGE_SIZE", 2)
    at = open_page(small_db, monkeypatch, page="2")
    assert listed(at) == sorted(ALL)[2:4] and qp(at, "page") == ["2"]
    at.selectbox(key="br_sort").set_value("-id").run()
    assert listed(at) == sorted(ALL, reverse=True)[:2]
    assert qp(at, "page") is None and qp(at, "sort") == ["-id"]


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
    assert qp(at, "conv") == ["user3_task1_conversation1"]
    assert at.button(key="br_next").disabled
    at.button(key="br_prev").click().run()
    assert qp(at, "conv") == ["user2_task1_conversation1"]


# ------------------------------------------------------------------ transcript

def test_transcript_shows_every_thought_in_order_under_its_message(sample_db, monkeypatch):
    con = duckdb.connect(str(sample_db), read_only=True)
    conv_id = con.execute("SELECT conv_id FROM conversations ORDER BY n_thoughts DESC, "
                          "conv_id LIMIT 1").fetchone()[0]
    expected = con.execute("SELECT turn, thought_id FROM thoughts WHERE conv_id = ? "
                           "ORDER BY turn, idx", [conv_id]).fetchall()
    n_msgs = con.execute("SELECT n_messages FROM conversations WHERE conv_id = ?",
                         [conv_id]).fetchone()[0]
    con.close()
    at = open_page(sample_db, monkeypatch, conv=conv_id)
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
    assert head.count("—") >= 5
    at = open_page(small_db, monkeypatch, conv="user4_task1_conversation1")
    head = next(v for v in html_elements(at) if 'class="tt-head"' in v)
    assert "raw age 366" in head


def test_thought_chip_has_display_name_meaning_and_colour(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, conv="user1_task1_conversation1")
    html = " ".join(html_elements(at))
    assert 'title="Scope Fit: unhappy with how much: length, detail, breadth"' in html
    assert "#44AA99" in html  # LABEL_COLORS["scope_fit"]


def test_long_message_is_collapsed():
    text = ("para one. " * 100 + "\n\n") * 4
    head, rest = transcript.split_long(text)
    assert len(head) <= transcript.COLLAPSE_CHARS and rest
    assert "".join((head + rest).split()) == "".join(text.split())  # nothing lost
    fenced = "intro\n\n```\n" + "code line\n" * 300 + "```\nafter"
    head, rest = transcript.split_long(fenced)
    assert head.count("```") % 2 == 0 and rest.startswith("```")
    assert transcript.split_long("short") == ("short", "")


# ------------------------------------------------------------------ keyword search + escaping

def test_keyword_search_finds_a_known_phrase(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, q="FAR TOO long")
    assert listed(at) == ["user1_task1_conversation1"]
    frame = at.dataframe[0].value
    assert int(frame["hits"].iloc[0]) == 2  # the message and its reason
    at = open_page(small_db, monkeypatch, q="far too long", conv="user1_task1_conversation1")
    marked = [v for v in html_elements(at) if '<mark class="tt-hit">' in v]
    assert any('<mark class="tt-hit">far too long</mark>' in v for v in marked)


def test_keyword_wildcards_are_literal(small_db, monkeypatch):
    con = duckdb.connect(str(small_db), read_only=True)
    try:
        assert browse.count_matches(con, Filters(), "100%")[0] == 1
        assert browse.count_matches(con, Filters(), "original_work")[0] == 1
        assert browse.count_matches(con, Filters(), "%")[0] == 1
        assert browse.count_matches(con, Filters(), "_")[0] == 1
        assert browse.count_matches(con, Filters(), "o_i")[0] == 0
        assert browse.count_matches(con, Filters(), "\\")[0] == 0
    finally:
        con.close()
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


def test_highlight_never_breaks_entities():
    out = transcript.highlight('a <b> & "amp" lt', "amp")
    assert out == 'a &lt;b&gt; &amp; &quot;<mark class="tt-hit">amp</mark>&quot; lt'
    assert transcript.highlight("x<y", "<") == 'x<mark class="tt-hit">&lt;</mark>y'


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
    table = next(d.value for d in at.dataframe if "score" in d.value.columns)
    assert set(table["conversation"]) <= {"user1_task1_conversation1",
                                          "user5_task1_conversation1"}


def test_semantic_search_without_embeddings_says_how_to_build(plain_db, monkeypatch):
    at = open_page(plain_db, monkeypatch, sq="anything", conv="user1_task1_conversation1")
    assert any("without the embed stage" in w.value and "python -m precompute build"
               in w.value for w in at.warning)
    assert len(at.chat_message) == 4


def test_semantic_search_model_failure_is_an_error_message(small_db, monkeypatch):
    import precompute.embed as embed

    def broken(model, device="auto"):
        raise OSError("model files not found")
    from components import state

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
                          "ORDER BY thought_id LIMIT 1").fetchone()[0]
    finally:
        con.close()
    near = search.similar(index, f"t:{tid}", k=10)
    assert 0 < len(near) <= 10 and f"t:{tid}" not in set(near["item_id"])
    assert set(near["kind"]) <= {"reason", "reaction"}
    assert list(near["score"]) == sorted(near["score"], reverse=True)
    at = open_page(small_db, monkeypatch, conv="user1_task1_conversation1")
    at.selectbox(key="br_sim").set_value(tid).run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "score" in d.value.columns)
    assert len(table) == len(near)
    assert list(zip(table["conversation"], table["turn"])) == list(
        zip(near["conv_id"], near["turn"]))


# ------------------------------------------------------------------ export

def _core(db: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table, order in (("conversations", "conv_id"), ("messages", "conv_id, turn"),
                             ("thoughts", "thought_id")):
            df = con.execute(f"SELECT * FROM {table} ORDER BY {order}").df()
            out[table] = df.drop(columns=[c for c in ("domain", "subtopic") if c in df])
        return out
    finally:
        con.close()


def test_export_round_trips_the_sample(sample_db, tmp_path):
    con = duckdb.connect(str(sample_db), read_only=True)
    try:
        data = browse.export_jsonl(con, Filters())
        csv = browse.export_thoughts_csv(con, Filters())
    finally:
        con.close()
    lines = data.decode("utf-8").splitlines()
    assert len(lines) == 20
    first = json.loads(lines[0])
    assert list(first) == ["id", "messages", "model_name", "model_provider", "created_at",
                           "updated_at", "task_summary", "task_expectation", "survey_answers"]
    assert set(first["messages"][0]) == {"content", "timestamp", "type", "id", "reasons"}
    path = tmp_path / "exported.jsonl"
    path.write_bytes(data)
    again = _build(path, tmp_path / "again.duckdb")
    a, b = _core(sample_db), _core(again)
    for table in a:
        pd.testing.assert_frame_equal(a[table], b[table], check_dtype=True, obj=table)
    thoughts = pd.read_csv(pd.io.common.BytesIO(csv))
    assert len(thoughts) == 310 and {"conv_id", "turn", "label", "content"} <= set(thoughts)


def test_export_follows_filters_and_keeps_missing_survey(small_db, tmp_path):
    con = duckdb.connect(str(small_db), read_only=True)
    try:
        data = browse.export_jsonl(con, Filters(models=("Claude Opus 4.6",)))
    finally:
        con.close()
    recs = [json.loads(line) for line in data.decode().splitlines()]
    assert [r["id"] for r in recs] == ["user2_task1_conversation1", "user3_task1_conversation1"]
    assert recs[1]["survey_answers"] == []
    assert recs[0]["survey_answers"][0]["frequency"] == "2"
    assert recs[1]["messages"][3]["reactions"] == []


def test_export_buttons_are_on_the_page(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch)
    labels = [b.proto.label for b in at.get("download_button")]
    assert any("JSONL" in label for label in labels) and any("CSV" in label for label in labels)
