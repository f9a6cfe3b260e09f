"""Pieces shared by the page tests (AppTest): the analysed sample under the pages'
fixture name, and the sample ingested only (pages whose stages are missing)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def built_db(analysed_db: Path) -> Path:
    """The shared sample, every stage (the session's `analysed_db`; read only)."""
    return analysed_db


@pytest.fixture(scope="session")
def ingest_only_db(sample_ingest_db: Path) -> Path:
    """The shared sample, the ingest stage only: Topics, Turn by turn and Semantic shifts
    have nothing to show."""
    return sample_ingest_db
