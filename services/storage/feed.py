"""The feed: processed documents in commit order, read by cursor and filtered.

Filters apply to the document an entry shows: the story's canonical document
in the story view, the entry's own document in the document view. They are
correlated `EXISTS` subqueries over `documents` (joined by primary key or by
the indexed `story_id`), so a page walks `feed_entries` in `seq` order and
stops after `limit` matches; nothing is copied onto `feed_entries`.

Text search: PostgreSQL matches an expression GIN index over
`to_tsvector('simple', title || ' ' || text)`; SQLite matches an FTS5 table
`documents_fts` whose rowid is the document's feed `seq` (stable, unlike a
rowid of `documents`), filled by a trigger when the feed entry is inserted.
Both lower-case and split on word characters without stemming, and both AND
the words of the query.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, insert, select, text
from sqlalchemy.orm import Session, defer

from services.storage.db import FEED_LOCK, lock, one_of
from services.storage.models import Document, DocumentTag, FeedEntry, table
from services.storage.stories import related_counts

STORIES = "stories"
DOCUMENTS = "documents"
DUPLICATES = ("exact_duplicate", "near_duplicate")
TRANSLATION = "translation"
ARTICLE = "article"
NO_ARTICLE = "no_article"
ANY_QUALITY = "any"

# Must stay character for character the expression of the index in migration
# 0002, or PostgreSQL cannot use the index.
PG_SEARCH = (
    "to_tsvector('simple', coalesce(documents.title, '') || ' ' || coalesce(documents.text, ''))"
    " @@ plainto_tsquery('simple', :q)"
)
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Filter:
    """What a consumer asks for; every field narrows the feed (AND).

    `languages` and `sources` match any of their values; `tags` is a list of
    groups: the document carries at least one tag of every group. `quality`:
    `article` (documents with an article, the default), `no_article` (pages
    without one) or `any`.
    """

    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    tags: tuple[tuple[str, ...], ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    view: str = STORIES
    quality: str = ARTICLE

    def to_json(self) -> dict[str, Any]:
        """Return the filter as JSON-safe data (what a webhook stores)."""
        return {
            "view": self.view,
            "languages": list(self.languages),
            "sources": list(self.sources),
            "tags": [list(group) for group in self.tags],
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "q": self.q,
            "quality": self.quality,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Filter:
        """Rebuild a filter stored with `to_json`."""
        return cls(
            view=data.get("view") or STORIES,
            languages=tuple(data.get("languages") or ()),
            sources=tuple(data.get("sources") or ()),
            tags=tuple(tuple(group) for group in data.get("tags") or ()),
            since=datetime.fromisoformat(data["since"]) if data.get("since") else None,
            until=datetime.fromisoformat(data["until"]) if data.get("until") else None,
            q=data.get("q"),
            quality=data.get("quality") or ARTICLE,
        )


@dataclass
class Page:
    """A page of entries with what their items show, loaded in five queries."""

    view: str
    entries: list[FeedEntry]
    shown: dict[str, Document]
    translations: dict[str, list[tuple[str, str | None, str | None]]] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    related: dict[str, int] = field(default_factory=dict)

    def document(self, entry: FeedEntry) -> Document:
        """Return the document the entry shows in this page's view."""
        return self.shown[entry.story_id if self.view == STORIES else entry.document_id]


@dataclass(frozen=True)
class NewEntry:
    """A feed entry to append: the document, its story and the story's revision."""

    document_id: str
    story_id: str
    story_revision: int
    story_update: bool


def append(session: Session, entries: Sequence[NewEntry]) -> None:
    """Add the entries, in order. Call last in the transaction; caller commits at once.

    The lock is held until commit, so entries commit in the order of their
    sequence numbers and a reader paging by `seq` never skips one that
    commits late.
    """
    if not entries:
        return
    lock(session, FEED_LOCK)
    session.execute(insert(table(FeedEntry)), [asdict(entry) for entry in entries])


def search_words(q: str) -> list[str]:
    """Split a search query into the words both databases index."""
    return _WORD.findall(q.lower())


def _search(session: Session, q: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return text(PG_SEARCH).bindparams(q=q)  # type: ignore[return-value]
    words = search_words(q)
    if not words:
        return Document.id.is_(None)
    # Quoted words are plain terms to FTS5, never its query syntax.
    match = " ".join('"' + word.replace('"', '""') + '"' for word in words)
    hits = select(FeedEntry.document_id).where(
        FeedEntry.seq.in_(text("SELECT rowid FROM documents_fts WHERE documents_fts MATCH :match"))
    )
    return Document.id.in_(hits.params(match=match))


def _conditions(session: Session, flt: Filter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if flt.languages:
        conditions.append(Document.language.in_(flt.languages))
    if flt.sources:
        conditions.append(Document.source.in_(flt.sources))
    if flt.since is not None:
        conditions.append(Document.published_at >= flt.since)
    if flt.until is not None:
        conditions.append(Document.published_at < flt.until)
    for group in flt.tags:
        conditions.append(
            exists().where(DocumentTag.document_id == Document.id, DocumentTag.tag_id.in_(group))
        )
    if flt.q:
        conditions.append(_search(session, flt.q))
    if flt.quality == ARTICLE:
        conditions.append(Document.quality.is_(None))
    elif flt.quality != ANY_QUALITY:
        conditions.append(Document.quality == flt.quality)
    return conditions


def query(session: Session, flt: Filter, *, after: int) -> Select[FeedEntry]:
    """Return the select of entries after `after` that match the filter, in order."""
    statement = select(FeedEntry).where(FeedEntry.seq > after)
    if flt.view == STORIES:
        statement = statement.where(FeedEntry.story_update.is_(True))
    conditions = _conditions(session, flt)
    if conditions:
        if flt.view == STORIES:
            shown = and_(Document.story_id == FeedEntry.story_id, Document.relation.is_(None))
        else:
            shown = Document.id == FeedEntry.document_id
        statement = statement.where(exists().where(shown, *conditions))
    return statement.order_by(FeedEntry.seq)


def entries(session: Session, flt: Filter, *, after: int, limit: int) -> list[FeedEntry]:
    """Return up to `limit` matching entries after the sequence number `after`."""
    return list(session.scalars(query(session, flt, after=after).limit(limit)))


def page(
    session: Session, *, after: int, limit: int, view: str = STORIES, flt: Filter | None = None
) -> list[FeedEntry]:
    """Return up to `limit` entries after `after`, oldest first (the unfiltered feed)."""
    flt = flt or Filter(view=view)
    return entries(session, flt, after=after, limit=limit)


def head(session: Session) -> int:
    """Return the newest committed sequence number (0 for an empty feed).

    Entries commit in sequence order, so every entry up to the head is
    already visible.
    """
    return int(session.scalar(select(func.max(table(FeedEntry).c.seq))) or 0)


# Columns no feed item shows; decoding their JSON was most of a page's time.
_UNSHOWN = (defer(Document.raw), defer(Document.evidence))


def load(session: Session, found: list[FeedEntry], view: str) -> Page:
    """Load what the entries' items show in a constant number of queries.

    The story view shows each story's canonical document, the document view
    the entry's own; both list the story's translations and count its
    duplicates and related stories as they are now.
    """
    story_ids = sorted({entry.story_id for entry in found})
    if not found:
        return Page(view, [], {})
    in_stories = one_of(session, table(Document).c.story_id, story_ids)
    if view == STORIES:
        rows = session.scalars(
            select(Document).options(*_UNSHOWN).where(in_stories, Document.relation.is_(None))
        )
        shown = {row.story_id or "": row for row in rows}
    else:
        rows = session.scalars(
            select(Document)
            .options(*_UNSHOWN)
            .where(one_of(session, table(Document).c.id, [entry.document_id for entry in found]))
        )
        shown = {row.id: row for row in rows}
    translations: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for story_id, document_id, language, title in session.execute(
        select(Document.story_id, Document.id, Document.language, Document.title)
        .where(in_stories, Document.relation == TRANSLATION)
        .order_by(Document.processed_at, Document.id)
    ):
        translations.setdefault(story_id or "", []).append((document_id, language, title))
    duplicates = {
        story_id or "": int(count)
        for story_id, count in session.execute(
            select(Document.story_id, func.count())
            .where(in_stories, Document.relation.in_(DUPLICATES))
            .group_by(Document.story_id)
        )
    }
    return Page(view, found, shown, translations, duplicates, related_counts(session, story_ids))


def tag_counts(session: Session, kind: str | None, limit: int) -> list[tuple[str, int, str | None]]:
    """Return `(tag id, documents, label)` for the most used tags, optionally of one kind.

    The label comes from one document that carries the tag: two queries.
    """
    count = func.count().label("documents")
    statement = select(DocumentTag.tag_id, count, func.min(DocumentTag.document_id))
    if kind:
        statement = statement.where(DocumentTag.tag_id.like(f"{_like_escape(kind)}:%", "\\"))
    rows = session.execute(
        statement.group_by(DocumentTag.tag_id)
        .order_by(count.desc(), DocumentTag.tag_id)
        .limit(limit)
    ).all()
    samples = {row[2] for row in rows}
    labels: dict[str, str | None] = {}
    for tags in session.scalars(select(Document.tags).where(Document.id.in_(samples))):
        for tag in tags or []:
            labels.setdefault(tag.get("id"), tag.get("label"))
    return [(tag_id, int(number), labels.get(tag_id)) for tag_id, number, _ in rows]


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
