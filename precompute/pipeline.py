"""Composes the precompute stages in order, inside one atomic DuckDB write.

Reads like a recipe: resolve source -> ingest -> embed -> relationships -> topics ->
clusters -> shifts.
Each stage logs one line with its time and is skipped when its recorded input hash is
unchanged (unless ``force``). ``build(only=...)`` without ingest works on the DB's existing
core tables and does not resolve (or read) the source at all.

Publishing early (``Settings.publish_early``; by default when the DB file does not exist
yet or is an unfinished early publication): after ingest, and again after embed, the
state so far is published at the target (`store.publish_snapshot`) while the remaining
stages run, so the app can show the conversations within seconds of a first build
starting. A state is published only when it is newer than the target and holds no table
of a later stage (a copy of an older file may still hold stale ones), so a rebuild over
a complete file never publishes a less complete one. A build that fails after publishing
leaves the published file, and the next build continues from it (its stages are skipped
by their input hashes).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

import duckdb

from precompute import __version__
from precompute.config import Settings
from precompute.ingest import ingest_lines
from precompute.sources import ResolvedSource, resolve_source
from precompute.store import (
    BUILD_COMPLETE,
    SCHEMA_VERSION,
    BuildStatus,
    atomic_db,
    get_meta,
    hash_inputs,
    is_partial,
    publish_snapshot,
    record_stage,
    set_meta,
    stage_record,
    table_exists,
    write_core,
)

Log = Callable[[str], None]


class PipelineError(Exception):
    """The requested stages cannot run on this DB (for example: no core tables yet)."""


@dataclass
class BuildReport:
    source: ResolvedSource | None = None
    stages: dict[str, dict] = field(default_factory=dict)  # name -> {seconds, skipped, summary}
    ingest_summary: str = ""
    published: list[str] = field(default_factory=list)  # stages after which it published early


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "thoughttrace-explorer": __version__}
    for pkg in ("duckdb", "pandas", "sentence-transformers", "torch", "umap-learn",
                "scikit-learn"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out



def stage_ingest(con: duckdb.DuckDBPyConnection, *, settings: Settings,
                 source: ResolvedSource, log: Log, **_: object) -> dict:
    """Validate the source file and (re)write the core tables when its content changed."""
    from precompute.ingest import read_lines

    lines, sha = read_lines(source.path)
    input_hash = hash_inputs(sha, settings.strict, SCHEMA_VERSION, source.kind, source.label)
    prev = stage_record(con, "ingest")
    if (not settings.force and prev and prev["input_hash"] == input_hash
            and table_exists(con, "conversations")):
        return {"skipped": True, "summary": prev["summary"]}
    # an input with no usable record (empty, a JSON array, every line bad) raises here,
    # inside atomic_db, so it never replaces the DB
    result = ingest_lines(lines, file=source.path.name, input_sha256=sha,
                          strict=settings.strict, progress=settings.progress,
                          require_records=True)
    for problem in result.problems[:20]:
        log(f"  {problem.severity}: {problem}")
    if len(result.problems) > 20:
        log(f"  ... and {len(result.problems) - 20} more (table ingest_problems)")
    write_core(con, result, {
        "source_kind": source.kind, "source": source.label, "source_file": str(source.path),
        "fallback_reason": source.fallback_reason, "is_demo": source.is_demo,
        "strict": settings.strict, "tool_version": __version__, "versions": versions(),
    })
    return {"skipped": False, "summary": result.summary(), "input_hash": input_hash,
            "params": {"strict": settings.strict, "source": source.label}}


def stage_embed(con: duckdb.DuckDBPyConnection, **kwargs) -> dict:
    from precompute.embed import stage_embed as run
    return run(con, **kwargs)


def stage_relationships(con: duckdb.DuckDBPyConnection, **kwargs) -> dict:
    from precompute.relationships import stage_relationships as run
    return run(con, **kwargs)


def stage_topics(con: duckdb.DuckDBPyConnection, **kwargs) -> dict:
    from precompute.topics import stage_topics as run
    return run(con, **kwargs)


def stage_clusters(con: duckdb.DuckDBPyConnection, **kwargs) -> dict:
    from precompute.topics import stage_clusters as run
    return run(con, **kwargs)


def stage_shifts(con: duckdb.DuckDBPyConnection, **kwargs) -> dict:
    from precompute.shifts import stage_shifts as run
    return run(con, **kwargs)


#: Stage name -> function, in run order.
STAGES: dict[str, Callable[..., dict]] = {
    "ingest": stage_ingest,
    "embed": stage_embed,
    "relationships": stage_relationships,
    "topics": stage_topics,
    "clusters": stage_clusters,
    "shifts": stage_shifts,
}

#: Stages that use the embedding model; one lazily loaded model is shared between them.
MODEL_STAGES = ("embed", "topics")

#: Stages after which a build that publishes early publishes its state: the conversations
#: (ingest), then the vectors (embed, the slow stage: a crash after it keeps them). Not
#: after the later stages: a page that shows one analysis beside another (Topics: topics
#: and clusters) would otherwise show a half.
EARLY_PUBLISH = ("ingest", "embed")


def publishes_early(settings: Settings) -> bool:
    """Whether a build with ``settings`` publishes early: ``settings.publish_early``, or
    by default when the DB file does not exist yet or is an unfinished early publication."""
    if settings.publish_early is not None:
        return settings.publish_early
    return not Path(settings.db).exists() or is_partial(Path(settings.db))


def _holds_later_stage(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the file holds a record of a stage after ``name`` (tables that the stages
    run so far may have made stale, or a more complete state than the one to publish)."""
    later = list(STAGES)[list(STAGES).index(name) + 1:]
    return any(stage_record(con, n) is not None for n in later)


def db_state(path: Path) -> str:
    """'missing', 'partial' (published early, not finished: `store.is_partial`) or
    'complete' (any other file, readable or not) for the DB file ``path``."""
    if not Path(path).exists():
        return "missing"
    return "partial" if is_partial(Path(path)) else "complete"


def outcome_note(path: Path, signature_before: tuple | None) -> str:
    """What a failed or interrupted build left at ``path``, for its error line: unchanged,
    or the state it published early (the same command continues from it)."""
    try:
        st = Path(path).stat()
        now = (st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        now = None
    if now == signature_before:
        return f"{path} was not changed"
    stages = []
    try:
        con = duckdb.connect(":memory:")
        try:
            quoted = str(path).replace("'", "''")
            con.execute(f"ATTACH '{quoted}' AS db (READ_ONLY)")
            con.execute("USE db")
            stages = [n for n in STAGES if stage_record(con, n) is not None]
        finally:
            con.close()
    except duckdb.Error:
        pass
    return (f"{path} holds what the build published early ({', '.join(stages) or 'ingest'}); "
            "the same command continues from it")


def build(settings: Settings, *, only: tuple[str, ...] | None = None, log: Log = print,
          source: ResolvedSource | None = None,
          stop_requested: Callable[[], bool] | None = None, **stage_kwargs) -> BuildReport:
    """Run the stages (all, or ``only`` those named) into ``settings.db`` atomically.

    With ``only`` not naming ingest, the source is not resolved: the stages read the core
    tables already in ``settings.db`` (PipelineError when there are none). Without an
    injected ``embedder=`` (a stage kwarg), one lazily loaded SentenceTransformer for
    ``settings.embed_model`` is shared by the stages; it loads only if a text is not cached.
    When embed is not among the stages, the model recorded in the DB (meta.embed_model) is
    used, so `topics` on its own embeds subtopics with the model the texts were embedded with.

    While it runs, the build's status file (`store.BuildStatus`) says which stage it is in.
    When it publishes early (`publishes_early`; never for a single stage), the state after
    ingest and after embed is published at ``settings.db`` (`EARLY_PUBLISH`,
    ``report.published``); a full build marks its final file ``meta.build_complete``.
    ``stop_requested`` is asked after every stage: when true, the build stops as on Ctrl-C
    (KeyboardInterrupt), for a signal whose exception a library swallowed.
    """
    report = BuildReport()
    names = [n for n in STAGES if only is None or n in only]
    unknown = sorted(set(only or ()) - set(STAGES))
    if unknown:
        raise PipelineError(f"unknown stage(s) {unknown}; expected some of {list(STAGES)}")
    needs_source = "ingest" in names
    if not needs_source and not settings.db.exists():
        raise PipelineError(f"{settings.db}: no such DB; build it first with "
                            f"`python -m precompute build --source ... --db {settings.db}`")
    publish = publishes_early(settings) and len(names) > 1
    status = BuildStatus(settings.db, (["source"] if needs_source else []) + names)
    try:
        if needs_source:
            status.stage("source")
            report.source = source or resolve_source(settings, log=log)
        else:
            report.source = source
        _run_stages(settings, names, report, status, publish=publish, complete=only is None,
                    needs_source=needs_source, log=log, stage_kwargs=stage_kwargs,
                    stop_requested=stop_requested or (lambda: False))
    except BaseException as exc:
        status.finish(exc)
        raise
    status.finish()
    return report


def _run_stages(settings: Settings, names: list[str], report: BuildReport,
                status: BuildStatus, *, publish: bool, complete: bool, needs_source: bool,
                log: Log, stage_kwargs: dict, stop_requested: Callable[[], bool]) -> None:
    """The stages ``names`` in one atomic write of ``settings.db`` (see `build`)."""
    fresh = False  # a stage did work since the last publication (the target lacks it)
    with atomic_db(settings.db) as con:
        if not needs_source and not table_exists(con, "conversations"):
            raise PipelineError(f"{settings.db} has no core tables (conversations, messages, "
                                "thoughts); run `python -m precompute ingest` or `build` first")
        if not needs_source and get_meta(con, "schema_version") != str(SCHEMA_VERSION):
            # one stage alone must not stamp an older file with this version's number
            raise PipelineError(
                f"{settings.db} was built with schema version "
                f"{get_meta(con, 'schema_version')}, this version writes {SCHEMA_VERSION}: "
                f"rebuild it with `python -m precompute build --source ... --db {settings.db}`")
        if "embed" not in names:
            stored = get_meta(con, "embed_model")
            if stored and stored != settings.embed_model:
                settings = replace(settings, embed_model=stored)
        if stage_kwargs.get("embedder") is None and any(n in names for n in MODEL_STAGES):
            from precompute.embed import LazyEmbedder
            stage_kwargs["embedder"] = LazyEmbedder(settings.embed_model, settings.device)
        for i, name in enumerate(names):
            status.stage(name)
            t0 = time.perf_counter()
            out = STAGES[name](con, settings=settings, source=report.source, log=log,
                               **stage_kwargs)
            seconds = time.perf_counter() - t0
            con.execute("SELECT NULL").fetchall()  # settle any half-fetched result of the stage
            if not out.get("skipped"):
                fresh = True
                record_stage(con, name, input_hash=out["input_hash"], params=out["params"],
                             seconds=seconds, summary=out["summary"])
            report.stages[name] = {"seconds": seconds, "skipped": bool(out.get("skipped")),
                                   "summary": out["summary"]}
            state = "unchanged, skipped" if out.get("skipped") else "done"
            log(f"[{name}] {state} in {seconds:.2f}s: {out['summary']}")
            status.done(name)
            if (publish and fresh and name in EARLY_PUBLISH and i < len(names) - 1
                    and not _holds_later_stage(con, name)):
                t0 = time.perf_counter()
                publish_snapshot(con, settings.db)
                fresh = False
                report.published.append(name)
                status.published(name)
                log(f"[publish] {settings.db} is browsable now (up to {name}, in "
                    f"{time.perf_counter() - t0:.2f}s); it is replaced when "
                    f"{', '.join(names[i + 1:])} are done")
            if stop_requested():  # after publishing: what was done stays published
                raise KeyboardInterrupt
        if complete:
            set_meta(con, BUILD_COMPLETE, "true")
