"""Figure builders of "what happens next" (components/figures/next_steps.py) on frames
written by hand: what each figure draws, that dataset text is escaped and reaches hover
text only through customdata, the empty states; and the catalogue entries built and
rendered to PNG on the shared sample."""

from __future__ import annotations

import math
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import pytest

from components.db import connect
from components.figures import catalogue
from components.figures import next_steps as f
from components.filters import Filters
from components.queries import next_steps as q
from components.vocabulary import END_OF_CONVERSATION, NO_REASON
from tests.apptest import spec_strings

HOSTILE = "<b>Bold</b> %{x}"
DISPLAY = {"content_relevance": "Content Relevance", "scope_fit": "Scope Fit",
           "task_continuation": "Task Continuation", "explicit_affirmation": "Explicit <i>A",
           NO_REASON: NO_REASON, END_OF_CONVERSATION: END_OF_CONVERSATION}


def _valid(fig: go.Figure) -> dict:
    spec = fig.to_dict()
    go.Figure(spec)  # plotly validates every property
    return spec


def _no_raw_text(spec: dict, raw: str = "<b>Bold</b>", word: str = "Bold") -> None:
    """``raw`` (dataset text with tags) appears nowhere unescaped, and no hover template
    holds dataset text at all (``word``, escaped or not): it comes through customdata."""
    strings = list(spec_strings(spec))
    assert [p for p, s in strings if raw in s] == []
    assert [p for p, s in strings if p.endswith("hovertemplate") and word in s] == []


# --------------------------------------------------------------------------- sankey

LINKS = pl.DataFrame({
    "column_a": [0, 0, 0, 1, 1, 1], "source": ["content_relevance", "content_relevance",
                                               "scope_fit", "task_continuation", NO_REASON,
                                               END_OF_CONVERSATION],
    "column_b": [1, 1, 1, 2, 2, 2], "target": ["task_continuation", NO_REASON,
                                               END_OF_CONVERSATION, "deepen", "retry",
                                               q.ENDED],
    "n": [3, 1, 2, 3, 1, 2]}, schema=q.LINK_SCHEMA)


def test_sankey_three_columns_counts_and_shares():
    spec = _valid(f.next_steps_sankey(LINKS, DISPLAY, q.NEXT_NAMES, 6))
    node = spec["data"][0]["node"]
    assert node["label"][:2] == ["Content Relevance · 4 (67%)", "Scope Fit · 2 (33%)"]
    assert "(conversation ended) · 2 (33%)" in node["label"]
    assert sorted(set(node["x"])) == [0.001, 0.5, 0.999]
    assert all(0 < y < 1 for y in node["y"])
    assert sum(spec["data"][0]["link"]["value"]) == 12
    assert "6 dissatisfaction reactions" in spec["layout"]["title"]["text"]
    assert [a["text"] for a in spec["layout"]["annotations"]] == \
        [f"<b>{t}</b>" for t in f.FLOW_COLUMNS]


def test_sankey_escapes_label_names_and_says_when_empty():
    spec = _valid(f.next_steps_sankey(LINKS, {**DISPLAY, "scope_fit": HOSTILE},
                                      q.NEXT_NAMES, 6))
    _no_raw_text(spec)
    assert any("&lt;b&gt;Bold&lt;/b&gt;" in s for s in spec["data"][0]["node"]["label"])
    empty = _valid(f.next_steps_sankey(LINKS.head(0), DISPLAY, q.NEXT_NAMES, 0))
    assert "No dissatisfaction reactions" in empty["layout"]["annotations"][0]["text"]


# --------------------------------------------------------------------------- similarity

def test_similarity_histogram_shares_and_threshold():
    pairs = pl.DataFrame({"pair": ["next", "next", "other", "other", "other", "other"],
                          "similarity": [0.9, 0.12, 0.0, 0.02, 0.5, 0.8]})
    spec = _valid(f.similarity_histogram(pairs, {"tau": 0.695, "quantile": 0.95,
                                                 "n_other": 4}))
    other, nxt = spec["data"]
    assert sum(other["y"]) == pytest.approx(1.0) and sum(nxt["y"]) == pytest.approx(1.0)
    assert nxt["name"] == "the next user message (2 pairs)"
    assert spec["layout"]["shapes"][0]["x0"] == 0.695
    assert "1 of 2 next messages reach τ" in spec["layout"]["title"]["text"]
    no_tau = _valid(f.similarity_histogram(pairs, {"tau": None, "n_min": 20}))
    assert "no τ: fewer than 20" in no_tau["layout"]["title"]["text"]
    assert not no_tau["layout"].get("shapes")
    empty = _valid(f.similarity_histogram(pairs.head(0), {"tau": None}))
    assert "No dissatisfaction reaction" in empty["layout"]["annotations"][0]["text"]


# --------------------------------------------------------------------------- unvoiced

SHARES = pl.DataFrame({
    "group": ["All", HOSTILE, "Model B", "Model C"], "n": [5, 3, 2, 0],
    "n_voiced": [2, 1, 1, 0], "n_unvoiced": [2, 1, 1, 0], "n_ended": [1, 1, 0, 0],
    "n_users": [3, 2, 1, 0], "share_unvoiced": [0.6, 2 / 3, 0.5, None],
    "ci_lo": [0.4, 0.5, 0.5, None], "ci_hi": [0.8, 1.0, 0.5, None]}, schema=q.SHARE_SCHEMA)


def test_unvoiced_dots_draw_each_group_with_its_interval():
    spec = _valid(f.unvoiced_dots(SHARES, "Model", "similar or an expectation reason"))
    dots = spec["data"][0]
    assert dots["y"][0] == "<b>All</b>" and len(dots["y"]) == 3   # the empty group is gone
    assert dots["x"] == pytest.approx([0.6, 2 / 3, 0.5])
    assert dots["error_x"]["array"] == pytest.approx([0.2, 1 / 3, 0.0])
    assert dots["error_x"]["arrayminus"] == pytest.approx([0.2, 1 / 6, 0.0])
    labels = [a["text"] for a in spec["layout"]["annotations"][1:]]
    assert labels == ["60.0% (3/5) · 3 users",          # unvoiced + ended of n
                      "66.7% (2/3) · 2 users", "50.0% (1/2) · 1 user"]
    assert spec["layout"]["shapes"][0]["x0"] == pytest.approx(0.55)  # 1 - 450/1000
    assert "bootstrap over users" in spec["layout"]["title"]["text"]
    _no_raw_text(spec)
    assert "&lt;b&gt;Bold&lt;/b&gt; %{x}" in dots["y"][1]


def test_unvoiced_dots_colour_label_groups_and_say_when_empty():
    shares = SHARES.with_columns(group=pl.Series(["All", "content_relevance", "scope_fit",
                                                  "presentation_style"]))
    spec = _valid(f.unvoiced_dots(shares, "Dissatisfaction type", "x", display=DISPLAY))
    assert spec["data"][0]["marker"]["color"][1:] == ["#2E8B57", "#9E5A8E"]
    assert spec["data"][0]["y"][1] == "Content Relevance"
    empty = _valid(f.unvoiced_dots(SHARES.head(1).with_columns(n=pl.lit(0, pl.Int64)),
                                   "Stage", "x"))
    assert "No dissatisfaction reactions" in empty["layout"]["annotations"][0]["text"]


def test_ratio_dots_beside_the_paper_with_an_open_interval():
    ratios = pl.DataFrame({
        "measure": ["voiced", "similar", "expectation", "voiced_or_redo"],
        "title": ["a", "b", "c", "d"], "n": [4, 4, 4, 4], "n_voiced": [2, 1, 0, 2],
        "n_users": [2] * 4, "voiced_share": [0.5, 0.25, 0.0, 0.5],
        "voiced_lo": [1 / 3, 0.0, 0.0, 1 / 3], "voiced_hi": [1.0, 0.5, 0.0, 1.0],
        "ratio": [2.0, 4.0, None, 2.0], "ratio_lo": [1.0, 2.0, None, 1.0],
        "ratio_hi": [3.0, math.inf, None, 3.0], "paper_ratio": [1000 / 450] * 4},
        schema=q.RATIO_SCHEMA)
    spec = _valid(f.ratio_dots(ratios))
    labels = [a["text"] for a in spec["layout"]["annotations"][1:]]
    assert labels == ["2.0× = 4 ÷ 2 · 95%: 1.0–3.0", "4.0× = 4 ÷ 1 · 95%: 2.0–∞",
                      "none voiced (0 of 4)", "2.0× = 4 ÷ 2 · 95%: 1.0–3.0"]
    arrows = spec["data"][1]
    assert arrows["y"] == ["b"] and arrows["marker"]["symbol"] == "triangle-right"
    assert arrows["x"][0] == spec["layout"]["xaxis"]["range"][1]
    assert spec["layout"]["shapes"][0]["x0"] == pytest.approx(1000 / 450)
    assert spec["layout"]["annotations"][0]["text"] == "paper: 2.2×"


# --------------------------------------------------------------------------- timing

def _summary(groups: list[dict], totals: dict, cap: float = 1800.0) -> dict:
    rows = [{**{k: 0 for k in ("n_all", "n", "n_missing", "n_negative", "n_over_cap",
                               "n_users")},
             **{k: None for k in ("median_s", "p25_s", "p75_s", "ci_lo", "ci_hi")}, **g}
            for g in groups]
    return {"groups": pl.DataFrame(rows, schema=q.TIMING_SCHEMA),
            "totals": {"ok": 0, "missing": 0, "negative": 0, "over_cap": 0, **totals},
            "overall": {"median_s": 45.0, "p25_s": 30.0, "p75_s": 60.0, "ci_lo": 30.0,
                        "ci_hi": 60.0, "n_users": 2}, "cap_s": cap, "measure": "response"}


def test_timing_figure_panels_log_axis_and_what_was_left_out():
    summary = _summary([
        dict(panel="label", group="explicit_affirmation", n_all=3, n=2, n_negative=1,
             n_users=2, median_s=45.0, p25_s=30.0, p75_s=60.0, ci_lo=30.0, ci_hi=60.0),
        dict(panel="label", group="scope_fit", n_all=1, n_over_cap=1),
        dict(panel="label", group="content_relevance"),                 # no gaps: hidden
        dict(panel="stage", group="Early", n_all=4, n=2, n_users=2, median_s=0.0,
             p25_s=0.0, p75_s=0.0, ci_lo=0.0, ci_hi=0.0),
        dict(panel="when", group=q.BEFORE_REPLY, n_all=2, n=2, n_users=1, median_s=90.0,
             p25_s=80.0, p75_s=100.0, ci_lo=90.0, ci_hi=90.0)],
        {"ok": 2, "negative": 1, "over_cap": 1, "missing": 3})
    spec = _valid(f.timing_figure(summary, "Reply gaps", "reaction on the response",
                                  DISPLAY, thought="reaction"))
    lay = spec["layout"]
    assert lay["xaxis"]["type"] == "log" and lay["xaxis"]["anchor"] == "y3"
    assert {"yaxis", "yaxis2", "yaxis3"} <= set(lay)
    title = lay["title"]["text"]
    assert "3 with a missing timestamp, 1 negative (clock problems), 1 over 30 min (left " \
           "and came back)" in title
    assert [a["text"] for a in lay["annotations"]] == [
        "<b>by reaction on the response</b>", "<b>by stage of the message</b>",
        "<b>by when the reaction was written</b>"]
    dots = [t for t in spec["data"] if t.get("mode") == "markers+text"]
    assert dots[0]["y"] == ["Explicit &lt;i&gt;A", "Scope Fit"]     # escaped, no empty row
    assert dots[0]["text"] == ["45 s · 2 gaps, 2 users", ""]
    assert dots[1]["x"] == [f.FLOOR_S]                 # a zero gap sits at the floor
    notes = [t["text"][0] for t in spec["data"] if t.get("mode") == "text"]
    assert notes == ["none usable (of 1)"]
    _no_raw_text(spec, raw="<i>A", word="Explicit")


def test_timing_figure_empty_and_durations():
    empty = _valid(f.timing_figure(_summary([], {"ok": 0}), "T", "reason", {}))
    assert "No gaps with usable timestamps" in empty["layout"]["annotations"][0]["text"]
    assert [f.duration(v) for v in (None, 4.25, 42, 99.6, 100, 1800, 5400, 7200)] == \
        ["–", "4.2 s", "42 s", "100 s", "1.7 min", "30 min", "1.5 h", "2 h"]


# --------------------------------------------------------------------------- catalogue

ENTRY_OPTIONS = [
    ("NEXT_STEPS_FLOW", {}), ("VOICING_THRESHOLD", {}),
    *[("UNVOICED", {"by": by, "measure": m}) for by in q.GROUPINGS
      for m in ("voiced", "similar")],
    ("UNVOICED", {"by": "stage", "include_ends": False}), ("VOICING_RATIO", {}),
    *[("TIMING", {"measure": m}) for m in q.TIMINGS]]


def test_every_next_steps_entry_builds_with_its_data(analysed_db):
    con = connect(analysed_db)
    try:
        source = catalogue.DirectSource(con)
        for name, options in ENTRY_OPTIONS:
            entry = getattr(catalogue, name)
            assert entry in catalogue.ENTRIES
            for filters in (Filters(), Filters(models=("no such model",))):
                drawn = entry(source, filters, **options)
                _valid(drawn.figure)
                assert drawn.n.startswith("n = ")
                assert isinstance(drawn.data, pl.DataFrame)
        n_dissatisfied = con.execute(
            "SELECT count(*) FROM thoughts WHERE label IN ('content_relevance', "
            "'presentation_style', 'scope_fit')").fetchall()[0][0]
        flow = catalogue.NEXT_STEPS_FLOW(source, Filters())
        ratio = catalogue.VOICING_RATIO(source, Filters())
    finally:
        con.close()
    assert flow.n == f"n = {n_dissatisfied} dissatisfaction reactions"
    assert flow.data.filter(pl.col("column_a") == 0)["n"].sum() == n_dissatisfied
    assert ratio.data["n"].to_list() == [n_dissatisfied] * len(q.MEASURES)


def test_next_steps_entries_render_to_png(analysed_db, tmp_path):
    from components.export import render

    con = connect(analysed_db)
    try:
        source = catalogue.DirectSource(con)
        jobs = [render.ExportJob(getattr(catalogue, name)(source, Filters(), **opts).figure,
                                 "png", str(tmp_path / f"{i}.png"), caption="CAPTION",
                                 scale=1)
                for i, (name, opts) in enumerate(ENTRY_OPTIONS[:2] + ENTRY_OPTIONS[-4:])]
    finally:
        con.close()
    render.write_many(jobs)
    for job in jobs:
        assert Path(job.path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_entries_escape_hostile_model_domain_and_label_names(analysed_db, tmp_path):
    import shutil

    import duckdb

    db = tmp_path / "hostile.duckdb"
    shutil.copy(analysed_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE conversations SET model_name = ?, domain = ?",
                    ["<b>Bold</b> %{xx_model}", "<i>Dom</i> %{yy_domain}"])
        con.execute("UPDATE labels SET display_name = ? WHERE code = 'scope_fit'",
                    ["<s>Scope</s> %{cc_label}"])
    con = connect(db)
    try:
        source = catalogue.DirectSource(con)
        specs = [_valid(getattr(catalogue, name)(source, Filters(), **opts).figure)
                 for name, opts in (("NEXT_STEPS_FLOW", {}), ("UNVOICED", {"by": "model"}),
                                    ("UNVOICED", {"by": "domain"}),
                                    ("UNVOICED", {"by": "label"}),
                                    ("TIMING", {"measure": "reaction"}))]
    finally:
        con.close()
    text = str(specs)
    assert "&lt;b&gt;Bold&lt;/b&gt;" in text and "&lt;s&gt;Scope&lt;/s&gt;" in text
    for spec in specs:
        strings = list(spec_strings(spec))
        assert [p for p, s in strings for raw in ("<b>Bold", "<i>Dom", "<s>Scope")
                if raw in s] == []
        assert [p for p, s in strings if p.endswith("hovertemplate")
                and any(t in s for t in ("xx_model", "yy_domain", "cc_label"))] == []
