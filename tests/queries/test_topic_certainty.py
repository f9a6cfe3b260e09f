"""Uncertain topic assignments: counted per domain, left out by the confident-topics filter
(also in the URL), marked in the conversation list; the map's outlier colouring."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from components.filters import Filters, from_query_params
from components.queries import conversations as qc
from components.queries import core
from components.queries import shifts as qs
from components.queries import topics as qt


@pytest.fixture(scope="module")
def db(analysed_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("certain") / "full.duckdb"
    shutil.copy(analysed_db, path)
    with duckdb.connect(str(path)) as con:  # exactly 3 uncertain, known ids
        con.execute("UPDATE conversations SET topic_uncertain = FALSE")
        ids = [r[0] for r in con.execute(
            "SELECT conv_id FROM conversations ORDER BY conv_id LIMIT 3").fetchall()]
        con.execute("UPDATE conversations SET topic_uncertain = TRUE "
                    "WHERE conv_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
    return path, ids


def test_certainty_counts_and_the_filter(db):
    path, ids = db
    with duckdb.connect(str(path), read_only=True) as con:
        table = qt.topic_certainty(con, Filters())
        assert table["uncertain"].sum() == 3 and table["conversations"].sum() == 20
        assert core.count_conversations(con, Filters(certain_topics=True)) == 17
        f, notices = from_query_params({"topics": "certain"}, core.facet_options(con))
        assert f.certain_topics and not notices
        assert Filters(certain_topics=True).to_query_params() == {"topics": "certain"}
        _, bad = from_query_params({"topics": "maybe"}, core.facet_options(con))
        assert bad and "topics=certain" in bad[0]
        view = qc.list_view(qc.rows_for(con, tuple(ids[:2]) + ("user1020_task1_conversation1",)))
        marks = view["domain / subtopic"].to_list()
        assert marks[0].endswith("(uncertain)") and marks[1].endswith("(uncertain)")


def test_outliers_on_the_map_are_the_top_tenth_of_each_space(db):
    path, _ = db
    with duckdb.connect(str(path), read_only=True) as con:
        assert "outlier" in qs.color_options(con)
        points = qs.map_points(con, Filters(), "outlier")["points"]
        n_out = points.filter(points["color"] == qs.OUTLIER_NAMES["outlier"]).height
        n_scored = con.execute("SELECT count(*) FROM map_points m JOIN cluster_members cm "
                               "ON cm.item_id = m.item_id WHERE cm.outlier_score IS NOT NULL"
                               ).fetchall()[0][0]
    assert set(points["color"].to_list()) <= {*qs.OUTLIER_NAMES.values(), "(none)"}
    if n_scored:  # the fake embedder's spaces may be too small to score
        assert 0 < n_out <= 0.2 * points.height
