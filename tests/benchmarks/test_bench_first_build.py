"""benchmarks/bench_first_build.py end to end on a tiny corpus: `make app` on a fresh DB
path, the milestones in the order they must come (the server and the early publication
before the Overview shows data, the list after it), the build stopped cleanly."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.corpus import REPO, conversation, write_jsonl
from tests.e2e.conftest import CHROMIUM

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
    pytest.mark.skipif(shutil.which("make") is None, reason="make is missing"),
]


def test_one_run_on_a_tiny_corpus(tmp_path):
    corpus = write_jsonl(tmp_path / "tiny.jsonl", [
        conversation(f"user{i}_task1_conversation1", [(f"question {i}", ["task_motivation"]),
                                                      ("answer", [])]) for i in range(3)])
    out = tmp_path / "first.json"
    subprocess.run([sys.executable, "benchmarks/bench_first_build.py", "--corpus",
                    str(corpus), "--runs", "1", "--out", str(out)], cwd=REPO, check=True,
                   capture_output=True, timeout=300)
    result = json.loads(out.read_text())
    [run] = result["runs"]
    assert run["stopped_cleanly"]
    assert run["server_s"] < run["overview_s"] < run["list_s"]
    assert run["published_s"] < run["overview_s"]  # the data shown is the published file
    assert set(result["results"]) == {"published_s", "server_s", "overview_s", "list_s"}
