"""Pure figure builders for the "Semantic shifts" and "Topics" pages (DataFrame in, plotly
Figure out; no streamlit, no queries).

Large point sets use ``Scattergl`` with numeric arrays (plotly sends them as typed binary
arrays), small markers and opacity ~0.5, so 20-30k points stay readable and responsive.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from components.figures import empty_figure
from components.theme import (DOMAIN_COLORS, FALLBACK_SEQUENCE, KIND_COLORS, LABEL_COLORS,
                              LINE_WIDTH, NOTE_SIZE, TEMPLATE_NAME, TEXT_SIZE)

PAIR_ORDER = ("consecutive", "message_reason", "reaction_next")
PAIR_TITLES = {"consecutive": "Consecutive user messages",
               "message_reason": "Message → its reason",
               "reaction_next": "Reaction → next message"}
PAIR_COLORS = {"consecutive": "#555555", "message_reason": KIND_COLORS["reason"],
               "reaction_next": KIND_COLORS["reaction"]}
RING_NAMES = ("p25", "p50", "p75")
RING_DASH = {"p25": "dot", "p50": "dash", "p75": "solid"}
#: Label positions on the rings (degrees), so close rings do not print on top of each other.
RING_ANGLES = {"p25": 215.0, "p50": 140.0, "p75": 35.0}
GREY = "#BBBBBB"
MAX_CATEGORIES = 15
SPACE_COLORS = {"task": KIND_COLORS["task"], "reason": KIND_COLORS["reason"],
                "reaction": KIND_COLORS["reaction"]}


# =========================================================================== shifts


RING_HALO = "rgba(255,255,255,0.85)"
RING_COLOR = "#111111"


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
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return f"({_esc(names.get(value, value))})"


def _ring_text(ring: Mapping[str, Any]) -> str:
    vals = [ring.get(k) for k in RING_NAMES]
    if any(v is None or not np.isfinite(v) for v in vals):
        return ""
    return " · rings " + " / ".join(f"{v:.2f}" for v in vals)


def axis_limit(points: pd.DataFrame, rings: pd.DataFrame, q: float = 95.0) -> float:
    """Half-width of the shared square axes: the ``q``-th percentile of the distance over
    all drawn pairs, + 10%, but at least 1.3 × the largest p75 ring, so the rings stay
    legible when a few pairs land far away (those fall outside the view; the toolbar's
    autoscale shows them)."""
    vals = [1e-9]
    if len(points):
        d = points["umap_distance"].to_numpy(dtype=float)
        d = d[np.isfinite(d)]
        if d.size:
            vals.append(float(np.percentile(d, q)) * 1.1)
    if len(rings):
        p75 = rings["p75"].to_numpy(dtype=float)
        p75 = p75[np.isfinite(p75)]
        if p75.size:
            vals.append(float(p75.max()) * 1.3)
    lim = max(vals)
    return lim if lim > 1e-9 else 1.0


def shift_panels(points: pd.DataFrame, rings: pd.DataFrame, *,
                 n: Mapping[str, int] | None = None, shown: Mapping[str, int] | None = None,
                 texts: Mapping[str, bool] | None = None,
                 label_names: Mapping[str, str] | None = None,
                 height: int = 440) -> go.Figure:
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
    ring_of = {r["pair_type"]: r for r in rings.to_dict("records")}
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
    kinds = points["pair_type"].to_numpy() if len(points) else np.array([], dtype=object)
    for i, ptype in enumerate(PAIR_ORDER, start=1):
        sfx = "" if i == 1 else str(i)
        xref, yref = f"x{sfx}", f"y{sfx}"
        x0 = (i - 1) * (width + gap)
        mask = kinds == ptype
        sub = points[mask] if len(points) else points
        has_text = bool((texts or {}).get(ptype)) and "src_text" in sub
        if len(sub):
            rows = np.flatnonzero(mask)
            dist = sub["umap_distance"].to_numpy(dtype=float)
            # numeric customdata travels as one binary float32 array (half the bytes of
            # float64; rows and turns stay exact): [row in points, src turn, dst turn,
            # distance]; the page maps a clicked row back to its pair
            custom = np.column_stack([
                rows, sub["src_turn"].astype("Float64").to_numpy(float, na_value=np.nan),
                sub["dst_turn"].astype("Float64").to_numpy(float, na_value=np.nan),
                dist]).astype(np.float32)
            trace = dict(type="scattergl", x=sub["dx"].to_numpy(dtype=np.float32),
                         y=sub["dy"].to_numpy(dtype=np.float32), xaxis=xref, yaxis=yref,
                         mode="markers", name=PAIR_TITLES[ptype], showlegend=False,
                         customdata=custom)
            big = len(sub) >= 3000
            trace["marker"] = dict(size=4 if big else 5, color=PAIR_COLORS[ptype],
                                   opacity=0.35 if big else 0.5, line=dict(width=0))
            if has_text:
                trace["hovertext"] = [
                    f"<b>source</b> · turn {st_} {_lab(sl, label_names)}<br>{stx}<br>"
                    f"<b>destination</b> · turn {dt_} {_lab(dl, label_names)}<br>{dtx}<br>"
                    f"distance {d:.2f}"
                    for st_, sl, stx, dt_, dl, dtx, d in zip(
                        sub["src_turn"], sub["src_label"], sub["src_text"].fillna("—"),
                        sub["dst_turn"], sub["dst_label"], sub["dst_text"].fillna("—"), dist)]
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
        last = None
        for name in RING_NAMES:
            r = ring.get(name)
            if r is None or not np.isfinite(r) or r <= 0:
                continue
            # label a ring on the plot only where it is legible (values are in the title)
            if r < lim * 0.1 or (last is not None and r - last < lim * 0.08):
                continue
            last = r
            a = math.radians(RING_ANGLES[name])
            annotations.append(dict(x=r * math.cos(a), y=r * math.sin(a), xref=xref,
                                    yref=yref, text=f"{name} {r:.2f}", showarrow=False,
                                    font=dict(size=NOTE_SIZE, color="#222222"),
                                    bgcolor="rgba(255,255,255,0.85)", borderpad=1))
        if not len(sub):
            annotations.append(dict(x=0, y=-lim * 0.5, xref=xref, yref=yref,
                                    showarrow=False, text="no pairs in the selection",
                                    font=dict(color="#666666")))
        notes = []
        if shown and n.get(ptype, 0) > shown.get(ptype, 0):
            notes.append(f"seeded sample: {shown[ptype]:,} of {n[ptype]:,} drawn")
        if len(sub):
            outside = int(((sub["dx"].abs() > lim) | (sub["dy"].abs() > lim)).sum())
            if outside:
                notes.append(f"{outside:,} beyond the axes")
        if notes:  # one line per note: side by side they overran the next panel
            annotations.append(dict(
                x=0, y=-lim * 0.97, xref=xref, yref=yref, yanchor="bottom",
                showarrow=False, text="<br>".join(notes),
                font=dict(size=NOTE_SIZE, color="#8A4B00"), bgcolor="#FFF4E0"))
        axis = dict(range=[-lim, lim], zeroline=True, zerolinecolor="#DDDDDD",
                    showgrid=False, constrain="domain")
        layout[f"xaxis{sfx}"] = dict(axis, domain=[x0, x0 + width], anchor=yref,
                                     title=dict(text="Δ map-1" if i == 2 else None))
        layout[f"yaxis{sfx}"] = dict(axis, domain=[0, 1], anchor=xref, scaleanchor=xref,
                                     scaleratio=1, showticklabels=(i == 1),
                                     ticks="outside" if i == 1 else "",
                                     title=dict(text="Δ map-2" if i == 1 else None))
    layout.update(template=TEMPLATE_NAME, height=height, dragmode="zoom",
                  margin=dict(l=10, r=10, t=90, b=10), hovermode="closest",
                  annotations=annotations, shapes=shapes,
                  title=dict(text="Semantic shift: where the next text lands, from its "
                                  "source", y=0.98))
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
        elif c in ("(none)", "other", "(no domain)") or "noise" in str(c):
            out[c] = GREY
        else:
            out[c] = FALLBACK_SEQUENCE[k % len(FALLBACK_SEQUENCE)]
            k += 1
    return out


def top_categories(values: pd.Series, limit: int = MAX_CATEGORIES) -> pd.Series:
    """``values`` with all but the ``limit`` most frequent categories as 'other'."""
    counts = values.value_counts()
    if len(counts) <= limit:
        return values
    keep = set(counts.index[:limit - 1])
    return values.where(values.isin(keep), "other")


def global_map(points: pd.DataFrame, color_by: str = "kind", *,
               names: Mapping[str, str] | None = None, total: int | None = None,
               arrows: pd.DataFrame | None = None, arrows_title: str = "",
               height: int = 720) -> go.Figure:
    """All user messages and thoughts on the shared 2-D map, one Scattergl trace per
    colour category (largest drawn first), small translucent markers.

    Args:
        points: item_id, kind, label, conv_id, turn, x, y, color.
        names: display names for categories (label codes, kinds).
        total: points in the subset before downsampling (a notice when more than shown).
        arrows: optional src -> dst segments (x0, y0, x1, y1, label) drawn as arrows.
    """
    names = names or {}
    if points.empty:
        return empty_figure("No map points for the current filters.", "Global map")
    cats = top_categories(points["color"].astype(str))
    order = cats.value_counts()
    colors = category_colors(color_by, list(order.index))
    many = len(points) > 10000
    codes = cats.to_numpy()
    # float32 and numeric customdata (row in ``points``, turn): sent as binary arrays;
    # the page maps selected rows back to item ids (`shiftviews.picked_items`)
    xs = points["x"].to_numpy(dtype=np.float32)
    ys = points["y"].to_numpy(dtype=np.float32)
    turns = pd.to_numeric(points["turn"]).astype("Float64").to_numpy(np.float32,
                                                                     na_value=np.nan)
    data: list[dict] = []
    for cat in order.index:
        rows = np.flatnonzero(codes == cat)
        label = names.get(cat, cat)
        data.append(dict(
            type="scattergl", x=xs[rows], y=ys[rows], mode="markers",
            name=f"{label} ({int(order[cat]):,})",
            marker=dict(size=3 if many else 5, color=colors[cat],
                        opacity=0.45 if many else 0.6, line=dict(width=0)),
            customdata=np.column_stack([rows.astype(np.float32), turns[rows]]),
            hovertemplate=f"<b>{_esc(label)}</b> · turn %{{customdata[1]}}<br>"
                          "lasso to list texts<extra></extra>"))
    annotations: list[dict] = []
    if arrows is not None and len(arrows):
        data.append(dict(
            type="scatter", x=arrows["x0"].to_numpy(float), y=arrows["y0"].to_numpy(float),
            mode="markers", name="message (selected conv.)",
            marker=dict(size=10, color="white", line=dict(color="#222222", width=2)),
            hovertemplate="user message, turn %{text}<extra></extra>",
            text=arrows["turn"].astype(str).tolist()))
        data.append(dict(
            type="scatter", x=arrows["x1"].to_numpy(float), y=arrows["y1"].to_numpy(float),
            mode="markers", name="its reason",
            marker=dict(size=10, symbol="diamond", color=KIND_COLORS["reason"],
                        line=dict(color="#222222", width=1.5)),
            hovertemplate="reason: %{text}<extra></extra>",
            text=[_esc(names.get(v, v)) for v in arrows["label"]]))
        annotations += [dict(x=r.x1, y=r.y1, ax=r.x0, ay=r.y0, xref="x", yref="y",
                             axref="x", ayref="y", showarrow=True, arrowhead=2,
                             arrowsize=1.2, arrowwidth=2, arrowcolor="#222222", text="")
                        for r in arrows.itertuples()]
    if total is not None and total > len(points):
        annotations.append(dict(
            text=f"showing a stratified sample of {len(points):,} of {total:,} points "
                 "(fixed seed, every kind kept)", xref="paper", yref="paper", x=1.0, y=1.0,
            xanchor="right", yanchor="bottom", showarrow=False, align="right",
            font=dict(size=NOTE_SIZE, color="#8A4B00"), bgcolor="#FFF4E0", bordercolor="#E0B070",
            borderwidth=1, borderpad=3))
    title = "Global map of user messages and thoughts"
    if arrows_title:
        title += f"<br><sup>arrows: {_esc(arrows_title)}</sup>"
    layout = dict(template=TEMPLATE_NAME, height=height, title=dict(text=title),
                  dragmode="lasso", hovermode="closest", annotations=annotations,
                  legend=dict(itemsizing="constant", title=dict(text="")),
                  xaxis=dict(title=dict(text="map-1"), showgrid=False, zeroline=False),
                  yaxis=dict(title=dict(text="map-2"), showgrid=False, zeroline=False,
                             scaleanchor="x", scaleratio=1))
    return go.Figure(data=data, layout=layout)


def _esc(text: Any) -> str:
    import html
    return html.escape(str(text))


def label_distribution(dist: pd.DataFrame, names: Mapping[str, str] | None = None,
                       title: str = "Labels of the selected items") -> go.Figure:
    """Horizontal bars (columns kind, label, n, share), largest on top, label colours."""
    names = names or {}
    if dist.empty:
        return empty_figure("Nothing selected.", title)
    df = dist.sort_values("n", ascending=True)
    colors = [LABEL_COLORS.get(lab, KIND_COLORS.get("user_message")) for lab in df["label"]]
    bar = dict(type="bar", y=[_esc(names.get(v, v)) for v in df["label"]],
               x=df["n"].to_numpy(), orientation="h", marker=dict(color=colors),
               text=[f"{n:,} ({s:.0%})" for n, s in zip(df["n"], df["share"])],
               textposition="auto", hovertemplate="%{y}: %{x:,}<extra></extra>")
    return go.Figure(data=[bar], layout=dict(
        template=TEMPLATE_NAME, title=dict(text=title), height=120 + 38 * len(df),
        xaxis=dict(title=dict(text="selected items")), showlegend=False))


# =========================================================================== topics


def _lighter(hex_color: str, amount: float = 0.35) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    mix = [round(c + (255 - c) * amount) for c in (r, g, b)]
    return "#" + "".join(f"{c:02X}" for c in mix)


def topic_hierarchy(frame: pd.DataFrame, *, kind: str = "sunburst", title: str = "",
                    unit: str = "conversations", height: int = 620) -> go.Figure:
    """Domain -> subtopic sunburst (or treemap) from `topicviews.sunburst_frame` (id,
    label, parent, value, domain); domain colours from the theme, subtopics lighter."""
    if frame.empty or frame["value"].sum() == 0:
        return empty_figure("No topics for the current filters.", title)
    colors = [DOMAIN_COLORS.get(d, GREY) if p == "" else _lighter(DOMAIN_COLORS.get(d, GREY))
              for d, p in zip(frame["domain"], frame["parent"])]
    trace = dict(type="sunburst" if kind == "sunburst" else "treemap",
                 ids=frame["id"].tolist(), labels=[_esc(v) for v in frame["label"]],
                 parents=frame["parent"].tolist(), values=frame["value"].to_numpy(),
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


def cluster_bars(clusters: pd.DataFrame, space: str, *, title: str = "",
                 max_bars: int = 30) -> go.Figure:
    """Bars of cluster sizes within the filter (columns cluster_id, name, keywords, size,
    n, is_noise); noise its own grey bar at the bottom; keywords and overall size on
    hover. At most ``max_bars`` clusters (largest) plus noise."""
    if clusters.empty or clusters["n"].sum() == 0:
        return empty_figure("No clustered items for the current filters.", title)
    all_real = clusters[~clusters["is_noise"] & (clusters["n"] > 0)]
    real = all_real.sort_values("n", ascending=False).head(max_bars)
    if len(all_real) > max_bars:
        title = (f"{title}<br><sup>the {max_bars} largest of {len(all_real)} clusters; "
                 "all are in the table below</sup>")
    noise = clusters[clusters["is_noise"]]
    df = pd.concat([noise, real.iloc[::-1]], ignore_index=True)
    labels = [("noise (unclustered)" if noise_ else f"#{cid} {name}")
              for cid, name, noise_ in zip(df["cluster_id"], df["name"], df["is_noise"])]
    colors = [GREY if x else SPACE_COLORS.get(space, "#4477AA") for x in df["is_noise"]]
    bar = dict(type="bar", y=[_esc(v) for v in labels], x=df["n"].to_numpy(),
               orientation="h", marker=dict(color=colors),
               text=[f"{n:,}" for n in df["n"]], textposition="outside", cliponaxis=False,
               textfont=dict(size=NOTE_SIZE),
               customdata=np.column_stack([df["keywords"].fillna("").map(_esc).to_numpy(),
                                           df["size"].to_numpy()]),
               hovertemplate="<b>%{y}</b><br>keywords: %{customdata[0]}<br>%{x:,} in the "
                             "selection · %{customdata[1]:,} overall<extra></extra>")
    return go.Figure(data=[bar], layout=dict(
        template=TEMPLATE_NAME, title=dict(text=title), height=130 + 30 * len(df),
        xaxis=dict(title=dict(text="items in the selection")), showlegend=False))


def label_matrix_heatmap(matrix: Mapping[str, Any], **kwargs: Any) -> go.Figure:
    """`share_heatmap` of one kind's entry of `topicviews.label_matrices` (share, n,
    row_total, display)."""
    return share_heatmap(matrix["share"], matrix["n"], matrix["row_total"],
                         column_names=matrix["display"], **kwargs)


def share_heatmap(share: pd.DataFrame, counts: pd.DataFrame, row_total: pd.Series, *,
                  column_names: Mapping[str, str] | None = None, title: str = "",
                  unit: str = "thoughts", colorscale: str = "Blues") -> go.Figure:
    """Rows (e.g. domains) × columns (e.g. labels): cell = share within the row (each
    row sums to 1), printed as a percentage; counts and the row total on hover."""
    if share.empty:
        return empty_figure("Nothing to show for the current filters.", title)
    column_names = column_names or {}
    x = [column_names.get(c, c) for c in share.columns]
    y = [f"{d} ({int(row_total.get(d, 0)):,})" for d in share.index]
    z = share.to_numpy(dtype=float)
    n = counts.reindex(index=share.index, columns=share.columns).to_numpy()
    tot = np.repeat(row_total.reindex(share.index).to_numpy()[:, None], z.shape[1], axis=1)
    heat = dict(type="heatmap", z=z, x=[_esc(v) for v in x], y=[_esc(v) for v in y],
                colorscale=colorscale, zmin=0, zmax=max(0.01, float(np.nanmax(z))),
                text=[[f"{v:.0%}" for v in row] for row in z], texttemplate="%{text}",
                customdata=np.dstack([n, tot]),
                hovertemplate="<b>%{y}</b> · %{x}<br>%{customdata[0]:,} of "
                              f"%{{customdata[1]:,}} {unit} (%{{z:.1%}})<extra></extra>",
                colorbar=dict(title=dict(text="share"), tickformat=".0%"))
    return go.Figure(data=[heat], layout=dict(
        template=TEMPLATE_NAME, title=dict(text=title), height=140 + 38 * len(y),
        xaxis=dict(tickangle=-30, side="bottom"), yaxis=dict(autorange="reversed")))
