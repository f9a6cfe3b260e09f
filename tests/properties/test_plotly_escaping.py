"""Dataset text is escaped wherever a figure shows it: plotly reads strings as its HTML
subset, so a model called ``<b>M</b>`` would render bold, and text inside a hover
template is read as a template (``%{x}``). Every catalogue figure is built on a DB whose
model, domain, subtopic, cluster and label names are tag-laden and template-laden, split
by each facet, and no such string reaches a figure unescaped or inside a template."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from components.db import connect
from components.figures import catalogue
from components.filters import Filters
from tests.apptest import spec_strings

MODEL = "<b>Bold</b> %{xx_model}"
DOMAIN = "<i>Dom</i> %{yy_domain}"
SUBTOPIC = "<u>Sub</u><br>topic"
LABEL = "<s>Task</s> %{cc_label}"
CLUSTER = "<script>x</script> %{tt_cluster}"
RAW = ("<b>Bold</b>", "<i>Dom</i>", "<u>Sub</u>", "<s>Task</s>", "<script>")
TEMPLATES = ("%{xx_model}", "%{yy_domain}", "%{cc_label}", "%{tt_cluster}")
#: Keys plotly uses as identifiers, never shown (a sunburst's ids and parents).
HIDDEN = (".ids", ".parents")


@pytest.fixture(scope="module")
def hostile_db(analysed_db, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("esc") / "full.duckdb"
    shutil.copy(analysed_db, db)  # a copy: the session's analysed DB stays as built
    with duckdb.connect(str(db)) as con:
        first = con.execute("SELECT model_name FROM conversations GROUP BY 1 "
                            "ORDER BY count(*) DESC LIMIT 1").fetchall()[0][0]
        con.execute("UPDATE conversations SET model_name = ? WHERE model_name = ?",
                    [MODEL, first])
        dom = con.execute("SELECT domain FROM conversations WHERE domain IS NOT NULL "
                          "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchall()[0][0]
        for table in ("conversations", "topic_taxonomy", "topic_scores",
                      "conversation_topics"):
            con.execute(f"UPDATE {table} SET domain = ? WHERE domain = ?", [DOMAIN, dom])
        con.execute("UPDATE conversations SET subtopic = ? WHERE domain = ?",
                    [SUBTOPIC, DOMAIN])
        con.execute("UPDATE labels SET display_name = ?, meaning = ? WHERE code = "
                    "'task_motivation'", [LABEL, LABEL])
        con.execute("UPDATE clusters SET name = ?, keywords = ?", [CLUSTER, CLUSTER])
    return db


OPTIONS = [
    ("LABEL_COUNTS", {"kind": "reason"}), ("LABEL_SHARES", {"kind": "reason"}),
    ("STAGE_DYNAMICS", {"kind": "reason", "split": "model", "top_n": 12}),
    ("STAGE_DYNAMICS", {"kind": "reason", "split": "domain", "top_n": 12}),
    ("STAGE_VS_PUBLISHED", {"kind": "reason"}), ("FLOW", {"flow": "reason"}),
    ("FLOW", {"flow": "reason", "mode": "pairs"}), ("PER_MODEL", {}), ("LENGTH", {}),
    ("PARTICIPANTS", {"field": "age"}), ("TOPIC_HIERARCHY", {"shape": "donut"}),
    ("TOPIC_HIERARCHY", {"shape": "sunburst"}), ("TOPIC_HIERARCHY", {"shape": "treemap"}),
    ("CLUSTERS", {"space": "reason"}), ("DOMAIN_LABELS", {"kind": "reason"}),
    ("SHIFT_PANELS", {}), ("GLOBAL_MAP", {"color_by": "model"}),
    ("GLOBAL_MAP", {"color_by": "domain"}), ("GLOBAL_MAP", {"color_by": "label"}),
    ("GLOBAL_MAP", {"color_by": "cluster"}), ("RELATIONSHIP_BY_REASON", {}),
]


@pytest.mark.parametrize("name, options", OPTIONS,
                         ids=[f"{n}-{'-'.join(map(str, o.values()))}" for n, o in OPTIONS])
def test_no_dataset_text_reaches_a_figure_unescaped(hostile_db, name, options):
    con = connect(hostile_db)
    try:
        drawn = getattr(catalogue, name)(catalogue.DirectSource(con), Filters(), **options)
    finally:
        con.close()
    strings = [(p, s) for p, s in spec_strings(drawn.figure.to_dict()) if not p.endswith(HIDDEN)]
    raw = [(p, s[:80]) for p, s in strings for r in RAW if r in s]
    assert raw == []
    templated = [(p, s[:80]) for p, s in strings
                 if p.endswith(("hovertemplate", "texttemplate")) and any(t in s for t in
                                                                          TEMPLATES)]
    assert templated == []


def test_the_check_sees_the_hostile_names(hostile_db):
    """The names are in the figures, escaped (so the test above cannot pass vacuously)."""
    con = connect(hostile_db)
    try:
        drawn = catalogue.PER_MODEL(catalogue.DirectSource(con), Filters())
        shares = catalogue.LABEL_SHARES(catalogue.DirectSource(con), Filters(), kind="reason")
    finally:
        con.close()
    text = str(drawn.figure.to_dict()) + str(shares.figure.to_dict())
    assert "&lt;b&gt;Bold&lt;/b&gt;" in text and "&lt;s&gt;Task&lt;/s&gt;" in text


COMPARE_OPTIONS = [
    ("COMPARE", {"dimension": "reason"}), ("COMPARE", {"dimension": "domain"}),
    ("COMPARE", {"dimension": "relationship", "stage": "Early"}),
    ("COMPARE_SHIFTS", {}),
]


@pytest.mark.parametrize("name, options", COMPARE_OPTIONS,
                         ids=[f"{n}-{'-'.join(map(str, o.values()))}"
                              for n, o in COMPARE_OPTIONS])
def test_a_against_b_names_hostile_subsets_escaped(hostile_db, name, options):
    """A = the tag-laden model, B = its own filters naming the tag-laden domain: both
    subset names (in the subtitle) and the categories stay escaped and out of templates."""
    from components.filters import Comparison
    con = connect(hostile_db)
    try:
        b = Comparison(Filters(domains=(DOMAIN,)))
        rest = con.execute("SELECT count(*) FROM conversations WHERE model_name = ? AND "
                           "domain = ?", [MODEL, DOMAIN]).fetchall()[0][0]
        if rest:  # B must leave A's conversations out: exclude A's model from B
            others = tuple(r[0] for r in con.execute(
                "SELECT DISTINCT model_name FROM conversations WHERE model_name <> ?",
                [MODEL]).fetchall())
            b = Comparison(Filters(domains=(DOMAIN,), models=others))
        drawn = getattr(catalogue, name)(catalogue.DirectSource(con), Filters(models=(MODEL,)),
                                         comparison=b, **options)
    finally:
        con.close()
    strings = [(p, s) for p, s in spec_strings(drawn.figure.to_dict()) if not p.endswith(HIDDEN)]
    assert any("&lt;b&gt;Bold&lt;/b&gt;" in s for _, s in strings)  # A's name is shown
    assert [(p, s[:80]) for p, s in strings for r in RAW if r in s] == []
    assert [(p, s[:80]) for p, s in strings
            if p.endswith(("hovertemplate", "texttemplate"))
            and any(t in s for t in TEMPLATES)] == []


def test_search_hits_on_the_map_are_named_escaped(hostile_db):
    con = connect(hostile_db)
    try:
        ids = tuple(r[0] for r in con.execute("SELECT item_id FROM map_points LIMIT 3"
                                              ).fetchall())
        drawn = catalogue.GLOBAL_MAP(catalogue.DirectSource(con), Filters(),
                                     hits=((f"keyword “{MODEL}”", ids),))
    finally:
        con.close()
    strings = [(p, s) for p, s in spec_strings(drawn.figure.to_dict()) if not p.endswith(HIDDEN)]
    assert any("&lt;b&gt;Bold&lt;/b&gt;" in s for _, s in strings)
    assert [(p, s[:80]) for p, s in strings for r in RAW if r in s] == []
    assert [(p, s[:80]) for p, s in strings
            if p.endswith(("hovertemplate", "texttemplate"))
            and any(t in s for t in TEMPLATES)] == []
