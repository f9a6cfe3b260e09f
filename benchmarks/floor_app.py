"""The smallest Streamlit page with one plotly chart: the browser benchmark's floor.

`bench_browser.py` opens it like the app's pages, so the time the framework and plotly.js
need on this machine (with no data, no sidebar, no queries) is measured beside the app's.
"""

import plotly.graph_objects as go
import streamlit as st

st.title("Floor")
st.plotly_chart(go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, 2])), theme=None)
