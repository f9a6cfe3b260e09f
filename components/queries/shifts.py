"""Queries of the "Semantic shifts" page.

Reads the shifts stage's tables (``map_points``, ``shift_pairs``, ``shift_metrics``) and,
for metrics of a filtered subset, the embed stage's vectors (``embedded_items`` +
``embeddings``).

What goes to the browser is bounded: the centred-gap panels carry at most
``MAX_PANEL_POINTS`` pairs each (a seeded sample, said on the chart) and text snippets
only when a panel has at most ``SNIPPET_MAX_PAIRS`` pairs; the global map at most
``MAX_MAP_POINTS`` points (stratified by kind, fixed seed). Full texts are fetched by id
for the points a user clicks or selects.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
import polars as pl

from components import links, published
from components.filters import Filters
from components.queries.conversations import clean_keyword, like_pattern
from components.queries.core import frame, tables
from components.vocabulary import PAIR_TITLES, PAIR_TYPES
from precompute import shifts as sh

COLOR_BY = {"kind": "Kind", "label": "Thought label", "domain": "Domain", "model": "Model",
            "cluster": "Cluster (HDBSCAN)", "outlier": "Outliers (GLOSH)"}
#: An item is an outlier when its GLOSH score is in the top share of its cluster space.
OUTLIER_TOP = 0.10
OUTLIER_NAMES = {"outlier": f"outlier (top {OUTLIER_TOP:.0%} GLOSH score in its space)",
                 "clustered": "in a cluster", "noise": "noise (no cluster)"}
#: The kinds of item on the map, in display order.
MAP_KINDS = ("user_message", "reason", "reaction")

SNIPPET_MAX_PAIRS = 3000   # per panel: above this, hover shows no text (click for it)
SNIPPET_CHARS = 140
MAX_PANEL_POINTS = 8000    # per panel, drawn (rings always use every pair)
MAX_MAP_POINTS = 30000
SEED = 0
METRICS_MAX_PER_SIDE = 1000
MAX_LISTED = 500           # selected map items listed with their texts

SHIFT_TABLES = ("map_points", "shift_pairs", "shift_metrics")


# --------------------------------------------------------------------------- availability

def availability(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """Which analytics the DB holds: shifts (all three tables), vectors, clusters."""
    t = tables(con)
    return {"shifts": all(x in t for x in SHIFT_TABLES),
            "vectors": {"embedded_items", "embeddings"} <= t,
            "clusters": {"clusters", "cluster_members", "embedded_items"} <= t}


# --------------------------------------------------------------------------- pure helpers

def stratified_quota(counts: Mapping[str, int], max_points: int) -> dict[str, int]:
    """How many of each group to keep so that the total is at most ``max_points``.

    Proportional (largest remainder), but every non-empty group keeps at least one point
    (when ``max_points`` allows), so no kind disappears from a downsampled map.
    """
    counts = {k: int(v) for k, v in counts.items() if int(v) > 0}
    total = sum(counts.values())
    if total <= max_points:
        return dict(counts)
    if max_points <= 0:
        return {k: 0 for k in counts}
    raw = {k: max_points * v / total for k, v in counts.items()}
    quota = {k: min(counts[k], int(math.floor(r))) for k, r in raw.items()}
    for k in counts:  # keep every group
        if quota[k] == 0 and sum(1 for v in quota.values() if v > 0) < max_points:
            quota[k] = 1
    left = max_points - sum(quota.values())
    for k in sorted(counts, key=lambda k: raw[k] - math.floor(raw[k]), reverse=True):
        if left <= 0:
            break
        if quota[k] < counts[k]:
            quota[k] += 1
            left -= 1
    while sum(quota.values()) > max_points:  # the minimum of 1 overshot: trim the largest
        k = max(quota, key=quota.get)
        quota[k] -= 1
    return quota


def stratified_sample(df: pl.DataFrame, by: str, max_points: int,
                      seed: int = SEED) -> pl.DataFrame:
    """At most ``max_points`` rows of ``df``, stratified by column ``by`` (every group
    kept), drawn with a fixed seed; the original row order is kept."""
    if df.height <= max_points:
        return df
    codes = np.asarray(df[by].fill_null("(none)").to_list(), dtype=object)
    groups, counts = np.unique(codes, return_counts=True)
    quota = stratified_quota(dict(zip(groups.tolist(), counts.tolist())), max_points)
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    for group in sorted(quota):
        idx = np.flatnonzero(codes == group)
        k = quota[group]
        keep.append(idx if k >= len(idx) else rng.choice(idx, size=k, replace=False))
    rows = np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)
    return df[rows]


def snippet(text: Any, limit: int = SNIPPET_CHARS, width: int = 60) -> str:
    """A short, HTML-escaped, line-wrapped excerpt for a plotly hover label."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return "—"
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[:limit - 1].rstrip() + "…"
    lines, line = [], ""
    for word in s.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "<br>".join(html.escape(x) for x in lines)


RING_SCHEMA = {"pair_type": pl.Utf8, "n": pl.Int64, "p25": pl.Float64, "p50": pl.Float64,
               "p75": pl.Float64}


def rings_by_type(pairs: pl.DataFrame) -> pl.DataFrame:
    """p25/p50/p75 of ``umap_distance`` per pair type (all three types, NaN when none)."""
    rows = []
    for ptype in PAIR_TYPES:
        d = pairs.filter(pl.col("pair_type") == ptype)["umap_distance"].to_numpy()
        d = np.asarray(d, dtype=float)
        rows.append({"pair_type": ptype, "n": int(len(d)), **sh.percentile_rings(d)})
    return pl.DataFrame(rows, schema=RING_SCHEMA)


def label_distribution(items: pl.DataFrame) -> pl.DataFrame:
    """Counts and shares of (kind, label) among selected map items; user messages (no
    label) count as kind 'user_message', label '(user message)'."""
    schema = {"kind": pl.Utf8, "label": pl.Utf8, "n": pl.Int64, "share": pl.Float64}
    if items.is_empty():
        return pl.DataFrame(schema=schema)
    out = (items.with_columns(pl.col("label").fill_null("(user message)"))
           .group_by(["kind", "label"]).agg(n=pl.len().cast(pl.Int64))
           .sort(["n", "label"], descending=[True, False]))
    return out.with_columns(share=pl.col("n") / pl.col("n").sum()).select(list(schema))


def _first(customdata: Any) -> Any:
    """Element 0 of an event point's customdata: a list, or (for a row of a binary typed
    array, as plotly.js sends it) a dict like ``{"0": 12.0, "1": 3.0}``."""
    if isinstance(customdata, Mapping):
        return customdata.get("0", customdata.get(0))
    if isinstance(customdata, (list, tuple)) and customdata:
        return customdata[0]
    return None


def _row(point: Mapping[str, Any], n: int, n_hits: int = 0) -> int | None:
    """The point's row in ``points`` followed by ``hits`` (`picked_items`), or None."""
    value = _first(point.get("customdata"))
    try:
        row = int(value)
    except (TypeError, ValueError):
        return None
    if row < 0:
        return n + (-1 - row) if -1 - row < n_hits else None
    return row if row < n else None


def picked_pair(points: pl.DataFrame, selected: Sequence[Mapping[str, Any]]
                ) -> tuple[str, str, str] | None:
    """(pair_type, src_id, dst_id) of the first clicked panel point, or None.

    A point's ``customdata[0]`` is its row in ``points`` (see `figures.shifts.shift_panels`);
    the event's x/y must match that row's dx/dy, so a stale selection (the data changed
    since the click) picks nothing.
    """
    for p in selected or []:
        row = _row(p, points.height)
        if row is None:
            continue
        r = points.row(row, named=True)
        x, y = p.get("x"), p.get("y")
        if x is not None and y is not None and not (
                math.isclose(float(x), float(r["dx"]), rel_tol=1e-6, abs_tol=1e-9)
                and math.isclose(float(y), float(r["dy"]), rel_tol=1e-6, abs_tol=1e-9)):
            continue
        return str(r["pair_type"]), str(r["src_id"]), str(r["dst_id"])
    return None


def picked_items(points: pl.DataFrame, selected: Sequence[Mapping[str, Any]],
                 hits: pl.DataFrame | None = None) -> tuple[str, ...]:
    """Item ids of the selected global-map points (``customdata[0]`` is the row in
    ``points``, or ``-1 - k`` for row k of ``hits``, the highlighted search hits; see
    `figures.shifts.global_map`); points whose x/y do not match their row (a stale
    selection) and the arrow markers (no customdata) are skipped."""
    out: dict[str, None] = {}
    hits = hits if hits is not None else points.clear()
    n, n_hits = points.height, hits.height
    if not n and not n_hits:
        return ()
    xs = np.concatenate([points["x"].to_numpy(), hits["x"].to_numpy()]).astype(np.float32)
    ys = np.concatenate([points["y"].to_numpy(), hits["y"].to_numpy()]).astype(np.float32)
    ids = points["item_id"].to_list() + hits["item_id"].to_list()
    for p in selected or []:
        row = _row(p, n, n_hits)
        if row is None:
            continue
        x, y = p.get("x"), p.get("y")
        if x is not None and y is not None and (
                abs(float(x) - float(xs[row])) > 1e-4 * max(1.0, abs(float(xs[row])))
                or abs(float(y) - float(ys[row])) > 1e-4 * max(1.0, abs(float(ys[row])))):
            continue
        out[str(ids[row])] = None
    return tuple(out)


def selection_labels(points: pl.DataFrame, item_ids: Sequence[str]) -> pl.DataFrame:
    """`label_distribution` of the selected map items (all of them, not only those
    listed)."""
    return label_distribution(points.filter(pl.col("item_id").is_in(list(item_ids))))


def selection_table(texts: pl.DataFrame, names: Mapping[str, str],
                    params: Mapping[str, Sequence[str] | str]) -> pl.DataFrame:
    """Display rows for selected items (`item_texts` columns): kind, label (display
    names), the first 300 characters of the text, turn and a link to the conversation."""
    return pl.DataFrame({
        "kind": [names.get(k, k) for k in texts["kind"].to_list()],
        "label": [names.get(v, v) if isinstance(v, str) else "" for v in texts["label"].to_list()],
        "text": [(t or "")[:300] for t in texts["text"].to_list()],
        "turn": texts["turn"].cast(pl.Int64),
        "link": [links.conversation_url(params, c, t)
                 for c, t in zip(texts["conv_id"].to_list(), texts["turn"].to_list())]},
        schema={"kind": pl.Utf8, "label": pl.Utf8, "text": pl.Utf8, "turn": pl.Int64,
                "link": pl.Utf8})


def metrics_with_published(metrics: pl.DataFrame) -> pl.DataFrame:
    """The metrics table for display: one row per pair type, published percentiles beside."""
    by_type = {r["pair_type"]: r for r in metrics.iter_rows(named=True)}

    def num(r: Mapping, key: str) -> float | None:
        v = r.get(key)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
    rows = []
    for ptype in PAIR_TYPES:
        r = by_type.get(ptype, {})
        pub = published.SHIFT_PERCENTILES[ptype]
        rows.append({"pair type": PAIR_TITLES[ptype], "n": int(r.get("n") or 0),
                     "p25": num(r, "p25"), "p50": num(r, "p50"), "p75": num(r, "p75"),
                     "centroid distance": num(r, "centroid_distance"),
                     "MMD²": num(r, "mmd"), "probe AUC": num(r, "probe_auc"),
                     "published p25": pub[0], "published p50": pub[1],
                     "published p75": pub[2], "note": r.get("note")})
    return pl.DataFrame(rows, schema={
        "pair type": pl.Utf8, "n": pl.Int64, "p25": pl.Float64, "p50": pl.Float64,
        "p75": pl.Float64, "centroid distance": pl.Float64, "MMD²": pl.Float64,
        "probe AUC": pl.Float64, "published p25": pl.Float64, "published p50": pl.Float64,
        "published p75": pl.Float64, "note": pl.Utf8})


#: The metrics table's columns in plain words (shown under the table).
METRIC_WORDS = {
    "p25 / p50 / p75": "the 25th, 50th and 75th percentile of the **map distance**: how far "
                       "each destination lands from its source on the shared 2-D map (UMAP "
                       "units, comparable only within this map).",
    "centroid distance": "the cosine distance between the **average** source embedding and "
                         "the average destination embedding: whether the set as a whole "
                         "moves, not single pairs.",
    "MMD²": "the maximum mean discrepancy between the two sets of embeddings (an RBF kernel "
            "two-sample statistic): 0 when sources and destinations come from the same "
            "distribution. Its unbiased estimate leaves out each set's self-similarities, "
            "so it scatters around 0 when the sets do not differ and can come out slightly "
            "negative: read a value at or below 0 as \"no detectable difference\".",
    "probe AUC": "how well a linear classifier, tested on conversations it was not trained "
                 "on, tells sources from destinations: 0.5 = no better than chance, 1 = "
                 "always right.",
}
#: A missing metric in the display table.
NOT_AVAILABLE = "—"


def metrics_display(table: pl.DataFrame) -> pl.DataFrame:
    """`metrics_with_published` as text for display: numbers rounded (MMD² to 4
    decimals), every missing value a dash instead of "None", an empty note blank."""
    def fmt(v: object, digits: int) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return NOT_AVAILABLE
        return f"{float(v):.{digits}f}"
    out = {"pair type": table["pair type"].to_list(),
           "n (pairs)": [f"{int(v):,}" for v in table["n"].to_list()]}
    for col in table.columns:
        if col in ("pair type", "n", "note"):
            continue
        digits = 4 if col == "MMD²" else 2
        out[col] = [fmt(v, digits) for v in table[col].to_list()]
    out["note"] = [v or "" for v in table["note"].to_list()]
    return pl.DataFrame(out)


def pending_metrics(rings: pl.DataFrame) -> pl.DataFrame:
    """The metrics table while the set-level metrics of a new subset are computed: the
    subset's percentiles (``rings``) with a note saying so."""
    return rings.with_columns(note=pl.lit("computing centroid distance, MMD² and probe AUC…"))


def ordering(metrics: pl.DataFrame, column: str = "p50") -> str:
    """'consecutive < message_reason < reaction_next'-style ordering of a metric."""
    df = metrics.filter(pl.col(column).is_not_null() & pl.col(column).is_not_nan()
                        ).sort(column)
    return " < ".join(PAIR_TITLES[p] for p in df["pair_type"].to_list())


# --------------------------------------------------------------------------- texts

ITEM_COLUMNS = ["item_id", "kind", "label", "conv_id", "turn", "text", "stage", "model_name"]


def item_texts(con: duckdb.DuckDBPyConnection, item_ids: tuple[str, ...]) -> pl.DataFrame:
    """Full texts and context of map items by id, in one query.

    Columns: item_id, kind, label, conv_id, turn, text, stage, model_name (the order of
    ``item_ids``; unknown ids are left out).
    """
    msg = [i for i in item_ids if i.startswith("m:")]
    th = [int(i[2:]) for i in item_ids if i.startswith("t:") and i[2:].isdigit()]
    df = frame(con, """
        SELECT 'm:' || m.conv_id || ':' || m.turn AS item_id, m.role || '_message' AS kind,
               NULL::VARCHAR AS label, m.conv_id, m.turn, m.content AS text, m.stage,
               c.model_name
        FROM messages m JOIN conversations c USING (conv_id)
        WHERE 'm:' || m.conv_id || ':' || m.turn IN (SELECT unnest(?::VARCHAR[]))
        UNION ALL
        SELECT 't:' || t.thought_id, t.kind, t.label, t.conv_id, t.turn, t.content, t.stage,
               c.model_name
        FROM thoughts t JOIN conversations c USING (conv_id)
        WHERE t.thought_id IN (SELECT unnest(?::INTEGER[]))""", [msg, th])
    order = {i: k for k, i in enumerate(item_ids)}
    return (df.with_columns(_o=pl.Series([order[i] for i in df["item_id"].to_list()],
                                         dtype=pl.Int64))
            .sort("_o").select(ITEM_COLUMNS))


def _snippets(con: duckdb.DuckDBPyConnection, item_ids: Sequence[str]) -> dict[str, str]:
    if not len(item_ids):
        return {}
    msg = [i for i in item_ids if i.startswith("m:")]
    th = [int(i[2:]) for i in item_ids if i.startswith("t:") and i[2:].isdigit()]
    rows = con.execute(f"""
        SELECT 'm:' || conv_id || ':' || turn, left(content, {SNIPPET_CHARS + 20})
        FROM messages WHERE 'm:' || conv_id || ':' || turn IN (SELECT unnest(?::VARCHAR[]))
        UNION ALL
        SELECT 't:' || thought_id, left(content, {SNIPPET_CHARS + 20}) FROM thoughts
        WHERE thought_id IN (SELECT unnest(?::INTEGER[]))""", [msg, th]).fetchall()
    return {k: snippet(v) for k, v in rows}


# --------------------------------------------------------------------------- pairs

def _filtered_pairs(con: duckdb.DuckDBPyConnection, filters: Filters,
                    columns: str) -> pl.DataFrame:
    where, params = filters.where("c")
    return frame(con, f"""
        SELECT {columns} FROM shift_pairs p JOIN conversations c USING (conv_id)
        WHERE {where}
        ORDER BY p.pair_type, p.conv_id, p.src_turn, p.dst_turn, p.src_id, p.dst_id""",
                 params)


PANEL_COLUMNS = ("p.pair_type, p.conv_id, p.src_id, p.dst_id, p.src_turn::BIGINT AS src_turn, "
                 "p.dst_turn::BIGINT AS dst_turn, p.src_label, p.dst_label, p.dx, p.dy, "
                 "p.umap_distance")


def shift_panels(con: duckdb.DuckDBPyConnection, filters: Filters,
                 max_points: int = MAX_PANEL_POINTS,
                 snippet_max: int = SNIPPET_MAX_PAIRS) -> dict[str, Any]:
    """The centred-gap panels' data for the filtered conversations.

    Returns:
        ``{"points": frame, "rings": frame, "n": {type: pairs}, "shown": {type: drawn},
        "texts": {type: bool}}``. ``points`` has pair_type, conv_id, src_id, dst_id,
        src_turn, dst_turn, src_label, dst_label, dx, dy, umap_distance, src_text and
        dst_text (escaped hover snippets for panels with at most ``snippet_max`` pairs,
        else null). Rings use every pair of the subset.
    """
    pairs = _filtered_pairs(con, filters, PANEL_COLUMNS)
    rings = rings_by_type(pairs)
    parts, n, shown, texts = [], {}, {}, {}
    for t in PAIR_TYPES:
        sub = pairs.filter(pl.col("pair_type") == t)
        n[t] = sub.height
        if sub.height > max_points:
            rng = np.random.default_rng(SEED)
            sub = sub[np.sort(rng.choice(sub.height, size=max_points, replace=False))]
        shown[t] = sub.height
        texts[t] = 0 < n[t] <= snippet_max
        parts.append(sub.with_columns(_texts=pl.lit(texts[t])))
    points = pl.concat(parts)
    want = points.filter(pl.col("_texts"))
    snips = _snippets(con, list(dict.fromkeys(want["src_id"].to_list()
                                              + want["dst_id"].to_list())))
    flags = points["_texts"].to_list()
    points = points.with_columns(
        src_text=pl.Series([snips.get(i) if f else None
                            for i, f in zip(points["src_id"].to_list(), flags)], dtype=pl.Utf8),
        dst_text=pl.Series([snips.get(i) if f else None
                            for i, f in zip(points["dst_id"].to_list(), flags)], dtype=pl.Utf8),
    ).drop("_texts")
    return {"points": points, "rings": rings, "n": n, "shown": shown, "texts": texts}


def pair_detail(con: duckdb.DuckDBPyConnection, pair_type: str, src_id: str,
                dst_id: str) -> dict[str, Any] | None:
    """One pair with both full texts (for the clicked point)."""
    row = frame(con, """
        SELECT pair_type, conv_id, src_id, dst_id, src_turn, dst_turn, src_label, dst_label,
               cosine_distance, umap_distance
        FROM shift_pairs WHERE pair_type = ? AND src_id = ? AND dst_id = ?""",
                [pair_type, src_id, dst_id])
    if row.is_empty():
        return None
    rec = row.row(0, named=True)
    texts = {r["item_id"]: r for r in item_texts(con, (src_id, dst_id)).iter_rows(named=True)}
    for side, item in (("src", src_id), ("dst", dst_id)):
        rec[f"{side}_text"] = texts.get(item, {}).get("text")
        rec[f"{side}_kind"] = texts.get(item, {}).get("kind")
    return rec


# --------------------------------------------------------------------------- metrics

def _vectors(con: duckdb.DuckDBPyConnection, item_ids: Sequence[str]) -> np.ndarray:
    """float32 vectors of ``item_ids`` in that order (one Arrow buffer, no per-row lists)."""
    ids = list(item_ids)
    tab = con.sql("""
        SELECT w.i, e.vector
        FROM (SELECT unnest(?::VARCHAR[]) AS item_id, generate_subscripts(?::VARCHAR[], 1) AS i) w
        JOIN embedded_items it ON it.item_id = w.item_id
        JOIN embeddings e ON e.text_hash = it.text_hash ORDER BY w.i""",
                  params=[ids, ids]).to_arrow_table()
    col = tab.column("vector").combine_chunks()
    if tab.num_rows != len(ids):
        raise ValueError(f"{len(ids) - tab.num_rows} pair endpoints have no vector")
    dim = col.type.list_size
    if not len(col):
        return np.zeros((0, dim), dtype=np.float32)
    return col.flatten().to_numpy().reshape(len(col), dim).astype(np.float32, copy=False)


def metrics(con: duckdb.DuckDBPyConnection, filters: Filters,
            max_per_side: int = METRICS_MAX_PER_SIDE) -> dict[str, Any]:
    """Metrics per pair type for the filtered subset.

    Without filters: the stored ``shift_metrics`` (source 'stored'). With filters: recomputed
    with `precompute.shifts.compute_metrics` on the filtered ``shift_pairs`` and their
    vectors, each side subsampled to ``max_per_side`` (source 'recomputed').
    """
    if filters.is_empty:
        return {"table": frame(con, "SELECT * FROM shift_metrics"), "source": "stored"}
    pairs = _filtered_pairs(con, filters, "p.pair_type, p.conv_id, p.src_id, p.dst_id, "
                            "p.umap_distance, p.cosine_distance")
    ids = list(dict.fromkeys(pairs["src_id"].to_list() + pairs["dst_id"].to_list()))
    pdf = pairs.to_pandas()  # precompute's metrics take pandas frames
    if not availability(con)["vectors"]:
        table = pl.from_pandas(sh.compute_metrics(pdf.iloc[:0], np.zeros((0, 1), np.float32),
                                                  []))
        rings = {r["pair_type"]: r for r in rings_by_type(pairs).iter_rows(named=True)}
        table = table.with_columns([
            pl.Series(col, [rings[p][col] for p in table["pair_type"].to_list()],
                      dtype=table.schema[col]) for col in ("n", "p25", "p50", "p75")]
        ).with_columns(note=pl.lit("no vectors in this DB: set-level metrics unavailable"))
        return {"table": table, "source": "recomputed"}
    matrix = _vectors(con, ids)
    table = sh.compute_metrics(pdf, matrix, ids, seed=sh.SEED, max_per_side=max_per_side)
    return {"table": pl.from_pandas(table), "source": "recomputed"}


# --------------------------------------------------------------------------- global map

def color_options(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The colour-by choices this DB supports (cluster only with the clusters tables,
    outliers only when they hold GLOSH scores)."""
    avail = availability(con)
    scored = avail["clusters"] and "outlier_score" in {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = "
        "'cluster_members'").fetchall()}
    return tuple(k for k in COLOR_BY if (k != "cluster" or avail["clusters"])
                 and (k != "outlier" or scored))


def map_points(con: duckdb.DuckDBPyConnection, filters: Filters, color_by: str = "kind",
               max_points: int = MAX_MAP_POINTS) -> dict[str, Any]:
    """Map points of the filtered conversations with a ``color`` column.

    Returns ``{"points", "total", "shown", "by_kind"}``; ``points`` (item_id, kind, label,
    conv_id, turn, x, y, color) is a stratified (by kind), seeded sample of at most
    ``max_points`` rows when the subset is larger. ``color`` for 'cluster': the item's
    HDBSCAN cluster in its space ("reason · name"); a user message takes its
    conversation's task cluster ("task · name").
    """
    if color_by not in COLOR_BY:
        raise ValueError(f"unknown color_by {color_by!r}")
    where, params = filters.where("c")
    color_sql = {"kind": "m.kind", "label": "coalesce(m.label, 'user_message')",
                 "domain": "coalesce(c.domain, '(no domain)')",
                 "model": "c.model_name", "cluster": "cl.space || ' · ' || cl.name",
                 "outlier": (f"CASE WHEN cm.outlier_score >= oq.q THEN "
                             f"'{OUTLIER_NAMES['outlier']}' WHEN cm.cluster_id = -1 THEN "
                             f"'{OUTLIER_NAMES['noise']}' WHEN cm.cluster_id IS NOT NULL "
                             f"THEN '{OUTLIER_NAMES['clustered']}' END")}[color_by]
    join = ""
    if color_by in ("cluster", "outlier"):
        join = """
        LEFT JOIN cluster_members cm
          ON cm.space = CASE m.kind WHEN 'user_message' THEN 'task' ELSE m.kind END
         AND cm.item_id = CASE m.kind WHEN 'user_message' THEN 'c:' || m.conv_id
                                      ELSE m.item_id END
        LEFT JOIN clusters cl ON cl.space = cm.space AND cl.cluster_id = cm.cluster_id"""
    if color_by == "outlier":
        join += f"""
        LEFT JOIN (SELECT space, quantile_cont(outlier_score, {1 - OUTLIER_TOP}) AS q
                   FROM cluster_members GROUP BY space) oq ON oq.space = cm.space"""
    df = frame(con, f"""
        SELECT m.item_id, m.kind, m.label, m.conv_id, m.turn::BIGINT AS turn, m.x, m.y,
               coalesce({color_sql}, '(none)') AS color
        FROM map_points m JOIN conversations c USING (conv_id){join}
        WHERE {where} ORDER BY m.item_id""", params)
    by_kind = dict(df.group_by("kind").len().iter_rows())
    sample = stratified_sample(df, "kind", max_points, SEED)
    return {"points": sample, "total": df.height, "shown": sample.height,
            "by_kind": {k: int(v) for k, v in by_kind.items()}}


#: At most this many search hits are highlighted on the global map (the first by item id;
#: the caption says when more matched).
MAX_HIGHLIGHT = 5000


def keyword_map_hits(con: duckdb.DuckDBPyConnection, filters: Filters,
                     keyword: str) -> dict[str, Any]:
    """Map items of the filtered conversations whose text contains ``keyword``
    (case-insensitive substring, the Conversations page's keyword match): user messages by
    their content, reasons and reactions by theirs.

    Returns ``{"item_ids": tuple (at most MAX_HIGHLIGHT, by item id), "total": int}``.
    """
    keyword = clean_keyword(keyword)
    if not keyword:
        return {"item_ids": (), "total": 0}
    where, params = filters.where("c")
    pattern = like_pattern(keyword)
    rows = con.execute(f"""
        SELECT p.item_id FROM map_points p JOIN conversations c USING (conv_id)
        LEFT JOIN messages m ON p.kind = 'user_message' AND m.conv_id = p.conv_id
                             AND m.turn = p.turn
        LEFT JOIN thoughts t ON p.kind <> 'user_message' AND t.thought_id = p.thought_id
        WHERE coalesce(m.content, t.content) ILIKE ? ESCAPE '\\' AND {where}
        ORDER BY p.item_id""", [pattern, *params]).fetchall()
    ids = tuple(r[0] for r in rows)
    return {"item_ids": ids[:MAX_HIGHLIGHT], "total": len(ids)}


def map_positions(con: duckdb.DuckDBPyConnection, item_ids: tuple[str, ...]) -> pl.DataFrame:
    """Map positions of items by id (those without a map point are left out), in the
    order of ``item_ids``. Columns: item_id, kind, label, conv_id, turn, x, y, rank (the
    position in ``item_ids``, 0 first)."""
    order = pl.DataFrame({"item_id": list(item_ids),
                          "rank": list(range(len(item_ids)))},
                         schema={"item_id": pl.Utf8, "rank": pl.Int64})
    df = frame(con, """
        SELECT item_id, kind, label, conv_id, turn::BIGINT AS turn, x, y FROM map_points
        WHERE item_id IN (SELECT unnest(?::VARCHAR[]))""", [list(item_ids)])
    return df.join(order, on="item_id").sort("rank")


def map_conversations(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[str, ...]:
    """Conversations in the filter that have message -> reason pairs (for the arrows)."""
    where, params = filters.where("c")
    return tuple(r[0] for r in con.execute(f"""
        SELECT DISTINCT p.conv_id FROM shift_pairs p JOIN conversations c USING (conv_id)
        WHERE p.pair_type = 'message_reason' AND {where} ORDER BY 1""", params).fetchall())


def map_conversation_set(con: duckdb.DuckDBPyConnection, filters: Filters) -> frozenset:
    """`map_conversations` as a set (for checking a typed conversation id)."""
    return frozenset(map_conversations(con, filters))


def conversation_arrows(con: duckdb.DuckDBPyConnection, conv_id: str) -> pl.DataFrame:
    """Map positions of each user message -> its reason in one conversation.

    Columns: src_id, dst_id, turn, label, x0, y0, x1, y1.
    """
    return frame(con, """
        SELECT p.src_id, p.dst_id, p.src_turn AS turn, p.dst_label AS label,
               s.x AS x0, s.y AS y0, d.x AS x1, d.y AS y1
        FROM shift_pairs p JOIN map_points s ON s.item_id = p.src_id
        JOIN map_points d ON d.item_id = p.dst_id
        WHERE p.pair_type = 'message_reason' AND p.conv_id = ?
        ORDER BY p.src_turn, p.dst_id""", [conv_id])
