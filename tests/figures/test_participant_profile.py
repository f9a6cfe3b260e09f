"""The participant profile figure (`components.figures.participants.participant_profile`,
catalogue entry ``PARTICIPANT_PROFILE``): reasons above, reactions below; the exported
data are the numbers drawn; the caption's n names the participant; dataset text is
escaped; the no-participant and no-conversation states."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import pytest

from components.db import connect
from components.figures import catalogue
from components.figures import participants as fp
from components.figures.base import esc
from components.filters import Filters
from components.queries import participant as one
from tests.queries.test_participant import build_participants


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return build_participants(tmp_path_factory.mktemp("profile_fig"))


@pytest.fixture(scope="module")
def drawn(db):
    con = connect(db)
    try:
        return catalogue.PARTICIPANT_PROFILE(catalogue.DirectSource(con), Filters(),
                                             user="user10")
    finally:
        con.close()


def _traces(fig: go.Figure, axis: str) -> list:
    """The participant's bars, everyone else's bars and their value texts on one panel."""
    return [t for t in fig.data if t.yaxis == f"y{axis}"]


def test_the_data_are_the_numbers_drawn(drawn):
    go.Figure(drawn.figure.to_dict())  # plotly validates every property
    data = drawn.data
    assert data.columns == list(one.PROFILE_SCHEMA)
    for kind, axis in (("reason", ""), ("reaction", "2")):
        rows = data.filter(pl.col("kind") == kind)
        user_bars, other_bars, texts = _traces(drawn.figure, axis)
        yaxis = drawn.figure.layout[f"yaxis{axis}"]
        assert list(yaxis.ticktext) == [esc(v) for v in rows["display_name"].to_list()]
        # the participant's bar above each row's centre, everyone else's below
        assert list(yaxis.tickvals) == list(range(rows.height))
        assert [round(y) for y in user_bars.y] == list(yaxis.tickvals)
        assert all(a < b for a, b in zip(user_bars.y, other_bars.y))
        assert list(texts.y) == list(other_bars.y)
        assert list(user_bars.x) == rows["user_share"].to_list()
        assert list(other_bars.x) == rows["others_share"].to_list()
        hi = [s + d for s, d in zip(other_bars.x, other_bars.error_x.array)]
        lo = [s - d for s, d in zip(other_bars.x, other_bars.error_x.arrayminus)]
        assert hi == pytest.approx(rows["ci_hi"].to_list())
        assert lo == pytest.approx(rows["ci_lo"].to_list())
        # each bar's text is the share with its count over the user's total
        tm = rows.row(0, named=True)
        assert user_bars.text[0] == f"{tm['user_share']:.1%} ({tm['user_n']}/{tm['user_total']})"
        assert list(texts.text) == [f"{v:.1%}" for v in rows["others_share"].to_list()]
    reasons = data.filter(pl.col("kind") == "reason").row(0, named=True)
    assert reasons["label"] == "task_motivation" and reasons["user_share"] == pytest.approx(2 / 3)


def test_title_and_caption_say_who_and_how(drawn):
    title = drawn.figure.layout.title.text
    assert "user10" in title and "user10 excluded" in title
    assert "user10: 5 thoughts in 2 conversations" in title   # 3 reasons, 2 reactions
    assert "1,000 resamples of whole users" in title
    panels = [a.text for a in drawn.figure.layout.annotations]
    assert any("Reasons" in p and "3 reasons" in p and "of 2 users" in p for p in panels)
    assert drawn.n == ("n = 5 thoughts of participant user10 in 2 conversations; everyone "
                       "else: 2 other users with reasons, 2 with reactions")


def test_hostile_user_id_is_escaped():
    profile = pl.DataFrame([{
        "kind": "reason", "label": "task_motivation", "display_name": "<b>TM</b>",
        "meaning": "<img src=x onerror=alert(1)>", "user_id": "<script>", "user_n": 1,
        "user_total": 1, "user_share": 1.0, "others_n": 1, "others_total": 2,
        "others_share": 0.5, "ci_lo": 0.5, "ci_hi": 0.5, "others_users": 1}],
        schema=one.PROFILE_SCHEMA)
    fig = fp.participant_profile(profile, "<script>alert(1)</script>", 1, "method")
    spec = fig.to_json()
    assert "<script>" not in spec and "<img" not in spec and "<b>TM" not in spec
    assert "&lt;script&gt;" in fig.layout.title.text
    # an id that looks like a hover placeholder stays out of every hover template
    templated = fp.participant_profile(profile.with_columns(display_name=pl.lit("%{x}")),
                                       "user%{y}", 1, "method")
    templates = [t.hovertemplate for t in templated.data if t.hovertemplate]
    assert templates and not any("user%{y}" in h or "%{x}" in h for h in templates)
    assert any("user%{y}" in str(t.customdata) for t in templated.data if t.customdata)


def test_no_participant_and_no_conversations(db):
    con = connect(db)
    try:
        source = catalogue.DirectSource(con)
        none = catalogue.PARTICIPANT_PROFILE(source, Filters())
        outside = catalogue.PARTICIPANT_PROFILE(source, Filters(models=("Claude Opus 4.6",)),
                                                user="user10")
    finally:
        con.close()
    assert none.n.startswith("n = 0 thoughts") and none.data.is_empty()
    assert "No participant chosen" in none.figure.layout.annotations[0].text
    assert outside.data.is_empty() and "n = 0 thoughts of participant user10" in outside.n
    assert "no conversations under the filters" in outside.figure.layout.annotations[0].text
    go.Figure(outside.figure.to_dict())


def test_a_kind_the_user_never_wrote_is_said_on_its_panel(db):
    """user10's profile with their reactions taken out: the reactions panel says so."""
    con = connect(db)
    try:
        profile = one.participant_profile(con, Filters(), "user10")
    finally:
        con.close()
    no_reactions = profile.with_columns(
        user_n=pl.when(pl.col("kind") == "reaction").then(0).otherwise(pl.col("user_n")),
        user_total=pl.when(pl.col("kind") == "reaction").then(0)
        .otherwise(pl.col("user_total")),
        user_share=pl.when(pl.col("kind") == "reaction").then(None)
        .otherwise(pl.col("user_share")))
    fig = fp.participant_profile(no_reactions, "user10", 2, "method")
    assert any("wrote no reactions" in a.text for a in fig.layout.annotations)
