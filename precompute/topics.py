"""Stages `topics` and `clusters`: what each conversation is about, and groups of texts.

`topics` (zero-shot domain/subtopic assignment):
  Each subtopic of the taxonomy file (``data/taxonomy.toml``: 7 domains, 36 subtopics) is
  embedded with the same model as the texts and compared by cosine similarity with every
  conversation's task vector (task summary + first user message, from the `embed` stage).
  What is embedded is ``settings.topic_match``: 'description' (default: the description
  alone) or 'full' (``"Domain: Subtopic. description"``). Measured with all-MiniLM-L6-v2
  on the demo corpus' intended domains: 29/30 with 'description', 23/30 with 'full' (the
  broad domain names pull unrelated texts); on the shared sample's 10 obvious cases 9/10
  with either. The primary subtopic is the most similar
  one and its domain the primary domain. Multi-label: every subtopic whose score is at
  least ``max(topic_min_score, best - topic_margin)`` is assigned (the primary always is).
  A domain's score is the maximum over its subtopics. A label file (``--topic-labels``,
  CSV or JSONL with conv_id, domain, subtopic; several rows per conversation = several
  labels, the first is primary) overrides the zero-shot result for the conversations it
  lists. Writes:

  - ``topic_taxonomy`` (domain, subtopic, description, domain_order, sort_order, origin
    'taxonomy'|'labels'): the taxonomy plus any domain/subtopic only a label file uses.
  - ``topic_scores`` (conv_id, domain, subtopic, score, rank, is_primary, is_assigned): the
    zero-shot cosine of every conversation x every taxonomy subtopic (all pairs, rank 1 =
    best), whatever the final source of the labels.
  - ``conversation_topics`` (conv_id, domain, subtopic, is_primary, score, source): the
    final labels, one row per assigned (domain, subtopic); ``source`` is 'zero-shot' or
    'labels'; score is NULL for label rows.
  - ``conversations.domain`` / ``conversations.subtopic``: the primary label.
  - ``meta.topic_source``: 'zero-shot:<model>' or 'labels:<file>' (the file's labels win
    where given; the rest stay zero-shot, see conversation_topics.source).

`clusters` (HDBSCAN + c-TF-IDF keywords), in three spaces: 'task' (conversation task
  vectors), 'reason' and 'reaction' (thought vectors). Vectors are reduced with UMAP
  (cosine, 5-D, n_neighbors 15, min_dist 0, random_state 42; ``cluster_reduce='none'``
  clusters the L2-normalized vectors as they are, where euclidean distance orders like
  cosine). HDBSCAN min_cluster_size defaults to 1% of the space's items within 5..50,
  min_samples to min(5, min_cluster_size). Fewer than ``MIN_ITEMS`` (15) items: all noise.
  Each cluster is named by its top 3 c-TF-IDF words ("budget · trip · itinerary"; class-
  based TF-IDF over the cluster's concatenated texts, English stop words removed; the
  ``keywords`` column holds the top 5); noise is its own group, cluster_id -1, named
  "noise (unclustered)", listed for every space even when empty. Writes ``clusters`` (space, cluster_id, name, keywords, size) and
  ``cluster_members`` (space, item_id, cluster_id, probability). Cluster ids are numbered
  by size, largest first.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import duckdb
import numpy as np
import pandas as pd

from precompute.embed import (EmbedError, collect_items, embedder_for, ensure_vectors,
                              load_vectors, model_name_of, settle, vectors_for_hashes)
from precompute.store import (get_meta, hash_inputs, replace_table, set_meta, stage_record,
                              table_exists)

Log = Callable[[str], None]


class TopicError(Exception):
    """A taxonomy or label file cannot be used; the message says where and why."""


# =========================================================================== taxonomy


@dataclass(frozen=True)
class Subtopic:
    domain: str
    name: str
    description: str

    @property
    def text(self) -> str:
        """``"Domain: Subtopic. description"`` (the 'full' match text)."""
        return f"{self.domain}: {self.name}. {self.description}"

    def match_text(self, how: str = "description") -> str:
        """What gets embedded for matching: 'description' (or the name when it has none)
        or 'full'."""
        if how == "full":
            return self.text
        if how == "description":
            return self.description or f"{self.name} ({self.domain})"
        raise ValueError(f"topic_match must be 'description' or 'full', got {how!r}")


def load_taxonomy(path: Path) -> list[Subtopic]:
    """Subtopics of a taxonomy TOML file, in file order.

    Format: ``[[domain]]`` tables with ``name`` and ``[[domain.subtopic]]`` tables with
    ``name`` and ``description``.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TopicError(f"{path}: taxonomy file not found")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TopicError(f"{path}: not valid TOML: {exc}") from exc
    domains = data.get("domain")
    if not isinstance(domains, list) or not domains:
        raise TopicError(f"{path}: expected [[domain]] tables with a name and "
                         "[[domain.subtopic]] entries")
    out: list[Subtopic] = []
    seen: set[tuple[str, str]] = set()
    for i, dom in enumerate(domains, start=1):
        name = dom.get("name") if isinstance(dom, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise TopicError(f"{path}: domain #{i} has no name")
        subs = dom.get("subtopic")
        if not isinstance(subs, list) or not subs:
            raise TopicError(f"{path}: domain {name!r} has no [[domain.subtopic]] entries")
        for j, sub in enumerate(subs, start=1):
            sname = sub.get("name") if isinstance(sub, dict) else None
            desc = sub.get("description", "") if isinstance(sub, dict) else None
            if not isinstance(sname, str) or not sname.strip():
                raise TopicError(f"{path}: subtopic #{j} of domain {name!r} has no name")
            if not isinstance(desc, str):
                raise TopicError(f"{path}: subtopic {sname!r} of {name!r}: description must "
                                 "be a string")
            if (name, sname) in seen:
                raise TopicError(f"{path}: subtopic {sname!r} appears twice in {name!r}")
            seen.add((name, sname))
            out.append(Subtopic(name.strip(), sname.strip(), " ".join(desc.split())))
    return out


# =========================================================================== label file


LABEL_COLUMNS = ("conv_id", "domain", "subtopic")


def read_topic_labels(path: Path, known_conv_ids: set[str] | None = None) -> pd.DataFrame:
    """Rows (line, conv_id, domain, subtopic, is_primary) of a CSV or JSONL label file.

    Several rows per conv_id give several labels; the first row of a conv_id is primary.
    Raises TopicError listing every bad line (missing column or value, unknown conv_id).
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TopicError(f"{path}: topic label file not found")
    except UnicodeDecodeError as exc:
        raise TopicError(f"{path}: not UTF-8 text ({exc})") from exc
    rows: list[dict] = []
    errors: list[str] = []
    if path.suffix.lower() in {".jsonl", ".json", ".ndjson"}:
        for lineno, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"{path}:{lineno}: invalid JSON ({exc.msg}); expected one object "
                              "per line with conv_id, domain, subtopic")
                continue
            if not isinstance(obj, dict):
                errors.append(f"{path}:{lineno}: expected a JSON object, got "
                              f"{type(obj).__name__}")
                continue
            rows.append({"line": lineno, **{c: obj.get(c) for c in LABEL_COLUMNS},
                         "_missing": [c for c in LABEL_COLUMNS if c not in obj]})
    elif path.suffix.lower() in {".csv", ".tsv"}:
        reader = csv.DictReader(io.StringIO(raw),
                                delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in LABEL_COLUMNS if c not in header]
        if missing:
            raise TopicError(f"{path}:1: missing column(s) {', '.join(missing)}; expected a "
                             f"header with {', '.join(LABEL_COLUMNS)} (found: "
                             f"{', '.join(header) or 'nothing'})")
        reader.fieldnames = header
        for rec in reader:
            lineno = reader.line_num
            if not any((v or "").strip() for k, v in rec.items() if k is not None):
                continue
            rows.append({"line": lineno, **{c: rec.get(c) for c in LABEL_COLUMNS},
                         "_missing": []})
    else:
        raise TopicError(f"{path}: expected a .csv, .tsv or .jsonl topic label file")
    clean: list[dict] = []
    for row in rows:
        where = f"{path}:{row['line']}"
        if row["_missing"]:
            errors.append(f"{where}: missing field(s) {', '.join(row['_missing'])}")
            continue
        vals = {}
        for c in LABEL_COLUMNS:
            v = row[c]
            v = v.strip() if isinstance(v, str) else v
            if not isinstance(v, str) or not v:
                errors.append(f"{where}: {c} is empty or not text ({row[c]!r:.40}); expected a "
                              "non-empty string")
                break
            vals[c] = v
        else:
            if known_conv_ids is not None and vals["conv_id"] not in known_conv_ids:
                errors.append(f"{where}: unknown conv_id {vals['conv_id']!r} (not in the "
                              "conversations table)")
                continue
            clean.append({"line": row["line"], **vals})
    if errors:
        shown = "\n  ".join(errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise TopicError(f"{len(errors)} bad line(s) in topic label file {path}:\n  "
                         f"{shown}{more}")
    if not clean:
        raise TopicError(f"{path}: no labels found; expected rows with "
                         f"{', '.join(LABEL_COLUMNS)}")
    frame = pd.DataFrame(clean).drop_duplicates(["conv_id", "domain", "subtopic"])
    frame["is_primary"] = ~frame.duplicated("conv_id")
    return frame.reset_index(drop=True)


# =========================================================================== zero-shot


def zero_shot_scores(task_vectors: np.ndarray, subtopic_vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity (rows: conversations, columns: subtopics); inputs L2-normalized."""
    return np.asarray(task_vectors, np.float32) @ np.asarray(subtopic_vectors, np.float32).T


def assign(scores: np.ndarray, *, min_score: float, margin: float) -> np.ndarray:
    """Boolean matrix of assigned subtopics: argmax always, plus every score >=
    max(min_score, best - margin)."""
    if scores.size == 0:
        return np.zeros_like(scores, dtype=bool)
    best = scores.max(axis=1, keepdims=True)
    cut = np.maximum(min_score, best - margin)
    out = scores >= cut
    out[np.arange(len(scores)), scores.argmax(axis=1)] = True
    return out


def _file_sha(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        raise TopicError(f"{path}: file not found")



def _check_model(con: duckdb.DuckDBPyConnection, model: str) -> None:
    stored = get_meta(con, "embed_model")
    if stored is None or not table_exists(con, "embedded_items"):
        raise EmbedError("no embeddings in this DB; run the embed stage first "
                         "(`python -m precompute embed --db ...`)")
    if stored != model:
        raise EmbedError(f"the DB's texts were embedded with {stored!r}, not {model!r}; "
                         f"rerun the embed stage with --model {model!r} (or use {stored!r})")


TAXONOMY_DDL = """
    CREATE TABLE topic_taxonomy (domain VARCHAR, subtopic VARCHAR, description VARCHAR,
        domain_order INTEGER, sort_order INTEGER, origin VARCHAR,
        PRIMARY KEY (domain, subtopic))"""
SCORES_DDL = """
    CREATE TABLE topic_scores (conv_id VARCHAR, domain VARCHAR, subtopic VARCHAR,
        score DOUBLE, rank INTEGER, is_primary BOOLEAN, is_assigned BOOLEAN)"""
CONV_TOPICS_DDL = """
    CREATE TABLE conversation_topics (conv_id VARCHAR, domain VARCHAR, subtopic VARCHAR,
        is_primary BOOLEAN, score DOUBLE, source VARCHAR)"""


def stage_topics(con: duckdb.DuckDBPyConnection, *, settings: Any, log: Log = print,
                 embedder: Any | None = None, **_: object) -> dict:
    """Assign each conversation a primary domain/subtopic (+ multi-labels)."""
    embedder = embedder_for(settings, embedder)
    model = model_name_of(embedder, settings)
    _check_model(con, model)
    taxonomy = load_taxonomy(settings.taxonomy)
    labels_path = Path(settings.topic_labels) if settings.topic_labels else None
    task_items = con.execute("SELECT item_id, conv_id, text_hash FROM embedded_items "
                         "WHERE kind = 'task' ORDER BY item_id").fetchall()
    conv_ids = [r[0] for r in con.execute("SELECT conv_id FROM conversations ORDER BY conv_id")
                .fetchall()]
    params = {"model": model, "taxonomy": str(settings.taxonomy),
              "n_subtopics": len(taxonomy), "match": settings.topic_match,
              "min_score": settings.topic_min_score,
              "margin": settings.topic_margin,
              "topic_labels": str(labels_path) if labels_path else None,
              "scores_kept": "all conversation x subtopic pairs"}
    input_hash = hash_inputs(model, [(s.domain, s.name, s.description) for s in taxonomy],
                       settings.topic_match, settings.topic_min_score, settings.topic_margin,
                       task_items, conv_ids,
                       str(labels_path) if labels_path else None, _file_sha(labels_path))
    prev = stage_record(con, "topics")
    if (not settings.force and prev and prev["input_hash"] == input_hash
            and all(table_exists(con, t) for t in ("topic_taxonomy", "topic_scores",
                                                   "conversation_topics"))
            and con.execute("SELECT count(*) FROM conversations WHERE domain IS NULL").fetchall()[0][0]
            == prev["params"].get("n_unassigned")):
        return {"skipped": True, "summary": prev["summary"]}

    # zero-shot
    items, task_vecs = load_vectors(con, ["task"], model=model)
    sub_hashes, n_new, _ = ensure_vectors(con, embedder, model,
                                          [s.match_text(settings.topic_match) for s in taxonomy],
                                          batch_size=settings.batch_size, progress=False,
                                          log=log)
    sub_vecs = vectors_for_hashes(con, sub_hashes)
    scores = zero_shot_scores(task_vecs, sub_vecs)
    assigned = assign(scores, min_score=settings.topic_min_score, margin=settings.topic_margin)
    n_conv, n_sub = scores.shape
    ranks = np.empty_like(scores, dtype=np.int32)
    if n_conv:
        ranks[np.arange(n_conv)[:, None], np.argsort(-scores, axis=1, kind="stable")] = (
            np.arange(1, n_sub + 1))
    score_frame = pd.DataFrame({
        "conv_id": np.repeat(items["conv_id"].to_numpy(), n_sub),
        "domain": np.tile([s.domain for s in taxonomy], n_conv),
        "subtopic": np.tile([s.name for s in taxonomy], n_conv),
        "score": scores.ravel().astype(np.float64),
        "rank": ranks.ravel(),
        "is_primary": ranks.ravel() == 1,
        "is_assigned": assigned.ravel(),
    })
    zs = score_frame[score_frame["is_assigned"]].sort_values(["conv_id", "rank"])
    final = pd.DataFrame({"conv_id": zs["conv_id"], "domain": zs["domain"],
                          "subtopic": zs["subtopic"], "is_primary": zs["is_primary"],
                          "score": zs["score"], "source": "zero-shot"})

    # taxonomy table (+ label-only entries)
    tax_rows = []
    dom_order: dict[str, int] = {}
    for i, s in enumerate(taxonomy):
        dom_order.setdefault(s.domain, len(dom_order))
        tax_rows.append({"domain": s.domain, "subtopic": s.name, "description": s.description,
                         "domain_order": dom_order[s.domain], "sort_order": i,
                         "origin": "taxonomy"})
    n_labelled = n_missing = n_added = 0
    if labels_path is not None:
        labels = read_topic_labels(labels_path, set(conv_ids))
        labelled = set(labels["conv_id"])
        n_labelled = len(labelled)
        n_missing = len(set(conv_ids) - labelled)
        final = pd.concat([
            final[~final["conv_id"].isin(labelled)],
            pd.DataFrame({"conv_id": labels["conv_id"], "domain": labels["domain"],
                          "subtopic": labels["subtopic"], "is_primary": labels["is_primary"],
                          "score": np.nan, "source": "labels"}),
        ], ignore_index=True)
        known = {(r["domain"], r["subtopic"]) for r in tax_rows}
        for dom, sub in labels[["domain", "subtopic"]].drop_duplicates().itertuples(index=False):
            if (dom, sub) not in known:
                known.add((dom, sub))
                dom_order.setdefault(dom, len(dom_order))
                tax_rows.append({"domain": dom, "subtopic": sub,
                                 "description": "(from the topic label file)",
                                 "domain_order": dom_order[dom], "sort_order": len(tax_rows),
                                 "origin": "labels"})
                n_added += 1
    final = final.sort_values(["conv_id", "is_primary"], ascending=[True, False],
                              kind="stable").reset_index(drop=True)

    settle(con)
    replace_table(con, "topic_taxonomy", pd.DataFrame(tax_rows), TAXONOMY_DDL)
    replace_table(con, "topic_scores", score_frame, SCORES_DDL)
    replace_table(con, "conversation_topics", final, CONV_TOPICS_DDL)
    primary = final[final["is_primary"]][["conv_id", "domain", "subtopic"]]
    con.execute("UPDATE conversations SET domain = NULL, subtopic = NULL")
    con.register("_primary", primary)
    try:
        con.execute("UPDATE conversations SET domain = p.domain, subtopic = p.subtopic "
                    "FROM _primary p WHERE conversations.conv_id = p.conv_id")
    finally:
        con.unregister("_primary")
    source = f"labels:{labels_path}" if labels_path else f"zero-shot:{model}"
    set_meta(con, "topic_source", source)
    n_unassigned = con.execute("SELECT count(*) FROM conversations WHERE domain IS NULL"
                           ).fetchall()[0][0]
    dom_counts = (primary.groupby("domain").size().sort_values(ascending=False))
    top = ", ".join(f"{d} {n}" for d, n in dom_counts.head(7).items())
    multi = final.groupby("conv_id").size()
    summary = (f"{len(conv_ids)} conversations, {len(taxonomy)} subtopics "
               f"({len(dom_order)} domains); primary domains: {top or 'none'}; "
               f"{(multi > 1).sum()} multi-label; source {source}")
    if labels_path is not None:
        summary += (f"; {n_labelled} labelled from file, {n_missing} not in the file kept "
                    f"zero-shot" + (f", {n_added} label-only subtopics added" if n_added
                                     else ""))
    if n_unassigned:
        summary += f"; {n_unassigned} without a task text, no topic"
    if n_new:
        summary += f"; {n_new} subtopic texts embedded"
    params.update({"n_unassigned": int(n_unassigned), "n_labelled": n_labelled,
                   "n_missing_from_labels": n_missing})
    return {"skipped": False, "summary": summary, "input_hash": input_hash, "params": params}


# =========================================================================== clusters


SPACES = {"task": "task", "reason": "reason", "reaction": "reaction"}  # space -> item kind
NOISE_NAME = "noise (unclustered)"
#: Below this many items a space is not clustered: everything is noise.
MIN_ITEMS = 15
#: From this many items on, 'auto' reduction uses UMAP before HDBSCAN. Measured on the
#: shared sample and the demo (reasons 154/118, reactions 156/57, tasks 20/30, min cluster
#: size 5): HDBSCAN on the raw 384-D vectors left 72-100% of the items as noise (distances
#: in 384-D are too uniform), on the 5-D UMAP 6-30% noise with 2-8 clusters. So 'auto'
#: reduces every space that is clustered at all.
UMAP_MIN_ITEMS = MIN_ITEMS
#: n_epochs 200 (UMAP's default is 500 below 10k items): the layout only feeds HDBSCAN, and
#: 200 epochs is 2.5x faster with the same clusters on the demo and the sample.
UMAP_PARAMS = {"n_components": 5, "n_neighbors": 15, "min_dist": 0.0, "metric": "cosine",
               "random_state": 42, "n_epochs": 200}
N_KEYWORDS = 5
N_NAME_WORDS = 3


def auto_min_cluster_size(n: int) -> int:
    """1% of the items, at least 5 and at most 50."""
    return int(min(50, max(5, round(n * 0.01))))


def reduce_vectors(vectors: np.ndarray, *, how: str = "auto",
                   umap_params: dict | None = None) -> tuple[np.ndarray, str]:
    """(matrix to cluster, 'umap' | 'none')."""
    n = len(vectors)
    use = how == "umap" or (how == "auto" and n >= UMAP_MIN_ITEMS)
    if not use or n < MIN_ITEMS:
        return vectors, "none"
    from precompute.reduce import umap_fit_transform
    params = dict(UMAP_PARAMS, **(umap_params or {}))
    params["n_neighbors"] = min(params["n_neighbors"], n - 1)
    params["n_components"] = min(params["n_components"], n - 2)
    reduced = umap_fit_transform(vectors, **params)
    return np.asarray(reduced, dtype=np.float32), "umap"


def cluster_vectors(vectors: np.ndarray, *, min_cluster_size: int, min_samples: int | None,
                    reduce: str = "auto") -> tuple[np.ndarray, np.ndarray, str]:
    """HDBSCAN labels (-1 = noise, others numbered by size, largest 0) and membership
    probabilities; fewer than MIN_ITEMS vectors are all noise."""
    n = len(vectors)
    if n < MIN_ITEMS or n <= min_cluster_size:
        return np.full(n, -1, dtype=np.int64), np.zeros(n), "none"
    from sklearn.cluster import HDBSCAN
    data, how = reduce_vectors(vectors, how=reduce)
    model = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples,
                    metric="euclidean", copy=True)
    labels = model.fit_predict(data)
    probs = np.asarray(model.probabilities_, dtype=np.float64)
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    remap = {old: new for new, old in enumerate(order)}
    labels = np.array([remap.get(lab, -1) for lab in labels], dtype=np.int64)
    return labels, probs, how


def ctfidf_keywords(texts: Sequence[str], labels: Sequence[int], *,
                    top_n: int = N_KEYWORDS) -> dict[int, list[str]]:
    """Top words per class by class-based TF-IDF (BERTopic's c-TF-IDF).

    All texts of a class are one document; tf = term count / class word count; idf =
    log(1 + mean class word count / term count over all classes). English stop words,
    numbers and 1-letter tokens are dropped.
    """
    from sklearn.feature_extraction.text import CountVectorizer
    classes = sorted(set(int(x) for x in labels))
    docs = [" ".join(t for t, lab in zip(texts, labels) if lab == c and t) for c in classes]
    vec = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b",
                          lowercase=True)
    try:
        counts = vec.fit_transform(docs)
    except ValueError:  # empty vocabulary
        return {c: [] for c in classes}
    counts = counts.toarray().astype(np.float64)
    words = vec.get_feature_names_out()
    per_class = counts.sum(axis=1, keepdims=True)
    tf = counts / np.maximum(per_class, 1)
    avg = per_class.mean()
    idf = np.log(1 + avg / np.maximum(counts.sum(axis=0), 1))
    score = tf * idf
    out: dict[int, list[str]] = {}
    for row, c in enumerate(classes):
        top = np.argsort(-score[row], kind="stable")[:top_n]
        out[c] = [str(words[i]) for i in top if score[row, i] > 0]
    return out


CLUSTERS_DDL = """
    CREATE TABLE clusters (space VARCHAR, cluster_id INTEGER, name VARCHAR, keywords VARCHAR,
        size INTEGER, PRIMARY KEY (space, cluster_id))"""
MEMBERS_DDL = """
    CREATE TABLE cluster_members (space VARCHAR, item_id VARCHAR, cluster_id INTEGER,
        probability DOUBLE, PRIMARY KEY (space, item_id))"""


def stage_clusters(con: duckdb.DuckDBPyConnection, *, settings: Any, log: Log = print,
                   embedder: Any | None = None, **_: object) -> dict:
    """HDBSCAN clusters of task, reason and reaction vectors, named by c-TF-IDF keywords."""
    if not table_exists(con, "embedded_items") or get_meta(con, "embed_model") is None:
        raise EmbedError("no embeddings in this DB; run the embed stage first "
                         "(`python -m precompute embed --db ...`)")
    model = get_meta(con, "embed_model")
    loaded = {space: load_vectors(con, [kind], model=model) for space, kind in SPACES.items()}
    space_params = {}
    for space, (items, _) in loaded.items():
        n = len(items)
        mcs = settings.cluster_min_size or auto_min_cluster_size(n)
        ms = settings.cluster_min_samples or min(5, mcs)
        how = settings.cluster_reduce
        reduced = "umap" if (how == "umap" or (how == "auto" and n >= UMAP_MIN_ITEMS)) \
            and n >= MIN_ITEMS else "none"
        space_params[space] = {"n": n, "min_cluster_size": mcs, "min_samples": ms,
                               "reduce": reduced}
    params = {"model": model, "spaces": space_params, "umap": UMAP_PARAMS,
              "umap_min_items": UMAP_MIN_ITEMS, "min_items": MIN_ITEMS,
              "hdbscan": {"metric": "euclidean", "cluster_selection_method": "eom"},
              "keywords": {"method": "c-TF-IDF", "top_n": N_KEYWORDS, "stop_words": "english"}}
    input_hash = hash_inputs(params, {s: list(zip(it["item_id"], it["text_hash"]))
                                for s, (it, _) in loaded.items()})
    prev = stage_record(con, "clusters")
    if (not settings.force and prev and prev["input_hash"] == input_hash
            and table_exists(con, "clusters") and table_exists(con, "cluster_members")):
        return {"skipped": True, "summary": prev["summary"]}

    texts = collect_items(con, include_assistant=False).set_index("item_id")["text"]
    cluster_rows, member_frames, parts = [], [], []
    for space, (items, vectors) in loaded.items():
        p = space_params[space]
        labels, probs, how = cluster_vectors(vectors, min_cluster_size=p["min_cluster_size"],
                                             min_samples=p["min_samples"],
                                             reduce=settings.cluster_reduce)
        p["reduce"] = how
        item_texts = [texts.get(i) or "" for i in items["item_id"]]
        keywords = ctfidf_keywords(item_texts, labels) if len(items) else {}
        sizes = pd.Series(labels).value_counts().to_dict()
        for cid in sorted(set(int(x) for x in labels) | {-1}):
            kw = keywords.get(cid, [])
            name = NOISE_NAME if cid == -1 else (" · ".join(kw[:N_NAME_WORDS])
                                                 or f"cluster {cid}")
            cluster_rows.append({"space": space, "cluster_id": cid, "name": name,
                                 "keywords": ", ".join(kw), "size": int(sizes.get(cid, 0))})
        member_frames.append(pd.DataFrame({"space": space, "item_id": items["item_id"],
                                           "cluster_id": labels.astype(np.int32),
                                           "probability": probs}))
        n_clusters = len(set(labels) - {-1})
        noise = float((labels == -1).mean()) if len(labels) else 0.0
        parts.append(f"{space}: {len(items)} items, {n_clusters} clusters, "
                     f"{noise:.0%} noise ({how})")
    settle(con)
    replace_table(con, "clusters", pd.DataFrame(cluster_rows), CLUSTERS_DDL)
    replace_table(con, "cluster_members", pd.concat(member_frames, ignore_index=True),
                  MEMBERS_DDL)
    params["spaces"] = space_params
    return {"skipped": False, "summary": "; ".join(parts), "input_hash": input_hash,
            "params": params}
