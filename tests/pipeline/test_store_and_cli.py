"""Atomic writes, source resolution (offline fallback) and the CLI's help and errors."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from precompute import pipeline, sources
from precompute.__main__ import main, make_parser
from precompute.config import Settings
from tests.corpus import REPO, conversation, write_jsonl


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _small(tmp_path, n=3, name="c.jsonl"):
    recs = [conversation(f"user{i}_task1_conversation1",
                         [(f"question {i}", ["task_motivation"]), ("answer", [])])
            for i in range(n)]
    return write_jsonl(tmp_path / name, recs)


def test_interrupted_build_leaves_old_db_unchanged(tmp_path, monkeypatch):
    db = tmp_path / "t.duckdb"
    pipeline.build(Settings(source=str(_small(tmp_path)), db=db, progress=False),
                   only=("ingest",), log=lambda _: None)
    before = _sha(db)

    def exploding_stage(con, **_):
        con.execute("DELETE FROM conversations")  # half-done work on the temp copy
        raise KeyboardInterrupt

    monkeypatch.setitem(pipeline.STAGES, "explode", exploding_stage)
    with pytest.raises(KeyboardInterrupt):
        pipeline.build(Settings(source=str(_small(tmp_path, 5, "d.jsonl")), db=db,
                                progress=False), only=("ingest", "explode"),
                       log=lambda _: None)
    assert _sha(db) == before
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM conversations").fetchone()[0] == 3
    assert [p.name for p in tmp_path.iterdir() if "building" in p.name] == []


#: Runs ``python -m precompute ARGS...`` in a process that stops for good at a known point
#: of the build (argv[1]) after saying so on stdout: "writing" (ingest has replaced the
#: conversations table of the temporary copy, checkpointed: half-done work on disk) or
#: "renaming" (the temporary copy is complete and closed, just before it would replace the
#: DB file). The test kills it there with SIGKILL.
KILL_DRIVER = r"""
import os, signal, sys
from precompute import store
from precompute.__main__ import main

def reached():
    print("AT-KILL-POINT", flush=True)
    while True:
        signal.pause()  # until the test's SIGKILL

if sys.argv[1] == "writing":
    real_replace_table = store.replace_table
    def replace_table(con, name, *args, **kwargs):
        real_replace_table(con, name, *args, **kwargs)
        if name == "conversations":
            con.execute("CHECKPOINT")
            reached()
    store.replace_table = replace_table
else:
    real_replace = os.replace
    def replace(src, dst, *args, **kwargs):
        if ".building-" in str(src):
            reached()
        return real_replace(src, dst, *args, **kwargs)
    os.replace = replace
sys.exit(main(sys.argv[2:]))
"""


def _wait_for_line(proc: subprocess.Popen, line: bytes, timeout_s: float = 120) -> None:
    """Block until ``proc`` prints ``line`` (fails if it exits first; the timeout only
    stops a hung test)."""
    import select

    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "the build never reached the kill point"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            continue
        got = proc.stdout.readline()
        assert got, f"the build exited ({proc.wait()}) before the kill point"
        if got.strip() == line:
            return


@pytest.mark.parametrize("point", ["writing", "renaming"])
def test_killed_build_process_leaves_old_db_intact(tmp_path, point):
    """kill -9 in the middle of ingest's writes, or once the new file is complete but not
    yet renamed: the old DB is byte for byte what it was, and the next build removes the
    dead build's temporary file."""
    db = tmp_path / "t.duckdb"
    pipeline.build(Settings(source=str(_small(tmp_path)), db=db, progress=False),
                   only=("ingest",), log=lambda _: None)
    before = _sha(db)
    new = _small(tmp_path, 6, "new.jsonl")
    proc = subprocess.Popen([sys.executable, "-c", KILL_DRIVER, point, "ingest", "--source",
                             str(new), "--db", str(db), "--no-progress"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        _wait_for_line(proc, b"AT-KILL-POINT")
        temp = tmp_path / f".t.duckdb.building-{proc.pid}"
        assert temp.is_file()
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert _sha(db) == before
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM conversations").fetchone()[0] == 3
    con.close()
    # the dead build had got that far: its temporary copy holds the 6 new conversations
    con = duckdb.connect(str(temp), read_only=True)
    assert con.execute("SELECT count(*) FROM conversations").fetchone()[0] == 6
    con.close()
    # the next build cleans up the dead build's temp file
    pipeline.build(Settings(source=str(_small(tmp_path, 4, "e.jsonl")), db=db,
                            progress=False), only=("ingest",), log=lambda _: None)
    assert not list(tmp_path.glob(".t.duckdb.building-*"))
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM conversations").fetchone()[0] == 4
    con.close()


def test_rerun_unchanged_skips_ingest(tmp_path):
    db = tmp_path / "t.duckdb"
    s = Settings(source=str(_small(tmp_path)), db=db, progress=False)
    pipeline.build(s, only=("ingest",), log=lambda _: None)
    report = pipeline.build(s, only=("ingest",), log=lambda _: None)
    assert report.stages["ingest"]["skipped"]


def test_hub_unreachable_falls_back_to_demo_with_one_clear_line(monkeypatch):
    monkeypatch.setattr(sources, "_cached_hub_file", lambda settings: None)
    lines = []
    src = sources.resolve_source(Settings(source="hf"), log=lines.append,
                                 probe=lambda timeout: (False, "no route"))
    assert src.kind == "demo" and src.is_demo and "no route" in src.fallback_reason
    assert len(lines) == 1 and "--source PATH" in lines[0] and "demo" in lines[0].lower()


def test_hf_offline_env_is_honoured(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ok, why = sources.hub_reachable(3)
    assert not ok and "HF_HUB_OFFLINE" in why


def test_bad_source_paths(tmp_path):
    with pytest.raises(sources.SourceError, match="not found"):
        sources.resolve_source(Settings(source=str(tmp_path / "nope.jsonl")))
    (tmp_path / "x.csv").write_text("a")
    with pytest.raises(sources.SourceError, match=r"\.jsonl"):
        sources.resolve_source(Settings(source=str(tmp_path / "x.csv")))


def test_every_command_has_help_with_an_example(capsys):
    parser = make_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    assert {"build", "ingest"} <= set(commands)
    assert "figures" not in commands  # moved to cli.py (tests/export/test_pack.py)
    for name in commands:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "example" in out and f"python -m precompute {name}" in out


def test_cli_error_is_one_clear_line_and_exit_2(tmp_path, capsys):
    code = main(["ingest", "--source", str(tmp_path / "missing.jsonl"), "--db",
                 str(tmp_path / "t.duckdb")])
    err = capsys.readouterr().err
    assert code == 2 and "missing.jsonl: file not found" in err and "Traceback" not in err
    assert not (tmp_path / "t.duckdb").exists()


def test_a_stage_alone_refuses_a_file_of_another_schema_version(build_db, fake_embedder,
                                                                tmp_path):
    """Running one stage on an older file must not stamp it with this version's number
    (it would lack this version's columns): it fails, saying how to rebuild."""
    from precompute.pipeline import PipelineError
    from precompute.store import SCHEMA_VERSION

    source = _small(tmp_path)
    settings, _ = build_db(source, only=("ingest",))
    with duckdb.connect(str(settings.db)) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                    [str(SCHEMA_VERSION - 1)])
    before = settings.db.read_bytes()
    with pytest.raises(PipelineError, match="rebuild it"):
        build_db(source, db=settings.db, only=("embed",), embedder=fake_embedder)
    assert settings.db.read_bytes() == before
