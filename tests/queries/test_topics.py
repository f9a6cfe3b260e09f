"""The queries of the Topics page (`components.queries.topics`): the pure reshaping
helpers on tiny frames with hand-counted answers (sunburst frame, label shares per domain,
task clusters × domains), then every query on a small fully built DB."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from components.filters import Filters
from components.queries import topics as tv

# =========================================================================== pure helpers


def test_sunburst_frame_sums_subtopics_into_their_domain():
    counts = pl.DataFrame({"domain": ["Technology", "Technology", "Other Topics"],
                           "subtopic": ["Coding", "Hardware", "Misc"], "n": [5, 2, 1]})
    frame = tv.sunburst_frame(counts)
    doms = frame.filter(pl.col("parent") == "")
    assert dict(zip(doms["id"].to_list(), doms["value"].to_list())) == {
        "Technology": 7, "Other Topics": 1}
    assert frame.filter(pl.col("id") == "Technology/Coding")["value"].item() == 5
    assert frame["value"].to_list() == [7, 1, 5, 2, 1]  # domains first, then subtopics
    assert frame.filter(pl.col("id") == "Other Topics/Misc")["parent"].item() == "Other Topics"


def label_counts() -> pl.DataFrame:
    """Thoughts per (domain, label): Technology has 3 + 1 reasons and 5 reactions, Other
    Topics 2 reasons and no reaction."""
    return pl.DataFrame({
        "domain": ["Technology"] * 3 + ["Other Topics"] * 3,
        "kind": ["reason", "reason", "reaction"] * 2,
        "label": ["task_motivation", "style_expectation", "scope_fit"] * 2,
        "display_name": ["Task Motivation", "Style", "Scope"] * 2,
        "n": [3, 1, 5, 0, 2, 0]})


def test_domain_by_thought_type_shares_sum_to_one_per_row():
    mat = tv.label_matrix(label_counts(), "reason", ("Other Topics", "Technology"))
    assert mat["domains"] == ("Other Topics", "Technology")
    assert mat["labels"] == ("task_motivation", "style_expectation")
    assert mat["display"] == {"task_motivation": "Task Motivation",
                              "style_expectation": "Style"}
    assert np.allclose(mat["share"].sum(axis=1), 1.0)
    tech, motivation = mat["domains"].index("Technology"), mat["labels"].index(
        "task_motivation")
    assert mat["share"][tech, motivation] == pytest.approx(0.75)
    assert mat["n"][tech, motivation] == 3
    assert mat["row_total"].tolist() == [2, 4]
    long = mat["long"]
    assert long.height == 4
    cell = long.filter((pl.col("domain") == "Technology")
                       & (pl.col("label") == "task_motivation")).row(0, named=True)
    assert (cell["n"], cell["row_total"], cell["display_name"]) == (3, 4, "Task Motivation")
    assert cell["share"] == pytest.approx(0.75)
    react = tv.label_matrix(label_counts(), "reaction")
    assert react["domains"] == ("Technology",)  # no reactions: row dropped


def test_label_matrix_orders_unknown_domains_after_the_taxonomy():
    mat = tv.label_matrix(label_counts(), "reason", ("Technology",))
    assert mat["domains"] == ("Technology", "Other Topics")
    assert tv.label_matrix(label_counts(), "reason")["domains"] == ("Other Topics",
                                                                    "Technology")


def test_row_shares_sum_to_one_per_domain():
    shares = tv.row_shares(label_counts())
    sums = shares.group_by("domain").agg(pl.col("share").sum()).sort("domain")
    assert sums["share"].to_list() == pytest.approx([1.0, 1.0])
    tech = shares.filter(pl.col("domain") == "Technology")
    assert tech["row_total"].to_list() == [9, 9, 9]
    empty = tv.row_shares(pl.DataFrame({"domain": ["x"], "n": [0]}))
    assert empty["share"].to_list() == [None]  # no counts: no share


def test_cluster_domain_table_top_share_and_noise_last():
    long = pl.DataFrame({"cluster_id": [0, 0, 1, -1], "name": ["a", "a", "b", "noise"],
                         "domain": ["Technology", "Other Topics", "Technology", "Technology"],
                         "n": [3, 1, 2, 5]})
    clusters = pl.DataFrame({"cluster_id": [0, 1, -1], "name": ["a", "b", "noise"]})
    table = tv.cluster_domain_table(long, clusters, ("Technology", "Other Topics"))
    assert table["cluster"].to_list() == ["a", "b", "noise"]
    assert table.columns == ["cluster", "conversations", "top domain", "top share",
                             "Technology", "Other Topics"]
    first = table.row(0, named=True)
    assert first["top share"] == pytest.approx(0.75)
    assert first["top domain"] == "Technology"
    assert table["conversations"].to_list() == [4, 2, 5]
    assert table["Other Topics"].to_list() == [1, 0, 0]
    assert tv.cluster_domain_table(long.head(0), clusters).is_empty()


# =========================================================================== built DB




@pytest.fixture(scope="module")
def con(analysed_db):
    """The shared sample, every stage, with a fake embedder and a PCA reducer."""
    c = duckdb.connect(str(analysed_db), read_only=True)
    yield c
    c.close()


def _count(con, sql: str) -> int:
    return con.execute(sql).fetchall()[0][0]


def test_topic_queries_on_built_db(con):
    assert tv.availability(con) == {"topics": True, "clusters": True}
    n_conv = _count(con, "SELECT count(*) FROM conversations")
    prim = tv.topic_counts(con, Filters(), "primary")
    assert prim["n"].sum() == n_conv
    multi = tv.topic_counts(con, Filters(), "multi")
    assert multi["n"].sum() == _count(
        con, "SELECT count(*) FROM topic_scores WHERE is_assigned") >= n_conv
    with pytest.raises(ValueError):
        tv.topic_counts(con, Filters(), "neither")
    for space in tv.SPACES:
        cl = tv.cluster_summary(con, Filters(), space)
        assert cl["is_noise"].sum() == 1 and cl["n"].sum() == cl["size"].sum()
        assert cl["is_noise"].to_list()[-1]  # noise last
    with pytest.raises(ValueError):
        tv.cluster_summary(con, Filters(), "nowhere")
    long = tv.domain_by_cluster(con, Filters())
    assert long["n"].sum() == n_conv
    dl = tv.domain_label_counts(con, Filters())
    assert dl["n"].sum() == _count(con, "SELECT count(*) FROM thoughts")


def test_topic_page_views_on_built_db(con):
    n_conv = _count(con, "SELECT count(*) FROM conversations")
    view = tv.hierarchy_view(con, Filters(), "primary")
    assert view["total"] == n_conv
    assert view["frame"].filter(pl.col("parent") == "")["value"].sum() == n_conv
    domains = tv.domain_order(con)
    assert domains and len(set(domains)) == len(domains)
    table = tv.cluster_domain_view(con, Filters())
    assert table["conversations"].sum() == n_conv
    mats = tv.label_matrices(con, Filters())
    n_thoughts = {k: _count(con, f"SELECT count(*) FROM thoughts WHERE kind = '{k}'")
                  for k in ("reason", "reaction")}
    for kind, mat in mats.items():
        assert int(mat["row_total"].sum()) == n_thoughts[kind]
        assert np.allclose(mat["share"].sum(axis=1), 1.0)
