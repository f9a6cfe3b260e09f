"""Primary domains of the real model against our reading of the paper's domains.

tests/data/sample_domains.csv holds, for each of the 20 conversations of the shared
sample, the domain (one of the paper's 7) that we judged a reader of the paper would
give it, written down before the domain-scoring method was run (``note`` says where a
second reading exists). The demo corpus, written by us to match the previous taxonomy,
is a sanity check only.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from tests.corpus import REPO as REPO_ROOT

DOMAINS = ["Culture & Lifestyle", "Education & Knowledge", "Business & Society",
           "Health & Relationships", "Technology", "Arts & Entertainment", "Other Topics"]
SAMPLE_DOMAINS = Path(__file__).resolve().parents[1] / "data" / "sample_domains.csv"
#: Measured with all-MiniLM-L6-v2 (the only miss: user369_task2, a laptop purchase we
#: read as Technology, given Culture & Lifestyle / Shopping & Products).
MEASURED_AGREEMENT = 19


def sample_domains(path: Path = SAMPLE_DOMAINS) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as f:
        return {r["conv_id"]: r["domain"] for r in csv.DictReader(f)}


def predicted(db: Path) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(con.execute("SELECT conv_id, domain FROM conversations").fetchall())
    finally:
        con.close()


def confusion(expected: dict[str, str], got: dict[str, str]) -> Counter:
    """(expected, predicted) -> number of conversations."""
    return Counter((d, got.get(c)) for c, d in expected.items())


def render(matrix: Counter) -> str:
    head = "expected \\ predicted".ljust(24) + " ".join(d[:5].rjust(5) for d in DOMAINS)
    rows = [e.ljust(24) + " ".join(str(matrix[(e, p)] or ".").rjust(5) for p in DOMAINS)
            for e in DOMAINS]
    return "\n".join([head, *rows])


def test_sample_labels_file_is_complete(sample_path):
    import json
    ids = [json.loads(line)["id"] for line in sample_path.read_text(encoding="utf-8")
           .splitlines() if line.strip()]
    labels = sample_domains()
    assert sorted(labels) == sorted(ids)
    assert set(labels.values()) <= set(DOMAINS)


@pytest.mark.model
def test_primary_domain_agrees_with_our_reading_of_the_paper(sample_db):
    expected, got = sample_domains(), predicted(sample_db)
    matrix = confusion(expected, got)
    agree = sum(n for (e, p), n in matrix.items() if e == p)
    assert agree >= MEASURED_AGREEMENT, (
        f"{agree}/{len(expected)} agree, measured {MEASURED_AGREEMENT}\n{render(matrix)}")
    # no domain absorbs most of the misses (the old rule sent its misses to the domain
    # with the most subtopics)
    misses = Counter(p for (e, p), n in matrix.items() if e != p for _ in range(n))
    n_miss = sum(misses.values())
    assert all(n <= max(1, n_miss // 2) for n in misses.values()), render(matrix)


@pytest.mark.model
def test_margin_and_uncertainty_are_consistent(sample_db):
    con = duckdb.connect(str(sample_db), read_only=True)
    threshold = float(con.execute("SELECT value FROM meta WHERE key = 'topic_margin_threshold'"
                                  ).fetchone()[0])
    rows = con.execute("""
        SELECT c.conv_id, c.domain, c.topic_margin, c.topic_uncertain,
               list(d.score ORDER BY d.rank), list(d.domain ORDER BY d.rank),
               sum(d.probability)
        FROM conversations c JOIN topic_domain_scores d USING (conv_id)
        GROUP BY ALL""").fetchall()
    con.close()
    assert len(rows) == 20
    for conv, domain, margin, uncertain, scores, domains, prob in rows:
        assert domains[0] == domain and len(domains) == 7, conv
        assert margin == pytest.approx(scores[0] - scores[1]), conv
        assert uncertain == (margin < threshold), conv
        assert prob == pytest.approx(1.0)
    assert sum(r[3] for r in rows) <= 5   # most conversations are clear-cut


def demo_expected_domains(readme: Path = REPO_ROOT / "data" / "demo" / "README.md"
                          ) -> dict[str, str]:
    """conv_id -> intended domain, from the table in the demo corpus README."""
    if not readme.is_file():
        return {}
    out = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|", line)
        if m and m.group(2) in DOMAINS:
            out[m.group(1)] = m.group(2)
    return out


@pytest.mark.model
def test_demo_corpus_sanity(demo_db):
    """Sanity only: the demo was written to match the previous taxonomy (where fitness was
    Culture & Lifestyle); measured 25/30."""
    expected = demo_expected_domains()
    assert expected, "the demo README lost its intended-domain table"
    assert len(expected) == 30
    matrix = confusion(expected, predicted(demo_db))
    agree = sum(n for (e, p), n in matrix.items() if e == p)
    assert agree >= 24, f"{agree}/30\n{render(matrix)}"
