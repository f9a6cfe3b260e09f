"""The transcript's HTML builders (`components.figures.transcript`): every piece of dataset
text is escaped, keyword highlighting never breaks an entity, long messages are split
outside code fences, result tables link to the conversation at the turn, and permalinks
keep the page's other URL parameters."""

from __future__ import annotations

import re

import polars as pl
import pytest

from components.figures import transcript as tx
from components.figures.theme import LABEL_COLORS
from precompute.labels import REACTIONS, REASONS

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(1)>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
#: code -> {display_name, meaning, kind}, as `vocabulary.label_info` reads the labels table
LABELS = {lab.code: {"display_name": lab.display, "meaning": lab.meaning, "kind": lab.kind}
          for lab in (*REASONS, *REACTIONS)}


# ------------------------------------------------------------------ escaping + highlighting


def test_highlight_never_breaks_entities():
    out = tx.highlight('a <b> & "amp" lt', "amp")
    assert out == 'a &lt;b&gt; &amp; &quot;<mark class="tt-hit">amp</mark>&quot; lt'
    assert tx.highlight("x<y", "<") == 'x<mark class="tt-hit">&lt;</mark>y'


def test_highlight_is_case_insensitive_and_escapes_without_a_keyword():
    assert tx.highlight("Far too LONG, far", "far") == \
        '<mark class="tt-hit">Far</mark> too LONG, <mark class="tt-hit">far</mark>'
    assert tx.highlight(HOSTILE, "") == ESCAPED and tx.highlight(None, "x") == ""
    assert tx.highlight(HOSTILE, "alert") == (
        '&lt;script&gt;<mark class="tt-hit">alert</mark>(1)&lt;/script&gt;'
        '&lt;img src=x onerror=<mark class="tt-hit">alert</mark>(1)&gt;')
    assert tx.count_hits("far too long, FAR", "far") == 2
    assert tx.count_hits("a.b", ".") == 1 and tx.count_hits(None, "a") == 0


def test_plain_html_is_escaped_text_with_marks():
    out = tx.plain_html(HOSTILE, "alert")
    assert out.startswith('<div class="tt-plain">&lt;script&gt;<mark class="tt-hit">alert')
    assert "<script" not in out and "<img" not in out
    assert "tt-plain-note" in out and "tt-plain-note" not in tx.plain_html("x", "x", note=False)


def test_esc_marks_missing_values():
    assert tx.esc(None) == tx.MISSING and tx.esc(float("nan")) == tx.MISSING
    assert tx.esc('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;" and tx.esc(3) == "3"


# ------------------------------------------------------------------ thoughts, turns, header


def test_thought_chip_has_display_name_meaning_and_colour():
    thought = {"thought_id": 7, "label": "scope_fit", "kind": "reaction",
               "content": "too long " + HOSTILE}
    html = tx.thought_html(thought, LABELS)
    assert 'data-thought-id="7"' in html and 'data-label="scope_fit"' in html
    assert 'title="Scope Fit: unhappy with how much: length, detail, breadth"' in html
    assert LABEL_COLORS["scope_fit"] in html
    assert ">Reaction<" in html
    assert ESCAPED in html and "<script" not in html and "<img" not in html
    marked = tx.thought_html(thought, LABELS, keyword="long")
    assert 'too <mark class="tt-hit">long</mark>' in marked
    # an unknown label is shown by its code, escaped, in grey
    odd = tx.thought_html({"thought_id": 1, "label": "<b>x</b>", "kind": "reason",
                           "content": "c"}, LABELS)
    assert "&lt;b&gt;x&lt;/b&gt;" in odd and "<b>" not in odd and "#999999" in odd
    both = tx.thoughts_html([thought, {**thought, "thought_id": 8}], LABELS)
    assert re.findall(r'data-thought-id="(\d+)"', both) == ["7", "8"]


def test_turn_head_has_stage_permalink_and_markers():
    head = tx.turn_head_html(3, "user", "Mid-Early", 8, "?conv=c&turn=3#turn-3",
                             linked=True, hits=2)
    assert head.startswith('<h6 class="tt-turnhead" data-anchor="turn-3">')
    assert "<b>User</b>" in head and "turn 3 of 8" in head and ">Mid-Early<" in head
    assert "2 keyword hits" in head and "linked turn" in head
    assert 'href="?conv=c&amp;turn=3#turn-3"' in head and "permalink" in head
    plain = tx.turn_head_html(2, "assistant", None, 2, "?conv=c")
    assert "<b>Assistant</b>" in plain and "linked turn" not in plain
    assert "keyword hit" not in plain and f">{tx.MISSING}<" in plain


def _conv(**changes) -> dict:
    conv = {"conv_id": "user1_x", "model_name": "GPT-5.4", "model_provider": "OpenAI",
            "domain": None, "subtopic": None, "task_summary": "bake", "task_expectation": "a",
            "n_messages": 4, "n_thoughts": 4, "n_dissatisfied": 1, "has_survey": True,
            "age": "24", "age_bracket": "18-24", "gender": "Male",
            "education": "Undergraduate", "occupation": "Teacher", "ai_frequency": 5}
    return {**conv, **changes}


def test_header_shows_the_participant():
    head = tx.header_html(_conv())
    assert "<h4>user1_x</h4>" in head and "GPT-5.4" in head and "(OpenAI)" in head
    assert "4 messages · 4 thoughts · 1 dissatisfied reaction<" in head  # singular
    assert "Undergraduate" in head and "5 of 5" in head and "18-24" in head
    assert "no survey answers" not in head


def test_header_with_missing_demographics():
    none = {k: None for k in ("age", "age_bracket", "gender", "education", "occupation",
                              "ai_frequency")}
    head = tx.header_html(_conv(has_survey=False, **none))
    assert "no survey answers" in head
    assert head.count("—") == 6  # the five answers and the domain / subtopic
    odd = tx.header_html(_conv(age="366", age_bracket=None))
    assert "raw age 366" in odd
    assert dict(tx.demographics(_conv(age="366", age_bracket=None)))["Age bracket"] == \
        "— (raw age 366)"


def test_header_escapes_dataset_text():
    head = tx.header_html(_conv(conv_id=HOSTILE, model_name=HOSTILE, occupation=HOSTILE,
                                task_summary=HOSTILE))
    assert "<script" not in head and "<img" not in head and head.count(ESCAPED) == 4


# ------------------------------------------------------------------ long messages


def test_long_message_is_collapsed():
    text = ("para one. " * 100 + "\n\n") * 4
    head, rest = tx.split_long(text)
    assert len(head) <= tx.COLLAPSE_CHARS and rest
    assert "".join((head + rest).split()) == "".join(text.split())  # nothing lost
    fenced = "intro\n\n```\n" + "code line\n" * 300 + "```\nafter"
    head, rest = tx.split_long(fenced)
    assert head.count("```") % 2 == 0 and rest.startswith("```")
    assert tx.split_long("short") == ("short", "")
    assert tx.split_long(None) == ("", "")


def test_one_long_word_is_cut_at_the_limit():
    head, rest = tx.split_long("x" * 5000)
    assert len(head) == tx.COLLAPSE_CHARS and head + rest == "x" * 5000


# ------------------------------------------------------------------ links and result tables


def test_permalink_keeps_every_url_parameter():
    params = {"model": ["GPT-5.4"], "sort": "-messages", "page": "2", "q": "a b",
              "conv": ["old"], "turn": "9"}
    assert tx.permalink(params, "c 1", 3) == \
        "?model=GPT-5.4&sort=-messages&page=2&q=a+b&conv=c+1&turn=3#turn-3"
    assert tx.permalink({}, "user'1&x") == "?conv=user%271%26x"


def test_link_table_names_kinds_and_labels_and_links_the_turn():
    hits = pl.DataFrame({"item_id": ["t:5", "m:c1:1"], "kind": ["reaction", "user_message"],
                         "label": ["scope_fit", None], "conv_id": ["c2", "c1"],
                         "turn": [4, 1], "score": [0.91234, 0.5]})
    texts = pl.DataFrame({"item_id": ["m:c1:1", "t:5"], "text": ["hello   there", "x" * 300]})
    table = tx.link_table(hits, texts, LABELS, {"model": ["GPT-5.4"], "sort": "id"})
    assert table.columns == ["score", "kind", "label", "text", "conversation", "turn", "link"]
    rows = table.to_dicts()
    assert rows[0]["score"] == 0.912 and rows[0]["kind"] == "Reaction"
    assert rows[0]["label"] == "Scope Fit" and rows[1]["label"] == tx.MISSING
    assert len(rows[0]["text"]) == 240 and rows[0]["text"].endswith("…")
    assert rows[1]["text"] == "hello there" and rows[1]["kind"] == "User message"
    assert [r["conversation"] for r in rows] == ["c2", "c1"] and table["turn"].to_list() == [4, 1]
    assert rows[0]["link"] == "?model=GPT-5.4&sort=id&conv=c2&turn=4#turn-4"


def test_snippet_is_one_line():
    assert tx.snippet("a\n b\t c") == "a b c" and tx.snippet(None) == ""
    assert tx.snippet("y" * 200, 10) == "y" * 9 + "…"


# --------------------------------------------------------------------------- images

@pytest.mark.parametrize("markdown, host", [
    ("see ![px](http://evil.example/p.gif) now", "evil.example"),
    ('![a [b] c](<http://x.io/a b.png> "title")', "x.io"),
    ("![logo][L]\n\n[L]: https://cdn.io/l.png", "cdn.io"),
    ("![L]\n\n[l]: https://cdn.io/l.png", "cdn.io"),            # shortcut, case-insensitive
    ("![x](data:image/png;base64,AAAA)", "an embedded data URL"),
    ("![](http://[::1/bad)", "http://[::1/bad"),                  # malformed: named as is
])
def test_images_become_placeholders_naming_their_host(markdown, host):
    guarded, hosts = tx.guard_images(markdown)
    assert hosts == [host]
    assert f"from {host}: not loaded" in guarded
    assert "![" not in guarded          # no image syntax survives


def test_code_keeps_its_images_as_written_and_stray_bangs_are_escaped():
    md = "`![a](http://c.io/x)`\n```\n![b](http://c.io/y)\n```\n![c](http://r.io/z) !!["
    guarded, hosts = tx.guard_images(md)
    assert "`![a](http://c.io/x)`" in guarded and "\n![b](http://c.io/y)\n" in guarded
    assert hosts == ["r.io"] and guarded.endswith("!!\\[")
    assert tx.guard_images("no images here") == ("no images here", [])
    assert tx.guard_images(None) == ("", [])
