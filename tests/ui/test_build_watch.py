"""Pages that wait for the database or for a stage fill in by themselves (AppTest).

The missing-DB page and the missing-stage notice (`components.ui.notices.require_stage`)
register a fragment that reruns every few seconds (`notices.watch`); in a browser its
timer fires it. Here a `Timers` helper records the timers a run registers and fires them
(`tick`): a fragment-only run, as the browser's timer asks for, without the router. The
tests count the router's runs (`state.begin_run`) to tell a fragment run from a full one.
After a fragment-only run AppTest's tree holds the fragment's elements only (a browser
keeps the rest of the page).

Here the test fires the timers; tests/e2e/test_fill_in_by_themselves.py runs the same pages
in a real browser, whose own timers fire them (no reload, no rerun by the test).
"""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest
import streamlit as st
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
from streamlit.testing.v1 import AppTest, local_script_runner

from components.queries import shifts as sv
from components.ui import notices, state
from precompute import pipeline, store
from precompute.config import Settings
from tests.apptest import chart_specs, open_app, texts
from tests.corpus import build_analysed_db, conversation, sample_or_demo, write_jsonl


class Timers:
    """The auto-rerun timers that runs register (fragment id, seconds), and a way to
    fire them; counts the router's runs (full app runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.registered: list[tuple[str, float]] = []
        self.full_runs = 0
        enqueue = ForwardMsgQueue.enqueue

        def recording(queue, msg):
            if msg.HasField("auto_rerun"):
                self.registered.append((msg.auto_rerun.fragment_id, msg.auto_rerun.interval))
            return enqueue(queue, msg)
        monkeypatch.setattr(ForwardMsgQueue, "enqueue", recording)
        begin_run = state.begin_run

        def counting():
            self.full_runs += 1
            return begin_run()
        monkeypatch.setattr(state, "begin_run", counting)
        self._monkeypatch = monkeypatch

    @property
    def interval(self) -> float:
        """The interval of the timer the last run registered."""
        assert self.registered, "no fragment with run_every on this page"
        return self.registered[-1][1]

    def tick(self, at: AppTest) -> AppTest:
        """Fire the last registered timer, as the browser does after its interval."""
        fragment_id = self.registered[-1][0]
        rerun_data = local_script_runner.RerunData

        def fragment_rerun(**kw):
            return rerun_data(**kw, fragment_id_queue=[fragment_id], is_auto_rerun=True)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(local_script_runner, "RerunData", fragment_rerun)
            at.run()
        return at


@pytest.fixture
def timers(monkeypatch) -> Timers:
    st.cache_data.clear()
    state.clear_cache()
    return Timers(monkeypatch)




@pytest.fixture(scope="module")
def dbs(tmp_path_factory):
    """{'ingest': the conversations only, as a first build publishes them;
    'full': every stage} of one corpus."""
    d = tmp_path_factory.mktemp("watch")
    ingest = d / "ingest.duckdb"
    pipeline.build(Settings(source=str(sample_or_demo()), db=ingest, progress=False),
                   only=("ingest",), log=lambda _: None)
    return {"ingest": ingest, "full": build_analysed_db(sample_or_demo(), d / "full.duckdb")}


def _running(db) -> store.BuildStatus:
    """A status file saying a build of ``db`` runs (this process), in its embed stage."""
    status = store.BuildStatus(db, ["source", *pipeline.STAGES])
    status.done("source")
    status.done("ingest")
    status.published("ingest")
    status.stage("embed")
    return status


def _publish(src, db) -> None:
    """Replace ``db`` by a copy of ``src`` the way a build does (a rename)."""
    tmp = db.with_name(f".{db.name}.building-test")
    shutil.copyfile(src, tmp)
    os.replace(tmp, db)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


# --------------------------------------------------------------------- the missing DB


def test_missing_db_page_opens_the_app_by_itself_when_the_file_appears(tmp_path, monkeypatch,
                                                                       timers):
    db = tmp_path / "first.duckdb"
    at = open_app(db, monkeypatch)
    assert any("No database at" in e.value for e in at.error)
    assert timers.interval == 5.0  # no build runs: a slow check
    runs = timers.full_runs
    timers.tick(at)  # nothing changed: the check stays inside its fragment
    assert timers.full_runs == runs and not at.exception

    src = write_jsonl(tmp_path / "c.jsonl", [
        conversation(f"user{i}_task1_conversation1", [(f"question {i}", ["task_motivation"]),
                                                      ("answer", [])]) for i in range(3)])
    pipeline.build(Settings(source=str(src), db=db, progress=False), only=("ingest",),
                   log=lambda _: None)
    timers.tick(at)
    assert timers.full_runs == runs + 1  # the fragment reran the app
    assert not at.exception and not at.error
    assert _metrics(at)["Conversations"] == "3"


def test_missing_db_page_says_being_built_while_a_build_runs(tmp_path, monkeypatch, timers,
                                                             dbs):
    db = tmp_path / "first.duckdb"
    status = store.BuildStatus(db, ["source", *pipeline.STAGES])
    status.stage("ingest")
    at = open_app(db, monkeypatch)
    assert [t.value for t in at.title] == ["ThoughtTrace Explorer is building its database"]
    assert "Being built" in texts(at) and "no need to reload" in texts(at)
    assert "Now: reading the conversations — stage 2 of 7" in texts(at)
    assert not at.code  # no command to run: it is running
    assert timers.interval == 1.0

    status.stage("embed")  # the stage changes: only the progress line is redrawn
    runs = timers.full_runs
    timers.tick(at)
    assert timers.full_runs == runs
    assert "Now: embedding the texts (the long stage) — stage 3 of 7" in texts(at)

    _publish(dbs["ingest"], db)  # the build publishes the conversations
    timers.tick(at)
    assert timers.full_runs == runs + 1
    assert not at.exception and not at.error and _metrics(at)["Conversations"]
    status.finish()


def test_missing_db_page_shows_why_the_last_build_failed(tmp_path, monkeypatch, timers):
    db = tmp_path / "first.duckdb"
    failed = store.BuildStatus(db, ["source"])
    failed.stage("source")
    failed.finish(ValueError("x.jsonl: file not found"))
    at = open_app(db, monkeypatch)
    assert any("The last build of this file failed" in w.value for w in at.warning)
    assert "x.jsonl: file not found" in [c.value for c in at.code]
    assert any("python -m precompute build" in c.value for c in at.code)


# --------------------------------------------------------------- a stage not there yet


PAGES = [("topics", "Topics"), ("turns", "Turn by turn"), ("shifts", "Semantic shifts")]


@pytest.mark.parametrize("page, title", PAGES, ids=[p for p, _ in PAGES])
def test_a_page_waiting_for_its_stage_fills_in_when_the_build_lands(tmp_path, monkeypatch,
                                                                    timers, dbs, page, title):
    db = tmp_path / "live.duckdb"
    shutil.copyfile(dbs["ingest"], db)
    status = _running(db)
    at = open_app(db, monkeypatch, page)
    assert [t.value for t in at.title] == [title]
    assert "Being built" in texts(at) and "fills in by itself" in texts(at)
    assert "Now: embedding the texts (the long stage) — stage 3 of 7" in texts(at)
    assert "The conversations are published already." in texts(at)
    assert not at.main.code and not at.get("plotly_chart")
    assert timers.interval == notices.POLL_BUILDING_S
    runs = timers.full_runs
    timers.tick(at)
    assert timers.full_runs == runs and not at.exception

    _publish(dbs["full"], db)  # the build's final rename
    status.finish()
    timers.tick(at)
    assert timers.full_runs == runs + 1
    assert not at.exception and not at.error
    assert "Being built" not in texts(at)
    assert chart_specs(at), "the page did not fill in"


def test_a_page_waiting_with_no_build_running_says_what_to_run(tmp_path, monkeypatch, timers,
                                                               dbs):
    db = tmp_path / "live.duckdb"
    shutil.copyfile(dbs["ingest"], db)
    at = open_app(db, monkeypatch, "topics")
    assert any("without the topics stage" in i.value for i in at.info)
    [code] = [c.value for c in at.main.code]
    assert code == f"python -m precompute build --source {sample_or_demo().resolve()} --db {db}"
    assert timers.interval == notices.POLL_IDLE_S
    # a build started from a terminal is noticed: the page says "being built"
    status = _running(db)
    timers.tick(at)
    assert "Being built" in texts(at) and not at.main.code
    status.finish()


def test_an_unfinished_file_says_how_to_finish_it(tmp_path, monkeypatch, timers, dbs):
    import duckdb

    db = tmp_path / "live.duckdb"
    shutil.copyfile(dbs["ingest"], db)
    with duckdb.connect(str(db)) as con:  # as a first build that failed leaves it
        con.execute("INSERT OR REPLACE INTO meta VALUES ('build_complete', 'false')")
    failed = store.BuildStatus(db, ["ingest", "embed"])
    failed.stage("embed")
    failed.finish(RuntimeError("embed ran out of memory"))
    at = open_app(db, monkeypatch, "shifts")
    [warning] = [w.value for w in at.warning if "Unfinished" in w.value]
    assert "published early by a build that stopped" in warning
    assert "it failed: `embed ran out of memory`" in warning
    assert [c.value for c in at.main.code] == [
        f"python -m precompute build --source {sample_or_demo().resolve()} --db {db}"]


def test_progress_line():
    status = {"stages": ["source", *pipeline.STAGES], "stage": "clusters",
              "started_at": 1000.0, "stage_started_at": 1150.0, "published": ["ingest"]}
    assert notices.progress_line(status, now=1215.0) == (
        "Now: clustering — stage 6 of 7, for 1 min 05 s; the build started 3 min 35 s ago. "
        "The conversations are published already.")
    assert notices.progress_line({"stage": None}, now=time.time()) == "Now: starting."


def test_watching_costs_a_stat_and_a_small_read(tmp_path, monkeypatch, timers, dbs):
    """A check does not open the DB file: the cached status keeps its signature."""
    db = tmp_path / "live.duckdb"
    shutil.copyfile(dbs["ingest"], db)
    at = open_app(db, monkeypatch, "topics")
    opened = []
    monkeypatch.setattr(state.db, "connect", lambda *a: opened.append(a))
    monkeypatch.setattr(store, "is_partial", lambda *a: opened.append(a))
    for _ in range(3):
        timers.tick(at)
    assert opened == [] and not at.exception


# --------------------------------------------------- the metrics of a subset, by itself


def test_the_subset_metrics_fill_in_by_their_fragment(monkeypatch, timers, dbs):
    """Semantic shifts on a filtered subset: while MMD and the probe are computed the page
    registers a 0.5 s fragment; firing it redraws only its own line until the computation
    is done, then it reruns the whole app, which shows the metrics. No manual full rerun.
    (The fragment asks `state.soon_done`, which checks the DB file in the fragment's run:
    `Timers.full_runs` counts that too, so a fragment-only run is told by its tree, which
    holds the fragment's elements only.)"""
    from tests.corpus import top_model

    model = top_model(dbs["full"])
    release = threading.Event()
    real = sv.metrics

    def gated(con, filters, *args):
        assert release.wait(60)
        return real(con, filters, *args)
    monkeypatch.setattr(sv, "metrics", gated)
    waiting = "Computing the set-level metrics"
    try:
        at = open_app(dbs["full"], monkeypatch, "shifts", model=model)
        assert any(waiting in c.value for c in at.caption)
        assert timers.interval == 0.5
        timers.tick(at)  # still computing: the fragment only redraws its line
        assert not at.exception
        assert [c.value for c in at.caption if waiting in c.value]
        assert not at.title and not at.dataframe  # a fragment-only run
    finally:
        release.set()
    state.wait_background()
    timers.tick(at)  # done: the fragment reruns the whole app
    assert not at.exception
    assert [t.value for t in at.title] == ["Semantic shifts"]
    assert any("recomputed for the filtered subset" in c.value for c in at.caption)
    assert not any(waiting in c.value for c in at.caption)
    assert at.dataframe[0].value["MMD²"].ne("—").any()
    state.wait_background()
    state.clear_cache()
