"""Command line of the app side: outputs made from a built DB, the way the app makes them.

``python cli.py COMMAND --help``. The precompute pipeline (building the DB) has its own
command line, ``python -m precompute``; this one only reads a DB, read-only:

- ``figures``: the figure pack of a subset (the app's figures, PNG + SVG + index.html);
- ``export``: the subset's data files (conversations as JSONL, thoughts as CSV, and for
  alignment and user modelling preference pairs and simulator records as JSONL).

Filter options take the app's values (as in its URLs) and may be repeated.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from components.filters import FACETS
from precompute.config import db_path_from_env

EPILOG = {
    "figures": """
        Render the figure pack of a built DB for a subset of conversations: overview
        numbers and per-model table, length distribution, domains, reason and reaction
        types, stage dynamics, flows (Sankeys), the semantic-shift panels and the
        participants' age, gender, education and AI-use frequency. Each figure is written
        as PNG (3x) and SVG with a caption line (dataset and version, filters, n, date),
        plus an index.html that shows them with their captions. Each figure is built by
        the same catalogue entry as the app's chart. The DB is opened read-only; figures
        whose tables the DB lacks are skipped with a note.

        example:
          python cli.py figures --db data/thoughttrace.duckdb --out figures/
          python cli.py figures --db data/thoughttrace.duckdb --out figs/gpt \\
              --model GPT-5.4 --model "Claude Opus 4.6" --domain Technology --no-caption
    """,
    "export": """
        Write the data of a subset of conversations, as the Conversations page's export
        buttons do: `conversations` = JSONL in the dataset's original schema (it
        re-ingests to the same conversations, messages and thoughts); `thoughts` = CSV,
        one row per thought with its label, stage, model and topic.

        For alignment and user modelling (JSONL, in input order):
        `pairs` = one record per dissatisfaction reaction (content_relevance,
        presentation_style, scope_fit) whose thought has >= --min-words words, in a
        conversation of --min-messages to --max-messages messages (the paper's Utility 2
        selection: 6, 2, 20): conv_id, turn, context, response, reaction_label, reaction,
        next_user_message, guide, critique. --guide message takes the next user message as
        the critique (the message-guided baseline) and skips records without one.
        `simulator` = one record per user message after the first: conv_id, turn, history
        (the --history messages before it, 6), reasons, previous_reactions, target (the
        paper's Utility 1 set-up). The filters select conversations, as in the app.

        example:
          python cli.py export conversations --db data/thoughttrace.duckdb --out subset.jsonl \\
              --model GPT-5.4 --label scope_fit
          python cli.py export thoughts --db data/thoughttrace.duckdb --out thoughts.csv
          python cli.py export pairs --db data/thoughttrace.duckdb --out pairs.jsonl
          python cli.py export pairs --db data/thoughttrace.duckdb --out pairs_msg.jsonl \\
              --guide message --min-words 8 --max-messages 30 --domain Technology
          python cli.py export simulator --db data/thoughttrace.duckdb --out sim.jsonl \\
              --history 4
    """,
}
EXPORT_FORMATS = ("conversations", "thoughts", "pairs", "simulator")
#: Options of one export format only: option -> (its format, argparse dest).
FORMAT_OPTIONS = {"--guide": ("pairs", "guide"), "--min-words": ("pairs", "min_words"),
                  "--min-messages": ("pairs", "min_messages"),
                  "--max-messages": ("pairs", "max_messages"),
                  "--history": ("simulator", "history")}


def _filter_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("filters (each repeatable; values as in the app)")
    metavars = {"domain": "DOMAIN", "subtopic": "SUBTOPIC", "model": "MODEL",
                "provider": "PROVIDER", "age": "BRACKET", "gender": "GENDER",
                "edu": "EDUCATION", "freq": "1-5"}
    nouns = {"domain": "domain", "subtopic": "subtopic", "model": "model name",
             "provider": "model provider", "age": "age bracket, e.g. 25-34",
             "gender": "gender", "edu": "education", "freq": "AI-use frequency (1-5)"}
    for _, (key, _) in FACETS.items():
        g.add_argument(f"--{key}", action="append", default=[], dest=f"f_{key}",
                       metavar=metavars.get(key, "VALUE"),
                       help=f"{nouns.get(key, key)}; '(missing)' = no value")
    g.add_argument("--label", action="append", default=[], dest="f_label", metavar="CODE",
                   help="only conversations with a thought of this label (any of them)")
    g.add_argument("--msgs", dest="f_msgs", metavar="LO-HI",
                   help="messages per conversation, e.g. 4-20 or 10-")
    g.add_argument("--thoughts", dest="f_thoughts", metavar="LO-HI",
                   help="thoughts per conversation, e.g. 2-")
    g.add_argument("--seq", dest="f_seq", metavar="A>B",
                   help="a thought labelled A, later one labelled B")


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, default=None,
                   help="DuckDB file to read (default: $THOUGHTTRACE_DB or "
                        "data/thoughttrace.duckdb); opened read-only")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python cli.py",
        description="ThoughtTrace Explorer: figures and data files of a subset, from a "
                    "built DB (build one with python -m precompute build).",
        epilog="example:\n  python cli.py figures --db data/thoughttrace.duckdb --out figures/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("figures", help="render the figure pack (PNG + SVG + index.html)",
                       description="render the figure pack (PNG + SVG + index.html) of a "
                                   "built DB for a subset",
                       epilog=textwrap.dedent(EPILOG["figures"]),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _db_option(p)
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="folder for the PNG/SVG files and index.html (created)")
    p.add_argument("--no-caption", action="store_true",
                   help="leave the caption line off the images (index.html keeps it)")
    p.add_argument("--scale", type=int, default=3,
                   help="PNG pixel density (default 3: slides and print)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _filter_options(p)
    p = sub.add_parser("export", help="write a subset's conversations (JSONL), thoughts (CSV), "
                                      "preference pairs or simulator records (JSONL)",
                       description="write the data of a subset of conversations",
                       epilog=textwrap.dedent(EPILOG["export"]),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("format", choices=EXPORT_FORMATS, help="what to write")
    _db_option(p)
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="file to write ('-' for standard output)")
    g = p.add_argument_group("pairs (the paper's Utility 2 selection by default)")
    g.add_argument("--guide", choices=("thought", "message"), default=None,
                   help="the critique: the reaction's thought (default) or the next user "
                        "message (skips records without one)")
    g.add_argument("--min-words", type=int, default=None, metavar="N",
                   help="fewest words in the reaction's thought (default 6)")
    g.add_argument("--min-messages", type=int, default=None, metavar="N",
                   help="fewest messages in the conversation (default 2)")
    g.add_argument("--max-messages", type=int, default=None, metavar="N",
                   help="most messages in the conversation (default 20)")
    g = p.add_argument_group("simulator")
    g.add_argument("--history", type=int, default=None, metavar="N",
                   help="previous messages in each record's history (default 6)")
    _filter_options(p)
    return parser


def _params(args: argparse.Namespace) -> dict:
    return {k[2:]: v for k, v in vars(args).items() if k.startswith("f_") and v not in (None, [])}


def figures_main(args: argparse.Namespace) -> int:
    """The ``figures`` command: the figure pack (see `components.export.pack`)."""
    from components.export.pack import PackError, render_pack

    db = args.db or db_path_from_env()
    try:
        report = render_pack(db, args.out, params=_params(args), caption=not args.no_caption,
                             scale=args.scale, progress=not args.no_progress)
    except PackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for item in report.skipped:
        print(f"skipped {item.key}: {item.skipped}", file=sys.stderr)
    for item in report.failed:
        print(f"failed {item.key}: {item.failed}", file=sys.stderr)
    print(f"wrote {len(report.written)} figures ({report.filters}) to {report.out} in "
          f"{report.seconds:.1f} s; open {report.out / 'index.html'}")
    return 1 if report.failed else 0


def export_main(args: argparse.Namespace) -> int:
    """The ``export`` command: one data file of a subset (see `components.export.data`)."""
    from components.db import check, connect
    from components.export import data
    from components.filters import FilterError, strict_filters
    from components.queries import core

    misplaced = [opt for opt, (fmt, dest) in FORMAT_OPTIONS.items()
                 if fmt != args.format and getattr(args, dest) is not None]
    if misplaced:
        opt = misplaced[0]
        print(f"error: {opt} applies to `export {FORMAT_OPTIONS[opt][0]}` only, not to "
              f"`export {args.format}`", file=sys.stderr)
        return 2
    db = args.db or db_path_from_env()
    status = check(db)
    if not status.ok:
        print(f"error: {status.problem} Build it with: {status.build_command}", file=sys.stderr)
        return 2
    con = connect(db)
    try:
        filters = strict_filters(_params(args), core.facet_options(con))
        options = {dest: getattr(args, dest) for opt, (fmt, dest) in FORMAT_OPTIONS.items()
                   if fmt == args.format and getattr(args, dest) is not None}
        fn = {"conversations": data.export_jsonl, "thoughts": data.export_thoughts_csv,
              "pairs": data.export_pairs, "simulator": data.export_simulator}
        payload = fn[args.format](con, filters, **options)
    except FilterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except data.ExportOptionError as exc:  # named as the option the user typed
        opt = "--" + exc.option.replace("_", "-")
        print(f"error: {opt} {exc.value}: expected {exc.expected}", file=sys.stderr)
        return 2
    finally:
        con.close()
    if str(args.out) == "-":
        sys.stdout.buffer.write(payload)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(payload)
        records = ""
        if args.format in ("pairs", "simulator"):
            n = payload.count(b"\n")
            records = f"{n:,} {'pair' if args.format == 'pairs' else 'record'}" \
                      f"{'' if n == 1 else 's'}, "
        print(f"wrote {args.out} ({records}{len(payload):,} bytes)", file=sys.stderr)
    return 0


COMMANDS = {"figures": figures_main, "export": export_main}


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
