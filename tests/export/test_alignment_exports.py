"""The alignment and user-modelling exports (`components.export.data`: pairs, simulator):
records counted by hand on tiny corpora built here (words exactly 5 vs 6, conversations of
1, 2, 20 and 21 messages, a dissatisfaction reaction on the last message, the
message-guided variant, history truncation, reasons and reactions on the right record),
a round trip (the JSONL parsed back rebuilds the counts made independently from the raw
records), the shared sample against an independent count over its raw JSONL, the command
line as a user runs it, and the Conversations page's count and buttons (AppTest)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb
import pytest

import cli
from components.export import data as exports
from components.filters import Filters
from tests.apptest import open_app
from tests.corpus import REPO, ingest_db, message, thought, write_jsonl

DISSATISFIED = {"content_relevance", "presentation_style", "scope_fit"}
OPUS = "Claude Opus 4.6"
SIX = "one two three four five six"
FIVE = "one two three four five"
#: Six words for str.split(): a no-break space separates the last two.
SIX_NBSP = "alpha beta gamma delta epsilon\u00a0zeta"
#: Five words for str.split(): a zero-width space is no whitespace.
FIVE_ZWSP = "alpha beta gamma delta epsilon\u200bzeta"
#: Six words across tabs, newlines and runs of spaces.
SIX_SPACED = "  spaced\tout\nwords  across   six lines "


def record(conv_id: str, msgs: list[dict], model: str = "GPT-5.4") -> dict:
    """A release record with these messages (ids numbered in order)."""
    for i, m in enumerate(msgs):
        m["id"] = 1000 + i
    return {"id": conv_id, "messages": msgs, "model_name": model,
            "model_provider": "Anthropic" if model == OPUS else "OpenAI",
            "created_at": "2026-04-12T00:52:57.905000+00:00",
            "updated_at": "2026-04-12T01:21:30.734000+00:00",
            "task_summary": "a task", "task_expectation": "an answer", "survey_answers": []}


def alternating(n: int, reactions: dict[int, list[tuple[str, str]]] | None = None,
                reasons: dict[int, list[tuple[str, str]]] | None = None,
                texts: dict[int, str] | None = None, first: str = "user") -> list[dict]:
    """``n`` messages, user and assistant in turn (``first`` at turn 1); thoughts and
    texts by turn (1-based): ``{turn: [(label, content)]}``."""
    other = {"user": "assistant", "assistant": "user"}
    out = []
    for turn in range(1, n + 1):
        role = first if turn % 2 == 1 else other[first]
        pool = (reasons if role == "user" else reactions) or {}
        labels = [thought(lab, text) for lab, text in pool.get(turn, [])]
        out.append(message(role, (texts or {}).get(turn, f"{role} says {turn}"), labels))
    return out


def pairs_corpus() -> list[dict]:
    """Five conversations; by hand, with the defaults (>= 6 words, 2-20 messages):
    2 msgs: 1 pair (turn 2, the last message: no next user message);
    20 msgs: 4 pairs (turn 2; turn 10 twice: NBSP six and spaced six, not the ZWSP five;
    turn 20, the last) -- turn 4 has exactly 5 words, turns 6 and 8 are no dissatisfaction;
    4 msgs (Opus): 1 pair (turn 2); 1 msg and 21 msgs: none (outside 2-20)."""
    return [
        record("user1_task1_conversation1", [message(
            "assistant", "a lone answer", [thought("scope_fit", "this was far too long "
                                                   "for me")])]),
        record("user2_task1_conversation1",
               alternating(2, reactions={2: [("content_relevance", "it missed the point I "
                                              "asked")]})),
        record("user3_task1_conversation1", alternating(20, reactions={
            2: [("presentation_style", SIX)],
            4: [("scope_fit", FIVE)],
            6: [("explicit_affirmation", "great answer, thank you so much for this")],
            8: [("partial_satisfaction", "helpful but it left out the second half")],
            10: [("content_relevance", SIX_NBSP), ("scope_fit", FIVE_ZWSP),
                 ("presentation_style", SIX_SPACED)],
            20: [("content_relevance", "the last answer still ignored my actual question")]},
            reasons={1: [("task_motivation", "I need help with a task today")]},
            texts={3: "no, shorter please", 11: "   "}), model=OPUS),
        record("user4_task1_conversation1",
               alternating(21, reactions={2: [("scope_fit", SIX)]})),
        record("user5_task1_conversation1",
               alternating(4, reactions={2: [("scope_fit", "way more detail than I wanted")],
                                         4: [("explicit_affirmation", "perfect")]},
                           texts={3: "please make it shorter"}), model=OPUS),
    ]


def sim_corpus() -> list[dict]:
    """Four conversations; by hand: 9 msgs from a user: records at user turns 3, 5, 7, 9;
    [assistant, user, assistant, user]: turn 4 only (the first user message is turn 2);
    one user message: none; [user, user, assistant]: turn 2 (no reactions before it)."""
    return [
        record("user1_task1_conversation1", alternating(
            9, reasons={1: [("task_motivation", "plan a trip")],
                        5: [("content_expectation", "wants prices"),
                            ("style_expectation", "wants a table")]},
            reactions={2: [("explicit_affirmation", "good start")],
                       4: [("scope_fit", "too long"), ("partial_satisfaction", "half ok")]})),
        record("user2_task1_conversation1", alternating(
            4, first="assistant", reasons={4: [("task_continuation", "go on")]},
            reactions={3: [("content_relevance", "off topic")]})),
        record("user3_task1_conversation1", alternating(1)),
        record("user4_task1_conversation1", [
            message("user", "first ask", [thought("task_motivation", "why")]),
            message("user", "second ask", [thought("task_reorientation", "changed mind")]),
            message("assistant", "the answer", [thought("explicit_affirmation", "ok")])]),
    ]


def _ingest(tmp: Path, records: list[dict], name: str) -> Path:
    db = tmp / f"{name}.duckdb"
    ingest_db(write_jsonl(tmp / f"{name}.jsonl", records), db)
    return db


@pytest.fixture(scope="module")
def pairs_db(tmp_path_factory) -> Path:
    return _ingest(tmp_path_factory.mktemp("pairs"), pairs_corpus(), "pairs")


@pytest.fixture(scope="module")
def sim_db(tmp_path_factory) -> Path:
    return _ingest(tmp_path_factory.mktemp("sim"), sim_corpus(), "sim")


@pytest.fixture(scope="module")
def sample_ingested(sample_ingest_db) -> Path:
    return sample_ingest_db


def run(db: Path, fn, *args):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return fn(con, *args)
    finally:
        con.close()


def parse(payload: bytes) -> list[dict]:
    text = payload.decode("utf-8")
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


# ----------------------------------------------------------- independent reference counts


def expected_pairs(records: list[dict], guide: str = "thought", min_words: int = 6,
                   lo: int = 2, hi: int = 20, models: tuple[str, ...] = ()) -> list[tuple]:
    """(conv_id, turn, label, reaction, critique) straight from the raw records."""
    out = []
    for rec in records:
        msgs = rec["messages"]
        if not lo <= len(msgs) <= hi or (models and rec["model_name"] not in models):
            continue
        for i, m in enumerate(msgs):
            if m["type"] != "assistant":
                continue
            after = msgs[i + 1] if i + 1 < len(msgs) else None
            nxt = after["content"] if after and after["type"] == "user" else None
            for r in m.get("reactions") or []:
                if r["label"] not in DISSATISFIED or len((r["content"] or "").split()) \
                        < min_words:
                    continue
                if guide == "message" and not (nxt or "").split():
                    continue
                out.append((rec["id"], i + 1, r["label"], r["content"],
                            r["content"] if guide == "thought" else nxt))
    return out


def expected_sim(records: list[dict], history: int = 6) -> list[tuple]:
    """(conv_id, turn, history, reasons, previous_reactions, target) from the raw records."""
    out = []
    for rec in records:
        msgs = rec["messages"]
        users = [i for i, m in enumerate(msgs) if m["type"] == "user"]
        for i in users[1:]:
            prev = msgs[i - 1]
            reactions = prev.get("reactions") or [] if prev["type"] == "assistant" else []
            out.append((rec["id"], i + 1,
                        [(m["type"], m["content"]) for m in msgs[max(0, i - history):i]],
                        [(t["label"], t["content"]) for t in msgs[i].get("reasons") or []],
                        [(t["label"], t["content"]) for t in reactions],
                        msgs[i]["content"]))
    return out


def as_pairs(recs: list[dict]) -> list[tuple]:
    return [(r["conv_id"], r["turn"], r["reaction_label"], r["reaction"], r["critique"])
            for r in recs]


def as_sim(recs: list[dict]) -> list[tuple]:
    return [(r["conv_id"], r["turn"], [(h["role"], h["content"]) for h in r["history"]],
             [(t["label"], t["content"]) for t in r["reasons"]],
             [(t["label"], t["content"]) for t in r["previous_reactions"]], r["target"])
            for r in recs]


# ------------------------------------------------------------------------------ pairs


def test_the_reference_counts_match_the_hand_counts():
    """The independent count above agrees with the counts worked out by hand."""
    raw = pairs_corpus()
    assert len(expected_pairs(raw)) == 6
    assert len(expected_pairs(raw, "message")) == 2
    assert len(expected_pairs(raw, min_words=5)) == 8
    assert len(expected_pairs(raw, lo=1)) == 7 and len(expected_pairs(raw, hi=21)) == 7
    assert len(expected_pairs(raw, models=(OPUS,))) == 5
    assert len(expected_sim(sim_corpus())) == 6


def test_pairs_follow_the_papers_selection(pairs_db):
    recs = parse(run(pairs_db, exports.export_pairs, Filters()))
    assert [(r["conv_id"][:5], r["turn"]) for r in recs] == [
        ("user2", 2), ("user3", 2), ("user3", 10), ("user3", 10), ("user3", 20), ("user5", 2)]
    assert [r["reaction"] for r in recs if r["conv_id"].startswith("user3")] == [
        SIX, SIX_NBSP, SIX_SPACED, "the last answer still ignored my actual question"]
    assert list(recs[0]) == ["conv_id", "turn", "context", "response", "reaction_label",
                             "reaction", "next_user_message", "guide", "critique"]
    assert {r["guide"] for r in recs} == {"thought"}
    assert all(r["critique"] == r["reaction"] for r in recs)
    # the last message: no next user message; the 2-message conversation has one context msg
    assert recs[0]["context"] == [{"role": "user", "content": "user says 1"}]
    assert recs[0]["response"] == "assistant says 2" and recs[0]["next_user_message"] is None
    assert recs[4]["turn"] == 20 and recs[4]["next_user_message"] is None
    assert len(recs[4]["context"]) == 19
    assert recs[1]["next_user_message"] == "no, shorter please"
    assert recs[2]["next_user_message"] == "   "  # verbatim, even blank
    assert run(pairs_db, exports.count_pairs, Filters()) == 6 == len(expected_pairs(
        pairs_corpus()))


def test_message_guided_pairs_skip_missing_and_blank_next_messages(pairs_db):
    recs = parse(run(pairs_db, exports.export_pairs, Filters(), "message"))
    assert [(r["conv_id"][:5], r["turn"]) for r in recs] == [("user3", 2), ("user5", 2)]
    assert [r["critique"] for r in recs] == ["no, shorter please", "please make it shorter"]
    assert all(r["guide"] == "message" and r["critique"] == r["next_user_message"]
               for r in recs)
    assert recs[0]["reaction"] == SIX  # the thought stays in its own field
    assert run(pairs_db, exports.count_pairs, Filters(), "message") == 2


@pytest.mark.parametrize("options, n", [
    ({}, 6), ({"min_words": 5}, 8), ({"min_words": 7}, 1), ({"min_words": 0}, 8),
    ({"min_messages": 1}, 7), ({"max_messages": 21}, 7), ({"min_messages": 3}, 5),
    ({"min_messages": 20, "max_messages": 20}, 4), ({"guide": "message", "max_messages": 21},
                                                    3)])
def test_thresholds_are_options(pairs_db, options, n):
    guide = options.get("guide", "thought")
    args = (Filters(), guide, options.get("min_words", 6), options.get("min_messages", 2),
            options.get("max_messages", 20))
    recs = parse(run(pairs_db, exports.export_pairs, *args))
    assert len(recs) == n == run(pairs_db, exports.count_pairs, *args)
    assert as_pairs(recs) == expected_pairs(pairs_corpus(), guide, *args[2:])


def test_pairs_follow_the_filters(pairs_db):
    opus = Filters(models=(OPUS,))
    recs = parse(run(pairs_db, exports.export_pairs, opus))
    assert as_pairs(recs) == expected_pairs(pairs_corpus(), models=(OPUS,))
    assert len(recs) == 5 == run(pairs_db, exports.count_pairs, opus)
    nothing = Filters(models=("no such model",))
    assert run(pairs_db, exports.export_pairs, nothing) == b""
    assert run(pairs_db, exports.count_pairs, nothing) == 0


def test_the_word_rule_is_pythons_split(pairs_db):
    """SQL counts words as str.split() does, for every whitespace code point."""
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    odd = ["\u200b", "\u00ad", "\ufeff", "-", "\u2060"]  # no whitespace: one word each
    con = duckdb.connect()
    try:
        for ch in spaces + odd:
            text = f"a{ch}b"
            got = con.execute(f"SELECT len(regexp_extract_all(?, '{exports.WORD_RE}'))",
                              [text]).fetchone()[0]
            assert got == len(text.split()), repr(ch)
    finally:
        con.close()
    assert len(spaces) == 29


def test_bad_pair_options_are_refused(pairs_db):
    for args, option in [(("sideways",), "guide"), (("thought", -1), "min_words"),
                         (("thought", 6, 0), "min_messages"),
                         (("thought", 6, 5, 4), "max_messages"),
                         (("thought", "6"), "min_words")]:
        with pytest.raises(exports.ExportOptionError) as exc:
            run(pairs_db, exports.export_pairs, Filters(), *args)
        assert exc.value.option == option


def test_pairs_round_trip_rebuilds_the_counts(pairs_db):
    """Parsed back, every record points at the right message of the raw corpus."""
    raw = {r["id"]: r for r in pairs_corpus()}
    for guide in exports.GUIDES:
        recs = parse(run(pairs_db, exports.export_pairs, Filters(), guide, 5, 1, 21))
        ref = expected_pairs(list(raw.values()), guide, 5, 1, 21)
        assert Counter(r["conv_id"] for r in recs) == Counter(k[0] for k in ref)
        assert Counter(r["reaction_label"] for r in recs) == Counter(k[2] for k in ref)
        for r in recs:
            msgs = raw[r["conv_id"]]["messages"]
            assert r["context"] == [{"role": m["type"], "content": m["content"]}
                                    for m in msgs[:r["turn"] - 1]]
            assert r["response"] == msgs[r["turn"] - 1]["content"]
            assert r["reaction"] in [t["content"] for t in msgs[r["turn"] - 1]["reactions"]]


# ------------------------------------------------------------------------------ simulator


def test_simulator_records_by_hand(sim_db):
    recs = parse(run(sim_db, exports.export_simulator, Filters()))
    assert [(r["conv_id"][:5], r["turn"]) for r in recs] == [
        ("user1", 3), ("user1", 5), ("user1", 7), ("user1", 9), ("user2", 4), ("user4", 2)]
    assert list(recs[0]) == ["conv_id", "turn", "history", "reasons", "previous_reactions",
                             "target"]
    by = {(r["conv_id"][:5], r["turn"]): r for r in recs}
    assert by["user1", 5]["reasons"] == [
        {"label": "content_expectation", "content": "wants prices"},
        {"label": "style_expectation", "content": "wants a table"}]
    assert by["user1", 5]["previous_reactions"] == [
        {"label": "scope_fit", "content": "too long"},
        {"label": "partial_satisfaction", "content": "half ok"}]
    assert by["user1", 3]["previous_reactions"] == [
        {"label": "explicit_affirmation", "content": "good start"}]
    assert by["user1", 3]["reasons"] == [] and by["user1", 7]["previous_reactions"] == []
    assert by["user1", 3]["history"] == [{"role": "user", "content": "user says 1"},
                                         {"role": "assistant", "content": "assistant says 2"}]
    assert [h["content"] for h in by["user1", 9]["history"]] == [
        "user says 3", "assistant says 4", "user says 5", "assistant says 6", "user says 7",
        "assistant says 8"]
    assert by["user1", 9]["target"] == "user says 9"
    assert by["user2", 4]["previous_reactions"] == [
        {"label": "content_relevance", "content": "off topic"}]
    assert by["user2", 4]["reasons"] == [{"label": "task_continuation", "content": "go on"}]
    assert len(by["user2", 4]["history"]) == 3
    assert by["user4", 2] == {"conv_id": "user4_task1_conversation1", "turn": 2,
                              "history": [{"role": "user", "content": "first ask"}],
                              "reasons": [{"label": "task_reorientation",
                                           "content": "changed mind"}],
                              "previous_reactions": [], "target": "second ask"}
    assert run(sim_db, exports.count_simulator, Filters()) == 6


@pytest.mark.parametrize("history", [1, 2, 6, 8, 100])
def test_simulator_history_is_truncated_at_n(sim_db, history):
    recs = parse(run(sim_db, exports.export_simulator, Filters(), history))
    assert as_sim(recs) == expected_sim(sim_corpus(), history)
    assert max(len(r["history"]) for r in recs) == min(history, 8)
    last = recs[3]  # user turn 9: the `history` messages right before it
    assert [h["content"][-1] for h in last["history"]] == \
        [str(t) for t in range(max(1, 9 - history), 9)]


def test_simulator_follows_filters_and_refuses_a_bad_history(sim_db):
    one = Filters(models=("no such model",))
    assert run(sim_db, exports.export_simulator, one) == b""
    assert run(sim_db, exports.count_simulator, one) == 0
    for bad in (0, -3, 2.5):
        with pytest.raises(exports.ExportOptionError) as exc:
            run(sim_db, exports.export_simulator, Filters(), bad)
        assert exc.value.option == "history"


# ------------------------------------------------------------------------- shared sample


def test_sample_exports_match_an_independent_count(sample_ingested, sample_path):
    raw = [json.loads(line) for line in sample_path.read_text(encoding="utf-8").splitlines()
           if line.strip()]
    pairs = parse(run(sample_ingested, exports.export_pairs, Filters()))
    assert as_pairs(pairs) == expected_pairs(raw)
    assert len(pairs) == run(sample_ingested, exports.count_pairs, Filters()) == 22
    guided = parse(run(sample_ingested, exports.export_pairs, Filters(), "message"))
    assert as_pairs(guided) == expected_pairs(raw, "message")
    assert len(guided) == 19
    sim = parse(run(sample_ingested, exports.export_simulator, Filters()))
    assert as_sim(sim) == expected_sim(raw)
    assert len(sim) == run(sample_ingested, exports.count_simulator, Filters()) == 144


# ------------------------------------------------------------------------------ cli.py


def test_cli_writes_pairs_as_a_user_runs_it(pairs_db, tmp_path):
    out = tmp_path / "out" / "pairs.jsonl"
    done = subprocess.run([sys.executable, "cli.py", "export", "pairs", "--db", str(pairs_db),
                           "--out", str(out), "--guide", "message", "--max-messages", "21"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out} (3 pairs, " in done.stderr
    recs = parse(out.read_bytes())
    assert as_pairs(recs) == expected_pairs(pairs_corpus(), "message", hi=21)
    assert out.read_bytes() == run(pairs_db, exports.export_pairs, Filters(), "message", 6,
                                   2, 21)


def test_cli_pairs_and_simulator_options_and_filters(pairs_db, sim_db, tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    assert cli.main(["export", "pairs", "--db", str(pairs_db), "--out", str(out),
                     "--model", OPUS, "--min-words", "5"]) == 0
    assert as_pairs(parse(out.read_bytes())) == expected_pairs(pairs_corpus(), min_words=5,
                                                               models=(OPUS,))
    assert "(7 pairs, " in capsys.readouterr().err
    sim = tmp_path / "s.jsonl"
    assert cli.main(["export", "simulator", "--db", str(sim_db), "--out", str(sim),
                     "--history", "2"]) == 0
    assert as_sim(parse(sim.read_bytes())) == expected_sim(sim_corpus(), 2)
    assert "(6 records, " in capsys.readouterr().err
    assert cli.main(["export", "simulator", "--db", str(sim_db), "--out", "-"]) == 0
    assert as_sim(parse(capsys.readouterr().out.encode())) == expected_sim(sim_corpus())


@pytest.mark.parametrize("argv, message", [
    (["pairs", "--history", "3"], "--history applies to `export simulator` only"),
    (["simulator", "--guide", "message"], "--guide applies to `export pairs` only"),
    (["conversations", "--min-words", "3"], "--min-words applies to `export pairs` only"),
    (["pairs", "--min-messages", "5", "--max-messages", "3"],
     "--max-messages 3: expected at least the minimum of messages (5)"),
    (["pairs", "--min-words", "-1"], "--min-words -1: expected 0 or more"),
    (["simulator", "--history", "0"], "--history 0: expected 1 or more"),
    (["pairs", "--model", "No Such Model"], "unknown model 'No Such Model'"),
])
def test_cli_refuses_bad_options_and_writes_nothing(pairs_db, tmp_path, capsys, argv,
                                                    message):
    out = tmp_path / "x.jsonl"
    code = cli.main(["export", argv[0], "--db", str(pairs_db), "--out", str(out), *argv[1:]])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err
    assert not out.exists()


# ---------------------------------------------------------------- the Conversations page


@pytest.mark.parametrize("url, n_pairs, n_sim", [({}, 6, 20), ({"model": OPUS}, 5, 10)])
def test_page_shows_the_live_count_and_the_buttons(pairs_db, monkeypatch, url, n_pairs,
                                                   n_sim):
    """By hand, simulator records: 0 + 0 + 9 (20 msgs) + 10 (21 msgs) + 1 (4 msgs)."""
    at = open_app(pairs_db, monkeypatch, page="conversations", **url)
    captions = [c.value for c in at.caption]
    line = next(c for c in captions if "preference pair" in c)
    assert f"**{n_pairs}** thought-guided preference pairs" in line
    assert "1,000 on the full release" in line and f"**{n_sim}** next-message" in line
    labels = [b.proto.label for b in at.get("download_button")]
    assert f"Preference pairs (JSONL, {n_pairs})" in labels
    assert f"Simulator set (JSONL, {n_sim})" in labels
    filters = Filters(models=tuple(url.values()))
    assert run(pairs_db, exports.count_simulator, filters) == n_sim
