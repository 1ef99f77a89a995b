"""Read-only repository functions for operators: counts, throughput, recent stories, failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, ColumnElement, Integer, cast, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.storage import stories
from services.storage.documents import NO_TEXT_ERROR
from services.storage.feed import NO_ARTICLE
from services.storage.models import FAILED, PROCESSED, STATUSES, Document, Story

# The quality of a document that normalization left without text.
NO_TEXT = "no_text"
# Qualities of processed documents that carry no article: they join no story.
WITHOUT_ARTICLE = (NO_ARTICLE,)
# How far back the page looks for processed documents without an article,
# so that the search stays within a day of the status index.
SET_ASIDE_HORIZON = timedelta(days=1)


@dataclass(frozen=True)
class Bucket:
    """Documents received and processed in one time slot starting at `start`."""

    start: datetime
    received: int
    processed: int


@dataclass(frozen=True)
class StoryActivity:
    story: Story
    members: list[Document]


def count_by_status(session: Session) -> dict[str, int]:
    """Return how many documents are in each status; every status is present."""
    rows = session.execute(select(Document.status, func.count()).group_by(Document.status))
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: int(count) for status, count in rows})
    return counts


def throughput(
    session: Session, now: datetime, *, buckets: int, bucket_seconds: int
) -> list[Bucket]:
    """Return documents received and processed per slot, oldest slot first.

    Slots are aligned to multiples of `bucket_seconds`, so repeated calls
    agree; the last one holds `now` and is still filling. Counted in the
    database, grouped by slot, so the answer stays small however many
    documents the window holds.
    """
    end_epoch = (int(now.timestamp()) // bucket_seconds + 1) * bucket_seconds
    start = datetime.fromtimestamp(end_epoch - buckets * bucket_seconds, UTC)
    end = datetime.fromtimestamp(end_epoch, UTC)
    received = _per_slot(session, Document.received_at, start, end, bucket_seconds)
    processed = _per_slot(session, Document.processed_at, start, end, bucket_seconds)
    return [
        Bucket(
            start=start + timedelta(seconds=slot * bucket_seconds),
            received=received.get(slot, 0),
            processed=processed.get(slot, 0),
        )
        for slot in range(buckets)
    ]


def _per_slot(
    session: Session,
    column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
    start: datetime,
    end: datetime,
    bucket_seconds: int,
) -> dict[int, int]:
    since = int(start.timestamp())
    slot = (_epoch(session, column) - since) // bucket_seconds
    rows = session.execute(
        select(slot.label("slot"), func.count())
        .where(column >= start, column < end)
        .group_by("slot")
    )
    return {int(found): int(count) for found, count in rows if found is not None}


def _epoch(
    session: Session,
    column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
) -> ColumnElement[int]:
    # Whole seconds as an integer, so that dividing by the slot width truncates.
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    return cast(func.strftime("%s", column), Integer)


def latest_stories(session: Session, limit: int) -> list[StoryActivity]:
    """Return the most recently updated stories with their processed members."""
    found = list(session.scalars(select(Story).order_by(Story.updated_at.desc()).limit(limit)))
    grouped = stories.members(session, [story.id for story in found])
    return [StoryActivity(story, grouped[story.id]) for story in found]


def _retryable() -> ColumnElement[bool]:
    return or_(Document.error.is_(None), Document.error != NO_TEXT_ERROR)


def failed_documents(session: Session, limit: int) -> list[Document]:
    """Return the most recently failed documents that a retry may fix, newest first."""
    query = (
        select(Document)
        .where(Document.status == FAILED, _retryable())
        .order_by(Document.updated_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def count_retryable_failed(session: Session) -> int:
    """Return how many failed documents a retry may fix (all but those left without text)."""
    query = select(func.count()).where(Document.status == FAILED, _retryable())
    return int(session.scalar(query) or 0)


@dataclass(frozen=True)
class SetAside:
    """A document that can never join other documents in a story: its quality, and why."""

    document: Document
    quality: str
    reason: str | None


def set_aside(session: Session, now: datetime, limit: int) -> list[SetAside]:
    """Return the latest documents that can never join other documents in a story, newest first.

    Those normalization left without text (failed, quality `no_text`, the
    error as reason), and processed ones whose quality says they carry no
    article (`quality_reason` as reason: a consent wall, a block notice),
    from the last SET_ASIDE_HORIZON.
    """
    empty = session.scalars(
        select(Document)
        .where(Document.status == FAILED, Document.error == NO_TEXT_ERROR)
        .order_by(Document.updated_at.desc())
        .limit(limit)
    )
    found = [SetAside(document, NO_TEXT, document.error) for document in empty]
    rows = session.scalars(
        select(Document)
        .where(
            Document.status == PROCESSED,
            Document.updated_at >= now - SET_ASIDE_HORIZON,
            Document.quality.in_(WITHOUT_ARTICLE),
        )
        .order_by(Document.updated_at.desc())
        .limit(limit)
    )
    found += [
        SetAside(document, document.quality or NO_ARTICLE, document.quality_reason)
        for document in rows
    ]
    found.sort(key=lambda item: item.document.updated_at, reverse=True)
    return found[:limit]
