"""Queries and pure computations behind the analysis pages (no streamlit).

"Thought types & stages": label distributions (with the published full-release shares),
label shares per stage with conversation-bootstrap confidence intervals, transitions
between consecutive thoughts, and the thoughts behind any bar or flow.
"Participants": survey answers counted per conversation and per user, with occupation
normalisation and keyword groups over the free-text purposes.

Query functions take a cursor first and then hashable arguments (a `Filters` included), so
`components.state.query("analysis.<name>", ...)` can cache them. All user values are SQL
parameters; the only SQL fragments formatted in come from the fixed tables in this module.
The pure functions (``compute_*``, ``normalise_*``, ``purpose_groups`` ...) take plain
frames and are what the tests check against hand-computed answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence
from urllib.parse import urlencode

import duckdb
import numpy as np
import pandas as pd

from components.filters import MISSING, Filters
from precompute.labels import AGE_BRACKETS, REACTIONS, REASONS, STAGES

# --------------------------------------------------------------------------- published

PUBLISHED_SOURCE = "published (Jin et al. 2026, full release)"

#: Thought-type shares published for the full release (Jin et al. 2026, arXiv 2605.20087):
#: "published (Jin et al. 2026, full release)". Within each kind; they sum to 1.
PUBLISHED_SHARES: dict[str, dict[str, float]] = {
    "reason": {
        "task_motivation": 0.369, "task_continuation": 0.214,
        "context_grounding_and_constraints": 0.131, "content_expectation": 0.115,
        "social_and_others": 0.111, "style_expectation": 0.050, "task_reorientation": 0.010,
    },
    "reaction": {
        "explicit_affirmation": 0.722, "content_relevance": 0.119,
        "presentation_style": 0.064, "scope_fit": 0.061, "partial_satisfaction": 0.034,
    },
}

#: Published stage dynamics (full release; Early, Mid-Early, Mid-Late, Late), the labels the
#: paper reports. Their binning rule is not published, so compare with care.
PUBLISHED_STAGE_SHARES: dict[str, tuple[float, float, float, float]] = {
    "task_motivation": (0.57, 0.41, 0.18, 0.27),
    "task_continuation": (0.04, 0.20, 0.36, 0.26),
    "social_and_others": (0.23, 0.05, 0.08, 0.15),
    "explicit_affirmation": (0.67, 0.69, 0.76, 0.79),
    "content_relevance": (0.12, 0.13, 0.11, 0.10),
}

KINDS = ("reason", "reaction")
LABELS_BY_KIND: dict[str, tuple[str, ...]] = {
    "reason": tuple(label.code for label in REASONS),
    "reaction": tuple(label.code for label in REACTIONS),
}
KIND_TITLES = {"reason": "Reasons", "reaction": "Reactions"}

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


@dataclass(frozen=True)
class Split:
    key: str
    title: str
    sql: str          # expression over conversations ``c``
    natural_order: tuple[str, ...] = ()


SPLITS: dict[str, Split] = {
    "none": Split("none", "No split", "'All conversations'"),
    "domain": Split("domain", "Domain", "coalesce(c.domain, '(unassigned)')"),
    "model": Split("model", "Model", f"coalesce(c.model_name, '{MISSING}')"),
    "provider": Split("provider", "Provider", f"coalesce(c.model_provider, '{MISSING}')"),
    "length": Split("length", "Length (messages)",
                    "CASE WHEN c.n_messages <= 4 THEN '≤4 messages' "
                    "WHEN c.n_messages <= 8 THEN '5–8 messages' "
                    "WHEN c.n_messages <= 16 THEN '9–16 messages' ELSE '17+ messages' END",
                    LENGTH_BUCKETS),
}

NO_REASON = "(no reason given)"
END_OF_CONVERSATION = "(end of conversation)"
FLOWS = {
    "reason": "Reason → next reason",
    "reaction": "Reaction → next reaction",
    "reaction_reason": "Reaction → reason on the next user message",
}


def _check(value: str, allowed: Mapping | Sequence, what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}")


def _df(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


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
            SELECT c.conv_id, {SPLITS[split].sql} AS facet FROM conversations c
            WHERE {where}){pos_cte},
        th AS (
            SELECT t.thought_id, t.conv_id, t.turn, t.idx, t.kind, t.label, t.content,
                   fc.facet, ({_STAGE_SQL[rule]})::INTEGER AS stage
            FROM thoughts t JOIN fc ON fc.conv_id = t.conv_id {join_pos})"""
    return sql, params


# =========================================================================== label shares


def label_distribution(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Every label (zeros kept) with display name, meaning, count, share within its kind
    and the published full-release share."""
    where, params = filters.where("c")
    df = _df(con, f"""
        WITH t AS (
            SELECT t.label, count(*) AS n FROM thoughts t
            JOIN conversations c ON c.conv_id = t.conv_id WHERE {where} GROUP BY t.label)
        SELECT l.code AS label, l.kind, l.display_name, l.meaning,
               coalesce(t.n, 0)::BIGINT AS n
        FROM labels l LEFT JOIN t ON t.label = l.code ORDER BY l.sort_order""", params)
    return with_shares(df)


def with_shares(counts: pd.DataFrame) -> pd.DataFrame:
    """Add ``share`` (within kind; NaN when a kind has no thoughts) and ``published_share``
    to a frame with columns label, kind, n."""
    out = counts.copy()
    totals = out.groupby("kind")["n"].transform("sum")
    out["share"] = (out["n"] / totals.where(totals > 0)).astype(float)
    out["published_share"] = [PUBLISHED_SHARES.get(k, {}).get(lab, np.nan)
                              for k, lab in zip(out["kind"], out["label"])]
    return out


# =========================================================================== stage shares


def bootstrap_shares(conv: np.ndarray, stage: np.ndarray, label: np.ndarray, n_stages: int,
                     n_labels: int, n_boot: int = 200, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Label shares per stage and their 95% bootstrap interval, resampling conversations.

    Args:
        conv: conversation index (0..n_conv-1) of each thought.
        stage, label: 0-based stage and label index of each thought.

    Returns:
        ``(counts, share, lo, hi)``, each of shape (n_stages, n_labels): thought counts, the
        point estimate (count / thoughts in the stage; NaN for an empty stage) and the 2.5th
        and 97.5th percentiles of the same ratio over ``n_boot`` resamples of whole
        conversations (with replacement, ``numpy.random.default_rng(seed)``).
    """
    cells = n_stages * n_labels
    conv = np.asarray(conv, dtype=np.int64)
    n_conv = int(conv.max()) + 1 if conv.size else 0
    flat = np.asarray(stage, dtype=np.int64) * n_labels + np.asarray(label, dtype=np.int64)
    per_conv = np.bincount(conv * cells + flat, minlength=n_conv * cells
                           ).reshape(n_conv, cells).astype(np.float64)
    counts = per_conv.sum(axis=0).reshape(n_stages, n_labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        tot = counts.sum(axis=1, keepdims=True)
        share = np.where(tot > 0, counts / np.where(tot > 0, tot, 1), np.nan)
    if n_conv == 0 or n_boot <= 0:
        return counts, share, share.copy(), share.copy()
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_conv, size=(n_boot, n_conv))
    weights = np.bincount((draws + np.arange(n_boot)[:, None] * n_conv).ravel(),
                          minlength=n_boot * n_conv).reshape(n_boot, n_conv).astype(np.float64)
    boot = (weights @ per_conv).reshape(n_boot, n_stages, n_labels)
    btot = boot.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        bshare = np.where(btot > 0, boot / np.where(btot > 0, btot, 1), np.nan)
    # Percentiles ignoring resamples in which a stage happened to be empty.
    bshare = np.sort(bshare, axis=0)  # NaN sort last
    valid = np.sum(~np.isnan(bshare), axis=0)
    lo = _sorted_percentile(bshare, valid, 2.5)
    hi = _sorted_percentile(bshare, valid, 97.5)
    lo = np.where(np.isnan(share), np.nan, np.minimum(lo, share))
    hi = np.where(np.isnan(share), np.nan, np.maximum(hi, share))
    return counts, share, lo, hi


def _sorted_percentile(sorted_vals: np.ndarray, valid: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolated percentile along axis 0 of NaN-last sorted values."""
    pos = (np.maximum(valid, 1) - 1) * q / 100.0
    lo_i = np.floor(pos).astype(np.int64)
    hi_i = np.minimum(lo_i + 1, np.maximum(valid - 1, 0))
    frac = pos - lo_i
    a = np.take_along_axis(sorted_vals, lo_i[None], axis=0)[0]
    b = np.take_along_axis(sorted_vals, hi_i[None], axis=0)[0]
    out = a + (b - a) * frac
    return np.where(valid > 0, out, np.nan)


def compute_stage_shares(rows: pd.DataFrame, labels: Sequence[str], n_stages: int,
                         facets: Sequence[str] | None = None, n_boot: int = 200,
                         seed: int = 0) -> pd.DataFrame:
    """Label shares per stage (and facet) with conversation-bootstrap 95% intervals.

    Args:
        rows: one row per thought with columns conv_id, stage (0-based int), label and
            optionally facet. Labels outside ``labels`` are ignored.
        labels: label codes in display order.
        facets: facet values to compute (in order); default: all present, or one facet
            ``"All conversations"`` when the column is absent.

    Returns:
        One row per (facet, stage, label), zeros included: n, stage_total, share, ci_lo,
        ci_hi, n_conv (conversations with a thought of this kind in that stage).
    """
    if "facet" in rows.columns:
        facet_values = rows["facet"].to_numpy(dtype=object)
    else:
        facet_values = np.full(len(rows), "All conversations", dtype=object)
    if facets is None:
        facets = list(pd.unique(facet_values)) or ["All conversations"]
    lab_code = pd.Index(list(labels)).get_indexer(rows["label"].to_numpy(dtype=object))
    fac_code = pd.Index(list(facets)).get_indexer(facet_values)
    conv_code = pd.factorize(rows["conv_id"].to_numpy(dtype=object))[0]
    stage_all = rows["stage"].to_numpy(dtype=np.int64)
    n_labels = len(labels)
    grid_stage = np.repeat(np.arange(n_stages), n_labels)
    grid_label = np.tile(np.asarray(labels, dtype=object), n_stages)
    frames = []
    for f_i, facet in enumerate(facets):
        mask = (fac_code == f_i) & (lab_code >= 0)
        conv = np.unique(conv_code[mask], return_inverse=True)[1]
        stage = stage_all[mask]
        counts, share, lo, hi = bootstrap_shares(conv, stage, lab_code[mask], n_stages,
                                                 n_labels, n_boot=n_boot, seed=seed)
        pairs = np.unique(conv * n_stages + stage)
        n_conv = np.bincount(pairs % n_stages, minlength=n_stages)
        frames.append(pd.DataFrame({
            "facet": facet, "stage": grid_stage, "label": grid_label,
            "n": counts.ravel().astype(np.int64),
            "stage_total": np.repeat(counts.sum(axis=1), n_labels).astype(np.int64),
            "share": share.ravel(), "ci_lo": lo.ravel(), "ci_hi": hi.ravel(),
            "n_conv": n_conv[grid_stage].astype(np.int64)}))
    return pd.concat(frames, ignore_index=True)


def top_facets(conv_facets: pd.DataFrame, top_n: int, natural_order: Sequence[str] = ()
               ) -> pd.DataFrame:
    """Facet values ranked by conversations (columns facet, conversations, thoughts), with
    ``shown`` marking the top ``top_n``; a natural order (length buckets) wins over rank
    for display."""
    df = conv_facets.sort_values(["conversations", "facet"], ascending=[False, True])
    df = df.reset_index(drop=True)
    df["shown"] = df.index < top_n
    if natural_order:
        rank = {v: i for i, v in enumerate(natural_order)}
        df = df.sort_values("facet", key=lambda s: s.map(lambda v: rank.get(v, len(rank))),
                            kind="stable").reset_index(drop=True)
    return df


def stage_shares(con: duckdb.DuckDBPyConnection, filters: Filters, kind: str,
                 rule: str = "relative", split: str = "none", top_n: int = 6,
                 n_boot: int = 200, seed: int = 0) -> dict:
    """Label shares per stage for one kind of thought, split by a facet.

    Returns:
        ``{"shares": frame (see `compute_stage_shares`) with display_name and meaning,
        "facets": facet values with conversations, thoughts and ``shown`` (top ``top_n``),
        "stage_names": names of the stages under ``rule``}``.
    """
    _check(kind, KINDS, "kind")
    scope, params = _scope_sql(filters, rule, split)
    rows = _df(con, scope + " SELECT conv_id, stage, label, facet FROM th WHERE kind = ?",
               [*params, kind])
    conv_facets = _df(con, scope + """
        SELECT fc.facet, count(DISTINCT fc.conv_id) AS conversations,
               count(th.thought_id) AS thoughts
        FROM fc LEFT JOIN th ON th.conv_id = fc.conv_id AND th.kind = ?
        GROUP BY fc.facet""", [*params, kind])
    facets = top_facets(conv_facets, top_n, SPLITS[split].natural_order)
    names = STAGE_RULES[rule].names
    labels_df = _df(con, "SELECT code AS label, display_name, meaning FROM labels")
    shares = compute_stage_shares(rows, LABELS_BY_KIND[kind], len(names),
                                  list(facets.loc[facets["shown"], "facet"]), n_boot, seed)
    shares = shares.merge(labels_df, on="label", how="left")
    shares["stage_name"] = [names[i] for i in shares["stage"]]
    return {"shares": shares, "facets": facets, "stage_names": names}


def stage_thoughts(con: duckdb.DuckDBPyConnection, filters: Filters, kind: str, label: str,
                   stage: int, rule: str = "relative", split: str = "none",
                   facet: str | None = None, limit: int = 200, offset: int = 0) -> dict:
    """The thoughts behind one stage bar segment: ``{"rows": conv_id, turn, idx, label,
    stage, snippet; "total": count}`` ordered by conversation and turn."""
    _check(kind, KINDS, "kind")
    scope, params = _scope_sql(filters, rule, split)
    cond, extra = "kind = ? AND label = ? AND stage = ?", [kind, label, int(stage)]
    if split != "none" and facet is not None:
        cond += " AND facet = ?"
        extra.append(facet)
    total = con.execute(scope + f" SELECT count(*) FROM th WHERE {cond}",
                        [*params, *extra]).fetchone()[0]
    rows = _df(con, scope + f"""
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
    if flow in KINDS:
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
                      rule: str = "relative") -> pd.DataFrame:
    """Counts of (label_a, stage_a, label_b, stage_b) over consecutive pairs of ``flow``.

    ``reason`` / ``reaction``: each thought and the next thought of the same kind in its
    conversation (ordered by turn, then position on the message). ``reaction_reason``: each
    reaction and the first reason on the next user message (``(no reason given)`` when that
    message has none, ``(end of conversation)`` when there is no next user message).
    """
    sql, params = _pairs_sql(filters, flow, rule)
    return _df(con, sql + """
        SELECT label_a, stage_a, label_b, stage_b, count(*)::BIGINT AS n FROM pairs
        GROUP BY ALL ORDER BY n DESC, label_a, label_b""", params)


def sankey_links(counts: pd.DataFrame, mode: str, stage_names: Sequence[str],
                 source_stage: int | None = None) -> pd.DataFrame:
    """Links for a Sankey from `transition_counts`.

    Args:
        mode: ``"stages"``: nodes are label@stage, keeping pairs whose next thought is in a
            later stage (the flow from one stage to the next); ``"pairs"``: two columns,
            this thought's label -> the next one's, all pairs.
        source_stage: in ``"pairs"`` mode, keep only pairs starting in this stage.

    Returns:
        label_a, stage_a, label_b, stage_b (``-1`` for "any" in pairs mode), n, source,
        target (node keys), source_name, target_name, share_of_source.
    """
    df = counts.copy()
    if mode == "stages":
        df = df[df["stage_b"].notna() & (df["stage_b"] > df["stage_a"])]
        df = df.astype({"stage_a": int, "stage_b": int})
        df["source"] = df["label_a"] + "@" + df["stage_a"].astype(str)
        df["target"] = df["label_b"] + "@" + df["stage_b"].astype(str)
    elif mode == "pairs":
        if source_stage is not None:
            df = df[df["stage_a"] == source_stage]
        df = (df.groupby(["label_a", "label_b"], as_index=False)["n"].sum())
        df["stage_a"] = -1 if source_stage is None else int(source_stage)
        df["stage_b"] = -1
        df["source"] = df["label_a"] + "@a"
        df["target"] = df["label_b"] + "@b"
    else:
        raise ValueError(f"unknown sankey mode {mode!r}")
    df = (df.groupby(["label_a", "stage_a", "label_b", "stage_b", "source", "target"],
                     as_index=False)["n"].sum())
    df = df[df["n"] > 0]
    out_tot = df.groupby("source")["n"].transform("sum")
    df["share_of_source"] = df["n"] / out_tot
    return df.sort_values(["n", "source", "target"], ascending=[False, True, True]
                          ).reset_index(drop=True)


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
    total = con.execute(sql + f" SELECT count(*) FROM pairs WHERE {cond}",
                        [*params, *extra]).fetchone()[0]
    rows = _df(con, sql + f"""
        SELECT conv_id, turn_a, label_a, left(content_a, 200) AS snippet_a,
               turn_b, label_b, left(content_b, 200) AS snippet_b
        FROM pairs WHERE {cond} ORDER BY conv_id, turn_a, idx_a LIMIT ? OFFSET ?""",
               [*params, *extra, int(limit), int(offset)])
    return {"rows": rows, "total": int(total)}


# =========================================================================== links


def browser_url(params: Mapping[str, Sequence[str] | str], conv_id: str, turn: int | None,
                page: str = "browser") -> str:
    """Relative link to the Conversations page at one turn, keeping the other URL params
    (the filters) so the linked view is the same subset."""
    items: list[tuple[str, str]] = []
    for key, values in params.items():
        if key in ("conv", "turn"):
            continue
        for v in ([values] if isinstance(values, str) else values):
            items.append((key, str(v)))
    items.append(("conv", conv_id))
    if turn is not None and not pd.isna(turn):
        items.append(("turn", str(int(turn))))
    return f"{page}?{urlencode(items)}"


# =========================================================================== participants

FIELDS = {
    "age": "Age bracket",
    "gender": "Gender",
    "education": "Education",
    "occupation": "Occupation",
    "ai_frequency": "AI-use frequency",
    "purposes": "Purposes (keyword groups)",
}
NO_VALID_AGE = "(no valid age)"
NO_GROUP = "(no group matched)"
OTHER = "other"

#: Keyword groups over the free-text "purposes" answer. A keyword matches at the start of a
#: word ("learn" matches "learning"); one ending in "." must be the whole word ("art.").
#: A conversation is in every group with a matching keyword, so groups overlap.
PURPOSE_GROUPS: dict[str, tuple[str, ...]] = {
    "Coding & programming": ("cod", "program", "debug", "software", "python", "java",
                             "script", "develop", "sql", "excel", "data analy"),
    "Writing & editing": ("writ", "edit", "email", "e-mail", "essay", "proofread", "grammar",
                          "translat", "summar", "paraphras", "letter", "text"),
    "Learning & studying": ("learn", "study", "studi", "school", "homework", "assignment",
                            "understand", "explain", "tutor", "exam", "academ", "educat",
                            "course", "class", "universit"),
    "Work & productivity": ("work", "job", "productiv", "business", "office", "career",
                            "professional", "task", "organi"),
    "Search & information": ("search", "information", "info.", "look up", "looking up",
                             "looking for", "question", "fact", "news", "research", "tip.",
                             "tips.", "knowledge", "answer"),
    "Creative & ideas": ("creativ", "idea", "brainstorm", "art.", "arts.", "story", "stories",
                         "image", "design", "music", "fun.", "entertain", "game", "generat",
                         "roleplay", "role-play"),
    "Health & wellbeing": ("health", "medic", "fitness", "diet", "exercis", "mental",
                           "therap", "symptom", "wellbeing", "well-being", "nutrition",
                           "workout"),
    "Daily life & advice": ("daily", "life", "advice", "advis", "personal", "decision",
                            "decid", "cook", "recipe", "travel", "shopping", "chat",
                            "companion", "relationship", "everyday", "plan", "assistant",
                            "existential"),
}


def _keyword_regex(keywords: Sequence[str]) -> re.Pattern:
    parts = [re.escape(k[:-1]) + r"\b" if k.endswith(".") else re.escape(k) for k in keywords]
    return re.compile(r"\b(?:" + "|".join(parts) + ")")


_PURPOSE_RE = {group: _keyword_regex(kws) for group, kws in PURPOSE_GROUPS.items()}


def normalise_text(value: object) -> str | None:
    """Case- and whitespace-insensitive key of a free-text answer (None when empty):
    lower case, runs of whitespace collapsed, surrounding spaces and end punctuation cut."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = re.sub(r"\s+", " ", str(value)).strip().strip(" .,;:!").strip()
    return text.lower() or None


def purpose_groups(text: object) -> list[str]:
    """Keyword groups a purposes answer falls in (possibly several); ``["(missing)"]`` for
    an empty answer and ``["(no group matched)"]`` when none matches."""
    key = normalise_text(text)
    if key is None:
        return [MISSING]
    groups = [g for g, rx in _PURPOSE_RE.items() if rx.search(key)]
    return groups or [NO_GROUP]


def age_category(age: object, bracket: object) -> str:
    """Age bracket; ``(no valid age)`` for an answer that is not a plausible age
    (garbage such as 2 or 366), ``(missing)`` for no answer."""
    if isinstance(bracket, str) and bracket:
        return bracket
    return MISSING if normalise_text(age) is None else NO_VALID_AGE


def _display_variants(raw: pd.Series, keys: pd.Series) -> dict[str, str]:
    """Per normalised key, the most frequent trimmed original spelling (ties: one starting
    with a capital but not all capitals, then alphabetical)."""
    trimmed = raw.astype("string").str.replace(r"\s+", " ", regex=True).str.strip(" .,;:!")
    df = pd.DataFrame({"key": keys, "raw": trimmed}).dropna()
    if df.empty:
        return {}
    counts = df.groupby(["key", "raw"], sort=False).size().reset_index(name="n")
    counts["upper"] = [r[:1].isupper() and not r.isupper() for r in counts["raw"]]
    counts = counts.sort_values(["key", "n", "upper", "raw"],
                                ascending=[True, False, False, True], kind="stable")
    best = counts.drop_duplicates("key")
    return {k: _prettify(r) for k, r in zip(best["key"], best["raw"])}


def _prettify(text: str) -> str:
    """Sentence-case an all-lower answer and a shouted one ("STUDENT"; acronyms of up to
    four letters such as "CEO" stay)."""
    if text.islower():
        return text[:1].upper() + text[1:]
    if text.isupper() and len(text) > 4:
        return text.capitalize()
    return text


def categorise(rows: pd.DataFrame, field: str, top_n: int = 15) -> pd.DataFrame:
    """One row per (conversation, category) of a survey field (purposes may give several).

    Args:
        rows: conversations with conv_id, user_id, age, age_bracket, gender, education,
            occupation, ai_frequency, purposes.
        field: a key of `FIELDS`.
        top_n: for occupation, the number of most frequent (normalised) values kept; the
            rest become ``other``.

    Returns:
        conv_id, user_id, category.
    """
    _check(field, FIELDS, "field")
    base = rows[["conv_id", "user_id"]]
    if field == "age":
        cats = [age_category(a, b) for a, b in zip(rows["age"], rows["age_bracket"])]
        return base.assign(category=cats)
    if field == "ai_frequency":
        cats = [MISSING if pd.isna(v) else str(int(v)) for v in rows["ai_frequency"]]
        return base.assign(category=cats)
    if field == "purposes":
        groups = [purpose_groups(v) for v in rows["purposes"]]
        return base.assign(category=groups).explode("category").reset_index(drop=True)
    keys = rows[field].map(normalise_text)
    display = _display_variants(rows[field], keys)
    cats = keys.map(lambda k: MISSING if k is None or pd.isna(k) else display.get(k, k))
    if field == "occupation":
        real = cats[cats != MISSING]
        ranked = (pd.DataFrame({"c": real}).groupby("c").size().reset_index(name="n")
                  .sort_values(["n", "c"], ascending=[False, True]))
        keep = set(ranked["c"].head(top_n))
        cats = cats.map(lambda c: c if c == MISSING or c in keep else OTHER)
    return base.assign(category=cats.to_numpy())


def count_categories(cats: pd.DataFrame, field: str, n_conversations: int | None = None
                     ) -> pd.DataFrame:
    """Conversations and users per category (from `categorise`), in display order:
    natural for age and frequency, else by conversations; ``other``, ``(no group
    matched)``, ``(no valid age)`` and ``(missing)`` last. Every category is kept."""
    if cats.empty:
        return pd.DataFrame(columns=["category", "conversations", "users", "share"])
    cats = cats.assign(category=cats["category"].fillna(MISSING))
    df = (cats.groupby("category", dropna=False)
          .agg(conversations=("conv_id", "nunique"), users=("user_id", "nunique"))
          .reset_index())
    n = n_conversations if n_conversations is not None else cats["conv_id"].nunique()
    df["share"] = df["conversations"] / max(n, 1)
    tail = [OTHER, NO_GROUP, NO_VALID_AGE, MISSING]
    if field in ("age", "ai_frequency"):  # the full scale, zeros included
        order = list(AGE_BRACKETS) if field == "age" else ["1", "2", "3", "4", "5"]
        absent = [c for c in order if c not in set(df["category"])]
        if absent:
            df = pd.concat([df, pd.DataFrame({"category": absent, "conversations": 0,
                                              "users": 0, "share": 0.0})],
                           ignore_index=True)
    else:
        order = list(df[~df["category"].isin(tail)]
                     .sort_values(["conversations", "category"], ascending=[False, True])
                     ["category"])
    rank = {c: i for i, c in enumerate(order + tail)}
    df["_r"] = df["category"].map(lambda c: rank.get(c, len(order) - 0.5))
    return df.sort_values(["_r", "category"]).drop(columns="_r").reset_index(drop=True)


def participants(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Survey answers of the filtered conversations (one row per conversation)."""
    where, params = filters.where("c")
    return _df(con, f"""
        SELECT c.conv_id, c.user_id, c.has_survey, c.age, c.age_bracket, c.gender,
               c.education, c.occupation, c.ai_frequency, c.purposes
        FROM conversations c WHERE {where} ORDER BY c.conv_id""", params)


def participant_counts(con: duckdb.DuckDBPyConnection, filters: Filters, field: str,
                       top_n: int = 15) -> dict:
    """``{"counts": category, conversations, users, share; "conversations": n;
    "users": n; "no_survey": conversations without survey answers; "distinct": number
    of distinct normalised values (occupation)}`` for one survey field."""
    return _participant_summary(participants(con, filters), field, top_n)


def _participant_summary(rows: pd.DataFrame, field: str, top_n: int) -> dict:
    cats = categorise(rows, field, top_n)
    distinct = int(rows[field].map(normalise_text).dropna().nunique()) if field in (
        "occupation", "gender", "education") else None
    return {"counts": count_categories(cats, field, len(rows)),
            "conversations": int(len(rows)), "users": int(rows["user_id"].nunique()),
            "no_survey": int((~rows["has_survey"].fillna(False).astype(bool)).sum()),
            "distinct": distinct}


def participant_counts_all(con: duckdb.DuckDBPyConnection, filters: Filters,
                           top_n: int = 15) -> dict[str, dict]:
    """`participant_counts` of every field in `FIELDS`, reading the participants once."""
    rows = participants(con, filters)
    return {field: _participant_summary(rows, field, top_n) for field in FIELDS}


def keyword_groups_table() -> pd.DataFrame:
    """The purpose keyword groups and their keywords (for an explanation on the page)."""
    return pd.DataFrame({"group": list(PURPOSE_GROUPS),
                         "keywords (word starts; “.” = whole word)":
                             [", ".join(k) for k in PURPOSE_GROUPS.values()]})


# =========================================================================== page helpers


def transition_links(con: duckdb.DuckDBPyConnection, filters: Filters, flow: str,
                     rule: str = "relative", mode: str = "stages",
                     source_stage: int | None = None, include_ends: bool = True
                     ) -> pd.DataFrame:
    """`sankey_links` over `transition_counts` (cached as one query); ``include_ends=False``
    drops the ``(no reason given)`` / ``(end of conversation)`` targets."""
    counts = transition_counts(con, filters, flow, rule)
    if not include_ends:
        counts = counts[~counts["label_b"].isin([NO_REASON, END_OF_CONVERSATION])]
    if flow == "reaction_reason":
        mode = "pairs"
    return sankey_links(counts, mode, STAGE_RULES[rule].names, source_stage)


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


def thought_table(rows: pd.DataFrame, display: Mapping[str, str],
                  params: Mapping[str, Sequence[str] | str]) -> pd.DataFrame:
    """Rows of `stage_thoughts` as a display table with a link to each turn."""
    return pd.DataFrame({
        "open": [browser_url(params, c, t) for c, t in zip(rows["conv_id"], rows["turn"])],
        "conversation": rows["conv_id"],
        "turn": rows["turn"].astype(int),
        "label": [display.get(v, v) for v in rows["label"]],
        "thought": rows["snippet"],
    })


def pair_table(rows: pd.DataFrame, display: Mapping[str, str],
               params: Mapping[str, Sequence[str] | str]) -> pd.DataFrame:
    """Rows of `transition_examples` as a display table with a link to the first turn."""
    return pd.DataFrame({
        "open": [browser_url(params, c, t) for c, t in zip(rows["conv_id"], rows["turn_a"])],
        "conversation": rows["conv_id"],
        "turn": rows["turn_a"].astype(int),
        "label": [display.get(v, v) for v in rows["label_a"]],
        "thought": rows["snippet_a"],
        "next turn": rows["turn_b"].astype("Int64"),
        "next label": [display.get(v, v) for v in rows["label_b"]],
        "next thought": rows["snippet_b"],
    })
