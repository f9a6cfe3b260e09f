"""Domain and subtopic filters select by the conversation's PRIMARY topic (README, "Global
filters": "Domain and subtopic filter on the conversation's **primary** topic"), the
sidebar's subtopic options follow the chosen domains (only subtopics of those domains, each
with its count under the other filters), and the multi-label rule of the topics stage keeps
a secondary subtopic at exactly ``max(0.25, best - 0.05)`` and drops one just below it
(README, "topics": "every subtopic scoring >= max(0.25, best - 0.05)").

The corpus is six conversations whose topics come from a label file (``--topic-labels``:
several rows per conversation = multi-label, the first row primary), so every count is
known by hand. A conversation whose *secondary* domain is X must not be returned by
``domain=X``; that is what the secondary rows are for.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import numpy as np
import pytest

from components.filters import Filters
from components.queries import conversations as browse
from components.queries import core
from precompute import pipeline
from precompute.config import Settings
from precompute.topics import assign
from tests.apptest import open_app, query_param
from tests.conftest import HashingEmbedder
from tests.corpus import conversation, write_jsonl

TM, TC, CG, CE = ("task_motivation", "task_continuation", "context_grounding_and_constraints",
                  "content_expectation")
SE, SO = "style_expectation", "social_and_others"
EA, PAR, CR, PS, SF = ("explicit_affirmation", "partial_satisfaction", "content_relevance",
                       "presentation_style", "scope_fit")

C1, C2 = "user1_task1_conversation1", "user2_task1_conversation1"
C3, C4 = "user3_task1_conversation1", "user3_task2_conversation1"
C5, C6 = "user4_task1_conversation1", "user5_task1_conversation1"
ALL = {C1, C2, C3, C4, C5, C6}

TECH, EDU, HEALTH, CULT = ("Technology", "Education & Knowledge", "Health & Relationships",
                           "Culture & Lifestyle")
PROG, GADGETS = "Programming & Software Development", "Computers, Phones & Gadgets"
LEARN, FIT, MENTAL, FOOD = ("Learning New Skills", "Fitness & Exercise",
                            "Mental Health & Wellbeing", "Food & Cooking")

#: (conv_id, domain, subtopic); the first row of a conversation is its primary topic.
#: Primary: Technology = C1, C3, C5 (3); Education = C2; Health = C4; Culture = C6.
#: Secondary rows: C1 also Education, C3 also Health (a subtopic, Mental Health, that is
#: nobody's primary), C6 also Technology / Programming.
TOPIC_LABELS = [
    (C1, TECH, PROG), (C1, EDU, LEARN),
    (C2, EDU, LEARN),
    (C3, TECH, GADGETS), (C3, HEALTH, MENTAL),
    (C4, HEALTH, FIT),
    (C5, TECH, PROG),
    (C6, CULT, FOOD), (C6, TECH, PROG),
]

SURVEY_45_MALE = [{"age": "45", "gender": "Male", "education": "Graduate",
                   "occupation": "Engineer", "frequency": "5", "purposes": "work"}]
SURVEY_22 = [{"age": "22", "gender": "Female", "education": "Undergraduate",
              "occupation": "Student", "frequency": "2", "purposes": "study"}]


def records() -> list[dict]:
    """Six conversations. Messages (thoughts): C1 4 (4), C2 2 (3), C3 6 (6), C4 8 (6),
    C5 3 (2), C6 10 (10); models: GPT-5.4 = C1, C3, C6; Claude Opus 4.6 = C2, C4;
    Gemini 3 = C5. Survey: the default (age 31, Female, Graduate, frequency 4) except
    C2 (45, Male, frequency 5), C4 (no survey) and C5 (22, frequency 2)."""
    claude = {"model": "Claude Opus 4.6", "provider": "Anthropic"}
    return [
        conversation(C1, [("How do I fix this Python loop", [TM]), ("Use enumerate", [CR]),
                          ("Thanks, and for dicts?", [TC]), ("Use items()", [EA])]),
        conversation(C2, [("Teach me to knit", [TM, CG]), ("Start with a scarf", [SF])],
                     survey=SURVEY_45_MALE, **claude),
        conversation(C3, [("Which phone should I buy", [TM]), ("It depends", [PS]),
                          ("Under 300 dollars", [CG]), ("Try this model", [CR]),
                          ("And the camera?", [TC]), ("Good enough", [EA])]),
        conversation(C4, [("Plan my workouts", [TM]), ("Here is a plan", [EA]),
                          ("Shorter please", [SE]), ("A shorter plan", [PS]),
                          ("Add stretching", [TC]), ("Added", []), ("Thanks", [SO]),
                          ("You are welcome", [])], survey=[], **claude),
        conversation(C5, [("Write a SQL query", [TM]), ("SELECT 1", [SF]), ("ok", [])],
                     model="Gemini 3", provider="Google", survey=SURVEY_22),
        conversation(C6, [("A recipe for bread", [TM]), ("Here it is", [CR]),
                          ("Gluten free?", [CE]), ("Sure", [EA]), ("A faster version", [SE]),
                          ("Quick bread", [PAR]), ("Oven temperature?", [TC]),
                          ("200 C", [EA]), ("Thanks", [SO]), ("Enjoy", [EA])]),
    ]


def build_labelled_db(directory: Path) -> Path:
    """The six conversations, ingest + embed (fake embedder) + topics from the label file."""
    src = write_jsonl(directory / "topics.jsonl", records())
    labels = directory / "topic_labels.csv"
    with open(labels, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["conv_id", "domain", "subtopic"])
        writer.writerows(TOPIC_LABELS)
    db = directory / "labelled.duckdb"
    pipeline.build(Settings(source=str(src), db=db, progress=False, topic_labels=labels),
                   only=("ingest", "embed", "topics"), embedder=HashingEmbedder(),
                   log=lambda _: None)
    return db


@pytest.fixture(scope="module")
def labelled_db(tmp_path_factory) -> Path:
    return build_labelled_db(tmp_path_factory.mktemp("topic_filtering"))


@pytest.fixture
def con(labelled_db):
    c = duckdb.connect(str(labelled_db), read_only=True)
    yield c
    c.close()


def _ids(con, filters: Filters) -> set[str]:
    return set(browse.conv_ids(con, filters))


# ------------------------------------------------------------------ the primary topic


def test_the_label_file_gave_the_multi_labels(con):
    """Not vacuous: the secondary rows are in the DB (9 rows, 3 of them secondary)."""
    rows = con.execute("SELECT conv_id, domain, subtopic, is_primary FROM conversation_topics "
                       "ORDER BY conv_id, NOT is_primary, domain").fetchall()
    assert len(rows) == 9
    assert sorted((c, d, s) for c, d, s, p in rows if not p) == sorted(
        [(C1, EDU, LEARN), (C3, HEALTH, MENTAL), (C6, TECH, PROG)])
    assert dict(con.execute("SELECT conv_id, domain FROM conversations").fetchall()) == {
        C1: TECH, C2: EDU, C3: TECH, C4: HEALTH, C5: TECH, C6: CULT}


@pytest.mark.parametrize("filters, expected", [
    (Filters(domains=(EDU,)), {C2}),                     # not C1 (Education is secondary)
    (Filters(domains=(HEALTH,)), {C4}),                  # not C3
    (Filters(domains=(TECH,)), {C1, C3, C5}),            # not C6
    (Filters(domains=(TECH, EDU)), {C1, C2, C3, C5}),
    (Filters(subtopics=(PROG,)), {C1, C5}),              # not C6 (Programming is secondary)
    (Filters(subtopics=(MENTAL,)), set()),               # only ever secondary
    (Filters(domains=(TECH,), subtopics=(PROG,)), {C1, C5}),
    (Filters(domains=(CULT,), subtopics=(PROG,)), set()),  # C6: Culture / Food, primary
    (Filters(domains=(TECH,), models=("GPT-5.4",)), {C1, C3}),
])
def test_domain_and_subtopic_filter_on_the_primary_topic(con, filters, expected):
    assert _ids(con, filters) == expected
    assert core.count_conversations(con, filters) == len(expected)


def test_facet_counts_count_primary_topics(con):
    """The sidebar's domain counts: one per conversation, by its primary domain."""
    counts = dict(core.sidebar_facet_counts(con, Filters(), ("domains",))["domains"].iter_rows())
    assert counts == {TECH: 3, EDU: 1, HEALTH: 1, CULT: 1}
    subs = core.sidebar_facet_counts(con, Filters(domains=(TECH,)), ("subtopics",))
    subs = dict(subs["subtopics"].iter_rows())
    assert subs == {PROG: 2, GADGETS: 1}


def test_subtopic_options_are_the_primary_subtopics_of_each_domain(con):
    opts = core.facet_options(con)
    assert opts["subtopics_by_domain"] == {
        CULT: [FOOD], EDU: [LEARN], HEALTH: [FIT], TECH: [GADGETS, PROG]}
    assert MENTAL not in opts["subtopics"]  # assigned, but only as a secondary label


# ------------------------------------------------------------------ the sidebar


def _subtopic_options(at) -> list[str]:
    return list(at.sidebar.multiselect(key="f_subtopics").options)


def _matches(at) -> str:
    return next(m.value for m in at.sidebar.markdown if "match" in m.value)


def test_subtopic_options_follow_the_chosen_domains(labelled_db, monkeypatch):
    at = open_app(labelled_db, monkeypatch)
    # no domain: every (primary) subtopic, each with its count
    assert _subtopic_options(at) == [f"{GADGETS} (1)", f"{FIT} (1)", f"{FOOD} (1)",
                                     f"{LEARN} (1)", f"{PROG} (2)"]
    assert list(at.sidebar.multiselect(key="f_domains").options) == [
        f"{CULT} (1)", f"{EDU} (1)", f"{HEALTH} (1)", f"{TECH} (3)"]
    at.sidebar.multiselect(key="f_domains").set_value([TECH]).run()
    assert _subtopic_options(at) == [f"{GADGETS} (1)", f"{PROG} (2)"]
    # two domains: each domain's subtopics, in the order the domains were chosen
    at.sidebar.multiselect(key="f_domains").set_value([HEALTH, TECH]).run()
    assert _subtopic_options(at) == [f"{FIT} (1)", f"{GADGETS} (1)", f"{PROG} (2)"]


def test_subtopic_counts_follow_the_other_filters(labelled_db, monkeypatch):
    at = open_app(labelled_db, monkeypatch, domain=TECH, model="GPT-5.4")
    # Technology and GPT-5.4: C1 (Programming) and C3 (Gadgets); C5 is Gemini
    assert _subtopic_options(at) == [f"{GADGETS} (1)", f"{PROG} (1)"]
    assert _matches(at) == "**2** conversations match"


def test_a_subtopic_of_a_domain_no_longer_chosen_is_dropped_and_counts_stay_true(
        labelled_db, monkeypatch):
    """Technology / Programming (C1, C5), then the domain changes to Health: Programming is
    no subtopic of Health, so it leaves the filter, and the sidebar's count is Health's (C4)
    on that very run, not the 0 of "Health and Programming"."""
    at = open_app(labelled_db, monkeypatch, domain=TECH, subtopic=PROG)
    assert _matches(at) == "**2** conversations match"
    at.sidebar.multiselect(key="f_domains").set_value([HEALTH]).run()
    assert at.sidebar.multiselect(key="f_subtopics").value == []
    assert _matches(at) == "**1** conversation matches"
    assert query_param(at, "domain") == [HEALTH] and query_param(at, "subtopic") is None


def test_a_link_with_a_subtopic_outside_its_domains_gets_a_notice(labelled_db, monkeypatch):
    at = open_app(labelled_db, monkeypatch, domain=HEALTH, subtopic=PROG)
    notes = [c.value for c in at.sidebar.caption if "Link:" in c.value]
    assert any(f"ignored subtopic '{PROG}'" in n for n in notes), notes
    assert _matches(at) == "**1** conversation matches"  # C4: Health, any subtopic
    assert query_param(at, "subtopic") is None


# ------------------------------------------------------------------ multi-label rule


def test_a_secondary_subtopic_at_exactly_best_minus_the_margin_is_kept():
    # best 0.40: the cut is max(0.25, 0.40 - 0.05) = 0.35; 0.35 is kept, 0.3499 is not
    scores = np.array([[0.40, 0.35, 0.3499, 0.10]])
    assert assign(scores, min_score=0.25, margin=0.05).tolist() == [[True, True, False, False]]
    # best 0.80: cut 0.75
    scores = np.array([[0.75, 0.7499, 0.80]])
    assert assign(scores, min_score=0.25, margin=0.05).tolist() == [[True, False, True]]


def test_a_secondary_subtopic_at_exactly_the_floor_is_kept():
    # best 0.28: best - margin = 0.23 < 0.25, so the cut is the floor 0.25
    scores = np.array([[0.28, 0.25, 0.2499, 0.24]])
    assert assign(scores, min_score=0.25, margin=0.05).tolist() == [[True, True, False, False]]
    # best 0.30: both bounds are 0.25
    scores = np.array([[0.30, 0.25, 0.2499]])
    assert assign(scores, min_score=0.25, margin=0.05).tolist() == [[True, True, False]]


def test_the_primary_is_assigned_even_below_the_floor_and_rows_are_independent():
    scores = np.array([[0.20, 0.19, 0.10],     # best below the floor: only the primary
                       [0.50, 0.45, 0.4499]])  # cut 0.45
    primary = np.array([0, 2])                 # row 2's primary is not its best subtopic
    assert assign(scores, min_score=0.25, margin=0.05, primary=primary).tolist() == [
        [True, False, False], [True, True, True]]
    assert assign(scores, min_score=0.25, margin=0.05).tolist() == [
        [True, False, False], [True, True, False]]
    assert assign(np.zeros((0, 3)), min_score=0.25, margin=0.05).shape == (0, 3)
