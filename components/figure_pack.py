"""The figure pack (no streamlit): every chart of the app for one subset, ready for slides
and papers — PNG (3×) and SVG per figure plus an ``index.html`` that shows them with
their captions.

It reads the DuckDB file read-only through the same query functions the pages use
(`components.queries`, `analysis`, `topicviews`, `shiftviews`, called with a cursor and a
`Filters`) and draws with the same pure builders, so a pack figure is the figure the app
shows for that filter. A figure whose tables the DB lacks (e.g. a DB built with
``ingest`` only has no topics or semantic shifts) is skipped with a note in the index.

Command line: ``python -m precompute figures --db D --out DIR [filter options]``.
"""

from __future__ import annotations

import html
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import duckdb
import pandas as pd
import plotly.graph_objects as go

from components import analysis, export, queries, shiftviews, topicviews
from components import analysis_figures as af
from components import figures
from components import map_figures as mf
from components.db import connect
from components.filters import Filters, from_query_params

FORMATS = ("png", "svg")
STAGE_RULE = "relative"
PARTICIPANT_FIELDS = ("age", "gender", "education", "ai_frequency")
#: Semantic-shift points drawn per panel in the pack (seeded sample, noted on the figure;
#: the rings use every pair): a third of a 1200 px figure is saturated well before this,
#: and vector SVG/PDF stay small and quick to render.
SHIFT_POINTS = 3000


class PackError(Exception):
    """The pack cannot be made (no such DB, filters that match nothing, bad values)."""


@dataclass(frozen=True)
class Context:
    con: duckdb.DuckDBPyConnection
    filters: Filters
    display: Mapping[str, str]
    totals: Mapping[str, Any]


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the pack: ``build(ctx) -> (figure, n text)``; ``needs`` says which
    analytics it requires ("topics", "shifts"); core tables are always there."""

    key: str
    title: str
    build: Callable[[Context], tuple[go.Figure, str]]
    needs: tuple[str, ...] = ()


@dataclass
class PackItem:
    key: str
    title: str
    files: dict[str, str] = field(default_factory=dict)  # format -> file name
    caption: str = ""
    skipped: str = ""     # why it was skipped (DB lacks the tables)
    failed: str = ""      # error text when building or rendering raised
    seconds: float = 0.0


@dataclass
class PackReport:
    out: Path
    items: list[PackItem]
    filters: str
    seconds: float

    @property
    def written(self) -> list[PackItem]:
        return [i for i in self.items if i.files]

    @property
    def failed(self) -> list[PackItem]:
        return [i for i in self.items if i.failed]

    @property
    def skipped(self) -> list[PackItem]:
        return [i for i in self.items if i.skipped]


# --------------------------------------------------------------------------- builders


def _n(count: int, noun: str) -> str:
    return f"n = {count:,} {noun}"


def _overview(ctx: Context) -> tuple[go.Figure, str]:
    return (figures.overview_numbers(ctx.totals),
            _n(ctx.totals["conversations"], "conversations"))


def _per_model(ctx: Context) -> tuple[go.Figure, str]:
    t = ctx.totals
    table = queries.per_model(ctx.con, ctx.filters)
    total = pd.DataFrame([{"model": "All models", "provider": "", "users": t["users"],
                           "conversations": t["conversations"], "messages": t["messages"],
                           "thoughts": t["thoughts"]}])
    table = pd.concat([table, total], ignore_index=True)
    return (figures.summary_table(table, "Users, conversations, messages and thoughts "
                                         "per model"),
            _n(t["conversations"], "conversations"))


def _length(ctx: Context) -> tuple[go.Figure, str]:
    counts = queries.length_counts(ctx.con, ctx.filters)
    return (figures.length_histogram(counts, ctx.totals["median_messages"]),
            _n(ctx.totals["conversations"], "conversations"))


def _domains(ctx: Context) -> tuple[go.Figure, str]:
    view = topicviews.hierarchy_view(ctx.con, ctx.filters, "primary")
    fig = mf.topic_hierarchy(view["frame"], kind="sunburst",
                             title="Domains and subtopics (primary topic per conversation)",
                             unit="conversations", height=700)
    return fig, _n(view["total"], "conversations")


def _types(kind: str) -> Callable[[Context], tuple[go.Figure, str]]:
    def build(ctx: Context) -> tuple[go.Figure, str]:
        dist = analysis.label_distribution(ctx.con, ctx.filters)
        n = int(dist.loc[dist["kind"] == kind, "n"].sum())
        return (af.label_share_bars(dist, kind, int(ctx.totals["conversations"]), True),
                _n(n, af.KIND_NOUNS[kind]))
    return build


def _stages(kind: str) -> Callable[[Context], tuple[go.Figure, str]]:
    def build(ctx: Context) -> tuple[go.Figure, str]:
        res = analysis.stage_shares(ctx.con, ctx.filters, kind, STAGE_RULE, "none", 6)
        rule = analysis.STAGE_RULES[STAGE_RULE]
        n = int(res["shares"]["n"].sum()) if len(res["shares"]) else 0
        return af.stage_bars(res, kind, rule.title, None, axis_title=""), \
            _n(n, af.KIND_NOUNS[kind])
    return build


def _flow(flow: str, mode: str) -> Callable[[Context], tuple[go.Figure, str]]:
    def build(ctx: Context) -> tuple[go.Figure, str]:
        rule = analysis.STAGE_RULES[STAGE_RULE]
        links = analysis.transition_links(ctx.con, ctx.filters, flow, STAGE_RULE, mode)
        n_pairs = int(links["n"].sum()) if len(links) else 0
        title = af.transition_title(analysis.FLOWS[flow], n_pairs, mode,
                                    int(ctx.totals["conversations"]), rule.title)
        fig = af.sankey_figure(links, mode, rule.names, ctx.display, title,
                               af.pair_titles(flow))
        return fig, _n(n_pairs, "pairs")
    return build


def _shifts(ctx: Context) -> tuple[go.Figure, str]:
    panels = shiftviews.shift_panels(ctx.con, ctx.filters, max_points=SHIFT_POINTS,
                                     snippet_max=0)
    fig = mf.shift_panels(panels["points"], panels["rings"], n=panels["n"],
                          shown=panels["shown"], texts=panels["texts"],
                          label_names=ctx.display, height=470)
    return fig, _n(sum(panels["n"].values()), "pairs")


def _participants(name: str) -> Callable[[Context], tuple[go.Figure, str]]:
    def build(ctx: Context) -> tuple[go.Figure, str]:
        r = analysis.participant_counts(ctx.con, ctx.filters, name, 15)
        fig = af.participant_bars(r["counts"], analysis.FIELDS[name], r["conversations"],
                                  r["users"], note=af.participant_note(name, r))
        return fig, f"n = {r['conversations']:,} conversations, {r['users']:,} users"
    return build


SPECS: tuple[FigureSpec, ...] = (
    FigureSpec("overview-numbers", "The data at a glance", _overview),
    FigureSpec("overview-per-model", "Per model", _per_model),
    FigureSpec("length-distribution", "Messages per conversation", _length),
    FigureSpec("domains", "Domains and subtopics", _domains, ("topics",)),
    FigureSpec("reason-types", "Reason types", _types("reason")),
    FigureSpec("reaction-types", "Reaction types", _types("reaction")),
    FigureSpec("stage-dynamics-reasons", "Stage dynamics: reasons", _stages("reason")),
    FigureSpec("stage-dynamics-reactions", "Stage dynamics: reactions", _stages("reaction")),
    FigureSpec("flow-reason-reason", "Flow: reason → next reason",
               _flow("reason", "stages")),
    FigureSpec("flow-reaction-reason", "Flow: reaction → reason on the next message",
               _flow("reaction_reason", "pairs")),
    FigureSpec("semantic-shifts", "Semantic shifts: the three pair types", _shifts,
               ("shifts",)),
    *(FigureSpec(f"participants-{name.replace('_', '-')}",
                 f"Participants: {analysis.FIELDS[name]}", _participants(name))
      for name in PARTICIPANT_FIELDS),
)

NEEDS_NOTE = {
    "topics": "the database has no topics (it was built without the topics stage)",
    "shifts": "the database has no semantic-shift tables (built without the shifts stage)",
}


# --------------------------------------------------------------------------- filters


def filters_from_options(con: duckdb.DuckDBPyConnection,
                         params: Mapping[str, Sequence[str] | str]) -> Filters:
    """`Filters` from URL-style parameters (``{"model": [...], "domain": [...], "msgs":
    "4-20", ...}``), validated against the DB's values; an unknown value is an error
    (a typo must not silently give a pack of all the data)."""
    params = {k: v for k, v in params.items() if v not in (None, [], (), "")}
    filters, notices = from_query_params(params, queries.facet_options(con))
    if notices:
        raise PackError("; ".join(n.removeprefix("ignored ") for n in notices)
                        + " (use the values the app's sidebar shows)")
    return filters


# --------------------------------------------------------------------------- render


def _available(con: duckdb.DuckDBPyConnection) -> set[str]:
    have = set()
    if topicviews.availability(con)["topics"]:
        have.add("topics")
    if shiftviews.availability(con)["shifts"]:
        have.add("shifts")
    return have


def _plain(title: str) -> str:
    """A figure title without its markup (first line only)."""
    first = re.split(r"<br\s*/?>", title or "", maxsplit=1)[0]
    return html.unescape(re.sub(r"<[^>]+>", "", first)).strip()


def render_pack(db: str | Path, out: str | Path, filters: Filters | None = None, *,
                params: Mapping[str, Sequence[str] | str] | None = None,
                caption: bool = True, scale: int = export.PNG_SCALE,
                formats: Sequence[str] = FORMATS, only: Sequence[str] | None = None,
                progress: bool = True, day: str | None = None) -> PackReport:
    """Render the figure pack of ``db`` for ``filters`` (or URL-style ``params``) into
    the folder ``out``: ``NN-key.png`` / ``.svg`` per figure and ``index.html``.

    Args:
        caption: put the caption line (dataset and version, filters, n, date) under each
            exported figure; index.html always shows it.
        scale: PNG pixel density (3 for slides and print; 1 for a quick look).
        only: figure keys to render (default: all of `SPECS`).
        progress: a tqdm progress bar on stderr.
        day: the caption date (default: today).

    Raises:
        PackError: no DB at ``db``, unknown filter values, or no conversation matches.
    """
    t0 = time.perf_counter()
    db, out = Path(db), Path(out)
    if not db.is_file():
        raise PackError(f"{db}: no database file (build one with python -m precompute "
                        f"build --db {db})")
    specs = [s for s in SPECS if only is None or s.key in only]
    if only is not None and len(specs) != len(set(only)):
        unknown = sorted(set(only) - {s.key for s in SPECS})
        raise PackError(f"unknown figure(s): {', '.join(unknown)}")
    con = connect(db)
    try:
        if filters is None:
            filters = filters_from_options(con, params or {})
        display = dict(zip(*[queries.labels(con)[c] for c in ("code", "display_name")]))
        totals = queries.totals(con, filters)
        if not totals["conversations"]:
            raise PackError(f"no conversations match the filters "
                            f"({filters.describe(display)})")
        export.start_server()  # Chromium starts while the first queries run
        prov = queries.provenance(con)
        have = _available(con)
        ctx = Context(con, filters, display, totals)
        out.mkdir(parents=True, exist_ok=True)
        described = filters.describe(display)
        items: list[PackItem] = []
        jobs: list[tuple[PackItem, list[export.ExportJob]]] = []
        # 1. query and build every figure (Python; Chromium boots meanwhile)
        for i, spec in enumerate(specs, start=1):
            item = PackItem(spec.key, spec.title)
            items.append(item)
            missing = [n for n in spec.needs if n not in have]
            if missing:
                item.skipped = "; ".join(NEEDS_NOTE[n] for n in missing)
                continue
            t = time.perf_counter()
            try:
                fig, n = spec.build(ctx)
            except Exception as exc:  # noqa: BLE001 - reported in the index and exit code
                item.failed = f"{type(exc).__name__}: {exc}"
                continue
            item.title = _plain(fig.layout.title.text or "") or spec.title
            info = export.caption_from_provenance(prov, described, n)
            if day:
                info = export.CaptionInfo(info.dataset, info.version, info.filters, info.n,
                                          day)
            item.caption = info.text()
            names = {fmt: f"{i:02d}-{spec.key}.{fmt}" for fmt in formats}
            for name in names.values():
                (out / name).unlink(missing_ok=True)  # no stale file if this one fails
            item.files = names
            item.seconds = time.perf_counter() - t
            jobs.append((item, [export.ExportJob(fig, fmt, str(out / name),
                                                 item.caption if caption else None, scale)
                                for fmt, name in names.items()]))
    finally:
        con.close()
    # 2. render all files in one batch (the export server's tabs work in parallel)
    errors = _render(out, jobs, progress)
    for item, _ in jobs:
        bad = [name for name in item.files.values()
               if not (out / name).is_file() or (out / name).stat().st_size == 0]
        if bad:
            item.failed = (f"not rendered: {', '.join(bad)}"
                           + (f" ({'; '.join(str(e) for e in errors)})" if errors else ""))
            item.files = {f: n for f, n in item.files.items() if n not in bad}
    report = PackReport(out, items, described, time.perf_counter() - t0)
    (out / "index.html").write_text(index_html(report, prov, totals, scale=scale,
                                               day=day or date.today().isoformat(),
                                               captioned=caption), encoding="utf-8")
    return report


def _render(out: Path, jobs: list[tuple[PackItem, list[export.ExportJob]]],
            progress: bool) -> list[Exception]:
    """Render every job in one `export.write_many` call, with a progress bar on stderr
    that counts the files as they appear."""
    import threading

    from tqdm import tqdm

    files = [Path(j.path) for _, js in jobs for j in js]
    bar = tqdm(total=len(files), desc="figures", unit="file", file=sys.stderr,
               disable=not progress)
    done = threading.Event()

    def watch() -> None:
        seen = 0
        while not done.wait(0.2):
            now = sum(1 for f in files if f.exists() and f.stat().st_size > 0)
            if now > seen:
                bar.update(now - seen)
                seen = now
        bar.update(sum(1 for f in files if f.exists() and f.stat().st_size > 0) - seen)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        return export.write_many([j for _, js in jobs for j in js], raise_errors=False)
    except Exception as exc:  # noqa: BLE001 - e.g. no Chromium: every figure says why
        return [exc]
    finally:
        done.set()
        watcher.join()
        bar.close()


# --------------------------------------------------------------------------- index


_CSS = """
body{font-family:Inter,'Helvetica Neue',Arial,sans-serif;color:#222;max-width:1240px;
margin:2em auto;padding:0 1em;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em} h2{font-size:1.2em;margin:0 0 .4em}
.meta{color:#555;margin-bottom:2em} figure{margin:0 0 2.6em;padding:0}
figure img{width:100%;height:auto;border:1px solid #e4e4e4}
figcaption{color:#555;font-size:.92em;margin-top:.4em} .files a{margin-right:1em}
.skipped,.failed{border-left:4px solid #E0B070;background:#FFF8EC;padding:.6em 1em;
margin:0 0 2em} .failed{border-color:#CC3311;background:#FDEDEA}
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:.9em}
"""


def index_html(report: PackReport, prov: Mapping[str, Any], totals: Mapping[str, Any], *,
               scale: int, day: str, captioned: bool) -> str:
    """The pack's index page: every figure (PNG shown, SVG and PNG linked, relative
    paths) with its caption; skipped and failed figures with the reason. All text is
    escaped."""
    e = html.escape
    info = export.caption_from_provenance(prov, report.filters, "")
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>ThoughtTrace Explorer — figure pack</title>", f"<style>{_CSS}</style>",
        "</head><body>", "<h1>ThoughtTrace Explorer — figure pack</h1>",
        '<p class="meta">'
        f"{e(info.dataset)} · {e(info.version)}<br>"
        f"{e(info.filters)} · {int(totals['conversations']):,} conversations, "
        f"{int(totals['users']):,} users, {int(totals['thoughts']):,} thoughts<br>"
        f"made {e(day)} · PNG at {int(scale)}× · "
        + ("each image carries its caption line" if captioned
           else "images without caption lines (--no-caption)") + "</p>",
    ]
    for item in report.items:
        anchor = e(item.key, quote=True)
        if item.skipped:
            parts.append(f'<section class="skipped" id="{anchor}"><h2>{e(item.title)}</h2>'
                         f"<p>Skipped: {e(item.skipped)}. Run <code>python -m precompute "
                         "build</code> on the database to add it.</p></section>")
            continue
        if item.failed and not item.files:
            parts.append(f'<section class="failed" id="{anchor}"><h2>{e(item.title)}</h2>'
                         f"<p>Failed: {e(item.failed)}</p></section>")
            continue
        img = item.files.get("png") or item.files.get("svg")
        links = " ".join(f'<a href="{e(name, quote=True)}">{fmt.upper()}</a>'
                         for fmt, name in item.files.items())
        parts.append(
            f'<figure id="{anchor}"><h2>{e(item.title)}</h2>'
            + (f'<a href="{e(item.files.get("svg", img), quote=True)}">'
               f'<img src="{e(img, quote=True)}" alt="{e(item.title, quote=True)}"></a>'
               if img else "")
            + f"<figcaption>{e(item.caption)}</figcaption>"
            + f'<p class="files">{links}</p></figure>')
    parts += ["<h2>Cite the dataset</h2>", f"<pre>{e(export.CITATION_BIBTEX)}</pre>",
              "</body></html>"]
    return "\n".join(parts) + "\n"
