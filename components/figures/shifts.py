"""Figures of the "Semantic shifts" page: the paper's centred-gap panels (Fig. 5), the
global map of user messages and thoughts, and the labels of a selection.

Large point sets use ``Scattergl`` with numeric arrays (plotly sends them as typed binary
arrays), small markers and opacity ~0.5, so 20-30k points stay readable and responsive.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl

from components.figures.base import empty_figure, esc
from components.figures.theme import (
    DOMAIN_COLORS,
    FALLBACK_SEQUENCE,
    GREY,
    KIND_COLORS,
    LABEL_COLORS,
    LINE_WIDTH,
    NOTE_SIZE,
    TEMPLATE_NAME,
    TEXT_SIZE,
)
from components.vocabulary import PAIR_TITLES
from components.vocabulary import PAIR_TYPES as PAIR_ORDER

PAIR_COLORS = {"consecutive": "#555555", "message_reason": KIND_COLORS["reason"],
               "reaction_next": KIND_COLORS["reaction"]}
RING_NAMES = ("p25", "p50", "p75")
#: As the paper draws them: solid = 25th, dashed = median, dotted = 75th percentile.
RING_DASH = {"p25": "solid", "p50": "dash", "p75": "dot"}
RING_WORDS = {"p25": "25th", "p50": "median", "p75": "75th"}
#: Where each ring's label points at it (degrees), far apart so close rings never print
#: on top of each other; the label sits outside the ring on a short leader line.
RING_ANGLES = {"p25": 225.0, "p50": 135.0, "p75": 45.0}
RING_LEADER_PX = 34
MAX_CATEGORIES = 15
#: Search hits on the global map: black open markers over the dimmed points (black is in
#: no category palette); one symbol per search (keyword, semantic).
HIT_COLOR = "#000000"
HIT_SYMBOLS = ("circle-open", "diamond-open")


# =========================================================================== shifts


RING_HALO = "rgba(255,255,255,0.85)"
RING_COLOR = "#111111"


#: Margins (px) of the map and the panels, wide enough for their tick labels and axis
#: titles, with the axes' automatic margins off: plotly.js measures the labels and draws
#: a second time for them, 30 ms of the 80 ms the three preview panels take in a new tab
#: (headless Chromium, measured), and the map's axes only ever show short numbers.
FIXED_MARGIN = dict(l=64, r=10, b=60)


def ring_shapes(rings: Mapping[str, float], xref: str = "x", yref: str = "y"
                ) -> list[dict[str, Any]]:
    """Circles centred at the origin for the finite p25/p50/p75 rings, as layout shapes
    (a white halo under a dark line, each named after its ring: 'p50'; the radius is
    ``x1``). Shapes on the layer above are SVG drawn over the WebGL points, and, unlike
    WebGL line traces, cost the browser no extra WebGL drawing (half a second for the
    three panels in a GPU-less browser)."""
    out = []
    for name in RING_NAMES:
        r = rings.get(name)
        if r is None or not np.isfinite(r) or r <= 0:
            continue
        r = float(r)
        common = dict(type="circle", xref=xref, yref=yref, x0=-r, y0=-r, x1=r, y1=r,
                      layer="above", name=name)
        out.append(dict(common, line=dict(color=RING_HALO, width=LINE_WIDTH + 2.5)))
        out.append(dict(common, line=dict(color=RING_COLOR, width=LINE_WIDTH,
                                          dash=RING_DASH[name])))
    return out


def source_star(xref: str = "x", yref: str = "y") -> dict[str, Any]:
    """The shared source of every pair (the origin) as a star annotation, drawn above the
    WebGL points like the rings."""
    return dict(x=0, y=0, xref=xref, yref=yref, text="★", showarrow=False,
                font=dict(size=24, color="#FFD700", shadow="0px 0px 2px #222222"),
                hovertext="source (every pair starts here)", name="source")


def _lab(value: Any, names: Mapping[str, str]) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"({esc(names.get(value, value))})"


def _ring_text(ring: Mapping[str, Any]) -> str:
    vals = [ring.get(k) for k in RING_NAMES]
    if any(v is None or not np.isfinite(v) for v in vals):
        return ""
    return " · rings " + " / ".join(f"{v:.2f}" for v in vals)


def axis_limit(points: pl.DataFrame, rings: pl.DataFrame, q: float = 95.0) -> float:
    """Half-width of the shared square axes: the ``q``-th percentile of the distance over
    all drawn pairs, + 10%, but at least 1.3 × the largest p75 ring, so the rings stay
    legible when a few pairs land far away (those fall outside the view; the toolbar's
    autoscale shows them)."""
    vals = [1e-9]
    if points.height:
        d = np.asarray(points["umap_distance"].to_numpy(), dtype=float)
        d = d[np.isfinite(d)]
        if d.size:
            vals.append(float(np.percentile(d, q)) * 1.1)
    if rings.height:
        p75 = np.asarray(rings["p75"].fill_null(np.nan).to_numpy(), dtype=float)
        p75 = p75[np.isfinite(p75)]
        if p75.size:
            vals.append(float(p75.max()) * 1.3)
    lim = max(vals)
    return lim if lim > 1e-9 else 1.0


def shift_panels(points: pl.DataFrame, rings: pl.DataFrame, *,
                 n: Mapping[str, int] | None = None, shown: Mapping[str, int] | None = None,
                 texts: Mapping[str, bool] | None = None,
                 label_names: Mapping[str, str] | None = None,
                 height: int = 440, gl: bool = True) -> go.Figure:
    """The paper's centred-gap view: one panel per pair type, each pair's displacement on
    the shared 2-D map (destination minus source) drawn from the origin (the star), with
    rings at the 25/50/75th percentile distance labelled, on shared square axes.

    Args:
        points: pair_type, dx, dy, umap_distance, conv_id, src_id, dst_id, src_turn,
            dst_turn, src_label, dst_label, optional src_text/dst_text (hover snippets,
            already escaped).
        rings: pair_type, n, p25, p50, p75 (from every pair of the subset, not the drawn
            sample).
        n / shown: pairs per type in the subset / drawn (a notice when fewer are drawn).
        texts: per type, whether the points carry text snippets.
    """
    label_names = label_names or {}
    ring_of = {r["pair_type"]: r for r in rings.iter_rows(named=True)}
    n = dict(n or {t: int(ring_of.get(t, {}).get("n", 0) or 0) for t in PAIR_ORDER})
    lim = axis_limit(points, rings)
    # Built as plain dicts and validated once (add_shape/add_annotation per item and
    # make_subplots cost ~100 ms for a figure like this).
    gap = 0.045
    width = (1 - 2 * gap) / 3
    data: list[dict] = []
    annotations: list[dict] = []
    shapes: list[dict] = []
    layout: dict[str, Any] = {}
    kinds = np.asarray(points["pair_type"].to_list(), dtype=object)
    for i, ptype in enumerate(PAIR_ORDER, start=1):
        sfx = "" if i == 1 else str(i)
        xref, yref = f"x{sfx}", f"y{sfx}"
        x0 = (i - 1) * (width + gap)
        mask = kinds == ptype
        rows = np.flatnonzero(mask)
        sub = points[rows]
        has_text = bool((texts or {}).get(ptype)) and "src_text" in sub.columns
        if sub.height:
            dist = _floats(sub["umap_distance"])
            # numeric customdata travels as one binary float32 array (half the bytes of
            # float64; rows and turns stay exact): [row in points, src turn, dst turn,
            # distance]; the page maps a clicked row back to its pair
            custom = np.column_stack([rows, _floats(sub["src_turn"]), _floats(sub["dst_turn"]),
                                      dist]).astype(np.float32)
            trace = dict(type="scattergl" if gl else "scatter",
                         x=_floats(sub["dx"]).astype(np.float32),
                         y=_floats(sub["dy"]).astype(np.float32), xaxis=xref, yaxis=yref,
                         mode="markers", name=PAIR_TITLES[ptype], showlegend=False,
                         customdata=custom)
            big = sub.height >= 3000
            trace["marker"] = dict(size=4 if big else 5, color=PAIR_COLORS[ptype],
                                   opacity=0.35 if big else 0.5, line=dict(width=0))
            if has_text:
                trace["hovertext"] = [
                    f"<b>source</b> · turn {st_} {_lab(sl, label_names)}<br>{stx}<br>"
                    f"<b>destination</b> · turn {dt_} {_lab(dl, label_names)}<br>{dtx}<br>"
                    f"distance {d:.2f}"
                    for st_, sl, stx, dt_, dl, dtx, d in zip(
                        sub["src_turn"].to_list(), sub["src_label"].to_list(),
                        sub["src_text"].fill_null("—").to_list(), sub["dst_turn"].to_list(),
                        sub["dst_label"].to_list(), sub["dst_text"].fill_null("—").to_list(),
                        dist)]
                trace["hovertemplate"] = "%{hovertext}<extra></extra>"
            else:
                trace["hovertemplate"] = ("turn %{customdata[1]} → %{customdata[2]}<br>"
                                          "distance %{customdata[3]:.2f}<br>click for both "
                                          "texts<extra></extra>")
            data.append(trace)
        shapes.extend(ring_shapes(ring_of.get(ptype, {}), xref, yref))
        annotations.append(source_star(xref, yref))
        annotations.append(dict(
            text=f"{PAIR_TITLES[ptype]}<br><span style=\"font-size:{NOTE_SIZE + 1}px\">"
                 f"n = {n.get(ptype, 0):,} pairs{_ring_text(ring_of.get(ptype, {}))}</span>",
            x=x0 + width / 2, y=1.0, xref="paper", yref="paper", xanchor="center",
            yanchor="bottom", showarrow=False, font=dict(size=TEXT_SIZE + 2)))
        ring = ring_of.get(ptype, {})
        for name in RING_NAMES:  # every ring labelled, however small or close to another
            r = ring.get(name)
            if r is None or not np.isfinite(r) or r <= 0:
                continue
            a = math.radians(RING_ANGLES[name])
            annotations.append(dict(
                x=r * math.cos(a), y=r * math.sin(a), xref=xref, yref=yref,
                text=f"{RING_WORDS[name]} {r:.2f}", showarrow=True, arrowhead=0,
                arrowwidth=1, arrowcolor="#444444", standoff=0,
                ax=RING_LEADER_PX * math.cos(a), ay=-RING_LEADER_PX * math.sin(a),
                font=dict(size=NOTE_SIZE, color="#222222"),
                bgcolor="rgba(255,255,255,0.88)", borderpad=1))
        if not sub.height:
            annotations.append(dict(x=0, y=-lim * 0.5, xref=xref, yref=yref,
                                    showarrow=False, text="no pairs in the selection",
                                    font=dict(color="#666666")))
        notes = []
        if shown and n.get(ptype, 0) > shown.get(ptype, 0):
            notes.append(f"seeded sample: {shown[ptype]:,} of {n[ptype]:,} drawn")
        if sub.height:
            outside = int(((np.abs(_floats(sub["dx"])) > lim)
                           | (np.abs(_floats(sub["dy"])) > lim)).sum())
            if outside:
                notes.append(f"{outside:,} beyond the axes")
        if notes:  # one line per note: side by side they overran the next panel
            annotations.append(dict(
                x=0, y=-lim * 0.97, xref=xref, yref=yref, yanchor="bottom",
                showarrow=False, text="<br>".join(notes),
                font=dict(size=NOTE_SIZE, color="#8A4B00"), bgcolor="#FFF4E0"))
        axis = dict(range=[-lim, lim], zeroline=True, zerolinecolor="#DDDDDD",
                    showgrid=False, constrain="domain", automargin=False)
        layout[f"xaxis{sfx}"] = dict(axis, domain=[x0, x0 + width], anchor=yref,
                                     title=dict(text="Δ map-1" if i == 2 else None))
        layout[f"yaxis{sfx}"] = dict(axis, domain=[0, 1], anchor=xref, scaleanchor=xref,
                                     scaleratio=1, showticklabels=(i == 1),
                                     ticks="outside" if i == 1 else "",
                                     title=dict(text="Δ map-2" if i == 1 else None))
    layout.update(template=TEMPLATE_NAME, height=height, dragmode="zoom",
                  margin=dict(FIXED_MARGIN, t=150), hovermode="closest",
                  annotations=annotations, shapes=shapes,
                  title=dict(text="Semantic shift: where the next text lands, from its "
                                  "source<br><sup>rings: solid = 25th percentile, dashed = "
                                  "median, dotted = 75th percentile of the map distance (every "
                                  "pair of the selection)</sup>"))
    return go.Figure(data=data, layout=layout)


# =========================================================================== global map


def category_colors(color_by: str, categories: Sequence[str]) -> dict[str, str]:
    """A fixed colour per category: kinds, labels and domains have theirs; models and
    clusters take the fallback sequence in order; '(none)', 'other' and noise are grey."""
    fixed = {"kind": KIND_COLORS, "label": {**LABEL_COLORS,
                                           "user_message": KIND_COLORS["user_message"]},
             "domain": DOMAIN_COLORS}.get(color_by, {})
    out, k = {}, 0
    for c in categories:
        if c in fixed:
            out[c] = fixed[c]
        elif color_by == "outlier" and str(c).startswith("outlier"):
            out[c] = "#D55E00"   # vermillion over the rest (Okabe-Ito)
        elif color_by == "outlier" and str(c) == "in a cluster":
            out[c] = "#56B4E9"
        elif c in ("(none)", "other", "(no domain)") or "noise" in str(c):
            out[c] = GREY
        else:
            out[c] = FALLBACK_SEQUENCE[k % len(FALLBACK_SEQUENCE)]
            k += 1
    return out


def top_categories(values: Sequence[str], limit: int = MAX_CATEGORIES) -> list[str]:
    """``values`` with all but the ``limit`` most frequent categories as 'other'."""
    counts = Counter(values)
    if len(counts) <= limit:
        return list(values)
    keep = {c for c, _ in _ranked(counts)[:limit - 1]}
    return [v if v in keep else "other" for v in values]


def _ranked(counts: Counter) -> list[tuple[str, int]]:
    """Categories by count, largest first (ties in order of first appearance)."""
    return sorted(counts.items(), key=lambda kv: -kv[1])


def _floats(column: pl.Series) -> np.ndarray:
    """A numeric column as float64 numpy (nulls as NaN)."""
    return np.asarray(column.cast(pl.Float64).fill_null(np.nan).to_numpy(), dtype=np.float64)


def global_map(points: pl.DataFrame, color_by: str = "kind", *,
               names: Mapping[str, str] | None = None, total: int | None = None,
               arrows: pl.DataFrame | None = None, arrows_title: str = "",
               hits: Sequence[tuple[str, pl.DataFrame]] = (),
               height: int = 720, gl: bool = True) -> go.Figure:
    """All user messages and thoughts on the shared 2-D map, one Scattergl trace per
    colour category (largest drawn first), small translucent markers.

    Args:
        points: item_id, kind, label, conv_id, turn, x, y, color.
        names: display names for categories (label codes, kinds).
        total: points in the subset before downsampling (a notice when more than shown).
        arrows: optional src -> dst segments (x0, y0, x1, y1, label) drawn as arrows.
        hits: search hits to highlight, ``(name, frame)`` per search (frame: item_id,
            kind, x, y, turn; drawn whether or not the sample holds them). The map's
            points are dimmed under them; the hits' ``customdata[0]`` is ``-1 - k`` for
            row k of the concatenated hit frames (see `queries.shifts.picked_items`).
    """
    names = names or {}
    if points.is_empty():
        return empty_figure("No map points for the current filters.", "Global map")
    cats = top_categories([str(v) for v in points["color"].to_list()])
    order = _ranked(Counter(cats))
    colors = category_colors(color_by, [c for c, _ in order])
    many = points.height > 10000
    codes = np.asarray(cats, dtype=object)
    kind = "scattergl" if gl else "scatter"  # SVG for a new tab's quick preview
    # float32 and numeric customdata (row in ``points``, turn): sent as binary arrays;
    # the page maps selected rows back to item ids (`queries.shifts.picked_items`)
    xs = _floats(points["x"]).astype(np.float32)
    ys = _floats(points["y"]).astype(np.float32)
    turns = _floats(points["turn"]).astype(np.float32)
    data: list[dict] = []
    dim = any(frame.height for _, frame in hits)
    for cat, count in order:
        rows = np.flatnonzero(codes == cat)
        label = esc(names.get(cat, cat))
        data.append(dict(
            type=kind, x=xs[rows], y=ys[rows], mode="markers",
            name=f"{label} ({int(count):,})",
            marker=dict(size=3 if many else 5, color=colors[cat],
                        opacity=(0.15 if dim else 0.45) if many else (0.25 if dim else 0.6),
                        line=dict(width=0)),
            customdata=np.column_stack([rows.astype(np.float32), turns[rows]]),
            # the name by reference: dataset text in a template would be read as one
            hovertemplate="<b>%{fullData.name}</b> · turn %{customdata[1]}<br>"
                          "lasso to list texts<extra></extra>"))
    offset = 0
    for (name, frame), symbol in zip(hits, HIT_SYMBOLS):
        if not frame.height:
            continue
        rows = -1 - (offset + np.arange(frame.height))
        offset += frame.height
        data.append(dict(
            type=kind, x=_floats(frame["x"]).astype(np.float32),
            y=_floats(frame["y"]).astype(np.float32), mode="markers",
            name=f"{esc(name)} ({frame.height:,})",
            marker=dict(size=9, symbol=symbol, color=HIT_COLOR, opacity=0.95,
                        line=dict(width=1.5, color=HIT_COLOR)),
            customdata=np.column_stack([rows.astype(np.float32),
                                        _floats(frame["turn"]).astype(np.float32)]),
            hovertemplate="<b>%{fullData.name}</b> · turn %{customdata[1]}<br>"
                          "lasso to list texts<extra></extra>"))
    annotations: list[dict] = []
    if arrows is not None and arrows.height:
        data.append(dict(
            type="scatter", x=_floats(arrows["x0"]), y=_floats(arrows["y0"]),
            mode="markers", name="message (selected conv.)",
            marker=dict(size=10, color="white", line=dict(color="#222222", width=2)),
            hovertemplate="user message, turn %{text}<extra></extra>",
            text=[str(t) for t in arrows["turn"].to_list()]))
        data.append(dict(
            type="scatter", x=_floats(arrows["x1"]), y=_floats(arrows["y1"]),
            mode="markers", name="its reason",
            marker=dict(size=10, symbol="diamond", color=KIND_COLORS["reason"],
                        line=dict(color="#222222", width=1.5)),
            hovertemplate="reason: %{text}<extra></extra>",
            text=[esc(names.get(v, v)) for v in arrows["label"].to_list()]))
        annotations += [dict(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y",
                             axref="x", ayref="y", showarrow=True, arrowhead=2,
                             arrowsize=1.2, arrowwidth=2, arrowcolor="#222222", text="")
                        for x0, y0, x1, y1 in arrows.select("x0", "y0", "x1", "y1").iter_rows()]
    if total is not None and total > points.height:
        annotations.append(dict(
            text=f"showing a stratified sample of {points.height:,} of {total:,} points "
                 "(fixed seed, every kind kept)", xref="paper", yref="paper", x=1.0, y=1.0,
            xanchor="right", yanchor="bottom", showarrow=False, align="right",
            font=dict(size=NOTE_SIZE, color="#8A4B00"), bgcolor="#FFF4E0", bordercolor="#E0B070",
            borderwidth=1, borderpad=3))
    title = "Global map of user messages and thoughts"
    if arrows_title:
        title += f"<br><sup>arrows: {esc(arrows_title)}</sup>"
    layout = dict(template=TEMPLATE_NAME, height=height, title=dict(text=title),
                  dragmode="lasso", hovermode="closest", annotations=annotations,
                  legend=dict(itemsizing="constant", title=dict(text="")),
                  margin=dict(FIXED_MARGIN, t=70),
                  xaxis=dict(title=dict(text="map-1"), showgrid=False, zeroline=False,
                             automargin=False),
                  yaxis=dict(title=dict(text="map-2"), showgrid=False, zeroline=False,
                             scaleanchor="x", scaleratio=1, automargin=False))
    return go.Figure(data=data, layout=layout)


def label_distribution(dist: pl.DataFrame, names: Mapping[str, str] | None = None,
                       title: str = "Labels of the selected items") -> go.Figure:
    """Horizontal bars (columns kind, label, n, share), largest on top, label colours."""
    names = names or {}
    if dist.is_empty():
        return empty_figure("Nothing selected.", title)
    df = dist.sort("n", maintain_order=True)
    labels = df["label"].to_list()
    colors = [LABEL_COLORS.get(lab, KIND_COLORS.get("user_message")) for lab in labels]
    bar = dict(type="bar", y=[esc(names.get(v, v)) for v in labels],
               x=df["n"].to_numpy(), orientation="h", marker=dict(color=colors),
               text=[f"{n:,} ({s:.0%})" for n, s in zip(df["n"].to_list(),
                                                         df["share"].to_list())],
               textposition="auto", hovertemplate="%{y}: %{x:,}<extra></extra>")
    return go.Figure(data=[bar], layout=dict(
        template=TEMPLATE_NAME, title=dict(text=title), height=120 + 38 * df.height,
        xaxis=dict(title=dict(text="selected items")), showlegend=False))
