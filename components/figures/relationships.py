"""Figures of the multi-turn relationship view (paper Fig. 4): how each user turn relates
to the previous one, as a flow Start -> user turn 2 -> user turn 3 -> horizon beside the
paper's shares, the shares over all user turns, and relationship x reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
import polars as pl

from components.figures.base import empty_figure, esc, figure, pct, rgba
from components.figures.theme import MUTED_COLOR, NEUTRAL, NOTE_SIZE, TEXT_SIZE
from components.vocabulary import count

#: One colour per relationship and end (Okabe-Ito, colour-blind safe).
REL_COLORS = {"first": "#0072B2", "deepen": "#0072B2", "new_request": "#E69F00",
              "retry": "#D55E00", "variant": "#CC79A7", "four_plus": "#009E73",
              "ended_after_1": "#BBBBBB", "ended_after_2": "#A5A5A5",
              "ended_after_3": "#8F8F8F", "unlabelled": "#DDDDDD", "start": "#555555"}
STEP_ORDER = ("start", "turn_2", "turn_3", "horizon")
STEP_TITLES = {"start": "Start", "turn_2": "User turn 2", "turn_3": "User turn 3",
               "horizon": "Horizon"}
CATEGORY_ORDER = ("deepen", "new_request", "retry", "variant", "unlabelled", "four_plus",
                  "ended_after_3", "ended_after_2", "ended_after_1")


def relationship_flow(links: pl.DataFrame, flow: pl.DataFrame, names: Mapping[str, str],
                      *, title: str = "How each user turn relates to the previous one",
                      height: int = 560) -> go.Figure:
    """A Sankey of the conversations' paths (`queries.relationships.relationship_paths`)
    with each node labelled by its share of the conversations that started and the paper's
    share beside it (``flow``: `relationship_flow`'s rows)."""
    if links.is_empty():
        return empty_figure("No conversations with user turns in the selection.", title)
    share = {(r["step"], r["category"]): r for r in flow.iter_rows(named=True)}
    n_started = int(links.filter(pl.col("step_a") == "start")["n"].sum())
    nodes: list[tuple[str, str]] = [("start", "start")]
    for step in STEP_ORDER[1:]:
        present = set(links.filter(pl.col("step_b") == step)["category_b"].to_list())
        nodes += [(step, c) for c in CATEGORY_ORDER if c in present]
    index = {n: i for i, n in enumerate(nodes)}
    col = {s: i for i, s in enumerate(STEP_ORDER)}
    labels, hover, colors, xs = [], [], [], []
    for step, cat in nodes:
        if step == "start":
            noun = "conversation" if n_started == 1 else "conversations"
            labels.append(f"<b>{n_started:,}</b> {noun}")
            hover.append(f"{n_started:,} {noun} started")
        else:
            row = share.get((step, cat), {})
            s, pub = row.get("share"), row.get("published_share")
            name = esc(names.get(cat, cat))
            labels.append(f"{name} {pct(s)}" + (f" · paper {pub:.0%}" if pub is not None
                                                else ""))
            hover.append(f"{name} at {STEP_TITLES[step]}: {row.get('n', 0):,} conversations "
                         f"({pct(s)})" + (f"; paper {pub:.0%}" if pub is not None else ""))
        colors.append(REL_COLORS.get(cat, NEUTRAL))
        xs.append(0.001 + 0.998 * col[step] / (len(STEP_ORDER) - 1))
    rows = links.iter_rows(named=True)
    src, dst, val, lcol = [], [], [], []
    for r in rows:
        a, b = (r["step_a"], r["category_a"]), (r["step_b"], r["category_b"])
        src.append(index[a])
        dst.append(index[b])
        val.append(int(r["n"]))
        lcol.append(rgba(REL_COLORS.get(r["category_b"], NEUTRAL), 0.35))
    data = [dict(type="sankey", arrangement="snap", textfont=dict(size=NOTE_SIZE + 1),
                 node=dict(label=labels, color=colors, x=xs, pad=14, thickness=16,
                           line=dict(color="white", width=0.5), customdata=hover,
                           hovertemplate="%{customdata}<extra></extra>"),
                 link=dict(source=src, target=dst, value=val, color=lcol,
                           hovertemplate="%{value:,} conversations<extra></extra>"))]
    annotations = [dict(x=col[s] / (len(STEP_ORDER) - 1), y=1.0, xref="paper", yref="paper",
                        yanchor="bottom", showarrow=False, text=f"<b>{STEP_TITLES[s]}</b>",
                        font=dict(size=TEXT_SIZE),
                        xanchor="left" if s == "start" else
                        ("right" if s == "horizon" else "center")) for s in STEP_ORDER]
    return figure(data, dict(
        title=dict(text=f"{title}<br><sup>shares of the {count(n_started, 'conversation')} "
                        "that started; “paper”: Jin et al. 2026, Fig. 4 (LLM-labelled, full "
                        "release)</sup>"),
        height=height, annotations=annotations, margin=dict(t=120, l=10, r=10, b=10)))


def relationship_share_bars(shares: pl.DataFrame, *, source_note: str = "") -> go.Figure:
    """Each relationship's share of all user turns (bars) beside the paper's (hatched)."""
    total = int(shares["n_total"].max() or 0) if shares.height else 0
    title = f"Relationship of each user turn to the previous one: {count(total, 'user turn')}"
    if total == 0:
        return empty_figure("No labelled user turns in the selection.", title)
    names = [esc(v) for v in shares["display_name"].to_list()]
    rels = shares["relationship"].to_list()
    sel = [v or 0.0 for v in shares["share"].to_list()]
    pub = shares["published_share"].to_list()
    colors = [REL_COLORS.get(r, NEUTRAL) for r in rels]
    data = [
        dict(type="bar", x=names, y=pub, name="published (Jin et al. 2026, full release)",
             marker=dict(color=[rgba(c, 0.3) for c in colors], line=dict(color=colors, width=1),
                         pattern=dict(shape="/", fgcolor=MUTED_COLOR, size=6)),
             text=[pct(v) for v in pub], textposition="outside",
             textfont=dict(size=NOTE_SIZE, color=MUTED_COLOR), cliponaxis=False,
             hovertemplate="%{x}: paper %{y:.1%}<extra></extra>"),
        dict(type="bar", x=names, y=sel, name="this selection", marker=dict(color=colors),
             text=[f"{pct(v)} ({int(n):,})" for v, n in zip(sel, shares["n"].to_list())],
             textposition="outside", textfont=dict(size=NOTE_SIZE), cliponaxis=False,
             hovertemplate="%{x}: %{y:.1%} of the user turns<extra></extra>")]
    top = max([*sel, *[v for v in pub if v is not None]] or [0.0])
    return figure(data, dict(
        title=dict(text=title + (f"<br><sup>{esc(source_note)}</sup>" if source_note else "")),
        barmode="group", height=430, yaxis=dict(tickformat=".0%", range=[0, top * 1.2 + 0.02],
                                                title=dict(text="share of user turns")),
        legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"), margin=dict(t=120)))


def matrix_from_long(long: pl.DataFrame, rows: Sequence[str], cols: Sequence[str],
                     row_names: Mapping[str, str], col_names: Mapping[str, str]) -> dict:
    """The matrix dict `figures.topics.label_matrix_heatmap` draws, from relationship x
    reason rows (relationship, reason, n, row_total, row_share); empty rows dropped."""
    import numpy as np

    cell = {(r["relationship"], r["reason"]): r for r in long.iter_rows(named=True)}
    keep = [r for r in rows if any(cell.get((r, c), {}).get("n", 0) for c in cols)]
    n = np.array([[cell.get((r, c), {}).get("n", 0) for c in cols] for r in keep],
                 dtype=np.int64).reshape(len(keep), len(cols))
    total = n.sum(axis=1)
    share = n / np.where(total > 0, total, 1)[:, None] if len(keep) else n.astype(float)
    return {"domains": tuple(row_names.get(r, r) for r in keep), "labels": tuple(cols),
            "display": dict(col_names), "share": share, "n": n, "row_total": total}
