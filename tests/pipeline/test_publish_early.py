"""Publishing a first build early (precompute.pipeline, precompute.store).

A first build publishes the ingested state at the target, then the embedded one, while
the later stages run, and replaces it atomically with the whole file; a failure after
that leaves the published file and the next build continues from it; a rebuild over a
complete file never shows readers anything but the old file until the new one is whole.
Readers are probed from inside the build: a stage is wrapped so that, before it runs, it
opens the target read-only as the app would.
"""

from __future__ import annotations

import hashlib
import json

import duckdb
import pytest

from precompute import pipeline, store
from precompute.__main__ import main
from precompute.config import Settings
from tests.corpus import PCA2, HashingEmbedder, conversation, write_jsonl


def _corpus(tmp_path, n: int, name: str = "c.jsonl"):
    return write_jsonl(tmp_path / name, [
        conversation(f"user{i}_task1_conversation1",
                     [(f"how do I bake bread number {i}", ["task_motivation"]),
                      ("knead it", ["explicit_affirmation"]),
                      (f"and rye bread {i}?", ["task_continuation"]), ("longer", [])])
        for i in range(n)])


def _settings(source, db, **kw) -> Settings:
    return Settings(source=str(source), db=db, progress=False, cluster_reduce="none", **kw)


def _build(settings: Settings, embedder=None, **kw) -> pipeline.BuildReport:
    return pipeline.build(settings, embedder=embedder or HashingEmbedder(),
                          umap_factory=PCA2, log=lambda _: None, **kw)


def _read(db) -> dict | None:
    """What a reader sees at ``db`` now: None when there is no file, else its tables,
    the conversations, ``meta.build_complete`` and the stages recorded."""
    if not db.exists():
        return None
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
                  .fetchall()}
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        return {"tables": tables,
                "conversations": con.execute("SELECT count(*) FROM conversations")
                .fetchone()[0],
                "build_complete": meta.get("build_complete"),
                "schema_version": meta.get("schema_version"),
                "stages": [r[0] for r in con.execute("SELECT stage FROM stage_runs ORDER BY "
                                                     "finished_at").fetchall()]}
    finally:
        con.close()


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def probes(monkeypatch):
    """Wrap the embed and shifts stages: before each runs, record what a reader sees at
    the target and the build's status file. Returns {stage: (seen, status)}."""
    seen: dict[str, tuple] = {}
    for name in ("embed", "shifts"):
        real = pipeline.STAGES[name]

        def probe(con, *, settings, _real=real, _name=name, **kw):
            seen[_name] = (_read(settings.db), store.read_status(settings.db))
            return _real(con, settings=settings, **kw)
        monkeypatch.setitem(pipeline.STAGES, name, probe)
    return seen


def test_first_build_publishes_the_ingested_then_the_embedded_state(tmp_path, probes):
    db = tmp_path / "new.duckdb"
    report = _build(_settings(_corpus(tmp_path, 3), db))
    assert report.published == ["ingest", "embed"]

    before_embed, status = probes["embed"]
    # the conversations are browsable while embed runs: the core tables, nothing later
    assert before_embed["conversations"] == 3 and before_embed["stages"] == ["ingest"]
    assert {"conversations", "messages", "thoughts", "labels", "provenance"} <= \
        before_embed["tables"]
    assert "embeddings" not in before_embed["tables"]
    assert before_embed["build_complete"] == "false"
    assert before_embed["schema_version"] == str(store.SCHEMA_VERSION)  # the app reads it
    assert status["state"] == "running" and status["stage"] == "embed"
    assert status["done"] == ["ingest"] and status["published"] == ["ingest"]
    assert status["stages"] == ["source", *pipeline.STAGES]

    before_shifts, status = probes["shifts"]
    # the second publication: the vectors too, still no later stage
    assert before_shifts["stages"] == ["ingest", "embed"]
    assert {"embeddings", "embedded_items"} <= before_shifts["tables"]
    assert "topic_scores" not in before_shifts["tables"]
    assert before_shifts["build_complete"] == "false"
    assert status["published"] == ["ingest", "embed"] and status["stage"] == "shifts"

    final = _read(db)
    assert final["build_complete"] == "true" and final["stages"] == list(pipeline.STAGES)
    assert {"topic_scores", "map_points", "shift_metrics"} <= final["tables"]
    # nothing left beside it: no temporary file, no snapshot, no status file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl", "new.duckdb"]
    assert store.read_status(db) is None and not store.is_partial(db)


def test_publishing_early_can_be_turned_off(tmp_path, probes):
    db = tmp_path / "new.duckdb"
    report = _build(_settings(_corpus(tmp_path, 3), db, publish_early=False))
    assert report.published == []
    assert probes["embed"][0] is None and probes["shifts"][0] is None
    assert _read(db)["build_complete"] == "true"


def test_a_failing_analytics_stage_leaves_the_published_file_and_the_next_build_continues(
        tmp_path, monkeypatch):
    db = tmp_path / "new.duckdb"
    source = _corpus(tmp_path, 4)

    def failing(con, **_):
        con.execute("DELETE FROM conversations")  # half-done work on the temp copy
        raise RuntimeError("topics exploded")
    monkeypatch.setitem(pipeline.STAGES, "topics", failing)
    with pytest.raises(RuntimeError, match="topics exploded"):
        _build(_settings(source, db))
    left = _read(db)
    # the state published after embed, whole; the failed stage's work is not in it
    assert left["conversations"] == 4 and left["stages"] == ["ingest", "embed"]
    assert left["build_complete"] == "false" and store.is_partial(db)
    assert not [p for p in tmp_path.iterdir() if "building" in p.name or "publishing" in p.name]
    status = store.read_status(db)
    assert status["state"] == "failed" and status["error"] == "topics exploded"

    monkeypatch.undo()
    embedder = HashingEmbedder()
    report = _build(_settings(source, db), embedder=embedder)
    assert report.stages["ingest"]["skipped"] and report.stages["embed"]["skipped"]
    # every vector of the corpus came from the published file (only the topics stage's
    # subtopic descriptions, never embedded before it failed, are new)
    assert embedder.texts and not [t for t in embedder.texts if "bread" in t]
    assert report.published == []  # nothing newer than the published file until the end
    final = _read(db)
    assert final["build_complete"] == "true" and final["stages"][-1] == "shifts"
    assert not store.is_partial(db) and store.read_status(db) is None


def test_an_interrupted_first_build_leaves_the_ingested_file(tmp_path, monkeypatch):
    db = tmp_path / "new.duckdb"

    def interrupted(con, **_):
        raise KeyboardInterrupt
    monkeypatch.setitem(pipeline.STAGES, "embed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _build(_settings(_corpus(tmp_path, 2), db))
    assert _read(db)["stages"] == ["ingest"] and store.is_partial(db)
    assert store.read_status(db)["error"] == "interrupted"


def test_a_failure_before_anything_was_published_leaves_no_file(tmp_path):
    db = tmp_path / "new.duckdb"
    with pytest.raises(Exception, match="not found"):
        _build(_settings(tmp_path / "missing.jsonl", db))
    assert not db.exists()
    status = store.read_status(db)
    assert status["state"] == "failed" and "not found" in status["error"]
    # the next build replaces the failed status and removes it when it succeeds
    _build(_settings(_corpus(tmp_path, 2), db))
    assert store.read_status(db) is None


@pytest.mark.parametrize("publish_early", [None, True])
def test_a_rebuild_over_a_complete_file_never_publishes_a_less_complete_one(
        tmp_path, probes, publish_early):
    db = tmp_path / "live.duckdb"
    _build(_settings(_corpus(tmp_path, 3), db))
    complete = _sha(db)
    probes.clear()
    # new data: ingest and every later stage rerun; readers keep the old, whole file
    report = _build(_settings(_corpus(tmp_path, 5, "d.jsonl"), db,
                              publish_early=publish_early))
    assert report.published == []
    for stage in ("embed", "shifts"):
        seen, status = probes[stage]
        assert seen["conversations"] == 3 and seen["build_complete"] == "true"
        assert status["state"] == "running"  # the app says "being built" meanwhile
    assert _sha(db) != complete and _read(db)["conversations"] == 5


def test_an_ingest_only_file_gets_its_vectors_published_before_the_rest(tmp_path, probes):
    """A file of `python -m precompute ingest` is complete as asked; a build over it may
    publish the embedded state (more complete, same conversations) before the rest."""
    db = tmp_path / "t.duckdb"
    source = _corpus(tmp_path, 3)
    _build(_settings(source, db), only=("ingest",))
    assert _read(db)["build_complete"] is None and not store.is_partial(db)
    report = _build(_settings(source, db, publish_early=True))
    assert report.published == ["embed"]
    assert probes["embed"][0]["stages"] == ["ingest"]  # not re-published after ingest
    assert probes["shifts"][0]["stages"] == ["ingest", "embed"]


def test_a_build_of_some_stages_keeps_the_file_complete(tmp_path):
    """`build(only=...)` publishes early too, but its final file is not marked
    unfinished: it did what it was asked."""
    db = tmp_path / "t.duckdb"
    report = _build(_settings(_corpus(tmp_path, 2), db), only=("ingest", "embed", "topics"))
    assert report.published == ["ingest", "embed"]
    assert _read(db)["build_complete"] is None and not store.is_partial(db)


def test_the_status_file_of_another_build_is_left_alone(tmp_path):
    db = tmp_path / "t.duckdb"
    other = {"state": "running", "pid": 1, "host": "elsewhere", "stage": "embed"}
    store.status_path_for(db).write_text(json.dumps(other))
    status = store.BuildStatus(db, ["ingest"])  # a build that never wrote its own
    status.finish()
    assert json.loads(store.status_path_for(db).read_text()) == other
    assert store.read_status(db)["state"] == "running"  # another host: taken as running


def test_a_status_file_of_a_dead_process_reads_as_stopped(tmp_path):
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    db = tmp_path / "t.duckdb"
    store.status_path_for(db).write_text(json.dumps(
        {"state": "running", "pid": int(dead), "host": socket.gethostname()}))
    assert store.read_status(db)["state"] == "stopped"
    store.status_path_for(db).write_text("{not json")
    assert store.read_status(db) is None


# --------------------------------------------------------------------------- the CLI


def test_cli_if_needed(tmp_path, monkeypatch, capsys):
    """--if-needed: a complete file is left alone; an unfinished one continues from the
    source recorded in it (unless --source is given); a missing one is built."""
    calls: list[Settings] = []
    monkeypatch.setattr(pipeline, "build", lambda settings, **_: calls.append(settings))
    db = tmp_path / "t.duckdb"
    source = _corpus(tmp_path, 2)

    assert main(["build", "--if-needed", "--db", str(db)]) == 0
    assert calls[-1].source == "hf" and calls[-1].publish_early is None

    monkeypatch.undo()
    _build(_settings(source, db))
    monkeypatch.setattr(pipeline, "build", lambda settings, **_: calls.append(settings))
    before = _sha(db)
    n = len(calls)
    assert main(["build", "--if-needed", "--db", str(db)]) == 0
    assert len(calls) == n and _sha(db) == before
    assert "is complete: nothing to build" in capsys.readouterr().out

    with duckdb.connect(str(db)) as con:  # as a first build that stopped leaves it
        con.execute("UPDATE meta SET value = 'false' WHERE key = 'build_complete'")
    assert main(["build", "--if-needed", "--db", str(db)]) == 0
    assert calls[-1].source == str(source)
    assert "continuing it" in capsys.readouterr().out
    assert main(["build", "--if-needed", "--source", "demo", "--db", str(db),
                 "--no-publish-early"]) == 0
    assert calls[-1].source == "demo" and calls[-1].publish_early is False


def test_cli_failure_after_publishing_says_what_it_left(tmp_path, monkeypatch, capsys):
    db = tmp_path / "t.duckdb"

    def failing(con, **_):
        raise pipeline.PipelineError("relationships cannot run")
    monkeypatch.setitem(pipeline.STAGES, "relationships", failing)
    monkeypatch.setitem(pipeline.STAGES, "embed", lambda con, **_: {"skipped": True,
                                                                    "summary": "fake"})
    code = main(["build", "--source", str(_corpus(tmp_path, 2)), "--db", str(db),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "relationships cannot run" in err
    assert "holds what the build published early (ingest)" in err
    assert "the same command continues from it" in err and "Traceback" not in err


def test_a_stop_request_swallowed_by_a_library_stops_the_build_after_the_stage(tmp_path):
    """SIGTERM during numba's compilation raises inside a C callback, which swallows it;
    the CLI's handler also sets a flag that the build reads after every stage."""
    db = tmp_path / "new.duckdb"
    asked: list[str] = []

    def stop_requested() -> bool:
        asked.append("?")
        return len(asked) == 2  # after embed
    with pytest.raises(KeyboardInterrupt):
        _build(_settings(_corpus(tmp_path, 2), db), stop_requested=stop_requested)
    # what embed did was published before it stopped
    assert _read(db)["stages"] == ["ingest", "embed"] and store.is_partial(db)
    assert store.read_status(db)["error"] == "interrupted"
