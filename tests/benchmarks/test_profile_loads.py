"""benchmarks/profile_loads.py's summary table: medians and means per kind and overall,
first visits apart from repeats, counted by hand."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import profile_loads  # noqa: E402


def test_table_per_kind_and_overall():
    rows = [{"phase": p, "kind": k, "cpu_ms": ms} for p, k, ms in [
        ("first", "open_conversation", 40), ("first", "open_conversation", 60),
        ("first", "filter_overview", 130), ("repeat", "open_conversation", 30),
        ("repeat", "open_conversation", 30), ("repeat", "filter_overview", 50)]]
    lines = profile_loads.table(rows).splitlines()
    assert lines[2] == "| filter overview | 1 | 130 ms | 130 ms | 50 ms | 50 ms |"
    assert lines[3] == "| open conversation | 2 | 50 ms | 50 ms | 30 ms | 30 ms |"
    # overall: first 40, 60, 130 (median 60, mean 77); repeats 30, 30, 50 (30, 37)
    assert lines[4] == "| **all** | 3 | 60 ms | 77 ms | 30 ms | 37 ms |"
