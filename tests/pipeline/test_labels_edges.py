"""Edges of the two rules in precompute.labels that every table is built on: the stage of a
message (`stage_index`, integer quarters of the relative position) and the age bracket of a
raw survey age (`age_bracket`). Written to kill the mutants mutmut left alive
(tests/README.md): each boundary is checked on both sides, by hand."""

from __future__ import annotations

import pytest

from precompute.labels import (
    AGE_BRACKETS,
    DISSATISFACTION_CODES,
    REACTION_CODES,
    REASON_CODES,
    STAGES,
    age_bracket,
    stage_index,
)

# ------------------------------------------------------------------ stage rule


@pytest.mark.parametrize("n, stages", [
    # r = (turn - 1) / (n - 1); stage = min(3, floor(4 r))
    (2, [0, 3]),                      # r = 0, 1
    (3, [0, 2, 3]),                   # r = 0, .5, 1
    (4, [0, 1, 2, 3]),                # r = 0, 1/3, 2/3, 1 -> 4r = 0, 1.33, 2.67, 4
    (5, [0, 1, 2, 3, 3]),             # r = 0, .25, .5, .75, 1: each boundary lands on a turn
    (9, [0, 0, 1, 1, 2, 2, 3, 3, 3]),  # 4r = 0, .5, 1, 1.5, 2, 2.5, 3, 3.5, 4
])
def test_stage_of_every_turn_by_hand(n, stages):
    assert [stage_index(t, n) for t in range(1, n + 1)] == stages


def test_a_boundary_belongs_to_the_later_stage():
    # n = 13: r = (turn - 1) / 12; turns 4, 7 and 10 sit exactly on .25, .5 and .75
    assert [stage_index(t, 13) for t in (3, 4, 6, 7, 9, 10)] == [0, 1, 1, 2, 2, 3]


def test_single_message_and_the_last_message():
    assert stage_index(1, 1) == 0          # no division by n - 1 = 0
    assert stage_index(1, 0) == 0          # defensive: an empty conversation has no stage
    assert all(stage_index(n, n) == 3 for n in range(2, 30))   # the last is always Late
    assert all(stage_index(1, n) == 0 for n in range(1, 30))   # the first always Early
    assert isinstance(stage_index(3, 5), int)
    assert len(STAGES) == 4 and STAGES[stage_index(4, 5)] == "Late"


# ------------------------------------------------------------------ age brackets


@pytest.mark.parametrize("raw, bracket", [
    ("12", None), ("13", "13-17"),
    ("17", "13-17"), ("18", "18-24"),
    ("24", "18-24"), ("25", "25-34"),
    ("34", "25-34"), ("35", "35-44"),
    ("44", "35-44"), ("45", "45-54"),
    ("54", "45-54"), ("55", "55-64"),
    ("64", "55-64"), ("65", "65+"),
    ("100", "65+"), ("101", None),
])
def test_each_bracket_boundary_on_both_sides(raw, bracket):
    assert age_bracket(raw) == bracket


@pytest.mark.parametrize("raw, bracket", [
    (None, None),
    ("", None), ("   ", None),
    (" 30", "25-34"), ("30 ", "25-34"), ("\t30\n", "25-34"),  # surrounding space is dropped
    ("3 0", None), ("30.0", None), ("-30", None), ("+30", None), ("thirty", None),
    ("²", None), ("3²", None), ("٣٠", None),   # digits that are not ASCII 0-9
    ("0030", None),                             # four digits: not an age
    ("030", "25-34"),                           # three digits are read as a number
    ("0", None), ("2", None), ("366", None), ("999", None),
    ("9" * 5000, None),                         # never reaches int()
    (30, "25-34"), (12, None),                  # a number is read as its text
])
def test_what_is_a_plausible_age(raw, bracket):
    assert age_bracket(raw) == bracket


def test_every_bracket_name_is_one_of_the_listed_brackets_in_order():
    seen = list(dict.fromkeys(age_bracket(str(a)) for a in range(13, 101)))
    assert seen == list(AGE_BRACKETS)


def test_label_sets_by_hand():
    assert len(REASON_CODES) == 7 and len(REACTION_CODES) == 5
    assert DISSATISFACTION_CODES == {"content_relevance", "presentation_style", "scope_fit"}
