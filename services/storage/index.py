"""The matching index: which stored documents share a fingerprint key."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, TextClause, delete, func, insert, or_, select, text
from sqlalchemy.orm import Session

from services.pipeline.dedup import Candidate
from services.pipeline.fingerprint import Fingerprint
from services.storage.db import insert_rows, one_of
from services.storage.models import (
    PROCESSED,
    Document,
    FeedEntry,
    MatchKey,
    Signature,
    table,
    utcnow,
)

# How many of a key's newest postings a lookup reads. A key that many
# documents carry (a common word, a frequent pair of names) adds only recent
# documents that share it by chance; read deep, they outnumber an older
# story's translation among the 50 candidates, which shares fewer but rarer
# keys. Reading fewer found more of the feed's repeats, in less time
# (docs/performance.md).
POSTINGS_PER_KEY = 16
# Lookups are built for a multiple of this many keys; NO_KEY fills the rest.
KEY_BUCKET = 32
NO_KEY = ""
# Candidates a process keeps decoded in memory (see `_Recent`).
RECENT_SIGNATURES = 2048


@dataclass(frozen=True)
class Lookup:
    """A lookup's candidates, and the keys a stored document had to share to be one.

    `least_shared`: with the list full, the keys its last candidate shares;
    otherwise 1 (any shared key made a candidate).
    """

    candidates: list[Candidate]
    least_shared: int = 1


def find_candidates(
    session: Session, fingerprint: Fingerprint, *, exclude_id: str, limit: int = 50
) -> Lookup:
    """Return processed documents with the same hash or sharing the most keys.

    Every lookup is a bounded index range scan, so the cost does not grow
    with the number of stored documents.
    """
    documents = table(Document)
    ids: list[str] = list(
        session.scalars(
            select(documents.c.id)
            .where(
                documents.c.content_hash == fingerprint.content_hash,
                documents.c.status == PROCESSED,
                documents.c.id != exclude_id,
            )
            .order_by(documents.c.processed_at)
            .limit(1)
        )
    )
    shared = _most_shared(session, sorted(set(fingerprint.keys)), exclude_id, limit)
    ids += [document_id for document_id, _ in shared]
    least = shared[-1][1] if len(shared) == limit else 1
    return Lookup(_signatures(session, list(dict.fromkeys(ids))), least)


def read_candidates(session: Session, ids: Sequence[str]) -> list[Candidate]:
    """Return the processed documents with these ids as candidates, in this order."""
    return _signatures(session, list(dict.fromkeys(ids)))


class _Recent:
    """The candidates this process read most recently, by document id.

    A signature changes only when `rekey` rewrites it for a new data
    version (a copy cached elsewhere is then at worst as old as the stored
    one was), and a new document's candidates
    are mostly recent documents that earlier lookups read already: reading
    and decoding some fifty rows was a third of a lookup. Bounded: a decoded
    fingerprint takes about 15 KB.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Candidate] = OrderedDict()

    def get(self, document_id: str) -> Candidate | None:
        found = self._items.get(document_id)
        if found is not None:
            self._items.move_to_end(document_id)
        return found

    def forget(self, document_id: str) -> None:
        self._items.pop(document_id, None)

    def put(self, candidate: Candidate) -> None:
        self._items[candidate.document_id] = candidate
        self._items.move_to_end(candidate.document_id)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


_recent = _Recent(RECENT_SIGNATURES)


def _signatures(session: Session, ids: list[str]) -> list[Candidate]:
    """Return the candidates with these ids (in this order), from memory where they are."""
    found = {i: c for i in ids if (c := _recent.get(i)) is not None}
    missing = [i for i in ids if i not in found]
    if missing:
        signatures = table(Signature)
        read = select(signatures).where(one_of(session, signatures.c.document_id, missing))
        for row in session.execute(read):
            found[row.document_id] = candidate = _candidate(row)
            _recent.put(candidate)
    return [found[i] for i in ids if i in found]


def recorded_since(session: Session, after: int) -> list[tuple[Candidate, frozenset[str]]]:
    """Return the documents recorded after feed position `after`, each with its keys.

    What a lookup made before taking the locks could not see: the documents
    processed meanwhile, a handful. One read for a whole batch; which of
    them each document's lookup would have found is decided in memory.
    """
    keys, entries = table(MatchKey), table(FeedEntry)
    found: dict[str, set[str]] = {}
    recent = select(entries.c.document_id).where(entries.c.seq > after).order_by(entries.c.seq)
    for document_id in session.scalars(recent):
        found[document_id] = set()
    if not found:
        return []
    rows = session.execute(
        select(keys.c.document_id, keys.c.key).where(keys.c.document_id.in_(list(found)))
    )
    for document_id, key in rows:
        found[document_id].add(key)
    candidates = _signatures(session, list(found))
    return [(c, frozenset(found[c.document_id])) for c in candidates]


def _most_shared(
    session: Session, keys: list[str], exclude_id: str, limit: int
) -> list[tuple[str, int]]:
    # Each document with the number of keys it shares, most first.
    if not keys:
        return []
    if session.get_bind().dialect.name == "postgresql":
        # One small statement with the keys as an array: PostgreSQL planned
        # the UNION of one branch a key (below) anew on every execution, at
        # several times the cost of running it (docs/performance.md).
        found = session.execute(
            _most_shared_lateral(limit), {"keys": keys, "exclude_id": exclude_id}
        )
        return [(row.document_id, row.shared) for row in found]
    # Padded to a multiple of KEY_BUCKET with a key no document carries, so a
    # process builds and the database prepares a handful of statements, not
    # one per number of keys: compiling one is slow (docs/performance.md).
    padded = keys + [NO_KEY] * (-len(keys) % KEY_BUCKET)
    params: dict[str, Any] = {f"key_{i}": key for i, key in enumerate(padded)}
    params["exclude_id"] = exclude_id
    rows = session.execute(_most_shared_query(len(padded), limit), params)
    return [(row.document_id, row.shared) for row in rows]


@functools.lru_cache(maxsize=16)
def _most_shared_query(count: int, limit: int) -> TextClause:
    # Each key contributes only its newest postings, so a key that many
    # documents share (a common number, a frequent pair of countries) costs
    # a bounded range scan of the primary key, not a scan of everything that
    # carries it. Built once per number of keys, with the keys as parameters.
    # Text, not a Core construct: SQLAlchemy walks a construct on every
    # execution to find it in its cache, and this one has `count` branches.
    branches = " UNION ALL ".join(
        f'SELECT document_id FROM (SELECT document_id FROM match_keys WHERE "key" = :key_{i}'
        f" ORDER BY added_at DESC LIMIT {POSTINGS_PER_KEY}) AS postings_{i}"
        for i in range(count)
    )
    return text(
        f"SELECT document_id, count(*) AS shared FROM ({branches}) AS postings"
        " WHERE document_id != :exclude_id"
        f" GROUP BY document_id ORDER BY shared DESC, document_id LIMIT {limit}"
    )


@functools.cache
def _most_shared_lateral(limit: int) -> TextClause:
    # The same postings and order as `_most_shared_query`, on PostgreSQL.
    return text(
        "SELECT document_id, count(*) AS shared"
        ' FROM unnest(CAST(:keys AS text[])) AS wanted("key")'
        " CROSS JOIN LATERAL (SELECT document_id FROM match_keys"
        ' WHERE match_keys."key" = wanted."key"'
        f" ORDER BY added_at DESC LIMIT {POSTINGS_PER_KEY}) AS postings"
        " WHERE document_id != :exclude_id"
        f" GROUP BY document_id ORDER BY shared DESC, document_id LIMIT {limit}"
    )


def _candidate(row: Row[Any]) -> Candidate:
    return Candidate(
        document_id=row.document_id,
        story_id=row.story_id,
        language=row.language,
        published_at=row.published_at,
        fingerprint=Fingerprint(content_hash=row.content_hash, data=row.fingerprint),
    )


def add(session: Session, recorded: Sequence[Candidate]) -> None:
    """Index processed documents: their signatures and their keys. Caller commits."""
    if not recorded:
        return
    session.execute(
        insert(table(Signature)),
        [
            {
                "document_id": c.document_id,
                "story_id": c.story_id,
                "language": c.language,
                "published_at": c.published_at,
                "content_hash": c.fingerprint.content_hash,
                "fingerprint": c.fingerprint.data,
            }
            for c in recorded
        ],
    )
    # One time for the documents recorded together: a document's postings
    # sort together under each key.
    pairs = [(key, c.document_id) for c in recorded for key in sorted(set(c.fingerprint.keys))]
    _add_postings(session, pairs, utcnow())


def rekey(session: Session, document_id: str, fingerprint: Fingerprint) -> bool:
    """Replace an indexed document's fingerprint and keys; its postings keep their time.

    For documents fingerprinted with another `fingerprint.DATA_VERSION`.
    Returns False when the document is not indexed. Caller commits.
    """
    row = session.get(Signature, document_id)
    if row is None:
        return False
    added_at = session.scalar(
        select(func.min(MatchKey.added_at)).where(MatchKey.document_id == document_id)
    )
    session.execute(delete(MatchKey).where(MatchKey.document_id == document_id))
    row.content_hash = fingerprint.content_hash
    row.fingerprint = fingerprint.data
    pairs = [(key, document_id) for key in sorted(set(fingerprint.keys))]
    _add_postings(session, pairs, added_at or utcnow())
    _recent.forget(document_id)
    return True


def outdated(session: Session, version: int) -> list[str]:
    """Return ids of indexed documents fingerprinted with another data version."""
    stored = Signature.fingerprint["v"].as_integer()
    query = select(Signature.document_id).where(or_(stored.is_(None), stored != version))
    return list(session.scalars(query.order_by(Signature.document_id)))


def _add_postings(session: Session, pairs: list[tuple[str, str]], added_at: datetime) -> None:
    rows = [{"key": key, "document_id": i} for key, i in pairs]
    insert_rows(session, table(MatchKey), rows, added_at=added_at)
