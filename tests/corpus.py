"""Helpers shared by tests: paths to the shared sample, small corpora built in code (every
record through `record()`), the fake embedder, quick builds."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "ThoughtTrace_examples.jsonl"
DEMO = REPO / "data" / "demo" / "thoughttrace_demo.jsonl"


def sample_or_demo() -> Path:
    """The shared sample of real conversations, else the demo corpus (the test is skipped
    when neither is present)."""
    import pytest

    for path in (SAMPLE, DEMO):
        if path.exists():
            return path
    pytest.skip("neither the shared sample nor the demo corpus is present")


def thought(label: str, content: str = "a thought", ts: str = "2026-04-12T01:00:00Z") -> dict:
    return {"content": content, "timestamp": ts, "label": label}


def message(role: str, content: str, thoughts: list | None = None, mid: int = 1,
            ts: str = "2026-04-12T01:00:00Z") -> dict:
    """One message; its thoughts go under ``reasons`` (user) or ``reactions`` (assistant),
    and the other key is absent, as in the release."""
    key = "reasons" if role == "user" else "reactions"
    return {"content": content, "timestamp": ts, "type": role, "id": mid, key: thoughts}


def record(conv_id: str, messages: list[dict], *, model: str = "GPT-5.4",
           provider: str = "OpenAI", survey: list | None = None,
           summary: str = "I asked the AI for help.",
           expectation: str = "I expected a useful answer.",
           created: str = "2026-04-12T00:52:57.905000+00:00",
           updated: str = "2026-04-12T01:21:30.734000+00:00") -> dict:
    """The conversation-level fields of a record around ``messages`` (every builder here
    goes through this one, so the corpora cannot drift apart)."""
    return {"id": conv_id, "messages": messages, "model_name": model, "model_provider": provider,
            "created_at": created, "updated_at": updated, "task_summary": summary,
            "task_expectation": expectation,
            "survey_answers": survey if survey is not None else [
                {"age": "31", "gender": "Female", "education": "Graduate",
                 "occupation": "Teacher", "frequency": "4", "purposes": "work"}]}


def conversation(conv_id: str, turns: list[tuple[str, list[str]]], *, model: str = "GPT-5.4",
                 provider: str = "OpenAI", survey: list | None = None,
                 summary: str = "I asked the AI for help.") -> dict:
    """A record with alternating user/assistant messages; ``turns`` = [(text, [labels])]."""
    msgs = [message("user" if i % 2 == 0 else "assistant", text,
                    [thought(lab, f"{text} / thought {k}") for k, lab in enumerate(labels)],
                    mid=1000 + i)
            for i, (text, labels) in enumerate(turns)]
    return record(conv_id, msgs, model=model, provider=provider, survey=survey, summary=summary)


def dialogue(conv_id: str, pairs: Iterable[tuple[str, str]], *, task_summary: str = "",
             reasons: dict[int, list[tuple[str, str]]] | None = None,
             reactions: dict[int, list[tuple[str, str]]] | None = None,
             model: str = "Test Model", provider: str = "Test") -> dict:
    """A record of (user text, assistant text) pairs with the thoughts' own texts.

    Args:
        pairs: (user text, assistant text) pairs; message ids 0, 1, 2, ...
        reasons / reactions: 0-based pair index -> [(label, thought text), ...] on that
            pair's user / assistant message.
    """
    reasons, reactions = reasons or {}, reactions or {}
    ts = "2026-03-01T10:00:00+00:00"
    messages = []
    for i, (user, assistant) in enumerate(pairs):
        messages.append(message("user", user, [thought(lab, c, ts) for lab, c in
                                               reasons.get(i, [])], mid=2 * i, ts=ts))
        messages.append(message("assistant", assistant, [thought(lab, c, ts) for lab, c in
                                                         reactions.get(i, [])],
                                mid=2 * i + 1, ts=ts))
    return record(conv_id, messages, model=model, provider=provider, created=ts, updated=ts,
                  summary=task_summary, expectation="a helpful answer",
                  survey=[{"age": "30", "gender": "Female", "education": "Bachelor",
                           "occupation": "teacher", "frequency": "3", "purposes": "work"}])


def top_model(db: Path) -> str:
    """The most frequent model of the DB file ``db`` (ties by name)."""
    import duckdb
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT model_name FROM conversations GROUP BY 1 "
                           "ORDER BY count(*) DESC, 1 LIMIT 1").fetchall()[0][0]


def write_jsonl(path: Path, records: Iterable) -> Path:
    """Write records (dicts, or raw str/bytes lines written verbatim), one per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for rec in records:
            if isinstance(rec, bytes):
                fh.write(rec + b"\n")
            elif isinstance(rec, str):
                fh.write(rec.encode() + b"\n")
            else:
                fh.write(json.dumps(rec, ensure_ascii=False).encode() + b"\n")
    return path


_STOP = frozenset("""a an and are as at be but by can do for from has have how i i'm in is it
its me my of on or so that the this to was we what when which with you your our us""".split())


class HashingEmbedder:
    """Deterministic fake sentence embedder: hashed bag of words, L2-normalized.

    Each word (lowercased, stop words dropped, a trailing plural 's' cut) adds 1 to one of
    ``dim`` slots chosen by its md5, so texts that share words are similar and texts that
    share none are almost orthogonal. Records every text it was asked to encode
    (``calls``, ``texts``) so tests can count cache misses.
    """

    model_name = "fake-hashing-bow"

    def __init__(self, dim: int = 384):
        self.dim = dim
        self.calls = 0
        self.texts: list[str] = []

    @staticmethod
    def tokens(text: str) -> list[str]:
        words = re.findall(r"[a-z0-9]+", text.lower())
        out = []
        for w in words:
            if w in _STOP:
                continue
            if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
                w = w[:-1]
            out.append(w)
        return out

    def vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in self.tokens(text):
            h = int.from_bytes(hashlib.md5(tok.encode()).digest()[:8], "little")
            v[h % self.dim] += 1.0
        if not v.any():
            v[0] = 1.0
        return v / np.linalg.norm(v)

    def encode(self, sentences: Sequence[str], batch_size: int = 32, **_: Any) -> np.ndarray:
        """The ``SentenceTransformer.encode`` interface over ``vector()``: one float32 row
        per sentence (subclasses override ``vector`` only)."""
        self.calls += 1
        self.texts.extend(sentences)
        if not len(sentences):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.vector(s) for s in sentences]).astype(np.float32)


def ingest_db(source: Path, db: Path, **fields: Any) -> Path:
    """Only the ingest stage of the real pipeline over ``source`` into ``db`` (quietly);
    ``fields`` are Settings fields."""
    from precompute.config import Settings
    from precompute.pipeline import build

    build(Settings(source=str(source), db=db, progress=False, **fields), only=("ingest",),
          log=lambda _: None)
    return db


class PCA2:
    """A fast deterministic stand-in for UMAP: the first two principal components."""

    def fit_transform(self, x):
        import numpy as np
        x = np.asarray(x, dtype=np.float64)
        x = x - x.mean(axis=0)
        u, s, _ = np.linalg.svd(x, full_matrices=False)
        return u[:, :2] * s[:2] * 10.0


def build_analysed_db(source: Path, db: Path) -> Path:
    """Every stage of the real pipeline over ``source`` into ``db``, fast: the fake
    `HashingEmbedder`, clusters without a UMAP reduction, and `PCA2` for the map."""
    import duckdb

    from precompute import pipeline
    from precompute.config import Settings
    from precompute.shifts import stage_shifts

    settings = Settings(source=str(source), db=db, progress=False, cluster_reduce="none")
    stages = tuple(n for n in pipeline.STAGES if n != "shifts")
    pipeline.build(settings, only=stages, embedder=HashingEmbedder(), log=lambda _: None)
    con = duckdb.connect(str(db))
    try:
        stage_shifts(con, settings=settings, log=lambda _: None, umap_factory=PCA2)
    finally:
        con.close()
    return db
