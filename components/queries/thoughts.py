"""Queries of the "Thought types & stages" page: label distributions (beside the
published full-release shares), label shares per stage with bootstrap intervals,
transitions between consecutive thoughts, and the thoughts behind any bar or flow.

The pure functions (`with_shares`, `compute_stage_shares`, `top_facets`, `sankey_links`)
take plain frames and are what the tests check against hand-computed answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from components import links, published, stats
from components.filters import MISSING, Filters
from components.queries.core import frame, scalar
from components.vocabulary import END_OF_CONVERSATION, LABELS_BY_KIND, NO_REASON, THOUGHT_KINDS
from precompute.labels import STAGES

# --------------------------------------------------------------------------- stage rules

TURN_CAP = 8


@dataclass(frozen=True)
class StageRule:
    key: str
    title: str
    axis_title: str
    names: tuple[str, ...]
    explanation: str


STAGE_RULES: dict[str, StageRule] = {
    "relative": StageRule(
        "relative", "relative position in 4 bins", "stage (relative position)", STAGES,
        "Message `turn` of `n`: r = (turn − 1)/(n − 1), stage = min(3, ⌊4r⌋): Early r < 0.25, "
        "Mid-Early < 0.5, Mid-Late < 0.75, Late ≥ 0.75 (first message Early, last Late)."),
    "turn": StageRule(
        "turn", f"absolute turn index (1–{TURN_CAP - 1}, {TURN_CAP}+)",
        "user message #",
        tuple(str(i) for i in range(1, TURN_CAP)) + (f"{TURN_CAP}+",),
        f"The index of the user message in the conversation (1, 2, 3, …, {TURN_CAP}+); a "
        "reaction gets the index of the user message it follows."),
}

#: SQL for a thought's stage index (0-based) per rule: fixed strings over CTE aliases.
_STAGE_SQL = {
    "relative": "t.stage_idx",
    "turn": f"least(greatest(pos.user_idx, 1), {TURN_CAP}) - 1",
}

# --------------------------------------------------------------------------- facet splits

LENGTH_BUCKETS = ("≤4 messages", "5–8 messages", "9–16 messages", "17+ messages")
ALL_CONVERSATIONS = "All conversations"


@dataclass(frozen=True)
class Split:
    key: str
    title: str
    sql: str          # expression over conversations ``c``
    natural_order: tuple[str, ...] = ()


SPLITS: dict[str, Split] = {
    "none": Split("none", "No split", f"'{ALL_CONVERSATIONS}'"),
    "domain": Split("domain", "Domain", "coalesce(c.domain, '(unassigned)')"),
    "model": Split("model", "Model", f"coalesce(c.model_name, '{MISSING}')"),
    "provider": Split("provider", "Provider", f"coalesce(c.model_provider, '{MISSING}')"),
    "length": Split("length", "Length (messages)",
                    "CASE WHEN c.n_messages <= 4 THEN '≤4 messages' "
                    "WHEN c.n_messages <= 8 THEN '5–8 messages' "
                    "WHEN c.n_messages <= 16 THEN '9–16 messages' ELSE '17+ messages' END",
                    LENGTH_BUCKETS),
}

FLOWS = {
    "reason": "Reason → next reason",
    "reaction": "Reaction → next reaction",
    "reaction_reason": "Reaction → reason on the next user message",
}


def _check(value: str, allowed: Mapping | Sequence, what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}")


def _scope_sql(filters: Filters, rule: str = "relative", split: str = "none"
               ) -> tuple[str, list]:
    """``WITH fc, [pos,] th`` CTEs: filtered conversations (with their facet value) and
    their thoughts with a 0-based ``stage`` under ``rule`` and the ``facet``."""
    _check(rule, STAGE_RULES, "stage rule")
    _check(split, SPLITS, "split")
    where, params = filters.where("c")
    pos_cte = join_pos = ""
    if rule == "turn":
        pos_cte = """,
        pos AS (
            SELECT m.conv_id, m.turn,
                   count(*) FILTER (WHERE m.role = 'user')
                       OVER (PARTITION BY m.conv_id ORDER BY m.turn) AS user_idx
            FROM messages m JOIN fc USING (conv_id))"""
        join_pos = "JOIN pos ON pos.conv_id = t.conv_id AND pos.turn = t.turn"
    sql = f"""
        WITH fc AS (
            SELECT c.conv_id, c.user_id, {SPLITS[split].sql} AS facet FROM conversations c
            WHERE {where}){pos_cte},
        th AS (
            SELECT t.thought_id, t.conv_id, fc.user_id, t.turn, t.idx, t.kind, t.label,
                   t.content, fc.facet, ({_STAGE_SQL[rule]})::INTEGER AS stage
            FROM thoughts t JOIN fc ON fc.conv_id = t.conv_id {join_pos})"""
    return sql, params


# =========================================================================== label shares


def label_distribution(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Every label (zeros kept) with display name, meaning, count, share within its kind,
    its 95% interval (bootstrap over users, `stats.METHOD`) and the published
    full-release share."""
    where, params = filters.where("c")
    counts = frame(con, """
        SELECT l.code AS label, l.kind, l.display_name, l.meaning FROM labels l
        ORDER BY l.sort_order""")
    rows = frame(con, f"""
        SELECT c.user_id, t.kind, t.label FROM thoughts t
        JOIN conversations c ON c.conv_id = t.conv_id WHERE {where}""", params)
    return with_shares(counts, rows)


def with_shares(labels: pl.DataFrame, rows: pl.DataFrame, n_boot: int = stats.N_BOOT,
                seed: int = stats.SEED) -> pl.DataFrame:
    """``labels`` (label, kind, ...) with n, share within the kind (null when the kind has
    no thoughts), ci_lo / ci_hi (95%, bootstrap over users), n_users (users with a thought
    of the kind) and published_share, from one row per thought (user_id, kind, label)."""
    out = []
    for kind in dict.fromkeys(labels["kind"].to_list()):
        codes_k = labels.filter(pl.col("kind") == kind)["label"].to_list()
        mine = rows.filter(pl.col("kind") == kind)
        lab, _ = stats.codes(mine["label"].to_list(), codes_k)
        keep = lab >= 0
        users = stats.dense(mine["user_id"].to_list())[keep] if mine.height else lab[keep]
        users = np.unique(users, return_inverse=True)[1]
        counts, share, lo, hi = stats.bootstrap_shares(users, np.zeros(len(users), np.int64),
                                                       lab[keep], 1, len(codes_k), n_boot,
                                                       seed)
        n_users = len(np.unique(users))
        def value(x: float) -> float | None:
            return None if np.isnan(x) else float(x)
        for i, code in enumerate(codes_k):
            out.append({"label": code, "n": int(counts[0, i]), "share": value(share[0, i]),
                        "ci_lo": value(lo[0, i]), "ci_hi": value(hi[0, i]), "n_users": n_users,
                        "published_share": published.SHARES.get(kind, {}).get(code)})
    extra = pl.DataFrame(out, schema={"label": pl.Utf8, "n": pl.Int64, "share": pl.Float64,
                                      "ci_lo": pl.Float64, "ci_hi": pl.Float64,
                                      "n_users": pl.Int64, "published_share": pl.Float64})
    return labels.join(extra, on="label", how="left", maintain_order="left")


# =========================================================================== stage shares


SHARE_SCHEMA = {"facet": pl.Utf8, "stage": pl.Int64, "label": pl.Utf8, "n": pl.Int64,
                "stage_total": pl.Int64, "share": pl.Float64, "ci_lo": pl.Float64,
                "ci_hi": pl.Float64, "n_conv": pl.Int64, "n_users": pl.Int64}


def compute_stage_shares(rows: pl.DataFrame, labels: Sequence[str], n_stages: int,
                         facets: Sequence[str] | None = None, n_boot: int = stats.N_BOOT,
                         seed: int = stats.SEED) -> pl.DataFrame:
    """Label shares per stage (and facet) with 95% intervals from a bootstrap over users.

    Args:
        rows: one row per thought with columns user_id, conv_id, stage (0-based int),
            label and optionally facet. Labels outside ``labels`` are ignored. Users are
            resampled whole (all their conversations and thoughts), as the study's design
            requires (`stats.METHOD`).
        labels: label codes in display order.
        facets: facet values to compute (in order); default: all present, or one facet
            ``"All conversations"`` when the column is absent.

    Returns:
        One row per (facet, stage, label), zeros included: n, stage_total, share, ci_lo,
        ci_hi, n_conv and n_users (conversations / users with a thought of this kind in
        that stage).
    """
    n = rows.height
    if "user_id" not in rows.columns:
        raise ValueError("stage shares need each thought's user_id: intervals resample users")
    facet_values = (rows["facet"].to_list() if "facet" in rows.columns
                    else [ALL_CONVERSATIONS] * n)
    if facets is None:
        facets = list(dict.fromkeys(facet_values)) or [ALL_CONVERSATIONS]
    lab_code, _ = stats.codes(rows["label"].to_list(), list(labels))
    fac_code, _ = stats.codes(facet_values, list(facets))
    conv_code, _ = stats.codes(rows["conv_id"].to_list())
    user_code, _ = stats.codes(rows["user_id"].to_list())
    stage_all = rows["stage"].to_numpy().astype(np.int64) if n else np.zeros(0, np.int64)
    n_labels = len(labels)
    grid_stage = np.repeat(np.arange(n_stages), n_labels)
    grid_label = list(labels) * n_stages
    frames = []
    for f_i, facet in enumerate(facets):
        mask = (fac_code == f_i) & (lab_code >= 0)
        conv = np.unique(conv_code[mask], return_inverse=True)[1]
        user = np.unique(user_code[mask], return_inverse=True)[1]
        stage = stage_all[mask]
        counts, share, lo, hi = stats.bootstrap_shares(user, stage, lab_code[mask],
                                                       n_stages, n_labels, n_boot=n_boot,
                                                       seed=seed)
        n_conv = np.bincount(np.unique(conv * n_stages + stage) % n_stages,
                             minlength=n_stages)
        n_users = np.bincount(np.unique(user * n_stages + stage) % n_stages,
                              minlength=n_stages)
        frames.append(pl.DataFrame({
            "facet": [facet] * len(grid_label), "stage": grid_stage.astype(np.int64),
            "label": grid_label, "n": counts.ravel().astype(np.int64),
            "stage_total": np.repeat(counts.sum(axis=1), n_labels).astype(np.int64),
            "share": share.ravel(), "ci_lo": lo.ravel(), "ci_hi": hi.ravel(),
            "n_conv": n_conv[grid_stage].astype(np.int64),
            "n_users": n_users[grid_stage].astype(np.int64)},
            schema=SHARE_SCHEMA, nan_to_null=True))
    return pl.concat(frames) if frames else pl.DataFrame(schema=SHARE_SCHEMA)


def top_facets(conv_facets: pl.DataFrame, top_n: int, natural_order: Sequence[str] = ()
               ) -> pl.DataFrame:
    """Facet values ranked by conversations (columns facet, conversations, thoughts), with
    ``shown`` marking the top ``top_n``; a natural order (length buckets) wins over rank
    for display."""
    df = conv_facets.sort(["conversations", "facet"], descending=[True, False])
    df = df.with_columns(shown=pl.int_range(pl.len()) < top_n)
    if natural_order:
        rank = {v: i for i, v in enumerate(natural_order)}
        order = [rank.get(v, len(rank)) for v in df["facet"].to_list()]
        df = df.with_columns(pl.Series("_r", order)).sort("_r", maintain_order=True
                                                          ).drop("_r")
    return df


def shown_facets(facets: pl.DataFrame) -> list[str]:
    """The facet values `top_facets` marks as shown, in display order."""
    return facets.filter(pl.col("shown"))["facet"].to_list()


def hidden_facets(facets: pl.DataFrame) -> pl.DataFrame:
    """The facet rows `top_facets` leaves out of the panels (facet, conversations, ...)."""
    return facets.filter(~pl.col("shown"))


#: Panels of a split stage chart unless asked otherwise.
DEFAULT_TOP_N = 6


def panels(split: str, top_n: int) -> int:
    """The ``top_n`` to ask `stage_shares` for: ``top_n`` under a split, else
    `DEFAULT_TOP_N` (without a split there are no panels, and one value means the page's
    charts and tables share one computed result instead of one per leftover value)."""
    return int(top_n) if split != "none" else DEFAULT_TOP_N


def stage_shares(con: duckdb.DuckDBPyConnection, filters: Filters, kind: str,
                 rule: str = "relative", split: str = "none", top_n: int = DEFAULT_TOP_N,
                 n_boot: int = stats.N_BOOT, seed: int = stats.SEED) -> dict:
    """Label shares per stage for one kind of thought, split by a facet.

    Returns:
        ``{"shares": frame (see `compute_stage_shares`) with display_name, meaning and
        stage_name, "facets": facet values with conversations, thoughts and ``shown``
        (top ``top_n``), "stage_names": names of the stages under ``rule``}``.
    """
    _check(kind, THOUGHT_KINDS, "kind")
    scope, params = _scope_sql(filters, rule, split)
    rows = frame(con, scope + " SELECT user_id, conv_id, stage, label, facet FROM th "
                              "WHERE kind = ?", [*params, kind])
    conv_facets = frame(con, scope + """
        SELECT fc.facet, count(DISTINCT fc.conv_id) AS conversations,
               count(th.thought_id) AS thoughts
        FROM fc LEFT JOIN th ON th.conv_id = fc.conv_id AND th.kind = ?
        GROUP BY fc.facet""", [*params, kind])
    facets = top_facets(conv_facets, top_n, SPLITS[split].natural_order)
    names = STAGE_RULES[rule].names
    labels_df = frame(con, "SELECT code AS label, display_name, meaning FROM labels")
    shares = compute_stage_shares(rows, LABELS_BY_KIND[kind], len(names), shown_facets(facets),
                                  n_boot, seed)
    shares = shares.join(labels_df, on="label", how="left", maintain_order="left")
    shares = shares.with_columns(stage_name=pl.Series(
        [names[i] for i in shares["stage"].to_list()], dtype=pl.Utf8))
    return {"shares": shares, "facets": facets, "stage_names": names}


def stage_thoughts(con: duckdb.DuckDBPyConnection, filters: Filters, kind: str, label: str,
                   stage: int, rule: str = "relative", split: str = "none",
                   facet: str | None = None, limit: int = 200, offset: int = 0) -> dict:
    """The thoughts behind one stage bar segment: ``{"rows": conv_id, turn, idx, label,
    stage, facet, snippet; "total": count}`` ordered by conversation and turn."""
    _check(kind, THOUGHT_KINDS, "kind")
    scope, params = _scope_sql(filters, rule, split)
    cond, extra = "kind = ? AND label = ? AND stage = ?", [kind, label, int(stage)]
    if split != "none" and facet is not None:
        cond += " AND facet = ?"
        extra.append(facet)
    total = scalar(con, scope + f" SELECT count(*) FROM th WHERE {cond}", [*params, *extra])
    rows = frame(con, scope + f"""
        SELECT conv_id, turn, idx, label, stage, facet, left(content, 240) AS snippet
        FROM th WHERE {cond} ORDER BY conv_id, turn, idx LIMIT ? OFFSET ?""",
                 [*params, *extra, int(limit), int(offset)])
    return {"rows": rows, "total": int(total)}


# =========================================================================== transitions


def _pairs_sql(filters: Filters, flow: str, rule: str) -> tuple[str, list]:
    """CTEs ending in ``pairs``: (conv_id, turn_a, idx_a, label_a, stage_a, content_a,
    turn_b, label_b, stage_b, content_b), one row per source thought that has a next."""
    _check(flow, FLOWS, "flow")
    scope, params = _scope_sql(filters, rule)
    if flow in THOUGHT_KINDS:
        sql = scope + """,
        seq AS (
            SELECT conv_id, turn AS turn_a, idx AS idx_a, label AS label_a, stage AS stage_a,
                   content AS content_a,
                   lead(turn) OVER w AS turn_b, lead(idx) OVER w AS idx_b,
                   lead(label) OVER w AS label_b, lead(stage) OVER w AS stage_b,
                   lead(content) OVER w AS content_b
            FROM th WHERE kind = ?
            WINDOW w AS (PARTITION BY conv_id ORDER BY turn, idx)),
        pairs AS (SELECT * FROM seq WHERE label_b IS NOT NULL)"""
        return sql, [*params, flow]
    sql = scope + f""",
        nu AS (
            SELECT th.thought_id, min(m.turn) AS next_user_turn FROM th
            LEFT JOIN messages m ON m.conv_id = th.conv_id AND m.role = 'user'
                 AND m.turn > th.turn
            WHERE th.kind = 'reaction' GROUP BY th.thought_id),
        fr AS (
            SELECT conv_id, turn, arg_min(label, idx) AS label, arg_min(content, idx) AS content,
                   arg_min(stage, idx) AS stage
            FROM th WHERE kind = 'reason' GROUP BY conv_id, turn),
        pairs AS (
            SELECT a.conv_id, a.turn AS turn_a, a.idx AS idx_a, a.label AS label_a,
                   a.stage AS stage_a, a.content AS content_a,
                   nu.next_user_turn AS turn_b, 0 AS idx_b,
                   coalesce(fr.label, CASE WHEN nu.next_user_turn IS NULL
                                           THEN '{END_OF_CONVERSATION}'
                                           ELSE '{NO_REASON}' END) AS label_b,
                   fr.stage AS stage_b, fr.content AS content_b
            FROM th a JOIN nu ON nu.thought_id = a.thought_id
            LEFT JOIN fr ON fr.conv_id = a.conv_id AND fr.turn = nu.next_user_turn
            WHERE a.kind = 'reaction')"""
    return sql, params


def transition_counts(con: duckdb.DuckDBPyConnection, filters: Filters, flow: str,
                      rule: str = "relative") -> pl.DataFrame:
    """Counts of (label_a, stage_a, label_b, stage_b) over consecutive pairs of ``flow``.

    ``reason`` / ``reaction``: each thought and the next thought of the same kind in its
    conversation (ordered by turn, then position on the message). ``reaction_reason``: each
    reaction and the first reason on the next user message (``(no reason given)`` when that
    message has none, ``(end of conversation)`` when there is no next user message).
    """
    sql, params = _pairs_sql(filters, flow, rule)
    return frame(con, sql + """
        SELECT label_a, stage_a::BIGINT AS stage_a, label_b, stage_b::BIGINT AS stage_b,
               count(*)::BIGINT AS n FROM pairs
        GROUP BY ALL ORDER BY n DESC, label_a, label_b""", params)


LINK_COLUMNS = ("label_a", "stage_a", "label_b", "stage_b", "source", "target", "n",
                "share_of_source")


def sankey_links(counts: pl.DataFrame, mode: str, stage_names: Sequence[str],
                 source_stage: int | None = None) -> pl.DataFrame:
    """Links for a Sankey from `transition_counts`.

    Args:
        mode: ``"stages"``: nodes are label@stage, keeping pairs whose next thought is in a
            later stage (the flow from one stage to the next); ``"pairs"``: two columns,
            this thought's label -> the next one's, all pairs.
        source_stage: in ``"pairs"`` mode, keep only pairs starting in this stage.

    Returns:
        label_a, stage_a, label_b, stage_b (``-1`` for "any" in pairs mode), source,
        target (node keys), n, share_of_source; largest first.
    """
    df = counts
    if mode == "stages":
        df = df.filter(pl.col("stage_b").is_not_null() & (pl.col("stage_b") > pl.col("stage_a")))
        df = df.with_columns(
            source=pl.col("label_a") + "@" + pl.col("stage_a").cast(pl.Utf8),
            target=pl.col("label_b") + "@" + pl.col("stage_b").cast(pl.Utf8))
    elif mode == "pairs":
        if source_stage is not None:
            df = df.filter(pl.col("stage_a") == source_stage)
        df = df.group_by(["label_a", "label_b"], maintain_order=True).agg(pl.col("n").sum())
        df = df.with_columns(
            stage_a=pl.lit(-1 if source_stage is None else int(source_stage), pl.Int64),
            stage_b=pl.lit(-1, pl.Int64), source=pl.col("label_a") + "@a",
            target=pl.col("label_b") + "@b")
    else:
        raise ValueError(f"unknown sankey mode {mode!r}")
    df = (df.group_by(["label_a", "stage_a", "label_b", "stage_b", "source", "target"],
                      maintain_order=True).agg(pl.col("n").sum().cast(pl.Int64))
          .filter(pl.col("n") > 0))
    df = df.with_columns(share_of_source=pl.col("n") / pl.col("n").sum().over("source"))
    return df.sort(["n", "source", "target"], descending=[True, False, False]
                   ).select(LINK_COLUMNS)


def transition_links(con: duckdb.DuckDBPyConnection, filters: Filters, flow: str,
                     rule: str = "relative", mode: str = "stages",
                     source_stage: int | None = None, include_ends: bool = True
                     ) -> pl.DataFrame:
    """`sankey_links` over `transition_counts` (cached as one query); ``include_ends=False``
    drops the ``(no reason given)`` / ``(end of conversation)`` targets."""
    counts = transition_counts(con, filters, flow, rule)
    if not include_ends:
        counts = counts.filter(~pl.col("label_b").is_in([NO_REASON, END_OF_CONVERSATION]))
    if flow == "reaction_reason":
        mode = "pairs"
    return sankey_links(counts, mode, STAGE_RULES[rule].names, source_stage)


def transition_examples(con: duckdb.DuckDBPyConnection, filters: Filters, flow: str,
                        label_a: str, label_b: str, stage_a: int | None = None,
                        stage_b: int | None = None, rule: str = "relative",
                        limit: int = 200, offset: int = 0) -> dict:
    """The pairs behind one Sankey link (``None`` stage = any): ``{"rows", "total"}``."""
    sql, params = _pairs_sql(filters, flow, rule)
    cond, extra = "label_a = ? AND label_b = ?", [label_a, label_b]
    if stage_a is not None and stage_a >= 0:
        cond += " AND stage_a = ?"
        extra.append(int(stage_a))
    if stage_b is not None and stage_b >= 0:
        cond += " AND stage_b = ?"
        extra.append(int(stage_b))
    total = scalar(con, sql + f" SELECT count(*) FROM pairs WHERE {cond}", [*params, *extra])
    rows = frame(con, sql + f"""
        SELECT conv_id, turn_a, label_a, left(content_a, 200) AS snippet_a,
               turn_b, label_b, left(content_b, 200) AS snippet_b
        FROM pairs WHERE {cond} ORDER BY conv_id, turn_a, idx_a LIMIT ? OFFSET ?""",
                 [*params, *extra, int(limit), int(offset)])
    return {"rows": rows, "total": int(total)}


# =========================================================================== page helpers


def segment_from_points(points: Sequence[Mapping]) -> tuple[str, int, str] | None:
    """(label, stage, facet) of the first clicked stage-bar segment, from a plotly
    selection's points (their ``customdata`` starts with label, stage, facet)."""
    for point in points or ():
        custom = point.get("customdata") if isinstance(point, Mapping) else None
        if custom and len(custom) >= 3:
            try:
                return str(custom[0]), int(custom[1]), str(custom[2])
            except (TypeError, ValueError):
                continue
    return None


def thought_table(rows: pl.DataFrame, display: Mapping[str, str],
                  params: Mapping[str, Sequence[str] | str]) -> pl.DataFrame:
    """Rows of `stage_thoughts` as a display table with a link to each turn."""
    return pl.DataFrame({
        "open": [links.conversation_url(params, c, t)
                 for c, t in zip(rows["conv_id"].to_list(), rows["turn"].to_list())],
        "conversation": rows["conv_id"],
        "turn": rows["turn"].cast(pl.Int64),
        "label": [display.get(v, v) for v in rows["label"].to_list()],
        "thought": rows["snippet"],
    }, schema={"open": pl.Utf8, "conversation": pl.Utf8, "turn": pl.Int64,
               "label": pl.Utf8, "thought": pl.Utf8})


def pair_table(rows: pl.DataFrame, display: Mapping[str, str],
               params: Mapping[str, Sequence[str] | str]) -> pl.DataFrame:
    """Rows of `transition_examples` as a display table with a link to the first turn."""
    return pl.DataFrame({
        "open": [links.conversation_url(params, c, t)
                 for c, t in zip(rows["conv_id"].to_list(), rows["turn_a"].to_list())],
        "conversation": rows["conv_id"],
        "turn": rows["turn_a"].cast(pl.Int64),
        "label": [display.get(v, v) for v in rows["label_a"].to_list()],
        "thought": rows["snippet_a"],
        "next turn": rows["turn_b"].cast(pl.Int64),
        "next label": [display.get(v, v) for v in rows["label_b"].to_list()],
        "next thought": rows["snippet_b"],
    }, schema={"open": pl.Utf8, "conversation": pl.Utf8, "turn": pl.Int64,
               "label": pl.Utf8, "thought": pl.Utf8, "next turn": pl.Int64,
               "next label": pl.Utf8, "next thought": pl.Utf8})


def link_names(links: pl.DataFrame, mode: str, stage_names: Sequence[str],
               display: Mapping[str, str]) -> list[str]:
    """One readable name per row of `transition_links`, e.g. "Task motivation @ Early →
    Refine @ Mid-Early (12)" (stages only in the stage-to-stage view)."""
    def at(stage: int) -> str:
        return f" @ {stage_names[stage]}" if stage >= 0 and mode == "stages" else ""
    return [f"{display.get(a, a)}{at(int(sa))} → {display.get(b, b)}{at(int(sb))} ({int(n):,})"
            for a, sa, b, sb, n in links.select("label_a", "stage_a", "label_b", "stage_b",
                                                "n").iter_rows()]
