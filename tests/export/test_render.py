"""Figure export (components/export/render.py): every builder's figure and every format
renders offline through kaleido, the caption is in the output (and can be left off), long
captions wrap, WebGL points export as vector markers; the citation the exports carry is the
README's, and a view's share link (`components.links.view_url`) keeps its page and params."""

from __future__ import annotations

import re
import struct
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from components.export import render
from components.figures import overview as fo
from components.links import view_url
from components.vocabulary import CAPTION_DATASET, CITATION_BIBTEX, DEMO_CAPTION_DATASET
from tests.corpus import REPO
from tests.figures.test_builders import builder_figures, label_counts


def _fig():
    return fo.label_bars(label_counts(), "reason")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Exports must not reach the network: any socket connection from this process to a
    non-local address fails (kaleido talks to Chromium over pipes)."""
    import socket

    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") \
                and self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"network access attempted: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.mark.parametrize("name", list(builder_figures()))
def test_each_builder_renders_png_and_svg_offline(name):
    fig = builder_figures()[name]
    png = render.figure_bytes(fig, "png", caption=f"CAPTION {name}", scale=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    svg = render.figure_bytes(fig, "svg", caption=f"CAPTION {name}")
    assert svg.lstrip().startswith(b"<svg") and f"CAPTION {name}".encode() in svg


# --------------------------------------------------------------------------- captions


class _FixedDate(date):
    """`datetime.date` whose today() is 2026-12-03 (the caption's export date)."""

    @classmethod
    def today(cls):
        return cls(2026, 12, 3)


def test_caption_text_names_dataset_filters_n_and_date(monkeypatch):
    """The caption states the build date of the data (provenance ``ingested_at``) and the
    date of the export (today unless given), in that order, ISO-formatted."""
    monkeypatch.setattr(render, "date", _FixedDate)
    info = render.caption_from_provenance(
        {"is_demo": False, "input_sha256": "abcdef0123456789", "ingested_at": "2026-11-26 10:00"},
        "model: GPT-5.4", "n = 12 conversations")
    assert CAPTION_DATASET.startswith(
        "ThoughtTrace (Jin, Li, Xie, Fang, Li, Longpre, Gu, Chen & Shu 2026")
    assert info.text() == (f"{CAPTION_DATASET} · data sha256 abcdef0123, built 2026-11-26 · "
                           "filters: model: GPT-5.4 · n = 12 conversations · 2026-12-03")
    # a given export date is the one shown; the DB's timestamp (a datetime) gives its day
    info = render.caption_from_provenance(
        {"input_sha256": "0" * 64, "ingested_at": datetime(2025, 1, 31, 23, 59, tzinfo=UTC)},
        "all conversations", "n = 3 conversations")
    assert replace(info, day="2026-02-01").text() == (
        f"{CAPTION_DATASET} · data sha256 0000000000, built 2025-01-31 · "
        "filters: all conversations · n = 3 conversations · 2026-02-01")
    demo = render.caption_from_provenance({"is_demo": True}, "all", "n = 1").text()
    assert demo.startswith(f"{DEMO_CAPTION_DATASET} · ")
    assert demo.endswith(" · filters: all · n = 1 · 2026-12-03")
    assert "demo corpus" in demo and "not ThoughtTrace" in demo


def test_long_captions_wrap_at_separators_and_grow_the_page():
    long = " · ".join(["ThoughtTrace (Jin et al. 2026, CC-BY-4.0)", "data sha256 0123456789",
                       "filters: " + "; ".join(f"model: M{i}" for i in range(12)),
                       "n = 3 conversations", "2026-11-26"])
    lines = render.wrap_caption(long)
    # by hand: 41 + 3 + 22 = 66 characters; the 141 of the filters would pass 180, so they
    # start line 2, which takes the n (19) and the date (10) too: 141 + 3 + 19 + 3 + 10 = 176
    assert [len(line) for line in lines] == [66, 176] and " · ".join(lines) == long
    fig = _fig()
    out = render.with_caption(fig, long)
    assert out.layout.height > fig.layout.height
    assert out.layout.annotations[-1].text.count("<br>") == len(lines) - 1
    escaped = render.with_caption(fig, "domain: Culture & Lifestyle <b>")
    assert "&amp;" in escaped.layout.annotations[-1].text


def test_stage_legend_moves_above_the_caption():
    fig = builder_figures()["stages"]
    out = render.with_caption(fig, "CAPTION")
    assert out.layout.legend.y > (fig.layout.legend.y or 0)


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf", "html"])
def test_every_format_renders_with_caption(fmt):
    data = render.figure_bytes(_fig(), fmt, caption="CAPTION-MARKER n = 7")
    assert len(data) > 1000
    if fmt == "png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width = struct.unpack(">I", data[16:20])[0]
        assert width == 1200 * render.PNG_SCALE
    elif fmt == "pdf":
        assert data[:5] == b"%PDF-"
    else:
        assert b"CAPTION-MARKER n = 7" in data


def _png_height(data: bytes) -> int:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", data[20:24])[0]


def _pdf_page_height(data: bytes) -> float:
    """The height (pt) of the PDF's single page, from its MediaBox."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)",
                       data)
    assert len(boxes) == 1, boxes
    return float(boxes[0][3]) - float(boxes[0][1])


def _svg_height(data: bytes) -> float:
    return float(re.search(rb'<svg[^>]*\sheight="([\d.]+)"', data).group(1))


MARK = "LEFT-OFF-PROBE 4417 · n = 9 conversations"


def test_caption_can_be_left_off():
    """With a caption the text is in the SVG and HTML and the page grows by the caption's
    block; with ``caption=None`` the text is absent and the page has the figure's own
    height (PNG rows, PDF page, SVG height)."""
    fig = _fig()
    own = int(fig.layout.height)
    grown = int(render.with_caption(fig, MARK).layout.height)
    assert grown > own
    on = {fmt: render.figure_bytes(fig, fmt, caption=MARK, scale=1)
          for fmt in ("svg", "html", "png", "pdf")}
    off = {fmt: render.figure_bytes(fig, fmt, caption=None, scale=1)
           for fmt in ("svg", "html", "png", "pdf")}
    for fmt in ("svg", "html"):
        assert b"LEFT-OFF-PROBE 4417" in on[fmt] and b"LEFT-OFF-PROBE" not in off[fmt], fmt
    assert (_svg_height(on["svg"]), _svg_height(off["svg"])) == (grown, own)
    assert (_png_height(on["png"]), _png_height(off["png"])) == (grown, own)
    # Chromium's PDF page: CSS px at 72/96 pt each
    assert _pdf_page_height(on["pdf"]) == pytest.approx(grown * 0.75, abs=1)
    assert _pdf_page_height(off["pdf"]) == pytest.approx(own * 0.75, abs=1)
    # "" is no caption either
    assert _png_height(render.figure_bytes(fig, "png", caption="", scale=1)) == own
    with pytest.raises(ValueError, match="unknown format"):
        render.figure_bytes(_fig(), "gif")


def test_gl_points_export_as_vector_markers():
    fig = builder_figures()["shift-panels"]
    assert {t.type for t in fig.data} == {"scattergl"}
    assert {t.type for t in render.vectorised(fig).data} == {"scatter"}
    assert render.vectorised(fig, max_points=1) is fig


def test_bibtex_is_the_readme_citation():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert CITATION_BIBTEX in readme


def test_view_url_keeps_page_path_and_repeated_params():
    url = view_url("http://h:8501/thoughts", {"model": ["A B", "C"], "domain": ["Tech"]})
    assert url == "http://h:8501/thoughts?model=A+B&model=C&domain=Tech"
    assert view_url("http://h/x?old=1", {}) == "http://h/x"
    assert view_url(None, {"q": ["1"]}) == "?q=1"
