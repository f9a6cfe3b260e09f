"""Queries of the Participants page (components.queries.participants): purpose keyword
groups, free-text normalisation, categories with missing and invalid answers as their own
bars, and per-field counts of conversations and users on the tiny DB (tests/tiny_db.py),
every answer counted by hand."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from components.filters import MISSING, Filters
from components.queries import participants as qp
from precompute.labels import AGE_BRACKETS
from tests.tiny_db import build_tiny_db


def _counts(df: pl.DataFrame, column: str = "conversations") -> dict[str, int]:
    return dict(df.select("category", column).iter_rows())


def test_purpose_groups():
    assert qp.purpose_groups("Coding, working and learning") == [
        "Coding & programming", "Learning & studying", "Work & productivity"]
    assert qp.purpose_groups("Quickly fixing my written emails") == ["Writing & editing"]
    assert qp.purpose_groups("homework, cooking recipes") == [
        "Learning & studying", "Daily life & advice"]
    assert qp.purpose_groups("artificial stuff") == [qp.NO_GROUP]   # "art." is a whole word
    assert qp.purpose_groups("art and fun") == ["Creative & ideas"]
    assert qp.purpose_groups("  ") == [MISSING] and qp.purpose_groups(None) == [MISSING]


def test_age_category():
    assert qp.age_category("30", "25-34") == "25-34"
    assert qp.age_category("366", None) == qp.NO_VALID_AGE
    assert qp.age_category(" ", None) == MISSING and qp.age_category(None, None) == MISSING


def test_occupation_normalisation_and_top_n():
    rows = pl.DataFrame({
        "conv_id": list("abcdefg"), "user_id": ["u1", "u1", "u2", "u3", "u4", "u5", "u6"],
        "occupation": ["Teacher", " teacher ", "TEACHER.", "Nurse", "nurse", "Pilot", None]})
    assert qp.normalise_text("  Software   Engineer. ") == "software engineer"
    assert qp.normalise_text(" .. ") is None and qp.normalise_text(float("nan")) is None
    cats = qp.categorise(rows, "occupation", top_n=1)
    counts = qp.count_categories(cats, "occupation")
    teacher = counts.filter(pl.col("category") == "Teacher").row(0, named=True)
    assert teacher["conversations"] == 3 and teacher["users"] == 2
    conv = _counts(counts)
    assert conv[qp.OTHER] == 3                              # nurse x2, pilot
    assert conv[MISSING] == 1
    assert counts["category"].to_list()[-2:] == [qp.OTHER, MISSING]
    assert teacher["share"] == pytest.approx(3 / 7)
    full = qp.count_categories(qp.categorise(rows, "occupation", top_n=10), "occupation")
    assert full["category"].to_list() == ["Teacher", "Nurse", "Pilot", MISSING]
    with pytest.raises(ValueError, match="unknown field"):
        qp.categorise(rows, "salary")
    assert qp.count_categories(cats.clear(), "occupation").is_empty()


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory):
    con = duckdb.connect(str(build_tiny_db(tmp_path_factory.mktemp("tiny"))), read_only=True)
    yield con
    con.close()


def test_missing_and_invalid_bars_present(tiny_db):
    age = qp.participant_counts(tiny_db, Filters(), "age")
    c = _counts(age["counts"])
    # c1 age 31 -> 25-34; c2 366 -> no valid age; c3 22 -> 18-24; c4 no survey -> missing.
    assert c["25-34"] == 1 and c["18-24"] == 1
    assert c[qp.NO_VALID_AGE] == 1 and c[MISSING] == 1
    assert c["65+"] == 0                                     # the full scale is shown
    assert age["counts"]["category"].to_list() == [*AGE_BRACKETS, qp.NO_VALID_AGE, MISSING]
    assert age["no_survey"] == 1 and age["conversations"] == 4 and age["users"] == 3
    gender = _counts(qp.participant_counts(tiny_db, Filters(), "gender")["counts"])
    assert gender["Male"] == 2 and gender["Female"] == 1 and gender[MISSING] == 1
    edu = _counts(qp.participant_counts(tiny_db, Filters(), "education")["counts"])
    assert edu[MISSING] == 2                                 # "" and no survey
    occ = qp.participant_counts(tiny_db, Filters(), "occupation")
    assert _counts(occ["counts"])["Teacher"] == 3
    assert occ["distinct"] == 1
    freq = qp.participant_counts(tiny_db, Filters(), "ai_frequency")["counts"]
    assert freq["category"].to_list() == ["1", "2", "3", "4", "5", MISSING]
    purposes = qp.participant_counts(tiny_db, Filters(), "purposes")["counts"]
    p = _counts(purposes)
    assert p["Coding & programming"] == 1 and p["Writing & editing"] == 1
    assert p["Work & productivity"] == 1 and p[qp.NO_GROUP] == 1 and p[MISSING] == 1
    assert sum(p.values()) == 5             # multi-label: 4 conversations, c2 in two groups
    users = _counts(purposes, "users")
    assert users[qp.NO_GROUP] == 1 and users[MISSING] == 1   # c3 and c4: one user each


def test_counts_of_every_field_in_one_read(tiny_db):
    every = qp.participant_counts_all(tiny_db, Filters(), 15)  # one read, same answers
    assert list(every) == list(qp.FIELDS)
    for field in qp.FIELDS:
        one = qp.participant_counts(tiny_db, Filters(), field)
        assert_frame_equal(every[field]["counts"], one["counts"])
        assert {k: v for k, v in every[field].items() if k != "counts"} == \
            {k: v for k, v in one.items() if k != "counts"}


def test_filters_narrow_the_participants(tiny_db):
    m2 = qp.participant_counts(tiny_db, Filters(models=("M2",)), "gender")
    assert m2["conversations"] == 2 and m2["users"] == 2 and m2["no_survey"] == 1
    assert _counts(m2["counts"]) == {"Male": 1, MISSING: 1}
    none = qp.participant_counts(tiny_db, Filters(models=("nope",)), "gender")
    assert none["conversations"] == 0 and none["counts"].is_empty()


def test_keyword_groups_table_lists_every_group():
    table = qp.keyword_groups_table()
    assert table["group"].to_list() == list(qp.PURPOSE_GROUPS)
    assert "art." in table.row(list(qp.PURPOSE_GROUPS).index("Creative & ideas"))[1]


@pytest.mark.parametrize("field, answer, group", [
    ("education", "Undergraduate", "Undergrad"), ("education", "Graduate", "Graduate"),
    ("education", "PhD", "Graduate"), ("education", "master's degree", "Graduate"),
    ("education", "Bachelor", "Undergrad"), ("education", "high school", "High school"),
    ("education", "Trade certificate", "Other"), ("education", None, "(missing)"),
    ("gender", "Male", "Male"), ("gender", " female ", "Female"),
    ("gender", "Non-binary", "Non-binary"), ("gender", "nonbinary", "Non-binary"),
    ("gender", "Prefer not to say", "Other"), ("gender", "", "(missing)"),
])
def test_paper_groups_of_gender_and_education(field, answer, group):
    assert qp.paper_group(field, answer) == group


def test_paper_purpose_groups_and_frequency_labels():
    groups = qp.purpose_groups("Coding, working, and translating emails", "paper")
    assert groups == ["Working", "Coding", "Writing", "Translation"]
    assert qp.purpose_groups("brainstorm ideas for a trip", "paper") == ["Brainstorming",
                                                                       "Planning"]
    assert qp.purpose_groups("zzz", "paper") == [qp.NO_GROUP]
    rows = pl.DataFrame({"conv_id": ["a", "b", "c"], "user_id": ["u1", "u1", "u2"],
                         "ai_frequency": [5, 5, 1], "age": [None] * 3,
                         "age_bracket": [None] * 3}, schema_overrides={"age": pl.Utf8,
                                                                      "age_bracket": pl.Utf8})
    counts = qp.count_categories(qp.categorise(rows, "ai_frequency", grouping="paper"),
                                 "ai_frequency", 3, by="users")
    assert counts["category"].to_list()[:5] == list(qp.FREQUENCY_LABELS.values())
    top = counts.row(0, named=True)
    assert top["category"] == "5 (Many times a day)"
    assert (top["conversations"], top["users"]) == (2, 1)   # one user, two conversations


def test_paper_grouping_sorts_by_users():
    rows = pl.DataFrame({"conv_id": ["a", "b", "c", "d"], "user_id": ["u1", "u1", "u1", "u2"],
                         "gender": ["Female", "Female", "Female", "Male"]})
    paper = qp.count_categories(qp.categorise(rows, "gender", grouping="paper"), "gender",
                                by="users")
    assert paper["category"].to_list() == ["Female", "Male"]  # tie on users: by name
    by_conv = qp.count_categories(qp.categorise(rows, "gender"), "gender")
    assert by_conv["category"].to_list()[0] == "Female"
    with pytest.raises(ValueError, match="grouping"):
        qp.categorise(rows, "gender", grouping="nope")
