"""Pure figure builders for the analysis pages: frames in, plotly Figures out.

No streamlit and no queries: each builder takes what `components.analysis` returns. Every
figure carries a title that says what is counted and n, and the fixed label colours of
`components.theme`. Bars carry ``customdata`` whose first items identify the segment
(label code, stage index, facet), so a page can list the thoughts behind a click.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from components.analysis import (END_OF_CONVERSATION, KIND_TITLES, NO_REASON,
                                 PUBLISHED_SOURCE)
from components.figures import empty_figure
from components.theme import (LABEL_COLORS, MUTED_COLOR, NEUTRAL, NOTE_SIZE, TEMPLATE_NAME,
                              TEXT_SIZE)

SPECIAL_COLORS = {NO_REASON: "#DDDDDD", END_OF_CONVERSATION: "#888888"}
COUNT_COLORS = {"conversations": "#4477AA", "users": "#CCBB44"}
KIND_NOUNS = {"reason": "reasons", "reaction": "reactions"}


def _color(code: str) -> str:
    return LABEL_COLORS.get(code) or SPECIAL_COLORS.get(code, "#999999")


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _figure(data: list[dict], layout: dict) -> go.Figure:
    """A Figure from plain trace/layout dicts with our template, skipping plotly's
    per-property validation (10-50x faster for many traces; the tests validate the output
    with ``go.Figure(fig.to_dict())``)."""
    layout = {"template": pio.templates[TEMPLATE_NAME], **layout}
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _pct(v: float) -> str:
    return "–" if v is None or pd.isna(v) else f"{v:.1%}"


# --------------------------------------------------------------------------- label shares


def label_share_bars(dist: pd.DataFrame, kind: str, n_conversations: int,
                     compare: bool = True) -> go.Figure:
    """Horizontal bars of each label's share of one kind (columns of
    `analysis.label_distribution`), optionally beside the published full-release share."""
    df = dist[dist["kind"] == kind].copy()
    total = int(df["n"].sum())
    noun = KIND_NOUNS[kind]
    title = (f"{KIND_TITLES[kind]}: share of {total:,} {noun} "
             f"in {n_conversations:,} conversations")
    if df.empty or total == 0:
        return empty_figure(f"No {noun} in the selection.", title)
    df = df.sort_values(["share", "label"], ascending=[True, True])
    names = list(df["display_name"])
    colors = [_color(c) for c in df["label"]]
    share = [float(v) for v in df["share"].fillna(0)]
    published = [None if pd.isna(v) else float(v) for v in df["published_share"]]
    custom = [[lab, meaning or "", int(n), sh]
              for lab, meaning, n, sh in zip(df["label"], df["meaning"], df["n"], share)]
    # A legend swatch shows a bar trace's first point: each trace starts with an empty
    # (null) bar in a neutral colour, so the legend reads "hatched = published, solid =
    # this selection" instead of showing one arbitrary label's colour.
    y0, none0, custom0 = [names[0]], [None], [[None, "", 0, 0.0]]
    data = []
    if compare:
        data.append(dict(
            type="bar", orientation="h", y=y0 + names, x=none0 + published,
            name=PUBLISHED_SOURCE,
            marker=dict(color=[_rgba(NEUTRAL, 0.3)] + [_rgba(c, 0.35) for c in colors],
                        line=dict(color=[NEUTRAL] + colors, width=1),
                        pattern=dict(shape="/", fgcolor=MUTED_COLOR, size=6)),
            text=[""] + [_pct(v) for v in published], textposition="outside",
            textfont=dict(size=NOTE_SIZE, color=MUTED_COLOR), customdata=custom0 + custom,
            cliponaxis=False,
            hovertemplate="<b>%{y}</b><br>%{customdata[1]}<br>" + PUBLISHED_SOURCE
                          + ": %{x:.1%}<extra></extra>"))
    data.append(dict(
        type="bar", orientation="h", y=y0 + names, x=none0 + share, name="this selection",
        marker=dict(color=[NEUTRAL] + colors), cliponaxis=False,
        text=[""] + [f"{_pct(v)} ({int(n):,})" for v, n in zip(share, df["n"])],
        textposition="outside", textfont=dict(size=TEXT_SIZE), customdata=custom0 + custom,
        hovertemplate="<b>%{y}</b><br>%{customdata[1]}<br>this selection: %{customdata[2]:,} "
                      f"{noun} (%{{customdata[3]:.1%}})<extra></extra>"))
    top = max([*share, *[v for v in published if v is not None]] or [0.0])
    layout = dict(
        title=dict(text=title), barmode="group", bargap=0.25,
        height=160 + (58 if compare else 40) * len(df), showlegend=compare,
        legend=dict(orientation="h", y=1.0, x=0, yanchor="bottom", traceorder="reversed"),
        xaxis=dict(tickformat=".0%", range=[0, min(1.0, top * 1.4 + 0.04)],
                   title=dict(text="share of " + noun)),
        margin=dict(r=30, t=110 if compare else 75))
    return _figure(data, layout)


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


def stage_bars(result: Mapping, kind: str, rule_title: str, split_title: str | None = None,
               ncols: int = 3, axis_title: str = "stage") -> go.Figure:
    """100% stacked bars of label shares per stage, one panel per facet value.

    Args:
        result: `analysis.stage_shares` output (``shares``, ``facets``, ``stage_names``).
        rule_title: how stages are defined (for the title).
        split_title: the facet name when split, else None.

    Each bar segment's ``customdata`` starts with (label, stage, facet).
    """
    shares: pd.DataFrame = result["shares"]
    facets_df: pd.DataFrame = result["facets"]
    names: Sequence[str] = list(result["stage_names"])
    noun = KIND_NOUNS[kind]
    shown = facets_df[facets_df["shown"]]
    total = int(shares["n"].sum())
    title = (f"{KIND_TITLES[kind]} by stage<br><sup>share of {total:,} {noun} per stage · "
             f"stages: {rule_title}</sup>")
    if split_title:
        title += (f"<br><sup>split by {split_title.lower()}: top {len(shown)} of "
                  f"{len(facets_df)} values by conversations "
                  f"({int(shown['conversations'].sum()):,} of "
                  f"{int(facets_df['conversations'].sum()):,} conversations)</sup>")
    if total == 0:
        return empty_figure(f"No {noun} in the selection.", title)
    facets = list(shown["facet"]) if split_title else list(dict.fromkeys(shares["facet"]))
    conv_n = dict(zip(facets_df["facet"], facets_df["conversations"]))
    ncols = max(1, min(ncols, len(facets)))
    cells = _grid(len(facets), ncols)
    nrows = cells[-1][3] + 1
    labels = list(dict.fromkeys(shares["label"]))
    hover = ("<b>%{customdata[8]}</b> · %{customdata[11]}"
             + (" · %{customdata[2]}" if split_title else "")
             + "<br>%{customdata[9]}<br>%{customdata[5]:.1%} of %{customdata[4]:,} "
             f"{noun} in this stage (n = %{{customdata[3]:,}})<br>95% CI "
             "%{customdata[6]:.1%}–%{customdata[7]:.1%} (bootstrap over %{customdata[10]:,} "
             "conversations)<br><i>click to list these thoughts</i><extra></extra>")
    data: list[dict] = []
    layout: dict = dict(title=dict(text=title), barmode="stack", bargap=0.18,
                        clickmode="event+select", annotations=[])
    # One pass over plain columns (pandas groupby per panel is ~10x slower here).
    cols = {c: shares[c].tolist() for c in ("facet", "stage", "label", "n", "stage_total",
                                             "share", "ci_lo", "ci_hi", "display_name",
                                             "meaning", "n_conv", "stage_name")}
    cells_by: dict[tuple, list[int]] = {}
    for j, (f, lab) in enumerate(zip(cols["facet"], cols["label"])):
        cells_by.setdefault((f, lab), []).append(j)
    num = lambda v: 0.0 if v is None or pd.isna(v) else float(v)  # noqa: E731
    for i, facet in enumerate(facets):
        suffix, xdom, ydom, r, c = cells[i]
        totals = [0] * len(names)
        for lab in labels:
            idx = sorted(cells_by.get((facet, lab), []), key=lambda j: cols["stage"][j])
            if not idx:
                continue
            for j in idx:
                totals[int(cols["stage"][j])] = int(cols["stage_total"][j])
            sh = [num(cols["share"][j]) for j in idx]
            custom = [[lab, int(cols["stage"][j]), facet, int(cols["n"][j]),
                       int(cols["stage_total"][j]), num(cols["share"][j]),
                       num(cols["ci_lo"][j]), num(cols["ci_hi"][j]), cols["display_name"][j],
                       cols["meaning"][j] or "", int(cols["n_conv"][j]), cols["stage_name"][j]]
                      for j in idx]
            data.append(dict(
                type="bar", x=[cols["stage_name"][j] for j in idx], y=sh,
                name=cols["display_name"][idx[0]], legendgroup=lab, showlegend=(i == 0),
                marker=dict(color=_color(lab)), customdata=custom,
                text=[f"{v:.0%}" if v >= 0.06 else "" for v in sh], textposition="inside",
                insidetextanchor="middle", textfont=dict(size=NOTE_SIZE), hovertemplate=hover,
                xaxis="x" + suffix, yaxis="y" + suffix))
        layout["xaxis" + suffix] = dict(
            domain=xdom, anchor="y" + suffix, type="category", categoryorder="array",
            categoryarray=names, tickmode="array", tickvals=names,
            ticktext=[f'{s}<br><span style="font-size:{NOTE_SIZE}px">n={int(t):,}</span>'
                      for s, t in zip(names, totals)],
            title=dict(text=axis_title) if axis_title and r == nrows - 1 and c == 0 else None)
        layout["yaxis" + suffix] = dict(
            domain=ydom, anchor="x" + suffix, tickformat=".0%", range=[0, 1.0001],
            matches=None if i == 0 else "y", showticklabels=(c == 0),
            title=dict(text=f"share of {noun}") if c == 0 else None)
        if split_title:
            layout["annotations"].append(dict(
                text=f"<b>{facet}</b> (n={conv_n.get(facet, 0):,} conv.)", x=sum(xdom) / 2,
                y=ydom[1], xref="paper", yref="paper", xanchor="center", yanchor="bottom",
                showarrow=False, font=dict(size=TEXT_SIZE)))
    for key in list(layout):
        if key.startswith(("xaxis", "yaxis")):
            layout[key] = {k: v for k, v in layout[key].items() if v is not None}
    # Legend pinned to the bottom of the figure (container coordinates), below the
    # two-line tick labels: room for ~4 legend rows in a half-width chart, 2 when split.
    bottom = 140 if not split_title else 115
    layout.update(
        height=(220 + 300 * nrows + bottom) if split_title else 470 + bottom,
        margin=dict(t=150 if split_title else 105, b=bottom),
        legend=dict(orientation="h", x=0, y=0, yref="container", yanchor="bottom"))
    return _figure(data, layout)


# --------------------------------------------------------------------------- Sankey


def transition_title(flow_title: str, n_pairs: int, mode: str, n_conversations: int,
                     rule_title: str, source_stage: str | None = None) -> str:
    """The title of a transition Sankey: what flows, how many pairs, over what."""
    what = {"stages": "consecutive pairs that cross into a later stage",
            "pairs": "consecutive pairs"}[mode]
    return (f"{flow_title}: {n_pairs:,} {what}"
            + (f" starting in {source_stage}" if source_stage else "")
            + f"<br><sup>in {n_conversations:,} conversations; stages: {rule_title}</sup>")


def pair_titles(flow: str) -> tuple[str, str]:
    """Column headings of a two-column (``mode="pairs"``) Sankey for ``flow``."""
    return (("reaction", "first reason on the next user message")
            if flow == "reaction_reason" else ("this thought", "next thought of the kind"))


def sankey_figure(links: pd.DataFrame, mode: str, stage_names: Sequence[str],
                  display: Mapping[str, str], title: str,
                  pair_titles: tuple[str, str] = ("this thought", "next thought"),
                  height: int = 640) -> go.Figure:
    """A Sankey of `analysis.sankey_links` output: nodes label@stage (``mode="stages"``,
    columns in stage order) or two columns this -> next (``mode="pairs"``); label colours
    on nodes, counts on links."""
    if links.empty:
        return empty_figure("No transitions in the selection.", title)
    # Plain Python over the (few hundred) links: pandas here costs ~10x more.
    L = {c: links[c].tolist() for c in ("source", "target", "label_a", "label_b", "stage_a",
                                         "stage_b", "n", "share_of_source")}
    order = {code: i for i, code in enumerate(LABEL_COLORS)}
    order.update({NO_REASON: len(order), END_OF_CONVERSATION: len(order) + 1})
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

    names = [display.get(node[k]["label"], node[k]["label"]) for k in keys]
    node_hover = [n + (at(node[k]["stage"]) if mode == "stages"
                       else f" ({pair_titles[node[k]['col']]})") for n, k in zip(names, keys)]
    link_custom = [[display.get(a, a) + at(sa), display.get(b, b) + at(sb), float(share)]
                   for a, sa, b, sb, share in zip(L["label_a"], L["stage_a"], L["label_b"],
                                                  L["stage_b"], L["share_of_source"])]
    data = [dict(
        type="sankey", arrangement="snap", textfont=dict(size=TEXT_SIZE),
        node=dict(label=names, color=[_color(node[k]["label"]) for k in keys],
                  x=[node[k]["x"] for k in keys], y=[node[k]["y"] for k in keys],
                  pad=pad, thickness=18, line=dict(color="white", width=0.5),
                  customdata=node_hover,
                  hovertemplate="<b>%{customdata}</b><br>%{value:,} thoughts<extra></extra>"),
        link=dict(source=[index[k] for k in L["source"]],
                  target=[index[k] for k in L["target"]],
                  value=[int(v) for v in L["n"]],
                  color=[_rgba(_color(c), 0.38) for c in L["label_a"]],
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
    return _figure(data, layout)


# --------------------------------------------------------------------------- participants


def link_names(links: pd.DataFrame, mode: str, stage_names: Sequence[str],
               display: Mapping[str, str]) -> list[str]:
    """One readable name per row of `transition_links`, e.g. "Task motivation @ Early →
    Refine @ Mid-Early (12)" (stages only in the stage-to-stage view)."""
    def at(stage: int) -> str:
        return f" @ {stage_names[stage]}" if stage >= 0 and mode == "stages" else ""
    return [f"{display.get(a, a)}{at(int(sa))} → {display.get(b, b)}{at(int(sb))} ({int(n):,})"
            for a, sa, b, sb, n in zip(links["label_a"], links["stage_a"], links["label_b"],
                                       links["stage_b"], links["n"])]


def participant_bars(counts: pd.DataFrame, field_title: str, n_conversations: int,
                     n_users: int, show: Sequence[str] = ("conversations", "users"),
                     note: str = "", max_chars: int = 38) -> go.Figure:
    """Horizontal bars per category (columns category, conversations, users, share), first
    category on top; conversations and/or users as grouped bars."""
    what = " and ".join(f"{s} (n={n_conversations if s == 'conversations' else n_users:,})"
                        for s in show)
    title = f"{field_title}: {what}" + (f"<br><sup>{note}</sup>" if note else "")
    if counts.empty:
        return empty_figure("No conversations in the selection.", title)
    df = counts.iloc[::-1]
    cats = [str(c) for c in df["category"]]
    short = [c if len(c) <= max_chars else c[:max_chars - 1] + "…" for c in cats]
    seen: dict[str, int] = {}
    for i, s in enumerate(short):  # keep axis categories unique after shortening
        seen[s] = seen.get(s, 0) + 1
        if seen[s] > 1:
            short[i] = s + "\u200b" * (seen[s] - 1)
    data = []
    max_value = max([int(df[s].max()) for s in show] + [0])
    for s in reversed(list(show)):
        n_total = n_conversations if s == "conversations" else n_users
        values = [int(v) for v in df[s]]
        data.append(dict(
            type="bar", orientation="h", y=short, x=values, name=s,
            marker=dict(color=COUNT_COLORS[s]), text=[f"{v:,}" for v in values],
            textposition="outside", cliponaxis=False, textfont=dict(size=NOTE_SIZE),
            customdata=[[c, v / max(n_total, 1)] for c, v in zip(cats, values)],
            hovertemplate="<b>%{customdata[0]}</b><br>%{x:,} " + s
                          + " (%{customdata[1]:.1%} of " + f"{n_total:,})<extra></extra>"))
    layout = dict(
        title=dict(text=title), barmode="group", bargap=0.2,
        height=150 + (24 + 16 * len(show)) * len(df), showlegend=len(show) > 1,
        legend=dict(orientation="h", y=1.0, x=1, xanchor="right", yanchor="bottom",
                    traceorder="reversed"),
        xaxis=dict(tickformat=",d", rangemode="tozero", title=dict(text="count"),
                   **({"dtick": 1} if max_value <= 10 else {})),
        yaxis=dict(type="category"),
        margin=dict(t=100 if note else 75, r=40))
    return _figure(data, layout)


def participant_note(field: str, result: Mapping, top_n: int = 15) -> str:
    """The small print under a participant chart: how ``field``'s answers were cleaned
    (``result`` as `analysis.participant_counts` returns it)."""
    if field == "age":
        return "(no valid age): not an age 13–100, e.g. 2 or 366; (missing): no answer"
    if field == "occupation":
        return (f"{result.get('distinct') or 0:,} distinct answers after normalising case "
                f"and spaces; the {int(top_n)} most frequent shown, the rest as “other”")
    if field in ("gender", "education"):
        return "case and spaces normalised"
    if field == "ai_frequency":
        return "the survey's 1–5 scale as answered; invalid answers count as (missing)"
    if field == "purposes":
        return ("keyword groups over the free-text answer; a conversation can be in several "
                "groups, so the bars add up to more than n")
    return ""
