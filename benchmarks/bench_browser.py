"""Time to first chart in a real browser, per page, on a warm server.

Starts `streamlit run app.py` on a DB, opens every page once to warm the server (imports,
query and figure caches) and the browser's HTTP cache, then measures, ``--repeats`` times
per page in headless Chromium, the time until the page's first chart is drawn by
plotly.js (an ``svg.main-svg`` inside ``.js-plotly-plot``; for the Conversations page,
which opens on its list, the list's table):

- *open*: the page's URL in a new tab (a user following a link): the HTML, the JS bundle
  (from the HTTP cache), the websocket, the script run, loading plotly.js and drawing;
- *navigate*: a click on the page's link in the sidebar of an open tab (the app's own
  navigation: no reload, plotly.js already loaded), back to Overview between visits;
- *switch tab*: on Semantic shifts, a click on its other tab (Global map, then back to
  Centred gaps: each tab is computed and drawn only when opened);
- *floor*: `floor_app.py`, a page with one title and one three-bar plotly chart, opened
  in new tabs: what Streamlit and plotly.js cost on this machine with no app work at all.

A new tab's time is taken twice: when Playwright's wait sees the chart, and when the page
itself painted it (an init script notes the first animation frame after the chart's
traces, or the table, entered the document; `DRAWN_MARKS`). Playwright polls at growing
intervals and from the page's main thread, so its time includes up to ~0.5 s of polling
and whatever else keeps that thread busy after the paint; the page's own time does not.
Each is divided by the floor's time taken the same way, in the same run.

Usage:
  python benchmarks/bench_browser.py --db /tmp/b1.duckdb --repeats 5 \
      --out benchmarks/results/browser_1x.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test import HOST, cpu_probe_s, free_port, report, start_server, stop_server, wait_healthy  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
CHART = ".js-plotly-plot svg.main-svg"
TABLE = "[data-testid='stDataFrame']"
# (name, URL path, what counts as shown, the page's title)
PAGES = [("overview", "", CHART, "ThoughtTrace Explorer"),
         ("conversations", "browser", TABLE, "Conversations"),
         ("thought types & stages", "thoughts", CHART, "Thought types & stages"),
         ("turn by turn", "turns", CHART, "Turn by turn"),
         ("participants", "demographics", CHART, "Participants"),
         ("topics", "topics", CHART, "Topics"),
         ("semantic shifts", "shifts", CHART, "Semantic shifts")]
FRESH = "[data-stale='false'] "  # an element of the current run, not the previous page's
#: Opened in a new tab too: the shifts page's second tab, by its link.
MAP = ("semantic shifts, global map tab", "shifts?view=Global+map",
       ".js-plotly-plot .gtitle:has-text('Global map')", "Semantic shifts")
#: (tab, what shows it is drawn) on the shifts page, clicked in turn.
SHIFT_TABS = [("Global map", MAP[2]),
              ("Centred gaps", ".js-plotly-plot .gtitle:has-text('Semantic shift')")]


#: What the page itself records (an init script in every tab): the time since the start
#: of the navigation of the first animation frame after the first chart's traces (or the
#: first table) entered the document, i.e. when they are painted. Playwright's own wait
#: polls at growing intervals (up to 0.5 s) and runs on the page's main thread, so it can
#: see a chart late, by more when the rest of the page keeps that thread busy.
DRAWN_MARKS = {CHART: ".js-plotly-plot .trace, .js-plotly-plot .sankey, "
                      ".js-plotly-plot canvas", TABLE: TABLE}
DRAWN_JS = """(() => {
  const marks = %s; window.__drawn = {};
  const check = () => { for (const [key, sel] of Object.entries(marks)) {
    if (!(key in window.__drawn) && document.querySelector(sel)) { window.__drawn[key] = -1;
      requestAnimationFrame(() => { window.__drawn[key] = performance.now(); }); } } };
  new MutationObserver(check).observe(document, {subtree: true, childList: true});
})();"""


def drawn_script() -> str:
    import json
    return DRAWN_JS % json.dumps(DRAWN_MARKS)


def first_paint_s(context, url: str, selector: str, timeout_s: float = 120,
                  drawn: list | None = None) -> float:
    """Seconds from opening ``url`` in a new tab until Playwright sees ``selector``; with
    ``drawn``, the page's own first-paint time (see `DRAWN_MARKS`) is appended to it."""
    page = context.new_page()
    try:
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(selector, state="visible", timeout=timeout_s * 1000)
        seen = time.perf_counter() - t0
        mark = selector if selector in DRAWN_MARKS else (CHART if "plotly" in selector
                                                          else None)
        if drawn is not None and mark is not None:
            key = json_key(mark)
            page.wait_for_function(f"window.__drawn && window.__drawn[{key}] > 0",
                                   timeout=timeout_s * 1000)
            drawn.append(page.evaluate(f"window.__drawn[{key}]") / 1000)
        return seen
    finally:
        page.close()


def json_key(selector: str) -> str:
    import json
    return json.dumps(selector)


def navigate_s(page, path: str, selector: str, title: str, timeout_s: float = 120) -> float:
    """Click the page's link in the sidebar navigation of an open app tab (no reload: the
    JS, plotly.js included, is already loaded) and time until its first chart is drawn."""
    t0 = time.perf_counter()
    page.click(f"[data-testid='stSidebarNav'] a[href$='/{path}']")
    page.wait_for_selector(f"h1:has-text('{title}')", timeout=timeout_s * 1000)
    page.wait_for_selector(FRESH + selector, state="visible", timeout=timeout_s * 1000)
    return time.perf_counter() - t0


def switch_tab_s(page, tab: str, selector: str, timeout_s: float = 120) -> float:
    """Click one of the page's tabs and time until its first chart is drawn."""
    t0 = time.perf_counter()
    page.get_by_role("tab", name=tab).click()
    page.wait_for_selector(FRESH + selector, state="visible", timeout=timeout_s * 1000)
    return time.perf_counter() - t0


def _url(base: str, path: str, query: str) -> str:
    """``base/path`` with the benchmark's query string added to the path's own."""
    if query and "?" in path:
        return f"{base}/{path}&{query.lstrip('?')}"
    return f"{base}/{path}{query}"


def floor(db: Path, repeats: int) -> dict:
    """`floor_app.py` (one title, one three-bar chart) opened in new tabs like the pages:
    what Streamlit and plotly.js alone cost on this machine."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="ttbrowser-floor-")) / "server.log"
    proc = start_server(db, port, log, script="benchmarks/floor_app.py")
    try:
        wait_healthy(port, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_init_script(drawn_script())
            url = f"http://{HOST}:{port}/"
            first_paint_s(context, url, CHART)  # warm-up
            drawn: list[float] = []
            times = [first_paint_s(context, url, CHART, drawn=drawn) for _ in range(repeats)]
            browser.close()
    finally:
        stop_server(proc)
    return _summary("one-chart hello page", "new tab", times, drawn)


def bench(db: Path, repeats: int, query: str = "") -> dict[str, dict]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="ttbrowser-")) / "server.log"
    proc = start_server(db, port, log)
    results: dict[str, dict] = {"open floor: a one-chart hello page": floor(db, repeats)}
    try:
        wait_healthy(port, proc)
        base = f"http://{HOST}:{port}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_init_script(drawn_script())
            opened = PAGES + [MAP]
            for _name, path, selector, _ in opened:  # warm-up: server caches, HTTP cache
                first_paint_s(context, _url(base, path, query), selector)
            for name, path, selector, _ in opened:
                drawn = []
                times = [first_paint_s(context, _url(base, path, query), selector,
                                       drawn=drawn) for _ in range(repeats)]
                results[f"open {name}"] = _summary(name, "new tab", times, drawn)
            # in-app navigation: one tab, a page link clicked, then back to Overview
            tab = context.new_page()
            tab.goto(f"{base}/{query}")
            tab.wait_for_selector(CHART, state="visible", timeout=120_000)
            home = PAGES[0]
            for name, path, selector, title in PAGES[1:]:
                times = []
                for _ in range(repeats):
                    times.append(navigate_s(tab, path, selector, title))
                    navigate_s(tab, home[1], home[2], home[3])
                results[f"navigate to {name}"] = _summary(name, "sidebar link", times)
            # the shifts page's tabs, back and forth in the same tab
            navigate_s(tab, PAGES[-1][1], PAGES[-1][2], PAGES[-1][3])
            runs: dict[str, list[float]] = {name: [] for name, _ in SHIFT_TABS}
            for _ in range(repeats):
                for name, selector in SHIFT_TABS:
                    runs[name].append(switch_tab_s(tab, name, selector))
            for name, _ in SHIFT_TABS:
                results[f"switch to the shifts tab {name}"] = _summary(name, "tab", runs[name])
            browser.close()
    finally:
        stop_server(proc)
    return results


def _summary(name: str, how: str, times: list[float], drawn: list[float] | None = None
             ) -> dict:
    out = {"median_s": statistics.median(times), "max_s": max(times), "runs_s": times}
    if drawn:
        out.update(drawn_median_s=statistics.median(drawn), drawn_max_s=max(drawn),
                   drawn_runs_s=drawn)
    print(f"{name:24s} {how:13s} median {out['median_s']:5.2f} s   max {out['max_s']:5.2f} s"
          + (f"   painted (in page) median {out['drawn_median_s']:5.2f} s" if drawn else ""),
          file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--query", default="",
                    help="query string for every page, e.g. '?model=GPT-5.4'")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: apt-get install chromium chromium-driver")
    probe = [cpu_probe_s()]
    results = bench(args.db, args.repeats, args.query)
    probe.append(cpu_probe_s())
    floor_drawn = results["open floor: a one-chart hello page"].get("drawn_median_s")
    floor_seen = results["open floor: a one-chart hello page"]["median_s"]

    def cells(r: dict) -> list[str]:
        painted = r.get("drawn_median_s")
        ratio = (f"{painted / floor_drawn:.2f}×" if painted and floor_drawn else "—")
        return [f"{r['median_s']:.2f}", f"{r['max_s']:.2f}",
                f"{r['median_s'] / floor_seen:.2f}×" if "drawn_median_s" in r else "—",
                f"{painted:.2f}" if painted else "—", ratio]
    report(f"{args.db.name}{args.query}: first chart in the browser, warm server, "
           f"{args.repeats} visits per page",
           ["page, how", "seen by Playwright: median s", "max s", "÷ floor",
            "painted (in page): median s", "÷ floor"],
           cells, results, probe, args.out,
           {"db": str(args.db), "query": args.query, "repeats": args.repeats})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
