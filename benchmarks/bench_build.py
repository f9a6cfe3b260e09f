"""Time `python -m precompute build` per stage, with peak memory.

Scenarios, each a fresh process (so UMAP's numba compile is paid as a user would):
  cold      build into a new DB file
  rerun     the same build again (every stage should be skipped)
  plus1pct  the corpus plus 1% new conversations (only those should be embedded)

Usage:
  python benchmarks/bench_build.py --corpus benchmarks/corpora/thoughttrace_1x.jsonl \
      --runs 3 --out benchmarks/results/build_1x.json

Prints a Markdown table (median over runs) and writes the raw runs as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGE_LINE = re.compile(r"^\[(\w+)\] (done|unchanged, skipped) in ([0-9.]+)s")


def run_build(corpus: Path, db: Path, extra: list[str]) -> dict:
    """One build in a child process: wall seconds, per-stage seconds, peak RSS (MiB)."""
    build = [sys.executable, "-m", "precompute", "build", "--source", str(corpus), "--db",
             str(db), "--no-progress", *extra]
    # a fresh wrapper process per build, so RUSAGE_CHILDREN is this build's peak alone
    wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
               "print(f'@@peak_kib {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}'); "
               "sys.exit(r.returncode)")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", wrapper, *build], cwd=REPO,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    stages = {}
    peak_kib = None
    for line in proc.stdout.splitlines():
        if line.startswith("@@peak_kib "):
            peak_kib = int(line.split()[1])
        m = STAGE_LINE.match(line)
        if m:
            stages[m.group(1)] = {"seconds": float(m.group(3)),
                                  "skipped": m.group(2) != "done", "line": line}
    return {"wall_s": wall, "stages": stages,
            "peak_rss_mib": peak_kib / 1024 if peak_kib else None}


def plus_one_percent(corpus: Path, out: Path) -> int:
    """Copy the corpus and append 1% new conversations (renamed, texts marked new)."""
    lines = corpus.read_text(encoding="utf-8").splitlines()
    n_new = max(1, len(lines) // 100)
    extra = []
    for i, line in enumerate(lines[:n_new]):
        rec = json.loads(line)
        rec["id"] = f"user{900000 + i}_task1_conversation1"
        for msg in rec["messages"]:
            msg["content"] = f"(follow-up study {i}) " + (msg["content"] or "")
            for key in ("reasons", "reactions"):
                for th in msg.get(key) or []:
                    th["content"] = f"(follow-up study {i}) " + th["content"]
        rec["task_summary"] = f"(follow-up study {i}) " + (rec.get("task_summary") or "")
        extra.append(json.dumps(rec, ensure_ascii=False))
    out.write_text("\n".join(lines + extra) + "\n", encoding="utf-8")
    return n_new


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--scenarios", default="cold,rerun,plus1pct",
                    help="comma-separated subset of cold,rerun,plus1pct (cold always runs)")
    ap.add_argument("--keep-db", type=Path, default=None,
                    help="copy the last cold+rerun DB here (e.g. for the app benchmark)")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                    help="extra build arguments, e.g. --extra --device cuda")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ttbench-"))
    runs = []
    try:
        wanted = {"cold", *args.scenarios.split(",")}
        bigger = work / "plus1pct.jsonl"
        n_new = plus_one_percent(args.corpus, bigger) if "plus1pct" in wanted else 0
        for r in range(args.runs):
            db = work / f"run{r}.duckdb"
            run = {"cold": run_build(args.corpus, db, args.extra)}
            if "rerun" in wanted:
                run["rerun"] = run_build(args.corpus, db, args.extra)
            if args.keep_db and r == args.runs - 1:
                shutil.copyfile(db, args.keep_db)
            if "plus1pct" in wanted:
                run["plus1pct"] = run_build(bigger, db, args.extra)
            runs.append(run)
            print(f"run {r + 1}/{args.runs}: " + ", ".join(
                f"{k} {v['wall_s']:.1f}s" for k, v in run.items()), file=sys.stderr)
            db.unlink(missing_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else float("nan")

    stage_names = list(runs[0]["cold"]["stages"])
    load = os.getloadavg()
    print(f"\nCorpus {args.corpus.name}, {args.runs} run(s), {os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}, +1% = {n_new} conversations, "
          f"load average at the end {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}\n")
    print("| scenario | wall s (median) | " + " | ".join(f"{s} s" for s in stage_names)
          + " | peak RSS MiB |")
    print("|---|---:|" + "---:|" * len(stage_names) + "---:|")
    for scen in [s for s in ("cold", "rerun", "plus1pct") if s in runs[0]]:
        cells = []
        for s in stage_names:
            vals = [r[scen]["stages"].get(s, {}).get("seconds") for r in runs]
            skipped = all(r[scen]["stages"].get(s, {}).get("skipped") for r in runs)
            cells.append(f"{med(vals):.2f}" + (" (skipped)" if skipped else ""))
        peak = med([r[scen]["peak_rss_mib"] for r in runs])
        print(f"| {scen} | {med([r[scen]['wall_s'] for r in runs]):.1f} | "
              + " | ".join(cells) + f" | {peak:.0f} |")
    for line in (runs[-1].get("plus1pct", {}).get("stages", {}).get("embed", {}).get("line"),):
        if line:
            print(f"\n+1% embed stage said: {line}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"corpus": str(args.corpus), "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
