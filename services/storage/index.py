"""The matching index: which stored documents share a fingerprint key."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, insert, or_, select, union_all
from sqlalchemy.orm import Session

from services.pipeline.dedup import Candidate
from services.pipeline.fingerprint import Fingerprint
from services.storage.models import PROCESSED, Document, FeedEntry, MatchKey, Signature

# How many of a key's newest postings a lookup reads.
POSTINGS_PER_KEY = 64
# Lookups are built for a multiple of this many keys; NO_KEY fills the rest.
KEY_BUCKET = 32
NO_KEY = ""


def find_candidates(
    session: Session, fingerprint: Fingerprint, *, exclude_id: str, limit: int = 50
) -> list[Candidate]:
    """Return processed documents with the same hash or sharing the most keys.

    Every lookup is a bounded index range scan, so the cost does not grow
    with the number of stored documents.
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
        ids += _most_shared(session, sorted(set(fingerprint.keys)), exclude_id, limit)
    if not ids:
        return []
    rows = session.scalars(select(Signature).where(Signature.document_id.in_(set(ids))))
    by_id = {row.document_id: row for row in rows}
    return [_candidate(by_id[i]) for i in dict.fromkeys(ids) if i in by_id]


def find_recorded_since(
    session: Session, fingerprint: Fingerprint, *, exclude_id: str, after: int
) -> list[Candidate]:
    """Return documents recorded after feed position `after` with the same hash or a shared key.

    What a lookup made before taking the locks could not see: only the
    documents processed meanwhile, a handful, so this is cheap.
    """
    shares_key = exists().where(
        MatchKey.document_id == Signature.document_id,
        MatchKey.key.in_(sorted(set(fingerprint.keys))),
    )
    rows = session.scalars(
        select(Signature)
        .join(FeedEntry, FeedEntry.document_id == Signature.document_id)
        .where(
            FeedEntry.seq > after,
            Signature.document_id != exclude_id,
            or_(Signature.content_hash == fingerprint.content_hash, shares_key),
        )
        .order_by(FeedEntry.seq)
    )
    return [_candidate(row) for row in rows]


def _most_shared(session: Session, keys: list[str], exclude_id: str, limit: int) -> list[str]:
    # Padded to a multiple of KEY_BUCKET with a key no document carries, so a
    # process builds and the database prepares a handful of statements, not
    # one per number of keys (each took 200-300 ms to compile).
    padded = keys + [NO_KEY] * (-len(keys) % KEY_BUCKET)
    params: dict[str, Any] = {f"key_{i}": key for i, key in enumerate(padded)}
    params["exclude_id"] = exclude_id
    return list(session.scalars(_most_shared_query(len(padded), limit), params))


@functools.lru_cache(maxsize=16)
def _most_shared_query(count: int, limit: int) -> Select[tuple[str]]:
    # Each key contributes only its newest postings, so a key that many
    # documents share (a common number, a frequent pair of countries) costs
    # a bounded index range scan, not a scan of everything that carries it.
    # Built once per number of keys, with the keys as parameters.
    slices = [
        select(MatchKey.document_id)
        .where(MatchKey.key == bindparam(f"key_{i}"))
        .order_by(MatchKey.added_at.desc())
        .limit(POSTINGS_PER_KEY)
        .subquery()
        for i in range(count)
    ]
    postings = union_all(*(select(part.c.document_id) for part in slices)).subquery()
    shared = func.count().label("shared")
    return (
        select(postings.c.document_id)
        .where(postings.c.document_id != bindparam("exclude_id"))
        .group_by(postings.c.document_id)
        .order_by(shared.desc(), postings.c.document_id)
        .limit(limit)
    )


def _candidate(signature: Signature) -> Candidate:
    return Candidate(
        document_id=signature.document_id,
        story_id=signature.story_id,
        language=signature.language,
        published_at=signature.published_at,
        fingerprint=Fingerprint(content_hash=signature.content_hash, data=signature.fingerprint),
    )


def add(session: Session, document: Document, fingerprint: Fingerprint) -> None:
    """Index a processed document: its signature and its keys. Caller commits."""
    session.add(
        Signature(
            document_id=document.id,
            story_id=document.story_id,
            language=document.language or "und",
            published_at=document.published_at,
            content_hash=fingerprint.content_hash,
            fingerprint=fingerprint.data,
        )
    )
    _add_keys(session, document.id, fingerprint.keys)


def _add_keys(session: Session, document_id: str, keys: Sequence[str]) -> None:
    unique = sorted(set(keys))
    if unique:
        session.execute(
            insert(MatchKey),
            [{"key": key, "document_id": document_id} for key in unique],
        )
