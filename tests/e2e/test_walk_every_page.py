"""A walk over every page in a real browser: `streamlit run app.py` on the shared sample
(all stages, fake embedder and reducer), driven by Debian's chromium through Playwright.

Each page is opened by its URL, waited on until its content is there and the script has
finished, checked for exceptions and the error boundary, and screenshotted into
``artifacts/screenshots/`` (git-ignored). Any browser console error or uncaught page error
fails the test, except the known harmless ones listed in ``HARMLESS``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import pytest

from tests.corpus import REPO
from tests.e2e.conftest import CHROMIUM
from tests.properties.test_hostile_input import ID_XSS, hostile_record
from tests.servers import serve

SHOTS = REPO / "artifacts" / "screenshots"

#: Console messages that are not the app's fault, each with why (checked with re.search).
HARMLESS = [
    # The sandbox has no network: anything Streamlit's frontend fetches from outside
    # (fonts, the component/telemetry hosts) fails to resolve.
    r"net::ERR_NAME_NOT_RESOLVED",
    r"net::ERR_INTERNET_DISCONNECTED",
    # A deep link to a page (/browser, /thoughts, ...) makes the frontend probe for a base
    # URL path under that page first (<page>/_stcore/health, host-config: 404), then it
    # uses the root. Only those two endpoints, only under a page path, only 404.
    r"^Failed to load resource: the server responded with a status of 404 \(Not Found\) "
    r"\[http://127\.0\.0\.1:\d+/[a-z_]+/_stcore/(health|host-config)\]$",
]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]


@pytest.fixture(scope="module")
def full_db(tmp_path_factory) -> Path:
    """The shared sample (or the demo corpus) with every stage, fake model and reducer."""
    from tests.corpus import DEMO, SAMPLE, build_analysed_db

    base = SAMPLE if SAMPLE.exists() else DEMO
    if not base.exists():
        pytest.skip("neither the shared sample nor the demo corpus is present")
    d = tmp_path_factory.mktemp("walk_every_page")
    # the sample plus one conversation whose every text field is an HTML / JS / markdown
    # payload, so the walk also proves the payloads never run in a real browser
    source = d / "sample_plus_hostile.jsonl"
    source.write_bytes(base.read_bytes().rstrip(b"\n") + b"\n"
                       + json.dumps(hostile_record(), ensure_ascii=False).encode() + b"\n")
    return build_analysed_db(source, d / "full.duckdb")


@pytest.fixture(scope="module")
def server(full_db, tmp_path_factory):
    with serve(full_db, tmp_path_factory.mktemp("walk_every_page_server")) as info:
        yield info


def _conversation(db: Path) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT conv_id FROM conversations WHERE n_messages >= 6 "
                           "ORDER BY conv_id LIMIT 1").fetchall()[0][0]
    finally:
        con.close()


def _wait_idle(page, timeout_s: float = 60) -> None:
    """Until the script run is over: Streamlit's status widget ("Running...") is gone and
    no element is stale (greyed out while a rerun is pending)."""
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        stale = page.locator('[data-stale="true"]').count() > 0
        if running or stale:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 0.6:
            return
        time.sleep(0.2)
    raise TimeoutError("the page did not finish running")


PAGES = [
    # (name, path + query, title, a selector that proves the content rendered)
    ("overview", "/", "ThoughtTrace Explorer", '[data-testid="stMetric"]'),
    ("conversations", "/browser?conv={conv}&turn=3#turn-3", "Conversations", ".tt-thought"),
    ("thoughts", "/thoughts", "Thought types & stages", ".js-plotly-plot"),
    ("turns", "/turns", "Turn by turn", ".js-plotly-plot"),
    ("participants", "/demographics", "Participants", ".js-plotly-plot"),
    ("topics", "/topics", "Topics", ".js-plotly-plot"),
    ("shifts", "/shifts", "Semantic shifts", ".js-plotly-plot"),
    # the conversation made of payloads: as markdown, and as escaped text with keyword hits
    ("hostile", "/browser?conv={hostile}", "Conversations", ".tt-head"),
    ("hostile_keyword", "/browser?conv={hostile}&q=alert", "Conversations", "mark.tt-hit"),
]
#: Allowed on the hostile pages only: the payload's markdown image
#: ![img](http://127.0.0.1/x.png), were it requested, would be refused (nothing listens on
#: port 80). Images in dataset markdown load only when the reader clicks for them, so
#: this walk never asks for it; nothing else may happen.
HOSTILE_EXPECTED = [r"^Failed to load resource: net::ERR_CONNECTION_REFUSED "
                    r"\[http://127\.0\.0\.1/x\.png\]$"]


def test_every_page_renders_without_console_errors(server, chromium):
    from urllib.parse import quote

    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    conv = _conversation(server["db"])
    console: list[tuple[str, str, str]] = []  # (page, type, text)
    dialogs: list[tuple[str, str]] = []
    current = {"name": "start"}
    page = chromium.new_page(viewport={"width": 1400, "height": 1800})
    page.on("console", lambda m: console.append(
        (current["name"], m.type, f"{m.text} [{m.location.get('url', '')}]"))
        if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append((current["name"], "pageerror", str(e))))
    page.on("dialog", lambda d: (dialogs.append((current["name"], d.message)), d.dismiss()))
    requests: list[tuple[str, str]] = []  # (page, url): every request the browser makes
    page.on("request", lambda r: requests.append((current["name"], r.url)))
    # a fresh server runs its first session before st.navigation exists: open the app once
    # so the router is active
    page.goto(server["url"] + "/")
    expect(page.get_by_text("ThoughtTrace Explorer").first).to_be_visible(timeout=60_000)
    _wait_idle(page)
    for name, path, title, proof in PAGES:
        current["name"] = name
        page.goto(server["url"] + path.format(conv=conv, hostile=quote(ID_XSS)))
        expect(page.get_by_role("heading", name=title).first).to_be_visible(timeout=60_000)
        expect(page.locator(proof).first).to_be_attached(timeout=60_000)
        _wait_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0, name
        assert page.get_by_text("This view hit an unexpected problem").count() == 0
        if name == "conversations":
            expect(page.locator('[data-testid="stChatMessage"]').first).to_be_visible()
            expect(page.locator(".tt-head")).to_contain_text(conv)
        if name.startswith("hostile"):
            expect(page.locator(".tt-head")).to_contain_text(ID_XSS)
            # no element the payloads name was created, no javascript: link
            assert page.locator('img[src="x"], svg[onload], iframe[src^="javascript"],'
                                ' a[href^="javascript"]').count() == 0
        if name == "hostile_keyword":  # escaped plain text: the payload is visible
            expect(page.get_by_text('<script>alert("x")</script>').first).to_be_attached()
        page.screenshot(path=str(SHOTS / f"{name}.png"))
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000
        if name == "topics":  # the sidebar's link box opens on a click, with its URL
            page.get_by_role("button", name="Copy link to this view").click()
            box = page.locator("[data-testid='stCode']", has_text="/topics")
            expect(box.first).to_be_visible(timeout=30_000)
            page.keyboard.press("Escape")
        if name == "shifts":  # the map is the other tab: a click draws it, the URL
            # says so (a link to it), and the centred gaps are no longer drawn
            expect(page.locator(".gtitle", has_text="Semantic shift")).to_have_count(1)
            page.get_by_role("tab", name="Global map").click()
            expect(page.locator(".gtitle", has_text="Global map")).to_be_visible(
                timeout=60_000)
            _wait_idle(page)
            assert "view=Global+map" in page.url, page.url
            expect(page.locator(".gtitle", has_text="Semantic shift")).to_have_count(0)
            page.screenshot(path=str(SHOTS / "shifts_map.png"))
    assert dialogs == []  # no payload ever ran
    # no request leaves the app: no font CDN for the page icon, no remote image from the
    # data, no telemetry (data: and blob: URLs are the page's own)
    app_host = urlparse(server["url"]).netloc
    outside = [(name, url) for name, url in requests
               if not url.startswith(("data:", "blob:")) and urlparse(url).netloc != app_host]
    assert outside == []
    assert page.locator("text=Deploy").count() == 0  # the toolbar has no Deploy button
    bad = [c for c in console if not any(re.search(h, c[2]) for h in HARMLESS) and not (
        c[0].startswith("hostile") and any(re.search(h, c[2]) for h in HOSTILE_EXPECTED))]
    assert bad == [], bad
    log = server["log"].read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]

