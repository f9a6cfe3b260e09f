"""UMAP with exact cosine neighbours for moderate sizes (shared by clusters and shifts).

UMAP's default neighbour search (pynndescent) compiles with numba for ~30 s in every new
process. Up to `EXACT_KNN_MAX_ITEMS` items we compute the exact k nearest neighbours by
cosine with a chunked matrix product instead (0.6 s for 5.5k×384, ~7 s for 20k) and pass
them to UMAP as ``precomputed_knn``: faster at the published scale, exact rather than
approximate, and deterministic. Larger inputs (the 10× corpus) use pynndescent.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

EXACT_KNN_MAX_ITEMS = 30_000
_CHUNK = 2048


def exact_cosine_knn(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosine distances) of the ``k`` nearest rows of ``x`` (self included,
    first), rows sorted by distance. ``x`` is L2-normalised here if it is not already."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1)
    n = len(x)
    k = min(k, n)
    idx = np.empty((n, k), dtype=np.int32)
    dist = np.empty((n, k), dtype=np.float32)
    rows = np.arange(n)
    for start in range(0, n, _CHUNK):
        sim = x[start:start + _CHUNK] @ x.T
        # the item itself first, whatever ties or rounding say
        sim[np.arange(len(sim)), rows[start:start + _CHUNK]] = np.inf
        part = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(sim, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        idx[start:start + _CHUNK] = np.take_along_axis(part, order, axis=1)
        top = np.take_along_axis(top, order, axis=1)
        top[:, 0] = 1.0
        dist[start:start + _CHUNK] = np.clip(1.0 - top, 0.0, 2.0)
    return idx, dist


def umap_fit_transform(x: np.ndarray, **params: Any) -> np.ndarray:
    """``umap.UMAP(**params).fit_transform(x)`` with exact neighbours when ``x`` is small
    enough and the metric is cosine."""
    import umap  # lazy: slow import, numba compiles on the first fit

    params = dict(params)
    if params.get("metric") == "cosine" and len(x) <= EXACT_KNN_MAX_ITEMS:
        k = int(params.get("n_neighbors", 15))
        knn_idx, knn_dist = exact_cosine_knn(x, k)
        params["precomputed_knn"] = (knn_idx, knn_dist, None)
    with warnings.catch_warnings():
        # fixed seed -> one job; precomputed knn without a search index -> no transform()
        warnings.filterwarnings("ignore", category=UserWarning)
        return umap.UMAP(**params).fit_transform(x)
