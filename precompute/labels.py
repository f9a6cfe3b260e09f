"""Thought label sets of the ThoughtTrace dataset (codes as in the data).

The precompute pipeline writes these into the `labels` table; the app reads display names
and meanings from the DB, so a DB is self-describing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    code: str
    kind: str  # 'reason' | 'reaction'
    display: str
    meaning: str
    dissatisfaction: bool = False


REASONS: tuple[Label, ...] = (
    Label("task_motivation", "reason", "Task Motivation & Goal",
          "states the task and the real-world goal behind it"),
    Label("task_continuation", "reason", "Task Continuation",
          "follows up to refine, extend or deepen the same task"),
    Label("task_reorientation", "reason", "Task Reorientation",
          "switches objective or steers to a different outcome"),
    Label("context_grounding_and_constraints", "reason", "Context Grounding & Constraints",
          "adds situation, preferences or constraints"),
    Label("content_expectation", "reason", "Content Expectation",
          "says what substance or level of detail is wanted"),
    Label("style_expectation", "reason", "Style Expectation",
          "says how the answer should be shaped: format, tone, structure"),
    Label("social_and_others", "reason", "Social & Others",
          "greetings, thanks, managing the exchange, meta remarks"),
)

REACTIONS: tuple[Label, ...] = (
    Label("explicit_affirmation", "reaction", "Explicit Affirmation",
          "satisfied, approving or grateful"),
    Label("partial_satisfaction", "reaction", "Partial Satisfaction",
          "helped, but with shortcomings or open issues"),
    Label("content_relevance", "reaction", "Content Relevance",
          "unhappy with what is in it: missing or irrelevant content", True),
    Label("presentation_style", "reaction", "Presentation Style",
          "unhappy with how it is delivered: tone, wording, structure", True),
    Label("scope_fit", "reaction", "Scope Fit",
          "unhappy with how much: length, detail, breadth", True),
)

ALL_LABELS: tuple[Label, ...] = REASONS + REACTIONS
REASON_CODES = frozenset(label.code for label in REASONS)
REACTION_CODES = frozenset(label.code for label in REACTIONS)
DISSATISFACTION_CODES = frozenset(label.code for label in REACTIONS if label.dissatisfaction)

#: Which thought list belongs to which message role.
THOUGHT_FIELD_BY_ROLE = {"user": "reasons", "assistant": "reactions"}
CODES_BY_KIND = {"reason": REASON_CODES, "reaction": REACTION_CODES}
KIND_BY_FIELD = {"reasons": "reason", "reactions": "reaction"}

STAGES: tuple[str, ...] = ("Early", "Mid-Early", "Mid-Late", "Late")


def stage_index(turn: int, n_messages: int) -> int:
    """Stage (0..3) of a message from its relative position in the conversation.

    The relative position of message ``turn`` (1-based) among ``n`` messages is
    ``r = (turn - 1) / (n - 1)`` (0 for a single message), so the first message is at 0 and
    the last at 1; the stage is ``min(3, floor(4 r))``: Early [0, .25), Mid-Early [.25, .5),
    Mid-Late [.5, .75), Late [.75, 1]. Integer arithmetic, so no float edge cases.
    """
    if n_messages <= 1:
        return 0
    return min(3, (4 * (turn - 1)) // (n_messages - 1))


def age_bracket(raw: str | None) -> str | None:
    """Age bracket of a raw survey age, or None when it is not a plausible adult age.

    The release holds garbage such as "2" or "366": those keep their raw text in `age`
    but get no bracket. Plausible means an integer from 13 to 100.
    """
    if raw is None:
        return None
    text = str(raw).strip()
    # ASCII digits only: str.isdigit() accepts "²" and other digits int() rejects; an age
    # has at most three digits (also keeps int() away from huge digit strings)
    if not (text.isascii() and text.isdigit()) or len(text) > 3:
        return None
    age = int(text)
    if age < 13 or age > 100:
        return None
    for upper, name in ((17, "13-17"), (24, "18-24"), (34, "25-34"), (44, "35-44"),
                        (54, "45-54"), (64, "55-64")):
        if age <= upper:
            return name
    return "65+"


AGE_BRACKETS: tuple[str, ...] = ("13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
