"""The transcript of one conversation as escaped HTML (the app's one view that is not a
plotly figure): turn headings, colour-coded thoughts, the conversation header.

Dataset text is untrusted: everything that goes into custom HTML passes through
``html.escape`` here (keyword highlighting escapes each piece, then wraps the matches in
``<mark>``). Message bodies themselves are rendered by the page with ``st.markdown``
*without* ``unsafe_allow_html`` unless they carry a keyword hit, in which case they are
shown as escaped plain text with the hits marked.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from components.figures.theme import KIND_COLORS, LABEL_COLORS
from components.links import conversation_url, turn_anchor
from components.vocabulary import KIND_NAMES, count

#: Messages longer than this are cut; the rest goes into a "show more" expander.
COLLAPSE_CHARS = 1500
MISSING = "—"

STAGE_COLORS = {"Early": "#E8F1FA", "Mid-Early": "#D6E6F5", "Mid-Late": "#BFD7EE",
                "Late": "#A3C4E6"}

CSS = """
<style>
.tt-turnhead{display:flex;align-items:center;gap:.5rem;flex-wrap:wrap;font-size:.85rem;
  font-weight:400;color:#444;margin:0 0 .25rem 0;padding:0;scroll-margin-top:4.5rem}
[data-testid="stChatMessage"] [data-testid="stMarkdownContainer"] h1{font-size:1.3rem}
[data-testid="stChatMessage"] [data-testid="stMarkdownContainer"] h2{font-size:1.2rem}
[data-testid="stChatMessage"] [data-testid="stMarkdownContainer"] h3{font-size:1.1rem}
[data-testid="stChatMessage"] [data-testid="stMarkdownContainer"] h4,
[data-testid="stChatMessage"] [data-testid="stMarkdownContainer"] h5{font-size:1rem}
.tt-turnhead b{color:#222}
.tt-stage{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-size:.75rem;
  color:#1d3a5c;border:1px solid #9db7d3}
.tt-seq{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-size:.72rem;
  background:#222;color:#fff;font-weight:600;cursor:help}
.tt-linked{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-size:.75rem;
  background:#FFE08A;color:#5a4300;font-weight:600}
.tt-turnhead a{text-decoration:none;font-size:.8rem}
.tt-thought{border-left:5px solid #999;border-radius:.35rem;padding:.4rem .6rem;
  margin:.35rem 0 .2rem 0;font-size:.92rem;line-height:1.4;color:#222}
.tt-thought .tt-meta{font-size:.75rem;margin-bottom:.15rem;display:flex;gap:.4rem;
  align-items:center;flex-wrap:wrap}
.tt-chip{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-weight:600;
  cursor:help}
.tt-kind{display:inline-block;padding:0 .4rem;border-radius:.6rem;color:#fff;
  font-weight:600}
.tt-plain{white-space:pre-wrap;word-wrap:break-word;font-size:1rem;line-height:1.5}
.tt-plain-note{font-size:.75rem;color:#777;margin-top:.2rem}
mark.tt-hit{background:#FFE08A;color:inherit;padding:0 .1rem;border-radius:.15rem}
.tt-head{border:1px solid #e3e3e3;border-radius:.5rem;padding:.75rem 1rem;margin:.25rem 0 .75rem 0;
  background:#fafbfc}
.tt-head h4{margin:0 0 .35rem 0;padding:0;font-size:1.1rem;word-break:break-all}
.tt-head .tt-grid{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .9rem;
  font-size:.92rem}
.tt-head .tt-k{color:#666}
.tt-demo{display:flex;flex-wrap:wrap;gap:.35rem;margin-top:.5rem}
.tt-demo span{background:#eef1f5;border-radius:.6rem;padding:0 .5rem;font-size:.8rem}
.tt-demo span i{color:#666;font-style:normal}
/* dataset text may carry bidi overrides (U+202E): keep them inside their chip */
.tt-demo span,.tt-chip,.tt-kind{unicode-bidi:isolate}
</style>
"""


def esc(value: Any) -> str:
    """``html.escape`` of ``str(value)``, with None/NaN as the missing marker."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    return html.escape(str(value), quote=True)


def _text_color(bg: str) -> str:
    """Black or white, whichever reads better on the hex colour ``bg``."""
    r, g, b = (int(bg[i:i + 2], 16) / 255 for i in (1, 3, 5))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#111111" if lum > 0.55 else "#FFFFFF"


def highlight(text: str | None, keyword: str | None) -> str:
    """Escaped ``text`` with case-insensitive occurrences of ``keyword`` in ``<mark>``.

    The raw text is split at the matches and every piece is escaped on its own, so a
    keyword can never match inside an HTML entity or produce markup.
    """
    text = "" if text is None else str(text)
    if not keyword:
        return html.escape(text)
    out: list[str] = []
    pos = 0
    for m in re.finditer(re.escape(keyword), text, flags=re.IGNORECASE):
        if m.end() == m.start():
            continue
        out.append(html.escape(text[pos:m.start()]))
        out.append(f'<mark class="tt-hit">{html.escape(m.group(0))}</mark>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def count_hits(text: str | None, keyword: str | None) -> int:
    if not keyword or text is None:
        return 0
    return len(re.findall(re.escape(keyword), str(text), flags=re.IGNORECASE))


def split_long(text: str | None, limit: int = COLLAPSE_CHARS) -> tuple[str, str]:
    """(head, rest) of a markdown text: head is at most about ``limit`` characters, cut at
    a paragraph or line break and never inside a code fence; rest is "" when short."""
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text, ""
    cut = text.rfind("\n\n", 0, limit)
    if cut < limit // 3:
        cut = text.rfind("\n", 0, limit)
    if cut < limit // 3:
        cut = text.rfind(" ", 0, limit)
    if cut <= 0:
        cut = limit
    # do not cut inside a ``` fence: move the cut before the unclosed fence
    fences = [m.start() for m in re.finditer(r"^\s*```", text[:cut], flags=re.MULTILINE)]
    if len(fences) % 2 == 1 and fences[-1] > 0:
        cut = fences[-1]
    return text[:cut].rstrip(), text[cut:].lstrip("\n")


def plain_html(text: str | None, keyword: str | None, note: bool = True) -> str:
    """A message body as escaped pre-wrapped text with the keyword hits marked."""
    return (f'<div class="tt-plain">{highlight(text, keyword)}</div>'
            + ('<div class="tt-plain-note">shown as plain text (markdown not rendered) with '
               'the keyword hits marked</div>' if note else ""))


#: The sequence filter's marks on a thought (`queries.conversations.sequence_matches`).
SEQUENCE_MARKS = {"first": ("① sequence start", "the filter's first label, followed later "
                                                 "by its second"),
                  "then": ("② sequence end", "the filter's second label, after its first"),
                  "both": ("①② sequence start and end", "both sides of the filter")}


def thought_html(thought: Mapping[str, Any], labels: Mapping[str, Mapping[str, str]],
                 keyword: str | None = None, mark: str | None = None) -> str:
    """One thought as a colour-coded box: kind chip, label chip (its meaning on hover),
    and the sequence filter's mark (``mark``: a key of `SEQUENCE_MARKS`)."""
    code = str(thought.get("label") or "")
    kind = str(thought.get("kind") or "")
    info = labels.get(code, {})
    colour = LABEL_COLORS.get(code, "#999999")
    kind_colour = KIND_COLORS.get(kind, "#777777")
    display = info.get("display_name") or code
    meaning = info.get("meaning") or ""
    tid = esc(thought.get("thought_id"))
    return (
        f'<div class="tt-thought" data-thought-id="{tid}" data-label="{esc(code)}" '
        f'style="border-left-color:{colour};background:{colour}1F">'
        f'<div class="tt-meta">'
        f'<span class="tt-kind" style="background:{kind_colour}">'
        f'{esc(KIND_NAMES.get(kind, kind))}</span>'
        f'<span class="tt-chip" style="background:{colour};color:{_text_color(colour)}" '
        f'title="{esc(display)}: {esc(meaning)}">{esc(display)}</span>'
        + (f'<span class="tt-seq" title="{SEQUENCE_MARKS[mark][1]}">'
           f'{SEQUENCE_MARKS[mark][0]}</span>' if mark in SEQUENCE_MARKS else "")
        + f'</div>{highlight(thought.get("content"), keyword)}</div>')


def thoughts_html(thoughts: Iterable[Mapping[str, Any]],
                  labels: Mapping[str, Mapping[str, str]], keyword: str | None = None,
                  marks: Mapping[int, str] | None = None) -> str:
    """The thoughts of a message; ``marks``: thought id -> sequence mark."""
    marks = marks or {}
    return "".join(thought_html(t, labels, keyword, marks.get(int(t.get("thought_id", -1))))
                   for t in thoughts)


def scroll_to_turn_html(turn: int) -> str:
    """A script (no dataset text in it) that scrolls the transcript to ``turn``'s heading
    once it is drawn: the transcript "opens at" a turn picked in a list or by the sequence
    filter, as the permalink's ``#turn-N`` fragment does on a fresh load."""
    anchor = turn_anchor(int(turn))
    return ("<script>(function(){var n=0;var t=setInterval(function(){"
            f"var el=document.querySelector('[data-anchor=\"{anchor}\"]');"
            "if(el){el.scrollIntoView({block:'start'});clearInterval(t);}"
            "if(++n>100){clearInterval(t);}},100);})();</script>")


def permalink(params: Mapping[str, Any], conv_id: str, turn: int | None = None) -> str:
    """A link within the Conversations page (``?...&conv=..&turn=..#turn-N``) keeping
    every other URL parameter (filters, sort, page)."""
    return conversation_url(params, conv_id, turn, page="", keep=None)


def turn_head_html(turn: int, role: str, stage: str | None, n_turns: int, link: str,
                   linked: bool = False, hits: int = 0, linked_text: str = "linked turn"
                   ) -> str:
    """The line above a message: role, turn, stage marker, permalink, linked marker."""
    who = "User" if role == "user" else "Assistant"
    parts = [f"<b>{esc(who)}</b>", f"<span>turn {int(turn)} of {int(n_turns)}</span>",
             f'<span class="tt-stage" style="background:{STAGE_COLORS.get(stage or "", "#eee")}"'
             f' title="stage of the conversation (relative position of the message)">'
             f"{esc(stage)}</span>"]
    if hits:
        parts.append(f'<mark class="tt-hit">{int(hits)} keyword hit{"s" if hits != 1 else ""}'
                     "</mark>")
    if linked:
        parts.append(f'<span class="tt-linked">{esc(linked_text)}</span>')
    parts.append(f'<a href="{esc(link)}" target="_self" title="link to this turn (keeps the '
                 f'filters)"># permalink</a>')
    # a heading with data-anchor: Streamlit scrolls it into view when the URL's #fragment
    # names it (the permalink's #turn-N), and in-page links #turn-N jump to it
    return (f'<h6 class="tt-turnhead" data-anchor="{turn_anchor(turn)}">'
            f'{" ".join(parts)}</h6>')


def demographics(conv: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, value) of the participant's survey answers; missing values as "—"."""
    def val(key: str) -> str:
        v = conv.get(key)
        return MISSING if v is None or (isinstance(v, float) and v != v) or str(v).strip() == "" \
            else str(v)
    age = val("age_bracket")
    raw = conv.get("age")
    if age == MISSING and raw not in (None, ""):
        age = f"{MISSING} (raw age {raw})"
    freq = val("ai_frequency")
    if freq != MISSING:
        freq = f"{int(float(freq))} of 5"
    return [("Age bracket", age), ("Gender", val("gender")), ("Education", val("education")),
            ("Occupation", val("occupation")), ("AI use", freq)]


def header_html(conv: Mapping[str, Any]) -> str:
    """The conversation header: id, model, domain/subtopic, task, expectation, participant."""
    topic = " / ".join(esc(v) for v in (conv.get("domain"), conv.get("subtopic"))
                       if v is not None) or MISSING
    if conv.get("topic_uncertain"):
        margin = conv.get("topic_margin")
        topic += (" <span class='tt-k'>(uncertain: the runner-up domain is within "
                  + (f"{float(margin):.3f}" if margin is not None else "the margin") + ")</span>")
    rows = [("Model", f"{esc(conv.get('model_name'))} "
                      f"<span class='tt-k'>({esc(conv.get('model_provider'))})</span>"),
            ("Domain / subtopic", topic),
            ("Task summary", esc(conv.get("task_summary"))),
            ("Expectation", esc(conv.get("task_expectation"))),
            ("Size", f"{count(conv.get('n_messages') or 0, 'message')} · "
                     f"{count(conv.get('n_thoughts') or 0, 'thought')} · "
                     f"{count(conv.get('n_dissatisfied') or 0, 'dissatisfied reaction')}")]
    grid = "".join(f'<div class="tt-k">{k}</div><div>{v}</div>' for k, v in rows)
    demo = "".join(f"<span><i>{esc(k)}:</i> {esc(v)}</span>" for k, v in demographics(conv))
    survey = "" if conv.get("has_survey") else "<span><i>no survey answers</i></span>"
    return (f'<div class="tt-head"><h4>{esc(conv.get("conv_id"))}</h4>'
            f'<div class="tt-grid">{grid}</div><div class="tt-demo">{demo}{survey}</div></div>')


def link_table(hits: pl.DataFrame, texts: pl.DataFrame,
               labels: Mapping[str, Mapping[str, str]], params: Mapping[str, Any]
               ) -> pl.DataFrame:
    """The table of search results / similar thoughts: score, kind, label, text,
    conversation, turn and a permalink (relative URL keeping the other parameters).

    Args:
        hits: frame with item_id, kind, label, conv_id, turn, score.
        texts: frame with item_id, text (from `queries.conversations.item_texts`).
        labels: code -> {display_name, ...}.
        params: the current URL parameters.
    """
    text = dict(zip(texts["item_id"].to_list(), texts["text"].to_list()))
    conv, turns = hits["conv_id"].to_list(), hits["turn"].to_list()
    return pl.DataFrame({
        "score": hits["score"].round(3),
        "kind": [KIND_NAMES.get(k, k) for k in hits["kind"].to_list()],
        "label": [labels.get(c, {}).get("display_name", c) if isinstance(c, str) else MISSING
                  for c in hits["label"].to_list()],
        "text": [snippet(text.get(i), 240) for i in hits["item_id"].to_list()],
        "conversation": conv,
        "turn": [int(t) for t in turns],
        "link": [permalink(params, c, int(t)) for c, t in zip(conv, turns)]},
        schema={"score": pl.Float64, "kind": pl.Utf8, "label": pl.Utf8, "text": pl.Utf8,
                "conversation": pl.Utf8, "turn": pl.Int64, "link": pl.Utf8})


def snippet(text: str | None, limit: int = 160) -> str:
    """One line of plain text for tables and select boxes."""
    s = " ".join(("" if text is None else str(text)).split())
    return s if len(s) <= limit else s[:limit - 1] + "…"


# --------------------------------------------------------------------------- images

#: An inline markdown image ``![alt](url "title")`` (alt with one level of brackets).
_INLINE_IMAGE = re.compile(
    r"!\[(?P<alt>(?:[^\[\]\\\n]|\\.|\[[^\]\n]*\])*)\]"
    r"\(\s*(?P<url><[^>\n]*>|[^\s)]+)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
#: A reference image ``![alt][ref]``, ``![alt][]`` or ``![ref]``.
_REF_IMAGE = re.compile(r"!\[(?P<alt>[^\]\n]*)\](?:\[(?P<ref>[^\]\n]*)\])?")
#: A link reference definition ``[ref]: url "title"``.
_REF_DEF = re.compile(r"^ {0,3}\[(?P<ref>[^\]\n]+)\]:\s*(?P<url><[^>\n]*>|\S+)", re.M)
#: Code: a fenced block or an inline code span (left exactly as written).
_CODE = re.compile(r"(^ {0,3}(`{3,}|~{3,})[^\n]*\n.*?(?:^ {0,3}\2[ \t]*$|\Z)|`+[^`\n]*`+)",
                   re.S | re.M)


def _host(url: str) -> str:
    url = url.strip().strip("<>")
    if url.lower().startswith("data:"):
        return "an embedded data URL"
    try:
        host = urlsplit(url).hostname if "//" in url else None
    except ValueError:  # a malformed URL (an unclosed IPv6 bracket): name what is there
        host = None
    return host or (url[:40] or "?")


def guard_images(markdown: str | None) -> tuple[str, list[str]]:
    """Markdown whose images do not load: each image becomes a placeholder naming the host
    it would come from (a tracking pixel in the data must not reach the reader's browser
    unasked), and every remaining ``![`` is escaped so no other image syntax can form.
    Code blocks and spans are left as written.

    Returns:
        (the guarded markdown, the hosts of the images it held, each once, in order).
    """
    text = "" if markdown is None else str(markdown)
    refs = {m["ref"].strip().lower(): m["url"] for m in _REF_DEF.finditer(text)}
    hosts: list[str] = []

    def placeholder(alt: str, url: str | None) -> str:
        host = _host(url) if url else "an unresolved reference"
        if host not in hosts:
            hosts.append(host)
        words = " ".join(alt.split())[:60].replace("[", "(").replace("]", ")")
        label = f"“{words}” " if words else ""
        return f"\\[image {label}from {host}: not loaded\\]"

    def guard(part: str) -> str:
        part = _INLINE_IMAGE.sub(lambda m: placeholder(m["alt"], m["url"]), part)
        part = _REF_IMAGE.sub(lambda m: placeholder(
            m["alt"], refs.get((m["ref"] or m["alt"] or "").strip().lower())), part)
        return part.replace("![", "!\\[")

    out, pos = [], 0
    for m in _CODE.finditer(text):
        out.append(guard(text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(guard(text[pos:]))
    return "".join(out), hosts
