"""Slide-quality figure export: PNG at 3x, SVG, PDF and interactive HTML, each with an
optional caption line stating dataset and version, filters, n and date.

Static formats go through kaleido with the system Chromium; one export server is started
per process (`kaleido.start_sync_server`, MathJax off so nothing is fetched).
"""

from __future__ import annotations

import copy
import html
import threading
import warnings
from dataclasses import dataclass
from datetime import date

import plotly.graph_objects as go
import polars as pl

from components.figures.theme import CAPTION_SIZE, MUTED_COLOR
from components.vocabulary import CAPTION_DATASET, DEMO_CAPTION_DATASET

FORMATS = {
    "png": ("image/png", "PNG (3×)"),
    "svg": ("image/svg+xml", "SVG"),
    "pdf": ("application/pdf", "PDF"),
    "html": ("text/html", "Interactive HTML"),
}
PNG_SCALE = 3
DEFAULT_WIDTH = 1200
DEFAULT_HEIGHT = 520
#: Chromium tabs of the export server (images rendered in parallel by `write_many`).
RENDER_TABS = 2
_server_lock = threading.Lock()
_server_started = False
#: kaleido's sync server is one Chromium; calls into it are serialised.
_render_lock = threading.Lock()


@dataclass(frozen=True)
class CaptionInfo:
    dataset: str            # e.g. "ThoughtTrace (Jin et al. 2026, CC-BY-4.0)" or "demo corpus"
    version: str            # e.g. "input sha256 49275df3…, built 2026-11-26"
    filters: str            # Filters.describe()
    n: str                  # e.g. "n = 2,155 conversations"
    day: str = ""

    def text(self) -> str:
        day = self.day or date.today().isoformat()
        return f"{self.dataset} · {self.version} · {self.filters} · {self.n} · {day}"


def caption_from_provenance(prov: dict, filters_desc: str, n: str) -> CaptionInfo:
    """Caption fields from a `provenance` row (see README)."""
    dataset = DEMO_CAPTION_DATASET if prov.get("is_demo") else CAPTION_DATASET
    sha = str(prov.get("input_sha256") or "")[:10]
    built = str(prov.get("ingested_at") or "")[:10]
    return CaptionInfo(dataset=dataset, version=f"data sha256 {sha}, built {built}",
                       filters=f"filters: {filters_desc}", n=n)


#: A caption longer than this (characters) is wrapped at its " · " separators.
CAPTION_WRAP = 180
#: Static SVG/PDF: WebGL point traces with at most this many points in all are drawn as
#: vector markers (sharp in a paper); above it they stay rasterised (file size, time).
VECTOR_MAX_POINTS = 20000


def data_csv(data: pl.DataFrame, caption: str | None = None) -> bytes:
    """The numbers a chart draws as CSV (UTF-8), the caption (when given) as a leading
    ``# `` comment line so the file says what it is."""
    body = data.write_csv()
    head = f"# {caption}\n" if caption else ""
    return (head + body).encode("utf-8")


def wrap_caption(caption: str, width: int = CAPTION_WRAP) -> list[str]:
    """``caption`` as lines of at most ~``width`` characters, broken at " · "."""
    lines: list[str] = []
    for part in caption.split(" · "):
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return lines


def with_caption(fig: go.Figure, caption: str | None) -> go.Figure:
    """A copy of ``fig`` with ``caption`` as a small grey line at the bottom of the page
    (wrapped onto more lines when long); the page grows so the plot keeps its size."""
    out = go.Figure(copy.deepcopy(fig.to_dict()))
    if not caption:
        return out
    lines = wrap_caption(caption)
    # room the plot needs under its area: tick labels (~30 px), an axis title (~30 px
    # more), rotated tick labels (more); none for pies, Sankeys, sunbursts, tables
    xaxes = list(out.select_xaxes())
    has_axis = bool(out.data) and out.data[0].type not in (
        "pie", "sankey", "sunburst", "treemap", "indicator", "table") and \
        any(ax.visible is not False for ax in xaxes)
    titled = has_axis and any(ax.title.text for ax in xaxes)
    rotated = has_axis and any(ax.tickangle not in (None, 0) for ax in xaxes)
    need = (130 if rotated else 78 if titled else 48) if has_axis else 10
    line_h = int(CAPTION_SIZE * 1.4)
    block = line_h * len(lines) + 14
    old_b = out.layout.margin.b
    old_b = 10 if old_b is None else int(old_b)
    new_b = max(old_b, need) + block
    old_h = int(out.layout.height or DEFAULT_HEIGHT)
    new_h = old_h + new_b - old_b
    out.add_annotation(text="<br>".join(html.escape(line) for line in lines),
                       xref="paper", yref="paper", x=0, y=0, yshift=-new_b + 6,
                       xanchor="left", yanchor="bottom", showarrow=False, align="left",
                       font=dict(size=CAPTION_SIZE, color=MUTED_COLOR))
    legend = out.layout.legend
    if legend.yref == "container" and legend.y is not None:
        # a legend pinned to the page bottom moves up above the caption
        out.update_layout(legend_y=(float(legend.y) * old_h + block) / new_h)
    out.update_layout(margin=dict(b=new_b), height=new_h)
    return out


def vectorised(fig: go.Figure, max_points: int = VECTOR_MAX_POINTS) -> go.Figure:
    """``fig`` with its WebGL scatter traces as SVG scatter traces when they hold at most
    ``max_points`` points in all (so an SVG/PDF export is vector, not an embedded bitmap)."""
    gl = [t for t in fig.data if t.type == "scattergl"]
    if not gl or sum(len(t.x) if t.x is not None else 0 for t in gl) > max_points:
        return fig
    d = fig.to_dict()
    for t in d["data"]:
        if t.get("type") == "scattergl":
            t["type"] = "scatter"
    return go.Figure(d)


def start_server() -> None:
    """Start the process's export server (one Chromium) if it is not running; returns at
    once, the browser comes up in the background (the first render waits for it)."""
    _ensure_server()


def _ensure_server() -> None:
    global _server_started
    with _server_lock:
        if not _server_started:
            import kaleido

            # two tabs: `write_many` renders two images at once (PNG and SVG of a figure)
            kaleido.start_sync_server(n=RENDER_TABS, mathjax=False, silence_warnings=True)
            _server_started = True


def figure_bytes(fig: go.Figure, fmt: str, *, caption: str | None = None,
                 width: int = DEFAULT_WIDTH, height: int | None = None,
                 scale: int = PNG_SCALE) -> bytes:
    """The figure as ``fmt`` ('png', 'svg', 'pdf', 'html'), caption included when given.

    Args:
        width / height: the page size in CSS px (height: the figure's own, caption included).
        scale: PNG pixel density (3 = slide and print quality).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {sorted(FORMATS)}")
    fig = _prepared(fig, fmt, caption, height)
    if fmt == "html":
        return fig.to_html(include_plotlyjs=True, full_html=True,
                           config={"displaylogo": False}).encode("utf-8")
    _ensure_server()
    h = int(fig.layout.height or DEFAULT_HEIGHT)
    with _render_lock, warnings.catch_warnings():
        # plotly passes kaleido options that a running server ignores: noise here
        warnings.filterwarnings("ignore", message="The kopts argument is ignored")
        return fig.to_image(format=fmt, width=width, height=h,
                            scale=scale if fmt == "png" else 1)


def _prepared(fig: go.Figure, fmt: str, caption: str | None, height: int | None
              ) -> go.Figure:
    if height:
        fig = go.Figure(fig.to_dict()).update_layout(height=height)
    fig = with_caption(fig, caption)
    return vectorised(fig) if fmt != "html" else fig


@dataclass(frozen=True)
class ExportJob:
    """One file to write: ``fig`` as ``fmt`` at ``path`` (see `figure_bytes`)."""

    fig: go.Figure
    fmt: str
    path: str
    caption: str | None = None
    scale: int = PNG_SCALE
    width: int = DEFAULT_WIDTH
    height: int | None = None


def write_many(jobs: list[ExportJob], *, raise_errors: bool = True) -> list[Exception]:
    """Write several exports; the static ones render concurrently in the export server's
    tabs, the HTML ones directly. With ``raise_errors=False`` the render errors are
    returned (the files of the failed jobs are missing), else the first is raised."""
    static = []
    for job in jobs:
        if job.fmt not in FORMATS:
            raise ValueError(f"unknown format {job.fmt!r}; expected one of {sorted(FORMATS)}")
        if job.fmt == "html":
            with open(job.path, "wb") as fh:
                fh.write(figure_bytes(job.fig, "html", caption=job.caption,
                                      height=job.height))
            continue
        fig = _prepared(job.fig, job.fmt, job.caption, job.height)
        static.append({"fig": fig.to_dict(), "path": str(job.path), "opts": dict(
            format=job.fmt, width=job.width,
            height=int(fig.layout.height or DEFAULT_HEIGHT),
            scale=job.scale if job.fmt == "png" else 1)})
    if not static:
        return []
    import kaleido

    _ensure_server()
    with _render_lock:
        errors = kaleido.write_fig_from_object_sync(static, cancel_on_error=raise_errors)
    return list(errors or [])
