"""Exact cosine kNN used to feed UMAP (no numba compile for pynndescent at 1x scale)."""

import numpy as np

from precompute.reduce import exact_cosine_knn, umap_fit_transform


def test_exact_knn_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 16)).astype(np.float32)  # > one chunk
    idx, dist = exact_cosine_knn(x, 7)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = xn @ xn.T
    for row in (0, 1500, 2999):
        expected = np.argsort(-sim[row], kind="stable")[:7]
        assert idx[row, 0] == row and dist[row, 0] == 0
        assert set(idx[row]) == set(expected)
        assert np.allclose(dist[row], np.sort(1 - sim[row])[:7], atol=1e-5)
        assert np.all(np.diff(dist[row]) >= -1e-6)


def test_umap_with_precomputed_neighbours_separates_two_groups():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(60, 32)) + 6
    b = rng.normal(size=(60, 32)) - 6
    xy = umap_fit_transform(np.vstack([a, b]).astype(np.float32), n_components=2,
                            n_neighbors=10, metric="cosine", random_state=42, n_epochs=100)
    ca, cb = xy[:60].mean(0), xy[60:].mean(0)
    spread = max(xy[:60].std(0).max(), xy[60:].std(0).max())
    assert np.linalg.norm(ca - cb) > 3 * spread
