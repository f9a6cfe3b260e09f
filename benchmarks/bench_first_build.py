"""Time from `make app` on a machine without the DB file to the conversations in a browser.

Each run starts `make app DB=<fresh path> SOURCE=<corpus>` (the set-up step skipped: a
fresh STAMP file, so no pip runs), with headless Chromium already running (a user's
browser is), and measures from the command's start:

- *published*: the DB file appears (the build's early publication, after ingest);
- *server up*: Streamlit answers /_stcore/health, and a tab is opened on the app's root
  (as the user opens the URL Streamlit prints; it shows "is building its database", or
  the data when it was published before);
- *overview*: the Overview's "Conversations" number is drawn in that tab (the app switched
  to the data by itself, no reload);
- *conversations list*: then a click on "Conversations" in the sidebar, until the list
  (its table) is drawn.

Then Ctrl-C (SIGINT to the process group) stops the app and the background build. With
``--mode sequential`` it measures the previous recipe instead (the whole build first, then
the app: `precompute build` to completion, then `streamlit run`); with ``--full`` the
first run also waits for the complete file and times it.

Usage:
  python benchmarks/bench_first_build.py --corpus benchmarks/corpora/thoughttrace_1x.jsonl \\
      --runs 3 --out benchmarks/results/first_build_1x.json
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(Path(__file__).resolve().parent), str(REPO)]
from load_test import HOST, cpu_probe_s, free_port, report  # noqa: E402

from precompute import store  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
METRIC = "[data-testid='stMetric']:has-text('Conversations')"
TABLE = "[data-testid='stDataFrame']"
ENV = {"STREAMLIT_SERVER_HEADLESS": "true", "STREAMLIT_SERVER_ADDRESS": HOST,
       "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none", "HF_HUB_OFFLINE": "1"}


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/_stcore/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def _command(mode: str, corpus: Path, db: Path, port: int, stamp: Path) -> list[str]:
    if mode == "make":
        return ["make", "--no-print-directory", "app", f"DB={db}", f"SOURCE={corpus}",
                f"PORT={port}", f"STAMP={stamp}"]
    py = str(REPO / ".venv" / "bin" / "python")
    script = (f"{py} -m precompute build --no-progress --source '{corpus}' --db '{db}' && "
              f"THOUGHTTRACE_DB='{db}' exec {REPO / '.venv' / 'bin' / 'streamlit'} run "
              f"app.py --server.port {port} --browser.gatherUsageStats false")
    return ["sh", "-c", script]


def one_run(browser, mode: str, corpus: Path, full: bool, timeout_s: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix="ttfirst-"))
    db, stamp, port = work / "first.duckdb", work / "stamp", free_port()
    stamp.touch()
    log = open(work / "make.log", "wb")
    marks: dict[str, float] = {}
    done = threading.Event()

    def watch_file() -> None:  # when the DB file appears, and when it is complete
        while not done.is_set():
            if "published_s" not in marks and db.exists():
                marks["published_s"] = time.perf_counter() - t0
            if full and "complete_s" not in marks and db.exists() \
                    and store.read_status(db) is None and not store.is_partial(db):
                marks["complete_s"] = time.perf_counter() - t0
            time.sleep(0.02)

    t0 = time.perf_counter()
    proc = subprocess.Popen(_command(mode, corpus, db, port, stamp), cwd=REPO,
                            env={**os.environ, **ENV}, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    watcher = threading.Thread(target=watch_file, daemon=True)
    watcher.start()
    try:
        deadline = t0 + timeout_s
        while not _healthy(port):
            if proc.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"no server (see {work / 'make.log'})")
            time.sleep(0.05)
        marks["server_s"] = time.perf_counter() - t0
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://{HOST}:{port}/")
        page.wait_for_selector(METRIC, state="visible", timeout=timeout_s * 1000)
        marks["overview_s"] = time.perf_counter() - t0
        page.click("[data-testid='stSidebarNav'] a[href$='/browser']")
        page.wait_for_selector(TABLE, state="visible", timeout=timeout_s * 1000)
        marks["list_s"] = time.perf_counter() - t0
        if full:
            while "complete_s" not in marks and time.perf_counter() < deadline + 3600:
                time.sleep(0.5)
        page.close()
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the app, then the background build
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        done.set()
        watcher.join()
        log.close()
    marks["stopped_cleanly"] = not [p for p in work.iterdir() if ".building-" in p.name]
    print(f"  {mode}: " + ", ".join(f"{k} {v:.2f}" for k, v in marks.items()
                                   if isinstance(v, float)), file=sys.stderr)
    return marks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path,
                    default=REPO / "benchmarks" / "corpora" / "thoughttrace_1x.jsonl")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mode", choices=("make", "sequential"), default="make",
                    help="make: `make app` (early publication); sequential: the previous "
                         "recipe, the whole build before the app")
    ap.add_argument("--full", action="store_true",
                    help="in the first run, also wait for the complete file")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: apt-get install chromium")
    if not args.corpus.exists():
        raise SystemExit(f"{args.corpus} not found: python benchmarks/make_corpus.py "
                         f"--scale 1 --out {args.corpus}")
    from playwright.sync_api import sync_playwright

    probe = [cpu_probe_s()]
    load_before = os.getloadavg()
    runs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for i in range(args.runs):
            runs.append(one_run(browser, args.mode, args.corpus, args.full and i == 0,
                                args.timeout))
        browser.close()
    probe.append(cpu_probe_s())
    keys = [k for k in ("published_s", "server_s", "overview_s", "list_s", "complete_s")
            if any(k in r for r in runs)]
    results = {k: {"median_s": statistics.median(r[k] for r in runs if k in r),
                   "max_s": max(r[k] for r in runs if k in r),
                   "runs_s": [r.get(k) for r in runs]} for k in keys}
    report(f"{args.corpus.name}, {args.mode}: seconds from the command's start, "
           f"{args.runs} runs (load average before {load_before[0]:.1f})",
           ["milestone", "median s", "max s"],
           lambda r: [f"{r['median_s']:.2f}", f"{r['max_s']:.2f}"], results, probe, args.out,
           {"corpus": str(args.corpus), "mode": args.mode, "runs": runs,
            "loadavg_before": load_before})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
