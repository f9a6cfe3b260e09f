"""Pure figure builders: DataFrame in, plotly Figure out (no streamlit, no queries)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from components.theme import LABEL_COLORS, TEMPLATE_NAME


def empty_figure(message: str, title: str = "") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE_NAME, title=title, xaxis_visible=False,
                      yaxis_visible=False, height=320,
                      annotations=[dict(text=message, showarrow=False, x=0.5, y=0.5,
                                        xref="paper", yref="paper", font=dict(size=16))])
    return fig


def length_histogram(counts: pd.DataFrame, median: float | None,
                     title: str = "Messages per conversation") -> go.Figure:
    """Bar per message count (columns n_messages, conversations), with the median marked."""
    if counts.empty:
        return empty_figure("No conversations match the filters.", title)
    fig = go.Figure(go.Bar(
        x=counts["n_messages"], y=counts["conversations"], marker_color="#4477AA",
        hovertemplate="%{x} messages: %{y} conversations<extra></extra>", name="conversations"))
    if median is not None:
        fig.add_vline(x=float(median), line=dict(color="#CC3311", width=3, dash="dash"),
                      annotation=dict(text=f"median {median:g}", font=dict(color="#CC3311"),
                                      yanchor="top"))
    fig.update_layout(template=TEMPLATE_NAME, title=title, xaxis_title="messages in the "
                      "conversation", yaxis_title="conversations", bargap=0.1, height=380,
                      showlegend=False)
    fig.update_yaxes(tickformat=",d", rangemode="tozero")
    return fig


def label_bars(counts: pd.DataFrame, kind: str, title: str | None = None) -> go.Figure:
    """Horizontal bars of label counts for one kind (columns label, kind, display_name,
    meaning, n, share), largest on top, each bar in its label's fixed colour."""
    df = counts[counts["kind"] == kind].sort_values("n", ascending=True)
    title = title or ("Reasons (user messages)" if kind == "reason"
                      else "Reactions (assistant messages)")
    if df.empty or df["n"].sum() == 0:
        return empty_figure("No thoughts of this kind in the selection.", title)
    share = df["share"].fillna(0)
    fig = go.Figure(go.Bar(
        y=df["display_name"], x=df["n"], orientation="h",
        marker_color=[LABEL_COLORS.get(c, "#888888") for c in df["label"]],
        text=[f"{n:,} ({s:.1%})" for n, s in zip(df["n"], share)], textposition="auto",
        customdata=list(zip(df["meaning"], share)),
        hovertemplate="<b>%{y}</b><br>%{customdata[0]}<br>%{x:,} thoughts "
                      "(%{customdata[1]:.1%})<extra></extra>"))
    fig.update_layout(template=TEMPLATE_NAME, title=title, xaxis_title="thoughts",
                      height=90 + 42 * len(df), showlegend=False)
    return fig
