"""Edges of the share and interval computations (components.stats and the label shares of
components.queries.thoughts that call it): exact intervals where every resample is the
same, a slow reference of the documented method (resample whole users with
``numpy.random.default_rng(seed)``, `stats._CHUNK` resamples per draw, linear-interpolated
2.5th / 97.5th percentiles, NaN resamples left out) compared value for value on small
designs, and permutation p-values that can be counted by hand. Written to kill the mutants
that mutmut left alive (tests/README.md)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from components import stats
from components.queries import thoughts as qt

# ------------------------------------------------------------------ slow references


def _draws(rng: np.random.Generator, n_boot: int, n_units: int):
    """The resamples, drawn as the module draws them: `_CHUNK` at a time."""
    for start in range(0, n_boot, stats._CHUNK):
        k = min(stats._CHUNK, n_boot - start)
        yield from rng.integers(0, n_units, size=(k, n_units))


def _pct(samples: np.ndarray, q: float) -> np.ndarray:
    """Linear percentile over axis 0, NaN resamples left out (all NaN: NaN)."""
    out = np.full(samples.shape[1:], np.nan)
    for index in np.ndindex(*samples.shape[1:]):
        col = samples[(slice(None), *index)]
        col = col[~np.isnan(col)]
        if col.size:
            out[index] = np.percentile(col, q)
    return out


def _shares(counts: np.ndarray) -> np.ndarray:
    tot = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, counts / tot, np.nan)


def reference_bootstrap_shares(cluster, stage, label, n_stages, n_labels, n_boot, seed):
    cluster, stage, label = map(np.asarray, (cluster, stage, label))
    n_cl = int(cluster.max()) + 1
    counts = np.zeros((n_stages, n_labels))
    np.add.at(counts, (stage, label), 1)
    share = _shares(counts)
    boot = []
    for draw in _draws(np.random.default_rng(seed), n_boot, n_cl):
        c = np.zeros((n_stages, n_labels))
        for unit in draw:  # every drawn user brings all their thoughts
            mine = cluster == unit
            np.add.at(c, (stage[mine], label[mine]), 1)
        boot.append(_shares(c))
    boot = np.array(boot)
    lo = np.where(np.isnan(share), np.nan, np.fmin(_pct(boot, 2.5), share))
    hi = np.where(np.isnan(share), np.nan, np.fmax(_pct(boot, 97.5), share))
    return counts, share, lo, hi


def reference_bootstrap_medians(cluster, group, values, n_groups, n_boot, seed):
    cluster, group, values = np.asarray(cluster), np.asarray(group), np.asarray(values, float)
    n_cl = int(cluster.max()) + 1
    med = np.array([np.median(values[group == g]) if np.any(group == g) else np.nan
                    for g in range(n_groups)])
    boot = np.full((n_boot, n_groups), np.nan)
    for b, draw in enumerate(_draws(np.random.default_rng(seed), n_boot, n_cl)):
        for g in range(n_groups):
            sample = np.concatenate([values[(cluster == u) & (group == g)] for u in draw])
            if sample.size:
                boot[b, g] = np.median(sample)
    lo = np.where(np.isnan(med), np.nan, np.fmin(_pct(boot, 2.5), med))
    hi = np.where(np.isnan(med), np.nan, np.fmax(_pct(boot, 97.5), med))
    return med, lo, hi


# ------------------------------------------------------------------ bootstrap_shares


def test_one_user_every_resample_is_that_user():
    # one user, 3 thoughts in stage 0 (labels 0, 0, 1) and 1 in stage 1 (label 2)
    counts, share, lo, hi = stats.bootstrap_shares(np.zeros(4), np.array([0, 0, 0, 1]),
                                                   np.array([0, 0, 1, 2]), 3, 3, n_boot=7)
    assert counts.tolist() == [[2, 1, 0], [0, 0, 1], [0, 0, 0]]
    assert share[0].tolist() == [2 / 3, 1 / 3, 0] and share[1].tolist() == [0, 0, 1]
    assert np.array_equal(lo[:2], share[:2]) and np.array_equal(hi[:2], share[:2])
    assert np.isnan(share[2]).all() and np.isnan(lo[2]).all() and np.isnan(hi[2]).all()


def test_identical_users_give_a_zero_width_interval():
    # users 0, 1, 2 each: label 0 then label 1 in stage 0 -> every resample 1/2, 1/2
    cluster = np.repeat([0, 1, 2], 2)
    counts, share, lo, hi = stats.bootstrap_shares(cluster, np.zeros(6), np.tile([0, 1], 3),
                                                   1, 2, n_boot=150)
    assert counts.tolist() == [[3, 3]]
    assert lo.tolist() == hi.tolist() == share.tolist() == [[0.5, 0.5]]


@pytest.mark.parametrize("n_boot", [1, 99, 100, 101, 250])
def test_bootstrap_shares_matches_the_slow_reference(n_boot):
    # 6 users with different mixes over 2 stages and 3 labels; user 5 only in stage 1,
    # so some resamples have an empty stage 0 (NaN there, left out of the percentiles)
    cluster = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4, 5, 5])
    stage = np.array([0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1])
    label = np.array([0, 1, 2, 0, 0, 2, 1, 1, 0, 2, 0, 2, 2])
    got = stats.bootstrap_shares(cluster, stage, label, 2, 3, n_boot=n_boot, seed=3)
    want = reference_bootstrap_shares(cluster, stage, label, 2, 3, n_boot, 3)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12)


def test_a_stage_empty_in_most_resamples_still_gets_an_interval():
    # user 0: 20 thoughts in stage 0; user 1..9: one stage-0 thought each; only user 9 has
    # a stage-1 thought: stage 1 is empty in about 35% of resamples
    cluster = np.r_[np.zeros(20, int), np.arange(1, 10), [9]]
    stage = np.r_[np.zeros(29, int), [1]]
    label = np.r_[np.zeros(20, int), np.ones(9, int), [1]]
    got = stats.bootstrap_shares(cluster, stage, label, 2, 2, n_boot=120, seed=1)
    want = reference_bootstrap_shares(cluster, stage, label, 2, 2, 120, 1)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12)
    assert got[2][1].tolist() == got[3][1].tolist() == [0.0, 1.0]  # one thought, label 1


def test_sorted_percentile_interpolates_between_neighbours():
    vals = np.sort(np.array([[0.0, 10.0], [1.0, 20.0], [3.0, np.nan], [7.0, np.nan]]), axis=0)
    valid = np.array([4, 2])
    # column 0 (4 values): q=2.5 -> pos 0.075 -> 0.075; q=97.5 -> pos 2.925 -> 3 + .925*4
    assert stats.sorted_percentile(vals, valid, 2.5) == pytest.approx([0.075, 10.25])
    assert stats.sorted_percentile(vals, valid, 97.5) == pytest.approx([6.7, 19.75])
    assert stats.sorted_percentile(vals, valid, 100).tolist() == [7.0, 20.0]
    assert stats.sorted_percentile(vals, valid, 0).tolist() == [0.0, 10.0]
    one = stats.sorted_percentile(np.array([[5.0], [np.nan]]), np.array([1]), 97.5)
    assert one.tolist() == [5.0]
    # a single valid value is every percentile, the 100th too (never the NaN after it)
    one = stats.sorted_percentile(np.array([[5.0], [np.nan]]), np.array([1]), 100)
    assert one.tolist() == [5.0]


def test_dense_codes_and_unknown_values():
    dense = stats.dense(["u7", "u3", "u7", "u1"])
    assert dense.tolist() == [0, 1, 0, 2] and dense.dtype == np.int64
    codes, order = stats.codes(np.array([3, 1, 3]))
    assert codes.tolist() == [0, 1, 0] and order == [3, 1] and codes.dtype == np.int64
    assert stats.codes(["a"], [])[0].tolist() == [-1]


# ------------------------------------------------------------------ medians


def test_bootstrap_medians_by_hand():
    # group 0: user 0 (1, 3) and user 1 (5): median 3; group 1: user 2 only (10, 20): 15;
    # group 2: nobody
    med, lo, hi = stats.bootstrap_medians(np.array([0, 0, 1, 2, 2]), np.array([0, 0, 0, 1, 1]),
                                          np.array([1.0, 3.0, 5.0, 10.0, 20.0]), 3, n_boot=200)
    assert med[:2].tolist() == [3.0, 15.0] and np.isnan(med[2])
    assert lo[1] == hi[1] == 15.0            # every resample holding user 2 has median 15
    assert np.isnan(lo[2]) and np.isnan(hi[2])
    # group 0 resamples: users {0,0}: 1,1,3,3 -> 2; {1,1}: 5; {0,1}: 1,3,5 -> 3 (etc.)
    assert lo[0] <= 3.0 <= hi[0] and hi[0] <= 5.0 and lo[0] >= 1.0
    none = stats.bootstrap_medians(np.zeros(0), np.zeros(0), np.zeros(0), 2)
    assert np.isnan(none[0]).all() and np.isnan(none[1]).all()
    no_boot = stats.bootstrap_medians(np.array([0, 1]), np.array([0, 0]), np.array([2.0, 4.0]),
                                      1, n_boot=0)
    assert no_boot[0].tolist() == no_boot[1].tolist() == no_boot[2].tolist() == [3.0]


@pytest.mark.parametrize("n_boot", [1, 100, 130])
def test_bootstrap_medians_matches_the_slow_reference(n_boot):
    cluster = np.array([0, 0, 1, 1, 1, 2, 3, 3, 4, 5])
    group = np.array([0, 1, 0, 0, 1, 1, 0, 0, 1, 0])
    values = np.array([4.0, 1.0, 2.0, 9.0, 7.0, 3.0, 5.0, 6.0, 8.0, 0.5])
    got = stats.bootstrap_medians(cluster, group, values, 2, n_boot=n_boot, seed=5)
    want = reference_bootstrap_medians(cluster, group, values, 2, n_boot, 5)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12)


def test_expanded_median_odd_even_and_empty():
    vals = np.array([1.0, 2.0, 4.0, 8.0])
    weights = np.array([[1, 1, 1, 0],    # 1 2 4 -> 2
                        [1, 1, 1, 1],    # 1 2 4 8 -> 3
                        [0, 0, 0, 2],    # 8 8 -> 8
                        [3, 0, 0, 1],    # 1 1 1 8 -> 1
                        [0, 0, 0, 0]])   # nothing -> NaN
    got = stats._expanded_median(vals, np.cumsum(weights, axis=1))
    assert got[:4].tolist() == [2.0, 3.0, 8.0, 1.0] and math.isnan(got[4])


# ------------------------------------------------------------------ Cramér's V, tests


def test_cramers_v_by_hand():
    assert stats.cramers_v(np.array([[5, 0], [0, 5]])) == pytest.approx(1.0)
    assert stats.cramers_v(np.array([[2, 4], [1, 2]])) == pytest.approx(0.0)
    # [[3, 1], [1, 3]]: expected 2 everywhere, chi2 = 4 * 1/2 = 2, V = sqrt(2 / 8)
    assert stats.cramers_v(np.array([[3, 1], [1, 3]])) == pytest.approx(0.5)
    # 3 x 3 with an empty row and column dropped first: [[4, 0], [0, 4]] -> 1
    assert stats.cramers_v(np.array([[4, 0, 0], [0, 0, 0], [0, 0, 4]])) == pytest.approx(1.0)
    # 2 x 3: [[2, 2, 0], [0, 0, 4]]: chi2 = 8, n = 8, min side 2 -> V = 1
    assert stats.cramers_v(np.array([[2, 2, 0], [0, 0, 4]])) == pytest.approx(1.0)
    assert math.isnan(stats.cramers_v(np.array([[1, 2]])))
    assert math.isnan(stats.cramers_v(np.zeros((2, 2))))


def test_chi2_rows_by_hand():
    # [a, total - a] with total [4, 4]: a = [3, 1] -> table [[3, 1], [1, 3]] -> chi2 2
    got = stats._chi2(np.array([[3.0, 1.0], [2.0, 2.0], [0.0, 0.0]]), np.array([4.0, 4.0]))
    assert got == pytest.approx([2.0, 0.0, 0.0])
    # a category empty in both groups contributes nothing
    assert stats._chi2(np.array([[3.0, 1.0, 0.0]]), np.array([4.0, 4.0, 0.0])) == \
        pytest.approx([2.0])


def test_permutation_test_counts_and_p_values_by_hand():
    # users 0..3, one thought each: labels 0, 0, 1, 1; group A = users 0, 1
    res = stats.permutation_test(np.arange(4), np.array([0, 0, 1, 1]),
                                 np.array([0, 0, 1, 1]), 2, n_perm=3000)
    assert (res["users_a"], res["users_b"], res["thoughts_a"], res["thoughts_b"]) == \
        (2, 2, 2, 2)
    assert res["cramers_v"] == pytest.approx(1.0) and res["n_perm"] == 3000
    # of the 6 ways to pick 2 of 4 users, 2 ({0,1} and {2,3}) are as extreme: p ~ 1/3
    assert res["p_value"] == pytest.approx(1 / 3, abs=0.03)
    # user 4 is in neither group (-1): same answer, its thought ignored
    res = stats.permutation_test(np.arange(5), np.array([0, 0, 1, 1, 0]),
                                 np.array([0, 0, 1, 1, -1]), 2, n_perm=3000)
    assert res["users_a"] + res["users_b"] == 4 and res["thoughts_b"] == 2
    assert res["p_value"] == pytest.approx(1 / 3, abs=0.03)
    # every user identical: every permutation ties with the observed: p = 1 exactly
    res = stats.permutation_test(np.arange(4), np.zeros(4, int), np.array([0, 1, 0, 1]), 2,
                                 n_perm=250)
    assert res["p_value"] == 1.0
    # 10 A users all label 0, 10 B users all label 1: only the observed split (1 of 184756)
    assert stats.permutation_test(np.arange(20), np.r_[np.zeros(10, int), np.ones(10, int)],
                                  np.r_[np.zeros(10, int), np.ones(10, int)], 2,
                                  n_perm=150)["p_value"] == pytest.approx(1 / 151)


def test_permutation_test_with_an_empty_group():
    res = stats.permutation_test(np.arange(3), np.array([0, 1, 1]), np.array([0, 0, 0]), 2)
    assert math.isnan(res["p_value"]) and res["users_b"] == 0 and res["thoughts_a"] == 3
    res = stats.permutation_test(np.arange(3), np.array([0, 1, 1]), np.array([1, 1, -1]), 2)
    assert math.isnan(res["p_value"]) and res["users_a"] == 0 and res["thoughts_b"] == 2


# ------------------------------------------------------------------ compare_subsets


def test_compare_subsets_intervals_match_the_slow_reference():
    # users 0..4; user 1 has items on both sides; items: (user, label, side)
    items = [(0, 0, 0), (0, 1, 0), (1, 0, 0), (1, 1, 1), (2, 1, 1), (2, 1, 1), (3, 0, 0),
             (4, 0, 1), (4, 1, 1), (4, 1, 1)]
    cluster, label, side = (np.array(x) for x in zip(*items))
    n_boot = 130
    res = stats.compare_subsets(cluster, label, side, 2, n_boot=n_boot, n_perm=0, seed=2)
    # A: labels 0 (users 0, 1, 3) and 1 (user 0); B: label 0 (user 4), label 1 (users 1,
    # 2, 2, 4, 4)
    assert res["counts_a"].tolist() == [3, 1] and res["counts_b"].tolist() == [1, 5]
    assert res["share_a"].tolist() == [0.75, 0.25]
    assert res["share_b"].tolist() == pytest.approx([1 / 6, 5 / 6])
    assert (res["users_a"], res["users_b"], res["users_both"]) == (3, 3, 1)
    rng = np.random.default_rng(2)
    boot = {"a": [], "b": [], "diff": []}
    for draw in _draws(rng, n_boot, 5):
        ca, cb = np.zeros(2), np.zeros(2)
        for u in draw:
            for cu, lab, s in items:
                if cu == u:
                    (ca if s == 0 else cb)[lab] += 1
        sa, sb = _shares(ca), _shares(cb)
        boot["a"].append(sa), boot["b"].append(sb), boot["diff"].append(sa - sb)
    for key, lo_key, hi_key, est in (("a", "lo_a", "hi_a", res["share_a"]),
                                     ("b", "lo_b", "hi_b", res["share_b"]),
                                     ("diff", "diff_lo", "diff_hi", res["diff"])):
        samples = np.array(boot[key])
        np.testing.assert_allclose(res[lo_key], np.fmin(_pct(samples, 2.5), est), atol=1e-12)
        np.testing.assert_allclose(res[hi_key], np.fmax(_pct(samples, 97.5), est), atol=1e-12)


def test_compare_subsets_without_resamples_and_with_unused_users():
    # user 1 has no item at all (ids 0 and 2 only): it is no unit and counts nowhere
    res = stats.compare_subsets(np.array([0, 2]), np.array([0, 1]), np.array([0, 1]), 2,
                                n_boot=0, n_perm=300)
    assert (res["users_a"], res["users_b"], res["users_both"]) == (1, 1, 0)
    assert res["lo_a"].tolist() == res["hi_a"].tolist() == [1.0, 0.0]
    assert res["lo_b"].tolist() == res["hi_b"].tolist() == [0.0, 1.0]
    assert res["diff_lo"].tolist() == res["diff_hi"].tolist() == [1.0, -1.0]
    assert res["p_value"] == 1.0    # 2 users, 1 in A: both splits are equally extreme
    assert (res["n_boot"], res["n_perm"]) == (0, 300)


def test_compare_subsets_p_value_floor_and_ties():
    # 8 A users all label 0, 8 B users all label 1: of the C(16, 8) = 12870 ways to pick
    # 8 users as A, only 2 (the observed and its mirror) are as extreme, so the 200
    # permutations hit none of them: p = (0 + 1) / (200 + 1)
    cluster = np.arange(16)
    label = np.r_[np.zeros(8, int), np.ones(8, int)]
    res = stats.compare_subsets(cluster, label, label, 2, n_boot=0, n_perm=200)
    assert res["p_value"] == pytest.approx(1 / 201)
    # one user on both sides, same labels in both parts: every swap ties: p = 1
    res = stats.compare_subsets(np.array([0, 0]), np.array([1, 1]), np.array([0, 1]), 2,
                                n_boot=0, n_perm=90)
    assert res["p_value"] == 1.0 and res["users_both"] == 1


# ------------------------------------------------------------------ compare_medians


def test_compare_medians_intervals_without_resamples_and_one_user_per_side():
    res = stats.compare_medians(np.array([0, 0, 1]), np.array([0, 0, 1]),
                                np.array([2.0, 4.0, 10.0]), n_boot=0, n_perm=50)
    assert (res["median_a"], res["median_b"], res["diff"]) == (3.0, 10.0, -7.0)
    assert (res["lo_a"], res["hi_a"], res["lo_b"], res["hi_b"]) == (3.0, 3.0, 10.0, 10.0)
    assert (res["diff_lo"], res["diff_hi"]) == (-7.0, -7.0)
    # 2 users, 1 in A: the two splits give |diff| 7 both: p = 1
    assert res["p_value"] == 1.0
    # every resample of a single user per side is that user: zero-width intervals
    res = stats.compare_medians(np.array([0, 0, 1]), np.array([0, 0, 1]),
                                np.array([2.0, 4.0, 10.0]), n_boot=120, n_perm=0)
    assert res["lo_a"] == res["hi_a"] == 3.0 and res["lo_b"] == res["hi_b"] == 10.0


def test_compare_medians_users_on_both_sides_swap_their_parts():
    # users 0, 1, 2, each with value 1 in A and value 5 in B; with k of them swapped A
    # holds k fives and 3 - k ones: k = 0, 1: medians 1 vs 5; k = 2, 3: 5 vs 1. |diff| is
    # 4 whatever the swaps, so every permutation ties with the observed: p = 1
    res = stats.compare_medians(np.repeat([0, 1, 2], 2), np.tile([0, 1], 3),
                                np.tile([1.0, 5.0], 3), n_boot=0, n_perm=64)
    assert res["users_both"] == 3 and res["diff"] == -4.0 and res["p_value"] == 1.0


# ------------------------------------------------------------------ label shares (queries)


LABELS = pl.DataFrame({"label": ["a", "b", "c", "x", "y"],
                       "kind": ["reason", "reason", "reason", "reaction", "reaction"]})


def test_with_shares_by_hand():
    # reasons: u1 a, a, b; u2 b; unknown label "zz" ignored; reactions: none
    rows = pl.DataFrame({"user_id": ["u1", "u1", "u1", "u2", "u2"],
                         "kind": ["reason"] * 5, "label": ["a", "a", "b", "b", "zz"]})
    out = qt.with_shares(LABELS, rows, n_boot=200)
    by = {r["label"]: r for r in out.iter_rows(named=True)}
    assert [by[k]["n"] for k in "abcxy"] == [2, 2, 0, 0, 0]
    assert [by[k]["share"] for k in "abc"] == [0.5, 0.5, 0.0]
    assert by["x"]["share"] is None and by["x"]["ci_lo"] is None and by["y"]["ci_hi"] is None
    assert by["a"]["n_users"] == 2 and by["x"]["n_users"] == 0
    # resamples {u1,u1}: a 2/3; {u2,u2}: a 0; {u1,u2}: 1/2 -> 0 and 2/3 are both seen
    assert (by["a"]["ci_lo"], by["a"]["ci_hi"]) == (0.0, pytest.approx(2 / 3))
    assert by["c"]["ci_lo"] == by["c"]["ci_hi"] == 0.0
    assert out["label"].to_list() == ["a", "b", "c", "x", "y"]
    assert out.schema["published_share"] == pl.Float64 and out.schema["ci_lo"] == pl.Float64
    assert out["published_share"].is_null().all()   # made-up labels: nothing published


def test_with_shares_intervals_are_the_bootstrap_of_its_users_with_the_seed():
    # 5 users over 3 reason labels; the interval is bootstrap_shares over these users
    rows = pl.DataFrame({"user_id": ["u1", "u1", "u2", "u3", "u3", "u3", "u4", "u5"],
                         "kind": ["reason"] * 8,
                         "label": ["a", "b", "b", "c", "a", "a", "b", "c"]})
    out = qt.with_shares(LABELS, rows, n_boot=60, seed=7)
    _, share, lo, hi = stats.bootstrap_shares(np.array([0, 0, 1, 2, 2, 2, 3, 4]),
                                              np.zeros(8, int), np.array([0, 1, 1, 2, 0, 0, 1, 2]),
                                              1, 3, n_boot=60, seed=7)
    reasons = out.filter(pl.col("kind") == "reason")
    assert reasons["share"].to_list() == pytest.approx(share[0].tolist())
    assert reasons["ci_lo"].to_list() == pytest.approx(lo[0].tolist())
    assert reasons["ci_hi"].to_list() == pytest.approx(hi[0].tolist())
    assert reasons["n_users"].to_list() == [5, 5, 5]
    assert not np.allclose(lo, share)    # a real interval: the seed matters


def test_with_shares_of_a_kind_without_published_shares():
    labels = pl.DataFrame({"label": ["p", "q"], "kind": ["other", "other"]})
    rows = pl.DataFrame({"user_id": ["u1"], "kind": ["other"], "label": ["q"]})
    out = qt.with_shares(labels, rows, n_boot=10)
    assert out["n"].to_list() == [0, 1] and out["share"].to_list() == [0.0, 1.0]
    assert out["published_share"].to_list() == [None, None]


def test_compute_stage_shares_by_hand():
    # two users; u1: c1 stage 0 a, stage 1 b; u2: c2 stage 0 a, a; label "q" not shown
    rows = pl.DataFrame({"user_id": ["u1", "u1", "u2", "u2", "u2"],
                         "conv_id": ["c1", "c1", "c2", "c2", "c2"],
                         "stage": [0, 1, 0, 0, 1], "label": ["a", "b", "a", "a", "q"]})
    out = qt.compute_stage_shares(rows, ["a", "b"], 3, n_boot=100)
    assert out["facet"].unique().to_list() == [qt.ALL_CONVERSATIONS]
    assert out["stage"].to_list() == [0, 0, 1, 1, 2, 2]
    assert out["label"].to_list() == ["a", "b"] * 3
    assert out["n"].to_list() == [3, 0, 0, 1, 0, 0]
    assert out["stage_total"].to_list() == [3, 3, 1, 1, 0, 0]
    assert out["share"].to_list() == [1.0, 0.0, 0.0, 1.0, None, None]
    assert out["n_conv"].to_list() == [2, 2, 1, 1, 0, 0]
    assert out["n_users"].to_list() == [2, 2, 1, 1, 0, 0]
    # stage 0 is all "a" in every resample; stage 1 only ever holds u1's "b"
    assert out["ci_lo"].to_list()[:4] == out["ci_hi"].to_list()[:4] == [1.0, 0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="user_id"):
        qt.compute_stage_shares(rows.drop("user_id"), ["a"], 2)


def test_compute_stage_shares_per_facet_in_the_given_order():
    rows = pl.DataFrame({"user_id": ["u1", "u2", "u3"], "conv_id": ["c1", "c2", "c3"],
                         "stage": [0, 0, 1], "label": ["a", "b", "a"],
                         "facet": ["F", "G", "F"]})
    out = qt.compute_stage_shares(rows, ["a", "b"], 2, facets=["G", "F", "H"], n_boot=50)
    assert out["facet"].to_list() == ["G"] * 4 + ["F"] * 4 + ["H"] * 4
    assert out["n"].to_list() == [0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]
    assert out["n_users"].to_list() == [1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    default = qt.compute_stage_shares(rows, ["a", "b"], 2, n_boot=0)
    assert default["facet"].unique(maintain_order=True).to_list() == ["F", "G"]
    empty = qt.compute_stage_shares(rows.clear(), ["a"], 2)
    assert empty["facet"].to_list() == [qt.ALL_CONVERSATIONS] * 2
    assert empty["n"].to_list() == [0, 0] and empty["share"].to_list() == [None, None]


def test_compute_stage_shares_without_resamples_and_without_facets():
    # u1: stage 0 a; u2: stage 0 b: a bootstrap would widen the interval; n_boot=0 must not
    rows = pl.DataFrame({"user_id": ["u1", "u2"], "conv_id": ["c1", "c2"], "stage": [0, 0],
                         "label": ["a", "b"]})
    out = qt.compute_stage_shares(rows, ["a", "b"], 1, n_boot=0)
    assert out["share"].to_list() == out["ci_lo"].to_list() == out["ci_hi"].to_list() == \
        [0.5, 0.5]
    wide = qt.compute_stage_shares(rows, ["a", "b"], 1, n_boot=50, seed=4)
    assert wide["ci_lo"].to_list() == [0.0, 0.0] and wide["ci_hi"].to_list() == [1.0, 1.0]
    none = qt.compute_stage_shares(rows, ["a", "b"], 1, facets=[])
    assert none.height == 0 and none.schema == pl.Schema(qt.SHARE_SCHEMA)


def test_compute_stage_shares_intervals_are_the_bootstrap_with_the_seed():
    rows = pl.DataFrame({"user_id": ["u1", "u1", "u2", "u3", "u3", "u4", "u5"],
                         "conv_id": ["c1", "c1", "c2", "c3", "c3", "c4", "c5"],
                         "stage": [0, 0, 0, 0, 0, 0, 0],
                         "label": ["a", "b", "b", "a", "a", "b", "a"]})
    out = qt.compute_stage_shares(rows, ["a", "b"], 1, n_boot=60, seed=7)
    _, share, lo, hi = stats.bootstrap_shares(np.array([0, 0, 1, 2, 2, 3, 4]),
                                              np.zeros(7, int), np.array([0, 1, 1, 0, 0, 1, 0]),
                                              1, 2, n_boot=60, seed=7)
    assert out["ci_lo"].to_list() == pytest.approx(lo[0].tolist())
    assert out["ci_hi"].to_list() == pytest.approx(hi[0].tolist())
    assert not np.allclose(lo, share)
