"""A real `streamlit run app.py` on a free loopback port, for tests that need a server."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.corpus import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(db: Path, workdir: Path, timeout_s: float = 60) -> Iterator[dict]:
    """Serve the app on ``db`` until the block ends; yields url, port, db and log path."""
    port = free_port()
    log_path = workdir / "server.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.port", str(port), "--server.fileWatcherType", "none"],
        cwd=REPO, env={**os.environ, "THOUGHTTRACE_DB": str(db)}, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise TimeoutError("streamlit did not become healthy") from exc
                time.sleep(0.3)
        yield {"url": url, "port": port, "db": db, "log": log_path, "dir": workdir}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
