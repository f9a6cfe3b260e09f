"""Load test: N simultaneous sessions against a real `streamlit run app.py` on loopback.

Each virtual user loops until the duration is over: it picks an interaction (a filter
change on Overview / Conversations / Thought types / Participants, a keyword search, or
opening a conversation at a turn), and performs it as a page load of that URL: a new
websocket session on ``/_stcore/stream`` speaking Streamlit's own protocol (BackMsg
``rerun_script`` with the URL's page and query string, ForwardMsg deltas back), as the
browser does after fetching the static page.

Latency of one interaction: from opening the websocket to receiving the run's
``script_finished`` message, i.e. until every delta of the new state (metrics, tables,
charts, transcript) has been received by the client. Browser-side painting is not
included (no browser here: 20 chromium tabs would compete with the server for the 2
cores and measure the client). An interaction is an error when the connection fails, the
run does not finish within the timeout, the script did not finish successfully, the page
shows an exception or the app's error boundary ("unexpected problem"), or the expected
content is missing (metrics on Overview, chat messages for an opened conversation, a
table on the list).

Only 127.0.0.1 is ever contacted; the loops stop by themselves after ``--duration``.

Usage:
  python benchmarks/load_test.py --db /tmp/load_helper/b1.duckdb --sessions 20 \
      --duration 180 --out benchmarks/results/load_1x.json --readme benchmarks/README.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DB = Path("/tmp/load_helper/b1.duckdb")
HOST = "127.0.0.1"
SECTION = "## Load test"


def cpu_probe_s(n: int = 10_000_000, repeats: int = 3) -> float:
    """Seconds for a fixed pure-Python loop (best of ``repeats``): how fast this machine
    is right now. These shared 2-core machines vary by 2x from hour to hour without any
    load of our own, so every results file records it beside the load average."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        total = 0
        for i in range(n):
            total += i
        best = min(best, time.perf_counter() - t0)
    return best


def report(title: str, columns: list[str], cells, results: dict[str, dict],
           probe: list[float], out: Path | None, meta: dict) -> None:
    """Print ``results`` as a Markdown table (one row per result: its name, then
    ``cells(result)``) under ``title`` with the load average and the CPU probe taken
    before and after the run; with ``out``, also write them as JSON beside ``meta``."""
    load = os.getloadavg()
    print(f"\n{title}, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}, CPU probe "
          f"{probe[0]:.2f} s before / {probe[1]:.2f} s after\n")
    print("| " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * (len(columns) - 1))
    for name, r in results.items():
        print("| " + " | ".join([name, *cells(r)]) + " |")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**meta, "loadavg": load, "cpu_probe_s": probe,
                                   "results": results}, indent=1))


# --------------------------------------------------------------------------- server

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(db: Path, port: int, log_path: Path, script: str = "app.py"
                 ) -> subprocess.Popen:
    env = {**os.environ, "THOUGHTTRACE_DB": str(db)}
    log = open(log_path, "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.address", HOST,
         "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.port", str(port), "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError("streamlit did not become healthy")


def stop_server(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


def rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` in MiB (from /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` so far (from /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class MemorySampler(threading.Thread):
    def __init__(self, pid: int, every_s: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stop.is_set():
            mb = rss_mb(self.pid)
            if mb is not None:
                self.samples.append((time.monotonic() - self.t0, mb))
            self.stop.wait(self.every_s)


# --------------------------------------------------------------------------- workload

def workload(db: Path) -> dict:
    """Filter values and conversation ids to draw interactions from (read from the DB)."""
    import duckdb
    con = duckdb.connect(str(db), read_only=True)
    try:
        def col(sql):
            return [r[0] for r in con.execute(sql).fetchall()]
        return {
            "models": col("SELECT DISTINCT model_name FROM conversations WHERE model_name "
                          "IS NOT NULL ORDER BY 1"),
            "domains": col("SELECT DISTINCT domain FROM conversations WHERE domain IS NOT "
                           "NULL ORDER BY 1"),
            "labels": col("SELECT code FROM labels ORDER BY sort_order"),
            "convs": col("SELECT conv_id FROM conversations USING SAMPLE 400 ROWS "
                         "(reservoir, 7) ORDER BY 1"),
            "keywords": ["too long", "thanks", "recipe", "code", "explain", "shorter"],
            "n_conversations": con.execute("SELECT count(*) FROM conversations").fetchone()[0],
        }
    finally:
        con.close()


def random_filter(rng: random.Random, w: dict) -> dict[str, str]:
    choice = rng.randrange(6)
    if choice == 0:
        return {"model": rng.choice(w["models"])}
    if choice == 1:
        return {"domain": rng.choice(w["domains"])} if w["domains"] else {}
    if choice == 2:
        return {"label": rng.choice(w["labels"])}
    if choice == 3:
        lo = rng.randint(2, 10)
        return {"msgs": f"{lo}-{lo + rng.randint(2, 20)}"}
    if choice == 4:
        return {"model": rng.choice(w["models"]), "label": rng.choice(w["labels"])}
    return {}


def next_interaction(rng: random.Random, w: dict) -> tuple[str, str, dict, str]:
    """(kind, page_name, query params, expected content marker)."""
    r = rng.random()
    if r < 0.35:
        conv = rng.choice(w["convs"])
        return "open_conversation", "browser", {"conv": conv, "turn": "1"}, "chat_message"
    if r < 0.55:
        return "filter_overview", "", random_filter(rng, w), "metric"
    if r < 0.75:
        return "filter_list", "browser", random_filter(rng, w), "dataframe_or_info"
    if r < 0.85:
        return "keyword_search", "browser", {"q": rng.choice(w["keywords"])}, \
            "dataframe_or_info"
    if r < 0.93:
        return "filter_thoughts", "thoughts", random_filter(rng, w), "any"
    return "filter_participants", "demographics", random_filter(rng, w), "any"


async def page_load(port: int, page: str, params: dict, timeout_s: float) -> dict:
    """One page load over the websocket; returns timing, counts and any error."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    t0 = time.perf_counter()
    seen = {"metric": 0, "chat_message": 0, "dataframe": 0, "info": 0, "deltas": 0}
    out = {"ok": False, "error": None, "bytes": 0}
    try:
        async with websockets.connect(f"ws://{HOST}:{port}/_stcore/stream",
                                      subprotocols=["streamlit"], max_size=None,
                                      open_timeout=timeout_s) as ws:
            msg = BackMsg()
            msg.rerun_script.query_string = urlencode(params)
            msg.rerun_script.page_name = page
            await ws.send(msg.SerializeToString())
            deadline = time.perf_counter() + timeout_s
            while True:
                raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.perf_counter()))
                out["bytes"] += len(raw)
                fwd = ForwardMsg()
                fwd.ParseFromString(raw)
                kind = fwd.WhichOneof("type")
                if kind == "delta":
                    seen["deltas"] += 1
                    d = fwd.delta
                    if d.WhichOneof("type") == "new_element":
                        el = d.new_element.WhichOneof("type")
                        if el == "exception":
                            out["error"] = "exception: " + d.new_element.exception.message[:200]
                        elif el == "alert":
                            body = d.new_element.alert.body
                            fmt_ = d.new_element.alert.format
                            if "unexpected problem" in body:
                                out["error"] = "error boundary: " + body[:200]
                            elif fmt_ == 1:  # ERROR: any st.error on a page is a failure
                                out["error"] = "st.error: " + body[:200]
                            elif fmt_ == 3:  # INFO ("no conversations match ...")
                                seen["info"] += 1
                        elif el in ("metric", "dataframe", "arrow_data_frame"):
                            seen["metric" if el == "metric" else "dataframe"] += 1
                    elif d.WhichOneof("type") == "add_block":
                        if d.add_block.WhichOneof("type") == "chat_message":
                            seen["chat_message"] += 1
                elif kind == "page_not_found":
                    out["error"] = f"page not found: {page!r}"
                elif kind == "script_finished":
                    if fwd.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                        out["error"] = out["error"] or f"script_finished={fwd.script_finished}"
                    break
    except TimeoutError:
        out["error"] = f"timeout after {timeout_s:.0f}s"
    except Exception as exc:  # noqa: BLE001 - any client-side failure is an error sample
        out["error"] = f"{exc.__class__.__name__}: {str(exc)[:200]}"
    out["latency_s"] = time.perf_counter() - t0
    out["seen"] = seen
    return out


def content_ok(marker: str, seen: dict) -> bool:
    if marker == "metric":
        return seen["metric"] >= 1
    if marker == "chat_message":
        return seen["chat_message"] >= 1
    if marker == "dataframe_or_info":
        return seen["dataframe"] >= 1 or seen["info"] >= 1
    return seen["deltas"] >= 10


async def virtual_user(i: int, port: int, w: dict, stop_at: float, timeout_s: float,
                       think_s: float, samples: list, seed: int) -> None:
    rng = random.Random(seed * 1000 + i)
    await asyncio.sleep(rng.random() * 2)  # stagger the start
    while time.monotonic() < stop_at:
        kind, page, params, marker = next_interaction(rng, w)
        res = await page_load(port, page, params, timeout_s)
        if res["error"] is None and not content_ok(marker, res["seen"]):
            res["error"] = f"expected content missing ({marker}): {res['seen']}"
        samples.append({"user": i, "kind": kind, "page": page, "params": params,
                        "t": time.monotonic(), "latency_s": res["latency_s"],
                        "error": res["error"], "bytes": res["bytes"]})
        if think_s:
            await asyncio.sleep(rng.uniform(0, 2 * think_s))


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(q / 100 * (len(values) - 1)))))
    return values[k]


def summarize(samples: list[dict], duration_s: float) -> dict:
    def stats(rows):
        lat = [r["latency_s"] for r in rows if r["error"] is None]
        return {"n": len(rows), "errors": sum(r["error"] is not None for r in rows),
                "p50_s": pct(lat, 50), "p95_s": pct(lat, 95), "p99_s": pct(lat, 99),
                "max_s": max(lat) if lat else None,
                "mean_s": statistics.fmean(lat) if lat else None}
    kinds = sorted({r["kind"] for r in samples})
    return {"all": {**stats(samples), "throughput_per_s": len(samples) / duration_s},
            "by_kind": {k: stats([r for r in samples if r["kind"] == k]) for k in kinds}}


async def run_load(port: int, w: dict, sessions: int, duration_s: float, timeout_s: float,
                   think_s: float, seed: int) -> tuple[list[dict], float]:
    samples: list[dict] = []
    t0 = time.monotonic()
    stop_at = t0 + duration_s
    await asyncio.gather(*(virtual_user(i, port, w, stop_at, timeout_s, think_s, samples,
                                        seed) for i in range(sessions)))
    return samples, time.monotonic() - t0


# --------------------------------------------------------------------------- report

def fmt(v: float | None, unit: str = "s") -> str:
    if v is None:
        return "—"
    return f"{v * 1000:.0f} ms" if unit == "s" else f"{v:.0f}"


INTRO = """\
`benchmarks/load_test.py` starts `streamlit run app.py` on 127.0.0.1 with a DB and drives N
simultaneous sessions for a fixed time. Each session loops through page loads of URLs: a
filter change (Overview, Conversations list, Thought types, Participants; model, domain,
label, message-count range or none), a keyword search, or opening a conversation at a turn.
A page load is a new websocket session speaking Streamlit's protocol (`rerun_script` with
the URL's page and query string), as a browser does for a link.

- **Latency**: from opening the websocket to receiving the run's `script_finished`, i.e.
  every delta of the new state (metrics, tables, charts, transcript) received by the
  client. Browser painting is not included.
- **Error**: a failed or timed-out load, a run that did not finish successfully, an
  exception, the app's error boundary or any `st.error` on the page, or missing content
  (no metrics on Overview, no chat messages for an opened conversation, no table or notice
  on the list).
- **Server memory**: RSS of the server process from /proc, sampled every second.
- **Think time**: each session pauses uniformly 0–2×mean between interactions (0: none,
  a closed-loop saturation test).
"""


def markdown(report: dict) -> str:
    """The subsection of one run (### label)."""
    a = report["summary"]["all"]
    mem = report["server_rss_mb"]
    lines = [
        f"### {report['label']}", "",
        f"`python benchmarks/load_test.py --sessions {report['sessions']} --duration "
        f"{round(report['duration_s'])} --think {report['think_s']:g}` with "
        f"`{report['db_name']}` ({report['n_conversations']:,} conversations). Raw numbers: "
        f"`benchmarks/results/{report['out_name']}`. Machine: {report['machine']['cpus']} CPUs "
        f"shared by the server, the clients and whatever else ran; load average (1/5/15 min) "
        f"before / after: {report['loadavg_before']} / {report['loadavg_after']}.", "",
        "| sessions | think | interactions | throughput | errors | p50 | p95 | p99 | max |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {report['sessions']} | {report['think_s']:g} s | {a['n']:,} | "
        f"{a['throughput_per_s']:.1f}/s | {a['errors']} | {fmt(a['p50_s'])} "
        f"| {fmt(a['p95_s'])} | {fmt(a['p99_s'])} | {fmt(a['max_s'])} |", "",
        "| interaction | n | errors | p50 | p95 |", "|---|---:|---:|---:|---:|"]
    for kind, s in report["summary"]["by_kind"].items():
        lines.append(f"| {kind} | {s['n']:,} | {s['errors']} | {fmt(s['p50_s'])} | "
                     f"{fmt(s['p95_s'])} |")
    lines += ["", f"Server memory (RSS): {mem['start']:.0f} MiB after start-up and warm-up, "
                  f"peak {mem['peak']:.0f} MiB, {mem['end']:.0f} MiB at the end.", ""]
    cpu = report.get("server_cpu_s")
    if cpu is not None and a["n"]:
        lines.append(f"Server CPU: {cpu:.0f} s over {report['duration_s']:.0f} s "
                     f"({cpu / report['duration_s']:.2f} cores on average), "
                     f"{1000 * cpu / a['n']:.0f} ms of server CPU per interaction.")
        lines.append("")
    target = report["target"]
    lines.append(f"Target (zero errors, p95 under 1 s at 1×): "
                 f"**{'met' if target['met'] else 'not met'}** ({target['why']}).")
    if report.get("note"):
        lines += ["", report["note"]]
    if report.get("error_examples"):
        lines += ["", "First errors:", ""] + [f"- `{e}`" for e in report["error_examples"]]
    return "\n".join(lines) + "\n"


def _split_sub(body: list[str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    head, subs = [], []
    for line in body:
        if line.startswith("### "):
            subs.append((line[4:].strip(), [line]))
        elif subs:
            subs[-1][1].append(line)
        else:
            head.append(line)
    return head, subs


def write_section(readme: Path, label: str, text: str) -> None:
    """Put this run's subsection (### label) into the '## Load test' section, replacing a
    subsection of the same label; other sections and subsections are left alone."""
    old = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n"
    lines = old.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == SECTION), None)
    if start is None:
        before, body, after = lines, [], []
    else:
        end = next((j for j in range(start + 1, len(lines)) if lines[j].startswith("## ")),
                   len(lines))
        before, body, after = lines[:start], lines[start + 1:end], lines[end:]
    _, subs = _split_sub(body)
    new_sub = text.rstrip("\n").splitlines() + [""]
    subs = [(lab, new_sub if lab == label else blk) for lab, blk in subs]
    if label not in [lab for lab, _ in subs]:
        subs.append((label, new_sub))
    section = [SECTION, "", *INTRO.rstrip("\n").splitlines(), ""]
    for _, blk in subs:
        section += blk
    while before and not before[-1].strip():
        before.pop()
    out = before + [""] + section
    if after:
        out += after
    readme.write_text("\n".join(out).rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=DEFAULT_DB)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--duration", type=float, default=180, help="seconds of load")
    ap.add_argument("--timeout", type=float, default=60, help="per page load, seconds")
    ap.add_argument("--think", type=float, default=0.0,
                    help="mean pause between a session's interactions, seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--label", default=None,
                    help="subsection title in the README (default from sessions / think)")
    ap.add_argument("--note", default="", help="a sentence added under the run's table")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/load_1x.json")
    ap.add_argument("--readme", type=Path, default=None,
                    help="write the Markdown table into this file's '## Load test' section")
    args = ap.parse_args(argv)
    if not args.db.is_file():
        ap.error(f"{args.db}: no such DB (build one, e.g. python -m precompute build)")

    w = workload(args.db)
    port = free_port()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    proc = start_server(args.db, port, Path("/tmp") / f"tt_load_{port}.log")
    try:
        wait_healthy(port, proc)
        # warm-up: the first session activates st.navigation; fill the shared caches of
        # the start page as any first visitor would
        for page in ("", "browser", "thoughts", "demographics"):
            asyncio.run(page_load(port, page, {}, args.timeout))
        sampler = MemorySampler(proc.pid)
        sampler.start()
        time.sleep(1.2)
        cpu0 = cpu_seconds(proc.pid)
        samples, elapsed = asyncio.run(run_load(port, w, args.sessions, args.duration,
                                                args.timeout, args.think, args.seed))
        cpu1 = cpu_seconds(proc.pid)
        sampler.stop.set()
        sampler.join()
    finally:
        stop_server(proc)
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    summary = summarize(samples, elapsed)
    rss = [mb for _, mb in sampler.samples]
    a = summary["all"]
    met = a["errors"] == 0 and a["p95_s"] is not None and a["p95_s"] < 1.0
    why = f"{a['errors']} errors, p95 {fmt(a['p95_s'])}"
    report = {
        "db": str(args.db), "db_name": args.db.name, "n_conversations": w["n_conversations"],
        "sessions": args.sessions, "duration_s": elapsed, "timeout_s": args.timeout,
        "think_s": args.think, "seed": args.seed, "out_name": args.out.name,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "loadavg_before": load_before, "loadavg_after": load_after,
        "summary": summary,
        "server_rss_mb": {"start": rss[0] if rss else 0, "peak": max(rss) if rss else 0,
                          "end": rss[-1] if rss else 0,
                          "samples": [[round(t, 1), round(mb, 1)] for t, mb in
                                      sampler.samples]},
        "target": {"met": met, "why": why},
        "server_cpu_s": None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
        "label": args.label or (f"{args.sessions} sessions, "
                                + ("no think time (saturation)" if not args.think
                                   else f"think time {args.think:g} s")),
        "note": args.note,
        "error_examples": [f"{r['kind']} {r['params']}: {r['error']}" for r in samples
                           if r["error"]][:10],
        "samples": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
                     if k != "t"} for r in samples],
    }
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    text = markdown(report)
    print(text)
    if args.readme:
        write_section(args.readme, report["label"], text)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
