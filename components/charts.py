"""Show a plotly figure with its download control (streamlit glue over components.export).

Every chart in the app goes through `show`: the figure, and under it a "Download" popover
offering PNG (3×), SVG, PDF and interactive HTML, with the caption line (dataset and
version, active filters, n, date) on by default. Bytes are made only when clicked.
"""

from __future__ import annotations

import re
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from components import export, sidebar, state


def caption_for(n: str) -> str:
    filters = sidebar.current_filters()
    info = export.caption_from_provenance(state.query("provenance"),
                                          filters.describe(sidebar.display_names()), n)
    return info.text()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "figure"


def show(fig: go.Figure, *, name: str, n: str, key: str | None = None,
         on_select: Any = "ignore", selection_mode: Any = ("points", "box", "lasso"),
         height: int | None = None, **chart_kwargs: Any) -> Any:
    """Render ``fig`` full-width with a download popover; returns the selection event.

    Args:
        fig: a figure from a pure builder.
        name: file name stem and widget key base (e.g. "stage-dynamics-reasons").
        n: what the figure counts, for the caption (e.g. "n = 1,234 thoughts").
        key: widget key (defaults to ``name``).
        on_select / selection_mode: passed to st.plotly_chart ("ignore" or "rerun").
        height: page height of the exported files (default: the figure's own).
        chart_kwargs: any other st.plotly_chart argument.
    """
    key = key or _slug(name)
    kwargs = dict(chart_kwargs)
    if on_select != "ignore":
        kwargs.update(on_select=on_select, selection_mode=selection_mode)
    event = st.plotly_chart(fig, width="stretch", theme=None, key=f"chart-{key}",
                            config={"displaylogo": False,
                                    "toImageButtonOptions": {"scale": export.PNG_SCALE,
                                                             "filename": _slug(name)}},
                            **kwargs)
    with st.popover("Download", icon=":material/download:"):
        with_caption = st.toggle("Caption line (dataset, filters, n, date)", value=True,
                                 key=f"cap-{key}")
        caption = caption_for(n) if with_caption else None
        if caption:
            st.caption(caption)
        cols = st.columns(len(export.FORMATS))
        for col, (fmt, (mime, label)) in zip(cols, export.FORMATS.items()):
            col.download_button(label, data=lambda f=fmt: export.figure_bytes(
                                    fig, f, caption=caption, height=height),
                                file_name=f"{_slug(name)}.{fmt}", mime=mime,
                                key=f"dl-{key}-{fmt}", on_click="ignore")
    return event
