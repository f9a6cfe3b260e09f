"""Server-side rerun time per interaction, measured with Streamlit's AppTest.

AppTest runs the real app script (router, sidebar, page) in-process against a DB and
returns when the script run finishes, so the time of `at.run()` is the server-side cost of
one interaction (no browser rendering, no network). For each interaction we repeat
``--repeats`` times, alternating between two states so every run does real work (the
query cache warms after the first pass, as it does for a real server), and report the
median and p95.

Usage:
  python benchmarks/bench_app.py --db /tmp/b1.duckdb --repeats 15 \
      --out benchmarks/results/app_1x.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from load_test import cpu_probe_s, report  # noqa: E402


def _p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]


def _timed(at) -> float:
    t0 = time.perf_counter()
    at.run()
    dt = time.perf_counter() - t0
    if at.exception:
        raise SystemExit(f"app raised: {[e.value for e in at.exception]}")
    return dt * 1000


def _app(db: Path, page: str | None = None, **params):
    """An AppTest of the app at ``page`` (a script under views/), not yet run there: the
    router runs once first (untimed), since AppTest switches only to registered pages."""
    from streamlit.testing.v1 import AppTest

    os.environ["THOUGHTTRACE_DB"] = str(db)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    for key, value in params.items():
        at.query_params[key] = value
    if page:
        at.run()
        at.switch_page(page)
    return at


def bench(db: Path, repeats: int) -> dict[str, dict]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    models = [r[0] for r in con.execute(
        "SELECT model_name FROM conversations GROUP BY 1 ORDER BY count(*) DESC LIMIT 2"
    ).fetchall()]
    convs = [r[0] for r in con.execute(
        "SELECT conv_id FROM conversations ORDER BY n_messages DESC, conv_id LIMIT 2"
    ).fetchall()]
    word = con.execute("SELECT split_part(content, ' ', 3) FROM thoughts LIMIT 1").fetchone()[0]
    con.close()
    results: dict[str, dict] = {}

    def record(name: str, first: float, times: list[float]) -> None:
        results[name] = {"first_ms": first, "median_ms": statistics.median(times),
                         "p95_ms": _p95(times), "n": len(times)}
        print(f"{name:44s} first {first:7.0f} ms   median {statistics.median(times):6.0f} "
              f"ms   p95 {_p95(times):6.0f} ms", file=sys.stderr)

    def filter_changes(page: str | None, name: str, **params) -> None:
        at = _app(db, page, **params)
        first = _timed(at)
        times = []
        for i in range(repeats):
            at.sidebar.multiselect(key="f_models").set_value([models[i % 2]])
            times.append(_timed(at))
        record(name, first, times)

    filter_changes(None, "overview: change model filter")
    filter_changes("views/conversations.py", "conversations: change model filter")

    at = _app(db, "views/conversations.py")
    first = _timed(at)
    times = []
    for i in range(repeats):
        at.query_params["conv"] = convs[i % 2]
        at.query_params["turn"] = "1"
        times.append(_timed(at))
    record("conversations: open a conversation", first, times)

    at = _app(db, "views/conversations.py")
    first = _timed(at)
    times = []
    for i in range(repeats):
        at.text_input(key="q").set_value(word if i % 2 == 0 else word[:-1] or "a")
        times.append(_timed(at))
    record("conversations: keyword search", first, times)

    at = _app(db, "views/conversations.py")
    first = _timed(at)
    at.text_input(key="sq").set_value("the answer was far too long")
    load_model = _timed(at)
    times = []
    for i in range(repeats):
        at.text_input(key="sq").set_value(f"frustrated by the length of the answer {i}")
        times.append(_timed(at))
    record("conversations: semantic search (model loaded)", load_model, times)

    for page, name, params in (
            ("views/thought_types.py", "thought types & stages", {}),
            ("views/participants.py", "participants", {}),
            ("views/topics.py", "topics", {}), ("views/semantic_shifts.py", "semantic shifts", {}),
            ("views/semantic_shifts.py", "semantic shifts, global map tab",
             {"view": "Global map"})):
        filter_changes(page, f"{name}: change model filter", **params)
        at = _app(db, page, **params)
        first = _timed(at)
        times = [_timed(at) for _ in range(repeats)]
        record(f"{name}: rerun", first, times)

    # the shifts page's two tabs, back and forth (each runs only when open)
    at = _app(db, "views/semantic_shifts.py")
    first = _timed(at)
    times = []
    for i in range(repeats):
        at.session_state["view"] = ("Global map", "Centred gaps")[i % 2]
        times.append(_timed(at))
    record("semantic shifts: switch tab", first, times)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    probe = [cpu_probe_s()]
    results = bench(args.db, args.repeats)
    probe.append(cpu_probe_s())
    report(f"{args.db.name}: AppTest server-side time per interaction, {args.repeats} "
           "repeats", ["interaction", "first run ms", "median ms", "p95 ms"],
           lambda r: [f"{r['first_ms']:.0f}", f"{r['median_ms']:.0f}", f"{r['p95_ms']:.0f}"],
           results, probe, args.out, {"db": str(args.db), "repeats": args.repeats})
    return 0


if __name__ == "__main__":
    sys.exit(main())
