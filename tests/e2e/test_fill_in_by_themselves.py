"""What the README says fills in by itself does, in a real browser, with the app's own
timers: no reload (a value set in the page's window survives), no click, no rerun by the
test. tests/ui/test_build_watch.py fires the same timers by hand in AppTest; here the
browser's timers fire them.

- Semantic shifts, a filtered subset: the metrics table shows the subset's percentiles at
  once and "fills in by itself" when MMD and the probe are done (the page's 0.5 s
  fragment). The computation is held back by a gate file until the test opens it (a
  ``sitecustomize`` on the server's PYTHONPATH wraps `components.queries.shifts.metrics`),
  so the page is seen waiting and then filling in, whatever the machine's speed.
- Topics on a DB file without the topics stage and no build running: the page says what to
  run, checks every 10 s (README: "5 s / 10 s otherwise"), and draws its charts when a
  complete file replaces it (an atomic rename, as a build or a copy does).

Both use the demo corpus of the repository (no shared sample needed), every stage built
with the fake embedder (`tests.corpus.build_analysed_db`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from precompute import pipeline
from precompute.config import Settings
from tests.corpus import DEMO, REPO, build_analysed_db, top_model
from tests.e2e.conftest import CHROMIUM
from tests.servers import serve

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]
CHART = ".js-plotly-plot svg.main-svg"
FILTERS = "[data-testid='stSidebar'] h2:has-text('Filters')"

GATE_SITECUSTOMIZE = '''\
"""Test hook (tests/e2e/test_fill_in_by_themselves.py): the subset metrics of the
Semantic shifts page wait until the gate file exists."""
import functools
import os
import time
from pathlib import Path

_gate = Path(os.environ["TT_TEST_METRICS_GATE"])

from components.queries import shifts as _sv  # noqa: E402

_metrics = _sv.metrics


@functools.wraps(_metrics)
def metrics(*args, **kwargs):
    while not _gate.exists():
        time.sleep(0.05)
    return _metrics(*args, **kwargs)


_sv.metrics = metrics
'''


@pytest.fixture(scope="module")
def demo_dbs(tmp_path_factory) -> dict[str, Path]:
    """{'ingest': the demo corpus, ingest only; 'full': every stage}."""
    d = tmp_path_factory.mktemp("fill_in")
    ingest = d / "ingest.duckdb"
    pipeline.build(Settings(source=str(DEMO), db=ingest, progress=False), only=("ingest",),
                   log=lambda _: None)
    return {"ingest": ingest, "full": build_analysed_db(DEMO, d / "full.duckdb")}


def _publish(src: Path, db: Path) -> None:
    tmp = db.with_name(f".{db.name}.building-e2e")
    shutil.copyfile(src, tmp)
    os.replace(tmp, db)


def test_the_subset_metrics_fill_in_by_themselves(demo_dbs, tmp_path, monkeypatch, chromium):
    from urllib.parse import quote_plus

    from playwright.sync_api import expect

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(GATE_SITECUSTOMIZE, encoding="utf-8")
    gate = tmp_path / "metrics.gate"
    monkeypatch.setenv("TT_TEST_METRICS_GATE", str(gate))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hook), str(REPO)]))
    db = tmp_path / "app.duckdb"
    shutil.copyfile(demo_dbs["full"], db)
    model = top_model(db)
    with serve(db, tmp_path) as server:
        page = chromium.new_page(viewport={"width": 1400, "height": 2000})
        page.goto(server["url"] + "/")  # a fresh server: let the router register the pages
        expect(page.get_by_text("ThoughtTrace Explorer").first).to_be_visible(timeout=60_000)
        page.goto(f"{server['url']}/shifts?model={quote_plus(model)}")
        waiting = page.get_by_text("Computing the set-level metrics for this subset")
        expect(waiting).to_be_visible(timeout=60_000)
        expect(page.get_by_text("the set-level metrics are being computed")).to_be_visible()
        page.evaluate("window.__sameTab = true")
        # the page keeps waiting while the computation cannot finish (several polls)
        page.wait_for_timeout(1500)
        expect(waiting).to_be_visible()

        gate.touch()  # the computation may finish now
        expect(page.get_by_text("recomputed for the filtered subset")).to_be_visible(
            timeout=30_000)
        expect(waiting).to_have_count(0)
        assert page.evaluate("window.__sameTab") is True  # no reload
        page.close()


def test_a_page_waiting_for_its_stage_fills_in_when_the_file_is_replaced(
        demo_dbs, tmp_path, chromium):
    from playwright.sync_api import expect

    db = tmp_path / "app.duckdb"
    shutil.copyfile(demo_dbs["ingest"], db)
    with serve(db, tmp_path) as server:
        page = chromium.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(server["url"] + "/")
        expect(page.get_by_text("ThoughtTrace Explorer").first).to_be_visible(timeout=60_000)
        page.goto(server["url"] + "/topics")
        missing = page.get_by_text("built without the topics stage")
        expect(missing).to_be_visible(timeout=60_000)
        expect(page.get_by_text("python -m precompute build --source")).to_be_visible()
        # a new tab's first run is light (components.ui.first_paint) and asks for the full
        # run by itself: wait for it (the sidebar's filters), so that no run but the
        # page's own check can pick up the new file
        expect(page.locator(FILTERS)).to_be_visible(timeout=30_000)
        page.wait_for_timeout(500)
        assert page.locator(CHART).count() == 0
        page.evaluate("window.__sameTab = true")

        _publish(demo_dbs["full"], db)  # no build runs: the 10 s check notices the new file
        expect(page.locator(CHART).first).to_be_visible(timeout=45_000)
        expect(missing).to_have_count(0)
        assert page.evaluate("window.__sameTab") is True
        page.close()
