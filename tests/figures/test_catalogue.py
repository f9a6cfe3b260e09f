"""The figure catalogue: one entry per named figure, read by the pages and by the figure
pack, so "the pack shows what the app shows" holds by construction.

Checked here: every pack figure is a catalogue entry; every entry the pack renders is
the one a page shows (the pages name it, and rendering every page builds it); an entry
built for the pack and for the page from the same filters and options is the same figure;
each entry's data is the numbers it draws.
"""

from __future__ import annotations

import ast
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import pytest

from components.db import connect
from components.figures import catalogue
from components.filters import Filters
from tests.apptest import PAGE_SCRIPTS, open_app
from tests.corpus import REPO


def test_pack_figures_are_catalogue_entries_with_unique_keys():
    entries = set(map(id, catalogue.ENTRIES))
    assert all(id(p.entry) in entries for p in catalogue.PACK)
    assert len({p.key for p in catalogue.PACK}) == len(catalogue.PACK)
    assert len({e.key for e in catalogue.ENTRIES}) == len(catalogue.ENTRIES)


def _named_entries(path: Path) -> set[str]:
    """Catalogue names a page passes to charts.show / charts.download."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("show", "download") and node.args
                and isinstance(node.args[0], ast.Attribute)
                and getattr(node.args[0].value, "id", None) == "catalogue"):
            names.add(node.args[0].attr)
    return names


def test_every_pack_entry_is_shown_by_a_page():
    on_pages = set().union(*(_named_entries(REPO / s) for s in PAGE_SCRIPTS.values()))
    by_name = {name: getattr(catalogue, name) for name in on_pages}
    shown = {id(e) for e in by_name.values()}
    missing = [p.key for p in catalogue.PACK if id(p.entry) not in shown]
    assert missing == []


def test_rendering_every_page_builds_every_pack_entry(analysed_db, monkeypatch):
    from components.ui import state

    built: set[str] = set()
    real = state.figure

    def recording(entry, *args, **options):
        built.add(entry.key)
        return real(entry, *args, **options)
    monkeypatch.setattr(state, "figure", recording)
    state.clear_cache()
    for page in PAGE_SCRIPTS:
        open_app(analysed_db, monkeypatch, page)
    assert {p.entry.key for p in catalogue.PACK} <= built


def test_pack_and_page_build_the_same_figure(analysed_db, monkeypatch):
    """The app's cached build and the pack's direct build agree, figure and data."""
    from components.ui import state

    monkeypatch.setenv("THOUGHTTRACE_DB", str(analysed_db))
    state.clear_cache()
    state.begin_run()
    con = connect(analysed_db)
    try:
        source = catalogue.DirectSource(con)
        filters = Filters(models=("Gemini 3 Flash Preview",))
        for pack in catalogue.PACK:
            direct = pack.build(source, filters)
            app = state.figure(pack.entry, filters, **dict(pack.options))
            assert direct.figure.to_dict() == app.figure.to_dict(), pack.key
            assert direct.n == app.n
            if direct.data is not None:
                assert direct.data.equals(app.data), pack.key
    finally:
        con.close()


@pytest.mark.parametrize("filters", [Filters(), Filters(models=("no such model",))],
                         ids=["all", "empty subset"])
def test_every_entry_builds_a_valid_figure_with_its_data(analysed_db, filters):
    con = connect(analysed_db)
    try:
        source = catalogue.DirectSource(con)
        options = {"LABEL_COUNTS": {"kind": "reason"}, "LABEL_SHARES": {"kind": "reaction"},
                   "STAGE_DYNAMICS": {"kind": "reason", "split": "model", "top_n": 3},
                   "FLOW": {"flow": "reaction_reason"}, "PARTICIPANTS": {"field": "age"},
                   "CLUSTERS": {"space": "reason"}, "DOMAIN_LABELS": {"kind": "reason"},
                   "GLOBAL_MAP": {"color_by": "label"}}
        names = {id(getattr(catalogue, n)): n for n in dir(catalogue)
                 if isinstance(getattr(catalogue, n), catalogue.Entry)}
        for entry in catalogue.ENTRIES:
            drawn = entry(source, filters, **options.get(names[id(entry)], {}))
            go.Figure(drawn.figure.to_dict())  # plotly validates every property
            assert drawn.n.startswith("n = ")
            assert drawn.data is None or isinstance(drawn.data, pl.DataFrame)
    finally:
        con.close()


def test_label_shares_data_are_the_drawn_numbers(analysed_db):
    con = connect(analysed_db)
    try:
        drawn = catalogue.LABEL_SHARES(catalogue.DirectSource(con), Filters(), kind="reason")
        n_total = con.execute("SELECT count(*) FROM thoughts WHERE kind = 'reason'"
                              ).fetchall()[0][0]
    finally:
        con.close()
    assert drawn.data["n"].sum() == n_total
    assert drawn.data["share"].sum() == pytest.approx(1.0)
    assert drawn.n == f"n = {n_total:,} reasons"
    bars = [t for t in drawn.figure.data if t.name == "this selection"][0]
    assert sorted(v for v in bars.x if v is not None) == sorted(drawn.data["share"].to_list())


def test_entries_with_a_preview_draw_it_in_svg_and_in_full_in_webgl(analysed_db):
    """`Entry.previews`: the entries a new tab draws light first take ``preview=True``;
    the preview has no WebGL trace, the full figure draws its points in WebGL."""
    previewing = [e for e in catalogue.ENTRIES if e.previews]
    assert {e.key for e in previewing} == {"semantic-shifts", "global-map"}
    con = connect(analysed_db)
    try:
        source = catalogue.DirectSource(con)
        for entry in previewing:
            light = entry(source, Filters(), preview=True).figure
            full = entry(source, Filters()).figure
            assert {t.type for t in light.data} <= {"scatter"}, entry.key
            assert "scattergl" in {t.type for t in full.data}, entry.key
    finally:
        con.close()
