"""Figures of the Topics page: the domain -> subtopic sunburst (or treemap), HDBSCAN
cluster sizes, and thought types by domain as a share heatmap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl

from components.figures.base import empty_figure, esc, lighter
from components.figures.theme import DOMAIN_COLORS, GREY, NOTE_SIZE, SPACE_COLORS, TEMPLATE_NAME


def topic_hierarchy(frame: pl.DataFrame, *, kind: str = "sunburst", title: str = "",
                    unit: str = "conversations", height: int = 620) -> go.Figure:
    """Domain -> subtopic sunburst (or treemap) from `queries.topics.sunburst_frame` (id,
    label, parent, value, domain); domain colours from the theme, subtopics lighter."""
    if frame.is_empty() or frame["value"].sum() == 0:
        return empty_figure("No topics for the current filters.", title)
    doms, parents = frame["domain"].to_list(), frame["parent"].to_list()
    colors = [DOMAIN_COLORS.get(d, GREY) if p == "" else lighter(DOMAIN_COLORS.get(d, GREY))
              for d, p in zip(doms, parents)]
    trace = dict(type="sunburst" if kind == "sunburst" else "treemap",
                 ids=frame["id"].to_list(), labels=[esc(v) for v in frame["label"].to_list()],
                 parents=parents, values=frame["value"].to_numpy(),
                 branchvalues="total",
                 marker=dict(colors=colors, line=dict(color="white", width=1)),
                 hovertemplate=f"<b>%{{label}}</b><br>%{{value:,}} {unit}<br>"
                               "%{percentRoot:.1%} of all<extra></extra>",
                 texttemplate="%{label}<br>%{value:,}")
    if kind == "sunburst":
        trace.update(maxdepth=2, insidetextorientation="radial")
    # labels of slices too thin to read are left off (the hover still has them)
    return go.Figure(data=[trace], layout=dict(
        template=TEMPLATE_NAME, title=dict(text=title), height=height,
        uniformtext=dict(minsize=NOTE_SIZE - 2, mode="hide"),
        margin=dict(l=10, r=10, t=70, b=10)))


def domain_donut(frame: pl.DataFrame, *, title: str = "", unit: str = "conversations",
                 published: dict[str, float] | None = None, height: int = 620) -> go.Figure:
    """The domains of `queries.topics.sunburst_frame` as a donut, every domain labelled
    outside its slice with its share (and the paper's share beside it when given), in the
    taxonomy's order and colours."""
    doms = frame.filter(pl.col("parent") == "")
    total = int(doms["value"].sum()) if doms.height else 0
    if total == 0:
        return empty_figure("No topics for the current filters.", title)
    names = doms["label"].to_list()
    values = doms["value"].to_list()
    text = []
    for name, v in zip(names, values):
        line = f"<b>{esc(name)}</b><br>{v / total:.1%} ({int(v):,})"
        if published and name in published:
            line += f" · paper {published[name]:.1%}"
        text.append(line)
    trace = dict(type="pie", labels=[esc(n) for n in names], values=values, hole=0.5,
                 sort=False, direction="clockwise", rotation=90,
                 marker=dict(colors=[DOMAIN_COLORS.get(n, GREY) for n in names],
                             line=dict(color="white", width=1.5)),
                 text=text, textinfo="text", textposition="outside",
                 textfont=dict(size=NOTE_SIZE + 1), automargin=True,
                 hovertemplate=f"<b>%{{label}}</b><br>%{{value:,}} {unit} "
                               "(%{percent})<extra></extra>", showlegend=False)
    note = (f"{total:,} {unit}" + (" · paper: published multi-label shares of the full "
                                   "release" if published else ""))
    return go.Figure(data=[trace], layout=dict(
        template=TEMPLATE_NAME, title=dict(text=f"{title}<br><sup>{note}</sup>"),
        height=height, margin=dict(l=40, r=40, t=140, b=40),
        annotations=[dict(text=f"<b>{total:,}</b><br>{unit}", x=0.5, y=0.5, xref="paper",
                          yref="paper", showarrow=False, font=dict(size=NOTE_SIZE + 3))]))


def cluster_bars(clusters: pl.DataFrame, space: str, *, title: str = "",
                 max_bars: int = 30) -> go.Figure:
    """Bars of cluster sizes within the filter (columns cluster_id, name, keywords, size,
    n, is_noise); noise its own grey bar at the bottom; keywords and overall size on
    hover. At most ``max_bars`` clusters (largest) plus noise."""
    if clusters.is_empty() or clusters["n"].sum() == 0:
        return empty_figure("No clustered items for the current filters.", title)
    all_real = clusters.filter(~pl.col("is_noise") & (pl.col("n") > 0))
    real = all_real.sort("n", descending=True, maintain_order=True).head(max_bars)
    if all_real.height > max_bars:
        title = (f"{title}<br><sup>the {max_bars} largest of {all_real.height} clusters; "
                 "all are in the table below</sup>")
    noise = clusters.filter(pl.col("is_noise"))
    df = pl.concat([noise, real.reverse()])
    labels = [("noise (unclustered)" if noise_ else f"#{cid} {name}")
              for cid, name, noise_ in df.select("cluster_id", "name", "is_noise").iter_rows()]
    colors = [GREY if x else SPACE_COLORS.get(space, "#4477AA")
              for x in df["is_noise"].to_list()]
    bar = dict(type="bar", y=[esc(v) for v in labels], x=df["n"].to_numpy(),
               orientation="h", marker=dict(color=colors),
               text=[f"{n:,}" for n in df["n"].to_list()], textposition="outside",
               cliponaxis=False, textfont=dict(size=NOTE_SIZE),
               customdata=[[esc(k or ""), int(s)] for k, s in
                           zip(df["keywords"].to_list(), df["size"].to_list())],
               hovertemplate="<b>%{y}</b><br>keywords: %{customdata[0]}<br>%{x:,} in the "
                             "selection · %{customdata[1]:,} overall<extra></extra>")
    return go.Figure(data=[bar], layout=dict(
        template=TEMPLATE_NAME, title=dict(text=title), height=130 + 30 * df.height,
        xaxis=dict(title=dict(text="items in the selection")), showlegend=False))


def label_matrix_heatmap(matrix: Mapping[str, Any], *, title: str = "",
                         unit: str = "thoughts", colorscale: str = "Blues") -> go.Figure:
    """Rows (domains) × columns (labels) of one kind's entry of
    `queries.topics.label_matrices`: cell = share within the row (each row sums to 1),
    printed as a percentage; counts and the row total on hover."""
    domains, labels = list(matrix["domains"]), list(matrix["labels"])
    if not domains or not labels:
        return empty_figure("Nothing to show for the current filters.", title)
    display = matrix["display"]
    z = np.asarray(matrix["share"], dtype=float)
    n = np.asarray(matrix["n"])
    total = np.asarray(matrix["row_total"])
    x = [esc(display.get(c, c)) for c in labels]
    y = [esc(f"{d} ({int(t):,})") for d, t in zip(domains, total)]
    tot = np.repeat(total[:, None], z.shape[1], axis=1)
    heat = dict(type="heatmap", z=z, x=x, y=y,
                colorscale=colorscale, zmin=0, zmax=max(0.01, float(np.nanmax(z))),
                text=[[f"{v:.0%}" for v in row] for row in z], texttemplate="%{text}",
                customdata=np.dstack([n, tot]),
                hovertemplate="<b>%{y}</b> · %{x}<br>%{customdata[0]:,} of "
                              f"%{{customdata[1]:,}} {unit} (%{{z:.1%}})<extra></extra>",
                colorbar=dict(title=dict(text="share"), tickformat=".0%"))
    return go.Figure(data=[heat], layout=dict(
        template=TEMPLATE_NAME, title=dict(text=title), height=140 + 38 * len(y),
        xaxis=dict(tickangle=-30, side="bottom"), yaxis=dict(autorange="reversed")))
