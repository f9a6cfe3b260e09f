"""Deep links in a real browser: `streamlit run app.py` on loopback, driven by Debian's
chromium through Playwright. A link to /browser opens a conversation at a turn with its
thoughts; changing a sidebar filter narrows the list and lands in the URL; the export
downloads the filtered conversations."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import duckdb
import pytest

from tests.e2e.conftest import CHROMIUM
from tests.servers import serve

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]


@pytest.fixture(scope="module")
def server(sample_ingest_db, tmp_path_factory):
    """The app serving the shared sample (ingest stage only)."""
    with serve(sample_ingest_db, tmp_path_factory.mktemp("deep_links")) as info:
        yield info


def test_deep_link_transcript_and_sidebar_filter(server, chromium, tmp_path):
    from playwright.sync_api import expect

    con = duckdb.connect(str(server["db"]), read_only=True)
    try:
        conv_id, n_thoughts, model = con.execute(
            "SELECT conv_id, n_thoughts, model_name FROM conversations "
            "WHERE n_messages >= 8 ORDER BY conv_id LIMIT 1").fetchall()[0]
        reason = (con.execute("SELECT content FROM thoughts WHERE conv_id = ? AND turn = 5 "
                              "ORDER BY idx LIMIT 1", [conv_id]).fetchall() or [None])[0]
        other_model, n_other = con.execute(
            "SELECT model_name, count(*) FROM conversations WHERE model_name <> ? "
            "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1", [model]).fetchall()[0]
    finally:
        con.close()

    page = chromium.new_page(viewport={"width": 1400, "height": 2200}, accept_downloads=True)
    # A fresh server runs its first session before st.navigation has ever been
    # called; open the app once so the router is active.
    page.goto(server["url"] + "/")
    expect(page.get_by_text("ThoughtTrace Explorer").first).to_be_visible(timeout=60_000)

    page.goto(f"{server['url']}/browser?conv={conv_id}&turn=5#turn-5")
    expect(page.locator('[data-testid="stChatMessage"]').first).to_be_visible(
        timeout=60_000)
    expect(page.locator(".tt-thought")).to_have_count(n_thoughts, timeout=30_000)
    expect(page.get_by_text("linked turn", exact=True)).to_be_visible()
    expect(page.locator(".tt-head")).to_contain_text(conv_id)
    if reason:
        expect(page.locator(".tt-thought").filter(
            has_text=reason[0][:40]).first).to_be_visible()
    # the linked turn was scrolled into view
    head = page.locator('[data-anchor="turn-5"]')
    expect(head).to_be_in_viewport(timeout=15_000)
    page.screenshot(path=str(tmp_path / "deep_link.png"))

    # change a filter in the sidebar: the list narrows, the URL carries it
    sidebar = page.locator('[data-testid="stSidebar"]')
    box = sidebar.locator('[data-testid="stMultiSelect"]').filter(has_text="Model")
    box.first.click()
    page.keyboard.type(other_model)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(page.get_by_text(f"{n_other} conversations", exact=True).first
           ).to_be_visible(timeout=30_000)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        query = parse_qs(urlparse(page.url).query)
        if query.get("model") == [other_model]:
            break
        time.sleep(0.2)
    assert query.get("model") == [other_model], page.url
    assert query.get("conv") == [conv_id]  # the open conversation stays in the link
    expect(page.get_by_text("outside the current filters")).to_be_visible()
    page.screenshot(path=str(tmp_path / "filtered.png"))
    assert (tmp_path / "filtered.png").stat().st_size > 10_000

    # the export is built on demand (Streamlit's download thread) for the filters
    with page.expect_download(timeout=30_000) as download:
        page.get_by_role("button", name="Export conversations (JSONL)").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == n_other
    assert all(json.loads(line)["model_name"] == other_model for line in lines)
