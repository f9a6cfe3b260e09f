"""Slide-quality figure export (no streamlit): PNG at 3x, SVG, PDF and interactive HTML,
each with an optional caption line stating dataset and version, filters, n and date.

Static formats go through kaleido with the system Chromium; one export server is started
per process (`kaleido.start_sync_server`, MathJax off so nothing is fetched).
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from datetime import date

import plotly.graph_objects as go

FORMATS = {
    "png": ("image/png", "PNG (3×)"),
    "svg": ("image/svg+xml", "SVG"),
    "pdf": ("application/pdf", "PDF"),
    "html": ("text/html", "Interactive HTML"),
}
PNG_SCALE = 3
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
    if prov.get("is_demo"):
        dataset = "ThoughtTrace Explorer demo corpus (synthetic, not ThoughtTrace)"
    else:
        dataset = "ThoughtTrace (Jin et al. 2026, CC-BY-4.0)"
    sha = str(prov.get("input_sha256") or "")[:10]
    built = str(prov.get("ingested_at") or "")[:10]
    return CaptionInfo(dataset=dataset, version=f"data sha256 {sha}, built {built}",
                       filters=f"filters: {filters_desc}", n=n)


def with_caption(fig: go.Figure, caption: str | None) -> go.Figure:
    """A copy of ``fig`` with ``caption`` as a small grey line under the plot area."""
    out = go.Figure(copy.deepcopy(fig.to_dict()))
    if not caption:
        return out
    # below the x axis: tick labels (~25 px) and, if present, the axis title (~25 px more)
    has_axis = out.layout.xaxis.visible is not False and bool(out.data) and \
        out.data[0].type not in ("pie", "sankey", "sunburst", "treemap")
    titled = has_axis and bool(out.layout.xaxis.title.text)
    drop = 68 if titled else (40 if has_axis else 12)
    out.add_annotation(text=caption, xref="paper", yref="paper", x=0, y=0, yshift=-drop,
                       xanchor="left", yanchor="top", showarrow=False, align="left",
                       font=dict(size=12, color="#666666"))
    out.update_layout(margin=dict(b=max(out.layout.margin.b or 0, drop + 30)))
    return out


def _ensure_server() -> None:
    global _server_started
    with _server_lock:
        if not _server_started:
            import kaleido

            kaleido.start_sync_server(mathjax=False, silence_warnings=True)
            _server_started = True


def figure_bytes(fig: go.Figure, fmt: str, *, caption: str | None = None,
                 width: int = 1200, height: int | None = None) -> bytes:
    """The figure as ``fmt`` ('png', 'svg', 'pdf', 'html'), caption included when given."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {sorted(FORMATS)}")
    fig = with_caption(fig, caption)
    if fmt == "html":
        return fig.to_html(include_plotlyjs=True, full_html=True,
                           config={"displaylogo": False}).encode("utf-8")
    _ensure_server()
    h = height or int(fig.layout.height or 520)
    with _render_lock:
        return fig.to_image(format=fmt, width=width, height=h,
                            scale=PNG_SCALE if fmt == "png" else 1)
