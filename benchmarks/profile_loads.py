"""Server CPU of one page load, by kind of interaction: a subset's first visit against a
repeat of the same URL, on one `streamlit run app.py` with nothing else talking to it.

The load test (`load_test.py`) gives CPU per page load over a whole run, a mix of
first visits (every query and figure computed) and repeats (served from the worker's
result cache). This script takes the mix apart: it draws the load test's interactions
(same generator, same seed), performs them one after the other as fresh sessions (each
page load a new websocket session, its light first run and the full run, as
`load_test.page_load` does), reads the server's CPU time (/proc, user + system, 10 ms
ticks) before and after each, then performs the same list again. Per kind: median and
mean of the first visits and of the repeats.

Usage:
  python benchmarks/profile_loads.py --db /tmp/b1v2.duckdb --loads 120 \
      --out benchmarks/results/profile_loads_1x.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load_test as lt  # noqa: E402 - the load test's own generator and protocol

PHASES = ("first", "repeat")


def profile(db: Path, loads: int, seed: int) -> list[dict]:
    port = lt.free_port()
    log = Path(tempfile.mkdtemp(prefix="ttprofile-")) / "server.log"
    proc = lt.start_server(db, port, log)
    rows: list[dict] = []
    try:
        lt.wait_healthy(port, proc)
        for page in lt.WARM_PAGES:  # st.navigation's first session, as the load test
            asyncio.run(lt.page_load(port, page, {}, 60))
        w = lt.workload(db)
        rng = random.Random(seed)
        drawn = [lt.next_interaction(rng, w) for _ in range(loads)]
        for phase in PHASES:
            for kind, page, params, _marker in drawn:
                c0 = lt.cpu_seconds(proc.pid)
                res = asyncio.run(lt.page_load(port, page, params, 60))
                time.sleep(0.05)  # let the session's disconnect finish on the server
                c1 = lt.cpu_seconds(proc.pid)
                rows.append({"phase": phase, "kind": kind, "page": page, "params": params,
                             "cpu_ms": 1000 * (c1 - c0), "latency_s": res["latency_s"],
                             "error": res["error"], "runs": res.get("runs", 1)})
    finally:
        lt.stop_server(proc)
    return rows


def table(rows: list[dict]) -> str:
    kinds = sorted({r["kind"] for r in rows})
    out = ["| interaction | loads | first visit: median | mean | repeat: median | mean |",
           "|---|---:|---:|---:|---:|---:|"]

    def cells(sel: list[dict]) -> tuple[str, str]:
        ms = [r["cpu_ms"] for r in sel]
        return f"{statistics.median(ms):.0f} ms", f"{statistics.mean(ms):.0f} ms"
    for kind in [*kinds, None]:
        of = [r for r in rows if kind is None or r["kind"] == kind]
        first = cells([r for r in of if r["phase"] == "first"])
        again = cells([r for r in of if r["phase"] == "repeat"])
        name = "**all**" if kind is None else kind.replace("_", " ")
        n = sum(1 for r in of if r["phase"] == "first")
        out.append(f"| {name} | {n} | {first[0]} | {first[1]} | {again[0]} | {again[1]} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--loads", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    probe = [lt.cpu_probe_s()]
    rows = profile(args.db, args.loads, args.seed)
    probe.append(lt.cpu_probe_s())
    errors = [r for r in rows if r["error"]]
    print(f"{args.db.name}: {args.loads} interactions, first visit then repeat, CPU probe "
          f"{probe[0]:.2f} s before / {probe[1]:.2f} s after, {len(errors)} errors\n")
    print(table(rows))
    if args.out:
        args.out.write_text(json.dumps({"db": str(args.db), "loads": args.loads,
                                        "seed": args.seed, "cpu_probe_s": probe,
                                        "rows": rows}, indent=1))
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
