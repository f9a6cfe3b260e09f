"""Show a catalogue figure with its download menu (streamlit glue over
`components.export.render`).

Every chart in the app goes through `show`: the figure, and under it a "Download" popover
offering PNG (3×), SVG, PDF, interactive HTML and the chart's data as CSV, with the
caption line (dataset and version, active filters, n, date) on by default. Bytes are made
only when clicked.
`download` offers the same menu for a figure the page shows in another form (a table or
big numbers), so the page and the figure pack share one catalogue entry.
"""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from components.export import render
from components.figures.catalogue import Drawn, Entry
from components.filters import Filters
from components.queries import core
from components.ui import first_paint, state


def caption_for(filters: Filters, n: str, subsets: str | None = None) -> str:
    """The caption line: dataset and version, what the figure covers (``subsets``, or the
    filters), n and date."""
    covers = subsets or filters.describe(state.display_names())
    info = render.caption_from_provenance(state.query(core.provenance), covers, n)
    return info.text()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "figure"


def show(entry: Entry, filters: Filters, *, name: str | None = None, key: str | None = None,
         on_select: Any = "ignore", selection_mode: Any = ("points", "box", "lasso"),
         height: int | None = None, **options: Any) -> tuple[Any, Drawn]:
    """Render catalogue ``entry`` for ``filters`` and ``options`` full-width, with a
    download popover; returns (the selection event, the built figure).

    Args:
        name: file name stem of the downloads (default: the entry's key).
        key: widget key base (default: the slug of ``name``).
        on_select / selection_mode: passed to st.plotly_chart ("ignore" or "rerun").
        height: page height of the exported files (default: the figure's own).
        options: the entry's options (e.g. ``kind="reason"``).
    """
    preview = entry.previews and first_paint.is_light()
    if preview:  # a new tab draws the light version first
        options["preview"] = True
    drawn = state.figure(entry, filters, **options)
    name = name or entry.key
    key = key or _slug(name)
    kwargs: dict[str, Any] = {}
    if on_select != "ignore" and not preview:
        # a preview is not selectable: its points are a sample, and a click or lasso on
        # it would be read against the full figure's rows, which replaces it at once
        kwargs.update(on_select=on_select, selection_mode=selection_mode)
    event = st.plotly_chart(drawn.figure, width="stretch", theme=None, key=f"chart-{key}",
                            config={"displaylogo": False,
                                    "toImageButtonOptions": {"scale": render.PNG_SCALE,
                                                             "filename": _slug(name)}},
                            **kwargs)
    first_paint.stop_after_first_chart()  # a new tab's first run ends at its first chart
    _menu(drawn, filters, name, key, height)
    return event, drawn


def download(entry: Entry, filters: Filters, *, name: str | None = None,
             label: str = "Download as a figure", **options: Any) -> Drawn:
    """The download popover of catalogue ``entry`` without drawing the chart (for a view
    the page shows as a table or as numbers)."""
    drawn = state.figure(entry, filters, **options)
    if first_paint.is_light():  # the menu comes with the rest of the page
        return drawn
    name = name or entry.key
    _menu(drawn, filters, name, _slug(name), None, label=label)
    return drawn


def _menu(drawn: Drawn, filters: Filters, name: str, key: str, height: int | None,
          label: str = "Download") -> None:
    with st.popover(label, icon=":material/download:"):
        with_caption = st.toggle("Caption line (dataset, filters, n, date)", value=True,
                                 key=f"cap-{key}")
        caption = caption_for(filters, drawn.n, drawn.subsets) if with_caption else None
        if caption:
            st.caption(caption)
        cols = st.columns(len(render.FORMATS) + 1)
        fig = drawn.figure
        for col, (fmt, (mime, text)) in zip(cols, render.FORMATS.items()):
            col.download_button(text, data=lambda f=fmt: render.figure_bytes(
                                    fig, f, caption=caption, height=height),
                                file_name=f"{_slug(name)}.{fmt}", mime=mime,
                                key=f"dl-{key}-{fmt}", on_click="ignore")
        if drawn.data is not None:
            data = drawn.data
            cols[-1].download_button("Data (CSV)", data=lambda: render.data_csv(data, caption),
                                     file_name=f"{_slug(name)}.csv", mime="text/csv",
                                     key=f"dl-{key}-csv", on_click="ignore",
                                     help="the numbers this chart draws")
