"""Statistics of the analysis pages (components.stats): the cluster bootstrap of
label shares per stage, its NaN-aware percentile and the integer codes it runs on."""

from __future__ import annotations

import numpy as np
import pytest

from components import stats


def test_bootstrap_on_10k_thoughts_is_reproducible_and_brackets_the_estimate():
    # speed is measured in benchmarks/, never asserted here
    rng = np.random.default_rng(0)
    conv = rng.integers(0, 2155, 10_000)
    stage, label = rng.integers(0, 4, 10_000), rng.integers(0, 7, 10_000)
    conv = np.unique(conv, return_inverse=True)[1]
    counts, share, lo, hi = stats.bootstrap_shares(conv, stage, label, 4, 7)
    assert counts.sum() == 10_000 and share.shape == lo.shape == hi.shape == (4, 7)
    assert np.allclose(share.sum(axis=1), 1)
    assert np.all(lo <= share + 1e-12) and np.all(share <= hi + 1e-12)
    again = stats.bootstrap_shares(conv, stage, label, 4, 7)
    assert np.array_equal(lo, again[2]) and np.array_equal(hi, again[3])  # fixed seed


def test_bootstrap_by_hand_and_empty_stages():
    # cluster 0: two thoughts of label 0 in stage 0; cluster 1: one of label 1 in stage 0.
    counts, share, lo, hi = stats.bootstrap_shares(np.array([0, 0, 1]), np.array([0, 0, 0]),
                                                   np.array([0, 0, 1]), 2, 2)
    assert counts.tolist() == [[2, 1], [0, 0]]
    assert share[0].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert np.isnan(share[1]).all() and np.isnan(lo[1]).all() and np.isnan(hi[1]).all()
    # resampling two clusters gives shares 0, 2/3 or 1 for label 0: both ends are seen
    assert lo[0, 0] == 0 and hi[0, 0] == 1
    none = stats.bootstrap_shares(np.zeros(0), np.zeros(0), np.zeros(0), 2, 3)
    assert none[0].shape == (2, 3) and none[0].sum() == 0 and np.isnan(none[1]).all()
    no_boot = stats.bootstrap_shares(np.array([0, 1]), np.array([0, 0]), np.array([0, 1]),
                                     1, 2, n_boot=0)
    assert np.array_equal(no_boot[2], no_boot[1]) and np.array_equal(no_boot[3], no_boot[1])


def test_sorted_percentile_ignores_trailing_nans():
    vals = np.array([[0.0, 1.0], [1.0, np.nan], [2.0, np.nan], [np.nan, np.nan]])
    valid = np.sum(~np.isnan(vals), axis=0)
    assert stats.sorted_percentile(vals, valid, 50).tolist() == [1.0, 1.0]
    assert stats.sorted_percentile(vals, valid, 25).tolist() == [0.5, 1.0]
    out = stats.sorted_percentile(np.full((2, 1), np.nan), np.array([0]), 50)
    assert np.isnan(out).all()


def test_codes_in_order_of_appearance_or_given_order():
    codes, order = stats.codes(["b", "a", "b", "c"])
    assert codes.tolist() == [0, 1, 0, 2] and order == ["b", "a", "c"]
    codes, order = stats.codes(["b", "x", "a"], ["a", "b"])
    assert codes.tolist() == [1, -1, 0] and order == ["a", "b"]
    assert stats.codes([])[0].tolist() == []
