"""Serving a lab: `deploy/serve.py --workers 2` (two `streamlit run app.py` behind HAProxy)
on a small DB, driven over HTTP and Streamlit's websocket protocol, plus one real browser.

New clients are balanced onto different workers (HAProxy's `tt_worker` cookie differs); a
client that sends its cookie keeps its worker for the page and the websocket (HAProxy's own
per-server counters say where each request went); a page load through the proxy shows the
data; a replaced DB file (os.replace) is seen by both workers on their next page load; a
killed worker leaves the rotation while the proxy keeps serving; stopping serve.py leaves no
process behind. The several-machines example config (deploy/haproxy-lab.cfg) runs with its
servers pointed at two local workers, each with its own copy of the file.
"""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from tests.corpus import REPO, conversation, ingest_db, write_jsonl
from tests.servers import free_port, serve

HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(HAPROXY is None, reason="haproxy is missing")]


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


load_test = _module("load_test", REPO / "benchmarks" / "load_test.py")
serve_py = _module("serve_py", REPO / "deploy" / "serve.py")


# --------------------------------------------------------------------------- helpers

def build(source: Path, db: Path) -> Path:
    ingest_db(source, db)
    return db


def stats(sock: Path | str) -> dict[str, dict]:
    """HAProxy's `show stat` over its admin socket: backend server name -> its row."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
    return {r["svname"]: r for r in rows
            if r["pxname"] == "workers" and r["svname"] not in ("FRONTEND", "BACKEND")}


def sessions(sock) -> dict[str, int]:
    """Requests (sessions) each server has been sent so far; health checks not counted."""
    return {name: int(r["stot"]) for name, r in stats(sock).items()}


def get(url: str, cookie: str | None = None) -> tuple[int, str | None]:
    """GET ``url``; (status, the tt_worker cookie the response set, if any)."""
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        body_status = r.status
        jar = load_test.cookie_pairs(r.headers.get_all("Set-Cookie") or [])
    return body_status, jar.get("tt_worker")


def page(url: str, page_name: str = "", params: dict | None = None,
         worker: str | None = None) -> dict:
    """One page load over the websocket through ``url`` (with ``worker``'s cookie)."""
    cookies = {"tt_worker": worker} if worker else None
    return asyncio.run(load_test.page_load(url, page_name, params or {}, 60, cookies=cookies,
                                           metrics=True))


def conversations_shown(res: dict) -> int:
    """The Overview's "Conversations" metric of a page load."""
    assert res["error"] is None, res["error"]
    values = dict(res["metrics"])
    return int(values["Conversations"].replace(",", ""))


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {timeout_s:.0f} s")
        time.sleep(0.3)


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def lab(sample_path, tmp_path_factory):
    """deploy/serve.py with 2 workers on the shared sample (ingest only); stopped at the
    end, which must leave none of its processes running."""
    d = tmp_path_factory.mktemp("serve")
    db = build(sample_path, d / "lab.duckdb")
    port = free_port()
    run_dir = d / "run"
    log = open(d / "serve.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "deploy" / "serve.py"), "--workers", "2", "--port",
         str(port), "--db", str(db), "--bind", "127.0.0.1", "--run-dir", str(run_dir)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    state_file = run_dir / str(port) / "workers.json"
    url = f"http://127.0.0.1:{port}"
    state = None
    try:
        def up():
            assert proc.poll() is None, (d / "serve.log").read_text()
            if not state_file.exists():
                return None
            try:
                return get(f"{url}/_stcore/health")[0] == 200
            except OSError:
                return None
        wait_for(up, 180, "serving")
        state = json.loads(state_file.read_text())
        yield {"url": url, "db": db, "dir": d, "state": state, "proc": proc,
               "sock": state["stats_socket"], "state_file": state_file}
    finally:
        pids = [w["pid"] for w in (state or {}).get("workers", [])]
        pids += [state["haproxy_pid"]] if state else []
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait(timeout=10)
        time.sleep(0.5)
        left = [p for p in pids if alive(p)]
        for p in left:
            os.killpg(p, signal.SIGKILL)
        log.close()
        assert code == 0, f"serve.py exited with {code}"
        assert not left, f"processes left running after serve.py stopped: {left}"
        assert not state_file.exists(), "workers.json outlived serve.py"


# --------------------------------------------------------------------------- configs

def test_the_generated_and_the_example_configs_pass_haproxys_check(tmp_path):
    cfg = tmp_path / "gen.cfg"
    cfg.write_text(serve_py.haproxy_config(8080, [9001, 9002], "127.0.0.1",
                                           tmp_path / "s.sock"))
    text = cfg.read_text()
    assert "bind 127.0.0.1:8080" in text and "@" not in text
    assert "server w1 127.0.0.1:9001 check cookie w1" in text
    assert "server w2 127.0.0.1:9002 check cookie w2" in text
    for path in (cfg, REPO / "deploy" / "haproxy-lab.cfg"):
        check = subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr


# --------------------------------------------------------------------------- one server

def test_new_clients_are_balanced_onto_different_workers(lab):
    workers = {w["name"] for w in lab["state"]["workers"]}
    assert workers == {"w1", "w2"}
    first = get(lab["url"] + "/")
    second = get(lab["url"] + "/")
    assert first[0] == second[0] == 200
    assert {first[1], second[1]} == workers  # round robin: one each


def test_each_worker_gets_its_share_of_the_cores_for_duckdb(lab):
    """2 workers: each worker's DuckDB pool is half the machine's cores (at least one),
    in the worker's environment and in the connection it opens."""
    from components import db

    want = str(serve_py.duckdb_threads(2, os.cpu_count() or 1))
    assert serve_py.THREADS_ENV == db.THREADS_ENV
    for w in lab["state"]["workers"]:
        env = dict(item.split("=", 1) for item in
                   Path(f"/proc/{w['pid']}/environ").read_text().split("\0") if "=" in item)
        assert env[db.THREADS_ENV] == want


def test_a_client_with_its_cookie_keeps_its_worker_for_page_and_websocket(lab):
    for mine, other in (("w1", "w2"), ("w2", "w1")):
        before = sessions(lab["sock"])
        status, set_again = get(lab["url"] + "/", cookie=f"tt_worker={mine}")
        res = page(lab["url"], worker=mine)
        after = sessions(lab["sock"])
        assert status == 200 and set_again is None  # a valid cookie is not set again
        assert res["set_cookie"] == {}
        assert conversations_shown(res) == 20  # the shared sample: 20 records
        assert after[mine] - before[mine] == 2  # the page, then the websocket
        assert after[other] == before[other]


def test_a_page_load_through_the_proxy_shows_the_data(lab):
    res = page(lab["url"])
    assert res["error"] is None and res["set_cookie"].get("tt_worker") in {"w1", "w2"}
    assert conversations_shown(res) == 20
    con = duckdb.connect(str(lab["db"]), read_only=True)
    try:
        conv = con.execute("SELECT min(conv_id) FROM conversations").fetchone()[0]
    finally:
        con.close()
    opened = page(lab["url"], "browser", {"conv": conv, "turn": "1"})
    assert opened["error"] is None and opened["seen"]["chat_message"] >= 1


def test_a_browser_through_the_proxy_stays_on_one_worker(lab, chromium):
    from playwright.sync_api import expect

    before = sessions(lab["sock"])
    tab = chromium.new_page()
    tab.goto(lab["url"] + "/")
    expect(tab.locator('[data-testid="stMetric"]').first).to_be_visible(timeout=60_000)
    after = sessions(lab["sock"])
    cookie = {c["name"]: c["value"] for c in tab.context.cookies()}["tt_worker"]
    other = ({"w1", "w2"} - {cookie}).pop()
    # the page, its scripts and styles, the health probe and the websocket: all on one
    assert after[cookie] - before[cookie] >= 3
    assert after[other] == before[other]
    tab.close()


def test_a_replaced_db_file_is_seen_by_both_workers(lab, tmp_path):
    assert [conversations_shown(page(lab["url"], worker=w)) for w in ("w1", "w2")] == [20, 20]
    source = write_jsonl(tmp_path / "three.jsonl", [
        conversation(f"user{i}_task1_conversation1", [("hello", []), ("hi", [])])
        for i in (1, 2, 3)])
    fresh = build(source, lab["db"].with_name("lab.duckdb.next"))
    os.replace(fresh, lab["db"])  # atomic, as a copy of a file built elsewhere would be
    assert [conversations_shown(page(lab["url"], worker=w)) for w in ("w1", "w2")] == [3, 3]


def test_a_killed_worker_leaves_the_rotation_and_the_proxy_keeps_serving(lab):
    w1 = next(w for w in lab["state"]["workers"] if w["name"] == "w1")
    os.kill(w1["pid"], signal.SIGKILL)
    wait_for(lambda: not alive(w1["pid"]), 10, "dead")
    # a browser on w1 reconnects with its cookie: retried, then sent to w2 and re-cookied
    res = page(lab["url"], worker="w1")
    assert res["error"] is None and res["set_cookie"] == {"tt_worker": "w2"}
    wait_for(lambda: stats(lab["sock"])["w1"]["status"].startswith("DOWN"), 30,
             "marked down by the health check")
    assert stats(lab["sock"])["w2"]["status"] == "UP"
    for _ in range(3):  # new clients all go to the live worker
        assert get(lab["url"] + "/") == (200, "w2")
    assert page(lab["url"])["error"] is None


# --------------------------------------------------------------------------- machines

def test_the_several_machines_example_runs_sticky_with_a_copy_per_machine(sample_path,
                                                                          tmp_path):
    """deploy/haproxy-lab.cfg with machine 1 -> a local worker on the 20-record sample and
    machine 2 -> one on a 3-record file: a cookie keeps a client on its machine's copy."""
    one, two = tmp_path / "m1", tmp_path / "m2"
    one.mkdir()
    two.mkdir()
    db1 = build(sample_path, one / "thoughttrace.duckdb")
    source = write_jsonl(tmp_path / "three.jsonl", [
        conversation(f"user{i}_task1_conversation1", [("hello", []), ("hi", [])])
        for i in (1, 2, 3)])
    db2 = build(source, two / "thoughttrace.duckdb")
    port = free_port()
    with serve(db1, one) as m1, serve(db2, two) as m2:
        machines = {"10.0.0.11": m1["port"], "10.0.0.12": m2["port"]}
        text = (REPO / "deploy" / "haproxy-lab.cfg").read_text()
        text = re.sub(r"(10\.0\.0\.1[12]):850[12]",
                      lambda m: f"127.0.0.1:{machines[m.group(1)]}", text)
        text = text.replace("bind :8080", f"bind 127.0.0.1:{port}")
        text = text.replace("/run/haproxy/thoughttrace.sock", str(tmp_path / "lab.sock"))
        cfg = tmp_path / "lab.cfg"
        cfg.write_text(text)
        proxy = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            def all_up():
                try:
                    rows = stats(tmp_path / "lab.sock").values()
                except OSError:  # HAProxy still starting: no socket yet
                    return False
                return len(rows) == 4 and all(r["status"] == "UP" for r in rows)
            wait_for(all_up, 30, "up")
            given = [get(url + "/")[1] for _ in range(4)]
            assert sorted(given) == ["lab1a", "lab1b", "lab2a", "lab2b"]
            shown = {name: conversations_shown(page(url, worker=name))
                     for name in ("lab1a", "lab1b", "lab2a", "lab2b")}
            assert shown == {"lab1a": 20, "lab1b": 20, "lab2a": 3, "lab2b": 3}
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)
