"""A new tab's first run draws up to the page's first chart, then the rest
(components.ui.first_paint), through AppTest with the browser check forced on: the light
run has one chart and no sidebar widget, the hidden button brings the whole page, later
runs are full; without a browser (AppTest's default) every run is full."""

from __future__ import annotations

import pytest

from components.ui import first_paint
from tests.apptest import chart_specs, open_app
from tests.queries.test_compare import corpus


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from tests.corpus import ingest_db, write_jsonl

    d = tmp_path_factory.mktemp("first_paint")
    return ingest_db(write_jsonl(d / "c.jsonl", corpus()), d / "c.duckdb")


@pytest.fixture
def browser(monkeypatch):
    monkeypatch.setattr(first_paint, "_from_browser", lambda: True)


def rest_button(at):
    return [b for b in at.button if b.key == first_paint.BUTTON_KEY]


def test_a_new_tab_draws_its_first_chart_then_the_rest(db, monkeypatch, browser):
    at = open_app(db, monkeypatch, "thoughts", model="GPT-5.4")
    assert len(chart_specs(at)) == 1 and not at.sidebar.multiselect
    assert rest_button(at) and any("scrollIntoView" not in h.value and "btn.click" in h.value
                                   for h in at.html)
    rest_button(at)[0].click().run()
    # the Thoughts page's 7 charts: shares, stage dynamics and stages beside the paper for
    # reasons and for reactions (2 + 2 + 2), and the flow
    assert len(chart_specs(at)) == 7 and at.sidebar.multiselect
    assert not rest_button(at)
    # the filters of the link hold in both runs; later runs stay full
    assert at.sidebar.multiselect(key="f_models").value == ["GPT-5.4"]
    at.run()
    assert len(chart_specs(at)) == 7 and not rest_button(at)


def test_the_overview_table_and_download_menus_wait_for_the_rest(db, monkeypatch, browser):
    at = open_app(db, monkeypatch, "overview")
    assert not at.dataframe and len(chart_specs(at)) == 1
    assert not at.get("popover")
    rest_button(at)[0].click().run()
    assert at.dataframe and at.get("popover")


def test_a_page_that_opens_on_a_table_draws_in_full_in_one_run(db, monkeypatch, browser):
    """The conversation list and transcript: sidebar, table and transcript in the first
    run, no hidden button, no second run."""
    at = open_app(db, monkeypatch, "conversations", conv="user2_task1_conversation1")
    assert at.dataframe and at.chat_message and at.sidebar.multiselect
    assert not rest_button(at) and not any("btn.click" in h.value for h in at.html)
    assert [p.proto.popover.label for p in at.sidebar.get("popover")][:1] == [
        "Copy link to this view"]


def test_without_a_browser_every_run_is_full(db, monkeypatch):
    at = open_app(db, monkeypatch, "thoughts")
    assert len(chart_specs(at)) == 7 and at.sidebar.multiselect and not rest_button(at)


@pytest.mark.parametrize("page, params", [("conversations", {}),
                                          ("thoughts", {"label": "presentation_style"}),
                                          ("overview", {"label": "presentation_style"})])
def test_pages_that_end_early_still_have_the_link_box(db, monkeypatch, page, params):
    """A page that ends on purpose (no conversation open; nothing matches the filters)
    still gets the sidebar's link and citation boxes, drawn after the page."""
    at = open_app(db, monkeypatch, page, **params)
    if params:  # no conversation of the corpus has that label: the page ends at its notice
        assert any("No conversations match" in i.value for i in at.info)
    assert [p.proto.popover.label for p in at.sidebar.get("popover")] == [
        "Copy link to this view",
        "Cite this dataset"]


def test_semantic_shifts_previews_its_panels_in_svg_then_draws_them_in_webgl(
        analysed_db, monkeypatch, browser):
    """The shifts page's first chart in a new tab is an SVG preview (no WebGL context to
    create first) of at most PREVIEW_PANEL_POINTS points a panel; the rest of the page
    replaces it with the full WebGL panels: every pair of the sample (it has fewer than
    MAX_PANEL_POINTS a panel)."""
    import duckdb

    from components.figures import catalogue
    from components.filters import Filters
    from components.queries import shifts as sv

    with duckdb.connect(str(analysed_db), read_only=True) as con:
        n = sv.shift_panels(con, Filters(), sv.MAX_PANEL_POINTS, 0)["n"]
    at = open_app(analysed_db, monkeypatch, "shifts")
    (spec,) = chart_specs(at)
    preview = [t for t in spec["data"] if t.get("mode") == "markers"]
    assert len(preview) == 3 and {t["type"] for t in preview} == {"scatter"}
    assert [_n_points(t) for t in preview] == [
        min(k, catalogue.PREVIEW_PANEL_POINTS) for k in n.values() if k]
    # the preview takes no clicks (its points are a sample); the full panels do
    assert list(at.get("plotly_chart")[0].proto.selection_mode) == []
    rest_button(at)[0].click().run()
    full = [t for t in chart_specs(at)[0]["data"] if t.get("mode") == "markers"]
    assert len(full) == 3 and {t["type"] for t in full} == {"scattergl"}
    assert list(at.get("plotly_chart")[0].proto.selection_mode) != []
    assert [_n_points(t) for t in full] == [k for k in n.values() if k]


def _n_points(trace: dict) -> int:
    """Points of a trace whose x is a list or plotly's typed array ({dtype, bdata})."""
    import base64

    import numpy as np
    x = trace["x"]
    if isinstance(x, dict):
        return len(base64.b64decode(x["bdata"])) // np.dtype(x["dtype"]).itemsize
    return len(x)


def test_the_global_map_tab_previews_a_stratified_svg_sample_first(analysed_db, monkeypatch,
                                                                    browser):
    """A link to the map tab: the first chart is an SVG map of a stratified sample (every
    colour kept, said in the figure) when the subset has more points than the preview; the
    rest of the page draws every point in WebGL."""
    import duckdb

    from components.figures import catalogue
    from components.filters import Filters
    from components.queries import shifts as sv

    monkeypatch.setattr(catalogue, "PREVIEW_MAP_POINTS", 50)
    with duckdb.connect(str(analysed_db), read_only=True) as con:
        total = sv.map_points(con, Filters(), "kind")["total"]
    at = open_app(analysed_db, monkeypatch, "shifts", view="Global map")
    (spec,) = chart_specs(at)
    points = [t for t in spec["data"] if t.get("mode") == "markers"]
    assert {t["type"] for t in points} == {"scatter"}
    assert sum(map(_n_points, points)) == 50
    assert len(points) == len(sv.MAP_KINDS)  # every kind keeps points in the sample
    assert any(f"stratified sample of 50 of {total:,} points" in a["text"]
               for a in spec["layout"]["annotations"])
    rest_button(at)[0].click().run()
    full = [t for t in chart_specs(at)[0]["data"] if t.get("mode") == "markers"]
    assert {t["type"] for t in full} == {"scattergl"} and sum(map(_n_points, full)) == total


def test_the_map_tab_draws_its_boxes_after_the_map_with_the_links_searches(
        analysed_db, monkeypatch, browser):
    """The map tab's select boxes and search boxes come with the rest of the page (their
    code is not needed for the first chart), and the light run's map already highlights
    what the link searches for, as the boxes bound to the link then show: the same hits
    in both runs."""
    import duckdb

    from components.filters import Filters
    from components.queries import shifts as sv

    with duckdb.connect(str(analysed_db), read_only=True) as con:
        word = "the"
        n_hits = len(sv.keyword_map_hits(con, Filters(), word)["item_ids"])
    assert n_hits > 0

    def hit_points(spec):
        return sum(_n_points(t) for t in spec["data"] if t.get("name", "").startswith(
            "keyword"))

    at = open_app(analysed_db, monkeypatch, "shifts", view="Global map", q=word, sk="nope")
    assert not at.selectbox and not at.text_input
    (spec,) = chart_specs(at)
    assert hit_points(spec) == n_hits
    rest_button(at)[0].click().run()
    assert at.text_input(key="q").value == word and at.selectbox(key="sk").value == 50
    assert at.selectbox(key="sh_color").value == "kind"
    assert hit_points(chart_specs(at)[0]) == n_hits
