"""Figures of the Participants page: one bar chart per survey field, conversations and
users side by side, with the small print of how the answers were cleaned."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
import polars as pl

from components.figures.base import empty_figure, esc, figure, num, pct, rgba
from components.figures.theme import MUTED_COLOR, NOTE_SIZE, TEXT_COLOR, TEXT_SIZE, label_color
from components.vocabulary import KIND_NOUNS, KIND_TITLES, THOUGHT_KINDS, count

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


# --------------------------------------------------------------------------- one participant

#: Layout of the profile: pixels per label row, between the two panels, and the margins
#: (rows sit at integer positions on a numeric axis, so every bar and value text has an
#: exact place: the participant's bar above the row's centre, everyone else's below).
PROFILE_ROW_PX = 46
PROFILE_PANEL_GAP_PX = 96
PROFILE_BAR = 0.38          # bar thickness, in rows
PROFILE_OFFSET = 0.2        # each bar's distance from the row's centre, in rows
PROFILE_MARGIN = dict(t=175, b=120, l=10, r=40)
OTHERS_NAME = "everyone else (95% interval)"


def _profile_panel(rows: list[dict], kind: str, axis: str, user: str, top: float
                   ) -> list[dict]:
    """The two bar traces and the value texts of one kind's panel (``axis`` "" or "2")."""
    colors = [label_color(r["label"]) for r in rows]
    mine = [r["user_share"] for r in rows]
    theirs = [r["others_share"] for r in rows]
    lo = [r["ci_lo"] for r in rows]
    hi = [r["ci_hi"] for r in rows]
    noun = KIND_NOUNS[kind]
    xa, ya = f"x{axis}", f"y{axis}"
    up = [i - PROFILE_OFFSET for i in range(len(rows))]
    down = [i + PROFILE_OFFSET for i in range(len(rows))]
    # dataset text (names, meanings, the user id) goes into customdata, never into a
    # hover template, where plotly would read "%{...}" in it as a placeholder
    custom = [[esc(r["display_name"]), esc(r["meaning"] or ""), r["user_n"], r["user_total"],
               r["others_n"], r["others_total"], num(r["ci_lo"]), num(r["ci_hi"]),
               r["others_users"], esc(user)] for r in rows]
    user_text = [f"{pct(s)} ({r['user_n']}/{r['user_total']})" if s is not None else ""
                 for s, r in zip(mine, rows)]
    first = axis == ""
    return [
        dict(type="bar", orientation="h", y=up, x=mine, width=PROFILE_BAR, name=esc(user),
             xaxis=xa, yaxis=ya, legendgroup="user", showlegend=first,
             marker=dict(color=colors, line=dict(color=colors, width=1)),
             text=user_text, textposition="outside", cliponaxis=False,
             textfont=dict(size=TEXT_SIZE, color=TEXT_COLOR), customdata=custom,
             hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]}<br>%{customdata[9]}: "
                           "%{customdata[2]:,} of %{customdata[3]:,} " + noun
                           + " (%{x:.1%})<extra></extra>"),
        dict(type="bar", orientation="h", y=down, x=theirs, width=PROFILE_BAR,
             name=OTHERS_NAME, xaxis=xa, yaxis=ya, legendgroup="others", showlegend=first,
             marker=dict(color=[rgba(c, 0.35) for c in colors], line=dict(color=colors, width=1),
                         pattern=dict(shape="/", fgcolor=MUTED_COLOR, size=6)),
             error_x=dict(type="data", symmetric=False,
                          array=[num(h, num(s)) - num(s) for s, h in zip(theirs, hi)],
                          arrayminus=[num(s) - num(a, num(s)) for s, a in zip(theirs, lo)],
                          color=TEXT_COLOR, thickness=1.6, width=4),
             cliponaxis=False, customdata=custom,
             hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]}<br>everyone else: "
                           "%{customdata[4]:,} of %{customdata[5]:,} " + noun
                           + " of %{customdata[8]:,} users (%{x:.1%}; 95% interval "
                             "%{customdata[6]:.1%}–%{customdata[7]:.1%})<extra></extra>"),
        # everyone else's value sits past its whisker, level with its bar
        dict(type="scatter", mode="text", y=down, xaxis=xa, yaxis=ya, showlegend=False,
             x=[num(h, num(s)) + top * 0.015 for s, h in zip(theirs, hi)],
             text=[pct(s) if s is not None else "" for s in theirs],
             textposition="middle right", textfont=dict(size=NOTE_SIZE, color=MUTED_COLOR),
             hoverinfo="skip", cliponaxis=False),
    ]


def _panel_title(kind: str, rows: list[dict], user: str) -> str:
    mine = int(rows[0]["user_total"]) if rows else 0
    theirs = int(rows[0]["others_total"]) if rows else 0
    users = int(rows[0]["others_users"]) if rows else 0
    return (f"<b>{KIND_TITLES[kind]}</b> — {esc(user)}: {count(mine, KIND_NOUNS[kind][:-1])}"
            f" · everyone else: {theirs:,} {KIND_NOUNS[kind] if theirs != 1 else kind} of "
            f"{count(users, 'user')}")


def participant_profile(profile: pl.DataFrame, user: str, n_conversations: int,
                        method: str) -> go.Figure:
    """One participant's thought types against everyone else's: reasons above, reactions
    below; per label the user's share of their thoughts of that kind (solid, "40% (2/5)")
    and everyone else's pooled share (hatched) with its 95% interval.

    Args:
        profile: `queries.participant.PROFILE_SCHEMA` rows (every label of both kinds).
        user: the participant's id (dataset text: escaped here).
        n_conversations: the user's conversations in scope.
        method: how "everyone else" and the intervals were computed (the subtitle; its
            "; "-separated parts go on lines of their own).
    """
    head = f"Thought types of {esc(user)} against everyone else's"
    total = int(profile.unique("kind")["user_total"].sum()) if profile.height else 0
    sub = "<br>".join([
        f"{esc(user)}: {count(total, 'thought')} in {count(n_conversations, 'conversation')}"
        f" · everyone else: every other user under the filters ({esc(user)} excluded)",
        *(esc(part) for part in method.split("; "))])
    title = f"{head}<br><sup>{sub}</sup>"
    if not user:
        return empty_figure("No participant chosen.", head)
    if profile.is_empty() or n_conversations == 0:
        return empty_figure(f"{esc(user)} has no conversations under the filters.", title)
    by_kind = {k: profile.filter(pl.col("kind") == k).to_dicts() for k in THOUGHT_KINDS}
    top = max([num(r["user_share"]) for rs in by_kind.values() for r in rs]
              + [num(r["ci_hi"], num(r["others_share"])) for rs in by_kind.values()
                 for r in rs] + [0.05])
    top = min(1.0, top * 1.22 + 0.06)
    n_a, n_b = len(by_kind["reason"]), len(by_kind["reaction"])
    plot_h = PROFILE_ROW_PX * (n_a + n_b) + PROFILE_PANEL_GAP_PX
    data = (_profile_panel(by_kind["reason"], "reason", "", user, top)
            + _profile_panel(by_kind["reaction"], "reaction", "2", user, top))
    split_a = 1 - PROFILE_ROW_PX * n_a / plot_h
    split_b = PROFILE_ROW_PX * n_b / plot_h
    annotations = [
        dict(text=_panel_title("reason", by_kind["reason"], user), xref="paper", yref="paper",
             x=0, y=1, yanchor="bottom", xanchor="left", showarrow=False, yshift=4,
             font=dict(size=TEXT_SIZE)),
        dict(text=_panel_title("reaction", by_kind["reaction"], user), xref="paper",
             yref="paper", x=0, y=split_b, yanchor="bottom", xanchor="left",
             showarrow=False, yshift=4, font=dict(size=TEXT_SIZE))]
    for kind, y in (("reason", (split_a + 1) / 2), ("reaction", split_b / 2)):
        rows = by_kind[kind]
        if rows and not rows[0]["user_total"]:
            annotations.append(dict(
                text=f"{esc(user)} wrote no {KIND_NOUNS[kind]} in these conversations",
                xref="paper", yref="paper", x=1, y=y, xanchor="right", showarrow=False,
                font=dict(size=NOTE_SIZE, color=MUTED_COLOR)))

    def yaxis(rows: list[dict], domain: list[float], anchor: str) -> dict:
        return dict(domain=domain, anchor=anchor, tickmode="array",
                    tickvals=list(range(len(rows))), ticks="", ticklabelstandoff=8,
                    ticktext=[esc(r["display_name"]) for r in rows],
                    range=[len(rows) - 0.5, -0.5], showgrid=False, zeroline=False)
    axis = dict(tickformat=".0%", range=[0, top])
    height = plot_h + PROFILE_MARGIN["t"] + PROFILE_MARGIN["b"]
    layout = dict(
        # the title block (three lines of subtitle) from the top of the page down
        title=dict(text=title, yref="container", y=1 - 34 / height, yanchor="top"),
        height=height,
        margin=PROFILE_MARGIN, annotations=annotations,
        legend=dict(orientation="h", x=0, xanchor="left", y=-68 / plot_h, yanchor="top",
                    traceorder="normal"),
        xaxis=dict(**axis, anchor="y"),
        xaxis2=dict(**axis, anchor="y2", title=dict(text="share of the participant's / "
                                                         "everyone else's thoughts of a kind")),
        yaxis=yaxis(by_kind["reason"], [split_a, 1], "x"),
        yaxis2=yaxis(by_kind["reaction"], [0, split_b], "x2"))
    return figure(data, layout)
