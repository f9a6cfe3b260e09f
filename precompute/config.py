"""One frozen settings object, read at the edges (CLI arguments, environment) and passed in."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = REPO_ROOT / "data" / "thoughttrace.duckdb"
DEMO_CORPUS = REPO_ROOT / "data" / "demo" / "thoughttrace_demo.jsonl"
HF_REPO = "SCAI-JHU/ThoughtTrace"
HF_FILE = "ThoughtTrace.jsonl"


def db_path_from_env() -> Path:
    """The DB path the app and CLI default to: ``$THOUGHTTRACE_DB`` or data/thoughttrace.duckdb."""
    return Path(os.environ.get("THOUGHTTRACE_DB") or DEFAULT_DB)


@dataclass(frozen=True)
class Settings:
    """Everything a build needs; stages read these fields, never globals or the environment."""

    source: str = "hf"
    db: Path = field(default_factory=db_path_from_env)
    strict: bool = False
    hf_repo: str = HF_REPO
    hf_file: str = HF_FILE
    hub_timeout_s: float = 3.0
    progress: bool = True
    force: bool = False
