"""AppTest of the "Thought types & stages" page (views/thought_types.py) on the shared
sample (ingest only): the label-share, stage and transition charts with their titles, the
thoughts behind a bar, the split, stage-rule and flow controls, the sidebar filter, and
the empty state."""

from __future__ import annotations

import pytest

from tests.apptest import assert_clean, chart_titles, open_app


@pytest.fixture(scope="module")
def sample_ingest(sample_ingest_db):
    """The shared sample, ingest only (20 conversations, 10 models)."""
    return sample_ingest_db


def test_thoughts_page_renders(sample_ingest, monkeypatch):
    at = open_app(sample_ingest, monkeypatch, "thoughts")
    titles = chart_titles(at)
    assert any(t.startswith("Reasons: share of 154 reasons in 20 conversations") for t in titles)
    assert any("Reactions by stage" in t for t in titles)
    assert any(t.startswith("Reason → next reason") for t in titles)
    # the thoughts behind the default bar (Task Motivation, Early) and the pairs behind a
    # flow; counted over the sample's JSONL with the stage rule: 22 of its 45 Task
    # Motivation reasons are in the Early stage
    assert len(at.dataframe) == 2
    assert len(at.dataframe[0].value) == 22
    assert "**22** Task Motivation & Goal reasons in stage **Early**" in [
        m.value for m in at.markdown]
    assert {m.label: m.value for m in at.metric}["Conversations"] == "20"
    at.selectbox(key="tt_split").set_value("model").run()
    at.radio(key="tt_rule").set_value("turn").run()
    assert_clean(at)
    assert any("split by model: top 6 of 10 values" in t for t in chart_titles(at))
    at.selectbox(key="tt_sel_label").set_value("task_continuation").run()
    at.radio(key="tt_flow").set_value("reaction_reason").run()
    assert_clean(at)
    assert "next label" in list(at.dataframe[-1].value.columns)
    assert any(t.startswith("Reaction → reason on the next user message")
               for t in chart_titles(at))


def test_thoughts_page_with_filter(sample_ingest, monkeypatch):
    at = open_app(sample_ingest, monkeypatch, "thoughts", model="Grok 4.20")
    assert any("in 3 conversations" in t for t in chart_titles(at))
    table = at.dataframe[0].value
    assert table["open"].str.contains("model=Grok").all()
    assert table["open"].str.contains("#turn-").all()


def test_thoughts_page_empty_state(sample_ingest, monkeypatch):
    at = open_app(sample_ingest, monkeypatch, "thoughts", model="Grok 4.20",
                  provider="Google")
    assert any("No conversations match" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_each_kind_of_stage_shares_is_computed_once_per_view(sample_ingest, monkeypatch):
    """The page's tables, its stage charts and the charts beside the paper read one
    computed result per kind of thought: unsplit, the panels count does not matter, so it
    is not part of what is computed (before, the beside-the-paper charts computed their
    own, with the resamples, for every new subset)."""
    import functools

    from components.queries import thoughts as qt
    from components.ui import state

    calls = []
    real = qt.stage_shares

    @functools.wraps(real)
    def counted(con, filters, kind, *args, **kwargs):
        calls.append((kind, *args))
        return real(con, filters, kind, *args, **kwargs)

    monkeypatch.setattr(qt, "stage_shares", counted)
    state.clear_cache()
    at = open_app(sample_ingest, monkeypatch, "thoughts", model="Grok 4.20")
    assert sorted(calls) == [("reaction", "relative", "none", qt.DEFAULT_TOP_N),
                             ("reason", "relative", "none", qt.DEFAULT_TOP_N)]
    calls.clear()
    at.selectbox(key="tt_split").set_value("model").run()
    assert sorted(calls) == [("reaction", "relative", "model", qt.DEFAULT_TOP_N),
                             ("reason", "relative", "model", qt.DEFAULT_TOP_N)]
    assert_clean(at)
