"""Repository functions for stories and their members."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from services.storage.models import Document, Story, new_id, table


@dataclass(frozen=True)
class Joined:
    """The story a document is recorded in, as the recording transaction sees it."""

    id: str
    revision: int
    canonical_id: str


def start(session: Session, document_id: str) -> Joined:
    """Open a new story with the document as its canonical member. Caller commits."""
    story_id = new_id()
    session.execute(
        insert(table(Story)), {"id": story_id, "canonical_id": document_id, "revision": 1}
    )
    return Joined(story_id, 1, document_id)


def join(session: Session, story_id: str, *, new_revision: bool) -> Joined:
    """Lock the story a document joins; bump its revision when consumers should hear."""
    stories = table(Story)
    query = (
        update(stories)
        .where(stories.c.id == story_id)
        .values(revision=stories.c.revision + 1)
        .returning(stories.c.revision, stories.c.canonical_id)
        if new_revision
        else select(stories.c.revision, stories.c.canonical_id)
        .where(stories.c.id == story_id)
        .with_for_update()
    )
    row = session.execute(query).one_or_none()
    if row is None:
        raise LookupError(f"story {story_id} does not exist")
    return Joined(story_id, row.revision, row.canonical_id)


def make_canonical(session: Session, story_id: str, document_id: str) -> None:
    """Make the document the story's canonical member. Caller commits."""
    stories = table(Story)
    session.execute(
        update(stories).where(stories.c.id == story_id).values(canonical_id=document_id)
    )


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
