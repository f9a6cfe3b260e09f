"""Figure export: every format renders offline, the caption is in the output, and the palette
covers exactly the DB's labels."""

from __future__ import annotations

import pandas as pd
import pytest

from components import export, figures
from components.theme import LABEL_COLORS
from precompute.labels import ALL_LABELS


def _fig():
    counts = pd.DataFrame([
        {"label": lab.code, "kind": lab.kind, "display_name": lab.display,
         "meaning": lab.meaning, "n": i + 1, "share": 0.1} for i, lab in enumerate(ALL_LABELS)])
    return figures.label_bars(counts, "reason")


def test_palette_matches_labels():
    assert set(LABEL_COLORS) == {lab.code for lab in ALL_LABELS}
    assert len(set(LABEL_COLORS.values())) == len(LABEL_COLORS)


def test_caption_text_names_dataset_filters_n_and_date():
    info = export.caption_from_provenance(
        {"is_demo": False, "input_sha256": "abcdef0123456789", "ingested_at": "2026-11-26 10:00"},
        "model: GPT-5.4", "n = 12 conversations")
    text = info.text()
    assert "ThoughtTrace (Jin et al. 2026" in text and "abcdef0123" in text
    assert "model: GPT-5.4" in text and "n = 12 conversations" in text
    demo = export.caption_from_provenance({"is_demo": True}, "all", "n = 1").text()
    assert "demo corpus" in demo and "not ThoughtTrace" in demo


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf", "html"])
def test_every_format_renders_with_caption(fmt):
    data = export.figure_bytes(_fig(), fmt, caption="CAPTION-MARKER n = 7")
    assert len(data) > 1000
    if fmt == "png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        import struct
        width = struct.unpack(">I", data[16:20])[0]
        assert width == 1200 * export.PNG_SCALE
    elif fmt == "pdf":
        assert data[:5] == b"%PDF-"
    else:
        assert b"CAPTION-MARKER n = 7" in data


def test_caption_can_be_left_off():
    svg = export.figure_bytes(_fig(), "svg", caption=None)
    assert b"CAPTION-MARKER" not in svg
    with pytest.raises(ValueError, match="unknown format"):
        export.figure_bytes(_fig(), "gif")
