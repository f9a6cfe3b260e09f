"""Tables on a page: `dataframe` is ``st.dataframe`` for the polars frames the queries
return, handed to Streamlit as an Arrow table.

Given a polars frame, ``st.dataframe`` converts it to pandas and back to Arrow on every
run (about 1.2 ms for a 25-row page of the conversation list, measured); an Arrow table
is serialised as it is (0.1 ms). The browser gets the same table either way: the
column configs, selections and links work alike (checked in Chromium).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st


def dataframe(data: Any, **kwargs: Any) -> Any:
    """``st.dataframe(data, **kwargs)``, a polars frame passed as Arrow."""
    if isinstance(data, pl.DataFrame):
        data = data.to_arrow()
    return st.dataframe(data, **kwargs)
