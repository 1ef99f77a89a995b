"""Stored document vectors and the nearest-neighbour search over the newest of them.

The search is an exact scan (numpy) of the `WINDOW` most recently recorded
vectors, on SQLite and PostgreSQL alike: Debian's PostgreSQL packages carry
no pgvector here, and a bounded window keeps the cost of a search flat
however many documents are stored, as the key lookup's is. A translation
or copy arrives within hours or days of its original; 20,000 documents is
several days of a large feed, and older stories are still found through
their keys.

A search returns the nearest documents in the query's language and, apart,
the nearest in other languages: the embedding puts texts of one language
close together (unrelated Chinese news at cosine 0.86, a Chinese
translation at 0.83 from its English original), so a single ranking would
fill up with the query's language and miss the original a translation
repeats.

Each process keeps the window in memory (some 30 MB as float32) and reads
only the rows recorded since its last search, by `seq`: the database stays
the one truth, shared by every process and host. (A row whose `seq` was
drawn before, but committed after, a newer one that a search already read
is missed by this process's vector search; its keys still find it.)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from services.pipeline.embedding import decode_vector, encode_vector
from services.storage.db import one_of
from services.storage.models import Document, Vector, table

WINDOW = 20_000
# Nearest stored documents a new document takes as candidates, in its own
# language and again in other languages.
NEIGHBOURS = 10


def nearest_each_side(cosines: np.ndarray, same: np.ndarray, count: int) -> list[np.ndarray]:
    """Return the indices of the `count` highest cosines where `same` holds, and where it does not.

    Each side nearest first.
    """
    sides = []
    for side in (np.flatnonzero(same), np.flatnonzero(~same)):
        top = side[np.argpartition(-cosines[side], min(count, len(side)) - 1)[:count]]
        sides.append(top[np.argsort(-cosines[top], kind="stable")])
    return sides


class _Window:
    """The newest stored vectors, as one matrix, and the ids of its rows."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.key: tuple[str, str] | None = None
        self.last_seq = 0
        self.ids: list[str] = []
        self.rows = np.zeros((0, 0), dtype=np.float32)
        # Each row's language, as a number (`codes`).
        self.languages = np.zeros(0, dtype=np.int32)
        self.codes: dict[str, int] = {}
        # Row of each id, counted from the first row ever read (`base`).
        self.where: dict[str, int] = {}
        self.base = 0
        self.lock = threading.Lock()

    def refresh(self, session: Session, model: str) -> None:
        """Read the rows recorded since the last refresh (all of the window at first)."""
        vectors = table(Vector)
        key = (str(session.get_bind().engine.url), model)
        if key != self.key:
            self.key, self.last_seq, self.ids = key, 0, []
            self.rows = np.zeros((0, 0), dtype=np.float32)
            self.languages = np.zeros(0, dtype=np.int32)
            self.where, self.base = {}, 0
            newest = session.scalar(select(func.max(vectors.c.seq))) or 0
            self.last_seq = max(0, newest - self.size)
        documents = table(Document)
        query = (
            select(vectors.c.seq, vectors.c.document_id, vectors.c.vector, documents.c.language)
            .join(documents, documents.c.id == vectors.c.document_id)
            .where(vectors.c.seq > self.last_seq, vectors.c.model == model)
            .order_by(vectors.c.seq)
        )
        fresh = session.execute(query).all()
        if not fresh:
            return
        matrix = np.vstack([decode_vector(row.vector) for row in fresh])
        self.rows = matrix if not len(self.ids) else np.vstack([self.rows, matrix])
        languages = np.array([self.code(row.language) for row in fresh], dtype=np.int32)
        self.languages = np.concatenate([self.languages, languages])
        for row in fresh:
            self.where[row.document_id] = self.base + len(self.ids)
            self.ids.append(row.document_id)
        self.last_seq = fresh[-1].seq
        if len(self.ids) > self.size:
            cut = len(self.ids) - self.size
            for document_id in self.ids[:cut]:
                self.where.pop(document_id, None)
            self.ids = self.ids[cut:]
            self.rows = self.rows[cut:]
            self.languages = self.languages[cut:]
            self.base += cut

    def code(self, language: str | None) -> int:
        """Return the language's number in this window."""
        return self.codes.setdefault(language or "und", len(self.codes))

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {i: self.rows[self.where[i] - self.base] for i in ids if i in self.where}


_window = _Window(WINDOW)


def nearest(
    session: Session,
    model: str,
    queries: np.ndarray,
    languages: Sequence[str],
    *,
    limit: int = NEIGHBOURS,
) -> list[list[tuple[str, float]]]:
    """Return for each query vector the nearest stored documents with their cosines.

    Exact, over the `WINDOW` newest vectors of this model: the `limit`
    nearest in the query's language and the `limit` nearest in others,
    nearest first.
    """
    with _window.lock:
        _window.refresh(session, model)
        if not len(_window.ids) or not len(queries):
            return [[] for _ in range(len(queries))]
        cosines = np.asarray(queries, dtype=np.float32) @ _window.rows.T
        ids = list(_window.ids)
        same = [_window.languages == _window.code(language) for language in languages]
    sides = [
        nearest_each_side(row, mask, 2 * limit) for row, mask in zip(cosines, same, strict=True)
    ]
    # The window may hold documents deleted since it read them.
    vectors = table(Vector)
    wanted = sorted({ids[i] for found in sides for side in found for i in side})
    alive = set(
        session.scalars(
            select(vectors.c.document_id).where(one_of(session, vectors.c.document_id, wanted))
        )
    )
    ranked = []
    for row, found in zip(cosines, sides, strict=True):
        kept = [[i for i in side if ids[i] in alive][:limit] for side in found]
        ranked.append(
            [(ids[i], float(row[i])) for i in sorted(kept[0] + kept[1], key=lambda i: -row[i])]
        )
    return ranked


def read(session: Session, model: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Return the stored vectors of these documents, from the window where they are."""
    with _window.lock:
        found = _window.vectors(ids) if _window.key is not None else {}
    missing = [i for i in ids if i not in found]
    if missing:
        vectors = table(Vector)
        rows = session.execute(
            select(vectors.c.document_id, vectors.c.vector).where(
                one_of(session, vectors.c.document_id, missing), vectors.c.model == model
            )
        )
        found.update({row.document_id: decode_vector(row.vector) for row in rows})
    return found


def add(session: Session, model: str, vectors: dict[str, np.ndarray]) -> None:
    """Store processed documents' vectors. Caller commits."""
    if vectors:
        session.execute(
            insert(table(Vector)),
            [
                {"document_id": i, "model": model, "vector": encode_vector(v)}
                for i, v in vectors.items()
            ],
        )
