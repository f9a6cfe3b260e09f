"""Tests for the synthetic benchmark corpus generator (benchmarks/make_corpus.py)."""
import hashlib
import importlib.util
import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import pytest

GEN_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "make_corpus.py"


def _load():
    spec = importlib.util.spec_from_file_location("make_corpus", GEN_PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


mc = _load()

REASONS = {
    "task_motivation", "task_continuation", "task_reorientation",
    "context_grounding_and_constraints", "content_expectation",
    "style_expectation", "social_and_others",
}
REACTIONS = {
    "explicit_affirmation", "partial_satisfaction", "content_relevance",
    "presentation_style", "scope_fit",
}
TOP_KEYS = ["id", "messages", "model_name", "model_provider", "created_at", "updated_at",
            "task_summary", "task_expectation", "survey_answers"]
PROVIDERS = {
    "GPT-5.4": "OpenAI", "GPT-4o-mini": "OpenAI", "gpt-oss-120b": "OpenAI",
    "Gemini 3.1 Pro Preview": "Google", "Gemini 3 Flash Preview": "Google",
    "Gemma 4 26B A4B": "Google",
    "Grok 4.20": "xAI", "Grok 4.1 Fast": "xAI",
    "Claude Opus 4.6": "Anthropic", "Claude Sonnet 4.6": "Anthropic",
    "Claude Haiku 4.5": "Anthropic",
    "MiniMax M2.7": "MiniMax", "Kimi K2.5": "MoonshotAI", "Qwen3.6 Plus": "Qwen",
    "MiMo-V2-Pro": "Xiaomi", "GLM 5": "Zhipu", "Step 3.5 Flash": "StepFun",
    "Llama 3.3 70B Instruct": "Meta", "Mistral Small 4": "Mistral", "DeepSeek V3.2": "DeepSeek",
}


def _thoughts(m):
    return (m.get("reasons") if m["type"] == "user" else m.get("reactions")) or []


@pytest.fixture(scope="module")
def corpus_1x(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "tt_1x.jsonl"
    stats = mc.write_corpus(out, scale=1, seed=0)
    with open(out, encoding="utf-8") as fh:
        recs = [json.loads(line) for line in fh]
    return stats, recs


def test_totals_exact(corpus_1x):
    stats, recs = corpus_1x
    users = {r["id"].split("_", 1)[0] for r in recs}
    n_msgs = sum(len(r["messages"]) for r in recs)
    n_th = sum(len(_thoughts(m)) for r in recs for m in r["messages"])
    assert len(recs) == 2155
    assert len(users) == 1058
    assert n_msgs == 17058
    assert n_th == 10174
    assert len({r["model_name"] for r in recs}) == 20
    assert (stats["conversations"], stats["users"], stats["messages"], stats["thoughts"],
            stats["models"]) == (2155, 1058, 17058, 10174, 20)


def test_per_model_counts(corpus_1x):
    _, recs = corpus_1x
    per = defaultdict(lambda: [set(), 0, 0, 0])
    for r in recs:
        x = per[r["model_name"]]
        x[0].add(r["id"].split("_", 1)[0])
        x[1] += 1
        x[2] += len(r["messages"])
        x[3] += sum(len(_thoughts(m)) for m in r["messages"])
        assert r["model_provider"] == PROVIDERS[r["model_name"]]
    assert set(per) == set(PROVIDERS)
    for name, _provider, u, c, m, t in mc.MODELS:
        users, convs, msgs, ths = per[name]
        assert convs == c, name
        assert msgs == m, name
        assert ths == t, name
        assert abs(len(users) - u) <= 1, name


def test_schema_alternation_and_labels(corpus_1x):
    _, recs = corpus_1x
    for r in recs:
        assert list(r.keys()) == TOP_KEYS
        assert r["id"].startswith("user") and r["id"].endswith("_conversation1")
        assert r["created_at"].endswith("+00:00") and r["updated_at"] >= r["created_at"]
        msgs = r["messages"]
        assert len(msgs) >= 2 and len(msgs) % 2 == 0
        last_id = 0
        for i, m in enumerate(msgs):
            want = "user" if i % 2 == 0 else "assistant"
            assert m["type"] == want
            key = "reasons" if want == "user" else "reactions"
            assert list(m.keys()) == ["content", "timestamp", "type", "id", key]
            assert isinstance(m["id"], int) and m["id"] > last_id
            last_id = m["id"]
            assert m["timestamp"].endswith("Z")
            tl = m[key]
            assert tl is None or isinstance(tl, list)
            for t in tl or []:
                assert list(t.keys()) == ["content", "timestamp", "label"]
                assert t["label"] in (REASONS if want == "user" else REACTIONS)
        sa = r["survey_answers"]
        assert isinstance(sa, list) and len(sa) <= 1
        if sa:
            assert set(sa[0]) == {"age", "gender", "education", "occupation", "frequency",
                                  "purposes"}
            assert sa[0]["frequency"] in (None, "1", "2", "3", "4", "5")


def test_unique_ids_and_texts(corpus_1x):
    _, recs = corpus_1x
    ids = [r["id"] for r in recs]
    assert len(set(ids)) == len(ids)
    msg_texts = [m["content"] for r in recs for m in r["messages"]]
    assert len(set(msg_texts)) == len(msg_texts)
    th_texts = [t["content"] for r in recs for m in r["messages"] for t in _thoughts(m)]
    assert len(set(th_texts)) == len(th_texts)
    # a user's tasks are numbered 1..n
    tasks = defaultdict(list)
    for r in recs:
        u, t, _ = r["id"].split("_")
        tasks[u].append(int(t[len("task"):]))
    for u, ts in tasks.items():
        assert sorted(ts) == list(range(1, len(ts) + 1)), u


def test_distributions(corpus_1x):
    _, recs = corpus_1x
    lens = [len(r["messages"]) for r in recs]
    assert statistics.median(lens) == 8
    assert 30 <= max(lens) <= 40
    n_msgs = sum(lens)
    no_th = sum(1 for r in recs for m in r["messages"] if not _thoughts(m))
    assert 0.35 < no_th / n_msgs < 0.45
    nulls = sum(1 for r in recs for m in r["messages"]
                if (m["reasons"] if m["type"] == "user" else m["reactions"]) is None)
    assert 0 < nulls < no_th
    labels = Counter(t["label"] for r in recs for m in r["messages"] for t in _thoughts(m))
    n_reason = sum(v for k, v in labels.items() if k in REASONS)
    n_react = sum(v for k, v in labels.items() if k in REACTIONS)
    assert 0.4 < n_reason / (n_reason + n_react) < 0.6
    for code, share in mc.REASON_SHARES.items():
        assert abs(100 * labels[code] / n_reason - share) < 0.5, code
    for code, share in mc.REACTION_SHARES.items():
        assert abs(100 * labels[code] / n_react - share) < 0.5, code
    first = Counter(t["label"] for r in recs for t in (r["messages"][0]["reasons"] or []))
    assert first.most_common(1)[0][0] == "task_motivation"
    # word-length ranges
    for r in recs:
        assert 15 <= len(r["task_summary"].split()) <= 35
        assert 15 <= len(r["task_expectation"].split()) <= 35
        for m in r["messages"]:
            wc = len(m["content"].split())
            if m["type"] == "user":
                assert 15 <= wc <= 60, m["content"]
            else:
                assert 120 <= wc <= 400, wc
            for t in _thoughts(m):
                assert 12 <= len(t["content"].split()) <= 35, t["content"]


def test_survey_realities(corpus_1x):
    _, recs = corpus_1x
    assert sum(1 for r in recs if not r["survey_answers"]) == 75
    assert sum(1 for r in recs if r["survey_answers"]
               and r["survey_answers"][0]["frequency"] is None) == 152
    ages = {r["survey_answers"][0]["age"] for r in recs if r["survey_answers"]}
    assert {"2", "366"} <= ages
    by_user = defaultdict(set)
    for r in recs:
        by_user[r["id"].split("_", 1)[0]].add(json.dumps(r["survey_answers"], sort_keys=True))
    assert all(len(v) == 1 for v in by_user.values())


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_determinism_and_small_scale(tmp_path):
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    sa = mc.write_corpus(a, scale=0.05, seed=5)
    mc.write_corpus(b, scale=0.05, seed=5)
    mc.write_corpus(c, scale=0.05, seed=6)
    assert _sha(a) == _sha(b)
    assert _sha(a) != _sha(c)
    # each model's conversations x 0.05, rounded half to even: 17 + 16 + 10 + 7 + 7 + 5 + 4 +
    # 4 + 3 + 4 + 3 x 10 = 107 (337 -> 16.85 -> 17, 210 -> 10.5 -> 10, 70 -> 3.5 -> 4, ...)
    assert sa["conversations"] == 107 and len(a.read_text().splitlines()) == 107
    assert sa["models"] == 20


def test_cli_gzip(tmp_path, capsys):
    import gzip
    out = tmp_path / "small.jsonl"
    assert mc.main(["--scale", "0.02", "--seed", "1", "--out", str(out), "--gzip"]) == 0
    gz = Path(str(out) + ".gz")
    line = capsys.readouterr().out.strip()
    assert "conversations=" in line and str(gz) in line
    with gzip.open(gz, "rt", encoding="utf-8") as fh:
        recs = [json.loads(x) for x in fh]
    # x 0.02: 7 + 6 + 4 + 3 + 3 + 2 and 1 for each of the other 14 models
    assert len(recs) == 39 and all(len(r["messages"]) % 2 == 0 for r in recs)
    first = _sha(gz)
    mc.main(["--scale", "0.02", "--seed", "1", "--out", str(out), "--gzip"])
    assert _sha(gz) == first
