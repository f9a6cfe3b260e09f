"""Stages `topics` and `clusters`: taxonomy, domain scoring, label files, clusters, key phrases.

Tiny corpora with the fake (hashed bag-of-words) embedder, so every score below can be
worked out by hand; the real model's checks are in test_topic_accuracy.py and
test_cluster_names.py.
"""

from __future__ import annotations

import math
import re

import duckdb
import numpy as np
import pytest

from precompute.config import DEFAULT_TAXONOMY
from precompute.topics import (
    NOISE_NAME,
    Subtopic,
    TopicError,
    assign,
    conversation_vectors,
    ctfidf_keywords,
    ctfidf_phrases,
    domain_priors,
    domain_scores,
    key_phrases,
    load_taxonomy,
    margins,
    mmr_select,
    phrases_of,
    primary_subtopics,
    read_topic_labels,
    softmax,
)
from tests.corpus import dialogue

DOMAINS = ["Culture & Lifestyle", "Education & Knowledge", "Business & Society",
           "Health & Relationships", "Technology", "Arts & Entertainment", "Other Topics"]
PUBLISHED_SHARES = [37.1, 19.1, 14.8, 14.5, 6.6, 4.9, 3.1]

COOKING = [
    ("How do I cook a creamy pasta sauce recipe for dinner tonight?", "Use butter and cream."),
    ("Give me a recipe for baking sourdough bread in my kitchen oven", "Feed the starter."),
    ("Meal prep ideas: cooking chicken and rice recipes for the week", "Batch cook rice."),
    ("What can I cook for dinner with eggs, tomatoes and pasta? A quick recipe", "Shakshuka."),
    ("My soup recipe is too salty, how do I fix the cooking?", "Add potato and water."),
    ("Baking cookies: recipe with less sugar, oven temperature?", "Bake at 180C."),
]
PYTHON = [
    ("My Python code throws a KeyError bug when reading a CSV, how to debug it?", "Check keys."),
    ("Python function has a bug: mutable default argument error in my code", "Use None."),
    ("Debugging a Python script: TypeError bug in my loop code", "Cast to int."),
    ("How to fix this Python error in my code: IndexError list bug", "Check the length."),
    ("Python code bug: my API request function returns an error, debug help", "Print status."),
    ("Fix a bug in Python code that parses JSON, error on null values", "Handle None."),
]

#: A taxonomy whose scores can be worked out by hand with the fake embedder: Kitchen has
#: two subtopics and the larger share, Code one subtopic.
TINY_TAXONOMY = '''
[[domain]]
name = "Kitchen"
share = 60

[[domain.subtopic]]
name = "Cooking"
description = "cooking recipe meal dinner oven baking"

[[domain.subtopic]]
name = "Groceries"
description = "grocery supermarket"

[[domain]]
name = "Code"
share = 40

[[domain.subtopic]]
name = "Python"
description = "python code bug error debug function"
'''
TAU = 0.03


def _topic_corpus() -> list[dict]:
    recs = []
    for i, (u, a) in enumerate(COOKING):
        recs.append(dialogue(f"user{i}_task1_conversation1", [(u, a)],
                                 task_summary="I asked for a cooking recipe for a meal."))
    for i, (u, a) in enumerate(PYTHON):
        recs.append(dialogue(f"user{i}_task2_conversation1", [(u, a)],
                                 task_summary="I asked to fix a bug in my Python code."))
    return recs


@pytest.fixture
def tiny_taxonomy(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_TAXONOMY)
    return path


# --------------------------------------------------------------------------- taxonomy


def test_taxonomy_has_the_papers_7_domains_shares_and_36_subtopics():
    subs = load_taxonomy(DEFAULT_TAXONOMY)
    assert len(subs) == 36
    assert list(dict.fromkeys(s.domain for s in subs)) == DOMAINS
    assert len({(s.domain, s.name) for s in subs}) == 36
    for s in subs:
        assert len(s.description.split()) >= 12, f"{s.name}: description too short to match"
        assert s.text.startswith(f"{s.domain}: {s.name}. ")
        assert s.match_text("description") == s.description
    domains, priors = domain_priors(subs)
    assert domains == DOMAINS
    assert np.allclose(priors, np.array(PUBLISHED_SHARES) / sum(PUBLISHED_SHARES))
    # fitness is health, sport as a fan is entertainment
    where = {s.name: s.domain for s in subs}
    assert where["Fitness & Exercise"] == "Health & Relationships"
    assert where["Sports"] == "Arts & Entertainment"


def test_taxonomy_errors_are_clear(tmp_path):
    bad = tmp_path / "t.toml"
    bad.write_text('[[domain]]\nname = "X"\n')
    with pytest.raises(TopicError, match="no \\[\\[domain.subtopic\\]\\]"):
        load_taxonomy(bad)
    bad.write_text("not = [toml")
    with pytest.raises(TopicError, match="not valid TOML"):
        load_taxonomy(bad)
    with pytest.raises(TopicError, match="not found"):
        load_taxonomy(tmp_path / "missing.toml")
    for share in ('"many"', "0", "-3", "true"):
        bad.write_text(f'[[domain]]\nname = "X"\nshare = {share}\n'
                       '[[domain.subtopic]]\nname = "Y"\ndescription = "y"\n')
        with pytest.raises(TopicError, match="domain 'X': share must be a positive number"):
            load_taxonomy(bad)


def test_domain_without_share_gets_the_mean_of_the_others():
    subs = [Subtopic("A", "a", "", 30.0), Subtopic("B", "b", "", 10.0), Subtopic("C", "c", "")]
    domains, priors = domain_priors(subs)
    assert domains == ["A", "B", "C"]
    assert priors.tolist() == pytest.approx([0.5, 1 / 6, 1 / 3])  # 30 : 10 : 20
    _, uniform = domain_priors([Subtopic("A", "a", ""), Subtopic("B", "b", "")])
    assert uniform.tolist() == [0.5, 0.5]


# --------------------------------------------------------------------------- domain scores


def test_domain_score_is_a_mixture_over_subtopics_not_the_max():
    # domain 0: five subtopics, one at 0.32 and four at 0.10; domain 1: one at 0.30
    scores = np.array([[0.32, 0.10, 0.10, 0.10, 0.10, 0.30]])
    sub_dom = [0, 0, 0, 0, 0, 1]
    got = domain_scores(scores, sub_dom, np.array([0.5, 0.5]), temperature=TAU)
    # 0.03 * log((e^(0.32/0.03) + 4 e^(0.10/0.03)) / 5) + 0.03 * log(0.5)
    want0 = TAU * math.log((math.exp(0.32 / TAU) + 4 * math.exp(0.10 / TAU)) / 5) \
        + TAU * math.log(0.5)
    assert got[0, 0] == pytest.approx(want0)
    assert got[0, 1] == pytest.approx(0.30 + TAU * math.log(0.5))
    assert got[0].argmax() == 1       # the best single subtopic (0.32) would pick domain 0
    # duplicating a subtopic does not change its domain's score
    dup = domain_scores(np.array([[0.30, 0.30, 0.30]]), [0, 0, 1], np.array([0.5, 0.5]),
                        temperature=TAU)
    assert dup[0, 0] == pytest.approx(dup[0, 1])
    # the prior adds tau * log(prior)
    skew = domain_scores(np.array([[0.2, 0.2]]), [0, 1], np.array([0.75, 0.25]),
                         temperature=TAU)
    assert skew[0, 0] - skew[0, 1] == pytest.approx(TAU * math.log(3))
    assert softmax(skew, TAU)[0].tolist() == pytest.approx([0.75, 0.25])
    assert margins(skew)[0] == pytest.approx(TAU * math.log(3))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        domain_scores(scores, sub_dom, np.array([0.5, 0.5]), temperature=0)


def test_primary_subtopic_is_the_best_of_the_primary_domain():
    scores = np.array([[0.2, 0.1, 0.5],
                       [0.2, 0.3, 0.1]])
    assert primary_subtopics(scores, [0, 0, 1], np.array([0, 0])).tolist() == [0, 1]
    assert primary_subtopics(scores, [0, 0, 1], np.array([1, 1])).tolist() == [2, 2]


def test_assign_multi_label_rule():
    scores = np.array([[0.50, 0.47, 0.30, 0.10],    # 0.47 within margin 0.05 -> assigned
                       [0.20, 0.18, 0.05, 0.00]])   # below min score: primary only
    out = assign(scores, min_score=0.25, margin=0.05)
    assert out.tolist() == [[True, True, False, False], [True, False, False, False]]
    # a primary that is not the argmax is always assigned
    out = assign(scores, min_score=0.25, margin=0.05, primary=np.array([2, 3]))
    assert out.tolist() == [[True, True, True, False], [False, False, False, True]]


def test_conversation_vector_is_task_plus_mean_user_message():
    task = np.array([[1.0, 0.0], [0.0, 2.0]])
    msgs = np.array([[0.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    ids, vecs = conversation_vectors(["a", "b", "c", "d"], ["a", "b"], task,
                                     ["a", "a", "c"], msgs)
    assert ids == ["a", "b", "c"]                 # d has neither: no vector
    s = 1 / math.sqrt(2)
    assert vecs[0].tolist() == pytest.approx([s, s])   # unit(x) + unit(mean(y, 3y))
    assert vecs[1].tolist() == pytest.approx([0, 1])   # task only
    assert vecs[2].tolist() == pytest.approx([1, 0])   # messages only


# --------------------------------------------------------------------------- stage


def test_cooking_vs_python_by_domain(make_corpus, build_db, fake_embedder, tiny_taxonomy):
    src = make_corpus(_topic_corpus())
    settings, report = build_db(src, embedder=fake_embedder, taxonomy=tiny_taxonomy,
                                only=("ingest", "embed", "topics"))
    con = duckdb.connect(str(settings.db), read_only=True)
    got = {c: (d, s) for c, d, s in con.execute(
        "SELECT conv_id, domain, subtopic FROM conversations").fetchall()}
    n_conv = len(COOKING) + len(PYTHON)
    assert [got[f"user{i}_task1_conversation1"] for i in range(len(COOKING))] == \
        [("Kitchen", "Cooking")] * len(COOKING)
    assert [got[f"user{i}_task2_conversation1"] for i in range(len(PYTHON))] == \
        [("Code", "Python")] * len(PYTHON)
    # every conversation x subtopic and x domain is scored; one primary each
    assert con.execute("SELECT count(*) FROM topic_scores").fetchone()[0] == n_conv * 3
    assert con.execute("SELECT count(*) FROM topic_domain_scores").fetchone()[0] == n_conv * 2
    assert con.execute("SELECT count(*) FROM topic_domain_scores WHERE is_primary"
                       ).fetchone()[0] == n_conv
    assert con.execute("""SELECT count(*) FROM topic_domain_scores d JOIN conversations c
        USING (conv_id) WHERE d.rank = 1 AND d.is_primary AND d.domain = c.domain"""
                       ).fetchone()[0] == n_conv
    sums = con.execute("SELECT sum(probability) FROM topic_domain_scores GROUP BY conv_id"
                       ).fetchall()
    assert all(abs(s - 1) < 1e-9 for (s,) in sums)
    # the margin is best minus second-best domain score; clear cases are not uncertain
    rows = con.execute("""SELECT c.topic_margin, max(d.score) - min(d.score), c.topic_uncertain
        FROM conversations c JOIN topic_domain_scores d USING (conv_id)
        GROUP BY c.conv_id, c.topic_margin, c.topic_uncertain""").fetchall()
    assert all(m == pytest.approx(diff) and m >= 0.033 and not unc for m, diff, unc in rows)
    assert con.execute("SELECT value FROM meta WHERE key = 'topic_margin_threshold'"
                       ).fetchone()[0] == "0.033"
    assert con.execute("SELECT value FROM meta WHERE key = 'topic_source'").fetchone()[0] == \
        "zero-shot:fake-hashing-bow"
    assert con.execute("""SELECT count(*) FROM conversation_topics t JOIN conversations c
        USING (conv_id) WHERE t.is_primary AND t.domain = c.domain
        AND t.subtopic = c.subtopic""").fetchone()[0] == n_conv
    con.close()
    # an unchanged rerun skips the stage
    _, again = build_db(src, embedder=fake_embedder, taxonomy=tiny_taxonomy,
                        only=("ingest", "embed", "topics"))
    assert again.stages["topics"]["skipped"]


def test_even_match_is_uncertain_and_a_domain_with_more_subtopics_gains_nothing(
        make_corpus, build_db, fake_embedder, tiny_taxonomy):
    """'cooking python' matches Cooking and Python alike (cosine 1/sqrt(12) each). Kitchen
    = s - tau ln 2 (its second subtopic scores 0) + tau ln 0.6, Code = s + tau ln 0.4, so
    Code wins by tau (ln 2 - ln 1.5) = 0.0086 < 0.033: uncertain. A text that matches
    nothing gets the larger prior: Kitchen, by tau ln 1.5."""
    recs = _topic_corpus() + [
        dialogue("user50_task1_conversation1", [("cooking python", "ok")],
                     task_summary="cooking python"),
        dialogue("user51_task1_conversation1", [("zebra xylophone", "ok")],
                     task_summary="zebra xylophone"),
    ]
    settings, _ = build_db(make_corpus(recs), embedder=fake_embedder, taxonomy=tiny_taxonomy,
                           only=("ingest", "embed", "topics"))
    con = duckdb.connect(str(settings.db), read_only=True)
    row = dict((c, r) for c, *r in con.execute(
        "SELECT conv_id, domain, subtopic, topic_margin, topic_uncertain FROM conversations"
    ).fetchall())
    even, none = row["user50_task1_conversation1"], row["user51_task1_conversation1"]
    s = 1 / math.sqrt(12)
    kitchen = TAU * math.log((math.exp(s / TAU) + 1) / 2) + TAU * math.log(0.6)
    code = s + TAU * math.log(0.4)
    assert even[:2] == ["Code", "Python"]
    assert even[2] == pytest.approx(code - kitchen, abs=1e-6) and even[3] is True
    assert none[:2] == ["Kitchen", "Cooking"]
    assert none[2] == pytest.approx(TAU * math.log(1.5), abs=1e-6) and none[3] is True
    summary = con.execute("SELECT summary FROM stage_runs WHERE stage = 'topics'").fetchone()[0]
    assert "2 uncertain (margin < 0.033)" in summary


def test_topics_rerun_after_forced_ingest_refills_domains(make_corpus, build_db,
                                                          fake_embedder):
    src = make_corpus(_topic_corpus())
    settings, _ = build_db(src, embedder=fake_embedder, only=("ingest", "embed", "topics"))
    _, report = build_db(src, embedder=fake_embedder, only=("ingest",), force=True)
    _, report = build_db(src, embedder=fake_embedder, only=("ingest", "embed", "topics"))
    assert not report.stages["topics"]["skipped"]
    con = duckdb.connect(str(settings.db), read_only=True)
    assert con.execute("SELECT count(*) FROM conversations WHERE domain IS NULL"
                       ).fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM conversations WHERE topic_margin IS NULL"
                       ).fetchone()[0] == 0


# --------------------------------------------------------------------------- label files


def test_label_file_overrides_and_extends_taxonomy(make_corpus, build_db, fake_embedder,
                                                   tmp_path, tiny_taxonomy):
    src = make_corpus(_topic_corpus())
    labels = tmp_path / "labels.csv"
    labels.write_text("conv_id,domain,subtopic\n"
                      "user0_task1_conversation1,Health & Relationships,Nutrition & Diet\n"
                      "user0_task1_conversation1,Culture & Lifestyle,Food & Cooking\n"
                      "user1_task2_conversation1,Science Fiction,Robots\n")
    settings, report = build_db(src, embedder=fake_embedder, topic_labels=labels,
                                taxonomy=tiny_taxonomy, only=("ingest", "embed", "topics"))
    summary = report.stages["topics"]["summary"]
    assert "2 labelled from file" in summary and "10 not in the file kept zero-shot" in summary
    con = duckdb.connect(str(settings.db), read_only=True)
    got = dict(con.execute("SELECT conv_id, domain || '/' || subtopic FROM conversations"
                           ).fetchall())
    assert got["user0_task1_conversation1"] == "Health & Relationships/Nutrition & Diet"
    assert got["user1_task2_conversation1"] == "Science Fiction/Robots"
    assert got["user2_task2_conversation1"] == "Code/Python"
    # labelled conversations have no margin and are not uncertain; the others keep theirs
    unc = {c: (m, u) for c, m, u in con.execute(
        "SELECT conv_id, topic_margin, topic_uncertain FROM conversations").fetchall()}
    assert unc["user0_task1_conversation1"] == (None, False)
    assert unc["user1_task2_conversation1"] == (None, False)
    assert unc["user2_task2_conversation1"][0] > 0 and unc["user2_task2_conversation1"][1] \
        is False
    # the zero-shot scores of a labelled conversation are kept
    assert con.execute("SELECT count(*) FROM topic_domain_scores WHERE conv_id = "
                       "'user0_task1_conversation1'").fetchone()[0] == 2
    rows = con.execute("SELECT domain, subtopic, is_primary, source FROM conversation_topics "
                       "WHERE conv_id = 'user0_task1_conversation1' ORDER BY is_primary DESC"
                       ).fetchall()
    assert rows == [("Health & Relationships", "Nutrition & Diet", True, "labels"),
                    ("Culture & Lifestyle", "Food & Cooking", False, "labels")]
    assert con.execute("SELECT origin FROM topic_taxonomy WHERE domain = 'Science Fiction'"
                       ).fetchall() == [("labels",)]
    assert con.execute("SELECT count(*) FROM topic_taxonomy").fetchone()[0] == 3 + 3
    assert con.execute("SELECT value FROM meta WHERE key = 'topic_source'").fetchone()[0] == \
        f"labels:{labels}"


def test_label_file_errors_name_the_lines(tmp_path):
    known = {"a", "b"}
    f = tmp_path / "l.csv"
    f.write_text("conv_id,domain\na,X\n")
    with pytest.raises(TopicError, match=r"l.csv:1: missing column\(s\) subtopic"):
        read_topic_labels(f, known)
    f.write_text("conv_id,domain,subtopic\na,X,Y\nzzz,X,Y\nb,,Y\n")
    with pytest.raises(TopicError) as exc:
        read_topic_labels(f, known)
    msg = str(exc.value)
    assert "2 bad line(s)" in msg
    assert re.search(r"l.csv:3: unknown conv_id 'zzz'", msg)
    assert re.search(r"l.csv:4: domain is empty", msg)
    j = tmp_path / "l.jsonl"
    j.write_text('{"conv_id": "a", "domain": "X", "subtopic": "Y"}\n'
                 '{"conv_id": "b", "domain": "X"}\n'
                 'not json\n')
    with pytest.raises(TopicError) as exc:
        read_topic_labels(j, known)
    assert "l.jsonl:2: missing field(s) subtopic" in str(exc.value)
    assert "l.jsonl:3: invalid JSON" in str(exc.value)
    j.write_text('{"conv_id": "a", "domain": "X", "subtopic": "Y"}\n'
                 '{"conv_id": "a", "domain": "Z", "subtopic": "W"}\n')
    frame = read_topic_labels(j, known)
    assert frame["is_primary"].tolist() == [True, False]


def test_bad_label_file_leaves_db_untouched(make_corpus, build_db, fake_embedder, tmp_path):
    src = make_corpus(_topic_corpus())
    settings, _ = build_db(src, embedder=fake_embedder, only=("ingest", "embed", "topics"))
    before = settings.db.read_bytes()
    labels = tmp_path / "bad.csv"
    labels.write_text("conv_id,domain,subtopic\nnobody,X,Y\n")
    with pytest.raises(TopicError, match="bad.csv:2: unknown conv_id"):
        build_db(src, embedder=fake_embedder, topic_labels=labels, only=("topics",))
    assert settings.db.read_bytes() == before


# --------------------------------------------------------------------------- clusters

GARDEN = ["tomato", "garden", "soil", "seedling", "watering", "compost", "greenhouse",
          "plant", "pruning", "harvest"]
CAR = ["engine", "car", "oil", "brake", "battery", "mechanic", "spark", "transmission",
       "coolant", "tire"]


def _cluster_corpus() -> list[dict]:
    """Two topics (gardening tomatoes vs. car engine repair), 20 conversations each, plus
    3 unrelated one-offs."""
    rng = np.random.default_rng(0)
    recs = []
    for topic, words in (("garden", GARDEN), ("car", CAR)):
        for i in range(20):
            picked = rng.choice(words, size=6, replace=False)
            text = " ".join(picked)
            recs.append(dialogue(f"user{i}_{topic}_conversation1", [(text, "ok")],
                                     task_summary=f"help with {' '.join(picked[:3])}"))
    for i, text in enumerate(["violin concerto tickets", "quantum entanglement lecture",
                              "wedding speech jokes"]):
        recs.append(dialogue(f"user{i}_misc_conversation1", [(text, "ok")],
                                 task_summary=text))
    return recs


def _words(name: str) -> set[str]:
    return {w for phrase in name.split(" · ") for w in phrase.split()}


def test_two_topics_split_into_two_clusters_named_by_phrases(make_corpus, build_db,
                                                             fake_embedder):
    src = make_corpus(_cluster_corpus())
    settings, report = build_db(src, embedder=fake_embedder, cluster_reduce="none")
    con = duckdb.connect(str(settings.db), read_only=True)
    members = {i: (c, p, o) for i, c, p, o in con.execute(
        "SELECT item_id, cluster_id, probability, outlier_score FROM cluster_members "
        "WHERE space = 'task'").fetchall()}
    garden = {members[f"c:user{i}_garden_conversation1"][0] for i in range(20)}
    car = {members[f"c:user{i}_car_conversation1"][0] for i in range(20)}
    assert len(garden) == 1 and len(car) == 1 and garden != car and -1 not in garden | car
    names = dict(con.execute("SELECT cluster_id, name FROM clusters WHERE space = 'task'"
                             ).fetchall())
    g_name, c_name = names[garden.pop()], names[car.pop()]
    # names are 2-3 distinct phrases made of the topic's own words, none inside another
    for name, words in ((g_name, set(GARDEN)), (c_name, set(CAR))):
        phrases = name.split(" · ")
        assert 2 <= len(phrases) <= 3 and len(set(phrases)) == len(phrases), name
        assert _words(name) <= words, name
        assert not any(set(a.split()) <= set(b.split())
                       for a in phrases for b in phrases if a != b), name
    # noise is its own group, named, and holds the one-offs
    assert names[-1] == NOISE_NAME
    assert {members[f"c:user{i}_misc_conversation1"][0] for i in range(3)} == {-1}
    # membership strength in 0..1 (0 for noise), GLOSH outlier score in 0..1
    assert all(0 <= p <= 1 and 0 <= o <= 1 for _, p, o in members.values())
    assert all(p == 0 for c, p, _ in members.values() if c == -1)
    assert all(p > 0 for c, p, _ in members.values() if c != -1)
    noise_out = [o for c, _, o in members.values() if c == -1]
    kept_out = [o for c, _, o in members.values() if c != -1]
    assert min(noise_out) > np.median(kept_out)   # the one-offs are the outliers
    size = dict(con.execute("SELECT cluster_id, size FROM clusters WHERE space = 'task'"
                            ).fetchall())
    assert sum(size.values()) == 43
    kw = con.execute("SELECT keywords, name FROM clusters WHERE space = 'task' AND "
                     "cluster_id = 0").fetchone()
    assert len(kw[0].split(", ")) == 5
    assert kw[1].split(" · ") == kw[0].split(", ")[:3]    # the name = the first 3 keywords
    # tiny spaces (3 reactions: none here; reasons: none) do not crash and keep a noise row
    assert con.execute("SELECT count(*) FROM clusters WHERE cluster_id = -1").fetchone()[0] == 3
    params = con.execute("SELECT params FROM stage_runs WHERE stage = 'clusters'").fetchone()[0]
    assert "min_cluster_size" in params and "n_neighbors" in params
    assert '"package": "hdbscan"' in params and "mmr_lambda" in params
    con.close()
    _, again = build_db(src, embedder=fake_embedder, cluster_reduce="none")
    assert again.stages["clusters"]["skipped"]


def test_tiny_space_is_all_noise(make_corpus, build_db, fake_embedder):
    recs = [dialogue(f"user{i}_t_conversation1", [(f"question {i} about tea", "ok")],
                         task_summary="tea", reasons={0: [("task_motivation", "I like tea")]})
            for i in range(5)]
    settings, report = build_db(make_corpus(recs), embedder=fake_embedder)
    con = duckdb.connect(str(settings.db), read_only=True)
    assert con.execute("SELECT DISTINCT cluster_id FROM cluster_members").fetchall() == [(-1,)]
    assert con.execute("SELECT size FROM clusters WHERE space = 'task'").fetchall() == [(5,)]
    # not clustered at all: no outlier score
    assert con.execute("SELECT count(*) FROM cluster_members WHERE outlier_score IS NOT NULL"
                       ).fetchone()[0] == 0


# --------------------------------------------------------------------------- key phrases


def test_candidate_phrases_stay_inside_a_clause_and_skip_stop_word_edges():
    assert phrases_of("Meal prep for the week, and a grocery list") == {
        "meal", "meal prep", "prep", "week", "grocery", "grocery list", "list"}
    assert phrases_of("easy meal prep ideas") == {
        "easy", "easy meal", "easy meal prep", "meal", "meal prep", "meal prep ideas",
        "prep", "prep ideas", "ideas"}
    assert "prep ideas" not in phrases_of("easy meal prep ideas", max_words=1)
    assert phrases_of("I asked the AI: 42 or 7?") == {"asked", "asked the ai", "ai"}


def test_ctfidf_phrases_prefer_phrases_specific_to_a_class():
    texts = ["weekly meal prep", "meal prep for work", "meal plan",
             "fix my bike chain", "bike chain oil", "weekly bike ride"]
    ranked = ctfidf_phrases(texts, [0, 0, 0, 1, 1, 1])
    # 'meal prep' and 'bike chain' are in 2 texts of their class and none of the other;
    # 'weekly' is in one text of each class, so it is not a candidate anywhere
    assert [p for p, _ in ranked[0]] == ["meal", "meal prep", "prep"]
    assert [p for p, _ in ranked[1]] == ["bike", "bike chain", "chain"]
    # meal: tf 3/3, idf log(1 + 3/3); meal prep: tf 2/3, idf log(1 + 3/2)
    assert ranked[0][0][1] == pytest.approx(math.log(2))
    assert ranked[0][1][1] == pytest.approx(2 / 3 * math.log(2.5))
    kw = ctfidf_keywords(["apple banana apple", "apple cherry", "car engine",
                          "car wheel engine"], [0, 0, 1, 1], top_n=2)
    assert kw == {0: ["apple"], 1: ["car", "engine"]}
    assert ctfidf_keywords(["the and of", "a an"], [0, 1]) == {0: [], 1: []}


def test_mmr_trades_relevance_for_diversity():
    a = np.array([1.0, 0.0, 0.0])
    a2 = np.array([0.99, 0.141, 0.0]) / np.linalg.norm([0.99, 0.141, 0.0])
    b = np.array([0.6, 0.0, 0.8])
    centroid = np.array([1.0, 0.0, 0.3])
    # relevance: a 0.958 > a2 0.948 > b 0.805; after a, a2 scores 0.7*0.948 - 0.3*0.99
    # = 0.366 and b 0.7*0.805 - 0.3*0.6 = 0.383: b comes second
    assert mmr_select(["a", "a2", "b"], np.stack([a, a2, b]), centroid, k=2) == ["a", "b"]
    assert mmr_select(["a", "a2", "b"], np.stack([a, a2, b]), centroid, k=2, lam=1.0) == \
        ["a", "a2"]
    # a phrase inside a picked one (plurals folded) is skipped however relevant
    assert mmr_select(["meal prep", "meals", "bike"], np.stack([a, a, b]), centroid,
                      k=3) == ["meal prep", "bike"]
    assert mmr_select([], np.zeros((0, 3)), centroid) == []


def test_key_phrases_name_each_cluster_not_the_noise(fake_embedder):
    texts = ["tomato seedling watering", "tomato seedling compost", "tomato seedling soil",
             "engine oil change", "engine oil leak", "engine oil brand", "violin"]
    labels = [0, 0, 0, 1, 1, 1, -1]
    vectors = fake_embedder.encode(texts)
    got = key_phrases(texts, labels, vectors, embed=fake_embedder.encode)
    assert set(got) == {0, 1}
    # the repeated bigram is the most central phrase; its words are not repeated after it
    assert got[0] == ["tomato seedling"] and got[1] == ["engine oil"]
