"""The Conversations page's list grouped by participant (AppTest, views/conversations.py
with ``group=user``): the order, the participant link and count, the URL round trip
together with sort and page, a bad ``group`` value, and previous / next walking the
grouped order — on the tiny three-user corpus of tests/queries/test_participant.py."""

from __future__ import annotations

import pytest

from tests.apptest import assert_clean, open_app, query_param
from tests.queries.test_participant import build_participants


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return build_participants(tmp_path_factory.mktemp("grouped_page"))


def c(user: int, task: int) -> str:
    return f"user{user}_task{task}_conversation1"


def _list(at):
    return next(d.value for d in at.dataframe if "task summary" in d.value.columns)


def test_grouped_list_round_trips_through_the_url(db, monkeypatch):
    at = open_app(db, monkeypatch, "conversations", group="user", sort="-messages")
    view = _list(at)
    assert list(view.columns[:3]) == ["participant", "their matches", "conversation"]
    assert list(view["conversation"]) == [c(30, 2), c(30, 3), c(30, 1), c(10, 1), c(10, 2),
                                          c(20, 1)]
    assert list(view["their matches"]) == [3, 3, 3, 2, 2, 1]
    assert all(link.startswith("demographics?") and "view=One+participant" in link
               for link in view["participant"])
    assert view["participant"][3].endswith("pid=user10")
    assert at.toggle(key="br_group").value is True
    assert query_param(at, "group") == ["user"] and query_param(at, "sort") == ["-messages"]
    assert any("of 3 participants" in m.value for m in at.markdown)
    # off again: the list as before, and the URL without group
    at.toggle(key="br_group").set_value(False).run()
    assert_clean(at)
    assert list(_list(at).columns[:1]) == ["conversation"]
    assert query_param(at, "group") is None and query_param(at, "sort") == ["-messages"]


def test_the_group_keeps_the_filters_in_its_links(db, monkeypatch):
    at = open_app(db, monkeypatch, "conversations", group="user", model="GPT-5.4")
    view = _list(at)
    assert list(view["conversation"]) == [c(10, 1), c(10, 2), c(20, 1)]
    assert all("model=GPT-5.4" in link for link in view["participant"])


def test_a_bad_group_is_a_notice(db, monkeypatch):
    at = open_app(db, monkeypatch, "conversations", group="<b>model</b>")
    assert any("ignored group='<b>model</b>' (expected group=user)" in i.value
               for i in at.info)
    assert list(_list(at).columns[:1]) == ["conversation"]
    assert query_param(at, "group") is None


def test_previous_next_walk_the_grouped_order(db, monkeypatch):
    at = open_app(db, monkeypatch, "conversations", group="user", conv=c(30, 3))
    at.button(key="br_next").click().run()
    assert_clean(at)
    assert at.session_state["br_conv"] == c(10, 1)      # user30's last, then user10's first
    assert query_param(at, "conv") == [c(10, 1)] and query_param(at, "group") == ["user"]
