"""Semantic search and "similar thoughts" over the stored vectors: the one
nearest-neighbour search of the project (brute-force cosine).

The embed stage stores one L2-normalized vector per text (``embeddings``) and what each
stands for (``embedded_items``). `load_index` reads the vectors of user messages, reasons
and reactions once into a `VectorIndex` (the app caches it per DB file); a search query is
embedded with the model named in ``meta.embed_model`` (the app loads it lazily) and ranked
by cosine similarity (a dot product of normalized vectors), restricted to the
conversations under the current filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import polars as pl

from precompute.embed import EmbedError, load_vectors
from precompute.store import get_meta, table_exists

#: What semantic search ranks: thoughts and user messages.
SEARCH_KINDS = ("user_message", "reason", "reaction")
THOUGHT_KINDS = ("reason", "reaction")
NO_EMBEDDINGS = ("This database was built without the embed stage, so there are no "
                 "vectors to search: run `python -m precompute build` (or `python -m "
                 "precompute embed`) and reload.")


@dataclass(frozen=True, eq=False)
class VectorIndex:
    """Embedded items (parallel numpy arrays) and their normalized vectors (n x d)."""

    model: str | None
    item_ids: np.ndarray
    kinds: np.ndarray
    conv_ids: np.ndarray
    turns: np.ndarray
    labels: np.ndarray
    matrix: np.ndarray

    def __len__(self) -> int:
        return len(self.item_ids)

    def row(self, item_id: str) -> int | None:
        hit = np.flatnonzero(self.item_ids == item_id)
        return int(hit[0]) if len(hit) else None


def embedding_info(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """{available, model, dim, n_items}: whether this DB can serve semantic search."""
    if not (table_exists(con, "embeddings") and table_exists(con, "embedded_items")):
        return {"available": False, "model": None, "dim": None, "n_items": 0}
    model = get_meta(con, "embed_model")
    dim = get_meta(con, "embed_dim")
    n = con.execute("SELECT count(*) FROM embedded_items WHERE text_hash IS NOT NULL AND "
                    "kind IN ('user_message', 'reason', 'reaction')").fetchall()[0][0]
    return {"available": bool(model) and n > 0, "model": model,
            "dim": int(dim) if dim and str(dim).isdigit() else None, "n_items": int(n)}


def load_index(con: duckdb.DuckDBPyConnection,
               kinds: Sequence[str] = SEARCH_KINDS) -> VectorIndex:
    """All embedded items of ``kinds`` with their vectors (EmbedError when there are none)."""
    items, matrix = load_vectors(con, kinds)
    if matrix.size:
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = matrix / np.where(norms > 0, norms, 1.0)
    return VectorIndex(
        model=get_meta(con, "embed_model"),
        item_ids=items["item_id"].to_numpy(dtype=object),
        kinds=items["kind"].to_numpy(dtype=object),
        conv_ids=items["conv_id"].to_numpy(dtype=object),
        turns=items["turn"].fillna(0).to_numpy(dtype=np.int64),
        labels=items["label"].to_numpy(dtype=object),
        matrix=np.ascontiguousarray(matrix, dtype=np.float32))


def normalize(vec: Any) -> np.ndarray:
    q = np.asarray(vec, dtype=np.float32).ravel()
    n = float(np.linalg.norm(q))
    return q / n if n > 0 else q


def _top(index: VectorIndex, scores: np.ndarray, k: int) -> pl.DataFrame:
    ok = np.flatnonzero(np.isfinite(scores))
    if len(ok) == 0 or k <= 0:
        return _frame(index, np.array([], dtype=np.int64), np.array([], dtype=np.float32))
    k = min(k, len(ok))
    part = ok[np.argpartition(-scores[ok], k - 1)[:k]] if k < len(ok) else ok
    order = part[np.argsort(-scores[part], kind="stable")]
    return _frame(index, order, scores[order])


def _frame(index: VectorIndex, rows: np.ndarray, scores: np.ndarray) -> pl.DataFrame:
    def text(values: np.ndarray) -> list:
        return [None if v is None or v != v else str(v) for v in values]
    return pl.DataFrame({
        "item_id": text(index.item_ids[rows]), "kind": text(index.kinds[rows]),
        "label": text(index.labels[rows]), "conv_id": text(index.conv_ids[rows]),
        "turn": index.turns[rows].astype(np.int64),
        "score": np.asarray(scores, dtype=np.float64)},
        schema={"item_id": pl.Utf8, "kind": pl.Utf8, "label": pl.Utf8, "conv_id": pl.Utf8,
                "turn": pl.Int64, "score": pl.Float64})


def search(index: VectorIndex, query_vec: Any, k: int = 20,
           conv_ids: Sequence[str] | None = None,
           kinds: Sequence[str] | None = None) -> pl.DataFrame:
    """Top-``k`` items by cosine similarity to ``query_vec``, best first.

    Args:
        index: the loaded vectors.
        query_vec: the query's embedding (normalized here).
        k: how many results.
        conv_ids: only items of these conversations (None: all).
        kinds: only items of these kinds (None: all in the index).

    Returns:
        Columns item_id, kind, label, conv_id, turn, score.
    """
    if len(index) == 0:
        return _frame(index, np.array([], dtype=np.int64), np.array([], dtype=np.float32))
    q = normalize(query_vec)
    if q.shape[0] != index.matrix.shape[1]:
        raise EmbedError(f"the query vector has dimension {q.shape[0]}, the stored vectors "
                         f"{index.matrix.shape[1]}: embedded with another model?")
    scores = index.matrix @ q
    return _top(index, np.where(_allowed(index, kinds, conv_ids), scores, -np.inf), k)


def similar(index: VectorIndex, item_id: str, k: int = 10,
            kinds: Sequence[str] | None = THOUGHT_KINDS,
            conv_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """Nearest neighbours of a stored item (itself excluded), best first; empty when the
    item has no vector."""
    row = index.row(item_id)
    if row is None:
        return _frame(index, np.array([], dtype=np.int64), np.array([], dtype=np.float32))
    scores = (index.matrix @ index.matrix[row]).astype(np.float32)
    scores[row] = -np.inf
    return _top(index, np.where(_allowed(index, kinds, conv_ids), scores, -np.inf), k)


def _allowed(index: VectorIndex, kinds: Sequence[str] | None,
             conv_ids: Sequence[str] | None) -> np.ndarray:
    """Rows of ``index`` whose kind is in ``kinds`` and conversation in ``conv_ids``
    (None: any)."""
    mask = np.ones(len(index), dtype=bool)
    if kinds is not None:
        mask &= np.isin(index.kinds, np.asarray(list(kinds), dtype=object))
    if conv_ids is not None:
        mask &= np.isin(index.conv_ids, np.asarray(list(conv_ids), dtype=object))
    return mask
