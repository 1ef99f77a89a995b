"""Tables. The schema itself is owned by the Alembic migrations beside this module."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

QUEUED = "queued"
PROCESSING = "processing"
PROCESSED = "processed"
FAILED = "failed"
STATUSES = (QUEUED, PROCESSING, PROCESSED, FAILED)

# SQLite autoincrements only INTEGER PRIMARY KEY columns.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always read back as UTC, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


def table(model: type[Base]) -> Table:
    """Return the model's table, for Core statements where the ORM's bookkeeping would cost.

    The worker records each document with Core: an ORM flush of its some 150
    rows took longer than the database did.
    """
    return cast(Table, model.__table__)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_documents_source_external_id"),
        Index("ix_documents_status_updated_at", "status", "updated_at"),
        # The sweeper's look for documents whose worker stopped renewing its lease.
        Index("ix_documents_status_lease_expires_at", "status", "lease_expires_at"),
        # The exact-duplicate lookup: the first processed document with a hash.
        Index("ix_documents_content_hash_processed_at", "content_hash", "processed_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    enqueued_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    source: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    # Set when a worker claims the document, renewed while it works on it.
    lease_expires_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    title: Mapped[str | None] = mapped_column(Text)
    byline: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    language: Mapped[str | None] = mapped_column(String(8), index=True)
    language_confidence: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    story_id: Mapped[str | None] = mapped_column(ForeignKey("stories.id"), index=True)
    relation: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # `no_article` for a page that carries none (a consent wall, a block
    # notice), with the reason; None for an article.
    quality: Mapped[str | None] = mapped_column(String(16))
    quality_reason: Mapped[str | None] = mapped_column(String(64))


class Story(Base):
    __tablename__ = "stories"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    canonical_id: Mapped[str] = mapped_column(String(36))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StoryLink(Base):
    """Two stories that cover one event: different articles, linked as `related`.

    Stored in both directions, so a story's links are one range of the
    primary key; `document_id` and `related_document_id` are the documents
    whose shared facts made the link (`evidence`).
    """

    __tablename__ = "story_links"

    story_id: Mapped[str] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    related_story_id: Mapped[str] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[str] = mapped_column(String(36))
    related_document_id: Mapped[str] = mapped_column(String(36))
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Signature(Base):
    """What matching reads of a processed document, apart from its wide row.

    A lookup reads some fifty candidates; read from `documents`, each one's
    fingerprint sat behind its raw payload and text (pages of overflow per
    row), which at 100,000 documents made the lookup grow with the store.
    """

    __tablename__ = "signatures"

    document_id: Mapped[str] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    story_id: Mapped[str] = mapped_column(String(36))
    language: Mapped[str] = mapped_column(String(8))
    published_at: Mapped[datetime | None]
    content_hash: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[dict[str, Any]] = mapped_column(JSON)


class MatchKey(Base):
    """Inverted index from a fingerprint key to the documents that carry it.

    The primary key is the order a lookup reads (a key's newest postings);
    on SQLite the table is that index alone (WITHOUT ROWID), so a document's
    keys cost one page each, not one per index.
    """

    __tablename__ = "match_keys"
    __table_args__ = (
        # A document's keys are adjacent here: the re-check after a lookup
        # and deletes through the foreign key read them in one place.
        Index("ix_match_keys_document_id", "document_id"),
        {"sqlite_with_rowid": False},
    )

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(primary_key=True, default=utcnow)
    document_id: Mapped[str] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )


class Vector(Base):
    """A processed document's embedding, in the order recorded (`seq`).

    The vector search reads the newest rows only (`storage.vectors`).
    """

    __tablename__ = "vectors"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), unique=True, index=True
    )
    model: Mapped[str] = mapped_column(String(128))
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class FactCount(Base):
    """Documents recorded on a day that carry a fact key (`*`: all documents)."""

    __tablename__ = "fact_counts"
    __table_args__ = ({"sqlite_with_rowid": False},)

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class DocumentTag(Base):
    __tablename__ = "document_tags"

    tag_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    document_id: Mapped[str] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class FeedEntry(Base):
    """One row per processed document, in commit order.

    `story_update` marks the entries that show in the story view: a new story
    or a story that gained a translation.
    """

    __tablename__ = "feed_entries"
    __table_args__ = (Index("ix_feed_entries_story_update_seq", "story_update", "seq"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), unique=True)
    story_id: Mapped[str] = mapped_column(ForeignKey("stories.id"), index=True)
    story_revision: Mapped[int] = mapped_column(Integer)
    story_update: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Webhook(Base):
    """A subscription: matching feed items are POSTed, signed, to `url`.

    `delivered_seq` is the feed position delivered up to; a lease
    (`lease_until`, `lease_token`) lets one worker at a time deliver, so
    items arrive in order, without holding a database lock during HTTP.
    """

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(100))
    filter: Mapped[dict[str, Any]] = mapped_column(JSON)
    delivered_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    lease_token: Mapped[str | None] = mapped_column(String(36))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One attempt to deliver one feed item to one webhook."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str] = mapped_column(String(100))
    attempt: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool]
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key: only the SHA-256 of the token is stored, never the token.

    `prefix` is the token's public head, for identifying a key in lists and
    logs; `scopes` is a space-separated subset of ingest, read, admin.
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
