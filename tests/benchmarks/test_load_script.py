"""benchmarks/load_test.py: its report only touches its own README section; percentiles;
the proxied mode's URL, cookie and serve-state handling, medians, ratio and report."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

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


def test_stream_url_of_a_port_or_a_url():
    lt = _module()
    assert lt.stream_url(8501) == "ws://127.0.0.1:8501/_stcore/stream"
    assert lt.stream_url("http://10.0.0.5:8080") == "ws://10.0.0.5:8080/_stcore/stream"
    assert lt.stream_url("https://lab.example.org/tt/") == \
        "wss://lab.example.org/tt/_stcore/stream"
    for bad in ("ftp://x", "localhost:8080", "http://"):
        with pytest.raises(ValueError, match="expected a URL"):
            lt.stream_url(bad)


def test_cookie_pairs_keep_name_and_value_only():
    lt = _module()
    assert lt.cookie_pairs(["tt_worker=w2; path=/; HttpOnly", "x=a=b; Path=/", "junk"]) == \
        {"tt_worker": "w2", "x": "a=b"}
    assert lt.cookie_pairs([]) == {}


def test_serve_state_is_read_only_while_its_workers_run(tmp_path):
    lt = _module()
    assert lt.read_serve_state(tmp_path) is None  # no file
    (tmp_path / "workers.json").write_text("{not json")
    assert lt.read_serve_state(tmp_path) is None
    # a stale file: the pid is this test process, not a streamlit worker
    state = {"haproxy_pid": 1, "db": "x.duckdb",
             "workers": [{"name": "w1", "port": 1, "pid": os.getpid()}]}
    (tmp_path / "workers.json").write_text(json.dumps(state))
    assert lt.read_serve_state(tmp_path) is None
    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                             "streamlit"])
    try:
        state["workers"][0]["pid"] = fake.pid
        (tmp_path / "workers.json").write_text(json.dumps(state))
        assert lt.read_serve_state(tmp_path) == state
        workers, haproxy, _ = lt.proxy_workers("http://127.0.0.1:9/", None, tmp_path)
        assert workers == [{"name": "w1", "pid": fake.pid, "cookie": "w1"}] and haproxy == 1
        # explicit pids win over the run directory
        workers, haproxy, _ = lt.proxy_workers("http://127.0.0.1:9/", [5, 6], tmp_path)
        assert [w["pid"] for w in workers] == [5, 6] and haproxy is None
    finally:
        fake.kill()
        fake.wait()


def _run(n_workers, throughput, p95, errors=0, cpu_ms=100.0):
    return {"n_workers": n_workers, "repeat": 0, "elapsed_s": 60.0, "haproxy_cpu_s": 3.0,
            "others_cores": 0.25,
            "summary": {"all": {"n": 10, "errors": errors, "throughput_per_s": throughput,
                                "p50_s": p95 / 2, "p95_s": p95, "p99_s": p95}},
            "server_cpu_ms_per_load": cpu_ms, "generator_cores": 0.1,
            "generator_cpu_ms_per_load": 5.0, "loadavg_before": (1.0, 1.0, 1.0),
            "workers": [{"name": f"w{i}", "pid": i, "loads": 5, "cpu_s": 1.0,
                         "rss_mb": {"start": 300, "peak": 400 + i, "end": 390}}
                        for i in range(1, n_workers + 1)],
            "error_examples": []}


def test_medians_ratio_and_targets():
    lt = _module()
    runs = [_run(1, 4.0, 2.0), _run(2, 7.0, 1.0), _run(1, 5.0, 3.0), _run(2, 9.0, 1.0),
            _run(1, 6.0, 4.0), _run(2, 8.0, 0.5, errors=1)]
    med = lt.medians(runs)
    assert list(med) == ["1", "2"]
    assert med["1"]["throughput_per_s"] == 5.0 and med["2"]["throughput_per_s"] == 8.0
    assert med["1"]["p95_s"] == 3.0 and med["2"]["errors"] == 1
    assert med["2"]["worker_rss_peak_mb"] == 402  # the larger worker's peak
    ratio, of = lt.scaling(med)
    assert ratio == 1.6 and of == [1, 2]
    assert lt.scaling({"2": med["2"]}) == (None, None)
    report = {"think_s": 0, "medians": med, "ratio": ratio}
    assert lt.proxy_target(report) == (False, "1 errors, throughput ratio 1.60x")
    report = {"think_s": 5, "medians": {"2": {**med["2"], "errors": 0, "p95_s": 0.8}}}
    assert lt.proxy_target(report) == (True, "0 errors, median p95 800 ms")
    report["medians"]["2"]["p95_s"] = 1.2
    assert lt.proxy_target(report)[0] is False


def test_proxied_report_markdown_has_every_run_and_the_ratio():
    lt = _module()
    runs = [_run(1, 4.0, 2.0), _run(2, 7.5, 1.0)]
    med = lt.medians(runs)
    ratio, of = lt.scaling(med)
    report = {"label": "cmp", "command": "python benchmarks/load_test.py --serve-workers 1,2",
              "db_name": "b.duckdb", "n_conversations": 2155, "sessions": 20,
              "duration_s": 60.0, "think_s": 0.0, "out_name": "x.json",
              "machine": {"cpus": 2}, "loadavg_before": "1 1 1", "loadavg_after": "2 2 2",
              "cpu_probe_s": [0.2, 0.3], "repeats": 1, "runs": runs, "medians": med,
              "ratio": ratio, "ratio_of": of, "note": "a note"}
    report["target"] = dict(zip(("met", "why"), lt.proxy_target(report)))
    text = lt.markdown_proxy(report)
    assert text.startswith("### cmp\n") and "2,155 conversations" in text
    assert "| 1 | 1 | 10 | 4.0/s | 0 |" in text and "| 2 | 1 | 10 | 7.5/s | 0 |" in text
    assert "401 / 402 MiB" in text and "**1.88x**" in text
    assert "| 0.05 cores | 0.25 cores | 1.0 |" in text  # HAProxy, other jobs, load
    assert "**met** (0 errors, throughput ratio 1.88x)" in text and "a note" in text


def test_bad_options_are_refused_in_one_line(capsys):
    lt = _module()
    for argv in (["--url", "localhost:1"], ["--url", "http://127.0.0.1:1",
                                             "--serve-workers", "1,2"],
                 ["--url", "http://127.0.0.1:1", "--pids", "a,b"],
                 ["--serve-workers", "0"]):
        with pytest.raises(SystemExit) as exc:
            lt.main(argv)
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "expected a URL" in err and "exclude each other" in err
    assert "comma-separated integers" in err and "at least 1" in err


def test_subsections_stay_separated_by_a_blank_line(tmp_path):
    lt = _module()
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n")
    for label in ("A", "B", "C"):
        lt.write_section(readme, label, f"### {label}\n\nbody {label}\n")
    text = readme.read_text()
    assert "body A\n\n### B\n\nbody B\n\n### C\n\nbody C\n" in text
