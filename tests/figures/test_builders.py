"""Every figure builder's output: a valid plotly figure (``go.Figure(fig.to_dict())``) on
small hand-made polars frames, in the presentation template with fonts readable at projector
distance; the palette covers exactly the DB's labels and the taxonomy's domains.

`builder_figures` is also what tests/export/test_render.py renders to PNG and SVG.
"""

from __future__ import annotations

import tomllib

import duckdb
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
import pytest

from components.figures import base
from components.figures import overview as fo
from components.figures import participants as fp
from components.figures import shifts as fs
from components.figures import thoughts as ft
from components.figures import topics as ftp
from components.figures.theme import (
    DOMAIN_COLORS,
    LABEL_COLORS,
    NEUTRAL,
    TEMPLATE_NAME,
    color_for,
)
from components.vocabulary import PAIR_TYPES
from precompute.labels import ALL_LABELS
from tests.corpus import DEMO, REPO, SAMPLE, ingest_db


def label_counts() -> pl.DataFrame:
    """One row per label code (columns of `queries.overview.label_counts`): n = 1..12."""
    return pl.DataFrame([
        {"label": lab.code, "kind": lab.kind, "display_name": lab.display,
         "meaning": lab.meaning, "n": i + 1, "share": 0.1} for i, lab in enumerate(ALL_LABELS)])


def builder_figures() -> dict[str, go.Figure]:
    """One figure from each builder on small hand-made frames."""
    counts = label_counts()
    dist = counts.with_columns(published_share=pl.lit(0.1))
    stages = ("Early", "Late")
    shares = pl.DataFrame([
        {"facet": "All conversations", "stage": s, "label": lab, "n": 2, "stage_total": 4,
         "share": 0.5, "ci_lo": 0.3, "ci_hi": 0.7, "display_name": lab, "meaning": "m",
         "n_conv": 2, "stage_name": stages[s]}
        for s in (0, 1) for lab in ("task_motivation", "task_continuation")])
    facets = pl.DataFrame({"facet": ["All conversations"], "conversations": [2],
                           "shown": [True]})
    links = pl.DataFrame({"source": ["a", "a"], "target": ["b", "c"],
                          "label_a": ["task_motivation"] * 2,
                          "label_b": ["task_continuation", "social_and_others"],
                          "stage_a": [0, 0], "stage_b": [1, 1], "n": [3, 1],
                          "share_of_source": [0.75, 0.25]})
    people = pl.DataFrame({"category": ["18-24", "(missing)"], "conversations": [3, 1],
                           "users": [2, 1], "share": [0.75, 0.25]})
    pairs = pl.DataFrame({"pair_type": ["consecutive", "message_reason", "reaction_next"],
                          "dx": [1.0, -1.0, 0.5], "dy": [0.5, 1.0, -2.0],
                          "umap_distance": [1.1, 1.4, 2.1], "conv_id": ["c"] * 3,
                          "src_id": ["a", "b", "c"], "dst_id": ["d", "e", "f"],
                          "src_turn": [1, 1, 2], "dst_turn": [2, 1, 3],
                          "src_label": [None] * 3, "dst_label": [None] * 3},
                         schema_overrides={"src_label": pl.Utf8, "dst_label": pl.Utf8})
    rings = pl.DataFrame({"pair_type": list(PAIR_TYPES), "n": [1, 1, 1],
                          "p25": [0.5] * 3, "p50": [1.0] * 3, "p75": [1.5] * 3})
    points = pl.DataFrame({"item_id": ["t:1", "m:1"], "kind": ["reason", "user_message"],
                           "label": ["scope_fit", None], "conv_id": ["c", "c"], "turn": [1, 1],
                           "x": [0.0, 1.0], "y": [0.0, 1.0],
                           "color": ["reason", "user_message"]})
    frame = pl.DataFrame({"id": ["Technology", "Technology/AI"], "label": ["Technology", "AI"],
                          "parent": ["", "Technology"], "value": [3, 3],
                          "domain": ["Technology", "Technology"]})
    clusters = pl.DataFrame({"cluster_id": [0, -1], "name": ["words", "noise"],
                             "keywords": ["a, b", ""], "size": [4, 1], "n": [3, 1],
                             "is_noise": [False, True]})
    share = np.array([[0.6, 0.4]])
    matrix = {"domains": ["Technology"], "labels": ["task_motivation", "social_and_others"],
              "display": {"task_motivation": "Task motivation"}, "share": share,
              "n": share * 10, "row_total": np.array([10])}
    return {
        "empty": base.empty_figure("nothing", "Empty"),
        "overview": fo.overview_numbers({"users": 1, "conversations": 2, "messages": 3,
                                         "thoughts": 4, "models": 1}),
        "table": fo.summary_table(pl.DataFrame({"model": ["A", "All models"],
                                                "conversations": [2, 2]})),
        "length": fo.length_histogram(pl.DataFrame({"n_messages": [2, 4],
                                                    "conversations": [1, 3]}), 4),
        "label-bars": fo.label_bars(counts, "reaction"),
        "label-shares": ft.label_share_bars(dist, "reason", 3, compare=True),
        "stages": ft.stage_bars({"shares": shares, "facets": facets, "stage_names": stages},
                                "reason", "rule"),
        "sankey": ft.sankey_figure(links, "stages", stages, {}, "Flow"),
        "participants": fp.participant_bars(people, "Age bracket", 4, 3, note="note"),
        "shift-panels": fs.shift_panels(pairs, rings),
        "global-map": fs.global_map(points, "kind", total=2),
        "map-labels": fs.label_distribution(pl.DataFrame({"kind": ["reason"],
                                                          "label": ["scope_fit"], "n": [2],
                                                          "share": [1.0]})),
        "sunburst": ftp.topic_hierarchy(frame, title="Topics"),
        "clusters": ftp.cluster_bars(clusters, "reason", title="Clusters"),
        "heatmap": ftp.label_matrix_heatmap(matrix, title="Heat"),
    }


# --------------------------------------------------------------------------- palette


@pytest.fixture(scope="module")
def labels_in_db(tmp_path_factory) -> set[str]:

    source = SAMPLE if SAMPLE.exists() else DEMO
    if not source.exists():
        pytest.skip("neither the shared sample nor the demo corpus is present")
    db = tmp_path_factory.mktemp("palette") / "p.duckdb"
    ingest_db(source, db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT code FROM labels").fetchall()}
    finally:
        con.close()


def test_palette_matches_labels_of_a_built_db_and_taxonomy_domains(labels_in_db):
    assert set(LABEL_COLORS) == labels_in_db == {lab.code for lab in ALL_LABELS}
    taxonomy = tomllib.loads((REPO / "data" / "taxonomy.toml").read_text(encoding="utf-8"))
    assert set(DOMAIN_COLORS) == {d["name"] for d in taxonomy["domain"]}
    kinds = {lab.kind for lab in ALL_LABELS}
    # reasons and reactions share the paper's hue families; within a kind (and among the
    # domains) every colour is distinct
    for palette in [*({lab.code: LABEL_COLORS[lab.code] for lab in ALL_LABELS
                       if lab.kind == k} for k in kinds), DOMAIN_COLORS]:
        colours = [c.upper() for c in palette.values()]
        assert len(set(colours)) == len(colours), "colours must be distinct"
    assert color_for("scope_fit") == LABEL_COLORS["scope_fit"]
    assert color_for("Technology") == DOMAIN_COLORS["Technology"]


# --------------------------------------------------------------------------- theme


def test_presentation_template_is_readable_at_projector_distance():
    t = pio.templates[TEMPLATE_NAME].layout
    assert t.paper_bgcolor == "white" and t.plot_bgcolor == "white"
    assert t.title.font.size >= 20
    assert t.font.size >= 15
    for ax in (t.xaxis, t.yaxis):
        assert ax.tickfont.size >= 15 and ax.title.font.size >= 15
        assert ax.linewidth >= 2
    assert t.legend.font.size >= 14
    data = pio.templates[TEMPLATE_NAME].data
    assert data.scatter[0].line.width >= 2 and data.scattergl[0].line.width >= 2


def _font_sizes(obj, path=""):
    """(path, size) of every font size in a figure dict."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "template":
                continue
            if k.endswith("font") and isinstance(v, dict) and "size" in v:
                yield f"{path}.{k}", v["size"]
            yield from _font_sizes(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _font_sizes(v, f"{path}[{i}]")


def test_every_builder_makes_a_valid_figure_in_the_template_with_readable_fonts():
    template = pio.templates[TEMPLATE_NAME].to_plotly_json()
    for name, fig in builder_figures().items():
        d = fig.to_dict()
        go.Figure(d)  # valid: the builders skip plotly's validation, this does it
        assert d["layout"]["template"] == template, name
        small = [(p, s) for p, s in _font_sizes(d) if s < 12]
        assert not small, (name, small)


def test_label_share_legend_swatches_are_neutral():
    dist = label_counts().with_columns(published_share=pl.lit(0.1))
    d = ft.label_share_bars(dist, "reaction", 3).to_dict()
    bars = [t for t in d["data"] if t["type"] == "bar"]
    assert len(bars) == 2
    for trace in bars:  # the legend draws a bar trace's first point
        assert trace["x"][0] is None
        first = trace["marker"]["color"][0]
        assert first == NEUTRAL or first.startswith("rgba(119,119,119,")
