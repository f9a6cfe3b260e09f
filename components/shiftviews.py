"""Queries and computations behind the "Semantic shifts" page (no streamlit).

Reads the shifts stage's tables (``map_points``, ``shift_pairs``, ``shift_metrics``) and,
for metrics of a filtered subset, the embed stage's vectors (``embedded_items`` +
``embeddings``). Every function takes a cursor and hashable arguments (a `Filters`
included), so the app can cache it per DB file; user values are SQL parameters.

What goes to the browser is bounded: the centred-gap panels carry at most
``MAX_PANEL_POINTS`` pairs each (a seeded sample, said on the chart) and text snippets
only when a panel has at most ``SNIPPET_MAX_PAIRS`` pairs; the global map at most
``MAX_MAP_POINTS`` points (stratified by kind, fixed seed). Full texts are fetched by id
for the points a user clicks or selects.
"""

from __future__ import annotations

import html
import math
from typing import Any, Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd

from components.filters import Filters
from precompute import shifts as sh

PAIR_TYPES: tuple[str, ...] = sh.PAIR_TYPES
PAIR_TITLES = {"consecutive": "Consecutive user messages",
               "message_reason": "Message → its reason",
               "reaction_next": "Reaction → next message"}
#: Published percentiles of the map distance (Jin et al. 2026, Fig. 5).
PUBLISHED = {"consecutive": (0.38, 1.96, 6.89), "message_reason": (0.77, 3.71, 6.94),
             "reaction_next": (3.93, 6.62, 9.75)}
PUBLISHED_NOTE = ("published (text-embedding-3-large, their UMAP; compare ordering, "
                  "not values)")
KIND_TITLES = {"user_message": "User message", "reason": "Reason", "reaction": "Reaction"}
COLOR_BY = {"kind": "Kind", "label": "Thought label", "domain": "Domain", "model": "Model",
            "cluster": "Cluster (HDBSCAN)"}

SNIPPET_MAX_PAIRS = 3000   # per panel: above this, hover shows no text (click for it)
SNIPPET_CHARS = 140
MAX_PANEL_POINTS = 8000    # per panel, drawn (rings always use every pair)
MAX_MAP_POINTS = 30000
SEED = 0
METRICS_MAX_PER_SIDE = 1000
MAX_LISTED = 500           # selected map items listed with their texts

SHIFT_TABLES = ("map_points", "shift_pairs", "shift_metrics")


# --------------------------------------------------------------------------- availability

def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}


def availability(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """Which analytics the DB holds: shifts (all three tables), vectors, clusters."""
    t = _tables(con)
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


def stratified_sample(df: pd.DataFrame, by: str, max_points: int,
                      seed: int = SEED) -> pd.DataFrame:
    """At most ``max_points`` rows of ``df``, stratified by column ``by`` (every group
    kept), drawn with a fixed seed; the original row order is kept."""
    if len(df) <= max_points:
        return df
    counts = df[by].fillna("(none)").value_counts()
    quota = stratified_quota(counts.to_dict(), max_points)
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    codes = df[by].fillna("(none)").to_numpy()
    for group in sorted(quota):
        idx = np.flatnonzero(codes == group)
        k = quota[group]
        keep.append(idx if k >= len(idx) else rng.choice(idx, size=k, replace=False))
    rows = np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=int)
    return df.iloc[rows]


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


def rings_by_type(pairs: pd.DataFrame) -> pd.DataFrame:
    """p25/p50/p75 of ``umap_distance`` per pair type (all three types, NaN when none)."""
    rows = []
    for ptype in PAIR_TYPES:
        d = pairs.loc[pairs["pair_type"] == ptype, "umap_distance"].to_numpy(dtype=float)
        rows.append({"pair_type": ptype, "n": int(len(d)), **sh.percentile_rings(d)})
    return pd.DataFrame(rows, columns=["pair_type", "n", "p25", "p50", "p75"])


def label_distribution(items: pd.DataFrame) -> pd.DataFrame:
    """Counts and shares of (kind, label) among selected map items; user messages (no
    label) count as kind 'user_message', label '(user message)'."""
    if items.empty:
        return pd.DataFrame(columns=["kind", "label", "n", "share"])
    df = items.assign(label=items["label"].fillna("(user message)"))
    out = (df.groupby(["kind", "label"], dropna=False).size().rename("n").reset_index()
           .sort_values(["n", "label"], ascending=[False, True]).reset_index(drop=True))
    out["share"] = out["n"] / out["n"].sum()
    return out


def _first(customdata: Any) -> Any:
    """Element 0 of an event point's customdata: a list, or (for a row of a binary typed
    array, as plotly.js sends it) a dict like ``{"0": 12.0, "1": 3.0}``."""
    if isinstance(customdata, Mapping):
        return customdata.get("0", customdata.get(0))
    if isinstance(customdata, (list, tuple)) and customdata:
        return customdata[0]
    return None


def _row(point: Mapping[str, Any], n: int) -> int | None:
    value = _first(point.get("customdata"))
    try:
        row = int(value)
    except (TypeError, ValueError):
        return None
    return row if 0 <= row < n else None


def picked_pair(points: pd.DataFrame, selected: Sequence[Mapping[str, Any]]
                ) -> tuple[str, str, str] | None:
    """(pair_type, src_id, dst_id) of the first clicked panel point, or None.

    A point's ``customdata[0]`` is its row in ``points`` (see `map_figures.shift_panels`);
    the event's x/y must match that row's dx/dy, so a stale selection (the data changed
    since the click) picks nothing.
    """
    for p in selected or []:
        row = _row(p, len(points))
        if row is None:
            continue
        r = points.iloc[row]
        x, y = p.get("x"), p.get("y")
        if x is not None and y is not None and not (
                math.isclose(float(x), float(r["dx"]), rel_tol=1e-6, abs_tol=1e-9)
                and math.isclose(float(y), float(r["dy"]), rel_tol=1e-6, abs_tol=1e-9)):
            continue
        return str(r["pair_type"]), str(r["src_id"]), str(r["dst_id"])
    return None


def picked_items(points: pd.DataFrame, selected: Sequence[Mapping[str, Any]]
                 ) -> tuple[str, ...]:
    """Item ids of the selected global-map points (``customdata[0]`` is the row in
    ``points``, see `map_figures.global_map`); points whose x/y do not match their row
    (a stale selection) and the arrow markers (no customdata) are skipped."""
    out: dict[str, None] = {}
    n = len(points)
    if not n:
        return ()
    xs = points["x"].to_numpy(dtype=np.float32)
    ys = points["y"].to_numpy(dtype=np.float32)
    ids = points["item_id"].to_numpy()
    for p in selected or []:
        row = _row(p, n)
        if row is None:
            continue
        x, y = p.get("x"), p.get("y")
        if x is not None and y is not None and (
                abs(float(x) - float(xs[row])) > 1e-4 * max(1.0, abs(float(xs[row])))
                or abs(float(y) - float(ys[row])) > 1e-4 * max(1.0, abs(float(ys[row])))):
            continue
        out[str(ids[row])] = None
    return tuple(out)


def selection_labels(points: pd.DataFrame, item_ids: Sequence[str]) -> pd.DataFrame:
    """`label_distribution` of the selected map items (all of them, not only those
    listed)."""
    return label_distribution(points[points["item_id"].isin(list(item_ids))])


def selection_table(texts: pd.DataFrame, names: Mapping[str, str],
                    params: Mapping[str, Sequence[str] | str]) -> pd.DataFrame:
    """Display rows for selected items (`item_texts` columns): kind, label (display
    names), the first 300 characters of the text, turn and a link to the conversation."""
    return pd.DataFrame({
        "kind": [names.get(k, k) for k in texts["kind"]],
        "label": [names.get(v, v) if isinstance(v, str) else "" for v in texts["label"]],
        "text": texts["text"].fillna("").str.slice(0, 300),
        "turn": texts["turn"],
        "link": [browser_link(params, c, None if pd.isna(t) else int(t))
                 for c, t in zip(texts["conv_id"], texts["turn"])]},
        columns=["kind", "label", "text", "turn", "link"])


def metrics_with_published(metrics: pd.DataFrame) -> pd.DataFrame:
    """The metrics table for display: one row per pair type, published percentiles beside."""
    rows = []
    by_type = {r["pair_type"]: r for r in metrics.to_dict("records")}
    for ptype in PAIR_TYPES:
        r = by_type.get(ptype, {})
        pub = PUBLISHED[ptype]
        rows.append({"pair type": PAIR_TITLES[ptype], "n": int(r.get("n", 0) or 0),
                     "p25": r.get("p25"), "p50": r.get("p50"), "p75": r.get("p75"),
                     "centroid distance": r.get("centroid_distance"), "MMD²": r.get("mmd"),
                     "probe AUC": r.get("probe_auc"),
                     "published p25": pub[0], "published p50": pub[1],
                     "published p75": pub[2], "note": r.get("note")})
    return pd.DataFrame(rows)


def ordering(metrics: pd.DataFrame, column: str = "p50") -> str:
    """'consecutive < message_reason < reaction_next'-style ordering of a metric."""
    df = metrics.dropna(subset=[column]).sort_values(column)
    return " < ".join(PAIR_TITLES[p] for p in df["pair_type"])


# --------------------------------------------------------------------------- texts

def item_texts(con: duckdb.DuckDBPyConnection, item_ids: tuple[str, ...]) -> pd.DataFrame:
    """Full texts and context of map items by id, in one query.

    Columns: item_id, kind, label, conv_id, turn, text, stage, model_name (the order of
    ``item_ids``; unknown ids are left out).
    """
    cols = ["item_id", "kind", "label", "conv_id", "turn", "text", "stage", "model_name"]
    if not item_ids:
        return pd.DataFrame(columns=cols)
    msg = [i for i in item_ids if i.startswith("m:")]
    th = [int(i[2:]) for i in item_ids if i.startswith("t:") and i[2:].isdigit()]
    df = con.execute("""
        SELECT 'm:' || m.conv_id || ':' || m.turn AS item_id, m.role || '_message' AS kind,
               NULL::VARCHAR AS label, m.conv_id, m.turn, m.content AS text, m.stage,
               c.model_name
        FROM messages m JOIN conversations c USING (conv_id)
        WHERE 'm:' || m.conv_id || ':' || m.turn IN (SELECT unnest(?::VARCHAR[]))
        UNION ALL
        SELECT 't:' || t.thought_id, t.kind, t.label, t.conv_id, t.turn, t.content, t.stage,
               c.model_name
        FROM thoughts t JOIN conversations c USING (conv_id)
        WHERE t.thought_id IN (SELECT unnest(?::INTEGER[]))""", [msg, th]).df()
    order = {i: k for k, i in enumerate(item_ids)}
    df["_o"] = df["item_id"].map(order)
    return df.sort_values("_o").drop(columns="_o").reset_index(drop=True)[cols]


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
                    columns: str) -> pd.DataFrame:
    where, params = filters.where("c")
    return con.execute(f"""
        SELECT {columns} FROM shift_pairs p JOIN conversations c USING (conv_id)
        WHERE {where}
        ORDER BY p.pair_type, p.conv_id, p.src_turn, p.dst_turn, p.src_id, p.dst_id""",
                       params).df()


def shift_panels(con: duckdb.DuckDBPyConnection, filters: Filters,
                 max_points: int = MAX_PANEL_POINTS,
                 snippet_max: int = SNIPPET_MAX_PAIRS) -> dict[str, Any]:
    """The centred-gap panels' data for the filtered conversations.

    Returns:
        ``{"points": DataFrame, "rings": DataFrame, "n": {type: pairs},
        "shown": {type: drawn}, "texts": {type: bool}}``. ``points`` has pair_type,
        conv_id, src_id, dst_id, src_turn, dst_turn, src_label, dst_label, dx, dy,
        umap_distance and, for panels with at most ``snippet_max`` pairs, src_text and
        dst_text (escaped hover snippets; else None). Rings use every pair of the subset.
    """
    pairs = _filtered_pairs(con, filters, "p.pair_type, p.conv_id, p.src_id, p.dst_id, "
                            "p.src_turn, p.dst_turn, p.src_label, p.dst_label, p.dx, p.dy, "
                            "p.umap_distance")
    rings = rings_by_type(pairs)
    n = {t: int((pairs["pair_type"] == t).sum()) for t in PAIR_TYPES}
    parts, shown, texts = [], {}, {}
    for t in PAIR_TYPES:
        sub = pairs[pairs["pair_type"] == t]
        if len(sub) > max_points:
            rng = np.random.default_rng(SEED)
            sub = sub.iloc[np.sort(rng.choice(len(sub), size=max_points, replace=False))]
        shown[t] = len(sub)
        texts[t] = 0 < n[t] <= snippet_max
        parts.append(sub.assign(_texts=texts[t]))
    points = pd.concat(parts, ignore_index=True) if parts else pairs.assign(_texts=False)
    want = points[points["_texts"]]
    snips = _snippets(con, list(pd.unique(pd.concat([want["src_id"], want["dst_id"]]))))
    points["src_text"] = [snips.get(i) if f else None
                          for i, f in zip(points["src_id"], points["_texts"])]
    points["dst_text"] = [snips.get(i) if f else None
                          for i, f in zip(points["dst_id"], points["_texts"])]
    points = points.drop(columns="_texts")
    for col in ("src_turn", "dst_turn"):
        points[col] = pd.to_numeric(points[col]).astype("Int64")
    return {"points": points, "rings": rings, "n": n, "shown": shown, "texts": texts}


def pair_detail(con: duckdb.DuckDBPyConnection, pair_type: str, src_id: str,
                dst_id: str) -> dict[str, Any] | None:
    """One pair with both full texts (for the clicked point)."""
    row = con.execute("""
        SELECT pair_type, conv_id, src_id, dst_id, src_turn, dst_turn, src_label, dst_label,
               cosine_distance, umap_distance
        FROM shift_pairs WHERE pair_type = ? AND src_id = ? AND dst_id = ?""",
                      [pair_type, src_id, dst_id]).df()
    if row.empty:
        return None
    rec = row.iloc[0].to_dict()
    texts = item_texts(con, (src_id, dst_id)).set_index("item_id")
    rec["src_text"] = texts["text"].get(src_id)
    rec["dst_text"] = texts["text"].get(dst_id)
    rec["src_kind"] = texts["kind"].get(src_id)
    rec["dst_kind"] = texts["kind"].get(dst_id)
    return rec


# --------------------------------------------------------------------------- metrics

def _vectors(con: duckdb.DuckDBPyConnection, item_ids: Sequence[str]) -> np.ndarray:
    """float32 vectors of ``item_ids`` in that order (one Arrow buffer, no per-row lists)."""
    from components.db import cursor as _cursor
    cur = _cursor(con)
    try:
        cur.register("_want", pd.DataFrame({"item_id": list(item_ids),
                                            "i": np.arange(len(item_ids))}))
        tab = cur.sql("""
            SELECT w.i, e.vector FROM _want w
            JOIN embedded_items it ON it.item_id = w.item_id
            JOIN embeddings e ON e.text_hash = it.text_hash ORDER BY w.i""").to_arrow_table()
    finally:
        cur.close()
    col = tab.column("vector").combine_chunks()
    if tab.num_rows != len(item_ids):
        raise ValueError(f"{len(item_ids) - tab.num_rows} pair endpoints have no vector")
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
        df = con.execute("SELECT * FROM shift_metrics").df()
        return {"table": df, "source": "stored"}
    pairs = _filtered_pairs(con, filters, "p.pair_type, p.conv_id, p.src_id, p.dst_id, "
                            "p.umap_distance, p.cosine_distance")
    ids = pd.unique(pd.concat([pairs["src_id"], pairs["dst_id"]], ignore_index=True))
    if not availability(con)["vectors"]:
        table = sh.compute_metrics(pairs.iloc[:0], np.zeros((0, 1), np.float32), [])
        rings = rings_by_type(pairs).set_index("pair_type")
        for col in ("n", "p25", "p50", "p75"):
            table[col] = table["pair_type"].map(rings[col])
        table["note"] = "no vectors in this DB: set-level metrics unavailable"
        return {"table": table, "source": "recomputed"}
    matrix = _vectors(con, list(ids))
    table = sh.compute_metrics(pairs, matrix, pd.Index(ids), seed=sh.SEED,
                               max_per_side=max_per_side)
    return {"table": table, "source": "recomputed"}


# --------------------------------------------------------------------------- global map

def color_options(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The colour-by choices this DB supports (cluster only with the clusters tables)."""
    avail = availability(con)
    return tuple(k for k in COLOR_BY if k != "cluster" or avail["clusters"])


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
                 "model": "c.model_name", "cluster": "cl.space || ' · ' || cl.name"}[color_by]
    join = ""
    if color_by == "cluster":
        join = """
        LEFT JOIN cluster_members cm
          ON cm.space = CASE m.kind WHEN 'user_message' THEN 'task' ELSE m.kind END
         AND cm.item_id = CASE m.kind WHEN 'user_message' THEN 'c:' || m.conv_id
                                      ELSE m.item_id END
        LEFT JOIN clusters cl ON cl.space = cm.space AND cl.cluster_id = cm.cluster_id"""
    df = con.execute(f"""
        SELECT m.item_id, m.kind, m.label, m.conv_id, m.turn, m.x, m.y,
               coalesce({color_sql}, '(none)') AS color
        FROM map_points m JOIN conversations c USING (conv_id){join}
        WHERE {where} ORDER BY m.item_id""", params).df()
    by_kind = df["kind"].value_counts().to_dict()
    sample = stratified_sample(df, "kind", max_points, SEED).reset_index(drop=True)
    return {"points": sample, "total": int(len(df)), "shown": int(len(sample)),
            "by_kind": {k: int(v) for k, v in by_kind.items()}}


def map_conversations(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[str, ...]:
    """Conversations in the filter that have message -> reason pairs (for the arrows)."""
    where, params = filters.where("c")
    return tuple(r[0] for r in con.execute(f"""
        SELECT DISTINCT p.conv_id FROM shift_pairs p JOIN conversations c USING (conv_id)
        WHERE p.pair_type = 'message_reason' AND {where} ORDER BY 1""", params).fetchall())


def map_conversation_set(con: duckdb.DuckDBPyConnection, filters: Filters) -> frozenset:
    """`map_conversations` as a set (for checking a typed conversation id)."""
    return frozenset(map_conversations(con, filters))


def conversation_arrows(con: duckdb.DuckDBPyConnection, conv_id: str) -> pd.DataFrame:
    """Map positions of each user message -> its reason in one conversation.

    Columns: src_id, dst_id, turn, label, x0, y0, x1, y1.
    """
    return con.execute("""
        SELECT p.src_id, p.dst_id, p.src_turn AS turn, p.dst_label AS label,
               s.x AS x0, s.y AS y0, d.x AS x1, d.y AS y1
        FROM shift_pairs p JOIN map_points s ON s.item_id = p.src_id
        JOIN map_points d ON d.item_id = p.dst_id
        WHERE p.pair_type = 'message_reason' AND p.conv_id = ?
        ORDER BY p.src_turn, p.dst_id""", [conv_id]).df()


def browser_link(params: Mapping[str, Sequence[str] | str], conv_id: str,
                 turn: int | None) -> str:
    """Relative link to the Conversations page (url path ``browser``) at one turn,
    keeping the other URL parameters (the filters)."""
    from components.analysis import browser_url
    return browser_url(params, conv_id, turn, page="browser")
