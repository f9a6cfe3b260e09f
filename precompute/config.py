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
DEFAULT_TAXONOMY = REPO_ROOT / "data" / "taxonomy.toml"


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
    # publish the ingested (then embedded) state at `db` while the analytics run; None:
    # when `db` does not exist yet or is an unfinished early publication (store.is_partial)
    publish_early: bool | None = None
    # embed stage
    embed_model: str = "all-MiniLM-L6-v2"  # bundled offline copy; other names/paths as is
    device: str = "auto"                   # 'auto' = cuda when torch sees a GPU, else cpu
    embed_assistant: bool = False          # also embed assistant messages (long, slow)
    batch_size: int = 64
    prune_embeddings: bool = False         # drop cached vectors no current item uses
    # topics stage
    topic_labels: Path | None = None       # CSV/JSONL conv_id,domain,subtopic overriding
    taxonomy: Path = DEFAULT_TAXONOMY
    topic_match: str = "description"       # embed the subtopic 'description' or 'full' text
    topic_min_score: float = 0.25          # multi-label: score >= max(min, best - margin)
    topic_margin: float = 0.05
    topic_temperature: float = 0.03        # softmax temperature of the domain scores
    topic_margin_threshold: float = 0.033  # topic_uncertain = margin below it (0.03 * ln 3)
    # clusters stage
    cluster_reduce: str = "auto"           # 'auto' (UMAP from 15 items) | 'umap' | 'none'
    cluster_min_size: int | None = None    # None: 1% of the items, within 5..50
    cluster_min_samples: int | None = None  # None: min(5, min cluster size)
    # relationships stage
    relationship_labels: Path | None = None  # CSV/JSONL conv_id,turn,relationship
