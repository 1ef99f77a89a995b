"""Repository functions for stories and their members."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.storage.db import one_of
from services.storage.models import Document, Story, StoryLink, new_id, table, utcnow


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
        .where(one_of(session, table(Document).c.story_id, story_ids))
        .order_by(Document.processed_at, Document.id)
    )
    grouped: dict[str, list[Document]] = {story_id: [] for story_id in story_ids}
    for row in rows:
        grouped[row.story_id].append(row)  # type: ignore[index]
    return grouped


@dataclass(frozen=True)
class NewLink:
    """A `related` link to record: the story and document that found it, and the other's."""

    story_id: str
    document_id: str
    related_story_id: str
    related_document_id: str
    score: float
    evidence: dict[str, Any]


def link_related(session: Session, links: Sequence[NewLink]) -> None:
    """Record each link in both directions; a pair already linked keeps its first link.

    Safe against another worker linking the same pair at once. Caller commits.
    """
    now = utcnow()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for link in links:
        if link.story_id == link.related_story_id:
            continue
        for mine, other, document, related in (
            (link.story_id, link.related_story_id, link.document_id, link.related_document_id),
            (link.related_story_id, link.story_id, link.related_document_id, link.document_id),
        ):
            rows.setdefault(
                (mine, other),
                {
                    "story_id": mine,
                    "related_story_id": other,
                    "document_id": document,
                    "related_document_id": related,
                    "score": link.score,
                    "evidence": link.evidence,
                    "created_at": now,
                },
            )
    if rows:
        session.execute(_insert_new(session), list(rows.values()))


def _insert_new(session: Session) -> Insert:
    links = table(StoryLink)
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(links).on_conflict_do_nothing()
    return sqlite.insert(links).on_conflict_do_nothing()


@dataclass(frozen=True)
class Related:
    """A story linked as related, with what its canonical document shows."""

    story_id: str
    canonical_id: str
    title: str | None
    language: str | None
    score: float
    evidence: dict[str, Any]


def related(session: Session, story_id: str) -> list[Related]:
    """Return the stories linked to the story as related, best score first."""
    links, documents, stories = table(StoryLink), table(Document), table(Story)
    rows = session.execute(
        select(
            links.c.related_story_id,
            stories.c.canonical_id,
            documents.c.title,
            documents.c.language,
            links.c.score,
            links.c.evidence,
        )
        .join(stories, stories.c.id == links.c.related_story_id)
        .join(documents, documents.c.id == stories.c.canonical_id)
        .where(links.c.story_id == story_id)
        .order_by(links.c.score.desc(), links.c.related_story_id)
    )
    return [Related(*row) for row in rows]


def related_counts(session: Session, story_ids: Sequence[str]) -> dict[str, int]:
    """Return how many related stories each story has (absent: none)."""
    links = table(StoryLink)
    rows = session.execute(
        select(links.c.story_id, func.count())
        .where(one_of(session, links.c.story_id, story_ids))
        .group_by(links.c.story_id)
    )
    return {story_id: int(count) for story_id, count in rows}
