"""Figures of the Participants page: one bar chart per survey field, conversations and
users side by side, with the small print of how the answers were cleaned."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
import polars as pl

from components.figures.base import empty_figure, esc, figure
from components.figures.theme import NOTE_SIZE

COUNT_COLORS = {"conversations": "#4477AA", "users": "#CCBB44"}


def participant_bars(counts: pl.DataFrame, field_title: str, n_conversations: int,
                     n_users: int, show: Sequence[str] = ("conversations", "users"),
                     note: str = "", max_chars: int = 38) -> go.Figure:
    """Horizontal bars per category (columns category, conversations, users, share), first
    category on top; conversations and/or users as grouped bars."""
    what = " and ".join(f"{s} (n={n_conversations if s == 'conversations' else n_users:,})"
                        for s in show)
    title = f"{field_title}: {what}" + (f"<br><sup>{note}</sup>" if note else "")
    if counts.is_empty():
        return empty_figure("No conversations in the selection.", title)
    df = counts.reverse()
    cats = [str(c) for c in df["category"].to_list()]
    short = [esc(c if len(c) <= max_chars else c[:max_chars - 1] + "…") for c in cats]
    seen: dict[str, int] = {}
    for i, s in enumerate(short):  # keep axis categories unique after shortening
        seen[s] = seen.get(s, 0) + 1
        if seen[s] > 1:
            short[i] = s + "\u200b" * (seen[s] - 1)
    data = []
    max_value = max([int(df[s].max() or 0) for s in show] + [0])
    for s in reversed(list(show)):
        n_total = n_conversations if s == "conversations" else n_users
        values = [int(v) for v in df[s].to_list()]
        data.append(dict(
            type="bar", orientation="h", y=short, x=values, name=s,
            marker=dict(color=COUNT_COLORS[s]), text=[f"{v:,}" for v in values],
            textposition="outside", cliponaxis=False, textfont=dict(size=NOTE_SIZE),
            customdata=[[esc(c), v / max(n_total, 1)] for c, v in zip(cats, values)],
            hovertemplate="<b>%{customdata[0]}</b><br>%{x:,} " + s
                          + " (%{customdata[1]:.1%} of " + f"{n_total:,})<extra></extra>"))
    layout = dict(
        title=dict(text=title), barmode="group", bargap=0.2,
        height=150 + (24 + 16 * len(show)) * df.height, showlegend=len(show) > 1,
        legend=dict(orientation="h", y=1.0, x=1, xanchor="right", yanchor="bottom",
                    traceorder="reversed"),
        xaxis=dict(tickformat=",d", rangemode="tozero", title=dict(text="count"),
                   **({"dtick": 1} if max_value <= 10 else {})),
        yaxis=dict(type="category"),
        margin=dict(t=100 if note else 75, r=40))
    return figure(data, layout)


def participant_note(field: str, result: Mapping, top_n: int = 15,
                     grouping: str = "detailed") -> str:
    """The small print under a participant chart: how ``field``'s answers were cleaned
    and grouped (``result`` as `queries.participants.participant_counts` returns it;
    ``grouping`` "paper" or "detailed")."""
    paper = grouping == "paper"
    if field == "age":
        return "(no valid age): not an age 13–100, e.g. 2 or 366; (missing): no answer"
    if field == "occupation":
        top = 8 if paper else int(top_n)
        return (f"{result.get('distinct') or 0:,} distinct answers after normalising case "
                f"and spaces; the {top} most frequent shown, the rest as “other”")
    if field == "gender" and paper:
        return ("the paper's groups: Male, Female, Non-binary; any other answer as Other "
                f"({result.get('distinct') or 0:,} distinct answers)")
    if field == "education" and paper:
        return ("the paper's 4 groups: Graduate, Undergrad, High school, Other "
                f"({result.get('distinct') or 0:,} distinct answers)")
    if field in ("gender", "education"):
        return "case and spaces normalised"
    if field == "ai_frequency":
        return ("the survey's 1–5 scale" + (" as the paper labels it" if paper else
                                             " as answered")
                + "; invalid answers count as (missing)")
    if field == "purposes":
        return (("the paper's 8 groups" if paper else "our keyword groups")
                + " over the free-text answer; one can be in several groups, so the bars "
                  "add up to more than n")
    return ""
