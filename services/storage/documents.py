"""Repository functions for documents: accept, deliver, record, fail, sweep."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from services.storage.db import insert_rows
from services.storage.models import (
    FAILED,
    PROCESSED,
    PROCESSING,
    QUEUED,
    Document,
    DocumentTag,
    new_id,
    table,
    utcnow,
)


@dataclass(frozen=True)
class Accepted:
    """The stored document an intake request names, and whether the request created it."""

    id: str
    status: str
    created: bool


def _find_existing(
    session: Session, fields: dict[str, Any], idempotency_key: str | None
) -> Document | None:
    conditions = []
    if idempotency_key is not None:
        conditions.append(Document.idempotency_key == idempotency_key)
    if fields.get("source") is not None and fields.get("external_id") is not None:
        conditions.append(
            (Document.source == fields["source"]) & (Document.external_id == fields["external_id"])
        )
    if not conditions:
        return None
    return session.scalars(select(Document).where(or_(*conditions)).limit(1)).first()


def _new_row(fields: dict[str, Any], idempotency_key: str | None) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": new_id(),
        "status": QUEUED,
        "received_at": now,
        "updated_at": now,
        "idempotency_key": idempotency_key,
        "source": fields.get("source"),
        "external_id": fields.get("external_id"),
        "url": fields.get("url"),
        "raw": raw_payload(fields),
        "deliveries": 0,
    }


def raw_payload(fields: dict[str, Any]) -> dict[str, Any]:
    """Return the input as stored: JSON-safe, never changed afterwards."""
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in fields.items()
    }


def accept(
    session: Session, fields: dict[str, Any], idempotency_key: str | None = None
) -> Accepted:
    """Store a new document as queued, or return the one it repeats.

    A repeat has the same idempotency key, or the same source and external id.
    Safe against a concurrent identical request: the unique constraints decide,
    and the loser returns the winner's row. Caller commits.
    """
    row = _new_row(fields, idempotency_key)
    # One statement for a new document (most requests); a repeat is looked up
    # only after the constraints turned it away.
    if session.scalar(_insert_unless_stored(session), row) is not None:
        return Accepted(row["id"], QUEUED, created=True)
    existing = _find_existing(session, fields, idempotency_key)
    if existing is None:
        raise LookupError("a document conflicted with no stored one")
    return Accepted(existing.id, existing.status, created=False)


def _insert_unless_stored(session: Session) -> ReturningInsert[tuple[str]]:
    # Returns the new id, or no row when a unique constraint turned it away.
    return _insert_returning(session.get_bind().dialect.name)


@functools.cache
def _insert_returning(dialect: str) -> ReturningInsert[tuple[str]]:
    # Built once: building it took some 6% of the API's time for a single POST.
    documents = table(Document)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(documents).on_conflict_do_nothing().returning(documents.c.id)


def accept_many(session: Session, items: Sequence[dict[str, Any]]) -> list[Accepted]:
    """Accept a batch in one insert; repeats (also within the batch) return the first.

    The insert skips what a unique constraint turns away, a concurrent
    request's document too. Only when it skipped some are the batch's keys
    looked up. Caller commits.
    """
    rows: list[dict[str, Any]] = []
    # For each item, the row it is stored as: its own, or the first of its key.
    slots: list[int] = []
    first: dict[tuple[Any, Any], int] = {}
    for item in items:
        key = (item.get("source"), item.get("external_id"))
        slot = len(rows) if None in key else first.setdefault(key, len(rows))
        if slot == len(rows):
            rows.append(_new_row(item, None))
        slots.append(slot)
    outcomes = [Accepted(row["id"], QUEUED, created=True) for row in rows]
    # The insert skips what a unique constraint turns away; only then are
    # the keys looked up. In key order, so that batches sharing keys wait
    # for each other on PostgreSQL instead of each holding a key the other
    # waits for (a deadlock).
    ordered = sorted(rows, key=lambda row: (row["source"] or "", row["external_id"] or ""))
    inserted = insert_rows(session, table(Document), ordered, skip_conflicts=True)
    if inserted != len(rows) and first:
        stored = _stored_by_key(session, first)
        for key, slot in first.items():
            if key not in stored:
                raise LookupError("a document conflicted with no stored one")
            if stored[key].id != rows[slot]["id"]:
                outcomes[slot] = stored[key]
    results: list[Accepted] = []
    seen: set[int] = set()
    for slot in slots:
        outcome = outcomes[slot]
        if slot in seen:
            outcome = Accepted(outcome.id, outcome.status, created=False)
        seen.add(slot)
        results.append(outcome)
    return results


def _stored_by_key(
    session: Session, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Accepted]:
    wanted = set(keys)
    rows = session.execute(
        select(Document.id, Document.status, Document.source, Document.external_id).where(
            Document.source.in_({source for source, _ in wanted}),
            Document.external_id.in_({external for _, external in wanted}),
        )
    )
    return {
        (row.source, row.external_id): Accepted(row.id, row.status, created=False)
        for row in rows
        if (row.source, row.external_id) in wanted
    }


def mark_enqueued(session: Session, document_ids: Iterable[str]) -> None:
    """Record that the documents' tasks reached the broker. Caller commits."""
    ids = list(document_ids)
    if ids:
        session.execute(update(Document).where(Document.id.in_(ids)).values(enqueued_at=utcnow()))


def get(session: Session, document_id: str) -> Document | None:
    """Return the document, or None."""
    return session.get(Document, document_id)


@dataclass(frozen=True)
class Delivery:
    """Documents a task now processes, and those it leaves to be processed alone.

    `raw`: each claimed document's raw input; `received_at`: when each was
    accepted; `alone`: documents of a batch that were delivered before and
    are unfinished.
    """

    raw: dict[str, dict[str, Any]]
    received_at: dict[str, datetime]
    alone: tuple[str, ...] = ()


def begin_delivery(
    session: Session,
    document_ids: Sequence[str],
    max_deliveries: int,
    lease: timedelta = timedelta(seconds=30),
) -> Delivery:
    """Count a delivery of each document, mark it processing and return its raw input.

    Each claimed document holds a lease until `lease` from now, which its
    worker renews (`renew_leases`) while it works on it. Claims none of the
    unknown, processed or failed. One document past the
    delivery limit is marked failed instead, so a poison message cannot loop.
    In a batch (several ids), a document delivered before is left as it is
    and returned in `alone`: the batch may have ended its worker, and the
    document must then run, and if it must fail, alone. Caller commits.
    """
    documents = table(Document)
    batch = len(document_ids) > 1
    claim = (
        update(documents)
        .where(documents.c.id.in_(document_ids), documents.c.status.not_in((PROCESSED, FAILED)))
        .values(
            deliveries=documents.c.deliveries + 1,
            status=PROCESSING,
            lease_expires_at=utcnow() + lease,
        )
        .returning(documents.c.id, documents.c.deliveries, documents.c.raw, documents.c.received_at)
    )
    if batch:
        claim = claim.where(documents.c.deliveries == 0)
    rows = session.execute(claim).all()
    if not batch:
        over = [row for row in rows if row.deliveries > max_deliveries]
        for row in over:
            mark_failed(session, row.id, f"delivered {row.deliveries - 1} times without finishing")
        rows = [row for row in rows if row not in over]
    alone: tuple[str, ...] = ()
    if batch and len(rows) < len(document_ids):
        claimed = {row.id for row in rows}
        alone = tuple(
            session.scalars(
                select(documents.c.id).where(
                    documents.c.id.in_([i for i in document_ids if i not in claimed]),
                    documents.c.status.not_in((PROCESSED, FAILED)),
                )
            )
        )
    return Delivery(
        raw={row.id: dict(row.raw) for row in rows},
        received_at={row.id: row.received_at for row in rows},
        alone=alone,
    )


def unprocessed(session: Session, document_ids: Sequence[str]) -> set[str]:
    """Return which of the documents exist and are not processed."""
    documents = table(Document)
    return set(
        session.scalars(
            select(documents.c.id).where(
                documents.c.id.in_(document_ids), documents.c.status != PROCESSED
            )
        )
    )


def received_at(session: Session, document_id: str) -> datetime | None:
    """Return when the document was accepted; None if it is unknown."""
    documents = table(Document)
    return session.scalar(select(documents.c.received_at).where(documents.c.id == document_id))


@dataclass(frozen=True)
class Link:
    """How a document relates to its story's canonical document (all None for the canonical)."""

    relation: str | None = None
    score: float | None = None
    evidence: dict[str, Any] | None = None


def record(
    session: Session,
    document_id: str,
    found: dict[str, Any],
    link: Link,
    *,
    source: str | None,
) -> None:
    """Store what processing found and mark the document processed. Caller commits.

    `found`: column values (title, text, language, story_id...). `source`,
    read from the document's metadata or text, fills only a missing source.
    The tags' filter index is `add_tags`.
    """
    values = {
        **found,
        "relation": link.relation,
        "score": link.score,
        "evidence": link.evidence,
        "status": PROCESSED,
        "error": None,
        "processed_at": utcnow(),
    }
    statement = _record_statement(tuple(sorted(values)))
    session.execute(statement, {"document_id": document_id, "new_source": source or None, **values})


@functools.lru_cache(maxsize=8)
def _record_statement(columns: tuple[str, ...]) -> Update:
    # Built once, values as parameters: building the statement for each
    # document cost as much as running it. `source` fills only a missing one.
    documents = table(Document)
    values: dict[str, Any] = {
        name: bindparam(name, type_=documents.c[name].type) for name in columns
    }
    new_source = bindparam("new_source", type_=documents.c.source.type)
    values["source"] = func.coalesce(
        func.nullif(documents.c.source, ""), new_source, documents.c.source
    )
    return update(documents).where(documents.c.id == bindparam("document_id")).values(values)


def relink(session: Session, document_id: str, link: Link) -> None:
    """Change how a processed document relates to its story's canonical. Caller commits."""
    documents = table(Document)
    session.execute(
        update(documents)
        .where(documents.c.id == document_id)
        .values(relation=link.relation, score=link.score, evidence=link.evidence)
    )


def add_tags(session: Session, tags: Mapping[str, list[dict[str, Any]]]) -> None:
    """Index each document's tags (by document id) for feed filters. Caller commits."""
    rows = [
        {"tag_id": tag_id, "document_id": document_id}
        for document_id, found in tags.items()
        for tag_id in sorted({tag["id"] for tag in found})
    ]
    insert_rows(session, table(DocumentTag), rows)


# The error of a document that normalization left without text: no retry
# can change it, so the pipeline page sets it aside rather than offering one.
NO_TEXT_ERROR = "no text left after normalization"


def mark_failed(session: Session, document_id: str, error: str) -> None:
    """Mark the document failed for good and keep the error. Caller commits."""
    session.execute(
        update(Document)
        .where(Document.id == document_id, Document.status != PROCESSED)
        .values(status=FAILED, error=error[:4000], updated_at=utcnow())
    )


def requeue(session: Session, document_id: str) -> bool:
    """Put a failed document back in the queue with a fresh delivery budget.

    Returns False, changing nothing, unless the document exists and failed.
    Caller commits, then enqueues.
    """
    document = session.get(Document, document_id, with_for_update=True)
    if document is None or document.status != FAILED:
        return False
    document.status = QUEUED
    document.error = None
    document.deliveries = 0
    document.enqueued_at = None
    return True


def renew_leases(session: Session, document_ids: Sequence[str], lease: timedelta) -> int:
    """Extend the leases of those of the documents still processing; return how many.

    Skips rows another transaction holds (the worker recording them): their
    lease no longer matters. Caller commits.
    """
    documents = table(Document)
    held = (
        select(documents.c.id)
        .where(documents.c.id.in_(document_ids), documents.c.status == PROCESSING)
        .with_for_update(skip_locked=True)
    )
    renewed = session.execute(
        update(documents)
        .where(documents.c.id.in_(held.scalar_subquery()))
        .values(lease_expires_at=utcnow() + lease)
    )
    return int(renewed.rowcount)  # type: ignore[attr-defined]


def release_expired(
    session: Session, now: datetime, processing_after: timedelta, limit: int = 1000
) -> list[str]:
    """Put documents whose worker stopped renewing their lease back in the queue; return them.

    A row claimed without a lease (by an older worker) is released after
    `processing_after`. The released rows are queued and unsent: the caller
    sends them and marks them enqueued. A late finish by the lost worker, or
    a second delivery, changes nothing twice (`services.processing`).
    Caller commits.
    """
    expired = (Document.status == PROCESSING) & (
        (Document.lease_expires_at < now)
        | (Document.lease_expires_at.is_(None) & (Document.updated_at < now - processing_after))
    )
    ids = list(session.scalars(select(Document.id).where(expired).limit(limit)))
    if ids:
        session.execute(
            update(Document)
            .where(Document.id.in_(ids), expired)
            .values(status=QUEUED, lease_expires_at=None, enqueued_at=None)
        )
    return ids


def find_stuck(
    session: Session,
    now: datetime,
    unsent_after: timedelta,
    queued_after: timedelta,
    limit: int = 1000,
) -> list[str]:
    """Return ids of queued documents that no task is going to process.

    Rows never handed to the broker (the broker was down, or their lease
    expired), or handed over longer than `queued_after` ago (the message was
    lost, or taken by a worker that died before claiming the document).
    Documents in `processing` are `release_expired`'s.
    """
    stale_queue = (Document.status == QUEUED) & (
        (Document.enqueued_at.is_(None) & (Document.received_at <= now - unsent_after))
        | (Document.enqueued_at < now - queued_after)
    )
    query = select(Document.id).where(stale_queue).order_by(Document.received_at)
    return list(session.scalars(query.limit(limit)))


def replace_tags(session: Session, document: Document, tags: list[dict[str, Any]]) -> None:
    """Store the document's new tags and their filter index. Caller commits.

    Touches nothing else: not the raw input, the text, the story or the feed.
    """
    document.tags = tags
    session.execute(delete(DocumentTag).where(DocumentTag.document_id == document.id))
    add_tags(session, {document.id: tags})


def outdated_tags(session: Session, version: str, *, everything: bool = False) -> list[str]:
    """Return ids of processed documents tagged with another taxonomy version (or all)."""
    rows = session.execute(select(Document.id, Document.tags).where(Document.status == PROCESSED))
    return [
        document_id
        for document_id, tags in rows
        if everything or any(tag.get("version") != version for tag in tags or [])
    ]
