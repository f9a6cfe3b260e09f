"""Semantic-shift stage: pair building, metrics with known answers, the stage end to end.

No real embedding model and no UMAP here: the stage gets a fake 2-D reducer (a fixed
random projection), so these tests stay fast.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from precompute import shifts
from precompute.config import Settings
from precompute.shifts import (
    build_pairs,
    centroid_distance,
    compute_metrics,
    mmd_rbf,
    pair_geometry,
    percentile_rings,
    probe_auc,
    stage_shifts,
)
from precompute.store import record_stage

DIM = 16


class ProjectionReducer:
    """Deterministic stand-in for UMAP: a fixed random linear projection to 2-D."""

    def __init__(self, seed: int = 7):
        self.seed = seed

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        proj = np.random.default_rng(self.seed).standard_normal((x.shape[1], 2))
        return np.asarray(x, dtype=np.float64) @ proj


def fake_umap() -> ProjectionReducer:
    return ProjectionReducer()


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def text_vector(text: str, dim: int = DIM) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return unit(np.random.default_rng(seed).standard_normal(dim))


# --------------------------------------------------------------------------- pairs

def hand_items() -> pd.DataFrame:
    """Conversation A: U1 A2 U3 A4 U5 A6. Reasons: one on U1, two on U3, none on U5.
    Reactions: two on A2 (-> U3), one on A6 (no later user message -> excluded).
    Conversation B: U1 (one reason) A2 (reaction, no later user message -> excluded).
    Conversation C: U1 A2 U3 with a reaction on A2 -> U3; A4 has no vector (not listed).
    Task and assistant-message items are present and must be ignored.
    """
    rows = [
        # item_id, kind, conv_id, turn, thought_id, label
        ("m:A:1", "user_message", "A", 1, None, None),
        ("m:A:2", "assistant_message", "A", 2, None, None),
        ("m:A:3", "user_message", "A", 3, None, None),
        ("m:A:5", "user_message", "A", 5, None, None),
        ("t:1", "reason", "A", 1, 1, "task_motivation"),
        ("t:2", "reason", "A", 3, 2, "task_continuation"),
        ("t:3", "reason", "A", 3, 3, "style_expectation"),
        ("t:4", "reaction", "A", 2, 4, "scope_fit"),
        ("t:5", "reaction", "A", 2, 5, "partial_satisfaction"),
        ("t:6", "reaction", "A", 6, 6, "explicit_affirmation"),
        ("c:A", "task", "A", None, None, None),
        ("m:B:1", "user_message", "B", 1, None, None),
        ("t:7", "reason", "B", 1, 7, "task_motivation"),
        ("t:8", "reaction", "B", 2, 8, "content_relevance"),
        ("m:C:1", "user_message", "C", 1, None, None),
        ("m:C:3", "user_message", "C", 3, None, None),
        ("t:9", "reaction", "C", 2, 9, "presentation_style"),
    ]
    df = pd.DataFrame(rows, columns=["item_id", "kind", "conv_id", "turn", "thought_id",
                                     "label"])
    df["turn"] = pd.array(df["turn"], dtype="Int64")
    return df.sample(frac=1.0, random_state=3).reset_index(drop=True)  # order must not matter


def test_build_pairs_hand_corpus():
    items = hand_items()
    # build_pairs ignores kinds it does not pair, but the map only holds these three
    pairs = build_pairs(items[items["kind"].isin(shifts.MAP_KINDS)])
    assert list(pairs.columns) == shifts.PAIR_COLUMNS
    got = {t: sorted(zip(g["src_id"], g["dst_id"])) for t, g in pairs.groupby("pair_type")}
    assert got["consecutive"] == [("m:A:1", "m:A:3"), ("m:A:3", "m:A:5"),
                                  ("m:C:1", "m:C:3")]
    assert got["message_reason"] == [("m:A:1", "t:1"), ("m:A:3", "t:2"), ("m:A:3", "t:3"),
                                     ("m:B:1", "t:7")]
    assert got["reaction_next"] == [("t:4", "m:A:3"), ("t:5", "m:A:3"), ("t:9", "m:C:3")]
    assert pairs["pair_type"].value_counts().to_dict() == {
        "consecutive": 3, "message_reason": 4, "reaction_next": 3}
    # turns, conv ids and labels carried over
    row = pairs[(pairs["src_id"] == "t:4")].iloc[0]
    assert (row["conv_id"], row["src_turn"], row["dst_turn"]) == ("A", 2, 3)
    assert row["src_label"] == "scope_fit" and row["dst_label"] is None
    row = pairs[(pairs["dst_id"] == "t:3")].iloc[0]
    assert (row["src_turn"], row["dst_turn"], row["dst_label"]) == (3, 3, "style_expectation")
    # ordered by pair type, then conversation and turns
    assert list(pairs["pair_type"]) == ["consecutive"] * 3 + ["message_reason"] * 4 + [
        "reaction_next"] * 3
    # the same result with the assistant/task rows mixed in
    assert build_pairs(items).equals(pairs)


def test_build_pairs_edge_cases():
    empty = build_pairs(pd.DataFrame(columns=["item_id", "kind", "conv_id", "turn"]))
    assert list(empty.columns) == shifts.PAIR_COLUMNS and empty.empty
    only_reactions = pd.DataFrame({"item_id": ["t:1"], "kind": ["reaction"], "conv_id": ["A"],
                                   "turn": [2]})
    assert build_pairs(only_reactions).empty
    # reaction exactly at a user turn (not possible in the data) is not paired with it
    same_turn = pd.DataFrame({"item_id": ["m:A:2", "t:1"], "kind": ["user_message", "reaction"],
                              "conv_id": ["A", "A"], "turn": [2, 2]})
    assert build_pairs(same_turn).empty


def test_pair_geometry():
    items = hand_items()
    items = items[items["kind"].isin(shifts.MAP_KINDS)].reset_index(drop=True)
    matrix = np.stack([text_vector(i) for i in items["item_id"]])
    xy = ProjectionReducer().fit_transform(matrix)
    pairs = pair_geometry(build_pairs(items), matrix, xy, items["item_id"])
    pos = {iid: i for i, iid in enumerate(items["item_id"])}
    for r in pairs.itertuples():
        s, d = pos[r.src_id], pos[r.dst_id]
        assert r.dx == pytest.approx(xy[d, 0] - xy[s, 0])
        assert r.dy == pytest.approx(xy[d, 1] - xy[s, 1])
        assert r.umap_distance == pytest.approx(math.hypot(r.dx, r.dy))
        assert r.cosine_distance == pytest.approx(1 - float(matrix[s] @ matrix[d]), abs=1e-6)


# --------------------------------------------------------------------------- metrics

def test_percentile_rings_known():
    rings = percentile_rings(np.arange(1, 101))
    assert rings == {"p25": pytest.approx(25.75), "p50": pytest.approx(50.5),
                     "p75": pytest.approx(75.25)}
    assert all(math.isnan(v) for v in percentile_rings([]).values())


def test_centroid_distance_known():
    a = np.array([[0.0, 0.0], [2.0, 0.0]])  # mean (1, 0)
    b = np.array([[1.0, 3.0], [1.0, 1.0]])  # mean (1, 2)
    assert centroid_distance(a, b) == pytest.approx(2.0)
    assert centroid_distance(a, a) == 0.0
    assert math.isnan(centroid_distance(a[:0], b))


def test_mmd_identical_vs_shifted():
    rng = np.random.default_rng(1)
    a = unit(rng.standard_normal((300, DIM)))
    same = unit(rng.standard_normal((300, DIM)))
    shifted = unit(rng.standard_normal((300, DIM)) + 3.0 * np.eye(DIM)[0])
    assert abs(mmd_rbf(a, a)) < 0.005  # unbiased: about 0, may be slightly negative
    assert abs(mmd_rbf(a, same)) < 0.005
    assert mmd_rbf(a, shifted) > 0.1
    assert mmd_rbf(a, shifted, seed=0) == mmd_rbf(a, shifted, seed=0)  # deterministic
    assert math.isnan(mmd_rbf(a[:1], shifted))


def test_mmd_subsample_is_capped(monkeypatch):
    """With ``max_per_side`` under a side's size, the kernels are computed on exactly that
    many distinct rows of the side, kept in order, drawn with the seed; the value is the
    MMD of exactly those rows. A side at or under the cap is used whole."""
    rng = np.random.default_rng(2)
    a = unit(rng.standard_normal((500, DIM)))
    b = unit(rng.standard_normal((300, DIM)) + np.eye(DIM)[0])
    seen: list[tuple[np.ndarray, np.ndarray, bool]] = []
    real = shifts._kernel_sum

    def spy(x, y, gamma, *, same):
        seen.append((x.copy(), y.copy(), same))
        return real(x, y, gamma, same=same)

    monkeypatch.setattr(shifts, "_kernel_sum", spy)
    capped = mmd_rbf(a, b, seed=3, max_per_side=50)
    # three kernel sums: x with x, y with y, x with y; 50 rows a side
    assert [(len(x), len(y), same) for x, y, same in seen] == [
        (50, 50, True), (50, 50, True), (50, 50, False)]
    x, y = seen[0][0], seen[1][0]
    assert np.array_equal(seen[2][0], x) and np.array_equal(seen[2][1], y)
    row_of_a = {r.tobytes(): i for i, r in enumerate(a)}
    row_of_b = {r.tobytes(): i for i, r in enumerate(b)}
    ia = [row_of_a[r.tobytes()] for r in x]
    ib = [row_of_b[r.tobytes()] for r in y]
    assert ia == sorted(set(ia)) and ib == sorted(set(ib))  # distinct rows, in order
    # the seeded draw: side a first, then side b, from one generator
    draw = np.random.default_rng(3)
    assert ia == sorted(draw.choice(500, size=50, replace=False).tolist())
    assert ib == sorted(draw.choice(300, size=50, replace=False).tolist())
    # the value is the MMD of those rows (100 pooled points: the same bandwidth)
    assert mmd_rbf(x, y) == capped
    assert mmd_rbf(a, b, seed=3, max_per_side=50) == capped
    # a side under the cap is used whole: all 40 rows of b[:40], in order
    seen.clear()
    mmd_rbf(a, b[:40], seed=3, max_per_side=50)
    assert [(len(x), len(y), same) for x, y, same in seen] == [
        (50, 50, True), (40, 40, True), (50, 40, False)]
    assert np.array_equal(seen[1][0], b[:40])


def test_probe_auc_chance_and_separable():
    rng = np.random.default_rng(3)
    a = unit(rng.standard_normal((200, DIM)))
    same = unit(rng.standard_normal((200, DIM)))
    far = unit(rng.standard_normal((200, DIM)) + 4.0 * np.eye(DIM)[0])
    assert 0.35 < probe_auc(a, same) < 0.65
    assert probe_auc(a, far) > 0.99
    assert math.isnan(probe_auc(a[:9], far))  # fewer than 10 in a class


def test_probe_grouped_by_conversation_on_shared_items():
    """Consecutive pairs share items; grouped folds keep the AUC near chance."""
    rng = np.random.default_rng(6)
    ids, vecs, rows = [], [], []
    for c in range(60):
        center = rng.standard_normal(DIM)
        for turn in range(1, 7):
            ids.append(f"m:{c}:{turn}")
            vecs.append(center + 0.8 * rng.standard_normal(DIM))
            if turn > 1:
                rows.append({"pair_type": "consecutive", "conv_id": f"conv{c}",
                             "src_id": f"m:{c}:{turn - 1}", "dst_id": f"m:{c}:{turn}"})
    matrix = unit(np.array(vecs))
    pairs = pair_geometry(pd.DataFrame(rows), matrix, ProjectionReducer().fit_transform(matrix),
                          ids)
    row = compute_metrics(pairs, matrix, ids).iloc[0]
    assert row["n"] == 300 and row["n_src"] == 300 and row["n_dst"] == 300
    assert 0.35 < row["probe_auc"] < 0.65
    # the same sets with ungrouped folds: the shared vectors push the AUC below chance
    src = matrix[pd.Index(ids).get_indexer(pairs["src_id"])]
    dst = matrix[pd.Index(ids).get_indexer(pairs["dst_id"])]
    assert probe_auc(src, dst) < 0.35
    groups = pairs["conv_id"].to_numpy()
    assert probe_auc(src, dst, groups_a=groups, groups_b=groups) == pytest.approx(
        row["probe_auc"])
    few = np.array(["a", "b", "c"] * 100)
    assert math.isnan(probe_auc(src, dst, groups_a=few, groups_b=few))


def test_group_folds_keep_conversations_whole():
    groups = np.array([f"c{i % 37}" for i in range(500)], dtype=object)
    folds = shifts._group_folds(groups, 5)
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests) == list(range(500))  # every row tested exactly once
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert len(set(groups[test])) in (7, 8)


def shifted_pairs(shifts_by_type: dict[str, float], n: int = 200, seed: int = 5):
    """Sources and destinations = source moved by ``shift`` along one direction."""
    rng = np.random.default_rng(seed)
    direction = np.eye(DIM)[0]
    ids, vecs, rows = [], [], []
    for ptype, shift in shifts_by_type.items():
        src = rng.standard_normal((n, DIM))
        dst = src + shift * direction + 0.1 * rng.standard_normal((n, DIM))
        for i in range(n):
            ids += [f"{ptype}:s{i}", f"{ptype}:d{i}"]
            vecs += [src[i], dst[i]]
            rows.append({"pair_type": ptype, "conv_id": f"c{i % 10}", "src_id": f"{ptype}:s{i}",
                         "dst_id": f"{ptype}:d{i}", "src_turn": 1, "dst_turn": 3,
                         "src_label": None, "dst_label": None})
    matrix = unit(np.array(vecs))
    xy = ProjectionReducer().fit_transform(matrix)
    return pd.DataFrame(rows), matrix, xy, pd.Index(ids)


def test_metrics_follow_known_ordering():
    pairs, matrix, xy, ids = shifted_pairs(
        {"consecutive": 0.3, "message_reason": 1.0, "reaction_next": 2.5})
    metrics = compute_metrics(pair_geometry(pairs, matrix, xy, ids), matrix, ids)
    assert list(metrics.columns) == shifts.METRIC_COLUMNS
    assert list(metrics["pair_type"]) == list(shifts.PAIR_TYPES)
    assert list(metrics["n"]) == [200, 200, 200]
    for col in ("p50", "centroid_distance", "mmd", "probe_auc", "cos_p50"):
        values = list(metrics[col])
        assert values == sorted(values) and len(set(values)) == 3, (col, values)
    assert metrics["note"].isna().all()


def test_compute_metrics_small_and_filtered_subsets():
    pairs, matrix, xy, ids = shifted_pairs(
        {"consecutive": 0.3, "message_reason": 1.0, "reaction_next": 2.5})
    geo = pair_geometry(pairs, matrix, xy, ids)
    few = geo.groupby("pair_type").head(4)  # like one conversation in the app
    m = compute_metrics(few, matrix, ids).set_index("pair_type")
    assert (m["n"] == 4).all()
    assert m["probe_auc"].isna().all() and m["note"].str.contains("probe_auc").all()
    assert m["mmd"].notna().all()
    none = compute_metrics(geo[geo["pair_type"] == "consecutive"], matrix, ids)
    assert list(none["n"]) == [200, 0, 0]
    assert none.loc[1, ["p50", "mmd", "probe_auc", "centroid_distance"]].isna().all()


# --------------------------------------------------------------------------- stage

def _conv(conv_id: str, turns: list[tuple[str, str, list[tuple[str, str]]]]) -> dict:
    msgs = []
    for role, text, thoughts in turns:
        field = "reasons" if role == "user" else "reactions"
        msgs.append({"type": role, "content": text,
                     field: [{"label": lab, "content": c} for lab, c in thoughts]})
    return {"id": conv_id, "task_summary": f"task of {conv_id}", "messages": msgs}


CORPUS = [
    _conv("user1_task1_conversation1", [
        ("user", "How do I strain soy milk faster?", [("task_motivation", "It takes hours.")]),
        ("assistant", "Use a press.", [("partial_satisfaction", "Helpful but pricey.")]),
        ("user", "Cheaper options?", [("task_continuation", "Budget matters."),
                                      ("content_expectation", "Want concrete tools.")]),
        ("assistant", "Use a colander first.", [("explicit_affirmation", "Great.")]),
        ("user", "Thanks!", []),
        ("assistant", "You're welcome.", [("scope_fit", "Too long.")]),
    ]),
    _conv("user2_task1_conversation1", [
        ("user", "Write a haiku about rain.", [("task_motivation", "For a card.")]),
        ("assistant", "Rain taps the window...", [("presentation_style", "Too plain.")]),
        ("user", "Make it more vivid.", [("style_expectation", "More imagery.")]),
        ("assistant", "Silver threads falling...", []),
    ]),
    _conv("user3_task1_conversation1", [
        ("user", "Plan a 3-day trip to Rome.", []),
        ("assistant", "Day 1: Colosseum...", [("content_relevance", "Missed food.")]),
    ]),
]


def write_embeddings(db: Path, *, drop_text: str | None = None, dim: int = DIM) -> None:
    """embeddings + embedded_items as the embed stage writes them (deterministic vectors)."""
    con = duckdb.connect(str(db))
    try:
        msgs = con.sql("SELECT conv_id, turn, role, content FROM messages").df()
        ths = con.sql("SELECT thought_id, conv_id, turn, kind, label, content FROM thoughts").df()
        convs = con.sql("SELECT conv_id, task_summary FROM conversations").df()
        rows = []
        for r in msgs.itertuples():
            rows.append((f"m:{r.conv_id}:{r.turn}", f"{r.role}_message", r.conv_id, r.turn,
                         None, None, r.content))
        for r in ths.itertuples():
            rows.append((f"t:{r.thought_id}", r.kind, r.conv_id, r.turn, r.thought_id, r.label,
                         r.content))
        for r in convs.itertuples():
            rows.append((f"c:{r.conv_id}", "task", r.conv_id, None, None, None, r.task_summary))
        items = pd.DataFrame(rows, columns=["item_id", "kind", "conv_id", "turn", "thought_id",
                                            "label", "text"])
        items["text_hash"] = [None if t == drop_text else hashlib.sha256(t.encode()).hexdigest()
                              for t in items["text"]]
        uniq = items.dropna(subset=["text_hash"]).drop_duplicates("text_hash")
        emb = pd.DataFrame({"text_hash": uniq["text_hash"], "model": "fake-model",
                            "vector": [text_vector(t, dim) for t in uniq["text"]]})
        con.register("emb", emb)
        con.execute("DROP TABLE IF EXISTS embeddings")
        con.execute("DROP TABLE IF EXISTS embedded_items")
        con.execute(f"CREATE TABLE embeddings (text_hash VARCHAR PRIMARY KEY, model VARCHAR, "
                    f"vector FLOAT[{dim}])")
        con.execute(f"INSERT INTO embeddings SELECT text_hash, model, vector::FLOAT[{dim}] "
                    "FROM emb")
        con.execute("CREATE TABLE embedded_items (item_id VARCHAR PRIMARY KEY, kind VARCHAR, "
                    "conv_id VARCHAR, turn INTEGER, thought_id INTEGER, label VARCHAR, "
                    "text_hash VARCHAR)")
        con.execute("INSERT INTO embedded_items SELECT item_id, kind, conv_id, turn, "
                    "thought_id, label, text_hash FROM items")
    finally:
        con.close()


@pytest.fixture(scope="module")
def ingested_db(tmp_path_factory) -> Path:
    from precompute.pipeline import build

    tmp = tmp_path_factory.mktemp("shifts")
    src = tmp / "corpus.jsonl"
    src.write_text("\n".join(json.dumps(c) for c in CORPUS) + "\n")
    db = tmp / "t.duckdb"
    build(Settings(source=str(src), db=db, progress=False), only=("ingest",), log=lambda _: None)
    return db


@pytest.fixture()
def shifts_db(ingested_db: Path, tmp_path: Path) -> Path:
    db = tmp_path / "s.duckdb"
    db.write_bytes(ingested_db.read_bytes())
    write_embeddings(db)
    return db


def scalar(con, query: str):
    """First value of a one-row query (DuckDB 2 leaves a fetchone() result unfinished)."""
    return con.execute(query).fetchall()[0][0]


def run_stage(con, **kw) -> dict:
    settings = Settings(source="unused", db=Path("unused"), progress=False,
                        force=kw.pop("force", False))
    out = stage_shifts(con, settings=settings, log=lambda _: None,
                       umap_factory=kw.pop("umap_factory", fake_umap), **kw)
    if not out["skipped"]:  # what pipeline.build does
        record_stage(con, "shifts", input_hash=out["input_hash"], params=out["params"],
                     seconds=0.0, summary=out["summary"])
    return out


def test_load_roundtrip(shifts_db: Path):
    con = duckdb.connect(str(shifts_db))
    items, matrix = shifts._load(con, shifts.MAP_KINDS)
    con.close()
    assert matrix.dtype == np.float32 and matrix.shape == (len(items), DIM)
    assert set(items["kind"]) == {"user_message", "reason", "reaction"}
    assert list(items["item_id"]) == sorted(items["item_id"])
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    assert items["thought_id"].isna().sum() == (items["kind"] == "user_message").sum()


def test_stage_end_to_end(shifts_db: Path):
    con = duckdb.connect(str(shifts_db))
    try:
        out = run_stage(con)
        assert out["skipped"] is False
        assert out["params"]["map_method"] == "custom:ProjectionReducer"
        pts = con.sql("SELECT * FROM map_points").df()
        pairs = con.sql("SELECT * FROM shift_pairs").df()
        metrics = con.sql("SELECT * FROM shift_metrics").df()

        # map: every user message and thought, nothing else
        n_user = scalar(con, "SELECT count(*) FROM messages WHERE role = 'user'")
        n_th = scalar(con, "SELECT count(*) FROM thoughts")
        assert len(pts) == n_user + n_th == 6 + 10
        assert set(pts["kind"]) == {"user_message", "reason", "reaction"}
        assert pts.loc[pts["kind"] == "user_message", "label"].isna().all()
        assert pts.loc[pts["kind"] != "user_message", "label"].notna().all()

        # pair counts computed by hand from CORPUS
        counts = pairs["pair_type"].value_counts().to_dict()
        assert counts == {"consecutive": 3, "message_reason": 5, "reaction_next": 3}
        # same counts from the core tables in SQL (independent of build_pairs)
        sql_counts = dict(con.sql("""
            WITH u AS (SELECT conv_id, turn FROM messages WHERE role = 'user')
            SELECT 'consecutive', count(*) FROM u a
              WHERE EXISTS (SELECT 1 FROM u b WHERE b.conv_id = a.conv_id AND b.turn > a.turn)
            UNION ALL SELECT 'message_reason', count(*) FROM thoughts WHERE kind = 'reason'
            UNION ALL SELECT 'reaction_next', count(*) FROM thoughts t WHERE kind = 'reaction'
              AND EXISTS (SELECT 1 FROM u WHERE u.conv_id = t.conv_id AND u.turn > t.turn)
        """).fetchall())
        assert counts == sql_counts

        # every endpoint is a map point; dx/dy/umap_distance match the coordinates
        xy = pts.set_index("item_id")[["x", "y"]]
        assert set(pairs["src_id"]) | set(pairs["dst_id"]) <= set(xy.index)
        s = xy.loc[pairs["src_id"]].to_numpy()
        d = xy.loc[pairs["dst_id"]].to_numpy()
        assert np.allclose(pairs[["dx", "dy"]].to_numpy(), d - s)
        assert np.allclose(pairs["umap_distance"], np.hypot(pairs["dx"], pairs["dy"]))
        assert pairs["cosine_distance"].between(0, 2).all()

        # metrics agree with the pairs
        m = metrics.set_index("pair_type")
        assert m.loc[list(shifts.PAIR_TYPES), "n"].tolist() == [3, 5, 3]
        for ptype, g in pairs.groupby("pair_type"):
            assert m.loc[ptype, "p50"] == pytest.approx(np.percentile(g["umap_distance"], 50))
            assert m.loc[ptype, "cos_p50"] == pytest.approx(np.median(g["cosine_distance"]))
        assert m["probe_auc"].isna().all()  # < 10 per class in this tiny corpus
        assert m["centroid_distance"].notna().all()

        # column types are the public contract
        types = dict(con.sql("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'shift_pairs'").fetchall())
        assert types["cosine_distance"] == "DOUBLE" and types["src_turn"] == "INTEGER"
        types = dict(con.sql("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'map_points'").fetchall())
        assert types == {"item_id": "VARCHAR", "kind": "VARCHAR", "label": "VARCHAR",
                         "conv_id": "VARCHAR", "turn": "INTEGER", "thought_id": "INTEGER",
                         "x": "DOUBLE", "y": "DOUBLE"}

        # unchanged inputs: skipped; force: recomputed, same result
        again = run_stage(con)
        assert again == {"skipped": True, "summary": out["summary"]}
        forced = run_stage(con, force=True)
        assert forced["skipped"] is False and forced["input_hash"] == out["input_hash"]
        assert con.sql("SELECT * FROM shift_pairs").df().equals(pairs)
    finally:
        con.close()


def test_stage_reruns_when_embeddings_change(shifts_db: Path):
    con = duckdb.connect(str(shifts_db))
    first = run_stage(con)
    con.close()
    write_embeddings(shifts_db, drop_text="Thanks!")  # that message now has no vector
    con = duckdb.connect(str(shifts_db))
    try:
        second = run_stage(con)
        assert second["skipped"] is False and second["input_hash"] != first["input_hash"]
        pts = con.sql("SELECT item_id FROM map_points").df()
        assert "m:user1_task1_conversation1:5" not in set(pts["item_id"])
        counts = dict(con.sql("SELECT pair_type, count(*) FROM shift_pairs GROUP BY 1")
                      .fetchall())
        # conversation 1 loses its 3 -> 5 consecutive pair; its reaction on turn 4 has no
        # embedded next user message any more
        assert counts == {"consecutive": 2, "message_reason": 5, "reaction_next": 2}
    finally:
        con.close()


def test_stage_tiny_inputs_fall_back(ingested_db: Path, tmp_path: Path):
    db = tmp_path / "tiny.duckdb"
    db.write_bytes(ingested_db.read_bytes())
    write_embeddings(db)
    con = duckdb.connect(str(db))
    try:
        # keep 3 items: PCA
        con.execute("DELETE FROM embedded_items WHERE item_id NOT IN "
                    "('m:user2_task1_conversation1:1', 'm:user2_task1_conversation1:3', 't:8')")
        out = run_stage(con, umap_factory=None)  # the real UMAP would not even be imported
        assert out["params"]["map_method"] == "pca"
        assert scalar(con, "SELECT count(*) FROM map_points") == 3
        assert scalar(con, "SELECT count(*) FROM shift_pairs") == 2
        # one item: zeros
        con.execute("DELETE FROM embedded_items WHERE item_id <> 't:8'")
        out = run_stage(con, umap_factory=None)
        assert out["params"]["map_method"] == "zeros"
        assert con.sql("SELECT x, y FROM map_points").fetchall() == [(0.0, 0.0)]
        # nothing: empty tables, metrics rows with n = 0
        con.execute("DELETE FROM embedded_items")
        out = run_stage(con, umap_factory=None)
        assert scalar(con, "SELECT count(*) FROM map_points") == 0
        assert scalar(con, "SELECT list(n) FROM shift_metrics") == [0, 0, 0]
    finally:
        con.close()


def test_stage_needs_embed_tables(ingested_db: Path, tmp_path: Path):
    db = tmp_path / "noemb.duckdb"
    db.write_bytes(ingested_db.read_bytes())
    con = duckdb.connect(str(db))
    try:
        with pytest.raises(RuntimeError, match="embed stage"):
            run_stage(con)
    finally:
        con.close()
