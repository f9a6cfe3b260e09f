"""Queries of one participant (the Participants page's "One participant" tab): who is
under the filters (the picker's options), one user's conversations and survey answers,
and their thought-type profile against everyone else's.

Scope: everything about the user is read from their conversations under the sidebar
filters; the sidebar's own user filter only says whom the page is about, so it is left
out (`Filters.without("users")`) both for the user and for the reference. The reference
("everyone else") is every *other* user under those filters: the user is excluded, so a
user is never compared with themselves. Its intervals resample those users whole
(`components.stats`, via `components.queries.thoughts.with_shares`).

The pure functions (`survey_answers`, `conversation_table`, `profile_shares`) take plain
frames; the tests check them against answers counted by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import polars as pl

from components import links, stats
from components.filters import Filters
from components.queries.core import frame
from components.queries.participants import FREQUENCY_LABELS
from components.queries.thoughts import with_shares

#: The two tabs of the Participants page (URL ``view``); links to one participant open
#: the second, with ``pid``.
VIEW_EVERYONE, VIEW_ONE = "Everyone", "One participant"
#: The picker lists at most this many users (most conversations first); any other id can
#: be typed. The full release has 1,058 users: all of them are listed.
MAX_OPTIONS = 1500
#: How the profile's reference and intervals are computed (the figure's subtitle).
PROFILE_METHOD = ("everyone else's share = their thoughts with the label / all their thoughts "
                  "of that kind; " + stats.METHOD)
#: What a missing survey answer shows.
MISSING_ANSWER = "—"
#: Survey fields in display order: column of `conversations` -> question shown.
SURVEY_FIELDS: dict[str, str] = {
    "age": "Age (as answered)",
    "age_bracket": "Age bracket",
    "gender": "Gender",
    "education": "Education",
    "occupation": "Occupation",
    "ai_frequency": "AI-use frequency (1–5)",
    "purposes": "Purposes",
}
CONVERSATION_COLUMNS = (
    "conv_id", "user_id", "created_at", "model_name", "model_provider", "domain", "subtopic",
    "topic_uncertain", "n_messages", "n_thoughts", "n_reasons", "n_reactions",
    "n_dissatisfied", "task_summary", "task_expectation", "has_survey",
    *(c for c in SURVEY_FIELDS))


def _scope(filters: Filters) -> Filters:
    """The filters a participant view reads under: the sidebar's, without its user list."""
    return filters.without("users")


# --------------------------------------------------------------------------- who

def participant_options(con: duckdb.DuckDBPyConnection, filters: Filters,
                        limit: int = MAX_OPTIONS) -> dict[str, Any]:
    """The users under ``filters`` (the sidebar's user filter included), most matching
    conversations first, then by id.

    Returns:
        ``{"users": ids, "n": their conversations under the filters, "models": the
        model(s) each talked to (", "-joined), "total": users under the filters}`` — the
        first three are tuples of at most ``limit`` entries, in order.
    """
    where, params = filters.where("c")
    rows = con.execute(f"""
        SELECT c.user_id, count(*) AS n,
               string_agg(DISTINCT coalesce(c.model_name, '(no model)'), ', '
                          ORDER BY coalesce(c.model_name, '(no model)')) AS models
        FROM conversations c WHERE {where} AND c.user_id IS NOT NULL
        GROUP BY c.user_id ORDER BY n DESC, c.user_id""", params).fetchall()
    kept = rows[:max(0, int(limit))]
    return {"users": tuple(r[0] for r in kept), "n": tuple(int(r[1]) for r in kept),
            "models": tuple(r[2] for r in kept), "total": len(rows)}


def user_conversation_count(con: duckdb.DuckDBPyConnection, user_id: str) -> int:
    """Conversations of ``user_id`` in the whole database, whatever the filters (0 for an
    id that is not in it)."""
    return int(con.execute("SELECT count(*) FROM conversations WHERE user_id = ?",
                           [user_id]).fetchall()[0][0])


def participant_conversations(con: duckdb.DuckDBPyConnection, filters: Filters,
                              user_id: str) -> pl.DataFrame:
    """The conversations of ``user_id`` under ``filters`` (their user filter left out),
    oldest first: `CONVERSATION_COLUMNS` (counts, topic, task texts, survey answers)."""
    where, params = _scope(filters).where("c")
    cols = ", ".join(f"c.{c}" for c in CONVERSATION_COLUMNS)
    return frame(con, f"""
        SELECT {cols} FROM conversations c WHERE {where} AND c.user_id = ?
        ORDER BY c.created_at NULLS LAST, c.conv_id""", [*params, user_id])


# --------------------------------------------------------------------------- survey

def _answer(field: str, value: Any) -> str:
    """One stored answer as shown: ``—`` when missing, the frequency with its label."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING_ANSWER
    if field == "ai_frequency":
        return FREQUENCY_LABELS.get(str(int(value)), str(int(value)))
    text = " ".join(str(value).split())
    return text or MISSING_ANSWER


def survey_answers(convs: pl.DataFrame) -> dict[str, Any]:
    """A user's survey answers from their conversations (`participant_conversations`).

    Answers are stored with each conversation, so they may differ between one user's
    conversations (or be missing in one of them).

    Returns:
        ``{"table": question, answer, differs — one row per `SURVEY_FIELDS` entry, the
        distinct answers in conversation order joined by " / " (``—`` = missing);
        "per_conversation": conversation + one column per question; "differs": the
        questions whose answers differ; "no_survey": conversations without answers}``.
    """
    questions, answers, differs = [], [], []
    per_conv: dict[str, list[str]] = {"conversation": convs["conv_id"].to_list()}
    for field, question in SURVEY_FIELDS.items():
        shown = [_answer(field, v) for v in convs[field].to_list()]
        per_conv[question] = shown
        distinct = list(dict.fromkeys(shown))
        questions.append(question)
        answers.append(" / ".join(distinct) if distinct else MISSING_ANSWER)
        differs.append(len(distinct) > 1)
    has = convs["has_survey"].to_list()
    return {
        "table": pl.DataFrame({"question": questions, "answer": answers, "differs": differs},
                              schema={"question": pl.Utf8, "answer": pl.Utf8,
                                      "differs": pl.Boolean}),
        "per_conversation": pl.DataFrame(per_conv, schema={k: pl.Utf8 for k in per_conv}),
        "differs": [q for q, d in zip(questions, differs) if d],
        "no_survey": [c for c, h in zip(convs["conv_id"].to_list(), has) if not h],
    }


def conversation_table(convs: pl.DataFrame, params: Mapping[str, Sequence[str] | str]
                       ) -> pl.DataFrame:
    """A user's conversations as the page lists them: a link to each (on the
    Conversations page, keeping the filters of ``params``), its task summary, model,
    domain / subtopic and counts."""
    topic = [(" / ".join(v for v in (d, s) if isinstance(v, str)) or MISSING_ANSWER)
             + (" (uncertain)" if u else "")
             for d, s, u in zip(convs["domain"].to_list(), convs["subtopic"].to_list(),
                                convs["topic_uncertain"].to_list())]
    return pl.DataFrame({
        "conversation": [links.conversation_url(params, c) for c in convs["conv_id"]],
        "task summary": [s or "" for s in convs["task_summary"].to_list()],
        "model": convs["model_name"].to_list(),
        "domain / subtopic": topic,
        "messages": convs["n_messages"].to_list(),
        "thoughts": convs["n_thoughts"].to_list(),
        "reasons": convs["n_reasons"].to_list(),
        "reactions": convs["n_reactions"].to_list(),
        "dissatisfied": convs["n_dissatisfied"].to_list(),
        "created": convs["created_at"].to_list(),
    }, schema_overrides={"messages": pl.Int64, "thoughts": pl.Int64, "reasons": pl.Int64,
                         "reactions": pl.Int64, "dissatisfied": pl.Int64}, strict=False)


# --------------------------------------------------------------------------- profile

PROFILE_SCHEMA = {
    "kind": pl.Utf8, "label": pl.Utf8, "display_name": pl.Utf8, "meaning": pl.Utf8,
    "user_id": pl.Utf8, "user_n": pl.Int64, "user_total": pl.Int64, "user_share": pl.Float64,
    "others_n": pl.Int64, "others_total": pl.Int64, "others_share": pl.Float64,
    "ci_lo": pl.Float64, "ci_hi": pl.Float64, "others_users": pl.Int64}


def profile_shares(labels: pl.DataFrame, rows: pl.DataFrame, user_id: str,
                   n_boot: int = stats.N_BOOT, seed: int = stats.SEED) -> pl.DataFrame:
    """A user's share of each label beside everyone else's, from one row per thought.

    Args:
        labels: label, kind, display_name, meaning (every label, in display order).
        rows: one row per thought in scope: user_id, kind, label.
        user_id: the participant; their thoughts are left out of "everyone else".

    Returns:
        One row per label (`PROFILE_SCHEMA`): the user's count, their total of that kind
        and share (null without a thought of the kind); everyone else's count, total and
        pooled share (count / total) with its 95% interval from a bootstrap over the other
        users (``n_boot`` resamples of whole users, `stats.bootstrap_shares`), and the
        number of other users with a thought of that kind.
    """
    mine = rows.filter(pl.col("user_id") == user_id)
    others = with_shares(labels.select("label", "kind", "display_name", "meaning"),
                         rows.filter(pl.col("user_id") != user_id), n_boot, seed)
    user_n = dict(mine.group_by("label").len().iter_rows())
    user_total = dict(mine.group_by("kind").len().iter_rows())
    others_total = dict(rows.filter(pl.col("user_id") != user_id)
                        .group_by("kind").len().iter_rows())
    out = []
    for r in others.iter_rows(named=True):
        tot = int(user_total.get(r["kind"], 0))
        n = int(user_n.get(r["label"], 0))
        out.append({
            "kind": r["kind"], "label": r["label"], "display_name": r["display_name"],
            "meaning": r["meaning"], "user_id": user_id, "user_n": n, "user_total": tot,
            "user_share": n / tot if tot else None, "others_n": int(r["n"] or 0),
            "others_total": int(others_total.get(r["kind"], 0)),
            "others_share": r["share"], "ci_lo": r["ci_lo"], "ci_hi": r["ci_hi"],
            "others_users": int(r["n_users"] or 0)})
    return pl.DataFrame(out, schema=PROFILE_SCHEMA)


def participant_profile(con: duckdb.DuckDBPyConnection, filters: Filters, user_id: str
                        ) -> pl.DataFrame:
    """`profile_shares` of ``user_id`` over the thoughts under ``filters`` (their user
    filter left out)."""
    where, params = _scope(filters).where("c")
    labels = frame(con, "SELECT code AS label, kind, display_name, meaning FROM labels "
                        "ORDER BY sort_order")
    rows = frame(con, f"""
        SELECT c.user_id, t.kind, t.label FROM thoughts t
        JOIN conversations c ON c.conv_id = t.conv_id WHERE {where}""", params)
    return profile_shares(labels, rows, user_id)
