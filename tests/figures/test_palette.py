"""The label palette: the paper's hue families (reasons and reactions share them), and
still distinguishable for colour-blind readers.

How it is checked: every colour is passed through the Machado, Oliveira & Fernandes (2009)
simulation of protanopia, deuteranopia and tritanopia at full severity (linear RGB), then
compared in CIELAB: within each kind, the closest pair must stay at least `MIN_DELTA_E`
apart (CIE76) for normal vision and each deficiency. About 10 units is a difference a
reader sees at a glance on a slide; the palette keeps twice that.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from components.figures.theme import LABEL_COLORS
from components.vocabulary import LABELS_BY_KIND

MIN_DELTA_E = 20.0
SIMULATION = {
    "normal": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
#: The paper's hue family of each label (DATASET.md, "More published figures").
HUES = {"task_motivation": "navy", "explicit_affirmation": "navy",
        "task_continuation": "green", "content_relevance": "green",
        "task_reorientation": "steel blue", "partial_satisfaction": "steel blue",
        "content_expectation": "orange", "presentation_style": "orange",
        "style_expectation": "mauve", "scope_fit": "mauve",
        "social_and_others": "tan", "context_grounding_and_constraints": "grey"}


def _linear(hex_color: str) -> np.ndarray:
    c = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear: np.ndarray) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def closest_pair(colours: dict[str, str], vision: str) -> tuple[float, str, str]:
    lab = {k: _lab(np.clip(SIMULATION[vision] @ _linear(c), 0, 1)) for k, c in colours.items()}
    return min((float(np.linalg.norm(lab[a] - lab[b])), a, b)
               for a, b in itertools.combinations(colours, 2))


@pytest.mark.parametrize("kind", ["reason", "reaction"])
@pytest.mark.parametrize("vision", list(SIMULATION))
def test_each_kind_stays_distinguishable(kind, vision):
    colours = {code: LABEL_COLORS[code] for code in LABELS_BY_KIND[kind]}
    delta, a, b = closest_pair(colours, vision)
    assert delta >= MIN_DELTA_E, f"{a} and {b} are {delta:.1f} apart under {vision}"


def test_the_check_fails_for_colours_a_deuteranope_confuses():
    # red and green of equal lightness: distinct for normal vision, not for deuteranopia
    pair = {"red": "#D55E00", "green": "#6A8E00"}
    assert closest_pair(pair, "normal")[0] > MIN_DELTA_E
    assert closest_pair(pair, "deuteranopia")[0] < MIN_DELTA_E


def test_reasons_and_reactions_share_the_paper_hue_families():
    by_hue: dict[str, set[str]] = {}
    for code, hue in HUES.items():
        by_hue.setdefault(hue, set()).add(LABEL_COLORS[code])
    assert all(len(colours) == 1 for colours in by_hue.values())
    assert len({c for cs in by_hue.values() for c in cs}) == len(by_hue)
