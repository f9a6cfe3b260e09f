"""Figures of the Participants page (components.figures.participants): one bar chart per
survey field with conversations and users side by side, the missing bar kept, and the
small print of how each field's answers were cleaned. Built from the queries on the tiny
DB (tests/tiny_db.py)."""

from __future__ import annotations

import duckdb
import plotly.graph_objects as go
import polars as pl
import pytest

from components.figures import participants as fp
from components.figures.base import esc
from components.filters import MISSING, Filters
from components.queries import participants as qp
from tests.tiny_db import build_tiny_db


def _valid(fig: go.Figure) -> dict:
    """The figure passes plotly's full validation; returns its dict."""
    d = fig.to_dict()
    go.Figure(d)
    assert d["layout"]["template"]["layout"]["font"]["family"].startswith("Inter")
    return d


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory):
    con = duckdb.connect(str(build_tiny_db(tmp_path_factory.mktemp("tiny"))), read_only=True)
    yield con
    con.close()


def test_participant_bars_show_conversations_users_and_missing(tiny_db):
    purposes = qp.participant_counts(tiny_db, Filters(), "purposes")["counts"]
    d = _valid(fp.participant_bars(purposes, "Purposes", 4, 3))
    assert {t["name"] for t in d["data"]} == {"conversations", "users"}
    assert MISSING in d["data"][0]["y"]
    assert d["layout"]["title"]["text"] == "Purposes: conversations (n=4) and users (n=3)"
    # first category on top: the y axis runs bottom-up, so the frame is reversed
    assert d["data"][0]["y"][-1] == esc(purposes["category"][0])  # plotly's HTML subset
    assert d["data"][0]["y"][0] == MISSING


def test_participant_bars_one_count_with_a_note(tiny_db):
    age = qp.participant_counts(tiny_db, Filters(), "age")
    note = fp.participant_note("age", age)
    d = _valid(fp.participant_bars(age["counts"], "Age bracket", 4, 3, show=("users",),
                                   note=note))
    assert [t["name"] for t in d["data"]] == ["users"]
    assert d["layout"]["title"]["text"] == f"Age bracket: users (n=3)<br><sup>{note}</sup>"
    assert not d["layout"]["showlegend"]


def test_long_categories_are_shortened_and_kept_apart():
    long = "a very long occupation answer that goes on and on"
    counts = pl.DataFrame({"category": [long + " one", long + " two"], "conversations": [2, 1],
                           "users": [1, 1], "share": [0.5, 0.25]})
    d = _valid(fp.participant_bars(counts, "Occupation", 4, 2, max_chars=20))
    ys = d["data"][0]["y"]
    assert len(set(ys)) == 2 and all(y.startswith("a very long occupat…") for y in ys)


def test_empty_selection_is_an_empty_figure():
    empty = pl.DataFrame(schema=qp.COUNT_SCHEMA)
    d = _valid(fp.participant_bars(empty, "Gender", 0, 0))
    assert not d["data"] and "No conversations in the selection." in str(d["layout"])


def test_participant_note_per_field(tiny_db):
    occ = qp.participant_counts(tiny_db, Filters(), "occupation")
    assert fp.participant_note("occupation", occ, 15).startswith("1 distinct answers")
    assert "the 15 most frequent" in fp.participant_note("occupation", occ, 15)
    assert "several" in fp.participant_note("purposes", {})
    assert fp.participant_note("gender", {}) == "case and spaces normalised"
    assert fp.participant_note("unknown", {}) == ""
