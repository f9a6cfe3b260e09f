"""Figures of the "Thought types & stages" page (components.figures.thoughts): label share
bars beside the published shares, stage bars whose segments carry their identity (label,
stage, facet) for a click, and transition Sankeys; every figure passes plotly's full
validation and carries the theme. Built from the queries on the tiny DB
(tests/tiny_db.py) and from hand-made frames."""

from __future__ import annotations

import duckdb
import plotly.graph_objects as go
import polars as pl
import pytest

from components.figures import thoughts as ft
from components.figures.base import esc
from components.filters import Filters
from components.published import PUBLISHED_SOURCE
from components.queries import thoughts as qt
from components.vocabulary import LABELS_BY_KIND
from precompute.labels import STAGES
from tests.queries.test_thoughts import three_conversations
from tests.tiny_db import TM, build_tiny_db

REASONS = LABELS_BY_KIND["reason"]


def _valid(fig: go.Figure) -> dict:
    """The figure passes plotly's full validation; returns its dict."""
    d = fig.to_dict()
    go.Figure(d)
    assert d["layout"]["template"]["layout"]["font"]["family"].startswith("Inter")
    return d


def test_stage_bars_figure_carries_segment_identity():
    shares = qt.compute_stage_shares(three_conversations(), REASONS, 4)
    shares = shares.with_columns(display_name=pl.col("label"), meaning=pl.lit("m"),
                                 stage_name=pl.col("stage").replace_strict(
                                     dict(enumerate(STAGES)), return_dtype=pl.Utf8))
    facets = pl.DataFrame({"facet": ["All conversations"], "conversations": [3],
                           "thoughts": [8], "shown": [True]})
    fig = ft.stage_bars({"shares": shares, "facets": facets, "stage_names": STAGES},
                        "reason", "relative position in 4 bins")
    d = _valid(fig)
    assert "8 reasons" in d["layout"]["title"]["text"]
    tm = next(t for t in d["data"] if t["legendgroup"] == TM)
    assert [c[:3] for c in tm["customdata"]] == [[TM, s, "All conversations"] for s in range(4)]
    assert tm["y"][0] == pytest.approx(0.75)
    point = {"customdata": tm["customdata"][0]}
    assert qt.segment_from_points([point]) == (TM, 0, "All conversations")
    assert qt.segment_from_points([]) is None
    # the empty Mid-Late stage is drawn as a zero bar, and its tick says n=0
    assert tm["y"][2] == 0
    assert "n=0" in d["layout"]["xaxis"]["ticktext"][2]


def test_stage_bars_without_thoughts_is_an_empty_figure():
    shares = qt.compute_stage_shares(three_conversations().clear(), REASONS, 4)
    shares = shares.with_columns(display_name=pl.col("label"), meaning=pl.lit(""),
                                 stage_name=pl.lit("Early"))
    facets = pl.DataFrame({"facet": ["All conversations"], "conversations": [0],
                           "thoughts": [0], "shown": [True]})
    d = _valid(ft.stage_bars({"shares": shares, "facets": facets, "stage_names": STAGES},
                             "reaction", "rule"))
    assert not d["data"] and "No reactions in the selection." in str(d["layout"])


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory):
    con = duckdb.connect(str(build_tiny_db(tmp_path_factory.mktemp("tiny"))), read_only=True)
    yield con
    con.close()


def test_split_stage_bars_say_which_facets_are_shown(tiny_db):
    res = qt.stage_shares(tiny_db, Filters(), "reason", "relative", "model", top_n=1)
    d = _valid(ft.stage_bars(res, "reason", "rel", "Model"))
    assert "top 1 of 2 values" in d["layout"]["title"]["text"]
    assert "(2 of 4 conversations)" in d["layout"]["title"]["text"]
    assert [a["text"] for a in d["layout"]["annotations"]] == ["<b>M1</b> (n=2 conv.)"]
    assert {t["customdata"][0][2] for t in d["data"] if t["type"] == "bar"} == {"M1"}


def test_sankey_figure(tiny_db):
    counts = qt.transition_counts(tiny_db, Filters(), "reason")
    stages = qt.sankey_links(counts, "stages", STAGES)
    display = {TM: "Task Motivation & Goal"}
    d = _valid(ft.sankey_figure(stages, "stages", STAGES, display, "t"))
    assert sorted(d["data"][0]["link"]["value"]) == [1, 1, 1]
    # dataset text is escaped for plotly's HTML subset (plotly shows "&amp;" as "&")
    assert esc("Task Motivation & Goal") in d["data"][0]["node"]["label"]
    assert d["layout"]["title"]["text"] == "t"
    pairs = qt.sankey_links(counts, "pairs", STAGES)
    p = _valid(ft.sankey_figure(pairs, "pairs", STAGES, display, "p", ft.pair_titles("reason")))
    assert sorted(p["data"][0]["link"]["value"]) == [1, 1, 2]
    assert [a["text"] for a in p["layout"]["annotations"]] == [
        "<b>this thought</b>", "<b>next thought of the kind</b>"]
    empty = _valid(ft.sankey_figure(pairs.clear(), "pairs", STAGES, display, "none"))
    assert not empty["data"]


def test_transition_title_and_pair_titles():
    title = ft.transition_title("Reason → next reason", 1234, "pairs", 20, "rule", "Early")
    assert title.startswith("Reason → next reason: 1,234 consecutive pairs starting in Early")
    assert "in 20 conversations; stages: rule" in title
    assert "cross into a later stage" in ft.transition_title("f", 1, "stages", 1, "r")
    assert ft.pair_titles("reaction_reason")[1] == "first reason on the next user message"


def test_label_share_bars_beside_the_published_shares(tiny_db):
    dist = qt.label_distribution(tiny_db, Filters(models=("M1",)))
    d = _valid(ft.label_share_bars(dist, "reason", 2, compare=True))
    bars = [t for t in d["data"] if t["type"] == "bar"]
    assert len(bars) == 2 and bars[0]["name"] == PUBLISHED_SOURCE
    assert d["layout"]["title"]["text"].startswith(
        "Reasons: share of 5 reasons in 2 conversations<br><sup>95% intervals: bootstrap "
        "over users")
    solid = d["data"][1]
    assert solid["x"][0] is None                             # the neutral legend swatch
    shares = dict(zip(solid["y"][1:], solid["x"][1:]))
    assert shares[esc(dist.filter(pl.col("label") == TM)["display_name"][0])] == \
        pytest.approx(2 / 5)
    alone = _valid(ft.label_share_bars(dist, "reaction", 2, compare=False))
    assert [t["type"] for t in alone["data"]] == ["bar", "scatter"]  # bars + value labels
    assert not alone["layout"]["showlegend"]
    # the whiskers span each label's 95% interval (bootstrap over users)
    err = solid["error_x"]
    ci = {r["display_name"]: r for r in dist.filter(pl.col("kind") == "reason")
          .iter_rows(named=True)}
    for name, x, plus, minus in zip(solid["y"][1:], solid["x"][1:], err["array"][1:],
                                    err["arrayminus"][1:]):
        row = next(r for n, r in ci.items() if esc(n) == name)
        assert x + plus == pytest.approx(row["ci_hi"]) and x - minus == pytest.approx(row["ci_lo"])
    empty = qt.label_distribution(tiny_db, Filters(models=("nope",)))
    assert not _valid(ft.label_share_bars(empty, "reason", 0))["data"]
