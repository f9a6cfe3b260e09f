"""Where the JSONL comes from: the Hugging Face Hub, a local file, or the demo corpus.

`resolve_source` turns the user's ``--source`` into a local file plus provenance. The Hub
is probed once with a short timeout (or skipped when ``HF_HUB_OFFLINE=1``) so an offline
machine falls back to the demo corpus in seconds, saying so in one line.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from precompute.config import DEMO_CORPUS, Settings


class SourceError(Exception):
    """The source cannot be used (missing file, wrong extension)."""


@dataclass(frozen=True)
class ResolvedSource:
    kind: str            # 'hf' | 'file' | 'demo'
    path: Path           # local file to read
    label: str           # what the user asked for, as shown in provenance
    fallback_reason: str | None = None

    @property
    def is_demo(self) -> bool:
        return self.kind == "demo"


def _hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def hub_reachable(timeout_s: float) -> tuple[bool, str]:
    """Whether a TCP connection to the Hub endpoint opens within ``timeout_s``."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return False, "HF_HUB_OFFLINE is set"
    url = urlparse(_hub_endpoint())
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True, ""
    except OSError as exc:
        return False, f"{host}:{port} unreachable ({exc.__class__.__name__}: {exc})"


def _cached_hub_file(settings: Settings) -> Path | None:
    from huggingface_hub import hf_hub_download
    try:
        return Path(hf_hub_download(settings.hf_repo, settings.hf_file, repo_type="dataset",
                                    local_files_only=True))
    except Exception:  # noqa: BLE001 - any cache miss means "not cached"
        return None


def _download_hub_file(settings: Settings) -> Path:
    from huggingface_hub import hf_hub_download
    return Path(hf_hub_download(settings.hf_repo, settings.hf_file, repo_type="dataset"))


def resolve_source(settings: Settings, *, log: Callable[[str], None] = print,
                   probe: Callable[[float], tuple[bool, str]] = hub_reachable) -> ResolvedSource:
    """Map ``settings.source`` ('hf', 'demo' or a path) to a local JSONL file."""
    src = settings.source
    if src == "demo":
        return ResolvedSource("demo", DEMO_CORPUS, "demo")
    if src == "hf":
        label = f"hf:{settings.hf_repo}/{settings.hf_file}"
        cached = _cached_hub_file(settings)
        if cached is not None:
            return ResolvedSource("hf", cached, label)
        ok, why = probe(settings.hub_timeout_s)
        if ok:
            try:
                return ResolvedSource("hf", _download_hub_file(settings), label)
            except Exception as exc:  # noqa: BLE001 - any Hub failure falls back, said plainly
                why = f"download failed ({exc.__class__.__name__}: {str(exc)[:200]})"
        reason = f"Cannot reach the Hugging Face Hub for {settings.hf_repo}: {why}"
        log(f"{reason}. Falling back to the DEMO corpus (not ThoughtTrace); to load the real "
            f"data offline, download {settings.hf_file} and use --source PATH.")
        return ResolvedSource("demo", DEMO_CORPUS, label, fallback_reason=reason)
    path = Path(src).expanduser()
    if not (path.name.endswith(".jsonl") or path.name.endswith(".jsonl.gz")):
        raise SourceError(f"{path}: expected a .jsonl or .jsonl.gz file, 'hf' or 'demo'")
    if path.is_dir():
        raise SourceError(f"{path}: is a directory (expected a .jsonl or .jsonl.gz file)")
    if not path.is_file():
        raise SourceError(f"{path}: file not found (expected a .jsonl or .jsonl.gz file)")
    return ResolvedSource("file", path.resolve(), str(path))
