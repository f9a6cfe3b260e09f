"""Hostile input, generated in code: every line of a dataset somebody else produced gets a
clear error or is stored and shown safely (AppTest, every page), and ingest never crashes.

Covers invalid UTF-8, a 5 MB message, 10,000 messages in one conversation, empty
conversations, unknown labels, labels in another case, ids with path / SQL characters,
markdown / HTML / JS payloads, emoji and right-to-left text, numbers where strings belong;
plus a hypothesis property test over the record schema.
"""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from streamlit.testing.v1 import AppTest

from precompute import pipeline
from precompute.config import Settings
from precompute.ingest import IngestError, ingest_file, ingest_lines
from precompute.labels import REACTION_CODES, REASON_CODES
from tests.apptest import PAGE_SCRIPTS, html_elements, open_app
from tests.corpus import conversation, write_jsonl

XSS = ('<script>alert("x")</script><img src=x onerror=alert(1)>'
       '<svg onload=alert(2)><iframe src="javascript:alert(3)"></iframe>')
MD = ("# Heading\n\n[click me](javascript:alert(4)) ![img](http://127.0.0.1/x.png)\n\n"
      "```html\n<script>alert(5)</script>\n```\n\n| a | b |\n|---|---|\n| <b>1</b> | 2 |")
RTL = "مرحبا بالعالم — שלום עולם \u202eevil\u202c 👩🏽‍💻🧪🇺🇦 \u200d\u0000x"
BIG = 5 * 1024 * 1024

ID_PATH = "user1_../../etc/passwd"
ID_SQL = "user2_'; DROP TABLE conversations;--"
ID_XSS = 'user3_<img src=x onerror=alert(1)>"&'
ID_RTL = "user4_\u202eRTL_مرحبا_👩🏽‍💻"
ID_BIG = "user5_big"
ID_NUM = "user6_numbers"
ID_CASE = "user7_Label_Case"


def hostile_record() -> dict:
    """One valid conversation whose every text field is an HTML / JS / markdown payload."""
    xss = conversation(ID_XSS, [(XSS, ["task_motivation"]), (MD, ["presentation_style"]),
                                (XSS + MD, ["content_expectation"]), ("ok", [])],
                       model=XSS, provider=MD, summary=XSS)
    for m in xss["messages"]:
        for t in m.get("reasons") or m.get("reactions") or []:
            t["content"] = XSS + " / " + MD
    xss["task_expectation"] = MD
    xss["survey_answers"][0].update(occupation=XSS, gender=RTL)
    return xss


def _records() -> list:
    """(record or raw line) in file order; which lines are stored is asserted below."""
    xss = hostile_record()
    rtl = conversation(ID_RTL, [(RTL, ["social_and_others"]), (RTL * 3, ["scope_fit"])],
                       model="نموذج 👾", summary=RTL)
    path = conversation(ID_PATH, [("path id", ["task_motivation"]), ("a", [])])
    sql = conversation(ID_SQL, [("sql id", ["task_motivation"]), ("a", [])],
                       model="Robert'); DROP TABLE conversations;--")
    big = conversation(ID_BIG, [("x" * BIG, ["task_motivation"]), ("short answer", [])])
    nums = conversation(ID_NUM, [("numbers", ["task_motivation"]), ("a", [])],
                        survey=[{"age": 31, "gender": 7, "education": 1.5, "occupation": 0,
                                 "frequency": 4, "purposes": 2}])
    nums["model_name"], nums["model_provider"], nums["task_summary"] = 42, 3.5, 7
    odd_age = conversation("user14_odd_age", [("age", [])],
                           survey=[{"age": "²", "frequency": "٣"}])
    long_age = conversation("user15_long_age", [("age", [])], survey=[{"age": "9" * 5000}])
    case = conversation(ID_CASE, [("case", ["TASK_MOTIVATION"]),
                                  ("a", ["Explicit Affirmation"]),
                                  ("b", ["style-expectation"]), ("c", ["Scope_Fit"])])
    # rejected records
    empty = conversation("user8_empty", [])
    no_msgs = conversation("user9_nomsgs", [("a", [])])
    no_msgs["messages"] = None
    unknown = conversation("user10_unknown_label", [("a", ["task_motivation"]),
                                                    ("b", ["very_happy"])])
    num_content = conversation("user11_numeric_content", [("a", [])])
    num_content["messages"][0]["content"] = 12345
    num_id = conversation("x", [("a", [])])
    num_id["id"] = 12345
    bool_label = conversation("user12_bool_label", [("a", [])])
    bool_label["messages"][0]["reasons"] = [{"content": "c", "label": True}]
    return [
        xss,                                        # 1 stored
        rtl,                                        # 2 stored
        path,                                       # 3 stored
        sql,                                        # 4 stored
        big,                                        # 5 stored
        nums,                                       # 6 stored (warnings)
        case,                                       # 7 stored (warnings)
        b"\xc3\x28 invalid \xff utf-8",             # 8 error
        b'{"id": "user13_bad\xed\xa0\x80"}',        # 9 error (surrogate: invalid UTF-8)
        empty,                                      # 10 error
        no_msgs,                                    # 11 error
        unknown,                                    # 12 stored, that thought skipped
        num_content,                                # 13 stored, the number as text
        num_id,                                     # 14 error
        bool_label,                                 # 15 stored, that thought skipped
        "",                                         # 16 blank
        "[1, 2, 3]",                                # 17 error (not an object)
        "   ",                                      # 18 blank
        '"just a string"',                          # 19 error
        "{" * 5000 + "}" * 5000,                    # 20 error (nesting / JSON)
        odd_age,                                    # 21 stored (warnings)
        long_age,                                   # 22 stored (warnings)
    ]


STORED = [ID_XSS, ID_RTL, ID_PATH, ID_SQL, ID_BIG, ID_NUM, ID_CASE, "user10_unknown_label",
          "user11_numeric_content", "user12_bool_label", "user14_odd_age", "user15_long_age"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    src = write_jsonl(d / "hostile.jsonl", _records())
    db = d / "hostile.duckdb"
    pipeline.build(Settings(source=str(src), db=db, progress=False), only=("ingest",),
                   log=lambda _: None)
    return {"src": src, "db": db}


def test_each_hostile_line_is_stored_or_reported(hostile):
    res = ingest_file(hostile["src"])
    assert list(res.conversations["conv_id"]) == STORED
    errors = {p.line for p in res.errors}
    assert errors == {8, 9, 10, 11, 14, 17, 19, 20}
    assert res.lines_in == 22 == res.records_stored + res.records_skipped + res.blank_lines
    by_line = {p.line: p.message for p in res.errors}
    assert "invalid UTF-8" in by_line[8] and "invalid UTF-8" in by_line[9]
    assert "at least one message" in by_line[10]
    # a bad thought or content keeps the record, with a warning naming the field
    warned = {(p.line, p.field): p.message for p in res.warnings}
    assert "very_happy" in warned[(12, "messages[1].reactions[0].label")]
    assert "got bool true; thought skipped" in warned[(15, "messages[0].reasons[0].label")]
    assert "got number 12345; kept as text" in warned[(13, "messages[0].content")]
    assert "expected a JSON object" in by_line[17] and "expected a JSON object" in by_line[19]
    # payloads are data: stored verbatim, never stripped or altered
    msgs = res.messages.set_index(["conv_id", "turn"])["content"]
    assert msgs[(ID_XSS, 1)] == XSS and msgs[(ID_XSS, 2)] == MD
    assert msgs[(ID_RTL, 1)] == RTL
    assert len(msgs[(ID_BIG, 1)]) == BIG
    conv = res.conversations.set_index("conv_id")
    # numbers where strings belong: kept as text, with a warning each
    assert conv.loc[ID_NUM, "model_name"] == "42" and conv.loc[ID_NUM, "gender"] == "7"
    assert conv.loc[ID_NUM, "ai_frequency"] == 4 and conv.loc[ID_NUM, "age_bracket"] == "25-34"
    warned = {p.field for p in res.warnings if p.conv_id == ID_NUM}
    assert {"model_name", "model_provider", "task_summary", "survey_answers[0].gender"} <= warned
    # labels in another case / spelling: normalized with a warning
    th = res.thoughts[res.thoughts["conv_id"] == ID_CASE]
    assert list(th["label"]) == ["task_motivation", "explicit_affirmation",
                                 "style_expectation", "scope_fit"]
    assert sum(p.conv_id == ID_CASE and "normalized" in p.message for p in res.warnings) == 4
    # digit-like ages int() rejects ("²", 5,000 digits): raw text kept, no bracket, a warning
    for cid in ("user14_odd_age", "user15_long_age"):
        assert pd.isna(conv.loc[cid, "age_bracket"])
        assert any(p.conv_id == cid and "age" in p.field for p in res.warnings)
    assert conv.loc["user14_odd_age", "age"] == "²"
    assert pd.isna(conv.loc["user14_odd_age", "ai_frequency"])
    # a rejected record is kept verbatim (capped), so nothing is lost
    assert sorted(res.rejected["line"]) == sorted(errors)


def test_pipeline_stores_counts_and_provenance(hostile):
    con = duckdb.connect(str(hostile["db"]), read_only=True)
    try:
        assert con.execute("SELECT lines_in, records_stored, records_skipped, blank_lines "
                           "FROM provenance").fetchall() == [(22, 12, 8, 2)]
        assert sorted(r[0] for r in con.execute("SELECT conv_id FROM conversations")
                      .fetchall()) == sorted(STORED)
        assert con.execute("SELECT count(*) FROM rejected_records").fetchall() == [(8,)]
        assert con.execute("SELECT length(content) FROM messages WHERE conv_id = ? AND "
                           "turn = 1", [ID_BIG]).fetchall() == [(BIG,)]
        # the rejected line that is 10,000 characters long is stored in full (under the cap)
        assert con.execute("SELECT max(length(raw)) FROM rejected_records").fetchall() \
            == [(10_000,)]
    finally:
        con.close()


def test_strict_mode_names_the_first_bad_line(hostile):
    with pytest.raises(IngestError, match=r"hostile.jsonl:8 .*UTF-8"):
        ingest_file(hostile["src"], strict=True)


# ------------------------------------------------------------------ shown safely in the app

DANGEROUS_TAGS = {"script", "img", "svg", "iframe", "object", "embed", "link", "meta",
                  "form", "input", "base", "video", "audio"}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def live_markup(fragment: str) -> list[str]:
    """Dangerous tags and event-handler / javascript: attributes that a browser would act on
    in ``fragment`` (escaped text like ``&lt;script&gt;`` is not markup)."""
    parser = _Tags()
    parser.feed(fragment)
    bad = []
    for tag, attrs in parser.tags:
        if tag in DANGEROUS_TAGS:
            bad.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                bad.append(f"<{tag} {name}={value!r}>")
    return bad


def _open(db, monkeypatch, page="conversations", **params) -> AppTest:
    """The app at ``page`` (a `tests.apptest.PAGE_SCRIPTS` key); no exception, no error."""
    at = open_app(db, monkeypatch, page, timeout=120, **params)
    assert not [e.value for e in at.error]
    return at


def test_live_markup_detector():
    assert live_markup(XSS)
    assert live_markup('<a href="javascript:alert(1)">x</a>')
    assert not live_markup("&lt;script&gt;alert(1)&lt;/script&gt; onerror=alert(1)")
    assert not live_markup('<div class="tt-thought" data-label="x">text</div>')


@pytest.mark.parametrize("conv_id", [ID_XSS, ID_RTL, ID_PATH, ID_SQL, ID_NUM, ID_CASE])
def test_stored_payloads_render_escaped(hostile, monkeypatch, conv_id):
    at = _open(hostile["db"], monkeypatch, conv=conv_id, q="" if conv_id != ID_XSS else "alert")
    con = duckdb.connect(str(hostile["db"]), read_only=True)
    n_msgs = con.execute("SELECT n_messages FROM conversations WHERE conv_id = ?",
                         [conv_id]).fetchall()[0][0]
    con.close()
    assert len(at.chat_message) == n_msgs
    html_parts = html_elements(at)
    for part in html_parts:
        assert not live_markup(part), (conv_id, live_markup(part))
    # the header shows the id itself, escaped
    import html as _html
    assert any(f"<h4>{_html.escape(conv_id)}</h4>" in p for p in html_parts)
    # the URL keeps the exact id
    assert at.query_params["conv"] in (conv_id, [conv_id])
    if conv_id == ID_XSS:
        # with a keyword the body is plain escaped text with <mark> hits
        assert any("&lt;script&gt;" in p and '<mark class="tt-hit">alert</mark>' in p
                   for p in html_parts)
    if conv_id == ID_RTL:
        assert any("مرحبا" in p for p in html_parts + [m.value for m in at.markdown])


@pytest.mark.parametrize("page", sorted(PAGE_SCRIPTS))
def test_every_page_on_the_hostile_db_leaks_no_markup(hostile, monkeypatch, page):
    at = _open(hostile["db"], monkeypatch, page)
    for part in html_elements(at):
        assert not live_markup(part), (page, live_markup(part))


def test_five_megabyte_message_is_collapsed(hostile, monkeypatch):
    """The DB keeps all 5 MB; the transcript shows the first `COLLAPSE_CHARS` (1,500)
    characters (the text has no line break or space to cut at, so exactly that many) and
    puts the other 5,241,380 behind one "Show more" expander that says how many."""
    from components.figures.transcript import COLLAPSE_CHARS

    con = duckdb.connect(str(hostile["db"]), read_only=True)
    try:
        stored = con.execute("SELECT length(content) FROM messages WHERE conv_id = ? "
                             "AND turn = 1", [ID_BIG]).fetchall()
    finally:
        con.close()
    assert stored == [(BIG,)]
    at = _open(hostile["db"], monkeypatch, conv=ID_BIG)
    first = at.chat_message[0]
    rest = BIG - COLLAPSE_CHARS
    assert COLLAPSE_CHARS == 1500 and rest == 5_241_380
    assert [e.label for e in first.expander] == [f"Show more ({rest:,} more characters)"]
    (more,) = first.expander
    behind = [m.value for m in more.markdown]
    assert behind == ["x" * rest]
    # the message body outside the expander: the head alone
    body = [m.value for m in first.markdown if not m.proto.allow_html]
    assert sorted(map(len, body)) == [COLLAPSE_CHARS, rest]
    assert body.count("x" * COLLAPSE_CHARS) == 1


def test_ten_thousand_messages_ingest_and_render(tmp_path, monkeypatch):
    n = 10_000
    turns = [(f"message {i}", ["task_continuation"] if i % 2 == 0 else
              ["explicit_affirmation"]) for i in range(n)]
    src = write_jsonl(tmp_path / "long.jsonl", [conversation("user1_long", turns)])
    res = ingest_file(src)
    assert len(res.messages) == n and len(res.thoughts) == n
    assert res.conversations.iloc[0]["n_messages"] == n
    db = tmp_path / "long.duckdb"
    pipeline.build(Settings(source=str(src), db=db, progress=False), only=("ingest",),
                   log=lambda _: None)
    # the transcript shows a window of turns, the linked turn's window first
    at = _open(db, monkeypatch, conv="user1_long")
    assert len(at.chat_message) == 200
    assert "turn 1 " in at.chat_message[0].markdown[0].value.lower() or \
        "#turn-1" in at.chat_message[0].markdown[0].value
    at = _open(db, monkeypatch, conv="user1_long", turn="9500")
    assert len(at.chat_message) == 200
    heads = " ".join(m.markdown[0].value for m in at.chat_message)
    assert "turn-9500" in heads and "turn-9401" in heads and "turn-9600" in heads
    assert any("10,000 messages" in sb.label for sb in at.selectbox)


# ------------------------------------------------------------------ property test

LABELS = sorted(REASON_CODES | REACTION_CODES)
text = hs.text(max_size=30)
junk = hs.one_of(hs.none(), hs.integers(-5, 10**6), hs.floats(allow_nan=True), hs.booleans(),
                 text, hs.lists(hs.integers(), max_size=2),
                 hs.dictionaries(text, text, max_size=2))
TS = hs.sampled_from(["2026-04-12T01:00:00Z", "2026-04-12T00:52:57.905000+00:00", None])


def spelled(codes):
    """A label as the data may spell it: exact, upper case, or with spaces / hyphens."""
    code = hs.sampled_from(sorted(codes))
    return hs.one_of(code, code, code.map(str.upper),
                     code.map(lambda s: s.replace("_", " ").title()),
                     code.map(lambda s: s.replace("_", "-")))


def thoughts(codes):
    return hs.one_of(hs.none(), hs.lists(hs.fixed_dictionaries(
        {"content": text, "label": spelled(codes), "timestamp": TS}), max_size=3))


user_msg = hs.fixed_dictionaries({"type": hs.just("user"), "content": text, "timestamp": TS,
                                  "id": hs.integers(0, 10**6), "reasons": thoughts(REASON_CODES)},
                                 optional={"reactions": hs.sampled_from([None, []])})
assistant_msg = hs.fixed_dictionaries({"type": hs.just("assistant"), "content": text,
                                       "timestamp": TS, "id": hs.integers(0, 10**6),
                                       "reactions": thoughts(REACTION_CODES)},
                                      optional={"reasons": hs.sampled_from([None, []])})
valid_record = hs.fixed_dictionaries(
    {"id": hs.text(min_size=1, max_size=20).map(lambda s: f"user{s}"),
     "messages": hs.lists(hs.one_of(user_msg, assistant_msg), min_size=1, max_size=6)},
    optional={"model_name": text, "model_provider": text, "task_summary": text,
              "task_expectation": text, "created_at": TS, "updated_at": TS,
              "survey_answers": hs.lists(hs.fixed_dictionaries(
                  {}, optional={k: hs.one_of(text, hs.integers(0, 120)) for k in
                                ("age", "gender", "education", "occupation", "frequency",
                                 "purposes")}), max_size=1)})


@hs.composite
def subtly_invalid(draw):
    """A valid record with one thing wrong: a value of the wrong type, a missing key, an
    unknown label, a thought on the wrong role, a bad timestamp (anywhere in the tree)."""
    rec = draw(valid_record)
    msgs = rec["messages"]
    i = draw(hs.integers(0, len(msgs) - 1))
    msg = msgs[i]
    own = "reasons" if msg["type"] == "user" else "reactions"
    choice = draw(hs.sampled_from(["top", "drop_top", "msg", "drop_msg", "label",
                                   "wrong_role", "time", "thought"]))
    if choice == "top":
        rec[draw(hs.sampled_from(["id", "messages", "model_name", "task_summary",
                                  "created_at", "survey_answers"]))] = draw(junk)
    elif choice == "drop_top":
        rec.pop(draw(hs.sampled_from(["id", "messages", "model_name"])), None)
    elif choice == "msg":
        msg[draw(hs.sampled_from(["type", "content", "id", own, "timestamp"]))] = draw(junk)
    elif choice == "drop_msg":
        msg.pop(draw(hs.sampled_from(["type", "content", own])), None)
    elif choice == "label":
        msg[own] = [{"content": "x", "label": draw(hs.one_of(text, junk))}]
    elif choice == "wrong_role":
        other = "reactions" if own == "reasons" else "reasons"
        msg[other] = [{"content": "x", "label": draw(hs.sampled_from(LABELS))}]
    elif choice == "time":
        msg["timestamp"] = draw(hs.sampled_from(["yesterday", "2026-13-45", ""]))
    else:
        msgs[i] = draw(junk)
    return rec


record = hs.one_of(valid_record, valid_record, subtly_invalid())
line = hs.one_of(record.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8",
                                                                               "surrogatepass")),
                 record.map(lambda r: json.dumps(r).encode()),
                 record.map(lambda r: json.dumps(r).encode()[:-3]),  # truncated line
                 hs.binary(max_size=40), hs.just(b""), hs.just(b"  "),
                 junk.map(lambda v: json.dumps(v).encode()))


def _expected_counts(raw: bytes) -> tuple[int, int] | None:
    """(usable messages, usable thoughts) of the record on this line, when it can be decoded:
    a message object of type user / assistant, a thought object in its own list with a
    label of its kind (a bad one is skipped with a warning, the record kept)."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    msgs = obj.get("messages") if isinstance(obj, dict) else None
    if not isinstance(msgs, list):
        return None
    n_msg = n_th = 0
    for m in msgs:
        if not isinstance(m, dict) or m.get("type") not in ("user", "assistant"):
            continue
        n_msg += 1
        own = "reasons" if m["type"] == "user" else "reactions"
        codes = REASON_CODES if own == "reasons" else REACTION_CODES
        for th in m.get(own) if isinstance(m.get(own), list) else []:
            label = th.get("label") if isinstance(th, dict) else None
            if isinstance(label, str) and (label.strip().lower().replace(" ", "_")
                                           .replace("-", "_")) in codes:
                n_th += 1
    return n_msg, n_th


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=hs.lists(line, max_size=8), strict=hs.booleans())
def test_ingest_never_crashes_and_accounts_for_every_line(lines, strict):
    original = copy.deepcopy(lines)
    try:
        res = ingest_lines(lines, file="gen.jsonl", strict=strict)
    except IngestError as exc:
        assert strict, f"IngestError outside strict mode: {exc}"
        assert "gen.jsonl:" in str(exc)
        return
    assert lines == original  # input not mutated
    assert res.lines_in == len(lines)
    assert res.lines_in == res.records_stored + res.records_skipped + res.blank_lines
    assert res.blank_lines == sum(1 for raw in lines if not raw.strip())
    if strict:
        assert res.records_skipped == 0
    # every skipped line has an error on it; every error is on a skipped line
    skipped = set(res.rejected["line"])
    assert skipped == {p.line for p in res.errors}
    # every stored record holds exactly what its line holds
    stored_lines = dict(zip(res.conversations["conv_id"], res.conversations["source_line"]))
    assert len(stored_lines) == res.records_stored
    n_msgs = res.messages.groupby("conv_id").size().to_dict()
    n_ths = res.thoughts.groupby("conv_id").size().to_dict()
    for conv_id, lineno in stored_lines.items():
        expected = _expected_counts(lines[lineno - 1])
        assert expected is not None
        conv = res.conversations.set_index("conv_id").loc[conv_id]
        assert conv["n_messages"] == expected[0] == n_msgs.get(conv_id, 0)
        assert conv["n_thoughts"] == expected[1] == n_ths.get(conv_id, 0)
        assert isinstance(conv_id, str) and conv_id.strip()
    assert len(res.messages) == sum(n_msgs.values())
    assert set(res.thoughts["label"]) <= set(LABELS)
