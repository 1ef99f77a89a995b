"""Storage figures, in-process against a real database: per-stage times and scale.

`process_queued` is the worker's own path (`services.processing.process`) on
rows stored by `documents.accept`. `fill` reaches large sizes fast: worker
processes run `analyze`, and the results are bulk-inserted as processed
documents, each opening its own story (no `decide`), with their match keys,
tags, fact counts and feed entries. With embeddings on, the originals of
the stories that the next `REPEAT_WINDOW` documents repeat get their real
vectors, so a repeat's vector search meets its story as the service would;
the others get a random unit vector each (the cost of the search does not
depend on what the vectors hold, and embedding 100,000 documents would take
over an hour). The feed page is read through the Flask app in this process
(the real view and database, no socket).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session, aliased, sessionmaker

from bench.corpus import ORIGINAL, REPEAT_WINDOW, article
from bench.stats import median, percentile
from services import processing
from services.api.feed import encode_cursor
from services.app import create_app
from services.config import Config
from services.pipeline.analyze import analyze
from services.pipeline.embedding import embedding_text, load_embedder
from services.pipeline.specificity import fact_keys
from services.storage import documents, facts, vectors
from services.storage.db import make_engine, make_sessionmaker
from services.storage.models import (
    PROCESSED,
    Document,
    DocumentTag,
    FeedEntry,
    MatchKey,
    Signature,
    Story,
    new_id,
    utcnow,
)

FILL_CHUNK = 250
VECTOR_DIMENSIONS = 384


def sessions_for(url: str) -> sessionmaker[Session]:
    """Return a session factory on the database."""
    return make_sessionmaker(make_engine(url))


def process_queued(
    factory: sessionmaker[Session], payloads: list[dict[str, Any]]
) -> dict[str, list[float]]:
    """Accept the payloads as queued rows, then process them as a worker does; seconds per stage."""
    ids = []
    with factory() as session:
        for payload in payloads:
            ids.append(documents.accept(session, payload).id)
        session.commit()
    seconds: dict[str, list[float]] = {}
    for start in range(0, len(ids), processing.BATCH):
        batch = ids[start : start + processing.BATCH]
        processed = processing.process(
            factory, batch, max_deliveries=5, embedder=load_embedder(Config.from_env().embeddings)
        )
        for outcome in processed.outcomes.values():
            for stage, value in outcome.seconds.items():
                seconds.setdefault(stage, []).append(value)
    return seconds


@dataclass(frozen=True)
class _Task:
    """Documents `start`..`start + count - 1` of the feed; `embedded`: those to embed."""

    seed: int
    start: int
    count: int
    embedded: frozenset[int]


def _rows(task: _Task) -> list[dict[str, Any]]:
    """Analyze the task's documents into insertable rows; embed those it names."""
    seed, start, count = task.seed, task.start, task.count
    rows = []
    for index in range(start, start + count):
        payload = article(seed, index).payload
        result = analyze(processing.raw_document(payload))
        normalized = result.normalized
        rows.append(
            {
                "payload": payload,
                "title": normalized.title,
                "byline": normalized.byline,
                "published_at": normalized.published_at,
                "language": result.language.code,
                "language_confidence": result.language.confidence,
                "text": normalized.text,
                "content_hash": result.fingerprint.content_hash,
                "fingerprint": result.fingerprint.data,
                "tags": [tag.to_json() for tag in result.tags],
                "keys": sorted(set(result.fingerprint.keys)),
            }
        )
    embedder = load_embedder(Config.from_env().embeddings)
    embedded = [row for index, row in enumerate(rows, start) if index in task.embedded]
    if embedder is not None and embedded:
        texts = [embedding_text(row["title"], row["text"]) for row in embedded]
        for row, vector in zip(embedded, embedder.embed(texts), strict=True):
            row["vector"] = vector
    return rows


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    now = utcnow()
    stories, docs, signatures, keys, tags, feed = [], [], [], [], [], []
    for row in rows:
        document_id, story_id = new_id(), new_id()
        payload = documents.raw_payload(row["payload"])
        stories.append({"id": story_id, "canonical_id": document_id, "revision": 1})
        docs.append(
            {
                "id": document_id,
                "status": PROCESSED,
                "received_at": now,
                "enqueued_at": now,
                "processed_at": now,
                "source": payload["source"],
                "external_id": payload["external_id"],
                "url": payload["url"],
                "raw": payload,
                "deliveries": 1,
                "story_id": story_id,
                **{k: row[k] for k in row if k not in ("payload", "keys", "fingerprint", "vector")},
            }
        )
        signatures.append(
            {
                "document_id": document_id,
                "story_id": story_id,
                "language": row["language"],
                "published_at": row["published_at"],
                "content_hash": row["content_hash"],
                "fingerprint": row["fingerprint"],
            }
        )
        keys += [{"key": key, "document_id": document_id} for key in row["keys"]]
        tags += [
            {"tag_id": tag_id, "document_id": document_id}
            for tag_id in sorted({tag["id"] for tag in row["tags"]})
        ]
        feed.append(
            {
                "document_id": document_id,
                "story_id": story_id,
                "story_revision": 1,
                "story_update": True,
            }
        )
    for model, values in (
        (Story, stories),
        (Document, docs),
        (Signature, signatures),
        (MatchKey, keys),
        (DocumentTag, tags),
        (FeedEntry, feed),
    ):
        if values:
            session.execute(insert(model), values)
    embedder = load_embedder(Config.from_env().embeddings)
    if embedder is not None and docs:
        rng = np.random.default_rng(int(docs[0]["id"].replace("-", ""), 16))
        noise = rng.standard_normal((len(docs), VECTOR_DIMENSIONS)).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        vectors.add(
            session,
            embedder.name,
            {
                d["id"]: row.get("vector", random)
                for d, row, random in zip(docs, rows, noise, strict=True)
            },
        )
    facts.count(
        session, [fact_keys(row["fingerprint"].get("ev") or {}) for row in rows], now.date()
    )


def repeated_stories(seed: int, end: int) -> frozenset[int]:
    """Return the stories (their originals' indexes) that documents `end`.. may repeat.

    A repeat's story is at most `REPEAT_WINDOW` documents before it, so the
    `REPEAT_WINDOW` documents from `end` are the only ones that can repeat a
    story whose original comes before `end`.
    """
    found = (article(seed, index) for index in range(end, end + REPEAT_WINDOW))
    return frozenset(a.story for a in found if a.kind != ORIGINAL and a.story < end)


def _tasks(seed: int, start: int, count: int) -> Iterator[_Task]:
    embedded = repeated_stories(seed, start + count)
    for offset in range(0, count, FILL_CHUNK):
        first, size = start + offset, min(FILL_CHUNK, count - offset)
        chunk = frozenset(i for i in embedded if first <= i < first + size)
        yield _Task(seed, first, size, chunk)


def fill(factory: sessionmaker[Session], seed: int, start: int, count: int, pool: Any) -> float:
    """Store feed documents `start`..`start + count - 1` in bulk; return the seconds taken."""
    started = time.perf_counter()
    for rows in pool.imap(_rows, _tasks(seed, start, count)):
        with factory.begin() as session:
            _insert(session, rows)
    if count and factory.kw["bind"].dialect.name == "postgresql":
        # Statistics after a bulk load, as autovacuum gathers them on a
        # server that runs it: without them PostgreSQL plans the feed page
        # as if no document were visible (minutes at 100,000 stored).
        with factory.begin() as session:
            session.execute(text("ANALYZE"))
    return time.perf_counter() - started


def stored(factory: sessionmaker[Session]) -> int:
    """Return the number of processed documents."""
    with factory() as session:
        return int(session.scalar(select(func.count()).where(Document.status == PROCESSED)) or 0)


def repeats_joined(factory: sessionmaker[Session], seed: int, indexes: range) -> tuple[int, int]:
    """Of these feed documents, return how many repeat an earlier story and joined it, and all.

    Joined: processed into the story of a document generated from the same
    story (the fill opens one story per document; any of them will do).
    """
    repeats = {
        a.payload["external_id"]: a.story
        for i in indexes
        if (a := article(seed, i)).kind != ORIGINAL
    }
    repeat, canonical = aliased(Document), aliased(Document)
    with factory() as session:
        rows = session.execute(
            select(repeat.external_id, canonical.external_id)
            .join(Story, Story.id == repeat.story_id)
            .join(canonical, canonical.id == Story.canonical_id)
            .where(repeat.external_id.in_(repeats), canonical.id != repeat.id)
        ).all()
    # External ids are "doc-<seed>-<index>".
    joined = [
        external_id
        for external_id, other in rows
        if other and article(seed, int(other.rsplit("-", 1)[1])).story == repeats[external_id]
    ]
    return len(joined), len(repeats)


def feed_page_ms(config: Config, repeats: int) -> list[float]:
    """Time GET /v1/feed?limit=100 from a cursor in the middle of the feed."""
    factory = sessions_for(config.database_url)
    with factory() as session:
        middle = int(session.scalar(select(func.max(FeedEntry.seq))) or 0) // 2
    factory.kw["bind"].dispose()
    app = create_app(config)
    client = app.test_client()
    url = f"/v1/feed?limit=100&after={encode_cursor(middle)}"
    timings = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"feed page answered {response.status_code}")
    app.extensions["ingest"].engine.dispose()
    return timings[1:]


@dataclass(frozen=True)
class Plan:
    """How to grow the database (from article `start` of `seed`) and what to measure."""

    seed: int
    start: int
    sizes: list[int]
    probes: int
    feed_repeats: int


def measure(url: str, config: Config, plan: Plan, *, pool: Any) -> list[dict[str, Any]]:
    """Grow the database to each size; measure dedup per document and the feed page.

    The probes are the next `probes` documents of the feed, processed by
    `services.processing.process`, so they include repeats of stored stories:
    how many of those joined their story is counted too (`repeats_joined`).
    """
    factory = sessions_for(url)
    results = []
    seed, probes = plan.seed, plan.probes
    position = plan.start
    for size in plan.sizes:
        missing = max(0, size - stored(factory))
        fill_seconds = fill(factory, seed, position, missing, pool)
        position += missing
        size_before = stored(factory)
        payloads = [article(seed, position + i).payload for i in range(probes)]
        position += probes
        seconds = process_queued(factory, payloads)
        joined, repeats = repeats_joined(factory, seed, range(position - probes, position))
        pages = feed_page_ms(config, plan.feed_repeats)
        dedup = [s * 1000 for s in seconds.get("deduplicate", [])]
        store = [s * 1000 for s in seconds.get("store", [])]
        results.append(
            {
                "size": size_before,
                "filled": missing,
                "fill_seconds": round(fill_seconds, 2),
                "probes": len(dedup),
                "dedup_ms_median": median(dedup),
                "dedup_ms_p95": percentile(dedup, 95),
                "store_ms_median": median(store),
                "feed_page_ms_median": median(pages),
                "feed_page_ms_p95": percentile(pages, 95),
                "repeats": repeats,
                "repeats_joined": joined,
            }
        )
    factory.kw["bind"].dispose()
    return results
