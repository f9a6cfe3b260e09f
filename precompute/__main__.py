"""Command line of the precompute pipeline: ``python -m precompute COMMAND --help``."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from precompute.config import Settings, db_path_from_env

EPILOG = {
    "build": """
        Run every stage (ingest, then the analytics stages as they exist) into one DuckDB
        file, written atomically: the old file stays intact until the new one is complete.
        Unchanged stages are skipped on a rerun.

        example:
          python -m precompute build --source hf --db data/thoughttrace.duckdb
          python -m precompute build --source ~/Downloads/ThoughtTrace.jsonl
          python -m precompute build --source demo --db /tmp/demo.duckdb
    """,
    "ingest": """
        Validate the source and write the core tables (conversations, messages, thoughts,
        labels, provenance, ingest_problems, rejected_records). Bad records are reported
        with file, line, field and what was expected, and skipped (or, with --strict, the
        command fails and the DB is left untouched).

        example:
          python -m precompute ingest --source data/demo/thoughttrace_demo.jsonl --db /tmp/t.duckdb
    """,
}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default="hf",
                   help="'hf' (default: SCAI-JHU/ThoughtTrace on the Hugging Face Hub, falls "
                        "back to the demo corpus when the Hub cannot be reached), 'demo', or "
                        "a path to a .jsonl / .jsonl.gz file")
    p.add_argument("--db", type=Path, default=None,
                   help="DuckDB file to write (default: $THOUGHTTRACE_DB or "
                        "data/thoughttrace.duckdb)")
    p.add_argument("--strict", action="store_true",
                   help="fail on the first bad record instead of skipping and reporting it")
    p.add_argument("--force", action="store_true", help="rerun stages even when unchanged")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m precompute",
        description="ThoughtTrace Explorer precompute: load, validate and analyse the "
                    "ThoughtTrace dataset into one DuckDB file that the app reads.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_ in (("build", "run every stage into the DuckDB file"),
                        ("ingest", "validate the source and write the core tables")):
        p = sub.add_parser(name, help=help_, description=help_,
                           epilog=textwrap.dedent(EPILOG[name]),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        _common(p)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings(source=args.source, db=args.db or db_path_from_env(), strict=args.strict,
                    progress=not args.no_progress and sys.stderr.isatty(), force=args.force)


def main(argv: list[str] | None = None) -> int:
    from precompute.ingest import IngestError
    from precompute.pipeline import build
    from precompute.sources import SourceError

    args = make_parser().parse_args(argv)
    settings = settings_from_args(args)
    only = ("ingest",) if args.command == "ingest" else None
    try:
        build(settings, only=only)
    except (IngestError, SourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(f"{settings.db} was not changed.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: {settings.db} was not changed.", file=sys.stderr)
        return 130
    print(f"wrote {settings.db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
