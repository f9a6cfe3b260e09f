"""Helpers shared by tests: paths to the shared sample and small corpora built in code."""

from __future__ import annotations

import json
from pathlib import Path

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


def message(role: str, content: str, thoughts: list | None = None, mid: int = 1) -> dict:
    key = "reasons" if role == "user" else "reactions"
    return {"content": content, "timestamp": "2026-04-12T01:00:00Z", "type": role, "id": mid,
            key: thoughts}


def conversation(conv_id: str, turns: list[tuple[str, list[str]]], *, model: str = "GPT-5.4",
                 provider: str = "OpenAI", survey: list | None = None,
                 summary: str = "I asked the AI for help.") -> dict:
    """A record with alternating user/assistant messages; ``turns`` = [(text, [labels])]."""
    msgs = [message("user" if i % 2 == 0 else "assistant", text,
                    [thought(lab, f"{text} / thought {k}") for k, lab in enumerate(labels)],
                    mid=1000 + i)
            for i, (text, labels) in enumerate(turns)]
    return {"id": conv_id, "messages": msgs, "model_name": model, "model_provider": provider,
            "created_at": "2026-04-12T00:52:57.905000+00:00",
            "updated_at": "2026-04-12T01:21:30.734000+00:00", "task_summary": summary,
            "task_expectation": "I expected a useful answer.",
            "survey_answers": survey if survey is not None else [
                {"age": "31", "gender": "Female", "education": "Graduate",
                 "occupation": "Teacher", "frequency": "4", "purposes": "work"}]}


def write_jsonl(path: Path, records: list) -> Path:
    """Write records (dicts, or raw str/bytes lines written verbatim)."""
    with open(path, "wb") as fh:
        for rec in records:
            if isinstance(rec, bytes):
                fh.write(rec + b"\n")
            elif isinstance(rec, str):
                fh.write(rec.encode() + b"\n")
            else:
                fh.write(json.dumps(rec, ensure_ascii=False).encode() + b"\n")
    return path


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
    from tests.conftest import HashingEmbedder

    settings = Settings(source=str(source), db=db, progress=False, cluster_reduce="none")
    stages = tuple(n for n in pipeline.STAGES if n != "shifts")
    pipeline.build(settings, only=stages, embedder=HashingEmbedder(), log=lambda _: None)
    con = duckdb.connect(str(db))
    try:
        stage_shifts(con, settings=settings, log=lambda _: None, umap_factory=PCA2)
    finally:
        con.close()
    return db
