"""The feed: processed documents in commit order, read by cursor."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.storage.db import FEED_LOCK, lock
from services.storage.models import FeedEntry

STORIES = "stories"
DOCUMENTS = "documents"


def append(
    session: Session,
    document_id: str,
    story_id: str,
    revision: int,
    *,
    story_update: bool,
) -> FeedEntry:
    """Add the document's entry. Call last in the transaction; caller commits at once.

    The lock is held until commit, so entries commit in the order of their
    sequence numbers and a reader paging by `seq` never skips one that
    commits late.
    """
    lock(session, FEED_LOCK)
    entry = FeedEntry(
        document_id=document_id,
        story_id=story_id,
        story_revision=revision,
        story_update=story_update,
    )
    session.add(entry)
    session.flush()
    return entry


def page(session: Session, *, after: int, limit: int, view: str = STORIES) -> list[FeedEntry]:
    """Return up to `limit` entries after the sequence number `after`, oldest first."""
    query = select(FeedEntry).where(FeedEntry.seq > after)
    if view == STORIES:
        query = query.where(FeedEntry.story_update.is_(True))
    return list(session.scalars(query.order_by(FeedEntry.seq).limit(limit)))
