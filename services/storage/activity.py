"""Read-only repository functions for operators: counts, throughput, recent stories, failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, ColumnElement, Integer, cast, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.storage import stories
from services.storage.models import FAILED, STATUSES, Document, Story


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


def failed_documents(session: Session, limit: int) -> list[Document]:
    """Return the most recently failed documents, newest first."""
    query = (
        select(Document)
        .where(Document.status == FAILED)
        .order_by(Document.updated_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
