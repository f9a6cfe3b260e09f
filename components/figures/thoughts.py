"""Figures of the "Thought types & stages" page: label shares beside the published ones,
stage dynamics as 100% stacked bars, and transition Sankeys.

Each builder takes what `components.queries.thoughts` returns. Every figure carries a
title that says what is counted and n, and the fixed label colours of the theme. Bars
carry ``customdata`` whose first items identify the segment (label code, stage index,
facet), so a page can list the thoughts behind a click.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import polars as pl

from components.figures.base import empty_figure, esc, figure, num, pct, rgba
from components.figures.theme import (
    LABEL_ORDER,
    MUTED_COLOR,
    NEUTRAL,
    NOTE_SIZE,
    TEXT_COLOR,
    TEXT_SIZE,
    label_color,
)
from components.published import PUBLISHED_SOURCE
from components.stats import METHOD
from components.vocabulary import KIND_NOUNS, KIND_TITLES, count


def _column(df: pl.DataFrame, name: str) -> list:
    """A column as a list; all None when the frame lacks it (intervals, user counts)."""
    return df[name].to_list() if name in df.columns else [None] * df.height


# --------------------------------------------------------------------------- label shares


def label_share_bars(dist: pl.DataFrame, kind: str, n_conversations: int,
                     compare: bool = True) -> go.Figure:
    """Horizontal bars of each label's share of one kind (columns of
    `queries.thoughts.label_distribution`) with their 95% intervals (whiskers; bootstrap
    over users), optionally beside the published full-release share (hatched)."""
    df = dist.filter(pl.col("kind") == kind)
    total = int(df["n"].sum())
    noun = KIND_NOUNS[kind]
    n_users = int(df["n_users"].max() or 0) if "n_users" in df.columns else 0
    title = (f"{KIND_TITLES[kind]}: share of {count(total, noun[:-1], noun)} in "
             f"{count(n_conversations, 'conversation')}<br><sup>{METHOD} · "
             f"{count(n_users, 'user')}</sup>")
    if df.is_empty() or total == 0:
        return empty_figure(f"No {noun} in the selection.", title)
    df = df.sort(["share", "label"], nulls_last=False)
    names = [esc(v) for v in df["display_name"].to_list()]
    colors = [label_color(c) for c in df["label"].to_list()]
    share = [num(v) for v in df["share"].to_list()]
    lo = [num(v, s) for v, s in zip(_column(df, "ci_lo"), share)]
    hi = [num(v, s) for v, s in zip(_column(df, "ci_hi"), share)]
    published = [None if v is None else float(v) for v in df["published_share"].to_list()]
    ns = df["n"].to_list()
    custom = [[lab, esc(meaning or ""), int(n), sh, a, b]
              for lab, meaning, n, sh, a, b in zip(df["label"].to_list(),
                                                   df["meaning"].to_list(), ns, share, lo, hi)]
    # A legend swatch shows a bar trace's first point: each trace starts with an empty
    # (null) bar in a neutral colour, so the legend reads "hatched = published, solid =
    # this selection" instead of showing one arbitrary label's colour.
    y0, none0, custom0 = [names[0]], [None], [[None, "", 0, 0.0, 0.0, 0.0]]
    data = []
    if compare:
        data.append(dict(
            type="bar", orientation="h", y=y0 + names, x=none0 + published,
            name=PUBLISHED_SOURCE,
            marker=dict(color=[rgba(NEUTRAL, 0.3)] + [rgba(c, 0.35) for c in colors],
                        line=dict(color=[NEUTRAL] + colors, width=1),
                        pattern=dict(shape="/", fgcolor=MUTED_COLOR, size=6)),
            text=[""] + [pct(v) for v in published], textposition="outside",
            textfont=dict(size=NOTE_SIZE, color=MUTED_COLOR), customdata=custom0 + custom,
            cliponaxis=False,
            hovertemplate="<b>%{y}</b><br>%{customdata[1]}<br>" + PUBLISHED_SOURCE
                          + ": %{x:.1%}<extra></extra>"))
    data.append(dict(
        type="bar", orientation="h", y=y0 + names, x=none0 + share, name="this selection",
        marker=dict(color=[NEUTRAL] + colors), cliponaxis=False, customdata=custom0 + custom,
        error_x=dict(type="data", symmetric=False, array=[0] + [b - s for s, b in zip(share, hi)],
                     arrayminus=[0] + [s - a for s, a in zip(share, lo)], color=TEXT_COLOR,
                     thickness=1.6, width=4),
        hovertemplate="<b>%{y}</b><br>%{customdata[1]}<br>this selection: %{customdata[2]:,} "
                      f"{noun} (%{{customdata[3]:.1%}}; 95% interval %{{customdata[4]:.1%}}–"
                      "%{customdata[5]:.1%})<extra></extra>"))
    # the value labels sit past the whisker, in the selection bar's slot (a text trace on
    # the same category axis, offset like the group's second bar)
    data.append(dict(
        type="scatter", mode="text", y=names, x=[b + 0.006 for b in hi], showlegend=False,
        text=[f"{pct(v)} ({int(n):,})" for v, n in zip(share, ns)], textposition="middle right",
        textfont=dict(size=TEXT_SIZE), hoverinfo="skip", cliponaxis=False,
        **({"offsetgroup": None} if not compare else {})))
    top = max([*hi, *[v for v in published if v is not None]] or [0.0])
    layout = dict(
        title=dict(text=title), barmode="group", bargap=0.25,
        height=170 + (58 if compare else 40) * df.height, showlegend=compare,
        legend=dict(orientation="h", y=1.0, x=0, yanchor="bottom", traceorder="reversed"),
        xaxis=dict(tickformat=".0%", range=[0, min(1.0, top * 1.25 + 0.09)],
                   title=dict(text="share of " + noun)),
        margin=dict(r=30, t=125 if compare else 95))
    return figure(data, layout)


# --------------------------------------------------------------------------- stage bars


def _grid(n: int, ncols: int, hgap: float = 0.04, vgap: float = 0.14
          ) -> list[tuple[str, list[float], list[float], int, int]]:
    """Axis suffix ("", "2", ...), x and y domains, row and column of ``n`` panels."""
    nrows = int(np.ceil(n / ncols))
    vgap = vgap / max(nrows, 1) * 2 if nrows > 1 else 0.0
    w = (1 - (ncols - 1) * hgap) / ncols
    h = (1 - (nrows - 1) * vgap) / nrows
    cells = []
    for i in range(n):
        r, c = divmod(i, ncols)
        x0 = c * (w + hgap)
        top = 1 - r * (h + vgap)
        cells.append(("" if i == 0 else str(i + 1), [x0, min(1.0, x0 + w)],
                      [max(0.0, top - h), top], r, c))
    return cells


BAR_WIDTH = 0.5
#: The whisker comb right of each stage bar: its gap from the bar and one tooth's width.
COMB_GAP, COMB_STEP = 0.025, 0.022
#: Segments under this share print no % inside (the hover has every value).
INSIDE_MIN = 0.05


def _darker(hex_color: str, amount: float = 0.45) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(int(h[i:i + 2], 16) * (1 - amount)) for i in (0, 2, 4))
    return f"#{r:02X}{g:02X}{b:02X}"


def _ribbon(x0: float, lo0: float, hi0: float, x1: float, lo1: float, hi1: float) -> str:
    """An SVG path: the band from a segment's right edge to the next bar's segment."""
    mid = (x0 + x1) / 2
    return (f"M {x0},{lo0} L {x0},{hi0} C {mid},{hi0} {mid},{hi1} {x1},{hi1} "
            f"L {x1},{lo1} C {mid},{lo1} {mid},{lo0} {x0},{lo0} Z")


def stage_bars(result: Mapping, kind: str, rule_title: str, split_title: str | None = None,
               ncols: int = 3, axis_title: str = "stage") -> go.Figure:
    """Stage dynamics as the paper draws them: one alluvial per facet value — a 100%
    stacked bar per stage with each label's share printed inside, bands joining each
    label's segments from one stage to the next, and a whisker at each segment's centre
    spanning its 95% interval (bootstrap over users).

    Args:
        result: `queries.thoughts.stage_shares` output (``shares``, ``facets``,
            ``stage_names``).
        rule_title: how stages are defined (for the title).
        split_title: the facet name when split, else None.

    Each bar segment's ``customdata`` starts with (label, stage, facet).
    """
    shares: pl.DataFrame = result["shares"]
    facets_df: pl.DataFrame = result["facets"]
    names: Sequence[str] = list(result["stage_names"])
    noun = KIND_NOUNS[kind]
    shown = facets_df.filter(pl.col("shown"))
    total = int(shares["n"].sum()) if shares.height else 0
    title = (f"{KIND_TITLES[kind]} by stage<br><sup>share of {total:,} {noun} per stage · "
             f"stages: {rule_title}</sup><br><sup>{METHOD}: the whiskers right of each bar, "
             "one per label at its segment's centre</sup>")
    if split_title:
        title += (f"<br><sup>split by {esc(split_title.lower())}: top {shown.height} of "
                  f"{facets_df.height} values by conversations "
                  f"({int(shown['conversations'].sum()):,} of "
                  f"{int(facets_df['conversations'].sum()):,} conversations)</sup>")
    if total == 0:
        return empty_figure(f"No {noun} in the selection.", title)
    facets = (shown["facet"].to_list() if split_title
              else list(dict.fromkeys(shares["facet"].to_list())))
    conv_n = dict(zip(facets_df["facet"].to_list(), facets_df["conversations"].to_list()))
    ncols = max(1, min(ncols, len(facets)))
    cells = _grid(len(facets), ncols, hgap=0.05)
    nrows = cells[-1][3] + 1
    labels = list(dict.fromkeys(shares["label"].to_list()))
    hover = ("<b>%{customdata[8]}</b> · %{customdata[11]}"
             + (" · %{customdata[2]}" if split_title else "")
             + "<br>%{customdata[9]}<br>%{customdata[5]:.1%} of %{customdata[4]:,} "
             f"{noun} in this stage (n = %{{customdata[3]:,}})<br>95% interval "
             "%{customdata[6]:.1%}–%{customdata[7]:.1%} (bootstrap over %{customdata[12]:,} "
             "users)<br><i>click to list these thoughts</i><extra></extra>")
    data: list[dict] = []
    shapes: list[dict] = []
    layout: dict = dict(title=dict(text=title), barmode="stack", bargap=1 - BAR_WIDTH,
                        clickmode="event+select", annotations=[])
    # One pass over plain columns (a groupby per panel is ~10x slower here).
    cols = {c: _column(shares, c) for c in ("facet", "stage", "label", "n", "stage_total",
                                            "share", "ci_lo", "ci_hi", "display_name",
                                            "meaning", "n_conv", "stage_name", "n_users")}
    cells_by: dict[tuple, dict[int, int]] = {}
    for j, (f, lab, st) in enumerate(zip(cols["facet"], cols["label"], cols["stage"])):
        cells_by.setdefault((f, lab), {})[int(st)] = j
    x_all = list(range(len(names)))
    for i, facet in enumerate(facets):
        suffix, xdom, ydom, r, c = cells[i]
        xref, yref = "x" + suffix, "y" + suffix
        totals = [0] * len(names)
        base = [0.0] * len(names)  # running top of the stack per stage
        whiskers: list[dict] = []
        for lab in labels:
            at = cells_by.get((facet, lab), {})
            if not at:
                continue
            idx = [at[s] for s in x_all if s in at]
            for j in idx:
                totals[int(cols["stage"][j])] = int(cols["stage_total"][j])
            sh = [num(cols["share"][j]) for j in idx]
            custom = [[lab, int(cols["stage"][j]), esc(facet), int(cols["n"][j]),
                       int(cols["stage_total"][j]), num(cols["share"][j]),
                       num(cols["ci_lo"][j]), num(cols["ci_hi"][j]),
                       esc(cols["display_name"][j]), esc(cols["meaning"][j] or ""),
                       int(cols["n_conv"][j] or 0), esc(cols["stage_name"][j]),
                       int(cols["n_users"][j] or 0)] for j in idx]
            xs = [int(cols["stage"][j]) for j in idx]
            data.append(dict(
                type="bar", x=xs, y=sh, width=BAR_WIDTH,
                name=esc(cols["display_name"][idx[0]]), legendgroup=lab, showlegend=(i == 0),
                marker=dict(color=label_color(lab), line=dict(color="white", width=0.6)),
                customdata=custom,
                text=[f"{v:.0%}" if v >= INSIDE_MIN else "" for v in sh], textposition="inside",
                insidetextanchor="middle", textfont=dict(size=NOTE_SIZE),
                constraintext="none", hovertemplate=hover, xaxis=xref, yaxis=yref))
            edges: dict[int, tuple[float, float]] = {}
            # this label's whiskers: a comb right of each bar, one tooth per label, each
            # centred on its segment (its colour says which)
            k = labels.index(lab)
            w = dict(x=[], y=[], plus=[], minus=[])
            for x, v, j in zip(xs, sh, idx):
                lo_edge = base[x]
                base[x] += v
                edges[x] = (lo_edge, base[x])
                if v > 0:
                    w["x"].append(x + BAR_WIDTH / 2 + COMB_GAP + k * COMB_STEP)
                    w["y"].append(lo_edge + v / 2)
                    w["plus"].append(max(num(cols["ci_hi"][j], v) - v, 0.0))
                    w["minus"].append(max(v - num(cols["ci_lo"][j], v), 0.0))
            whiskers.append(dict(
                type="scatter", mode="markers", x=w["x"], y=w["y"], xaxis=xref, yaxis=yref,
                marker=dict(size=4, color=label_color(lab), line=dict(color="#222222",
                                                                      width=0.6)),
                hoverinfo="skip", showlegend=False, legendgroup=lab,
                error_y=dict(type="data", symmetric=False, array=w["plus"],
                             arrayminus=w["minus"], color=_darker(label_color(lab)),
                             thickness=1.6, width=2)))
            comb = BAR_WIDTH / 2 + COMB_GAP + len(labels) * COMB_STEP
            for x in x_all[:-1]:
                if x in edges and x + 1 in edges and (edges[x][1] > edges[x][0]
                                                      or edges[x + 1][1] > edges[x + 1][0]):
                    (a0, a1), (b0, b1) = edges[x], edges[x + 1]
                    shapes.append(dict(
                        type="path", xref=xref, yref=yref, layer="below",
                        path=_ribbon(x + comb, a0, a1, x + 1 - BAR_WIDTH / 2, b0, b1),
                        fillcolor=rgba(label_color(lab), 0.28), line=dict(width=0)))
        data.extend(whiskers)
        layout["xaxis" + suffix] = dict(
            domain=xdom, anchor=yref, range=[-0.4, len(names) - 0.35], tickmode="array",
            tickvals=x_all, showgrid=False, zeroline=False,
            ticktext=[f'{esc(s)}<br><span style="font-size:{NOTE_SIZE}px">n={int(t):,}</span>'
                      for s, t in zip(names, totals)],
            title=dict(text=axis_title) if axis_title and r == nrows - 1 and c == 0 else None)
        layout["yaxis" + suffix] = dict(
            domain=ydom, anchor=xref, tickformat=".0%", range=[0, 1.0001],
            matches=None if i == 0 else "y", showticklabels=(c == 0), showgrid=False,
            title=dict(text=f"share of {noun}") if c == 0 else None)
        if split_title:
            layout["annotations"].append(dict(
                text=f"<b>{esc(facet)}</b> (n={conv_n.get(facet, 0):,} conv.)",
                x=sum(xdom) / 2, y=ydom[1], xref="paper", yref="paper", xanchor="center",
                yanchor="bottom", showarrow=False, font=dict(size=TEXT_SIZE)))
    for key in list(layout):
        if key.startswith(("xaxis", "yaxis")):
            layout[key] = {k: v for k, v in layout[key].items() if v is not None}
    # Legend pinned to the bottom of the figure (container coordinates), below the
    # two-line tick labels.
    bottom = 150 if not split_title else 125
    layout.update(
        height=(290 + 310 * nrows + bottom) if split_title else 500 + bottom,
        margin=dict(t=215 if split_title else 130, b=bottom), shapes=shapes,
        legend=dict(orientation="h", x=0, y=0, yref="container", yanchor="bottom"))
    return figure(data, layout)


def stage_vs_published(result: Mapping, kind: str, rule_title: str,
                       published: Mapping[str, Sequence[float]],
                       approx: frozenset = frozenset(), ncols: int = 4) -> go.Figure:
    """Each label's share per stage in the selection (line, with its 95% interval as a
    band: bootstrap over users) beside the paper's published series (dashed, open
    markers; a value read off the paper's figure by eye is marked "~"): one small panel per
    label, in the labels' order. Only the relative 4-stage rule has published series."""
    shares: pl.DataFrame = result["shares"]
    names = list(result["stage_names"])
    noun = KIND_NOUNS[kind]
    total = int(shares["n"].sum()) if shares.height else 0
    title = (f"{KIND_TITLES[kind]} by stage: this selection beside the paper<br><sup>share "
             f"of {total:,} {noun} per stage · stages: {rule_title} · {METHOD}</sup>")
    if total == 0:
        return empty_figure(f"No {noun} in the selection.", title)
    facet = shares["facet"][0]
    rows = shares.filter(pl.col("facet") == facet)
    labels = list(dict.fromkeys(rows["label"].to_list()))
    ncols = min(ncols, len(labels))
    cells = _grid(len(labels), ncols, hgap=0.05, vgap=0.22)
    nrows = cells[-1][3] + 1
    x = list(range(len(names)))
    data: list[dict] = []
    annotations: list[dict] = []
    layout: dict = {}
    top = 0.0
    by = {(lab, int(st)): r for lab, st, r in zip(rows["label"].to_list(),
                                                  rows["stage"].to_list(),
                                                  rows.iter_rows(named=True))}
    for i, lab in enumerate(labels):
        suffix, xdom, ydom, r, c = cells[i]
        xref, yref = "x" + suffix, "y" + suffix
        color = label_color(lab)
        pts = [by.get((lab, s)) for s in x]
        sh = [None if p is None or p["share"] is None else float(p["share"]) for p in pts]
        lo = [None if p is None or p["ci_lo"] is None else float(p["ci_lo"]) for p in pts]
        hi = [None if p is None or p["ci_hi"] is None else float(p["ci_hi"]) for p in pts]
        name = esc(next((p["display_name"] for p in pts if p), lab))
        top = max([top, *[v for v in hi if v is not None]])
        data.append(dict(type="scatter", x=x + x[::-1], y=hi + lo[::-1], fill="toself",
                         fillcolor=rgba(color, 0.22), line=dict(width=0), hoverinfo="skip",
                         showlegend=False, xaxis=xref, yaxis=yref, mode="lines"))
        data.append(dict(type="scatter", x=x, y=sh, mode="lines+markers",
                         line=dict(color=color, width=2.5), marker=dict(size=7, color=color),
                         name="this selection" if i == 0 else name, legendgroup="sel",
                         showlegend=(i == 0), xaxis=xref, yaxis=yref,
                         customdata=[[esc(names[s]), a or 0.0, b or 0.0, name] for s, a, b in
                                     zip(x, lo, hi)],
                         hovertemplate="<b>%{customdata[3]}</b> · %{customdata[0]}<br>this "
                                       "selection %{y:.1%} (95% interval %{customdata[1]:.1%}"
                                       "–%{customdata[2]:.1%})<extra></extra>"))
        pub = published.get(lab)
        if pub:
            top = max(top, *pub)
            data.append(dict(
                type="scatter", x=x, y=list(pub), mode="lines+markers+text",
                line=dict(color="#444444", width=1.6, dash="dash"),
                marker=dict(size=7, symbol="circle-open", color="#444444"),
                text=["~" if (lab, s) in approx else "" for s in x], textposition="top center",
                textfont=dict(size=NOTE_SIZE, color="#444444"),
                name="published (Jin et al. 2026; ~ read off the figure)", legendgroup="pub",
                showlegend=(i == 0), xaxis=xref, yaxis=yref,
                customdata=[name] * len(x),
                hovertemplate="<b>%{customdata}</b><br>published %{y:.0%}<extra></extra>"))
        annotations.append(dict(text=f"<b>{name}</b>", x=sum(xdom) / 2, y=ydom[1],
                                xref="paper", yref="paper", xanchor="center",
                                yanchor="bottom", showarrow=False, font=dict(size=NOTE_SIZE + 1)))
        layout["xaxis" + suffix] = dict(domain=xdom, anchor=yref, tickmode="array",
                                        tickvals=x, ticktext=[esc(n) for n in names],
                                        range=[-0.3, len(x) - 0.7], showgrid=False,
                                        tickfont=dict(size=NOTE_SIZE))
        layout["yaxis" + suffix] = dict(domain=ydom, anchor=xref, tickformat=".0%",
                                        rangemode="tozero", showticklabels=(c == 0),
                                        matches=None if i == 0 else "y",
                                        tickfont=dict(size=NOTE_SIZE))
    layout["yaxis"]["range"] = [0, min(1.0, top * 1.15 + 0.02)]
    layout.update(title=dict(text=title), height=190 + 230 * nrows, annotations=annotations,
                  margin=dict(t=120, b=90),
                  legend=dict(orientation="h", x=0, y=0, yref="container", yanchor="bottom"))
    return figure(data, layout)


# --------------------------------------------------------------------------- Sankey


def transition_title(flow_title: str, n_pairs: int, mode: str, n_conversations: int,
                     rule_title: str, source_stage: str | None = None) -> str:
    """The title of a transition Sankey: what flows, how many pairs, over what."""
    what = {"stages": "consecutive pairs that cross into a later stage",
            "pairs": "consecutive pairs"}[mode]
    return (f"{flow_title}: {n_pairs:,} {what}"
            + (f" starting in {source_stage}" if source_stage else "")
            + f"<br><sup>in {count(n_conversations, 'conversation')}; stages: "
              f"{rule_title}</sup>")


def pair_titles(flow: str) -> tuple[str, str]:
    """Column headings of a two-column (``mode="pairs"``) Sankey for ``flow``."""
    return (("reaction", "first reason on the next user message")
            if flow == "reaction_reason" else ("this thought", "next thought of the kind"))


def sankey_figure(links: pl.DataFrame, mode: str, stage_names: Sequence[str],
                  display: Mapping[str, str], title: str,
                  pair_titles: tuple[str, str] = ("this thought", "next thought"),
                  height: int = 640) -> go.Figure:
    """A Sankey of `queries.thoughts.sankey_links` output: nodes label@stage (``mode="stages"``,
    columns in stage order) or two columns this -> next (``mode="pairs"``); label colours
    on nodes, counts on links."""
    if links.is_empty():
        return empty_figure("No transitions in the selection.", title)
    # Plain Python over the (few hundred) links: pandas here costs ~10x more.
    L = {c: links[c].to_list() for c in ("source", "target", "label_a", "label_b", "stage_a",
                                         "stage_b", "n", "share_of_source")}
    order = {code: i for i, code in enumerate(LABEL_ORDER)}
    node: dict[str, dict] = {}
    for side, (keys, labs, stages) in enumerate(((L["source"], L["label_a"], L["stage_a"]),
                                                 (L["target"], L["label_b"], L["stage_b"]))):
        for key, lab, stage, n in zip(keys, labs, stages, L["n"]):
            d = node.setdefault(key, {"label": lab, "stage": int(stage), "flow": [0, 0],
                                      "col": (int(stage) if mode == "stages" else side)})
            d["flow"][side] += int(n)
    n_cols = max(len(stage_names) - 1, 1) if mode == "stages" else 1
    keys = sorted(node, key=lambda k: (node[k]["col"],
                                       order.get(node[k]["label"], len(order) + 2)))
    # Node centres (0 = top): one value->height scale for all columns that leaves room for
    # the padding between nodes, so the fullest column fits exactly (plotly's own rule).
    top, bottom, pad = 110, 10, 12
    p = pad / (height - top - bottom)
    cols: dict[int, list[str]] = {}
    for k in keys:
        node[k]["value"] = max(node[k]["flow"])
        cols.setdefault(node[k]["col"], []).append(k)
    scale = min((0.98 - (len(ks) - 1) * p) / max(sum(node[k]["value"] for k in ks), 1e-9)
                for ks in cols.values())
    for ks in cols.values():
        before = 0.0
        for i, k in enumerate(ks):
            v = node[k]["value"]
            node[k]["y"] = 0.01 + before * scale + i * p + v * scale / 2
            node[k]["x"] = min(max(node[k]["col"] / n_cols, 0.001), 0.999)
            before += v
    index = {k: i for i, k in enumerate(keys)}

    def at(stage: object) -> str:
        if mode != "stages":
            return ""
        s = int(stage)
        return f" @ {stage_names[s]}" if 0 <= s < len(stage_names) else ""

    names = [esc(display.get(node[k]["label"], node[k]["label"])) for k in keys]
    node_hover = [n + (at(node[k]["stage"]) if mode == "stages"
                       else f" ({pair_titles[node[k]['col']]})") for n, k in zip(names, keys)]
    link_custom = [[esc(display.get(a, a)) + at(sa), esc(display.get(b, b)) + at(sb),
                    float(share)]
                   for a, sa, b, sb, share in zip(L["label_a"], L["stage_a"], L["label_b"],
                                                  L["stage_b"], L["share_of_source"])]
    data = [dict(
        type="sankey", arrangement="snap", textfont=dict(size=TEXT_SIZE),
        node=dict(label=names, color=[label_color(node[k]["label"]) for k in keys],
                  x=[node[k]["x"] for k in keys], y=[node[k]["y"] for k in keys],
                  pad=pad, thickness=18, line=dict(color="white", width=0.5),
                  customdata=node_hover,
                  hovertemplate="<b>%{customdata}</b><br>%{value:,} thoughts<extra></extra>"),
        link=dict(source=[index[k] for k in L["source"]],
                  target=[index[k] for k in L["target"]],
                  value=[int(v) for v in L["n"]],
                  color=[rgba(label_color(c), 0.38) for c in L["label_a"]],
                  customdata=link_custom,
                  hovertemplate="%{customdata[0]} → %{customdata[1]}<br>%{value:,} pairs "
                                "(%{customdata[2]:.0%} of the pairs from the source)"
                                "<extra></extra>"))]
    annotations = []
    if mode == "stages":
        for i, s in enumerate(stage_names):
            if i in cols:
                annotations.append(dict(
                    x=i / n_cols, y=1.0, xref="paper", yref="paper", yanchor="bottom",
                    xanchor="left" if i == 0 else ("right" if i == n_cols else "center"),
                    text=f"<b>{s}</b>", showarrow=False, font=dict(size=TEXT_SIZE)))
    else:
        for i, t in enumerate(pair_titles):
            annotations.append(dict(x=i, y=1.0, xref="paper", yref="paper", yanchor="bottom",
                                    text=f"<b>{t}</b>", showarrow=False,
                                    font=dict(size=TEXT_SIZE),
                                    xanchor="left" if i == 0 else "right"))
    layout = dict(title=dict(text=title), height=height, annotations=annotations,
                  margin=dict(t=top, l=10, r=10, b=bottom))
    return figure(data, layout)


