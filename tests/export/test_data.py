"""Data exports of a filtered subset (`components.export.data`): the conversations as JSONL
in the release's schema (re-ingesting it gives the same tables) and their thoughts as CSV."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from components.export import data as exports
from components.filters import Filters
from components.queries.core import frame
from tests.corpus import ingest_db
from tests.queries.test_conversations import build_small

RECORD_KEYS = ["id", "messages", "model_name", "model_provider", "created_at", "updated_at",
               "task_summary", "task_expectation", "survey_answers"]


def _ingest(source: Path, db: Path) -> Path:
    ingest_db(source, db)
    return db


@pytest.fixture(scope="module")
def sample_ingested(sample_path, tmp_path_factory) -> Path:
    """The shared sample, ingest stage only (what the exports read)."""
    return _ingest(sample_path, tmp_path_factory.mktemp("export_sample") / "sample.duckdb")


@pytest.fixture(scope="module")
def small_db(tmp_path_factory) -> Path:
    return build_small(tmp_path_factory.mktemp("export_small"))


def _export(db: Path, filters: Filters) -> tuple[bytes, bytes]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return exports.export_jsonl(con, filters), exports.export_thoughts_csv(con, filters)
    finally:
        con.close()


def _core(db: Path) -> dict[str, pl.DataFrame]:
    """The core tables, without the columns later stages add."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table, order in (("conversations", "conv_id"), ("messages", "conv_id, turn"),
                             ("thoughts", "thought_id")):
            df = frame(con, f"SELECT * FROM {table} ORDER BY {order}")
            out[table] = df.drop([c for c in ("domain", "subtopic") if c in df.columns])
        return out
    finally:
        con.close()


def test_export_round_trips_the_sample(sample_ingested, tmp_path):
    data, csv = _export(sample_ingested, Filters())
    lines = data.decode("utf-8").splitlines()
    assert len(lines) == 20
    first = json.loads(lines[0])
    assert list(first) == RECORD_KEYS
    assert set(first["messages"][0]) == {"content", "timestamp", "type", "id", "reasons"}
    path = tmp_path / "exported.jsonl"
    path.write_bytes(data)
    again = _ingest(path, tmp_path / "again.duckdb")
    a, b = _core(sample_ingested), _core(again)
    for table in a:
        assert_frame_equal(a[table], b[table], check_dtypes=True)
    thoughts = pl.read_csv(io.BytesIO(csv))
    assert thoughts.height == 310
    assert {"conv_id", "turn", "label", "content"} <= set(thoughts.columns)


def test_export_follows_filters_and_keeps_missing_survey(small_db):
    data, csv = _export(small_db, Filters(models=("Claude Opus 4.6",)))
    recs = [json.loads(line) for line in data.decode().splitlines()]
    assert [r["id"] for r in recs] == ["user2_task1_conversation1", "user3_task1_conversation1"]
    assert [list(r) for r in recs] == [RECORD_KEYS] * 2
    assert recs[1]["survey_answers"] == []
    assert recs[0]["survey_answers"][0]["frequency"] == "2"
    assert recs[1]["messages"][3]["reactions"] == []
    assert recs[1]["messages"][1]["reactions"][0]["label"] == "scope_fit"
    thoughts = pl.read_csv(io.BytesIO(csv))
    assert thoughts.height == 2 + 5
    assert set(thoughts["conv_id"].to_list()) == {r["id"] for r in recs}
    assert thoughts.filter(pl.col("label") == "scope_fit")["display_name"].to_list() == \
        ["Scope Fit"]


def test_export_of_nothing_is_empty(small_db):
    data, csv = _export(small_db, Filters(models=("no such model",)))
    assert data == b""
    assert pl.read_csv(io.BytesIO(csv)).height == 0
