"""The Topics and Semantic shifts pages, rendered (AppTest) over a fully built hostile DB,
never hand dataset text to the browser as markup.

tests/properties/test_plotly_escaping.py builds every catalogue figure directly over the
shared sample with names patched into the tables afterwards. Here the hostile text goes
through the pipeline: a corpus written in this file with tag-laden model names, a
``javascript:`` provider, conversation ids, task summaries, user messages and thoughts
(``<b>bold-x</b>``, ``<img src=x onerror=alert(1)>``, ``<script>``, ``javascript:``),
domains and subtopics from a topic label file (``--topic-labels``), built with every stage
(`tests.corpus.build_analysed_db`, then the topics stage again with the labels). Cluster
names are set in the DB afterwards: the pipeline names clusters by letters-only phrases,
so it cannot produce a tag; another tool's DB could.

Then each page is rendered in its variants (Topics: each count mode, chart shape and
cluster space; Semantic shifts: both tabs, every colour-by, a keyword search, the arrows of
one conversation; both with the comparison on) and scanned:

- every string of every plotly spec (titles, tick texts, hover texts and templates, text,
  annotations, legend names, labels, customdata that templates show), except the ids and
  parents a sunburst never shows: no raw hostile tag, no ``javascript:`` link;
- every piece of custom HTML (st.html, markdown with HTML allowed): the same;
- every other markdown element (markdown, captions, info boxes): no markdown link to
  ``javascript:``;
- every table: no link cell (LinkColumn) with a ``javascript:`` URL; link buttons too.

And the check is not vacuous: the hostile names are on the pages, escaped.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from urllib.parse import quote_plus

import duckdb
import pytest

from components.queries import shifts as sv
from precompute import pipeline
from precompute.config import Settings
from tests.apptest import chart_specs, html_elements, open_app, spec_strings
from tests.conftest import HashingEmbedder
from tests.corpus import build_analysed_db, conversation, write_jsonl

BOLD = "<b>bold-x</b>"
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"
JS = "javascript:alert(3)"
HOSTILE = f"{BOLD} {IMG} {SCRIPT} {JS}"
#: What must never reach the browser as markup (the escaped forms hold none of these).
RAW = ("<b>bold-x", "<img", "<script", "onerror=alert(1)>")
JS_LINK = re.compile(r"""(href|src)\s*=\s*["']?\s*javascript:""", re.I)
MD_JS_LINK = re.compile(r"\]\(\s*<?\s*javascript:", re.I)
ESCAPED_IMG = "&lt;img src=x onerror=alert(1)&gt;"

MODELS = (f"{BOLD} GPT", IMG, "Plain model")
DOMAINS = (f"{IMG} Dom", f"{BOLD} Dom", f"{SCRIPT} Dom", "Plain Dom")
SUBTOPICS = (f"{BOLD} sub {JS}", f"{IMG} sub", f"{SCRIPT} sub", "Plain sub")
CLUSTER = f"{BOLD} · {IMG} · {JS}"
TOPIC_WORDS = (
    ("oven", "bread", "recipe", "flour", "bake"),
    ("python", "loop", "error", "function", "bug"),
    ("tax", "return", "deduction", "income", "form"),
    ("garden", "tomato", "soil", "water", "seed"),
)


def records() -> list[dict]:
    """16 conversations: 4 topics x 4, hostile text in every field a page can show; one
    conversation id is tag-laden and one holds ``javascript:`` (ids are any string)."""
    out = []
    for g, words in enumerate(TOPIC_WORDS):
        for k in range(4):
            w = " ".join(words)
            turns = [(f"{HOSTILE} help with {w} number {k}", ["task_motivation"]),
                     (f"answer about {w}", ["content_relevance", "explicit_affirmation"]),
                     (f"more about {words[0]} and {words[1]} {HOSTILE}", ["task_continuation"]),
                     (f"more on {w}", ["scope_fit"]),
                     (f"thanks for the {words[2]} {words[3]}", ["social_and_others"]),
                     ("you are welcome", [])]
            conv_id = f"user{g}{k}_task1_conversation1"
            if (g, k) == (0, 0):
                conv_id = f"user00_{BOLD}{IMG}_conversation1"
            elif (g, k) == (1, 0):
                conv_id = f"{JS}_conversation1"
            rec = conversation(conv_id, turns, model=MODELS[(g + k) % 3],
                               provider=JS if k % 2 else f"{BOLD} provider",
                               summary=f"{HOSTILE} I wanted help with {w}.")
            for msg in rec["messages"]:  # the thoughts' text is hostile too
                for t in (msg.get("reasons") or []) + (msg.get("reactions") or []):
                    t["content"] = f"{HOSTILE} {t['content']} {w}"
            out.append(rec)
    return out


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hostile_pages")
    src = write_jsonl(d / "hostile.jsonl", records())
    db = build_analysed_db(src, d / "hostile.duckdb")
    labels = d / "topic_labels.csv"
    with open(labels, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["conv_id", "domain", "subtopic"])
        for i, rec in enumerate(records()):
            g = i // 4
            writer.writerow([rec["id"], DOMAINS[g], SUBTOPICS[g]])
            writer.writerow([rec["id"], DOMAINS[(g + 1) % 4], SUBTOPICS[(g + 1) % 4]])
    pipeline.build(Settings(source=str(src), db=db, progress=False, topic_labels=labels,
                            cluster_reduce="none"),
                   only=("topics",), embedder=HashingEmbedder(), log=lambda _: None)
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT count(DISTINCT domain) FROM conversations").fetchall() == \
            [(4,)]
        con.execute("UPDATE clusters SET name = ?, keywords = ?", [CLUSTER, CLUSTER])
    return db


# ------------------------------------------------------------------ the scan


def _unsafe_markup(text: str) -> list[str]:
    return [r for r in RAW if r in text] + (["javascript: link"] if JS_LINK.search(text) else [])


def _link_columns(df_element) -> list[str]:
    """The columns a dataframe element shows as links (LinkColumn)."""
    config = json.loads(df_element.proto.columns or "{}")
    return [name for name, c in config.items()
            if (c.get("type_config") or {}).get("type") == "link"]


def scan(at) -> list[tuple[str, str]]:
    """(where, what) for every piece of dataset text the page would hand over as markup."""
    bad: list[tuple[str, str]] = []
    for i, spec in enumerate(chart_specs(at)):
        for path, s in spec_strings(spec):
            if path.endswith((".ids", ".parents")):
                continue
            bad += [(f"chart {i}{path}", f"{r}: {s[:80]}") for r in _unsafe_markup(s)]
    for h in html_elements(at):
        bad += [("html", f"{r}: {h[:80]}") for r in _unsafe_markup(h)]
    plain = [m.value for m in at.markdown if not m.proto.allow_html]
    plain += [c.value for c in at.caption]
    plain += [b.value for b in (*at.info, *at.warning, *at.error, *at.success)]
    bad += [("markdown", m[:80]) for m in plain if MD_JS_LINK.search(m)]
    for df in at.dataframe:
        frame = df.value
        for col in _link_columns(df):
            if col in frame.columns:
                bad += [("link cell", str(v)[:80]) for v in frame[col]
                        if str(v).strip().lower().startswith("javascript:")]
    for el in at.get("link_button"):
        if str(el.proto.url).strip().lower().startswith("javascript:"):
            bad.append(("link button", el.proto.url[:80]))
    return bad


def _shown(at) -> str:
    """Everything the page shows as text or in its charts (for the non-vacuity checks)."""
    parts = [json.dumps(s, ensure_ascii=False) for s in chart_specs(at)]
    parts += html_elements(at) + [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [df.value.to_string() for df in at.dataframe]
    return "\n".join(parts)


# ------------------------------------------------------------------ Topics


@pytest.mark.parametrize("params", [{}, {"cmp": "rest", "model": MODELS[0]}],
                         ids=["all", "compare"])
def test_the_topics_page_escapes_every_hostile_name(hostile_db, monkeypatch, params):
    at = open_app(hostile_db, monkeypatch, "topics", **params)
    assert [t.value for t in at.title] == ["Topics"]
    assert scan(at) == []
    shown = _shown(at)
    assert ESCAPED_IMG + " Dom" in shown            # the domains, escaped, in the charts
    assert "&lt;b&gt;bold-x&lt;/b&gt; · " in shown  # the cluster names
    for mode in ("primary", "multi"):
        for shape in ("donut", "sunburst", "treemap"):
            at.radio(key="tp_mode").set_value(mode)
            at.radio(key="tp_shape").set_value(shape).run()
            assert not at.exception
            assert scan(at) == [], (mode, shape)
    for space in ("task", "reason", "reaction"):
        at.radio(key="tp_space").set_value(space).run()
        assert not at.exception
        assert scan(at) == [], space


# ------------------------------------------------------------------ Semantic shifts


def test_the_centred_gaps_escape_every_hostile_text(hostile_db, monkeypatch):
    at = open_app(hostile_db, monkeypatch, "shifts")
    assert scan(at) == []
    assert ESCAPED_IMG in _shown(at)  # the pair texts in the hovers, escaped
    at = open_app(hostile_db, monkeypatch, "shifts", model=MODELS[1], cmp="rest")
    assert scan(at) == []


@pytest.fixture(scope="module")
def color_options(hostile_db) -> tuple[str, ...]:
    con = duckdb.connect(str(hostile_db), read_only=True)
    try:
        return sv.color_options(con)
    finally:
        con.close()


def test_the_global_map_escapes_every_hostile_text(hostile_db, monkeypatch, color_options):
    assert {"model", "domain", "cluster", "label"} <= set(color_options)
    at = open_app(hostile_db, monkeypatch, "shifts", view="Global map", q="onerror")
    assert not at.exception and scan(at) == []
    assert any("Black circles" in c.value for c in at.caption)  # the keyword hits are drawn
    for color_by in color_options:
        at.selectbox(key="sh_color").set_value(color_by).run()
        assert not at.exception
        assert scan(at) == [], color_by
        if color_by in ("model", "domain"):
            assert ESCAPED_IMG in _shown(at), color_by  # the legend names the hostile value
    # the arrows of one conversation, the tag-laden id
    conv = next(r["id"] for r in records() if BOLD in r["id"])
    at.selectbox(key="sh_conv").set_value(conv).run()
    assert not at.exception and scan(at) == []


def test_the_selection_table_links_stay_on_the_app(hostile_db):
    """The lasso's table (its link column): relative links to the Conversations page,
    also for the ``javascript:`` conversation id."""
    con = duckdb.connect(str(hostile_db), read_only=True)
    try:
        ids = tuple(r[0] for r in con.execute(
            "SELECT item_id FROM map_points ORDER BY item_id").fetchall())
        texts = sv.item_texts(con, ids)
    finally:
        con.close()
    table = sv.selection_table(texts, {}, {"model": [IMG]})
    assert table.height == len(ids)
    assert all(link.startswith("browser?") for link in table["link"])
    assert any(f"conv={quote_plus(JS)}" in link for link in table["link"])
