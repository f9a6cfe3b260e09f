"""Checks on the synthetic demo corpus in data/demo/.

The corpus must follow the ThoughtTrace release schema exactly (so the same loaders read both),
cover the data realities the app has to handle, and contain no text from the real release.
Plain json + collections only: no project modules are imported.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo" / "thoughttrace_demo.jsonl"
README = ROOT / "data" / "demo" / "README.md"
REAL_SAMPLE = ROOT.parent / "shared" / "data" / "ThoughtTrace_examples.jsonl"

TOP_KEYS = ["id", "messages", "model_name", "model_provider", "created_at", "updated_at",
            "task_summary", "task_expectation", "survey_answers"]
SURVEY_KEYS = {"age", "gender", "education", "occupation", "frequency", "purposes"}
REASON_CODES = {"task_motivation", "task_continuation", "task_reorientation",
                "context_grounding_and_constraints", "content_expectation",
                "style_expectation", "social_and_others"}
REACTION_CODES = {"explicit_affirmation", "partial_satisfaction", "content_relevance",
                  "presentation_style", "scope_fit"}
DOMAINS = {"Culture & Lifestyle", "Education & Knowledge", "Business & Society",
           "Health & Relationships", "Technology", "Arts & Entertainment", "Other Topics"}
MODELS = {("GPT-5.4", "OpenAI"), ("Gemini 3.1 Pro Preview", "Google"), ("Grok 4.20", "xAI"),
          ("Claude Opus 4.6", "Anthropic"), ("Claude Sonnet 4.6", "Anthropic"),
          ("Kimi K2.5", "MoonshotAI"), ("Qwen3.6 Plus", "Qwen"), ("DeepSeek V3.2", "DeepSeek"),
          ("Llama 3.3 70B Instruct", "Meta"), ("Mistral Small 4", "Mistral")}
ID_RE = re.compile(r"^user(\d+)_task(\d+)_conversation(\d+)$")
MSG_TS_RE = re.compile(r"^2026-04-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CONV_TS_RE = re.compile(r"^2026-04-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


@pytest.fixture(scope="module")
def raw_text() -> str:
    return DEMO.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def records(raw_text) -> list[dict]:
    return [json.loads(line) for line in raw_text.split("\n") if line]


def thought_list(msg: dict):
    return msg["reasons"] if msg["type"] == "user" else msg["reactions"]


def all_messages(records):
    for rec in records:
        yield from rec["messages"]


def test_file_is_clean_jsonl(raw_text):
    assert raw_text.endswith("\n") and not raw_text.endswith("\n\n"), "no trailing blank lines"
    assert all(line.strip() for line in raw_text.rstrip("\n").split("\n")), "no blank lines"


def test_thirty_records_unique_ids(records):
    assert len(records) == 30
    ids = [r["id"] for r in records]
    assert len(set(ids)) == 30
    for cid in ids:
        assert ID_RE.match(cid), cid


def test_users_and_tasks(records):
    by_user = defaultdict(list)
    for r in records:
        user, task, _ = ID_RE.match(r["id"]).groups()
        by_user[user].append(int(task))
    assert 18 <= len(by_user) <= 26
    assert sum(1 for tasks in by_user.values() if len(tasks) == 2) >= 3
    for tasks in by_user.values():
        assert sorted(tasks) == list(range(1, len(tasks) + 1))


def test_top_level_schema(records):
    for r in records:
        assert list(r.keys()) == TOP_KEYS, r["id"]
        for key in ("model_name", "model_provider", "task_summary", "task_expectation"):
            assert isinstance(r[key], str) and r[key].strip(), (r["id"], key)
        assert isinstance(r["messages"], list)
        assert isinstance(r["survey_answers"], list)
        assert CONV_TS_RE.match(r["created_at"]) and CONV_TS_RE.match(r["updated_at"]), r["id"]
        created = datetime.fromisoformat(r["created_at"])
        updated = datetime.fromisoformat(r["updated_at"])
        assert timedelta(minutes=5) <= updated - created <= timedelta(minutes=60), r["id"]


def test_models(records):
    pairs = {(r["model_name"], r["model_provider"]) for r in records}
    assert pairs <= MODELS
    assert len(pairs) >= 8


def test_message_schema(records):
    for r in records:
        msgs = r["messages"]
        created = datetime.fromisoformat(r["created_at"])
        updated = datetime.fromisoformat(r["updated_at"])
        prev_id = None
        for i, m in enumerate(msgs):
            expected_type = "user" if i % 2 == 0 else "assistant"
            assert m["type"] == expected_type, (r["id"], i)
            field = "reasons" if expected_type == "user" else "reactions"
            assert list(m.keys()) == ["content", "timestamp", "type", "id", field], (r["id"], i)
            assert isinstance(m["content"], str) and m["content"].strip()
            assert isinstance(m["id"], int) and not isinstance(m["id"], bool)
            assert prev_id is None or m["id"] > prev_id, (r["id"], i)
            prev_id = m["id"]
            assert MSG_TS_RE.match(m["timestamp"]), (r["id"], i)
            ts = datetime.fromisoformat(m["timestamp"].replace("Z", "+00:00"))
            assert int(ts.timestamp() * 1000) == m["id"], (r["id"], i)
            assert created <= ts <= updated, (r["id"], i)
            thoughts = m[field]
            assert thoughts is None or isinstance(thoughts, list)
            for t in thoughts or []:
                assert list(t.keys()) == ["content", "timestamp", "label"], (r["id"], i)
                assert isinstance(t["content"], str) and t["content"].strip()
                assert MSG_TS_RE.match(t["timestamp"])
                t_ts = datetime.fromisoformat(t["timestamp"].replace("Z", "+00:00"))
                assert ts <= t_ts <= updated, (r["id"], i)


def test_lengths(records):
    lengths = sorted(len(r["messages"]) for r in records)
    assert lengths[0] == 2
    assert lengths[-1] >= 20
    assert sum(1 for n in lengths if n == 2) >= 2
    assert sum(1 for n in lengths if n >= 20) >= 2
    assert lengths[14] <= 8 <= lengths[15] + 2  # median about 8
    assert all(n % 2 == 0 for n in lengths)


def test_survey_answers(records):
    empty = 0
    null_freq = 0
    ages = set()
    per_user = defaultdict(list)
    for r in records:
        sa = r["survey_answers"]
        per_user[r["id"].split("_")[0]].append(sa)
        assert len(sa) in (0, 1), r["id"]
        if not sa:
            empty += 1
            continue
        ans = sa[0]
        assert set(ans.keys()) == SURVEY_KEYS, r["id"]
        for key, value in ans.items():
            if key == "frequency" and value is None:
                null_freq += 1
                continue
            assert isinstance(value, str), (r["id"], key)
        assert ans["education"] in {"High school", "Undergraduate", "Graduate", "Doctorate"}
        assert ans["gender"] in {"Male", "Female", "Non-binary"}
        assert ans["frequency"] is None or ans["frequency"] in {"1", "2", "3", "4", "5"}
        ages.add(ans["age"])
    assert empty >= 3
    assert null_freq >= 2
    assert {"2", "366"} <= ages
    for user, answers in per_user.items():
        assert all(a == answers[0] for a in answers), user


def test_all_labels_present(records):
    counts = Counter(t["label"] for m in all_messages(records) for t in thought_list(m) or [])
    for code in REASON_CODES | REACTION_CODES:
        assert counts[code] >= 3, (code, counts[code])
    assert set(counts) <= REASON_CODES | REACTION_CODES


def test_labels_match_role(records):
    for m in all_messages(records):
        for t in thought_list(m) or []:
            allowed = REASON_CODES if m["type"] == "user" else REACTION_CODES
            assert t["label"] in allowed, (m["type"], t["label"])


def test_null_and_empty_thought_lists(records):
    forms = Counter()
    for m in all_messages(records):
        th = thought_list(m)
        if th is None:
            forms[(m["type"], "null")] += 1
        elif th == []:
            forms[(m["type"], "empty")] += 1
    for role in ("user", "assistant"):
        assert forms[(role, "null")] >= 1 and forms[(role, "empty")] >= 1, forms
    n_messages = sum(len(r["messages"]) for r in records)
    share_without = sum(forms.values()) / n_messages
    assert 0.25 <= share_without <= 0.45, share_without


def test_messages_with_two_thoughts(records):
    assert sum(1 for m in all_messages(records) if len(thought_list(m) or []) >= 2) >= 5


def test_special_content(records):
    contents = [m["content"] for m in all_messages(records)]
    assert any("<script>" in c for c in contents), "HTML that must render as text"
    assert any(re.search(r"[\U0001F300-\U0001FAFF]", c) for c in contents), "emoji"
    assert any(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", c) for c in contents), "non-Latin"


def readme_domains() -> dict[str, str]:
    table = {}
    row = re.compile(r"^\|\s*`?(user\d+_task\d+_conversation\d+)`?\s*\|\s*([^|]+?)\s*\|")
    for line in README.read_text(encoding="utf-8").splitlines():
        match = row.match(line)
        if match:
            table[match.group(1)] = match.group(2)
    return table


def test_readme_domain_table(records):
    table = readme_domains()
    assert set(table) == {r["id"] for r in records}
    assert set(table.values()) == DOMAINS


WORD_RE = re.compile(r"\w+")


def ngrams(text: str, n: int = 8) -> set[tuple[str, ...]]:
    words = WORD_RE.findall(text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def texts_of(rec: dict):
    yield rec.get("task_summary") or ""
    yield rec.get("task_expectation") or ""
    for m in rec.get("messages") or []:
        yield m.get("content") or ""
        for key in ("reasons", "reactions"):
            for t in m.get(key) or []:
                yield t.get("content") or ""


def test_no_text_copied_from_real_sample(records):
    if not REAL_SAMPLE.exists():
        pytest.skip("real ThoughtTrace sample not available")
    real = set()
    with REAL_SAMPLE.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                for text in texts_of(json.loads(line)):
                    real |= ngrams(text)
    hits = []
    for rec in records:
        for text in texts_of(rec):
            shared = ngrams(text) & real
            if shared:
                hits.append((rec["id"], " ".join(sorted(shared)[0])))
    assert not hits, hits[:10]
