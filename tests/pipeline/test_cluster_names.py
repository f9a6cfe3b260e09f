"""Clusters of the shared sample with the real model: hdbscan scores and key-phrase names."""

from __future__ import annotations

import duckdb
import pytest

from precompute.embed import collect_items
from precompute.topics import NOISE_NAME, phrases_of


@pytest.mark.model
def test_sample_clusters_have_scores_and_phrase_names(sample_db):
    con = duckdb.connect(str(sample_db), read_only=True)
    clusters = con.execute("SELECT space, cluster_id, name, keywords, size FROM clusters"
                           ).fetchall()
    members = con.execute("SELECT space, item_id, cluster_id, probability, outlier_score "
                          "FROM cluster_members").fetchall()
    texts = collect_items(con).set_index("item_id")["text"]
    con.close()
    assert {s for s, *_ in clusters} == {"task", "reason", "reaction"}
    assert all(0 <= p <= 1 and o is not None and 0 <= o <= 1 for *_, p, o in members)
    assert all(p == 0 for _, _, c, p, _ in members if c == -1)
    named = [(s, c, n, k) for s, c, n, k, _ in clusters if c != -1]
    assert len(named) >= 5
    multi_word = 0
    for space, cid, name, keywords in named:
        phrases, kw = name.split(" · "), keywords.split(", ")
        assert 2 <= len(phrases) <= 3 and len(kw) <= 5 and kw[:len(phrases)] == phrases, name
        assert not any(set(a.split()) <= set(b.split())
                       for a in phrases for b in phrases if a != b), name
        # each phrase is representative: it occurs in at least 2 texts of the cluster
        cluster_texts = [texts[i] or "" for s, i, c, *_ in members if s == space and c == cid]
        for phrase in phrases:
            assert sum(phrase in phrases_of(t) for t in cluster_texts) >= 2, (name, phrase)
        multi_word += sum(" " in p for p in phrases)
    assert multi_word >= 5      # names are phrases, not only single frequent words
    assert {n for s, c, n, *_ in clusters if c == -1} == {NOISE_NAME}
