"""Figures of "what happens next" on the Turn by turn page: the flow from a dissatisfaction
reaction to what the user did next, the similarity that decides whether the next message
voices it, the share of unvoiced dissatisfaction per group, the "thoughts / messages"
ratio beside the paper's ~2.2x, and the timing of replies and thoughts.

Each builder takes what `components.queries.next_steps` returns (the catalogue passes the
names and orders it needs). Dataset text (model and domain names, label display names)
is escaped with `esc` and reaches hover text only through ``customdata``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import polars as pl

from components import published
from components.figures.base import empty_figure, esc, figure, num, pct, rgba
from components.figures.relationships import REL_COLORS
from components.figures.theme import (
    LABEL_COLORS,
    LABEL_ORDER,
    MUTED_COLOR,
    NEUTRAL,
    NOTE_SIZE,
    TEXT_COLOR,
    TEXT_SIZE,
    label_color,
)
from components.stats import METHOD
from components.vocabulary import count

#: The dot colour of a group without a fixed colour.
DOT_COLOR = "#1B2F5B"
PAPER_COLOR = "#D55E00"
SIMILAR_COLORS = {"next": "#0072B2", "other": "#BBBBBB"}


def duration(seconds: float | None) -> str:
    """``"42 s"`` (under 100 s), ``"3.5 min"``, ``"1.2 h"`` (``"–"`` for a missing
    value)."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "–"
    s = float(seconds)
    if abs(s) < 100:
        return f"{s:.0f} s" if abs(s) >= 10 else f"{s:.1f} s"
    if abs(s) < 3600:
        return f"{s / 60:.0f} min" if s % 60 == 0 else f"{s / 60:.1f} min"
    return f"{s / 3600:.0f} h" if s % 3600 == 0 else f"{s / 3600:.1f} h"


def _subtitle(*lines: str) -> str:
    """Subtitle lines under a title; keep each under ~95 characters, so it fits the app's
    narrower column as well as a 1200 px export."""
    return "".join(f"<br><sup>{line}</sup>" for line in lines if line)


def _top(head: str, extra: int = 0) -> int:
    """The top margin a title with its subtitle lines needs (`_title` pins it to the
    page's top)."""
    return 70 + 29 * head.count("<br>") + extra


def _title(head: str) -> dict:
    """The title block pinned to the top of the page (plotly centres a tall one in the
    margin otherwise, over the plot)."""
    return dict(text=head, yref="container", y=1.0, yanchor="top", pad=dict(t=34, l=12))


def _value_labels(xs: Sequence, ys: Sequence, texts: Sequence[str], yref: str = "y"
                  ) -> list[dict]:
    """A value label above each dot, on a white ground so a reference line under it stays
    readable (scatter text has no background)."""
    return [dict(x=x, y=y, xref="x", yref=yref, text=t, showarrow=False, yshift=17,
                 bgcolor="rgba(255,255,255,0.85)", borderpad=1, font=dict(size=NOTE_SIZE))
            for x, y, t in zip(xs, ys, texts) if x is not None and t]


# --------------------------------------------------------------------------- the flow

FLOW_COLUMNS = ("Dissatisfaction", "First reason on the next user message",
                "Relationship of that message")
REL_ORDER = ("deepen", "new_request", "retry", "variant", "unlabelled", "ended")
ENDED_COLOR = "#888888"


def next_steps_sankey(links: pl.DataFrame, display: Mapping[str, str],
                      relationship_names: Mapping[str, str], n_reactions: int, *,
                      title: str = "After a dissatisfaction: what users do next",
                      height: int = 620) -> go.Figure:
    """A three-column Sankey of `queries.next_steps.flow_links`: dissatisfaction label ->
    first reason on the next user message (or none, or the end) -> relationship of that
    message. Node labels give each node's count and share of the reactions."""
    head = title + _subtitle(f"{count(n_reactions, 'dissatisfaction reaction')}; each "
                             "node's share is of all of them")
    if links.is_empty() or n_reactions == 0:
        return empty_figure("No dissatisfaction reactions in the selection.", head)
    names = {**display, **relationship_names}
    order = {code: i for i, code in enumerate((*LABEL_ORDER, *REL_ORDER))}
    L = {c: links[c].to_list() for c in ("column_a", "source", "column_b", "target", "n")}
    flow: dict[tuple[int, str], list[int]] = {}
    for ca, a, cb, b, n in zip(L["column_a"], L["source"], L["column_b"], L["target"],
                               L["n"]):
        flow.setdefault((int(ca), a), [0, 0])[1] += int(n)
        flow.setdefault((int(cb), b), [0, 0])[0] += int(n)
    keys = sorted(flow, key=lambda k: (k[0], order.get(k[1], len(order)), k[1]))
    value = {k: max(flow[k]) for k in keys}
    top, bottom, pad = 120, 10, 12
    p = pad / (height - top - bottom)
    cols: dict[int, list[tuple[int, str]]] = {}
    for k in keys:
        cols.setdefault(k[0], []).append(k)
    scale = min((0.98 - (len(ks) - 1) * p) / max(sum(value[k] for k in ks), 1)
                for ks in cols.values())
    xs, ys = {}, {}
    for col, ks in cols.items():
        before = 0.0
        for i, k in enumerate(ks):
            ys[k] = 0.01 + before * scale + i * p + value[k] * scale / 2
            xs[k] = min(max(col / 2, 0.001), 0.999)
            before += value[k]
    index = {k: i for i, k in enumerate(keys)}
    node_names = [esc(names.get(k[1], k[1])) for k in keys]
    labels = [f"{nm} · {value[k]:,} ({value[k] / n_reactions:.0%})"
              for nm, k in zip(node_names, keys)]
    colors = [({**REL_COLORS, "ended": ENDED_COLOR}.get(k[1], NEUTRAL) if k[0] == 2
               else label_color(k[1])) for k in keys]
    hover = [f"{nm} ({FLOW_COLUMNS[k[0]].lower()}): {value[k]:,} of "
             f"{n_reactions:,} dissatisfaction reactions" for nm, k in zip(node_names, keys)]
    src = [index[(int(c), s)] for c, s in zip(L["column_a"], L["source"])]
    dst = [index[(int(c), t)] for c, t in zip(L["column_b"], L["target"])]
    link_custom = [f"{node_names[a]} → {node_names[b]}" for a, b in zip(src, dst)]
    data = [dict(
        type="sankey", arrangement="snap", textfont=dict(size=TEXT_SIZE),
        node=dict(label=labels, color=colors, x=[xs[k] for k in keys],
                  y=[ys[k] for k in keys], pad=pad, thickness=18,
                  line=dict(color="white", width=0.5), customdata=hover,
                  hovertemplate="%{customdata}<extra></extra>"),
        link=dict(source=src, target=dst, value=[int(v) for v in L["n"]],
                  color=[rgba(colors[a], 0.35) for a in src], customdata=link_custom,
                  hovertemplate="%{customdata}<br>%{value:,} reactions<extra></extra>"))]
    annotations = [dict(x=i / 2, y=1.0, xref="paper", yref="paper", yanchor="bottom",
                        xanchor=("left", "center", "right")[i], showarrow=False,
                        text=f"<b>{t}</b>", font=dict(size=TEXT_SIZE))
                   for i, t in enumerate(FLOW_COLUMNS)]
    return figure(data, dict(title=_title(head), height=height, annotations=annotations,
                             margin=dict(t=top, l=10, r=10, b=bottom)))


# --------------------------------------------------------------------------- similarity

def similarity_histogram(pairs: pl.DataFrame, threshold: Mapping, *,
                         title: str = "Does the next message say what the reaction says?",
                         bin_width: float = 0.05) -> go.Figure:
    """The cosine of each dissatisfaction reaction with its next user message beside its
    cosine with the other user messages of its conversation (`similarity_pairs`), as the
    share of each set per bin, with τ (`voicing_threshold`) as a line."""
    tau = threshold.get("tau")
    q = float(threshold.get("quantile") or 0.95)
    nxt = pairs.filter(pl.col("pair") == "next")["similarity"].drop_nulls().to_numpy()
    other = pairs.filter(pl.col("pair") == "other")["similarity"].drop_nulls().to_numpy()
    tau_text = (f"τ = {tau:.2f}: the {q:.0%} quantile of the other pairs in the whole "
                f"database ({threshold.get('n_other', 0):,})" if tau is not None else
                f"no τ: fewer than {threshold.get('n_min', 20)} other pairs in the database")
    above = int((nxt >= tau).sum()) if tau is not None else 0
    head = title + _subtitle(
        "cosine of each dissatisfaction reaction with its next user message, and with",
        "the other user messages of its conversation; " + (
            f"{above:,} of {len(nxt):,} next messages reach τ" if tau is not None else ""),
        tau_text)
    if not len(nxt) and not len(other):
        return empty_figure("No dissatisfaction reaction with stored vectors in the "
                            "selection.", head)
    lo = math.floor(min(np.min(nxt) if len(nxt) else 0, np.min(other) if len(other) else 0,
                        0.0) / bin_width) * bin_width
    hi_v = max(np.max(nxt) if len(nxt) else 0, np.max(other) if len(other) else 0,
               tau or 0.0)
    hi_edge = min(1.0, math.ceil((hi_v + 1e-9) / bin_width) * bin_width + bin_width)
    edges = np.arange(lo, hi_edge + bin_width / 2, bin_width)
    if len(edges) < 2:
        edges = np.array([lo, lo + bin_width])
    centres = (edges[:-1] + edges[1:]) / 2
    data = []
    for key, vals, name in (("other", other, "other user messages of the conversation"),
                            ("next", nxt, "the next user message")):
        hist, _ = np.histogram(np.clip(vals, edges[0], edges[-1]), bins=edges)
        share = hist / max(len(vals), 1)
        custom = [[int(h), f"{a:.2f}–{b:.2f}"] for h, a, b in zip(hist, edges[:-1],
                                                                   edges[1:])]
        data.append(dict(type="bar", x=centres.tolist(), y=share.tolist(),
                         name=f"{name} ({len(vals):,} pairs)",
                         marker=dict(color=SIMILAR_COLORS[key]),
                         customdata=custom,
                         hovertemplate="cosine %{customdata[1]}: %{customdata[0]:,} pairs "
                                       "(%{y:.0%})<extra></extra>"))
    shapes, annotations = [], []
    if tau is not None:
        shapes.append(dict(type="line", x0=tau, x1=tau, y0=0, y1=1, yref="paper",
                           line=dict(color=TEXT_COLOR, width=2.5, dash="dash")))
        annotations.append(dict(x=tau, y=1.0, yref="paper", xanchor="left", yanchor="top",
                                text=f" τ = {tau:.2f}", showarrow=False,
                                font=dict(size=TEXT_SIZE)))
    return figure(data, dict(
        title=_title(head), barmode="group", height=_top(head, 36) + 330, bargap=0.12,
        bargroupgap=0,
        xaxis=dict(title=dict(text="cosine similarity with the reaction"),
                   range=[edges[0], edges[-1]]),
        yaxis=dict(title=dict(text="share of the pairs"), tickformat=".0%"),
        legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"), shapes=shapes,
        annotations=annotations, margin=dict(t=_top(head, 36), r=20)))


# --------------------------------------------------------------------------- unvoiced

def unvoiced_dots(shares: pl.DataFrame, group_title: str, measure_title: str, *,
                  include_ends: bool = True, display: Mapping[str, str] | None = None
                  ) -> go.Figure:
    """The share of unvoiced dissatisfaction per group (`unvoiced_shares`: ``All`` first)
    as dots with their 95% intervals, beside the share the paper's numbers imply
    (1 − 450 / 1,000). A group that is a label code gets the label's colour."""
    display = display or {}
    paper = 1 - published.DISSATISFACTION_MESSAGE_GUIDED / published.DISSATISFACTION_THOUGHT_GUIDED
    df = shares.filter(pl.col("n") > 0)
    total = int(shares["n"][0]) if shares.height else 0
    ends = ("a conversation that ends there counts as unvoiced" if include_ends else
            "reactions at the end of a conversation are left out")
    head = (f"Unvoiced dissatisfaction by {group_title.lower()}"
            + _subtitle(f"voiced = the next user message is {esc(measure_title)}",
                        f"{count(total, 'reaction')}; {ends}", METHOD))
    if df.is_empty():
        return empty_figure("No dissatisfaction reactions in the selection.", head)
    groups = df["group"].to_list()
    names = [f"<b>{esc(display.get(g, g))}</b>" if i == 0 else esc(display.get(g, g))
             for i, g in enumerate(groups)]
    share = [num(v) for v in df["share_unvoiced"].to_list()]
    lo = [num(v, s) for v, s in zip(df["ci_lo"].to_list(), share)]
    hi = [num(v, s) for v, s in zip(df["ci_hi"].to_list(), share)]
    n = df["n"].to_list()
    unv = [a + b for a, b in zip(df["n_unvoiced"].to_list(), df["n_ended"].to_list())]
    dot = [LABEL_COLORS.get(g, DOT_COLOR) if i else TEXT_COLOR for i, g in enumerate(groups)]
    custom = [[nm, int(u), int(k), int(e), int(us), a, b]
              for nm, u, k, e, us, a, b in zip(names, unv, n, df["n_ended"].to_list(),
                                               df["n_users"].to_list(), lo, hi)]
    labels = _value_labels(share, names, [f"{pct(s)} ({u:,}/{k:,}) · {count(us, 'user')}"
                                          for s, u, k, us in zip(share, unv, n,
                                                                 df["n_users"].to_list())])
    data = [dict(
        type="scatter", mode="markers", x=share, y=names, showlegend=False,
        marker=dict(color=dot, size=13, line=dict(color="white", width=1)),
        error_x=dict(type="data", symmetric=False, array=[b - s for s, b in zip(share, hi)],
                     arrayminus=[s - a for s, a in zip(share, lo)], color=MUTED_COLOR,
                     thickness=2, width=5),
        cliponaxis=False, customdata=custom,
        hovertemplate="%{customdata[0]}: %{customdata[1]:,} of %{customdata[2]:,} unvoiced "
                      "(%{x:.0%}; 95% interval %{customdata[5]:.0%}–%{customdata[6]:.0%}); "
                      "%{customdata[3]:,} at the end of a conversation; %{customdata[4]:,} "
                      "users<extra></extra>")]
    shapes = [dict(type="line", x0=paper, x1=paper, y0=0, y1=1, yref="paper",
                   line=dict(color=PAPER_COLOR, width=2, dash="dash"))]
    annotations = [dict(x=paper, y=1.0, yref="paper", yanchor="bottom", xanchor="center",
                        showarrow=False, font=dict(size=NOTE_SIZE, color=PAPER_COLOR),
                        text=f"paper: {paper:.0%} (1 − 450 / 1,000)"), *labels]
    return figure(data, dict(
        title=_title(head), height=_top(head) + 70 + 56 * df.height, shapes=shapes,
        annotations=annotations,
        xaxis=dict(range=[-0.02, 1.06], tickformat=".0%",
                   title=dict(text="share of the dissatisfaction reactions not voiced in the "
                                   "next message")),
        yaxis=dict(range=[df.height - 0.5, -1.0], showgrid=False, type="category"),
        margin=dict(t=_top(head), r=30)))


def ratio_dots(ratios: pl.DataFrame, *, include_ends: bool = True) -> go.Figure:
    """"Dissatisfaction in thoughts / voiced in messages" per voicing measure (`ratio_rows`)
    with its 95% interval, beside the paper's 1,000 / 450 ≈ 2.2x."""
    paper = published.DISSATISFACTION_THOUGHT_GUIDED / published.DISSATISFACTION_MESSAGE_GUIDED
    total = int(ratios["n"].max() or 0) if ratios.height else 0
    ends = ("the end of a conversation counts as unvoiced" if include_ends else
            "reactions at the end of a conversation are left out")
    head = ("Dissatisfaction in thoughts ÷ dissatisfaction voiced in the next message"
            + _subtitle(f"one row per meaning of “voiced”; {count(total, 'reaction')}; {ends}",
                        "paper: 1,000 thought-guided vs 450 message-guided pairs (Jin et al. "
                        "2026, Utility 2)",
                        f"{METHOD}; the ratio's is the reciprocal of the voiced share's"))
    if total == 0:
        return empty_figure("No dissatisfaction reactions in the selection.", head)
    df = ratios
    names = [esc(t) for t in df["title"].to_list()]
    r = [None if v is None else float(v) for v in df["ratio"].to_list()]
    finite_hi = [v for v in df["ratio_hi"].to_list() if v is not None and math.isfinite(v)]
    top = max([paper, *[v for v in r if v is not None], *finite_hi]) * 1.18 + 0.5
    lo = [num(v, 0.0) for v in df["ratio_lo"].to_list()]
    hi = [top if v is not None and not math.isfinite(v) else num(v, 0.0)
          for v in df["ratio_hi"].to_list()]
    xs = [v if v is not None else None for v in r]
    text = []
    for v, nv, k, lo_v, h in zip(r, df["n_voiced"].to_list(), df["n"].to_list(),
                                 df["ratio_lo"].to_list(), df["ratio_hi"].to_list()):
        if v is None:
            text.append(f"none voiced (0 of {k:,})")
        else:
            upper = "∞" if h is not None and not math.isfinite(h) else f"{h:.1f}"
            text.append(f"{v:.1f}× = {k:,} ÷ {nv:,} · 95%: {num(lo_v):.1f}–{upper}")
    custom = [[nm, int(k), int(nv), a, ("∞" if h is not None and not math.isfinite(h)
                                        else f"{num(h):.2f}")]
              for nm, k, nv, a, h in zip(names, df["n"].to_list(), df["n_voiced"].to_list(),
                                         lo, df["ratio_hi"].to_list())]
    data = [dict(
        type="scatter", mode="markers", x=xs, y=names, showlegend=False,
        marker=dict(color=DOT_COLOR, size=13, line=dict(color="white", width=1)),
        error_x=dict(type="data", symmetric=False,
                     array=[max(b - (s or 0), 0) for s, b in zip(xs, hi)],
                     arrayminus=[max((s or 0) - a, 0) for s, a in zip(xs, lo)],
                     color=MUTED_COLOR, thickness=2, width=5),
        cliponaxis=False, customdata=custom,
        hovertemplate="voiced = %{customdata[0]}<br>%{customdata[1]:,} in thoughts / "
                      "%{customdata[2]:,} voiced = %{x:.2f}× (95% interval "
                      "%{customdata[3]:.2f}–%{customdata[4]})<extra></extra>")]
    open_ended = [(nm, top) for nm, h in zip(names, df["ratio_hi"].to_list())
                  if h is not None and not math.isfinite(h)]
    if open_ended:  # an interval without an upper end: an arrow at the axis end
        data.append(dict(type="scatter", mode="markers", showlegend=False, hoverinfo="skip",
                         x=[t for _, t in open_ended], y=[nm for nm, _ in open_ended],
                         cliponaxis=False,
                         marker=dict(symbol="triangle-right", size=12, color=MUTED_COLOR)))
    shapes = [dict(type="line", x0=paper, x1=paper, y0=0, y1=1, yref="paper",
                   line=dict(color=PAPER_COLOR, width=2, dash="dash"))]
    annotations = [dict(x=paper, y=1.0, yref="paper", yanchor="bottom", xanchor="left",
                        showarrow=False, font=dict(size=NOTE_SIZE, color=PAPER_COLOR),
                        text=f"paper: {paper:.1f}×"),
                   *_value_labels([v if v is not None else 0.0 for v in xs], names, text)]
    return figure(data, dict(
        title=_title(head), height=_top(head) + 70 + 60 * df.height, shapes=shapes,
        annotations=annotations,
        xaxis=dict(range=[0, top], title=dict(text="dissatisfaction in thoughts ÷ voiced in "
                                                   "messages (×)")),
        yaxis=dict(range=[df.height - 0.5, -1.0], showgrid=False, type="category"),
        margin=dict(t=_top(head), r=30)))


# --------------------------------------------------------------------------- timing

TICKS = ((1, "1 s"), (2, "2 s"), (5, "5 s"), (10, "10 s"), (20, "20 s"), (30, "30 s"),
         (60, "1 min"), (120, "2 min"), (300, "5 min"), (600, "10 min"), (1200, "20 min"),
         (1800, "30 min"), (3600, "1 h"), (7200, "2 h"), (14400, "4 h"))
#: Values below this are drawn here on the log axis (a zero gap is real, log 0 is not).
FLOOR_S = 0.5
PANEL_TITLES = {"label": "by {group_title}", "stage": "by stage of the message",
                "when": "by when the {thought} was written"}


def timing_figure(summary: Mapping, title: str, group_title: str,
                  display: Mapping[str, str], *, thought: str = "thought",
                  label_colors: bool = True) -> go.Figure:
    """Median gap per group with its 95% interval (dot and whisker) and IQR (bar), in three
    panels (by label, by stage, by when the thought was written) on one log time axis,
    from `queries.next_steps.timing_summary`; the subtitle counts what was left out."""
    groups: pl.DataFrame = summary["groups"]
    totals, overall = summary["totals"], summary["overall"]
    cap = summary["cap_s"]
    excluded = (f"left out: {totals['missing']:,} with a missing timestamp, "
                f"{totals['negative']:,} negative (clock problems), "
                f"{totals['over_cap']:,} over {duration(cap)} (left and came back)")
    head = (title + _subtitle(
        f"median {duration(overall['median_s'])} (IQR {duration(overall['p25_s'])}–"
        f"{duration(overall['p75_s'])}) over {count(totals['ok'], 'gap')}",
        excluded, "dot = median, whisker = its 95% interval, bar = 25th–75th percentile",
        METHOD))
    shown = groups.filter(pl.col("n_all") > 0)
    if shown.is_empty() or totals["ok"] == 0:
        return empty_figure("No gaps with usable timestamps in the selection.", head)
    panels = [p for p in ("label", "stage", "when") if (shown["panel"] == p).any()]
    rows = {p: shown.filter(pl.col("panel") == p) for p in panels}
    gap = 0.09
    head_room = 0.6  # of a row, above each panel's first row (its value label)
    n_rows = sum(r.height for r in rows.values())
    n_slots = n_rows + head_room * len(panels)
    usable = 1 - gap * (len(panels) - 1)
    data, annotations, layout = [], [], {}
    y_top = 1.0
    values = [v for c in ("p25_s", "p75_s", "ci_lo", "ci_hi", "median_s")
              for v in shown[c].to_list() if v is not None]
    x_lo = max(min(values or [1.0]), FLOOR_S)
    x_hi = max(values or [60.0])
    ticks = [(v, t) for v, t in TICKS if x_lo / 1.5 <= v <= x_hi * 1.5] or list(TICKS[:4])
    for i, panel in enumerate(panels):
        df = rows[panel]
        h = usable * (df.height + head_room) / n_slots
        axis = "y" if i == 0 else f"y{i + 1}"
        layout["yaxis" if i == 0 else f"yaxis{i + 1}"] = dict(
            domain=[max(y_top - h, 0.0), y_top], type="category",
            range=[df.height - 0.5, -0.5 - head_room], showgrid=False, anchor="x")
        panel_title = PANEL_TITLES[panel].format(group_title=group_title, thought=thought)
        annotations.append(dict(x=0, y=y_top, xref="paper", yref="paper", xanchor="left",
                                yanchor="bottom", showarrow=False,
                                text=f"<b>{panel_title}</b>", font=dict(size=TEXT_SIZE)))
        y_top -= h + gap
        codes = df["group"].to_list()
        names = [esc(display.get(g, g)) for g in codes]
        med = [v for v in df["median_s"].to_list()]
        p25, p75 = df["p25_s"].to_list(), df["p75_s"].to_list()
        lo, hi = df["ci_lo"].to_list(), df["ci_hi"].to_list()
        colors = [label_color(g) if (panel == "label" and label_colors) else DOT_COLOR
                  for g in codes]
        has = [m is not None for m in med]
        # the IQR: one thick translucent line per group
        for nm, a, b, c, ok in zip(names, p25, p75, colors, has):
            if ok:
                data.append(dict(type="scatter", mode="lines", yaxis=axis, showlegend=False,
                                 x=[max(a, FLOOR_S), max(b, FLOOR_S)], y=[nm, nm],
                                 line=dict(color=rgba(c, 0.3), width=14), hoverinfo="skip"))
        x = [max(m, FLOOR_S) if m is not None else None for m in med]
        custom = [[nm, duration(m), duration(a), duration(b), duration(c_lo), duration(c_hi),
                   int(n), int(nm_), int(ng), int(oc), int(us)]
                  for nm, m, a, b, c_lo, c_hi, n, nm_, ng, oc, us in zip(
                      names, med, p25, p75, lo, hi, df["n"].to_list(),
                      df["n_missing"].to_list(), df["n_negative"].to_list(),
                      df["n_over_cap"].to_list(), df["n_users"].to_list())]
        data.append(dict(
            type="scatter", mode="markers+text", yaxis=axis, showlegend=False, x=x, y=names,
            marker=dict(color=colors, size=12, line=dict(color="white", width=1)),
            error_x=dict(type="data", symmetric=False,
                         array=[max(max(b, FLOOR_S) - v, 0) if v is not None and b is not None
                                else 0 for v, b in zip(x, hi)],
                         arrayminus=[max(v - max(a, FLOOR_S), 0) if v is not None
                                     and a is not None else 0 for v, a in zip(x, lo)],
                         color=TEXT_COLOR, thickness=1.8, width=4),
            text=[f"{duration(m)} · {count(n, 'gap')}, {count(u, 'user')}"
                  if m is not None else "" for m, n, u in zip(med, df["n"].to_list(),
                                                               df["n_users"].to_list())],
            textposition="top center", textfont=dict(size=NOTE_SIZE), cliponaxis=False,
            customdata=custom,
            hovertemplate="%{customdata[0]}: median %{customdata[1]} (95% interval "
                          "%{customdata[4]}–%{customdata[5]}), IQR %{customdata[2]}–"
                          "%{customdata[3]}<br>%{customdata[6]:,} gaps of "
                          "%{customdata[10]:,} users; left out: %{customdata[7]:,} missing, "
                          "%{customdata[8]:,} negative, %{customdata[9]:,} over the cap"
                          "<extra></extra>"))
        for m, nm, k in zip(med, names, df["n_all"].to_list()):
            if m is None:  # nothing to place: say so at the axis start
                data.append(dict(type="scatter", mode="text", yaxis=axis, showlegend=False,
                                 x=[x_lo], y=[nm], text=[f"none usable (of {k:,})"],
                                 textposition="middle right", hoverinfo="skip",
                                 textfont=dict(size=NOTE_SIZE, color=MUTED_COLOR)))
    layout.update(
        title=_title(head), height=_top(head, 24) + 60 + 44 * n_rows + 40 * len(panels),
        annotations=annotations, margin=dict(t=_top(head, 24), r=30),
        xaxis=dict(type="log", anchor="y" if len(panels) == 1 else f"y{len(panels)}",
                   range=[math.log10(x_lo / 1.6), math.log10(x_hi * 1.6)],
                   tickvals=[v for v, _ in ticks], ticktext=[t for _, t in ticks],
                   title=dict(text="time (log scale)"), showgrid=True, gridcolor="#EEEEEE"))
    return figure(data, layout)

