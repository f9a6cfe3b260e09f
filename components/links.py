"""One home for every URL the app writes.

Every view is a link: the page's path plus query parameters (the sidebar's filters, see
`components.filters`, and the page's own state). Page paths are pinned here and in
app.py's navigation (``url_path``), so renaming a page file never breaks an old link.
Links inside the app are relative (they keep working behind a proxy under any prefix).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlencode

from components.filters import FILTER_KEYS

#: Page -> its public URL path (the Overview is the app's root).
PAGE_PATHS: dict[str, str] = {
    "overview": "", "conversations": "browser", "thoughts": "thoughts", "turns": "turns",
    "participants": "demographics", "topics": "topics", "shifts": "shifts",
}
#: Page -> (script, title, icon), in navigation order (app.py builds the navigation).
PAGES: dict[str, tuple[str, str, str]] = {
    "overview": ("views/overview.py", "Overview", ":material/dashboard:"),
    "conversations": ("views/conversations.py", "Conversations", ":material/forum:"),
    "thoughts": ("views/thought_types.py", "Thought types & stages",
                 ":material/stacked_bar_chart:"),
    "turns": ("views/turns.py", "Turn by turn", ":material/timeline:"),
    "participants": ("views/participants.py", "Participants", ":material/groups:"),
    "topics": ("views/topics.py", "Topics", ":material/category:"),
    "shifts": ("views/semantic_shifts.py", "Semantic shifts", ":material/scatter_plot:"),
}
#: The page shown for a URL path that is no page of the app.
NOT_FOUND_SCRIPT = "views/not_found.py"
Params = Mapping[str, "Sequence[str] | str"]


def _pairs(params: Params, drop: Iterable[str] = (), keep: Iterable[str] | None = None
           ) -> list[tuple[str, str]]:
    drop, keep = set(drop), (None if keep is None else set(keep))
    out: list[tuple[str, str]] = []
    for key, values in params.items():
        if key in drop or (keep is not None and key not in keep):
            continue
        for v in ([values] if isinstance(values, str) else values):
            out.append((key, str(v)))
    return out


def turn_anchor(turn: int) -> str:
    """The id of a message's heading in the transcript (``#turn-3``)."""
    return f"turn-{int(turn)}"


def conversation_url(params: Params, conv_id: str, turn: int | None = None, *,
                     page: str = PAGE_PATHS["conversations"],
                     keep: Iterable[str] | None = FILTER_KEYS) -> str:
    """Relative link to one conversation (at one turn, with its ``#turn-N`` anchor) on the
    Conversations page, keeping the filters of ``params`` so the linked view is the same
    subset.

    Args:
        params: the current URL parameters (key -> value or values).
        page: the page path; ``""`` for a link within the current page (``?...``).
        keep: the keys of ``params`` to carry over (default: the filters); None keeps
            every key (the transcript's own permalinks keep the list's sort and page).
    """
    items = _pairs(params, drop=("conv", "turn"), keep=keep)
    items.append(("conv", str(conv_id)))
    if turn is not None and turn == turn:  # not None, not NaN
        items.append(("turn", str(int(turn))))
    link = f"{page}?{urlencode(items)}"
    return link + (f"#{turn_anchor(turn)}" if turn is not None and turn == turn else "")


def page_url(page: str, params: Params, **extra: str) -> str:
    """Relative link to ``page`` (a key of `PAGE_PATHS`) on the same subset: the filters
    of ``params`` plus the non-empty ``extra`` parameters (a page's own, e.g. ``view``)."""
    items = _pairs(params, drop=extra, keep=FILTER_KEYS)
    items += [(k, str(v)) for k, v in extra.items() if v]
    return f"{PAGE_PATHS[page]}?{urlencode(items)}"


def view_url(base: str | None, params: Mapping[str, Sequence[str]]) -> str:
    """``base`` (any query string or fragment dropped) + ``params`` (key -> values,
    repeated keys kept): the absolute link to the current view."""
    query = urlencode(_pairs(params))
    base = (base or "").split("?", 1)[0].split("#", 1)[0]
    return f"{base}?{query}" if query else (base or "?")
