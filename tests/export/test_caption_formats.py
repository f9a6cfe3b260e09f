"""The caption line is really in the PNG and PDF exports, and the app's caption toggle
changes what the downloads hold (README, "Figures for talks": "Each export carries a small
caption line — dataset and version, the active filters, n, and the date — which a toggle
leaves off").

tests/export/test_render.py checks that the SVG and HTML bytes contain the caption text;
PNG and PDF bytes do not hold it as plain text, so here:

- PDF: the text is extracted (a small reader of the content streams and the fonts'
  ToUnicode maps, enough for kaleido's Chromium PDFs) and holds the caption; the page is
  taller with the caption than without.
- PNG: the image is taller with the caption than without, by the caption band, and that
  band (the bottom of the page) is not blank, while the same band of the image without a
  caption is.
- In the app (AppTest, the Overview page of the tiny DB): the download buttons' bytes,
  made by the callables the page hands to ``st.download_button``, hold the caption while
  the toggle (``components/ui/charts.py``, key ``cap-<chart>``) is on and lose it when it
  is switched off: the HTML and CSV no longer contain it, the PNG gets shorter.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from datetime import date

import pytest
from PIL import Image

from components.export import render
from components.figures import overview as fo
from tests.apptest import open_app
from tests.figures.test_builders import label_counts
from tests.tiny_db import build_tiny_db

CAPTION = "ThoughtTrace test · data sha256 abc123 · filters: model: M1 · n = 7 · 2026-11-26"


def _fig():
    return fo.label_bars(label_counts(), "reason")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


# ------------------------------------------------------------------ a small PDF reader


def _objects(pdf: bytes) -> dict[int, bytes]:
    return {int(m.group(1)): m.group(2) for m in
            re.finditer(rb"(?<!\d)(\d+) 0 obj(.*?)endobj", pdf, re.S)}


def _stream(body: bytes) -> bytes | None:
    m = re.search(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S)
    if not m:
        return None
    raw = m.group(1)
    return zlib.decompress(raw) if b"/FlateDecode" in body[:m.start()] else raw


def _cmap(data: bytes) -> tuple[int, dict[int, str]]:
    """(code length in bytes, code -> text) of a ToUnicode CMap."""
    width = 2
    space = re.search(rb"begincodespacerange\s*<([0-9A-Fa-f]+)>", data)
    if space:
        width = len(space.group(1)) // 2
    out: dict[int, str] = {}

    def text(hexstr: bytes) -> str:
        return bytes.fromhex(hexstr.decode()).decode("utf-16-be", "replace")
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            out[int(src, 16)] = text(dst)
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for lo, hi, dst in re.findall(
                rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]+>|\[[^\]]*\])", block):
            lo_i, hi_i = int(lo, 16), int(hi, 16)
            if dst.startswith(b"["):
                for k, item in enumerate(re.findall(rb"<([0-9A-Fa-f]+)>", dst)):
                    out[lo_i + k] = text(item)
            else:
                base = int(dst[1:-1], 16)
                for k in range(hi_i - lo_i + 1):
                    out[lo_i + k] = chr(base + k)
    return width, out


def pdf_text(pdf: bytes) -> str:
    """The text drawn on the PDF's pages, in drawing order (font by font: ``Tf`` picks a
    font, ``Tj`` / ``TJ`` draw hex or literal strings decoded with its ToUnicode map)."""
    objs = _objects(pdf)
    fonts: dict[bytes, tuple[int, dict[int, str]]] = {}
    for body in objs.values():  # font resource dictionaries: /F1 5 0 R ...
        for fdict in re.findall(rb"/Font\s*<<(.*?)>>", body, re.S):
            for name, num in re.findall(rb"/([A-Za-z0-9_.+-]+)\s+(\d+) 0 R", fdict):
                font = objs.get(int(num), b"")
                ref = re.search(rb"/ToUnicode\s+(\d+) 0 R", font)
                cmap = _stream(objs.get(int(ref.group(1)), b"")) if ref else None
                if cmap:
                    fonts[name] = _cmap(cmap)
    contents = []
    for body in objs.values():
        if re.search(rb"/Type\s*/Page(?!s)", body):
            refs = re.search(rb"/Contents\s*(\[[^\]]*\]|\d+ 0 R)", body)
            for num in re.findall(rb"(\d+) 0 R", refs.group(1) if refs else b""):
                data = _stream(objs.get(int(num), b""))
                if data:
                    contents.append(data)
    out: list[str] = []
    token = re.compile(rb"/([A-Za-z0-9_.+-]+)\s+[\d.]+\s+Tf|(\[(?:[^\]\\]|\\.)*\])\s*TJ|"
                       rb"(<[0-9A-Fa-f\s]*>|\((?:[^)\\]|\\.)*\))\s*Tj")
    for data in contents:
        width, cmap = 2, {}
        for m in token.finditer(data):
            if m.group(1):
                width, cmap = fonts.get(m.group(1), (2, {}))
                continue
            strings = re.findall(rb"<[0-9A-Fa-f\s]*>|\((?:[^)\\]|\\.)*\)",
                                 m.group(2) or m.group(3))
            for s in strings:
                if s.startswith(b"<"):
                    raw = bytes.fromhex(re.sub(rb"\s", b"", s[1:-1]).decode())
                else:
                    raw = s[1:-1]
                codes = [int.from_bytes(raw[i:i + width], "big")
                         for i in range(0, len(raw) - width + 1, width)]
                out.append("".join(cmap.get(c, "\ufffd") for c in codes))
        out.append("\n")
    return "".join(out)


def _squash(text: str) -> str:
    """Text without whitespace: a PDF places words by coordinates, spaces are optional."""
    return re.sub(r"\s+", "", text)


def media_box_height(pdf: bytes) -> float:
    m = re.search(rb"/MediaBox\s*\[\s*[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s*\]", pdf)
    assert m, "no MediaBox"
    return float(m.group(1))


# ------------------------------------------------------------------ the formats


def test_the_pdf_holds_the_caption_as_text():
    with_caption = render.figure_bytes(_fig(), "pdf", caption=CAPTION)
    without = render.figure_bytes(_fig(), "pdf", caption=None)
    assert with_caption[:5] == without[:5] == b"%PDF-"
    text, plain = _squash(pdf_text(with_caption)), _squash(pdf_text(without))
    assert _squash("data sha256 abc123") in text and _squash("n = 7") in text
    assert _squash("filters: model: M1") in text and "2026-11-26" in text
    # the reader does read the figure's own text in both (so the check is not vacuous)
    assert "Reason" in plain or "reason" in plain.lower(), plain[:200]
    assert "abc123" not in plain
    assert media_box_height(with_caption) > media_box_height(without)


def test_the_png_is_taller_by_a_caption_band_that_is_not_blank():
    fig = _fig()
    with_caption = render.figure_bytes(fig, "png", caption=CAPTION, scale=1)
    without = render.figure_bytes(fig, "png", caption=None, scale=1)
    (w1, h1), (w0, h0) = png_size(with_caption), png_size(without)
    assert w1 == w0 == render.DEFAULT_WIDTH
    grown = render.with_caption(fig, CAPTION).layout.height - (fig.layout.height or
                                                              render.DEFAULT_HEIGHT)
    assert h1 - h0 == grown > 0
    band = int(render.CAPTION_SIZE * 1.4) + 14  # one caption line (see with_caption)
    # the control: the captioned page with the caption's text emptied (same geometry)
    blank = render.with_caption(fig, CAPTION)
    blank.layout.annotations[-1].text = ""
    control = render.figure_bytes(blank, "png", caption=None, scale=1)
    assert png_size(control) == (w1, h1)

    def dark_pixels(png: bytes) -> int:
        img = Image.open(io.BytesIO(png)).convert("L")
        bottom = img.crop((0, img.height - band, img.width, img.height))
        return sum(1 for p in bottom.tobytes() if p < 200)  # mode L: one byte a pixel
    assert dark_pixels(with_caption) > 50  # the caption's glyphs
    assert dark_pixels(control) == 0       # the same band without its text: white page


# ------------------------------------------------------------------ the toggle in the app


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory):
    return build_tiny_db(tmp_path_factory.mktemp("caption_toggle"))


@pytest.fixture
def downloads(monkeypatch):
    """key -> the ``data`` callable of every st.download_button of the latest run."""
    from streamlit.delta_generator import DeltaGenerator

    seen: dict[str, object] = {}
    original = DeltaGenerator.download_button

    def recording(self, label, data, *args, **kwargs):
        seen[kwargs.get("key")] = data
        return original(self, label, data, *args, **kwargs)
    monkeypatch.setattr(DeltaGenerator, "download_button", recording)
    return seen


def test_the_caption_toggle_changes_the_downloads(tiny_db, monkeypatch, downloads):
    at = open_app(tiny_db, monkeypatch)
    toggles = [t for t in at.toggle if str(t.key).startswith("cap-")]
    assert toggles and all(t.value for t in toggles)  # on by default
    key = toggles[0].key.removeprefix("cap-")
    shown = next(c.value for c in at.caption if "data sha256" in c.value)  # the caption line
    # dataset version (the input's checksum and the build date) and today's date
    assert "n = " in shown and shown.endswith(f" · {date.today().isoformat()}")
    assert re.search(r"data sha256 [0-9a-f]{10}, built \d{4}-\d{2}-\d{2}", shown), shown

    def made(fmt: str) -> bytes:
        return downloads[f"dl-{key}-{fmt}"]()
    on = {fmt: made(fmt) for fmt in ("html", "png")}
    on_csv = made("csv") if f"dl-{key}-csv" in downloads else None
    assert "data sha256" in on["html"].decode("utf-8")

    at.toggle(key=f"cap-{key}").set_value(False).run()
    assert not at.exception
    off = {fmt: made(fmt) for fmt in ("html", "png")}
    assert "data sha256" not in off["html"].decode("utf-8")
    assert png_size(off["png"])[1] < png_size(on["png"])[1]
    if on_csv is not None:
        assert on_csv.startswith(b"# ") and b"data sha256" in on_csv.splitlines()[0]
        assert b"data sha256" not in made("csv")

    at.toggle(key=f"cap-{key}").set_value(True).run()
    assert "data sha256" in made("html").decode("utf-8")
    assert png_size(made("png")) == png_size(on["png"])
