"""The in-process limit: a worker's work for a document, in memory, no HTTP, queue or database.

The pipeline stages, `decide` and related coverage.

Candidates come from an in-memory inverted index that mimics the storage
lookup (`services.storage.index.find_candidates`): the stored documents with
the same content hash, then the `CANDIDATE_CAP` sharing most keys, each
key's postings capped to the newest `POSTINGS_PER_KEY`, as the storage's are.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from services.config import Config
from services.pipeline.analyze import STAGES, analyze
from services.pipeline.analyze import warm as warm_pipeline
from services.pipeline.dedup import Candidate, Context, decide
from services.pipeline.embedding import embedding_text, load_embedder, one_blas_thread
from services.pipeline.fingerprint import Fingerprint
from services.pipeline.related import find_related
from services.pipeline.specificity import Frequencies, fact_keys
from services.processing import BATCH, NEW_STORY, cosines, raw_document
from services.storage.index import POSTINGS_PER_KEY
from services.storage.vectors import NEIGHBOURS, nearest_each_side

CANDIDATE_CAP = 50
DEDUP = "decide"
EMBED = "embed"
# As the storage's vector search: its window (kept small here, where the
# scan is per document, not per task) and neighbours.
VECTOR_WINDOW = 2_000


class MemoryIndex:
    """Stored fingerprints, found by content hash or shared keys."""

    def __init__(self) -> None:
        self._by_hash: dict[str, str] = {}
        self._postings: dict[str, deque[str]] = defaultdict(lambda: deque(maxlen=POSTINGS_PER_KEY))
        self._stored: dict[str, Candidate] = {}

    def candidates(self, print_: Fingerprint) -> list[Candidate]:
        """Return the candidates `find_candidates` would return, best first."""
        ids: list[str] = []
        if print_.content_hash in self._by_hash:
            ids.append(self._by_hash[print_.content_hash])
        shared: Counter[str] = Counter()
        for key in set(print_.keys):
            shared.update(self._postings.get(key, ()))
        ids += [i for i, _ in sorted(shared.items(), key=lambda x: (-x[1], x[0]))[:CANDIDATE_CAP]]
        return [self._stored[i] for i in dict.fromkeys(ids)]

    def stored(self, document_id: str) -> Candidate:
        """Return a stored document as a candidate."""
        return self._stored[document_id]

    def add(self, candidate: Candidate, keys: tuple[str, ...]) -> None:
        """Store a processed document under its hash and keys."""
        self._stored[candidate.document_id] = candidate
        self._by_hash.setdefault(candidate.fingerprint.content_hash, candidate.document_id)
        for key in set(keys):
            self._postings[key].append(candidate.document_id)


@dataclass
class Run:
    """What one process measured over a slice of the corpus."""

    documents: int = 0
    started: float = 0.0
    finished: float = 0.0
    cpu_seconds: float = 0.0
    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    decisions: Counter[str] = field(default_factory=Counter)

    @property
    def elapsed(self) -> float:
        return self.finished - self.started


def process_all(payloads: list[dict[str, Any]]) -> Run:
    """Analyze, match and link each payload against the ones before, timing every stage.

    Matching is `decide`, linking is related coverage (`find_related`).

    With embeddings on (`EMBEDDINGS`), documents are embedded in batches of
    `processing.BATCH`, as a worker's task does (stage `embed`), and the
    nearest stored vectors join the candidates.
    """
    index = MemoryIndex()
    embedder = load_embedder(Config.from_env().embeddings)
    counts: Counter[str] = Counter()
    stored_ids: list[str] = []
    stored_vectors: list[np.ndarray] = []
    stored_languages: list[str] = []
    run = Run(started=time.time())
    cpu_started = time.process_time()
    for start in range(0, len(payloads), BATCH):
        analyses = [analyze(raw_document(p)) for p in payloads[start : start + BATCH]]
        vectors: list[np.ndarray | None] = [None] * len(analyses)
        if embedder is not None:
            began = time.perf_counter()
            texts = [embedding_text(a.normalized.title, a.normalized.text) for a in analyses]
            vectors = list(embedder.embed(texts))
            run.seconds[EMBED] += [(time.perf_counter() - began) / len(analyses)] * len(analyses)
        for offset, (analysis, vector) in enumerate(zip(analyses, vectors, strict=True)):
            started = time.perf_counter()
            candidates = index.candidates(analysis.fingerprint)
            if vector is not None and stored_vectors:
                window = np.vstack(stored_vectors[-VECTOR_WINDOW:])
                similarities = window @ vector
                known = {c.document_id for c in candidates}
                base = max(0, len(stored_ids) - VECTOR_WINDOW)
                languages = np.array(stored_languages[-VECTOR_WINDOW:])
                same = languages == analysis.language.code
                for side in nearest_each_side(similarities, same, NEIGHBOURS):
                    for i in side:
                        found = stored_ids[base + int(i)]
                        if found not in known:
                            candidates.append(index.stored(found))
            frequencies = Frequencies(counts, counts["*"])
            match = decide(
                analysis.fingerprint,
                analysis.language.code,
                analysis.normalized.published_at,
                candidates,
                context=Context(vector, frequencies),
            )
            find_related(
                analysis.fingerprint,
                analysis.normalized.published_at,
                candidates,
                story_id=match.story_id if match else None,
                cosines=cosines(vector, candidates),
                frequencies=frequencies,
            )
            for stage in STAGES:
                run.seconds[stage].append(analysis.seconds[stage])
            run.seconds[DEDUP].append(time.perf_counter() - started)
            document_id = str(start + offset)
            story_id = match.story_id if match else document_id
            index.add(
                Candidate(
                    document_id,
                    story_id,
                    analysis.language.code,
                    analysis.normalized.published_at,
                    analysis.fingerprint,
                    vector,
                ),
                analysis.fingerprint.keys,
            )
            counts.update(fact_keys(analysis.fingerprint.data.get("ev") or {}))
            counts["*"] += 1
            if vector is not None:
                stored_ids.append(document_id)
                stored_vectors.append(vector)
                stored_languages.append(analysis.language.code)
            run.decisions[match.relation if match else NEW_STORY] += 1
            run.documents += 1
    run.finished = time.time()
    run.cpu_seconds = time.process_time() - cpu_started
    return run


def warm(_: object = None) -> int:
    """Load the lexicons and models; return the process id (pool initializer and probe).

    BLAS runs on one thread, as in a worker's pool process.
    """
    one_blas_thread()
    warm_pipeline()
    return os.getpid()


def start_pool(cores: int) -> Any:
    """Return a pool of `cores` spawned processes, each warmed up and running."""
    pool = multiprocessing.get_context("spawn").Pool(cores, initializer=warm)
    for _ in range(50):
        if len(set(pool.map(warm, range(cores * 4), chunksize=1))) == cores:
            break
    return pool


def measure(payloads: list[dict[str, Any]], single: int, pool: Any, cores: int) -> dict[str, Any]:
    """Measure documents/s on one core (first `single` payloads) and on the pool."""
    warm()
    one = process_all(payloads[:single])
    total, decisions, cpu_ms = on_pool(payloads, pool, cores)
    return {
        "per_core_docs_per_s": one.documents / one.elapsed,
        "cpu_ms_per_doc": cpu_ms,
        "total_docs_per_s": total,
        "processes": cores,
        "documents_single": one.documents,
        "documents_pool": len(payloads),
        "decisions": dict(decisions),
        "stage_seconds": {name: list(values) for name, values in one.seconds.items()},
    }


def on_pool(
    payloads: list[dict[str, Any]], pool: Any, cores: int
) -> tuple[float, Counter[str], float]:
    """Return the pool's wall-clock documents/s over the payloads, its decisions and CPU ms/doc.

    The pool gets contiguous slices, so each worker's index holds the
    stories its repeats refer to.
    """
    size = -(-len(payloads) // cores)
    started = time.time()
    runs = pool.map(process_all, [payloads[i : i + size] for i in range(0, len(payloads), size)], 1)
    wall = time.time() - started
    decisions: Counter[str] = Counter()
    for run in runs:
        decisions.update(run.decisions)
    documents = sum(run.documents for run in runs)
    cpu_ms = 1000 * sum(run.cpu_seconds for run in runs) / documents
    return documents / wall, decisions, cpu_ms
