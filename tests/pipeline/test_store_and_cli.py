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


def test_killed_build_process_leaves_old_db_intact(tmp_path):
    db = tmp_path / "t.duckdb"
    pipeline.build(Settings(source=str(_small(tmp_path)), db=db, progress=False),
                   only=("ingest",), log=lambda _: None)
    before = _sha(db)
    big = write_jsonl(tmp_path / "big.jsonl", [
        conversation(f"user{i}_task1_conversation1",
                     [(f"question number {i} " * 20, ["task_motivation"]),
                      ("answer " * 200, ["explicit_affirmation"])] * 6)
        for i in range(6000)])
    proc = subprocess.Popen([sys.executable, "-m", "precompute", "ingest", "--source",
                             str(big), "--db", str(db), "--no-progress"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(".t.duckdb.building-*")):
        time.sleep(0.05)
    assert list(tmp_path.glob(".t.duckdb.building-*")), "build never started writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _sha(db) == before
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM conversations").fetchone()[0] == 3
    con.close()
    # the next build cleans up the dead build's temp file
    pipeline.build(Settings(source=str(_small(tmp_path, 4, "e.jsonl")), db=db,
                            progress=False), only=("ingest",), log=lambda _: None)
    assert not list(tmp_path.glob(".t.duckdb.building-*"))


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
