"""Semantic search and similar thoughts (`components.queries.search`): the project's one
nearest-neighbour implementation over the stored vectors — `VectorIndex`, `search` (a
query vector, restricted to conversations and kinds) and `similar` (a stored item's
neighbours, itself excluded)."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from components.queries import search
from precompute.embed import EmbedError
from tests.corpus import HashingEmbedder
from tests.queries.test_conversations import build_small

COLUMNS = ["item_id", "kind", "label", "conv_id", "turn", "score"]
#: user messages + thoughts of `small_corpus`, counted by hand (2+1+3+1+4 and 4+2+5+2+6)
N_USER_MESSAGES, N_THOUGHTS = 11, 19


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return build_small(tmp_path_factory.mktemp("search"), embed=True)


@pytest.fixture(scope="module")
def index(db) -> search.VectorIndex:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return search.load_index(con)
    finally:
        con.close()


def _thought_id(db, conv_id: str, turn: int) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT thought_id FROM thoughts WHERE conv_id = ? AND turn = ? "
                           "ORDER BY idx LIMIT 1", [conv_id, turn]).fetchall()[0][0]
    finally:
        con.close()


def test_embedding_info_and_the_index(db, index):
    con = duckdb.connect(str(db), read_only=True)
    try:
        info = search.embedding_info(con)
    finally:
        con.close()
    assert info == {"available": True, "model": HashingEmbedder.model_name, "dim": 384,
                    "n_items": N_USER_MESSAGES + N_THOUGHTS}
    assert len(index) == N_USER_MESSAGES + N_THOUGHTS and index.model == info["model"]
    assert set(index.kinds) == {"reason", "reaction", "user_message"}
    assert (index.kinds == "user_message").sum() == N_USER_MESSAGES
    assert index.matrix.shape == (len(index), 384) and index.matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(index.matrix, axis=1), 1.0, atol=1e-5)
    assert index.row("m:user2_task1_conversation1:1") is not None
    assert index.row("m:nope:1") is None


def test_without_embeddings_there_is_nothing_to_load(tmp_path):
    plain = build_small(tmp_path)
    con = duckdb.connect(str(plain), read_only=True)
    try:
        assert search.embedding_info(con) == {"available": False, "model": None, "dim": None,
                                              "n_items": 0}
        with pytest.raises(EmbedError):
            search.load_index(con)
    finally:
        con.close()


def test_search_returns_the_expected_item_best_first(db, index):
    query = HashingEmbedder().vector("quantum tunnelling particles barriers")
    hits = search.search(index, query, k=20)
    assert isinstance(hits, pl.DataFrame) and hits.columns == COLUMNS
    assert hits.height == 20
    top = hits.row(0, named=True)
    # the reaction "Quantum tunnelling is when particles pass barriers." shares every word
    assert top == {**top, "conv_id": "user3_task1_conversation1", "turn": 2,
                   "kind": "reaction", "label": "scope_fit",
                   "item_id": f"t:{_thought_id(db, 'user3_task1_conversation1', 2)}"}
    assert hits["score"].to_list() == sorted(hits["score"].to_list(), reverse=True)
    assert hits["item_id"].n_unique() == hits.height
    # an unnormalized query gives the same ranking (normalized here)
    again = search.search(index, 7.5 * query, k=20)
    assert again["item_id"].to_list() == hits["item_id"].to_list()


def test_search_is_restricted_to_conversations_and_kinds(index):
    query = HashingEmbedder().vector("quantum tunnelling particles barriers")
    openai = ("user1_task1_conversation1", "user5_task1_conversation1")
    hits = search.search(index, query, k=50, conv_ids=openai)
    assert set(hits["conv_id"].to_list()) <= set(openai)
    assert hits.height == 6 + 10  # their user messages and thoughts, no more
    users = search.search(index, query, k=50, kinds=("user_message",))
    assert set(users["kind"].to_list()) == {"user_message"}
    assert users.height == N_USER_MESSAGES
    assert users.row(0, named=True)["item_id"] == "m:user3_task1_conversation1:1"
    assert search.search(index, query, k=5, conv_ids=()).is_empty()
    assert search.search(index, query, k=0).is_empty()


def test_query_of_another_dimension_is_an_error(index):
    with pytest.raises(EmbedError, match="dimension 10"):
        search.search(index, np.ones(10), k=3)


def test_empty_index_gives_an_empty_frame():
    empty = search.VectorIndex(
        model=None, item_ids=np.array([], dtype=object), kinds=np.array([], dtype=object),
        conv_ids=np.array([], dtype=object), turns=np.array([], dtype=np.int64),
        labels=np.array([], dtype=object), matrix=np.zeros((0, 4), dtype=np.float32))
    out = search.search(empty, np.ones(4))
    assert out.is_empty() and out.columns == COLUMNS
    assert search.similar(empty, "t:1").is_empty()


def test_similar_thoughts_exclude_the_thought_itself(db, index):
    tid = _thought_id(db, "user1_task1_conversation1", 4)  # the scope_fit reaction
    near = search.similar(index, f"t:{tid}", k=10)
    assert near.columns == COLUMNS
    assert 0 < near.height <= 10 and f"t:{tid}" not in set(near["item_id"].to_list())
    assert set(near["kind"].to_list()) <= {"reason", "reaction"}
    assert near["score"].to_list() == sorted(near["score"].to_list(), reverse=True)
    # every other thought is a candidate: with k large, all of them, best first (the top
    # 10 scores are the same; the order among equal scores is not specified)
    everything = search.similar(index, f"t:{tid}", k=100)
    assert everything.height == N_THOUGHTS - 1
    assert everything.head(10)["score"].to_list() == pytest.approx(near["score"].to_list())
    # restricted to conversations; an item without a vector has no neighbours
    mine = search.similar(index, f"t:{tid}", k=100, conv_ids=("user1_task1_conversation1",))
    assert set(mine["conv_id"].to_list()) == {"user1_task1_conversation1"}
    assert mine.height == 3
    assert search.similar(index, "t:999999").is_empty()


# --------------------------------------------------------------------------- ranking

def _random_index(matrix: np.ndarray) -> search.VectorIndex:
    n = len(matrix)
    return search.VectorIndex(
        model="fake", item_ids=np.array([f"i{i}" for i in range(n)], dtype=object),
        kinds=np.array(["reason"] * n, dtype=object),
        conv_ids=np.array([f"c{i % 7}" for i in range(n)], dtype=object),
        turns=np.ones(n, dtype=np.int64), labels=np.array(["scope_fit"] * n, dtype=object),
        matrix=matrix.astype(np.float32))


def test_ranking_matches_a_full_sort():
    """The top-k of `search` is the full sort's top-k (ported from the nearest-neighbour
    test of the removed precompute copy); `similar` is the same ranking without the item."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((500, 16))
    matrix = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    index = _random_index(matrix)
    q = matrix[17]
    got = search.search(index, q, k=10)
    order = np.argsort(-(matrix @ q))[:10]
    assert got["item_id"].to_list() == [f"i{i}" for i in order]
    assert got["item_id"][0] == "i17" and got["score"][0] == pytest.approx(1.0, abs=1e-5)
    scores = got["score"].to_list()
    assert scores == sorted(scores, reverse=True)
    without = search.similar(index, "i17", k=10)
    assert "i17" not in without["item_id"].to_list() and without.height == 10
    assert without["item_id"].to_list()[:9] == got["item_id"].to_list()[1:]
    assert search.search(_random_index(matrix[:3]), q, k=10).height == 3
    scaled = search.search(index, 3.0 * q, k=10)
    assert scaled["item_id"].to_list() == got["item_id"].to_list()
