"""Pure figure builders: DataFrame in, plotly Figure out (no streamlit, no queries)."""

from __future__ import annotations

from typing import Mapping

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from components.theme import (AXIS_TITLE_SIZE, LABEL_COLORS, LINE_WIDTH, MUTED_COLOR,
                              TEMPLATE_NAME, TEXT_COLOR, TEXT_SIZE)

LENGTH_COLOR = "#4477AA"
MEDIAN_COLOR = "#CC3311"
#: The overview numbers, in display order: key of `queries.totals` -> label.
OVERVIEW_NUMBERS = (("users", "Users"), ("conversations", "Conversations"),
                    ("messages", "Messages"), ("thoughts", "Thoughts"), ("models", "Models"))


def empty_figure(message: str, title: str = "") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE_NAME, title=title, xaxis_visible=False,
                      yaxis_visible=False, height=320,
                      annotations=[dict(text=message, showarrow=False, x=0.5, y=0.5,
                                        xref="paper", yref="paper",
                                        font=dict(size=AXIS_TITLE_SIZE, color=MUTED_COLOR))])
    return fig


def overview_numbers(totals: Mapping[str, int], title: str = "The data at a glance"
                     ) -> go.Figure:
    """The headline counts (users, conversations, messages, thoughts, models) as one row
    of big numbers (``totals`` as `queries.totals` returns it)."""
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


def summary_table(table: pd.DataFrame, title: str = "Per model", total_row: bool = True
                  ) -> go.Figure:
    """A plain table figure (e.g. `queries.per_model` + an "All models" row): header in
    bold, numbers right-aligned with thousands separators, the last row in bold when
    ``total_row``."""
    cols = list(table.columns)
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in cols]
    values = [[f"{int(v):,}" if num and pd.notna(v) else ("" if pd.isna(v) else str(v))
               for v in table[c]] for c, num in zip(cols, numeric)]
    n = len(table)
    if total_row and n:
        values = [col[:-1] + [f"<b>{col[-1]}</b>" if col[-1] else ""] for col in values]
    fill = ["white" if i % 2 == 0 else "#F3F5F8" for i in range(n)]
    fig = go.Figure(go.Table(
        columnwidth=[3 if not num else 1.4 for num in numeric],
        header=dict(values=[f"<b>{c}</b>" for c in cols], fill_color="#E4E9F0",
                    align=["right" if num else "left" for num in numeric],
                    line=dict(color="white", width=1), height=34),
        cells=dict(values=values, align=["right" if num else "left" for num in numeric],
                   fill_color=[fill], line=dict(color="white", width=1), height=30)))
    fig.update_layout(template=TEMPLATE_NAME, title=title, height=110 + 30 * (n + 1),
                      margin=dict(t=70, b=10, l=10, r=10))
    return fig


def _figure(data: list[dict], layout: dict) -> go.Figure:
    """A Figure from plain dicts with our template, without plotly's per-property validation
    (the overview redraws these on every filter change; validation cost ~10x the rest).
    Tests validate the output with ``go.Figure(fig.to_dict())``."""
    return go.Figure({"data": data, "layout": {"template": pio.templates[TEMPLATE_NAME],
                                               **layout}}, _validate=False)


def length_histogram(counts: pd.DataFrame, median: float | None,
                     title: str = "Messages per conversation") -> go.Figure:
    """Bar per message count (columns n_messages, conversations), with the median marked."""
    if counts.empty:
        return empty_figure("No conversations match the filters.", title)
    n = int(counts["conversations"].sum())
    bar = {"type": "bar", "x": counts["n_messages"].tolist(),
           "y": counts["conversations"].tolist(), "marker": {"color": LENGTH_COLOR},
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
    return _figure([bar], {
        "title": {"text": f"{title}<br><sup>{n:,} conversations</sup>"},
        "xaxis": {"title": {"text": "messages in the conversation"}},
        "yaxis": {"title": {"text": "conversations"}, "tickformat": ",d",
                  "rangemode": "tozero"},
        "bargap": 0.1, "height": 400, "showlegend": False, "margin": {"t": 85},
        "shapes": shapes, "annotations": annotations})


def label_bars(counts: pd.DataFrame, kind: str, title: str | None = None) -> go.Figure:
    """Horizontal bars of label counts for one kind (columns label, kind, display_name,
    meaning, n, share), largest on top, each bar in its label's fixed colour."""
    df = counts[counts["kind"] == kind].sort_values("n", ascending=True)
    title = title or ("Reasons (on user messages)" if kind == "reason"
                      else "Reactions (to assistant messages)")
    if df.empty or df["n"].sum() == 0:
        return empty_figure("No thoughts of this kind in the selection.", title)
    share = df["share"].fillna(0).tolist()
    ns = [int(v) for v in df["n"]]
    bar = {"type": "bar", "orientation": "h", "y": df["display_name"].tolist(), "x": ns,
           "marker": {"color": [LABEL_COLORS.get(c, "#888888") for c in df["label"]]},
           "text": [f"{n:,} ({s:.1%})" for n, s in zip(ns, share)], "textposition": "auto",
           "textfont": {"size": TEXT_SIZE}, "cliponaxis": False,
           "customdata": [[m, s] for m, s in zip(df["meaning"], share)],
           "hovertemplate": "<b>%{y}</b><br>%{customdata[0]}<br>%{x:,} thoughts "
                            "(%{customdata[1]:.1%})<extra></extra>"}
    return _figure([bar], {
        "title": {"text": f"{title}<br><sup>{sum(ns):,} thoughts</sup>"},
        "xaxis": {"title": {"text": "thoughts"}, "tickformat": ",d"},
        "height": 130 + 44 * len(df), "showlegend": False, "margin": {"t": 85, "r": 20}})
