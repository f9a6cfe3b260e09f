"""Load test: N simultaneous sessions against a real `streamlit run app.py`.

Three ways to point it at a server:

- default: it starts one ``streamlit run app.py`` on a free loopback port itself;
- ``--url URL``: it drives a server that is already running (e.g. ``deploy/serve.py``'s
  proxy) and, when it knows the worker pids (``--pids``, or ``workers.json`` in
  deploy/serve.py's run directory for the URL's port), measures each worker's memory and
  CPU;
- ``--serve-workers 1,2``: it starts ``deploy/serve.py`` itself, once per worker count
  and repeat (interleaved, so machine drift hits every count alike), and compares them.

Each virtual user loops until the duration is over: it picks an interaction (a filter
change on Overview / Conversations / Thought types / Participants, a keyword search, or
opening a conversation at a turn), and performs it as a page load of that URL: a new
websocket session on ``/_stcore/stream`` speaking Streamlit's own protocol (BackMsg
``rerun_script`` with the URL's page and query string, ForwardMsg deltas back), as the
browser does after fetching the static page.

Latency of one interaction: from opening the websocket to receiving the run's
``script_finished`` message, i.e. until every delta of the new state (metrics, tables,
charts, transcript) has been received by the client. A new session's first run is light
(`components.ui.first_paint`: the page up to its first chart, then a hidden button that
the browser clicks once the chart is drawn): the load test clicks it at once, as a
browser would, and the page load ends with the full run that follows, so both runs are
counted. Browser-side painting is not
included (no browser here: 20 chromium tabs would compete with the server for the 2
cores and measure the client). An interaction is an error when the connection fails, the
run does not finish within the timeout, the script did not finish successfully, the page
shows an exception or the app's error boundary ("unexpected problem"), or the expected
content is missing (metrics on Overview, chat messages for an opened conversation, a
table on the list).

Through a proxy each virtual user keeps the cookies it is given (HAProxy's ``tt_worker``)
and sends them back, as a browser does, so it stays on one worker.

Only 127.0.0.1 (or the ``--url`` given) is contacted; the loops stop by themselves after
``--duration``.

Usage:
  python benchmarks/load_test.py --db /tmp/load_helper/b1.duckdb --sessions 20 \
      --duration 180 --out benchmarks/results/load_1x.json --readme benchmarks/README.md
  python benchmarks/load_test.py --url http://127.0.0.1:8080 --sessions 20 --think 5
  python benchmarks/load_test.py --db /tmp/b1v2.duckdb --serve-workers 1,2 --repeats 3 \
      --sessions 20 --think 0 --duration 60 --out benchmarks/results/proxy_saturation.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode, urlparse

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DB = Path("/tmp/load_helper/b1.duckdb")
HOST = "127.0.0.1"
SECTION = "## Load test"
#: The key of the hidden button a new tab's light first run draws
#: (`components.ui.first_paint.BUTTON_KEY`): the load test clicks it, as the browser does.
FIRST_PAINT_KEY = "first_paint_more"
SERVE = REPO / "deploy" / "serve.py"
#: deploy/serve.py's default run directory (one subdirectory per proxy port)
SERVE_RUN_DIR = Path("/tmp") / "thoughttrace-serve"


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


def machine_busy_s() -> float | None:
    """CPU seconds all cores of the machine have been busy since boot (/proc/stat)."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (f + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class MemorySampler(threading.Thread):
    """RSS of one process (``samples``: (seconds, MiB)) or of several (``by_pid``), every
    ``every_s`` seconds until ``stop`` is set."""

    def __init__(self, pid: int | list[int], every_s: float = 1.0):
        super().__init__(daemon=True)
        self.pids = [pid] if isinstance(pid, int) else list(pid)
        self.every_s = every_s
        self.by_pid: dict[int, list[tuple[float, float]]] = {p: [] for p in self.pids}
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    @property
    def samples(self) -> list[tuple[float, float]]:
        return self.by_pid[self.pids[0]]

    def run(self) -> None:
        while not self.stop.is_set():
            for pid in self.pids:
                mb = rss_mb(pid)
                if mb is not None:
                    self.by_pid[pid].append((time.monotonic() - self.t0, mb))
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


def stream_url(target: int | str) -> str:
    """The websocket URL of a server given as a loopback port or as its http(s) URL."""
    if isinstance(target, int):
        return f"ws://{HOST}:{target}/_stcore/stream"
    u = urlparse(target)
    if u.scheme not in ("http", "https") or not u.netloc:
        raise ValueError(f"{target!r}: expected a URL like http://127.0.0.1:8080")
    return f"{'wss' if u.scheme == 'https' else 'ws'}://{u.netloc}{u.path.rstrip('/')}" \
           "/_stcore/stream"


def cookie_pairs(set_cookie: list[str]) -> dict[str, str]:
    """name -> value of ``Set-Cookie`` header values (attributes dropped)."""
    jar = {}
    for header in set_cookie:
        name, sep, value = header.split(";", 1)[0].strip().partition("=")
        if sep and name:
            jar[name] = value
    return jar


async def page_load(target: int | str, page: str, params: dict, timeout_s: float,
                    cookies: dict[str, str] | None = None, metrics: bool = False) -> dict:
    """One page load over the websocket of ``target`` (a loopback port or a URL), sending
    ``cookies``; returns timing, counts, any error, the cookies the response set
    (``set_cookie``) and, with ``metrics``, the page's metrics as (label, value) pairs."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    t0 = time.perf_counter()
    seen = {"metric": 0, "chat_message": 0, "dataframe": 0, "info": 0, "deltas": 0}
    out = {"ok": False, "error": None, "bytes": 0, "set_cookie": {}, "metrics": []}
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
    try:
        async with websockets.connect(stream_url(target), subprotocols=["streamlit"],
                                      max_size=None, open_timeout=timeout_s,
                                      additional_headers=headers) as ws:
            out["set_cookie"] = cookie_pairs(ws.response.headers.get_all("Set-Cookie"))
            msg = BackMsg()
            msg.rerun_script.query_string = urlencode(params)
            msg.rerun_script.page_name = page
            await ws.send(msg.SerializeToString())
            deadline = time.perf_counter() + timeout_s
            rest_id = None  # a new tab's light first run asks for the rest of the page
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
                        elif el == "button" and d.new_element.button.id.endswith(
                                FIRST_PAINT_KEY):
                            rest_id = d.new_element.button.id
                        elif el in ("metric", "dataframe", "arrow_data_frame"):
                            seen["metric" if el == "metric" else "dataframe"] += 1
                            if metrics and el == "metric":
                                m = d.new_element.metric
                                out["metrics"].append((m.label, m.body))
                    elif d.WhichOneof("type") == "add_block":
                        if d.add_block.WhichOneof("type") == "chat_message":
                            seen["chat_message"] += 1
                elif kind == "page_not_found":
                    out["error"] = f"page not found: {page!r}"
                elif kind == "script_finished":
                    if fwd.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                        out["error"] = out["error"] or f"script_finished={fwd.script_finished}"
                    if rest_id is not None and out["error"] is None:
                        # as the browser does once the first chart is drawn: click the
                        # hidden button, and the page's full run follows; the page load
                        # ends when that run has finished
                        again = BackMsg()
                        again.rerun_script.query_string = urlencode(params)
                        again.rerun_script.page_name = page
                        widget = again.rerun_script.widget_states.widgets.add()
                        widget.id, widget.trigger_value = rest_id, True
                        await ws.send(again.SerializeToString())
                        out["runs"] = out.get("runs", 1) + 1
                        rest_id = None
                        continue
                    break
    except TimeoutError:
        out["error"] = f"timeout after {timeout_s:.0f}s"
    except Exception as exc:  # noqa: BLE001 - any client-side failure is an error sample
        out["error"] = f"{exc.__class__.__name__}: {str(exc)[:200]}"
    out["latency_s"] = time.perf_counter() - t0
    out["seen"] = seen
    return out


def content_ok(marker: str, seen: dict) -> bool:
    if marker == "metric":  # the Overview's metrics, or its notice that nothing matches
        return seen["metric"] >= 1 or seen["info"] >= 1
    if marker == "chat_message":
        return seen["chat_message"] >= 1
    if marker == "dataframe_or_info":
        return seen["dataframe"] >= 1 or seen["info"] >= 1
    return seen["deltas"] >= 10


async def virtual_user(i: int, target: int | str, w: dict, stop_at: float, timeout_s: float,
                       think_s: float, samples: list, seed: int) -> None:
    rng = random.Random(seed * 1000 + i)
    jar: dict[str, str] = {}  # this user's cookies, as a browser keeps them
    await asyncio.sleep(rng.random() * 2)  # stagger the start
    while time.monotonic() < stop_at:
        kind, page, params, marker = next_interaction(rng, w)
        res = await page_load(target, page, params, timeout_s, cookies=jar)
        jar.update(res["set_cookie"])
        if res["error"] is None and not content_ok(marker, res["seen"]):
            res["error"] = f"expected content missing ({marker}): {res['seen']}"
        samples.append({"user": i, "kind": kind, "page": page, "params": params,
                        "t": time.monotonic(), "latency_s": res["latency_s"],
                        "error": res["error"], "bytes": res["bytes"],
                        "worker": jar.get(WORKER_COOKIE)})
        if think_s:
            await asyncio.sleep(rng.uniform(0, 2 * think_s))


WORKER_COOKIE = "tt_worker"


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


async def run_load(target: int | str, w: dict, sessions: int, duration_s: float,
                   timeout_s: float, think_s: float, seed: int) -> tuple[list[dict], float]:
    samples: list[dict] = []
    t0 = time.monotonic()
    stop_at = t0 + duration_s
    await asyncio.gather(*(virtual_user(i, target, w, stop_at, timeout_s, think_s, samples,
                                        seed) for i in range(sessions)))
    return samples, time.monotonic() - t0


# --------------------------------------------------------------------------- proxied

WARM_PAGES = ("", "browser", "thoughts", "demographics")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def read_serve_state(run_dir: Path) -> dict | None:
    """deploy/serve.py's ``workers.json`` in ``run_dir`` (pids and ports of the workers and
    of HAProxy), or None when there is none or it is stale (a worker pid that is no longer
    a streamlit process)."""
    try:
        state = json.loads((run_dir / "workers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not all("streamlit" in _cmdline(w["pid"]) for w in state.get("workers", [])):
        return None
    return state


def proxy_workers(url: str, pids: list[int] | None, run_dir: Path | None
                  ) -> tuple[list[dict], int | None, dict | None]:
    """The server processes to measure behind ``url``: (workers as name/pid/cookie,
    HAProxy's pid, serve.py's state). ``pids`` wins; else deploy/serve.py's run directory
    (``run_dir``, default its standard one for the URL's port) when it is there."""
    if pids:
        return [{"name": f"pid{p}", "pid": p, "cookie": None} for p in pids], None, None
    port = urlparse(url).port
    run_dir = run_dir or (SERVE_RUN_DIR / str(port) if port else None)
    state = read_serve_state(run_dir) if run_dir else None
    if state is None:
        return [], None, None
    workers = [{"name": w["name"], "pid": w["pid"], "cookie": w["name"]}
               for w in state["workers"]]
    return workers, state.get("haproxy_pid"), state


def warm_up(target: int | str, workers: list[dict], timeout_s: float) -> None:
    """The first session of a fresh process activates st.navigation; load each start page
    once on every worker (by its cookie when known, else round robin)."""
    cookies = [{WORKER_COOKIE: w["cookie"]} for w in workers if w["cookie"]] or \
        [None] * max(1, len(workers))
    for jar in cookies:
        for page in WARM_PAGES:
            asyncio.run(page_load(target, page, {}, timeout_s, cookies=jar))


def measure(url: str, w: dict, workers: list[dict], haproxy_pid: int | None,
            args: argparse.Namespace) -> dict:
    """One load run against ``url``; with ``workers`` (pids), their memory and CPU."""
    warm_up(url, workers, args.timeout)
    pids = [x["pid"] for x in workers]
    sampler = MemorySampler(pids) if pids else None
    if sampler:
        sampler.start()
    time.sleep(1.2)
    load_before = os.getloadavg()
    cpu0 = {p: cpu_seconds(p) for p in pids}
    hap0 = cpu_seconds(haproxy_pid) if haproxy_pid else None
    gen0 = time.process_time()
    busy0 = machine_busy_s()
    samples, elapsed = asyncio.run(run_load(url, w, args.sessions, args.duration,
                                            args.timeout, args.think, args.seed))
    gen_s = time.process_time() - gen0
    busy1 = machine_busy_s()
    cpu1 = {p: cpu_seconds(p) for p in pids}
    hap1 = cpu_seconds(haproxy_pid) if haproxy_pid else None
    if sampler:
        sampler.stop.set()
        sampler.join()
    summary = summarize(samples, elapsed)
    n = summary["all"]["n"]
    per_worker = []
    for x in workers:
        rss = [mb for _, mb in sampler.by_pid[x["pid"]]] if sampler else []
        c0, c1 = cpu0[x["pid"]], cpu1[x["pid"]]
        per_worker.append({
            "name": x["name"], "pid": x["pid"],
            "loads": sum(1 for r in samples if x["cookie"] and r["worker"] == x["cookie"]),
            "cpu_s": None if c0 is None or c1 is None else c1 - c0,
            "rss_mb": {"start": rss[0] if rss else None, "peak": max(rss) if rss else None,
                       "end": rss[-1] if rss else None}})
    cpus = [x["cpu_s"] for x in per_worker]
    server_cpu = sum(cpus) if cpus and None not in cpus else None
    hap_s = None if hap0 is None or hap1 is None else hap1 - hap0
    # what everything else on the machine (other jobs) used of the cores meanwhile
    others = None
    if busy0 is not None and busy1 is not None and server_cpu is not None:
        others = max(0.0, (busy1 - busy0) - server_cpu - gen_s - (hap_s or 0)) / elapsed
    return {
        "elapsed_s": elapsed, "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "summary": summary, "workers": per_worker,
        "server_cpu_s": server_cpu,
        "server_cpu_ms_per_load": 1000 * server_cpu / n if server_cpu is not None and n
        else None,
        "haproxy_cpu_s": hap_s, "others_cores": others,
        "generator_cpu_s": gen_s, "generator_cores": gen_s / elapsed,
        "generator_cpu_ms_per_load": 1000 * gen_s / n if n else None,
        "error_examples": [f"{r['kind']} {r['params']}: {r['error']}" for r in samples
                           if r["error"]][:10],
        # one row per page load: session, interaction kind, worker, seconds, error
        "samples": [[r["user"], r["kind"], r["worker"], round(r["latency_s"], 4), r["error"]]
                    for r in samples],
    }


class Serving:
    """``deploy/serve.py --workers N`` on a free loopback port for the length of a
    ``with`` block (its own run directory, removed afterwards); ``url`` and ``state``
    (its workers.json) are set once the proxy answers."""

    def __init__(self, db: Path, workers: int, timeout_s: float = 180):
        self.db, self.workers, self.timeout_s = db, workers, timeout_s
        self.url, self.state, self.proc = "", None, None

    def __enter__(self) -> Serving:
        self.tmp = tempfile.TemporaryDirectory(prefix="tt_load_serve_")
        port = free_port()
        run_dir = Path(self.tmp.name)
        self.log = open(run_dir / "serve.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVE), "--workers", str(self.workers), "--port", str(port),
             "--db", str(self.db), "--bind", HOST, "--run-dir", str(run_dir)],
            cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + self.timeout_s
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"deploy/serve.py exited with {self.proc.returncode}: "
                                       + (run_dir / "serve.log").read_text()[-500:])
                self.state = read_serve_state(run_dir / str(port))
                if self.state:
                    try:
                        with urllib.request.urlopen(f"{self.url}/_stcore/health",
                                                    timeout=2) as r:
                            if r.status == 200:
                                return self
                    except OSError:
                        pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"deploy/serve.py not serving after {self.timeout_s} s")
                time.sleep(0.5)
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(self, *exc) -> None:
        pids = [w["pid"] for w in (self.state or {}).get("workers", [])]
        if self.state and self.state.get("haproxy_pid"):
            pids.append(self.state["haproxy_pid"])
        if self.proc is not None:
            stop_server(self.proc)  # SIGTERM: serve.py stops its workers and HAProxy
        for pid in pids:  # only if serve.py could not stop them
            if "streamlit" in _cmdline(pid) or "haproxy" in _cmdline(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.log.close()
        self.tmp.cleanup()


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def medians(runs: list[dict]) -> dict:
    """Per worker count: medians over its runs, errors summed."""
    out = {}
    for n in sorted({r["n_workers"] for r in runs if r["n_workers"] is not None}, key=int) or \
            [None]:
        rs = [r for r in runs if r["n_workers"] == n]
        a = [r["summary"]["all"] for r in rs]
        out[str(n)] = {
            "runs": len(rs), "interactions": sum(x["n"] for x in a),
            "errors": sum(x["errors"] for x in a),
            "throughput_per_s": _median([x["throughput_per_s"] for x in a]),
            "p50_s": _median([x["p50_s"] for x in a]),
            "p95_s": _median([x["p95_s"] for x in a]),
            "server_cpu_ms_per_load": _median([r["server_cpu_ms_per_load"] for r in rs]),
            "worker_rss_peak_mb": _median([max((w["rss_mb"]["peak"] or 0) for w in r["workers"])
                                           for r in rs if r["workers"]]),
            "generator_cores": _median([r["generator_cores"] for r in rs]),
            "generator_cpu_ms_per_load": _median([r["generator_cpu_ms_per_load"] for r in rs]),
            "others_cores": _median([r.get("others_cores") for r in rs]),
        }
    return out


def scaling(med: dict) -> tuple[float | None, list[int] | None]:
    """Median throughput with the most workers over that with the fewest, and the two
    counts; (None, None) with fewer than two counts."""
    counts = [int(n) for n in med if n != "None"]
    if len(counts) < 2:
        return None, None
    lo, hi = min(counts), max(counts)
    t_lo, t_hi = med[str(lo)]["throughput_per_s"], med[str(hi)]["throughput_per_s"]
    return (t_hi / t_lo if t_lo else None), [lo, hi]


def proxy_target(report: dict) -> tuple[bool | None, str]:
    """Whether the run met its target, and the numbers that say so."""
    med = report["medians"]
    errors = sum(m["errors"] for m in med.values())
    if report["think_s"] > 0:
        worst = max((m["p95_s"] or float("inf")) for m in med.values())
        return errors == 0 and worst < 1.0, f"{errors} errors, median p95 {fmt(worst)}"
    if report.get("ratio") is not None:
        return errors == 0 and report["ratio"] >= 1.7, \
            f"{errors} errors, throughput ratio {report['ratio']:.2f}x"
    return None, f"{errors} errors"


def _cores(cpu_s: float | None, elapsed_s: float) -> str:
    return "—" if cpu_s is None else f"{cpu_s / elapsed_s:.2f} cores"


def markdown_proxy(report: dict) -> str:
    """The subsection (### label) of a proxied run (--url or --serve-workers)."""
    lines = [
        f"### {report['label']}", "",
        f"`{report['command']}` with `{report['db_name']}` ({report['n_conversations']:,} "
        f"conversations), {report['sessions']} sessions for {report['duration_s']:g} s per "
        f"run, think time {report['think_s']:g} s. Raw numbers: "
        f"`benchmarks/results/{report['out_name']}`. Machine: {report['machine']['cpus']} CPUs "
        "shared by the workers, HAProxy, the load generator and whatever else ran; load "
        f"average (1/5/15 min) before / after: {report['loadavg_before']} / "
        f"{report['loadavg_after']}; CPU probe (a fixed Python loop, best of 3) "
        f"{report['cpu_probe_s'][0]:.2f} s before / {report['cpu_probe_s'][1]:.2f} s after.",
        "",
        "| workers | run | interactions | throughput | errors | p50 | p95 | p99 | server CPU "
        "per load | loads per worker | worker RSS peak | generator CPU | HAProxy CPU | "
        "other jobs' CPU | load avg |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|"]
    for r in report["runs"]:
        a = r["summary"]["all"]
        per = " / ".join(str(w["loads"]) for w in r["workers"]) or "—"
        rss = " / ".join(f"{w['rss_mb']['peak']:.0f}" for w in r["workers"]
                         if w["rss_mb"]["peak"] is not None) or "—"
        ms = r["server_cpu_ms_per_load"]
        lines.append(
            f"| {r['n_workers'] or '?'} | {r['repeat'] + 1} | {a['n']:,} | "
            f"{a['throughput_per_s']:.1f}/s | {a['errors']} | {fmt(a['p50_s'])} | "
            f"{fmt(a['p95_s'])} | {fmt(a['p99_s'])} | "
            f"{'—' if ms is None else f'{ms:.0f} ms'} | {per} | {rss} MiB | "
            f"{r['generator_cores']:.2f} cores ({r['generator_cpu_ms_per_load']:.0f} ms/load) "
            f"| {_cores(r.get('haproxy_cpu_s'), r['elapsed_s'])} | "
            f"{_cores(r.get('others_cores'), 1.0)} | {r['loadavg_before'][0]:.1f} |")
    lines += ["", f"Medians of {report['repeats']} run(s):", "",
              "| workers | throughput | errors (all runs) | p50 | p95 | server CPU per load | "
              "worker RSS peak | generator CPU | other jobs' CPU |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, m in report["medians"].items():
        ms, rss = m["server_cpu_ms_per_load"], m["worker_rss_peak_mb"]
        lines.append(
            f"| {n} | {m['throughput_per_s']:.1f}/s | {m['errors']} | {fmt(m['p50_s'])} | "
            f"{fmt(m['p95_s'])} | {'—' if ms is None else f'{ms:.0f} ms'} | "
            f"{'—' if rss is None else f'{rss:.0f} MiB'} | {m['generator_cores']:.2f} cores | "
            f"{_cores(m.get('others_cores'), 1.0)} |")
    lines.append("")
    if report.get("ratio") is not None:
        lo, hi = report["ratio_of"]
        lines += [f"Throughput with {hi} workers / with {lo}: **{report['ratio']:.2f}x** "
                  "(medians).", ""]
    met, why = report["target"]["met"], report["target"]["why"]
    goal = ("zero errors, p95 under 1 s" if report["think_s"] > 0 else
            "zero errors, throughput ratio at least 1.7x")
    if met is not None:
        lines.append(f"Target ({goal}): **{'met' if met else 'not met'}** ({why}).")
    if report.get("note"):
        lines += ["", report["note"]]
    examples = [e for r in report["runs"] for e in r["error_examples"]][:10]
    if examples:
        lines += ["", "First errors:", ""] + [f"- `{e}`" for e in examples]
    return "\n".join(lines) + "\n"


def proxied_main(args: argparse.Namespace, argv: list[str]) -> int:
    """--url or --serve-workers: repeated runs through a proxy, one report."""
    runs: list[dict] = []
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    probe = [cpu_probe_s()]
    if args.url:
        workers, haproxy_pid, state = proxy_workers(args.url, args.pids, args.run_dir)
        db = args.db or (Path(state["db"]) if state else DEFAULT_DB)
        if not db.is_file():
            raise SystemExit(f"error: {db}: no such DB (--db: the file the server reads, for "
                             "the workload's filter values)")
        w = workload(db)
        if not workers:
            print("note: no worker pids (--pids, or deploy/serve.py's workers.json): server "
                  "CPU and memory are not measured", file=sys.stderr)
        for rep in range(args.repeats):
            run = measure(args.url, w, workers, haproxy_pid, args)
            runs.append({**run, "n_workers": len(workers) or None, "repeat": rep})
            print(f"run {rep + 1}: {run['summary']['all']['n']} loads, "
                  f"{run['summary']['all']['errors']} errors", flush=True)
    else:
        db = args.db or DEFAULT_DB
        if not db.is_file():
            raise SystemExit(f"error: {db}: no such DB (build one, e.g. python -m precompute "
                             "build)")
        w = workload(db)
        for rep in range(args.repeats):
            for n in args.serve_workers:
                with Serving(db, n) as s:
                    workers = [{"name": x["name"], "pid": x["pid"], "cookie": x["name"]}
                               for x in s.state["workers"]]
                    run = measure(s.url, w, workers, s.state.get("haproxy_pid"), args)
                runs.append({**run, "n_workers": n, "repeat": rep})
                print(f"run {rep + 1}, {n} worker(s): {run['summary']['all']['n']} loads, "
                      f"{run['summary']['all']['throughput_per_s']:.2f}/s, "
                      f"{run['summary']['all']['errors']} errors", flush=True)
    probe.append(cpu_probe_s())
    med = medians(runs)
    report = {
        "mode": "url" if args.url else "serve", "url": args.url,
        "command": "python benchmarks/load_test.py " + shlex.join(argv),
        "db": str(db), "db_name": db.name, "n_conversations": w["n_conversations"],
        "sessions": args.sessions, "duration_s": args.duration, "think_s": args.think,
        "timeout_s": args.timeout, "seed": args.seed, "repeats": args.repeats,
        "out_name": args.out.name,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "loadavg_before": load_before,
        "loadavg_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "cpu_probe_s": probe, "medians": med, "runs": runs, "note": args.note,
    }
    report["ratio"], report["ratio_of"] = scaling(med)
    met, why = proxy_target(report)
    report["target"] = {"met": met, "why": why}
    counts_text = "/".join(k.replace("None", "?") for k in med)
    report["label"] = args.label or (
        f"Through the proxy: {counts_text} worker(s), {args.sessions} sessions, "
        + ("no think time (saturation)" if not args.think else f"think time {args.think:g} s"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    text = markdown_proxy(report)
    print(text)
    if args.readme:
        write_section(args.readme, report["label"], text)
    return 0 if met in (True, None) else 1


# --------------------------------------------------------------------------- report

def fmt(v: float | None, unit: str = "s") -> str:
    if v is None:
        return "—"
    return f"{v * 1000:.0f} ms" if unit == "s" else f"{v:.0f}"


INTRO = """\
`benchmarks/load_test.py` drives N simultaneous sessions for a fixed time against one
`streamlit run app.py` it starts on 127.0.0.1 (default), against a running server
(`--url`, e.g. the proxy of `deploy/serve.py`), or against `deploy/serve.py` it starts
itself once per worker count and repeat (`--serve-workers 1,2 --repeats 3`, counts
interleaved). Each session loops through page loads of URLs: a filter change (Overview,
Conversations list, Thought types, Participants; model, domain, label, message-count range
or none), a keyword search, or opening a conversation at a turn. A page load is a new
websocket session speaking Streamlit's protocol (`rerun_script` with the URL's page and
query string), as a browser does for a link; through the proxy a session keeps the
`tt_worker` cookie it was given and sends it back, so it stays on one worker.

- **Latency**: from opening the websocket to receiving the run's `script_finished`, i.e.
  every delta of the new state (metrics, tables, charts, transcript) received by the
  client. Browser painting is not included.
- **Error**: a failed or timed-out load, a run that did not finish successfully, an
  exception, the app's error boundary or any `st.error` on the page, or missing content
  (no metrics or no-match notice on Overview, no chat messages for an opened conversation,
  no table or notice on the list).
- **Server memory and CPU**: RSS of each server process from /proc, sampled every second;
  CPU seconds (user + system) of each from /proc over the run, divided by the page loads
  (warm-up loads excluded). Through the proxy the processes are the workers, from
  `workers.json` in `deploy/serve.py`'s run directory (or `--pids`).
- **Generator CPU**: the load generator's own CPU time (`time.process_time()`) over the
  run; it runs on the same cores as the server.
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
        while blk and not blk[-1].strip():
            blk = blk[:-1]
        section += [*blk, ""]  # one blank line between subsections
    while before and not before[-1].strip():
        before.pop()
    out = before + [""] + section
    if after:
        out += after
    readme.write_text("\n".join(out).rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=None,
                    help=f"the DB (default {DEFAULT_DB}; with --url, the one in serve.py's "
                         "workers.json); the workload's filter values come from it")
    ap.add_argument("--url", default=None,
                    help="drive this already-running server (e.g. the proxy of "
                         "deploy/serve.py) instead of starting one")
    ap.add_argument("--pids", default=None,
                    help="with --url: comma-separated pids of the server processes to "
                         "measure (default: from deploy/serve.py's workers.json)")
    ap.add_argument("--run-dir", type=Path, default=None,
                    help="with --url: deploy/serve.py's run directory for this port "
                         f"(default {SERVE_RUN_DIR}/PORT)")
    ap.add_argument("--serve-workers", default=None,
                    help="start deploy/serve.py with each of these worker counts (e.g. 1,2) "
                         "and compare them")
    ap.add_argument("--repeats", type=int, default=1,
                    help="with --url or --serve-workers: runs per worker count")
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
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)
    if args.url and args.serve_workers:
        ap.error("--url and --serve-workers exclude each other")
    try:
        args.pids = [int(x) for x in args.pids.split(",")] if args.pids else None
        args.serve_workers = ([int(x) for x in args.serve_workers.split(",")]
                              if args.serve_workers else None)
    except ValueError:
        ap.error("--pids and --serve-workers take comma-separated integers")
    if args.url:
        try:
            stream_url(args.url)
        except ValueError as exc:
            ap.error(f"--url {exc}")
    if args.repeats < 1 or (args.serve_workers and min(args.serve_workers) < 1):
        ap.error("--repeats and --serve-workers must be at least 1")
    if args.url or args.serve_workers:
        return proxied_main(args, argv)
    args.db = args.db or DEFAULT_DB
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
