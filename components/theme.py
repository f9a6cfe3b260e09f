"""One look for every chart: fixed colours per label, kind and domain; a presentation theme.

Colours come from Paul Tol's colour-blind-safe schemes (bright, muted) and Okabe-Ito, so a
label has the same colour on every page and in every exported figure.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

LABEL_COLORS: dict[str, str] = {
    # reasons (Tol bright + grey)
    "task_motivation": "#4477AA",
    "task_continuation": "#66CCEE",
    "task_reorientation": "#AA3377",
    "context_grounding_and_constraints": "#228833",
    "content_expectation": "#CCBB44",
    "style_expectation": "#EE6677",
    "social_and_others": "#BBBBBB",
    # reactions (Tol muted)
    "explicit_affirmation": "#117733",
    "partial_satisfaction": "#DDCC77",
    "content_relevance": "#CC6677",
    "presentation_style": "#882255",
    "scope_fit": "#44AA99",
}

KIND_COLORS: dict[str, str] = {
    "user_message": "#555555",
    "assistant_message": "#999999",
    "reason": "#0072B2",
    "reaction": "#D55E00",
    "task": "#009E73",
}

DOMAIN_COLORS: dict[str, str] = {  # Okabe-Ito
    "Culture & Lifestyle": "#E69F00",
    "Education & Knowledge": "#56B4E9",
    "Business & Society": "#009E73",
    "Health & Relationships": "#CC79A7",
    "Technology": "#0072B2",
    "Arts & Entertainment": "#D55E00",
    "Other Topics": "#999999",
}

#: For categories without a fixed colour (models, clusters): Tol muted, then light.
FALLBACK_SEQUENCE = ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77",
                     "#CC6677", "#882255", "#AA4499", "#77AADD", "#EE8866", "#EEDD88",
                     "#FFAABB", "#99DDFF", "#44BB99", "#BBCC33", "#AAAA00", "#DDDDDD"]

FONT_FAMILY = "Inter, 'Helvetica Neue', Arial, sans-serif"
TEMPLATE_NAME = "thoughttrace"


def color_for(value: str | None, mapping: dict[str, str] | None = None, index: int = 0) -> str:
    """Fixed colour of ``value`` if it has one, else a stable fallback by ``index``."""
    if value is not None:
        for table in (mapping or {}, LABEL_COLORS, DOMAIN_COLORS, KIND_COLORS):
            if value in table:
                return table[value]
    return FALLBACK_SEQUENCE[index % len(FALLBACK_SEQUENCE)]


def _register() -> None:
    template = go.layout.Template()
    template.layout = go.Layout(
        font=dict(family=FONT_FAMILY, size=15, color="#222222"),
        title=dict(font=dict(size=19), x=0.0, xanchor="left", pad=dict(l=12)),
        paper_bgcolor="white", plot_bgcolor="white",
        colorway=FALLBACK_SEQUENCE,
        xaxis=dict(showgrid=False, linecolor="#444444", ticks="outside", automargin=True,
                   title=dict(standoff=8)),
        yaxis=dict(gridcolor="#E5E5E5", zerolinecolor="#CCCCCC", linecolor="#444444",
                   automargin=True, title=dict(standoff=8)),
        legend=dict(bgcolor="rgba(255,255,255,0.8)", font=dict(size=13)),
        hoverlabel=dict(font=dict(size=13)),
        margin=dict(l=10, r=10, t=60, b=10),
    )
    pio.templates[TEMPLATE_NAME] = template


_register()
