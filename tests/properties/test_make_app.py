"""`make app`, the one-command quick start, as a user runs it (a subprocess on a tiny
corpus): on a first build the app serves at once while the build runs in the background
and publishes the conversations; Ctrl-C stops both and leaves the published file, which
the next `make app` continues from the source recorded in it; a complete DB file is left
as it is. The real model loads in the background build, which is stopped before it
embeds much.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from precompute import store
from tests.corpus import REPO, build_analysed_db, conversation, write_jsonl
from tests.servers import free_port

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is missing")


class MakeApp:
    """`make app DB=... PORT=...` in its own process group, its output in a log file."""

    def __init__(self, tmp_path: Path, db: Path, **variables: str):
        stamp = tmp_path / "installed.stamp"  # the set-up is done: no pip install here
        stamp.touch()
        self.port = free_port()
        self.log = tmp_path / f"make-{self.port}.log"
        args = ["make", "--no-print-directory", "app", f"DB={db}", f"PORT={self.port}",
                f"STAMP={stamp}", *(f"{k}={v}" for k, v in variables.items())]
        env = {**os.environ, "STREAMLIT_SERVER_HEADLESS": "true", "HF_HUB_OFFLINE": "1",
               "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
        for name in ("SOURCE", "HOST", "STREAMLIT_SERVER_ADDRESS"):  # the Makefile decides
            env.pop(name, None)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, what: str, condition, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if self.proc.poll() is not None:
                raise AssertionError(f"make exited ({self.proc.returncode}) before {what}:\n"
                                     + self.output())
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout_s} s:\n" + self.output())
            time.sleep(0.05)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_stcore/health",
                                        timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def ctrl_c(self) -> int:
        """What a terminal does on Ctrl-C: SIGINT to the whole foreground process group."""
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket LISTENing on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _corpus(path: Path) -> Path:
    return write_jsonl(path, [
        conversation(f"user{i}_task1_conversation1",
                     [(f"question {i} about bread", ["task_motivation"]),
                      ("an answer", ["explicit_affirmation"])]) for i in range(3)])


def test_first_build_serves_at_once_and_ctrl_c_stops_the_build(tmp_path):
    db = tmp_path / "first.duckdb"
    source = _corpus(tmp_path / "tiny.jsonl")
    app = MakeApp(tmp_path, db, SOURCE=str(source))
    # the conversations are published while the build goes on in the background
    app.wait_for("early publication", lambda: (store.read_status(db) or {}).get("published"))
    status = store.read_status(db)
    assert status["state"] == "running" and store.is_partial(db)
    app.wait_for("the app", app.healthy)
    assert store.read_status(db)["state"] == "running"  # the app did not wait for it
    # safe default: the quick start listens on 127.0.0.1 only, not on every interface
    assert listening_addresses(app.port) == {"0100007F"}

    app.ctrl_c()
    build_pid = status["pid"]
    assert not _alive(build_pid), "the background build outlived the app"
    # it stopped cleanly: its temporary file is gone, the published file stays
    assert not [p.name for p in tmp_path.iterdir() if ".building-" in p.name]
    assert store.is_partial(db)
    assert store.read_status(db)["error"] == "interrupted"
    assert "holds what the build published early" in app.output()

    # the next `make app` (no SOURCE) continues it from the source recorded in the file
    again = MakeApp(tmp_path, db)
    again.wait_for("the build to continue", lambda: "continuing it" in again.output())
    assert f"--source {source}" in again.output()
    again.wait_for("the app", again.healthy)
    again.ctrl_c()


def test_listening_on_every_interface_is_an_explicit_choice():
    def command(*variables: str) -> str:
        return subprocess.run(["make", "-n", "--no-print-directory", "app", "STAMP=/dev/null",
                               "DB=/tmp/x.duckdb", *variables], cwd=REPO, capture_output=True,
                              text=True, check=True,
                              env={k: v for k, v in os.environ.items() if k != "HOST"}).stdout
    assert "--server.address 127.0.0.1 " in command()
    assert "--server.address 0.0.0.0 " in command("HOST=0.0.0.0")


def test_make_serve_does_not_take_make_apps_port():
    def serve_line(*variables: str) -> str:
        out = subprocess.run(["make", "-n", "--no-print-directory", "serve", "STAMP=/dev/null",
                              "DB=pytest-missing.duckdb", *variables], cwd=REPO,
                             capture_output=True, text=True, check=True,
                             env={k: v for k, v in os.environ.items() if k != "PORT"}).stdout
        return next(line for line in out.splitlines() if "deploy/serve.py" in line)
    assert "--port 8080 " in serve_line()
    assert "--port 9000 " in serve_line("PORT=9000")


def test_make_app_leaves_a_complete_db_as_it_is(tmp_path):
    db = build_analysed_db(_corpus(tmp_path / "tiny.jsonl"), tmp_path / "done.duckdb")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    app = MakeApp(tmp_path, db, SOURCE="demo")  # a SOURCE does not rebuild it either
    app.wait_for("the app", app.healthy)
    app.wait_for("the build check", lambda: "nothing to build" in app.output())
    assert app.ctrl_c() is not None
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert store.read_status(db) is None
