"""Edges of the one filter model (components.filters): the SQL each filter turns into, run
against a hand-made in-memory DuckDB (no pipeline, so mutation testing stays fast), the
sequence filter's order rule, open and inverted ranges, the URL round trip, the notices
about what a URL had that was dropped, strict parsing for the command line, the captions,
and the comparison "A against the rest". Written to kill the mutants that mutmut left
alive (tests/README.md); every expected set is counted by hand from the tables below."""

from __future__ import annotations

import duckdb
import pytest

from components.filters import (
    MISSING,
    Comparison,
    FilterError,
    Filters,
    comparison_from_query_params,
    from_query_params,
    seq_labels,
    seq_name,
    strict_filters,
)

TM, SF, SO, CR = "task_motivation", "scope_fit", "social_and_others", "content_relevance"

#: conv_id, user, domain, subtopic, model, provider, age, gender, education, frequency,
#: n_messages, n_thoughts, topic_uncertain
CONVERSATIONS = [
    ("c1", "u1", "Tech", "Code", "GPT", "OpenAI", "25-34", "Female", "BA", 3, 4, 2, False),
    ("c2", "u1", "Health", None, "Claude", "Anthropic", None, None, None, 5, 2, 2, True),
    ("c3", "u2", None, None, "Claude", "Anthropic", "18-24", "Male", "MA", None, 6, 1, None),
    ("c4", "u3", "Tech", "Web", "GPT", "OpenAI", "25-34", "Female", "BA", 3, 10, 4, False),
    ("c5", "u4", "Tech", "Code", "Grok", "xAI", "65+", "Male", "BA", 1, 1, 0, False),
]
#: conv_id, turn, idx, label. The order cases of the sequence filter:
#: c1: TM (turn 1) then SF (turn 2): adjacent messages.
#: c2: SF then TM in ONE message (turn 1, idx 0 and 1): TM comes after SF.
#: c3: a single TM: TM > TM must not let it match itself.
#: c4: TM (turn 1), SO (turn 3), SF (turn 5), TM (turn 7): far apart; two TMs.
THOUGHTS = [
    ("c1", 1, 0, TM), ("c1", 2, 0, SF),
    ("c2", 1, 0, SF), ("c2", 1, 1, TM),
    ("c3", 1, 0, TM),
    ("c4", 1, 0, TM), ("c4", 3, 0, SO), ("c4", 5, 0, SF), ("c4", 7, 0, TM),
]


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    c.execute("""CREATE TABLE conversations (conv_id VARCHAR, user_id VARCHAR,
        domain VARCHAR, subtopic VARCHAR, model_name VARCHAR, model_provider VARCHAR,
        age_bracket VARCHAR, gender VARCHAR, education VARCHAR, ai_frequency INTEGER,
        n_messages INTEGER, n_thoughts INTEGER, topic_uncertain BOOLEAN)""")
    c.executemany("INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  CONVERSATIONS)
    c.execute("CREATE TABLE thoughts (conv_id VARCHAR, turn INTEGER, idx INTEGER, "
              "label VARCHAR)")
    c.executemany("INSERT INTO thoughts VALUES (?, ?, ?, ?)", THOUGHTS)
    yield c
    c.close()


def ids(con, where: tuple[str, list]) -> set[str]:
    sql, params = where
    return {r[0] for r in con.execute(f"SELECT conv_id FROM conversations c WHERE {sql}",
                                      params).fetchall()}


def select(con, **kwargs) -> set[str]:
    return ids(con, Filters(**kwargs).where())


# ------------------------------------------------------------------ SQL, facet by facet


def test_no_filter_is_true_and_selects_all(con):
    assert Filters().where() == ("TRUE", [])
    assert Filters().is_empty and not Filters(users=("u1",)).is_empty
    assert select(con) == {"c1", "c2", "c3", "c4", "c5"}


@pytest.mark.parametrize("kwargs, expected", [
    ({"domains": ("Tech",)}, {"c1", "c4", "c5"}),
    ({"domains": ("Tech", "Health")}, {"c1", "c2", "c4", "c5"}),
    ({"domains": (MISSING,)}, {"c3"}),
    ({"domains": ("Health", MISSING)}, {"c2", "c3"}),
    ({"subtopics": ("Code",)}, {"c1", "c5"}),
    ({"subtopics": (MISSING,)}, {"c2", "c3"}),
    ({"models": ("Claude",)}, {"c2", "c3"}),
    ({"providers": ("OpenAI", "xAI")}, {"c1", "c4", "c5"}),
    ({"age_brackets": ("25-34", MISSING)}, {"c1", "c2", "c4"}),
    ({"genders": ("Male", MISSING)}, {"c2", "c3", "c5"}),
    ({"educations": ("MA",)}, {"c3"}),
    ({"ai_frequencies": ("3",)}, {"c1", "c4"}),          # compared as text
    ({"ai_frequencies": ("1", MISSING)}, {"c3", "c5"}),
    ({"users": ("u1",)}, {"c1", "c2"}),
    ({"users": ("u2", "u4")}, {"c3", "c5"}),
    ({"labels_any": (SF,)}, {"c1", "c2", "c4"}),
    ({"labels_any": (SO, "nothing")}, {"c4"}),
    ({"certain_topics": True}, {"c1", "c3", "c4", "c5"}),  # NULL (c3) counts as certain
    ({"domains": ("Tech",), "genders": ("Male",)}, {"c5"}),  # facets AND together
    ({"models": ("GPT",), "labels_any": (TM,), "users": ("u3",)}, {"c4"}),
])
def test_each_facet_selects_by_hand(con, kwargs, expected):
    assert select(con, **kwargs) == expected


def _counts(frames) -> dict[str, list[tuple[str, int]]]:
    return {name: list(frame.iter_rows()) for name, frame in frames.items()}


def test_sidebar_facet_counts_by_hand(con):
    """Each facet counts its values under the other facets' choices (never its own), most
    conversations first, then by value, NULL as (missing); facets without a choice share
    one query, each chosen facet gets its own."""
    from components.queries import core
    names = ("domains", "models", "genders", "ai_frequencies")
    got = _counts(core.sidebar_facet_counts(con, Filters(), names))
    assert got == {"domains": [("Tech", 3), (MISSING, 1), ("Health", 1)],
                   "models": [("Claude", 2), ("GPT", 2), ("Grok", 1)],
                   "genders": [("Female", 2), ("Male", 2), (MISSING, 1)],
                   "ai_frequencies": [("3", 2), (MISSING, 1), ("1", 1), ("5", 1)]}
    # Claude and Male chosen: models counted under Male (c3, c5), genders under Claude
    # (c2, c3), the rest under both (c3 alone)
    got = _counts(core.sidebar_facet_counts(
        con, Filters(models=("Claude",), genders=("Male",)), names))
    assert got == {"domains": [(MISSING, 1)],
                   "models": [("Claude", 1), ("Grok", 1)],
                   "genders": [(MISSING, 1), ("Male", 1)],
                   "ai_frequencies": [(MISSING, 1)]}
    # a subset with no conversation: every facet empty, none dropped
    got = _counts(core.sidebar_facet_counts(con, Filters(users=("nobody",)), names))
    assert got == dict.fromkeys(names, [])
    assert _counts(core.sidebar_facet_counts(con, Filters(genders=("Male",)), ("models",))
                   ) == {"models": [("Claude", 1), ("Grok", 1)]}
    with pytest.raises(ValueError, match="unknown facet column"):
        core.facet_counts_many(con, Filters(), ("{a}.domain", "1; DROP TABLE x"))


def test_a_value_is_a_parameter_never_sql(con):
    sql, params = Filters(genders=("Male", MISSING), users=("u1",)).where("x")
    assert sql == "(x.gender IN (?) OR x.gender IS NULL) AND x.user_id IN (?)"
    assert params == ["Male", "u1"]
    assert select(con, genders=("' OR 1=1 --",)) == set()


@pytest.mark.parametrize("lo, hi, expected", [
    # n_messages: c1 4, c2 2, c3 6, c4 10, c5 1; both ends are inclusive
    (4, None, {"c1", "c3", "c4"}),
    (None, 4, {"c1", "c2", "c5"}),
    (2, 6, {"c1", "c2", "c3"}),
    (6, 6, {"c3"}),
    (0, None, {"c1", "c2", "c3", "c4", "c5"}),   # 0 is a bound, not "no bound"
    (None, 0, set()),
    (11, None, set()),
])
def test_message_ranges_are_inclusive(con, lo, hi, expected):
    assert select(con, messages_min=lo, messages_max=hi) == expected


def test_thought_ranges_and_their_sql(con):
    # n_thoughts: c1 2, c2 2, c3 1, c4 4, c5 0
    assert select(con, thoughts_min=2, thoughts_max=2) == {"c1", "c2"}
    assert select(con, thoughts_max=1) == {"c3", "c5"}
    assert Filters(messages_min=3, thoughts_max=5).where("c") == (
        "c.n_messages >= ? AND c.n_thoughts <= ?", [3, 5])


# ------------------------------------------------------------------ the sequence filter


@pytest.mark.parametrize("first, then, expected", [
    (TM, SF, {"c1", "c4"}),        # adjacent messages (c1) and far apart (c4)
    (SF, TM, {"c2", "c4"}),        # later in the same message (c2); c4: SF turn 5, TM turn 7
    (TM, TM, {"c4"}),              # two different TMs; c3's single TM does not match itself
    (SF, SF, set()),               # nobody has two SFs
    (SO, TM, {"c4"}),
    (TM, SO, {"c4"}),
    (SO, SF, {"c4"}),
    (SF, SO, set()),               # SO (turn 3) comes before SF (turn 5)
    ("@dissatisfaction", TM, {"c2", "c4"}),   # SF is a dissatisfaction
    (TM, "@dissatisfaction", {"c1", "c4"}),
    ("@reason", "@reason", {"c4"}),  # TM and SO are reasons; c1, c3 have one reason each
    ("@reaction", "@reason", {"c2", "c4"}),
])
def test_sequence_is_later_in_the_conversation_never_the_same_thought(con, first, then,
                                                                      expected):
    assert select(con, seq_first=first, seq_then=then) == expected


def test_sequence_needs_both_sides_and_binds_the_group_codes():
    assert Filters(seq_first=TM).where() == ("TRUE", [])
    assert Filters(seq_then=TM).where() == ("TRUE", [])
    _, params = Filters(seq_first="@dissatisfaction", seq_then=SO).where()
    assert params == [CR, "presentation_style", SF, SO]
    assert seq_labels(TM) == (TM,)
    assert seq_labels("@reason")[0] == TM and len(seq_labels("@reason")) == 7
    assert len(seq_labels("@reaction")) == 5


def test_without_drops_one_facet_only():
    f = Filters(models=("GPT",), messages_min=2, messages_max=9, thoughts_min=1,
                seq_first=TM, seq_then=SF, certain_topics=True)
    assert f.without("messages") == Filters(models=("GPT",), thoughts_min=1, seq_first=TM,
                                            seq_then=SF, certain_topics=True)
    assert f.without("sequence") == Filters(models=("GPT",), messages_min=2, messages_max=9,
                                            thoughts_min=1, certain_topics=True)
    assert f.without("models") == Filters(messages_min=2, messages_max=9, thoughts_min=1,
                                          seq_first=TM, seq_then=SF, certain_topics=True)
    assert f.without("certain_topics").certain_topics is False


# ------------------------------------------------------------------ URL


OPTIONS = {"domains": ["Tech", "Health"], "models": ["GPT", "Claude"], "genders": ["Male"],
           "ai_frequencies": ["1", "3"], "labels": [TM, SF, SO], "users": ["u1", "u2"]}

EVERYTHING = Filters(domains=("Tech", MISSING), models=("GPT",), genders=("Male",),
                     ai_frequencies=("3",), messages_min=4, messages_max=20, thoughts_min=2,
                     labels_any=(SF, TM), seq_first="@dissatisfaction", seq_then=SO,
                     users=("u2",), certain_topics=True)


def test_every_filter_writes_its_url_key():
    assert EVERYTHING.to_query_params() == {
        "domain": ["Tech", MISSING], "model": ["GPT"], "gender": ["Male"], "freq": ["3"],
        "msgs": "4-20", "thoughts": "2-", "label": [SF, TM],
        "seq": "@dissatisfaction>social_and_others", "user": ["u2"], "topics": "certain"}
    assert Filters().to_query_params() == {}
    assert Filters(thoughts_max=7).to_query_params() == {"thoughts": "-7"}
    assert Filters(seq_first=TM).to_query_params() == {}


@pytest.mark.parametrize("filters", [
    EVERYTHING, Filters(), Filters(messages_max=3), Filters(thoughts_min=0, thoughts_max=0),
    Filters(seq_first=TM, seq_then=TM), Filters(domains=(MISSING,)),
])
def test_url_round_trip(filters):
    assert from_query_params(filters.to_query_params(), OPTIONS) == (filters, [])


@pytest.mark.parametrize("raw, bounds", [
    ("4-20", (4, 20)), ("4-", (4, None)), ("-20", (None, 20)), ("-", (None, None)),
    ("4-4", (4, 4)), (" 4 - 20 ", (4, 20)), ("0-0", (0, 0)),
])
def test_ranges_in_the_url(raw, bounds):
    f, notices = from_query_params({"msgs": raw}, OPTIONS)
    assert (f.messages_min, f.messages_max) == bounds and notices == []


@pytest.mark.parametrize("raw", ["20-4", "4", "", "a-b", "4-x", "-5-3", "4..20"])
def test_bad_ranges_are_dropped_with_a_notice(raw):
    f, notices = from_query_params({"thoughts": raw}, OPTIONS)
    assert f == Filters()
    assert notices == [f"ignored thoughts={raw!r} (expected a range like 4-20)"]


def test_long_bad_values_are_quoted_cut():
    raw = "1" * 50 + "-2"
    _, notices = from_query_params({"msgs": raw}, OPTIONS)
    assert notices == [f"ignored msgs={'1' * 40!r} (expected a range like 4-20)"]
    bad = "x" * 70
    _, notices = from_query_params({"model": bad}, OPTIONS)
    assert notices == [f"ignored unknown model {'x' * 60!r}"]
    _, notices = from_query_params({"seq": bad}, OPTIONS)
    assert notices[0].startswith(f"ignored seq={'x' * 60!r} (expected LABEL>LABEL")
    _, notices = from_query_params({"topics": bad}, OPTIONS)
    assert notices == [f"ignored topics={'x' * 40!r} (expected topics=certain)"]
    _, notices = from_query_params({"label": [bad]}, OPTIONS)
    assert notices == [f"ignored unknown label {'x' * 60!r}"]


def test_the_first_of_repeated_range_seq_and_topics_values_counts():
    f, notices = from_query_params({"msgs": ["2-3", "5-9"], "seq": [f"{TM}>{SF}", "x>y"],
                                    "topics": ["certain", "maybe"]}, OPTIONS)
    assert notices == []
    assert f == Filters(messages_min=2, messages_max=3, seq_first=TM, seq_then=SF,
                        certain_topics=True)


def test_unknown_values_are_dropped_known_ones_kept_once_in_order():
    f, notices = from_query_params(
        {"model": ["Claude", "GPT-9", "GPT", "Claude"], "domain": "Sports",
         "label": [SO, "bogus", SO, TM], "user": ["u9", "u2", "u1"], "gender": MISSING},
        OPTIONS)
    assert f == Filters(models=("Claude", "GPT"), labels_any=(SO, TM), users=("u2", "u1"),
                        genders=(MISSING,))
    assert notices == ["ignored unknown domain 'Sports'", "ignored unknown model 'GPT-9'",
                       "ignored unknown label 'bogus'", "ignored unknown user 'u9'"]
    f, notices = from_query_params({"model": ["x", "y"], "user": "zz"}, OPTIONS)
    assert f == Filters()
    assert notices == ["ignored unknown model 'x', 'y'", "ignored unknown user 'zz'"]
    # a facet without options accepts only "(missing)"
    f, notices = from_query_params({"edu": ["BA", MISSING]}, OPTIONS)
    assert f == Filters(educations=(MISSING,)) and notices == ["ignored unknown edu 'BA'"]


@pytest.mark.parametrize("raw", [TM, f"{TM}>", f">{TM}", f"{TM}>bogus", f"bogus>{TM}",
                                 f"{TM}>{SF}>{SO}", "@nothing>@reason", f"{TM}<{SF}"])
def test_bad_sequences_are_dropped_with_a_notice(raw):
    f, notices = from_query_params({"seq": raw}, OPTIONS)
    assert f == Filters()
    assert notices == [f"ignored seq={raw!r} (expected LABEL>LABEL, a label or a group such "
                       "as @dissatisfaction on either side)"]


def test_groups_on_either_side_of_a_sequence():
    f, notices = from_query_params({"seq": f"@reason>{SF}"}, OPTIONS)
    assert (f.seq_first, f.seq_then, notices) == ("@reason", SF, [])
    f, notices = from_query_params({"seq": "@reaction>@dissatisfaction"}, {})
    assert (f.seq_first, f.seq_then, notices) == ("@reaction", "@dissatisfaction", [])


def test_topics_takes_only_certain():
    assert from_query_params({"topics": "certain"}, {}) == (Filters(certain_topics=True), [])
    assert from_query_params({"topics": "Certain"}, {}) == (
        Filters(), ["ignored topics='Certain' (expected topics=certain)"])


def test_strict_filters_raise_naming_every_bad_value():
    assert strict_filters({"model": "GPT", "msgs": "", "label": [], "user": None,
                           "seq": ()}, OPTIONS) == Filters(models=("GPT",))
    with pytest.raises(FilterError) as err:
        strict_filters({"model": "GPT-9", "msgs": "9-1"}, OPTIONS)
    assert str(err.value) == ("unknown model 'GPT-9'; msgs='9-1' (expected a range like "
                              "4-20) (use the values the app's sidebar shows)")


# ------------------------------------------------------------------ captions


def test_describe_names_every_filter():
    display = {"Tech": "Technology", SF: "Scope Fit", SO: "Social & Others", TM: "Motivation"}
    assert EVERYTHING.describe(display) == (
        "domain: Technology, (missing); model: GPT; gender: Male; freq: 3; msgs: 4–20; "
        "thoughts: 2–; has: Scope Fit, Motivation; any dissatisfaction → Social & Others; "
        "user: u2; confident topics only")
    assert EVERYTHING.describe().startswith("domain: Tech, (missing); model: GPT;")
    assert Filters().describe() == "all conversations"
    assert Filters(messages_max=3).describe() == "msgs: –3"
    assert Filters(seq_first=TM).describe() == "all conversations"
    assert Filters(seq_first=TM, seq_then=TM).describe() == f"{TM} → {TM}"


def test_sequence_side_names():
    assert seq_name("@dissatisfaction") == "any dissatisfaction"
    assert seq_name("@reason", {"@reason": "x"}) == "any reason"
    assert seq_name("@reaction") == "any reaction"
    assert seq_name(SF, {SF: "Scope Fit"}) == "Scope Fit"
    assert seq_name(SF) == SF


# ------------------------------------------------------------------ A against B


def test_the_rest_is_everything_outside_a_nulls_included(con):
    a = Filters(genders=("Female",))
    assert ids(con, a.where()) == {"c1", "c4"}
    # c2's gender is NULL: "gender IN ('Female')" is NULL there, and c2 is not in A
    assert ids(con, Comparison().where_b(a)) == {"c2", "c3", "c5"}
    assert ids(con, Comparison().where_b(Filters())) == set()
    b = Filters(models=("Claude",))
    assert ids(con, Comparison(b).where_b(a)) == {"c2", "c3"}  # B as given, may overlap A
    assert Comparison().where_b(a, "x") == ("NOT coalesce(((x.gender IN (?))), FALSE)",
                                            ["Female"])
    assert Comparison().rest and not Comparison(b).rest


def test_comparison_urls_and_captions():
    assert Comparison().to_query_params() == {"cmp": "rest"}
    b = Filters(models=("GPT",), labels_any=(SF,))
    assert Comparison(b).to_query_params() == {"cmp": "subset", "b.model": ["GPT"],
                                               "b.label": [SF]}
    assert Comparison(Filters()).to_query_params() == {"cmp": "subset"}
    assert Comparison(b).describe_b({SF: "Scope Fit"}) == "model: GPT; has: Scope Fit"
    assert Comparison().describe_b() == "all the other conversations"


def test_comparison_from_the_url_says_what_it_dropped():
    assert comparison_from_query_params({"model": "GPT"}, OPTIONS) == (None, [])
    assert comparison_from_query_params({"cmp": ["rest", "subset"]}, OPTIONS) == (
        Comparison(), [])
    long = "y" * 50
    assert comparison_from_query_params({"cmp": long}, OPTIONS) == (
        None, [f"ignored cmp={'y' * 30!r} (expected rest or subset)"])
    got, notices = comparison_from_query_params(
        {"cmp": "subset", "b.model": ["GPT", "GPT-9"], "b.msgs": "2-4", "b.user": "u1",
         "model": "Claude"}, OPTIONS)
    assert got == Comparison(Filters(models=("GPT",)))
    takes = ("(subset B takes b.age, b.domain, b.edu, b.freq, b.gender, b.label, b.model, "
             "b.provider, b.subtopic)")
    assert notices == [f"ignored b.msgs {takes}", f"ignored b.user {takes}",
                       "ignored for B: unknown model 'GPT-9'"]
    got, notices = comparison_from_query_params({"cmp": "subset"}, OPTIONS)
    assert got == Comparison(Filters()) and notices == []


def test_notices_and_captions_with_several_values_and_labels_on_both_sides():
    # several unknown labels / users in one notice
    _, notices = from_query_params({"label": ["p", "q"], "user": ["u8", "u9"]}, OPTIONS)
    assert notices == ["ignored unknown label 'p', 'q'", "ignored unknown user 'u8', 'u9'"]
    # without user options every user is unknown (no error)
    assert from_query_params({"user": "u1"}, {}) == (Filters(), ["ignored unknown user 'u1'"])
    # a bad range does not stop the next range from being read
    f, notices = from_query_params({"msgs": "9-1", "thoughts": "2-3"}, OPTIONS)
    assert (f.thoughts_min, f.thoughts_max) == (2, 3) and len(notices) == 1
    # display names on both sides of a sequence; several users
    f = Filters(seq_first=SF, seq_then=TM, users=("u1", "u2"))
    assert f.describe({SF: "Scope Fit", TM: "Motivation"}) == \
        "Scope Fit → Motivation; user: u1, u2"


def test_only_the_first_ignored_of_a_b_notice_is_renamed():
    _, notices = comparison_from_query_params({"cmp": "subset", "b.model": "ignored x"},
                                              OPTIONS)
    assert notices == ["ignored for B: unknown model 'ignored x'"]
