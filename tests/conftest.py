"""Shared pytest fixtures: fake embedder, tiny corpora built in code, the shared sample DB.

Keep fixtures generic; add new ones at the end of their section.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ThoughtTrace_examples.jsonl"
DEMO = REPO_ROOT / "data" / "demo" / "thoughttrace_demo.jsonl"


# --------------------------------------------------------------------------- fake model

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
        self.calls += 1
        self.texts.extend(sentences)
        if not len(sentences):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.vector(s) for s in sentences])


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


# --------------------------------------------------------------------------- corpora


def conversation(conv_id: str, turns: Iterable[tuple[str, str]], *, task_summary: str = "",
                 reasons: dict[int, list[tuple[str, str]]] | None = None,
                 reactions: dict[int, list[tuple[str, str]]] | None = None,
                 model: str = "Test Model", provider: str = "Test") -> dict:
    """One record in the ThoughtTrace schema.

    Args:
        turns: (user text, assistant text) pairs.
        reasons / reactions: 0-based pair index -> [(label, thought text), ...] on that
            pair's user / assistant message.
    """
    reasons, reactions = reasons or {}, reactions or {}
    messages = []
    ts = "2026-03-01T10:00:00+00:00"
    for i, (user, assistant) in enumerate(turns):
        messages.append({
            "id": 2 * i, "timestamp": ts, "type": "user", "content": user,
            "reasons": [{"content": c, "timestamp": ts, "label": lab}
                        for lab, c in reasons.get(i, [])],
            "reactions": None})
        messages.append({
            "id": 2 * i + 1, "timestamp": ts, "type": "assistant", "content": assistant,
            "reasons": None,
            "reactions": [{"content": c, "timestamp": ts, "label": lab}
                          for lab, c in reactions.get(i, [])]})
    return {"id": conv_id, "messages": messages, "model_name": model,
            "model_provider": provider, "created_at": ts, "updated_at": ts,
            "task_summary": task_summary, "task_expectation": "a helpful answer",
            "survey_answers": [{"age": "30", "gender": "Female", "education": "Bachelor",
                                "occupation": "teacher", "frequency": "3",
                                "purposes": "work"}]}


def write_jsonl(path: Path, records: Iterable[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    return path


@pytest.fixture
def make_corpus(tmp_path: Path) -> Callable[..., Path]:
    """``make_corpus(records, name="corpus.jsonl") -> Path`` of a JSONL file in tmp_path."""
    def make(records: Iterable[dict], name: str = "corpus.jsonl") -> Path:
        return write_jsonl(tmp_path / name, records)
    return make


@pytest.fixture
def build_db(tmp_path: Path) -> Callable[..., Any]:
    """``build_db(source_path, db=None, only=None, embedder=None, **settings) -> (Settings,
    BuildReport)``: run the pipeline quietly into tmp_path (or ``db``)."""
    from precompute.config import Settings
    from precompute.pipeline import build

    def run(source: Path | None, db: Path | None = None, *, only=None, embedder=None,
            log: Callable[[str], None] | None = None, **fields: Any):
        settings = Settings(source=str(source) if source else "demo",
                            db=db or tmp_path / "t.duckdb", progress=False, **fields)
        lines: list[str] = []
        report = build(settings, only=only, log=log or lines.append, embedder=embedder)
        report.log = lines  # type: ignore[attr-defined]
        return settings, report
    return run


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="session")
def sample_path() -> Path:
    if not SAMPLE.is_file():
        pytest.skip(f"shared sample not found at {SAMPLE}")
    return SAMPLE


@pytest.fixture(scope="session")
def sample_db(sample_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared sample built once per session with the real (bundled) model, all stages."""
    from precompute.config import Settings
    from precompute.pipeline import build

    db = tmp_path_factory.mktemp("sample") / "sample.duckdb"
    build(Settings(source=str(sample_path), db=db, progress=False), log=lambda _: None)
    return db


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo corpus built once per session with the real model, up to the topics stage
    (skipped when the corpus is absent)."""
    if not DEMO.is_file():
        pytest.skip(f"demo corpus not found at {DEMO}")
    from precompute.config import Settings
    from precompute.pipeline import build

    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    build(Settings(source=str(DEMO), db=db, progress=False),
          only=("ingest", "embed", "topics"), log=lambda _: None)
    return db


def settings_with(settings: Any, **changes: Any) -> Any:
    """A copy of a frozen Settings with some fields changed."""
    return replace(settings, **changes)
