"""Subset A against subset B (`components.queries.compare`): two panels sharing the
categories — left, the share of each category in A and in B with their user-level 95%
intervals; right, the difference A − B in percentage points with its interval and a zero
line — and the test in the subtitle."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
import polars as pl

from components.figures.base import empty_figure, esc, figure
from components.figures.theme import MUTED_COLOR, NOTE_SIZE, TEXT_COLOR
from components.vocabulary import count

#: The two subsets: a dark blue and an orange (told apart in every colour-vision type,
#: and in greyscale by lightness); A also solid, B hatched.
A_COLOR = "#1F4E79"
B_COLOR = "#E08214"
DIFF_COLOR = "#333333"


def p_text(p: float | None, n_perm: int) -> str:
    """``p = 0.012`` or ``p < 0.001`` (the resolution of ``n_perm`` permutations)."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "p not computable"
    floor = 1 / (n_perm + 1)
    return f"p ≤ {floor:.4f}" if p <= floor + 1e-12 else f"p = {p:.3f}"


def test_text(test: Mapping[str, Any]) -> str:
    """The test's line: Cramér's V and the permutation p-value, with how."""
    v = test.get("cramers_v")
    v_txt = "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"
    both = test.get("users_both") or 0
    how = (f"{test.get('n_perm', 0):,} permutations of users"
           + (f"; {both:,} users with conversations on both sides swap their parts"
              if both else ""))
    p = p_text(test.get("p_value"), test.get("n_perm", 0))
    return f"Cramér's V = {v_txt} · permutation test {p} ({how})"


def compare_figure(table: pl.DataFrame, test: Mapping[str, Any], *, title: str,
                   a_name: str, b_name: str, unit: str, method: str,
                   names: Mapping[str, str] | None = None, error: str | None = None
                   ) -> go.Figure:
    """The A-vs-B figure.

    Args:
        table: `queries.compare.TABLE_SCHEMA` rows, in display order (top first).
        test: cramers_v, p_value, n_perm, users_a, users_b, users_both, items_a, items_b.
        a_name, b_name: what A and B are (dataset text: escaped here).
        unit: what is counted ("reasons", "users").
        method: how the intervals were computed.
        names: display names of the categories.
        error: why nothing is compared (drawn as the empty state).
    """
    names = names or {}
    head = f"{title}: A against B"
    if error or table.is_empty():
        return empty_figure(esc(error or "Nothing to compare."), head)
    cats = [esc(names.get(c, c)) for c in table["category"].to_list()]
    n = len(cats)
    rows = table.to_dicts()

    def bars(side: str, color: str, label: str) -> dict:
        share = [r[f"share_{side}"] for r in rows]
        return dict(
            type="bar", orientation="h", x=share, y=cats, name=label, xaxis="x", yaxis="y",
            marker=dict(color=color, line=dict(width=0),
                        pattern=dict(shape="" if side == "a" else "/", fillmode="overlay",
                                     fgcolor="white", solidity=0.3)),
            error_x=dict(type="data", symmetric=False, thickness=1.5, width=3,
                         color=TEXT_COLOR,
                         array=[r[f"hi_{side}"] - r[f"share_{side}"] for r in rows],
                         arrayminus=[r[f"share_{side}"] - r[f"lo_{side}"] for r in rows]),
            customdata=[[r[f"n_{side}"], r[f"lo_{side}"], r[f"hi_{side}"]] for r in rows],
            hovertemplate=f"{label}<br>%{{y}}: %{{x:.1%}} (95% CI %{{customdata[1]:.1%}}–"
                          "%{customdata[2]:.1%}) · n = %{customdata[0]:,}<extra></extra>")
    diff = [r["diff"] * 100 for r in rows]
    lo = [(r["diff"] - r["diff_lo"]) * 100 for r in rows]
    hi = [(r["diff_hi"] - r["diff"]) * 100 for r in rows]
    data = [bars("a", A_COLOR, "A"), bars("b", B_COLOR, "B"),
            dict(type="scatter", mode="markers", x=diff, y=cats, name="A − B",
                 xaxis="x2", yaxis="y", marker=dict(color=DIFF_COLOR, size=10, symbol="diamond"),
                 error_x=dict(type="data", symmetric=False, array=hi, arrayminus=lo,
                              thickness=2, width=5, color=DIFF_COLOR),
                 customdata=[[r["diff_lo"] * 100, r["diff_hi"] * 100] for r in rows],
                 hovertemplate="A − B<br>%{y}: %{x:+.1f} points (95% CI "
                               "%{customdata[0]:+.1f} to %{customdata[1]:+.1f})"
                               "<extra></extra>")]
    span = max([abs(r["diff_lo"]) for r in rows] + [abs(r["diff_hi"]) for r in rows]
               + [0.01]) * 100 * 1.1
    top = max([r["hi_a"] for r in rows] + [r["hi_b"] for r in rows] + [0.01]) * 1.08
    def size(side: str) -> str:
        users = count(test.get(f"users_{side}", 0), "user")
        if unit == "users":
            return users
        noun = unit[:-1] if unit.endswith("s") else unit
        return f"{users}, {count(test.get(f'items_{side}', 0), noun, unit)}"

    sizes = f"A: {esc(a_name)} — {size('a')}<br>B: {esc(b_name)} — {size('b')}"
    height, top_px, bottom_px = max(480, 300 + 56 * n), 170, 130
    plot_px = height - top_px - bottom_px  # the note and the legend sit at fixed pixels
    layout = dict(
        title=dict(text=f"{esc(head)}<br><sup>{sizes}</sup>"),
        barmode="group", bargap=0.25, bargroupgap=0.05,
        height=height, margin=dict(t=top_px, b=bottom_px),
        xaxis=dict(domain=[0, 0.58], title=dict(text=f"share of the subset's {esc(unit)}"),
                   tickformat=".0%", range=[0, top], zeroline=False),
        xaxis2=dict(domain=[0.66, 1], title=dict(text="A − B (percentage points)"),
                    range=[-span, span], zeroline=True, zerolinecolor=MUTED_COLOR,
                    zerolinewidth=2, ticksuffix=""),
        yaxis=dict(autorange="reversed", automargin=True),
        legend=dict(orientation="h", x=1, y=1 + 6 / plot_px, yanchor="bottom",
                    xanchor="right"),
        annotations=[dict(text=f"{esc(test_text(test))}<br>{esc(method)}", xref="paper",
                          yref="paper", x=0, y=-68 / plot_px, xanchor="left", yanchor="top",
                          showarrow=False, align="left",
                          font=dict(size=NOTE_SIZE, color=MUTED_COLOR))])
    return figure(data, layout)


def compare_shifts_figure(table: pl.DataFrame, *, a_name: str, b_name: str, method: str,
                          names: Mapping[str, str], n_perm: int, users: tuple[int, int],
                          error: str | None = None) -> go.Figure:
    """A against B on the semantic shifts: per pair type (rows), the median map distance
    of A and of B with 95% intervals (left) and the difference of the medians with its
    interval and the permutation p-value (right).

    Args:
        table: `queries.compare.SHIFT_SCHEMA` rows.
        names: pair type -> display name.
        users: the users of A and of B.
    """
    head = "Semantic shifts: A against B"
    if error or table.is_empty():
        return empty_figure(esc(error or "Nothing to compare."), head)
    rows = table.to_dicts()
    cats = [esc(names.get(r["pair_type"], r["pair_type"])) for r in rows]
    ys = list(range(len(rows)))
    data = []
    for side, color, label, symbol, dy in (("a", A_COLOR, "A", "square", -0.14),
                                           ("b", B_COLOR, "B", "circle", 0.14)):
        data.append(dict(
            type="scatter", mode="markers", x=[r[f"median_{side}"] for r in rows],
            y=[y + dy for y in ys], name=label, xaxis="x", yaxis="y",
            marker=dict(color=color, size=12, symbol=symbol),
            error_x=dict(type="data", symmetric=False, thickness=2, width=5, color=color,
                         array=[r[f"hi_{side}"] - r[f"median_{side}"] for r in rows],
                         arrayminus=[r[f"median_{side}"] - r[f"lo_{side}"] for r in rows]),
            customdata=[[r[f"n_{side}"], r[f"lo_{side}"], r[f"hi_{side}"],
                         r[f"users_{side}"]] for r in rows],
            hovertemplate=f"{label}<br>%{{text}}: median %{{x:.3f}} (95% CI "
                          "%{customdata[1]:.3f}–%{customdata[2]:.3f}) · "
                          "%{customdata[0]:,} pairs of %{customdata[3]:,} users"
                          "<extra></extra>", text=cats))
    data.append(dict(
        type="scatter", mode="markers+text", x=[r["diff"] for r in rows], y=ys,
        name="A − B", xaxis="x2", yaxis="y",
        marker=dict(color=DIFF_COLOR, size=11, symbol="diamond"),
        error_x=dict(type="data", symmetric=False, thickness=2, width=5, color=DIFF_COLOR,
                     array=[r["diff_hi"] - r["diff"] for r in rows],
                     arrayminus=[r["diff"] - r["diff_lo"] for r in rows]),
        text=[p_text(r["p_value"], n_perm) for r in rows], textposition="top center",
        textfont=dict(size=NOTE_SIZE, color=MUTED_COLOR),
        customdata=[[r["diff_lo"], r["diff_hi"]] for r in rows],
        hovertemplate="A − B: %{x:+.3f} (95% CI %{customdata[0]:+.3f} to "
                      "%{customdata[1]:+.3f})<extra></extra>"))
    span = max([abs(r["diff_lo"]) for r in rows] + [abs(r["diff_hi"]) for r in rows]
               + [0.01]) * 1.25
    who = (f"A: {esc(a_name)} — {count(users[0], 'user')}, "
           f"{count(sum(r['n_a'] for r in rows), 'pair')}<br>"
           f"B: {esc(b_name)} — {count(users[1], 'user')}, "
           f"{count(sum(r['n_b'] for r in rows), 'pair')}")
    height, top_px, bottom_px = 460, 170, 120
    plot_px = height - top_px - bottom_px
    layout = dict(
        title=dict(text=f"{esc(head)}<br><sup>{who}</sup>"),
        height=height, margin=dict(t=top_px, b=bottom_px),
        xaxis=dict(domain=[0, 0.55], title=dict(text="median distance on the map"),
                   rangemode="tozero", zeroline=False),
        xaxis2=dict(domain=[0.65, 1], title=dict(text="A − B (map units)"),
                    range=[-span, span], zeroline=True, zerolinecolor=MUTED_COLOR,
                    zerolinewidth=2),
        yaxis=dict(tickvals=ys, ticktext=cats, range=[len(rows) - 0.45, -0.6],
                   automargin=True, zeroline=False),
        legend=dict(orientation="h", x=1, y=1 + 6 / plot_px, yanchor="bottom",
                    xanchor="right"),
        annotations=[dict(text=f"per pair type: a permutation test of |median A − median "
                               f"B| ({n_perm:,} permutations of users)<br>{esc(method)}",
                          xref="paper", yref="paper", x=0, y=-62 / plot_px,
                          xanchor="left", yanchor="top", showarrow=False, align="left",
                          font=dict(size=NOTE_SIZE, color=MUTED_COLOR))])
    return figure(data, layout)
