"""A page opened in a new tab draws its first chart, then the rest by itself
(components.ui.first_paint), in a real browser: the first chart is on screen while the
sidebar's filters are not drawn yet or just after; the filters, the other charts and the
download menus follow without any click, with the link's filters; navigating within the
app afterwards draws pages in full; nothing is requested from another host."""

from __future__ import annotations

from urllib.parse import quote_plus, urlparse

import pytest

from tests.e2e.conftest import CHROMIUM
from tests.servers import serve

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]
CHART = ".js-plotly-plot svg.main-svg"
FILTERS = "[data-testid='stSidebar'] h2:has-text('Filters')"


@pytest.fixture(scope="module")
def server(sample_ingest_db, tmp_path_factory):
    with serve(sample_ingest_db, tmp_path_factory.mktemp("first_paint_e2e")) as info:
        yield info


def test_a_new_tab_shows_its_first_chart_then_the_whole_page(chromium, server):
    page = chromium.new_page()
    outside = []
    host = urlparse(server["url"]).netloc
    page.on("request", lambda r: outside.append(r.url)
            if urlparse(r.url).netloc not in (host, "") and not r.url.startswith("data:")
            else None)
    model = "Gemini 3.1 Pro Preview"  # the shared sample's most frequent model
    page.goto(f"{server['url']}/thoughts?model={quote_plus(model)}")
    page.wait_for_selector(CHART, state="visible", timeout=90_000)
    # the rest comes by itself: the sidebar with the link's filter, more charts, menus
    page.wait_for_selector(FILTERS, timeout=30_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length > 2",
                           timeout=30_000)
    box = page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect']").filter(
        has_text="Model")
    assert model in box.first.inner_text()  # the link's filter, now a widget
    assert page.locator("[data-testid='stPopover']").count() > 2
    assert f"model={quote_plus(model)}" in page.url
    # the hidden button never shows; a later page in the same tab is drawn in full
    assert not page.get_by_text("Draw the rest of the page").is_visible()
    page.click("[data-testid='stSidebarNav'] a[href$='/demographics']")
    page.wait_for_selector("h1:has-text('Participants')", timeout=30_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length > 2",
                           timeout=30_000)
    assert page.locator(FILTERS).is_visible()
    assert outside == []
    page.close()
