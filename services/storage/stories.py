"""Repository functions for stories and their members."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.storage.models import Document, Story


def start(session: Session, document: Document) -> Story:
    """Open a new story with the document as its canonical member. Caller commits."""
    story = Story(canonical_id=document.id, revision=1)
    session.add(story)
    session.flush()
    return story


def join(session: Session, story_id: str, *, new_revision: bool) -> Story:
    """Return the story a document joins; bump its revision when consumers should hear."""
    story = session.get(Story, story_id, with_for_update=True)
    if story is None:
        raise LookupError(f"story {story_id} does not exist")
    if new_revision:
        story.revision += 1
    return story


def get(session: Session, story_id: str) -> Story | None:
    """Return the story, or None."""
    return session.get(Story, story_id)


def members(session: Session, story_ids: list[str]) -> dict[str, list[Document]]:
    """Return each story's processed documents, oldest first."""
    rows = session.scalars(
        select(Document)
        .where(Document.story_id.in_(story_ids))
        .order_by(Document.processed_at, Document.id)
    )
    grouped: dict[str, list[Document]] = {story_id: [] for story_id in story_ids}
    for row in rows:
        grouped[row.story_id].append(row)  # type: ignore[index]
    return grouped
