"""The queries of the "Semantic shifts" page (`components.queries.shifts`): the pure helpers
on tiny frames with hand-counted answers (stratified sampling, percentile rings, mapping a
clicked or lasso-selected point back to its row, the metrics and selection tables), then
every query on a small fully built DB."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from components import links
from components.figures import shifts as fs
from components.filters import Filters
from components.queries import shifts as sv
from components.vocabulary import PAIR_TYPES


def pairs_frame(counts: dict[str, int], dist: np.ndarray | None = None) -> pl.DataFrame:
    """Pairs of each type in ``counts``; pair ``i`` lies at (dist[i], 0) (default i + 1)."""
    rows = []
    for ptype, k in counts.items():
        for i in range(k):
            d = float(dist[i]) if dist is not None else float(i + 1)
            rows.append({"pair_type": ptype, "conv_id": f"c{i % 3}", "src_id": f"m:c:{i}",
                         "dst_id": f"t:{i}", "src_turn": i + 1, "dst_turn": i + 2,
                         "src_label": None, "dst_label": "task_motivation",
                         "dx": d, "dy": 0.0, "umap_distance": d})
    return pl.DataFrame(rows, schema={
        "pair_type": pl.Utf8, "conv_id": pl.Utf8, "src_id": pl.Utf8, "dst_id": pl.Utf8,
        "src_turn": pl.Int64, "dst_turn": pl.Int64, "src_label": pl.Utf8,
        "dst_label": pl.Utf8, "dx": pl.Float64, "dy": pl.Float64,
        "umap_distance": pl.Float64})


# =========================================================================== pure helpers


def test_rings_of_distances_1_to_100_are_their_quartiles():
    rings = sv.rings_by_type(pairs_frame({"consecutive": 100}, dist=np.arange(1, 101)))
    assert rings["pair_type"].to_list() == list(PAIR_TYPES)
    row = rings.filter(pl.col("pair_type") == "consecutive").row(0, named=True)
    assert (row["p25"], row["p50"], row["p75"]) == pytest.approx((25.75, 50.5, 75.25))
    assert row["n"] == 100
    empty = rings.filter(pl.col("pair_type") == "reaction_next").row(0, named=True)
    assert empty["n"] == 0


def test_clicked_point_maps_back_to_its_pair():
    pairs = pairs_frame({"consecutive": 2, "message_reason": 3})
    fig = fs.shift_panels(pairs, sv.rings_by_type(pairs))
    trace = [t for t in fig.data if t.customdata is not None][1]  # message_reason points
    k = 1
    point = {"customdata": list(trace.customdata[k]), "x": trace.x[k], "y": trace.y[k]}
    row = pairs.row(int(trace.customdata[k][0]), named=True)
    assert row["pair_type"] == "message_reason"
    assert sv.picked_pair(pairs, [point]) == ("message_reason", row["src_id"], row["dst_id"])
    as_dict = {**point, "customdata": {str(i): v for i, v in enumerate(point["customdata"])}}
    assert sv.picked_pair(pairs, [as_dict]) == sv.picked_pair(pairs, [point])  # typed array
    assert sv.picked_pair(pairs, [{**point, "x": 123.0}]) is None  # stale selection
    assert sv.picked_pair(pairs, [{"x": 0, "y": 0}]) is None  # the star has no customdata
    assert sv.picked_pair(pairs, []) is None


def test_lasso_selected_map_points_map_back_to_their_items():
    pts = pl.DataFrame({"item_id": [f"t:{i}" for i in range(6)],
                        "kind": ["reason"] * 4 + ["user_message"] * 2,
                        "label": ["scope_fit"] * 4 + [None] * 2, "conv_id": ["c"] * 6,
                        "turn": [1] * 6, "x": np.arange(6.0), "y": np.arange(6.0),
                        "color": ["reason"] * 4 + ["user_message"] * 2})
    first = fs.global_map(pts, "kind").data[0]  # the four reasons
    sel = [{"customdata": list(first.customdata[k]), "x": float(first.x[k]),
            "y": float(first.y[k])} for k in range(len(first.x))]
    assert sv.picked_items(pts, sel) == ("t:0", "t:1", "t:2", "t:3")
    assert sv.picked_items(pts, [{**sel[0], "x": 99.0}]) == ()  # stale selection
    as_dict = [{**p, "customdata": {"0": p["customdata"][0], "1": p["customdata"][1]}}
               for p in sel]
    assert sv.picked_items(pts, as_dict) == ("t:0", "t:1", "t:2", "t:3")  # typed array
    assert sv.picked_items(pts, [{"x": 0.0, "y": 0.0}]) == ()  # an arrow marker
    assert sv.picked_items(pts.head(0), sel) == ()


def test_selected_search_hits_map_back_to_their_items():
    """Hits are drawn as their own trace whether or not the sample holds them; lassoing
    them lists the hit items (rows ``-1 - k``), and a stale or out-of-range row is
    skipped."""
    pts = pl.DataFrame({"item_id": ["t:0", "t:1"], "kind": ["reason"] * 2,
                        "label": ["scope_fit"] * 2, "conv_id": ["c"] * 2, "turn": [1, 1],
                        "x": [0.0, 1.0], "y": [0.0, 1.0], "color": ["reason"] * 2})
    hits = pl.DataFrame({"item_id": ["t:1", "t:9"], "kind": ["reason"] * 2,
                         "turn": [1, 3], "x": [1.0, 5.0], "y": [1.0, 6.0]})
    fig = fs.global_map(pts, "kind", hits=[("keyword “x”", hits)])
    trace = fig.data[-1]
    assert trace.name == "keyword “x” (2)" and trace.marker.symbol == "circle-open"
    assert fig.data[0].marker.opacity < 0.6  # the map dims under the hits
    sel = [{"customdata": list(trace.customdata[k]), "x": float(trace.x[k]),
            "y": float(trace.y[k])} for k in range(2)]
    assert sv.picked_items(pts, sel, hits) == ("t:1", "t:9")
    assert sv.picked_items(pts, sel) == ()  # without the hit frame: not resolvable
    assert sv.picked_items(pts, [{**sel[1], "x": 0.5}], hits) == ()  # stale
    assert sv.picked_items(pts, [{"customdata": [-3.0, 1.0]}], hits) == ()
    undimmed = fs.global_map(pts, "kind", hits=[("none", hits.head(0))])
    assert len(undimmed.data) == 1 and undimmed.data[0].marker.opacity == 0.6


def test_snippet_escapes_wraps_and_truncates():
    s = sv.snippet("<script>alert(1)</script> " + "word " * 80, limit=100, width=30)
    assert "<script>" not in s and "&lt;script&gt;" in s
    assert s.endswith("…") and "<br>" in s
    assert sv.snippet(None) == "—"


def test_stratified_sample_keeps_max_points_and_every_kind():
    df = pl.DataFrame({"kind": ["user_message"] * 10000 + ["reason"] * 50 + ["reaction"] * 3,
                       "x": np.arange(10053.0)}).with_row_index("row")
    out = sv.stratified_sample(df, "kind", 1000, seed=0)
    assert out.height <= 1000
    assert set(out["kind"].to_list()) == {"user_message", "reason", "reaction"}
    assert out["row"].is_sorted()  # the original row order is kept
    again = sv.stratified_sample(df, "kind", 1000, seed=0)
    assert out["row"].to_list() == again["row"].to_list()  # fixed seed
    counts = dict(out["kind"].value_counts().iter_rows())
    # by hand: 1000 * (10000, 50, 3) / 10053 = 994.73, 4.97, 0.30 -> floors 994, 4, 0; the
    # reaction keeps its minimum of 1 (999), the largest remainder (reason's .97) the last
    assert out.height == 1000
    assert counts == {"user_message": 994, "reason": 5, "reaction": 1}
    assert sv.stratified_sample(df.head(10), "kind", 1000) is not None
    assert sv.stratified_sample(df.head(10), "kind", 1000).height == 10


def test_stratified_quota_edge_cases():
    assert sv.stratified_quota({"a": 5, "b": 3}, 100) == {"a": 5, "b": 3}
    # floors 9, 0, 0; b and c get their minimum of 1 (11 > 10): the largest, a, gives one
    assert sv.stratified_quota({"a": 1000, "b": 1, "c": 1}, 10) == {"a": 8, "b": 1, "c": 1}
    # room for two: the first two groups get their minimum of 1, the third none
    assert sv.stratified_quota({"a": 7, "b": 7, "c": 7}, 2) == {"a": 1, "b": 1, "c": 0}


def test_label_distribution_of_selected_items():
    items = pl.DataFrame({"kind": ["reason", "reason", "user_message"],
                          "label": ["scope_fit", "scope_fit", None]})
    dist = sv.label_distribution(items)
    assert dict(zip(dist["label"].to_list(), dist["n"].to_list())) == {
        "scope_fit": 2, "(user message)": 1}
    assert dist["share"].sum() == pytest.approx(1.0)
    assert sv.label_distribution(items.head(0)).is_empty()
    points = items.with_columns(item_id=pl.Series(["t:1", "t:2", "m:c:1"]))
    picked = sv.selection_labels(points, ["t:2", "m:c:1"])
    assert dict(zip(picked["label"].to_list(), picked["n"].to_list())) == {
        "scope_fit": 1, "(user message)": 1}


def test_metrics_table_has_the_published_percentiles_and_the_ordering():
    metrics = pl.DataFrame({"pair_type": list(PAIR_TYPES), "n": [3, 2, 1],
                            "p25": [0.1, 0.2, 0.3], "p50": [1.0, 3.0, 2.0],
                            "p75": [2.0, 4.0, 5.0], "centroid_distance": [0.1] * 3,
                            "mmd": [0.01] * 3, "probe_auc": [0.6] * 3, "note": [None] * 3})
    table = sv.metrics_with_published(metrics)
    assert table["published p50"].to_list() == [1.96, 3.71, 6.62]
    assert table["n"].to_list() == [3, 2, 1]
    assert sv.ordering(metrics) == ("Consecutive user messages < Reaction → next message < "
                                    "Message → its reason")


def test_pending_metrics_keep_the_percentiles_and_leave_the_set_metrics_empty():
    rings = sv.rings_by_type(pairs_frame({"consecutive": 4, "reaction_next": 2}))
    table = sv.metrics_with_published(sv.pending_metrics(rings))
    assert table["n"].to_list() == [4, 0, 2]
    assert table["p50"].to_list()[0] == pytest.approx(2.5)
    assert table["MMD²"].null_count() == 3 and table["probe AUC"].null_count() == 3
    assert all("computing" in note for note in table["note"].to_list())


def test_links_keep_the_filters_and_replace_the_conversation():
    params = {"model": ["GPT-5.4"], "conv": ["old"], "turn": "9"}
    assert links.conversation_url(params, "c 1", 3) == \
        "browser?model=GPT-5.4&conv=c+1&turn=3#turn-3"
    texts = pl.DataFrame({"item_id": ["t:1"], "kind": ["reason"], "label": ["scope_fit"],
                          "conv_id": ["c 1"], "turn": [3], "text": ["x" * 400]})
    table = sv.selection_table(texts, {"reason": "Reason", "scope_fit": "Scope fit"}, params)
    assert table.row(0, named=True) == {
        "kind": "Reason", "label": "Scope fit", "text": "x" * 300, "turn": 3,
        "link": "browser?model=GPT-5.4&conv=c+1&turn=3#turn-3"}


# =========================================================================== built DB




@pytest.fixture(scope="module")
def con(analysed_db):
    """The shared sample, every stage, with a fake embedder and a PCA reducer."""
    c = duckdb.connect(str(analysed_db), read_only=True)
    yield c
    c.close()


def test_shift_queries_on_built_db(con):
    assert sv.availability(con) == {"shifts": True, "vectors": True, "clusters": True}
    panels = sv.shift_panels(con, Filters())
    stored = con.execute("SELECT pair_type, count(*) FROM shift_pairs GROUP BY 1").fetchall()
    assert panels["n"] == {**{t: 0 for t in PAIR_TYPES}, **dict(stored)}
    assert all(panels["texts"][t] for t in PAIR_TYPES if panels["n"][t])
    assert panels["points"]["src_text"].null_count() == 0
    small = sv.shift_panels(con, Filters(), 5, 10)  # sample of 5 per panel, no texts > 10
    assert all(v <= 5 for v in small["shown"].values())
    assert small["points"].height == sum(small["shown"].values())
    assert small["rings"].equals(panels["rings"])  # rings use every pair
    m = sv.metrics(con, Filters())
    assert m["source"] == "stored" and m["table"].height == 3
    model = con.execute("SELECT model_name FROM conversations GROUP BY 1 "
                        "ORDER BY count(*) DESC, 1 LIMIT 1").fetchall()[0][0]
    f = Filters(models=(model,))
    rec = sv.metrics(con, f, 1000)
    assert rec["source"] == "recomputed"
    n_f = con.execute("SELECT count(*) FROM shift_pairs p JOIN conversations c USING "
                      "(conv_id) WHERE c.model_name = ?", [model]).fetchall()[0][0]
    assert int(rec["table"]["n"].sum()) == n_f


def test_map_and_texts_queries(con):
    n_points = con.execute("SELECT count(*) FROM map_points").fetchall()[0][0]
    assert "cluster" in sv.color_options(con)
    for color_by in sv.color_options(con):
        data = sv.map_points(con, Filters(), color_by)
        assert data["total"] == n_points
        assert data["points"]["color"].null_count() == 0
    small = sv.map_points(con, Filters(), "kind", 30)
    assert small["shown"] <= 30
    assert set(small["points"]["kind"].to_list()) == set(small["by_kind"])
    assert sum(small["by_kind"].values()) == n_points
    ids = tuple(small["points"]["item_id"].head(4).to_list())
    texts = sv.item_texts(con, ids)
    assert tuple(texts["item_id"].to_list()) == ids and texts["text"].null_count() == 0
    convs = sv.map_conversations(con, Filters())
    assert convs and sv.map_conversation_set(con, Filters()) == frozenset(convs)
    arrows = sv.conversation_arrows(con, convs[0])
    assert arrows.height and {"x0", "y0", "x1", "y1"} <= set(arrows.columns)
    table = sv.selection_table(texts, {"user_message": "User message"}, {"model": ["m"]})
    assert table.columns == ["kind", "label", "text", "turn", "link"]
    assert all(link.startswith("browser?model=m&conv=") for link in table["link"].to_list())
    dist = sv.selection_labels(small["points"], ids)
    assert dist["n"].sum() == len(ids)
    detail_row = con.execute("SELECT pair_type, src_id, dst_id FROM shift_pairs LIMIT 1"
                             ).fetchall()[0]
    detail = sv.pair_detail(con, *detail_row)
    assert detail["src_text"] and detail["dst_text"]
    assert sv.pair_detail(con, "consecutive", "no", "such") is None


def test_metrics_display_has_dashes_not_none():
    table = sv.metrics_with_published(pl.DataFrame(
        {"pair_type": ["consecutive"], "n": [3], "p25": [0.1], "p50": [0.2], "p75": [0.3],
         "centroid_distance": [None], "mmd": [-0.00012], "probe_auc": [float("nan")],
         "note": [None]}, schema_overrides={"centroid_distance": pl.Float64}))
    shown = sv.metrics_display(table)
    row = shown.row(0, named=True)
    assert row["p50"] == "0.20" and row["MMD²"] == "-0.0001"
    assert row["centroid distance"] == sv.NOT_AVAILABLE == row["probe AUC"]
    assert shown.row(1, named=True)["p50"] == sv.NOT_AVAILABLE  # no pairs of that type
    assert "None" not in str(shown.to_dicts()) and row["note"] == ""
    assert set(sv.METRIC_WORDS) == {"p25 / p50 / p75", "centroid distance", "MMD²",
                                    "probe AUC"}
    assert "negative" in sv.METRIC_WORDS["MMD²"]


def test_keyword_hits_on_the_map_are_counted_like_a_substring_scan(con):
    """Every map item (user message, reason, reaction) whose own text contains the word,
    case-insensitively, and no other: counted here in Python over the texts."""
    rows = con.execute("""
        SELECT p.item_id, c.model_name, coalesce(m.content, t.content) FROM map_points p
        JOIN conversations c USING (conv_id)
        LEFT JOIN messages m ON p.kind = 'user_message' AND m.conv_id = p.conv_id
                             AND m.turn = p.turn
        LEFT JOIN thoughts t ON p.kind <> 'user_message' AND t.thought_id = p.thought_id
        """).fetchall()
    for word in ("THE", "code", "100%", "zzzz-not-there"):
        want = sorted(i for i, _, text in rows if word.lower() in (text or "").lower())
        got = sv.keyword_map_hits(con, Filters(), word)
        assert got["total"] == len(want) and list(got["item_ids"]) == want[:sv.MAX_HIGHLIGHT]
    # the shared sample, counted over its JSONL: "the" is in 78 of the 164 user messages
    # and 172 of the 310 thoughts (all of them on the map)
    assert sv.keyword_map_hits(con, Filters(), "the")["total"] == 78 + 172
    model = rows[0][1]
    want = sorted(i for i, m, text in rows if m == model and "the" in (text or "").lower())
    got = sv.keyword_map_hits(con, Filters(models=(model,)), "the")
    assert list(got["item_ids"]) == want
    assert sv.keyword_map_hits(con, Filters(), "  ") == {"item_ids": (), "total": 0}
    ids = tuple(i for i, _, _ in rows[:3])[::-1] + ("t:999999",)
    pos = sv.map_positions(con, ids)
    assert pos["item_id"].to_list() == list(ids[:3])  # id order kept, unknown left out
