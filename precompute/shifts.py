"""Semantic shifts (paper Fig. 5): one 2-D map of messages and thoughts, pairs, distances.

Produces three tables from the embed stage's ``embeddings`` + ``embedded_items``:

- ``map_points``: one global 2-D UMAP (fixed seed, cosine metric) of every embedded user
  message, reason and reaction, placed together so displacements are comparable.
- ``shift_pairs``: the three pair types of the paper, each with its embedding cosine
  distance and its displacement on the map (destination minus source):

  * ``consecutive``: user message -> the next user message of the same conversation;
  * ``message_reason``: user message -> each reason given for it (same conv_id and turn);
  * ``reaction_next``: reaction on an assistant message (turn t) -> the next user message
    (smallest user turn > t); none when no user message follows.

  Only embedded items take part (an item whose text is empty has no vector): "next user
  message" means the next *embedded* user message.
- ``shift_metrics``: per pair type, the percentile rings (25/50/75th percentile of the map
  distance), and three set-level distances between the source and destination embedding
  sets: centroid distance, squared MMD and a linear probe's cross-validated ROC AUC.

Set-level metrics use each side's *distinct* items (a user message with two reasons is one
source, not two), subsampled to at most ``max_per_side`` items with a fixed seed.

- MMD: the **unbiased** estimator of squared MMD (U-statistic; Gretton et al. 2012, eq. 3)
  with an RBF kernel ``k(x, y) = exp(-||x - y||^2 / (2 s^2))`` whose bandwidth ``s`` is the
  median pairwise Euclidean distance of the pooled sample (median heuristic, computed on at
  most 1,000 pooled points, as sqrt of the median squared distance). Unbiased, so sets of
  different sizes (a filtered subset in the app vs. the whole corpus) are comparable; it
  is about 0 for two samples of one distribution and may then be slightly negative. It is
  not clipped.
- Probe: logistic regression (liblinear, C=1) separating sources (0) from destinations
  (1), mean ROC AUC over 5 folds **grouped by conversation** (conversations shuffled with
  seed 0 and dealt to the folds; ungrouped: ``StratifiedKFold(5, shuffle=True,
  random_state=0)``): consecutive pairs share items (message k is a
  destination and a source), and ungrouped folds then score below chance (0.15 on the
  shared sample; 0.57 grouped). NaN (with a note) when either side has fewer than 10
  distinct items or the pairs span fewer than 5 conversations.

The pure functions (``build_pairs``, ``pair_geometry``, ``percentile_rings``,
``centroid_distance``, ``mmd_rbf``, ``probe_auc``, ``compute_metrics``) never
touch the DB, so the app can recompute metrics for a filtered subset of ``shift_pairs``.
"""

from __future__ import annotations

import hashlib
import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from precompute.store import hash_inputs, replace_table, stage_record, table_exists

Log = Callable[[str], None]

PAIR_TYPES: tuple[str, ...] = ("consecutive", "message_reason", "reaction_next")
MAP_KINDS: tuple[str, ...] = ("user_message", "reason", "reaction")

UMAP_PARAMS: dict[str, Any] = {"n_components": 2, "n_neighbors": 15, "min_dist": 0.1,
                               "metric": "cosine", "random_state": 42}
#: Fewer map items than this: PCA to 2-D instead of UMAP (UMAP needs a neighbour graph).
MIN_UMAP_ITEMS = 5
MAX_PER_SIDE = 2000
MIN_PROBE_PER_CLASS = 10
MEDIAN_HEURISTIC_POINTS = 1000
SEED = 0
#: Bump when the stage's output changes for the same inputs.
STAGE_VERSION = 1

DDL = {
    "map_points": """
        CREATE TABLE map_points (
            item_id VARCHAR PRIMARY KEY, kind VARCHAR, label VARCHAR, conv_id VARCHAR,
            turn INTEGER, thought_id INTEGER, x DOUBLE, y DOUBLE)""",
    "shift_pairs": """
        CREATE TABLE shift_pairs (
            pair_type VARCHAR, conv_id VARCHAR, src_id VARCHAR, dst_id VARCHAR,
            src_turn INTEGER, dst_turn INTEGER, src_label VARCHAR, dst_label VARCHAR,
            cosine_distance DOUBLE, dx DOUBLE, dy DOUBLE, umap_distance DOUBLE)""",
    "shift_metrics": """
        CREATE TABLE shift_metrics (
            pair_type VARCHAR PRIMARY KEY, n INTEGER, n_src INTEGER, n_dst INTEGER,
            p25 DOUBLE, p50 DOUBLE, p75 DOUBLE, centroid_distance DOUBLE, mmd DOUBLE,
            probe_auc DOUBLE, cos_p50 DOUBLE, note VARCHAR)""",
}

PAIR_COLUMNS = ["pair_type", "conv_id", "src_id", "dst_id", "src_turn", "dst_turn",
                "src_label", "dst_label"]
METRIC_COLUMNS = ["pair_type", "n", "n_src", "n_dst", "p25", "p50", "p75",
                  "centroid_distance", "mmd", "probe_auc", "cos_p50", "note"]


# --------------------------------------------------------------------------- loading

_ITEMS_SQL = """
    SELECT i.item_id, i.kind, i.conv_id, i.turn, i.thought_id, i.label, i.text_hash,
           e.model{vec}
    FROM embedded_items i JOIN embeddings e ON e.text_hash = i.text_hash
    WHERE i.text_hash IS NOT NULL AND i.kind IN ({kinds})
    ORDER BY i.item_id"""


def _items_query(kinds: Sequence[str], with_vectors: bool) -> tuple[str, list[str]]:
    q = _ITEMS_SQL.format(vec=", e.vector" if with_vectors else "",
                          kinds=", ".join("?" for _ in kinds))
    return q, list(kinds)


def _load(con: duckdb.DuckDBPyConnection,
          kinds: Sequence[str] = MAP_KINDS) -> tuple[pd.DataFrame, np.ndarray]:
    """Embedded items of ``kinds`` (ordered by item_id) and their float32 vectors (n, d).

    Items without a vector (NULL text_hash) are left out. Vectors come through Arrow as
    one flat buffer (no per-row arrays): ~0.1 s for 20k x 384.
    """
    q, params = _items_query(kinds, with_vectors=True)
    _settle(con)
    tab = con.sql(q, params=params).to_arrow_table()
    col = tab.column("vector").combine_chunks()
    dim = col.type.list_size
    if len(col):
        matrix = col.flatten().to_numpy().reshape(len(col), dim).astype(np.float32, copy=False)
    else:
        matrix = np.zeros((0, dim), dtype=np.float32)
    items = _normalize_items(tab.drop(["vector"]).to_pandas())
    return items, matrix


def _normalize_items(items: pd.DataFrame) -> pd.DataFrame:
    items = items.reset_index(drop=True).copy()
    for col in ("item_id", "kind", "conv_id", "label", "text_hash", "model"):
        if col in items:
            items[col] = items[col].astype(object).where(items[col].notna(), None)
    for col in ("turn", "thought_id"):
        if col in items:
            items[col] = pd.array(pd.to_numeric(items[col]), dtype="Int64")
    return items


def _input_signature(con: duckdb.DuckDBPyConnection, kinds: Sequence[str]) -> str:
    """sha256 over the embedded items the stage reads (ids, kinds, positions, labels,
    text hashes, models), in item_id order; vectorized."""
    q, params = _items_query(kinds, with_vectors=False)
    _settle(con)
    frame = con.sql(q, params=params).to_arrow_table().to_pandas()
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(rows.tobytes() + str(len(frame)).encode()).hexdigest()


# --------------------------------------------------------------------------- map

class _DefaultUMAP:
    """The global map's reducer: UMAP(**UMAP_PARAMS), with exact neighbours when small
    enough (precompute.reduce)."""

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        from precompute.reduce import umap_fit_transform

        return umap_fit_transform(x, **UMAP_PARAMS)


def _default_umap() -> Any:
    return _DefaultUMAP()


def project_2d(matrix: np.ndarray, *, umap_factory: Callable[[], Any] | None = None
               ) -> tuple[np.ndarray, str]:
    """2-D coordinates (n, 2) of ``matrix`` and the method used ('umap', 'pca', 'zeros' or
    'custom:<ClassName>' for an injected factory)."""
    n = len(matrix)
    if n == 0:
        return np.zeros((0, 2)), "none"
    if n < MIN_UMAP_ITEMS:
        if n < 2 or matrix.shape[1] < 2 or np.allclose(matrix, matrix[0]):
            return np.zeros((n, 2)), "zeros"
        from sklearn.decomposition import PCA

        k = min(2, n, matrix.shape[1])
        xy = np.zeros((n, 2))
        xy[:, :k] = PCA(n_components=k, random_state=0).fit_transform(
            matrix.astype(np.float64))
        return xy, "pca"
    reducer = (umap_factory or _default_umap)()
    method = "umap" if umap_factory is None else f"custom:{type(reducer).__name__}"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")  # fixed seed -> 1 job
        xy = np.asarray(reducer.fit_transform(matrix), dtype=np.float64)
    if xy.shape != (n, 2):
        raise ValueError(f"the 2-D reducer returned shape {xy.shape}, expected ({n}, 2)")
    return xy, method


# --------------------------------------------------------------------------- pairs

def build_pairs(items: pd.DataFrame) -> pd.DataFrame:
    """The three pair types from embedded items (vectorized; no loop over conversations).

    Args:
        items: one row per item with at least ``item_id``, ``kind`` ('user_message',
            'reason', 'reaction'; others ignored), ``conv_id``, ``turn``; ``label``
            optional. Reactions carry the turn of the assistant message they react to,
            reasons the turn of their user message.

    Returns:
        DataFrame with ``PAIR_COLUMNS`` (pair_type, conv_id, src_id, dst_id, src_turn,
        dst_turn, src_label, dst_label), ordered by pair type, conversation and turns.
    """
    cols = ["item_id", "conv_id", "turn", "label"]
    df = items.copy()
    if "label" not in df:
        df["label"] = None
    df = df.loc[df["kind"].isin(MAP_KINDS), ["kind"] + cols]
    df["turn"] = pd.to_numeric(df["turn"]).astype("int64")
    users = (df[df["kind"] == "user_message"][cols]
             .sort_values(["conv_id", "turn"], kind="stable").reset_index(drop=True))
    frames = []

    # consecutive: next user message in the same conversation
    nxt = users.shift(-1)
    same = (nxt["conv_id"] == users["conv_id"]).to_numpy(dtype=bool)
    frames.append(pd.DataFrame({
        "pair_type": "consecutive", "conv_id": users["conv_id"][same].to_numpy(),
        "src_id": users["item_id"][same].to_numpy(), "dst_id": nxt["item_id"][same].to_numpy(),
        "src_turn": users["turn"][same].to_numpy(),
        "dst_turn": nxt["turn"][same].to_numpy(dtype="int64"),
        "src_label": None, "dst_label": nxt["label"][same].to_numpy()}))

    # message_reason: user message -> each reason on the same conv_id / turn
    reasons = df[df["kind"] == "reason"][cols]
    mr = users.merge(reasons, on=["conv_id", "turn"], suffixes=("_s", "_d"))
    frames.append(pd.DataFrame({
        "pair_type": "message_reason", "conv_id": mr["conv_id"].to_numpy(),
        "src_id": mr["item_id_s"].to_numpy(), "dst_id": mr["item_id_d"].to_numpy(),
        "src_turn": mr["turn"].to_numpy(), "dst_turn": mr["turn"].to_numpy(),
        "src_label": mr["label_s"].to_numpy(), "dst_label": mr["label_d"].to_numpy()}))

    # reaction_next: reaction at turn t -> user message with the smallest turn > t
    reactions = df[df["kind"] == "reaction"][cols].sort_values("turn", kind="stable")
    right = (users.rename(columns={"item_id": "dst_id", "turn": "dst_turn",
                                   "label": "dst_label"})
             .sort_values("dst_turn", kind="stable"))
    if len(reactions) and len(right):
        rn = pd.merge_asof(reactions, right, left_on="turn", right_on="dst_turn",
                           by="conv_id", direction="forward", allow_exact_matches=False)
        rn = rn[rn["dst_id"].notna()]
    else:
        rn = pd.DataFrame(columns=cols + ["dst_id", "dst_turn", "dst_label"])
    frames.append(pd.DataFrame({
        "pair_type": "reaction_next", "conv_id": rn["conv_id"].to_numpy(),
        "src_id": rn["item_id"].to_numpy(), "dst_id": rn["dst_id"].to_numpy(),
        "src_turn": rn["turn"].to_numpy(), "dst_turn": rn["dst_turn"].to_numpy(),
        "src_label": rn["label"].to_numpy(), "dst_label": rn["dst_label"].to_numpy()}))

    pairs = pd.concat([f for f in frames if len(f)] or [frames[0]], ignore_index=True)
    pairs = pairs[PAIR_COLUMNS]
    order = {t: i for i, t in enumerate(PAIR_TYPES)}
    pairs = (pairs.assign(_o=pairs["pair_type"].map(order))
             .sort_values(["_o", "conv_id", "src_turn", "dst_turn", "src_id", "dst_id"],
                          kind="stable")
             .drop(columns="_o").reset_index(drop=True))
    for col in ("src_turn", "dst_turn"):
        pairs[col] = pd.array(pd.to_numeric(pairs[col]), dtype="Int64")
    for col in ("conv_id", "src_id", "dst_id", "src_label", "dst_label"):
        pairs[col] = pairs[col].astype(object).where(pairs[col].notna(), None)
    return pairs


def _rows(item_ids: Sequence[str] | pd.Index, ids: Iterable[str]) -> np.ndarray:
    index = item_ids if isinstance(item_ids, pd.Index) else pd.Index(item_ids)
    rows = index.get_indexer(pd.Index(list(ids) if not isinstance(ids, (pd.Series, np.ndarray))
                                      else ids))
    if (rows < 0).any():
        raise KeyError("some pair endpoints are not among the given item ids")
    return rows


def pair_geometry(pairs: pd.DataFrame, matrix: np.ndarray, xy: np.ndarray,
                  item_ids: Sequence[str] | pd.Index) -> pd.DataFrame:
    """``pairs`` plus cosine_distance, dx, dy, umap_distance (row i of matrix/xy is
    item_ids[i]; vectors need not be normalized)."""
    out = pairs.copy()
    s = _rows(item_ids, pairs["src_id"].to_numpy())
    d = _rows(item_ids, pairs["dst_id"].to_numpy())
    cos = np.empty(len(pairs), dtype=np.float64)
    step = 65536  # bounded memory on 10x corpora
    for i in range(0, len(pairs), step):
        a = matrix[s[i:i + step]]
        b = matrix[d[i:i + step]]
        den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        cos[i:i + step] = np.einsum("ij,ij->i", a, b) / np.where(den > 0, den, 1.0)
    delta = (xy[d] - xy[s]) if len(pairs) else np.zeros((0, 2))
    out["cosine_distance"] = np.clip(1.0 - cos, 0.0, 2.0)  # float32 rounding near 0
    out["dx"] = delta[:, 0]
    out["dy"] = delta[:, 1]
    out["umap_distance"] = np.hypot(delta[:, 0], delta[:, 1])
    return out


# --------------------------------------------------------------------------- metrics

def percentile_rings(distances: Iterable[float]) -> dict[str, float]:
    """25th/50th/75th percentile (numpy linear interpolation) as {'p25','p50','p75'}; NaN
    when empty."""
    d = np.asarray(list(distances) if not isinstance(distances, np.ndarray) else distances,
                   dtype=np.float64)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return {"p25": math.nan, "p50": math.nan, "p75": math.nan}
    p = np.percentile(d, [25, 50, 75])
    return {"p25": float(p[0]), "p50": float(p[1]), "p75": float(p[2])}


def centroid_distance(a: np.ndarray, b: np.ndarray) -> float:
    """L2 distance between the mean of ``a`` (n, d) and the mean of ``b`` (m, d)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        return math.nan
    return float(np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)))


def _subsample(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    if len(x) <= k:
        return x
    return x[np.sort(rng.choice(len(x), size=k, replace=False))]


def _sq_dists(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (len(x), len(y)), computed in place (x, y float32)."""
    g = x @ y.T
    g *= -2.0
    g += np.einsum("ij,ij->i", x, x)[:, None]
    g += np.einsum("ij,ij->i", y, y)[None, :]
    np.maximum(g, 0.0, out=g)
    return g


def _kernel_sum(x: np.ndarray, y: np.ndarray, gamma: np.float32, *,
                same: bool) -> float:
    """Sum of exp(-gamma ||x_i - y_j||^2) over all i, j (over i != j when ``same``)."""
    k = _sq_dists(x, y)
    k *= -gamma
    np.exp(k, out=k)
    total = float(k.sum(dtype=np.float64))
    if same:
        total -= float(np.trace(k, dtype=np.float64))
    return total


def mmd_rbf(a: np.ndarray, b: np.ndarray, seed: int = SEED, *,
            max_per_side: int = MAX_PER_SIDE, bandwidth: float | None = None) -> float:
    """Unbiased squared MMD between samples ``a`` and ``b`` with an RBF kernel.

    Bandwidth ``s`` (kernel ``exp(-||x-y||^2 / (2 s^2))``): the median pairwise distance
    of the pooled sample (at most 1,000 pooled points) unless given. Each side is first
    subsampled to ``max_per_side`` rows with ``seed``. NaN when a side has < 2 rows.
    """
    rng = np.random.default_rng(seed)
    x = _subsample(np.asarray(a, dtype=np.float32), max_per_side, rng)
    y = _subsample(np.asarray(b, dtype=np.float32), max_per_side, rng)
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        return math.nan
    if bandwidth is None:
        pooled = _subsample(np.vstack([x, y]), MEDIAN_HEURISTIC_POINTS, rng)
        d2 = _sq_dists(pooled, pooled)[np.triu_indices(len(pooled), 1)]
        med = float(np.sqrt(np.median(d2)))  # sqrt is monotone: median of distances
        bandwidth = med if med > 0 else 1.0
    gamma = np.float32(1.0 / (2.0 * bandwidth ** 2))
    sxx = _kernel_sum(x, x, gamma, same=True) / (m * (m - 1))
    syy = _kernel_sum(y, y, gamma, same=True) / (n * (n - 1))
    sxy = _kernel_sum(x, y, gamma, same=False) / (m * n)
    return float(sxx + syy - 2.0 * sxy)


def _subsample_idx(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    if n <= k:
        return np.arange(n)
    return np.sort(rng.choice(n, size=k, replace=False))


MIN_PROBE_GROUPS = 5


def _group_folds(groups: np.ndarray, n_splits: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs with whole groups per fold: the distinct groups, shuffled
    with seed 0, are dealt round-robin to the folds. (sklearn's StratifiedGroupKFold does
    the same job but takes ~1.2 s for 2,000 conversations; this is O(n).) Both classes are
    in every conversation's pairs, so folds stay close to stratified."""
    codes, uniques = pd.factorize(pd.Series(groups, dtype=object))
    order = np.random.default_rng(0).permutation(len(uniques))
    fold_of_group = np.empty(len(uniques), dtype=np.int64)
    fold_of_group[order] = np.arange(len(uniques)) % n_splits
    fold = fold_of_group[codes]
    idx = np.arange(len(groups))
    return [(idx[fold != f], idx[fold == f]) for f in range(n_splits)]


def _probe(a: np.ndarray, b: np.ndarray, seed: int, *, max_per_side: int,
           min_per_class: int, groups_a: Sequence | None,
           groups_b: Sequence | None) -> tuple[float, str | None]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(seed)
    ia = _subsample_idx(len(a), max_per_side, rng)
    ib = _subsample_idx(len(b), max_per_side, rng)
    x = np.asarray(a, dtype=np.float64)[ia]
    y = np.asarray(b, dtype=np.float64)[ib]
    need = max(min_per_class, 5)
    if len(x) < need or len(y) < need:
        return math.nan, f"probe_auc: fewer than {need} distinct items per side"
    features = np.vstack([x, y])
    target = np.r_[np.zeros(len(x)), np.ones(len(y))]
    grouped = groups_a is not None and groups_b is not None
    if grouped:
        groups = np.r_[np.asarray(groups_a, dtype=object)[ia],
                       np.asarray(groups_b, dtype=object)[ib]]
        if len(pd.unique(groups)) < MIN_PROBE_GROUPS:
            return math.nan, (f"probe_auc: fewer than {MIN_PROBE_GROUPS} conversations for "
                              "conversation-grouped CV")
        splits = _group_folds(groups, 5)
    else:
        splits = StratifiedKFold(5, shuffle=True, random_state=0).split(features, target)
    aucs = []
    for train, test in splits:
        if len(np.unique(target[test])) < 2 or len(np.unique(target[train])) < 2:
            continue  # a grouped fold can miss a class when a few conversations dominate
        model = LogisticRegression(solver="liblinear", C=1.0, tol=1e-3)
        model.fit(features[train], target[train])
        aucs.append(roc_auc_score(target[test], model.decision_function(features[test])))
    if not aucs:
        return math.nan, "probe_auc: no fold held both classes"
    return float(np.mean(aucs)), None


def probe_auc(a: np.ndarray, b: np.ndarray, seed: int = SEED, *,
              max_per_side: int = MAX_PER_SIDE, min_per_class: int = MIN_PROBE_PER_CLASS,
              groups_a: Sequence | None = None, groups_b: Sequence | None = None) -> float:
    """Linear-probe ROC AUC separating ``a`` (class 0) from ``b`` (class 1).

    Logistic regression (liblinear, C=1, tol 1e-3), mean ROC AUC over
    ``StratifiedKFold(5, shuffle=True, random_state=0)``; each side subsampled to
    ``max_per_side`` with ``seed``. 0.5: indistinguishable, 1: linearly separable. NaN when
    a side has fewer than ``min_per_class`` rows.

    With ``groups_a``/``groups_b`` (one group per row, e.g. the conv_id) the folds hold
    whole groups (``_group_folds``): a conversation is never split between train and test. Use it
    when the two sets share items (consecutive pairs: message k is the destination of one
    pair and the source of the next): ungrouped folds then put the same vector in train
    with one label and in test with the other, which drives the AUC below 0.5 (0.15 on the
    shared sample, 0.57 grouped). NaN with fewer than 5 distinct groups.
    """
    return _probe(a, b, seed, max_per_side=max_per_side, min_per_class=min_per_class,
                  groups_a=groups_a, groups_b=groups_b)[0]


def compute_metrics(pairs: pd.DataFrame, matrix: np.ndarray,
                    item_ids: Sequence[str] | pd.Index, *, seed: int = SEED,
                    max_per_side: int = MAX_PER_SIDE) -> pd.DataFrame:
    """One row per pair type (all three, n=0 rows included) with ``METRIC_COLUMNS``.

    ``pairs`` needs pair_type, conv_id, src_id, dst_id, umap_distance, cosine_distance (a
    filtered subset of ``shift_pairs`` works); row i of ``matrix`` is ``item_ids[i]``.
    Set-level metrics use each side's distinct items; the probe's folds are grouped by
    conversation (see ``probe_auc``).
    """
    index = item_ids if isinstance(item_ids, pd.Index) else pd.Index(item_ids)
    rows = []
    for ptype in PAIR_TYPES:
        sub = pairs[pairs["pair_type"] == ptype]
        src = sub.drop_duplicates("src_id")
        dst = sub.drop_duplicates("dst_id")
        a = matrix[_rows(index, src["src_id"].to_numpy())]
        b = matrix[_rows(index, dst["dst_id"].to_numpy())]
        rings = percentile_rings(sub["umap_distance"].to_numpy(dtype=np.float64))
        notes = []
        auc, note = _probe(a, b, seed, max_per_side=max_per_side,
                           min_per_class=MIN_PROBE_PER_CLASS,
                           groups_a=src["conv_id"].to_numpy(),
                           groups_b=dst["conv_id"].to_numpy())
        if note and len(sub):
            notes.append(note)
        mmd = mmd_rbf(a, b, seed, max_per_side=max_per_side)
        if math.isnan(mmd) and len(sub):
            notes.append("mmd: fewer than 2 distinct items per side")
        if max(len(src), len(dst)) > max_per_side:
            notes.append(f"mmd/probe on a seeded subsample of {max_per_side} per side")
        cos = sub["cosine_distance"].to_numpy(dtype=np.float64)
        rows.append({"pair_type": ptype, "n": len(sub), "n_src": len(src), "n_dst": len(dst),
                     **rings, "centroid_distance": centroid_distance(a, b), "mmd": mmd,
                     "probe_auc": auc,
                     "cos_p50": float(np.median(cos)) if len(cos) else math.nan,
                     "note": "; ".join(notes) or None})
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def _settle(con: duckdb.DuckDBPyConnection) -> None:
    """Finish a pending execute() result (DuckDB 2 keeps one open after fetchone(), and
    then refuses con.sql() on the connection)."""
    complete = getattr(con, "complete", None)
    if complete is not None:
        complete()


def stage_shifts(con: duckdb.DuckDBPyConnection, *, settings: Any, log: Log = print,
                 umap_factory: Callable[[], Any] | None = None, **_: object) -> dict:
    """Write map_points, shift_pairs and shift_metrics from the embed stage's tables.

    Skipped when the embedded items (ids, text hashes, models) and parameters are
    unchanged and the tables exist, unless ``settings.force``.
    """
    progress = bool(getattr(settings, "progress", False))
    force = bool(getattr(settings, "force", False))
    for name in ("embeddings", "embedded_items"):
        if not table_exists(con, name):
            _settle(con)
            raise RuntimeError(f"the shifts stage needs table {name!r} from the embed stage; "
                               "run the embed stage first")
    reducer = ("umap" if umap_factory is None else "custom:" + getattr(
        umap_factory, "__qualname__", type(umap_factory).__name__))
    params = {"kinds": list(MAP_KINDS), "reducer": reducer,
              "umap": UMAP_PARAMS if umap_factory is None else None,
              "min_umap_items": MIN_UMAP_ITEMS, "max_per_side": MAX_PER_SIDE, "seed": SEED,
              "mmd": "unbiased squared MMD, RBF, median-heuristic bandwidth",
              "probe": "logistic regression (liblinear, C=1), ROC AUC, 5 folds grouped "
                       "by conversation",
              "stage_version": STAGE_VERSION}
    input_hash = hash_inputs(_input_signature(con, MAP_KINDS), params)
    prev = stage_record(con, "shifts")
    skip = (not force and prev and prev["input_hash"] == input_hash
            and all(table_exists(con, t) for t in DDL))
    _settle(con)
    if skip:
        return {"skipped": True, "summary": prev["summary"]}

    t0 = time.perf_counter()
    items, matrix = _load(con, MAP_KINDS)
    t_load = time.perf_counter() - t0
    if progress:
        log(f"  shifts: {len(items)} items loaded in {t_load:.2f}s; 2-D map"
            + (" (UMAP; the first call in a process compiles for ~25 s)"
               if umap_factory is None and len(items) >= MIN_UMAP_ITEMS else ""))
    t1 = time.perf_counter()
    xy, method = project_2d(matrix, umap_factory=umap_factory)
    t_map = time.perf_counter() - t1

    t2 = time.perf_counter()
    points = pd.DataFrame({
        "item_id": items["item_id"], "kind": items["kind"], "label": items["label"],
        "conv_id": items["conv_id"], "turn": items["turn"], "thought_id": items["thought_id"],
        "x": xy[:, 0] if len(xy) else np.zeros(0), "y": xy[:, 1] if len(xy) else np.zeros(0)})
    index = pd.Index(items["item_id"])
    pairs = pair_geometry(build_pairs(items), matrix, xy, index)
    metrics = compute_metrics(pairs, matrix, index)
    t_pairs = time.perf_counter() - t2

    replace_table(con, "map_points", points, DDL["map_points"])
    replace_table(con, "shift_pairs", pairs, DDL["shift_pairs"])
    replace_table(con, "shift_metrics", metrics, DDL["shift_metrics"])
    _settle(con)

    params = {**params, "map_method": method}
    by_type = ", ".join(f"{r.pair_type} n={r.n} p50={r.p50:.2f}" for r in metrics.itertuples())
    summary = (f"{len(points)} map points ({method}, {t_map:.1f}s), {len(pairs)} pairs: "
               f"{by_type}; pairs+metrics {t_pairs:.1f}s")
    return {"skipped": False, "summary": summary, "input_hash": input_hash, "params": params}
