"""Stage `embed`: items, hash cache, normalization, load_vectors, and a real-model build."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from precompute.embed import load_vectors, task_text, text_hash
from precompute.pipeline import PipelineError
from tests.corpus import dialogue


def _corpus(n: int = 3) -> list[dict]:
    recs = []
    for i in range(n):
        recs.append(dialogue(
            f"user{i}_task1_conversation1",
            [(f"How do I grow tomatoes number {i}?", f"Plant them in sun {i}."),
             (f"And what about watering {i}?", f"Water daily {i}.")],
            task_summary=f"Growing tomatoes {i}",
            reasons={0: [("task_motivation", f"I want a garden {i}")],
                     1: [("task_continuation", f"follow up {i}"),
                         ("content_expectation", f"details please {i}")]},
            reactions={0: [("explicit_affirmation", f"great answer {i}")]}))
    return recs


def _con(settings):
    return duckdb.connect(str(settings.db), read_only=True)


def test_every_text_has_an_item_and_a_normalized_vector(make_corpus, build_db, fake_embedder):
    settings, report = build_db(make_corpus(_corpus()), embedder=fake_embedder,
                                only=("ingest", "embed"))
    con = _con(settings)
    n_user = con.execute("SELECT count(*) FROM messages WHERE role = 'user'").fetchone()[0]
    n_th = con.execute("SELECT count(*) FROM thoughts").fetchone()[0]
    kinds = dict(con.execute("SELECT kind, count(*) FROM embedded_items GROUP BY 1").fetchall())
    assert kinds == {"user_message": n_user, "reason": 9, "reaction": 3, "task": 3}
    assert n_th == 12
    # ids and links
    ids = {r[0] for r in con.execute("SELECT item_id FROM embedded_items").fetchall()}
    assert "m:user0_task1_conversation1:1" in ids and "m:user0_task1_conversation1:3" in ids
    assert "c:user2_task1_conversation1" in ids
    assert {f"t:{i}" for i in range(1, 13)} <= ids
    assert con.execute("SELECT count(*) FROM embedded_items i JOIN thoughts t "
                       "ON i.thought_id = t.thought_id AND i.label = t.label "
                       "AND i.turn = t.turn AND i.kind = t.kind").fetchone()[0] == 12
    assert con.execute("SELECT count(*) FROM embedded_items WHERE kind = 'task' AND "
                       "(turn IS NOT NULL OR thought_id IS NOT NULL)").fetchone()[0] == 0
    # every item has a vector in the cache
    assert con.execute("SELECT count(*) FROM embedded_items i LEFT JOIN embeddings e "
                       "USING (text_hash) WHERE e.text_hash IS NULL").fetchone()[0] == 0
    dtype = con.execute("SELECT data_type FROM information_schema.columns WHERE "
                        "table_name = 'embeddings' AND column_name = 'vector'").fetchone()[0]
    assert dtype == "FLOAT[384]"
    items, mat = load_vectors(con, ["user_message", "reason", "reaction", "task"])
    assert mat.dtype == np.float32 and mat.shape == (len(items), 384)
    assert np.allclose(np.linalg.norm(mat, axis=1), 1, atol=1e-5)
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    assert meta["embed_model"] == "fake-hashing-bow" and meta["embed_dim"] == "384"
    assert "embedded" in report.stages["embed"]["summary"]


def test_text_hash_and_task_text():
    assert text_hash("m", "x") == text_hash("m", "x") != text_hash("n", "x")
    assert task_text("Summary", "First message") == "Summary\nFirst message"
    assert task_text(None, "First") == "First"
    assert task_text("  ", None) is None


def test_load_vectors_rows_align_with_items(make_corpus, build_db, fake_embedder):
    settings, _ = build_db(make_corpus(_corpus()), embedder=fake_embedder,
                           only=("ingest", "embed"))
    con = _con(settings)
    items, mat = load_vectors(con, ["reason", "task"])
    assert set(items["kind"]) == {"reason", "task"}
    keys = list(zip(items["conv_id"], items["turn"].fillna(-1), items["item_id"]))
    assert keys == sorted(keys)
    texts = dict(con.execute(
        "SELECT 't:' || thought_id, content FROM thoughts").fetchall())
    for row, (_, item) in enumerate(items.iterrows()):
        if item["kind"] == "reason":
            assert np.allclose(mat[row], fake_embedder.vector(texts[item["item_id"]]), atol=1e-6)
    with pytest.raises(ValueError, match="unknown kinds"):
        load_vectors(con, ["nope"])


def test_rerun_embeds_nothing_and_new_conversation_only_its_texts(make_corpus, build_db,
                                                                  fake_embedder):
    recs = _corpus(3)
    src = make_corpus(recs)
    settings, first = build_db(src, embedder=fake_embedder, only=("ingest", "embed"))
    n_first = len(fake_embedder.texts)
    # 3 conversations x (2 user messages + 3 reasons + 1 reaction + 1 task), all distinct
    assert n_first == 3 * 7 and len(set(fake_embedder.texts)) == 21
    # unchanged: the stage is skipped, the model is not called
    _, again = build_db(src, embedder=fake_embedder, only=("ingest", "embed"))
    assert again.stages["embed"]["skipped"] and len(fake_embedder.texts) == n_first
    # forced: runs, but every text is cached
    _, forced = build_db(src, embedder=fake_embedder, only=("ingest", "embed"), force=True)
    assert not forced.stages["embed"]["skipped"] and len(fake_embedder.texts) == n_first
    assert "0 embedded" in forced.stages["embed"]["summary"]
    # one more conversation: only its texts are embedded
    extra = dialogue("user99_task1_conversation1",
                         [("Brand new question about kayaks", "Answer")],
                         task_summary="Kayak trip",
                         reasons={0: [("task_motivation", "going paddling soon")]})
    src = make_corpus(recs + [extra])
    _, grown = build_db(src, embedder=fake_embedder, only=("ingest", "embed"))
    new = fake_embedder.texts[n_first:]
    assert sorted(new) == sorted(["Brand new question about kayaks", "going paddling soon",
                                  "Kayak trip\nBrand new question about kayaks"])


def test_embed_assistant_adds_assistant_messages(make_corpus, build_db, fake_embedder):
    src = make_corpus(_corpus())
    settings, _ = build_db(src, embedder=fake_embedder, only=("ingest", "embed"))
    con = _con(settings)
    assert con.execute("SELECT count(*) FROM embedded_items WHERE kind = 'assistant_message'"
                       ).fetchone()[0] == 0
    con.close()
    settings, report = build_db(src, embedder=fake_embedder, only=("ingest", "embed"),
                                embed_assistant=True)
    assert not report.stages["embed"]["skipped"]
    con = _con(settings)
    assert con.execute("SELECT count(*) FROM embedded_items WHERE kind = 'assistant_message'"
                       ).fetchone()[0] == 6
    items, mat = load_vectors(con, ["assistant_message"])
    assert len(items) == 6 and mat.shape == (6, 384)


def test_empty_texts_are_listed_without_a_vector(make_corpus, build_db, fake_embedder):
    rec = dialogue("user1_task1_conversation1", [("   ", "ok"), ("real question", "ok")],
                       task_summary="", reasons={0: [("social_and_others", "")]})
    settings, report = build_db(make_corpus([rec]), embedder=fake_embedder,
                                only=("ingest", "embed"))
    con = _con(settings)
    nulls = {r[0] for r in con.execute(
        "SELECT item_id FROM embedded_items WHERE text_hash IS NULL").fetchall()}
    # the empty message and thought, and the task (empty summary + blank first message)
    assert nulls == {"m:user1_task1_conversation1:1", "t:1", "c:user1_task1_conversation1"}
    assert "3 empty (no vector)" in report.stages["embed"]["summary"]
    assert "" not in fake_embedder.texts and "   " not in fake_embedder.texts
    items, mat = load_vectors(con, ["user_message", "reason"])
    assert list(items["item_id"]) == ["m:user1_task1_conversation1:3"]


def test_prune_drops_unreferenced_vectors(make_corpus, build_db, fake_embedder):
    recs = _corpus(3)
    settings, _ = build_db(make_corpus(recs), embedder=fake_embedder, only=("ingest", "embed"))
    build_db(make_corpus(recs[:1]), embedder=fake_embedder, only=("ingest", "embed"))
    con = _con(settings)
    kept = con.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    con.close()
    build_db(make_corpus(recs[:1]), embedder=fake_embedder, only=("ingest", "embed"),
             prune_embeddings=True)
    con = _con(settings)
    pruned = con.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    used = con.execute("SELECT count(DISTINCT text_hash) FROM embedded_items").fetchone()[0]
    assert pruned == used < kept


def test_stage_only_build_needs_core_tables(build_db, fake_embedder, tmp_path):
    with pytest.raises(PipelineError, match="no such DB"):
        build_db(None, db=tmp_path / "none.duckdb", embedder=fake_embedder, only=("embed",))
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(PipelineError, match="no core tables"):
        build_db(None, db=empty, embedder=fake_embedder, only=("embed",))


def test_stage_only_build_does_not_resolve_the_source(make_corpus, build_db, fake_embedder,
                                                      tmp_path):
    src = make_corpus(_corpus())
    settings, _ = build_db(src, embedder=fake_embedder, only=("ingest",))
    src.unlink()  # the source is gone: embed alone must not need it
    _, report = build_db(tmp_path / "missing.jsonl", embedder=fake_embedder, only=("embed",))
    assert report.source is None and not report.stages["embed"]["skipped"]


def test_every_command_has_help_with_an_example(capsys):
    from precompute.__main__ import make_parser
    parser = make_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"build", "ingest", "embed", "topics", "clusters"} <= set(sub.choices)
    for name, p in sub.choices.items():
        text = p.format_help()
        assert "example:" in text and f"python -m precompute {name}" in text, name
    build_help = sub.choices["build"].format_help()
    for opt in ("--model", "--device", "--embed-assistant", "--batch-size", "--topic-labels",
                "--taxonomy", "--prune"):
        assert opt in build_help
    assert "--source" not in sub.choices["topics"].format_help()


def test_cli_stage_command_on_missing_db_fails_clearly(tmp_path, capsys):
    from precompute.__main__ import main
    assert main(["topics", "--db", str(tmp_path / "no.duckdb"), "--no-progress"]) == 2
    assert "no such DB" in capsys.readouterr().err


@pytest.mark.model
def test_real_model_build_of_the_shared_sample(sample_db):
    con = duckdb.connect(str(sample_db), read_only=True)
    # every thought and user message has a vector
    missing = con.execute("""
        SELECT count(*) FROM (
          SELECT 't:' || thought_id AS item_id FROM thoughts
          UNION ALL SELECT 'm:' || conv_id || ':' || turn FROM messages WHERE role = 'user'
          UNION ALL SELECT 'c:' || conv_id FROM conversations) w
        LEFT JOIN embedded_items i USING (item_id)
        LEFT JOIN embeddings e ON e.text_hash = i.text_hash
        WHERE e.text_hash IS NULL""").fetchone()[0]
    assert missing == 0
    assert con.execute("SELECT count(*) FROM conversations WHERE domain IS NULL OR "
                       "subtopic IS NULL").fetchone()[0] == 0
    assert con.execute("SELECT value FROM meta WHERE key = 'embed_model'").fetchone()[0] == \
        "all-MiniLM-L6-v2"
    items, mat = load_vectors(con, ["reason", "reaction", "user_message", "task"])
    assert mat.shape == (494, 384)
    assert np.allclose(np.linalg.norm(mat, axis=1), 1, atol=1e-4)
    spaces = {r[0] for r in con.execute("SELECT DISTINCT space FROM clusters").fetchall()}
    assert spaces == {"task", "reason", "reaction"}
    assert con.execute("SELECT count(*) FROM cluster_members").fetchone()[0] == 154 + 156 + 20
    runs = {r[0] for r in con.execute("SELECT stage FROM stage_runs").fetchall()}
    assert {"ingest", "embed", "topics", "clusters", "shifts"} <= runs
    # every thought and user message has map coordinates, from the real UMAP
    unmapped = con.execute("""
        SELECT count(*) FROM (
          SELECT 't:' || thought_id AS item_id FROM thoughts
          UNION ALL SELECT 'm:' || conv_id || ':' || turn FROM messages WHERE role = 'user') w
        LEFT JOIN map_points p USING (item_id) WHERE p.x IS NULL OR p.y IS NULL""").fetchone()[0]
    assert unmapped == 0
    assert con.execute("SELECT params FROM stage_runs WHERE stage = 'shifts'").fetchone()[0] \
        .find('"umap"') >= 0
    # every pair's endpoints exist on the map, and its shift is the coordinate difference
    bad = con.execute("""
        SELECT count(*) FROM shift_pairs s
        LEFT JOIN map_points a ON a.item_id = s.src_id
        LEFT JOIN map_points b ON b.item_id = s.dst_id
        WHERE a.item_id IS NULL OR b.item_id IS NULL
           OR abs((b.x - a.x) - s.dx) > 1e-6 OR abs((b.y - a.y) - s.dy) > 1e-6""").fetchone()[0]
    assert bad == 0
    n = dict(con.execute("SELECT pair_type, n FROM shift_metrics").fetchall())
    assert n["message_reason"] == 154  # every reason sits on a user message
    assert n["consecutive"] == 164 - 20  # user messages minus one per conversation
    # the paper's ordering of median shift holds on the real sample
    p50 = dict(con.execute("SELECT pair_type, p50 FROM shift_metrics").fetchall())
    assert p50["consecutive"] < p50["message_reason"] < p50["reaction_next"]
