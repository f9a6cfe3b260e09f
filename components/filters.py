"""The one filter model shared by every page (no streamlit).

`Filters` is a frozen dataclass of scalars and tuples, so it is hashable (a cache key),
round-trips through URL query parameters, and turns into a parameterised SQL WHERE clause
over `conversations` (alias ``c``). User values are always SQL parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from precompute.labels import DISSATISFACTION_CODES, REACTIONS, REASONS

MISSING = "(missing)"

#: Label groups a sequence filter may name on either side ("@dissatisfaction"), beside
#: single label codes: group token -> (display name, label codes).
LABEL_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "@dissatisfaction": ("any dissatisfaction",
                         tuple(lab.code for lab in REACTIONS
                               if lab.code in DISSATISFACTION_CODES)),
    "@reason": ("any reason", tuple(lab.code for lab in REASONS)),
    "@reaction": ("any reaction", tuple(lab.code for lab in REACTIONS)),
}


def seq_labels(value: str) -> tuple[str, ...]:
    """The label codes a sequence filter side stands for (a group, or one label)."""
    return LABEL_GROUPS[value][1] if value in LABEL_GROUPS else (value,)

#: Multi-select facets: field name -> (URL key, SQL expression over conversations ``{a}``).
FACETS: dict[str, tuple[str, str]] = {
    "domains": ("domain", "{a}.domain"),
    "subtopics": ("subtopic", "{a}.subtopic"),
    "models": ("model", "{a}.model_name"),
    "providers": ("provider", "{a}.model_provider"),
    "age_brackets": ("age", "{a}.age_bracket"),
    "genders": ("gender", "{a}.gender"),
    "educations": ("edu", "{a}.education"),
    "ai_frequencies": ("freq", "CAST({a}.ai_frequency AS VARCHAR)"),
}
#: Range facets: field name prefix -> (URL key, column).
RANGES: dict[str, tuple[str, str]] = {
    "messages": ("msgs", "n_messages"),
    "thoughts": ("thoughts", "n_thoughts"),
}


@dataclass(frozen=True)
class Filters:
    """Which conversations a view covers. Empty tuples / None mean "no restriction"."""

    domains: tuple[str, ...] = ()
    subtopics: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    age_brackets: tuple[str, ...] = ()
    genders: tuple[str, ...] = ()
    educations: tuple[str, ...] = ()
    ai_frequencies: tuple[str, ...] = ()
    messages_min: int | None = None
    messages_max: int | None = None
    thoughts_min: int | None = None
    thoughts_max: int | None = None
    labels_any: tuple[str, ...] = ()
    seq_first: str | None = None
    seq_then: str | None = None
    users: tuple[str, ...] = ()
    certain_topics: bool = False

    @property
    def is_empty(self) -> bool:
        return self == Filters()

    def without(self, name: str) -> Filters:
        """The same filters minus one facet (for "how many would each option leave")."""
        if name in RANGES:
            return replace(self, **{f"{name}_min": None, f"{name}_max": None})
        if name == "sequence":
            return replace(self, seq_first=None, seq_then=None)
        default = next(f.default for f in fields(self) if f.name == name)
        return replace(self, **{name: default})

    # ---- SQL -----------------------------------------------------------------------------
    def where(self, alias: str = "c") -> tuple[str, list]:
        """``(sql, params)``: a WHERE condition (``TRUE`` when empty) over conversations."""
        conds: list[str] = []
        params: list = []
        for name, (_, column) in FACETS.items():
            values = getattr(self, name)
            if not values:
                continue
            col = column.format(a=alias)
            real = [v for v in values if v != MISSING]
            parts = []
            if real:
                parts.append(f"{col} IN ({', '.join('?' for _ in real)})")
                params.extend(real)
            if MISSING in values:
                parts.append(f"{col} IS NULL")
            conds.append("(" + " OR ".join(parts) + ")")
        for name, (_, column) in RANGES.items():
            lo, hi = getattr(self, f"{name}_min"), getattr(self, f"{name}_max")
            if lo is not None:
                conds.append(f"{alias}.{column} >= ?")
                params.append(int(lo))
            if hi is not None:
                conds.append(f"{alias}.{column} <= ?")
                params.append(int(hi))
        if self.labels_any:
            conds.append(f"EXISTS (SELECT 1 FROM thoughts ft WHERE ft.conv_id = {alias}.conv_id "
                         f"AND ft.label IN ({', '.join('?' for _ in self.labels_any)}))")
            params.extend(self.labels_any)
        if self.seq_first and self.seq_then:
            first, then = seq_labels(self.seq_first), seq_labels(self.seq_then)
            conds.append(
                "EXISTS (SELECT 1 FROM thoughts sa JOIN thoughts sb ON sa.conv_id = sb.conv_id "
                "AND (sb.turn > sa.turn OR (sb.turn = sa.turn AND sb.idx > sa.idx)) "
                f"WHERE sa.conv_id = {alias}.conv_id "
                f"AND sa.label IN ({', '.join('?' for _ in first)}) "
                f"AND sb.label IN ({', '.join('?' for _ in then)}))")
            params.extend([*first, *then])
        if self.users:
            conds.append(f"{alias}.user_id IN ({', '.join('?' for _ in self.users)})")
            params.extend(self.users)
        if self.certain_topics:
            conds.append(f"coalesce({alias}.topic_uncertain, FALSE) = FALSE")
        return (" AND ".join(conds) if conds else "TRUE"), params

    # ---- URL -----------------------------------------------------------------------------
    def to_query_params(self) -> dict[str, str | list[str]]:
        out: dict[str, str | list[str]] = {}
        for name, (key, _) in FACETS.items():
            values = getattr(self, name)
            if values:
                out[key] = list(values)
        for name, (key, _) in RANGES.items():
            lo, hi = getattr(self, f"{name}_min"), getattr(self, f"{name}_max")
            if lo is not None or hi is not None:
                out[key] = f"{'' if lo is None else lo}-{'' if hi is None else hi}"
        if self.labels_any:
            out["label"] = list(self.labels_any)
        if self.seq_first and self.seq_then:
            out["seq"] = f"{self.seq_first}>{self.seq_then}"
        if self.users:
            out["user"] = list(self.users)
        if self.certain_topics:
            out["topics"] = "certain"
        return out

    def describe(self, display: Mapping[str, str] | None = None) -> str:
        """A short human-readable summary, e.g. for figure captions."""
        display = display or {}
        parts = []
        for name, (key, _) in FACETS.items():
            values = getattr(self, name)
            if values:
                parts.append(f"{key}: {', '.join(display.get(v, v) for v in values)}")
        for name, (key, _) in RANGES.items():
            lo, hi = getattr(self, f"{name}_min"), getattr(self, f"{name}_max")
            if lo is not None or hi is not None:
                parts.append(f"{key}: {'' if lo is None else lo}–{'' if hi is None else hi}")
        if self.labels_any:
            parts.append("has: " + ", ".join(display.get(v, v) for v in self.labels_any))
        if self.seq_first and self.seq_then:
            parts.append(f"{seq_name(self.seq_first, display)} → "
                         f"{seq_name(self.seq_then, display)}")
        if self.users:
            parts.append(f"user: {', '.join(self.users)}")
        if self.certain_topics:
            parts.append("confident topics only")
        return "; ".join(parts) if parts else "all conversations"


def seq_name(value: str, display: Mapping[str, str] | None = None) -> str:
    """What a sequence side is called: a group's name or a label's display name."""
    if value in LABEL_GROUPS:
        return LABEL_GROUPS[value][0]
    return (display or {}).get(value, value)


FILTER_KEYS = frozenset([k for k, _ in FACETS.values()] + [k for k, _ in RANGES.values()]
                        + ["label", "seq", "user", "topics"])


def _as_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _known(values: list[str], known: set[str], what: str, notices: list[str]
           ) -> tuple[str, ...]:
    """The ``values`` that are ``known`` (each once, in order); a notice names the others."""
    if any(v not in known for v in values):
        notices.append(f"ignored unknown {what} " + ", ".join(
            repr(v[:60]) for v in values if v not in known))
    return tuple(dict.fromkeys(v for v in values if v in known))


def from_query_params(params: Mapping[str, str | Sequence[str]],
                      options: Mapping[str, Iterable[str]]) -> tuple[Filters, list[str]]:
    """Parse URL parameters into Filters, dropping what is invalid or stale.

    Args:
        params: key -> value or list of values (as ``st.query_params.to_dict()`` /
            ``get_all`` give them).
        options: valid values per facet field name (``domains``, ``models``, ...) and for
            ``labels``; values not among them are dropped with a notice.

    Returns:
        The filters and a list of human-readable notices about what was ignored.
    """
    notices: list[str] = []
    kwargs: dict = {}
    for name, (key, _) in FACETS.items():
        if key not in params:
            continue
        valid = set(options.get(name, ())) | {MISSING}
        values = _as_list(params[key])
        good = tuple(dict.fromkeys(v for v in values if v in valid))
        bad = [v for v in values if v not in valid]
        if bad:
            notices.append(f"ignored unknown {key} {', '.join(repr(b[:60]) for b in bad)}")
        if good:
            kwargs[name] = good
    for name, (key, _) in RANGES.items():
        if key not in params:
            continue
        raw = _as_list(params[key])[0]
        lo_s, sep, hi_s = raw.partition("-")
        try:
            if not sep:
                raise ValueError
            lo = int(lo_s) if lo_s.strip() else None
            hi = int(hi_s) if hi_s.strip() else None
            if lo is not None and hi is not None and lo > hi:
                raise ValueError
        except ValueError:
            notices.append(f"ignored {key}={raw[:40]!r} (expected a range like 4-20)")
            continue
        kwargs[f"{name}_min"], kwargs[f"{name}_max"] = lo, hi
    labels = set(options.get("labels", ()))
    if "label" in params:
        good = _known(_as_list(params["label"]), labels, "label", notices)
        if good:
            kwargs["labels_any"] = good
    if "seq" in params:
        raw = _as_list(params["seq"])[0]
        first, sep, then = raw.partition(">")
        sides = labels | set(LABEL_GROUPS)
        if sep and first in sides and then in sides:
            kwargs["seq_first"], kwargs["seq_then"] = first, then
        else:
            notices.append(f"ignored seq={raw[:60]!r} (expected LABEL>LABEL, a label or a "
                           f"group such as @dissatisfaction on either side)")
    if "user" in params:
        good = _known(_as_list(params["user"]), set(options.get("users", ())), "user",
                      notices)
        if good:
            kwargs["users"] = good
    if "topics" in params:
        raw = _as_list(params["topics"])[0]
        if raw == "certain":
            kwargs["certain_topics"] = True
        else:
            notices.append(f"ignored topics={raw[:40]!r} (expected topics=certain)")
    return Filters(**kwargs), notices


class FilterError(ValueError):
    """Filter parameters with a value the DB does not have (command-line options)."""


def strict_filters(params: Mapping[str, str | Sequence[str]],
                   options: Mapping[str, Iterable[str]]) -> Filters:
    """`Filters` from URL-style parameters (``{"model": [...], "msgs": "4-20", ...}``),
    where an unknown or malformed value is an error (a typo must not silently give all the
    data), unlike `from_query_params`, which drops it with a notice.

    Raises:
        FilterError: naming every value that was not understood.
    """
    params = {k: v for k, v in params.items() if v not in (None, [], (), "")}
    filters, notices = from_query_params(params, options)
    if notices:
        raise FilterError("; ".join(n.removeprefix("ignored ") for n in notices)
                          + " (use the values the app's sidebar shows)")
    return filters


# --------------------------------------------------------------------------- comparison

#: URL keys of subset B carry this prefix (``b.model=...``); ``cmp`` says a comparison is
#: on: ``cmp=rest`` (B = every conversation outside A) or ``cmp=subset`` (B = the ``b.``
#: filters).
COMPARE_KEY = "cmp"
B_PREFIX = "b."
#: The facets subset B may be defined with (the sidebar's multiselects and labels).
B_FIELDS: tuple[str, ...] = (*FACETS, "labels_any")
COMPARE_KEYS = frozenset([COMPARE_KEY] + [B_PREFIX + k for k in FILTER_KEYS])


@dataclass(frozen=True)
class Comparison:
    """Subset B of a comparison "A against B", where A is the page's filters.

    ``b`` None: B is every conversation outside A ("all the others"); else B is the
    conversations that ``b`` selects (it may overlap A; the comparison says how much).
    """

    b: Filters | None = None

    @property
    def rest(self) -> bool:
        return self.b is None

    def where_b(self, a: Filters, alias: str = "c") -> tuple[str, list]:
        """SQL condition (and params) selecting B's conversations: for "the others", the
        conversations A does not select (a NULL in A's condition counts as not in A)."""
        if self.b is not None:
            return self.b.where(alias)
        where, params = a.where(alias)
        return f"NOT coalesce(({where}), FALSE)", params

    def to_query_params(self) -> dict[str, str | list[str]]:
        if self.b is None:
            return {COMPARE_KEY: "rest"}
        out: dict[str, str | list[str]] = {COMPARE_KEY: "subset"}
        out.update({B_PREFIX + k: v for k, v in self.b.to_query_params().items()})
        return out

    def describe_b(self, display: Mapping[str, str] | None = None) -> str:
        """What B is, for captions."""
        if self.b is None:
            return "all the other conversations"
        return self.b.describe(display)


def comparison_from_query_params(params: Mapping[str, str | Sequence[str]],
                                 options: Mapping[str, Iterable[str]]
                                 ) -> tuple[Comparison | None, list[str]]:
    """The comparison of a URL (None when ``cmp`` is absent) and notices about what was
    ignored: an unknown ``cmp``, B values the DB does not have, B keys other than the
    facets and labels."""
    if COMPARE_KEY not in params:
        return None, []
    raw = _as_list(params[COMPARE_KEY])[0]
    if raw == "rest":
        return Comparison(), []
    if raw != "subset":
        return None, [f"ignored {COMPARE_KEY}={raw[:30]!r} (expected rest or subset)"]
    allowed = {FACETS[n][0] for n in FACETS} | {"label"}
    b_params = {k[len(B_PREFIX):]: v for k, v in params.items() if k.startswith(B_PREFIX)}
    notices = [f"ignored {B_PREFIX}{k} (subset B takes "
               f"{', '.join(B_PREFIX + a for a in sorted(allowed))})"
               for k in b_params if k not in allowed]
    b, more = from_query_params({k: v for k, v in b_params.items() if k in allowed}, options)
    notices += [n.replace("ignored ", "ignored for B: ", 1) for n in more]
    return Comparison(b), notices


def domain_subtopics(domains: Sequence[str], opts: Mapping[str, Any]) -> list[str]:
    """The subtopics offered for ``domains`` (the primary subtopics of each, in order;
    ``opts`` from `queries.core.facet_options`)."""
    return [s for d in domains for s in opts["subtopics_by_domain"].get(d, [])]


def stray_subtopics(domains: Sequence[str], subtopics: Sequence[str],
                    opts: Mapping[str, Any]) -> list[str]:
    """The chosen ``subtopics`` that are no subtopic of the chosen ``domains`` (none when
    either is empty; ``(missing)`` always fits): subtopics follow the domains, for A in
    the sidebar and for subset B."""
    if not domains or not subtopics:
        return []
    allowed = set(domain_subtopics(domains, opts))
    return [s for s in subtopics if s not in allowed and s != MISSING]
