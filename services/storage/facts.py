"""Document frequencies of facts, per day, shared by every process.

`count` adds a recorded document's fact keys to its day's counts (and `*`,
the documents of the day); `frequencies` sums the counts of the last
`WINDOW_DAYS` days: what `pipeline.specificity` weighs a shared fact by.
A read touches one primary-key range per key, whatever the store holds.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import TextClause, func, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from services.pipeline.specificity import Frequencies
from services.storage.db import one_of
from services.storage.models import FactCount, table

WINDOW_DAYS = 14
ALL = "*"


def frequencies(session: Session, keys: Iterable[str], today: date) -> Frequencies:
    """Return the counts of these fact keys, and of all documents, over the window."""
    wanted = sorted({*keys, ALL})
    counts = table(FactCount)
    rows = session.execute(
        select(counts.c.key, func.sum(counts.c.count))
        .where(
            one_of(session, counts.c.key, wanted),
            counts.c.day > today.toordinal() - WINDOW_DAYS,
        )
        .group_by(counts.c.key)
    )
    found = {key: int(total) for key, total in rows}
    return Frequencies(found, found.pop(ALL, 0))


def count(session: Session, documents: Sequence[Iterable[str]], today: date) -> None:
    """Add documents' fact keys to today's counts. Caller commits.

    Keys are written in sorted order, so two transactions counting the same
    keys lock them in one order (no deadlock on PostgreSQL).
    """
    if not documents:
        return
    added: Counter[str] = Counter()
    for keys in documents:
        added.update({key[:128] for key in keys})
    added[ALL] += len(documents)
    rows = sorted(added.items())
    day = today.toordinal()
    if session.get_bind().dialect.name == "postgresql":
        # One statement for all the keys: psycopg runs an executemany one
        # row at a time (docs/performance.md).
        keys, numbers = [key for key, _ in rows], [n for _, n in rows]
        session.execute(_count_from_arrays(), {"keys": keys, "counts": numbers, "day": day})
        return
    counts = table(FactCount)
    statement = sqlite.insert(counts)
    statement = statement.on_conflict_do_update(
        index_elements=[counts.c.key, counts.c.day],
        set_={"count": counts.c.count + statement.excluded.count},
    )
    session.execute(statement, [{"key": key, "day": day, "count": n} for key, n in rows])


@functools.cache
def _count_from_arrays() -> TextClause:
    return text(
        'INSERT INTO fact_counts ("key", day, count)'
        " SELECT k, :day, n FROM unnest(CAST(:keys AS text[]), CAST(:counts AS integer[]))"
        " AS added(k, n)"
        ' ON CONFLICT ("key", day) DO UPDATE SET count = fact_counts.count + excluded.count'
    )
