"""One home for the numbers the ThoughtTrace paper publishes (Jin et al. 2026, arXiv
2605.20087, full release), for the comparison views. Values read off a figure by eye are
marked approximate where they are shown."""

from __future__ import annotations

PUBLISHED_SOURCE = "published (Jin et al. 2026, full release)"

#: Thought-type shares, within each kind; each kind sums to 1.
SHARES: dict[str, dict[str, float]] = {
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

#: Stage dynamics (Early, Mid-Early, Mid-Late, Late; % of that stage's thoughts of the
#: kind), all 12 series of the paper's alluvial figure. Their binning rule is not
#: published, so compare with care.
STAGE_SHARES: dict[str, tuple[float, float, float, float]] = {
    "task_motivation": (0.57, 0.41, 0.18, 0.27),
    "task_continuation": (0.04, 0.20, 0.36, 0.26),
    "social_and_others": (0.23, 0.05, 0.08, 0.15),
    "context_grounding_and_constraints": (0.06, 0.16, 0.16, 0.12),
    "content_expectation": (0.05, 0.12, 0.16, 0.13),
    "style_expectation": (0.04, 0.05, 0.05, 0.06),
    "task_reorientation": (0.01, 0.01, 0.01, 0.01),
    "explicit_affirmation": (0.67, 0.69, 0.76, 0.79),
    "content_relevance": (0.12, 0.13, 0.11, 0.10),
    "presentation_style": (0.09, 0.07, 0.05, 0.05),
    "scope_fit": (0.09, 0.07, 0.04, 0.04),
    "partial_satisfaction": (0.03, 0.04, 0.04, 0.02),
}
#: Which of those values were read off the figure by eye (±1 point): (label, stage index).
STAGE_SHARES_APPROX: frozenset[tuple[str, int]] = frozenset(
    {("task_reorientation", i) for i in range(4)}
    | {("partial_satisfaction", 0), ("partial_satisfaction", 3)})

#: Semantic shift (Fig. 5): 25th/50th/75th percentile of the map distance per pair type.
SHIFT_PERCENTILES: dict[str, tuple[float, float, float]] = {
    "consecutive": (0.38, 1.96, 6.89), "message_reason": (0.77, 3.71, 6.94),
    "reaction_next": (3.93, 6.62, 9.75)}
SHIFT_NOTE = ("published (text-embedding-3-large, their UMAP; compare ordering, "
              "not values)")

#: Multi-turn relationship of each user message to the previous user message (Fig. 4,
#: labelled by an LLM in the paper), over all user turns (they add up to 99.9%).
RELATIONSHIP_SHARES: dict[str, float] = {
    "first": 0.252, "deepen": 0.570, "new_request": 0.125, "retry": 0.029, "variant": 0.023}

#: The Fig. 4 flow Start -> user turn 2 -> user turn 3 -> horizon, as shares of all
#: conversations that started (each step sums to about 1; the paper rounds to whole %).
#: ``ended_after_k``: the conversation has k user turns; ``four_plus``: 4 or more. The
#: horizon's ended_after_2 / ended_after_1 are the turn-3 values carried forward.
RELATIONSHIP_FLOW: dict[str, dict[str, float]] = {
    "turn_2": {"deepen": 0.59, "new_request": 0.24, "retry": 0.03, "variant": 0.02,
               "ended_after_1": 0.13},
    "turn_3": {"deepen": 0.60, "new_request": 0.07, "retry": 0.03, "variant": 0.02,
               "ended_after_2": 0.16, "ended_after_1": 0.13},
    "horizon": {"four_plus": 0.55, "ended_after_3": 0.17, "ended_after_2": 0.16,
                "ended_after_1": 0.13},
}

#: Domain shares (multi-label), in the paper's order.
DOMAIN_SHARES: dict[str, float] = {
    "Culture & Lifestyle": 0.371, "Education & Knowledge": 0.191,
    "Business & Society": 0.148, "Health & Relationships": 0.145, "Technology": 0.066,
    "Arts & Entertainment": 0.049, "Other Topics": 0.031}


def domain_shares_text() -> str:
    """The published domain shares as one line ("Culture & Lifestyle 37.1% · …")."""
    return " · ".join(f"{d} {v:.1%}" for d, v in DOMAIN_SHARES.items())


#: Conversation length (paper Fig. 3a): % of conversations by total messages, read off the
#: figure by eye (±1 point; all approximate). Bins as the paper's; 22–28 is not published.
LENGTH_BINS: tuple[str, ...] = ("2", "4", "6", "8", "10", "12", "14", "16", "18", "20",
                                "22–28", "30+")
LENGTH_REFERENCE: dict[str, tuple[float | None, ...]] = {
    "ThoughtTrace (paper)": (13, 16, 17, 18, 14, 9, 5, 3, 2, 2, None, 0),
    "WildChat": (60, 15, 8, 5, 3, 2, 1.6, 1.1, 0.8, 0.6, None, 0.9),
    "LMSYS-Chat-1M": (67, 15, 7, 4, 2.3, 1.5, 1.0, 0.7, 0.5, 0.3, None, 0.7),
}
LENGTH_MEDIANS = {"ThoughtTrace (paper)": 8, "WildChat": 2, "LMSYS-Chat-1M": 2}

#: Alignment data (the paper's Utility 2): assistant turns with a dissatisfaction reaction
#: gave 1,000 thought-guided preference pairs; guided by the messages, the same turns
#: surfaced ~2.2x fewer dissatisfactions (450).
DISSATISFACTION_THOUGHT_GUIDED = 1000
DISSATISFACTION_MESSAGE_GUIDED = 450


def length_bin(n_messages: int) -> str:
    """The paper's length bin of a conversation with ``n_messages`` messages: an even count
    rounds up (3 -> "4"), 21–29 is "22–28", 30 and more "30+"."""
    n = int(n_messages)
    if n >= 30:
        return "30+"
    if n > 20:
        return "22–28"
    return str(max(2, n + (n % 2)))
