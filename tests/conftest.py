"""Shared pytest fixtures: fake embedder, tiny corpora built in code, the shared sample DB.

Keep fixtures generic; add new ones at the end of their section.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

# under CI=true a missing prerequisite stops the run and a skipped test fails
from tests.ci_guard import pytest_runtest_makereport, pytest_sessionstart  # noqa: F401

# the one home of the test corpora, the fake embedder and the paths: tests/corpus.py
from tests.corpus import (  # noqa: F401
    DEMO,
    SAMPLE,
    HashingEmbedder,
    build_analysed_db,
    ingest_db,
    write_jsonl,
)

# --------------------------------------------------------------------------- fake model


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


# --------------------------------------------------------------------------- corpora


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
def analysed_db(sample_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The shared sample with every stage, built fast (`tests.corpus.build_analysed_db`:
    fake embedder, PCA map) once per session and shared by the modules that read it.

    Read only: a test that changes a DB copies this file first (`analysed_db_copy`). The
    file's hash is checked when the session ends, so a test that wrote to it fails there.
    """
    db = build_analysed_db(sample_path, tmp_path_factory.mktemp("analysed") / "full.duckdb")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    yield db
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before, \
        f"a test wrote to the shared analysed DB {db}: copy it first (analysed_db_copy)"


@pytest.fixture(scope="session")
def sample_ingest_db(sample_path: Path, tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[Path]:
    """The shared sample, the ingest stage only (20 conversations, 17 users), built once
    per session. Read only, its hash checked at the end, as `analysed_db`."""
    db = ingest_db(sample_path, tmp_path_factory.mktemp("sample_ingest") / "sample.duckdb")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    yield db
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before, \
        f"a test wrote to the shared ingested sample {db}: copy it first"


@pytest.fixture
def analysed_db_copy(analysed_db: Path, tmp_path: Path) -> Path:
    """A private copy of `analysed_db` that the test may change."""
    copy = tmp_path / "analysed.duckdb"
    shutil.copy(analysed_db, copy)
    return copy


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
