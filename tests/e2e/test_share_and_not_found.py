"""What a new user meets in a real browser: the "Copy link to this view" box holds the view
as it is now (after opening a conversation and clicking Next, the copied link opens that
conversation in a fresh browser); an unknown page path shows the app's own not-found page
with a link to every page (no Streamlit modal); a remote image in a message is not
requested until the reader asks, and the placeholder names its host."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import duckdb
import pytest

from components.links import PAGES
from tests.corpus import ingest_db, write_jsonl
from tests.e2e.conftest import CHROMIUM
from tests.servers import serve

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]
PIXEL_HOST = "tracker.invalid"
IMAGE_CONV = "user990_task1_conversation1"


@pytest.fixture(scope="module")
def server(sample_path, tmp_path_factory):
    """The shared sample plus one conversation whose answer holds a remote image."""
    d = tmp_path_factory.mktemp("share")
    records = [json.loads(line) for line in sample_path.read_text(encoding="utf-8")
               .splitlines() if line.strip()]
    msg = {"id": 1, "timestamp": "2026-04-12T01:00:00Z", "type": "user", "reasons": [],
           "content": "Show me a picture."}
    answer = {"id": 2, "timestamp": "2026-04-12T01:00:05Z", "type": "assistant",
              "reactions": [], "content": f"Here: ![pixel](http://{PIXEL_HOST}/p.gif) done."}
    records.append({"id": IMAGE_CONV, "messages": [msg, answer], "model_name": "GPT-5.4",
                    "model_provider": "OpenAI", "created_at": "2026-04-12T00:00:00Z",
                    "updated_at": "2026-04-12T00:10:00Z", "task_summary": "a picture",
                    "task_expectation": "", "survey_answers": []})
    src = write_jsonl(d / "sample_plus.jsonl", records)
    db = d / "sample.duckdb"
    ingest_db(src, db)
    with serve(db, d) as info:
        yield info


def _first_two(db) -> tuple[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT conv_id FROM conversations ORDER BY conv_id LIMIT 2"
                           ).fetchall()
    return rows[0][0], rows[1][0]


def _ready(page, server):
    from playwright.sync_api import expect
    page.goto(server["url"] + "/")
    expect(page.get_by_text("ThoughtTrace Explorer").first).to_be_visible(timeout=60_000)


def test_the_link_box_holds_the_current_view(server, chromium):
    from playwright.sync_api import expect

    first, second = _first_two(server["db"])
    context = chromium.new_context(viewport={"width": 1440, "height": 1800})
    context.grant_permissions(["clipboard-read", "clipboard-write"],
                              origin=server["url"])
    page = context.new_page()
    _ready(page, server)
    page.goto(f"{server['url']}/browser?conv={first}")
    expect(page.locator(".tt-head")).to_contain_text(first, timeout=60_000)
    page.get_by_role("button", name="Next →").click()
    expect(page.locator(".tt-head")).to_contain_text(second, timeout=60_000)
    page.wait_for_timeout(800)
    page.get_by_role("button", name="Copy link to this view").click()
    box = page.locator("[data-testid='stCode']", has_text="conv=")
    expect(box.first).to_be_visible(timeout=30_000)
    text = box.first.inner_text().strip()
    # the box's copy button copies what the box shows
    box.first.hover()
    page.locator("[data-testid='stCode'] button").first.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == text
    assert parse_qs(urlparse(copied).query)["conv"] == [second]
    # a fresh browser opens the copied link at that conversation
    other = chromium.new_context(viewport={"width": 1440, "height": 1800})
    fresh = other.new_page()
    fresh.goto(copied.strip())
    expect(fresh.locator(".tt-head")).to_contain_text(second, timeout=60_000)
    other.close()
    context.close()


def test_an_unknown_page_shows_our_not_found_page(server, chromium):
    from playwright.sync_api import expect

    page = chromium.new_page(viewport={"width": 1440, "height": 1400})
    _ready(page, server)
    page.goto(server["url"] + "/no-such-page?model=GPT-5.4")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("/no-such-page").first).to_be_visible()
    for _, title, _ in PAGES.values():
        expect(page.locator("[data-testid='stPageLink']", has_text=title).first
               ).to_be_visible()
    assert page.locator("[role='dialog']").count() == 0  # no Streamlit "page not found" modal


def test_remote_images_load_only_when_asked(server, chromium):
    from playwright.sync_api import expect

    page = chromium.new_page(viewport={"width": 1440, "height": 1400})
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    _ready(page, server)
    page.goto(f"{server['url']}/browser?conv={IMAGE_CONV}")
    expect(page.get_by_text(re.compile(f"from {re.escape(PIXEL_HOST)}: not loaded")).first
           ).to_be_visible(timeout=60_000)
    page.wait_for_timeout(1500)
    assert not [u for u in requested if PIXEL_HOST in u]
    page.get_by_role("button", name=re.compile(f"Load the image from {PIXEL_HOST}")).click()
    page.wait_for_timeout(2500)
    assert [u for u in requested if PIXEL_HOST in u]  # now, and only now, asked for
