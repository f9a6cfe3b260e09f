"""Pure figure builders: polars frames (as the queries return them) in, plotly Figures
out; one module per page, `theme` (one palette, one presentation template) and
`catalogue` (every named figure, read by the pages and by the figure pack). Never
imports streamlit or DuckDB.
"""
