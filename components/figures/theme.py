"""One look for every chart: fixed colours per label, kind and domain; a presentation theme.

Colours come from Paul Tol's colour-blind-safe schemes (bright, muted) and Okabe-Ito, so a
label has the same colour on every page and in every exported figure.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

from components.vocabulary import END_OF_CONVERSATION, NO_REASON

LABEL_COLORS: dict[str, str] = {
    # The paper's hue families (Jin et al. 2026: reasons and reactions share them), with
    # lightness spread so that each kind stays distinguishable under simulated protan-,
    # deutan- and tritanopia (Machado et al. 2009, severity 1): within a kind the closest
    # pair is >= 20 CIELAB units apart for every vision (tests/figures/test_palette.py).
    "task_motivation": "#1B2F5B",                    # dark navy
    "task_continuation": "#2E8B57",                  # green
    "task_reorientation": "#7CA6CF",                 # steel blue
    "context_grounding_and_constraints": "#A0A0A0",  # grey
    "content_expectation": "#E69F00",                # orange
    "style_expectation": "#9E5A8E",                  # mauve
    "social_and_others": "#D9BF8F",                  # tan
    "explicit_affirmation": "#1B2F5B",               # dark navy
    "partial_satisfaction": "#7CA6CF",               # steel blue
    "content_relevance": "#2E8B57",                  # green
    "presentation_style": "#E69F00",                 # orange
    "scope_fit": "#9E5A8E",                          # mauve
}

#: Flow targets that are not a label (reaction -> reason flows).
SPECIAL_COLORS: dict[str, str] = {NO_REASON: "#DDDDDD", END_OF_CONVERSATION: "#888888"}
#: Node order in flows: the labels, then the special targets.
LABEL_ORDER: tuple[str, ...] = (*LABEL_COLORS, NO_REASON, END_OF_CONVERSATION)

KIND_COLORS: dict[str, str] = {
    "user_message": "#555555",
    "assistant_message": "#999999",
    "reason": "#0072B2",
    "reaction": "#D55E00",
    "task": "#009E73",
}

#: Cluster spaces take the colour of the kind of item they cluster.
SPACE_COLORS: dict[str, str] = {"task": KIND_COLORS["task"], "reason": KIND_COLORS["reason"],
                                "reaction": KIND_COLORS["reaction"]}
#: Noise, '(none)', 'other': what no category claims.
GREY = "#BBBBBB"

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

# Presentation sizes (px at 1x; exports are 1200 px wide, PNG at 3x): readable from the back
# of a lecture hall. Builders use these instead of their own numbers.
BASE_SIZE = 16          # default text
TITLE_SIZE = 22         # figure title (a <sup> subtitle renders at ~70%)
AXIS_TITLE_SIZE = 17
TICK_SIZE = 15
LEGEND_SIZE = 15
TEXT_SIZE = 14          # values printed on bars, node labels, panel titles
NOTE_SIZE = 13          # secondary notes inside the plot (sample notices, ring labels)
CAPTION_SIZE = 13       # the export caption line
LINE_WIDTH = 2.5        # data lines (rings, reference lines, arrows)
AXIS_LINE_WIDTH = 2
TEXT_COLOR = "#222222"
MUTED_COLOR = "#666666"
#: Neutral legend swatch for a trace whose bars carry per-label colours.
NEUTRAL = "#777777"


def label_color(code: str) -> str:
    """The fixed colour of a label code (or of a special flow target); grey otherwise."""
    return LABEL_COLORS.get(code) or SPECIAL_COLORS.get(code, "#999999")


def color_for(value: str | None, mapping: dict[str, str] | None = None, index: int = 0) -> str:
    """Fixed colour of ``value`` if it has one, else a stable fallback by ``index``."""
    if value is not None:
        for table in (mapping or {}, LABEL_COLORS, DOMAIN_COLORS, KIND_COLORS):
            if value in table:
                return table[value]
    return FALLBACK_SEQUENCE[index % len(FALLBACK_SEQUENCE)]


def _axis(**extra) -> dict:
    return dict(linecolor="#444444", linewidth=AXIS_LINE_WIDTH, ticks="outside", ticklen=6,
                tickwidth=AXIS_LINE_WIDTH, tickcolor="#444444", automargin=True,
                tickfont=dict(size=TICK_SIZE),
                title=dict(standoff=10, font=dict(size=AXIS_TITLE_SIZE)), **extra)


def _register() -> None:
    template = go.layout.Template()
    template.layout = go.Layout(
        font=dict(family=FONT_FAMILY, size=BASE_SIZE, color=TEXT_COLOR),
        title=dict(font=dict(size=TITLE_SIZE), x=0.0, xanchor="left", pad=dict(l=12)),
        paper_bgcolor="white", plot_bgcolor="white",
        colorway=FALLBACK_SEQUENCE,
        xaxis=_axis(showgrid=False),
        yaxis=_axis(gridcolor="#E5E5E5", gridwidth=1, zerolinecolor="#CCCCCC"),
        legend=dict(bgcolor="rgba(255,255,255,0.8)", font=dict(size=LEGEND_SIZE)),
        hoverlabel=dict(font=dict(size=14)),
        annotationdefaults=dict(font=dict(size=TEXT_SIZE)),
        margin=dict(l=10, r=10, t=70, b=10),
    )
    template.data.scatter = [go.Scatter(line=dict(width=LINE_WIDTH))]
    template.data.scattergl = [go.Scattergl(line=dict(width=LINE_WIDTH))]
    template.data.bar = [go.Bar(textfont=dict(size=TEXT_SIZE))]
    template.data.sankey = [go.Sankey(textfont=dict(size=TEXT_SIZE, color=TEXT_COLOR))]
    template.data.sunburst = [go.Sunburst(textfont=dict(size=TEXT_SIZE))]
    template.data.treemap = [go.Treemap(textfont=dict(size=TEXT_SIZE))]
    template.data.heatmap = [go.Heatmap(textfont=dict(size=TEXT_SIZE),
                                        colorbar=dict(tickfont=dict(size=TICK_SIZE)))]
    template.data.table = [go.Table(header=dict(font=dict(size=TEXT_SIZE + 1)),
                                    cells=dict(font=dict(size=TEXT_SIZE)))]
    pio.templates[TEMPLATE_NAME] = template


_register()
