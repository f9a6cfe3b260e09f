"""Every named figure of the app: its key, its title, the analytics it needs, and how it
is built from a data source, the filters and its options.

The pages show catalogue entries (`components.ui.charts.show`) and the figure pack
renders them (`components.export.pack`) through the same ``build``, so a pack figure *is*
the figure the app shows for the same filters and options. A build reads its data through
``source.query(fn, *args)``: in the app that is the cached `components.ui.state.query`, in
the pack a direct call on a cursor (`DirectSource`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import plotly.graph_objects as go
import polars as pl

from components import published
from components.figures import compare as fcmp
from components.figures import next_steps as fns
from components.figures import overview as fo
from components.figures import participants as fp
from components.figures import relationships as frl
from components.figures import shifts as fs
from components.figures import thoughts as ft
from components.figures import topics as ftp
from components.figures.base import esc
from components.filters import Comparison, Filters
from components.queries import compare as qcmp
from components.queries import core
from components.queries import next_steps as qns
from components.queries import overview as qo
from components.queries import participant as qpt
from components.queries import participants as qp
from components.queries import relationships as qrl
from components.queries import shifts as qs
from components.queries import thoughts as qt
from components.queries import topics as qtp
from components.stats import METHOD, N_PERM
from components.vocabulary import (
    KIND_NOUNS,
    LABELS_BY_KIND,
    NO_REASON,
    PAIR_TITLES,
    count,
    display_names,
    item_names,
)

T = TypeVar("T")


class Source(Protocol):
    """Where a build reads its data: ``query(fn, *args)`` is ``fn(cursor, *args)``."""

    def query(self, fn: Callable[..., T], *args: Any) -> T: ...


@dataclass(frozen=True)
class DirectSource:
    """A `Source` over one open cursor, without caching (the figure pack, tests)."""

    con: Any  # a DuckDB cursor

    def query(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(self.con, *args)


@dataclass(frozen=True)
class Drawn:
    """A built figure: the plotly figure, what it counts (for the caption: "n = 1,234
    reasons") and the numbers drawn (the chart's data export)."""

    figure: go.Figure
    n: str
    data: pl.DataFrame | None = None
    #: What the caption line says the figure covers, when it is more than the page's
    #: filters (a comparison names both subsets); None: the filters' description.
    subsets: str | None = None


@dataclass(frozen=True)
class Entry:
    """One named figure. ``build(source, filters, **options) -> Drawn``; ``needs`` names
    the analytics stages whose tables it reads ('topics', 'clusters', 'shifts');
    ``previews``: ``build`` takes ``preview=True`` for a light version that a new tab
    draws first (`components.ui.charts.show` asks for it)."""

    key: str
    title: str
    build: Callable[..., Drawn]
    needs: tuple[str, ...] = ()
    previews: bool = False

    def __call__(self, source: Source, filters: Filters, **options: Any) -> Drawn:
        return self.build(source, filters, **options)


def _display(source: Source) -> dict[str, str]:
    return display_names(source.query(core.labels))


def _n(n: int, noun: str) -> str:
    return "n = " + count(n, noun.rstrip("s"), noun)


# --------------------------------------------------------------------------- overview

def _overview_numbers(source: Source, filters: Filters) -> Drawn:
    totals = source.query(core.totals, filters)
    data = pl.DataFrame({"measure": [k for k, _ in fo.OVERVIEW_NUMBERS],
                         "value": [int(totals[k] or 0) for k, _ in fo.OVERVIEW_NUMBERS]})
    return Drawn(fo.overview_numbers(totals), _n(totals["conversations"], "conversations"),
                 data)


def _per_model(source: Source, filters: Filters) -> Drawn:
    totals = source.query(core.totals, filters)
    table = qo.per_model_table(source.query(qo.per_model, filters), totals)
    return Drawn(fo.summary_table(table, "Users, conversations, messages and thoughts "
                                         "per model"),
                 _n(totals["conversations"], "conversations"), table)


def _length(source: Source, filters: Filters, reference: bool = True) -> Drawn:
    totals = source.query(core.totals, filters)
    counts = source.query(qo.length_counts, filters)
    if not reference:
        return Drawn(fo.length_histogram(counts, totals["median_messages"]),
                     _n(totals["conversations"], "conversations"), counts)
    fig = fo.length_vs_reference(counts, totals["median_messages"], published.LENGTH_BINS,
                                 published.length_bin, published.LENGTH_REFERENCE,
                                 published.LENGTH_MEDIANS)
    n = max(int(counts["conversations"].sum()), 1)
    binned = (counts.with_columns(bin=pl.col("n_messages").map_elements(
        published.length_bin, return_dtype=pl.Utf8))
        .group_by("bin").agg(pl.col("conversations").sum()))
    got = dict(binned.iter_rows())
    data = pl.DataFrame({
        "bin": list(published.LENGTH_BINS),
        "conversations": [int(got.get(b, 0)) for b in published.LENGTH_BINS],
        "percent": [100 * got.get(b, 0) / n for b in published.LENGTH_BINS],
        **{f"{name} % (approx.)": list(v) for name, v in published.LENGTH_REFERENCE.items()}},
        strict=False)
    return Drawn(fig, _n(totals["conversations"], "conversations"), data)


def _label_counts(source: Source, filters: Filters, kind: str) -> Drawn:
    counts = source.query(qo.label_counts, filters)
    mine = counts.filter(pl.col("kind") == kind)
    return Drawn(fo.label_bars(counts, kind), _n(int(mine["n"].sum()), KIND_NOUNS[kind]),
                 mine.select("label", "display_name", "n", "share"))


OVERVIEW_NUMBERS = Entry("overview-numbers", "The data at a glance", _overview_numbers)
PER_MODEL = Entry("overview-per-model", "Per model", _per_model)
LENGTH = Entry("length-distribution", "Messages per conversation", _length)
LABEL_COUNTS = Entry("label-counts", "Reason and reaction counts", _label_counts)


# --------------------------------------------------------------------------- thoughts

def _label_shares(source: Source, filters: Filters, kind: str, compare: bool = True
                  ) -> Drawn:
    dist = source.query(qt.label_distribution, filters)
    totals = source.query(core.totals, filters)
    mine = dist.filter(pl.col("kind") == kind)
    return Drawn(ft.label_share_bars(dist, kind, int(totals["conversations"]), compare),
                 _n(int(mine["n"].sum()), KIND_NOUNS[kind]),
                 mine.select("label", "display_name", "n", "share", "ci_lo", "ci_hi",
                             "n_users", "published_share"))


def _stage_dynamics(source: Source, filters: Filters, kind: str, rule: str = "relative",
                    split: str = "none", top_n: int = qt.DEFAULT_TOP_N) -> Drawn:
    result = source.query(qt.stage_shares, filters, kind, rule, split, qt.panels(split, top_n))
    info = qt.STAGE_RULES[rule]
    split_title = None if split == "none" else qt.SPLITS[split].title
    fig = ft.stage_bars(result, kind, info.title, split_title,
                        axis_title=info.axis_title if rule == "turn" else "")
    shares = result["shares"]
    data = shares.select("facet", "stage", "stage_name", "label", "display_name", "n",
                         "stage_total", "share", "ci_lo", "ci_hi", "n_users")
    return Drawn(fig, _n(int(shares["n"].sum()), KIND_NOUNS[kind]), data)


def _stage_vs_published(source: Source, filters: Filters, kind: str = "reason") -> Drawn:
    result = source.query(qt.stage_shares, filters, kind, "relative", "none", qt.DEFAULT_TOP_N)
    fig = ft.stage_vs_published(result, kind, qt.STAGE_RULES["relative"].title,
                                published.STAGE_SHARES, published.STAGE_SHARES_APPROX)
    shares = result["shares"]
    pub = {(lab, s): v for lab, vals in published.STAGE_SHARES.items()
           for s, v in enumerate(vals)}
    data = shares.select("stage", "stage_name", "label", "display_name", "n", "stage_total",
                         "share", "ci_lo", "ci_hi").with_columns(
        published_share=pl.Series([pub.get((lab, s)) for lab, s in
                                   zip(shares["label"].to_list(), shares["stage"].to_list())],
                                  dtype=pl.Float64))
    return Drawn(fig, _n(int(shares["n"].sum()), KIND_NOUNS[kind]), data)


def _flow(source: Source, filters: Filters, flow: str, rule: str = "relative",
          mode: str = "stages", source_stage: int | None = None,
          include_ends: bool = True) -> Drawn:
    links = source.query(qt.transition_links, filters, flow, rule, mode, source_stage,
                         include_ends)
    totals = source.query(core.totals, filters)
    info = qt.STAGE_RULES[rule]
    mode = "pairs" if flow == "reaction_reason" else mode
    n_pairs = int(links["n"].sum()) if links.height else 0
    title = ft.transition_title(qt.FLOWS[flow], n_pairs, mode, int(totals["conversations"]),
                                info.title,
                                info.names[source_stage] if source_stage is not None else None)
    fig = ft.sankey_figure(links, mode, info.names, _display(source), title,
                           ft.pair_titles(flow))
    return Drawn(fig, _n(n_pairs, "pairs"), links)


LABEL_SHARES = Entry("label-shares", "Thought types", _label_shares)
STAGE_DYNAMICS = Entry("stage-dynamics", "Stage dynamics", _stage_dynamics)
STAGE_VS_PUBLISHED = Entry("stage-vs-published", "Stage dynamics beside the paper",
                           _stage_vs_published)
FLOW = Entry("flow", "Transitions", _flow)


# --------------------------------------------------------------------------- relationships

def _relationship_flow(source: Source, filters: Filters) -> Drawn:
    links = source.query(qrl.relationship_paths, filters)
    flow = source.query(qrl.relationship_flow, filters)
    fig = frl.relationship_flow(links, flow, qrl.FLOW_NAMES)
    n = int(links.filter(pl.col("step_a") == "start")["n"].sum()) if links.height else 0
    return Drawn(fig, _n(n, "conversations"), flow)


def _relationship_shares(source: Source, filters: Filters) -> Drawn:
    shares = source.query(qrl.relationship_shares, filters)
    avail = source.query(qrl.availability)
    note = ("relationships imported from a label file" if avail.get("labels")
            and not avail.get("approx") else
            "relationships: our offline approximation (see the README), not the paper's "
            "LLM labels" if avail.get("approx") else "")
    total = int(shares["n_total"].max() or 0) if shares.height else 0
    return Drawn(frl.relationship_share_bars(shares, source_note=note),
                 _n(total, "user turns"), shares)


def _relationship_by_reason(source: Source, filters: Filters) -> Drawn:
    long = source.query(qrl.relationship_by_reason, filters)
    display = {**_display(source), NO_REASON: NO_REASON}
    reasons = [*LABELS_BY_KIND["reason"], NO_REASON]
    mat = frl.matrix_from_long(long, list(qrl.RELATIONSHIP_NAMES), reasons,
                               qrl.RELATIONSHIP_NAMES, display)
    fig = ftp.label_matrix_heatmap(mat, title="Reasons behind each kind of turn",
                                   unit="reasons", colorscale="Blues")
    return Drawn(fig, _n(int(mat["row_total"].sum()), "reasons"), long)


RELATIONSHIP_FLOW = Entry("relationship-flow", "Multi-turn relationship flow",
                          _relationship_flow, ("relationships",))
RELATIONSHIP_SHARES = Entry("relationship-shares", "Relationship of each user turn",
                            _relationship_shares, ("relationships",))
RELATIONSHIP_BY_REASON = Entry("relationship-by-reason", "Relationship x reason",
                               _relationship_by_reason, ("relationships",))


# --------------------------------------------------------------------------- participants

def _participants(source: Source, filters: Filters, field: str, top_n: int = 15,
                  show: tuple[str, ...] = ("users",), grouping: str = "paper") -> Drawn:
    r = source.query(qp.participant_counts_all, filters, int(top_n), grouping)[field]
    fig = fp.participant_bars(r["counts"], qp.FIELDS[field], r["conversations"], r["users"],
                              show=show, note=fp.participant_note(field, r, int(top_n),
                                                                  grouping))
    return Drawn(fig, f"n = {count(r['conversations'], 'conversation')}, "
                      f"{count(r['users'], 'user')}", r["counts"])


PARTICIPANTS = Entry("participants", "Participants", _participants)


def _participant_profile(source: Source, filters: Filters, user: str = "") -> Drawn:
    """One participant's thought types against everyone else's under ``filters`` (their
    user filter aside); ``user`` "" draws the "no participant chosen" state."""
    convs = source.query(qpt.participant_conversations, filters, user) if user else None
    n_conv = 0 if convs is None else convs.height
    profile = (source.query(qpt.participant_profile, filters, user) if n_conv
               else pl.DataFrame(schema=qpt.PROFILE_SCHEMA))
    fig = fp.participant_profile(profile, user, n_conv, qpt.PROFILE_METHOD)
    mine = int(profile.unique("kind")["user_total"].sum()) if profile.height else 0
    users = {r["kind"]: int(r["others_users"]) for r in profile.unique("kind").to_dicts()}
    who = f"participant {user}" if user else "no participant chosen"
    return Drawn(fig, f"n = {count(mine, 'thought')} of {who} in "
                      f"{count(n_conv, 'conversation')}; everyone else: "
                      f"{users.get('reason', 0):,} other users with reasons, "
                      f"{users.get('reaction', 0):,} with reactions", profile)


PARTICIPANT_PROFILE = Entry("participant-profile", "One participant's thought types",
                            _participant_profile)


# --------------------------------------------------------------------------- topics

HIERARCHY_TITLES = {"primary": "Domains and subtopics: primary topic per conversation",
                    "multi": "Domains and subtopics: every assigned subtopic (multi-label)"}


DONUT_TITLES = {"primary": "Domains: primary topic per conversation",
                "multi": "Domains: every assigned domain (multi-label)"}


def _hierarchy(source: Source, filters: Filters, mode: str = "primary",
               shape: str = "donut") -> Drawn:
    view = source.query(qtp.hierarchy_view, filters, mode)
    unit = "conversations" if mode == "primary" else "topic assignments"
    if shape == "donut":
        fig = ftp.domain_donut(view["frame"], title=DONUT_TITLES[mode], unit=unit,
                               published=published.DOMAIN_SHARES)
    else:
        fig = ftp.topic_hierarchy(view["frame"], kind=shape, title=HIERARCHY_TITLES[mode],
                                  unit=unit, height=680)
    return Drawn(fig, f"n = {view['total']:,} {unit}", view["frame"])


def _clusters(source: Source, filters: Filters, space: str = "task") -> Drawn:
    clusters = source.query(qtp.cluster_summary, filters, space)
    n_real = clusters.filter(~pl.col("is_noise") & (pl.col("n") > 0)).height
    fig = ftp.cluster_bars(clusters, space,
                           title=f"{qtp.SPACES[space]}: {n_real} clusters in the selection")
    return Drawn(fig, f"n = {int(clusters['n'].sum()):,} items", clusters)


def _domain_labels(source: Source, filters: Filters, kind: str = "reason") -> Drawn:
    mat = source.query(qtp.label_matrices, filters)[kind]
    fig = ftp.label_matrix_heatmap(
        mat, title="Reasons by domain" if kind == "reason" else "Reactions by domain",
        unit=KIND_NOUNS[kind], colorscale="Blues" if kind == "reason" else "Oranges")
    return Drawn(fig, _n(int(mat["row_total"].sum()), KIND_NOUNS[kind]), mat["long"])


TOPIC_HIERARCHY = Entry("topics", "Domains and subtopics", _hierarchy, ("topics",))
CLUSTERS = Entry("clusters", "Emergent clusters", _clusters, ("clusters",))
DOMAIN_LABELS = Entry("domain-label-shares", "Thought types by domain", _domain_labels,
                      ("topics",))


# --------------------------------------------------------------------------- shifts

#: Points per panel of the preview a new tab draws first (SVG: no WebGL context to create,
#: which costs a GPU-less browser about a second); the full page replaces it. SVG draws
#: each point as an element: plotly.js took 139 ms for the three panels at 600 points a
#: panel and 80 ms at 200 (the one-chart floor page's three bars: 12 ms), measured in
#: headless Chromium.
PREVIEW_PANEL_POINTS = 200


def _shift_panels(source: Source, filters: Filters, max_points: int = qs.MAX_PANEL_POINTS,
                  hover_texts: bool = True, height: int = 440, preview: bool = False) -> Drawn:
    """The three centred-gap panels; ``preview``: at most `PREVIEW_PANEL_POINTS` points a
    panel, drawn as SVG without hover texts (the same rings, which use every pair)."""
    if preview:
        max_points, hover_texts = min(int(max_points), PREVIEW_PANEL_POINTS), False
    panels = source.query(qs.shift_panels, filters, int(max_points),
                          qs.SNIPPET_MAX_PAIRS if hover_texts else 0)
    fig = fs.shift_panels(panels["points"], panels["rings"], n=panels["n"],
                          shown=panels["shown"], texts=panels["texts"],
                          label_names=_display(source), height=height, gl=not preview)
    rings = panels["rings"].with_columns(pair=pl.col("pair_type").replace_strict(PAIR_TITLES))
    return Drawn(fig, _n(sum(panels["n"].values()), "pairs"), rings)


def map_hits(source: Source, hits: tuple[tuple[str, tuple[str, ...]], ...]
             ) -> list[tuple[str, pl.DataFrame]]:
    """``(name, map positions)`` of each highlighted search on the global map."""
    return [(name, source.query(qs.map_positions, tuple(ids))) for name, ids in hits]


#: Points of the global map's preview (SVG, stratified by colour) that a new tab draws
#: first: 57 ms of plotly.js at 800 points, 120 ms at 2,000 (measured as the panels').
PREVIEW_MAP_POINTS = 800


def _global_map(source: Source, filters: Filters, color_by: str = "kind",
                arrows_for: str = "",
                hits: tuple[tuple[str, tuple[str, ...]], ...] = (),
                preview: bool = False) -> Drawn:
    """The map; ``hits``: ``(name, item ids)`` of each search whose hits are highlighted
    (named in the title; the data gains a ``hit`` column naming the search). ``preview``:
    at most `PREVIEW_MAP_POINTS` points (every colour kept), drawn as SVG."""
    data = source.query(qs.map_points, filters, color_by)
    arrows = source.query(qs.conversation_arrows, arrows_for) if arrows_for else None
    found = map_hits(source, hits)
    points = (qs.stratified_sample(data["points"], "color", PREVIEW_MAP_POINTS) if preview
              else data["points"])
    fig = fs.global_map(points, color_by, names=item_names(_display(source)),
                        total=data["total"], arrows=arrows, arrows_title=arrows_for,
                        hits=found, gl=not preview)
    cols = ("item_id", "kind", "label", "conv_id", "turn", "x", "y")
    table = points.select(*cols, "color")
    if found:
        marks = pl.concat([f.select("item_id", pl.lit(name).alias("hit"))
                           for name, f in found]).unique("item_id", keep="first")
        extra = pl.concat([f.select(*cols) for _, f in found]).unique("item_id",
                                                                      keep="first")
        extra = extra.join(table.select("item_id"), on="item_id", how="anti").with_columns(
            color=pl.lit(None, dtype=pl.Utf8))
        table = pl.concat([table, extra]).join(marks, on="item_id", how="left")
        fig.update_layout(title_text=fig.layout.title.text + "<br><sup>highlighted: "
                          + esc("; ".join(f"{name} ({f.height:,} on the map)"
                                          for name, f in found)) + "</sup>")
    return Drawn(fig, _n(data["total"], "points"), table)


def _selection_labels(source: Source, filters: Filters, color_by: str = "kind",
                      items: tuple[str, ...] = ()) -> Drawn:
    points = source.query(qs.map_points, filters, color_by)["points"]
    dist = qs.selection_labels(points, items)
    return Drawn(fs.label_distribution(dist, item_names(_display(source))),
                 _n(len(items), "selected items"), dist)


SHIFT_PANELS = Entry("semantic-shifts", "Semantic shifts: the three pair types",
                     _shift_panels, ("shifts",), previews=True)
GLOBAL_MAP = Entry("global-map", "Global map of user messages and thoughts", _global_map,
                   ("shifts",), previews=True)
SELECTION_LABELS = Entry("selected-map-items-labels", "Labels of the selected map items",
                         _selection_labels, ("shifts",))


# --------------------------------------------------------------------------- next steps

def _next_steps_flow(source: Source, filters: Filters) -> Drawn:
    rows = source.query(qns.dissatisfaction_next, filters)
    links = qns.flow_links(rows)
    fig = fns.next_steps_sankey(links, _display(source), qns.NEXT_NAMES, rows.height)
    return Drawn(fig, _n(rows.height, "dissatisfaction reactions"), links)


def _voicing_threshold(source: Source, filters: Filters) -> Drawn:
    pairs = source.query(qns.similarity_pairs, filters)
    threshold = source.query(qns.voicing_threshold)
    fig = fns.similarity_histogram(pairs, threshold)
    return Drawn(fig, _n(pairs.height, "reaction-message pairs"),
                 pairs.select("conv_id", "turn", "other_turn", "pair", "similarity"
                              ).with_columns(tau=pl.lit(threshold["tau"], pl.Float64)))


def _unvoiced(source: Source, filters: Filters, by: str = "stage", measure: str = "voiced",
              include_ends: bool = True) -> Drawn:
    rows = source.query(qns.dissatisfaction_next, filters)
    shares = qns.unvoiced_shares(rows, by, measure, include_ends)
    fig = fns.unvoiced_dots(shares, qns.GROUPINGS[by].title, qns.MEASURES[measure].title,
                            include_ends=include_ends, display=_display(source))
    return Drawn(fig, _n(int(shares["n"][0]) if shares.height else 0,
                         "dissatisfaction reactions"), shares)


def _voicing_ratio(source: Source, filters: Filters, include_ends: bool = True) -> Drawn:
    rows = source.query(qns.dissatisfaction_next, filters)
    table = qns.ratio_rows(rows, include_ends)
    fig = fns.ratio_dots(table, include_ends=include_ends)
    return Drawn(fig, _n(int(table["n"].max() or 0), "dissatisfaction reactions"), table)


def _timing(source: Source, filters: Filters, measure: str = "response") -> Drawn:
    summary = source.query(qns.timing, filters, measure)
    info = qns.TIMINGS[measure]
    fig = fns.timing_figure(summary, info.title, info.group_title, _display(source),
                            thought=info.kind)
    return Drawn(fig, _n(summary["totals"]["all"], "gaps"),
                 summary["groups"].with_columns(measure=pl.lit(measure),
                                                cap_s=pl.lit(summary["cap_s"])))


NEXT_STEPS_FLOW = Entry("dissatisfaction-next-steps", "After a dissatisfaction",
                        _next_steps_flow, ("relationships",))
VOICING_THRESHOLD = Entry("voicing-threshold", "Does the next message voice it?",
                          _voicing_threshold, ("relationships",))
UNVOICED = Entry("unvoiced-dissatisfaction", "Unvoiced dissatisfaction", _unvoiced,
                 ("relationships",))
VOICING_RATIO = Entry("thoughts-to-messages-ratio", "Dissatisfaction: thoughts / messages",
                      _voicing_ratio, ("relationships",))
TIMING = Entry("timing", "Timing of replies and thoughts", _timing)


# --------------------------------------------------------------------------- A against B

def _compare(source: Source, filters: Filters, comparison: Comparison = Comparison(),
             dimension: str = "reason", stage: str | None = None) -> Drawn:
    """Subset A (``filters``) against subset B (``comparison``) on one dimension."""
    res = source.query(qcmp.compare, filters, comparison, dimension, stage)
    display = _display(source)
    a_name, b_name = filters.describe(display), comparison.describe_b(display)
    title = qcmp.DIMENSIONS[dimension][0] + (f", {stage} stage" if stage else "")
    fig = fcmp.compare_figure(res["table"], res["test"], title=title, a_name=a_name,
                              b_name=b_name, unit=res["unit"],
                              method=METHOD + " of A ∪ B (a user in both moves as one)",
                              names=qcmp.category_names(dimension, display),
                              error=res["error"])
    test = res["test"]
    n = (f"n = {test.get('users_a', 0):,} + {test.get('users_b', 0):,} users, "
         f"{test.get('items_a', 0):,} + {test.get('items_b', 0):,} {res['unit']}")
    data = res["table"].with_columns(
        pl.lit(dimension).alias("dimension"), pl.lit(stage, dtype=pl.Utf8).alias("stage"),
        pl.lit(test.get("cramers_v"), dtype=pl.Float64).alias("cramers_v"),
        pl.lit(test.get("p_value"), dtype=pl.Float64).alias("p_value"))
    return Drawn(fig, n, data, subsets=f"A: {a_name} vs B: {b_name}")


COMPARE = Entry("compare-subsets", "Subset A against subset B", _compare)


def _compare_shifts(source: Source, filters: Filters,
                    comparison: Comparison = Comparison()) -> Drawn:
    """Subset A (``filters``) against B on the median semantic shift per pair type."""
    res = source.query(qcmp.compare_shifts, filters, comparison)
    display = _display(source)
    a_name, b_name = filters.describe(display), comparison.describe_b(display)
    fig = fcmp.compare_shifts_figure(
        res["table"], a_name=a_name, b_name=b_name,
        method=METHOD + " of A ∪ B (a user in both moves as one)",
        names=PAIR_TITLES, n_perm=N_PERM, error=res["error"],
        users=(res["overlap"]["users_a"], res["overlap"]["users_b"]))
    t = res["table"]
    n = (f"n = {int(t['n_a'].sum()):,} + {int(t['n_b'].sum()):,} pairs" if t.height
         else "n = 0 pairs")
    return Drawn(fig, n, t, subsets=f"A: {a_name} vs B: {b_name}")


COMPARE_SHIFTS = Entry("compare-shifts", "Semantic shifts: subset A against subset B",
                       _compare_shifts, ("shifts",))


#: Every entry, in the order of the pages.
ENTRIES: tuple[Entry, ...] = (
    OVERVIEW_NUMBERS, PER_MODEL, LENGTH, LABEL_COUNTS, LABEL_SHARES, STAGE_DYNAMICS,
    STAGE_VS_PUBLISHED, FLOW, RELATIONSHIP_FLOW, RELATIONSHIP_SHARES, RELATIONSHIP_BY_REASON,
    NEXT_STEPS_FLOW, VOICING_THRESHOLD, UNVOICED, VOICING_RATIO, TIMING,
    PARTICIPANTS, PARTICIPANT_PROFILE, TOPIC_HIERARCHY, CLUSTERS, DOMAIN_LABELS,
    SHIFT_PANELS, GLOBAL_MAP, SELECTION_LABELS, COMPARE, COMPARE_SHIFTS)


@dataclass(frozen=True)
class PackFigure:
    """One figure of the pack: a file name, a catalogue entry and its options."""

    key: str
    entry: Entry
    options: tuple[tuple[str, Any], ...] = ()

    def build(self, source: Source, filters: Filters) -> Drawn:
        return self.entry(source, filters, **dict(self.options))


#: Semantic-shift points drawn per panel in the pack (seeded sample, noted on the figure;
#: the rings use every pair): a third of a 1200 px figure is saturated well before this,
#: and vector SVG/PDF stay small and quick to render.
PACK_SHIFT_POINTS = 3000
PACK_PARTICIPANT_FIELDS = ("age", "gender", "education", "ai_frequency")

#: The figure pack, in order (`components.export.pack`).
PACK: tuple[PackFigure, ...] = (
    PackFigure("overview-numbers", OVERVIEW_NUMBERS),
    PackFigure("overview-per-model", PER_MODEL),
    PackFigure("length-distribution", LENGTH),
    PackFigure("domains", TOPIC_HIERARCHY, (("mode", "primary"), ("shape", "donut"))),
    PackFigure("domains-and-subtopics", TOPIC_HIERARCHY, (("mode", "primary"),
                                                          ("shape", "sunburst"))),
    PackFigure("reason-types", LABEL_SHARES, (("kind", "reason"), ("compare", True))),
    PackFigure("reaction-types", LABEL_SHARES, (("kind", "reaction"), ("compare", True))),
    PackFigure("stage-dynamics-reasons", STAGE_DYNAMICS, (("kind", "reason"),)),
    PackFigure("stage-dynamics-reactions", STAGE_DYNAMICS, (("kind", "reaction"),)),
    PackFigure("stage-vs-published-reasons", STAGE_VS_PUBLISHED, (("kind", "reason"),)),
    PackFigure("stage-vs-published-reactions", STAGE_VS_PUBLISHED, (("kind", "reaction"),)),
    PackFigure("flow-reason-reason", FLOW, (("flow", "reason"), ("mode", "stages"))),
    PackFigure("flow-reaction-reason", FLOW, (("flow", "reaction_reason"),
                                              ("mode", "pairs"))),
    PackFigure("relationship-flow", RELATIONSHIP_FLOW),
    PackFigure("relationship-shares", RELATIONSHIP_SHARES),
    PackFigure("semantic-shifts", SHIFT_PANELS, (("max_points", PACK_SHIFT_POINTS),
                                                 ("hover_texts", False), ("height", 470))),
    *(PackFigure(f"participants-{f.replace('_', '-')}", PARTICIPANTS, (("field", f),))
      for f in PACK_PARTICIPANT_FIELDS),
)
