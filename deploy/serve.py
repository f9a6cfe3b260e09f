"""Serve the app to many users: N Streamlit processes on loopback behind HAProxy.

One Streamlit process is one Python interpreter, so it serves from one core at a time
(the GIL) whatever the machine has. This launcher starts ``--workers`` processes of
``app.py`` on loopback ports, all reading the same DB file read-only, and HAProxy in front
of them on ``--port``:

- the websocket upgrade of ``/_stcore/stream`` passes through (HAProxy handles it
  natively, with long tunnel timeouts);
- each browser stays on one process by a cookie HAProxy inserts (downloads live in the
  memory of the process that made them; stickiness by client address would put a whole
  lab behind one NAT on one process);
- workers are health-checked on ``/_stcore/health``; a failed one leaves the rotation;
- every worker watches the DB file's signature, so a rebuilt file (atomic rename) is
  picked up by all of them on the next interaction.

The run directory (``--run-dir``/PORT) holds the generated ``haproxy.cfg``, one log per
worker, HAProxy's admin socket ``haproxy.sock`` and, while it runs, ``workers.json``
(the pids and ports of the workers and of HAProxy; benchmarks/load_test.py reads it).

Stop it with Ctrl-C (or SIGTERM): HAProxy and the workers stop with it.

Example:
  python deploy/serve.py --workers 2 --port 8080 --db data/thoughttrace.duckdb
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: DuckDB threads of each worker (read by `components.db.connect`).
THREADS_ENV = "THOUGHTTRACE_DUCKDB_THREADS"
TEMPLATE = Path(__file__).with_name("haproxy.cfg.in")
LOOPBACK = "127.0.0.1"


def duckdb_threads(workers: int, cpus: int) -> int:
    """DuckDB threads per worker: the machine's cores shared out (at least one), so the
    workers' query pools together are as wide as the machine, not each of them."""
    return max(1, cpus // max(1, workers))


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (held open together while choosing)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((LOOPBACK, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def haproxy_config(port: int, worker_ports: list[int], bind: str = "*",
                   stats_socket: Path | str = "/tmp/thoughttrace-haproxy.sock") -> str:
    """The HAProxy configuration for ``worker_ports`` behind ``bind:port``, with its admin
    socket at ``stats_socket``; worker i (1-based) is server ``wi`` with cookie ``wi``."""
    servers = "\n".join(f"    server w{i} {LOOPBACK}:{p} check cookie w{i}"
                        for i, p in enumerate(worker_ports, start=1))
    text = TEMPLATE.read_text(encoding="utf-8")
    return (text.replace("@BIND@", f"{bind}:{port}").replace("@SERVERS@", servers)
            .replace("@STATS@", str(stats_socket)))


def worker_command(port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"),
            "--server.address", LOOPBACK, "--server.port", str(port),
            "--server.headless", "true", "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false"]


def wait_healthy(port: int, proc: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker on port {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/_stcore/health",
                                        timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"worker on port {port} not healthy after {timeout_s:.0f} s")


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def serve(workers: int, port: int, db: Path, run_dir: Path, haproxy: str = "haproxy",
          bind: str = "*") -> int:
    """Start the workers and HAProxy; block until HAProxy exits or a signal arrives."""
    if not db.is_file():
        print(f"error: {db}: no database file; build it with "
              f"`python -m precompute build --db {db}` (or `make db`)", file=sys.stderr)
        return 2
    exe = shutil.which(haproxy) or shutil.which(haproxy, path="/usr/sbin:/sbin")
    if exe is None:
        print("error: haproxy not found; install Debian's package (make serve does: "
              "apt-get install haproxy)", file=sys.stderr)
        return 2
    run_dir.mkdir(parents=True, exist_ok=True)
    state = run_dir / "workers.json"
    state.unlink(missing_ok=True)
    ports = free_ports(workers)
    # one cookie secret for all workers: a browser moved to another worker (its own died)
    # keeps a valid XSRF cookie
    env = {**os.environ, "THOUGHTTRACE_DB": str(db.resolve()),
           "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32)}
    # each worker's DuckDB gets its share of the cores, unless the caller chose a number
    env.setdefault(THREADS_ENV, str(duckdb_threads(workers, os.cpu_count() or 1)))
    procs: list[subprocess.Popen] = []

    def on_signal(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for i, p in enumerate(ports, start=1):
            log = open(run_dir / f"worker{i}.log", "wb")
            procs.append(subprocess.Popen(worker_command(p), cwd=REPO, env=env, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True))
        for p, proc in zip(ports, procs):
            wait_healthy(p, proc)
        cfg = run_dir / "haproxy.cfg"
        cfg.write_text(haproxy_config(port, ports, bind, run_dir / "haproxy.sock"),
                       encoding="utf-8")
        check = subprocess.run([exe, "-c", "-f", str(cfg)], capture_output=True,
                               text=True)
        if check.returncode != 0:
            print(f"error: haproxy rejected {cfg}: {(check.stderr or check.stdout).strip()}",
                  file=sys.stderr)
            return 2
        proxy = subprocess.Popen([exe, "-db", "-f", str(cfg)], start_new_session=True)
        procs.append(proxy)
        state.write_text(json.dumps({
            "serve_pid": os.getpid(), "port": port, "db": str(db.resolve()),
            "haproxy_pid": proxy.pid, "stats_socket": str(run_dir / "haproxy.sock"),
            "workers": [{"name": f"w{i}", "port": p, "pid": proc.pid}
                        for i, (p, proc) in enumerate(zip(ports, procs), start=1)]},
            indent=1), encoding="utf-8")
        print(f"serving {db} on http://localhost:{port}/ with {workers} worker(s) on "
              f"{', '.join(f'{LOOPBACK}:{p}' for p in ports)}; logs in {run_dir}; "
              "Ctrl-C stops", flush=True)
        return proxy.wait()
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}; see the logs in {run_dir}", file=sys.stderr)
        return 1
    finally:
        _stop(procs)
        state.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Serve ThoughtTrace Explorer with N app processes behind HAProxy.",
        epilog="example:\n  python deploy/serve.py --workers 2 --port 8080 "
               "--db data/thoughttrace.duckdb",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2, help="app processes (default 2)")
    ap.add_argument("--port", type=int, default=8080, help="the proxy's port (default 8080)")
    ap.add_argument("--db", type=Path, default=None,
                    help="the DuckDB file (default: $THOUGHTTRACE_DB or "
                         "data/thoughttrace.duckdb)")
    ap.add_argument("--bind", default="*", help="address the proxy listens on (default all)")
    ap.add_argument("--run-dir", type=Path, default=Path("/tmp") / "thoughttrace-serve",
                    help="where the generated HAProxy configuration and the logs go")
    ap.add_argument("--haproxy", default="haproxy", help="the haproxy executable")
    args = ap.parse_args(argv)
    if args.workers < 1:
        ap.error("--workers must be at least 1")
    sys.path.insert(0, str(REPO))
    from precompute.config import db_path_from_env
    db = args.db or db_path_from_env()
    return serve(args.workers, args.port, db, args.run_dir / str(args.port), args.haproxy,
                 args.bind)


if __name__ == "__main__":
    sys.exit(main())
