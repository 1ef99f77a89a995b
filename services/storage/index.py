"""The matching index: which stored documents share a fingerprint key."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from services.pipeline.dedup import Candidate
from services.pipeline.fingerprint import Fingerprint
from services.storage.models import PROCESSED, Document, MatchKey


def find_candidates(
    session: Session, fingerprint: Fingerprint, *, exclude_id: str, limit: int = 50
) -> list[Candidate]:
    """Return processed documents with the same hash or sharing the most keys.

    Each lookup is an index range scan, so the cost follows the number of
    matching rows, not the number of stored documents.
    """
    ids: list[str] = list(
        session.scalars(
            select(Document.id)
            .where(
                Document.content_hash == fingerprint.content_hash,
                Document.status == PROCESSED,
                Document.id != exclude_id,
            )
            .order_by(Document.processed_at)
            .limit(1)
        )
    )
    if fingerprint.keys:
        shared = func.count().label("shared")
        ids += session.scalars(
            select(MatchKey.document_id)
            .where(MatchKey.key.in_(fingerprint.keys), MatchKey.document_id != exclude_id)
            .group_by(MatchKey.document_id)
            .order_by(shared.desc(), MatchKey.document_id)
            .limit(limit)
        )
    if not ids:
        return []
    rows = session.scalars(
        select(Document).where(Document.id.in_(set(ids)), Document.status == PROCESSED)
    )
    by_id = {row.id: row for row in rows}
    return [_candidate(by_id[i]) for i in dict.fromkeys(ids) if i in by_id]


def _candidate(document: Document) -> Candidate:
    return Candidate(
        document_id=document.id,
        story_id=document.story_id or "",
        language=document.language or "und",
        published_at=document.published_at,
        fingerprint=Fingerprint(
            content_hash=document.content_hash or "", data=document.fingerprint or {}
        ),
    )


def add_keys(session: Session, document_id: str, keys: Sequence[str]) -> None:
    """Index the document under its keys. Caller commits."""
    unique = sorted(set(keys))
    if unique:
        session.execute(
            insert(MatchKey),
            [{"key": key, "document_id": document_id} for key in unique],
        )
