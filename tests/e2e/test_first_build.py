"""A first build in a real browser: the app opened before its database exists says it is
being built and shows the conversations as soon as the build publishes them, then a page
waiting for the analyses fills in when the final file lands — all without a reload (a
value set in the page's window survives)."""

from __future__ import annotations

import os
import shutil

import pytest

from precompute import pipeline, store
from tests.corpus import build_analysed_db, ingest_db
from tests.e2e.conftest import CHROMIUM
from tests.servers import serve

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]


def _publish(src, db) -> None:
    tmp = db.with_name(f".{db.name}.building-e2e")
    shutil.copyfile(src, tmp)
    os.replace(tmp, db)


def test_first_build_fills_the_open_tab_by_itself(sample_path, tmp_path, chromium):
    from playwright.sync_api import expect

    ingest = tmp_path / "ingest.duckdb"
    ingest_db(sample_path, ingest)
    full = build_analysed_db(sample_path, tmp_path / "full.duckdb")
    db = tmp_path / "first.duckdb"
    status = store.BuildStatus(db, ["source", *pipeline.STAGES])  # a build of this process
    status.stage("ingest")
    with serve(db, tmp_path) as server:
        page = chromium.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(server["url"] + "/")
        expect(page.get_by_role("heading", name="ThoughtTrace Explorer is building its "
                                               "database")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Now: reading the conversations")).to_be_visible()
        page.evaluate("window.__sameTab = true")

        _publish(ingest, db)  # the build publishes the conversations
        status.done("ingest")
        status.published("ingest")
        status.stage("embed")
        metric = page.locator("[data-testid='stMetric']", has_text="Conversations")
        expect(metric).to_contain_text("20", timeout=30_000)
        assert page.evaluate("window.__sameTab") is True  # no reload

        page.click("[data-testid='stSidebarNav'] a[href$='/topics']")
        expect(page.get_by_text("Being built.")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Now: embedding the texts")).to_be_visible()

        _publish(full, db)  # the build's final rename
        status.finish()
        expect(page.locator(".js-plotly-plot svg.main-svg").first).to_be_visible(
            timeout=30_000)
        expect(page.get_by_text("Being built.")).to_have_count(0)
        assert page.evaluate("window.__sameTab") is True
