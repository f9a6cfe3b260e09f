"""Figures of the Overview page: the headline numbers, the per-model table, messages per
conversation and the reason and reaction counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
import polars as pl

from components.figures.base import empty_figure, esc, figure
from components.figures.theme import (
    AXIS_TITLE_SIZE,
    LABEL_COLORS,
    LINE_WIDTH,
    MUTED_COLOR,
    TEMPLATE_NAME,
    TEXT_COLOR,
    TEXT_SIZE,
)
from components.vocabulary import count

LENGTH_COLOR = "#4477AA"
MEDIAN_COLOR = "#CC3311"
#: The overview numbers, in display order: key of `queries.core.totals` -> label.
OVERVIEW_NUMBERS = (("users", "Users"), ("conversations", "Conversations"),
                    ("messages", "Messages"), ("thoughts", "Thoughts"), ("models", "Models"))


def overview_numbers(totals: Mapping[str, int], title: str = "The data at a glance"
                     ) -> go.Figure:
    """The headline counts (users, conversations, messages, thoughts, models) as one row
    of big numbers (``totals`` as `queries.core.totals` returns it)."""
    k = len(OVERVIEW_NUMBERS)
    data = [go.Indicator(mode="number", value=int(totals.get(key) or 0),
                         number=dict(valueformat=",d", font=dict(size=52, color=TEXT_COLOR)),
                         title=dict(text=label, font=dict(size=AXIS_TITLE_SIZE + 3,
                                                          color=MUTED_COLOR)),
                         domain=dict(x=[i / k + 0.01, (i + 1) / k - 0.01], y=[0, 0.9]))
            for i, (key, label) in enumerate(OVERVIEW_NUMBERS)]
    fig = go.Figure(data)
    fig.update_layout(template=TEMPLATE_NAME, title=title, height=250,
                      margin=dict(t=70, b=20, l=10, r=10))
    return fig


def summary_table(table: pl.DataFrame, title: str = "Per model", total_row: bool = True
                  ) -> go.Figure:
    """A plain table figure (e.g. `queries.overview.per_model_table`): header in bold,
    numbers right-aligned with thousands separators, the last row in bold when
    ``total_row``. Text cells are escaped."""
    cols = table.columns
    numeric = [table.schema[c].is_numeric() for c in cols]
    values = [[f"{int(v):,}" if num and v is not None else ("" if v is None else esc(v))
               for v in table[c].to_list()] for c, num in zip(cols, numeric)]
    n = table.height
    if total_row and n:
        values = [col[:-1] + [f"<b>{col[-1]}</b>" if col[-1] else ""] for col in values]
    fill = ["white" if i % 2 == 0 else "#F3F5F8" for i in range(n)]
    fig = go.Figure(go.Table(
        columnwidth=[3 if not num else 1.4 for num in numeric],
        header=dict(values=[f"<b>{esc(c)}</b>" for c in cols], fill_color="#E4E9F0",
                    align=["right" if num else "left" for num in numeric],
                    line=dict(color="white", width=1), height=34),
        cells=dict(values=values, align=["right" if num else "left" for num in numeric],
                   fill_color=[fill], line=dict(color="white", width=1), height=30)))
    fig.update_layout(template=TEMPLATE_NAME, title=title, height=110 + 30 * (n + 1),
                      margin=dict(t=70, b=10, l=10, r=10))
    return fig


def length_histogram(counts: pl.DataFrame, median: float | None,
                     title: str = "Messages per conversation") -> go.Figure:
    """Bar per message count (columns n_messages, conversations), with the median marked."""
    if counts.is_empty():
        return empty_figure("No conversations match the filters.", title)
    n = int(counts["conversations"].sum())
    bar = {"type": "bar", "x": counts["n_messages"].to_list(),
           "y": counts["conversations"].to_list(), "marker": {"color": LENGTH_COLOR},
           "hovertemplate": "%{x} messages: %{y} conversations<extra></extra>",
           "name": "conversations"}
    shapes, annotations = [], []
    if median is not None:
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": float(median),
                       "x1": float(median), "y0": 0, "y1": 1,
                       "line": {"color": MEDIAN_COLOR, "width": LINE_WIDTH + 0.5,
                                "dash": "dash"}})
        annotations.append({"text": f"median {median:g}", "xref": "x", "yref": "paper",
                            "x": float(median), "y": 1, "xanchor": "left", "yanchor": "top",
                            "showarrow": False, "bgcolor": "rgba(255,255,255,0.85)",
                            "font": {"color": MEDIAN_COLOR, "size": TEXT_SIZE + 1}})
    return figure([bar], {
        "title": {"text": f"{title}<br><sup>{count(n, 'conversation')}</sup>"},
        "xaxis": {"title": {"text": "messages in the conversation"}},
        "yaxis": {"title": {"text": "conversations"}, "tickformat": ",d",
                  "rangemode": "tozero"},
        "bargap": 0.1, "height": 400, "showlegend": False, "margin": {"t": 85},
        "shapes": shapes, "annotations": annotations})


REFERENCE_STYLE = {"ThoughtTrace (paper)": ("#444444", "dash", "circle-open"),
                   "WildChat": ("#CC6677", "dot", "square-open"),
                   "LMSYS-Chat-1M": ("#44AA99", "dashdot", "diamond-open")}


def length_vs_reference(counts: pl.DataFrame, median: float | None, bins: Sequence[str],
                        bin_of, reference: Mapping[str, Sequence[float | None]],
                        medians: Mapping[str, float],
                        title: str = "Messages per conversation") -> go.Figure:
    """The selection's share of conversations per length bin (bars) beside the paper's
    series for ThoughtTrace, WildChat and LMSYS-Chat-1M (lines; approximate, read off the
    paper's figure), each with its median in the legend."""
    if counts.is_empty():
        return empty_figure("No conversations match the filters.", title)
    n = int(counts["conversations"].sum())
    per_bin = {b: 0 for b in bins}
    for k, c in counts.select("n_messages", "conversations").iter_rows():
        per_bin[bin_of(k)] += int(c)
    share = [100 * per_bin[b] / n for b in bins]
    data = [{"type": "bar", "x": list(bins), "y": share, "name":
             f"this selection (median {median:g})" if median is not None else "this selection",
             "marker": {"color": LENGTH_COLOR},
             "customdata": [per_bin[b] for b in bins],
             "hovertemplate": "%{x} messages: %{y:.1f}% (%{customdata:,} conversations)"
                              "<extra></extra>"}]
    for name, values in reference.items():
        color, dash, symbol = REFERENCE_STYLE.get(name, ("#777777", "dash", "circle-open"))
        data.append({"type": "scatter", "mode": "lines+markers", "x": list(bins),
                     "y": list(values), "connectgaps": False,
                     "name": f"~ {name} (median {medians.get(name, '?')})",
                     "line": {"color": color, "dash": dash, "width": 2},
                     "marker": {"color": color, "symbol": symbol, "size": 8},
                     "hovertemplate": f"{name} (approximate): %{{y:.1f}}% at %{{x}}"
                                      "<extra></extra>"})
    return figure(data, {
        "title": {"text": f"{title}<br><sup>% of {count(n, 'conversation')} by total messages · "
                          "~ = the paper's series, read off its Fig. 3a (approximate; 22–28 "
                          "not published)</sup>"},
        "xaxis": {"title": {"text": "messages in the conversation"}, "type": "category"},
        "yaxis": {"title": {"text": "% of conversations"}, "rangemode": "tozero",
                  "ticksuffix": "%"},
        "bargap": 0.15, "height": 460, "margin": {"t": 95, "b": 20},
        "legend": {"x": 0.99, "xanchor": "right", "y": 0.98, "yanchor": "top",
                   "bgcolor": "rgba(255,255,255,0.85)"}})


def label_bars(counts: pl.DataFrame, kind: str, title: str | None = None) -> go.Figure:
    """Horizontal bars of label counts for one kind (columns label, kind, display_name,
    meaning, n, share), largest on top, each bar in its label's fixed colour."""
    df = counts.filter(pl.col("kind") == kind).sort("n", maintain_order=True)
    title = title or ("Reasons (on user messages)" if kind == "reason"
                      else "Reactions (to assistant messages)")
    if df.is_empty() or df["n"].sum() == 0:
        return empty_figure("No thoughts of this kind in the selection.", title)
    share = [v or 0.0 for v in df["share"].to_list()]
    ns = [int(v) for v in df["n"].to_list()]
    bar = {"type": "bar", "orientation": "h",
           "y": [esc(v) for v in df["display_name"].to_list()], "x": ns,
           "marker": {"color": [LABEL_COLORS.get(c, "#888888") for c in df["label"].to_list()]},
           "text": [f"{n:,} ({s:.1%})" for n, s in zip(ns, share)], "textposition": "auto",
           "textfont": {"size": TEXT_SIZE}, "cliponaxis": False,
           "customdata": [[esc(m or ""), s] for m, s in zip(df["meaning"].to_list(), share)],
           "hovertemplate": "<b>%{y}</b><br>%{customdata[0]}<br>%{x:,} thoughts "
                            "(%{customdata[1]:.1%})<extra></extra>"}
    return figure([bar], {
        "title": {"text": f"{title}<br><sup>{count(sum(ns), 'thought')}</sup>"},
        "xaxis": {"title": {"text": "thoughts"}, "tickformat": ",d"},
        "height": 130 + 44 * df.height, "showlegend": False, "margin": {"t": 85, "r": 20}})
