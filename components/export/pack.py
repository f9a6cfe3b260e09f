"""The figure pack: every chart of the figure catalogue's pack for one subset, ready for
slides and papers — PNG (3×) and SVG per figure, the numbers each draws as CSV, and an
``index.html`` that shows them with their captions.

It reads the DuckDB file read-only and builds each figure with its catalogue entry
(`components.figures.catalogue.PACK`), the very build the pages use, so a pack figure is
the figure the app shows for that filter. A figure whose tables the DB lacks (e.g. a DB
built with ``ingest`` only has no topics or semantic shifts) is skipped with a note in the
index.

Command line: ``python cli.py figures --db D --out DIR [filter options]``.
"""

from __future__ import annotations

import html
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from components.db import connect
from components.export import render
from components.figures.catalogue import PACK, DirectSource
from components.filters import FilterError, Filters, strict_filters
from components.queries import core, relationships, shifts, topics
from components.vocabulary import CITATION_BIBTEX

FORMATS = ("png", "svg")


class PackError(Exception):
    """The pack cannot be made (no such DB, filters that match nothing, bad values)."""


@dataclass
class PackItem:
    key: str
    title: str
    files: dict[str, str] = field(default_factory=dict)  # format -> file name
    data_file: str = ""   # the numbers drawn, as CSV
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


NEEDS_NOTE = {
    "topics": "the database has no topics (it was built without the topics stage)",
    "clusters": "the database has no clusters (it was built without the clusters stage)",
    "shifts": "the database has no semantic-shift tables (built without the shifts stage)",
    "relationships": "the database's user turns have no relationship (built without the "
                     "relationships stage)",
}


# --------------------------------------------------------------------------- filters


# --------------------------------------------------------------------------- render


def _available(con: duckdb.DuckDBPyConnection) -> set[str]:
    have = {name for name, ok in topics.availability(con).items() if ok}
    if shifts.availability(con)["shifts"]:
        have.add("shifts")
    if relationships.availability(con)["relationships"]:
        have.add("relationships")
    return have


def _plain(title: str) -> str:
    """A figure title without its markup (first line only)."""
    first = re.split(r"<br\s*/?>", title or "", maxsplit=1)[0]
    return html.unescape(re.sub(r"<[^>]+>", "", first)).strip()


def render_pack(db: str | Path, out: str | Path, filters: Filters | None = None, *,
                params: Mapping[str, Sequence[str] | str] | None = None,
                caption: bool = True, scale: int = render.PNG_SCALE,
                formats: Sequence[str] = FORMATS, only: Sequence[str] | None = None,
                progress: bool = True, day: str | None = None) -> PackReport:
    """Render the figure pack of ``db`` for ``filters`` (or URL-style ``params``) into
    the folder ``out``: ``NN-key.png`` / ``.svg`` / ``.csv`` (the numbers drawn) per figure
    and ``index.html``.

    Args:
        caption: put the caption line (dataset and version, filters, n, date) under each
            exported figure; index.html always shows it.
        scale: PNG pixel density (3 for slides and print; 1 for a quick look).
        only: figure keys to render (default: all of `catalogue.PACK`).
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
    specs = [s for s in PACK if only is None or s.key in only]
    if only is not None and len(specs) != len(set(only)):
        unknown = sorted(set(only) - {s.key for s in PACK})
        raise PackError(f"unknown figure(s): {', '.join(unknown)}")
    con = connect(db)
    try:
        if filters is None:
            try:
                filters = strict_filters(params or {}, core.facet_options(con))
            except FilterError as exc:
                raise PackError(str(exc)) from None
        display = core.label_names(con)
        totals = core.totals(con, filters)
        if not totals["conversations"]:
            raise PackError(f"no conversations match the filters "
                            f"({filters.describe(display)})")
        render.start_server()  # Chromium starts while the first queries run
        prov = core.provenance(con)
        have = _available(con)
        source = DirectSource(con)
        out.mkdir(parents=True, exist_ok=True)
        described = filters.describe(display)
        items: list[PackItem] = []
        jobs: list[tuple[PackItem, list[render.ExportJob]]] = []
        # 1. query and build every figure (Python; Chromium boots meanwhile)
        for i, spec in enumerate(specs, start=1):
            item = PackItem(spec.key, spec.entry.title)
            items.append(item)
            missing = [n for n in spec.entry.needs if n not in have]
            if missing:
                item.skipped = "; ".join(NEEDS_NOTE[n] for n in missing)
                continue
            t = time.perf_counter()
            try:
                drawn = spec.build(source, filters)
            except Exception as exc:  # noqa: BLE001 - reported in the index and exit code
                item.failed = f"{type(exc).__name__}: {exc}"
                continue
            fig = drawn.figure
            item.title = _plain(fig.layout.title.text or "") or spec.entry.title
            info = render.caption_from_provenance(prov, described, drawn.n)
            if day:
                info = render.CaptionInfo(info.dataset, info.version, info.filters, info.n,
                                          day)
            item.caption = info.text()
            names = {fmt: f"{i:02d}-{spec.key}.{fmt}" for fmt in formats}
            for name in names.values():
                (out / name).unlink(missing_ok=True)  # no stale file if this one fails
            item.files = names
            if drawn.data is not None:
                item.data_file = f"{i:02d}-{spec.key}.csv"
                (out / item.data_file).write_bytes(render.data_csv(drawn.data, item.caption))
            item.seconds = time.perf_counter() - t
            jobs.append((item, [render.ExportJob(fig, fmt, str(out / name),
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


def _render(out: Path, jobs: list[tuple[PackItem, list[render.ExportJob]]],
            progress: bool) -> list[Exception]:
    """Render every job in one `render.write_many` call, with a progress bar on stderr
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
        return render.write_many([j for _, js in jobs for j in js], raise_errors=False)
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
    info = render.caption_from_provenance(prov, report.filters, "")
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
        if item.data_file:
            links += f' <a href="{e(item.data_file, quote=True)}">data (CSV)</a>'

        parts.append(
            f'<figure id="{anchor}"><h2>{e(item.title)}</h2>'
            + (f'<a href="{e(item.files.get("svg", img), quote=True)}">'
               f'<img src="{e(img, quote=True)}" alt="{e(item.title, quote=True)}"></a>'
               if img else "")
            + f"<figcaption>{e(item.caption)}</figcaption>"
            + f'<p class="files">{links}</p></figure>')
    parts += ["<h2>Cite the dataset</h2>", f"<pre>{e(CITATION_BIBTEX)}</pre>",
              "</body></html>"]
    return "\n".join(parts) + "\n"
