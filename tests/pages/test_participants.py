"""AppTest of the Participants page (views/participants.py) on the shared sample (ingest
only): six survey charts in the paper's groupings counted by users, the count switch, our
finer groupings one toggle away, the sidebar filter, and the empty state."""

from __future__ import annotations

import pytest

from tests.apptest import assert_clean, chart_titles, open_app


@pytest.fixture(scope="module")
def sample_ingest(sample_path, tmp_path_factory):
    """The shared sample, ingest only (20 conversations by 17 users)."""
    from precompute import pipeline
    from precompute.config import Settings

    db = tmp_path_factory.mktemp("participants") / "s.duckdb"
    pipeline.build(Settings(source=str(sample_path), db=db, progress=False),
                   only=("ingest",), log=lambda _: None)
    return db


def test_participants_page_renders(sample_ingest, monkeypatch):
    at = open_app(sample_ingest, monkeypatch, "participants")
    titles = chart_titles(at)
    assert len(titles) == 6
    assert titles[0].startswith("Age bracket: users (n=17)")   # the paper counts users
    assert {m.label: m.value for m in at.metric}["Users · conversations"] == "17 · 20"
    at.radio(key="pp_count").set_value("both").run()
    assert_clean(at)
    assert chart_titles(at)[1].startswith("Gender: conversations (n=20) and users (n=17)")


def _bars(at, field_title: str) -> list[str]:
    from tests.apptest import chart_specs
    spec = next(s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith(
        field_title))
    return [y.replace("\u200b", "") for y in spec["data"][-1]["y"]]


def test_paper_groupings_and_the_finer_toggle(sample_ingest, monkeypatch):
    """Education in the paper's 4 groups, frequency labelled as the paper does; the toggle
    shows the answers as given."""
    at = open_app(sample_ingest, monkeypatch, "participants")
    education = _bars(at, "Education")
    assert "Undergrad" in education and "Undergraduate" not in education
    assert set(education) <= {"Graduate", "Undergrad", "High school", "Other", "(missing)"}
    assert "5 (Many times a day)" in _bars(at, "AI-use frequency")
    at.toggle(key="pp_finer").set_value(True).run()
    assert_clean(at)
    assert "Undergraduate" in _bars(at, "Education")
    assert "5" in _bars(at, "AI-use frequency")


def test_participants_page_with_filter(sample_ingest, monkeypatch):
    filtered = open_app(sample_ingest, monkeypatch, "participants", model="Grok 4.20")
    assert chart_titles(filtered)[0].startswith("Age bracket: users (n=")


def test_participants_page_empty_state(sample_ingest, monkeypatch):
    at = open_app(sample_ingest, monkeypatch, "participants", model="Grok 4.20",
                  provider="Google")
    assert any("No conversations match" in i.value for i in at.info)
    assert not at.get("plotly_chart")
