"""One home for the words the app shows: kind and pair names, label display names, the
credit line and the citation.

Label display names and meanings live in the DB's ``labels`` table (a DB is
self-describing); `display_names` turns that table into a lookup. Everything else a page,
a figure or an export writes about the data's vocabulary comes from here.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from precompute.labels import REACTIONS, REASONS

#: The two kinds of thought, in display order.
THOUGHT_KINDS: tuple[str, ...] = ("reason", "reaction")
#: Label codes of each kind, in the labels table's order.
LABELS_BY_KIND: dict[str, tuple[str, ...]] = {
    "reason": tuple(label.code for label in REASONS),
    "reaction": tuple(label.code for label in REACTIONS),
}
#: What an item is, singular ("Reason"), for tables, chips and legends.
KIND_NAMES: dict[str, str] = {
    "user_message": "User message", "assistant_message": "Assistant message",
    "reason": "Reason", "reaction": "Reaction", "task": "Task",
}
#: Titles of a kind's charts ("Reasons").
KIND_TITLES: dict[str, str] = {"reason": "Reasons", "reaction": "Reactions"}
#: The plural noun in running text ("1,234 reasons").
KIND_NOUNS: dict[str, str] = {"reason": "reasons", "reaction": "reactions",
                              "user_message": "user messages"}
#: The three pair types of the semantic-shift view (paper Fig. 5), in display order.
PAIR_TYPES: tuple[str, ...] = ("consecutive", "message_reason", "reaction_next")
PAIR_TITLES: dict[str, str] = {"consecutive": "Consecutive user messages",
                               "message_reason": "Message → its reason",
                               "reaction_next": "Reaction → next message"}

#: Targets of a reaction -> reason flow that are not a label.
NO_REASON = "(no reason given)"
END_OF_CONVERSATION = "(end of conversation)"

DATASET = "ThoughtTrace"
ARXIV = "arXiv 2605.20087"
HF_URL = "huggingface.co/datasets/SCAI-JHU/ThoughtTrace"
LICENCE = "CC-BY-4.0"
#: The credit line under the pages.
CREDIT = f"Data: {DATASET} (Jin et al., 2026, {ARXIV}), {HF_URL}, {LICENCE}."
#: The dataset's name in figure captions: the nine authors by surname.
CAPTION_DATASET = (f"{DATASET} (Jin, Li, Xie, Fang, Li, Longpre, Gu, Chen & Shu 2026, "
                   f"{LICENCE})")
DEMO_CAPTION_DATASET = "ThoughtTrace Explorer demo corpus (synthetic, not ThoughtTrace)"

#: How to cite the dataset (the same entry as README's "Citation and licence" section).
AUTHORS: tuple[str, ...] = (
    "Chuanyang Jin", "Binze Li", "Haopeng Xie", "Cathy Mengying Fang", "Tianjian Li",
    "Shayne Longpre", "Hongxiang Gu", "Maximillian Chen", "Tianmin Shu")
CITATION_BIBTEX = """@article{jin2026thoughttrace,
  title   = {ThoughtTrace: Understanding User Thoughts in Real-World LLM Interactions},
  author  = {Jin, Chuanyang and Li, Binze and Xie, Haopeng and Fang, Cathy Mengying and
             Li, Tianjian and Longpre, Shayne and Gu, Hongxiang and Chen, Maximillian and
             Shu, Tianmin},
  journal = {arXiv preprint arXiv:2605.20087},
  year    = {2026},
  url     = {https://huggingface.co/datasets/SCAI-JHU/ThoughtTrace}
}"""
CITATION_TEXT = (", ".join(AUTHORS[:-1]) + f" and {AUTHORS[-1]} (2026). ThoughtTrace: "
                 f"Understanding User Thoughts in Real-World LLM Interactions. {ARXIV}. "
                 f"Data: {HF_URL}, {LICENCE}.")


def display_names(labels: pl.DataFrame) -> dict[str, str]:
    """Label code -> display name, from the ``labels`` table (as `queries.core.labels`
    returns it)."""
    return dict(zip(labels["code"].to_list(), labels["display_name"].to_list()))


def label_info(labels: pl.DataFrame) -> dict[str, dict[str, str]]:
    """Label code -> {display_name, meaning, kind}, from the ``labels`` table."""
    return {r["code"]: {"display_name": r["display_name"], "meaning": r["meaning"],
                        "kind": r["kind"]} for r in labels.iter_rows(named=True)}


def item_names(display: Mapping[str, str]) -> dict[str, str]:
    """Names of label codes and item kinds together (the map colours by either)."""
    return {**display, **KIND_NAMES}


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``"1 conversation"``, ``"2,155 conversations"``: the noun agrees with the number."""
    word = noun if int(n) == 1 else (plural or noun + "s")
    return f"{int(n):,} {word}"
