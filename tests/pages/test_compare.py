"""Compare A with B in the app (AppTest): the sidebar section and the URL (``cmp``,
``b.*``), the A-vs-B figure on the pages with distributions, its export caption naming
both subsets, the button that turns it on, and links with bad B values."""

from __future__ import annotations

import html

import pytest

from tests.apptest import chart_specs, open_app, query_param
from tests.queries.test_compare import corpus


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from tests.corpus import ingest_db, write_jsonl

    d = tmp_path_factory.mktemp("compare_page")
    return ingest_db(write_jsonl(d / "c.jsonl", corpus()), d / "c.duckdb")


def compare_specs(at) -> list[dict]:
    return [s for s in chart_specs(at) if "A against B" in s["layout"]["title"]["text"]]


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def test_a_link_with_a_comparison_draws_a_against_b(db, monkeypatch):
    at = open_app(db, monkeypatch, "thoughts", model="GPT-5.4", cmp="rest")
    specs = compare_specs(at)
    assert len(specs) == 1
    title = specs[0]["layout"]["title"]["text"]
    assert "A: model: GPT-5.4 — 1 user, 3 reasons" in title
    assert "B: all the other conversations — 2 users, 3 reasons" in title
    # the bars: A's and B's shares in the labels' order, the difference A - B
    bars = {d["name"]: d for d in specs[0]["data"]}
    assert bars["A"]["x"][0] == pytest.approx(2 / 3) and bars["B"]["x"][1] == pytest.approx(1 / 3)
    note = specs[0]["layout"]["annotations"][0]["text"]
    assert "permutations of users" in note and "bootstrap over users" in note
    # the export caption names both subsets
    assert any("A: model: GPT-5.4 vs B: all the other conversations" in c
               for c in captions(at))
    assert any("A: 2 conversations (1 user) · B: 2 conversations (2 users)" in c
               for c in captions(at))
    assert query_param(at, "cmp") == ["rest"]


def test_b_as_its_own_subset_and_an_overlap(db, monkeypatch):
    at = open_app(db, monkeypatch, "thoughts", model="GPT-5.4", cmp="subset",
                  params={"b.model": "Claude Opus 4.6"})
    assert query_param(at, "b.model") == ["Claude Opus 4.6"]
    title = compare_specs(at)[0]["layout"]["title"]["text"]
    assert "B: model: Claude Opus 4.6 — 2 users" in title
    at = open_app(db, monkeypatch, "thoughts", model="GPT-5.4", cmp="subset",
                  params={"b.provider": "OpenAI"})
    spec = compare_specs(at)[0]
    assert "share 2 conversations" in spec["layout"]["annotations"][0]["text"]
    assert any("2 in both" in c for c in captions(at))


def test_bad_b_values_are_notices_and_the_toggle_clears_the_url(db, monkeypatch):
    at = open_app(db, monkeypatch, "thoughts", cmp="subset",
                  params={"b.model": "GPT-9", "b.msgs": "2-4"})
    notes = [c for c in captions(at) if c.startswith(":material/info: Link:")]
    assert any("'GPT-9'" in n for n in notes) and any("b.msgs" in n for n in notes)
    assert query_param(at, "b.model") is None
    at.toggle(key="cmp_on").set_value(False).run()
    assert query_param(at, "cmp") is None and not compare_specs(at)


def test_the_page_button_turns_the_comparison_on(db, monkeypatch):
    at = open_app(db, monkeypatch, "overview", model="GPT-5.4")
    assert not compare_specs(at)
    next(b for b in at.button if b.label.startswith("Compare A with all")).click().run()
    assert query_param(at, "cmp") == ["rest"]
    spec = compare_specs(at)[0]
    assert spec["layout"]["title"]["text"].startswith("Conversation length")


@pytest.mark.parametrize("page, first", [("overview", "Conversation length"),
                                         ("thoughts", "Reasons")])
def test_pages_with_distributions_offer_the_comparison(db, monkeypatch, page, first):
    at = open_app(db, monkeypatch, page, model="GPT-5.4", cmp="rest")
    assert [s for s in compare_specs(at) if s["layout"]["title"]["text"].startswith(first)]


@pytest.mark.parametrize("page, title", [("turns", "Relationship to the previous"),
                                         ("topics", "Primary domain")])
def test_relationships_and_domains_on_a_full_build(analysed_db, monkeypatch, page, title):
    """The real sample with every stage: the Turn by turn and Topics pages compare the
    most frequent domain with the rest."""
    import duckdb
    c = duckdb.connect(str(analysed_db), read_only=True)
    domain = c.execute("SELECT domain FROM conversations GROUP BY 1 ORDER BY count(*) DESC, 1 "
                       "LIMIT 1").fetchall()[0][0]
    c.close()
    at = open_app(analysed_db, monkeypatch, page, domain=domain, cmp="rest")
    spec = next(s for s in compare_specs(at) if s["layout"]["title"]["text"].startswith(title))
    assert f"A: domain: {html.escape(domain)}" in spec["layout"]["title"]["text"]
    assert {d["name"] for d in spec["data"]} == {"A", "B", "A − B"}


def test_participants_compare_users_in_the_papers_groups(db, monkeypatch):
    """Gender of A = GPT-5.4 (user1, Female; two conversations, one answer) against the
    rest (user2 Male, user3 Female): counted by users."""
    at = open_app(db, monkeypatch, "participants", model="GPT-5.4", cmp="rest")
    spec = next(s for s in compare_specs(at) if s["layout"]["title"]["text"].startswith("Age"))
    assert "GPT-5.4 — 1 user<br>B: all the other conversations — 2 users<" in \
        spec["layout"]["title"]["text"]
    at.selectbox(key="pp_dim").set_value("gender").run()
    spec = compare_specs(at)[0]
    bars = {d["name"]: dict(zip(d["y"], d["x"])) for d in spec["data"] if d["type"] == "bar"}
    assert bars["A"] == {"Female": 1.0, "Male": 0.0}
    assert bars["B"] == {"Female": 0.5, "Male": 0.5}


def test_semantic_shifts_compare_the_median_shift_per_pair_type(analysed_db, monkeypatch):
    """The shifts page: one row per pair type; each side's pair count is what the DB holds
    for its conversations, counted here."""
    import duckdb

    from components.filters import Comparison, Filters
    from components.queries import compare as qc
    c = duckdb.connect(str(analysed_db), read_only=True)
    model = c.execute("SELECT model_name FROM conversations GROUP BY 1 ORDER BY count(*) DESC, "
                      "1 LIMIT 1").fetchall()[0][0]
    want = dict(c.execute("SELECT c.model_name = ?, count(*) FROM shift_pairs p JOIN "
                          "conversations c USING (conv_id) GROUP BY 1", [model]).fetchall())
    res = qc.compare_shifts(c, Filters(models=(model,)), Comparison())
    c.close()
    assert res["error"] is None
    assert int(res["table"]["n_a"].sum()) == want[True]
    assert int(res["table"]["n_b"].sum()) == want[False]
    at = open_app(analysed_db, monkeypatch, "shifts", model=model, cmp="rest")
    spec = next(s for s in chart_specs(at)
                if s["layout"]["title"]["text"].startswith("Semantic shifts: A against B"))
    assert len(spec["data"][0]["x"]) == res["table"].height
    assert "permutations of users" in spec["layout"]["annotations"][0]["text"]


def test_a_b_subtopic_outside_bs_domains_is_dropped_with_a_notice(analysed_db, monkeypatch):
    """B's subtopics follow B's domains (as A's do): a link with B = domain X and a
    subtopic of another domain counts B as domain X alone and says what it ignored."""
    import duckdb
    c = duckdb.connect(str(analysed_db), read_only=True)
    (dom_x, n_x), (dom_y, _) = c.execute(
        "SELECT domain, count(*) FROM conversations WHERE domain IS NOT NULL GROUP BY 1 "
        "ORDER BY count(*) DESC, 1 LIMIT 2").fetchall()
    sub_y = c.execute("SELECT subtopic FROM conversations WHERE domain = ? "
                      "ORDER BY subtopic LIMIT 1", [dom_y]).fetchall()[0][0]
    c.close()
    at = open_app(analysed_db, monkeypatch, "overview", cmp="subset",
                  **{"b.domain": dom_x, "b.subtopic": sub_y})
    notes = [c.value for c in at.sidebar.caption]
    assert any(f"ignored B subtopic {sub_y[:60]!r}" in v for v in notes), notes
    assert at.session_state["cmpb_subtopics"] == []
    assert query_param(at, "b.subtopic") is None
    # B counts domain X's conversations, not the empty intersection with Y's subtopic
    label = "conversation" if n_x == 1 else "conversations"
    assert any(f"B: {n_x:,} {label}" in v for v in notes), notes
