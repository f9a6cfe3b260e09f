"""Rebuild while serving: `build` replaces the DB file (atomic rename) while the app is up.

Open sessions keep working and show the new data on their next run (AppTest, and a real
`streamlit run` server driven over its websocket); a failed build never replaces the
good file (byte-identical) and the sessions keep reading it.
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from streamlit.testing.v1 import AppTest

from precompute import pipeline
from precompute.config import Settings
from precompute.ingest import IngestError
from tests.apptest import open_app
from tests.corpus import conversation, ingest_db, write_jsonl
from tests.servers import serve


def _corpus(n: int, tag: str) -> list[dict]:
    return [conversation(f"user{i}_task1_{tag}",
                         [(f"question {i}", ["task_motivation"]), ("answer", [])] * (1 + i % 3))
            for i in range(n)]


def _build(src, db, **kw):
    ingest_db(src, db, **kw)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_rebuild_is_picked_up_by_open_sessions(tmp_path, monkeypatch):
    db = tmp_path / "live.duckdb"
    _build(write_jsonl(tmp_path / "v1.jsonl", _corpus(3, "v1")), db)
    overview = open_app(db, monkeypatch)
    assert _metrics(overview)["Conversations"] == "3"
    browser = open_app(db, monkeypatch, "conversations", conv="user1_task1_v1")
    assert len(browser.chat_message) == 4

    # v2: a different corpus, same path (the build renames its temp file over it)
    _build(write_jsonl(tmp_path / "v2.jsonl", _corpus(7, "v2")), db)
    overview.run()
    assert not overview.exception and not overview.error
    assert _metrics(overview)["Conversations"] == "7"
    browser.run()
    assert not browser.exception and not browser.error
    assert any("no longer in the database" in i.value for i in browser.info)
    browser.run()
    frames = [df.value for df in browser.dataframe if "conversation" in df.value.columns]
    assert sorted(frames[0]["conversation"]) == sorted(f"user{i}_task1_v2" for i in range(7))

    # a failed build (strict on a bad corpus) leaves the good file byte-identical
    good = _sha(db)
    bad = write_jsonl(tmp_path / "bad.jsonl", _corpus(9, "v3") + ["{broken json"])
    with pytest.raises(IngestError):
        _build(bad, db, strict=True)
    assert _sha(db) == good

    # a stage that raises mid-build: same
    def exploding(con, **_):
        con.execute("DELETE FROM conversations")
        raise RuntimeError("stage failed")
    monkeypatch.setitem(pipeline.STAGES, "explode", exploding)
    with pytest.raises(RuntimeError):
        pipeline.build(Settings(source=str(tmp_path / "v1.jsonl"), db=db, progress=False),
                       only=("ingest", "explode"), log=lambda _: None)
    assert _sha(db) == good
    assert not [p for p in tmp_path.iterdir() if "building" in p.name]
    overview.run()
    assert _metrics(overview)["Conversations"] == "7" and not overview.error


def test_many_rebuilds_with_sessions_in_between(tmp_path, monkeypatch):
    """Old connections stay cached for sessions mid-run; every rebuild must still be seen
    (DuckDB caches database instances by path: the app must not get the old one back)."""
    db = tmp_path / "live.duckdb"
    at = None
    for n in (2, 5, 3, 6, 4, 1):
        _build(write_jsonl(tmp_path / f"c{n}.jsonl", _corpus(n, f"n{n}")), db)
        if at is None:
            at = open_app(db, monkeypatch)
        else:
            at.run()
        assert not at.exception and not at.error
        assert _metrics(at)["Conversations"] == str(n)


def test_open_session_survives_a_rebuild_that_hides_then_restores_a_slider(tmp_path,
                                                                           monkeypatch):
    db = tmp_path / "live.duckdb"
    at = None
    for n in (5, 1, 5):  # varied lengths, one conversation (no slider), varied again
        _build(write_jsonl(tmp_path / f"c{n}.jsonl", _corpus(n, f"n{n}")), db)
        if at is None:
            at = open_app(db, monkeypatch)
        else:
            at.run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert _metrics(at)["Conversations"] == str(n)


# ------------------------------------------------------------------ a real server

async def _load(url: str, page: str = "", query: str = "") -> dict[str, str]:
    """One page load (a new session, as a browser does for a URL); its metrics."""
    import websockets
    async with websockets.connect(url, subprotocols=["streamlit"], max_size=None) as ws:
        return await _rerun(ws, page, query)


async def _rerun(ws, page: str = "", query: str = "") -> dict[str, str]:
    """Send the first run of a session; return the metrics it rendered. (A second run on
    the same socket would need the widget states a browser sends back.)"""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = BackMsg()
    msg.rerun_script.query_string = query
    msg.rerun_script.page_name = page
    await ws.send(msg.SerializeToString())
    metrics, problems = {}, []
    while True:
        fwd = ForwardMsg()
        fwd.ParseFromString(await asyncio.wait_for(ws.recv(), 30))
        kind = fwd.WhichOneof("type")
        if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            el = fwd.delta.new_element
            if el.WhichOneof("type") == "metric":
                metrics[el.metric.label] = el.metric.body
            elif el.WhichOneof("type") == "exception":
                problems.append(el.exception.message)
            elif el.WhichOneof("type") == "alert" and el.alert.format == 1:
                problems.append(el.alert.body)
        elif kind == "script_finished":
            assert fwd.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY
            assert not problems, problems
            return metrics


def test_real_server_session_sees_the_rebuild(tmp_path):
    pytest.importorskip("websockets")
    import websockets

    db = tmp_path / "live.duckdb"
    _build(write_jsonl(tmp_path / "v1.jsonl", _corpus(3, "v1")), db)
    with serve(db, tmp_path) as server:
        port = server["port"]

        async def scenario():
            url = f"ws://127.0.0.1:{port}/_stcore/stream"
            # a session that stays connected through the rebuilds (it must not break them)
            async with websockets.connect(url, subprotocols=["streamlit"],
                                          max_size=None) as idle:
                assert (await _rerun(idle))["Conversations"] == "3"
                assert (await _load(url, "", "model=GPT-5.4"))["Conversations"] == "3"
                good = _sha(db)
                with pytest.raises(IngestError):  # failed build: nothing changes
                    _build(write_jsonl(tmp_path / "bad.jsonl", ["{oops"]), db, strict=True)
                assert _sha(db) == good
                assert (await _load(url))["Conversations"] == "3"
                _build(write_jsonl(tmp_path / "v2.jsonl", _corpus(8, "v2")), db)
                # the next loads read the new file, with and without filters, concurrently
                results = await asyncio.gather(*(_load(url, "", q) for q in
                                                 ("", "model=GPT-5.4", "msgs=2-6", "")))
                assert [r["Conversations"] for r in results] == ["8"] * 4
                _build(write_jsonl(tmp_path / "v3.jsonl", _corpus(5, "v3")), db)
                assert (await _load(url))["Conversations"] == "5"
                assert (await _load(url, "browser", "conv=user4_task1_v3")) == {}
        asyncio.run(scenario())
