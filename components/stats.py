"""Statistics that respect the study's design (pure numpy; no queries, no plotting).

Every user talked to exactly one model and had about two conversations, so the
conversations (and thoughts) of one user are not independent. Intervals therefore come
from a **cluster bootstrap over users**: a resample draws users with replacement and
keeps all their thoughts (`bootstrap_shares`); tests **permute users** between two groups
(`permutation_test`). Both are seeded, so a figure is reproducible. `METHOD` is the
sentence every figure with intervals prints in its note.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Resamples and seed of every interval the app draws; permutations of every test.
N_BOOT = 1000
N_PERM = 2000
SEED = 0
#: Resamples are drawn this many at a time (bounds memory at 10x: ~10k users).
_CHUNK = 100
METHOD = (f"95% intervals: bootstrap over users ({N_BOOT:,} resamples of whole users, "
          f"seed {SEED})")


def bootstrap_shares(cluster: np.ndarray, stage: np.ndarray, label: np.ndarray,
                     n_stages: int, n_labels: int, n_boot: int = N_BOOT, seed: int = SEED
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Label shares per stage and their 95% bootstrap interval, resampling clusters.

    Args:
        cluster: cluster index (0..n_clusters-1) of each thought: the unit that is
            resampled whole, with all its thoughts (the app passes the user).
        stage, label: 0-based stage and label index of each thought.

    Returns:
        ``(counts, share, lo, hi)``, each of shape (n_stages, n_labels): thought counts, the
        point estimate (count / thoughts in the stage; NaN for an empty stage) and the 2.5th
        and 97.5th percentiles of the same ratio over ``n_boot`` resamples of whole
        clusters (with replacement, ``numpy.random.default_rng(seed)``); the interval
        always contains the estimate.
    """
    cells = n_stages * n_labels
    cluster = np.asarray(cluster, dtype=np.int64)
    n_cl = int(cluster.max()) + 1 if cluster.size else 0
    flat = np.asarray(stage, dtype=np.int64) * n_labels + np.asarray(label, dtype=np.int64)
    per_cl = np.bincount(cluster * cells + flat, minlength=n_cl * cells
                         ).reshape(n_cl, cells).astype(np.float64)
    counts = per_cl.sum(axis=0).reshape(n_stages, n_labels)
    share = _ratio(counts)
    if n_cl == 0 or n_boot <= 0:
        return counts, share, share.copy(), share.copy()
    rng = np.random.default_rng(seed)
    bshare = np.empty((n_boot, n_stages, n_labels), dtype=np.float64)
    for start in range(0, n_boot, _CHUNK):
        k = min(_CHUNK, n_boot - start)
        weights = times_drawn(rng.integers(0, n_cl, size=(k, n_cl)), n_cl).astype(np.float64)
        bshare[start:start + k] = _ratio((weights @ per_cl).reshape(k, n_stages, n_labels))
    # Percentiles ignoring resamples in which a stage happened to be empty.
    lo, hi = _band(np.sort(bshare, axis=0), share, np.minimum, np.maximum)
    return counts, share, lo, hi


def times_drawn(draws: np.ndarray, n: int) -> np.ndarray:
    """For each row of ``draws`` (k resamples of indices in 0..n-1), how many times each
    index was drawn: a (k, n) matrix of bootstrap weights."""
    k = draws.shape[0]
    return np.bincount((draws + np.arange(k)[:, None] * n).ravel(),
                       minlength=k * n).reshape(k, n)


def _band(boot: np.ndarray, est: np.ndarray, lower: Any = np.fmin,
          upper: Any = np.fmax) -> tuple[np.ndarray, np.ndarray]:
    """The 95% percentile interval of resamples ``boot`` (sorted along axis 0, NaN last,
    NaN resamples left out), widened to hold the estimate ``est`` (``lower``/``upper``:
    np.fmin/np.fmax, or np.minimum/np.maximum to keep a NaN bound); NaN where ``est``
    is."""
    valid = np.sum(~np.isnan(boot), axis=0)
    lo = sorted_percentile(boot, valid, 2.5)
    hi = sorted_percentile(boot, valid, 97.5)
    return (np.where(np.isnan(est), np.nan, lower(lo, est)),
            np.where(np.isnan(est), np.nan, upper(hi, est)))


def _ratio(counts: np.ndarray) -> np.ndarray:
    """Counts over their total along the last axis (NaN where the total is 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        tot = counts.sum(axis=-1, keepdims=True)
        return np.where(tot > 0, counts / np.where(tot > 0, tot, 1), np.nan)


def sorted_percentile(sorted_vals: np.ndarray, valid: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolated percentile along axis 0 of NaN-last sorted values."""
    pos = (np.maximum(valid, 1) - 1) * q / 100.0
    lo_i = np.floor(pos).astype(np.int64)
    hi_i = np.minimum(lo_i + 1, np.maximum(valid - 1, 0))
    frac = pos - lo_i
    a = np.take_along_axis(sorted_vals, lo_i[None], axis=0)[0]
    b = np.take_along_axis(sorted_vals, hi_i[None], axis=0)[0]
    out = a + (b - a) * frac
    return np.where(valid > 0, out, np.nan)


def codes(values: Sequence | np.ndarray, order: Sequence | None = None
          ) -> tuple[np.ndarray, list]:
    """Integer codes of ``values`` (0..k-1) and the k distinct values: in ``order`` when
    given (values outside it get -1), else in order of first appearance."""
    if order is None:
        order = list(dict.fromkeys(values))
    index = {v: i for i, v in enumerate(order)}
    return np.fromiter((index.get(v, -1) for v in values), dtype=np.int64,
                       count=len(values)), list(order)


def dense(values: Sequence | np.ndarray) -> np.ndarray:
    """Codes 0..k-1 of ``values`` (first appearance order): cluster ids for the bootstrap."""
    return codes(values)[0]


# --------------------------------------------------------------------------- two groups

def cramers_v(table: np.ndarray) -> float:
    """Cramér's V of a contingency table (rows: groups, columns: categories); NaN when a
    margin is degenerate. 0 = same distribution, 1 = the groups share no category."""
    table = np.asarray(table, dtype=np.float64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    n = table.sum()
    if n == 0 or min(table.shape) < 2:
        return float("nan")
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))


def _per_cluster(cluster: np.ndarray, label: np.ndarray, n_cl: int, n_labels: int
                 ) -> np.ndarray:
    return np.bincount(cluster * n_labels + label, minlength=n_cl * n_labels
                       ).reshape(n_cl, n_labels).astype(np.float64)


def _chi2(a: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Chi-square of the 2 x L tables [a_i, total - a_i] for each row a_i of ``a``
    (categories empty in both groups contribute nothing)."""
    b = total[None] - a
    n = total.sum()
    col = total[None]
    rows = np.stack([a.sum(axis=1), b.sum(axis=1)], axis=1)  # (k, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        ea = rows[:, :1] * col / n
        eb = rows[:, 1:] * col / n
        terms = np.where(ea > 0, (a - ea) ** 2 / ea, 0) + np.where(eb > 0, (b - eb) ** 2 / eb, 0)
    return terms.sum(axis=1)


def permutation_test(cluster: np.ndarray, label: np.ndarray, group: np.ndarray,
                     n_labels: int, n_perm: int = N_PERM, seed: int = SEED) -> dict:
    """Do two groups of users differ in their label distribution? A permutation test that
    permutes **users** between the groups (a user's thoughts move together).

    Args:
        cluster: user index (0..n_users-1) of each thought.
        label: label index (0..n_labels-1) of each thought.
        group: per user (length n_users): 0 = group A, 1 = group B; -1 = in neither.

    Returns:
        ``{"cramers_v": effect size of the observed A-vs-B table, "p_value": share of
        permutations (plus the observed one) with a chi-square at least the observed,
        "n_perm", "users_a", "users_b", "thoughts_a", "thoughts_b"}``; p_value is NaN
        when a group is empty.
    """
    cluster = np.asarray(cluster, dtype=np.int64)
    label = np.asarray(label, dtype=np.int64)
    group = np.asarray(group, dtype=np.int64)
    n_cl = len(group)
    per = _per_cluster(cluster, label, n_cl, n_labels)
    members = np.flatnonzero(group >= 0)
    g = group[members]
    per = per[members]
    n_a = int((g == 0).sum())

    observed_mask = g == 0
    table = np.vstack([per[observed_mask].sum(axis=0), per[~observed_mask].sum(axis=0)])
    out = {"cramers_v": cramers_v(table), "n_perm": n_perm, "users_a": n_a,
           "users_b": int(len(g) - n_a), "thoughts_a": int(table[0].sum()),
           "thoughts_b": int(table[1].sum())}
    if n_a == 0 or n_a == len(g):
        return {**out, "p_value": float("nan")}
    total = per.sum(axis=0)
    observed = _chi2(table[0][None], total)[0]
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_perm, _CHUNK):
        k = min(_CHUNK, n_perm - start)
        # each row: a random set of n_a users as group A (a permutation of the labels)
        order = np.argsort(rng.random((k, len(g))), axis=1)[:, :n_a]
        masks = np.zeros((k, len(g)))
        np.put_along_axis(masks, order, 1.0, axis=1)
        hits += int((_chi2(masks @ per, total) >= observed - 1e-9).sum())
    return {**out, "p_value": (hits + 1) / (n_perm + 1)}


# --------------------------------------------------------------------------- medians

def _expanded_median(sorted_vals: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Per row of ``cum`` (cumulative integer weights over ``sorted_vals``): the median of
    the sample in which value i appears weight_i times (the mean of the two middle values
    for an even total, as ``numpy.median``); NaN for a row with no weight."""
    total = cum[:, -1]
    lo_pos = np.maximum(total - 1, 0) // 2
    hi_pos = total // 2
    lo_i = np.minimum((cum <= lo_pos[:, None]).sum(axis=1), len(sorted_vals) - 1)
    hi_i = np.minimum((cum <= hi_pos[:, None]).sum(axis=1), len(sorted_vals) - 1)
    out = (sorted_vals[lo_i] + sorted_vals[hi_i]) / 2.0
    return np.where(total > 0, out, np.nan)


def bootstrap_medians(cluster: np.ndarray, group: np.ndarray, values: np.ndarray,
                      n_groups: int, n_boot: int = N_BOOT, seed: int = SEED
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The median of ``values`` per group and its 95% bootstrap interval, resampling
    clusters (the app passes users) whole, as `bootstrap_shares` does.

    Args:
        cluster: cluster index (0..n_clusters-1) of each value.
        group: group index (0..n_groups-1) of each value.
        values: the values (finite floats; drop the others first).

    Returns:
        ``(median, lo, hi)``, each of shape (n_groups,): ``numpy.median`` of the group's
        values (NaN for an empty group) and the 2.5th and 97.5th percentiles of the same
        median over ``n_boot`` resamples of whole clusters (with replacement, the draws of
        ``numpy.random.default_rng(seed)``; a resample in which the group is empty is left
        out); the interval always contains the estimate.
    """
    cluster = np.asarray(cluster, dtype=np.int64)
    group = np.asarray(group, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    median = np.array([np.median(values[group == g]) if np.any(group == g) else np.nan
                       for g in range(n_groups)], dtype=np.float64)
    n_cl = int(cluster.max()) + 1 if cluster.size else 0
    if n_cl == 0 or n_boot <= 0:
        return median, median.copy(), median.copy()
    members = []
    for g in range(n_groups):
        idx = np.flatnonzero(group == g)
        idx = idx[np.argsort(values[idx], kind="stable")]
        members.append((cluster[idx], values[idx]))
    rng = np.random.default_rng(seed)
    boot = np.full((n_boot, n_groups), np.nan, dtype=np.float64)
    for start in range(0, n_boot, _CHUNK):
        k = min(_CHUNK, n_boot - start)
        weights = times_drawn(rng.integers(0, n_cl, size=(k, n_cl)), n_cl)
        for g, (cl, vals) in enumerate(members):
            if len(vals):
                boot[start:start + k, g] = _expanded_median(vals, np.cumsum(weights[:, cl],
                                                                            axis=1))
    lo, hi = _band(np.sort(boot, axis=0), median)  # NaN sort last
    return median, lo, hi


# --------------------------------------------------------------------------- A against B

def compare_subsets(cluster: np.ndarray, label: np.ndarray, side: np.ndarray,
                    n_labels: int, n_boot: int = N_BOOT, n_perm: int = N_PERM,
                    seed: int = SEED) -> dict:
    """Subset A against subset B: the label shares of each, their difference, user-level
    95% intervals of all three, Cramér's V and a permutation test that permutes users.

    The unit is the user (``cluster``): a user may have items on both sides (two
    conversations, one in each subset); the items themselves are disjoint (an item is in
    A or in B). Intervals resample the users of A ∪ B with replacement, each with all their
    items on both sides, so a user in both subsets moves as one. The test keeps what the
    design fixes: users whose items are all on one side are permuted between A and B (as
    many stay in A as were observed), and a user with items on both sides swaps their two
    parts with probability 1/2; the statistic is the chi-square of the 2 x labels table.

    Args:
        cluster: user index (0..n_users-1) of each item.
        label: label index (0..n_labels-1) of each item.
        side: 0 (A) or 1 (B) of each item.

    Returns:
        ``{"counts_a", "counts_b"}`` (n_labels,), ``{"share_a", "lo_a", "hi_a", "share_b",
        "lo_b", "hi_b", "diff", "diff_lo", "diff_hi"}`` (n_labels,; diff = A - B),
        ``"cramers_v"``, ``"p_value"`` (NaN when a side is empty or nothing can move),
        ``"n_perm"``, ``"n_boot"``, ``"users_a"``, ``"users_b"``, ``"users_both"``,
        ``"items_a"``, ``"items_b"``.
    """
    cluster = np.asarray(cluster, dtype=np.int64)
    label = np.asarray(label, dtype=np.int64)
    side = np.asarray(side, dtype=np.int64)
    n_cl = int(cluster.max()) + 1 if cluster.size else 0
    per_a = _per_cluster(cluster[side == 0], label[side == 0], n_cl, n_labels)
    per_b = _per_cluster(cluster[side == 1], label[side == 1], n_cl, n_labels)
    in_a, in_b = per_a.sum(axis=1) > 0, per_b.sum(axis=1) > 0
    keep = in_a | in_b
    per_a, per_b, in_a, in_b = per_a[keep], per_b[keep], in_a[keep], in_b[keep]
    counts_a, counts_b = per_a.sum(axis=0), per_b.sum(axis=0)
    share_a, share_b = _ratio(counts_a), _ratio(counts_b)
    out = {"counts_a": counts_a.astype(np.int64), "counts_b": counts_b.astype(np.int64),
           "share_a": share_a, "share_b": share_b, "diff": share_a - share_b,
           "cramers_v": cramers_v(np.vstack([counts_a, counts_b])),
           "n_boot": n_boot, "n_perm": n_perm,
           "users_a": int(in_a.sum()), "users_b": int(in_b.sum()),
           "users_both": int((in_a & in_b).sum()),
           "items_a": int(counts_a.sum()), "items_b": int(counts_b.sum())}
    n_units = len(per_a)
    rng = np.random.default_rng(seed)
    # --- intervals: resample the users of A ∪ B
    if n_units and n_boot > 0:
        boot = np.empty((3, n_boot, n_labels), dtype=np.float64)
        for start in range(0, n_boot, _CHUNK):
            k = min(_CHUNK, n_boot - start)
            w = times_drawn(rng.integers(0, n_units, size=(k, n_units)),
                            n_units).astype(np.float64)
            sa, sb = _ratio(w @ per_a), _ratio(w @ per_b)
            boot[0, start:start + k], boot[1, start:start + k] = sa, sb
            boot[2, start:start + k] = sa - sb
        boot = np.sort(boot, axis=1)
        for i, (name, est) in enumerate((("a", share_a), ("b", share_b), ("diff", None))):
            est = out["diff"] if name == "diff" else est
            key_lo, key_hi = ("diff_lo", "diff_hi") if name == "diff" else (f"lo_{name}",
                                                                            f"hi_{name}")
            out[key_lo], out[key_hi] = _band(boot[i], est)
    else:
        for key, est in (("a", share_a), ("b", share_b)):
            out[f"lo_{key}"], out[f"hi_{key}"] = est.copy(), est.copy()
        out["diff_lo"], out["diff_hi"] = out["diff"].copy(), out["diff"].copy()
    # --- test: permute single-side users, swap the parts of users on both sides
    pure = np.flatnonzero(in_a ^ in_b)
    mixed = np.flatnonzero(in_a & in_b)
    n_pure_a = int(in_a[pure].sum())
    movable = (0 < n_pure_a < len(pure)) or len(mixed) > 0
    if not out["items_a"] or not out["items_b"] or not movable:
        return {**out, "p_value": float("nan")}
    pure_tot = per_a[pure] + per_b[pure]          # a pure user's items (one side is 0)
    mix_a, mix_b = per_a[mixed], per_b[mixed]
    total = counts_a + counts_b
    observed = _chi2(counts_a[None], total)[0]
    hits = 0
    for start in range(0, n_perm, _CHUNK):
        k = min(_CHUNK, n_perm - start)
        a_rows = np.zeros((k, n_labels))
        if len(pure):
            order = np.argsort(rng.random((k, len(pure))), axis=1)[:, :n_pure_a]
            masks = np.zeros((k, len(pure)))
            np.put_along_axis(masks, order, 1.0, axis=1)
            a_rows += masks @ pure_tot
        if len(mixed):
            swap = (rng.random((k, len(mixed))) < 0.5).astype(np.float64)
            a_rows += (1.0 - swap) @ mix_a + swap @ mix_b
        hits += int((_chi2(a_rows, total) >= observed - 1e-9).sum())
    return {**out, "p_value": (hits + 1) / (n_perm + 1)}


def compare_medians(cluster: np.ndarray, side: np.ndarray, values: np.ndarray,
                    n_boot: int = N_BOOT, n_perm: int = N_PERM, seed: int = SEED) -> dict:
    """Subset A against subset B on a number (a distance): the median of each, the
    difference A - B, user-level 95% intervals of the three, and the permutation test of
    `compare_subsets` (single-side users permuted, a user on both sides swapping their
    parts) on |median A - median B|.

    Args:
        cluster: user index (0..n_users-1) of each value.
        side: 0 (A) or 1 (B) of each value.
        values: the values (finite; drop the others first).

    Returns:
        ``{"median_a", "lo_a", "hi_a", "median_b", "lo_b", "hi_b", "diff", "diff_lo",
        "diff_hi", "p_value", "n_a", "n_b", "users_a", "users_b", "users_both", "n_boot",
        "n_perm"}`` (floats; NaN where a side is empty).
    """
    cluster = np.asarray(cluster, dtype=np.int64)
    side = np.asarray(side, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    cluster, side, values = cluster[order], side[order], values[order]
    n_cl = int(cluster.max()) + 1 if cluster.size else 0
    in_a = np.bincount(cluster[side == 0], minlength=n_cl) > 0
    in_b = np.bincount(cluster[side == 1], minlength=n_cl) > 0

    def medians(weights_a: np.ndarray, weights_b: np.ndarray) -> tuple[np.ndarray, ...]:
        ma = _expanded_median(values, np.cumsum(weights_a, axis=1)) if values.size else \
            np.full(len(weights_a), np.nan)
        mb = _expanded_median(values, np.cumsum(weights_b, axis=1)) if values.size else \
            np.full(len(weights_b), np.nan)
        return ma, mb

    is_a, is_b = (side == 0).astype(np.int64), (side == 1).astype(np.int64)
    ma, mb = medians(is_a[None], is_b[None])
    out = {"median_a": float(ma[0]), "median_b": float(mb[0]),
           "diff": float(ma[0] - mb[0]), "n_a": int(is_a.sum()), "n_b": int(is_b.sum()),
           "users_a": int(in_a.sum()), "users_b": int(in_b.sum()),
           "users_both": int((in_a & in_b).sum()), "n_boot": n_boot, "n_perm": n_perm}
    rng = np.random.default_rng(seed)
    # resamples per chunk: about 2 million weights at a time, whatever the size
    chunk = max(1, min(_CHUNK, 2_000_000 // max(len(values), 1)))
    # --- intervals: resample the users of A ∪ B, each with all their values
    units = np.flatnonzero(in_a | in_b)
    boot = np.full((3, max(n_boot, 0)), np.nan)
    if len(units) and n_boot > 0:
        for start in range(0, n_boot, chunk):
            k = min(chunk, n_boot - start)
            draws = units[rng.integers(0, len(units), size=(k, len(units)))]
            w = times_drawn(draws, n_cl)[:, cluster]
            ba, bb = medians(w * is_a, w * is_b)
            boot[0, start:start + k], boot[1, start:start + k] = ba, bb
            boot[2, start:start + k] = ba - bb
    for i, (lo_key, hi_key, est) in enumerate((("lo_a", "hi_a", out["median_a"]),
                                               ("lo_b", "hi_b", out["median_b"]),
                                               ("diff_lo", "diff_hi", out["diff"]))):
        col = boot[i][~np.isnan(boot[i])]
        if math.isnan(est) or not col.size:
            out[lo_key] = out[hi_key] = est
        else:
            out[lo_key] = min(float(np.percentile(col, 2.5)), est)
            out[hi_key] = max(float(np.percentile(col, 97.5)), est)
    # --- test
    pure = np.flatnonzero(in_a ^ in_b)
    mixed = np.flatnonzero(in_a & in_b)
    n_pure_a = int(in_a[pure].sum())
    movable = (0 < n_pure_a < len(pure)) or len(mixed) > 0
    if not out["n_a"] or not out["n_b"] or not movable:
        return {**out, "p_value": float("nan")}
    observed = abs(out["diff"])
    pos = np.full(n_cl, -1)
    pos[pure], pos[mixed] = np.arange(len(pure)), np.arange(len(mixed))
    item_pure = np.isin(cluster, pure)
    hits = 0
    for start in range(0, n_perm, chunk):
        k = min(chunk, n_perm - start)
        to_a = np.zeros((k, len(values)), dtype=np.int64)
        if len(pure):
            chosen = np.argsort(rng.random((k, len(pure))), axis=1)[:, :n_pure_a]
            pure_a = np.zeros((k, len(pure)), dtype=np.int64)
            np.put_along_axis(pure_a, chosen, 1, axis=1)
            to_a[:, item_pure] = pure_a[:, pos[cluster[item_pure]]]
        if len(mixed):
            swap = (rng.random((k, len(mixed))) < 0.5).astype(np.int64)
            sw = swap[:, pos[cluster[~item_pure]]]
            mside = is_a[~item_pure][None]
            to_a[:, ~item_pure] = mside * (1 - sw) + (1 - mside) * sw
        pa, pb = medians(to_a, 1 - to_a)
        hits += int((np.abs(pa - pb) >= observed - 1e-12).sum())
    return {**out, "p_value": (hits + 1) / (n_perm + 1)}
