"""The URLs the app writes (components.links, used by components.ui.share): the link to
the current view keeps repeated keys and drops the old query; a link to a conversation
keeps the filters of the view it comes from and points at the turn."""

from __future__ import annotations

from urllib.parse import parse_qs

from components import links
from components.filters import FILTER_KEYS


def test_view_url_keeps_repeated_keys_and_drops_the_old_query():
    url = links.view_url("http://host:8501/thoughts?old=1#turn-3",
                         {"model": ["GPT 5", "Grok"], "q": ["a&b"]})
    assert url == "http://host:8501/thoughts?model=GPT+5&model=Grok&q=a%26b"
    assert links.view_url("http://host:8501/topics", {}) == "http://host:8501/topics"
    assert links.view_url(None, {}) == "?"
    assert links.view_url(None, {"model": ["A"]}) == "?model=A"  # no browser: no host


def test_conversation_url_keeps_filters():
    url = links.conversation_url({"model": ["A B", "C"], "conv": ["old"], "turn": "9"},
                                 "u1_t1", 5)
    assert url.startswith("browser?") and url.endswith("#turn-5")
    q = parse_qs(url.split("?", 1)[1].split("#", 1)[0])
    assert q == {"model": ["A B", "C"], "conv": ["u1_t1"], "turn": ["5"]}


def test_conversation_url_keeps_only_filter_keys_by_default():
    params = {"model": ["GPT-5.4"], "conv": ["old"], "turn": "9", "tt_split": "model",
              "sort": "longest"}
    assert "model" in FILTER_KEYS and "sort" not in FILTER_KEYS
    assert links.conversation_url(params, "c 1", 3) == \
        "browser?model=GPT-5.4&conv=c+1&turn=3#turn-3"
    every = links.conversation_url(params, "c 1", 3, keep=None)
    assert every == "browser?model=GPT-5.4&tt_split=model&sort=longest&conv=c+1&turn=3#turn-3"
    assert links.conversation_url({}, "c1") == "browser?conv=c1"           # no turn, no anchor
    assert links.conversation_url({}, "c1", float("nan")) == "browser?conv=c1"
    assert links.conversation_url({}, "c1", 2, page="") == "?conv=c1&turn=2#turn-2"


def test_turn_anchor_and_page_paths():
    assert links.turn_anchor(3) == "turn-3" and links.turn_anchor(3.0) == "turn-3"
    assert links.PAGE_PATHS == {"overview": "", "conversations": "browser",
                                "thoughts": "thoughts", "turns": "turns",
                                "participants": "demographics", "topics": "topics",
                                "shifts": "shifts"}
