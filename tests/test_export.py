"""Figure export: every format renders offline, the caption is in the output (and can be
left off), the presentation theme is readable at projector distance, and the palette
covers exactly the DB's labels and the taxonomy's domains."""

from __future__ import annotations

import struct
import tomllib

import duckdb
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from components import analysis_figures as af
from components import export, figures
from components import map_figures as mf
from components.theme import DOMAIN_COLORS, LABEL_COLORS, NEUTRAL, TEMPLATE_NAME, color_for
from precompute.labels import ALL_LABELS
from tests.corpus import DEMO, REPO, SAMPLE


def _counts() -> pd.DataFrame:
    return pd.DataFrame([
        {"label": lab.code, "kind": lab.kind, "display_name": lab.display,
         "meaning": lab.meaning, "n": i + 1, "share": 0.1} for i, lab in enumerate(ALL_LABELS)])


def _fig():
    return figures.label_bars(_counts(), "reason")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Exports must not reach the network: any socket connection from this process to a
    non-local address fails (kaleido talks to Chromium over pipes)."""
    import socket

    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") \
                and self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"network access attempted: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


# --------------------------------------------------------------------------- palette


@pytest.fixture(scope="module")
def labels_in_db(tmp_path_factory) -> set[str]:
    from precompute import pipeline
    from precompute.config import Settings

    source = SAMPLE if SAMPLE.exists() else DEMO
    if not source.exists():
        pytest.skip("neither the shared sample nor the demo corpus is present")
    db = tmp_path_factory.mktemp("palette") / "p.duckdb"
    pipeline.build(Settings(source=str(source), db=db, progress=False), only=("ingest",),
                   log=lambda _: None)
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT code FROM labels").fetchall()}
    finally:
        con.close()


def test_palette_matches_labels_of_a_built_db_and_taxonomy_domains(labels_in_db):
    assert set(LABEL_COLORS) == labels_in_db == {lab.code for lab in ALL_LABELS}
    taxonomy = tomllib.loads((REPO / "data" / "taxonomy.toml").read_text(encoding="utf-8"))
    assert set(DOMAIN_COLORS) == {d["name"] for d in taxonomy["domain"]}
    for palette in (LABEL_COLORS, DOMAIN_COLORS):
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


def _builder_figures() -> dict[str, go.Figure]:
    """One figure from each builder on small hand-made frames."""
    counts = _counts()
    dist = counts.assign(published_share=0.1)
    stages = ("Early", "Late")
    shares = pd.DataFrame([
        {"facet": "All conversations", "stage": s, "label": lab, "n": 2, "stage_total": 4,
         "share": 0.5, "ci_lo": 0.3, "ci_hi": 0.7, "display_name": lab, "meaning": "m",
         "n_conv": 2, "stage_name": stages[s]}
        for s in (0, 1) for lab in ("task_motivation", "task_continuation")])
    facets = pd.DataFrame({"facet": ["All conversations"], "conversations": [2],
                           "shown": [True]})
    links = pd.DataFrame({"source": ["a", "a"], "target": ["b", "c"],
                          "label_a": ["task_motivation"] * 2,
                          "label_b": ["task_continuation", "social_and_others"],
                          "stage_a": [0, 0], "stage_b": [1, 1], "n": [3, 1],
                          "share_of_source": [0.75, 0.25]})
    people = pd.DataFrame({"category": ["18-24", "(missing)"], "conversations": [3, 1],
                           "users": [2, 1], "share": [0.75, 0.25]})
    pairs = pd.DataFrame({"pair_type": ["consecutive", "message_reason", "reaction_next"],
                          "dx": [1.0, -1.0, 0.5], "dy": [0.5, 1.0, -2.0],
                          "umap_distance": [1.1, 1.4, 2.1], "conv_id": "c",
                          "src_id": ["a", "b", "c"], "dst_id": ["d", "e", "f"],
                          "src_turn": pd.array([1, 1, 2], dtype="Int64"),
                          "dst_turn": pd.array([2, 1, 3], dtype="Int64"),
                          "src_label": None, "dst_label": None})
    rings = pd.DataFrame({"pair_type": list(mf.PAIR_ORDER), "n": [1, 1, 1],
                          "p25": [0.5] * 3, "p50": [1.0] * 3, "p75": [1.5] * 3})
    points = pd.DataFrame({"item_id": ["t:1", "m:1"], "kind": ["reason", "user_message"],
                           "label": ["scope_fit", None], "conv_id": "c", "turn": [1, 1],
                           "x": [0.0, 1.0], "y": [0.0, 1.0], "color": ["reason",
                                                                      "user_message"]})
    frame = pd.DataFrame({"id": ["Technology", "Technology/AI"], "label": ["Technology", "AI"],
                          "parent": ["", "Technology"], "value": [3, 3],
                          "domain": ["Technology", "Technology"]})
    clusters = pd.DataFrame({"cluster_id": [0, -1], "name": ["words", "noise"],
                             "keywords": ["a, b", ""], "size": [4, 1], "n": [3, 1],
                             "is_noise": [False, True]})
    share = pd.DataFrame([[0.6, 0.4]], index=["Technology"], columns=["task_motivation",
                                                                      "social_and_others"])
    return {
        "empty": figures.empty_figure("nothing", "Empty"),
        "overview": figures.overview_numbers({"users": 1, "conversations": 2,
                                              "messages": 3, "thoughts": 4, "models": 1}),
        "table": figures.summary_table(pd.DataFrame({"model": ["A", "All models"],
                                                     "conversations": [2, 2]})),
        "length": figures.length_histogram(pd.DataFrame({"n_messages": [2, 4],
                                                         "conversations": [1, 3]}), 4),
        "label-bars": figures.label_bars(counts, "reaction"),
        "label-shares": af.label_share_bars(dist, "reason", 3, compare=True),
        "stages": af.stage_bars({"shares": shares, "facets": facets,
                                 "stage_names": stages}, "reason", "rule"),
        "sankey": af.sankey_figure(links, "stages", stages, {}, "Flow"),
        "participants": af.participant_bars(people, "Age bracket", 4, 3, note="note"),
        "shift-panels": mf.shift_panels(pairs, rings),
        "global-map": mf.global_map(points, "kind", total=2),
        "map-labels": mf.label_distribution(pd.DataFrame({"kind": ["reason"],
                                                          "label": ["scope_fit"], "n": [2],
                                                          "share": [1.0]})),
        "sunburst": mf.topic_hierarchy(frame, title="Topics"),
        "clusters": mf.cluster_bars(clusters, "reason", title="Clusters"),
        "heatmap": mf.share_heatmap(share, share * 10, pd.Series({"Technology": 10}),
                                    title="Heat"),
    }


def test_every_builder_uses_the_template_and_readable_fonts():
    template = pio.templates[TEMPLATE_NAME].to_plotly_json()
    for name, fig in _builder_figures().items():
        d = fig.to_dict()
        go.Figure(d)  # valid
        assert d["layout"]["template"] == template, name
        small = [(p, s) for p, s in _font_sizes(d) if s < 12]
        assert not small, (name, small)


@pytest.mark.parametrize("name", list(_builder_figures()))
def test_each_builder_renders_png_and_svg_offline(name):
    fig = _builder_figures()[name]
    png = export.figure_bytes(fig, "png", caption=f"CAPTION {name}", scale=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    svg = export.figure_bytes(fig, "svg", caption=f"CAPTION {name}")
    assert svg.lstrip().startswith(b"<svg") and f"CAPTION {name}".encode() in svg


def test_label_share_legend_swatches_are_neutral():
    d = af.label_share_bars(_counts().assign(published_share=0.1), "reaction", 3).to_dict()
    for trace in d["data"]:  # the legend draws a bar trace's first point
        assert trace["x"][0] is None
        first = trace["marker"]["color"][0]
        assert first == NEUTRAL or first.startswith("rgba(119,119,119,")


# --------------------------------------------------------------------------- captions


def test_caption_text_names_dataset_filters_n_and_date():
    info = export.caption_from_provenance(
        {"is_demo": False, "input_sha256": "abcdef0123456789", "ingested_at": "2026-11-26 10:00"},
        "model: GPT-5.4", "n = 12 conversations")
    text = info.text()
    assert "ThoughtTrace (Jin et al. 2026" in text and "abcdef0123" in text
    assert "model: GPT-5.4" in text and "n = 12 conversations" in text
    demo = export.caption_from_provenance({"is_demo": True}, "all", "n = 1").text()
    assert "demo corpus" in demo and "not ThoughtTrace" in demo


def test_long_captions_wrap_at_separators_and_grow_the_page():
    long = " · ".join(["ThoughtTrace (Jin et al. 2026, CC-BY-4.0)", "data sha256 0123456789",
                       "filters: " + "; ".join(f"model: M{i}" for i in range(12)),
                       "n = 3 conversations", "2026-11-26"])
    lines = export.wrap_caption(long)
    assert len(lines) >= 2 and " · ".join(lines) == long
    fig = _fig()
    out = export.with_caption(fig, long)
    assert out.layout.height > fig.layout.height
    assert out.layout.annotations[-1].text.count("<br>") == len(lines) - 1
    escaped = export.with_caption(fig, "domain: Culture & Lifestyle <b>")
    assert "&amp;" in escaped.layout.annotations[-1].text


def test_stage_legend_moves_above_the_caption():
    fig = _builder_figures()["stages"]
    out = export.with_caption(fig, "CAPTION")
    assert out.layout.legend.y > (fig.layout.legend.y or 0)


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf", "html"])
def test_every_format_renders_with_caption(fmt):
    data = export.figure_bytes(_fig(), fmt, caption="CAPTION-MARKER n = 7")
    assert len(data) > 1000
    if fmt == "png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width = struct.unpack(">I", data[16:20])[0]
        assert width == 1200 * export.PNG_SCALE
    elif fmt == "pdf":
        assert data[:5] == b"%PDF-"
    else:
        assert b"CAPTION-MARKER n = 7" in data


def test_caption_can_be_left_off():
    svg = export.figure_bytes(_fig(), "svg", caption=None)
    assert b"CAPTION-MARKER" not in svg
    with pytest.raises(ValueError, match="unknown format"):
        export.figure_bytes(_fig(), "gif")


def test_gl_points_export_as_vector_markers():
    fig = _builder_figures()["shift-panels"]
    assert {t.type for t in fig.data} == {"scattergl"}
    assert {t.type for t in export.vectorised(fig).data} == {"scatter"}
    assert export.vectorised(fig, max_points=1) is fig


def test_bibtex_is_the_readme_citation():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert export.CITATION_BIBTEX in readme


def test_view_url_keeps_page_path_and_repeated_params():
    from components.share import view_url

    url = view_url("http://h:8501/thoughts", {"model": ["A B", "C"], "domain": ["Tech"]})
    assert url == "http://h:8501/thoughts?model=A+B&model=C&domain=Tech"
    assert view_url("http://h/x?old=1", {}) == "http://h/x"
    assert view_url(None, {"q": ["1"]}) == "?q=1"
