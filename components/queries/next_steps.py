"""Queries of "what happens next" on the Turn by turn page: what users do after a
dissatisfaction reaction, whether their next message voices it, and how long they take.

**After a dissatisfaction.** For every reaction labelled content_relevance,
presentation_style or scope_fit (`dissatisfaction_next`): the next user message of the
conversation (the first user message after the reaction's assistant message), the first
reason on it (``(no reason given)`` when it has none, ``(end of conversation)`` when there
is no next user message) and its ``messages.relationship`` (``ended`` when there is none).

**Voiced or not.** Does the next user message say what the reaction says? Three signals,
each false for a reaction whose conversation ends there:

- ``similar``: the cosine of the reaction's stored vector with the next user message's
  is at least τ. τ is the 95th percentile of the same cosine between each dissatisfaction
  reaction and the *other* user messages of its conversation (every user message but the
  next one), over the whole DB (`voicing_threshold`): a next message counts as similar
  when it is closer to the reaction than 95% of the messages of the same conversation
  that do not answer it, so the shared topic of a conversation is not mistaken for
  voicing. A pair without both vectors is not similar.
- ``expectation``: the next user message carries a content_expectation or
  style_expectation reason (the user states what, or how, they want).
- ``redo``: the next user message is a retry or a variant (``messages.relationship``).

The measures (`MEASURES`): ``voiced`` = similar or expectation (the default), each
signal alone, and ``voiced_or_redo``. A dissatisfaction is *unvoiced* when its measure is
false; one whose conversation ends there is unvoiced too (no message says it) unless
``include_ends`` is false, which leaves those out. The paper's point (Utility 2): pairs
guided by the messages surfaced ~2.2x fewer dissatisfactions (450) than the 1,000 guided
by thoughts; `ratios` gives thoughts / voiced for a subset. Every interval is a bootstrap
over users (`components.stats`).

**Timing** (`timing`). Three gaps, in seconds: ``response`` = assistant message -> next
user message (grouped by the first reaction on the assistant message), ``reaction`` =
assistant message -> its reaction's timestamp, ``reason`` = user message -> its reason's
timestamp; each also by the stage of the (first) message and by when the thought was
written (``response``: the reaction before or after the reply, so the gap includes
writing it or not; a thought: during the chat or after its last message). A gap with a
NULL timestamp is *missing*, a negative one a *clock problem*, one above the measure's
cap (30 min between messages, 2 h from a message to its thought) *left and came back*:
all three are counted and kept out of the medians and IQRs. The medians' intervals are
`stats.bootstrap_medians` (users resampled whole).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from components import links, published, stats
from components.filters import Filters
from components.queries.core import frame, tables
from components.queries.relationships import RELATIONSHIP_NAMES
from components.vocabulary import END_OF_CONVERSATION, LABELS_BY_KIND, NO_REASON
from precompute.labels import DISSATISFACTION_CODES, STAGES

#: The dissatisfaction reactions, in the labels table's order.
DISSATISFACTIONS: tuple[str, ...] = tuple(c for c in LABELS_BY_KIND["reaction"]
                                          if c in DISSATISFACTION_CODES)
#: Reasons by which a next user message states an expectation.
EXPECTATION_REASONS: tuple[str, ...] = ("content_expectation", "style_expectation")
#: Relationships that redo the previous request.
REDO_RELATIONSHIPS: tuple[str, ...] = ("retry", "variant")
#: ``relationship`` of a reaction with no next user message; of a next message without one.
ENDED = "ended"
UNLABELLED = "unlabelled"
#: Names of the relationship column's nodes.
NEXT_NAMES: dict[str, str] = {**RELATIONSHIP_NAMES, UNLABELLED: "(no relationship)",
                              ENDED: "(conversation ended)"}
#: The null distribution's percentile that sets τ, and the fewest pairs it needs.
THRESHOLD_QUANTILE = 0.95
MIN_NULL_PAIRS = 20
#: What the paper published (Utility 2): dissatisfactions surfaced by thoughts / messages.
PAPER_RATIO = published.DISSATISFACTION_THOUGHT_GUIDED / published.DISSATISFACTION_MESSAGE_GUIDED
SNIPPET = 240


@dataclass(frozen=True)
class Measure:
    key: str
    title: str
    signals: tuple[str, ...]


MEASURES: dict[str, Measure] = {
    "voiced": Measure("voiced", "similar to the reaction, or an expectation reason",
                      ("similar", "expectation")),
    "similar": Measure("similar", "similar to the reaction (cosine ≥ τ)", ("similar",)),
    "expectation": Measure("expectation", "a content or style expectation reason",
                           ("expectation",)),
    "voiced_or_redo": Measure("voiced_or_redo", "voiced, or a retry / variant",
                              ("similar", "expectation", "redo")),
}
STATUSES: tuple[str, ...] = ("voiced", "unvoiced", "ended")


@dataclass(frozen=True)
class Grouping:
    key: str
    title: str
    column: str
    natural_order: tuple[str, ...] = ()


UNASSIGNED = "(unassigned)"
ALL = "All"
GROUPINGS: dict[str, Grouping] = {
    "model": Grouping("model", "Model", "model_name"),
    "domain": Grouping("domain", "Domain", "domain"),
    "stage": Grouping("stage", "Stage", "stage", STAGES),
    "label": Grouping("label", "Dissatisfaction type", "label", DISSATISFACTIONS),
}


def _check(value: str, allowed: Mapping | Sequence, what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {sorted(allowed)}")


def _has_vectors(con: duckdb.DuckDBPyConnection) -> bool:
    return {"embedded_items", "embeddings"} <= tables(con)


# =========================================================================== pairs

def _scope_sql(filters: Filters) -> tuple[str, list]:
    """``WITH fc, d, nx``: filtered conversations, their dissatisfaction reactions and each
    reaction's next user turn (NULL at the end of the conversation)."""
    where, params = filters.where("c")
    sql = f"""
        WITH fc AS (
            SELECT c.conv_id, c.user_id, c.model_name, c.domain FROM conversations c
            WHERE {where}),
        d AS (
            SELECT t.thought_id, t.conv_id, fc.user_id, fc.model_name, fc.domain, t.turn,
                   t.idx, t.stage_idx, t.stage, t.label, t.content
            FROM thoughts t JOIN fc USING (conv_id)
            WHERE t.kind = 'reaction' AND t.label IN ({', '.join('?' for _ in DISSATISFACTIONS)})),
        nx AS (
            SELECT d.thought_id, min(m.turn) AS next_turn FROM d
            LEFT JOIN messages m ON m.conv_id = d.conv_id AND m.role = 'user'
                 AND m.turn > d.turn
            GROUP BY d.thought_id)"""
    return sql, [*params, *DISSATISFACTIONS]


PAIR_SCHEMA = {"thought_id": pl.Int64, "conv_id": pl.Utf8, "user_id": pl.Utf8,
               "turn": pl.Int64, "other_turn": pl.Int64, "pair": pl.Utf8,
               "similarity": pl.Float64}


def similarity_pairs(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Every (dissatisfaction reaction, user message of its conversation) pair with both
    vectors: thought_id, conv_id, user_id, turn (the reaction's), other_turn (the user
    message's), pair (``next`` for its next user message, ``other`` for the rest) and
    similarity (cosine of the stored vectors). Empty without embeddings."""
    if not _has_vectors(con):
        return pl.DataFrame(schema=PAIR_SCHEMA)
    sql, params = _scope_sql(filters)
    return frame(con, sql + """
        SELECT d.thought_id::BIGINT AS thought_id, d.conv_id, d.user_id,
               d.turn::BIGINT AS turn, m.turn::BIGINT AS other_turn,
               CASE WHEN m.turn = nx.next_turn THEN 'next' ELSE 'other' END AS pair,
               array_cosine_similarity(er.vector, em.vector)::DOUBLE AS similarity
        FROM d JOIN nx USING (thought_id)
        JOIN messages m ON m.conv_id = d.conv_id AND m.role = 'user'
        JOIN embedded_items ir ON ir.item_id = 't:' || d.thought_id
        JOIN embeddings er ON er.text_hash = ir.text_hash
        JOIN embedded_items im ON im.item_id = 'm:' || m.conv_id || ':' || m.turn
        JOIN embeddings em ON em.text_hash = im.text_hash
        ORDER BY d.conv_id, d.turn, d.idx, m.turn""", params).cast(PAIR_SCHEMA)


def threshold_from(pairs: pl.DataFrame, quantile: float = THRESHOLD_QUANTILE,
                   min_pairs: int = MIN_NULL_PAIRS) -> dict:
    """τ from `similarity_pairs` (pure): the ``quantile`` of the ``other`` pairs'
    similarity (linear interpolation, as numpy). ``{"tau" (None with fewer than
    ``min_pairs`` other pairs), "quantile", "n_min" (= min_pairs), "n_other", "n_next",
    "other_median", "next_median", "next_above" (next pairs at or above τ)}``."""
    other = pairs.filter(pl.col("pair") == "other")["similarity"].drop_nulls().to_numpy()
    nxt = pairs.filter(pl.col("pair") == "next")["similarity"].drop_nulls().to_numpy()
    tau = float(np.quantile(other, quantile)) if len(other) >= min_pairs else None
    return {"tau": tau, "quantile": quantile, "n_min": int(min_pairs),
            "n_other": int(len(other)),
            "n_next": int(len(nxt)),
            "other_median": float(np.median(other)) if len(other) else None,
            "next_median": float(np.median(nxt)) if len(nxt) else None,
            "next_above": int((nxt >= tau).sum()) if tau is not None else 0}


def voicing_threshold(con: duckdb.DuckDBPyConnection) -> dict:
    """`threshold_from` over every conversation of the DB (one τ per DB, whatever the
    filters, so subsets are measured alike)."""
    return threshold_from(similarity_pairs(con, Filters()), THRESHOLD_QUANTILE,
                          MIN_NULL_PAIRS)


ROW_SCHEMA = {
    "thought_id": pl.Int64, "conv_id": pl.Utf8, "user_id": pl.Utf8, "model_name": pl.Utf8,
    "domain": pl.Utf8, "turn": pl.Int64, "idx": pl.Int64, "stage_idx": pl.Int64,
    "stage": pl.Utf8, "label": pl.Utf8, "snippet": pl.Utf8, "next_turn": pl.Int64,
    "next_reason": pl.Utf8, "next_reasons": pl.Utf8, "relationship": pl.Utf8,
    "next_snippet": pl.Utf8, "similarity": pl.Float64, "similar": pl.Boolean,
    "expectation": pl.Boolean, "redo": pl.Boolean}


def dissatisfaction_next(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """One row per dissatisfaction reaction of the filtered conversations, in
    conversation and turn order: thought_id, conv_id, user_id, model_name, domain, turn,
    idx, stage_idx, stage, label, snippet (the reaction, first 240 characters);
    next_turn (NULL when the conversation ends), next_reason (first reason on the next
    user message, `NO_REASON` or `END_OF_CONVERSATION`), next_reasons (all its reason
    codes, comma-separated), relationship (of the next user message; ``ended``;
    ``unlabelled`` when the stage left it NULL), next_snippet; similarity (cosine with the
    next user message, NULL without both vectors) and the three signals ``similar``
    (similarity ≥ `voicing_threshold`'s τ), ``expectation`` and ``redo`` (all false when
    the conversation ends there)."""
    sql, params = _scope_sql(filters)
    rows = frame(con, sql + f""",
        rs AS (
            SELECT t.conv_id, t.turn, arg_min(t.label, t.idx) AS first_reason,
                   string_agg(t.label, ',' ORDER BY t.idx) AS reasons,
                   bool_or(t.label IN ({', '.join('?' for _ in EXPECTATION_REASONS)}))
                       AS expectation
            FROM thoughts t JOIN fc USING (conv_id) WHERE t.kind = 'reason'
            GROUP BY t.conv_id, t.turn)
        SELECT d.thought_id::BIGINT AS thought_id, d.conv_id, d.user_id, d.model_name,
               d.domain, d.turn::BIGINT AS turn, d.idx::BIGINT AS idx,
               d.stage_idx::BIGINT AS stage_idx, d.stage, d.label,
               left(d.content, {SNIPPET}) AS snippet, nx.next_turn::BIGINT AS next_turn,
               coalesce(rs.first_reason, CASE WHEN nx.next_turn IS NULL THEN ? ELSE ? END)
                   AS next_reason,
               rs.reasons AS next_reasons,
               CASE WHEN nx.next_turn IS NULL THEN ?
                    ELSE coalesce(m.relationship, ?) END AS relationship,
               left(m.content, {SNIPPET}) AS next_snippet,
               coalesce(rs.expectation, FALSE) AS expectation
        FROM d JOIN nx USING (thought_id)
        LEFT JOIN rs ON rs.conv_id = d.conv_id AND rs.turn = nx.next_turn
        LEFT JOIN messages m ON m.conv_id = d.conv_id AND m.turn = nx.next_turn
        ORDER BY d.conv_id, d.turn, d.idx""",
                 [*params, *EXPECTATION_REASONS, END_OF_CONVERSATION, NO_REASON, ENDED,
                  UNLABELLED])
    pairs = similarity_pairs(con, filters)
    sims = pairs.filter(pl.col("pair") == "next").select("thought_id", "similarity")
    tau = voicing_threshold(con)["tau"]
    rows = rows.join(sims, on="thought_id", how="left", maintain_order="left")
    ended = pl.col("next_turn").is_null()
    rows = rows.with_columns(
        similar=(pl.lit(False) if tau is None else
                 pl.col("similarity").fill_null(-math.inf) >= tau) & ~ended,
        expectation=pl.col("expectation") & ~ended,
        redo=pl.col("relationship").is_in(list(REDO_RELATIONSHIPS)) & ~ended)
    return rows.select(list(ROW_SCHEMA)).cast(ROW_SCHEMA)


def with_status(rows: pl.DataFrame, measure: str = "voiced") -> pl.DataFrame:
    """``rows`` of `dissatisfaction_next` with ``voiced`` (the measure's signals, any)
    and ``status``: ``voiced``, ``unvoiced`` (a next message that does not voice it) or
    ``ended`` (no next user message)."""
    _check(measure, MEASURES, "voicing measure")
    signals = MEASURES[measure].signals
    voiced = pl.any_horizontal([pl.col(s) for s in signals]) if rows.height else pl.lit(False)
    return rows.with_columns(voiced=voiced).with_columns(
        status=pl.when(pl.col("next_turn").is_null()).then(pl.lit("ended"))
        .when(pl.col("voiced")).then(pl.lit("voiced")).otherwise(pl.lit("unvoiced")))


# =========================================================================== flow

LINK_SCHEMA = {"column_a": pl.Int64, "source": pl.Utf8, "column_b": pl.Int64,
               "target": pl.Utf8, "n": pl.Int64}


def flow_links(rows: pl.DataFrame) -> pl.DataFrame:
    """The Sankey's links from `dissatisfaction_next` rows (pure): column 0 the
    dissatisfaction label -> column 1 the next reason -> column 2 the relationship of the
    next user message. A reaction whose conversation ends there goes
    `END_OF_CONVERSATION` -> ``ended`` (every middle node flows on, so the Sankey keeps
    three columns). Columns: column_a, source, column_b, target, n (reactions);
    largest first within each pair of columns."""
    first = (rows.group_by("label", "next_reason").len("n")
             .select(column_a=pl.lit(0, pl.Int64), source=pl.col("label"),
                     column_b=pl.lit(1, pl.Int64), target=pl.col("next_reason"),
                     n=pl.col("n").cast(pl.Int64)))
    second = (rows.group_by("next_reason", "relationship").len("n")
              .select(column_a=pl.lit(1, pl.Int64), source=pl.col("next_reason"),
                      column_b=pl.lit(2, pl.Int64), target=pl.col("relationship"),
                      n=pl.col("n").cast(pl.Int64)))
    out = pl.concat([first.cast(LINK_SCHEMA), second.cast(LINK_SCHEMA)])
    return out.sort(["column_a", "n", "source", "target"],
                    descending=[False, True, False, False])


def next_step_links(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """`flow_links` of the filtered subset."""
    return flow_links(dissatisfaction_next(con, filters))


# =========================================================================== unvoiced

SHARE_SCHEMA = {"group": pl.Utf8, "n": pl.Int64, "n_voiced": pl.Int64,
                "n_unvoiced": pl.Int64, "n_ended": pl.Int64, "n_users": pl.Int64,
                "share_unvoiced": pl.Float64, "ci_lo": pl.Float64, "ci_hi": pl.Float64}


def _group_values(rows: pl.DataFrame, by: str) -> list[str]:
    col = GROUPINGS[by].column
    return [UNASSIGNED if v is None else str(v) for v in rows[col].to_list()]


def _group_order(values: Sequence[str], by: str) -> list[str]:
    """Natural order when the grouping has one, else most reactions first (then by name)."""
    natural = GROUPINGS[by].natural_order
    if natural:
        return [g for g in natural if g in set(values)] + sorted(set(values) - set(natural))
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return sorted(counts, key=lambda g: (-counts[g], g))


def unvoiced_shares(rows: pl.DataFrame, by: str, measure: str = "voiced",
                    include_ends: bool = True, n_boot: int = stats.N_BOOT,
                    seed: int = stats.SEED) -> pl.DataFrame:
    """Share of unvoiced dissatisfaction per group (pure), first ``All`` then the groups
    of ``by`` (`GROUPINGS`).

    A reaction is unvoiced when ``measure`` is false for it; one whose conversation ends
    there counts as unvoiced, or is left out when ``include_ends`` is false. Columns:
    group, n (reactions counted), n_voiced, n_unvoiced, n_ended, n_users, share_unvoiced
    ((n_unvoiced + n_ended) / n; null for an empty group) and its 95% interval from
    `stats.bootstrap_shares` (users resampled whole).
    """
    _check(by, GROUPINGS, "grouping")
    df = with_status(rows, measure)
    if not include_ends:
        df = df.filter(pl.col("status") != "ended")
    groups = _group_values(df, by)
    order = [ALL, *_group_order(groups, by)]
    users = stats.dense(df["user_id"].to_list())
    unvoiced = (df["status"] != "voiced").to_numpy().astype(np.int64)
    # every reaction counts once in "All" (stage 0) and once in its group
    g_code, _ = stats.codes(groups, order)
    cluster = np.concatenate([users, users])
    stage = np.concatenate([np.zeros(len(users), np.int64), g_code])
    label = np.concatenate([unvoiced, unvoiced])
    counts, share, lo, hi = stats.bootstrap_shares(cluster, stage, label, len(order), 2,
                                                   n_boot=n_boot, seed=seed)
    status = df["status"].to_list()
    user_ids = df["user_id"].to_list()
    out = []
    for i, g in enumerate(order):
        mask = [True] * len(status) if g == ALL else [v == g for v in groups]
        mine = [s for s, m in zip(status, mask) if m]
        out.append({"group": g, "n": len(mine), "n_voiced": mine.count("voiced"),
                    "n_unvoiced": mine.count("unvoiced"), "n_ended": mine.count("ended"),
                    "n_users": len({u for u, m in zip(user_ids, mask) if m}),
                    "share_unvoiced": _nan_none(share[i, 1]),
                    "ci_lo": _nan_none(lo[i, 1]), "ci_hi": _nan_none(hi[i, 1])})
    return pl.DataFrame(out, schema=SHARE_SCHEMA)


def _nan_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def unvoiced_by(con: duckdb.DuckDBPyConnection, filters: Filters, by: str,
                measure: str = "voiced", include_ends: bool = True) -> pl.DataFrame:
    """`unvoiced_shares` of the filtered subset."""
    return unvoiced_shares(dissatisfaction_next(con, filters), by, measure, include_ends)


RATIO_SCHEMA = {"measure": pl.Utf8, "title": pl.Utf8, "n": pl.Int64, "n_voiced": pl.Int64,
                "n_users": pl.Int64, "voiced_share": pl.Float64, "voiced_lo": pl.Float64,
                "voiced_hi": pl.Float64, "ratio": pl.Float64, "ratio_lo": pl.Float64,
                "ratio_hi": pl.Float64, "paper_ratio": pl.Float64}


def ratio_rows(rows: pl.DataFrame, include_ends: bool = True, n_boot: int = stats.N_BOOT,
               seed: int = stats.SEED) -> pl.DataFrame:
    """"Dissatisfaction in thoughts / dissatisfaction voiced in messages" per measure
    (pure): ratio = n / n_voiced (null when nothing is voiced), with the interval of the
    voiced share n_voiced / n from `stats.bootstrap_shares` (users resampled whole) and
    the ratio's interval its reciprocal (1 / hi, 1 / lo; infinite when the voiced share's
    lower bound is 0). ``paper_ratio`` = 1,000 / 450."""
    df = rows if include_ends else rows.filter(pl.col("next_turn").is_not_null())
    users = stats.dense(df["user_id"].to_list())
    out = []
    for key, m in MEASURES.items():
        voiced = with_status(df, key)["voiced"].to_numpy().astype(np.int64) \
            if df.height else np.zeros(0, np.int64)
        counts, share, lo, hi = stats.bootstrap_shares(
            users, np.zeros(len(users), np.int64), voiced, 1, 2, n_boot=n_boot, seed=seed)
        n, n_v = int(df.height), int(voiced.sum())
        s, s_lo, s_hi = (_nan_none(x[0, 1]) for x in (share, lo, hi))

        def inv(x: float | None) -> float | None:
            return None if x is None else (math.inf if x == 0 else 1.0 / x)
        out.append({"measure": key, "title": m.title, "n": n, "n_voiced": n_v,
                    "n_users": len(set(df["user_id"].to_list())), "voiced_share": s,
                    "voiced_lo": s_lo, "voiced_hi": s_hi,
                    "ratio": n / n_v if n_v else None,
                    "ratio_lo": inv(s_hi) if n_v else None,
                    "ratio_hi": inv(s_lo) if n_v else None, "paper_ratio": PAPER_RATIO})
    return pl.DataFrame(out, schema=RATIO_SCHEMA)


def ratios(con: duckdb.DuckDBPyConnection, filters: Filters, include_ends: bool = True
           ) -> pl.DataFrame:
    """`ratio_rows` of the filtered subset."""
    return ratio_rows(dissatisfaction_next(con, filters), include_ends)


# =========================================================================== examples

ANY = "any"


def examples(con: duckdb.DuckDBPyConnection, filters: Filters, measure: str = "voiced",
             label: str = ANY, status: str = ANY, limit: int = 200, offset: int = 0
             ) -> dict:
    """The dissatisfaction reactions behind the figures, optionally of one ``label`` and
    one ``status`` (`STATUSES` under ``measure``): ``{"rows": `with_status` rows, page
    ``limit`` from ``offset``, "total": rows matching}``."""
    _check(measure, MEASURES, "voicing measure")
    if label != ANY:
        _check(label, DISSATISFACTIONS, "dissatisfaction label")
    if status != ANY:
        _check(status, STATUSES, "status")
    df = with_status(dissatisfaction_next(con, filters), measure)
    if label != ANY:
        df = df.filter(pl.col("label") == label)
    if status != ANY:
        df = df.filter(pl.col("status") == status)
    return {"rows": df.slice(int(offset), int(limit)), "total": df.height}


def example_table(rows: pl.DataFrame, display: Mapping[str, str],
                  params: Mapping[str, Sequence[str] | str], measure: str = "voiced"
                  ) -> pl.DataFrame:
    """`dissatisfaction_next` rows as a display table, with a link to the reaction's turn
    (dataset text stays plain text: the page shows it in a dataframe)."""
    df = with_status(rows, measure)
    names = {**display, **NEXT_NAMES}

    def name(v: str | None) -> str:
        return "" if v is None else names.get(v, v)
    return pl.DataFrame({
        "open": [links.conversation_url(params, c, t)
                 for c, t in zip(df["conv_id"].to_list(), df["turn"].to_list())],
        "conversation": df["conv_id"], "turn": df["turn"],
        "dissatisfaction": [name(v) for v in df["label"].to_list()],
        "thought": df["snippet"],
        "voiced?": df["status"],
        "similarity": df["similarity"].round(3),
        "next reason": [name(v) for v in df["next_reason"].to_list()],
        "relationship": [name(v) for v in df["relationship"].to_list()],
        "next message": df["next_snippet"],
    }, schema={"open": pl.Utf8, "conversation": pl.Utf8, "turn": pl.Int64,
               "dissatisfaction": pl.Utf8, "thought": pl.Utf8, "voiced?": pl.Utf8,
               "similarity": pl.Float64, "next reason": pl.Utf8, "relationship": pl.Utf8,
               "next message": pl.Utf8})


# =========================================================================== timing

NO_REACTION = "(no reaction)"
MINUTE, HOUR = 60.0, 3600.0


@dataclass(frozen=True)
class Timing:
    key: str
    title: str
    group_title: str
    cap_s: float
    kind: str  # the kind of label that groups it

    @property
    def cap_text(self) -> str:
        """The cap in words ("30 min", "2 h")."""
        return (f"{self.cap_s / MINUTE:.0f} min" if self.cap_s < HOUR
                else f"{self.cap_s / HOUR:.0f} h")


TIMINGS: dict[str, Timing] = {
    "response": Timing("response", "Assistant response → next user message",
                       "reaction on the response", 30 * MINUTE, "reaction"),
    "reaction": Timing("reaction", "Assistant message → its reaction",
                       "reaction", 2 * HOUR, "reaction"),
    "reason": Timing("reason", "User message → its reason", "reason", 2 * HOUR, "reason"),
}
GAP_STATUSES: tuple[str, ...] = ("ok", "missing", "negative", "over_cap")
#: When the thought was written, the third panel of each timing (`gaps`' ``when``).
BEFORE_REPLY, AFTER_REPLY = "reaction before the reply", "reaction after the reply"
DURING, AFTER_END = "during the chat", "after the chat ended"
UNKNOWN = "(timestamp missing)"
WHEN_ORDER: dict[str, tuple[str, ...]] = {
    "response": (BEFORE_REPLY, AFTER_REPLY, NO_REACTION, UNKNOWN),
    "reaction": (DURING, AFTER_END, UNKNOWN), "reason": (DURING, AFTER_END, UNKNOWN)}

GAP_SCHEMA = {"conv_id": pl.Utf8, "user_id": pl.Utf8, "turn": pl.Int64,
              "stage_idx": pl.Int64, "label": pl.Utf8, "gap_s": pl.Float64,
              "when": pl.Utf8}


def gaps(con: duckdb.DuckDBPyConnection, filters: Filters, measure: str) -> pl.DataFrame:
    """The gaps of ``measure`` (`TIMINGS`) in the filtered subset, one row per gap:
    conv_id, user_id, turn and stage_idx of the first message, label (the first reaction
    on the response, or `NO_REACTION`; the thought's label), gap_s (seconds; NULL when a
    timestamp is NULL) and when (`WHEN_ORDER`): for ``response`` whether the first
    reaction's timestamp is before the reply (the gap then includes writing it); for a
    thought whether it was written during the chat or after its last message."""
    _check(measure, TIMINGS, "timing measure")
    where, params = filters.where("c")
    scope = f"""
        WITH fc AS (SELECT c.conv_id, c.user_id FROM conversations c WHERE {where})"""
    if measure == "response":
        sql = scope + """,
        ms AS (SELECT m.conv_id, fc.user_id, m.turn, m.role, m.timestamp, m.stage_idx
               FROM messages m JOIN fc USING (conv_id)),
        nx AS (
            SELECT a.conv_id, a.turn, min(u.turn) AS next_turn FROM ms a
            JOIN ms u ON u.conv_id = a.conv_id AND u.role = 'user' AND u.turn > a.turn
            WHERE a.role = 'assistant' GROUP BY a.conv_id, a.turn),
        fr AS (
            SELECT t.conv_id, t.turn, arg_min(t.label, t.idx) AS label,
                   arg_min(t.timestamp, t.idx) AS ts
            FROM thoughts t JOIN fc USING (conv_id) WHERE t.kind = 'reaction'
            GROUP BY t.conv_id, t.turn)
        SELECT a.conv_id, a.user_id, a.turn::BIGINT AS turn, a.stage_idx::BIGINT AS stage_idx,
               coalesce(fr.label, ?) AS label,
               epoch(u.timestamp - a.timestamp)::DOUBLE AS gap_s,
               CASE WHEN fr.label IS NULL THEN ?
                    WHEN fr.ts IS NULL OR u.timestamp IS NULL THEN ?
                    WHEN fr.ts <= u.timestamp THEN ? ELSE ? END AS "when"
        FROM nx JOIN ms a ON a.conv_id = nx.conv_id AND a.turn = nx.turn
        JOIN ms u ON u.conv_id = nx.conv_id AND u.turn = nx.next_turn
        LEFT JOIN fr ON fr.conv_id = nx.conv_id AND fr.turn = nx.turn
        ORDER BY a.conv_id, a.turn"""
        return frame(con, sql, [*params, NO_REACTION, NO_REACTION, UNKNOWN, BEFORE_REPLY,
                                AFTER_REPLY]).cast(GAP_SCHEMA)
    sql = scope + """,
        last AS (SELECT m.conv_id, max(m.timestamp) AS ts FROM messages m JOIN fc USING (conv_id)
                 GROUP BY m.conv_id)
        SELECT t.conv_id, fc.user_id, t.turn::BIGINT AS turn,
               t.stage_idx::BIGINT AS stage_idx, t.label,
               epoch(t.timestamp - m.timestamp)::DOUBLE AS gap_s,
               CASE WHEN t.timestamp IS NULL OR last.ts IS NULL THEN ?
                    WHEN t.timestamp > last.ts THEN ? ELSE ? END AS "when"
        FROM thoughts t JOIN fc USING (conv_id)
        JOIN messages m ON m.conv_id = t.conv_id AND m.turn = t.turn
        JOIN last ON last.conv_id = t.conv_id
        WHERE t.kind = ? ORDER BY t.conv_id, t.turn, t.idx"""
    return frame(con, sql, [*params, UNKNOWN, AFTER_END, DURING, TIMINGS[measure].kind]
                 ).cast(GAP_SCHEMA)


def gap_status(gap_s: pl.Expr, cap_s: float) -> pl.Expr:
    """``missing`` (NULL), ``negative`` (a clock problem: the later event has the earlier
    timestamp), ``over_cap`` (above ``cap_s``: left and came back) or ``ok``."""
    return (pl.when(gap_s.is_null()).then(pl.lit("missing"))
            .when(gap_s < 0).then(pl.lit("negative"))
            .when(gap_s > cap_s).then(pl.lit("over_cap")).otherwise(pl.lit("ok")))


TIMING_SCHEMA = {"panel": pl.Utf8, "group": pl.Utf8, "n_all": pl.Int64, "n": pl.Int64,
                 "n_missing": pl.Int64, "n_negative": pl.Int64, "n_over_cap": pl.Int64,
                 "n_users": pl.Int64, "median_s": pl.Float64, "p25_s": pl.Float64,
                 "p75_s": pl.Float64, "ci_lo": pl.Float64, "ci_hi": pl.Float64}


def timing_summary(rows: pl.DataFrame, measure: str, cap_s: float | None = None,
                   n_boot: int = stats.N_BOOT, seed: int = stats.SEED) -> dict:
    """Medians and IQRs of `gaps` rows per label, per stage and by when the thought was
    written (pure).

    Gaps that are missing, negative or above ``cap_s`` (default: the measure's cap) are
    counted per group and left out of the statistics. Returns ``{"groups": frame (panel
    ``label``, ``stage`` or ``when``; group: a label code, a stage name or a `WHEN_ORDER`
    value; n_all, n (gaps used),
    n_missing, n_negative, n_over_cap, n_users, median_s, p25_s, p75_s and the median's
    95% interval ci_lo, ci_hi from `stats.bootstrap_medians`, users resampled whole;
    every group of the measure kept, zeros included), "totals": {status:
    count, "all", "after_end" (thoughts annotated after the conversation's last
    message)}, "overall": {median_s, p25_s, p75_s, ci_lo, ci_hi, n_users}, "cap_s",
    "measure"}``."""
    _check(measure, TIMINGS, "timing measure")
    info = TIMINGS[measure]
    cap = info.cap_s if cap_s is None else float(cap_s)
    df = rows.with_columns(status=gap_status(pl.col("gap_s"), cap),
                           stage=pl.col("stage_idx").replace_strict(
                               dict(enumerate(STAGES)), default=None, return_dtype=pl.Utf8))
    ok = df.filter(pl.col("status") == "ok")
    users = stats.dense(ok["user_id"].to_list())
    labels = list(LABELS_BY_KIND[info.kind]) + ([NO_REACTION] if measure == "response"
                                                else [])
    extra = sorted(set(df["label"].to_list()) - set(labels))
    panels = {"label": [*labels, *extra], "stage": list(STAGES),
              "when": list(WHEN_ORDER[measure])}
    out = []
    for panel, order in panels.items():
        codes, _ = stats.codes(ok[panel].to_list(), order)
        med, lo, hi = stats.bootstrap_medians(users, codes, ok["gap_s"].to_numpy(),
                                              len(order), n_boot=n_boot, seed=seed)
        for i, g in enumerate(order):
            mine = df.filter(pl.col(panel) == g)
            vals = ok.filter(pl.col(panel) == g)["gap_s"].to_numpy()
            n_status = dict(mine.group_by("status").len().iter_rows())
            out.append({
                "panel": panel, "group": g, "n_all": mine.height, "n": len(vals),
                "n_missing": n_status.get("missing", 0),
                "n_negative": n_status.get("negative", 0),
                "n_over_cap": n_status.get("over_cap", 0),
                "n_users": ok.filter(pl.col(panel) == g)["user_id"].n_unique(),
                "median_s": _nan_none(med[i]),
                "p25_s": float(np.quantile(vals, 0.25)) if len(vals) else None,
                "p75_s": float(np.quantile(vals, 0.75)) if len(vals) else None,
                "ci_lo": _nan_none(lo[i]), "ci_hi": _nan_none(hi[i])})
    all_med, all_lo, all_hi = stats.bootstrap_medians(
        users, np.zeros(len(users), np.int64), ok["gap_s"].to_numpy(), 1, n_boot=n_boot,
        seed=seed)
    vals = ok["gap_s"].to_numpy()
    counts = dict(df.group_by("status").len().iter_rows())
    totals = {s: int(counts.get(s, 0)) for s in GAP_STATUSES}
    totals["all"] = df.height
    totals["after_end"] = int((df["when"] == AFTER_END).sum())
    overall = {"median_s": _nan_none(all_med[0]), "ci_lo": _nan_none(all_lo[0]),
               "ci_hi": _nan_none(all_hi[0]), "n_users": int(ok["user_id"].n_unique()),
               "p25_s": float(np.quantile(vals, 0.25)) if len(vals) else None,
               "p75_s": float(np.quantile(vals, 0.75)) if len(vals) else None}
    return {"groups": pl.DataFrame(out, schema=TIMING_SCHEMA), "totals": totals,
            "overall": overall, "cap_s": cap, "measure": measure}


def timing(con: duckdb.DuckDBPyConnection, filters: Filters, measure: str = "response",
           cap_s: float | None = None) -> dict:
    """`timing_summary` of the filtered subset's `gaps`."""
    return timing_summary(gaps(con, filters, measure), measure, cap_s)
