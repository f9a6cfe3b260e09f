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


# ------------------------------------------------------------------ A against B

def test_compare_subsets_by_hand():
    """A: users 0 (labels 0, 0, 1) and 1 (label 1); B: user 2 (labels 1, 1). Shares A =
    (2/4, 2/4), B = (0, 1); difference (+0.5, -0.5); V of [[2, 2], [0, 2]] by hand."""
    res = stats.compare_subsets(np.array([0, 0, 0, 1, 2, 2]), np.array([0, 0, 1, 1, 1, 1]),
                                np.array([0, 0, 0, 0, 1, 1]), 2, n_boot=200, n_perm=200)
    assert res["counts_a"].tolist() == [2, 2] and res["counts_b"].tolist() == [0, 2]
    assert res["share_a"].tolist() == [0.5, 0.5] and res["share_b"].tolist() == [0.0, 1.0]
    assert res["diff"].tolist() == [0.5, -0.5]
    # chi2 of [[2,2],[0,2]]: expected [[4/3, 8/3], [2/3, 4/3]] -> 1.5; V = sqrt(1.5 / 6)
    assert res["cramers_v"] == pytest.approx((1.5 / 6) ** 0.5)
    assert (res["users_a"], res["users_b"], res["users_both"]) == (2, 1, 0)
    assert (res["items_a"], res["items_b"]) == (4, 2)
    for key in ("a", "b"):
        assert np.all(res[f"lo_{key}"] <= res[f"share_{key}"])
        assert np.all(res[f"share_{key}"] <= res[f"hi_{key}"])
    assert np.all(res["diff_lo"] <= res["diff"]) and np.all(res["diff"] <= res["diff_hi"])
    # 3 users, 2 of them in A: 3 ways to pick A; the observed table is the most extreme
    # of them (the other two give chi2 <= 1.5 too: p counts ties), so p is not tiny
    assert 0.3 < res["p_value"] <= 1.0


def test_compare_subsets_permutes_users_not_thoughts():
    """One A user with 40 thoughts of label 0 against 40 B users with one thought each
    (label 0 for half, 1 for the others): counted by thoughts the table is far from
    independence (chi-square 26.7, p < 1e-6), but A is one user, and a permutation of
    users makes the big user A in 1 of 41 draws (no single-thought user is as extreme):
    p ~ 1/41, not the 1/(n_perm + 1) that permuting thoughts would give."""
    cluster = np.array([0] * 40 + list(range(1, 41)))
    label = np.array([0] * 40 + [0, 1] * 20)
    side = np.array([0] * 40 + [1] * 40)
    res = stats.compare_subsets(cluster, label, side, 2, n_boot=300, n_perm=4000)
    assert res["share_a"].tolist() == [1.0, 0.0]
    assert res["p_value"] == pytest.approx(1 / 41, abs=0.008)
    # two groups of 20 users each with clearly different labels: p at its floor
    cluster = np.arange(40)
    label = np.array([0] * 20 + [1] * 20)
    res = stats.compare_subsets(cluster, label, np.array([0] * 20 + [1] * 20), 2,
                                n_perm=500)
    assert res["p_value"] == pytest.approx(1 / 501)
    assert res["diff_lo"][0] > 0.8


def test_compare_subsets_users_on_both_sides_swap_their_parts():
    """Users with items on both sides: the test may only swap a user's two parts. Three
    such users, each label 0 in A and label 1 in B: 2^3 = 8 equally likely swaps, of
    which 2 (none or all swapped) are as extreme as observed: p ~ 2/8."""
    cluster = np.array([0, 0, 1, 1, 2, 2])
    label = np.array([0, 1, 0, 1, 0, 1])
    side = np.array([0, 1, 0, 1, 0, 1])
    res = stats.compare_subsets(cluster, label, side, 2, n_perm=4000)
    assert res["users_both"] == 3 and res["users_a"] == 3 and res["users_b"] == 3
    assert res["p_value"] == pytest.approx(0.25, abs=0.03)


def test_compare_subsets_degenerate_cases():
    """No B at all, or nothing that can move (one pure user per side is movable; a single
    user on one side only is not): NaN p-value, never an error."""
    res = stats.compare_subsets(np.array([0, 1]), np.array([0, 1]), np.array([0, 0]), 2)
    assert np.isnan(res["p_value"]) and res["items_b"] == 0
    assert np.isnan(res["share_b"]).all()
    res = stats.compare_subsets(np.array([0, 1]), np.array([0, 1]), np.array([0, 1]), 2,
                                n_perm=100)
    assert res["p_value"] == pytest.approx(1.0)  # 2 users: both splits equally extreme
    empty = stats.compare_subsets(np.array([], dtype=int), np.array([], dtype=int),
                                  np.array([], dtype=int), 3)
    assert empty["items_a"] == 0 and np.isnan(empty["p_value"])


def test_compare_medians_by_hand():
    """A: users 0 (1, 3) and 1 (5) -> median 3; B: user 2 (10, 12) -> median 11. Three
    users, two in A: of the 3 splits, {0,1} and {1,2} give |diff| = 8 (the observed), {0,2}
    gives 1.5: p ~ 2/3."""
    res = stats.compare_medians(np.array([0, 0, 1, 2, 2]), np.array([0, 0, 0, 1, 1]),
                                np.array([1.0, 3, 5, 10, 12]), n_boot=300, n_perm=3000)
    assert (res["median_a"], res["median_b"], res["diff"]) == (3.0, 11.0, -8.0)
    assert (res["n_a"], res["n_b"], res["users_a"], res["users_b"]) == (3, 2, 2, 1)
    assert res["lo_a"] <= 3.0 <= res["hi_a"] and res["diff_lo"] <= -8.0 <= res["diff_hi"]
    assert res["lo_b"] == res["hi_b"] == 11.0  # one user in B: every resample is theirs
    assert res["p_value"] == pytest.approx(2 / 3, abs=0.03)


def test_compare_medians_separated_groups_and_empty_side():
    cluster = np.arange(60)
    values = np.r_[np.full(30, 1.0), np.full(30, 2.0)] + np.linspace(0, 0.1, 60)
    res = stats.compare_medians(cluster, np.r_[np.zeros(30), np.ones(30)].astype(int), values,
                                n_perm=400)
    assert res["p_value"] == pytest.approx(1 / 401) and res["diff_hi"] < 0
    res = stats.compare_medians(np.array([0, 1]), np.array([0, 0]), np.array([1.0, 2.0]))
    assert np.isnan(res["median_b"]) and np.isnan(res["p_value"])
