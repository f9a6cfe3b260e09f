"""The figures of the "Semantic shifts" page (`components.figures.shifts`): the centred-gap
panels (ring shapes, shared axis limits, point counts, sample and hover notes), the global
map, the labels of a selection; and their catalogue entries on a small built DB."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from components.figures import catalogue
from components.figures import shifts as mf
from components.figures.theme import GREY, KIND_COLORS, LABEL_COLORS
from components.filters import Filters
from components.queries import shifts as sv
from tests.queries.test_shifts import pairs_frame


def map_points() -> pl.DataFrame:
    """Four reasons and two user messages on a diagonal."""
    return pl.DataFrame({"item_id": [f"t:{i}" for i in range(6)],
                         "kind": ["reason"] * 4 + ["user_message"] * 2,
                         "label": ["scope_fit"] * 4 + [None] * 2, "conv_id": ["c"] * 6,
                         "turn": [1] * 6, "x": np.arange(6.0), "y": np.arange(6.0),
                         "color": ["reason"] * 4 + ["user_message"] * 2})


# =========================================================================== panels


def test_rings_of_distances_1_to_100_are_drawn_with_those_radii():
    pairs = pairs_frame({"consecutive": 100}, dist=np.arange(1, 101))
    fig = mf.shift_panels(pairs, sv.rings_by_type(pairs))
    circles = [s for s in fig.layout.shapes if s.line.color == mf.RING_COLOR]
    assert sorted(s.name for s in circles) == ["p25", "p50", "p75"]
    for s in circles:  # a circle centred at the origin, on the first panel, over the points
        assert s.type == "circle" and s.layer == "above" and (s.xref, s.yref) == ("x", "y")
        assert (s.x0, s.y0) == (-s.x1, -s.y1) and s.x1 == s.y1
    assert sorted(round(s.x1, 6) for s in circles) == [25.75, 50.5, 75.25]
    halos = [s for s in fig.layout.shapes if s.line.color == mf.RING_HALO]
    assert sorted(s.x1 for s in halos) == sorted(s.x1 for s in circles)
    labels = [a.text for a in fig.layout.annotations]
    assert {"25th 25.75", "median 50.50", "75th 75.25"} <= set(labels)
    # as the paper draws them: solid 25th, dashed median, dotted 75th
    assert {s.name: s.line.dash for s in circles} == {"p25": "solid", "p50": "dash",
                                                       "p75": "dot"}


def test_every_ring_is_labelled_even_when_small_or_close():
    """Rings of 0.05 / 0.06 / 3.0 (two nearly equal, one tiny next to the axis range):
    all three labels are drawn, each on its own leader line at its own angle."""
    d = np.r_[np.full(30, 0.05), np.full(40, 0.06), np.full(30, 3.0)]
    pairs = pairs_frame({"consecutive": 100}, dist=d)
    fig = mf.shift_panels(pairs, sv.rings_by_type(pairs))
    ring_labels = [a for a in fig.layout.annotations
                   if (a.text or "").startswith(("25th", "median", "75th"))]
    assert len(ring_labels) == 3 and all(a.showarrow for a in ring_labels)
    assert len({(round(a.ax), round(a.ay)) for a in ring_labels}) == 3


def test_axes_keep_rings_legible_and_count_far_pairs():
    d = np.r_[np.linspace(0.1, 1.0, 99), 50.0]  # one far outlier
    pairs = pairs_frame({"consecutive": 100}, dist=d)
    rings = sv.rings_by_type(pairs)
    lim = mf.axis_limit(pairs, rings)
    assert rings["p75"].max() * 1.3 <= lim < 5  # not stretched to the outlier
    fig = mf.shift_panels(pairs, rings)
    assert any("1 beyond the axes" in (a.text or "") for a in fig.layout.annotations)
    # a sampled panel's notes go one per line (side by side they overran the next panel)
    fig = mf.shift_panels(pairs, rings, n={"consecutive": 400}, shown={"consecutive": 100})
    note = next(a.text for a in fig.layout.annotations if "beyond the axes" in (a.text or ""))
    assert note == "seeded sample: 100 of 400 drawn<br>1 beyond the axes"


def test_axis_limit_without_pairs_is_one():
    pairs = pairs_frame({})
    assert mf.axis_limit(pairs, sv.rings_by_type(pairs)) == 1.0


def test_ring_shapes_skip_missing_and_use_the_panel_axes():
    shapes = mf.ring_shapes({"p25": 1.0, "p50": float("nan"), "p75": 3.0}, "x3", "y3")
    dark = [s for s in shapes if s["line"]["color"] == mf.RING_COLOR]
    assert [(s["name"], s["x1"], s["xref"], s["yref"]) for s in dark] == [
        ("p25", 1.0, "x3", "y3"), ("p75", 3.0, "x3", "y3")]
    assert [s["line"]["dash"] for s in dark] == ["solid", "dot"]  # 25th solid, 75th dotted
    assert len(shapes) == 4  # each ring has its white halo
    assert mf.ring_shapes({"p25": 0.0, "p50": None, "p75": float("inf")}) == []


def test_panel_point_counts_star_and_shared_axes():
    pairs = pairs_frame({"consecutive": 5, "message_reason": 3})
    rings = sv.rings_by_type(pairs)
    fig = mf.shift_panels(pairs, rings, n={"consecutive": 5, "message_reason": 3,
                                           "reaction_next": 0})
    points = [t for t in fig.data if t.mode == "markers"]
    assert [len(t.x) for t in points] == [5, 3]
    assert [t.xaxis for t in points] == ["x", "x2"]
    assert all(t.type == "scattergl" for t in fig.data)  # only the points are WebGL
    stars = [a for a in fig.layout.annotations if a.name == "source"]
    assert [(a.xref, a.x, a.y) for a in stars] == [("x", 0, 0), ("x2", 0, 0), ("x3", 0, 0)]
    ranges = {tuple(fig.layout[f"xaxis{i or ''}"].range) for i in ("", 2, 3)} | \
        {tuple(fig.layout[f"yaxis{i or ''}"].range) for i in ("", 2, 3)}
    assert len(ranges) == 1  # one shared square range
    (lo, hi), = ranges
    assert lo == -hi and hi >= 5
    assert any("no pairs" in (a.text or "") for a in fig.layout.annotations)
    titles = [a.text for a in fig.layout.annotations if "n = " in (a.text or "")]
    assert any("n = 5 pairs" in t for t in titles) and any("n = 0 pairs" in t for t in titles)


def test_panel_sample_notice_and_hover_text_only_when_given():
    pairs = pairs_frame({"reaction_next": 4}).with_columns(
        src_text=pl.Series(["a<b>", "b", "c", "d"]), dst_text=pl.lit("x"))
    fig = mf.shift_panels(pairs, sv.rings_by_type(pairs), n={"reaction_next": 40},
                          shown={"reaction_next": 4}, texts={"reaction_next": True})
    trace = next(t for t in fig.data if t.customdata is not None)
    assert trace.hovertemplate.startswith("%{hovertext}")
    # the snippets come escaped from the query: the figure does not escape them twice
    assert "a&lt;b&gt;" not in trace.hovertext[0] and "a<b>" in trace.hovertext[0]
    assert any("4 of 40 drawn" in (a.text or "") for a in fig.layout.annotations)
    fig2 = mf.shift_panels(pairs, sv.rings_by_type(pairs), texts={"reaction_next": False})
    trace2 = next(t for t in fig2.data if t.customdata is not None)
    assert "click for both texts" in trace2.hovertemplate


def test_panel_customdata_is_row_turns_and_distance():
    pairs = pairs_frame({"consecutive": 2, "message_reason": 3})
    fig = mf.shift_panels(pairs, sv.rings_by_type(pairs))
    reasons = [t for t in fig.data if t.customdata is not None][1]
    assert [list(map(float, row)) for row in reasons.customdata] == [
        [2.0, 1.0, 2.0, 1.0], [3.0, 2.0, 3.0, 2.0], [4.0, 3.0, 4.0, 3.0]]


# =========================================================================== global map


def test_global_map_traces_downsample_notice_and_arrows():
    pts = map_points()
    fig = mf.global_map(pts, "kind", total=60)
    assert [t.type for t in fig.data] == ["scattergl", "scattergl"]
    assert sum(len(t.x) for t in fig.data) == 6
    assert fig.data[0].marker.color == KIND_COLORS["reason"]  # the largest first
    assert any("6 of 60" in (a.text or "") for a in fig.layout.annotations)
    assert fig.layout.dragmode == "lasso"
    assert not any("of 6" in (a.text or "")
                   for a in mf.global_map(pts, "kind", total=6).layout.annotations)
    arrows = pl.DataFrame({"x0": [0.0], "y0": [0.0], "x1": [1.0], "y1": [1.0], "turn": [1],
                           "label": ["task_motivation"], "src_id": ["m:c:1"],
                           "dst_id": ["t:1"]})
    fig = mf.global_map(pts, "kind", arrows=arrows, arrows_title="c")
    assert sum(1 for a in fig.layout.annotations if a.showarrow) == 1
    assert fig.layout.title.text.endswith("<sup>arrows: c</sup>")
    assert mf.global_map(pts.head(0), "kind").layout.annotations[0].text.startswith("No map")


def test_top_categories_fold_the_rest_into_other():
    many = [f"m{i}" for i in range(30) for _ in range(i + 1)]
    top = mf.top_categories(many, limit=5)
    assert len(top) == len(many)
    assert len(set(top)) == 5 and "other" in set(top)
    assert {"m29", "m28", "m27", "m26"} <= set(top)  # the four largest kept
    assert mf.top_categories(["a", "b"], limit=5) == ["a", "b"]


def test_category_colors_fixed_and_grey():
    colors = mf.category_colors("kind", ["reason", "(none)", "other"])
    assert colors == {"reason": KIND_COLORS["reason"], "(none)": GREY, "other": GREY}
    seq = mf.category_colors("model", ["A", "B", "task · noise"])
    assert seq["A"] != seq["B"] and seq["task · noise"] == GREY


def test_label_distribution_bars_largest_on_top():
    dist = pl.DataFrame({"kind": ["reason", "user_message"],
                         "label": ["scope_fit", "(user message)"], "n": [2, 1],
                         "share": [2 / 3, 1 / 3]})
    fig = mf.label_distribution(dist, {"scope_fit": "Scope fit"})
    bar = fig.data[0]
    assert list(bar.y) == ["(user message)", "Scope fit"]  # plotly draws the last on top
    assert list(bar.x) == [1, 2] and bar.text[1] == "2 (67%)"
    assert bar.marker.color[1] == LABEL_COLORS["scope_fit"]
    assert mf.label_distribution(dist.head(0)).layout.annotations[0].text == "Nothing selected."


# =========================================================================== catalogue




@pytest.fixture(scope="module")
def source(analysed_db):
    """A `DirectSource` on the shared sample, every stage built fast."""
    c = duckdb.connect(str(analysed_db), read_only=True)
    yield catalogue.DirectSource(c)
    c.close()


def test_catalogue_shift_entries_on_built_db(source):
    n_pairs = source.con.execute("SELECT count(*) FROM shift_pairs").fetchall()[0][0]
    drawn = catalogue.SHIFT_PANELS(source, Filters(), max_points=5, hover_texts=False)
    assert drawn.n == f"n = {n_pairs:,} pairs"
    assert drawn.figure.layout.title.text.startswith("Semantic shift")
    assert drawn.data["pair"].to_list() == ["Consecutive user messages",
                                            "Message → its reason", "Reaction → next message"]
    points = [t for t in drawn.figure.data if t.customdata is not None]
    assert all(len(t.x) <= 5 for t in points)
    assert all("click for both texts" in t.hovertemplate for t in points)

    n_points = source.con.execute("SELECT count(*) FROM map_points").fetchall()[0][0]
    conv = sv.map_conversations(source.con, Filters())[0]
    drawn = catalogue.GLOBAL_MAP(source, Filters(), color_by="label", arrows_for=conv)
    assert drawn.data.height == n_points
    assert drawn.figure.layout.title.text.startswith("Global map")
    assert any(a.showarrow for a in drawn.figure.layout.annotations)

    items = tuple(drawn.data["item_id"].head(3).to_list())
    drawn = catalogue.SELECTION_LABELS(source, Filters(), color_by="label", items=items)
    assert int(drawn.data["n"].sum()) == 3 and drawn.n == "n = 3 selected items"
