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
    "embed": """
        Embed every user message, every thought (reasons and reactions) and every
        conversation's task text (task summary + first user message) of an existing DB into
        the tables embeddings (text_hash, model, vector FLOAT[d], a cache: only texts whose
        hash is missing are embedded) and embedded_items (item_id, kind, conv_id, turn,
        thought_id, label, text_hash). Does not re-read the source. The default model,
        all-MiniLM-L6-v2, is bundled and runs offline.

        example:
          python -m precompute embed --db data/thoughttrace.duckdb
          python -m precompute embed --db /tmp/t.duckdb --embed-assistant --device cuda
          python -m precompute embed --db /tmp/t.duckdb --model /models/my-sbert --prune
    """,
    "topics": """
        Assign each conversation a domain and subtopic (7 domains, 36 subtopics from the
        taxonomy file) by zero-shot similarity of its task text with each subtopic's
        description, or take them from a label file (CSV or JSONL with conv_id, domain,
        subtopic; several rows per conversation = several labels, the first is primary).
        Writes topic_taxonomy, topic_scores, conversation_topics and
        conversations.domain/subtopic. Needs the embed stage.

        example:
          python -m precompute topics --db data/thoughttrace.duckdb
          python -m precompute topics --db /tmp/t.duckdb --taxonomy my_taxonomy.toml
          python -m precompute topics --db /tmp/t.duckdb --topic-labels llm_labels.csv
    """,
    "clusters": """
        Cluster conversation task texts, reasons and reactions (separately) with HDBSCAN on a
        UMAP reduction of their embeddings, and name each cluster by its top c-TF-IDF
        keywords. Writes clusters (space, cluster_id, name, keywords, size) and
        cluster_members (space, item_id, cluster_id, probability); cluster_id -1 = noise.
        Needs the embed stage.

        example:
          python -m precompute clusters --db data/thoughttrace.duckdb
          python -m precompute clusters --db /tmp/t.duckdb --min-cluster-size 10
    """,
    "figures": """
        Render the figure pack of a built DB for a subset of conversations: overview
        numbers and per-model table, length distribution, domains, reason and reaction
        types, stage dynamics, flows (Sankeys), the semantic-shift panels and the
        participants' age, gender, education and AI-use frequency. Each figure is written
        as PNG (3x) and SVG with a caption line (dataset and version, filters, n, date),
        plus an index.html that shows them with their captions. The DB is opened
        read-only; figures whose tables the DB lacks are skipped with a note. Filter
        options take the app's values (as in its URLs) and may be repeated.

        example:
          python -m precompute figures --db data/thoughttrace.duckdb --out figures/
          python -m precompute figures --db data/thoughttrace.duckdb --out figs/gpt \\
              --model GPT-5.4 --model "Claude Opus 4.6" --domain Technology --no-caption
    """,
}

#: Subcommands that run one analytics stage on an existing DB (no --source).
STAGE_COMMANDS = ("embed", "topics", "clusters")


def _common(p: argparse.ArgumentParser, *, source: bool = True) -> None:
    if source:
        p.add_argument("--source", default="hf",
                       help="'hf' (default: SCAI-JHU/ThoughtTrace on the Hugging Face Hub, "
                            "falls back to the demo corpus when the Hub cannot be reached), "
                            "'demo', or a path to a .jsonl / .jsonl.gz file")
    p.add_argument("--db", type=Path, default=None,
                   help="DuckDB file to write (default: $THOUGHTTRACE_DB or "
                        "data/thoughttrace.duckdb)")
    if source:
        p.add_argument("--strict", action="store_true",
                       help="fail on the first bad record instead of skipping and reporting it")
    p.add_argument("--force", action="store_true", help="rerun stages even when unchanged")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _embed_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("embedding")
    g.add_argument("--model", default="all-MiniLM-L6-v2",
                   help="sentence-transformers model name or local folder (default: "
                        "all-MiniLM-L6-v2, bundled, works offline)")
    g.add_argument("--device", default="auto",
                   help="torch device: auto (cuda if available, else cpu), cpu, cuda, mps")
    g.add_argument("--embed-assistant", action="store_true",
                   help="also embed assistant messages (long texts: several times slower)")
    g.add_argument("--batch-size", type=int, default=64, help="texts per batch (default 64)")
    g.add_argument("--prune", action="store_true",
                   help="delete cached vectors that no item of this build uses")


def _topic_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("topics")
    g.add_argument("--topic-labels", type=Path, default=None, metavar="FILE",
                   help="CSV or JSONL with conv_id, domain, subtopic that overrides the "
                        "zero-shot topics of the conversations it lists")
    g.add_argument("--taxonomy", type=Path, default=None, metavar="FILE",
                   help="taxonomy TOML (default: data/taxonomy.toml)")


def _cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("clusters")
    g.add_argument("--min-cluster-size", type=int, default=None,
                   help="HDBSCAN min_cluster_size (default: 1%% of the items, within 5..50)")
    g.add_argument("--cluster-reduce", choices=("auto", "umap", "none"), default="auto",
                   help="reduce with UMAP before HDBSCAN: auto (UMAP from 15 items on), umap, none")


def _figures_options(p: argparse.ArgumentParser) -> None:
    from components.filters import FACETS

    p.add_argument("--db", type=Path, default=None,
                   help="DuckDB file to read (default: $THOUGHTTRACE_DB or "
                        "data/thoughttrace.duckdb); opened read-only")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="folder for the PNG/SVG files and index.html (created)")
    p.add_argument("--no-caption", action="store_true",
                   help="leave the caption line off the images (index.html keeps it)")
    p.add_argument("--scale", type=int, default=3,
                   help="PNG pixel density (default 3: slides and print)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = p.add_argument_group("filters (each repeatable; values as in the app)")
    metavars = {"domain": "DOMAIN", "subtopic": "SUBTOPIC", "model": "MODEL",
                "provider": "PROVIDER", "age": "BRACKET", "gender": "GENDER",
                "edu": "EDUCATION", "freq": "1-5"}
    nouns = {"domain": "domain", "subtopic": "subtopic", "model": "model name",
             "provider": "model provider", "age": "age bracket, e.g. 25-34",
             "gender": "gender", "edu": "education", "freq": "AI-use frequency (1-5)"}
    for name, (key, _) in FACETS.items():
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


def figures_main(args: argparse.Namespace) -> int:
    """The ``figures`` command: the figure pack (see `components.figure_pack`)."""
    from components.figure_pack import PackError, render_pack

    params = {k[2:]: v for k, v in vars(args).items()
              if k.startswith("f_") and v not in (None, [])}
    db = args.db or db_path_from_env()
    try:
        report = render_pack(db, args.out, params=params, caption=not args.no_caption,
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


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m precompute",
        description="ThoughtTrace Explorer precompute: load, validate and analyse the "
                    "ThoughtTrace dataset into one DuckDB file that the app reads.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_ in (("build", "run every stage into the DuckDB file"),
                        ("ingest", "validate the source and write the core tables"),
                        ("embed", "embed messages, thoughts and tasks of an existing DB"),
                        ("topics", "assign domains and subtopics to the conversations"),
                        ("clusters", "cluster tasks, reasons and reactions; name clusters")):
        p = sub.add_parser(name, help=help_, description=help_,
                           epilog=textwrap.dedent(EPILOG[name]),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        _common(p, source=name not in STAGE_COMMANDS)
        if name in ("build", "embed"):
            _embed_options(p)
        if name in ("build", "topics"):
            _topic_options(p)
        if name in ("build", "clusters"):
            _cluster_options(p)
    p = sub.add_parser("figures", help="render the figure pack (PNG + SVG + index.html)",
                       description="render the figure pack (PNG + SVG + index.html) of a "
                                   "built DB for a subset",
                       epilog=textwrap.dedent(EPILOG["figures"]),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _figures_options(p)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    kw: dict = {}
    if getattr(args, "source", None) is not None:
        kw.update(source=args.source, strict=args.strict)
    if hasattr(args, "model"):
        kw.update(embed_model=args.model, device=args.device,
                  embed_assistant=args.embed_assistant, batch_size=args.batch_size,
                  prune_embeddings=args.prune)
    if hasattr(args, "topic_labels"):
        kw["topic_labels"] = args.topic_labels
        if args.taxonomy is not None:
            kw["taxonomy"] = args.taxonomy
    if hasattr(args, "min_cluster_size"):
        kw.update(cluster_min_size=args.min_cluster_size, cluster_reduce=args.cluster_reduce)
    return Settings(db=args.db or db_path_from_env(),
                    progress=not args.no_progress and sys.stderr.isatty(), force=args.force,
                    **kw)


def main(argv: list[str] | None = None) -> int:
    from precompute.embed import EmbedError
    from precompute.ingest import IngestError
    from precompute.pipeline import PipelineError, build
    from precompute.sources import SourceError
    from precompute.topics import TopicError

    args = make_parser().parse_args(argv)
    if args.command == "figures":
        return figures_main(args)
    settings = settings_from_args(args)
    only = None if args.command == "build" else (args.command,)
    try:
        build(settings, only=only)
    except (IngestError, SourceError, PipelineError, EmbedError, TopicError) as exc:
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
