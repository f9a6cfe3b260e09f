"""The figures of the Topics page (`components.figures.topics`): the domain -> subtopic
sunburst / treemap, the cluster bars (noise its own grey bar), the label-share heatmap;
and their catalogue entries on a small built DB."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from components.figures import catalogue
from components.figures import topics as ft
from components.figures.theme import DOMAIN_COLORS, GREY
from components.filters import Filters
from components.queries import topics as tv


def test_sunburst_of_domains_and_subtopics():
    counts = pl.DataFrame({"domain": ["Technology", "Technology", "Other Topics"],
                           "subtopic": ["Coding", "Hardware", "Misc"], "n": [5, 2, 1]})
    frame = tv.sunburst_frame(counts)
    fig = ft.topic_hierarchy(frame, kind="sunburst")
    assert fig.data[0].type == "sunburst" and fig.data[0].branchvalues == "total"
    assert list(fig.data[0].values) == [7, 1, 5, 2, 1]
    assert list(fig.data[0].parents) == ["", "", "Technology", "Technology", "Other Topics"]
    assert fig.data[0].marker.colors[0] == DOMAIN_COLORS["Technology"]
    assert fig.data[0].marker.colors[2] != DOMAIN_COLORS["Technology"]  # subtopics lighter
    assert ft.topic_hierarchy(frame, kind="treemap").data[0].type == "treemap"
    empty = ft.topic_hierarchy(frame.head(0), title="t")
    assert not empty.data and "No topics" in empty.layout.annotations[0].text


def test_heatmap_rows_are_shares_that_sum_to_one():
    counts = pl.DataFrame({
        "domain": ["Technology"] * 3 + ["Other Topics"] * 3,
        "kind": ["reason", "reason", "reaction"] * 2,
        "label": ["task_motivation", "style_expectation", "scope_fit"] * 2,
        "display_name": ["Task Motivation", "Style", "Scope"] * 2,
        "n": [3, 1, 5, 0, 2, 0]})
    mat = tv.label_matrix(counts, "reason", ("Other Topics", "Technology"))
    fig = ft.label_matrix_heatmap(mat, title="Reasons by domain", unit="reasons")
    heat = fig.data[0]
    assert heat.type == "heatmap"
    assert np.allclose(np.asarray(heat.z).sum(axis=1), 1.0)
    assert list(heat.x) == ["Task Motivation", "Style"]
    assert list(heat.y) == ["Other Topics (2)", "Technology (4)"]
    assert [list(r) for r in heat.text] == [["0%", "100%"], ["75%", "25%"]]
    assert np.asarray(heat.customdata)[1, 0].tolist() == [3, 4]  # count, row total
    assert "reasons" in heat.hovertemplate
    none = tv.label_matrix(counts.head(0), "reason")
    assert not ft.label_matrix_heatmap(none).data


def test_cluster_bars_noise_is_its_own_grey_bar():
    clusters = pl.DataFrame({"cluster_id": [0, 1, -1], "name": ["x · y", "z", "noise"],
                             "keywords": ["x, y", "z", ""], "size": [10, 5, 3],
                             "n": [4, 2, 1], "is_noise": [False, False, True]})
    fig = ft.cluster_bars(clusters, "reason")
    bar = fig.data[0]
    assert list(bar.x) == [1, 2, 4]
    assert bar.y[0] == "noise (unclustered)" and bar.marker.color[0] == GREY
    assert list(bar.y[1:]) == ["#1 z", "#0 x · y"]  # the largest on top
    capped = ft.cluster_bars(clusters, "reason", title="t", max_bars=1)
    assert list(capped.data[0].x) == [1, 4]
    assert "the 1 largest of 2 clusters" in capped.layout.title.text
    none = ft.cluster_bars(clusters.with_columns(n=pl.lit(0)), "reason")
    assert not none.data


# =========================================================================== catalogue




@pytest.fixture(scope="module")
def source(analysed_db):
    """A `DirectSource` on the shared sample, every stage built fast."""
    c = duckdb.connect(str(analysed_db), read_only=True)
    yield catalogue.DirectSource(c)
    c.close()


def _count(source, sql: str) -> int:
    return source.con.execute(sql).fetchall()[0][0]


def test_catalogue_topic_entries_on_built_db(source):
    n_conv = _count(source, "SELECT count(*) FROM conversations")
    drawn = catalogue.TOPIC_HIERARCHY(source, Filters(), mode="primary", shape="treemap")
    assert drawn.figure.data[0].type == "treemap"
    assert drawn.n == f"n = {n_conv:,} conversations"
    assert drawn.figure.layout.title.text == catalogue.HIERARCHY_TITLES["primary"]
    multi = catalogue.TOPIC_HIERARCHY(source, Filters(), mode="multi")
    n_assigned = _count(source, "SELECT count(*) FROM topic_scores WHERE is_assigned")
    assert multi.n == f"n = {n_assigned:,} topic assignments"

    for space in tv.SPACES:
        drawn = catalogue.CLUSTERS(source, Filters(), space=space)
        assert drawn.figure.data[0].type == "bar"
        assert drawn.n == f"n = {int(drawn.data['n'].sum()):,} items"

    for kind, noun in (("reason", "reasons"), ("reaction", "reactions")):
        n = _count(source, f"SELECT count(*) FROM thoughts WHERE kind = '{kind}'")
        drawn = catalogue.DOMAIN_LABELS(source, Filters(), kind=kind)
        assert drawn.figure.data[0].type == "heatmap"
        assert drawn.n == f"n = {n:,} {noun}"
        assert int(drawn.data["n"].sum()) == n
