"""Stage `relationships`: how each user message relates to the previous user message.

The paper (Jin et al. 2026, Fig. 4) labels every user turn, with an LLM, as a first
request, an extension of the previous one, a completely new request, a re-attempt or a
variation. Those labels are not in the release. This stage fills two columns of
``messages`` on every user message (NULL on assistant messages):

- ``relationship``: ``first``, ``deepen`` (the paper's "extend"), ``new_request``,
  ``retry`` (re-attempt) or ``variant`` (variation);
- ``relationship_source``: ``approx`` (the rules below) or ``labels`` (a label file).

The offline default is an approximation from what the DB holds: the stored embeddings of
the user messages and of the conversation's task text (`embed` stage; task = task summary
+ first user message), the reasons on the message and the reactions on the assistant
message(s) between the previous user message and this one. For user message k of a
conversation (k = 1, 2, ... among its user messages), with ``sim_prev`` the cosine of its
vector with user message k-1's, ``sim_task`` the cosine with the task vector, "after
dissatisfaction" = a reaction on the preceding assistant message labelled
content_relevance, presentation_style, scope_fit or partial_satisfaction, and
"social-only" = at least one reason, all social_and_others. The first rule that matches
wins (thresholds are the fields of `Rules`):

1. ``first``: k = 1.
2. ``new_request``: k = 2 and user message 1 is a bare opener: social-only or without
   reasons, and at most ``opener_chars`` (40) characters ("Hi there").
3. ``deepen``: the message is social-only (thanks, sign-offs, small talk are not
   requests).
4. ``retry``: ``sim_prev`` >= ``retry_sim`` (0.85), or >= ``retry_sim_after_dissatisfaction``
   (0.80) after dissatisfaction (a near-duplicate of the previous request).
5. ``variant``: after dissatisfaction, a style_expectation reason (any similarity:
   ``variant_style_sim`` = -1; "shorter", "simpler", "as a checklist" share few words
   with the request they reshape). Off by default: the same with a
   context_grounding_and_constraints reason and ``sim_prev`` >= ``variant_constraint_sim``.
6. ``new_request``: a task_reorientation reason.
7. ``new_request``: a task_motivation reason and ``sim_prev`` < ``new_motivation_sim``
   (0.35): a later turn that states a goal and shares little with the last request.
8. Off by default: ``new_request`` for a message of at least ``new_min_chars`` (40)
   characters with ``sim_prev`` < ``new_prev_sim`` and ``sim_task`` < ``new_task_sim``.
9. ``deepen``: everything else (task_continuation, content expectations, context
   grounding, answers to the assistant's questions).

The defaults were tuned on the 20 conversations of the shared sample against labels we
wrote by hand before running the rules (``tests/data/sample_relationships.csv``):
`A_PRIORI_RULES` agreed on 126/164 user messages, the defaults on 141/164 (the README
has the confusion matrix). With all-MiniLM-L6-v2 a short follow-up ("yes, the second
one") is often as far from the previous request as a new one, so similarity
alone does not find new requests (rule 8 fired 9 times on the sample, all wrong) and
on the sample the approximation finds fewer new requests, retries and variants than the
paper reports for the full release.
A message without a vector (empty text) has no similarities: a condition on one is false
(except a threshold of -1, which needs none).

`--relationship-labels FILE` (CSV or JSONL with conv_id, turn, relationship) replaces
the approximation for the user messages it lists (``relationship_source`` = 'labels');
``turn`` is the message's ``messages.turn``. ``meta.relationship_source`` says which was
used ('approx' or 'labels:<file>').
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from precompute import label_files
from precompute.embed import load_vectors, settle
from precompute.labels import DISSATISFACTION_CODES
from precompute.store import get_meta, hash_inputs, set_meta, stage_record, table_exists

Log = Callable[[str], None]

#: The five relationships, in the paper's order.
RELATIONSHIPS: tuple[str, ...] = ("first", "deepen", "new_request", "retry", "variant")
SOURCES: tuple[str, ...] = ("approx", "labels")
#: Other spellings accepted in a label file (after lower-casing and turning spaces and
#: hyphens into underscores), among them the paper's names.
ALIASES: dict[str, str] = {
    "first_request": "first", "extend": "deepen", "extension": "deepen",
    "new": "new_request", "completely_new": "new_request",
    "completely_new_request": "new_request", "re_attempt": "retry", "reattempt": "retry",
    "variation": "variant",
}
#: Reactions that count as dissatisfaction for rules 4 and 5 (the three dissatisfaction
#: labels plus partial satisfaction).
UNSATISFIED = frozenset(DISSATISFACTION_CODES | {"partial_satisfaction"})
SOCIAL = "social_and_others"
#: Bump when the stage's output changes for the same inputs.
STAGE_VERSION = 1


class RelationshipError(Exception):
    """The stage cannot run as asked (no embeddings, a bad label file); says where and why."""


@dataclass(frozen=True)
class Rules:
    """The thresholds of the approximation (see the module docstring for the rules).

    Similarity thresholds are cosines: a threshold of -1 means "any similarity" (the
    rule needs no vector), one above 1 switches a rule off.
    """

    opener_chars: int = 40
    retry_sim: float = 0.85
    retry_sim_after_dissatisfaction: float = 0.80
    variant_style_sim: float = -1.0       # any similarity
    variant_constraint_sim: float = 1.01  # off
    new_motivation_sim: float = 0.35
    new_prev_sim: float = -1.0            # off (with new_task_sim)
    new_task_sim: float = 0.30
    new_min_chars: int = 40


#: The thresholds chosen before looking at any similarity of the shared sample (kept for
#: the record: agreement with the hand labels 126/164, see the README).
A_PRIORI_RULES = Rules(retry_sim=0.80, retry_sim_after_dissatisfaction=0.65,
                       variant_style_sim=0.40, variant_constraint_sim=0.40,
                       new_prev_sim=0.20)


DEFAULT_RULES = Rules()


# =========================================================================== features


FEATURE_COLUMNS = ("conv_id", "turn", "user_idx", "prev_turn", "n_chars", "prev_n_chars",
                   "reasons", "prev_reasons", "prev_reactions", "sim_prev", "sim_task")


def user_turn_features(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per user message with what the rules read.

    Columns: conv_id, turn, user_idx (1-based among the conversation's user messages),
    prev_turn (turn of the previous user message, <NA> for the first), n_chars,
    prev_n_chars, reasons (tuple of reason labels on the message), prev_reasons (on the
    previous user message), prev_reactions (reaction labels on the assistant messages
    between the previous user message and this one), sim_prev, sim_task (cosines; NaN
    when a vector is missing). Ordered by conv_id, turn.
    """
    settle(con)
    users = con.sql("""
        SELECT conv_id, turn, coalesce(n_chars, 0) AS n_chars,
               row_number() OVER (PARTITION BY conv_id ORDER BY turn) AS user_idx,
               lag(turn) OVER (PARTITION BY conv_id ORDER BY turn) AS prev_turn
        FROM messages WHERE role = 'user' ORDER BY conv_id, turn""").df()
    thoughts = con.sql("SELECT conv_id, turn, kind, label FROM thoughts "
                       "ORDER BY conv_id, turn, idx").df()
    assistant = con.sql("SELECT conv_id, turn FROM messages WHERE role = 'assistant'").df()
    reasons: dict[tuple[str, int], list[str]] = {}
    reactions: dict[tuple[str, int], list[str]] = {}
    for conv_id, turn, kind, label in thoughts.itertuples(index=False):
        (reasons if kind == "reason" else reactions).setdefault((conv_id, int(turn)),
                                                                []).append(label)
    assistant_turns: dict[str, list[int]] = {}
    for conv_id, turn in assistant.itertuples(index=False):
        assistant_turns.setdefault(conv_id, []).append(int(turn))

    vec_index: dict[str, int] = {}
    matrix = np.zeros((0, 0), dtype=np.float32)
    if table_exists(con, "embedded_items") and table_exists(con, "embeddings"):
        items, matrix = load_vectors(con, ["user_message", "task"])
        vec_index = {item_id: i for i, item_id in enumerate(items["item_id"])}

    def cosine(a: str, b: str) -> float:
        i, j = vec_index.get(a), vec_index.get(b)
        if i is None or j is None:
            return float("nan")
        return float(np.dot(matrix[i], matrix[j]))

    n_chars_of = {(c, int(t)): int(n) for c, t, n in
                  users[["conv_id", "turn", "n_chars"]].itertuples(index=False)}
    rows = []
    for r in users.itertuples(index=False):
        turn = int(r.turn)
        prev = None if pd.isna(r.prev_turn) else int(r.prev_turn)
        lo = prev if prev is not None else 0
        between = [t for t in assistant_turns.get(r.conv_id, []) if lo < t < turn]
        rows.append({
            "conv_id": r.conv_id, "turn": turn, "user_idx": int(r.user_idx),
            "prev_turn": prev, "n_chars": int(r.n_chars),
            "prev_n_chars": n_chars_of.get((r.conv_id, prev)) if prev is not None else None,
            "reasons": tuple(reasons.get((r.conv_id, turn), ())),
            "prev_reasons": (tuple(reasons.get((r.conv_id, prev), ())) if prev is not None
                             else ()),
            "prev_reactions": tuple(lab for t in between
                                    for lab in reactions.get((r.conv_id, t), ())),
            "sim_prev": (cosine(f"m:{r.conv_id}:{turn}", f"m:{r.conv_id}:{prev}")
                         if prev is not None else float("nan")),
            "sim_task": cosine(f"m:{r.conv_id}:{turn}", f"c:{r.conv_id}"),
        })
    out = pd.DataFrame(rows, columns=list(FEATURE_COLUMNS))
    out["prev_turn"] = out["prev_turn"].astype("Int64")
    out["prev_n_chars"] = out["prev_n_chars"].astype("Int64")
    return out


# =========================================================================== rules


def _at_least(sim: float, threshold: float) -> bool:
    """``sim >= threshold``; always true for a threshold <= -1, false for a NaN sim."""
    if threshold <= -1:
        return True
    return not np.isnan(sim) and sim >= threshold


def _below(sim: float, threshold: float) -> bool:
    """``sim < threshold``; false for a NaN sim."""
    return not np.isnan(sim) and sim < threshold


def classify_one(*, user_idx: int, n_chars: int, reasons: tuple[str, ...],
                 prev_n_chars: int | None, prev_reasons: tuple[str, ...],
                 prev_reactions: tuple[str, ...], sim_prev: float, sim_task: float,
                 rules: Rules = DEFAULT_RULES) -> tuple[str, int]:
    """The relationship of one user message and the number of the rule that decided it
    (1-9, see the module docstring). NaN similarities match no similarity rule."""
    if user_idx <= 1:
        return "first", 1
    if (user_idx == 2 and (not prev_reasons or set(prev_reasons) == {SOCIAL})
            and prev_n_chars is not None and prev_n_chars <= rules.opener_chars):
        return "new_request", 2
    reason_set = set(reasons)
    if reason_set == {SOCIAL}:
        return "deepen", 3
    unsatisfied = bool(set(prev_reactions) & UNSATISFIED)
    if (_at_least(sim_prev, rules.retry_sim)
            or (unsatisfied and _at_least(sim_prev, rules.retry_sim_after_dissatisfaction))):
        return "retry", 4
    if unsatisfied and (
            ("style_expectation" in reason_set and _at_least(sim_prev, rules.variant_style_sim))
            or ("context_grounding_and_constraints" in reason_set
                and _at_least(sim_prev, rules.variant_constraint_sim))):
        return "variant", 5
    if "task_reorientation" in reason_set:
        return "new_request", 6
    if "task_motivation" in reason_set and _below(sim_prev, rules.new_motivation_sim):
        return "new_request", 7
    if (n_chars >= rules.new_min_chars and _below(sim_prev, rules.new_prev_sim)
            and _below(sim_task, rules.new_task_sim)):
        return "new_request", 8
    return "deepen", 9


def approximate(features: pd.DataFrame, rules: Rules = DEFAULT_RULES) -> pd.DataFrame:
    """`classify_one` over a `user_turn_features` frame: columns conv_id, turn,
    relationship, rule."""
    out = []
    for r in features.itertuples(index=False):
        rel, rule = classify_one(
            user_idx=int(r.user_idx), n_chars=int(r.n_chars), reasons=tuple(r.reasons),
            prev_n_chars=None if pd.isna(r.prev_n_chars) else int(r.prev_n_chars),
            prev_reasons=tuple(r.prev_reasons), prev_reactions=tuple(r.prev_reactions),
            sim_prev=float(r.sim_prev), sim_task=float(r.sim_task), rules=rules)
        out.append((r.conv_id, int(r.turn), rel, rule))
    return pd.DataFrame(out, columns=["conv_id", "turn", "relationship", "rule"])


# =========================================================================== label file


LABEL_COLUMNS = ("conv_id", "turn", "relationship")
WHAT = "relationship label file"


def normalise_relationship(value: Any) -> str | None:
    """A relationship code from a label value (case, spaces, hyphens and the paper's
    names accepted), or None when it is not one."""
    if not isinstance(value, str):
        return None
    key = "_".join(value.strip().lower().replace("-", " ").split())
    key = ALIASES.get(key, key)
    return key if key in RELATIONSHIPS else None


def _turn_value(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 1 else None
    if isinstance(value, float) and value.is_integer() and value >= 1:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and int(value.strip()) >= 1:
        return int(value.strip())
    return None


def read_relationship_labels(path: Path,
                             roles: Mapping[tuple[str, int], str] | None = None,
                             first_turns: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Rows (line, conv_id, turn, relationship) of a CSV or JSONL relationship label file.

    Args:
        path: the file (``.csv``, ``.tsv``, ``.jsonl``; a header or keys conv_id, turn,
            relationship; turn = ``messages.turn``, 1-based over all messages).
        roles: (conv_id, turn) -> role of every message in the DB; when given, an unknown
            conv_id or turn and a label on an assistant message are errors.
        first_turns: conv_id -> turn of its first user message; when given, ``first`` is
            only allowed there and only ``first`` is allowed there.

    Raises:
        RelationshipError: listing every bad line (file:line: field: what was wrong and
            what was expected), the first 20 in full.
    """
    path = Path(path)
    raw = label_files.read_text(path, WHAT, RelationshipError)
    errors: list[str] = []
    rows = label_files.raw_rows(path, raw, LABEL_COLUMNS, WHAT, RelationshipError, errors)
    conv_turns: dict[str, list[int]] = {}
    for conv_id, turn in (roles or {}):
        conv_turns.setdefault(conv_id, []).append(turn)
    seen: dict[tuple[str, int], int] = {}
    clean: list[dict] = []
    expected = ", ".join(RELATIONSHIPS)
    for row in rows:
        where = f"{path}:{row['line']}"
        if row["_missing"]:
            errors.append(f"{where}: missing field(s) {', '.join(row['_missing'])}; expected "
                          f"{', '.join(LABEL_COLUMNS)}")
            continue
        conv_id = row["conv_id"].strip() if isinstance(row["conv_id"], str) else row["conv_id"]
        if not isinstance(conv_id, str) or not conv_id:
            errors.append(f"{where}: conv_id: empty or not text ({row['conv_id']!r:.40}); "
                          "expected a conversation id such as user804_task2_conversation1")
            continue
        turn = _turn_value(row["turn"])
        if turn is None:
            errors.append(f"{where}: turn: {row['turn']!r:.40} is not a turn; expected a "
                          "positive integer (messages.turn, 1 = the first message)")
            continue
        rel = normalise_relationship(row["relationship"])
        if rel is None:
            errors.append(f"{where}: relationship: {row['relationship']!r:.40} is not a "
                          f"relationship; expected one of {expected}")
            continue
        key = (conv_id, turn)
        if roles is not None:
            if conv_id not in conv_turns:
                errors.append(f"{where}: conv_id: unknown conv_id {conv_id!r} (not in the "
                              "conversations table)")
                continue
            role = roles.get(key)
            if role is None:
                errors.append(f"{where}: turn: {conv_id} has no turn {turn} (it has turns "
                              f"1-{max(conv_turns[conv_id])})")
                continue
            if role != "user":
                users = sorted(t for t in conv_turns[conv_id] if roles[(conv_id, t)] == "user")
                shown = ", ".join(map(str, users[:12])) + (", ..." if len(users) > 12 else "")
                errors.append(f"{where}: turn: turn {turn} of {conv_id} is an {role} message; "
                              f"expected the turn of a user message ({shown})")
                continue
        if first_turns is not None and conv_id in first_turns:
            is_first = first_turns[conv_id] == turn
            if rel == "first" and not is_first:
                errors.append(f"{where}: relationship: 'first' on turn {turn} of {conv_id}; "
                              f"expected only on its first user message (turn "
                              f"{first_turns[conv_id]})")
                continue
            if is_first and rel != "first":
                errors.append(f"{where}: relationship: {rel!r} on the first user message of "
                              f"{conv_id}; expected 'first'")
                continue
        if key in seen:
            errors.append(f"{where}: turn: {conv_id} turn {turn} is listed twice (also on line "
                          f"{seen[key]}); expected one label per user message")
            continue
        seen[key] = row["line"]
        clean.append({"line": row["line"], "conv_id": conv_id, "turn": turn,
                      "relationship": rel})
    label_files.raise_bad_lines(errors, path, WHAT, RelationshipError)
    if not clean:
        raise RelationshipError(f"{path}: no labels found; expected rows with "
                                f"{', '.join(LABEL_COLUMNS)}")
    return pd.DataFrame(clean, columns=["line", "conv_id", "turn", "relationship"])


# =========================================================================== stage


def _file_sha(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        raise RelationshipError(f"{path}: relationship label file not found") from None


def ensure_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Add ``messages.relationship`` / ``relationship_source`` to a DB written before
    schema version 2."""
    for col in ("relationship", "relationship_source"):
        con.execute(f"ALTER TABLE messages ADD COLUMN IF NOT EXISTS {col} VARCHAR")


def _n_unfilled(con: duckdb.DuckDBPyConnection) -> int | None:
    cols = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'messages'"
    ).fetchall()}
    if not {"relationship", "relationship_source"} <= cols:
        return None
    return con.execute("SELECT count(*) FROM messages WHERE role = 'user' AND "
                       "(relationship IS NULL OR relationship_source IS NULL)").fetchall()[0][0]


def stage_relationships(con: duckdb.DuckDBPyConnection, *, settings: Any, log: Log = print,
                        rules: Rules = DEFAULT_RULES, **_: object) -> dict:
    """Fill ``messages.relationship`` and ``relationship_source`` on every user message.

    Skipped when the user messages, their vectors, the thoughts, the rules and the label
    file are unchanged and every user message is filled, unless ``settings.force``.
    """
    if not table_exists(con, "embedded_items") or not table_exists(con, "embeddings"):
        settle(con)
        raise RelationshipError("no embeddings in this DB; run the embed stage first "
                                "(`python -m precompute embed --db ...`)")
    labels_path = Path(settings.relationship_labels) if settings.relationship_labels else None
    model = get_meta(con, "embed_model")
    settle(con)
    signature = con.sql("""
        SELECT list((item_id, text_hash) ORDER BY item_id) FROM embedded_items
        WHERE kind IN ('user_message', 'task')""").fetchall()[0][0]
    messages = con.sql("SELECT list((conv_id, turn, role, n_chars) ORDER BY conv_id, turn) "
                       "FROM messages").fetchall()[0][0]
    thoughts = con.sql("SELECT list((conv_id, turn, kind, label) ORDER BY thought_id) "
                       "FROM thoughts").fetchall()[0][0]
    params = {"rules": asdict(rules), "model": model, "stage_version": STAGE_VERSION,
              "relationship_labels": str(labels_path) if labels_path else None}
    input_hash = hash_inputs(signature, messages, thoughts, params, _file_sha(labels_path))
    prev = stage_record(con, "relationships")
    unfilled = _n_unfilled(con)
    settle(con)
    if (not getattr(settings, "force", False) and prev and prev["input_hash"] == input_hash
            and unfilled == 0):
        return {"skipped": True, "summary": prev["summary"]}

    features = user_turn_features(con)
    result = approximate(features, rules)
    result["relationship_source"] = "approx"
    n_labelled = 0
    if labels_path is not None:
        settle(con)
        roles = {(c, int(t)): r for c, t, r in
                 con.sql("SELECT conv_id, turn, role FROM messages").fetchall()}
        first_turns = {c: int(t) for c, t in features.loc[features["user_idx"] == 1,
                                                          ["conv_id", "turn"]]
                       .itertuples(index=False)}
        labels = read_relationship_labels(labels_path, roles, first_turns)
        n_labelled = len(labels)
        merged = result.merge(labels[["conv_id", "turn", "relationship"]],
                              on=["conv_id", "turn"], how="left", suffixes=("", "_label"))
        has = merged["relationship_label"].notna()
        merged.loc[has, "relationship"] = merged.loc[has, "relationship_label"]
        merged.loc[has, "relationship_source"] = "labels"
        result = merged.drop(columns=["relationship_label"])

    settle(con)
    ensure_columns(con)
    con.execute("UPDATE messages SET relationship = NULL, relationship_source = NULL")
    frame = result[["conv_id", "turn", "relationship", "relationship_source"]]
    con.register("_relationships", frame)
    try:
        con.execute("UPDATE messages SET relationship = r.relationship, "
                    "relationship_source = r.relationship_source FROM _relationships r "
                    "WHERE messages.conv_id = r.conv_id AND messages.turn = r.turn "
                    "AND messages.role = 'user'")
    finally:
        con.unregister("_relationships")
    source = f"labels:{labels_path}" if labels_path else "approx"
    set_meta(con, "relationship_source", source)

    counts = result["relationship"].value_counts()
    total = max(len(result), 1)
    shares = ", ".join(f"{r} {counts.get(r, 0)} ({counts.get(r, 0) / total:.1%})"
                       for r in RELATIONSHIPS)
    summary = f"{len(result)} user messages: {shares}; source {source}"
    if labels_path is not None:
        summary += (f"; {n_labelled} from the label file, {len(result) - n_labelled} "
                    "approximated")
    n_no_vector = int(features["sim_task"].isna().sum())
    if n_no_vector:
        summary += f"; {n_no_vector} without a vector (no similarity rules)"
    params.update({"n_user_messages": len(result), "n_labelled": n_labelled,
                   "rule_counts": {str(k): int(v) for k, v in
                                   result["rule"].value_counts().sort_index().items()}})
    return {"skipped": False, "summary": summary, "input_hash": input_hash, "params": params}
