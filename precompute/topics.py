"""Stages `topics` and `clusters`: what each conversation is about, and groups of texts.

`topics` (zero-shot domain/subtopic assignment):
  Each subtopic of the taxonomy file (``data/taxonomy.toml``: the paper's 7 domains with
  their published shares, 36 subtopics of ours) is embedded with the same model as the
  texts (``settings.topic_match``: 'description' alone, the default, or 'full' =
  ``"Domain: Subtopic. description"``). Each conversation is scored by domain, not by its
  single best subtopic:

  1. Conversation vector: the task vector (task summary + first user message) plus the
     mean of the conversation's user-message vectors, each L2-normalised, summed and
     normalised (all from the `embed` stage; either part may be missing).
  2. Subtopic score s_k: cosine of that vector with the subtopic's description
     (``topic_scores.score``).
  3. Domain score: ``tau * log(mean_k exp(s_k / tau)) + tau * log(prior_d)``, the log
     posterior (times tau) of a mixture model in which a domain is an equal mixture of its
     subtopics, each a kernel ``exp(s_k / tau)``, and the prior is the domain's published
     share (``share`` in the taxonomy; a domain without one gets the mean of the others).
     The mean over a domain's subtopics (not the max) means that the number of subtopics
     does not favour a domain. ``tau`` = ``settings.topic_temperature`` (0.03).
     ``topic_domain_scores.probability`` = softmax of the domain scores / tau.
  4. The primary domain is the best domain; the primary subtopic is the best subtopic of
     that domain (not necessarily the best subtopic overall). ``topic_margin`` = best
     domain score - second best; ``topic_uncertain`` = margin <
     ``settings.topic_margin_threshold`` (0.033 = tau * ln 3: the runner-up is at least a
     third as probable as the best domain); the threshold is stored in
     ``meta.topic_margin_threshold``.
  5. Multi-label: the primary subtopic plus every subtopic whose score is at least
     ``max(topic_min_score, best - topic_margin)`` (``topic_scores.is_assigned``).

  Validation: tests/data/sample_domains.csv holds our reading of the paper's domain for
  each of the 20 conversations of the shared sample, written down before this method was
  run. With all-MiniLM-L6-v2 it agrees on 19/20 (the previous taxonomy and rule, the
  single best of 36 subtopics for the task vector: 13/20); tau from 0.01 to 0.04 gives
  19/20, 0.05 gives 17/20. The demo corpus (written by us to match the previous
  taxonomy, which put fitness under Culture & Lifestyle; no validation) agrees on 25/30.

  A label file (``--topic-labels``, CSV or JSONL with conv_id, domain, subtopic; several
  rows per conversation = several labels, the first is primary) overrides the zero-shot
  result for the conversations it lists (their margin is NULL, uncertain false). Writes:

  - ``topic_taxonomy`` (domain, subtopic, description, domain_order, sort_order, origin
    'taxonomy'|'labels'): the taxonomy plus any domain/subtopic only a label file uses.
  - ``topic_scores`` (conv_id, domain, subtopic, score, rank, is_primary, is_assigned): the
    zero-shot score of every conversation x every taxonomy subtopic (all pairs, rank 1 =
    best), whatever the final source of the labels.
  - ``topic_domain_scores`` (conv_id, domain, score, probability, rank, is_primary): the
    zero-shot score of every conversation x domain.
  - ``conversation_topics`` (conv_id, domain, subtopic, is_primary, score, source): the
    final labels, one row per assigned (domain, subtopic); ``source`` is 'zero-shot' or
    'labels'; score is NULL for label rows.
  - ``conversations.domain`` / ``subtopic`` (the primary label), ``topic_margin``,
    ``topic_uncertain``.
  - ``meta.topic_source``: 'zero-shot:<model>' or 'labels:<file>' (the file's labels win
    where given; the rest stay zero-shot, see conversation_topics.source);
    ``meta.topic_margin_threshold``.

`clusters` (HDBSCAN + key phrases), in three spaces: 'task' (conversation task vectors),
  'reason' and 'reaction' (thought vectors). Vectors are reduced with UMAP (cosine, 5-D,
  n_neighbors 15, min_dist 0, random_state 42; ``cluster_reduce='none'`` clusters the
  L2-normalized vectors as they are, where euclidean distance orders like cosine), then
  clustered with the `hdbscan` package (euclidean, excess of mass). min_cluster_size
  defaults to 1% of the space's items within 5..50, min_samples to min(5,
  min_cluster_size). Fewer than ``MIN_ITEMS`` (15) items: all noise. Each item gets its
  membership strength (``probability``, 0 for noise) and its GLOSH outlier score
  (``outlier_score``, 0 = at the heart of its cluster, towards 1 = an outlier).
  Each cluster is named by key phrases (see ``key_phrases``): candidate n-grams of 1-3
  words from its texts, ranked by class-based TF-IDF against the other clusters, are
  embedded with the DB's model; phrases are then picked by maximal marginal relevance
  (similar to the cluster's centroid, unlike the phrases already picked, no phrase
  inside another). The name is the first 3 ("meal prep · grocery list · weekly
  dinners"), ``keywords`` the first 5. Noise is its own group, cluster_id -1, named
  "noise (unclustered)", listed for every space even when empty. Writes ``clusters``
  (space, cluster_id, name, keywords, size) and ``cluster_members`` (space, item_id,
  cluster_id, probability, outlier_score). Cluster ids are numbered by size, largest
  first.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from precompute import label_files
from precompute.embed import (
    EmbedError,
    collect_items,
    embedder_for,
    ensure_vectors,
    load_vectors,
    model_name_of,
    settle,
    vectors_for_hashes,
)
from precompute.store import (
    get_meta,
    hash_inputs,
    replace_table,
    set_meta,
    stage_record,
    table_exists,
)

Log = Callable[[str], None]


class TopicError(Exception):
    """A taxonomy or label file cannot be used; the message says where and why."""


# =========================================================================== taxonomy


@dataclass(frozen=True)
class Subtopic:
    domain: str
    name: str
    description: str
    #: The domain's share of conversations (any positive scale; ``share`` in the file).
    domain_share: float | None = None

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

    Format: ``[[domain]]`` tables with ``name``, an optional ``share`` (a positive number:
    the domain's prior) and ``[[domain.subtopic]]`` tables with ``name`` and
    ``description``.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TopicError(f"{path}: taxonomy file not found") from None
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
        share = dom.get("share")
        if share is not None and (isinstance(share, bool) or not isinstance(share, int | float)
                                  or not math.isfinite(share) or share <= 0):
            raise TopicError(f"{path}: domain {name!r}: share must be a positive number "
                             f"(its published share of conversations), got {share!r}")
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
            out.append(Subtopic(name.strip(), sname.strip(), " ".join(desc.split()),
                                None if share is None else float(share)))
    return out

# =========================================================================== label file


LABEL_COLUMNS = ("conv_id", "domain", "subtopic")
WHAT = "topic label file"


def read_topic_labels(path: Path, known_conv_ids: set[str] | None = None) -> pd.DataFrame:
    """Rows (line, conv_id, domain, subtopic, is_primary) of a CSV or JSONL label file.

    Several rows per conv_id give several labels; the first row of a conv_id is primary.
    Raises TopicError listing every bad line (missing column or value, unknown conv_id).
    """
    path = Path(path)
    raw = label_files.read_text(path, WHAT, TopicError)
    errors: list[str] = []
    rows = label_files.raw_rows(path, raw, LABEL_COLUMNS, WHAT, TopicError, errors)
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
    label_files.raise_bad_lines(errors, path, WHAT, TopicError)
    if not clean:
        raise TopicError(f"{path}: no labels found; expected rows with "
                         f"{', '.join(LABEL_COLUMNS)}")
    frame = pd.DataFrame(clean).drop_duplicates(["conv_id", "domain", "subtopic"])
    frame["is_primary"] = ~frame.duplicated("conv_id")
    return frame.reset_index(drop=True)


# =========================================================================== zero-shot


#: Recorded in the stage's params; change it when the scoring changes.
TOPIC_METHOD = ("domain mixture: task + mean user message; "
                "tau*log(mean exp(s/tau)) + tau*log(prior)")


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def conversation_vectors(conv_ids: Sequence[str], task_conv: Sequence[str],
                         task_vectors: np.ndarray, msg_conv: Sequence[str],
                         msg_vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
    """One vector per conversation that has a task or a user-message vector.

    ``unit(unit(task) + unit(mean of its user messages))``; a conversation with only one of
    the two gets that one. Returns (conv_ids with a vector, in ``conv_ids`` order, matrix).
    """
    dim = task_vectors.shape[1] if len(task_vectors) else (
        msg_vectors.shape[1] if len(msg_vectors) else 0)
    task_of = {c: i for i, c in enumerate(task_conv)}
    msg_rows: dict[str, list[int]] = {}
    for i, c in enumerate(msg_conv):
        msg_rows.setdefault(c, []).append(i)
    ids, rows = [], []
    for c in conv_ids:
        parts = []
        if c in task_of:
            parts.append(_unit(task_vectors[task_of[c]]))
        if c in msg_rows:
            parts.append(_unit(np.asarray(msg_vectors[msg_rows[c]], np.float64).mean(axis=0)))
        if parts:
            ids.append(c)
            rows.append(_unit(np.sum(parts, axis=0)))
    return ids, (np.stack(rows) if rows else np.zeros((0, dim)))


def domain_priors(taxonomy: Sequence[Subtopic]) -> tuple[list[str], np.ndarray]:
    """(domains in taxonomy order, prior probabilities from their ``share``).

    A domain without a share gets the mean share of the others (all equal when none has).
    """
    domains = list(dict.fromkeys(s.domain for s in taxonomy))
    share = {}
    for s in taxonomy:
        if s.domain_share is not None:
            share.setdefault(s.domain, s.domain_share)
    fill = float(np.mean(list(share.values()))) if share else 1.0
    p = np.array([share.get(d, fill) for d in domains], dtype=np.float64)
    return domains, p / p.sum()


def zero_shot_scores(task_vectors: np.ndarray, subtopic_vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity (rows: conversations, columns: subtopics); inputs L2-normalized."""
    return np.asarray(task_vectors, np.float64) @ np.asarray(subtopic_vectors, np.float64).T


def domain_scores(scores: np.ndarray, subtopic_domain: Sequence[int], priors: np.ndarray, *,
                  temperature: float) -> np.ndarray:
    """Domain scores (rows: conversations, columns: domains) from subtopic scores.

    ``tau * log(mean_k exp(s_k / tau)) + tau * log(prior_d)`` over the subtopics k of
    domain d: the log posterior (times tau) of a mixture in which each domain is an equal
    mixture of its subtopics. Adding copies of a subtopic does not change it; a domain
    with more subtopics is not favoured.
    """
    if temperature <= 0:
        raise ValueError(f"topic temperature must be > 0, got {temperature}")
    scores = np.asarray(scores, np.float64)
    sub_dom = np.asarray(subtopic_domain)
    out = np.empty((len(scores), len(priors)))
    for d in range(len(priors)):
        s = scores[:, sub_dom == d] / temperature
        if s.shape[1] == 0:
            out[:, d] = -np.inf
            continue
        top = s.max(axis=1, keepdims=True)
        out[:, d] = temperature * (top[:, 0] + np.log(np.exp(s - top).mean(axis=1)))
    return out + temperature * np.log(priors)[None, :]


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature``."""
    if scores.size == 0:
        return np.zeros_like(scores, dtype=np.float64)
    z = (scores - scores.max(axis=1, keepdims=True)) / temperature
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def margins(dom_scores: np.ndarray) -> np.ndarray:
    """Best minus second-best domain score per row (NaN with fewer than 2 domains)."""
    if dom_scores.shape[1] < 2:
        return np.full(len(dom_scores), np.nan)
    top2 = -np.sort(-dom_scores, axis=1)[:, :2]
    return top2[:, 0] - top2[:, 1]


def primary_subtopics(scores: np.ndarray, subtopic_domain: Sequence[int],
                      primary_domain: np.ndarray) -> np.ndarray:
    """Index of the best subtopic within each row's primary domain."""
    sub_dom = np.asarray(subtopic_domain)
    masked = np.where(sub_dom[None, :] == np.asarray(primary_domain)[:, None], scores, -np.inf)
    return masked.argmax(axis=1)


#: Scores this close below the multi-label cut count as at the cut (see `assign`).
ASSIGN_TOLERANCE = 1e-9


def assign(scores: np.ndarray, *, min_score: float, margin: float,
           primary: np.ndarray | None = None) -> np.ndarray:
    """Boolean matrix of assigned subtopics: the primary (default: the argmax) always,
    plus every score >= max(min_score, best - margin)."""
    if scores.size == 0:
        return np.zeros_like(scores, dtype=bool)
    best = scores.max(axis=1, keepdims=True)
    # a score exactly at best - margin in decimal (0.35 for 0.40 - 0.05) can sit one
    # rounding error below the float difference (0.35000000000000003): compare with a
    # tolerance far below the resolution of cosines of float32 vectors (~1e-7)
    cut = np.maximum(min_score, best - margin) - ASSIGN_TOLERANCE
    out = scores >= cut
    if primary is None:
        primary = scores.argmax(axis=1)
    out[np.arange(len(scores)), primary] = True
    return out


def _file_sha(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        raise TopicError(f"{path}: file not found") from None


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
DOMAIN_SCORES_DDL = """
    CREATE TABLE topic_domain_scores (conv_id VARCHAR, domain VARCHAR, score DOUBLE,
        probability DOUBLE, rank INTEGER, is_primary BOOLEAN, PRIMARY KEY (conv_id, domain))"""
CONV_TOPICS_DDL = """
    CREATE TABLE conversation_topics (conv_id VARCHAR, domain VARCHAR, subtopic VARCHAR,
        is_primary BOOLEAN, score DOUBLE, source VARCHAR)"""
TOPIC_TABLES = ("topic_taxonomy", "topic_scores", "topic_domain_scores", "conversation_topics")


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each column within its row (1 = highest; ties by column order)."""
    ranks = np.empty(scores.shape, dtype=np.int32)
    if scores.size:
        ranks[np.arange(len(scores))[:, None], np.argsort(-scores, axis=1, kind="stable")] = (
            np.arange(1, scores.shape[1] + 1))
    return ranks


def _items(con: duckdb.DuckDBPyConnection, kind: str) -> list[tuple]:
    return con.execute("SELECT item_id, conv_id, text_hash FROM embedded_items "
                       "WHERE kind = ? ORDER BY item_id", [kind]).fetchall()


def stage_topics(con: duckdb.DuckDBPyConnection, *, settings: Any, log: Log = print,
                 embedder: Any | None = None, **_: object) -> dict:
    """Assign each conversation a primary domain/subtopic (+ multi-labels), by domain."""
    embedder = embedder_for(settings, embedder)
    model = model_name_of(embedder, settings)
    _check_model(con, model)
    taxonomy = load_taxonomy(settings.taxonomy)
    labels_path = Path(settings.topic_labels) if settings.topic_labels else None
    task_items, msg_items = _items(con, "task"), _items(con, "user_message")
    conv_ids = [r[0] for r in con.execute("SELECT conv_id FROM conversations ORDER BY conv_id")
                .fetchall()]
    domains, priors = domain_priors(taxonomy)
    tau, threshold = float(settings.topic_temperature), float(settings.topic_margin_threshold)
    params = {"model": model, "taxonomy": str(settings.taxonomy),
              "n_subtopics": len(taxonomy), "match": settings.topic_match,
              "method": TOPIC_METHOD, "temperature": tau,
              "priors": dict(zip(domains, [round(float(p), 6) for p in priors])),
              "margin_threshold": threshold,
              "min_score": settings.topic_min_score,
              "margin": settings.topic_margin,
              "topic_labels": str(labels_path) if labels_path else None,
              "scores_kept": "all conversation x subtopic and x domain pairs"}
    input_hash = hash_inputs(model, [(s.domain, s.name, s.description, s.domain_share)
                                     for s in taxonomy],
                             settings.topic_match, settings.topic_min_score,
                             settings.topic_margin, tau, threshold, TOPIC_METHOD,
                             task_items, msg_items, conv_ids,
                             str(labels_path) if labels_path else None,
                             _file_sha(labels_path))
    prev = stage_record(con, "topics")
    if (not settings.force and prev and prev["input_hash"] == input_hash
            and all(table_exists(con, t) for t in TOPIC_TABLES)
            and con.execute("SELECT count(*) FROM conversations WHERE domain IS NULL"
                            ).fetchall()[0][0] == prev["params"].get("n_unassigned")):
        return {"skipped": True, "summary": prev["summary"]}
    if tau <= 0:
        raise TopicError(f"topic temperature must be > 0, got {tau}")

    # zero-shot, by domain
    t_items, t_vecs = load_vectors(con, ["task"], model=model)
    m_items, m_vecs = load_vectors(con, ["user_message"], model=model)
    scored_ids, conv_vecs = conversation_vectors(conv_ids, list(t_items["conv_id"]), t_vecs,
                                                 list(m_items["conv_id"]), m_vecs)
    sub_hashes, n_new, _ = ensure_vectors(con, embedder, model,
                                          [s.match_text(settings.topic_match) for s in taxonomy],
                                          batch_size=settings.batch_size, progress=False,
                                          log=log)
    sub_vecs = vectors_for_hashes(con, sub_hashes)
    scores = zero_shot_scores(conv_vecs, sub_vecs) if len(conv_vecs) else np.zeros(
        (0, len(taxonomy)))
    sub_dom = np.array([domains.index(s.domain) for s in taxonomy])
    dom_scores = domain_scores(scores, sub_dom, priors, temperature=tau)
    probs = softmax(dom_scores, tau)
    best_dom = dom_scores.argmax(axis=1) if len(dom_scores) else np.zeros(0, dtype=int)
    primary_sub = primary_subtopics(scores, sub_dom, best_dom)
    margin = margins(dom_scores)
    assigned = assign(scores, min_score=settings.topic_min_score,
                      margin=settings.topic_margin, primary=primary_sub)
    n_conv, n_sub, n_dom = len(scored_ids), len(taxonomy), len(domains)
    is_primary_sub = np.zeros(scores.shape, dtype=bool)
    is_primary_sub[np.arange(n_conv), primary_sub] = True
    score_frame = pd.DataFrame({
        "conv_id": np.repeat(np.array(scored_ids, dtype=object), n_sub),
        "domain": np.tile([s.domain for s in taxonomy], n_conv),
        "subtopic": np.tile([s.name for s in taxonomy], n_conv),
        "score": scores.ravel(),
        "rank": _ranks(scores).ravel(),
        "is_primary": is_primary_sub.ravel(),
        "is_assigned": assigned.ravel(),
    })
    domain_frame = pd.DataFrame({
        "conv_id": np.repeat(np.array(scored_ids, dtype=object), n_dom),
        "domain": np.tile(domains, n_conv),
        "score": dom_scores.ravel(),
        "probability": probs.ravel(),
        "rank": _ranks(dom_scores).ravel(),
        "is_primary": (_ranks(dom_scores) == 1).ravel(),
    })
    zs = score_frame[score_frame["is_assigned"]].sort_values(
        ["conv_id", "is_primary", "rank"], ascending=[True, False, True])
    final = pd.DataFrame({"conv_id": zs["conv_id"], "domain": zs["domain"],
                          "subtopic": zs["subtopic"], "is_primary": zs["is_primary"],
                          "score": zs["score"], "source": "zero-shot"})
    uncertainty = pd.DataFrame({"conv_id": scored_ids,
                                "topic_margin": margin,
                                "topic_uncertain": margin < threshold})

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
        uncertainty = pd.concat([
            uncertainty[~uncertainty["conv_id"].isin(labelled)],
            pd.DataFrame({"conv_id": sorted(labelled), "topic_margin": np.nan,
                          "topic_uncertain": False}),
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
    replace_table(con, "topic_domain_scores", domain_frame, DOMAIN_SCORES_DDL)
    replace_table(con, "conversation_topics", final, CONV_TOPICS_DDL)
    primary = final[final["is_primary"]][["conv_id", "domain", "subtopic"]]
    primary = primary.merge(uncertainty, on="conv_id", how="left")
    primary["topic_uncertain"] = primary["topic_uncertain"].astype("boolean")
    for col, typ in (("topic_margin", "DOUBLE"), ("topic_uncertain", "BOOLEAN")):
        con.execute(f"ALTER TABLE conversations ADD COLUMN IF NOT EXISTS {col} {typ}")
    con.execute("UPDATE conversations SET domain = NULL, subtopic = NULL, topic_margin = NULL,"
                " topic_uncertain = NULL")
    con.register("_primary", primary)
    try:
        con.execute("UPDATE conversations SET domain = p.domain, subtopic = p.subtopic, "
                    "topic_margin = p.topic_margin, topic_uncertain = p.topic_uncertain "
                    "FROM _primary p WHERE conversations.conv_id = p.conv_id")
    finally:
        con.unregister("_primary")
    source = f"labels:{labels_path}" if labels_path else f"zero-shot:{model}"
    set_meta(con, "topic_source", source)
    set_meta(con, "topic_margin_threshold", repr(threshold))
    n_unassigned = con.execute("SELECT count(*) FROM conversations WHERE domain IS NULL"
                               ).fetchall()[0][0]
    n_uncertain = con.execute("SELECT count(*) FROM conversations WHERE topic_uncertain"
                              ).fetchall()[0][0]
    dom_counts = (primary.groupby("domain").size().sort_values(ascending=False))
    top = ", ".join(f"{d} {n}" for d, n in dom_counts.head(7).items())
    multi = final.groupby("conv_id").size()
    summary = (f"{len(conv_ids)} conversations, {len(taxonomy)} subtopics "
               f"({len(dom_order)} domains); primary domains: {top or 'none'}; "
               f"{n_uncertain} uncertain (margin < {threshold:g}); "
               f"{(multi > 1).sum()} multi-label; source {source}")
    if labels_path is not None:
        summary += (f"; {n_labelled} labelled from file, {n_missing} not in the file kept "
                    f"zero-shot" + (f", {n_added} label-only subtopics added" if n_added
                                     else ""))
    if n_unassigned:
        summary += f"; {n_unassigned} without a task text or user message, no topic"
    if n_new:
        summary += f"; {n_new} subtopic texts embedded"
    params.update({"n_unassigned": int(n_unassigned), "n_labelled": n_labelled,
                   "n_missing_from_labels": n_missing, "n_uncertain": int(n_uncertain)})
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
HDBSCAN_PARAMS = {"package": "hdbscan", "metric": "euclidean",
                  "cluster_selection_method": "eom"}
N_KEYWORDS = 5
N_NAME_PHRASES = 3
#: Key phrases: n-grams of 1..PHRASE_MAX_WORDS words; the PHRASE_CANDIDATES best by
#: c-TF-IDF per cluster are embedded; MMR trades relevance for diversity with MMR_LAMBDA.
PHRASE_MAX_WORDS = 3
PHRASE_CANDIDATES = 20
MMR_LAMBDA = 0.7
KEYPHRASE_PARAMS = {"method": "c-TF-IDF candidates + embedding MMR",
                    "ngram_words": [1, PHRASE_MAX_WORDS], "candidates": PHRASE_CANDIDATES,
                    "mmr_lambda": MMR_LAMBDA, "relevance": "cosine with the cluster centroid",
                    "stop_words": "english", "name_phrases": N_NAME_PHRASES,
                    "top_n": N_KEYWORDS}


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
                    reduce: str = "auto"
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """HDBSCAN (the `hdbscan` package) of the vectors.

    Returns (labels: -1 = noise, others numbered by size, largest 0; membership strengths
    in 0..1, 0 for noise; GLOSH outlier scores in 0..1, NaN where not clustered at all;
    'umap' | 'none'). Fewer than MIN_ITEMS vectors (or not more than min_cluster_size) are
    all noise.
    """
    n = len(vectors)
    if n < MIN_ITEMS or n <= min_cluster_size:
        return (np.full(n, -1, dtype=np.int64), np.zeros(n), np.full(n, np.nan), "none")
    import hdbscan
    data, how = reduce_vectors(vectors, how=reduce)
    model = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples,
                            metric=HDBSCAN_PARAMS["metric"],
                            cluster_selection_method=HDBSCAN_PARAMS["cluster_selection_method"])
    model.fit(np.asarray(data, dtype=np.float64))
    labels = np.asarray(model.labels_)
    probs = np.nan_to_num(np.asarray(model.probabilities_, dtype=np.float64), nan=0.0)
    # GLOSH is 0/0 (NaN) for a point whose whole neighbourhood sits at distance 0
    # (duplicates): such a point is at the heart of its cluster, score 0.
    outlier = np.nan_to_num(np.asarray(model.outlier_scores_, dtype=np.float64), nan=0.0)
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    remap = {old: new for new, old in enumerate(order)}
    labels = np.array([remap.get(lab, -1) for lab in labels], dtype=np.int64)
    return labels, probs, outlier, how


# --------------------------------------------------------------------------- key phrases

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_CHUNK = re.compile(r"[.,;:!?()\[\]{}\"“”/\\|\n\r\t*#>_`~=+<]+|\s[-–—]+\s")


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    return frozenset(ENGLISH_STOP_WORDS) | {"don't", "i'm", "i've", "it's", "can't", "i'd",
                                            "i'll", "didn't", "doesn't", "isn't", "won't"}


def phrases_of(text: str, *, max_words: int = PHRASE_MAX_WORDS,
               stop_words: frozenset[str] | None = None) -> set[str]:
    """The distinct candidate phrases of a text: runs of 1..max_words words (letters only,
    lower case, at least 2 letters) inside one clause, neither starting nor ending with a
    stop word."""
    stop = _stop_words() if stop_words is None else stop_words
    out: set[str] = set()
    for chunk in _CHUNK.split(text.lower()):
        words = [w.replace("’", "'") for w in _WORD.findall(chunk)]
        for i in range(len(words)):
            if words[i] in stop or len(words[i]) < 2:
                continue
            for j in range(i, min(i + max_words, len(words))):
                last = words[j]
                if len(last) < 2:
                    break
                if last not in stop:
                    out.add(" ".join(words[i:j + 1]))
    return out


def ctfidf_phrases(texts: Sequence[str], labels: Sequence[int], *,
                   top_n: int = PHRASE_CANDIDATES, max_words: int = PHRASE_MAX_WORDS
                   ) -> dict[int, list[tuple[str, float]]]:
    """The top phrases of each class by class-based TF-IDF over texts (BERTopic's c-TF-IDF,
    counting each phrase once per text).

    tf = texts of the class containing the phrase / texts of the class; idf = log(1 + mean
    texts per class / texts containing the phrase in all classes). A phrase must occur in
    at least 2 texts of its class (1 in a class of one text). Returns class -> [(phrase,
    score)], best first; ties broken alphabetically.
    """
    stop = _stop_words()
    classes = sorted(set(int(x) for x in labels))
    per_class: dict[int, dict[str, int]] = {c: {} for c in classes}
    n_texts = {c: 0 for c in classes}
    total: dict[str, int] = {}
    for text, lab in zip(texts, labels):
        lab = int(lab)
        n_texts[lab] += 1
        for p in phrases_of(text or "", max_words=max_words, stop_words=stop):
            per_class[lab][p] = per_class[lab].get(p, 0) + 1
            total[p] = total.get(p, 0) + 1
    avg = float(np.mean(list(n_texts.values()))) if classes else 0.0
    out: dict[int, list[tuple[str, float]]] = {}
    for c in classes:
        need = 2 if n_texts[c] > 1 else 1
        scored = [(p, (k / n_texts[c]) * math.log(1 + avg / total[p]))
                  for p, k in per_class[c].items() if k >= need]
        scored.sort(key=lambda x: (-x[1], x[0]))
        out[c] = scored[:top_n]
    return out


def ctfidf_keywords(texts: Sequence[str], labels: Sequence[int], *,
                    top_n: int = N_KEYWORDS) -> dict[int, list[str]]:
    """Top single words per class by c-TF-IDF (phrases of one word; see ctfidf_phrases)."""
    ranked = ctfidf_phrases(texts, labels, top_n=top_n, max_words=1)
    return {c: [p for p, _ in v] for c, v in ranked.items()}


def _stem(word: str) -> str:
    """Fold a possessive ('s) and a plural s: "ai's" -> "ai", "plans" -> "plan"."""
    if word.endswith("'s"):
        return word[:-2]
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") \
        else word


def _overlaps(a: str, b: str) -> bool:
    """Whether one phrase's words (plurals folded) contain the other's."""
    wa, wb = {_stem(w) for w in a.split()}, {_stem(w) for w in b.split()}
    return wa <= wb or wb <= wa


def mmr_select(phrases: Sequence[str], phrase_vectors: np.ndarray, centroid: np.ndarray, *,
               k: int = N_KEYWORDS, lam: float = MMR_LAMBDA) -> list[str]:
    """Pick up to ``k`` phrases by maximal marginal relevance.

    Each step takes the phrase maximising ``lam * cos(phrase, centroid) - (1 - lam) *
    max cos(phrase, picked)``, skipping phrases whose words contain or are contained in
    a picked phrase's. Vectors are L2-normalised; ties go to the earlier phrase.
    """
    if not len(phrases):
        return []
    vecs = np.asarray(phrase_vectors, dtype=np.float64)
    rel = vecs @ _unit(np.asarray(centroid, dtype=np.float64))
    picked: list[int] = []
    while len(picked) < k:
        best, best_val = None, -np.inf
        for i in range(len(phrases)):
            if i in picked or any(_overlaps(phrases[i], phrases[j]) for j in picked):
                continue
            red = max((float(vecs[i] @ vecs[j]) for j in picked), default=0.0)
            val = lam * rel[i] - (1 - lam) * red
            if val > best_val + 1e-12:
                best, best_val = i, val
        if best is None:
            break
        picked.append(best)
    return [phrases[i] for i in picked]


def key_phrases(texts: Sequence[str], labels: Sequence[int], vectors: np.ndarray, *,
                embed: Callable[[list[str]], np.ndarray], k: int = N_KEYWORDS
                ) -> dict[int, list[str]]:
    """Key phrases per cluster (noise, -1, gets none): c-TF-IDF candidates (n-grams of
    1-3 words; noise counts as a class for the idf), embedded with ``embed`` (texts ->
    L2-normalised rows), chosen by MMR against the centroid of the cluster's vectors."""
    labels = np.asarray(labels)
    candidates = ctfidf_phrases(texts, labels)
    wanted = sorted({p for c, v in candidates.items() if c != -1 for p, _ in v})
    if not wanted:
        return {c: [] for c in candidates if c != -1}
    vec_of = dict(zip(wanted, np.asarray(embed(wanted), dtype=np.float64)))
    vectors64 = np.asarray(vectors, dtype=np.float64)
    space_mean = vectors64.mean(axis=0)
    out: dict[int, list[str]] = {}
    for c, ranked in candidates.items():
        if c == -1:
            continue
        phrases = [p for p, _ in ranked]
        if not phrases:
            out[c] = []
            continue
        centroid = vectors64[labels == c].mean(axis=0) - space_mean
        out[c] = mmr_select(phrases, np.stack([vec_of[p] for p in phrases]), centroid, k=k)
    return out


CLUSTERS_DDL = """
    CREATE TABLE clusters (space VARCHAR, cluster_id INTEGER, name VARCHAR, keywords VARCHAR,
        size INTEGER, PRIMARY KEY (space, cluster_id))"""
MEMBERS_DDL = """
    CREATE TABLE cluster_members (space VARCHAR, item_id VARCHAR, cluster_id INTEGER,
        probability DOUBLE, outlier_score DOUBLE, PRIMARY KEY (space, item_id))"""


def stage_clusters(con: duckdb.DuckDBPyConnection, *, settings: Any, log: Log = print,
                   embedder: Any | None = None, **_: object) -> dict:
    """HDBSCAN clusters of task, reason and reaction vectors, named by key phrases."""
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
              "hdbscan": HDBSCAN_PARAMS, "keywords": KEYPHRASE_PARAMS}
    input_hash = hash_inputs(params, {s: list(zip(it["item_id"], it["text_hash"]))
                                      for s, (it, _) in loaded.items()})
    prev = stage_record(con, "clusters")
    if (not settings.force and prev and prev["input_hash"] == input_hash
            and table_exists(con, "clusters") and table_exists(con, "cluster_members")):
        return {"skipped": True, "summary": prev["summary"]}

    if embedder is None:
        embedder = embedder_for(replace_model(settings, model), None)
    n_new = 0

    def embed(phrases: list[str]) -> np.ndarray:
        nonlocal n_new
        hashes, new, _ = ensure_vectors(con, embedder, model, phrases,
                                        batch_size=settings.batch_size, progress=False,
                                        log=log, desc="key phrases")
        n_new += new
        return vectors_for_hashes(con, hashes)

    texts = collect_items(con, include_assistant=False).set_index("item_id")["text"]
    cluster_rows, member_frames, parts = [], [], []
    for space, (items, vectors) in loaded.items():
        p = space_params[space]
        labels, probs, outlier, how = cluster_vectors(
            vectors, min_cluster_size=p["min_cluster_size"], min_samples=p["min_samples"],
            reduce=settings.cluster_reduce)
        p["reduce"] = how
        item_texts = [texts.get(i) or "" for i in items["item_id"]]
        keywords = (key_phrases(item_texts, labels, vectors, embed=embed)
                    if (labels >= 0).any() else {})
        sizes = pd.Series(labels).value_counts().to_dict()
        for cid in sorted(set(int(x) for x in labels) | {-1}):
            kw = keywords.get(cid, [])
            name = NOISE_NAME if cid == -1 else (" · ".join(kw[:N_NAME_PHRASES])
                                                 or f"cluster {cid}")
            cluster_rows.append({"space": space, "cluster_id": cid, "name": name,
                                 "keywords": ", ".join(kw), "size": int(sizes.get(cid, 0))})
        member_frames.append(pd.DataFrame({"space": space, "item_id": items["item_id"],
                                           "cluster_id": labels.astype(np.int32),
                                           "probability": probs,
                                           "outlier_score": outlier}))
        n_clusters = len(set(labels) - {-1})
        noise = float((labels == -1).mean()) if len(labels) else 0.0
        parts.append(f"{space}: {len(items)} items, {n_clusters} clusters, "
                     f"{noise:.0%} noise ({how})")
    settle(con)
    replace_table(con, "clusters", pd.DataFrame(cluster_rows), CLUSTERS_DDL)
    replace_table(con, "cluster_members", pd.concat(member_frames, ignore_index=True),
                  MEMBERS_DDL)
    params["spaces"] = space_params
    summary = "; ".join(parts)
    if n_new:
        summary += f"; {n_new} key-phrase candidates embedded"
    return {"skipped": False, "summary": summary, "input_hash": input_hash,
            "params": params}


def replace_model(settings: Any, model: str) -> Any:
    """``settings`` with ``embed_model`` set to ``model`` (the DB's), for loading it."""
    from dataclasses import replace
    return replace(settings, embed_model=model) if settings.embed_model != model else settings
