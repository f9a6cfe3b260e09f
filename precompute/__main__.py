"""Command line of the precompute pipeline: ``python -m precompute COMMAND --help``."""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
import threading
from dataclasses import replace
from pathlib import Path

from precompute.config import Settings, db_path_from_env

EPILOG = {
    "build": """
        Run every stage (ingest, then the analytics stages as they exist) into one DuckDB
        file, written atomically: the old file stays intact until the new one is complete.
        Unchanged stages are skipped on a rerun.

        A first build (no DB file yet, or one that a first build published early and did
        not finish) publishes early: the file appears as soon as the conversations are
        ingested (and again once they are embedded), browsable in the app, and is replaced
        when the analytics are done. A build that fails after that leaves the published
        file; run the same command again to continue from it. A rebuild over a complete
        file never publishes a less complete one. While a build runs, .NAME.build.json
        beside the DB file says which stage it is in (the app reads it).

        example:
          python -m precompute build --source hf --db data/thoughttrace.duckdb
          python -m precompute build --if-needed --db data/thoughttrace.duckdb
          python -m precompute build --source ~/Downloads/ThoughtTrace.jsonl
          python -m precompute build --source demo --db /tmp/demo.duckdb
    """,
    "ingest": """
        Validate the source and write the core tables (conversations, messages, thoughts,
        labels, provenance, ingest_problems, rejected_records). Bad records are reported
        with file, line, field and what was expected, and skipped (or, with --strict, the
        command fails and the DB is left untouched); a bad optional field becomes NULL
        with a warning. An input with no usable record (empty, a JSON array, every line
        bad) fails and leaves the DB untouched.

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
        taxonomy file) by zero-shot similarity of its task text and user messages with
        each subtopic's description, scored per domain with the published domain shares
        as priors, or take them from a label file (CSV or JSONL with conv_id, domain,
        subtopic; several rows per conversation = several labels, the first is primary).
        Writes topic_taxonomy, topic_scores, topic_domain_scores, conversation_topics and
        conversations.domain/subtopic/topic_margin/topic_uncertain. Needs the embed stage.

        example:
          python -m precompute topics --db data/thoughttrace.duckdb
          python -m precompute topics --db /tmp/t.duckdb --taxonomy my_taxonomy.toml
          python -m precompute topics --db /tmp/t.duckdb --topic-labels llm_labels.csv
    """,
    "clusters": """
        Cluster conversation task texts, reasons and reactions (separately) with HDBSCAN
        (the hdbscan package) on a UMAP reduction of their embeddings, and name each
        cluster by key phrases (1-3 words, chosen by embedding similarity to the cluster
        and diversity). Writes clusters (space, cluster_id, name, keywords, size) and
        cluster_members (space, item_id, cluster_id, probability, outlier_score);
        cluster_id -1 = noise. Needs the embed stage.

        example:
          python -m precompute clusters --db data/thoughttrace.duckdb
          python -m precompute clusters --db /tmp/t.duckdb --min-cluster-size 10
    """,
    "relationships": """
        Label how each user message relates to the previous user message (the paper's
        Fig. 4): first, deepen, new_request, retry or variant, into messages.relationship
        (NULL on assistant messages) and messages.relationship_source ('approx' or
        'labels'). The default is a rule-based approximation from the stored embeddings
        (similarity to the previous user message and to the task) and the thought labels;
        a label file (CSV or JSONL with conv_id, turn, relationship; turn =
        messages.turn of a user message) replaces it for the messages it lists. Needs the
        embed stage.

        example:
          python -m precompute relationships --db data/thoughttrace.duckdb
          python -m precompute relationships --db /tmp/t.duckdb --relationship-labels llm.csv
    """,
    "shifts": """
        Place every embedded user message and thought on one 2-D UMAP map (cosine, fixed
        seed), build the paper's three pair sets (consecutive user messages, a message and
        its reason, a reaction and the next user message) with their distances, and the
        metrics per pair type (percentiles of the map distance, centroid distance, MMD²,
        probe AUC). Writes map_points, shift_pairs and shift_metrics. Needs the embed
        stage.

        example:
          python -m precompute shifts --db data/thoughttrace.duckdb
    """,
}

#: Subcommands that run one analytics stage on an existing DB (no --source).
STAGE_COMMANDS = ("embed", "relationships", "topics", "clusters", "shifts")


def _common(p: argparse.ArgumentParser, *, source: bool = True) -> None:
    if source:
        p.add_argument("--source", default=None,
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


def _relationship_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("relationships")
    g.add_argument("--relationship-labels", type=Path, default=None, metavar="FILE",
                   help="CSV or JSONL with conv_id, turn, relationship (first, deepen, "
                        "new_request, retry, variant) that replaces the approximation for "
                        "the user messages it lists")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m precompute",
        description="ThoughtTrace Explorer precompute: load, validate and analyse the "
                    "ThoughtTrace dataset into one DuckDB file that the app reads.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_ in (("build", "run every stage into the DuckDB file"),
                        ("ingest", "validate the source and write the core tables"),
                        ("embed", "embed messages, thoughts and tasks of an existing DB"),
                        ("relationships", "label how each user message relates to the "
                                          "previous one"),
                        ("topics", "assign domains and subtopics to the conversations"),
                        ("clusters", "cluster tasks, reasons and reactions; name clusters"),
                        ("shifts", "the global map, the semantic-shift pairs and metrics")):
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
        if name in ("build", "relationships"):
            _relationship_options(p)
        if name == "build":
            g = p.add_argument_group("publishing")
            g.add_argument("--publish-early", action=argparse.BooleanOptionalAction,
                           default=None,
                           help="publish the ingested (then embedded) state as the DB file "
                                "while the analytics run (default: when the DB file does not "
                                "exist yet or was published early by an unfinished build)")
            g.add_argument("--if-needed", action="store_true",
                           help="build only when the DB file is missing or unfinished (a "
                                "complete file is left as it is); an unfinished one continues "
                                "from the source recorded in it unless --source is given")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    kw: dict = {}
    if hasattr(args, "source"):
        kw.update(source=args.source or "hf", strict=args.strict)
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
    if hasattr(args, "relationship_labels"):
        kw["relationship_labels"] = args.relationship_labels
    if getattr(args, "publish_early", None) is not None:
        kw["publish_early"] = args.publish_early
    return Settings(db=args.db or db_path_from_env(),
                    progress=not args.no_progress and sys.stderr.isatty(), force=args.force,
                    **kw)


def _signature(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def main(argv: list[str] | None = None) -> int:
    from precompute.embed import EmbedError
    from precompute.ingest import IngestError
    from precompute.pipeline import PipelineError, build, db_state, outcome_note
    from precompute.relationships import RelationshipError
    from precompute.sources import SourceError
    from precompute.store import recorded_source
    from precompute.topics import TopicError

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["figures"]:
        print("error: the figure pack is made by the app side now: python cli.py figures "
              "--db DB --out DIR [filters] (see python cli.py figures --help)",
              file=sys.stderr)
        return 2
    args = make_parser().parse_args(argv)
    settings = settings_from_args(args)
    only = None if args.command == "build" else (args.command,)
    if getattr(args, "if_needed", False):
        state = db_state(settings.db)
        if state == "complete":
            print(f"{settings.db} is complete: nothing to build (without --if-needed, "
                  "build rebuilds what changed)")
            return 0
        if state == "partial" and args.source is None:
            settings = replace(settings, source=recorded_source(settings.db) or "hf")
            print(f"{settings.db} was published early by a build that did not finish: "
                  f"continuing it (--source {settings.source})")
    before = _signature(settings.db)
    # `kill` (or `make app` stopping its background build) as Ctrl-C: the build cleans up
    stop = threading.Event()

    def interrupt(signum: int, frame: object) -> None:
        stop.set()  # seen between stages if the KeyboardInterrupt is swallowed (numba)
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    # SIGTERM, and Ctrl-C unless it is ignored (a background job of a shell)
    signals = [signal.SIGTERM] + ([signal.SIGINT] if signal.getsignal(signal.SIGINT)
                                  is signal.default_int_handler else [])
    previous = {sig: signal.signal(sig, interrupt) for sig in signals} if main_thread else {}
    try:
        build(settings, only=only, stop_requested=stop.is_set)
    except (IngestError, SourceError, PipelineError, EmbedError, TopicError,
            RelationshipError) as exc:
        print(f"error: {exc} ({outcome_note(settings.db, before)})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: {outcome_note(settings.db, before)}.", file=sys.stderr)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"wrote {settings.db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
