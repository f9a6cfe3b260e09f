"""Reading a label file that a user supplies (`--topic-labels`, `--relationship-labels`):
one CSV/TSV with a header, or JSONL with one object per line, UTF-8 (a BOM is fine).

Both importers read the file the same way here and check the values themselves; every
problem names the file, the line and what was expected, and all of them are reported
together (`raise_bad_lines`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

JSON_SUFFIXES = {".jsonl", ".json", ".ndjson"}
TABLE_SUFFIXES = {".csv", ".tsv"}


def read_text(path: Path, what: str, error: type[Exception]) -> str:
    """The file's text; ``error`` (e.g. TopicError) when it is missing or not UTF-8.
    ``what`` names the file in messages ("topic label file")."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc})") from exc


def raw_rows(path: Path, raw: str, columns: Sequence[str], what: str,
             error: type[Exception], errors: list[str]) -> list[dict]:
    """One dict per non-blank record: ``line`` (1-based), each of ``columns`` (None when
    absent) and ``_missing`` (the columns a JSON object lacks). A JSON line that is not an
    object is added to ``errors``; a table without one of ``columns`` in its header, or a
    file of another kind, raises ``error``."""
    rows: list[dict] = []
    suffix = path.suffix.lower()
    names = ", ".join(columns)
    if suffix in JSON_SUFFIXES:
        for lineno, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"{path}:{lineno}: invalid JSON ({exc.msg}); expected one object "
                              f"per line with {names}")
                continue
            if not isinstance(obj, dict):
                errors.append(f"{path}:{lineno}: expected a JSON object with {names}, got "
                              f"{type(obj).__name__}")
                continue
            rows.append({"line": lineno, **{c: obj.get(c) for c in columns},
                         "_missing": [c for c in columns if c not in obj]})
    elif suffix in TABLE_SUFFIXES:
        reader = csv.DictReader(io.StringIO(raw), delimiter="\t" if suffix == ".tsv" else ",")
        header = [(h or "").strip() for h in (reader.fieldnames or [])]
        missing = [c for c in columns if c not in header]
        if missing:
            raise error(f"{path}:1: missing column(s) {', '.join(missing)}; expected a header "
                        f"with {names} (found: {', '.join(header) or 'nothing'})")
        reader.fieldnames = header
        for rec in reader:
            if not any((v or "").strip() for k, v in rec.items()
                       if k is not None and isinstance(v, str)):
                continue
            rows.append({"line": reader.line_num, **{c: rec.get(c) for c in columns},
                         "_missing": []})
    else:
        raise error(f"{path}: expected a .csv, .tsv or .jsonl {what}")
    return rows


def raise_bad_lines(errors: list[str], path: Path, what: str, error: type[Exception]) -> None:
    """Raise ``error`` listing the first 20 of ``errors`` (and how many more) when any."""
    if errors:
        shown = "\n  ".join(errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise error(f"{len(errors)} bad line(s) in {what} {path}:\n  {shown}{more}")
