"""Queries of the "Thought types & stages" page (components.queries.thoughts): label shares
beside the published ones, label shares per stage with conversation-bootstrap intervals,
transitions and their Sankey links, the thoughts and pairs behind a bar or a flow, and the
display tables with their links. Pure functions on tiny frames and queries on the tiny DB
(tests/tiny_db.py), every answer counted by hand."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from components import published
from components.filters import Filters
from components.queries import thoughts as qt
from components.vocabulary import END_OF_CONVERSATION, LABELS_BY_KIND, NO_REASON
from precompute.labels import STAGES
from tests.tiny_db import C3, CR, EA, PS, SO, TC, TM, TR, build_tiny_db

REASONS = LABELS_BY_KIND["reason"]


def _by(df: pl.DataFrame, keys: tuple[str, ...], value: str) -> dict:
    """``{(key values): value}`` over the rows of ``df``."""
    return {tuple(r[:-1]): r[-1] for r in df.select(*keys, value).iter_rows()}


# =========================================================================== stage shares


def three_conversations() -> pl.DataFrame:
    """A: Early tm tm, Mid-Early tc · B: Early tm, Mid-Early tc so · C: Early so, Late tc."""
    rows = [("A", 0, TM), ("A", 0, TM), ("A", 1, TC),
            ("B", 0, TM), ("B", 1, TC), ("B", 1, SO),
            ("C", 0, SO), ("C", 3, TC)]
    frame = pl.DataFrame(rows, schema=["conv_id", "stage", "label"], orient="row")
    return frame.with_columns(user_id="u" + pl.col("conv_id"))  # one user per conversation


def test_stage_shares_by_hand():
    out = qt.compute_stage_shares(three_conversations(), REASONS, 4)
    assert out.height == 4 * len(REASONS)
    assert out.columns == ["facet", "stage", "label", "n", "stage_total", "share", "ci_lo",
                           "ci_hi", "n_conv", "n_users"]
    share = _by(out, ("stage", "label"), "share")
    # Early: tm 3 of 4, so 1 of 4; Mid-Early: tc 2 of 3, so 1 of 3; Mid-Late empty; Late tc.
    assert share[(0, TM)] == pytest.approx(0.75) and share[(0, SO)] == pytest.approx(0.25)
    assert share[(1, TC)] == pytest.approx(2 / 3) and share[(1, SO)] == pytest.approx(1 / 3)
    assert share[(0, TC)] == 0 and share[(3, TC)] == 1
    assert out.filter(pl.col("stage") == 2)["share"].is_null().all()
    early = out.filter(pl.col("stage") == 0).row(0, named=True)
    assert early["stage_total"] == 4 and early["n_conv"] == 3
    assert out.filter(pl.col("stage") == 1).row(0, named=True)["n_conv"] == 2
    for stage in (0, 1, 3):
        assert out.filter(pl.col("stage") == stage)["share"].sum() == pytest.approx(1)
    n = _by(out, ("stage", "label"), "n")
    assert n[(0, TM)] == 3 and n[(1, SO)] == 1 and out["n"].sum() == 8
    assert set(out["facet"]) == {qt.ALL_CONVERSATIONS}


def _clustered_corpora(users: int = 60, per_user: int = 4, seed: int = 5
                       ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two corpora with the same conversations (so the same label counts): in ``together``
    each user's conversations share their labels (a user writes only task motivation, or
    only task continuation); in ``apart`` the same conversations are dealt to users at
    random, so a user's conversations are unrelated."""
    rng = np.random.default_rng(seed)
    convs = []
    for u in range(users):
        label = TM if u % 2 == 0 else TC
        convs += [[(0, label)] * 3 for _ in range(per_user)]   # 3 early thoughts each
    owners_together = np.repeat(np.arange(users), per_user)
    owners_apart = rng.permutation(owners_together)

    def frame(owners: np.ndarray) -> pl.DataFrame:
        return pl.DataFrame([(f"u{o}", f"c{i}", s, lab) for i, (o, conv) in
                             enumerate(zip(owners, convs)) for s, lab in conv],
                            schema=["user_id", "conv_id", "stage", "label"], orient="row")
    return frame(owners_together), frame(owners_apart)


def _width(shares: pl.DataFrame) -> float:
    row = shares.filter((pl.col("stage") == 0) & (pl.col("label") == TM)).row(0, named=True)
    return row["ci_hi"] - row["ci_lo"]


def test_intervals_resample_users_not_conversations():
    """Same label counts; only how conversations group into users differs. Resampling
    users, the clustered corpus gets intervals ~sqrt(4) = 2x wider (4 conversations per
    user that agree count as one unit); resampling conversations could not tell them
    apart (ratio 1)."""
    together, apart = _clustered_corpora()
    assert together["label"].value_counts().sort("label").equals(
        apart["label"].value_counts().sort("label"))
    ratio = _width(qt.compute_stage_shares(together, REASONS, 4)) / \
        _width(qt.compute_stage_shares(apart, REASONS, 4))
    assert 1.6 < ratio < 2.5
    # the same corpora with each conversation as its own "user": no difference
    as_convs = [c.with_columns(user_id=pl.col("conv_id")) for c in (together, apart)]
    conv_ratio = _width(qt.compute_stage_shares(as_convs[0], REASONS, 4)) / \
        _width(qt.compute_stage_shares(as_convs[1], REASONS, 4))
    assert conv_ratio == pytest.approx(1.0, abs=0.15)


def test_stage_shares_refuse_rows_without_users():
    with pytest.raises(ValueError, match="user_id"):
        qt.compute_stage_shares(three_conversations().drop("user_id"), REASONS, 4)


def test_bootstrap_ci_contains_point_estimate():
    out = qt.compute_stage_shares(three_conversations(), REASONS, 4, n_boot=200, seed=3)
    ok = out.filter(pl.col("share").is_not_null())
    assert (ok["ci_lo"] <= ok["share"] + 1e-12).all()
    assert (ok["share"] <= ok["ci_hi"] + 1e-12).all()
    early_tm = ok.filter((pl.col("stage") == 0) & (pl.col("label") == TM)).row(0, named=True)
    assert early_tm["ci_hi"] - early_tm["ci_lo"] > 0      # conversations differ
    again = qt.compute_stage_shares(three_conversations(), REASONS, 4, n_boot=200, seed=3)
    assert_frame_equal(out, again)                         # fixed seed: reproducible


def test_bootstrap_degenerate_when_conversations_identical():
    rows = pl.DataFrame([(f"u{i}", f"c{i}", s, lab) for i in range(6)
                         for s, lab in ((0, TM), (0, SO), (1, TC), (3, TC))],
                        schema=["user_id", "conv_id", "stage", "label"], orient="row")
    out = qt.compute_stage_shares(rows, REASONS, 4).filter(pl.col("share").is_not_null())
    assert np.allclose(out["ci_lo"].to_numpy(), out["share"].to_numpy())
    assert np.allclose(out["ci_hi"].to_numpy(), out["share"].to_numpy())
    assert _by(out, ("stage", "label"), "share")[(0, TM)] == pytest.approx(0.5)


def test_stage_shares_facets_and_ignored_labels():
    """Explicit facets are computed in the given order; labels of another kind are
    ignored; an empty frame gives the zero grid of one facet."""
    rows = three_conversations().with_columns(
        facet=pl.Series(["x", "x", "x", "y", "y", "y", "y", "y"]))
    rows = pl.concat([rows, pl.DataFrame({"conv_id": ["A"], "stage": [0], "label": [EA],
                                          "user_id": ["uA"], "facet": ["x"]})])
    out = qt.compute_stage_shares(rows, REASONS, 4, facets=["y", "x"])
    assert out["facet"].unique(maintain_order=True).to_list() == ["y", "x"]
    x = out.filter(pl.col("facet") == "x")
    assert x["n"].sum() == 3 and _by(x, ("stage", "label"), "share")[(0, TM)] == 1
    assert EA not in out["label"].to_list()
    empty = qt.compute_stage_shares(rows.clear(), REASONS, 4)
    assert empty.height == 4 * len(REASONS) and empty["n"].sum() == 0
    assert empty["share"].is_null().all()


def test_segment_from_points():
    point = {"customdata": [TM, 0, "All conversations", 3, 4, 0.75]}
    assert qt.segment_from_points([point]) == (TM, 0, "All conversations")
    assert qt.segment_from_points([{"x": 1}, {"customdata": ["a", "not a stage", "f"]},
                                   point]) == (TM, 0, "All conversations")
    assert qt.segment_from_points([]) is None and qt.segment_from_points(None) is None


# =========================================================================== tiny DB


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory):
    con = duckdb.connect(str(build_tiny_db(tmp_path_factory.mktemp("tiny"))), read_only=True)
    yield con
    con.close()


def test_stage_shares_query_relative_and_turn(tiny_db):
    rel = qt.stage_shares(tiny_db, Filters(), "reason", "relative")["shares"]
    share = _by(rel, ("stage", "label"), "share")
    assert share[(0, TM)] == pytest.approx(4 / 5) and share[(0, SO)] == pytest.approx(1 / 5)
    assert share[(1, TC)] == 1 and share[(2, TC)] == 1 and share[(3, TR)] == 1
    assert set(rel["facet"]) == {"All conversations"}
    assert rel["stage_name"].unique(maintain_order=True).to_list() == list(STAGES)
    assert rel.filter(pl.col("label") == TM)["display_name"][0]  # joined from labels

    turn = qt.stage_shares(tiny_db, Filters(), "reaction", "turn")
    assert turn["stage_names"][:3] == ("1", "2", "3") and turn["stage_names"][-1] == "8+"
    n = _by(turn["shares"], ("stage", "label"), "n")
    # Reactions by user-message index: #1 ea ea ea cr, #2 cr ps, #3 ea.
    assert n[(0, EA)] == 3 and n[(0, CR)] == 1 and n[(1, CR)] == 1 and n[(1, PS)] == 1
    assert n[(2, EA)] == 1 and turn["shares"]["n"].sum() == 7


def test_stage_shares_split_and_null_domain(tiny_db):
    res = qt.stage_shares(tiny_db, Filters(), "reason", "relative", "model", top_n=1)
    facets = res["facets"]
    assert facets["facet"].to_list() == ["M1", "M2"] and facets["shown"].to_list() == [True,
                                                                                      False]
    assert qt.shown_facets(facets) == ["M1"]
    assert qt.hidden_facets(facets)["facet"].to_list() == ["M2"]
    assert set(res["shares"]["facet"]) == {"M1"}
    dom = qt.stage_shares(tiny_db, Filters(), "reason", "relative", "domain")
    assert dom["facets"]["facet"].to_list() == ["(unassigned)"]
    length = qt.stage_shares(tiny_db, Filters(), "reason", "relative", "length")
    assert length["facets"]["facet"].to_list() == ["≤4 messages", "5–8 messages"]


def test_unknown_kind_rule_split_and_flow_are_refused(tiny_db):
    with pytest.raises(ValueError, match="kind"):
        qt.stage_shares(tiny_db, Filters(), "thought")
    with pytest.raises(ValueError, match="stage rule"):
        qt.stage_shares(tiny_db, Filters(), "reason", "absolute")
    with pytest.raises(ValueError, match="split"):
        qt.stage_shares(tiny_db, Filters(), "reason", "relative", "c.conv_id")
    with pytest.raises(ValueError, match="flow"):
        qt.transition_counts(tiny_db, Filters(), "reason_reaction")


def test_stage_thoughts_lists_the_segment(tiny_db):
    got = qt.stage_thoughts(tiny_db, Filters(), "reason", TM, 0)
    assert got["total"] == 4 and got["rows"].height == 4
    assert got["rows"]["turn"].to_list() == [1, 1, 1, 1]
    page2 = qt.stage_thoughts(tiny_db, Filters(), "reason", TM, 0, limit=3, offset=3)
    assert page2["total"] == 4 and page2["rows"].height == 1
    m2 = qt.stage_thoughts(tiny_db, Filters(), "reason", TM, 0, "relative", "model", "M2")
    assert m2["total"] == 2


def test_transition_counts_and_sankey_links(tiny_db):
    counts = qt.transition_counts(tiny_db, Filters(), "reason")
    assert counts["n"].sum() == 4        # c1: tm->tc; c2: tm->so; c3: tm->tc, tc->tr
    stages = qt.sankey_links(counts, "stages", STAGES)
    assert tuple(stages.columns) == qt.LINK_COLUMNS
    assert _by(stages, ("source", "target"), "n") == {
        (f"{TM}@0", f"{TC}@2"): 1, (f"{TM}@0", f"{TC}@1"): 1, (f"{TC}@1", f"{TR}@3"): 1}
    pairs = qt.sankey_links(counts, "pairs", STAGES)
    assert _by(pairs, ("label_a", "label_b"), "n") == {(TM, TC): 2, (TM, SO): 1, (TC, TR): 1}
    assert _by(pairs, ("label_a", "label_b"), "share_of_source")[(TM, TC)] == \
        pytest.approx(2 / 3)
    early = qt.sankey_links(counts, "pairs", STAGES, source_stage=1)
    assert list(early.select("label_a", "label_b", "n").iter_rows()) == [(TC, TR, 1)]
    with pytest.raises(ValueError, match="sankey mode"):
        qt.sankey_links(counts, "circles", STAGES)
    ex = qt.transition_examples(tiny_db, Filters(), "reason", TM, TC, 0, 1)
    assert ex["total"] == 1 and ex["rows"].row(0, named=True)["conv_id"] == C3
    assert qt.transition_examples(tiny_db, Filters(), "reason", TM, TC)["total"] == 2


def test_link_names(tiny_db):
    links = qt.transition_links(tiny_db, Filters(), "reason")
    names = qt.link_names(links, "stages", STAGES, {TM: "Task Motivation & Goal"})
    assert len(names) == links.height == 3
    assert "Task Motivation & Goal @ Early → task_continuation @ Mid-Late (1)" in names
    pairs = qt.transition_links(tiny_db, Filters(), "reason", mode="pairs")
    assert qt.link_names(pairs, "pairs", STAGES, {})[0] == f"{TM} → {TC} (2)"


def test_reaction_to_next_reason(tiny_db):
    counts = qt.transition_counts(tiny_db, Filters(), "reaction_reason")
    got = _by(counts.group_by("label_a", "label_b").agg(pl.col("n").sum()),
              ("label_a", "label_b"), "n")
    assert got == {(EA, TC): 2, (EA, END_OF_CONVERSATION): 2,
                   (CR, END_OF_CONVERSATION): 1, (PS, TR): 1, (CR, NO_REASON): 1}
    links = qt.transition_links(tiny_db, Filters(), "reaction_reason", include_ends=False)
    assert set(links.select("label_a", "label_b").iter_rows()) == {(EA, TC), (PS, TR)}
    ex = qt.transition_examples(tiny_db, Filters(), "reaction_reason", CR, NO_REASON)
    assert ex["total"] == 1 and ex["rows"].row(0, named=True)["turn_b"] == 3
    table = qt.pair_table(ex["rows"], {}, {"model": ["M2"]})
    assert table.row(0, named=True)["open"].startswith("browser?model=M2&conv=user3_task2")
    assert table.columns == ["open", "conversation", "turn", "label", "thought", "next turn",
                             "next label", "next thought"]


def test_thought_table_links_each_turn(tiny_db):
    rows = qt.stage_thoughts(tiny_db, Filters(), "reason", TC, 1)["rows"]
    table = qt.thought_table(rows, {TC: "Continuation"}, {"model": ["M1"], "conv": ["old"]})
    assert table.columns == ["open", "conversation", "turn", "label", "thought"]
    assert table.row(0, named=True) == {
        "open": f"browser?model=M1&conv={C3}&turn=3#turn-3", "conversation": C3, "turn": 3,
        "label": "Continuation", "thought": "q2 / thought 0"}
    empty = qt.thought_table(rows.clear(), {}, {})
    assert empty.height == 0 and empty.columns == table.columns


def test_label_distribution_and_published(tiny_db):
    dist = qt.label_distribution(tiny_db, Filters(models=("M1",)))
    row = {r["label"]: r for r in dist.iter_rows(named=True)}
    assert row[TM]["n"] == 2 and row[TM]["share"] == pytest.approx(2 / 5)
    assert row[TM]["published_share"] == 0.369
    assert dist.height == len(REASONS) + len(LABELS_BY_KIND["reaction"])  # zeros kept
    for kind in ("reason", "reaction"):
        assert sum(published.SHARES[kind].values()) == pytest.approx(1.0, abs=0.002)
    empty = qt.label_distribution(tiny_db, Filters(models=("nope",)))
    assert empty["share"].is_null().all()
