"""The "Semantic shifts" and "Topics" pages: pure builders on tiny frames with known
answers, the queries on a small fully built DB, and AppTest runs of both pages (with a
filter, with a filter matching nothing, and on a DB without the analytics tables)."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components import map_figures as mf
from components import shiftviews as sv
from components import state
from components import topicviews as tv
from components.filters import Filters
from tests.corpus import DEMO, REPO, SAMPLE, build_analysed_db


# =========================================================================== pure: shifts


def _pairs(counts: dict[str, int], dist: np.ndarray | None = None) -> pd.DataFrame:
    rows = []
    for ptype, k in counts.items():
        for i in range(k):
            d = float(dist[i]) if dist is not None else float(i + 1)
            rows.append({"pair_type": ptype, "conv_id": f"c{i % 3}", "src_id": f"m:c:{i}",
                         "dst_id": f"t:{i}", "src_turn": i + 1, "dst_turn": i + 2,
                         "src_label": None, "dst_label": "task_motivation",
                         "dx": d, "dy": 0.0, "umap_distance": d})
    df = pd.DataFrame(rows)
    for col in ("src_turn", "dst_turn"):
        df[col] = df[col].astype("Int64")
    return df


def test_rings_of_distances_1_to_100_are_drawn_with_those_radii():
    pairs = _pairs({"consecutive": 100}, dist=np.arange(1, 101))
    rings = sv.rings_by_type(pairs)
    row = rings.set_index("pair_type").loc["consecutive"]
    assert (row["p25"], row["p50"], row["p75"]) == pytest.approx((25.75, 50.5, 75.25))
    assert rings.set_index("pair_type").loc["reaction_next", "n"] == 0
    fig = mf.shift_panels(pairs, rings)
    circles = [s for s in fig.layout.shapes if s.line.color == mf.RING_COLOR]
    assert sorted(s.name for s in circles) == ["p25", "p50", "p75"]
    for s in circles:  # a circle centred at the origin, on the first panel, over the points
        assert s.type == "circle" and s.layer == "above" and (s.xref, s.yref) == ("x", "y")
        assert (s.x0, s.y0) == (-s.x1, -s.y1) and s.x1 == s.y1
    assert sorted(round(s.x1, 6) for s in circles) == [25.75, 50.5, 75.25]
    halos = [s for s in fig.layout.shapes if s.line.color == mf.RING_HALO]
    assert sorted(s.x1 for s in halos) == sorted(s.x1 for s in circles)
    labels = [a.text for a in fig.layout.annotations]
    assert {"p25 25.75", "p50 50.50", "p75 75.25"} <= set(labels)


def test_axes_keep_rings_legible_and_count_far_pairs():
    d = np.r_[np.linspace(0.1, 1.0, 99), 50.0]  # one far outlier
    pairs = _pairs({"consecutive": 100}, dist=d)
    rings = sv.rings_by_type(pairs)
    lim = mf.axis_limit(pairs, rings)
    assert rings["p75"].max() * 1.3 <= lim < 5  # not stretched to the outlier
    fig = mf.shift_panels(pairs, rings)
    assert any("1 beyond the axes" in (a.text or "") for a in fig.layout.annotations)
    # a sampled panel's notes go one per line (side by side they overran the next panel)
    fig = mf.shift_panels(pairs, rings, n={"consecutive": 400}, shown={"consecutive": 100})
    note = next(a.text for a in fig.layout.annotations if "beyond the axes" in (a.text or ""))
    assert note == "seeded sample: 100 of 400 drawn<br>1 beyond the axes"


def test_ring_shapes_skip_missing_and_use_the_panel_axes():
    shapes = mf.ring_shapes({"p25": 1.0, "p50": float("nan"), "p75": 3.0}, "x3", "y3")
    dark = [s for s in shapes if s["line"]["color"] == mf.RING_COLOR]
    assert [(s["name"], s["x1"], s["xref"], s["yref"]) for s in dark] == [
        ("p25", 1.0, "x3", "y3"), ("p75", 3.0, "x3", "y3")]
    assert [s["line"]["dash"] for s in dark] == ["dot", "solid"]
    assert len(shapes) == 4  # each ring has its white halo
    assert mf.ring_shapes({"p25": 0.0, "p50": None, "p75": float("inf")}) == []


def test_panel_point_counts_star_and_shared_axes():
    pairs = _pairs({"consecutive": 5, "message_reason": 3})
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
    pairs = _pairs({"reaction_next": 4})
    pairs["src_text"] = ["a<b>", "b", "c", "d"]
    pairs["dst_text"] = "x"
    fig = mf.shift_panels(pairs, sv.rings_by_type(pairs), n={"reaction_next": 40},
                          shown={"reaction_next": 4}, texts={"reaction_next": True})
    trace = next(t for t in fig.data if t.customdata is not None)
    assert trace.hovertemplate.startswith("%{hovertext}")
    assert "a&lt;b&gt;" not in trace.hovertext[0] and "a<b>" in trace.hovertext[0]
    assert any("4 of 40 drawn" in (a.text or "") for a in fig.layout.annotations)
    fig2 = mf.shift_panels(pairs, sv.rings_by_type(pairs), texts={"reaction_next": False})
    trace2 = next(t for t in fig2.data if t.customdata is not None)
    assert "click for both texts" in trace2.hovertemplate


def test_clicked_point_maps_back_to_its_pair():
    pairs = _pairs({"consecutive": 2, "message_reason": 3})
    fig = mf.shift_panels(pairs, sv.rings_by_type(pairs))
    trace = [t for t in fig.data if t.customdata is not None][1]  # message_reason points
    k = 1
    point = {"customdata": list(trace.customdata[k]), "x": trace.x[k], "y": trace.y[k]}
    row = pairs.iloc[int(trace.customdata[k][0])]
    assert row["pair_type"] == "message_reason"
    assert sv.picked_pair(pairs, [point]) == ("message_reason", row["src_id"], row["dst_id"])
    as_dict = {**point, "customdata": {str(i): v for i, v in enumerate(point["customdata"])}}
    assert sv.picked_pair(pairs, [as_dict]) == sv.picked_pair(pairs, [point])  # typed array
    assert sv.picked_pair(pairs, [{**point, "x": 123.0}]) is None  # stale selection
    assert sv.picked_pair(pairs, [{"x": 0, "y": 0}]) is None  # the star has no customdata
    assert sv.picked_pair(pairs, []) is None


def test_snippet_escapes_wraps_and_truncates():
    s = sv.snippet("<script>alert(1)</script> " + "word " * 80, limit=100, width=30)
    assert "<script>" not in s and "&lt;script&gt;" in s
    assert s.endswith("…") and "<br>" in s
    assert sv.snippet(None) == "—"


def test_stratified_sample_keeps_max_points_and_every_kind():
    df = pd.DataFrame({"kind": ["user_message"] * 10000 + ["reason"] * 50 + ["reaction"] * 3,
                       "x": np.arange(10053.0)})
    out = sv.stratified_sample(df, "kind", 1000, seed=0)
    assert len(out) <= 1000
    assert set(out["kind"]) == {"user_message", "reason", "reaction"}
    assert out.index.is_monotonic_increasing
    again = sv.stratified_sample(df, "kind", 1000, seed=0)
    assert out.index.equals(again.index)  # fixed seed
    counts = out["kind"].value_counts()
    assert counts["user_message"] > 900 and counts["reaction"] >= 1
    assert sv.stratified_sample(df.head(10), "kind", 1000) is not None
    assert len(sv.stratified_sample(df.head(10), "kind", 1000)) == 10


def test_stratified_quota_edge_cases():
    assert sv.stratified_quota({"a": 5, "b": 3}, 100) == {"a": 5, "b": 3}
    q = sv.stratified_quota({"a": 1000, "b": 1, "c": 1}, 10)
    assert sum(q.values()) <= 10 and q["b"] == q["c"] == 1
    q = sv.stratified_quota({"a": 7, "b": 7, "c": 7}, 2)
    assert sum(q.values()) == 2


def test_global_map_traces_downsample_notice_and_categories():
    pts = pd.DataFrame({"item_id": [f"t:{i}" for i in range(6)],
                        "kind": ["reason"] * 4 + ["user_message"] * 2,
                        "label": ["scope_fit"] * 4 + [None] * 2, "conv_id": "c",
                        "turn": 1, "x": np.arange(6.0), "y": np.arange(6.0),
                        "color": ["reason"] * 4 + ["user_message"] * 2})
    fig = mf.global_map(pts, "kind", total=60)
    assert [t.type for t in fig.data] == ["scattergl", "scattergl"]
    assert sum(len(t.x) for t in fig.data) == 6
    assert fig.data[0].marker.color == mf.KIND_COLORS["reason"]
    assert any("6 of 60" in (a.text or "") for a in fig.layout.annotations)
    assert fig.layout.dragmode == "lasso"
    arrows = pd.DataFrame({"x0": [0.0], "y0": [0.0], "x1": [1.0], "y1": [1.0], "turn": [1],
                           "label": ["task_motivation"], "src_id": ["m:c:1"],
                           "dst_id": ["t:1"]})
    fig = mf.global_map(pts, "kind", arrows=arrows, arrows_title="c")
    assert sum(1 for a in fig.layout.annotations if a.showarrow) == 1
    first = fig.data[0]
    sel = [{"customdata": list(first.customdata[k]), "x": float(first.x[k]),
            "y": float(first.y[k])} for k in range(len(first.x))]
    assert sv.picked_items(pts, sel) == ("t:0", "t:1", "t:2", "t:3")
    assert sv.picked_items(pts, [{**sel[0], "x": 99.0}]) == ()
    as_dict = [{**p, "customdata": {"0": p["customdata"][0], "1": p["customdata"][1]}}
               for p in sel]
    assert sv.picked_items(pts, as_dict) == ("t:0", "t:1", "t:2", "t:3")
    many = pd.Series([f"m{i}" for i in range(30) for _ in range(i + 1)])
    top = mf.top_categories(many, limit=5)
    assert top.nunique() == 5 and "other" in set(top)


def test_label_distribution_and_metrics_table():
    items = pd.DataFrame({"kind": ["reason", "reason", "user_message"],
                          "label": ["scope_fit", "scope_fit", None]})
    dist = sv.label_distribution(items)
    assert dict(zip(dist["label"], dist["n"])) == {"scope_fit": 2, "(user message)": 1}
    assert dist["share"].sum() == pytest.approx(1.0)
    metrics = pd.DataFrame({"pair_type": list(sv.PAIR_TYPES), "n": [3, 2, 1],
                            "p25": [0.1, 0.2, 0.3], "p50": [1.0, 3.0, 2.0],
                            "p75": [2.0, 4.0, 5.0], "centroid_distance": 0.1, "mmd": 0.01,
                            "probe_auc": 0.6, "note": None})
    table = sv.metrics_with_published(metrics)
    assert list(table["published p50"]) == [1.96, 3.71, 6.62]
    assert list(table["n"]) == [3, 2, 1]
    assert sv.ordering(metrics) == ("Consecutive user messages < Reaction → next message < "
                                    "Message → its reason")


def test_browser_link_keeps_params_and_replaces_conv():
    link = sv.browser_link({"model": ["GPT-5.4"], "conv": ["old"], "turn": "9"}, "c 1", 3)
    assert link == "browser?model=GPT-5.4&conv=c+1&turn=3"


# =========================================================================== pure: topics


def test_sunburst_counts():
    counts = pd.DataFrame({"domain": ["Technology", "Technology", "Other Topics"],
                           "subtopic": ["Coding", "Hardware", "Misc"], "n": [5, 2, 1]})
    frame = tv.sunburst_frame(counts)
    dom = frame[frame["parent"] == ""].set_index("id")["value"].to_dict()
    assert dom == {"Technology": 7, "Other Topics": 1}
    assert frame.loc[frame["id"] == "Technology/Coding", "value"].item() == 5
    fig = mf.topic_hierarchy(frame, kind="sunburst")
    assert fig.data[0].type == "sunburst" and fig.data[0].branchvalues == "total"
    assert list(fig.data[0].values) == [7, 1, 5, 2, 1]
    assert fig.data[0].marker.colors[0] == mf.DOMAIN_COLORS["Technology"]
    assert mf.topic_hierarchy(frame, kind="treemap").data[0].type == "treemap"


def test_domain_by_thought_type_shares_sum_to_one_per_row():
    counts = pd.DataFrame({
        "domain": ["Technology"] * 3 + ["Other Topics"] * 3,
        "kind": ["reason", "reason", "reaction"] * 2,
        "label": ["task_motivation", "style_expectation", "scope_fit"] * 2,
        "display_name": ["Task Motivation", "Style", "Scope"] * 2,
        "n": [3, 1, 5, 0, 2, 0]})
    mat = tv.label_matrix(counts, "reason", ("Other Topics", "Technology"))
    assert list(mat["share"].index) == ["Other Topics", "Technology"]
    assert np.allclose(mat["share"].sum(axis=1), 1.0)
    assert mat["share"].loc["Technology", "task_motivation"] == pytest.approx(0.75)
    assert mat["n"].loc["Technology", "task_motivation"] == 3
    react = tv.label_matrix(counts, "reaction")
    assert list(react["share"].index) == ["Technology"]  # no reactions: row dropped
    shares = tv.row_shares(counts)
    assert shares.groupby("domain")["share"].sum().tolist() == pytest.approx([1.0, 1.0])
    fig = mf.share_heatmap(mat["share"], mat["n"], mat["row_total"],
                           column_names=mat["display"])
    assert fig.data[0].type == "heatmap"
    assert np.allclose(np.asarray(fig.data[0].z).sum(axis=1), 1.0)


def test_cluster_domain_table_top_share_and_noise_last():
    long = pd.DataFrame({"cluster_id": [0, 0, 1, -1], "name": ["a", "a", "b", "noise"],
                         "domain": ["Technology", "Other Topics", "Technology", "Technology"],
                         "n": [3, 1, 2, 5]})
    clusters = pd.DataFrame({"cluster_id": [0, 1, -1], "name": ["a", "b", "noise"]})
    table = tv.cluster_domain_table(long, clusters, ("Technology", "Other Topics"))
    assert list(table["cluster"]) == ["a", "b", "noise"]
    assert list(table.columns) == ["cluster", "conversations", "top domain", "top share",
                                   "Technology", "Other Topics"]
    assert table.loc[0, "top share"] == pytest.approx(0.75)
    assert table.loc[0, "top domain"] == "Technology"


def test_cluster_bars_noise_is_its_own_grey_bar():
    clusters = pd.DataFrame({"cluster_id": [0, 1, -1], "name": ["x · y", "z", "noise"],
                             "keywords": ["x, y", "z", ""], "size": [10, 5, 3],
                             "n": [4, 2, 1], "is_noise": [False, False, True]})
    fig = mf.cluster_bars(clusters, "reason")
    bar = fig.data[0]
    assert list(bar.x) == [1, 2, 4]
    assert bar.y[0] == "noise (unclustered)" and bar.marker.color[0] == mf.GREY


# =========================================================================== DB fixtures


def _source():
    if SAMPLE.exists():
        return SAMPLE
    if DEMO.exists():
        return DEMO
    pytest.skip("neither the shared sample nor the demo corpus is present")


@pytest.fixture(scope="module")
def built_db(tmp_path_factory):
    """The shared sample (or demo), every stage, with a fake embedder and a PCA reducer."""
    return build_analysed_db(_source(), tmp_path_factory.mktemp("pages") / "full.duckdb")


@pytest.fixture(scope="module")
def ingest_only_db(tmp_path_factory):
    from precompute import pipeline
    from precompute.config import Settings

    db = tmp_path_factory.mktemp("pages_ingest") / "ingest.duckdb"
    pipeline.build(Settings(source=str(_source()), db=db, progress=False), only=("ingest",),
                   log=lambda _: None)
    return db


@pytest.fixture(scope="module")
def con(built_db):
    c = duckdb.connect(str(built_db), read_only=True)
    yield c
    c.close()


def _model_and_wrong_provider(db) -> tuple[str, str]:
    c = duckdb.connect(str(db), read_only=True)
    try:
        model, provider = c.execute("SELECT model_name, model_provider FROM conversations "
                                    "GROUP BY ALL ORDER BY count(*) DESC LIMIT 1").fetchone()
        other = c.execute("SELECT model_provider FROM conversations WHERE model_provider <> ?"
                          " LIMIT 1", [provider]).fetchone()
    finally:
        c.close()
    return model, (other[0] if other else None)


# =========================================================================== queries


def test_shift_queries_on_built_db(con):
    assert sv.availability(con) == {"shifts": True, "vectors": True, "clusters": True}
    panels = sv.shift_panels(con, Filters())
    stored = con.execute("SELECT pair_type, count(*) FROM shift_pairs GROUP BY 1").fetchall()
    assert panels["n"] == {**{t: 0 for t in sv.PAIR_TYPES}, **dict(stored)}
    assert all(panels["texts"][t] for t in sv.PAIR_TYPES if panels["n"][t])
    assert panels["points"]["src_text"].notna().all()
    small = sv.shift_panels(con, Filters(), 5, 10)  # sample of 5 per panel, no texts > 10
    assert all(v <= 5 for v in small["shown"].values())
    assert small["rings"].equals(panels["rings"])  # rings use every pair
    m = sv.metrics(con, Filters())
    assert m["source"] == "stored" and len(m["table"]) == 3
    model = con.execute("SELECT model_name FROM conversations GROUP BY 1 "
                        "ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
    f = Filters(models=(model,))
    rec = sv.metrics(con, f, 1000)
    assert rec["source"] == "recomputed"
    n_f = con.execute("SELECT count(*) FROM shift_pairs p JOIN conversations c USING "
                      "(conv_id) WHERE c.model_name = ?", [model]).fetchone()[0]
    assert int(rec["table"]["n"].sum()) == n_f


def test_map_and_texts_queries(con):
    for color_by in sv.color_options(con):
        data = sv.map_points(con, Filters(), color_by)
        assert data["total"] == con.execute("SELECT count(*) FROM map_points").fetchone()[0]
        assert data["points"]["color"].notna().all()
    small = sv.map_points(con, Filters(), "kind", 30)
    assert small["shown"] <= 30 and set(small["points"]["kind"]) == set(small["by_kind"])
    ids = tuple(small["points"]["item_id"].head(4))
    texts = sv.item_texts(con, ids)
    assert tuple(texts["item_id"]) == ids and texts["text"].notna().all()
    convs = sv.map_conversations(con, Filters())
    assert convs
    arrows = sv.conversation_arrows(con, convs[0])
    assert len(arrows) and {"x0", "y0", "x1", "y1"} <= set(arrows.columns)
    table = sv.selection_table(texts, {"user_message": "User message"}, {"model": ["m"]})
    assert list(table.columns) == ["kind", "label", "text", "turn", "link"]
    assert all(link.startswith("browser?model=m&conv=") for link in table["link"])
    dist = sv.selection_labels(small["points"], ids)
    assert dist["n"].sum() == len(ids)
    detail_row = con.execute("SELECT pair_type, src_id, dst_id FROM shift_pairs LIMIT 1"
                             ).fetchone()
    detail = sv.pair_detail(con, *detail_row)
    assert detail["src_text"] and detail["dst_text"]


def test_topic_queries_on_built_db(con):
    assert tv.availability(con) == {"topics": True, "clusters": True}
    n_conv = con.execute("SELECT count(*) FROM conversations").fetchone()[0]
    prim = tv.topic_counts(con, Filters(), "primary")
    assert prim["n"].sum() == n_conv
    multi = tv.topic_counts(con, Filters(), "multi")
    assert multi["n"].sum() == con.execute("SELECT count(*) FROM topic_scores WHERE "
                                           "is_assigned").fetchone()[0] >= n_conv
    for space in tv.SPACES:
        cl = tv.cluster_summary(con, Filters(), space)
        assert (cl["is_noise"]).sum() == 1 and cl["n"].sum() == cl["size"].sum()
    long = tv.domain_by_cluster(con, Filters())
    assert long["n"].sum() == n_conv
    dl = tv.domain_label_counts(con, Filters())
    assert dl["n"].sum() == con.execute("SELECT count(*) FROM thoughts").fetchone()[0]


# =========================================================================== AppTest


def _run(db, monkeypatch, page: str, params: dict | None = None) -> AppTest:
    monkeypatch.setenv("THOUGHTTRACE_DB", str(db))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _charts(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def test_shifts_page_with_a_filter(built_db, monkeypatch):
    model, _ = _model_and_wrong_provider(built_db)
    at = _run(built_db, monkeypatch, "views/shifts.py", {"model": model})
    assert at.title[0].value == "Semantic shifts"
    assert [t.label for t in at.tabs] == ["Centred gaps", "Global map"]
    specs = _charts(at)
    assert len(specs) == 1  # the open tab only: the map is neither queried nor drawn
    assert specs[0]["layout"]["title"]["text"].startswith("Semantic shift")
    rings = [s for s in specs[0]["layout"]["shapes"] if s["line"]["color"] == mf.RING_COLOR]
    assert 1 <= len(rings) <= 9
    assert any(f"model: {model}" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert list(table["published p50"]) == [1.96, 3.71, 6.62]
    # the subset's MMD and probe run in the background; the next run shows them
    state.wait_background()
    at.run()
    assert any("recomputed for the filtered subset" in c.value for c in at.caption)
    # the other tab (what a click on it does), then the map's own widgets
    at.session_state["view"] = "Global map"
    at.run()
    specs = _charts(at)
    assert [s["layout"]["title"]["text"][:10] for s in specs] == ["Global map"]
    assert not at.dataframe  # the metrics table is on the other tab
    at.selectbox(key="sh_color").set_value("label").run()
    assert not at.exception
    # the colour survives a visit to the other tab (the widget is not drawn meanwhile)
    at.session_state["view"] = "Centred gaps"
    at.run()
    at.session_state["view"] = "Global map"
    at.run()
    assert at.selectbox(key="sh_color").value == "label"
    conv_box = at.selectbox(key="sh_conv")
    if len(conv_box.options) > 1:
        conv_box.set_value(conv_box.options[1]).run()
        assert not at.exception
        assert any(a.get("showarrow") for a in _charts(at)[0]["layout"]["annotations"])


def test_a_link_opens_the_global_map_tab(built_db, monkeypatch):
    """`?view=Global map` (what the tab writes into the URL) opens the map with the
    filters of the link; an unknown view falls back to the first tab."""
    model, _ = _model_and_wrong_provider(built_db)
    at = _run(built_db, monkeypatch, "views/shifts.py", {"model": model, "view": "Global map"})
    specs = _charts(at)
    assert len(specs) == 1 and specs[0]["layout"]["title"]["text"].startswith("Global map")
    assert any(f"model: {model}" in c.value for c in at.caption)
    at = _run(built_db, monkeypatch, "views/shifts.py", {"view": "no such view"})
    assert not at.exception
    assert _charts(at)[0]["layout"]["title"]["text"].startswith("Semantic shift")


def test_shift_metrics_of_a_new_subset_do_not_block_the_page(built_db, monkeypatch):
    """While MMD and the probe of a subset are computed, the page shows the subset's
    percentiles with the set-level columns empty and says so; the next run after they are
    done shows them."""
    import threading
    model, _ = _model_and_wrong_provider(built_db)
    release = threading.Event()
    real = sv.metrics

    def slow(con, filters, *args):
        assert release.wait(30)
        return real(con, filters, *args)
    monkeypatch.setattr(sv, "metrics", slow)
    state.clear_cache()
    at = _run(built_db, monkeypatch, "views/shifts.py", {"model": model})
    table = at.dataframe[0].value
    assert table["p50"].notna().all() and table["MMD²"].isna().all()
    assert any("being computed" in c.value for c in at.caption)
    assert any("Computing the set-level metrics" in c.value for c in at.caption)
    n_pending = list(table["n"])
    release.set()
    state.wait_background()
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["n"]) == n_pending  # same subset, same percentiles' pairs
    assert table.loc[table["n"] >= 10, "MMD²"].notna().all()
    assert any("recomputed for the filtered subset" in c.value for c in at.caption)
    assert not any("Computing the set-level metrics" in c.value for c in at.caption)


def test_shift_metrics_failing_in_the_background_is_a_friendly_error(built_db, monkeypatch):
    model, _ = _model_and_wrong_provider(built_db)

    def broken(con, filters, *args):
        raise ValueError("no vectors for these pairs")
    monkeypatch.setattr(sv, "metrics", broken)
    state.clear_cache()
    at = _run(built_db, monkeypatch, "views/shifts.py", {"model": model})
    state.wait_background()
    at.run()  # what the polling fragment triggers
    assert not at.exception
    assert any("ValueError: no vectors for these pairs" in e.value for e in at.error)
    state.clear_cache()


def test_shifts_page_unfiltered_uses_stored_metrics(built_db, monkeypatch):
    at = _run(built_db, monkeypatch, "views/shifts.py")
    assert any("stored by the build" in c.value for c in at.caption)


def test_topics_page_with_a_filter(built_db, monkeypatch):
    model, _ = _model_and_wrong_provider(built_db)
    at = _run(built_db, monkeypatch, "views/topics.py", {"model": model})
    assert at.title[0].value == "Topics"
    kinds = [s["data"][0]["type"] for s in _charts(at)]
    assert kinds[0] == "sunburst" and "heatmap" in kinds
    at.radio(key="tp_mode").set_value("multi").run()
    at.radio(key="tp_shape").set_value("treemap").run()
    at.radio(key="tp_space").set_value("reason").run()
    assert not at.exception
    assert _charts(at)[0]["data"][0]["type"] == "treemap"
    assert any("multi-label" in c.value for c in at.caption)


@pytest.mark.parametrize("page", ["views/shifts.py", "views/topics.py"])
def test_pages_with_a_filter_matching_nothing(built_db, monkeypatch, page):
    model, other = _model_and_wrong_provider(built_db)
    if other is None:
        pytest.skip("the corpus has one provider")
    at = _run(built_db, monkeypatch, page, {"model": model, "provider": other})
    assert any("No conversations match" in i.value for i in at.info)
    assert not at.get("plotly_chart")


@pytest.mark.parametrize("page", ["views/shifts.py", "views/topics.py"])
def test_pages_on_db_without_analytics_say_run_build(ingest_only_db, monkeypatch, page):
    at = _run(ingest_only_db, monkeypatch, page)
    assert any("python -m precompute build" in i.value for i in at.info)
    assert any("python -m precompute build" in c.value for c in at.code)
    assert not at.get("plotly_chart")
