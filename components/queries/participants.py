"""Queries of the Participants page: survey answers of the filtered conversations counted
per conversation and per user, with occupation normalisation and keyword groups over the
free-text purposes. Missing and invalid answers are categories of their own."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import duckdb
import polars as pl

from components.filters import MISSING, Filters
from components.queries.core import frame
from precompute.labels import AGE_BRACKETS

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


#: The paper's groupings (Jin et al. 2026, Fig. 2), the default of the Participants page;
#: ours above and the raw answers (normalised) are one toggle away ("detailed").
GROUPINGS = {"paper": "the paper's groupings", "detailed": "our finer groupings"}
PAPER_PURPOSE_GROUPS: dict[str, tuple[str, ...]] = {
    "Learning": ("learn", "study", "studi", "school", "homework", "assignment", "understand",
                 "explain", "tutor", "exam", "educat", "course", "class", "universit"),
    "Working": ("work", "job", "productiv", "business", "office", "career", "professional",
                "task", "client", "meeting"),
    "Brainstorming": ("brainstorm", "idea", "creativ", "inspir", "generat"),
    "Research": ("research", "search", "information", "info.", "look up", "looking up",
                 "looking for", "question", "fact", "news", "knowledge", "tip.", "tips."),
    "Coding": ("cod", "program", "debug", "software", "python", "java", "script", "develop",
               "sql", "excel"),
    "Planning": ("plan", "schedul", "organi", "decision", "decid", "travel", "trip",
                 "budget"),
    "Writing": ("writ", "edit", "email", "e-mail", "essay", "proofread", "grammar", "summar",
                "paraphras", "letter", "text"),
    "Translation": ("translat", "language"),
}
#: Paper gender groups: (group, regex over the normalised answer), first match wins.
PAPER_GENDER = (("Male", r"^(male|man|m|cis ?(male|man)|boy)$"),
                ("Female", r"^(female|woman|f|cis ?(female|woman)|girl)$"),
                ("Non-binary", r"non[- ]?binary|^nb$|enby|genderqueer|gender ?fluid"))
#: Paper education groups (undergraduate first: "undergraduate" contains "graduate").
PAPER_EDUCATION = (("Undergrad", r"under ?grad|bachelor|college|universit|associate|"
                                 r"\bbsc\b|\bba\b|\bbs\b"),
                   ("Graduate", r"graduate|master|ph\.? ?d|doctor|mba|\bmsc\b|\bma\b|"
                                r"\bms\b|postgrad"),
                   ("High school", r"high ?school|secondary|\bged\b|a[- ]level|diploma"))
PAPER_OTHER = "Other"
#: The survey's AI-use frequency scale as the paper labels it (5 first).
FREQUENCY_LABELS = {"5": "5 (Many times a day)", "4": "4 (Once a day)", "3": "3 (Once a week)",
                    "2": "2 (A couple of times)", "1": "1 (Never)"}
#: Occupations the paper shows (its top 8).
PAPER_TOP_OCCUPATIONS = 8


def _keyword_regex(keywords: Sequence[str]) -> re.Pattern:
    parts = [re.escape(k[:-1]) + r"\b" if k.endswith(".") else re.escape(k) for k in keywords]
    return re.compile(r"\b(?:" + "|".join(parts) + ")")


_PURPOSE_RE = {group: _keyword_regex(kws) for group, kws in PURPOSE_GROUPS.items()}
_PAPER_PURPOSE_RE = {g: _keyword_regex(kws) for g, kws in PAPER_PURPOSE_GROUPS.items()}
_PAPER_RE = {"gender": [(g, re.compile(rx)) for g, rx in PAPER_GENDER],
             "education": [(g, re.compile(rx)) for g, rx in PAPER_EDUCATION]}


def paper_group(field: str, text: object) -> str:
    """The paper's group of a gender or education answer: ``(missing)`` for no answer,
    ``Other`` when none of the paper's groups matches."""
    key = normalise_text(text)
    if key is None:
        return MISSING
    return next((g for g, rx in _PAPER_RE[field] if rx.search(key)), PAPER_OTHER)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def normalise_text(value: object) -> str | None:
    """Case- and whitespace-insensitive key of a free-text answer (None when empty):
    lower case, runs of whitespace collapsed, surrounding spaces and end punctuation cut."""
    if _blank(value):
        return None
    text = re.sub(r"\s+", " ", str(value)).strip().strip(" .,;:!").strip()
    return text.lower() or None


def purpose_groups(text: object, grouping: str = "detailed") -> list[str]:
    """Keyword groups a purposes answer falls in (possibly several; ``grouping`` "paper"
    for the paper's 8 groups, "detailed" for ours); ``["(missing)"]`` for an empty answer
    and ``["(no group matched)"]`` when none matches."""
    key = normalise_text(text)
    if key is None:
        return [MISSING]
    table = _PAPER_PURPOSE_RE if grouping == "paper" else _PURPOSE_RE
    groups = [g for g, rx in table.items() if rx.search(key)]
    return groups or [NO_GROUP]


def age_category(age: object, bracket: object) -> str:
    """Age bracket; ``(no valid age)`` for an answer that is not a plausible age
    (garbage such as 2 or 366), ``(missing)`` for no answer."""
    if isinstance(bracket, str) and bracket:
        return bracket
    return MISSING if normalise_text(age) is None else NO_VALID_AGE


def _display_variants(raw: Sequence[object], keys: Sequence[str | None]) -> dict[str, str]:
    """Per normalised key, the most frequent trimmed original spelling (ties: one starting
    with a capital but not all capitals, then alphabetical)."""
    counts: Counter = Counter()
    for value, key in zip(raw, keys):
        if key is None or _blank(value):
            continue
        trimmed = re.sub(r"\s+", " ", str(value)).strip(" .,;:!")
        counts[(key, trimmed)] += 1
    best: dict[str, tuple] = {}
    for (key, text), n in counts.items():
        rank = (-n, not (text[:1].isupper() and not text.isupper()), text)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, text)
    return {k: _prettify(text) for k, (_, text) in best.items()}


def _prettify(text: str) -> str:
    """Sentence-case an all-lower answer and a shouted one ("STUDENT"; acronyms of up to
    four letters such as "CEO" stay)."""
    if text.islower():
        return text[:1].upper() + text[1:]
    if text.isupper() and len(text) > 4:
        return text.capitalize()
    return text


CATEGORY_SCHEMA = {"conv_id": pl.Utf8, "user_id": pl.Utf8, "category": pl.Utf8}


def categorise(rows: pl.DataFrame, field: str, top_n: int = 15,
               grouping: str = "detailed") -> pl.DataFrame:
    """One row per (conversation, category) of a survey field (purposes may give several).

    Args:
        rows: conversations with conv_id, user_id, age, age_bracket, gender, education,
            occupation, ai_frequency, purposes.
        field: a key of `FIELDS`.
        top_n: for occupation, the number of most frequent (normalised) values kept; the
            rest become ``other`` (the paper's grouping keeps its top 8).
        grouping: "paper" — the paper's groups (gender Male / Female / Non-binary /
            Other, education Graduate / Undergrad / High school / Other, the 8 purpose
            groups, frequency labelled "5 (Many times a day)" ...); "detailed" — the
            normalised answers and our purpose groups.

    Returns:
        conv_id, user_id, category.
    """
    if field not in FIELDS:
        raise ValueError(f"unknown field {field!r}")
    if grouping not in GROUPINGS:
        raise ValueError(f"unknown grouping {grouping!r}")
    conv, user = rows["conv_id"].to_list(), rows["user_id"].to_list()
    if field == "age":
        cats = [age_category(a, b) for a, b in zip(rows["age"].to_list(),
                                                   rows["age_bracket"].to_list())]
    elif field == "ai_frequency":
        cats = [MISSING if v is None else str(int(v)) for v in rows["ai_frequency"].to_list()]
        if grouping == "paper":
            cats = [FREQUENCY_LABELS.get(c, c) for c in cats]
    elif field == "purposes":
        out = [(c, u, g) for c, u, v in zip(conv, user, rows["purposes"].to_list())
               for g in purpose_groups(v, grouping)]
        return pl.DataFrame(out, schema=CATEGORY_SCHEMA, orient="row")
    elif grouping == "paper" and field in ("gender", "education"):
        cats = [paper_group(field, v) for v in rows[field].to_list()]
    else:
        if grouping == "paper" and field == "occupation":
            top_n = PAPER_TOP_OCCUPATIONS
        raw = rows[field].to_list()
        keys = [normalise_text(v) for v in raw]
        display = _display_variants(raw, keys)
        cats = [MISSING if k is None else display.get(k, k) for k in keys]
        if field == "occupation":
            ranked = Counter(c for c in cats if c != MISSING)
            keep = {c for c, _ in sorted(ranked.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]}
            cats = [c if c == MISSING or c in keep else OTHER for c in cats]
    return pl.DataFrame({"conv_id": conv, "user_id": user, "category": cats},
                        schema=CATEGORY_SCHEMA)


COUNT_SCHEMA = {"category": pl.Utf8, "conversations": pl.Int64, "users": pl.Int64,
                "share": pl.Float64}


def count_categories(cats: pl.DataFrame, field: str, n_conversations: int | None = None,
                     by: str = "conversations") -> pl.DataFrame:
    """Conversations and users per category (from `categorise`), in display order:
    natural for age and frequency, else by ``by`` (conversations or users), largest
    first; ``other``, ``Other``, ``(no group matched)``, ``(no valid age)`` and
    ``(missing)`` last. Every category is kept."""
    if cats.is_empty():
        return pl.DataFrame(schema=COUNT_SCHEMA)
    cats = cats.with_columns(pl.col("category").fill_null(MISSING))
    df = cats.group_by("category").agg(conversations=pl.col("conv_id").n_unique(),
                                       users=pl.col("user_id").n_unique())
    n = n_conversations if n_conversations is not None else cats["conv_id"].n_unique()
    df = df.with_columns(pl.col("conversations").cast(pl.Int64), pl.col("users").cast(pl.Int64),
                         share=pl.col("conversations") / max(n, 1))
    tail = [OTHER, PAPER_OTHER, NO_GROUP, NO_VALID_AGE, MISSING]
    present = set(df["category"].to_list())
    if field in ("age", "ai_frequency"):  # the full scale, zeros included
        if field == "age":
            order = list(AGE_BRACKETS)
        elif any(c in FREQUENCY_LABELS.values() for c in present):
            order = list(FREQUENCY_LABELS.values())   # the paper's, 5 first
        else:
            order = ["1", "2", "3", "4", "5"]
        absent = [c for c in order if c not in present]
        if absent:
            df = pl.concat([df.select(list(COUNT_SCHEMA)), pl.DataFrame(
                {"category": absent, "conversations": [0] * len(absent),
                 "users": [0] * len(absent), "share": [0.0] * len(absent)},
                schema=COUNT_SCHEMA)])
    else:
        body = df.filter(~pl.col("category").is_in(tail)).sort(
            [by, "category"], descending=[True, False])
        order = body["category"].to_list()
    rank = {c: i for i, c in enumerate(order + tail)}
    df = df.with_columns(_r=pl.Series([rank.get(c, len(order) - 0.5)
                                       for c in df["category"].to_list()]))
    return df.sort(["_r", "category"]).drop("_r").select(list(COUNT_SCHEMA))


def participants(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Survey answers of the filtered conversations (one row per conversation)."""
    where, params = filters.where("c")
    return frame(con, f"""
        SELECT c.conv_id, c.user_id, c.has_survey, c.age, c.age_bracket, c.gender,
               c.education, c.occupation, c.ai_frequency, c.purposes
        FROM conversations c WHERE {where} ORDER BY c.conv_id""", params)


def participant_counts(con: duckdb.DuckDBPyConnection, filters: Filters, field: str,
                       top_n: int = 15, grouping: str = "detailed") -> dict:
    """``{"counts": category, conversations, users, share; "conversations": n;
    "users": n; "no_survey": conversations without survey answers; "distinct": number
    of distinct normalised values (occupation, gender, education)}`` for one survey
    field."""
    return summary(participants(con, filters), field, top_n, grouping)


def summary(rows: pl.DataFrame, field: str, top_n: int, grouping: str = "detailed") -> dict:
    """`participant_counts` of the participant ``rows`` already read."""
    cats = categorise(rows, field, top_n, grouping)
    distinct = None
    if field in ("occupation", "gender", "education"):
        distinct = len({k for k in map(normalise_text, rows[field].to_list()) if k})
    no_survey = int((~rows["has_survey"].fill_null(False)).sum())
    return {"counts": count_categories(cats, field, rows.height,
                                       "users" if grouping == "paper" else "conversations"),
            "conversations": rows.height, "users": rows["user_id"].n_unique(),
            "no_survey": no_survey, "distinct": distinct}


def participant_counts_all(con: duckdb.DuckDBPyConnection, filters: Filters,
                           top_n: int = 15, grouping: str = "detailed") -> dict[str, dict]:
    """`participant_counts` of every field in `FIELDS`, reading the participants once."""
    rows = participants(con, filters)
    return {field: summary(rows, field, top_n, grouping) for field in FIELDS}


def keyword_groups_table(grouping: str = "detailed") -> pl.DataFrame:
    """The purpose keyword groups and their keywords (for an explanation on the page)."""
    groups = PAPER_PURPOSE_GROUPS if grouping == "paper" else PURPOSE_GROUPS
    return pl.DataFrame({"group": list(groups),
                         "keywords (word starts; “.” = whole word)":
                             [", ".join(k) for k in groups.values()]})
