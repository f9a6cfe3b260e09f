"""Analysis pages: stage shares, bootstrap intervals, transitions, survey counts (pure
functions on tiny frames and a tiny DB with hand-computed answers) and AppTest smoke tests
of "Thought types & stages" and "Participants" on the shared sample."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from components import analysis as an
from components import analysis_figures as af
from components.filters import MISSING, Filters
from precompute import pipeline
from precompute.config import Settings
from tests.corpus import REPO, SAMPLE, conversation, write_jsonl

REASONS = an.LABELS_BY_KIND["reason"]
REACTIONS = an.LABELS_BY_KIND["reaction"]
TM, TC, TR, SO = "task_motivation", "task_continuation", "task_reorientation", "social_and_others"
EA, CR, PS = "explicit_affirmation", "content_relevance", "presentation_style"


def _valid(fig: go.Figure) -> dict:
    """The figure passes plotly's full validation; returns its dict."""
    d = fig.to_dict()
    go.Figure(d)
    assert d["layout"]["template"]["layout"]["font"]["family"].startswith("Inter")
    return d


# =========================================================================== stage shares


def _three_conversations() -> pd.DataFrame:
    """A: Early tm tm, Mid-Early tc · B: Early tm, Mid-Early tc so · C: Early so, Late tc."""
    rows = [("A", 0, TM), ("A", 0, TM), ("A", 1, TC),
            ("B", 0, TM), ("B", 1, TC), ("B", 1, SO),
            ("C", 0, SO), ("C", 3, TC)]
    return pd.DataFrame(rows, columns=["conv_id", "stage", "label"])


def test_stage_shares_by_hand():
    out = an.compute_stage_shares(_three_conversations(), REASONS, 4)
    assert len(out) == 4 * len(REASONS)
    share = out.set_index(["stage", "label"])["share"]
    # Early: tm 3 of 4, so 1 of 4; Mid-Early: tc 2 of 3, so 1 of 3; Mid-Late empty; Late tc.
    assert share[(0, TM)] == pytest.approx(0.75) and share[(0, SO)] == pytest.approx(0.25)
    assert share[(1, TC)] == pytest.approx(2 / 3) and share[(1, SO)] == pytest.approx(1 / 3)
    assert share[(0, TC)] == 0 and share[(3, TC)] == 1
    assert out[out["stage"] == 2]["share"].isna().all()
    early = out[out["stage"] == 0].iloc[0]
    assert early["stage_total"] == 4 and early["n_conv"] == 3
    assert out[out["stage"] == 1].iloc[0]["n_conv"] == 2
    for stage in (0, 1, 3):
        assert out[out["stage"] == stage]["share"].sum() == pytest.approx(1)
    n = out.set_index(["stage", "label"])["n"]
    assert n[(0, TM)] == 3 and n[(1, SO)] == 1 and out["n"].sum() == 8


def test_bootstrap_ci_contains_point_estimate():
    out = an.compute_stage_shares(_three_conversations(), REASONS, 4, n_boot=200, seed=3)
    ok = out.dropna(subset=["share"])
    assert (ok["ci_lo"] <= ok["share"] + 1e-12).all()
    assert (ok["share"] <= ok["ci_hi"] + 1e-12).all()
    early_tm = ok[(ok["stage"] == 0) & (ok["label"] == TM)].iloc[0]
    assert early_tm["ci_hi"] - early_tm["ci_lo"] > 0      # conversations differ
    again = an.compute_stage_shares(_three_conversations(), REASONS, 4, n_boot=200, seed=3)
    pd.testing.assert_frame_equal(out, again)               # fixed seed: reproducible


def test_bootstrap_degenerate_when_conversations_identical():
    rows = pd.DataFrame([(f"c{i}", s, lab) for i in range(6)
                         for s, lab in ((0, TM), (0, SO), (1, TC), (3, TC))],
                        columns=["conv_id", "stage", "label"])
    out = an.compute_stage_shares(rows, REASONS, 4).dropna(subset=["share"])
    assert np.allclose(out["ci_lo"], out["share"]) and np.allclose(out["ci_hi"], out["share"])
    assert out.set_index(["stage", "label"])["share"][(0, TM)] == pytest.approx(0.5)


def test_bootstrap_on_10k_thoughts_is_reproducible_and_brackets_the_estimate():
    # speed is measured in benchmarks/, never asserted here
    rng = np.random.default_rng(0)
    conv = rng.integers(0, 2155, 10_000)
    stage, label = rng.integers(0, 4, 10_000), rng.integers(0, 7, 10_000)
    conv = np.unique(conv, return_inverse=True)[1]
    counts, share, lo, hi = an.bootstrap_shares(conv, stage, label, 4, 7)
    assert counts.sum() == 10_000 and share.shape == lo.shape == hi.shape == (4, 7)
    assert np.allclose(share.sum(axis=1), 1)
    assert np.all(lo <= share + 1e-12) and np.all(share <= hi + 1e-12)
    again = an.bootstrap_shares(conv, stage, label, 4, 7)
    assert np.array_equal(lo, again[2]) and np.array_equal(hi, again[3])  # fixed seed


def test_stage_bars_figure_carries_segment_identity():
    shares = an.compute_stage_shares(_three_conversations(), REASONS, 4)
    shares["display_name"] = shares["label"]
    shares["meaning"] = "m"
    shares["stage_name"] = [an.STAGES[i] for i in shares["stage"]]
    facets = pd.DataFrame({"facet": ["All conversations"], "conversations": [3],
                           "thoughts": [8], "shown": [True]})
    fig = af.stage_bars({"shares": shares, "facets": facets, "stage_names": an.STAGES},
                        "reason", "relative position in 4 bins")
    d = _valid(fig)
    assert "8 reasons" in d["layout"]["title"]["text"]
    tm = next(t for t in d["data"] if t["legendgroup"] == TM)
    assert [c[:3] for c in tm["customdata"]] == [[TM, s, "All conversations"] for s in range(4)]
    assert tm["y"][0] == pytest.approx(0.75)
    point = {"customdata": tm["customdata"][0]}
    assert an.segment_from_points([point]) == (TM, 0, "All conversations")
    assert an.segment_from_points([]) is None


# =========================================================================== tiny DB


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory):
    """Four conversations with hand-computable stages (relative rule, n messages):
    c1 (4): u tm | a ea | u tc | a cr       stages 0 1 2 3
    c2 (2): u tm so | a ea                  stages 0 3
    c3 (6): u tm | a ea | u tc | a ps | u tr | a ea   stages 0 0 1 2 3 3
    c4 (4): u tm | a cr | u (none) | a (none)          stages 0 1 2 3
    """
    tmp = tmp_path_factory.mktemp("tiny")
    no_survey: list = []
    records = [
        conversation("user1_task1_conversation1", [("q1", [TM]), ("a1", [EA]), ("q2", [TC]),
                                                   ("a2", [CR])], model="M1"),
        conversation("user2_task1_conversation1", [("q1", [TM, SO]), ("a1", [EA])],
                     model="M2", survey=[{"age": "366", "gender": " male ",
                                          "education": "Graduate", "occupation": "TEACHER.",
                                          "frequency": "5", "purposes": "Coding and writing"}]),
        conversation("user3_task1_conversation1", [("q1", [TM]), ("a1", [EA]), ("q2", [TC]),
                                                   ("a2", [PS]), ("q3", [TR]), ("a3", [EA])],
                     model="M1", survey=[{"age": "22", "gender": "Male", "education": "",
                                          "occupation": " teacher", "frequency": "2",
                                          "purposes": "zzz"}]),
        conversation("user3_task2_conversation1", [("q1", [TM]), ("a1", [CR]), ("q2", []),
                                                   ("a2", [])], model="M2", survey=no_survey),
    ]
    src = write_jsonl(tmp / "tiny.jsonl", records)
    db = tmp / "tiny.duckdb"
    pipeline.build(Settings(source=str(src), db=db, progress=False), only=("ingest",),
                   log=lambda _: None)
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def test_stage_shares_query_relative_and_turn(tiny_db):
    rel = an.stage_shares(tiny_db, Filters(), "reason", "relative")["shares"]
    share = rel.set_index(["stage", "label"])["share"]
    assert share[(0, TM)] == pytest.approx(4 / 5) and share[(0, SO)] == pytest.approx(1 / 5)
    assert share[(1, TC)] == 1 and share[(2, TC)] == 1 and share[(3, TR)] == 1
    assert set(rel["facet"]) == {"All conversations"}
    assert list(rel["stage_name"].unique()) == list(an.STAGES)

    turn = an.stage_shares(tiny_db, Filters(), "reaction", "turn")
    assert turn["stage_names"][:3] == ("1", "2", "3") and turn["stage_names"][-1] == "8+"
    n = turn["shares"].set_index(["stage", "label"])["n"]
    # Reactions by user-message index: #1 ea ea ea cr, #2 cr ps, #3 ea.
    assert n[(0, EA)] == 3 and n[(0, CR)] == 1 and n[(1, CR)] == 1 and n[(1, PS)] == 1
    assert n[(2, EA)] == 1 and turn["shares"]["n"].sum() == 7


def test_stage_shares_split_and_null_domain(tiny_db):
    res = an.stage_shares(tiny_db, Filters(), "reason", "relative", "model", top_n=1)
    facets = res["facets"]
    assert list(facets["facet"]) == ["M1", "M2"] and list(facets["shown"]) == [True, False]
    assert set(res["shares"]["facet"]) == {"M1"}
    dom = an.stage_shares(tiny_db, Filters(), "reason", "relative", "domain")
    assert list(dom["facets"]["facet"]) == ["(unassigned)"]
    length = an.stage_shares(tiny_db, Filters(), "reason", "relative", "length")
    assert list(length["facets"]["facet"]) == ["≤4 messages", "5–8 messages"]
    d = _valid(af.stage_bars(res, "reason", "rel", "Model"))
    assert "top 1 of 2 values" in d["layout"]["title"]["text"]


def test_stage_thoughts_lists_the_segment(tiny_db):
    got = an.stage_thoughts(tiny_db, Filters(), "reason", TM, 0)
    assert got["total"] == 4 and len(got["rows"]) == 4
    assert list(got["rows"]["turn"]) == [1, 1, 1, 1]
    page2 = an.stage_thoughts(tiny_db, Filters(), "reason", TM, 0, limit=3, offset=3)
    assert page2["total"] == 4 and len(page2["rows"]) == 1
    m2 = an.stage_thoughts(tiny_db, Filters(), "reason", TM, 0, "relative", "model", "M2")
    assert m2["total"] == 2


def test_transition_counts_and_sankey_links(tiny_db):
    counts = an.transition_counts(tiny_db, Filters(), "reason")
    assert counts["n"].sum() == 4        # c1: tm->tc; c2: tm->so; c3: tm->tc, tc->tr
    stages = an.sankey_links(counts, "stages", an.STAGES)
    got = {(r.source, r.target): r.n for r in stages.itertuples()}
    assert got == {(f"{TM}@0", f"{TC}@2"): 1, (f"{TM}@0", f"{TC}@1"): 1,
                   (f"{TC}@1", f"{TR}@3"): 1}
    pairs = an.sankey_links(counts, "pairs", an.STAGES)
    assert {(r.label_a, r.label_b): r.n for r in pairs.itertuples()} == {
        (TM, TC): 2, (TM, SO): 1, (TC, TR): 1}
    assert pairs.set_index(["label_a", "label_b"])["share_of_source"][(TM, TC)] == \
        pytest.approx(2 / 3)
    early = an.sankey_links(counts, "pairs", an.STAGES, source_stage=1)
    assert list(zip(early["label_a"], early["label_b"], early["n"])) == [(TC, TR, 1)]
    ex = an.transition_examples(tiny_db, Filters(), "reason", TM, TC, 0, 1)
    assert ex["total"] == 1 and ex["rows"].iloc[0]["conv_id"] == "user3_task1_conversation1"
    assert an.transition_examples(tiny_db, Filters(), "reason", TM, TC)["total"] == 2
    display = {TM: "Task Motivation & Goal"}
    d = _valid(af.sankey_figure(stages, "stages", an.STAGES, display, "t"))
    assert sorted(d["data"][0]["link"]["value"]) == [1, 1, 1]
    assert "Task Motivation & Goal" in d["data"][0]["node"]["label"]


def test_reaction_to_next_reason(tiny_db):
    counts = an.transition_counts(tiny_db, Filters(), "reaction_reason")
    got = counts.groupby(["label_a", "label_b"])["n"].sum().to_dict()
    assert got == {(EA, TC): 2, (EA, an.END_OF_CONVERSATION): 2,
                   (CR, an.END_OF_CONVERSATION): 1, (PS, TR): 1, (CR, an.NO_REASON): 1}
    links = an.transition_links(tiny_db, Filters(), "reaction_reason", include_ends=False)
    assert set(zip(links["label_a"], links["label_b"])) == {(EA, TC), (PS, TR)}
    ex = an.transition_examples(tiny_db, Filters(), "reaction_reason", CR, an.NO_REASON)
    assert ex["total"] == 1 and ex["rows"].iloc[0]["turn_b"] == 3
    table = an.pair_table(ex["rows"], {}, {"model": ["M2"]})
    assert table.iloc[0]["open"].startswith("browser?model=M2&conv=user3_task2")


def test_label_distribution_and_published(tiny_db):
    dist = an.label_distribution(tiny_db, Filters(models=("M1",)))
    row = dist.set_index("label")
    assert row.loc[TM, "n"] == 2 and row.loc[TM, "share"] == pytest.approx(2 / 5)
    assert row.loc[TM, "published_share"] == 0.369
    for kind in ("reason", "reaction"):
        assert sum(an.PUBLISHED_SHARES[kind].values()) == pytest.approx(1.0, abs=0.002)
    d = _valid(af.label_share_bars(dist, "reason", 2, compare=True))
    assert len(d["data"]) == 2 and d["data"][0]["name"] == an.PUBLISHED_SOURCE
    empty = an.label_distribution(tiny_db, Filters(models=("nope",)))
    assert empty["share"].isna().all()


# =========================================================================== participants


def test_purpose_groups():
    assert an.purpose_groups("Coding, working and learning") == [
        "Coding & programming", "Learning & studying", "Work & productivity"]
    assert an.purpose_groups("Quickly fixing my written emails") == ["Writing & editing"]
    assert an.purpose_groups("homework, cooking recipes") == [
        "Learning & studying", "Daily life & advice"]
    assert an.purpose_groups("artificial stuff") == [an.NO_GROUP]   # "art." is a whole word
    assert an.purpose_groups("art and fun") == ["Creative & ideas"]
    assert an.purpose_groups("  ") == [MISSING] and an.purpose_groups(None) == [MISSING]


def test_occupation_normalisation_and_top_n():
    rows = pd.DataFrame({
        "conv_id": list("abcdefg"), "user_id": ["u1", "u1", "u2", "u3", "u4", "u5", "u6"],
        "occupation": ["Teacher", " teacher ", "TEACHER.", "Nurse", "nurse", "Pilot", None]})
    assert an.normalise_text("  Software   Engineer. ") == "software engineer"
    cats = an.categorise(rows, "occupation", top_n=1)
    counts = an.count_categories(cats, "occupation").set_index("category")
    assert counts.loc["Teacher", "conversations"] == 3 and counts.loc["Teacher", "users"] == 2
    assert counts.loc[an.OTHER, "conversations"] == 3       # nurse x2, pilot
    assert counts.loc[MISSING, "conversations"] == 1
    assert list(counts.index)[-2:] == [an.OTHER, MISSING]
    full = an.count_categories(an.categorise(rows, "occupation", top_n=10), "occupation")
    assert list(full["category"]) == ["Teacher", "Nurse", "Pilot", MISSING]


def test_missing_and_invalid_bars_present(tiny_db):
    age = an.participant_counts(tiny_db, Filters(), "age")
    c = age["counts"].set_index("category")
    # c1 age 30 -> 25-34; c2 366 -> no valid age; c3 22 -> 18-24; c4 no survey -> missing.
    assert c.loc["25-34", "conversations"] == 1 and c.loc["18-24", "conversations"] == 1
    assert c.loc[an.NO_VALID_AGE, "conversations"] == 1 and c.loc[MISSING, "conversations"] == 1
    assert c.loc["65+", "conversations"] == 0               # the full scale is shown
    assert age["no_survey"] == 1 and age["conversations"] == 4 and age["users"] == 3
    gender = an.participant_counts(tiny_db, Filters(), "gender")["counts"].set_index("category")
    assert gender.loc["Male", "conversations"] == 2 and gender.loc["Female", "conversations"] == 1
    assert gender.loc[MISSING, "conversations"] == 1
    edu = an.participant_counts(tiny_db, Filters(), "education")["counts"].set_index("category")
    assert edu.loc[MISSING, "conversations"] == 2            # "" and no survey
    occ = an.participant_counts(tiny_db, Filters(), "occupation")
    assert occ["counts"].set_index("category").loc["Teacher", "conversations"] == 3
    assert occ["distinct"] == 1
    freq = an.participant_counts(tiny_db, Filters(), "ai_frequency")["counts"]
    assert list(freq["category"]) == ["1", "2", "3", "4", "5", MISSING]
    purposes = an.participant_counts(tiny_db, Filters(), "purposes")["counts"]
    p = purposes.set_index("category")["conversations"]
    assert p["Coding & programming"] == 1 and p["Writing & editing"] == 1
    assert p["Work & productivity"] == 1 and p[an.NO_GROUP] == 1 and p[MISSING] == 1
    assert p.sum() > 4                                       # multi-label
    d = _valid(af.participant_bars(purposes, "Purposes", 4, 3))
    assert {t["name"] for t in d["data"]} == {"conversations", "users"}
    assert MISSING in d["data"][0]["y"]
    every = an.participant_counts_all(tiny_db, Filters(), 15)  # one read, same answers
    assert list(every) == list(an.FIELDS)
    for field in an.FIELDS:
        one = an.participant_counts(tiny_db, Filters(), field)
        pd.testing.assert_frame_equal(every[field]["counts"], one["counts"])
        assert {k: v for k, v in every[field].items() if k != "counts"} == \
            {k: v for k, v in one.items() if k != "counts"}


def test_browser_url_keeps_filters():
    url = an.browser_url({"model": ["A B", "C"], "conv": ["old"], "turn": "9"}, "u1_t1", 5)
    assert url.startswith("browser?")
    q = parse_qs(url.split("?", 1)[1])
    assert q == {"model": ["A B", "C"], "conv": ["u1_t1"], "turn": ["5"]}


# =========================================================================== AppTest


@pytest.fixture(scope="module")
def sample_db_ingest(tmp_path_factory):
    if not SAMPLE.exists():
        pytest.skip("shared sample not present")
    db = tmp_path_factory.mktemp("an") / "s.duckdb"
    pipeline.build(Settings(source=str(SAMPLE), db=db, progress=False), only=("ingest",),
                   log=lambda _: None)
    return db


def _page(db, monkeypatch, page: str, **params) -> AppTest:
    monkeypatch.setenv("THOUGHTTRACE_DB", str(db))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _titles(at) -> list[str]:
    return [json.loads(el.proto.spec)["layout"]["title"]["text"]
            for el in at.get("plotly_chart")]


def test_thoughts_page_renders(sample_db_ingest, monkeypatch):
    at = _page(sample_db_ingest, monkeypatch, "views/thoughts.py")
    titles = _titles(at)
    assert any(t.startswith("Reasons: share of 154 reasons in 20 conversations") for t in titles)
    assert any("Reactions by stage" in t for t in titles)
    assert any(t.startswith("Reason → next reason") for t in titles)
    assert len(at.dataframe) >= 1                            # thoughts behind a bar
    at.selectbox(key="tt_split").set_value("model").run()
    at.radio(key="tt_rule").set_value("turn").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("split by model: top 6 of 10 values" in t for t in _titles(at))
    at.selectbox(key="tt_sel_label").set_value("task_continuation").run()
    at.radio(key="tt_flow").set_value("reaction_reason").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "next label" in list(at.dataframe[-1].value.columns)


def test_thoughts_page_with_filter(sample_db_ingest, monkeypatch):
    at = _page(sample_db_ingest, monkeypatch, "views/thoughts.py", model="Grok 4.20")
    assert any("in 3 conversations" in t for t in _titles(at))
    table = at.dataframe[0].value
    assert table["open"].str.contains("model=Grok").all()


def test_pages_empty_state(sample_db_ingest, monkeypatch):
    for page in ("views/thoughts.py", "views/demographics.py"):
        at = _page(sample_db_ingest, monkeypatch, page, model="Grok 4.20", provider="Google")
        assert any("No conversations match" in i.value for i in at.info)
        assert not at.get("plotly_chart")


def test_demographics_page_renders(sample_db_ingest, monkeypatch):
    at = _page(sample_db_ingest, monkeypatch, "views/demographics.py")
    titles = _titles(at)
    assert len(titles) == 6
    assert titles[0].startswith("Age bracket: conversations (n=20) and users (n=17)")
    at.radio(key="pp_count").set_value("users").run()
    assert not at.exception
    assert _titles(at)[1].startswith("Gender: users (n=17)")
    filtered = _page(sample_db_ingest, monkeypatch, "views/demographics.py", model="Grok 4.20")
    assert _titles(filtered)[0].startswith("Age bracket: conversations (n=3)")
