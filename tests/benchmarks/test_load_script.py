"""benchmarks/load_test.py: its report only touches its own README section; percentiles."""

from __future__ import annotations

import importlib.util

from tests.corpus import REPO


def _module():
    spec = importlib.util.spec_from_file_location("load_test", REPO / "benchmarks" /
                                                  "load_test.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_write_section_keeps_other_sections_and_replaces_its_own_run(tmp_path):
    lt = _module()
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\n## Build\n\nbuild numbers\n\n## Later\n\nmore\n")
    lt.write_section(readme, "run A", "### run A\n\nfirst\n")
    lt.write_section(readme, "run B", "### run B\n\nsecond\n")
    lt.write_section(readme, "run A", "### run A\n\nfirst, again\n")
    text = readme.read_text()
    assert text.count("## Load test") == 1 and text.count("### run A") == 1
    assert "first, again" in text and "second" in text and "first\n" not in text
    assert "## Build\n\nbuild numbers" in text and "## Later\n\nmore" in text
    assert text.index("## Build") < text.index("## Later") < text.index("## Load test")
    # a section already in the middle stays there
    readme.write_text("# B\n\n## Load test\n\nold intro\n\n### run A\n\nold\n\n## Later\n\nx\n")
    lt.write_section(readme, "run A", "### run A\n\nnew\n")
    text = readme.read_text()
    assert text.index("## Load test") < text.index("### run A") < text.index("## Later")
    assert "new" in text and "old" not in text and text.endswith("## Later\n\nx\n")


def test_percentiles_and_summary():
    lt = _module()
    assert lt.pct([], 95) is None
    assert lt.pct([0.1 * i for i in range(1, 101)], 95) == 9.5 or \
        abs(lt.pct([0.1 * i for i in range(1, 101)], 95) - 9.5) < 0.11
    samples = [{"kind": "a", "latency_s": 0.2, "error": None},
               {"kind": "a", "latency_s": 0.4, "error": None},
               {"kind": "b", "latency_s": 5.0, "error": "timeout"}]
    s = lt.summarize(samples, 2.0)
    assert s["all"]["n"] == 3 and s["all"]["errors"] == 1
    assert s["all"]["throughput_per_s"] == 1.5 and s["all"]["max_s"] == 0.4
    assert s["by_kind"]["b"]["p95_s"] is None
