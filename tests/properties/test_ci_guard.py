"""Under CI=true nothing skips silently (tests/ci_guard.py, issue #17).

A skipped test is reported as a failure with its reason, and a machine that lacks a
prerequisite (shared sample, model package, chromium, haproxy, ...) stops the run before the
first test with the list of what is missing. Without CI=true a skip stays a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import ci_guard

REPO = Path(__file__).resolve().parents[2]


def run_pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_one_skip.py").write_text(
        "import pytest\n\n"
        "def test_runs():\n    assert True\n\n"
        "def test_skips():\n    pytest.skip('no frobnicator here')\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(REPO)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.ci_guard",
         "--rootdir", str(tmp_path), str(tmp_path / "test_one_skip.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_skip_is_a_skip_without_ci(tmp_path):
    proc = run_pytest(tmp_path, ci=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 1 skipped" in proc.stdout


@pytest.mark.skipif(bool(ci_guard.missing_prerequisites()),
                    reason="this machine lacks a prerequisite, so the guard stops the run")
def test_a_skip_fails_under_ci(tmp_path):
    proc = run_pytest(tmp_path, ci="true")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout
    assert "CI=true: this test would have been skipped" in proc.stdout
    assert "no frobnicator here" in proc.stdout


def test_missing_prerequisites_stop_the_run_under_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(ci_guard, "SAMPLE", tmp_path / "nowhere" / "sample.jsonl")
    monkeypatch.setattr(ci_guard.shutil, "which", lambda name: None)
    monkeypatch.setattr(ci_guard, "HAPROXY", tmp_path / "no-haproxy")
    missing = ci_guard.missing_prerequisites()
    assert any("nowhere" in m and "shared/" in m for m in missing)
    assert any(m.startswith("haproxy") for m in missing)
    assert "make" in missing
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.exit.Exception) as stop:
        ci_guard.pytest_sessionstart(None)
    assert "nowhere" in str(stop.value) and stop.value.returncode == 3
    monkeypatch.setenv("CI", "false")
    ci_guard.pytest_sessionstart(None)  # not under CI: no stop, the tests skip one by one
